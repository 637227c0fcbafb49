//! PCI configuration space: access through configuration mechanism #1 (I/O ports 0xCF8/0xCFC),
//! bus enumeration, BAR decoding and sizing, and the command register.
//!
//! The decoding and the scan walk are written against the [`ConfigSpace`] trait so that they
//! run on the host against a model of configuration space (see the tests); the hardware
//! access is [`Config`]: the PCI Express memory-mapped window ([`Ecam`]) when the entry (the
//! system ROM on q35, which programs PCIEXBAR, or the UEFI loader, from ACPI's MCFG) named
//! one in the boot-info block, else [`Mechanism1`]. PCIe Base Specification 4.0 §7.2.2
//! (ECAM). References: PCI Local Bus Specification 3.0, §3.2.2.3.2
//! (configuration mechanism #1) and §6.1–6.2 (configuration header), PCI-to-PCI Bridge
//! Architecture Specification 1.2, §3.2 (type 1 header).

use core::sync::atomic::{AtomicU64, Ordering};

/// The configuration access itself (mechanism #1, ECAM, [`Bdf`]) is the hardware core's,
/// shared with the ROM stage (`lifeboat_hw::pci`).
pub use lifeboat_hw::pci::{Bdf, Ecam, Mechanism1, CONFIG_ADDRESS, CONFIG_DATA};

/// Configuration header offsets (PCI 3.0 §6.1, figure 6-1).
pub mod reg {
    /// Vendor ID (low 16 bits) and Device ID (high 16 bits).
    pub const ID: u8 = 0x00;
    /// Command register (16 bits); the Status register is the high half of this dword.
    pub const COMMAND: u8 = 0x04;
    /// Revision ID (byte 0), Prog IF (byte 1), Subclass (byte 2), Class code (byte 3).
    pub const CLASS_REV: u8 = 0x08;
    /// Cache line size, latency timer, Header type (byte 2, bit 7 = multi-function), BIST.
    pub const HEADER: u8 = 0x0C;
    /// First Base Address Register; BAR n is at `BAR0 + 4 * n`.
    pub const BAR0: u8 = 0x10;
    /// Type 1 (bridge) header: primary, secondary, subordinate bus numbers (bytes 0–2).
    pub const BRIDGE_BUSES: u8 = 0x18;
    /// Interrupt Line (byte 0) and Interrupt Pin (byte 1).
    pub const INTERRUPT: u8 = 0x3C;
}

/// Command register bits (PCI 3.0 §6.2.2).
pub mod command {
    /// I/O Space: the device answers I/O BAR accesses.
    pub const IO_SPACE: u16 = 1 << 0;
    /// Memory Space: the device answers memory BAR accesses.
    pub const MEMORY_SPACE: u16 = 1 << 1;
    /// Bus Master: the device may issue DMA.
    pub const BUS_MASTER: u16 = 1 << 2;
    /// Interrupt Disable: the device does not assert INTx#.
    pub const INTX_DISABLE: u16 = 1 << 10;
}

/// The ECAM window in use: base | last bus in bits 7:0 (the base is 1 MiB aligned), 0 = none.
static ECAM: AtomicU64 = AtomicU64::new(0);

/// Route every configuration access of [`Config`] through `window` from now on.
///
/// # Safety
///
/// `window` must be the chipset's active ECAM window (q35's PCIEXBAR as the system ROM set
/// it, or the one ACPI's MCFG names) and identity-mapped (it lies below 4 GiB, which every
/// entry maps), with nothing else in it.
pub unsafe fn use_ecam(window: Ecam) {
    ECAM.store(window.base() | window.last_bus() as u64, Ordering::Relaxed);
}

/// The machine's configuration access: ECAM for the buses its window covers when the entry
/// gave one ([`use_ecam`]), configuration mechanism #1 otherwise.
#[derive(Debug)]
pub struct Config {
    ports: Mechanism1,
}

impl Config {
    /// # Safety
    ///
    /// As [`Mechanism1::new`]: nothing else uses ports 0xCF8-0xCFF or the ECAM window while
    /// this value is in use (lifeboat is single-threaded and no interrupt handler touches PCI).
    pub const unsafe fn new() -> Self {
        Self {
            // SAFETY: the caller's contract is Mechanism1's.
            ports: unsafe { Mechanism1::new() },
        }
    }

