//! Each writer's boot-info block fed to the reader: the blocks the UEFI loader
//! (`lifeboat_efi::Header`) and the ROM stage (`lifeboat_rom::boot_info`) build, read by
//! `BootInfo::from_block` as the firmware reads them at 0x800. (Stage 2 takes its offsets
//! from `lifeboat_abi` as `global_asm!` constant operands; the root package's media tests
//! check its assembled bytes.)
use lifeboat_hal::bootinfo::{BootInfo, Medium};

static CONFIG: [u8; 4] = *b"x=1\n";

#[test]
fn the_uefi_loaders_block_reads_back() {
    use lifeboat_efi::{efi_type, E820Map, EfiRegion, Header};
    let map = E820Map::from_efi(
        [
            EfiRegion {
                efi_type: efi_type::CONVENTIONAL,
                base: 0,
                pages: 0xA0,
            },
            EfiRegion {
                efi_type: efi_type::LOADER_DATA,
                base: 0x10_0000,
                pages: 0x7_EF00,
            },
            EfiRegion {
                efi_type: efi_type::LIFEBOAT_RESERVED,
                base: 0x7F00_0000,
                pages: 7,
            },
        ]
        .into_iter(),
    );
    for (ecam, secure_boot, medium) in [
        (None, false, 2),
        (Some((0xB000_0000, 255)), true, 3),
        (Some((0xB000_0000, 63)), false, 3),
    ] {
        let mut block = vec![0u8; lifeboat_abi::bootinfo::LEN];
        Header {
            medium,
            config_addr: 0x7F00_0800,
            config_len: 512,
            firmware_size: 0x2_B000,
            rsdp: 0x7FB_E014,
            ecam,
            secure_boot,
        }
        .write(&map, &mut block);
        let bi = BootInfo::from_block(&block, &CONFIG).unwrap();
        assert!(bi.uefi && !bi.rom);
        assert_eq!(bi.secure_boot, secure_boot);
        assert_eq!(bi.boot_drive, 0);
        let want = if medium == 2 {
            Medium::UsbStick
        } else {
            Medium::Disk
        };
        assert_eq!(bi.medium, want);
        assert_eq!(bi.firmware_size, 0x2_B000);
        assert_eq!(bi.rsdp, 0x7FB_E014);
        assert_eq!(bi.ecam.map(|e| (e.base(), e.last_bus())), ecam);
        let got: Vec<_> = bi
            .memory_map()
            .iter()
            .map(|r| (r.base, r.len, r.kind))
            .collect();
        assert_eq!(
            got,
            [
                (0, 0xA_0000, 1),
                (0x10_0000, 0x7EF0_0000, 1),
                (0x7F00_0000, 0x7000, 2)
            ]
        );
        assert_eq!(bi.usable_ram(), 0xA_0000 + 0x7EF0_0000);
        // The header's configuration address is the one the loader wrote.
        let h = lifeboat_abi::bootinfo::Header::read(&block).unwrap();
        assert_eq!((h.config_addr, h.config_len), (0x7F00_0800, 512));
    }
}

#[test]
fn the_rom_stages_block_reads_back() {
    use lifeboat_rom::{boot_info, layout, E820Map, E820};
    let ram = [E820 {
        base: 0,
        len: 0x8000_0000,
        kind: 1,
    }];
    for q35 in [false, true] {
        let map = E820Map::for_machine(&ram, 256 << 10);
        let block = boot_info(0x2_C000, &map, q35, 0x7FFE_0000);
        let bi = BootInfo::from_block(&block, &CONFIG).unwrap();
        assert!(bi.rom && !bi.uefi && !bi.secure_boot);
        assert_eq!((bi.boot_drive, bi.medium), (0x80, Medium::Disk));
        assert_eq!(bi.firmware_size, 0x2_C000);
        assert_eq!(bi.rsdp, 0x7FFE_0000);
        let ecam = bi.ecam.map(|e| (e.base(), e.last_bus()));
        assert_eq!(ecam, q35.then_some((0xB000_0000, 255)));
        let got: Vec<_> = bi
            .memory_map()
            .iter()
            .map(|r| (r.base, r.len, r.kind))
            .collect();
        let want: Vec<_> = map
            .entries()
            .iter()
            .map(|e| (e.base, e.len, e.kind))
            .collect();
        assert_eq!(got, want);
        assert!(bi.usable_ram() > 0x7000_0000);
        let h = lifeboat_abi::bootinfo::Header::read(&block).unwrap();
        assert_eq!(u64::from(h.config_addr), layout::CONFIG_ADDR);
        assert_eq!(h.config_len, 512);
    }
}

#[test]
fn a_block_without_its_magic_is_refused() {
    let mut block = [0u8; lifeboat_abi::bootinfo::LEN];
    lifeboat_abi::bootinfo::Header::default().write([], &mut block);
    assert!(BootInfo::from_block(&block, &CONFIG).is_ok());
    block[3] = 0;
    assert!(BootInfo::from_block(&block, &CONFIG).is_err());
    assert!(BootInfo::from_block(&block[..16], &CONFIG).is_err());
}
