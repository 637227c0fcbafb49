//! The pure half of the ROM stage (`src/main.rs` is the other): the ROM image layout the
//! media builder (`src/media.rs`) writes, the E820 list built from QEMU's fw_cfg file
//! `etc/e820` (or from the CMOS memory size when fw_cfg is absent), the plan that assigns
//! every PCI BAR an address, the PIIX3 PIRQ routing, the chipset constants for ACPI (q35's
//! PCIEXBAR, the PM I/O base) and QEMU's ACPI table loader ([`table_loader`]). No hardware
//! access; tested on the host.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod table_loader;

/// The ROM's layout and payload header: one definition in `lifeboat_abi::rom`, shared
/// with the media builder.
pub use lifeboat_abi::rom::{layout, payload};

/// The boot-info block the stage writes (`lifeboat_abi::bootinfo`).
pub use lifeboat_abi::bootinfo;

/// The boot-info block the ROM stage hands the firmware, as bytes: drive 0x80, medium disk,
/// the configuration at [`layout::CONFIG_ADDR`], `fw_len` bytes of packed firmware, flags
/// "started by the ROM", the RSDP, on q35 the ECAM window it mapped, and `map`.
pub fn boot_info(fw_len: usize, map: &E820Map, q35: bool, rsdp: u64) -> [u8; bootinfo::LEN] {
    let mut block = [0u8; bootinfo::LEN];
    bootinfo::Header {
        boot_drive: 0x80,
        medium: bootinfo::medium::DISK,
        config_addr: layout::CONFIG_ADDR as u32,
        config_len: payload::CONFIG_LEN as u32,
        firmware_size: fw_len as u32,
        flags: bootinfo::flags::ROM,
        rsdp,
        // The firmware reaches PCI configuration space through the ECAM the stage mapped.
        ecam: q35.then(|| {
            let last_bus = (chipset::MMCONFIG_LEN >> 20).wrapping_sub(1) as u8;
            (chipset::MMCONFIG_BASE, last_bus)
        }),
    }
    .write(map.entries().iter().copied(), &mut block);
    block
}

/// E820 types (ACPI 6.5 §15).
pub mod e820 {
    pub use lifeboat_abi::bootinfo::e820::{ACPI_RECLAIM as ACPI, RESERVED, USABLE};
}

/// One E820 entry.
pub use lifeboat_abi::bootinfo::E820;

/// A fixed-capacity E820 list.
#[derive(Debug, Clone)]
pub struct E820Map {
    entries: [E820; bootinfo::e820::MAX],
    len: usize,
}

impl Default for E820Map {
    fn default() -> Self {
        Self {
            entries: [E820::default(); bootinfo::e820::MAX],
            len: 0,
        }
    }
}

impl E820Map {
    pub fn entries(&self) -> &[E820] {
        &self.entries[..self.len]
    }

    /// Appends an entry (empty ones are dropped); false when the list is full.
    pub fn push(&mut self, e: E820) -> bool {
        if e.len == 0 {
            return true;
        }
        if self.len == self.entries.len() {
            return false;
        }
        self.entries[self.len] = e;
        self.len += 1;
        true
    }

    /// Marks `[base, base + len)` as `kind`: the parts of usable entries it covers are cut
    /// out of them, then the entry is added and the list sorted. False (the list unchanged)
    /// when the list would overflow.
    pub fn reserve(&mut self, base: u64, len: u64, kind: u32) -> bool {
        let end = base.saturating_add(len);
        if len == 0 {
            return true;
        }
        let mut out = E820Map::default();
        for e in self.entries() {
            let e_end = e.base.saturating_add(e.len);
            if e.kind != e820::USABLE || e_end <= base || e.base >= end {
                if !out.push(*e) {
                    return false;
                }
                continue;
            }
            let left = E820 {
                base: e.base,
                len: base.saturating_sub(e.base),
                kind: e.kind,
            };
            let right = E820 {
                base: end,
                len: e_end.saturating_sub(end),
                kind: e.kind,
            };
            if !out.push(left) || !out.push(right) {
                return false;
            }
        }
        if !out.push(E820 { base, len, kind }) {
            return false;
        }
        out.entries[..out.len].sort_unstable_by_key(|e| e.base);
        *self = out;
        true
    }

    /// The highest usable RAM below 4 GiB, `(base, end)`: where the ACPI tables go.
    pub fn highest_below_4g(&self) -> Option<(u64, u64)> {
        self.entries()
            .iter()
            .filter(|e| e.kind == e820::USABLE && e.base < layout::ROM_END)
            .map(|e| (e.base, e.base.saturating_add(e.len).min(layout::ROM_END)))
            .max_by_key(|&(_, end)| end)
    }

