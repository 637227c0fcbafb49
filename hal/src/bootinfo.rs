//! The boot-info block stage 2 leaves at 0x800, or the UEFI loader (`efi/`) in memory it
//! reserved (layout in bootloader/layout.md, defined once in `lifeboat_abi::bootinfo`).
use lifeboat_abi::bootinfo as abi;

/// Where the boot medium came from (set by the media builder in the boot sector).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Medium {
    /// A 1.44 MB diskette (the Boothelper's medium; read with CHS).
    Diskette,
    /// A USB stick (read with LBA).
    UsbStick,
    /// A hard disk or CompactFlash card.
    Disk,
    /// A medium byte this firmware does not know, as written.
    Unknown(u8),
}

/// One entry of the E820 memory map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemRegion {
    /// Physical address of the region's first byte.
    pub base: u64,
    /// The region's length in bytes.
    pub len: u64,
    /// E820 type: 1 = usable RAM.
    pub kind: u32,
}

/// Most E820 entries the block holds.
pub const MAX_REGIONS: usize = abi::e820::MAX;
/// Where the ECAM window is described, after the 64 E820 entries (bootloader/layout.md).
pub const ECAM_OFFSET: usize = abi::field::ECAM;

/// The boot-info block, checked and decoded.
#[derive(Debug, Clone)]
pub struct BootInfo {
    /// The BIOS drive number the firmware was loaded from (DL at boot).
    pub boot_drive: u8,
    /// What kind of medium that drive is.
    pub medium: Medium,
    /// The media's configuration sector (text `key=value` lines, NUL-padded).
    pub config: &'static [u8],
    /// Bytes the entry loaded: the packed firmware (unpack stage + compressed image), not
    /// the firmware as it runs (bootloader/layout.md).
    pub firmware_size: u32,
    /// Started by the UEFI loader (`efi/`), not by the BIOS stage 2.
    pub uefi: bool,
    /// Started by the system ROM (`rom/`, flags bit 1): no BIOS, no boot medium.
    pub rom: bool,
    /// Started by the UEFI loader under Secure Boot (flags bit 3): the platform checked the
    /// loader's signature, and the configuration in it, before it ran.
    pub secure_boot: bool,
    /// The ACPI RSDP from the UEFI configuration table or the system ROM's table loader (0:
    /// unknown, as from stage 2).
    pub rsdp: u64,
    /// The PCI Express configuration window (flags bit 2: the ROM on q35, the UEFI loader
    /// from ACPI's MCFG); `None` means configuration mechanism #1 (I/O ports 0xCF8/0xCFC).
    pub ecam: Option<crate::pci::Ecam>,
    regions: [MemRegion; MAX_REGIONS],
    region_count: usize,
}

/// The block at the given address does not start with the "LBOT" magic: the value found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadBootInfo(pub u32);

impl BootInfo {
    /// # Safety
    /// `addr` must be the boot-info block written by our stage 2, UEFI loader or ROM stage
    /// (rdi at entry), and the low memory it and the configuration sector occupy must stay
    /// untouched for the lifetime of the firmware.
    pub unsafe fn from_raw(addr: usize) -> Result<Self, BadBootInfo> {
        // SAFETY: the caller guarantees `addr` points at the block of abi::LEN bytes.
        let block = unsafe { core::slice::from_raw_parts(addr as *const u8, abi::LEN) };
        let h = abi::Header::read(block).map_err(|e| BadBootInfo(e.0))?;
        let len = (h.config_len as usize).min(4096);
        // SAFETY: the entry put the configuration at config_addr and nothing writes to it
        // afterwards (caller's contract).
        let config =
            unsafe { core::slice::from_raw_parts(h.config_addr as usize as *const u8, len) };
        Self::from_block(block, config)
    }

