//! A SATA disk behind an AHCI controller (QEMU q35's ICH9, 8086:2922; any PCI class 01h/06h/01h)
//! as the unit's flash: DMA through the port's command list, one command at a time, polled.
//!
//! Reference: Serial ATA AHCI 1.3.1 (§3 registers, §4.2 command list, received FIS and command
//! table, §5.5 issuing a command, §6.2.2 error recovery, §10.3 starting and stopping a port);
//! the commands are those of ATA8-ACS (IDENTIFY DEVICE, READ/WRITE DMA EXT, FLUSH CACHE EXT),
//! sent as a Register Host-to-Device FIS (SATA 3.x §10.5.5). IDENTIFY is decoded by the ATA
//! driver's [`AtaInfo`].
//!
//! **Which disk is the flash.** The unit boots from its own disk, which on an AHCI board is
//! the disk on **port 0** (q35: `-drive if=ide,index=0`, the default `if=ide` drive); the
//! flash is, by rule, the ATA disk on the lowest-numbered implemented port **≥ 1** (QEMU:
//! `-drive if=ide,index=N` with N ≥ 1, or `-device ide-hd,bus=ide.N`). Ports whose device is
//! not an ATA disk (QEMU's default CD-ROM is ATAPI) are passed over. The driver never touches
//! port 0, so the boot disk cannot be written whatever it holds. Restriction, as for the IDE
//! secondary master: a unit must not boot from a port ≥ 1. No HBA reset is done (it would
//! reset port 0 under the BIOS's feet): the chosen port alone is stopped, pointed at our
//! memory and started (§10.3.1), whatever the BIOS left in it.
//!
//! As the IDE driver does, the disk looks like strict NOR flash to the install logic: erase
//! writes 0xFF sectors, erase and write units are one 512-byte sector, and every erase/write
//! ends with FLUSH CACHE EXT (when IDENTIFY offers it). Only 48-bit disks are driven (every
//! SATA disk is one). Errors carry the port's PxIS, PxTFD and PxSERR; the port is restarted
//! after one (§6.2.2.1).

use core::fmt;
use core::sync::atomic::{fence, Ordering};

use embedded_storage::nor_flash::{
    check_erase, check_read, check_write, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind,
    ReadNorFlash,
};

use super::ata::{self, command, At, AtaError, AtaInfo, Op, SECTOR};
use crate::net::dma::{Bytes, DmaRegion, Vol};
use crate::pci::{self, command as pci_command, Config};
use crate::regs::Mmio;
use crate::timer;

/// Port register offsets from the port's base, ABAR + 0x100 + 0x80 × port (§3.3).
pub mod port {
    /// Command List Base Address (1 KiB aligned), and its upper half.
    pub const CLB: usize = 0x00;
    /// Command List Base Address Upper 32 bits.
    pub const CLBU: usize = 0x04;
    /// FIS Base Address (256-byte aligned).
    pub const FB: usize = 0x08;
    /// FIS Base Address Upper 32 bits.
    pub const FBU: usize = 0x0C;
    /// Interrupt Status (write 1 to clear).
    pub const IS: usize = 0x10;
    /// Command and Status.
    pub const CMD: usize = 0x18;
    /// Task File Data: status (7:0) and error (15:8) of the device.
    pub const TFD: usize = 0x20;
    /// Signature of the attached device.
    pub const SIG: usize = 0x24;
    /// SATA Status: DET (3:0) = 3 when a device is present and communicating.
    pub const SSTS: usize = 0x28;
    /// SATA Error (write 1 to clear).
    pub const SERR: usize = 0x30;
    /// Command Issue: bit n set = slot n issued; the HBA clears it when done.
    pub const CI: usize = 0x38;
}

/// PxCMD bits (§3.3.7).
pub mod cmd {
    /// Start: the HBA processes the command list.
    pub const ST: u32 = 1 << 0;
    /// Spin-Up Device.
    pub const SUD: u32 = 1 << 1;
    /// Power On Device.
    pub const POD: u32 = 1 << 2;
    /// FIS Receive Enable.
    pub const FRE: u32 = 1 << 4;
    /// FIS Receive Running.
    pub const FR: u32 = 1 << 14;
    /// Command List Running.
    pub const CR: u32 = 1 << 15;
}

