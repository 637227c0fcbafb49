//! ATA on the legacy IDE ports: a CompactFlash card in true-IDE mode used as the unit's flash,
//! by bus-master DMA where the controller offers it, else by PIO; polled, with interrupts off
//! (nIEN).
//!
//! Reference: ANSI INCITS 361-2002 "AT Attachment with Packet Interface - 6" (ATA/ATAPI-6):
//! §7 register descriptions, §8 commands (IDENTIFY DEVICE 8.15, READ SECTORS 8.27, READ
//! SECTORS EXT 8.28, WRITE SECTORS 8.62, WRITE SECTORS EXT 8.63, FLUSH CACHE 8.12/8.13),
//! §9 protocols (PIO data-in 9.7, PIO data-out 9.8); CF+ and CompactFlash spec 4.1 §6.1.
//!
//! **Which device is the flash.** The unit boots from its own disk (the primary master, or a
//! diskette); the flash card is, by rule, the **secondary master** (`ide1:0`; QEMU
//! `-drive if=ide,index=2,format=raw,file=F`). A device there that is not an ATA disk (QEMU's
//! default empty CD-ROM is ATAPI) is no flash. The driver never addresses the primary channel,
//! so the boot disk cannot be written whatever it holds. Restriction: a unit must not boot from
//! the secondary master.
//!
//! To the install logic the card looks like strict NOR flash: [`NorFlash::erase`] writes 0xFF
//! sectors, erase and write units are one 512-byte sector, and every `erase`/`write` ends with
//! FLUSH CACHE (when IDENTIFY offers it; a card without it has no write cache), so data is on
//! the medium when the call returns. Offsets are 32-bit (the traits'), so commands stay within
//! LBA28; the EXT commands are used only past 2^28 sectors, which the traits cannot
//! reach. No interrupts, no multiple-sector (READ MULTIPLE) mode.
//!
//! **Bus-master DMA.** When the channel belongs to a PCI IDE controller with a bus-master
//! interface (SFF-8038i, PCI class 01h/01h with programming-interface bit 7, BAR4: the PIIX3/4
//! of QEMU's `pc`), sector transfers use READ DMA / WRITE DMA (ATA/ATAPI-6 §8.23, §8.58;
//! protocol §9.9) with a physical region descriptor (PRD) table, polled with nIEN set: the
//! engine's Active bit and the device's BSY. That moves 128 KiB per command with about twenty
//! port accesses instead of 65,536 data-port accesses (under QEMU TCG each one is an exit to
//! the device model: 16 MiB by PIO took 4 s a pass, by DMA well under 0.1 s). A buffer that
//! is not word-aligned or lies above 4 GiB, and a controller without BAR4, fall back to PIO.

use core::fmt;

use embedded_storage::nor_flash::{
    check_erase, check_read, check_write, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind,
    ReadNorFlash,
};

use core::sync::atomic::{fence, Ordering};

use crate::net::dma::{DmaRegion, Vol};
use crate::pci::{self, command as pci_command, Config};
use crate::regs::IoPorts;
use crate::timer;

mod errors;
mod info;
mod prd;
mod spec;
#[cfg(test)]
mod tests;

pub use errors::*;
pub use info::*;
pub use prd::*;
pub use spec::*;

/// Longest wait for BSY to clear (a CompactFlash card may spin up / wear-level), µs.
const BUSY_TIMEOUT_US: u64 = 10_000_000;
/// Longest wait for DRQ once BSY is clear, µs.
const DRQ_TIMEOUT_US: u64 = 1_000_000;
/// Longest wait for FLUSH CACHE (§8.12 allows more than 30 s; cards take far less), µs.
const FLUSH_TIMEOUT_US: u64 = 30_000_000;

/// One IDE channel's legacy I/O ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Channel number (0 primary, 1 secondary).
    pub index: u8,
    /// Command block base.
    pub command_base: u16,
    /// Control block base (Alternate Status / Device Control).
    pub control_base: u16,
}

/// The primary channel (the boot disk's; never driven here).
pub const PRIMARY: Channel = Channel {
    index: 0,
    command_base: 0x1F0,
    control_base: 0x3F6,
};
/// The secondary channel, where the flash card is.
pub const SECONDARY: Channel = Channel {
    index: 1,
    command_base: 0x170,
    control_base: 0x376,
};