    /// The ECAM window in use, if any.
    fn window(&self) -> Option<Ecam> {
        let v = ECAM.load(Ordering::Relaxed);
        // Only `use_ecam` stores, from a checked `Ecam` (0: none).
        Ecam::new(v & !0xFF, v as u8)
    }
}

impl ConfigSpace for Config {
    fn read32(&mut self, bdf: Bdf, offset: u8) -> u32 {
        if let Some(w) = self.window() {
            // SAFETY: `use_ecam`'s contract: the window is the chipset's, identity-mapped.
            if let Some(v) = unsafe { w.read32(bdf, offset) } {
                return v;
            }
        }
        self.ports.read32(bdf, offset)
    }

    fn write32(&mut self, bdf: Bdf, offset: u8, value: u32) {
        if let Some(w) = self.window() {
            // SAFETY: as above; the caller chose the register and value.
            if unsafe { w.write32(bdf, offset, value) } {
                return;
            }
        }
        self.ports.write32(bdf, offset, value)
    }

    fn write16(&mut self, bdf: Bdf, offset: u8, value: u16) {
        if let Some(w) = self.window() {
            // SAFETY: as above; a word write at the word's own address leaves the other
            // half of the dword alone (the Status register's write-one-to-clear bits).
            if unsafe { w.write16(bdf, offset, value) } {
                return;
            }
        }
        self.ports.write16(bdf, offset, value)
    }
}

/// Read and write access to PCI configuration space.
///
/// Offsets are byte offsets into the 256-byte header; `read32`/`write32` use the aligned dword
/// that contains `offset`, `read16`/`write16` the aligned word.
pub trait ConfigSpace {
    /// Read the aligned dword at `offset & !3`.
    fn read32(&mut self, bdf: Bdf, offset: u8) -> u32;
    /// Write the aligned dword at `offset & !3`.
    fn write32(&mut self, bdf: Bdf, offset: u8, value: u32);
    /// Write the aligned word at `offset & !1` without touching the other half of the dword
    /// (the Status register next to Command has write-one-to-clear bits).
    fn write16(&mut self, bdf: Bdf, offset: u8, value: u16);

    /// Read the aligned word at `offset & !1`.
    fn read16(&mut self, bdf: Bdf, offset: u8) -> u16 {
        (self.read32(bdf, offset) >> ((offset as u32 & 2) * 8)) as u16
    }
    /// Read the byte at `offset`.
    fn read8(&mut self, bdf: Bdf, offset: u8) -> u8 {
        (self.read32(bdf, offset) >> ((offset as u32 & 3) * 8)) as u8
    }
}

/// Mechanism #1 (`lifeboat_hw::pci::Mechanism1`) as a [`ConfigSpace`].
impl ConfigSpace for Mechanism1 {
    fn read32(&mut self, bdf: Bdf, offset: u8) -> u32 {
        Mechanism1::read32(self, bdf, offset)
    }

    fn write32(&mut self, bdf: Bdf, offset: u8, value: u32) {
        Mechanism1::write32(self, bdf, offset, value)
    }

    fn write16(&mut self, bdf: Bdf, offset: u8, value: u16) {
        Mechanism1::write16(self, bdf, offset, value)
    }
}

/// A decoded Base Address Register (PCI 3.0 §6.2.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Bar {
    /// Not implemented, or the upper half of the 64-bit BAR before it.
    #[default]
    None,
    /// An I/O port range.
    Io {
        /// First port.
        port: u16,
        /// Length in ports (0 if it was not probed).
        size: u32,
    },
    /// A memory range.
    Mem {
        /// Physical base address.
        addr: u64,
        /// Length in bytes (0 if it was not probed).
        size: u64,
        /// A 64-bit BAR (it occupies this slot and the next).
        is_64bit: bool,
        /// Prefetchable memory.
        prefetchable: bool,
    },
}