/// GHC (ABAR + 4): AHCI Enable (§3.1.2).
const GHC: usize = 0x04;
const GHC_AE: u32 = 1 << 31;
/// PI (ABAR + 0x0C): ports implemented (§3.1.4).
const PI: usize = 0x0C;
/// PxIS error bits: task file (30), host bus fatal (29), host bus data (28), interface fatal
/// (27), interface non-fatal (26), overflow (24) (§3.3.5).
pub const IS_ERRORS: u32 = 0x7D00_0000;
/// PxSIG of an ATA disk (ATAPI is 0xEB14_0101).
pub const SIG_ATA: u32 = 0x0000_0101;
/// PxTFD status bits: BSY, DRQ, ERR (DF is bit 5).
const TFD_BUSY: u32 = 0x88;
const TFD_ERR: u32 = 0x21;

/// Sectors per command: 128 KiB, as the IDE driver moves (the count field allows 65,536).
const MAX_SECTORS: usize = 256;
/// The page that holds erase fill and bounce data (buffers at odd addresses, partial sectors).
const PAGE: usize = 4096;
/// PRDT entries: a 128 KiB fill of the 4 KiB page needs 32.
const PRD_ENTRIES: usize = MAX_SECTORS * SECTOR / PAGE;

/// Longest wait for one command, µs (a disk may spin up).
const COMMAND_TIMEOUT_US: u64 = 10_000_000;
/// Longest wait for FLUSH CACHE EXT, µs.
const FLUSH_TIMEOUT_US: u64 = 30_000_000;
/// Longest wait for the port to stop or start (§10.3.2 allows 500 ms), µs.
const PORT_TIMEOUT_US: u64 = 500_000;

/// The Register Host-to-Device FIS (type 0x27, C bit set) of an LBA48 command on `count`
/// sectors at `lba` (SATA 3.x §10.5.5), as the five dwords of the command table's CFIS.
pub fn h2d_fis(command: u8, lba: u64, count: u16) -> [u32; 5] {
    [
        0x27 | 0x80 << 8 | u32::from(command) << 16,
        (lba as u32 & 0xFF_FFFF) | 0x40 << 24, // device: LBA mode
        (lba >> 24) as u32 & 0xFF_FFFF,
        u32::from(count),
        0,
    ]
}

/// Dword 0 of a command header (§4.2.2): CFL = 5 (the FIS's dwords), W for a write, PRDTL.
pub fn header_dw0(write: bool, prdt_entries: usize) -> u32 {
    5 | u32::from(write) << 6 | (prdt_entries as u32) << 16
}

/// A PRDT entry (§4.2.3.3): data base address, and the byte count − 1 in bits 21:0 (`len`
/// must be even and at most 4 MiB; no interrupt on completion).
pub fn prd_entry(addr: u64, len: usize) -> [u32; 4] {
    [
        addr as u32,
        (addr >> 32) as u32,
        0,
        (len as u32 - 1) & 0x3F_FFFF,
    ]
}

/// Why the AHCI disk could not be used or an operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AhciError {
    /// Offset or length not a multiple of the operation's unit.
    NotAligned,
    /// Beyond the end of the disk.
    OutOfBounds,
    /// IDENTIFY DEVICE data the driver cannot use.
    Identify(AtaError),
    /// The disk has no 48-bit addressing.
    NoLba48,
    /// The port did not stop or start in time (PxCMD).
    Port(u32),
    /// A command failed or timed out: the port's registers afterwards.
    Command {
        /// The command.
        op: Op,
        /// First sector of the command.
        lba: u64,
        /// PxIS.
        is: u32,
        /// PxTFD: status (7:0), error (15:8).
        tfd: u32,
        /// PxSERR.
        serr: u32,
    },
}

impl fmt::Display for AhciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AhciError::NotAligned => f.write_str("offset or length not aligned"),
            AhciError::OutOfBounds => f.write_str("beyond the end of the disk"),
            AhciError::Identify(e) => write!(f, "{e}"),
            AhciError::NoLba48 => f.write_str("the disk has no 48-bit addressing"),
            AhciError::Port(c) => write!(f, "the port does not start or stop (PxCMD {c:#x})"),
            AhciError::Command {
                op,
                lba,
                is,
                tfd,
                serr,
            } => {
                let ext = if op == Op::Identify { "" } else { " EXT" };
                write!(
                    f,
                    "{op}{ext}{} failed (PxIS {is:#x}, PxTFD {tfd:#x}, PxSERR {serr:#x})",
                    At(op, lba)
                )
            }
        }
    }
}

