//! lifeboat as the system ROM (issue 14, item 3): `lifeboat.rom` as QEMU `-bios` on a pc, no
//! SeaBIOS and no boot medium. The ROM stage assigns the PCI BARs the NIC and IDE drivers
//! use: the monitor comes up, lists the NIC, pings and downloads over slirp; the demo image
//! installs to the ATA disk (the slots' flash here: a pflash unit 0 would replace the ROM)
//! and flash-boots after `reload` and after a cold power-on; Debian's kernel installed the
//! same way boots from it, on pc and on q35, with QEMU's ACPI tables (loaded by the ROM). The
//! pc scenarios run with the e1000 and again with an e1000e (82574L) in the same slot.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use lifeboat::media;
use lifeboat_qemu::lab::{crc32, pattern};
use lifeboat_qemu::linux;
use lifeboat_qemu::{Machine, MachineType, NetBackend, NicModel};

const WINDOW_S: u32 = 2;
const STARTED: Duration = Duration::from_secs(20);
/// Five echoes over slirp, with room for a loaded 2-core runner.
const PING_OK: Duration = Duration::from_secs(20);

fn tmp(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let d = DIR.get_or_init(|| {
        let d =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("rom-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    d.join(name)
}

/// The TFTP root: a 1 MiB pattern file and the demo image.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tmp("root");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("one-mib.bin"), pattern(1 << 20, 7)).unwrap();
        std::fs::write(
            dir.join("demo-image.bin"),
            media::demo_image(media::DEMO_VERSION),
        )
        .unwrap();
        dir
    })
}

/// Where a board keeps its slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotsOn {
    /// An ATA disk (pc: secondary IDE master; q35: AHCI port 2); the ROM is QEMU's `-bios`.
    Disk,
    /// pflash unit 1 below the ROM, which is then the read-only pflash unit 0: a board's
    /// firmware flash.
    Pflash,
}

/// A board with `lifeboat.rom` as its BIOS, a `nic` on slirp and `slots` as the flash (pc:
/// secondary IDE master; q35: AHCI port 2).
fn board(slots: &Path, kind: MachineType, nic: NicModel) -> Machine {
    board_on(SlotsOn::Disk, slots, kind, nic)
}

fn board_on(on: SlotsOn, slots: &Path, kind: MachineType, nic: NicModel) -> Machine {
    let m = Machine::rom(media(WINDOW_S).rom).machine_type(kind);
    match on {
        SlotsOn::Disk => m.ide_disk(2, slots),
        SlotsOn::Pflash => m.pflash(slots),
    }
    .nic(
        nic,
        NetBackend::User {
            tftp: Some(root().to_path_buf()),
            bootfile: None,
        },
    )
}

fn blank_disk(name: &str) -> PathBuf {
    let disk = tmp(name);
    std::fs::write(&disk, vec![0u8; 16 << 20]).unwrap();
    disk
}

#[track_caller]
fn to_monitor(q: &mut Qemu) -> String {
    let banner = expect_banner(q);
    q.send(ESC).expect("ESC");
    let listing = expect(q, HELP_HINT, REPLY);
    expect(q, PROMPT, REPLY);
    format!("{banner}{listing}")
}

on_nics!(
    lists_the_nic_pings_and_downloads;
    from_the_rom_the_monitor_lists_the_nic_pings_and_downloads => E1000,
    from_the_rom_the_monitor_lists_the_nic_pings_and_downloads_on_e1000e => E1000e,
);

/// pc from the ROM with a `nic` in slot 3: the banner, the listing, ping and a 1 MiB tftp.
fn lists_the_nic_pings_and_downloads(nic: NicModel) {
    let disk = blank_disk(&format!("net-{nic:?}.img"));
    let mut q = launch(&board(&disk, MachineType::Pc, nic));
    let text = to_monitor(&mut q);
    assert!(
        text.contains(
            "Platform lifeboat-x86 (i440FX, QEMU pc), 255 MiB RAM, booted from the system ROM\r\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("Flash=ATA \"QEMU HARDDISK\" 16 MiB @ ide1:0\r\n"),
        "{text}"
    );
    // The NIC in slot 3 with the interrupt line the ROM routed (PIRQD -> IRQ 11).
    let listing = format!("0: {} @ PCI(bus:0 dev:3 irq:11)", model_name(nic));
    assert!(text.contains(&listing), "{text}");
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    q.send_line("ping").unwrap();
    let ping = expect(&mut q, PROMPT, PING_OK);
    assert!(ping.contains("Success rate is 100 percent (5/5)"), "{ping}");
    command1(&mut q, "file one-mib.bin");
    q.send_line("tftp").unwrap();
    let out = expect(&mut q, PROMPT, Duration::from_secs(60));
    let want = format!(
        "Received {} bytes in ",
        std::fs::read(root().join("one-mib.bin")).unwrap().len()
    );
    assert!(out.contains(&want), "{out}");
    let crc = crc32(&std::fs::read(root().join("one-mib.bin")).unwrap());
    assert!(out.contains(&format!("CRC-32 {crc:#010x}")), "{out}");
}

