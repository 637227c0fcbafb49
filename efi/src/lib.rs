//! The pure half of the UEFI loader (`src/main.rs` is the other): the payload block the
//! media builder patches into `BOOTX64.EFI`, and the conversion of the UEFI memory map into
//! the E820 list of the boot-info block (`bootloader/layout.md`), and the search of the ACPI
//! tables for the PCI Express configuration window (MCFG). No hardware access; tested on the
//! host.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

/// The payload block the media builder patches into the loader (`lifeboat_abi::efi`).
pub use lifeboat_abi::efi::payload;

/// The boot-info block the loader writes (`lifeboat_abi::bootinfo`, as stage 2's).
pub use lifeboat_abi::bootinfo;

/// UEFI memory types (UEFI 2.10 §7.2, `EFI_MEMORY_TYPE`) the conversion distinguishes.
pub mod efi_type {
    use r_efi::efi;
    pub const LOADER_CODE: u32 = efi::LOADER_CODE;
    pub const LOADER_DATA: u32 = efi::LOADER_DATA;
    pub const BOOT_SERVICES_CODE: u32 = efi::BOOT_SERVICES_CODE;
    pub const BOOT_SERVICES_DATA: u32 = efi::BOOT_SERVICES_DATA;
    pub const CONVENTIONAL: u32 = efi::CONVENTIONAL_MEMORY;
    pub const UNUSABLE: u32 = efi::UNUSABLE_MEMORY;
    pub const ACPI_RECLAIM: u32 = efi::ACPI_RECLAIM_MEMORY;
    pub const ACPI_NVS: u32 = efi::ACPI_MEMORY_NVS;
    pub const PERSISTENT: u32 = efi::PERSISTENT_MEMORY;
    /// The loader's own pages that must survive into the firmware (boot-info block, page
    /// tables): an OS-defined type (0x8000_0000 and up), so they come out reserved.
    pub const LIFEBOAT_RESERVED: u32 = lifeboat_abi::efi::RESERVED_TYPE;
}

/// UEFI Secure Boot as the loader reads it: the `SecureBoot` global variable (UEFI 2.10 §3.3,
/// "Globally Defined Variables"), one byte, 1 when the platform enforces image signatures.
pub mod secure_boot {
    use r_efi::efi::{Guid, Status};

    /// `EFI_GLOBAL_VARIABLE`.
    pub const GLOBAL_VARIABLE: Guid = Guid::from_fields(
        0x8BE4_DF61,
        0x93CA,
        0x11D2,
        0xAA,
        0x0D,
        &[0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C],
    );
    /// `L"SecureBoot"`, NUL-terminated UCS-2.
    pub const NAME: [u16; 11] = {
        let ascii = *b"SecureBoot\0";
        let mut name = [0u16; 11];
        let mut i = 0;
        while i < 11 {
            name[i] = ascii[i] as u16;
            i += 1;
        }
        name
    };

    /// Whether Secure Boot is on, from `GetVariable`'s status and the bytes it returned. A
    /// platform without the variable (`NOT_FOUND`) has no Secure Boot; a variable that says
    /// 0 is off; anything else (1, a value of another size, a failed read) counts as on, so
    /// the firmware fails closed (a keyless configuration is refused) rather than open.
    pub fn is_on(status: Status, value: &[u8]) -> bool {
        match status {
            Status::NOT_FOUND => false,
            Status::SUCCESS => value != [0],
            _ => true,
        }
    }
}

/// E820 types (ACPI 6.5 §15, "Address Range Types").
pub use lifeboat_abi::bootinfo::e820;

/// The E820 type of a UEFI memory type after `ExitBootServices`: what boot services and the
/// loader used is free again; the loader's own kept pages and everything unknown are reserved.
pub fn e820_kind(efi: u32) -> u32 {
    use efi_type::*;
    match efi {
        LOADER_CODE | LOADER_DATA | BOOT_SERVICES_CODE | BOOT_SERVICES_DATA | CONVENTIONAL => {
            e820::USABLE
        }
        ACPI_RECLAIM => e820::ACPI_RECLAIM,
        ACPI_NVS => e820::ACPI_NVS,
        UNUSABLE => e820::UNUSABLE,
        PERSISTENT => e820::PERSISTENT,
        _ => e820::RESERVED,
    }
}