    /// Usable bytes in the list.
    pub fn usable(&self) -> u64 {
        self.entries()
            .iter()
            .filter(|e| e.kind == e820::USABLE)
            .map(|e| e.len)
            .sum()
    }

    /// The E820 list of a machine whose RAM ranges (from fw_cfg or CMOS) are `ram`, with
    /// the ROM of `rom_len` bytes below 4 GiB. What a BIOS reports and the firmware expects:
    /// conventional memory below 0x9FC00 usable, the EBDA corner and 0xF0000–0xFFFFF (the
    /// ROM's low alias) reserved, the legacy hole 0xA0000–0xEFFFF left out, RAM from 1 MiB
    /// usable, the ROM reserved. Reserved entries of `ram` are kept as they are.
    pub fn for_machine(ram: &[E820], rom_len: u64) -> E820Map {
        const LOW_END: u64 = 0x9_FC00;
        const HOLE: u64 = 0xA_0000;
        const MIB: u64 = 0x10_0000;
        let mut map = E820Map::default();
        for r in ram.iter().filter(|r| r.len > 0) {
            if r.kind != e820::USABLE {
                map.push(*r);
                continue;
            }
            let end = r.base.saturating_add(r.len);
            // The part below 640 KiB.
            let lo_end = end.min(LOW_END);
            if r.base < lo_end {
                map.push(E820 {
                    base: r.base,
                    len: lo_end - r.base,
                    kind: e820::USABLE,
                });
                if end > LOW_END {
                    map.push(E820 {
                        base: LOW_END,
                        len: HOLE - LOW_END,
                        kind: e820::RESERVED,
                    });
                }
            }
            if end > MIB {
                map.push(E820 {
                    base: MIB.max(r.base),
                    len: end - MIB.max(r.base),
                    kind: e820::USABLE,
                });
            }
        }
        if map.entries().iter().any(|e| e.base < MIB) {
            map.push(E820 {
                base: 0xF_0000,
                len: 0x1_0000,
                kind: e820::RESERVED,
            });
        }
        map.push(E820 {
            base: layout::ROM_END - rom_len,
            len: rom_len,
            kind: e820::RESERVED,
        });
        map.entries[..map.len].sort_unstable_by_key(|e| e.base);
        map
    }
}

/// QEMU's firmware configuration device (docs/specs/fw_cfg.rst in the QEMU tree).
pub mod fw_cfg {
    use super::{E820Map, E820};

    /// The device's ports, items and DMA interface: `lifeboat_hw::fw_cfg`, the stages'
    /// shared hardware core.
    pub use lifeboat_hw::fw_cfg::{
        dma_access, dma_select, DATA, DMA_ERROR, DMA_HIGH, DMA_LOW, DMA_READ, DMA_SELECT, DMA_SKIP,
        DMA_WRITE, FEATURE_DMA, FILE_DIR, ID, SELECTOR, SIGNATURE,
    };
    /// Bytes of one directory entry: size u32 BE, select u16 BE, reserved u16, name\[56\].
    pub const DIR_ENTRY_LEN: usize = 64;
    /// Bytes of one `etc/e820` entry: address u64, length u64, type u32 (little-endian).
    pub const E820_ENTRY_LEN: usize = 20;
    /// The ACPI table loader's script.
    pub const TABLE_LOADER: &str = "etc/table-loader";

    /// The fw_cfg file directory (item [`FILE_DIR`], after its big-endian u32 count): whole
    /// 64-byte entries.
    #[derive(Debug, Clone, Copy)]
    pub struct Directory<'a> {
        entries: &'a [u8],
    }

    impl<'a> Directory<'a> {
        pub fn new(entries: &'a [u8]) -> Self {
            Self { entries }
        }

        /// The file named `name` (its bytes, no NUL).
        pub fn find(&self, name: &[u8]) -> Option<File> {
            self.entries
                .chunks_exact(DIR_ENTRY_LEN)
                .find_map(|e| match_entry_bytes(e, name))
        }
    }

    /// A file in the directory: its selector and size.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct File {
        pub select: u16,
        pub size: u32,
    }

    /// The file `name` in one directory entry, or `None` if the entry names another file.
    pub fn match_entry(entry: &[u8], name: &str) -> Option<File> {
        match_entry_bytes(entry, name.as_bytes())
    }

    fn match_entry_bytes(entry: &[u8], name: &[u8]) -> Option<File> {
        if entry.len() < DIR_ENTRY_LEN {
            return None;
        }
        let raw = &entry[8..64];
        let n = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        if &raw[..n] != name {
            return None;
        }
        Some(File {
            size: u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]),
            select: u16::from_be_bytes([entry[4], entry[5]]),
        })
    }

    /// The RAM ranges of `etc/e820` (whole entries only; at most the list's capacity).
    pub fn parse_e820(bytes: &[u8]) -> E820Map {
        let mut map = E820Map::default();
        for e in bytes.chunks_exact(E820_ENTRY_LEN) {
            let u64_at = |o: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&e[o..o + 8]);
                u64::from_le_bytes(b)
            };
            if !map.push(E820 {
                base: u64_at(0),
                len: u64_at(8),
                kind: u32::from_le_bytes([e[16], e[17], e[18], e[19]]),
            }) {
                break;
            }
        }
        map
    }
}

