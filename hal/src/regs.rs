//! Register windows: memory-mapped (MMIO) and I/O-port ranges of a device, with bounds-checked
//! volatile accessors. The NIC drivers reach their BARs through these, the flash drivers the
//! CFI pflash window below 4 GiB and the legacy IDE ports.

use core::ptr;

use lifeboat_hw::port as io;

/// A memory-mapped register window (a memory BAR, or a fixed window such as a flash chip's).
pub struct Mmio {
    base: usize,
    len: usize,
}

impl Mmio {
    /// A register window of `len` bytes at physical address `base`.
    ///
    /// # Safety
    ///
    /// `base..base + len` must be a memory BAR of the device this value drives, decoded by it
    /// (Memory Space enabled), or a fixed window the device always decodes, identity-mapped
    /// uncacheable (the boot chain maps MMIO below
    /// 4 GiB with PCD), and used by nothing else while this value lives.
    pub unsafe fn new(base: u64, len: usize) -> Self {
        Self {
            base: base as usize,
            len,
        }
    }

    fn check(&self, offset: usize, width: usize) {
        assert!(
            offset.is_multiple_of(width) && offset + width <= self.len,
            "register offset out of window"
        );
    }

    /// Read a 32-bit register.
    #[inline]
    pub fn read32(&self, offset: usize) -> u32 {
        self.check(offset, 4);
        // SAFETY: `new`'s contract: the address is an aligned register inside our BAR.
        unsafe { ptr::read_volatile((self.base + offset) as *const u32) }
    }
    /// Write a 32-bit register.
    #[inline]
    pub fn write32(&self, offset: usize, value: u32) {
        self.check(offset, 4);
        // SAFETY: as in `read32`.
        unsafe { ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }
    /// Read a 16-bit register.
    #[inline]
    pub fn read16(&self, offset: usize) -> u16 {
        self.check(offset, 2);
        // SAFETY: as in `read32`.
        unsafe { ptr::read_volatile((self.base + offset) as *const u16) }
    }
    /// Write a 16-bit register.
    #[inline]
    pub fn write16(&self, offset: usize, value: u16) {
        self.check(offset, 2);
        // SAFETY: as in `read32`.
        unsafe { ptr::write_volatile((self.base + offset) as *mut u16, value) }
    }
    /// Read an 8-bit register.
    #[inline]
    pub fn read8(&self, offset: usize) -> u8 {
        self.check(offset, 1);
        // SAFETY: as in `read32`.
        unsafe { ptr::read_volatile((self.base + offset) as *const u8) }
    }
    /// Write an 8-bit register.
    #[inline]
    pub fn write8(&self, offset: usize, value: u8) {
        self.check(offset, 1);
        // SAFETY: as in `read32`.
        unsafe { ptr::write_volatile((self.base + offset) as *mut u8, value) }
    }
}

/// An I/O port register window (an I/O BAR, or fixed legacy ports such as the IDE channels').
pub struct IoPorts {
    base: u16,
    len: u16,
}

impl IoPorts {
    /// A register window of `len` ports at `base`.
    ///
    /// # Safety
    ///
    /// `base..base + len` must be an I/O BAR of the device this value drives, decoded by it
    /// (I/O Space enabled), or legacy ports it always decodes, and used by nothing else while this value lives.
    pub unsafe fn new(base: u16, len: u16) -> Self {
        Self { base, len }
    }

    fn port(&self, offset: u16, width: u16) -> u16 {
        assert!(offset + width <= self.len, "register offset out of window");
        self.base + offset
    }

    /// Read a 32-bit register.
    #[inline]
    pub fn read32(&self, offset: u16) -> u32 {
        let port = self.port(offset, 4);
        // SAFETY: `new`'s contract: the port is a register of our device.
        unsafe { io::inl(port) }
    }
    /// Write a 32-bit register.
    #[inline]
    pub fn write32(&self, offset: u16, value: u32) {
        let port = self.port(offset, 4);
        // SAFETY: as in `read32`.
        unsafe { io::outl(port, value) }
    }
    /// Read a 16-bit register.
    #[inline]
    pub fn read16(&self, offset: u16) -> u16 {
        let port = self.port(offset, 2);
        // SAFETY: as in `read32`.
        unsafe { io::inw(port) }
    }
    /// Write a 16-bit register.
    #[inline]
    pub fn write16(&self, offset: u16, value: u16) {
        let port = self.port(offset, 2);
        // SAFETY: as in `read32`.
        unsafe { io::outw(port, value) }
    }
    /// Read an 8-bit register.
    #[inline]
    pub fn read8(&self, offset: u16) -> u8 {
        let port = self.port(offset, 1);
        // SAFETY: as in `read32`.
        unsafe { io::inb(port) }
    }
    /// Write an 8-bit register.
    #[inline]
    pub fn write8(&self, offset: u16, value: u8) {
        let port = self.port(offset, 1);
        // SAFETY: as in `read32`.
        unsafe { io::outb(port, value) }
    }
}
