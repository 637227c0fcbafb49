//! The boot-info block stage 2 leaves at 0x800, or the UEFI loader (`efi/`) in memory it
//! reserved (layout in bootloader/layout.md).

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
pub const MAX_REGIONS: usize = 64;
const MAGIC: u32 = 0x544F_424C; // "LBOT"
/// Flags bit 2: [`ECAM_OFFSET`] holds the ECAM window's base (u64) and last bus (u8).
const FLAG_ECAM: u32 = 4;
/// Flags bit 3: the UEFI loader found Secure Boot on (the `SecureBoot` variable was not 0,
/// or could not be read).
const FLAG_SECURE_BOOT: u32 = 8;
/// Where the ECAM window is described, after the 64 E820 entries (bootloader/layout.md).
pub const ECAM_OFFSET: usize = 0x6F0;

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

#[repr(C)]
struct RawHeader {
    magic: u32,
    boot_drive: u8,
    medium: u8,
    e820_count: u16,
    config_addr: u32,
    config_len: u32,
    firmware_size: u32,
    /// Bit 0: started by the UEFI loader, bit 1: by the system ROM, bit 2: an ECAM window
    /// at ECAM_OFFSET, bit 3: under UEFI Secure Boot (stage 2 leaves 0).
    flags: u32,
    /// The ACPI RSDP's address (stage 2 leaves 0).
    rsdp: u64,
}

#[repr(C, packed)]
#[derive(Clone, Copy)]
struct RawE820 {
    base: u64,
    len: u64,
    kind: u32,
    acpi: u32,
}

impl BootInfo {
    /// # Safety
    /// `addr` must be the boot-info block written by our stage 2 or UEFI loader (rdi at
    /// entry), and the
    /// low memory it and the configuration sector occupy must stay untouched for the
    /// lifetime of the firmware.
    pub unsafe fn from_raw(addr: usize) -> Result<Self, BadBootInfo> {
        // SAFETY: the caller guarantees `addr` points at the block; it is 8-aligned.
        let h = unsafe { &*(addr as *const RawHeader) };
        if h.magic != MAGIC {
            return Err(BadBootInfo(h.magic));
        }
        let mut regions = [MemRegion::default(); MAX_REGIONS];
        let n = (h.e820_count as usize).min(MAX_REGIONS);
        for (i, r) in regions.iter_mut().enumerate().take(n) {
            // SAFETY: stage 2 stores up to 64 entries of 24 bytes at addr + 0x20.
            let e = unsafe { core::ptr::read_unaligned((addr + 0x20 + i * 24) as *const RawE820) };
            *r = MemRegion {
                base: e.base,
                len: e.len,
                kind: e.kind,
            };
        }
        let len = (h.config_len as usize).min(4096);
        // SAFETY: stage 1 loaded the configuration sector at config_addr and nothing
        // writes to it afterwards (caller's contract).
        let config =
            unsafe { core::slice::from_raw_parts(h.config_addr as usize as *const u8, len) };
        let medium = match h.medium {
            1 => Medium::Diskette,
            2 => Medium::UsbStick,
            3 => Medium::Disk,
            k => Medium::Unknown(k),
        };
        Ok(Self {
            boot_drive: h.boot_drive,
            medium,
            config,
            firmware_size: h.firmware_size,
            uefi: h.flags & 1 != 0,
            rom: h.flags & 2 != 0,
            secure_boot: h.flags & FLAG_SECURE_BOOT != 0,
            rsdp: h.rsdp,
            ecam: if h.flags & FLAG_ECAM != 0 {
                // SAFETY: with flags bit 2 the entry wrote the window at ECAM_OFFSET, inside
                // the 0x700-byte block.
                let (base, last_bus) = unsafe {
                    (
                        core::ptr::read_unaligned((addr + ECAM_OFFSET) as *const u64),
                        *((addr + ECAM_OFFSET + 8) as *const u8),
                    )
                };
                crate::pci::Ecam::new(base, last_bus)
            } else {
                None
            },
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
        let (base, len) = largest_free(self.memory_map(), fw_end, 1 << 32)?;
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
pub const HANDOFF_OFFSET: usize = 0x700;
const HANDOFF_MAGIC: u32 = 0x4F48_424C; // "LBHO"

/// What a started image learns from the firmware besides its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Handoff {
    /// The token to hand back through [`crate::cmos::confirm_boot`].
    pub token: u32,
    /// The unit's activation key (four words), when one is stored.
    pub activation: Option<[u32; 4]>,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawHandoff {
    magic: u32,
    token: u32,
    has_activation: u32,
    activation: [u32; 4],
}

impl Handoff {
    /// Writes the hand-off into the boot-info block at `bootinfo_addr`.
    ///
    /// # Safety
    /// `bootinfo_addr` must be the boot-info block stage 2 wrote (identity-mapped low
    /// memory whose bytes from [`HANDOFF_OFFSET`] to +0x20 nothing else uses).
    pub unsafe fn write(&self, bootinfo_addr: usize) {
        let raw = RawHandoff {
            magic: HANDOFF_MAGIC,
            token: self.token,
            has_activation: u32::from(self.activation.is_some()),
            activation: self.activation.unwrap_or_default(),
        };
        // SAFETY: the caller guarantees the block; the offset is 4-aligned within it.
        unsafe {
            core::ptr::write_volatile((bootinfo_addr + HANDOFF_OFFSET) as *mut RawHandoff, raw)
        }
    }

    /// For a started image: the hand-off in the boot-info block it got in `rdi`, if the
    /// firmware left one.
    ///
    /// # Safety
    /// `bootinfo_addr` must be the `rdi` the firmware entered the image with.
    pub unsafe fn read(bootinfo_addr: usize) -> Option<Handoff> {
        // SAFETY: the caller guarantees the block; the offset is 4-aligned within it.
        let raw = unsafe {
            core::ptr::read_volatile((bootinfo_addr + HANDOFF_OFFSET) as *const RawHandoff)
        };
        (raw.magic == HANDOFF_MAGIC).then_some(Handoff {
            token: raw.token,
            activation: (raw.has_activation == 1).then_some(raw.activation),
        })
    }
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