/// The RAM ranges the CMOS reports (QEMU and SeaBIOS convention): 0x34/0x35 = 64 KiB units
/// above 16 MiB below 4 GiB, 0x5B–0x5D = 64 KiB units above 4 GiB. `None` when both are 0.
pub fn ram_from_cmos(cmos_34_35: [u8; 2], cmos_5b_5d: [u8; 3]) -> Option<E820Map> {
    let low = u64::from(u16::from_le_bytes(cmos_34_35)) << 16;
    let high =
        (u64::from(cmos_5b_5d[0]) | u64::from(cmos_5b_5d[1]) << 8 | u64::from(cmos_5b_5d[2]) << 16)
            << 16;
    if low == 0 && high == 0 {
        return None;
    }
    let mut map = E820Map::default();
    map.push(E820 {
        base: 0,
        len: (16 << 20) + low,
        kind: e820::USABLE,
    });
    map.push(E820 {
        base: 1 << 32,
        len: high,
        kind: e820::USABLE,
    });
    Some(map)
}

/// PCI BAR assignment: every BAR probed on the bus gets a naturally aligned address in its
/// window, the largest first (so no alignment gap is wasted before a large BAR).
pub mod pci {
    /// The kind of a BAR, from its low bits (PCI 3.0 §6.2.5.1).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum BarKind {
        Io,
        Mem32,
        /// A 64-bit memory BAR (it takes two BAR registers); assigned below 4 GiB too.
        Mem64,
    }

    /// One BAR found by sizing: the function, the BAR index, its kind and size in bytes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct BarProbe {
        pub bus: u8,
        pub dev: u8,
        pub func: u8,
        pub index: u8,
        pub kind: BarKind,
        pub size: u64,
    }

    /// The window BARs are placed in: `[start, end)`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Window {
        pub start: u64,
        pub end: u64,
    }

    /// Memory BARs: above the low RAM of any pc or q35 board (q35's MMCONFIG is at
    /// 0xB0000000, pc's RAM ends at 0xC0000000 at most below 4 GiB), below the IOAPIC.
    pub const MEM_WINDOW: Window = Window {
        start: 0xC000_0000,
        end: 0xFEC0_0000,
    };
    /// I/O BARs: above the legacy ISA ports and fw_cfg, as SeaBIOS places them.
    pub const IO_WINDOW: Window = Window {
        start: 0xC000,
        end: 0x1_0000,
    };

    /// The size a BAR decodes, from the value read back after writing all ones (the
    /// address bits only; `high` is the upper register of a 64-bit BAR, else 0). `None`
    /// for an unimplemented BAR.
    pub fn size_of(readback: u32, high: u32, kind: BarKind) -> Option<u64> {
        let size = match kind {
            BarKind::Io => {
                let mut addr = readback & !0x3;
                if addr & 0xFFFF_0000 == 0 {
                    // A 16-bit I/O decoder: the upper bits read back as zero.
                    addr |= 0xFFFF_0000;
                }
                u64::from((!addr).wrapping_add(1))
            }
            BarKind::Mem32 => u64::from((!(readback & !0xF)).wrapping_add(1)),
            BarKind::Mem64 => {
                (!(u64::from(high) << 32 | u64::from(readback & !0xF))).wrapping_add(1)
            }
        };
        let implemented = match kind {
            BarKind::Io => readback & !0x3 != 0,
            BarKind::Mem32 => readback & !0xF != 0,
            BarKind::Mem64 => readback & !0xF != 0 || high != 0,
        };
        (implemented && size != 0).then_some(size)
    }

    /// Addresses for `bars` (same order as `bars`; `None` where the window is full).
    pub fn plan(bars: &[BarProbe], out: &mut [Option<u64>]) {
        let n = bars.len().min(out.len());
        for o in out.iter_mut() {
            *o = None;
        }
        for io in [true, false] {
            let window = if io { IO_WINDOW } else { MEM_WINDOW };
            let mut next = window.start;
            // Largest first: a selection over indices (the list is short; no allocation).
            let mut done = [false; 256];
            loop {
                let mut best: Option<usize> = None;
                for i in 0..n.min(done.len()) {
                    if done[i] || (bars[i].kind == BarKind::Io) != io {
                        continue;
                    }
                    if best.is_none_or(|b| bars[i].size > bars[b].size) {
                        best = Some(i);
                    }
                }
                let Some(i) = best else { break };
                done[i] = true;
                let size = bars[i].size.max(if io { 4 } else { 16 });
                if !size.is_power_of_two() {
                    continue;
                }
                let at = next.div_ceil(size) * size;
                if at.checked_add(size).is_some_and(|e| e <= window.end) {
                    out[i] = Some(at);
                    next = at + size;
                }
            }
        }
    }

    /// Command register: I/O space, memory space, bus master (PCI 3.0 §6.2.2).
    pub const CMD_IO: u16 = 1 << 0;
    pub const CMD_MEMORY: u16 = 1 << 1;
    pub const CMD_BUS_MASTER: u16 = 1 << 2;

    /// The command bits for one function whose BARs got `placed` (kind, address or `None`):
    /// bus master always; I/O or memory decoding only if the function has BARs of that kind
    /// and every one of them was placed (an unplaced BAR would decode at its reset value,
    /// 0, on top of low RAM or the legacy ports).
    pub fn command_bits(placed: impl IntoIterator<Item = (BarKind, Option<u64>)>) -> u16 {
        let (mut io, mut mem) = (None::<bool>, None::<bool>);
        for (kind, at) in placed {
            let slot = if kind == BarKind::Io {
                &mut io
            } else {
                &mut mem
            };
            *slot = Some(slot.unwrap_or(true) && at.is_some());
        }
        let mut bits = CMD_BUS_MASTER;
        if io == Some(true) {
            bits |= CMD_IO;
        }
        if mem == Some(true) {
            bits |= CMD_MEMORY;
        }
        bits
    }

    /// The IRQs SeaBIOS routes PIIX3 PIRQ A–D to (config registers 0x60–0x63 of the
    /// PIIX3 ISA bridge, 00:01.0).
    pub const PIIX_PIRQ_IRQS: [u8; 4] = [10, 10, 11, 11];

    /// The interrupt line of a function on bus 0 of an i440FX board: INTA–D (`pin` 1–4)
    /// of device `dev` is wired to PIRQ (`dev` + `pin` − 1) mod 4. `None` for pin 0 (no
    /// interrupt) or an invalid pin.
    pub fn piix_irq(dev: u8, pin: u8) -> Option<u8> {
        if !(1..=4).contains(&pin) {
            return None;
        }
        Some(PIIX_PIRQ_IRQS[usize::from((dev + pin - 1) & 3)])
    }
}