/// Where the data of a write comes from.
#[derive(Clone, Copy)]
enum Source<'a> {
    Bytes(&'a [u8]),
    Fill(u8),
}

/// Descriptors in the PRD table: one 128 KiB command of 4 KiB fill pages needs 32.
const PRD_ENTRIES: usize = MAX_SECTORS_PER_COMMAND * SECTOR / FILL_LEN;
/// The page that fills erased sectors (every descriptor of a fill points at it).
const FILL_LEN: usize = 4096;

/// The bus master's memory: the fill page and the PRD table. Page-aligned, so neither
/// crosses a 64 KiB boundary (the table is 256 bytes at offset 4096).
#[repr(C, align(4096))]
struct DmaMemory {
    fill: [Vol<u32>; FILL_LEN / 4],
    prdt: [Vol<u64>; PRD_ENTRIES],
}

// SAFETY: DmaMemory holds only Vols of integers, for which all-zero is valid.
static DMA: DmaRegion<DmaMemory> = unsafe { DmaRegion::zeroed() };

/// Longest wait for one DMA command (128 KiB), µs.
const DMA_TIMEOUT_US: u64 = BUSY_TIMEOUT_US;

/// Where the bytes of a DMA transfer are in memory.
#[derive(Clone, Copy)]
enum DmaBuf {
    /// The device writes memory here (READ DMA).
    Into(u64),
    /// The device reads memory from here (WRITE DMA).
    From(u64),
    /// The device reads the fill page, this byte everywhere (WRITE DMA).
    Fill(u8),
}

/// Tells the compiler that memory reachable from `addr` may be read or written right here,
/// as the bus master does behind its back: stores to a buffer the device is about to read
/// are done before this, and loads from a buffer the device has written come after it.
#[inline(always)]
pub(crate) fn dma_barrier(addr: u64) {
    // SAFETY: an empty asm block has no effect; without `nomem` the compiler must assume it
    // reads and writes memory that `addr` (an exposed pointer) reaches, which is the point.
    unsafe { core::arch::asm!("/* dma {0} */", in(reg) addr, options(nostack, preserves_flags)) };
}

/// A CompactFlash card (or any ATA disk) on the secondary master, driven by bus-master DMA
/// when the controller offers it, else PIO.
pub struct AtaFlash {
    cmd: IoPorts,
    ctl: IoPorts,
    /// This channel's bus-master registers, when the controller has them.
    bm: Option<IoPorts>,
    channel: Channel,
    slave: bool,
    info: AtaInfo,
}

/// Find the flash card: the ATA disk at the secondary master. `None` when nothing answers
/// there; `Some(Err)` when a device answers that cannot be used (e.g. ATAPI).
pub fn find() -> Option<Result<AtaFlash, AtaError>> {
    // SAFETY: 0x170–0x177 and 0x376 are the secondary IDE channel's legacy ports on every PC
    // (QEMU's PIIX/ICH IDE decodes them in compatibility mode); nothing else in lifeboat
    // touches them.
    match unsafe { AtaFlash::open(SECONDARY, false) } {
        Err(AtaError::NoDevice) => None,
        Ok(mut card) => {
            card.bm = bus_master(SECONDARY);
            Some(Ok(card))
        }
        other => Some(other),
    }
}

/// The bus-master registers of `channel`: the first PCI IDE controller (class 01h, subclass
/// 01h) whose programming interface says it is a bus master (bit 7), in compatibility mode
/// for that channel (bit 0 or 2 clear: it decodes the legacy ports we use), with an I/O BAR4.
/// Turns on its bus mastering. `None` leaves the driver on PIO.
fn bus_master(channel: Channel) -> Option<IoPorts> {
    // SAFETY: hal is the only user of PCI configuration space; lifeboat is single-threaded.
    let mut cfg = unsafe { Config::new() };
    let native_bit = if channel.index == 0 { 1 << 0 } else { 1 << 2 };
    let ide = pci::scan(&mut cfg)
        .only(|i| i.class == 0x01 && i.subclass == 0x01)
        .find(|d| {
            d.class == 0x01
                && d.subclass == 0x01
                && d.prog_if & 0x80 != 0
                && d.prog_if & native_bit == 0
        })?;
    let port = ide.bars[4].io_port()?;
    ide.enable(&mut cfg, pci_command::IO_SPACE | pci_command::BUS_MASTER);
    // SAFETY: BAR4 of the IDE controller decoding the legacy ports we drive is its bus-master
    // block, 16 ports (8 per channel); I/O decoding was just enabled; nothing else uses it.
    Some(unsafe { IoPorts::new(port + 8 * u16::from(channel.index), 8) })
}