impl Bar {
    /// Decode a BAR from its register value(s) and, optionally, the values read back after
    /// writing all ones (the size masks; pass 0 to skip sizing). `high`/`high_mask` are the next
    /// register's values and are only used for a 64-bit memory BAR.
    pub fn decode(low: u32, high: u32, low_mask: u32, high_mask: u32) -> Bar {
        if low & 1 == 1 {
            let port = (low & 0xFFFC) as u16;
            // Devices may hardwire the upper 16 bits of an I/O BAR to 0: size within 64 KiB.
            let mask = (low_mask & 0xFFFC) | 0xFFFF_0000;
            let size = if low_mask & 0xFFFC == 0 {
                0
            } else {
                (!mask).wrapping_add(1)
            };
            if port == 0 && size == 0 {
                return Bar::None;
            }
            return Bar::Io { port, size };
        }
        let kind = (low >> 1) & 0b11;
        let prefetchable = low & 0b1000 != 0;
        let is_64bit = kind == 0b10;
        let (addr, size) = if is_64bit {
            let addr = (u64::from(high) << 32) | u64::from(low & !0xF);
            let mask = (u64::from(high_mask) << 32) | u64::from(low_mask & !0xF);
            (
                addr,
                if mask == 0 {
                    0
                } else {
                    (!mask).wrapping_add(1)
                },
            )
        } else {
            let mask = low_mask & !0xF;
            (
                u64::from(low & !0xF),
                if mask == 0 {
                    0
                } else {
                    u64::from((!mask).wrapping_add(1))
                },
            )
        };
        if addr == 0 && size == 0 && low_mask == 0 && low == 0 {
            return Bar::None;
        }
        if addr == 0 && size == 0 && low_mask != 0 {
            // Probed and found no writable address bits: not implemented.
            return Bar::None;
        }
        Bar::Mem {
            addr,
            size,
            is_64bit,
            prefetchable,
        }
    }

    /// The memory base address, if this is a memory BAR.
    pub fn mem_addr(&self) -> Option<u64> {
        match *self {
            Bar::Mem { addr, .. } if addr != 0 => Some(addr),
            _ => None,
        }
    }

    /// The first I/O port, if this is an I/O BAR.
    pub fn io_port(&self) -> Option<u16> {
        match *self {
            Bar::Io { port, .. } if port != 0 => Some(port),
            _ => None,
        }
    }
}

/// One PCI function as found by the scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciDevice {
    /// Bus number.
    pub bus: u8,
    /// Device number.
    pub dev: u8,
    /// Function number.
    pub func: u8,
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// Revision ID (tells the 8255x steppings apart).
    pub revision: u8,
    /// Base class code.
    pub class: u8,
    /// Subclass code.
    pub subclass: u8,
    /// Programming interface.
    pub prog_if: u8,
    /// Header type without the multi-function bit (0 = device, 1 = PCI-to-PCI bridge).
    pub header_type: u8,
    /// Base Address Registers (a type 1 header has only two; the rest are `Bar::None`).
    pub bars: [Bar; 6],
    /// Interrupt Line as assigned by the BIOS (the legacy IRQ number; 0xFF = none).
    pub irq: u8,
    /// Interrupt Pin (0 = none, 1–4 = INTA#–INTD#).
    pub interrupt_pin: u8,
}

impl PciDevice {
    /// This function's address.
    pub fn bdf(&self) -> Bdf {
        Bdf {
            bus: self.bus,
            dev: self.dev,
            func: self.func,
        }
    }