/// What a BIOS programs in QEMU's chipsets before the ACPI tables are read: QEMU builds the
/// FADT's PM register blocks from the PM I/O base and the MCFG from q35's PCIEXBAR as they
/// stand when the guest first reads a table file.
pub mod chipset {
    /// q35's host bridge (MCH, 00:00.0), vendor and device ID as config dword 0.
    pub const Q35_HOST: u32 = 0x29C0_8086;
    /// q35's PCIEXBAR (64 bits at config 0x60 of 00:00.0): bit 0 enables, bits 2:1 = 0 give
    /// 256 buses (256 MiB), bits 35:28 the base.
    pub const PCIEXBAR: u8 = 0x60;
    pub const PCIEXBAR_ENABLE: u32 = 1;
    /// Where the ROM puts q35's ECAM (MMCONFIG), as SeaBIOS does (`mch_mmconfig_setup`):
    /// reserved in the E820 list. (For the firmware's PCI access: a later boot-info field.)
    pub const MMCONFIG_BASE: u64 = 0xB000_0000;
    /// 256 buses × 32 devices × 8 functions × 4 KiB.
    pub const MMCONFIG_LEN: u64 = 256 << 20;

    /// The low and high dwords to write (high first, then low with the enable bit).
    pub const fn pciexbar() -> (u32, u32) {
        (
            MMCONFIG_BASE as u32 | PCIEXBAR_ENABLE,
            (MMCONFIG_BASE >> 32) as u32,
        )
    }