impl AtaFlash {
    /// IDENTIFY the device at `channel` (`slave`: device 1) and drive it.
    ///
    /// # Safety
    ///
    /// `channel` must be an IDE channel's ports, decoded, used by nothing else while this value
    /// lives; the device there must be one the caller may overwrite (never the boot disk).
    pub unsafe fn open(channel: Channel, slave: bool) -> Result<AtaFlash, AtaError> {
        // SAFETY: the caller's contract.
        let cmd = unsafe { IoPorts::new(channel.command_base, 8) };
        // SAFETY: the caller's contract.
        let ctl = unsafe { IoPorts::new(channel.control_base, 1) };
        let mut dev = AtaFlash {
            cmd,
            ctl,
            bm: None,
            channel,
            slave,
            info: AtaInfo::UNKNOWN,
        };
        dev.ctl.write8(reg::ALT_STATUS, control::NIEN);
        dev.select(0);
        let s = dev.cmd.read8(reg::STATUS);
        if s == 0xFF || s == 0 {
            return Err(AtaError::NoDevice); // floating bus, or QEMU's empty position
        }
        dev.wait_not_busy(Op::Identify, 0)?;
        for r in [reg::SECTOR_COUNT, reg::LBA_LOW, reg::LBA_MID, reg::LBA_HIGH] {
            dev.cmd.write8(r, 0);
        }
        dev.cmd.write8(reg::STATUS, command::IDENTIFY);
        dev.settle();
        if dev.cmd.read8(reg::STATUS) == 0 {
            return Err(AtaError::NoDevice);
        }
        let busy = dev.wait_not_busy(Op::Identify, 0);
        let signature = (dev.cmd.read8(reg::LBA_MID), dev.cmd.read8(reg::LBA_HIGH));
        if signature != (0, 0) {
            return Err(AtaError::NotAta { signature });
        }
        let s = busy?;
        if s & status::ERR != 0 {
            return Err(AtaError::NotAta { signature });
        }
        dev.wait_drq(Op::Identify, 0)?;
        let mut words = [0u16; 256];
        for w in words.iter_mut() {
            *w = dev.cmd.read16(reg::DATA);
        }
        dev.info = AtaInfo::parse(&words)?;
        Ok(dev)
    }

    /// What IDENTIFY said.
    pub fn info(&self) -> &AtaInfo {
        &self.info
    }

    /// True when transfers go by bus-master DMA.
    pub fn dma(&self) -> bool {
        self.bm.is_some()
    }

    /// From now on transfer by PIO only (diagnostics: `flashtest pio`).
    pub fn disable_dma(&mut self) {
        self.bm = None;
    }

    /// Where the card sits, as `ide1:0` (channel:device).
    pub fn position(&self) -> (u8, u8) {
        (self.channel.index, u8::from(self.slave))
    }

    /// Device register value: LBA mode, the device bit, LBA bits 27:24.
    fn select(&self, high_nibble: u8) {
        let dev = device::OBS | device::LBA | if self.slave { device::DEV1 } else { 0 };
        self.cmd.write8(reg::DEVICE, dev | (high_nibble & 0x0F));
        self.settle();
    }

    /// Wait 400 ns for the status to be valid (§9.2: four reads of Alternate Status).
    fn settle(&self) {
        for _ in 0..4 {
            self.ctl.read8(reg::ALT_STATUS);
        }
    }

    fn wait_not_busy(&self, op: Op, lba: u64) -> Result<u8, AtaError> {
        self.wait_not_busy_for(op, lba, BUSY_TIMEOUT_US)
    }

    fn wait_not_busy_for(&self, op: Op, lba: u64, limit_us: u64) -> Result<u8, AtaError> {
        let mut s = 0;
        let done = timer::poll_until(limit_us, || {
            s = self.ctl.read8(reg::ALT_STATUS);
            s & status::BSY == 0
        }) || {
            s = self.ctl.read8(reg::ALT_STATUS);
            s & status::BSY == 0
        };
        if done {
            Ok(s)
        } else {
            Err(AtaError::Timeout { op, lba, status: s })
        }
    }