/// One E820 entry.
pub use lifeboat_abi::bootinfo::E820;

/// One UEFI memory descriptor as it matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EfiRegion {
    pub efi_type: u32,
    pub base: u64,
    pub pages: u64,
}

/// Fixed-capacity E820 list built from a UEFI memory map.
#[derive(Debug, Clone)]
pub struct E820Map {
    entries: [E820; e820::MAX],
    len: usize,
    /// Non-usable entries dropped because the list was full.
    pub dropped: usize,
}

impl Default for E820Map {
    fn default() -> Self {
        Self {
            entries: [E820::default(); e820::MAX],
            len: 0,
            dropped: 0,
        }
    }
}

impl E820Map {
    pub fn entries(&self) -> &[E820] {
        &self.entries[..self.len]
    }

    /// Converts `regions` (any order): sorted by base, neighbours of one kind merged. OVMF's
    /// map has ~100 descriptors, the block holds 64 entries: when full, a reserved-type
    /// entry makes room for a usable one (the firmware only allocates from usable RAM).
    pub fn from_efi(regions: impl Iterator<Item = EfiRegion> + Clone) -> Self {
        let mut map = Self::default();
        // Selection by increasing base without sorting storage we do not own: take the
        // smallest base above the previous one each round (n ≤ a few hundred).
        let mut last: Option<u64> = None;
        loop {
            let next = regions
                .clone()
                .filter(|r| r.pages > 0 && last.is_none_or(|l| r.base > l))
                .min_by_key(|r| r.base);
            let Some(r) = next else { break };
            last = Some(r.base);
            map.push(E820 {
                base: r.base,
                len: r.pages.saturating_mul(4096),
                kind: e820_kind(r.efi_type),
            });
        }
        map
    }

    fn push(&mut self, e: E820) {
        if let Some(prev) = self.entries[..self.len].last_mut() {
            if prev.kind == e.kind && prev.base.saturating_add(prev.len) == e.base {
                prev.len += e.len;
                return;
            }
        }
        if self.len == e820::MAX {
            if e.kind != e820::USABLE {
                self.dropped += 1;
                return;
            }
            // Make room: drop the last non-usable entry.
            match self.entries.iter().rposition(|x| x.kind != e820::USABLE) {
                Some(i) => {
                    self.entries.copy_within(i + 1.., i);
                    self.len -= 1;
                    self.dropped += 1;
                }
                None => {
                    self.dropped += 1;
                    return;
                }
            }
        }
        self.entries[self.len] = e;
        self.len += 1;
    }
}

/// The boot-info block's header: magic, boot drive (0: no BIOS drive), medium, E820 count,
/// configuration address and length, firmware size, flags (UEFI), RSDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub medium: u8,
    pub config_addr: u32,
    pub config_len: u32,
    /// Bytes of the packed firmware the loader copied.
    pub firmware_size: u32,
    pub rsdp: u64,
    /// The PCI Express configuration window (base, last bus) from ACPI's MCFG.
    pub ecam: Option<(u64, u8)>,
    /// Secure Boot is on ([`secure_boot::is_on`]).
    pub secure_boot: bool,
}

impl Header {
    /// Writes the header and `map` into `block` (at least [`bootinfo::LEN`] bytes).
    pub fn write(&self, map: &E820Map, block: &mut [u8]) {
        let mut flags = bootinfo::flags::UEFI;
        if self.secure_boot {
            flags |= bootinfo::flags::SECURE_BOOT;
        }
        bootinfo::Header {
            boot_drive: 0,
            medium: self.medium,
            config_addr: self.config_addr,
            config_len: self.config_len,
            firmware_size: self.firmware_size,
            flags,
            rsdp: self.rsdp,
            ecam: self.ecam,
        }
        .write(map.entries().iter().copied(), block);
    }
}