    /// The ACPI PM I/O block (PM1a event/control, PM timer, GPE0), where SeaBIOS puts it;
    /// below the I/O BAR window (`pci::IO_WINDOW`).
    pub const PM_BASE: u16 = 0xB000;
    /// i440FX: the PIIX4 power-management function (00:01.3): PMBA at 0x40, PMREGMISC at
    /// 0x80 (bit 0: PM I/O space on); its SCI is IRQ 9 (the FADT says so).
    pub const PIIX4_PM: u32 = 0x7113_8086;
    pub const PIIX4_PMBA: u8 = 0x40;
    pub const PIIX4_PMREGMISC: u8 = 0x80;
    pub const SCI_IRQ: u8 = 9;
    /// q35: the ICH9 LPC bridge (00:1f.0): PMBASE at 0x40, ACPI_CNTL at 0x44 (bit 7: ACPI
    /// I/O on; bits 2:0 = 0: SCI on IRQ 9).
    pub const ICH9_LPC: u32 = 0x2918_8086;
    pub const ICH9_PMBASE: u8 = 0x40;
    pub const ICH9_ACPI_CNTL: u8 = 0x44;
    pub const ICH9_ACPI_EN: u32 = 1 << 7;

    // The BAR windows stay clear of the ECAM and of the PM block.
    const _: () = assert!(
        super::pci::MEM_WINDOW.start >= MMCONFIG_BASE + MMCONFIG_LEN
            || super::pci::MEM_WINDOW.end <= MMCONFIG_BASE
    );
    const _: () = assert!(super::pci::IO_WINDOW.start >= PM_BASE as u64 + 0x80);
}

/// The console speed in the configuration text (`baud=N` lines, as the firmware reads
/// them), for the ROM's one-line warnings on COM1 before the firmware runs; 9600 when
/// absent or not one the firmware accepts.
pub fn config_baud(text: &[u8]) -> u32 {
    use lifeboat_abi::config::{baud_accepted, BAUD, DEFAULT_BAUD};
    let mut baud = DEFAULT_BAUD;
    for line in text.split(|&b| b == b'\n' || b == 0) {
        let Ok(line) = core::str::from_utf8(line) else {
            continue;
        };
        if let Some((k, v)) = line.split_once('=') {
            if k.trim() == BAUD {
                match v.trim().parse::<u32>() {
                    Ok(b) if baud_accepted(b) => baud = b,
                    _ => {}
                }
            }
        }
    }
    baud
}

#[cfg(test)]
mod tests {
    use super::pci::{plan, size_of, BarKind, BarProbe, IO_WINDOW, MEM_WINDOW};
    use super::*;

    fn e820_bytes(entries: &[(u64, u64, u32)]) -> Vec<u8> {
        let mut v = Vec::new();
        for &(b, l, t) in entries {
            v.extend_from_slice(&b.to_le_bytes());
            v.extend_from_slice(&l.to_le_bytes());
            v.extend_from_slice(&t.to_le_bytes());
        }
        v
    }

    #[test]
    fn e820_of_a_256_mib_pc() {
        // QEMU 7.2, pc, -m 256: one RAM entry from 0.
        let ram = fw_cfg::parse_e820(&e820_bytes(&[(0, 256 << 20, 1)]));
        assert_eq!(ram.entries().len(), 1);
        let map = E820Map::for_machine(ram.entries(), 384 << 10);
        let want = [
            E820 {
                base: 0,
                len: 0x9_FC00,
                kind: 1,
            },
            E820 {
                base: 0x9_FC00,
                len: 0x400,
                kind: 2,
            },
            E820 {
                base: 0xF_0000,
                len: 0x1_0000,
                kind: 2,
            },
            E820 {
                base: 0x10_0000,
                len: (256 << 20) - 0x10_0000,
                kind: 1,
            },
            E820 {
                base: 0xFFFA_0000,
                len: 384 << 10,
                kind: 2,
            },
        ];
        assert_eq!(map.entries(), &want);
        assert_eq!(map.usable(), 0x9_FC00 + (255 << 20));
    }

    #[test]
    fn e820_keeps_high_ram_and_reserved_entries() {
        let ram = fw_cfg::parse_e820(&e820_bytes(&[
            (0, 0xC000_0000, 1),
            (0xFEFF_C000, 0x4000, 2),
            (1 << 32, 1 << 30, 1),
        ]));
        let map = E820Map::for_machine(ram.entries(), 256 << 10);
        let e = map.entries();
        assert!(e.contains(&E820 {
            base: 0xFEFF_C000,
            len: 0x4000,
            kind: 2
        }));
        assert!(e.contains(&E820 {
            base: 1 << 32,
            len: 1 << 30,
            kind: 1
        }));
        assert!(e.windows(2).all(|w| w[0].base + w[0].len <= w[1].base));
    }

