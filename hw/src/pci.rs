//! PCI configuration access: mechanism #1 through ports 0xCF8/0xCFC (PCI Local Bus
//! Specification 3.0, §3.2.2.3.2) and the PCI Express enhanced configuration window (ECAM,
//! PCIe Base Specification 4.0 §7.2.2). hal builds its enumeration and BAR decoding on these
//! (`lifeboat_hal::pci`); the ROM stage assigns the BARs with them.
use crate::port;

/// CONFIG_ADDRESS port of mechanism #1.
pub const CONFIG_ADDRESS: u16 = 0xCF8;
/// CONFIG_DATA port of mechanism #1.
pub const CONFIG_DATA: u16 = 0xCFC;

/// A bus/device/function triple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    /// Bus number, 0–255.
    pub bus: u8,
    /// Device number, 0–31.
    pub dev: u8,
    /// Function number, 0–7.
    pub func: u8,
}

impl Bdf {
    /// The CONFIG_ADDRESS value selecting the dword at `offset` of this function:
    /// enable bit 31, bus in 23:16, device in 15:11, function in 10:8, register in 7:2.
    pub const fn config_address(self, offset: u8) -> u32 {
        0x8000_0000
            | (self.bus as u32) << 16
            | ((self.dev as u32) & 0x1F) << 11
            | ((self.func as u32) & 0x7) << 8
            | (offset as u32 & 0xFC)
    }
}

impl core::fmt::Display for Bdf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.dev, self.func)
    }
}

/// Configuration mechanism #1 through I/O ports 0xCF8 (address) and 0xCFC (data).
#[derive(Debug)]
pub struct Mechanism1 {
    _private: (),
}

impl Mechanism1 {
    /// Take the configuration ports.
    ///
    /// # Safety
    ///
    /// The machine must implement configuration mechanism #1 (every PC chipset since 1995 and
    /// QEMU's `pc` and `q35` do), and no other code may use ports 0xCF8–0xCFF while this value
    /// is in use: an access is two port writes/reads that must not be interleaved with another
    /// one. Lifeboat is single-threaded and no interrupt handler touches PCI. What a write
    /// does to the device (a BAR moved, bus mastering on) is the caller's to own.
    pub const unsafe fn new() -> Self {
        Self { _private: () }
    }

    /// Reads the aligned dword at `offset & !3`.
    pub fn read32(&mut self, bdf: Bdf, offset: u8) -> u32 {
        // SAFETY: `new`'s contract gives us exclusive use of CF8/CFC; selecting a register and
        // reading it has no side effect on any device register in the configuration header.
        unsafe {
            port::outl(CONFIG_ADDRESS, bdf.config_address(offset));
            port::inl(CONFIG_DATA)
        }
    }

    /// Writes the aligned dword at `offset & !3`.
    pub fn write32(&mut self, bdf: Bdf, offset: u8, value: u32) {
        // SAFETY: exclusive use of CF8/CFC as above; the caller chose the register and value.
        unsafe {
            port::outl(CONFIG_ADDRESS, bdf.config_address(offset));
            port::outl(CONFIG_DATA, value);
        }
    }

    /// Writes the aligned word at `offset & !1`, leaving the other half of the dword alone.
    pub fn write16(&mut self, bdf: Bdf, offset: u8, value: u16) {
        // SAFETY: exclusive use of CF8/CFC as above; a word access at CFC + (offset & 2)
        // writes only that word of the selected dword (PCI 3.0 §3.2.2.3.2).
        unsafe {
            port::outl(CONFIG_ADDRESS, bdf.config_address(offset));
            port::outw(CONFIG_DATA + (offset as u16 & 2), value);
        }
    }
}

/// A PCI Express enhanced configuration window (ECAM): 4 KiB of configuration space per
/// function, the bus in address bits 27:20, the device in 19:15 and the function in 14:12,
/// from bus 0 up to `last_bus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ecam {
    base: u64,
    last_bus: u8,
}

impl Ecam {
    /// A window at `base` for buses 0 to `last_bus`; `None` unless `base` is 1 MiB aligned
    /// (what one bus takes) and the window ends at or below 4 GiB, where the firmware's
    /// identity map ends (a window above it is not used: mechanism #1 serves instead).
    pub const fn new(base: u64, last_bus: u8) -> Option<Ecam> {
        let end = base.saturating_add((last_bus as u64 + 1) << 20);
        if base == 0 || base & 0xF_FFFF != 0 || end > 1 << 32 {
            return None;
        }
        Some(Ecam { base, last_bus })
    }

    /// The window's first byte.
    pub const fn base(self) -> u64 {
        self.base
    }

    /// The last bus the window covers.
    pub const fn last_bus(self) -> u8 {
        self.last_bus
    }

    /// The address of the dword at `offset & !3` of `bdf`, `None` for a bus past the window.
    pub const fn address(self, bdf: Bdf, offset: u8) -> Option<u64> {
        if bdf.bus > self.last_bus {
            return None;
        }
        Some(
            self.base
                | (bdf.bus as u64) << 20
                | ((bdf.dev as u64) & 0x1F) << 15
                | ((bdf.func as u64) & 0x7) << 12
                | (offset as u64 & 0xFC),
        )
    }

    /// Reads the aligned dword at `offset & !3` of `bdf`; `None` past the window.
    ///
    /// # Safety
    /// The window must be the chipset's active ECAM, identity-mapped, with nothing else in
    /// it (a wrong window reads whatever memory or device is there).
    pub unsafe fn read32(self, bdf: Bdf, offset: u8) -> Option<u32> {
        let p = self.address(bdf, offset)? as usize as *const u32;
        // SAFETY: the caller's contract; an aligned dword read of a header register has no
        // side effect.
        Some(unsafe { core::ptr::read_volatile(p) })
    }

    /// Writes the aligned dword at `offset & !3` of `bdf`; false past the window.
    ///
    /// # Safety
    /// As [`Ecam::read32`].
    pub unsafe fn write32(self, bdf: Bdf, offset: u8, value: u32) -> bool {
        let Some(a) = self.address(bdf, offset) else {
            return false;
        };
        // SAFETY: the caller's contract; the caller chose the register and value.
        unsafe { core::ptr::write_volatile(a as usize as *mut u32, value) };
        true
    }

    /// Writes the aligned word at `offset & !1` of `bdf` (the other half of the dword, e.g.
    /// the Status register's write-one-to-clear bits, is left alone); false past the window.
    ///
    /// # Safety
    /// As [`Ecam::read32`].
    pub unsafe fn write16(self, bdf: Bdf, offset: u8, value: u16) -> bool {
        let Some(a) = self.address(bdf, offset) else {
            return false;
        };
        let p = (a + (offset as u64 & 2)) as usize as *mut u16;
        // SAFETY: the caller's contract; the word lies inside the dword above.
        unsafe { core::ptr::write_volatile(p, value) };
        true
    }
}