on_nics!(
    |m| install_reload_and_cold_boot(
        MachineType::Pc,
        m,
        SlotsOn::Disk,
        "Flash=ATA \"QEMU HARDDISK\" 16 MiB @ ide1:0\r\n",
    );
    from_the_rom_the_demo_image_installs_to_the_ata_disk_and_flash_boots => E1000,
    from_the_rom_the_demo_image_installs_to_the_ata_disk_and_flash_boots_on_e1000e => E1000e,
);

/// q35: the ROM also turns on FIS receive on each AHCI port so the disk's signature is
/// latched (SeaBIOS does; the firmware's AHCI probe needs it).
#[test]
fn on_q35_from_the_rom_the_demo_image_installs_to_the_ahci_disk_and_flash_boots() {
    install_reload_and_cold_boot(
        MachineType::Q35,
        NicModel::E1000e,
        SlotsOn::Disk,
        "Flash=AHCI \"QEMU HARDDISK\" 16 MiB @ port 2\r\n",
    );
}

/// The ROM as the board's firmware flash (read-only pflash unit 0, where `-bios` maps it) and
/// the slots in pflash unit 1 below it, found by the same CFI probe as behind SeaBIOS: on pc
/// and on q35.
#[test]
fn from_the_rom_the_demo_image_installs_to_pflash_below_it_and_flash_boots() {
    for kind in [MachineType::Pc, MachineType::Q35] {
        let nic = match kind {
            MachineType::Pc => NicModel::E1000,
            MachineType::Q35 => NicModel::E1000e,
        };
        // Unit 1 sits directly below unit 0 (the ROM) under 4 GiB.
        let rom = std::fs::metadata(media(WINDOW_S).rom).unwrap().len();
        let base = (1u64 << 32) - rom - (4 << 20);
        install_reload_and_cold_boot(
            kind,
            nic,
            SlotsOn::Pflash,
            &format!("Flash=CFI Intel 4096 KiB @ {base:#x}\r\n"),
        );
    }
}

#[track_caller]
fn install_reload_and_cold_boot(kind: MachineType, nic: NicModel, on: SlotsOn, flash_line: &str) {
    let disk = tmp(&format!("slots-{kind:?}-{nic:?}-{on:?}.img"));
    match on {
        SlotsOn::Disk => std::fs::write(&disk, vec![0u8; 16 << 20]).unwrap(),
        SlotsOn::Pflash => std::fs::write(&disk, vec![0xFFu8; 4 << 20]).unwrap(),
    }
    let demo = media::demo_image(media::DEMO_VERSION);
    let unit = |slots: &Path| board_on(on, slots, kind, nic);
    let mut q = launch(&unit(&disk));
    let text = to_monitor(&mut q);
    assert!(text.contains(flash_line), "{text}");
    // q35's ECAM, mapped by the ROM (PCIEXBAR), serves the firmware's PCI configuration.
    let ecam = text.contains("PCI configuration through ECAM at 0xb0000000\r\n");
    assert_eq!(ecam, kind == MachineType::Q35, "{text}");
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    tftp_install(&mut q, "demo-image.bin", "1.0(1)");
    q.send_line("reload").unwrap();
    expect(&mut q, "Rebooting...", REPLY);
    // The reset runs the ROM again: it assigns the BARs anew and starts the firmware.
    expect(&mut q, USE_SPACE, BOOT);
    expect(&mut q, "Flash boot: slot A, image 1.0(1) (flat64, ", REPLY);
    expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
    expect(&mut q, "demo image: boot confirmed\r\n", REPLY);
    drop(q);
    // Slot A (after the two 4 KiB record blocks) holds the image on the disk or flash itself.
    let bytes = std::fs::read(&disk).unwrap();
    assert_eq!(&bytes[8192..8192 + demo.len()], &demo[..]);
    // A cold power-on with nobody at the console: the window passes, the image runs.
    let mut q = launch(&unit(&disk));
    expect_banner(&mut q);
    expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
}