    #[test]
    fn e820_ignores_a_torn_entry() {
        let mut b = e820_bytes(&[(0, 128 << 20, 1)]);
        b.extend_from_slice(&[1, 2, 3]);
        assert_eq!(fw_cfg::parse_e820(&b).entries().len(), 1);
    }

    #[test]
    fn cmos_fallback() {
        // 256 MiB: (256 - 16) MiB / 64 KiB = 0x0F00 units above 16 MiB.
        let ram = ram_from_cmos([0x00, 0x0F], [0, 0, 0]).unwrap();
        assert_eq!(
            ram.entries(),
            &[E820 {
                base: 0,
                len: 256 << 20,
                kind: 1
            }]
        );
        // 1 GiB above 4 GiB = 0x4000 units.
        let ram = ram_from_cmos([0, 0], [0x00, 0x40, 0x00]).unwrap();
        assert_eq!(
            ram.entries()[1],
            E820 {
                base: 1 << 32,
                len: 1 << 30,
                kind: 1
            }
        );
        assert!(ram_from_cmos([0, 0], [0, 0, 0]).is_none());
    }

    #[test]
    fn fw_cfg_directory_entry() {
        let mut e = [0u8; 64];
        e[..4].copy_from_slice(&40u32.to_be_bytes());
        e[4..6].copy_from_slice(&0x0021u16.to_be_bytes());
        e[8..16].copy_from_slice(b"etc/e820");
        assert_eq!(
            fw_cfg::match_entry(&e, "etc/e820"),
            Some(fw_cfg::File {
                select: 0x21,
                size: 40
            })
        );
        assert_eq!(fw_cfg::match_entry(&e, "etc/e82"), None);
        assert_eq!(fw_cfg::match_entry(&e, "etc/e8200"), None);
        assert_eq!(fw_cfg::match_entry(&e[..63], "etc/e820"), None);
    }

    #[test]
    fn bar_sizes() {
        // 128 KiB memory BAR, prefetchable bit set in the read-back.
        assert_eq!(size_of(0xFFFE_0008, 0, BarKind::Mem32), Some(128 << 10));
        // 64-bit 16 KiB BAR.
        assert_eq!(
            size_of(0xFFFF_C00C, 0xFFFF_FFFF, BarKind::Mem64),
            Some(16 << 10)
        );
        // 64-bit BAR of 8 GiB (all low address bits zero).
        assert_eq!(
            size_of(0x0000_000C, 0xFFFF_FFFE, BarKind::Mem64),
            Some(8 << 30)
        );
        // I/O BAR of 64 ports, 16-bit decoder.
        assert_eq!(size_of(0x0000_FFC1, 0, BarKind::Io), Some(64));
        assert_eq!(size_of(0xFFFF_FFC1, 0, BarKind::Io), Some(64));
        // Unimplemented.
        assert_eq!(size_of(0, 0, BarKind::Mem32), None);
        assert_eq!(size_of(0x1, 0, BarKind::Io), None);
    }

    fn bar(dev: u8, index: u8, kind: BarKind, size: u64) -> BarProbe {
        BarProbe {
            bus: 0,
            dev,
            func: 0,
            index,
            kind,
            size,
        }
    }

    #[test]
    fn plan_is_aligned_disjoint_and_in_its_window() {
        // QEMU pc: VGA (16 MiB + 4 KiB), e1000 (128 KiB mem + 64 ports), PIIX IDE (16 ports),
        // virtio (64-bit 16 KiB, 32 ports).
        let bars = [
            bar(2, 0, BarKind::Mem32, 16 << 20),
            bar(2, 2, BarKind::Mem32, 4096),
            bar(3, 0, BarKind::Mem32, 128 << 10),
            bar(3, 1, BarKind::Io, 64),
            bar(1, 4, BarKind::Io, 16),
            bar(4, 0, BarKind::Io, 32),
            bar(4, 4, BarKind::Mem64, 16 << 10),
        ];
        let mut out = [None; 7];
        plan(&bars, &mut out);
        let mut ranges = Vec::new();
        for (b, a) in bars.iter().zip(out) {
            let a = a.expect("every BAR placed");
            assert_eq!(a % b.size, 0, "{b:?} at {a:#x} misaligned");
            let w = if b.kind == BarKind::Io {
                IO_WINDOW
            } else {
                MEM_WINDOW
            };
            assert!(a >= w.start && a + b.size <= w.end);
            ranges.push((b.kind == BarKind::Io, a, a + b.size));
        }
        for (i, x) in ranges.iter().enumerate() {
            for y in &ranges[i + 1..] {
                assert!(
                    x.0 != y.0 || x.2 <= y.1 || y.2 <= x.1,
                    "{x:?} overlaps {y:?}"
                );
            }
        }
        // Largest first: the VGA framebuffer at the window's start.
        assert_eq!(out[0], Some(0xC000_0000));
        assert_eq!(out[3], Some(0xC000));
    }