    /// Read a function's header and size its BARs.
    ///
    /// Sizing writes all ones to each BAR and restores it, with memory and I/O decoding turned
    /// off meanwhile (PCI 3.0 §6.2.5.1), then restores the command register. Bus mastering is
    /// left as it was, so a running DMA engine is not disturbed.
    pub fn read<C: ConfigSpace + ?Sized>(cfg: &mut C, bdf: Bdf) -> Option<PciDevice> {
        let id = cfg.read32(bdf, reg::ID);
        let vendor = id as u16;
        if vendor == 0xFFFF || vendor == 0 {
            return None;
        }
        let class_rev = cfg.read32(bdf, reg::CLASS_REV);
        let header_type = cfg.read8(bdf, reg::HEADER + 2) & 0x7F;
        let intr = cfg.read32(bdf, reg::INTERRUPT);
        let nbars = match header_type {
            0 => 6,
            1 => 2,
            _ => 0,
        };
        let mut bars = [Bar::None; 6];
        if nbars > 0 {
            let cmd = cfg.read16(bdf, reg::COMMAND);
            cfg.write16(
                bdf,
                reg::COMMAND,
                cmd & !(command::IO_SPACE | command::MEMORY_SPACE),
            );
            let mut i = 0;
            while i < nbars {
                let off = reg::BAR0 + 4 * i as u8;
                let low = cfg.read32(bdf, off);
                cfg.write32(bdf, off, 0xFFFF_FFFF);
                let low_mask = cfg.read32(bdf, off);
                cfg.write32(bdf, off, low);
                let wide = low & 1 == 0 && (low >> 1) & 0b11 == 0b10 && i + 1 < nbars;
                let (high, high_mask) = if wide {
                    let off_hi = off + 4;
                    let high = cfg.read32(bdf, off_hi);
                    cfg.write32(bdf, off_hi, 0xFFFF_FFFF);
                    let high_mask = cfg.read32(bdf, off_hi);
                    cfg.write32(bdf, off_hi, high);
                    (high, high_mask)
                } else {
                    (0, 0)
                };
                bars[i] = Bar::decode(low, high, low_mask, high_mask);
                i += if wide { 2 } else { 1 };
            }
            cfg.write16(bdf, reg::COMMAND, cmd);
        }
        Some(PciDevice {
            bus: bdf.bus,
            dev: bdf.dev,
            func: bdf.func,
            vendor,
            device: (id >> 16) as u16,
            revision: class_rev as u8,
            prog_if: (class_rev >> 8) as u8,
            subclass: (class_rev >> 16) as u8,
            class: (class_rev >> 24) as u8,
            header_type,
            bars,
            irq: intr as u8,
            interrupt_pin: (intr >> 8) as u8,
        })
    }

    /// Set bits in the command register (see [`command`]); returns the new value.
    pub fn enable<C: ConfigSpace + ?Sized>(&self, cfg: &mut C, bits: u16) -> u16 {
        let cmd = cfg.read16(self.bdf(), reg::COMMAND) | bits;
        cfg.write16(self.bdf(), reg::COMMAND, cmd);
        cmd
    }

    /// Clear bits in the command register; returns the new value.
    pub fn disable<C: ConfigSpace + ?Sized>(&self, cfg: &mut C, bits: u16) -> u16 {
        let cmd = cfg.read16(self.bdf(), reg::COMMAND) & !bits;
        cfg.write16(self.bdf(), reg::COMMAND, cmd);
        cmd
    }

    /// A PCI-to-PCI bridge (class 06h, subclass 04h, type 1 header).
    pub fn is_bridge(&self) -> bool {
        self.header_type == 1 && self.class == 0x06 && self.subclass == 0x04
    }
}

/// Iterator over every function on every reachable bus, in (bus, device, function) order.
///
/// Bus 0 is scanned, plus each bus found behind a PCI-to-PCI bridge (its secondary bus
/// number, as assigned by the BIOS) and, for a multi-function host bridge at 00:00, bus `f`
/// for each function `f` (PCI host bridge convention). With [`Scan::all_buses`], all 256 buses
/// are scanned instead.
pub struct Scan<'a, C: ConfigSpace + ?Sized> {
    cfg: &'a mut C,
    bus: u16,
    dev: u8,
    func: u8,
    multi: bool,
    reachable: [u32; 8],
    all: bool,
    wanted: Option<fn(&Ident) -> bool>,
}

/// What names a function before it is read in full (offsets 0x00 and 0x08), for
/// [`Scan::only`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ident {
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// Base class code.
    pub class: u8,
    /// Sub-class code.
    pub subclass: u8,
    /// Programming interface.
    pub prog_if: u8,
    /// Revision ID.
    pub revision: u8,
}

/// Scan the buses reachable from bus 0 through `cfg`.
pub fn scan<C: ConfigSpace + ?Sized>(cfg: &mut C) -> Scan<'_, C> {
    let mut reachable = [0u32; 8];
    reachable[0] = 1;
    Scan {
        cfg,
        bus: 0,
        dev: 0,
        func: 0,
        multi: false,
        reachable,
        all: false,
        wanted: None,
    }
}