    /// The boot-info block in `block` (the bytes an entry wrote), with `config` the
    /// configuration text its header points at: the safe half of [`BootInfo::from_raw`],
    /// and how the host tests read each writer's block.
    pub fn from_block(block: &[u8], config: &'static [u8]) -> Result<Self, BadBootInfo> {
        let h = abi::Header::read(block).map_err(|e| BadBootInfo(e.0))?;
        let mut regions = [MemRegion::default(); MAX_REGIONS];
        let mut n = 0;
        for (r, e) in regions.iter_mut().zip(abi::entries(block)) {
            *r = MemRegion {
                base: e.base,
                len: e.len,
                kind: e.kind,
            };
            n += 1;
        }
        let medium = match h.medium {
            abi::medium::DISKETTE => Medium::Diskette,
            abi::medium::USB_STICK => Medium::UsbStick,
            abi::medium::DISK => Medium::Disk,
            k => Medium::Unknown(k),
        };
        Ok(Self {
            boot_drive: h.boot_drive,
            medium,
            config,
            firmware_size: h.firmware_size,
            uefi: h.flags & abi::flags::UEFI != 0,
            rom: h.flags & abi::flags::ROM != 0,
            secure_boot: h.flags & abi::flags::SECURE_BOOT != 0,
            rsdp: h.rsdp,
            ecam: h
                .ecam
                .and_then(|(base, last_bus)| crate::pci::Ecam::new(base, last_bus)),
            regions,
            region_count: n,
        })
    }

    /// The E820 memory map, in the order the BIOS (or the loader) gave it.
    pub fn memory_map(&self) -> &[MemRegion] {
        &self.regions[..self.region_count]
    }

    /// Usable RAM in bytes (E820 type 1).
    pub fn usable_ram(&self) -> u64 {
        self.memory_map()
            .iter()
            .filter(|r| r.kind == 1)
            .map(|r| r.len)
            .sum()
    }
}

extern "C" {
    /// Top of the firmware's stack, its highest address (firmware/firmware.ld).
    static __stack_top: u8;
}

static BUFFER_TAKEN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

impl BootInfo {
    /// The largest usable RAM region above the firmware's end (its .bss and stack), below
    /// 4 GiB (the identity map's end): where downloads go. `None` when no usable RAM is
    /// left, or the second time (the buffer is handed out once).
    pub fn download_buffer(&self) -> Option<&'static mut [u8]> {
        let fw_end = firmware_end();
        let end = lifeboat_abi::memory::IDENTITY_MAP_END;
        let (base, len) = largest_free(self.memory_map(), fw_end, end)?;
        if BUFFER_TAKEN.swap(true, core::sync::atomic::Ordering::AcqRel) {
            return None;
        }
        // SAFETY: [base, base+len) is usable RAM per E820, above everything the firmware
        // occupies and below 4 GiB (identity-mapped by stage 2); BUFFER_TAKEN makes this the
        // only reference to it; nothing else in the firmware allocates memory.
        Some(unsafe { core::slice::from_raw_parts_mut(base as usize as *mut u8, len as usize) })
    }
}

/// The end of the firmware in RAM (its image, .bss and stack): nothing may be loaded below.
pub fn firmware_end() -> u64 {
    // Only the linker symbol's address is taken, never its contents.
    core::ptr::addr_of!(__stack_top) as u64
}

/// Where the firmware leaves its hand-off to an image it starts: in the boot-info block
/// (`rdi`), at this offset (bootloader/layout.md).
pub const HANDOFF_OFFSET: usize = abi::field::HANDOFF;

/// What a started image learns from the firmware besides its header: the ABI's own type.
pub use abi::handoff::Handoff;

/// Writes the hand-off into the boot-info block at `bootinfo_addr`.
///
/// # Safety
/// `bootinfo_addr` must be the boot-info block the entry wrote (identity-mapped memory whose
/// bytes from [`HANDOFF_OFFSET`] to +28 nothing else uses).
pub unsafe fn write_handoff(handoff: &Handoff, bootinfo_addr: usize) {
    let raw = handoff.encode();
    // SAFETY: the caller guarantees the block; the hand-off lies inside it.
    unsafe {
        core::ptr::write_volatile(
            (bootinfo_addr + HANDOFF_OFFSET) as *mut [u8; abi::handoff::LEN],
            raw,
        )
    }
}