impl NorFlashError for AhciError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            AhciError::NotAligned => NorFlashErrorKind::NotAligned,
            AhciError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            _ => NorFlashErrorKind::Other,
        }
    }
}

impl From<NorFlashErrorKind> for AhciError {
    fn from(kind: NorFlashErrorKind) -> Self {
        match kind {
            NorFlashErrorKind::NotAligned => AhciError::NotAligned,
            _ => AhciError::OutOfBounds,
        }
    }
}

/// The port's memory: the page, the command list (only slot 0 is issued, but the HBA may
/// assume 32 headers), the received-FIS area and slot 0's command table. Page-aligned; every
/// part at its required alignment (list 1 KiB, FIS 256 bytes, table 128 bytes).
#[repr(C, align(4096))]
struct AhciMemory {
    page: Bytes<PAGE>,
    list: [Vol<u32>; 256],
    fis: [Vol<u32>; 64],
    /// Command FIS (64 bytes), ATAPI command (16) and reserved (48): 0x80 bytes.
    cfis: [Vol<u32>; 32],
    prdt: [[Vol<u32>; 4]; PRD_ENTRIES],
}

// SAFETY: AhciMemory holds only Vols of integers and Bytes, for which all-zero is valid.
static DMA: DmaRegion<AhciMemory> = unsafe { DmaRegion::zeroed() };

/// Where the data of a command is.
#[derive(Clone, Copy)]
enum Buf {
    /// The caller's buffer at this (even) address.
    At(u64),
    /// The page, repeated as often as the command needs (fill or bounce).
    Page,
}

/// The flash disk on an AHCI port ≥ 1.
pub struct AhciFlash {
    port: Mmio,
    index: u8,
    info: AtaInfo,
}

/// Find the flash disk: the first ATA disk on an AHCI port ≥ 1 of the first AHCI controller.
/// `None` when there is none; `Some(Err)` when it is there but cannot be driven.
pub fn find() -> Option<Result<AhciFlash, AhciError>> {
    // SAFETY: hal is the only user of PCI configuration space; lifeboat is single-threaded.
    let mut cfg = unsafe { Config::new() };
    let hba = pci::scan(&mut cfg)
        .only(|i| i.class == 0x01 && i.subclass == 0x06 && i.prog_if == 0x01)
        .next()?;
    // No ABAR below 4 GiB (the BIOS assigns it) is no flash either.
    let abar = hba.bars[5].mem_addr().filter(|&a| a < 1 << 32)?;
    hba.enable(
        &mut cfg,
        pci_command::MEMORY_SPACE | pci_command::BUS_MASTER,
    );
    // SAFETY: ABAR (BAR5) of the AHCI controller starts with its 0x100 bytes of generic host
    // control (AHCI §3.1), memory decoding was just enabled, below 4 GiB (identity-mapped
    // uncached); only GHC and PI are used, and nothing else in lifeboat drives this HBA.
    let ghc = unsafe { Mmio::new(abar, 0x100) };
    ghc.write32(GHC, ghc.read32(GHC) | GHC_AE);
    let implemented = ghc.read32(PI);
    for index in 1..32u8 {
        if implemented & 1 << index == 0 {
            continue;
        }
        // SAFETY: port `index` is implemented (PI), so its 0x80 registers are inside ABAR
        // (§3.3); port 0, the boot disk's, is never mapped.
        let port = unsafe { Mmio::new(abar + 0x100 + 0x80 * u64::from(index), 0x80) };
        let mut disk = AhciFlash {
            port,
            index,
            info: AtaInfo::UNKNOWN,
        };
        if disk.r(port::SSTS) & 0xF == 3 && disk.r(port::SIG) == SIG_ATA {
            return Some(disk.open().map(|()| disk));
        }
    }
    None
}

