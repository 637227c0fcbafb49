//! An NVMe namespace (QEMU `-device nvme`; any PCI class 01h/08h/02h) as the unit's flash:
//! the admin queue and one I/O queue pair, one command at a time, polled.
//!
//! Reference: NVM Express 1.4 (§3.1 registers, §4 queues, PRPs and completion status, §5
//! admin commands, §6 NVM commands, §7.6.1 initialisation); SeaBIOS `src/hw/nvme.c` is the
//! same shape. The pure parts (entries, status, PRPs, IDENTIFY) are in [`spec`].
//!
//! **Which namespace is the flash.** Namespace 1 of the first NVMe controller in PCI scan
//! order. As for the IDE secondary master and the AHCI port ≥ 1, the whole namespace is the
//! flash from its first block: a unit must not boot from it. Opening resets the controller
//! (CC.EN = 0, then the admin queue, CC.EN = 1, §7.6.1) whatever the BIOS or UEFI left in it,
//! then creates I/O queue 1.
//!
//! As the ATA drivers do, the namespace looks like strict NOR flash to the install logic:
//! erase writes 0xFF blocks, erase and write units are one 512-byte block (writes go through
//! one page, 4 KiB per command; reads go straight to the caller's buffer, up to 128 KiB), and every erase/write ends with FLUSH when the controller has a volatile
//! write cache. Only a format of 512-byte blocks without metadata is driven (QEMU's default);
//! another is refused at open with its LBADS and MS. A failed command carries its status
//! field (SCT/SC decoded); a command that never completes resets the controller.

pub mod spec;
#[cfg(test)]
mod tests;

use core::fmt;
use core::sync::atomic::{fence, Ordering};

use embedded_storage::nor_flash::{
    check_erase, check_read, check_write, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind,
    ReadNorFlash,
};

use super::ata::{dma_barrier, SECTOR};
use crate::cpu;
use crate::net::dma::{Bytes, DmaRegion, Vol};
use crate::pci::{self, command as pci_command, Bdf, Config};
use crate::regs::Mmio;
use crate::timer;
use spec::{reg, Cap, Completion, PAGE};
pub use spec::{NvmeInfo, Status};

/// Entries in each queue (admin and I/O): one command is outstanding at a time, and a queue
/// of two holds one; every controller allows two (CAP.MQES ≥ 1).
const ENTRIES: u32 = 2;
/// The namespace used.
const NSID: u32 = 1;
/// Most bytes per command: 128 KiB, as the ATA drivers move (fewer when MDTS says so).
const MAX_BYTES: usize = 128 << 10;
/// PRP list entries: 128 KiB at an odd page offset spans 33 pages, 32 after PRP1.
const PRP_LIST: usize = MAX_BYTES / PAGE;
/// BAR0 bytes mapped before CAP tells the doorbell stride: the registers and the doorbells
/// at the smallest stride.
const WINDOW: u64 = 0x1010;
/// Longest wait for one command, µs.
const COMMAND_TIMEOUT_US: u64 = 10_000_000;
/// Longest wait for FLUSH, µs.
const FLUSH_TIMEOUT_US: u64 = 30_000_000;

/// An NVMe command, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// IDENTIFY (controller or namespace).
    Identify,
    /// CREATE I/O COMPLETION/SUBMISSION QUEUE.
    CreateQueue,
    /// READ.
    Read,
    /// WRITE.
    Write,
    /// FLUSH.
    Flush,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Identify => "IDENTIFY",
            Op::CreateQueue => "CREATE I/O QUEUE",
            Op::Read => "READ",
            Op::Write => "WRITE",
            Op::Flush => "FLUSH",
        })
    }
}

/// Why the NVMe namespace could not be used or an operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NvmeError {
    /// Offset or length not a multiple of the operation's unit.
    NotAligned,
    /// Beyond the end of the namespace.
    OutOfBounds,
    /// BAR0 is not assigned, or where lifeboat cannot map it (across a GiB boundary, at or
    /// above 128 TiB, or in another GiB than one mapped before).
    Bar(u64),
    /// CAP offers no NVM command set, or no 4 KiB memory page.
    Cap(u64),
    /// CSTS.RDY did not follow CC.EN in CAP.TO, or CSTS.CFS is set.
    NotReady {
        /// CSTS afterwards.
        csts: u32,
    },
    /// Namespace 1 is not active.
    NoNamespace,
    /// The namespace's LBA format in use is not 512-byte blocks without metadata.
    LbaFormat {
        /// log2 of the block size.
        lbads: u8,
        /// Metadata bytes per block.
        ms: u16,
    },
    /// A command completed with an error status, or never (`status` None).
    Command {
        /// The command.
        op: Op,
        /// First block of a READ/WRITE.
        lba: u64,
        /// The completion's status field; `None`: no completion in time.
        status: Option<Status>,
    },
}