/// The table loader's WRITE_POINTER: QEMU's vmgenid device learns through fw_cfg DMA where
/// the ROM put its GUID blob, and writes the GUID there (fields little-endian) for the guest's
/// ACPI device to find. The blobs are placed top-down in script order: the RSDP below 256 MiB,
/// then the 4 KiB-aligned GUID blob at 0xFFFE000, the GUID at its offset 40.
#[test]
fn from_the_rom_vmgenid_gets_its_guid_address_back() {
    let disk = blank_disk("vmgenid.img");
    let m = board(&disk, MachineType::Pc, NicModel::E1000)
        .arg("-device")
        .arg("vmgenid,guid=324e6eaf-d1d1-4bf6-bf41-b9bb6c91fb87");
    let mut q = launch(&m);
    expect_banner(&mut q);
    let xp =
        r#"{"execute":"human-monitor-command","arguments":{"command-line":"xp /4wx 0xfffe028"}}"#;
    let v = q.qmp(xp).expect("QMP xp");
    let text = v.as_str().unwrap_or_default();
    assert!(
        text.contains("0x324e6eaf 0x4bf6d1d1 0xbbb941bf 0x87fb916c"),
        "{text}"
    );
}

/// A bad table-loader script costs one line on the console and the ACPI tables, nothing else.
/// QEMU cannot be made to serve a bad `etc/table-loader` of its own, but with
/// `-machine acpi=off` it has none, and `-fw_cfg` can add one (with a warning about the
/// missing `opt/` prefix): QEMU 7.2's pc script and tables from the host tests' fixtures. As
/// they are, the ROM loads them; with command 3's offset beyond its file, it says so on COM1
/// and starts the firmware without them.
#[test]
fn from_the_rom_a_bad_table_loader_script_costs_one_line_and_the_tables() {
    const SCRIPT: &[u8] = include_bytes!("../rom/tests/fixtures/qemu-7.2-pc/table-loader");
    const RSDP: &[u8] = include_bytes!("../rom/tests/fixtures/qemu-7.2-pc/rsdp");
    const TABLES: &[u8] = include_bytes!("../rom/tests/fixtures/qemu-7.2-pc/tables");
    let mut bad = SCRIPT.to_vec();
    bad[3 * 128 + 116..3 * 128 + 120].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    // The fixture is stored without QEMU's zero padding to 128 KiB.
    let mut tables = TABLES.to_vec();
    tables.resize(128 << 10, 0);
    for (name, bytes) in [
        ("good-loader", SCRIPT),
        ("bad-loader", &bad[..]),
        ("rsdp", RSDP),
        ("tables", &tables[..]),
    ] {
        std::fs::write(tmp(name), bytes).unwrap();
    }
    let boot = |script: &str| {
        let debugcon = tmp(&format!("{script}.debugcon"));
        let _ = std::fs::remove_file(&debugcon);
        let file = |name: &str, f: &str| format!("name={name},file={}", tmp(f).display());
        let m = Machine::rom(media(WINDOW_S).rom)
            .arg("-machine")
            .arg("acpi=off")
            .arg("-debugcon")
            .arg(format!("file:{}", debugcon.display()))
            .arg("-fw_cfg")
            .arg(file("etc/table-loader", script))
            .arg("-fw_cfg")
            .arg(file("etc/acpi/rsdp", "rsdp"))
            .arg("-fw_cfg")
            .arg(file("etc/acpi/tables", "tables"));
        let mut q = launch(&m);
        let banner = expect_banner(&mut q);
        drop(q);
        (
            banner,
            std::fs::read_to_string(&debugcon).unwrap_or_default(),
        )
    };
    let (banner, debugcon) = boot("good-loader");
    assert!(!banner.contains("lifeboat-rom"), "{banner}");
    assert!(
        debugcon.contains("lifeboat-rom: ACPI RSDP at 0xfffffe0, 132 KiB at 0xffdf000: RSDT FACP DSDT FACS APIC HPET WAET\n"),
        "{debugcon}"
    );
    let (banner, debugcon) = boot("bad-loader");
    let line =
        "lifeboat-rom: ACPI tables not loaded, Linux gets none: etc/table-loader command 3: \
                an offset or length beyond its file\r\n";
    assert!(banner.starts_with(line), "{banner}");
    assert!(banner.contains("booted from the system ROM"), "{banner}");
    assert!(!debugcon.contains("ACPI RSDP"), "{debugcon}");
}