impl<C: ConfigSpace + ?Sized> Scan<'_, C> {
    /// Probe all 256 buses, not only the ones reachable through bridges.
    pub fn all_buses(mut self) -> Self {
        self.all = true;
        self
    }

    /// Read and size only the functions `wanted` accepts; the others are passed over after
    /// reading their IDs (bridges still lead the scan to their buses). Sizing a BAR turns the
    /// function's decoding off and on, which costs an emulator a remap of the address space
    /// each time (under QEMU's TCG a full scan of q35 took milliseconds, most of it that).
    pub fn only(mut self, wanted: fn(&Ident) -> bool) -> Self {
        self.wanted = Some(wanted);
        self
    }

    /// Adds the bus a function leads to, if any: a PCI-to-PCI bridge's secondary bus, or bus
    /// `f` for function `f` of a multi-function host bridge at 00:00.
    fn follow(&mut self, bdf: Bdf, header_type: u8, class: u8, subclass: u8) {
        if header_type == 1 && class == 0x06 && subclass == 0x04 {
            let secondary = self.cfg.read8(bdf, reg::BRIDGE_BUSES + 1);
            if u16::from(secondary) > bdf.bus as u16 {
                self.mark(secondary);
            }
        } else if bdf.bus == 0 && bdf.dev == 0 && bdf.func > 0 && class == 0x06 && subclass == 0 {
            self.mark(bdf.func);
        }
    }

    fn mark(&mut self, bus: u8) {
        self.reachable[bus as usize / 32] |= 1 << (bus % 32);
    }

    fn is_reachable(&self, bus: u16) -> bool {
        self.all || self.reachable[bus as usize / 32] & (1 << (bus % 32)) != 0
    }

    fn next_function(&mut self) {
        if self.func == 0 && !self.multi || self.func == 7 {
            self.dev += 1;
            self.func = 0;
            self.multi = false;
        } else {
            self.func += 1;
        }
    }
}