/// The PCI Express configuration window of segment 0 from the ACPI tables (ACPI 6.4 §5.2.5
/// RSDP, §5.2.7/5.2.8 RSDT/XSDT; PCI Firmware Specification 3.2 §4.1.2 MCFG): `(base, last
/// bus)` of the first MCFG entry for segment 0 that starts at bus 0. `mem(addr, len)` gives
/// `len` bytes of physical memory at `addr` (`None` where it will not read). Every table's
/// signature, length and checksum is checked; a table that fails gives `None` (mechanism #1
/// then serves), never a guess.
pub fn find_ecam<'a>(rsdp: u64, mem: &dyn Fn(u64, usize) -> Option<&'a [u8]>) -> Option<(u64, u8)> {
    let sum = |b: &[u8]| b.iter().fold(0u8, |a, &x| a.wrapping_add(x)) == 0;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let r = mem(rsdp, 20)?;
    if r.len() < 20 || &r[..8] != b"RSD PTR " || !sum(&r[..20]) {
        return None;
    }
    // A table: its header (36 bytes) read first for the length, then the whole, checked.
    let table = |addr: u64, sig: &[u8; 4]| -> Option<&'a [u8]> {
        let h = mem(addr, 36)?;
        let len = u32_at(h.get(..36)?, 4) as usize;
        if &h[..4] != sig || !(36..=64 * 1024).contains(&len) {
            return None;
        }
        let t = mem(addr, len)?;
        (t.len() == len && sum(t)).then_some(t)
    };
    let (root, entry) = if r[15] >= 2 {
        let r = mem(rsdp, 36)?;
        if r.len() < 36 || !sum(&r[..36]) {
            return None;
        }
        (table(u64_at(r, 24), b"XSDT")?, 8)
    } else {
        (table(u32_at(r, 16) as u64, b"RSDT")?, 4)
    };
    let mcfg = root[36..]
        .chunks_exact(entry)
        .map(|e| {
            if entry == 8 {
                u64_at(e, 0)
            } else {
                u32_at(e, 0) as u64
            }
        })
        .find_map(|addr| table(addr, b"MCFG"))?;
    mcfg.get(44..)?
        .chunks_exact(16)
        .find(|e| e[8..10] == [0, 0] && e[10] == 0)
        .map(|e| (u64_at(e, 0), e[11]))
}