    /// Wait until the device is not busy and wants data (DRQ), or fails (ERR/DF).
    fn wait_drq(&self, op: Op, lba: u64) -> Result<(), AtaError> {
        self.wait_not_busy(op, lba)?;
        let mut s = 0;
        let done = timer::poll_until(DRQ_TIMEOUT_US, || {
            s = self.cmd.read8(reg::STATUS);
            s & (status::DRQ | status::ERR | status::DF) != 0 && s & status::BSY == 0
        });
        if s & (status::ERR | status::DF) != 0 {
            return Err(self.device_error(op, lba, s));
        }
        if !done || s & status::DRQ == 0 {
            return Err(AtaError::Timeout { op, lba, status: s });
        }
        Ok(())
    }

    fn device_error(&self, op: Op, lba: u64, status: u8) -> AtaError {
        AtaError::Device {
            op,
            lba,
            status,
            error: ErrorBits(self.cmd.read8(reg::ERROR)),
        }
    }

    /// Check the final status of a command: not busy, no ERR/DF.
    fn finish(&self, op: Op, lba: u64, limit_us: u64) -> Result<(), AtaError> {
        self.settle();
        let s = self.wait_not_busy_for(op, lba, limit_us)?;
        let s = if s & status::BSY == 0 {
            self.cmd.read8(reg::STATUS) // clears a pending interrupt condition
        } else {
            s
        };
        if s & (status::ERR | status::DF) != 0 {
            return Err(self.device_error(op, lba, s));
        }
        Ok(())
    }

    /// Load the taskfile and issue a 28- or 48-bit command on `count` (1..=256) sectors.
    fn issue(&self, op: Op, lba: u64, count: usize, cmd28: u8, cmd48: u8) -> Result<(), AtaError> {
        self.wait_not_busy(op, lba)?;
        let ext = self.info.lba48 && (lba + count as u64 > 1 << 28);
        if ext {
            self.select(0);
            // High-order bytes first (§7.1: the "previous content" of each register).
            self.cmd.write8(reg::SECTOR_COUNT, (count >> 8) as u8);
            self.cmd.write8(reg::LBA_LOW, (lba >> 24) as u8);
            self.cmd.write8(reg::LBA_MID, (lba >> 32) as u8);
            self.cmd.write8(reg::LBA_HIGH, (lba >> 40) as u8);
        } else {
            self.select((lba >> 24) as u8);
        }
        self.cmd.write8(reg::SECTOR_COUNT, count as u8); // 256 is written as 0
        self.cmd.write8(reg::LBA_LOW, lba as u8);
        self.cmd.write8(reg::LBA_MID, (lba >> 8) as u8);
        self.cmd.write8(reg::LBA_HIGH, (lba >> 16) as u8);
        self.cmd
            .write8(reg::STATUS, if ext { cmd48 } else { cmd28 });
        self.settle();
        Ok(())
    }

    /// PIO data-in: read `out.len() / 512` (1..=256) sectors from `lba`.
    fn read_sectors(&mut self, lba: u64, out: &mut [u8]) -> Result<(), AtaError> {
        let count = out.len() / SECTOR;
        // The address is exposed to the device; the transfer ends (or the engine is stopped)
        // before `transfer_dma` returns, while `out` is still borrowed here.
        if let Some(r) = self.transfer_dma(lba, count, DmaBuf::Into(out.as_mut_ptr() as u64)) {
            return r;
        }
        self.issue(
            Op::Read,
            lba,
            count,
            command::READ_SECTORS,
            command::READ_SECTORS_EXT,
        )?;
        for (i, sector) in out.chunks_exact_mut(SECTOR).enumerate() {
            self.wait_drq(Op::Read, lba + i as u64)?;
            for pair in sector.chunks_exact_mut(2) {
                let w = self.cmd.read16(reg::DATA);
                pair[0] = w as u8;
                pair[1] = (w >> 8) as u8;
            }
            self.settle();
        }
        self.finish(Op::Read, lba, BUSY_TIMEOUT_US)
    }