impl<C: ConfigSpace + ?Sized> Iterator for Scan<'_, C> {
    type Item = PciDevice;

    fn next(&mut self) -> Option<PciDevice> {
        loop {
            if self.bus > 255 {
                return None;
            }
            if self.dev >= 32 || !self.is_reachable(self.bus) {
                self.bus += 1;
                self.dev = 0;
                self.func = 0;
                self.multi = false;
                continue;
            }
            let bdf = Bdf {
                bus: self.bus as u8,
                dev: self.dev,
                func: self.func,
            };
            let vendor = self.cfg.read16(bdf, reg::ID);
            if vendor == 0xFFFF {
                if self.func == 0 {
                    self.dev += 1;
                } else {
                    self.next_function();
                }
                continue;
            }
            if self.func == 0 {
                self.multi = self.cfg.read8(bdf, reg::HEADER + 2) & 0x80 != 0;
            }
            self.next_function();
            if let Some(wanted) = self.wanted {
                let class_rev = self.cfg.read32(bdf, reg::CLASS_REV);
                let ident = Ident {
                    vendor,
                    device: self.cfg.read16(bdf, reg::ID + 2),
                    class: (class_rev >> 24) as u8,
                    subclass: (class_rev >> 16) as u8,
                    prog_if: (class_rev >> 8) as u8,
                    revision: class_rev as u8,
                };
                if !wanted(&ident) {
                    let header_type = self.cfg.read8(bdf, reg::HEADER + 2) & 0x7F;
                    self.follow(bdf, header_type, ident.class, ident.subclass);
                    continue;
                }
            }
            let Some(dev) = PciDevice::read(self.cfg, bdf) else {
                continue;
            };
            self.follow(bdf, dev.header_type, dev.class, dev.subclass);
            return Some(dev);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A model of configuration space: each function is 64 dwords plus, per BAR, the mask of
    /// writable address bits (0 = BAR not implemented), as a device implements them.
    #[derive(Default)]
    pub struct FakeConfig {
        pub funcs: BTreeMap<Bdf, ([u32; 64], [u32; 6])>,
    }

    impl FakeConfig {
        pub fn add(
            &mut self,
            bdf: Bdf,
            vendor: u16,
            device: u16,
            class_rev: u32,
            header: u8,
            bars: &[(u32, u32)],
        ) {
            let mut regs = [0u32; 64];
            let mut masks = [0u32; 6];
            regs[0] = u32::from(device) << 16 | u32::from(vendor);
            regs[2] = class_rev;
            regs[3] = u32::from(header) << 16;
            regs[15] = 0x0000_010B; // pin A, line 11
            for (i, &(value, mask)) in bars.iter().enumerate() {
                regs[4 + i] = value;
                masks[i] = mask;
            }
            self.funcs.insert(bdf, (regs, masks));
        }
    }

    impl ConfigSpace for FakeConfig {
        fn read32(&mut self, bdf: Bdf, offset: u8) -> u32 {
            self.funcs
                .get(&bdf)
                .map_or(0xFFFF_FFFF, |f| f.0[offset as usize / 4])
        }
        fn write32(&mut self, bdf: Bdf, offset: u8, value: u32) {
            if let Some((regs, masks)) = self.funcs.get_mut(&bdf) {
                let i = offset as usize / 4;
                if (4..10).contains(&i) {
                    let m = masks[i - 4];
                    // Read-only flag bits stay, writable address bits take the value.
                    let flags = if regs[i] & 1 == 1 {
                        0b11 & regs[i]
                    } else {
                        0xF & regs[i]
                    };
                    regs[i] = if m == 0 { 0 } else { (value & m) | flags };
                } else if i == 1 {
                    regs[1] = (regs[1] & 0xFFFF_0000) | (value & 0xFFFF);
                } else {
                    regs[i] = value;
                }
            }
        }
        fn write16(&mut self, bdf: Bdf, offset: u8, value: u16) {
            let old = self.read32(bdf, offset);
            let shift = (offset as u32 & 2) * 8;
            let new = (old & !(0xFFFF << shift)) | (u32::from(value) << shift);
            self.write32(bdf, offset, new);
        }
    }

    fn bdf(bus: u8, dev: u8, func: u8) -> Bdf {
        Bdf { bus, dev, func }
    }

    #[test]
    fn ecam_windows_are_aligned_and_below_4_gib() {
        let q35 = Ecam::new(0xB000_0000, 255).unwrap();
        assert_eq!(q35.address(bdf(0, 0, 0), 0x60), Some(0xB000_0060));
        assert_eq!(q35.address(bdf(0, 2, 0), 0x3F), Some(0xB001_003C));
        assert_eq!(q35.address(bdf(1, 31, 7), 0x04), Some(0xB01F_F004));
        assert_eq!(q35.address(bdf(255, 0, 0), 0), Some(0xBFF0_0000));
        let short = Ecam::new(0xE000_0000, 3).unwrap();
        assert_eq!(
            short.address(bdf(4, 0, 0), 0),
            None,
            "past the window's last bus"
        );
        assert_eq!(Ecam::new(0, 255), None);
        assert_eq!(Ecam::new(0xB008_0000, 255), None, "not 1 MiB aligned");
        let top = Ecam::new(0xF000_0000, 255).unwrap();
        assert_eq!((top.base(), top.last_bus()), (0xF000_0000, 255));
        assert_eq!(Ecam::new(0xF010_0000, 255), None, "ends above 4 GiB");
        assert_eq!(Ecam::new(0x8_0000_0000, 0), None, "above the identity map");
        assert_eq!(Ecam::new(!0xF_FFFF, 255), None);
    }

    #[test]
    fn config_address_layout() {
        assert_eq!(bdf(0, 3, 0).config_address(0x10), 0x8000_1810);
        assert_eq!(bdf(1, 31, 7).config_address(0xFF), 0x8001_FFFC);
    }

    #[test]
    fn decode_io_bar_with_size() {
        // 8255x BAR1: 64 ports at 0xC000, upper 16 bits hardwired to zero.
        assert_eq!(
            Bar::decode(0xC001, 0, 0x0000_FFC1, 0),
            Bar::Io {
                port: 0xC000,
                size: 64
            }
        );
        assert_eq!(
            Bar::decode(0xC041, 0, 0xFFFF_FFC1, 0),
            Bar::Io {
                port: 0xC040,
                size: 64
            }
        );
    }

    #[test]
    fn decode_mem32_bar_with_size() {
        // e1000 BAR0: 128 KiB non-prefetchable at 0xFEBC0000.
        assert_eq!(
            Bar::decode(0xFEBC_0000, 0, 0xFFFE_0000, 0),
            Bar::Mem {
                addr: 0xFEBC_0000,
                size: 128 * 1024,
                is_64bit: false,
                prefetchable: false
            }
        );
        // 8255x BAR0: 4 KiB prefetchable.
        assert_eq!(
            Bar::decode(0xFEBD_1008, 0, 0xFFFF_F008, 0),
            Bar::Mem {
                addr: 0xFEBD_1000,
                size: 4096,
                is_64bit: false,
                prefetchable: true
            }
        );
    }

    #[test]
    fn decode_mem64_bar_with_size() {
        // 16 KiB 64-bit prefetchable BAR above 4 GiB.
        assert_eq!(
            Bar::decode(0xC000_000C, 0x0000_0008, 0xFFFF_C00C, 0xFFFF_FFFF),
            Bar::Mem {
                addr: 0x8_C000_0000,
                size: 16 * 1024,
                is_64bit: true,
                prefetchable: true
            }
        );
    }

    #[test]
    fn decode_unimplemented_bar() {
        assert_eq!(Bar::decode(0, 0, 0, 0), Bar::None);
        assert_eq!(Bar::decode(0, 0, 0, 0).mem_addr(), None);
    }

    #[test]
    fn decode_without_sizing_keeps_address() {
        assert_eq!(
            Bar::decode(0xFEBC_0000, 0, 0, 0),
            Bar::Mem {
                addr: 0xFEBC_0000,
                size: 0,
                is_64bit: false,
                prefetchable: false
            }
        );
        assert_eq!(
            Bar::decode(0xC001, 0, 0, 0),
            Bar::Io {
                port: 0xC000,
                size: 0
            }
        );
    }

    fn pc_machine() -> FakeConfig {
        let mut cfg = FakeConfig::default();
        // 00:00.0 host bridge, 00:01.0 ISA bridge (multi-function, .1 IDE), 00:03.0 e1000,
        // 00:04.0 i82559er, 00:05.0 PCI bridge to bus 1 with virtio-net at 01:02.0.
        cfg.add(bdf(0, 0, 0), 0x8086, 0x1237, 0x0600_0002, 0, &[]);
        cfg.add(bdf(0, 1, 0), 0x8086, 0x7000, 0x0601_0000, 0x80, &[]);
        cfg.add(
            bdf(0, 1, 1),
            0x8086,
            0x7010,
            0x0101_8000,
            0,
            &[(0, 0), (0, 0), (0, 0), (0, 0), (0xC0C1, 0xFFF1)],
        );
        cfg.add(
            bdf(0, 3, 0),
            0x8086,
            0x100E,
            0x0200_0003,
            0,
            &[(0xFEBC_0000, 0xFFFE_0000), (0xC001, 0xFFC1)],
        );
        cfg.add(
            bdf(0, 4, 0),
            0x8086,
            0x1209,
            0x0200_0009,
            0,
            &[
                (0xFEBD_1008, 0xFFFF_F008),
                (0xC041, 0xFFC1),
                (0xFEA0_0000, 0xFFFE_0000),
            ],
        );
        cfg.add(bdf(0, 5, 0), 0x1B36, 0x0001, 0x0604_0000, 1, &[]);
        cfg.funcs.get_mut(&bdf(0, 5, 0)).unwrap().0[6] = 0x0001_0100; // primary 0, secondary 1
        cfg.add(
            bdf(1, 2, 0),
            0x1AF4,
            0x1000,
            0x0200_0000,
            0,
            &[(0xD001, 0xFFE1)],
        );
        // A function on bus 2 that no bridge leads to: skipped unless all buses are scanned.
        cfg.add(bdf(2, 0, 0), 0x1234, 0x1111, 0x0300_0000, 0, &[]);
        cfg
    }

    #[test]
    fn scan_finds_functions_in_order_and_follows_bridges() {
        let mut cfg = pc_machine();
        let found: Vec<_> = scan(&mut cfg)
            .map(|d| (d.bdf(), d.vendor, d.device))
            .collect();
        assert_eq!(
            found,
            vec![
                (bdf(0, 0, 0), 0x8086, 0x1237),
                (bdf(0, 1, 0), 0x8086, 0x7000),
                (bdf(0, 1, 1), 0x8086, 0x7010),
                (bdf(0, 3, 0), 0x8086, 0x100E),
                (bdf(0, 4, 0), 0x8086, 0x1209),
                (bdf(0, 5, 0), 0x1B36, 0x0001),
                (bdf(1, 2, 0), 0x1AF4, 0x1000),
            ]
        );
        let all = scan(&mut cfg).all_buses().count();
        assert_eq!(all, 8);
    }

    #[test]
    fn scan_decodes_and_sizes_bars_and_restores_them() {
        let mut cfg = pc_machine();
        let nic = scan(&mut cfg).find(|d| d.device == 0x1209).unwrap();
        assert_eq!(nic.revision, 9);
        assert_eq!((nic.class, nic.subclass), (0x02, 0x00));
        assert_eq!(nic.irq, 11);
        assert_eq!(nic.interrupt_pin, 1);
        assert_eq!(
            nic.bars[0],
            Bar::Mem {
                addr: 0xFEBD_1000,
                size: 4096,
                is_64bit: false,
                prefetchable: true
            }
        );
        assert_eq!(
            nic.bars[1],
            Bar::Io {
                port: 0xC040,
                size: 64
            }
        );
        assert_eq!(nic.bars[2].mem_addr(), Some(0xFEA0_0000));
        assert_eq!(nic.bars[3], Bar::None);
        // Sizing put the original values back.
        assert_eq!(cfg.read32(bdf(0, 4, 0), reg::BAR0), 0xFEBD_1008);
        assert_eq!(cfg.read32(bdf(0, 4, 0), reg::BAR0 + 4), 0xC041);
    }

    /// A configuration space that counts the writes to each function.
    struct Writes<'a>(&'a mut FakeConfig, BTreeMap<Bdf, usize>);

    impl ConfigSpace for Writes<'_> {
        fn read32(&mut self, bdf: Bdf, offset: u8) -> u32 {
            self.0.read32(bdf, offset)
        }
        fn write32(&mut self, bdf: Bdf, offset: u8, value: u32) {
            *self.1.entry(bdf).or_default() += 1;
            self.0.write32(bdf, offset, value)
        }
        fn write16(&mut self, bdf: Bdf, offset: u8, value: u16) {
            *self.1.entry(bdf).or_default() += 1;
            self.0.write16(bdf, offset, value)
        }
    }

    #[test]
    fn only_reads_and_sizes_the_wanted_functions_and_still_follows_bridges() {
        let mut fake = pc_machine();
        let everything: Vec<PciDevice> = scan(&mut fake).collect();
        let mut cfg = Writes(&mut fake, BTreeMap::new());
        let nics: Vec<PciDevice> = scan(&mut cfg)
            .only(|i| i.class == 0x02 && i.subclass == 0x00)
            .collect();
        let expected: Vec<PciDevice> = everything
            .into_iter()
            .filter(|d| (d.class, d.subclass) == (0x02, 0x00))
            .collect();
        assert_eq!(nics, expected);
        // The virtio NIC behind the bridge on bus 1 is among them.
        assert!(nics.iter().any(|d| d.bus == 1), "{nics:#?}");
        // Nothing else was written to (no BAR sized, no decoding turned off and on).
        for bdf in cfg.1.keys() {
            assert!(nics.iter().any(|d| d.bdf() == *bdf), "{bdf:?} was written");
        }
    }

    #[test]
    fn enable_sets_command_bits() {
        let mut cfg = pc_machine();
        let nic = scan(&mut cfg).find(|d| d.device == 0x100E).unwrap();
        nic.enable(&mut cfg, command::MEMORY_SPACE | command::BUS_MASTER);
        assert_eq!(cfg.read16(nic.bdf(), reg::COMMAND), 0b110);
        nic.disable(&mut cfg, command::BUS_MASTER);
        assert_eq!(cfg.read16(nic.bdf(), reg::COMMAND), 0b010);
    }
}