/// Debian's kernel and the busybox initramfs (`qemu::linux`), installed over TFTP to the
/// slots disk and started by the ROM's flash boot on `kind`, with QEMU's ACPI tables: the ROM
/// runs QEMU's table loader into reserved RAM at the top of the 256 MiB and the firmware puts
/// the RSDP's address in the zero page. Returns the console transcript once the initramfs
/// marker is out and `poweroff -f` has switched QEMU off, which takes ACPI (the PM1a control
/// block at the PM base the ROM programmed; without ACPI the kernel only halts).
#[track_caller]
fn debian_linux_from_the_rom(kind: MachineType, nic: NicModel) -> Option<String> {
    let assets = linux_assets()?;
    let image = linux::image(&assets).unwrap();
    let dir = tmp(&format!("linux-root-{kind:?}-{nic:?}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("linux.img"), &image).unwrap();
    let disk = tmp(&format!("linux-slots-{kind:?}-{nic:?}.img"));
    std::fs::write(&disk, vec![0u8; 64 << 20]).unwrap();
    let m = Machine::rom(media(WINDOW_S).rom)
        .machine_type(kind)
        .memory_mib(256)
        .ide_disk(2, &disk)
        .nic(
            nic,
            NetBackend::User {
                tftp: Some(dir.clone()),
                bootfile: None,
            },
        );
    let mut q = launch(&m);
    to_monitor(&mut q);
    install_linux(&mut q);
    q.send_line("reload").unwrap();
    boot_installed_linux(&mut q);
    let off = q.wait_exit(Duration::from_secs(60));
    let text = q.transcript_printable();
    assert_eq!(
        off,
        Some(0),
        "QEMU still running after poweroff -f:\n{text}"
    );
    Some(text)
}

/// What every ROM-started Linux reports: the RSDP where the ROM put it (the top 32 bytes of
/// the 256 MiB, the FSEG blob placed first), the tables from QEMU, and their RAM reserved.
#[track_caller]
fn assert_acpi_from_the_rom(log: &str) {
    for line in [
        "ACPI: RSDP 0x000000000FFFFFE0 000014 (v00 BOCHS )",
        "BIOS-e820: [mem 0x000000000ffdf000-0x000000000fffffff] reserved",
        "ACPI: FACP 0x000000000FFE",
        "ACPI: DSDT 0x000000000FFE0000",
        "ACPI: PM-Timer IO Port: 0xb008",
        "ACPI: Interpreter enabled",
        "ACPI: PCI Root Bridge [PCI0]",
        "reboot: Power down",
    ] {
        assert!(log.contains(line), "no {line:?} in:\n{log}");
    }
}

on_nics!(
    |nic| {
        if let Some(log) = debian_linux_from_the_rom(MachineType::Pc, nic) {
            assert_acpi_from_the_rom(&log);
        }
    };
    from_the_rom_debian_linux_installs_to_ata_and_boots_with_qemus_acpi_tables => E1000,
    from_the_rom_debian_linux_installs_to_ata_and_boots_with_qemus_acpi_tables_on_e1000e
        => E1000e,
);

/// q35: the ROM maps the ECAM at 0xB0000000 (PCIEXBAR) before QEMU builds the tables, so
/// they carry an MCFG, and reserves it in the E820 list, which Linux checks before using it.
#[test]
fn on_q35_from_the_rom_debian_linux_boots_with_acpi_and_the_mcfg() {
    let Some(log) = debian_linux_from_the_rom(MachineType::Q35, NicModel::E1000e) else {
        return;
    };
    assert_acpi_from_the_rom(&log);
    for line in [
        "BIOS-e820: [mem 0x00000000b0000000-0x00000000bfffffff] reserved",
        "ACPI: MCFG 0x000000000FFE",
        "PCI: MMCONFIG for domain 0000 [bus 00-ff] at [mem 0xb0000000-0xbfffffff] (base 0xb0000000)",
        "PCI: MMCONFIG at [mem 0xb0000000-0xbfffffff] reserved in E820",
        "_OSC: OS now controls [PME AER PCIeCapability]",
    ] {
        assert!(log.contains(line), "no {line:?} in:\n{log}");
    }
}