    /// PIO data-out: write `count` (1..=256) sectors at `lba` from `src`.
    fn write_sectors(&mut self, lba: u64, count: usize, src: Source<'_>) -> Result<(), AtaError> {
        let buf = match src {
            Source::Bytes(b) => DmaBuf::From(b.as_ptr() as u64),
            Source::Fill(v) => DmaBuf::Fill(v),
        };
        if let Some(r) = self.transfer_dma(lba, count, buf) {
            return r;
        }
        self.issue(
            Op::Write,
            lba,
            count,
            command::WRITE_SECTORS,
            command::WRITE_SECTORS_EXT,
        )?;
        for i in 0..count {
            // The device takes sector i's data only after sector i − 1 is written: an error
            // seen here is that sector's (or, for i = 0, the command's).
            self.wait_drq(Op::Write, lba + i.saturating_sub(1) as u64)?;
            for j in 0..SECTOR / 2 {
                let w = match src {
                    Source::Bytes(b) => {
                        let at = i * SECTOR + 2 * j;
                        u16::from(b[at]) | u16::from(b[at + 1]) << 8
                    }
                    Source::Fill(v) => u16::from_le_bytes([v, v]),
                };
                self.cmd.write16(reg::DATA, w);
            }
            self.settle();
        }
        self.finish(Op::Write, lba + count as u64 - 1, BUSY_TIMEOUT_US)
    }

    /// One READ DMA / WRITE DMA command of `count` (1..=256) sectors at `lba` (ATA/ATAPI-6
    /// §9.9; SFF-8038i §3): build the PRD table, point the engine at it, clear its status,
    /// issue the command, start the engine, poll until it and the device are done, stop it.
    /// `None`: DMA is not possible for this buffer (see [`split_regions`]) or this
    /// controller; the caller uses PIO.
    fn transfer_dma(
        &mut self,
        lba: u64,
        count: usize,
        buf: DmaBuf,
    ) -> Option<Result<(), AtaError>> {
        let bm = self.bm.as_ref()?;
        let mem = DMA.claim()?;
        let bytes = count * SECTOR;
        let mut regions = [Region { addr: 0, len: 0 }; PRD_ENTRIES];
        let (op, n) = match buf {
            DmaBuf::Into(addr) => (Op::ReadDma, split_regions(addr, bytes, &mut regions)?),
            DmaBuf::From(addr) => (Op::WriteDma, split_regions(addr, bytes, &mut regions)?),
            DmaBuf::Fill(v) => {
                let word = u32::from_le_bytes([v; 4]);
                for w in &mem.fill {
                    w.set(word);
                }
                let page = mem.fill.as_ptr() as u64;
                let n = bytes.div_ceil(FILL_LEN);
                for (i, r) in regions.iter_mut().take(n).enumerate() {
                    let len = (bytes - i * FILL_LEN).min(FILL_LEN);
                    *r = Region {
                        addr: page as u32,
                        len: len as u32,
                    };
                }
                (Op::WriteDma, n)
            }
        };
        for (i, (slot, r)) in mem.prdt.iter().zip(&regions[..n]).enumerate() {
            slot.set(r.descriptor(i + 1 == n));
        }
        let direction = if op == Op::ReadDma { bm::TO_MEMORY } else { 0 };
        bm.write8(bm::COMMAND, 0);
        bm.write32(bm::PRDT, mem.prdt.as_ptr() as u32);
        bm.write8(bm::COMMAND, direction);
        let st = bm.read8(bm::STATUS);
        bm.write8(bm::STATUS, st | bm::ERROR | bm::INTERRUPT);
        // The table and (for writes) the data are in memory before the device looks.
        let data = match buf {
            DmaBuf::Into(a) | DmaBuf::From(a) => a,
            DmaBuf::Fill(_) => mem.fill.as_ptr() as u64,
        };
        dma_barrier(data);
        fence(Ordering::SeqCst);
        let (cmd28, cmd48) = if op == Op::ReadDma {
            (command::READ_DMA, command::READ_DMA_EXT)
        } else {
            (command::WRITE_DMA, command::WRITE_DMA_EXT)
        };
        if let Err(e) = self.issue(op, lba, count, cmd28, cmd48) {
            return Some(Err(e));
        }
        bm.write8(bm::COMMAND, direction | bm::START);
        let mut bms = 0;
        let done = timer::poll_until(DMA_TIMEOUT_US, || {
            bms = bm.read8(bm::STATUS);
            let ata = self.ctl.read8(reg::ALT_STATUS);
            // Done, or the device gave up (ERR/DF with BSY clear) while the engine waits.
            (bms & bm::ACTIVE == 0 || ata & (status::ERR | status::DF) != 0)
                && ata & status::BSY == 0
        });
        // Stop the engine, whatever happened.
        bm.write8(bm::COMMAND, direction);
        // What the device wrote is seen by every read after this.
        fence(Ordering::SeqCst);
        dma_barrier(data);
        bm.write8(bm::STATUS, bms | bm::ERROR | bm::INTERRUPT);
        let last = lba + count as u64 - 1;
        if !done {
            let s = self.ctl.read8(reg::ALT_STATUS);
            return Some(Err(AtaError::Timeout { op, lba, status: s }));
        }
        if let Err(e) = self.finish(op, lba, BUSY_TIMEOUT_US) {
            return Some(Err(e));
        }
        if bms & bm::ERROR != 0 {
            return Some(Err(AtaError::Dma {
                op,
                lba: last,
                bm_status: bms,
            }));
        }
        Some(Ok(()))
    }