impl fmt::Display for NvmeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NvmeError::NotAligned => f.write_str("offset or length not aligned"),
            NvmeError::OutOfBounds => f.write_str("beyond the end of the namespace"),
            NvmeError::Bar(a) => write!(f, "BAR0 {a:#x} cannot be mapped"),
            NvmeError::Cap(c) => write!(f, "CAP {c:#x}: no NVM command set or 4 KiB pages"),
            NvmeError::NotReady { csts } => write!(f, "controller not ready (CSTS {csts:#x})"),
            NvmeError::NoNamespace => f.write_str("namespace 1 is not active"),
            NvmeError::LbaFormat { lbads, ms } => write!(
                f,
                "LBA format of {} bytes + {ms} metadata, not 512 + 0",
                1u64.checked_shl(u32::from(lbads)).unwrap_or(0)
            ),
            NvmeError::Command { op, lba, status } => {
                write!(f, "{op}")?;
                if matches!(op, Op::Read | Op::Write) {
                    write!(f, " at block {lba}")?;
                }
                match status {
                    Some(s) => write!(f, " failed: {s}"),
                    None => f.write_str(" timed out"),
                }
            }
        }
    }
}

impl NorFlashError for NvmeError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            NvmeError::NotAligned => NorFlashErrorKind::NotAligned,
            NvmeError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            _ => NorFlashErrorKind::Other,
        }
    }
}

impl From<NorFlashErrorKind> for NvmeError {
    fn from(kind: NorFlashErrorKind) -> Self {
        match kind {
            NorFlashErrorKind::NotAligned => NvmeError::NotAligned,
            _ => NvmeError::OutOfBounds,
        }
    }
}

/// One page of DMA memory seen as 32-bit words (queues) or 64-bit words (the PRP list).
type Words<const N: usize> = [Vol<u32>; N];

/// The controller's memory, one page each: the erase-fill/bounce/IDENTIFY page, the admin
/// and I/O submission and completion queues, and the PRP list.
#[repr(C, align(4096))]
struct NvmeMemory {
    page: Bytes<PAGE>,
    /// Admin SQ, admin CQ, I/O SQ, I/O CQ.
    queues: [Words<{ PAGE / 4 }>; 4],
    list: [Vol<u64>; PAGE / 8],
}

// SAFETY: NvmeMemory holds only Vols of integers and Bytes, for which all-zero is valid.
static DMA: DmaRegion<NvmeMemory> = unsafe { DmaRegion::zeroed() };

/// Where the data of a command is.
#[derive(Clone, Copy)]
enum Buf {
    /// The caller's buffer at this (dword-aligned) address.
    At(u64),
    /// The page (IDENTIFY, partial reads, every write).
    Page,
}

/// A queue pair's position: the next submission slot and the completion entry expected.
#[derive(Clone, Copy)]
struct Pair {
    tail: u32,
    head: u32,
    phase: bool,
}

impl Pair {
    const NEW: Pair = Pair {
        tail: 0,
        head: 0,
        phase: true,
    };
}

/// The NVMe namespace used as flash.
pub struct NvmeFlash {
    regs: Mmio,
    bdf: Bdf,
    cap: Cap,
    info: NvmeInfo,
    /// Queue 0 (admin) and 1 (I/O).
    pairs: [Pair; 2],
    cid: u16,
    /// A command timed out and the controller was disabled: the next I/O command resets it.
    stopped: bool,
}