impl AhciFlash {
    /// Stop the port, point it at our memory, start it, IDENTIFY the disk.
    fn open(&mut self) -> Result<(), AhciError> {
        self.stop()?;
        let mem = DMA.claim().ok_or(AhciError::Port(0))?;
        let list = mem.list.as_ptr() as u64;
        let fis = mem.fis.as_ptr() as u64;
        self.w(port::CLB, list as u32);
        self.w(port::CLBU, (list >> 32) as u32);
        self.w(port::FB, fis as u32);
        self.w(port::FBU, (fis >> 32) as u32);
        self.start();
        self.run(&mem, Op::Identify, 0, 1, Buf::Page)?;
        // SAFETY: the command completed: the HBA no longer writes the page. The page is the
        // first field of the page-aligned AhciMemory, so 2-aligned; the 256 little-endian
        // words of IDENTIFY data are its first 512 bytes, and any bits are a valid u16.
        let words = unsafe { &*(mem.page.get() as *const [u8; PAGE]).cast::<[u16; 256]>() };
        self.info = AtaInfo::parse(words).map_err(AhciError::Identify)?;
        if !self.info.lba48 {
            return Err(AhciError::NoLba48);
        }
        Ok(())
    }

    /// A port register (one bounds-checked access for the whole driver).
    #[inline(never)]
    fn r(&self, reg: usize) -> u32 {
        self.port.read32(reg)
    }

    /// Write a port register.
    #[inline(never)]
    fn w(&self, reg: usize, value: u32) {
        self.port.write32(reg, value)
    }

    /// Wait up to `limit_us` until `mask` is clear in register `reg` or PxIS shows an error
    /// in `errors`; true unless the time ran out.
    #[inline(never)]
    fn wait(&self, limit_us: u64, reg: usize, mask: u32, errors: u32) -> bool {
        timer::poll_until(limit_us, || {
            self.r(reg) & mask == 0 || self.r(port::IS) & errors != 0
        })
    }

    /// Clear `bits` in PxCMD and wait up to 500 ms for the `running` bits to clear.
    fn halt(&self, bits: u32, running: u32) -> Result<(), AhciError> {
        self.w(port::CMD, self.r(port::CMD) & !bits);
        if self.wait(PORT_TIMEOUT_US, port::CMD, running, 0) {
            Ok(())
        } else {
            Err(AhciError::Port(self.r(port::CMD)))
        }
    }

    /// Clear ST and FRE and wait until the HBA has stopped both (§10.3.2).
    fn stop(&self) -> Result<(), AhciError> {
        self.halt(cmd::ST | cmd::FRE, cmd::CR | cmd::FR)
    }

    /// Clear the errors, enable FIS receive, wait for the device to be idle, set ST (§10.3.1).
    #[inline(never)]
    fn start(&self) {
        self.w(port::SERR, u32::MAX);
        self.w(port::IS, u32::MAX);
        let c = self.r(port::CMD) | cmd::SUD | cmd::POD | cmd::FRE;
        self.w(port::CMD, c);
        self.wait(PORT_TIMEOUT_US, port::TFD, TFD_BUSY, 0);
        self.w(port::CMD, c | cmd::ST);
    }

    /// What IDENTIFY said.
    pub fn info(&self) -> &AtaInfo {
        &self.info
    }

    /// The port the disk is on.
    pub fn port_index(&self) -> u8 {
        self.index
    }

