//! `lifeboat.rom`'s stage: lifeboat as the system ROM of a QEMU pc (`-bios lifeboat.rom`),
//! in place of SeaBIOS and of stage 1 + 2. The reset stub (`reset.s`) reaches long mode
//! with the low 4 GiB identity-mapped and runs [`bare::rom_main`] from RAM, which
//! 1. takes the RAM size from fw_cfg `etc/e820` (the CMOS sizes when there is no fw_cfg)
//!    and builds the E820 list a BIOS would report,
//! 2. enumerates PCI bus 0: sizes and assigns every BAR, sets the interrupt line and the
//!    I/O, memory and bus-master command bits (QEMU leaves all of that to the BIOS), and
//!    turns on the PIIX IDE decode; on q35 maps the ECAM (PCIEXBAR) first; turns on the
//!    ACPI PM I/O block (PIIX4 PM or ICH9 LPC) at `chipset::PM_BASE`,
//! 3. runs QEMU's ACPI table loader (fw_cfg `etc/table-loader`, `lifeboat_rom::table_loader`):
//!    the tables go to the top of the RAM below 4 GiB, reserved in the E820 list, and the
//!    RSDP's address goes to the boot-info block (the firmware hands it to Linux); a bad
//!    script costs one line on COM1 and the ACPI tables, nothing else,
//! 4. copies the configuration text to 0x7E00 and the packed firmware to 0x200000 out of
//!    the ROM (payload header: `lifeboat_rom::payload`), writes the boot-info block at 0x800,
//! 5. jumps to the packed firmware's unpack stage with `rdi` = the boot-info block, as
//!    stage 2 does; it unpacks the firmware to 1 MiB and starts it.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("lifeboat-rom runs only as the system ROM (x86_64-unknown-none, see rom/rom.ld)");
}

#[cfg(target_os = "none")]
mod bare {
    use core::arch::{asm, global_asm};
    use core::fmt::Write;

    use lifeboat_rom::pci::{self, BarKind, BarProbe};
    use lifeboat_rom::table_loader::{self, Plan};
    use lifeboat_rom::{
        boot_info, bootinfo, chipset, config_baud, e820, fw_cfg, layout, payload, ram_from_cmos,
        E820Map,
    };

    global_asm!(include_str!("reset.s"));

    use lifeboat_hw::fw_cfg as hw_fw_cfg;
    use lifeboat_hw::pci::{Bdf, Mechanism1};
    use lifeboat_hw::{cmos, port, uart};

    /// Progress on QEMU's debug console (`-debugcon`, port 0xE9, the `-debugcon` default; ignored without it).
    fn debug(msg: &str) {
        for b in msg.bytes() {
            // SAFETY: QEMU's debug console port: a write only logs the byte (nothing there
            // on other machines); no memory is touched.
            unsafe { port::outb(0xE9, b) };
        }
    }

    /// `write!` to the debug console.
    struct Debugcon;