/// Find the flash: namespace 1 of the first NVMe controller. `None` when there is no
/// controller; `Some(Err)` when it is there but cannot be driven.
pub fn find() -> Option<Result<NvmeFlash, NvmeError>> {
    // SAFETY: hal is the only user of PCI configuration space; lifeboat is single-threaded.
    let mut cfg = unsafe { Config::new() };
    let ctrl = pci::scan(&mut cfg)
        .only(|i| i.class == 0x01 && i.subclass == 0x08 && i.prog_if == 0x02)
        .next()?;
    // A UEFI firmware may place the 64-bit BAR0 above 4 GiB: then its GiB is mapped.
    let bar = ctrl.bars[0].mem_addr().unwrap_or(0);
    if bar == 0 || !cpu::map_mmio(bar, WINDOW) {
        return Some(Err(NvmeError::Bar(bar)));
    }
    ctrl.enable(
        &mut cfg,
        pci_command::MEMORY_SPACE | pci_command::BUS_MASTER,
    );
    // SAFETY: BAR0 of an NVMe controller holds its registers (§3.1): 0x1000 bytes, then the
    // doorbells of queues 0 and 1 at the stride CAP gives (read through a window of just the
    // first 8 bytes first). Memory decoding was just enabled, identity-mapped uncached (below
    // 4 GiB by the boot chain, above by `map_mmio`), and nothing else drives this controller.
    let first = unsafe { Mmio::new(bar, 8) };
    // Two 32-bit reads of the 64-bit CAP, low half first, as every controller accepts.
    let cap = Cap(u64::from(first.read32(reg::CAP)) | u64::from(first.read32(reg::CAP + 4)) << 32);
    let len = spec::doorbell(1, true, cap.doorbell_stride()) + 4;
    if !cpu::map_mmio(bar, len as u64) {
        return Some(Err(NvmeError::Bar(bar)));
    }
    // SAFETY: as above; the window ends with queue 1's completion doorbell.
    let regs = unsafe { Mmio::new(bar, len) };
    let mut disk = NvmeFlash {
        regs,
        bdf: ctrl.bdf(),
        cap,
        info: NvmeInfo::UNKNOWN,
        pairs: [Pair::NEW; 2],
        cid: 0,
        stopped: false,
    };
    Some(disk.open().map(|()| disk))
}

impl NvmeFlash {
    /// Reset and enable the controller with our admin queue (§7.6.1), IDENTIFY controller
    /// and namespace 1, create I/O completion and submission queue 1.
    fn open(&mut self) -> Result<(), NvmeError> {
        let cap = self.cap;
        if !cap.nvm() || cap.min_page() != PAGE as u64 {
            return Err(NvmeError::Cap(cap.0));
        }
        let mem = DMA.claim().ok_or(NvmeError::NotReady { csts: 0 })?;
        self.reset(&mem)?;
        self.admin(
            &mem,
            spec::admin::IDENTIFY,
            0,
            spec::cns::CONTROLLER,
            Buf::Page,
        )?;
        // SAFETY: the command completed: the controller no longer writes the page.
        self.info
            .controller(unsafe { mem.page.get() }, cap.min_page());
        self.admin(
            &mem,
            spec::admin::IDENTIFY,
            NSID,
            spec::cns::NAMESPACE,
            Buf::Page,
        )?;
        // SAFETY: as above.
        self.info.namespace(unsafe { mem.page.get() })
    }

    /// CC.EN = 0 and wait for CSTS.RDY = 0; the admin queue; CC.EN = 1 and wait for RDY;
    /// then I/O queue pair 1.
    fn reset(&mut self, mem: &NvmeMemory) -> Result<(), NvmeError> {
        self.regs.write32(reg::CC, 0);
        self.ready(false)?;
        // No completion entry may carry the phase tag of a new one (submission entries are
        // written whole before use).
        for w in mem.queues[1].iter().chain(&mem.queues[3]) {
            w.set(0);
        }
        self.pairs = [Pair::NEW; 2];
        self.regs
            .write32(reg::AQA, (ENTRIES - 1) << 16 | (ENTRIES - 1));
        for (r, q) in [(reg::ASQ, 0), (reg::ACQ, 1)] {
            let a = mem.queues[q].as_ptr() as u64;
            self.regs.write32(r, a as u32);
            self.regs.write32(r + 4, (a >> 32) as u32);
        }
        self.regs.write32(reg::CC, spec::CC_ENABLE);
        self.ready(true)?;
        // The completion queue first, then the submission queue that posts to it (§5.4).
        for (cq, q) in [(None, 3), (Some(1), 2)] {
            let op = if cq.is_none() {
                spec::admin::CREATE_CQ
            } else {
                spec::admin::CREATE_SQ
            };
            let addr = mem.queues[q].as_ptr() as u64;
            let cdw = spec::create_queue_cdw(1, ENTRIES, cq);
            self.submit(mem, 0, op, 0, (addr, 0), cdw, Op::CreateQueue, 0)?;
        }
        self.stopped = false;
        Ok(())
    }