    /// One command in slot 0 (§5.5): `count` sectors at `lba` to or from `buf`; polled until
    /// PxCI clears or PxIS reports an error. After an error the port is restarted (§6.2.2.1)
    /// and the error carries PxIS, PxTFD and PxSERR as they were.
    fn run(
        &self,
        mem: &AhciMemory,
        op: Op,
        lba: u64,
        count: usize,
        buf: Buf,
    ) -> Result<(), AhciError> {
        let bytes = count * SECTOR;
        let (addr, step) = match buf {
            Buf::At(a) => (a, bytes),
            Buf::Page => (core::ptr::from_ref(&mem.page) as u64, PAGE),
        };
        let n = bytes.div_ceil(step);
        for (i, e) in mem.prdt.iter().take(n).enumerate() {
            let len = (bytes - i * step).min(step);
            for (w, v) in e.iter().zip(prd_entry(addr, len)) {
                w.set(v);
            }
        }
        let code = match op {
            Op::Identify => command::IDENTIFY,
            Op::ReadDma => command::READ_DMA_EXT,
            Op::WriteDma => command::WRITE_DMA_EXT,
            _ => command::FLUSH_CACHE_EXT,
        };
        let table = mem.cfis.as_ptr() as u64;
        mem.list[0].set(header_dw0(op == Op::WriteDma, n));
        mem.list[1].set(0);
        mem.list[2].set(table as u32);
        mem.list[3].set((table >> 32) as u32);
        let count = if op == Op::ReadDma || op == Op::WriteDma {
            count as u16
        } else {
            0
        };
        for (w, v) in mem.cfis.iter().zip(h2d_fis(code, lba, count)) {
            w.set(v);
        }
        // The table and (for writes) the data are in memory before the HBA looks.
        ata::dma_barrier(addr);
        fence(Ordering::SeqCst);
        self.w(port::IS, u32::MAX);
        self.w(port::CI, 1);
        let limit = if op == Op::Flush {
            FLUSH_TIMEOUT_US
        } else {
            COMMAND_TIMEOUT_US
        };
        let done = self.wait(limit, port::CI, 1, IS_ERRORS);
        // What the HBA wrote is seen by every read after this.
        fence(Ordering::SeqCst);
        ata::dma_barrier(addr);
        let is = self.r(port::IS);
        let tfd = self.r(port::TFD);
        if done && is & IS_ERRORS == 0 && tfd & TFD_ERR == 0 {
            return Ok(());
        }
        let serr = self.r(port::SERR);
        // Recovery (§6.2.2.1): stop the command list, clear the errors, start again. A
        // failure here shows in the next command.
        let _ = self.halt(cmd::ST, cmd::CR);
        self.start();
        Err(AhciError::Command {
            op,
            lba,
            is,
            tfd,
            serr,
        })
    }

    /// FLUSH CACHE EXT, when the disk offers it.
    fn flush(&self, mem: &AhciMemory) -> Result<(), AhciError> {
        if self.info.flush {
            self.run(mem, Op::Flush, 0, 0, Buf::Page)?;
        }
        Ok(())
    }
}

impl ErrorType for AhciFlash {
    type Error = AhciError;
}

impl ReadNorFlash for AhciFlash {
    const READ_SIZE: usize = 1;

    /// Whole sectors into an even-addressed buffer directly; the rest through the page.
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), AhciError> {
        check_read(self, offset, bytes.len())?;
        let mem = DMA.claim().ok_or(AhciError::Port(0))?;
        let mut pos = offset as usize;
        let mut out = bytes;
        while !out.is_empty() {
            let lba = (pos / SECTOR) as u64;
            let within = pos % SECTOR;
            let n;
            if within == 0 && out.len() >= SECTOR && (out.as_ptr() as usize).is_multiple_of(2) {
                let sectors = (out.len() / SECTOR).min(MAX_SECTORS);
                n = sectors * SECTOR;
                // The address is exposed to the HBA only until `run` returns, while `out`
                // is borrowed here.
                self.run(
                    &mem,
                    Op::ReadDma,
                    lba,
                    sectors,
                    Buf::At(out.as_mut_ptr() as u64),
                )?;
            } else {
                let sectors = (within + out.len()).div_ceil(SECTOR).min(PAGE / SECTOR);
                n = (sectors * SECTOR - within).min(out.len());
                self.run(&mem, Op::ReadDma, lba, sectors, Buf::Page)?;
                // SAFETY: the command completed: the HBA no longer writes the page.
                let page = unsafe { mem.page.get() };
                out[..n].copy_from_slice(&page[within..within + n]);
            }
            out = &mut out[n..];
            pos += n;
        }
        Ok(())
    }

    /// Bytes reachable with the trait's 32-bit offsets: the disk's size, at most 4 GiB − 4 KiB.
    fn capacity(&self) -> usize {
        let bytes = self.info.sectors.saturating_mul(SECTOR as u64);
        bytes.min(u64::from(u32::MAX) + 1 - 4096) as usize
    }
}

impl NorFlash for AhciFlash {
    const WRITE_SIZE: usize = SECTOR;
    const ERASE_SIZE: usize = SECTOR;