    impl Write for Debugcon {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            debug(s);
            Ok(())
        }
    }

    /// A one-line warning on COM1 (the console) and the debug console.
    fn warn(args: core::fmt::Arguments) {
        let _ = Debugcon.write_fmt(format_args!("lifeboat-rom: {args}\n"));
        // SAFETY: the payload header is in the ROM, mapped and never written.
        let header: &[u8; layout::HEADER_LEN] =
            unsafe { &*(layout::HEADER_ADDR as *const [u8; layout::HEADER_LEN]) };
        let config = &header[payload::CONFIG..payload::CONFIG + payload::CONFIG_LEN];
        // COM1 at the configuration's speed, 8N1, before the firmware sets it up again.
        // SAFETY: COM1 is the console UART; the ROM stage is the only code running.
        if let Some(mut com1) = unsafe { uart::PolledTx::new(uart::COM1, config_baud(config)) } {
            let _ = com1.write_fmt(format_args!("lifeboat-rom: {args}\r\n"));
        }
    }

    /// PCI configuration mechanism #1 on bus 0 (`lifeboat_hw::pci`).
    fn cfg_read(dev: u8, func: u8, off: u8) -> u32 {
        // SAFETY: every PC chipset (QEMU's pc and q35) has mechanism #1 and the ROM stage is
        // the only code running: nothing interleaves with the access.
        unsafe { Mechanism1::new() }.read32(Bdf { bus: 0, dev, func }, off)
    }

    fn cfg_write(dev: u8, func: u8, off: u8, v: u32) {
        // SAFETY: as in `cfg_read`; the stage owns the devices it programs.
        unsafe { Mechanism1::new() }.write32(Bdf { bus: 0, dev, func }, off, v)
    }

    /// Directory entries kept (QEMU 7.2 has 12 files on pc, 15 on q35; 32 slots by default).
    const FW_CFG_FILES: usize = 64;

    /// QEMU's fw_cfg: its file directory and whether it has the DMA interface.
    struct FwCfg {
        dir: [u8; FW_CFG_FILES * fw_cfg::DIR_ENTRY_LEN],
        dir_len: usize,
        dma: bool,
    }

    impl FwCfg {
        /// `None` without the device.
        fn probe() -> Option<FwCfg> {
            if !hw_fw_cfg::present() {
                return None;
            }
            let dma = hw_fw_cfg::has_dma();
            hw_fw_cfg::select(fw_cfg::FILE_DIR);
            let mut count = [0u8; 4];
            hw_fw_cfg::read(&mut count);
            let n = (u32::from_be_bytes(count) as usize).min(FW_CFG_FILES);
            let mut f = FwCfg {
                dir: [0; FW_CFG_FILES * fw_cfg::DIR_ENTRY_LEN],
                dir_len: n * fw_cfg::DIR_ENTRY_LEN,
                dma,
            };
            hw_fw_cfg::read(&mut f.dir[..f.dir_len]);
            Some(f)
        }

        fn find(&self, name: &[u8]) -> Option<fw_cfg::File> {
            fw_cfg::Directory::new(&self.dir[..self.dir_len]).find(name)
        }

        /// Reads `file` into `buf` (its first `buf.len()` bytes): DMA when there is DMA.
        fn read(&self, file: fw_cfg::File, buf: &mut [u8]) -> bool {
            if self.dma {
                let control = fw_cfg::dma_select(file.select, fw_cfg::DMA_READ);
                // SAFETY: the device has DMA (probed); `buf` is ours, identity-mapped, and
                // borrowed mutably until the transfer ends.
                return unsafe {
                    hw_fw_cfg::dma(control, buf.len() as u32, buf.as_mut_ptr() as u64)
                };
            }
            hw_fw_cfg::select(file.select);
            hw_fw_cfg::read(buf);
            true
        }

        /// Writes `bytes` at `offset` of `file` (DMA only: QEMU ignores data-port writes).
        fn write(&self, file: fw_cfg::File, offset: u32, bytes: &[u8]) -> bool {
            let skip = fw_cfg::dma_select(file.select, fw_cfg::DMA_SKIP);
            // SAFETY: the device has DMA (probed); a skip moves no memory; the write only
            // reads `bytes`, borrowed until it ends.
            self.dma
                && unsafe { hw_fw_cfg::dma(skip, offset, 0) }
                && unsafe {
                    hw_fw_cfg::dma(fw_cfg::DMA_WRITE, bytes.len() as u32, bytes.as_ptr() as u64)
                }
        }
    }

    /// The RAM ranges from fw_cfg `etc/e820`; `None` without the file.
    fn ram_from_fw_cfg(cfg: &FwCfg) -> Option<E820Map> {
        let file = cfg.find(b"etc/e820")?;
        let mut bytes = [0u8; bootinfo::e820::MAX * fw_cfg::E820_ENTRY_LEN];
        let n = (file.size as usize).min(bytes.len());
        hw_fw_cfg::select(file.select);
        hw_fw_cfg::read(&mut bytes[..n]);
        Some(fw_cfg::parse_e820(&bytes[..n]))
    }

    /// The bytes of the table loader's script at most (QEMU 7.2's is 4 KiB: 32 commands).
    const SCRIPT_MAX: usize = 16 * 1024;

    /// Runs QEMU's ACPI table loader: the tables in RAM at the top of the highest RAM below
    /// 4 GiB, reserved in `map`; returns the RSDP's address. `None` when QEMU offers no
    /// tables (`-machine acpi=off`: no `etc/table-loader`), or on any failure, which gets
    /// one line on the console (then Linux boots without ACPI, as before).
    fn load_acpi(cfg: &FwCfg, map: &mut E820Map) -> Option<u64> {
        let Some(file) = cfg.find(fw_cfg::TABLE_LOADER.as_bytes()) else {
            debug("lifeboat-rom: no etc/table-loader: no ACPI tables\n");
            return None;
        };
        let fail = |e: &dyn core::fmt::Display| {
            warn(format_args!("ACPI tables not loaded, Linux gets none: {e}"));
            None
        };
        let mut script = [0u8; SCRIPT_MAX];
        let Some(script) = script.get_mut(..file.size as usize) else {
            return fail(&format_args!("etc/table-loader is over {SCRIPT_MAX} bytes"));
        };
        // Reading the script makes QEMU build its tables (from PCIEXBAR and the PM base).
        if !cfg.read(file, script) {
            return fail(&"reading etc/table-loader failed");
        }
        let Some((low, top)) = map.highest_below_4g() else {
            return fail(&"no usable RAM below 4 GiB");
        };
        // Not in the firmware's first 16 MiB (its image, stack and Linux's usual place).
        let floor = low.max(16 << 20);
        let plan: Plan = match table_loader::plan(script, |n| cfg.find(n), top, floor) {
            Ok(p) => p,
            Err(e) => return fail(&e),
        };
        // SAFETY: base..end is usable RAM per the E820 list (the plan keeps to the highest
        // range below 4 GiB, above 16 MiB): nothing else uses it; the ROM stage, its stack
        // and the page tables live below 0x80000. Identity-mapped.
        let arena =
            unsafe { core::slice::from_raw_parts_mut(plan.base() as usize as *mut u8, plan.len()) };
        let mut read_ok = true;
        if let Err(e) = plan.load(arena, |f, buf| read_ok &= cfg.read(f, buf)) {
            return fail(&e);
        }
        if !read_ok {
            return fail(&"reading an ACPI table file failed");
        }
        let writes = match table_loader::link(script, &plan, arena, |n| cfg.find(n)) {
            Ok(w) => w,
            Err(e) => return fail(&e),
        };
        let tables = match table_loader::check(&plan, arena) {
            Ok(t) => t,
            Err(e) => return fail(&e),
        };
        for w in writes.iter() {
            if !cfg.write(w.file, w.offset, &w.bytes()[..usize::from(w.len)]) {
                warn(format_args!(
                    "an ACPI WRITE_POINTER failed (no fw_cfg DMA): vmgenid or nvdimm goes without"
                ));
            }
        }
        if !map.reserve(plan.base(), plan.len() as u64, e820::RESERVED) {
            return fail(&"the E820 list is full");
        }
        let _ = write!(
            Debugcon,
            "lifeboat-rom: ACPI RSDP at {:#x}, {} KiB at {:#x}:",
            tables.rsdp,
            plan.len() >> 10,
            plan.base()
        );
        for sig in tables.signatures() {
            let _ = write!(Debugcon, " {}", core::str::from_utf8(sig).unwrap_or("????"));
        }
        debug("\n");
        Some(tables.rsdp)
    }

    fn cmos(reg: u8) -> u8 {
        cmos::read(reg, true) // NMI stays disabled
    }

    /// Host bridge IDs (00:00.0).
    const I440FX: u32 = 0x1237_8086;
    /// PIIX3 ISA bridge (00:01.0): PIRQ route control at 0x60–0x63.
    const PIIX3_ISA: u32 = 0x7000_8086;
    /// PIIX3/PIIX4 IDE: IDETIM at 0x40 (primary) and 0x42 (secondary), bit 15 = decode enable.
    const PIIX3_IDE: u32 = 0x7010_8086;
    const PIIX4_IDE: u32 = 0x7111_8086;

    /// Sizes and assigns every BAR on bus 0, sets the interrupt lines and command bits; on
    /// q35 first maps the ECAM at `chipset::MMCONFIG_BASE` (true then).
    fn pci_init() -> bool {
        const MAX: usize = 96;
        let mut probes = [BarProbe {
            bus: 0,
            dev: 0,
            func: 0,
            index: 0,
            kind: BarKind::Io,
            size: 0,
        }; MAX];
        let mut n = 0;
        let i440fx = cfg_read(0, 0, 0) == I440FX;
        let q35 = cfg_read(0, 0, 0) == chipset::Q35_HOST;
        if q35 {
            // SeaBIOS's order: off, high dword, then low dword with the enable bit.
            let (low, high) = chipset::pciexbar();
            cfg_write(0, 0, chipset::PCIEXBAR, 0);
            cfg_write(0, 0, chipset::PCIEXBAR + 4, high);
            cfg_write(0, 0, chipset::PCIEXBAR, low);
        }
        for dev in 0..32u8 {
            for func in 0..8u8 {
                let id = cfg_read(dev, func, 0x00);
                if id & 0xFFFF == 0xFFFF {
                    if func == 0 {
                        break;
                    }
                    continue;
                }
                let header = (cfg_read(dev, func, 0x0C) >> 16) as u8;
                if header & 0x7F == 0 {
                    // Decode off while the BARs hold all ones.
                    let cmd = cfg_read(dev, func, 0x04) & 0xFFFF;
                    cfg_write(dev, func, 0x04, cmd & !0x3);
                    let mut i = 0u8;
                    while i < 6 {
                        let off = 0x10 + 4 * i;
                        let orig = cfg_read(dev, func, off);
                        cfg_write(dev, func, off, 0xFFFF_FFFF);
                        let low = cfg_read(dev, func, off);
                        cfg_write(dev, func, off, orig);
                        let kind = if low & 1 != 0 {
                            BarKind::Io
                        } else if (low >> 1) & 3 == 2 {
                            BarKind::Mem64
                        } else {
                            BarKind::Mem32
                        };
                        let mut high = 0;
                        if kind == BarKind::Mem64 && i < 5 {
                            let orig = cfg_read(dev, func, off + 4);
                            cfg_write(dev, func, off + 4, 0xFFFF_FFFF);
                            high = cfg_read(dev, func, off + 4);
                            cfg_write(dev, func, off + 4, orig);
                        }
                        if let Some(size) = pci::size_of(low, high, kind) {
                            if n < MAX {
                                probes[n] = BarProbe {
                                    bus: 0,
                                    dev,
                                    func,
                                    index: i,
                                    kind,
                                    size,
                                };
                                n += 1;
                            }
                        }
                        i += if kind == BarKind::Mem64 { 2 } else { 1 };
                    }
                    if id == PIIX3_IDE || id == PIIX4_IDE {
                        cfg_write(dev, func, 0x40, 0x8000_8000);
                    }
                    if i440fx && id == PIIX3_ISA {
                        let irqs = pci::PIIX_PIRQ_IRQS;
                        cfg_write(dev, func, 0x60, u32::from_le_bytes(irqs));
                    }
                    // The ACPI PM block, before QEMU builds the FADT from its base.
                    let pm = u32::from(chipset::PM_BASE) | 1;
                    if id == chipset::PIIX4_PM {
                        cfg_write(dev, func, chipset::PIIX4_PMBA, pm);
                        let misc = cfg_read(dev, func, chipset::PIIX4_PMREGMISC);
                        cfg_write(dev, func, chipset::PIIX4_PMREGMISC, misc | 1);
                    }
                    if id == chipset::ICH9_LPC {
                        cfg_write(dev, func, chipset::ICH9_PMBASE, pm);
                        let cntl = cfg_read(dev, func, chipset::ICH9_ACPI_CNTL) & !0x7;
                        let on = cntl | chipset::ICH9_ACPI_EN;
                        cfg_write(dev, func, chipset::ICH9_ACPI_CNTL, on);
                    }
                }
                if func == 0 && header & 0x80 == 0 {
                    break;
                }
            }
        }
        let mut addrs = [None; MAX];
        pci::plan(&probes[..n], &mut addrs[..n]);
        for (p, a) in probes[..n].iter().zip(&addrs[..n]) {
            let Some(a) = *a else {
                debug("lifeboat-rom: a PCI BAR did not fit its window\n");
                continue;
            };
            let off = 0x10 + 4 * p.index;
            let low = cfg_read(p.dev, p.func, off);
            let flags = if p.kind == BarKind::Io {
                low & 0x3
            } else {
                low & 0xF
            };
            cfg_write(p.dev, p.func, off, a as u32 | flags);
            if p.kind == BarKind::Mem64 {
                cfg_write(p.dev, p.func, off + 4, (a >> 32) as u32);
            }
        }
        // Command bits and interrupt lines, once per function.
        for dev in 0..32u8 {
            for func in 0..8u8 {
                let id = cfg_read(dev, func, 0x00);
                if id & 0xFFFF == 0xFFFF {
                    if func == 0 {
                        break;
                    }
                    continue;
                }
                let header = (cfg_read(dev, func, 0x0C) >> 16) as u8;
                if header & 0x7F == 0 {
                    let bars = || {
                        probes[..n]
                            .iter()
                            .zip(&addrs[..n])
                            .filter(move |(p, _)| p.dev == dev && p.func == func)
                            .map(|(p, a)| (p.kind, *a))
                    };
                    let mut bits = u32::from(pci::command_bits(bars()));
                    let io_unplaced = bars().any(|(k, a)| k == BarKind::Io && a.is_none());
                    if (id == PIIX3_IDE || id == PIIX4_IDE) && !io_unplaced {
                        bits |= u32::from(pci::CMD_IO); // the legacy ports 0x1F0/0x170
                    }
                    let cmd = cfg_read(dev, func, 0x04);
                    cfg_write(dev, func, 0x04, (cmd & 0xFFFF) | bits);
                    let int = cfg_read(dev, func, 0x3C);
                    let pin = (int >> 8) as u8;
                    let irq = if id == chipset::PIIX4_PM {
                        Some(chipset::SCI_IRQ) // hardwired, as the FADT says
                    } else {
                        pci::piix_irq(dev, pin)
                    };
                    if let Some(irq) = irq {
                        cfg_write(dev, func, 0x3C, (int & !0xFF) | u32::from(irq));
                    }
                }
                if func == 0 && header & 0x80 == 0 {
                    break;
                }
            }
        }
        q35
    }

    /// Scratch FIS receive areas for [`ahci_signatures`]: 256 bytes a port, in RAM nothing
    /// uses yet (below the stage at 0x20000).
    const AHCI_FIS_SCRATCH: u64 = 0x1_0000;

    /// What SeaBIOS does to every AHCI port and the firmware's AHCI probe relies on: the
    /// port's signature (PxSIG) is only latched from the device's first D2H register FIS,
    /// which the HBA delivers once FIS receive is on (AHCI 1.3 §3.3.9, §10.1.2). So: AHCI
    /// mode on, and on each implemented port with a device present, FIS receive on into a
    /// scratch area until PxSIG is in, then off again (the firmware sets its own areas).
    fn ahci_signatures() {
        const GHC: u64 = 0x04;
        const PI: u64 = 0x0C;
        const PX_FB: u64 = 0x08;
        const PX_FBU: u64 = 0x0C;
        const PX_CMD: u64 = 0x18;
        const PX_SIG: u64 = 0x24;
        const PX_SSTS: u64 = 0x28;
        const CMD_FRE: u32 = 1 << 4;
        const CMD_FR: u32 = 1 << 14;
        for dev in 0..32u8 {
            for func in 0..8u8 {
                let id = cfg_read(dev, func, 0x00);
                if id & 0xFFFF == 0xFFFF || cfg_read(dev, func, 0x08) >> 8 != 0x01_06_01 {
                    continue;
                }
                let abar = u64::from(cfg_read(dev, func, 0x24) & !0xF);
                if abar == 0 || cfg_read(dev, func, 0x04) & 0x2 == 0 {
                    continue;
                }
                let r = |off: u64| {
                    // SAFETY: ABAR was assigned above 3 GiB (identity-mapped, uncached) and
                    // its memory decoding is on; offsets are inside the HBA's registers.
                    unsafe { core::ptr::read_volatile((abar + off) as *const u32) }
                };
                let w = |off: u64, v: u32| {
                    // SAFETY: as for `r`.
                    unsafe { core::ptr::write_volatile((abar + off) as *mut u32, v) }
                };
                w(GHC, r(GHC) | 1 << 31);
                let pi = r(PI);
                for port in 0..32u64 {
                    let p = 0x100 + 0x80 * port;
                    if pi & 1 << port == 0 || r(p + PX_SSTS) & 0xF != 3 {
                        continue;
                    }
                    w(p + PX_FB, (AHCI_FIS_SCRATCH + 0x100 * port) as u32);
                    w(p + PX_FBU, 0);
                    w(p + PX_CMD, r(p + PX_CMD) | CMD_FRE);
                    let mut spins = 0u32;
                    while r(p + PX_SIG) == 0xFFFF_FFFF && spins < 100_000 {
                        spins += 1;
                    }
                    w(p + PX_CMD, r(p + PX_CMD) & !CMD_FRE);
                    while r(p + PX_CMD) & CMD_FR != 0 && spins < 200_000 {
                        spins += 1;
                    }
                }
            }
        }
    }

    /// The local APIC's registers (Intel SDM vol. 3, §11.4.1: default base 0xFEE00000).
    const LAPIC: usize = 0xFEE0_0000;
    const LAPIC_SVR: usize = 0xF0;
    const LAPIC_LVT_LINT0: usize = 0x350;
    const LAPIC_LVT_LINT1: usize = 0x360;

    /// Virtual-wire mode, as SeaBIOS leaves the boot CPU: the local APIC on, LINT0 = ExtINT
    /// (the 8259's INTR reaches the CPU), LINT1 = NMI. At reset LINT0 is masked, and the
    /// firmware's 1 kHz PIT tick (the one that ends `hal::cpu::idle`'s `hlt`) never arrives.
    fn lapic_virtual_wire() {
        let reg = |off: usize| (LAPIC + off) as *mut u32;
        // SAFETY: the local APIC's page is identity-mapped (uncached, 3-4 GiB) and these
        // registers only route interrupts; interrupts stay disabled (IF = 0).
        unsafe {
            let svr = core::ptr::read_volatile(reg(LAPIC_SVR));
            core::ptr::write_volatile(reg(LAPIC_SVR), svr | 0x100);
            let lint0 = core::ptr::read_volatile(reg(LAPIC_LVT_LINT0));
            core::ptr::write_volatile(reg(LAPIC_LVT_LINT0), (lint0 & !0x1_0700) | 0x700);
            let lint1 = core::ptr::read_volatile(reg(LAPIC_LVT_LINT1));
            core::ptr::write_volatile(reg(LAPIC_LVT_LINT1), (lint1 & !0x1_0700) | 0x400);
        }
    }

    /// The ROM stage proper (called by `rom_long_entry` on its own stack in RAM).
    #[no_mangle]
    extern "C" fn rom_main() -> ! {
        debug("lifeboat-rom: long mode\n");
        // SAFETY: the payload header is in the ROM, mapped and never written.
        let header: &[u8; layout::HEADER_LEN] =
            unsafe { &*(layout::HEADER_ADDR as *const [u8; layout::HEADER_LEN]) };
        let Some(fw_len) = payload::firmware_len(header) else {
            debug("lifeboat-rom: no payload header\n");
            halt();
        };
        let rom_len = u32::from_le_bytes([
            header[payload::ROM_LEN],
            header[payload::ROM_LEN + 1],
            header[payload::ROM_LEN + 2],
            header[payload::ROM_LEN + 3],
        ]);
        if fw_len == 0 || fw_len > layout::PACKED_MAX || layout::rom_len(fw_len) > rom_len as usize
        {
            debug("lifeboat-rom: the payload header's firmware length is out of range\n");
            halt();
        }
        let cfg = FwCfg::probe();
        let ram = cfg
            .as_ref()
            .and_then(ram_from_fw_cfg)
            .filter(|m| m.usable() > 0)
            .or_else(|| {
                ram_from_cmos(
                    [cmos(0x34), cmos(0x35)],
                    [cmos(0x5B), cmos(0x5C), cmos(0x5D)],
                )
            });
        let Some(ram) = ram else {
            debug("lifeboat-rom: no RAM size (no fw_cfg, CMOS 0x34/0x35 zero)\n");
            halt();
        };
        let mut map = E820Map::for_machine(ram.entries(), u64::from(rom_len));
        debug("lifeboat-rom: memory map\n");
        let q35 = pci_init();
        if q35
            && !map.reserve(
                chipset::MMCONFIG_BASE,
                chipset::MMCONFIG_LEN,
                e820::RESERVED,
            )
        {
            warn(format_args!(
                "the E820 list is full: the PCIe ECAM is not reserved in it"
            ));
        }
        debug("lifeboat-rom: PCI\n");
        ahci_signatures();
        lapic_virtual_wire();
        let rsdp = cfg
            .as_ref()
            .and_then(|c| load_acpi(c, &mut map))
            .unwrap_or(0);

        let block = boot_info(fw_len, &map, q35, rsdp);
        // SAFETY: 0x7E00 and 0x200000 onward are RAM (the map above) that nothing uses yet:
        // the stage lives at 0x20000–0x80000, the page tables at 0x1000–0x6FFF; the sources
        // are the ROM. The boot-info block at 0x800 is RAM below the page tables.
        unsafe {
            let config = (layout::HEADER_ADDR as usize + payload::CONFIG) as *const u8;
            core::ptr::copy_nonoverlapping(
                config,
                layout::CONFIG_ADDR as *mut u8,
                payload::CONFIG_LEN,
            );
            let fw = layout::firmware_addr(fw_len) as *const u8;
            core::ptr::copy_nonoverlapping(fw, layout::PACKED_BASE as *mut u8, fw_len);
            core::ptr::copy_nonoverlapping(
                block.as_ptr(),
                layout::BOOT_INFO as *mut u8,
                block.len(),
            );
        }
        debug("lifeboat-rom: starting the firmware\n");
        // SAFETY: the packed firmware is at its link address, the boot-info block is
        // complete, the page tables and GDT are the ones stage 2 hands over; the unpack
        // stage unpacks the firmware to 1 MiB (usable RAM in the map) and enters it with
        // the same rdi; this never returns.
        unsafe {
            asm!(
                "mov rsp, {stack}",
                "jmp rax",
                stack = const lifeboat_abi::memory::ENTRY_STACK_TOP,
                in("rdi") layout::BOOT_INFO,
                in("rax") layout::PACKED_BASE,
                options(noreturn)
            )
        }
    }

    fn halt() -> ! {
        loop {
            // SAFETY: interrupts are off: the CPU stops here for good.
            unsafe { asm!("hlt", options(nomem, nostack)) };
        }
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        debug("lifeboat-rom: panic\n");
        halt()
    }
}