    /// Wait for CSTS.RDY to become `on` (up to CAP.TO); CFS is an error at once.
    fn ready(&self, on: bool) -> Result<(), NvmeError> {
        let mut csts = 0;
        let ok = timer::poll_until(self.cap.timeout_ms() * 1000, || {
            csts = self.regs.read32(reg::CSTS);
            csts & spec::CSTS_CFS != 0 || (csts & spec::CSTS_RDY != 0) == on
        });
        if ok && csts & spec::CSTS_CFS == 0 {
            Ok(())
        } else {
            Err(NvmeError::NotReady { csts })
        }
    }

    /// What IDENTIFY said.
    pub fn info(&self) -> &NvmeInfo {
        &self.info
    }

    /// The controller's PCI address.
    pub fn bdf(&self) -> Bdf {
        self.bdf
    }

    /// An admin command with CDW10 = `cdw10` (IDENTIFY's CNS) on namespace `nsid`.
    fn admin(
        &mut self,
        mem: &NvmeMemory,
        opcode: u8,
        nsid: u32,
        cdw10: u32,
        buf: Buf,
    ) -> Result<(), NvmeError> {
        let prp = self.prp(mem, buf, PAGE)?;
        self.submit(mem, 0, opcode, nsid, prp, [cdw10, 0, 0], Op::Identify, 0)
    }

    /// PRP1/PRP2 for `len` bytes of `buf`.
    fn prp(&self, mem: &NvmeMemory, buf: Buf, len: usize) -> Result<(u64, u64), NvmeError> {
        let page = core::ptr::from_ref(&mem.page) as u64;
        let addr = match buf {
            Buf::At(a) => a,
            Buf::Page => page,
        };
        let list = mem.list.as_ptr() as u64;
        spec::prps(addr, len, list, PRP_LIST, |i, v| mem.list[i].set(v))
            .ok_or(NvmeError::NotAligned)
    }

    /// Put one command in queue `qid`, ring its doorbell and poll its completion queue. A
    /// completion with a non-zero status (or for another command) is an error carrying the
    /// status; no completion in time resets the controller (the command may still be
    /// running) and is an error.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn submit(
        &mut self,
        mem: &NvmeMemory,
        qid: u16,
        opcode: u8,
        nsid: u32,
        prp: (u64, u64),
        cdw: [u32; 3],
        op: Op,
        lba: u64,
    ) -> Result<(), NvmeError> {
        if qid != 0 && self.stopped {
            self.reset(mem)?;
        }
        let q = usize::from(qid);
        let stride = self.cap.doorbell_stride();
        self.cid = self.cid.wrapping_add(1);
        let cid = self.cid;
        let Pair { tail, head, phase } = self.pairs[q];
        let sq = &mem.queues[2 * q];
        let cq = &mem.queues[2 * q + 1];
        let at = tail as usize * spec::SQE / 4;
        for (w, v) in sq[at..]
            .iter()
            .zip(spec::command(opcode, cid, nsid, prp, cdw))
        {
            w.set(v);
        }
        // The entry, the PRP list and (for writes) the data are in memory before the doorbell.
        dma_barrier(prp.0);
        fence(Ordering::SeqCst);
        let tail = (tail + 1) % ENTRIES;
        self.pairs[q].tail = tail;
        self.regs.write32(spec::doorbell(qid, false, stride), tail);
        let dw3 = &cq[head as usize * spec::CQE / 4 + 3];
        let limit = if op == Op::Flush {
            FLUSH_TIMEOUT_US
        } else {
            COMMAND_TIMEOUT_US
        };
        let done = timer::poll_until(limit, || Completion(dw3.get()).phase() == phase);
        // What the controller wrote is seen by every read after this.
        fence(Ordering::SeqCst);
        dma_barrier(prp.0);
        if !done {
            // Stop the controller before its memory is used again; the next I/O command
            // resets it (a command of `reset` itself is not retried).
            self.regs.write32(reg::CC, 0);
            self.stopped = true;
            return Err(NvmeError::Command {
                op,
                lba,
                status: None,
            });
        }
        let c = Completion(dw3.get());
        let head = (head + 1) % ENTRIES;
        self.pairs[q].head = head;
        if head == 0 {
            self.pairs[q].phase = !phase;
        }
        self.regs.write32(spec::doorbell(qid, true, stride), head);
        let status = c.status();
        if status.0 != 0 || c.cid() != cid {
            return Err(NvmeError::Command {
                op,
                lba,
                status: Some(status),
            });
        }
        Ok(())
    }

    /// READ or WRITE of `blocks` blocks at `lba`, then nothing else.
    fn rw(
        &mut self,
        mem: &NvmeMemory,
        write: bool,
        lba: u64,
        blocks: usize,
        buf: Buf,
    ) -> Result<(), NvmeError> {
        let prp = self.prp(mem, buf, blocks * SECTOR)?;
        let (opcode, op) = if write {
            (spec::nvm::WRITE, Op::Write)
        } else {
            (spec::nvm::READ, Op::Read)
        };
        let cdw = spec::rw_cdw(lba, blocks as u16);
        self.submit(mem, 1, opcode, NSID, prp, cdw, op, lba)
    }

    /// Bytes per command: 128 KiB, or MDTS if smaller.
    fn chunk(&self) -> usize {
        match self.info.max_transfer {
            0 => MAX_BYTES,
            m => (m as usize).clamp(PAGE, MAX_BYTES),
        }
    }
}