    /// "Erase" writes 0xFF sectors (every PRDT entry points at the page of 0xFF).
    fn erase(&mut self, from: u32, to: u32) -> Result<(), AhciError> {
        check_erase(self, from, to)?;
        self.put(from, (to - from) as usize, None)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), AhciError> {
        check_write(self, offset, bytes.len())?;
        self.put(offset, bytes.len(), Some(bytes))
    }
}

impl AhciFlash {
    /// Write `len` bytes (whole sectors) at `offset`: from `src` directly when it is at an even
    /// address, else copied through the page; 0xFF (erase) when `src` is `None`. Then flush.
    #[inline(never)]
    fn put(&mut self, offset: u32, len: usize, src: Option<&[u8]>) -> Result<(), AhciError> {
        let mem = DMA.claim().ok_or(AhciError::Port(0))?;
        // SAFETY: no command is running: the HBA does not read the page meanwhile, and this
        // is the only slice of it.
        let page = unsafe { mem.page.get_mut() };
        page.fill(0xFF);
        let bounce = src.is_some_and(|b| !(b.as_ptr() as usize).is_multiple_of(2));
        let chunk = if bounce { PAGE } else { MAX_SECTORS * SECTOR };
        let mut done = 0;
        while done < len {
            let n = (len - done).min(chunk);
            let buf = match src {
                Some(b) if bounce => {
                    page[..n].copy_from_slice(&b[done..done + n]);
                    Buf::Page
                }
                Some(b) => Buf::At(b[done..].as_ptr() as u64),
                None => Buf::Page,
            };
            let lba = (offset as usize + done) / SECTOR;
            self.run(&mem, Op::WriteDma, lba as u64, n / SECTOR, buf)?;
            done += n;
        }
        self.flush(&mem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_dma_ext_fis_carries_command_lba48_and_count() {
        let f = h2d_fis(command::READ_DMA_EXT, 0x0000_A1B2_C3D4_E5F6, 0x0100);
        let b: Vec<u8> = f.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(&b[..4], &[0x27, 0x80, 0x25, 0x00], "type, C bit, command");
        assert_eq!(
            &b[4..8],
            &[0xF6, 0xE5, 0xD4, 0x40],
            "LBA 23:0, device LBA bit"
        );
        assert_eq!(&b[8..12], &[0xC3, 0xB2, 0xA1, 0x00], "LBA 47:24");
        assert_eq!(
            &b[12..16],
            &[0x00, 0x01, 0x00, 0x00],
            "count 256, ICC, control"
        );
        assert_eq!(&b[16..], &[0; 4]);
        assert_eq!(h2d_fis(command::IDENTIFY, 0, 0)[0], 0x00EC_8027);
    }

    #[test]
    fn command_header_and_prd_entry_fields() {
        // CFL 5 dwords, W for writes, PRDTL in 31:16.
        assert_eq!(header_dw0(false, 1), 0x0001_0005);
        assert_eq!(header_dw0(true, 32), 0x0020_0045);
        assert_eq!(header_dw0(false, 0), 5);
        // DBC is the byte count − 1.
        assert_eq!(prd_entry(0x1234_5000, 512), [0x1234_5000, 0, 0, 511]);
        assert_eq!(prd_entry(0x1_0000_0000, 4 << 20), [0, 1, 0, 0x3F_FFFF]);
    }

    #[test]
    fn a_failed_command_names_sector_and_port_registers_on_one_line() {
        let e = AhciError::Command {
            op: Op::ReadDma,
            lba: 4242,
            is: 0x4000_0001,
            tfd: 0x0441,
            serr: 0,
        };
        assert_eq!(
            e.to_string(),
            "READ DMA EXT at sector 4242 failed (PxIS 0x40000001, PxTFD 0x441, PxSERR 0x0)"
        );
        let t = AhciError::Command {
            op: Op::Flush,
            lba: 0,
            is: 0,
            tfd: 0x80,
            serr: 0,
        };
        assert_eq!(
            t.to_string(),
            "FLUSH CACHE EXT failed (PxIS 0x0, PxTFD 0x80, PxSERR 0x0)"
        );
        assert_eq!(e.kind(), NorFlashErrorKind::Other);
    }
}
