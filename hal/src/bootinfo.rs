//! The boot-info block stage 2 leaves at 0x800 (layout in bootloader/layout.md).

/// Where the boot medium came from (set by the media builder in the boot sector).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Medium {
    Diskette,
    UsbStick,
    Disk,
    Unknown(u8),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemRegion {
    pub base: u64,
    pub len: u64,
    /// E820 type: 1 = usable RAM.
    pub kind: u32,
}

pub const MAX_REGIONS: usize = 64;
const MAGIC: u32 = 0x544F_424C; // "LBOT"

#[derive(Debug, Clone)]
pub struct BootInfo {
    pub boot_drive: u8,
    pub medium: Medium,
    /// The media's configuration sector (text `key=value` lines, NUL-padded).
    pub config: &'static [u8],
    pub firmware_size: u32,
    regions: [MemRegion; MAX_REGIONS],
    region_count: usize,
}

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
    /// `addr` must be the boot-info block written by our stage 2 (rdi at entry), and the
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
            regions,
            region_count: n,
        })
    }

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