impl ErrorType for NvmeFlash {
    type Error = NvmeError;
}

impl ReadNorFlash for NvmeFlash {
    const READ_SIZE: usize = 1;

    /// Whole blocks into a dword-aligned buffer directly; the rest through the page.
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), NvmeError> {
        check_read(self, offset, bytes.len())?;
        let mem = DMA.claim().ok_or(NvmeError::NotReady { csts: 0 })?;
        let mut pos = offset as usize;
        let mut out = bytes;
        while !out.is_empty() {
            let lba = (pos / SECTOR) as u64;
            let within = pos % SECTOR;
            let n;
            if within == 0 && out.len() >= SECTOR && (out.as_ptr() as usize).is_multiple_of(4) {
                n = (out.len() / SECTOR * SECTOR).min(self.chunk());
                // The address is exposed to the controller only until `rw` returns, while
                // `out` is borrowed here.
                let at = Buf::At(out.as_mut_ptr() as u64);
                self.rw(&mem, false, lba, n / SECTOR, at)?;
            } else {
                let blocks = (within + out.len()).div_ceil(SECTOR).min(PAGE / SECTOR);
                n = (blocks * SECTOR - within).min(out.len());
                self.rw(&mem, false, lba, blocks, Buf::Page)?;
                // SAFETY: the command completed: the controller no longer writes the page.
                let page = unsafe { mem.page.get() };
                out[..n].copy_from_slice(&page[within..within + n]);
            }
            out = &mut out[n..];
            pos += n;
        }
        Ok(())
    }

    /// Bytes reachable with the trait's 32-bit offsets: the namespace's size, at most
    /// 4 GiB − 4 KiB.
    fn capacity(&self) -> usize {
        let bytes = self.info.blocks.saturating_mul(SECTOR as u64);
        bytes.min(u64::from(u32::MAX) + 1 - 4096) as usize
    }
}

impl NorFlash for NvmeFlash {
    const WRITE_SIZE: usize = SECTOR;
    const ERASE_SIZE: usize = SECTOR;

    /// "Erase" writes 0xFF blocks.
    fn erase(&mut self, from: u32, to: u32) -> Result<(), NvmeError> {
        check_erase(self, from, to)?;
        self.put(from, (to - from) as usize, None)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), NvmeError> {
        check_write(self, offset, bytes.len())?;
        self.put(offset, bytes.len(), Some(bytes))
    }
}

impl NvmeFlash {
    /// Write `len` bytes (whole blocks) at `offset` from `src`, or 0xFF (erase) when `src` is
    /// `None`, a page at a time through the page (the caller's buffer may be at any address;
    /// the page costs one command per 4 KiB and saves a second path). Then FLUSH when the
    /// controller has a volatile write cache.
    #[inline(never)]
    fn put(&mut self, offset: u32, len: usize, src: Option<&[u8]>) -> Result<(), NvmeError> {
        let mem = DMA.claim().ok_or(NvmeError::NotReady { csts: 0 })?;
        let mut done = 0;
        while done < len {
            let n = (len - done).min(PAGE);
            // SAFETY: no command is running: the controller does not read the page meanwhile,
            // and this is the only slice of it.
            let page = unsafe { mem.page.get_mut() };
            match src {
                Some(b) => page[..n].copy_from_slice(&b[done..done + n]),
                None => page[..n].fill(0xFF),
            }
            let lba = (offset as usize + done) / SECTOR;
            self.rw(&mem, true, lba as u64, n / SECTOR, Buf::Page)?;
            done += n;
        }
        if self.info.flush {
            let cdw = [0; 3];
            self.submit(&mem, 1, spec::nvm::FLUSH, NSID, (0, 0), cdw, Op::Flush, 0)?;
        }
        Ok(())
    }
}