/// The identity map the firmware expects (as stage 2 builds it at 0x1000): PML4, PDPT and
/// four page directories of 2 MiB pages covering the low 4 GiB, present and writable.
/// `tables` is six 4 KiB pages at physical address `phys`.
pub fn identity_map(tables: &mut [[u64; 512]; 6], phys: u64) {
    const PRESENT_WRITABLE: u64 = 0x3;
    const HUGE: u64 = 0x80;
    for t in tables.iter_mut() {
        *t = [0; 512];
    }
    tables[0][0] = (phys + 0x1000) | PRESENT_WRITABLE;
    for gib in 0..4 {
        tables[1][gib] = (phys + 0x2000 + 0x1000 * gib as u64) | PRESENT_WRITABLE;
        for (i, e) in tables[2 + gib].iter_mut().enumerate() {
            *e = ((gib as u64) << 30 | (i as u64) << 21) | PRESENT_WRITABLE | HUGE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(efi_type: u32, base: u64, pages: u64) -> EfiRegion {
        EfiRegion {
            efi_type,
            base,
            pages,
        }
    }

    #[test]
    fn types_map_to_e820() {
        use efi_type::*;
        for t in [
            LOADER_CODE,
            LOADER_DATA,
            BOOT_SERVICES_CODE,
            BOOT_SERVICES_DATA,
            CONVENTIONAL,
        ] {
            assert_eq!(e820_kind(t), 1, "type {t}");
        }
        assert_eq!(e820_kind(ACPI_RECLAIM), 3);
        assert_eq!(e820_kind(ACPI_NVS), 4);
        assert_eq!(e820_kind(UNUSABLE), 5);
        // Reserved, runtime services code/data, MMIO, MMIO port space, PAL code, ours.
        for t in [0, 5, 6, 11, 12, 13, LIFEBOAT_RESERVED, 0x7000_0000] {
            assert_eq!(e820_kind(t), 2, "type {t}");
        }
    }

    #[test]
    fn map_is_sorted_and_merged() {
        use efi_type::*;
        let regions = [
            r(CONVENTIONAL, 0x10_0000, 0x600),
            r(CONVENTIONAL, 0, 0xA0),
            r(BOOT_SERVICES_DATA, 0x80_0000, 0x100),
            r(ACPI_NVS, 0x90_0000, 0x10),
            r(LOADER_DATA, 0x70_0000, 0x100),
            r(LIFEBOAT_RESERVED, 0x91_0000, 8),
            r(CONVENTIONAL, 0x91_8000, 0),
            r(ACPI_RECLAIM, 0x7FF_0000, 0x10),
        ];
        let map = E820Map::from_efi(regions.iter().copied());
        assert_eq!(
            map.entries(),
            &[
                E820 {
                    base: 0,
                    len: 0xA_0000,
                    kind: 1
                },
                E820 {
                    base: 0x10_0000,
                    len: 0x80_0000,
                    kind: 1
                },
                E820 {
                    base: 0x90_0000,
                    len: 0x1_0000,
                    kind: 4
                },
                E820 {
                    base: 0x91_0000,
                    len: 0x8000,
                    kind: 2
                },
                E820 {
                    base: 0x7FF_0000,
                    len: 0x1_0000,
                    kind: 3
                },
            ]
        );
        assert_eq!(map.dropped, 0);
    }

    #[test]
    fn a_full_map_keeps_usable_ram() {
        // 100 alternating usable/MMIO regions: 64 slots, every usable one must survive.
        let regions: Vec<_> = (0..100u64)
            .map(|i| {
                r(
                    if i % 2 == 0 {
                        efi_type::CONVENTIONAL
                    } else {
                        11
                    },
                    i * 0x10_0000,
                    0x10,
                )
            })
            .collect();
        let map = E820Map::from_efi(regions.iter().copied());
        assert_eq!(map.entries().len(), 64);
        assert_eq!(map.entries().iter().filter(|e| e.kind == 1).count(), 50);
        assert_eq!(map.dropped, 36);
        assert!(map.entries().windows(2).all(|w| w[0].base < w[1].base));
    }

    /// The block a loader writes for one 1 MiB map and `ecam`.
    fn block_with(ecam: Option<(u64, u8)>) -> Vec<u8> {
        let map = E820Map::from_efi(
            [r(efi_type::CONVENTIONAL, 0x10_0000, 0x100)]
                .iter()
                .copied(),
        );
        let mut block = vec![0u8; bootinfo::LEN];
        Header {
            medium: 3,
            config_addr: 0x1234_5800,
            config_len: 512,
            firmware_size: 0x3_F000,
            rsdp: 0x7FB_E014,
            ecam,
            secure_boot: false,
        }
        .write(&map, &mut block);
        block
    }

    /// Secure Boot sets flags bit 3 (hal reads it as `BootInfo::secure_boot`), besides bit 0.
    #[test]
    fn secure_boot_sets_its_flag() {
        let map = E820Map::from_efi([r(efi_type::CONVENTIONAL, 0x10_0000, 0x100)].into_iter());
        let mut block = vec![0u8; bootinfo::LEN];
        Header {
            medium: 3,
            config_addr: 0x1234_5800,
            config_len: 512,
            firmware_size: 0x3_F000,
            rsdp: 0,
            ecam: None,
            secure_boot: true,
        }
        .write(&map, &mut block);
        assert_eq!(&block[0x14..0x18], &9u32.to_le_bytes());
        assert_eq!(block_with(None)[0x14] & 8, 0);
    }

    /// The `SecureBoot` variable: absent or 0 is off; 1, another value or size, or a read
    /// that failed, is on (fail closed).
    #[test]
    fn secure_boot_is_off_only_when_the_platform_says_so() {
        use r_efi::efi::Status;
        assert!(!secure_boot::is_on(Status::NOT_FOUND, &[]));
        assert!(!secure_boot::is_on(Status::SUCCESS, &[0]));
        assert!(secure_boot::is_on(Status::SUCCESS, &[1]));
        assert!(secure_boot::is_on(Status::SUCCESS, &[2]));
        assert!(secure_boot::is_on(Status::SUCCESS, &[0, 0]));
        assert!(secure_boot::is_on(Status::SUCCESS, &[]));
        assert!(secure_boot::is_on(Status::BUFFER_TOO_SMALL, &[0]));
        assert!(secure_boot::is_on(Status::DEVICE_ERROR, &[0]));
        assert_eq!(
            String::from_utf16(&secure_boot::NAME).unwrap(),
            "SecureBoot\0"
        );
    }

    #[test]
    fn header_and_entries_land_where_hal_reads_them() {
        let block = block_with(None);
        assert_eq!(&block[0..4], b"LBOT");
        assert_eq!(block[5], 3);
        assert_eq!(u16::from_le_bytes([block[6], block[7]]), 1);
        assert_eq!(&block[8..12], &0x1234_5800u32.to_le_bytes());
        assert_eq!(&block[0x14..0x18], &1u32.to_le_bytes());
        assert_eq!(&block[0x18..0x20], &0x7FB_E014u64.to_le_bytes());
        assert_eq!(&block[0x20..0x28], &0x10_0000u64.to_le_bytes());
        assert_eq!(&block[0x28..0x30], &0x10_0000u64.to_le_bytes());
        assert_eq!(&block[0x30..0x34], &1u32.to_le_bytes());
        assert!(block[0x38..].iter().all(|&b| b == 0));
    }

    #[test]
    fn identity_map_covers_4_gib_with_2_mib_pages() {
        let mut t = Box::new([[0u64; 512]; 6]);
        identity_map(&mut t, 0x7F00_0000);
        assert_eq!(t[0][0], 0x7F00_1003);
        assert_eq!(t[0][1], 0);
        assert_eq!(t[1][3], 0x7F00_5003);
        assert_eq!(t[2][0], 0x83);
        assert_eq!(t[2][1], 0x20_0083);
        assert_eq!(t[5][511], 0xFFE0_0083);
    }

    /// Physical memory for the ACPI tests: 64 KiB from address 0.
    struct Memory(Vec<u8>);

    impl Memory {
        fn new() -> Self {
            Memory(vec![0; 0x1_0000])
        }
        fn put(&mut self, addr: usize, bytes: &[u8]) {
            self.0[addr..addr + bytes.len()].copy_from_slice(bytes);
        }
        /// Writes a table: the header (signature, length, revision 1, checksum) and `body`.
        fn table(&mut self, addr: usize, sig: &[u8; 4], body: &[u8]) {
            let mut t = vec![0u8; 36];
            t[..4].copy_from_slice(sig);
            t[4..8].copy_from_slice(&((36 + body.len()) as u32).to_le_bytes());
            t[8] = 1;
            t.extend_from_slice(body);
            t[9] = fix(&t);
            self.put(addr, &t);
        }
        fn rsdp(&mut self, addr: usize, revision: u8, rsdt: u32, xsdt: u64) {
            let mut r = vec![0u8; 36];
            r[..8].copy_from_slice(b"RSD PTR ");
            r[15] = revision;
            r[16..20].copy_from_slice(&rsdt.to_le_bytes());
            r[20..24].copy_from_slice(&36u32.to_le_bytes());
            r[24..32].copy_from_slice(&xsdt.to_le_bytes());
            r[8] = fix(&r[..20]);
            r[32] = fix(&r);
            self.put(addr, &r);
        }
        fn find(&self, rsdp: u64) -> Option<(u64, u8)> {
            find_ecam(rsdp, &|a, l| {
                self.0.get(a as usize..(a as usize).checked_add(l)?)
            })
        }
    }

    /// The byte that makes `b` sum to zero (with its own place still 0).
    fn fix(b: &[u8]) -> u8 {
        0u8.wrapping_sub(b.iter().fold(0u8, |a, &x| a.wrapping_add(x)))
    }

    fn mcfg_entry(base: u64, segment: u16, start: u8, end: u8) -> Vec<u8> {
        let mut e = base.to_le_bytes().to_vec();
        e.extend_from_slice(&segment.to_le_bytes());
        e.extend_from_slice(&[start, end, 0, 0, 0, 0]);
        e
    }

    /// RSDP at 0x100 (revision 2) → XSDT at 0x1000 (a FACP, then the MCFG) → MCFG at 0x3000.
    fn q35_like(entries: &[Vec<u8>]) -> Memory {
        let mut m = Memory::new();
        m.rsdp(0x100, 2, 0x800, 0x1000);
        let mut x = 0x2000u64.to_le_bytes().to_vec();
        x.extend_from_slice(&0x3000u64.to_le_bytes());
        m.table(0x1000, b"XSDT", &x);
        m.table(0x2000, b"FACP", &[0; 80]);
        let mut body = vec![0u8; 8];
        for e in entries {
            body.extend_from_slice(e);
        }
        m.table(0x3000, b"MCFG", &body);
        m
    }

    #[test]
    fn the_ecam_window_comes_from_mcfg_through_the_xsdt() {
        let m = q35_like(&[mcfg_entry(0xB000_0000, 0, 0, 255)]);
        assert_eq!(m.find(0x100), Some((0xB000_0000, 255)));
        let m = q35_like(&[
            mcfg_entry(0xC000_0000, 1, 0, 255),
            mcfg_entry(0xD000_0000, 0, 4, 7),
            mcfg_entry(0xE000_0000, 0, 0, 63),
        ]);
        assert_eq!(
            m.find(0x100),
            Some((0xE000_0000, 63)),
            "segment 0 from bus 0 only"
        );
        assert_eq!(q35_like(&[]).find(0x100), None, "no entry");
    }

    #[test]
    fn an_acpi_1_rsdp_leads_through_the_rsdt() {
        let mut m = q35_like(&[mcfg_entry(0xB000_0000, 0, 0, 255)]);
        m.rsdp(0x100, 0, 0x800, 0);
        let mut r = 0x2000u32.to_le_bytes().to_vec();
        r.extend_from_slice(&0x3000u32.to_le_bytes());
        m.table(0x800, b"RSDT", &r);
        assert_eq!(m.find(0x100), Some((0xB000_0000, 255)));
    }

    #[test]
    fn a_broken_table_gives_no_window() {
        let good = q35_like(&[mcfg_entry(0xB000_0000, 0, 0, 255)]);
        assert_eq!(good.find(0x100), Some((0xB000_0000, 255)));
        assert_eq!(Memory::new().find(0x100), None, "no RSDP there");
        assert_eq!(good.find(0xFFF0), None, "RSDP past the end of memory");
        assert_eq!(good.find(u64::MAX), None);
        // One byte changed in each table: its checksum fails.
        for at in [0x100 + 3, 0x100 + 30, 0x1000 + 40, 0x3000 + 50] {
            let mut m = q35_like(&[mcfg_entry(0xB000_0000, 0, 0, 255)]);
            m.0[at] ^= 0x40;
            assert_eq!(m.find(0x100), None, "byte {at:#x} changed");
        }
        // Lengths: shorter than a header, past the end of memory, beyond 64 KiB.
        for len in [0u32, 35, 0xF000, 0x1_0001, u32::MAX] {
            let mut m = q35_like(&[mcfg_entry(0xB000_0000, 0, 0, 255)]);
            m.put(0x3004, &len.to_le_bytes());
            assert_eq!(m.find(0x100), None, "MCFG length {len:#x}");
        }
        // The XSDT points outside memory, or to a table with another signature.
        for target in [0xFFFF_FFFF_0000u64, 0x2000] {
            let mut m = q35_like(&[mcfg_entry(0xB000_0000, 0, 0, 255)]);
            m.table(0x1000, b"XSDT", &target.to_le_bytes());
            assert_eq!(m.find(0x100), None, "XSDT entry {target:#x}");
        }
        // An MCFG cut inside its entry.
        let mut m = Memory::new();
        m.rsdp(0x100, 2, 0, 0x1000);
        m.table(0x1000, b"XSDT", &0x3000u64.to_le_bytes());
        m.table(0x3000, b"MCFG", &[0; 8 + 15]);
        assert_eq!(m.find(0x100), None);
    }

    #[test]
    fn the_ecam_window_lands_where_hal_reads_it() {
        let block = block_with(Some((0xB000_0000, 255)));
        assert_eq!(&block[0x14..0x18], &5u32.to_le_bytes(), "UEFI and ECAM");
        assert_eq!(&block[0x6F0..0x6F8], &0xB000_0000u64.to_le_bytes());
        assert_eq!(block[0x6F8], 255);
    }
}