    #[test]
    fn plan_leaves_what_does_not_fit() {
        let bars = [
            bar(2, 0, BarKind::Mem32, 512 << 20),
            bar(3, 0, BarKind::Mem32, 512 << 20),
            bar(4, 0, BarKind::Io, 0x8000),
            bar(5, 0, BarKind::Io, 0x4000),
            bar(6, 0, BarKind::Mem32, 3 << 12),
        ];
        let mut out = [None; 5];
        plan(&bars, &mut out);
        assert_eq!(out[0], Some(0xC000_0000));
        assert_eq!(
            out[1], None,
            "a second 512 MiB BAR does not fit below the IOAPIC"
        );
        assert_eq!(
            out[2], None,
            "0x8000 ports need 0x8000 alignment above 0xC000"
        );
        assert_eq!(out[3], Some(0xC000));
        assert_eq!(out[4], None, "not a power of two: a broken device");
    }

    #[test]
    fn decoding_only_when_every_bar_of_its_kind_is_placed() {
        use pci::{command_bits, CMD_BUS_MASTER as BM, CMD_IO as IO, CMD_MEMORY as MEM};
        assert_eq!(command_bits([]), BM);
        assert_eq!(
            command_bits([
                (BarKind::Mem32, Some(0xC000_0000)),
                (BarKind::Io, Some(0xC000))
            ]),
            BM | IO | MEM
        );
        assert_eq!(
            command_bits([
                (BarKind::Mem32, Some(0xC000_0000)),
                (BarKind::Mem64, None),
                (BarKind::Io, Some(0xC000))
            ]),
            BM | IO
        );
        assert_eq!(
            command_bits([(BarKind::Io, None), (BarKind::Io, Some(0xC000))]),
            BM
        );
    }

    #[test]
    fn piix_irq_routing() {
        // SeaBIOS: slot 1 INTA -> PIRQB -> 10, slot 3 INTA -> PIRQD -> 11.
        assert_eq!(pci::piix_irq(1, 1), Some(10));
        assert_eq!(pci::piix_irq(3, 1), Some(11));
        assert_eq!(pci::piix_irq(2, 1), Some(11));
        assert_eq!(pci::piix_irq(4, 1), Some(10));
        assert_eq!(pci::piix_irq(4, 0), None);
        assert_eq!(pci::piix_irq(4, 5), None);
    }

    #[test]
    fn reserve_cuts_usable_ram_and_keeps_the_list_sorted() {
        let ram = fw_cfg::parse_e820(&e820_bytes(&[(0, 256 << 20, 1)]));
        let mut map = E820Map::for_machine(ram.entries(), 384 << 10);
        assert_eq!(map.highest_below_4g(), Some((0x10_0000, 256 << 20)));
        // The ACPI arena at the top of the RAM, then q35's ECAM (not RAM: only added).
        assert!(map.reserve(0xFFD_F000, 0x2_1000, e820::RESERVED));
        assert!(map.reserve(
            chipset::MMCONFIG_BASE,
            chipset::MMCONFIG_LEN,
            e820::RESERVED
        ));
        let e = map.entries();
        assert!(e.contains(&E820 {
            base: 0x10_0000,
            len: 0xFFD_F000 - 0x10_0000,
            kind: 1
        }));
        assert!(e.contains(&E820 {
            base: 0xFFD_F000,
            len: 0x2_1000,
            kind: 2
        }));
        assert!(e.contains(&E820 {
            base: 0xB000_0000,
            len: 256 << 20,
            kind: 2
        }));
        assert!(e.windows(2).all(|w| w[0].base + w[0].len <= w[1].base));
        assert_eq!(map.usable(), 0x9_FC00 + (255 << 20) - 0x2_1000);
        // A hole in the middle of a range splits it.
        let mut m = E820Map::default();
        m.push(E820 {
            base: 0,
            len: 100,
            kind: 1,
        });
        assert!(m.reserve(40, 20, e820::ACPI));
        assert_eq!(
            m.entries(),
            &[
                E820 {
                    base: 0,
                    len: 40,
                    kind: 1
                },
                E820 {
                    base: 40,
                    len: 20,
                    kind: 3
                },
                E820 {
                    base: 60,
                    len: 40,
                    kind: 1
                }
            ]
        );
        // A full list stays as it was.
        let mut full = E820Map::default();
        for i in 0..bootinfo::e820::MAX as u64 {
            full.push(E820 {
                base: i * 0x1000,
                len: 0x1000,
                kind: 1,
            });
        }
        let before = full.entries().to_vec();
        assert!(!full.reserve(0x800, 0x100, 2));
        assert_eq!(full.entries(), &before[..]);
    }