/// Names the event log a measured flat64 image finds at `addr` (`len` bytes) in the
/// boot-info block ([`abi::field::EVENT_LOG`]).
///
/// # Safety
/// As [`write_handoff`]: `bootinfo_addr` is the entry's block, whose 8 bytes at
/// [`abi::field::EVENT_LOG`] nothing else uses.
pub unsafe fn write_event_log(bootinfo_addr: usize, addr: u32, len: u32) {
    let mut raw = [0u8; 8];
    raw[..4].copy_from_slice(&addr.to_le_bytes());
    raw[4..].copy_from_slice(&len.to_le_bytes());
    // SAFETY: the caller guarantees the block; the field lies inside it.
    unsafe {
        core::ptr::write_volatile((bootinfo_addr + abi::field::EVENT_LOG) as *mut [u8; 8], raw)
    }
}

/// For a started flat64 image: the event log the firmware named in the boot-info block
/// (address, length), if it measured the image.
///
/// # Safety
/// `bootinfo_addr` must be the `rdi` the firmware entered the image with.
pub unsafe fn read_event_log(bootinfo_addr: usize) -> Option<(u32, u32)> {
    // SAFETY: the caller guarantees the block; the field lies inside it.
    let raw = unsafe {
        core::ptr::read_volatile((bootinfo_addr + abi::field::EVENT_LOG) as *const [u8; 8])
    };
    let addr = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let len = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]);
    (addr != 0 && len != 0 && len as usize <= lifeboat_abi::memory::EVENT_LOG_MAX)
        .then_some((addr, len))
}

/// For a started image: the hand-off in the boot-info block it got in `rdi`, if the
/// firmware left one.
///
/// # Safety
/// `bootinfo_addr` must be the `rdi` the firmware entered the image with.
pub unsafe fn read_handoff(bootinfo_addr: usize) -> Option<Handoff> {
    // SAFETY: the caller guarantees the block; the hand-off lies inside it.
    let raw = unsafe {
        core::ptr::read_volatile((bootinfo_addr + HANDOFF_OFFSET) as *const [u8; abi::handoff::LEN])
    };
    Handoff::decode(&raw)
}

/// The largest piece of usable (type 1) RAM within [`floor`, `ceiling`), page-aligned.
pub fn largest_free(map: &[MemRegion], floor: u64, ceiling: u64) -> Option<(u64, u64)> {
    map.iter()
        .filter(|r| r.kind == 1)
        .filter_map(|r| {
            let start = r.base.max(floor).checked_add(0xFFF)? & !0xFFF;
            let end = r.base.saturating_add(r.len).min(ceiling) & !0xFFF;
            (end > start).then(|| (start, end - start))
        })
        .max_by_key(|&(_, len)| len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_is_the_largest_usable_piece_above_the_firmware() {
        let map = [
            MemRegion {
                base: 0,
                len: 0x9FC00,
                kind: 1,
            },
            MemRegion {
                base: 0x10_0000,
                len: 0x7EE_0000,
                kind: 1,
            },
            MemRegion {
                base: 0x7FE_0000,
                len: 0x2_0000,
                kind: 2,
            },
            MemRegion {
                base: 0xFFFC_0000,
                len: 0x4_0000,
                kind: 2,
            },
        ];
        assert_eq!(
            largest_free(&map, 0x18_2345, 1 << 32),
            Some((0x18_3000, 0x7FE_0000 - 0x18_3000))
        );
        assert_eq!(largest_free(&map, 0x9000_0000, 1 << 32), None);
        let high = [MemRegion {
            base: 0x1_0000_0000,
            len: 1 << 30,
            kind: 1,
        }];
        assert_eq!(
            largest_free(&high, 0x20_0000, 1 << 32),
            None,
            "above the identity map"
        );
    }
}