    /// FLUSH CACHE (EXT): everything written is on the medium when this returns. A no-op
    /// for a device that does not offer it (see [`AtaInfo::flush`]).
    pub fn flush(&mut self) -> Result<(), AtaError> {
        if !self.info.flush {
            return Ok(());
        }
        self.wait_not_busy(Op::Flush, 0)?;
        self.select(0);
        let code = if self.info.lba48 {
            command::FLUSH_CACHE_EXT
        } else {
            command::FLUSH_CACHE
        };
        self.cmd.write8(reg::STATUS, code);
        self.finish(Op::Flush, 0, FLUSH_TIMEOUT_US)
    }

    fn write_range(&mut self, offset: u32, len: usize, src: Source<'_>) -> Result<(), AtaError> {
        let first = u64::from(offset) / SECTOR as u64;
        let sectors = len / SECTOR;
        let mut done = 0;
        while done < sectors {
            let n = (sectors - done).min(MAX_SECTORS_PER_COMMAND);
            let part = match src {
                Source::Bytes(b) => Source::Bytes(&b[done * SECTOR..(done + n) * SECTOR]),
                fill => fill,
            };
            self.write_sectors(first + done as u64, n, part)?;
            done += n;
        }
        self.flush()
    }
}

impl ErrorType for AtaFlash {
    type Error = AtaError;
}

impl ReadNorFlash for AtaFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), AtaError> {
        check_read(self, offset, bytes.len())?;
        let mut pos = offset as usize;
        let mut out = bytes;
        let mut buf = [0u8; SECTOR];
        while !out.is_empty() {
            let lba = (pos / SECTOR) as u64;
            let within = pos % SECTOR;
            if within == 0 && out.len() >= SECTOR {
                let n = (out.len() / SECTOR).min(MAX_SECTORS_PER_COMMAND);
                let (now, rest) = out.split_at_mut(n * SECTOR);
                self.read_sectors(lba, now)?;
                out = rest;
                pos += n * SECTOR;
            } else {
                self.read_sectors(lba, &mut buf)?;
                let n = (SECTOR - within).min(out.len());
                let (now, rest) = out.split_at_mut(n);
                now.copy_from_slice(&buf[within..within + n]);
                out = rest;
                pos += n;
            }
        }
        Ok(())
    }

    /// Bytes reachable with the trait's 32-bit offsets: the card's size, at most 4 GiB − 4 KiB.
    fn capacity(&self) -> usize {
        let bytes = self.info.sectors.saturating_mul(SECTOR as u64);
        bytes.min(u64::from(u32::MAX) + 1 - 4096) as usize
    }
}

impl NorFlash for AtaFlash {
    const WRITE_SIZE: usize = SECTOR;
    const ERASE_SIZE: usize = SECTOR;

    /// "Erase" writes 0xFF sectors, so the card reads like erased NOR.
    fn erase(&mut self, from: u32, to: u32) -> Result<(), AtaError> {
        check_erase(self, from, to)?;
        self.write_range(from, (to - from) as usize, Source::Fill(0xFF))
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), AtaError> {
        check_write(self, offset, bytes.len())?;
        self.write_range(offset, bytes.len(), Source::Bytes(bytes))
    }
}