    #[test]
    fn highest_ram_below_4g_ignores_what_is_above() {
        let ram = fw_cfg::parse_e820(&e820_bytes(&[(0, 0xC000_0000, 1), (1 << 32, 1 << 30, 1)]));
        let map = E820Map::for_machine(ram.entries(), 384 << 10);
        assert_eq!(map.highest_below_4g(), Some((0x10_0000, 0xC000_0000)));
    }

    #[test]
    fn the_ecam_and_the_pm_block_are_clear_of_the_bar_windows() {
        let ecam = chipset::MMCONFIG_BASE..chipset::MMCONFIG_BASE + chipset::MMCONFIG_LEN;
        assert!(MEM_WINDOW.start >= ecam.end || MEM_WINDOW.end <= ecam.start);
        assert_eq!(chipset::pciexbar(), (0xB000_0001, 0));
        assert!(IO_WINDOW.start >= u64::from(chipset::PM_BASE) + 0x80);
    }

    #[test]
    fn fw_cfg_dma_and_directory() {
        assert_eq!(
            fw_cfg::dma_access(
                fw_cfg::dma_select(0x21, fw_cfg::DMA_READ),
                0x2_0000,
                0xFFD_FFC0
            ),
            [0, 0x21, 0, 0x0A, 0, 2, 0, 0, 0, 0, 0, 0, 0x0F, 0xFD, 0xFF, 0xC0]
        );
        let mut dir = vec![0u8; 128];
        dir[..4].copy_from_slice(&20u32.to_be_bytes());
        dir[4..6].copy_from_slice(&0x20u16.to_be_bytes());
        dir[8..21].copy_from_slice(b"etc/acpi/rsdp");
        dir[64..68].copy_from_slice(&4096u32.to_be_bytes());
        dir[68..70].copy_from_slice(&0x2Bu16.to_be_bytes());
        dir[72..88].copy_from_slice(b"etc/table-loader");
        let d = fw_cfg::Directory::new(&dir);
        assert_eq!(
            d.find(b"etc/table-loader"),
            Some(fw_cfg::File {
                select: 0x2B,
                size: 4096
            })
        );
        assert_eq!(d.find(b"etc/acpi/rsdp").map(|f| f.size), Some(20));
        assert_eq!(d.find(b"etc/acpi"), None);
        assert_eq!(
            fw_cfg::Directory::new(&dir[..100]).find(b"etc/table-loader"),
            None
        );
    }

    #[test]
    fn the_console_speed_from_the_configuration() {
        assert_eq!(config_baud(b"boot_timeout=5\nbaud = 115200\n\0\0"), 115200);
        assert_eq!(config_baud(b"baud=9601\n"), 9600);
        assert_eq!(config_baud(b"baud=0\n"), 9600);
        assert_eq!(config_baud(b""), 9600);
        assert_eq!(config_baud(b"baud=19200\nbaud=38400"), 38400);
    }

    #[test]
    fn rom_layout() {
        use layout::*;
        // 255 KiB firmware: 64 + 4 + 256 KiB -> 384 KiB ROM.
        assert_eq!(rom_len(255 << 10), 384 << 10);
        assert_eq!(firmware_addr(255 << 10), 0xFFFE_F000 - (256 << 10));
        assert!(ROM_END - rom_len(255 << 10) as u64 <= firmware_addr(255 << 10));
        let mut h = vec![0u8; 4096];
        h[..16].copy_from_slice(&payload::MAGIC);
        h[16..20].copy_from_slice(&1234u32.to_le_bytes());
        assert_eq!(payload::firmware_len(&h), Some(1234));
        h[0] ^= 1;
        assert_eq!(payload::firmware_len(&h), None);
    }
}
