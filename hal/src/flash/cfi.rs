//! Intel/Sharp command-set (CFI primary command set 0x0001) NOR flash on an 8-bit bus, as
//! QEMU's `pflash_cfi01` presents it on the PC: `-drive if=pflash,unit=1,file=F` sits directly
//! below unit 0 (the BIOS), which ends at 4 GiB.
//!
//! References: JEDEC JESD68.01 "Common Flash Interface" (query structure, §4.3.2 system
//! interface, §4.3.3 device geometry); Intel "Common Flash Interface (CFI) and Command Sets"
//! (AP-646) and the Intel 28F128J3 datasheet §9 (command definitions, status register).
//!
//! Finding the chip ([`find`]): the CFI query (0x98) is written to the top 4 KiB below 4 GiB;
//! if "QRY" answers, that is unit 0 and its size comes from its erase-region info; the same
//! query just below it finds unit 1, the flash this driver drives. Only the query (0x98) and
//! read-array (0xFF) commands are written while probing; nothing is programmed or erased.
//!
//! What QEMU 7.2's pflash answers on `pc` and `q35` (checked by `tests/flash.rs`): "QRY" at
//! byte offsets 0x10–0x12, i.e. one CFI byte per address (the PC maps it 8 bits wide, no
//! `device-width`), interface code 0x0002 (x8/x16), a 256-byte write buffer (0x2A = 8),
//! timing bytes 07 07 0A 00 04 04 04 00 (program 128 µs typical / 2 ms max, block erase 1 s /
//! 16 s), and byte 0x27 = log2 of the largest power of two dividing the size (2^18 for
//! 8 MiB − 256 KiB), so the size is taken from erase region 1 instead. With `readonly=on` an
//! erase answers SR 0xA0 (SR.5). Each single-byte program rewrites a sector of the backing
//! file: 4 MiB byte by byte took over 600 s under TCG, through Write to Buffer 3–4 s.
//!
//! Every operation leaves the chip in read-array mode (0xFF written on every exit path), so the
//! flash window reads as memory between calls. The erase-block size is read from the query but
//! the [`NorFlash`] erase unit is the constant [`ERASE_SIZE`] (4 KiB, QEMU's block): a chip
//! whose blocks are larger is refused at [`find`] rather than erased wider than asked.
//! Not [`MultiwriteNorFlash`](embedded_storage::nor_flash::MultiwriteNorFlash): QEMU's pflash
//! overwrites on program instead of AND-ing, so the trait's promise would not hold there.

use core::fmt;

use embedded_storage::nor_flash::{
    check_erase, check_read, check_write, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind,
    ReadNorFlash,
};

use crate::regs::Mmio;
use crate::timer;

/// First byte above the 32-bit physical address space: the PC's BIOS flash ends here.
pub const TOP_OF_4G: u64 = 1 << 32;
/// Bytes of the window written while probing for a query answer (one QEMU erase block).
const PROBE_WINDOW: usize = 4096;
/// The erase unit this driver offers (QEMU's pflash block on the PC).
pub const ERASE_SIZE: usize = 4096;
/// Most bytes in one Write to Buffer: its count is a single byte on an 8-bit bus.
const MAX_BUFFER_WRITE: usize = 256;
/// The largest flash accepted (the window below unit 0 may not reach lower than 3 GiB).
pub const MAX_SIZE: u32 = 256 << 20;

/// Commands, written to an address inside the block they apply to (28F128J3 §9, Table 4).
pub mod cmd {
    /// Read Array: back to reading memory contents.
    pub const READ_ARRAY: u8 = 0xFF;
    /// Read Status Register.
    pub const READ_STATUS: u8 = 0x70;
    /// Clear Status Register (the error bits are sticky until this).
    pub const CLEAR_STATUS: u8 = 0x50;
    /// Block Erase, first cycle.
    pub const BLOCK_ERASE: u8 = 0x20;
    /// Block Erase confirm (second cycle) / Write to Buffer confirm.
    pub const CONFIRM: u8 = 0xD0;
    /// Word/Byte Program, first cycle (0x10 is the alternate code).
    pub const PROGRAM: u8 = 0x40;
    /// Write to Buffer: then the byte count − 1, the data, and [`CONFIRM`].
    pub const WRITE_TO_BUFFER: u8 = 0xE8;
    /// CFI Query.
    pub const CFI_QUERY: u8 = 0x98;
}

/// Status register bits (28F128J3 §9.4, Table 16).
pub mod sr {
    /// SR.7 Write State Machine ready.
    pub const READY: u8 = 1 << 7;
    /// SR.6 erase suspended.
    pub const ERASE_SUSPENDED: u8 = 1 << 6;
    /// SR.5 erase (or clear-lock-bits) error.
    pub const ERASE_ERROR: u8 = 1 << 5;
    /// SR.4 program (or set-lock-bit) error.
    pub const PROGRAM_ERROR: u8 = 1 << 4;
    /// SR.3 VPP low: program/erase aborted for lack of programming voltage.
    pub const VPP_LOW: u8 = 1 << 3;
    /// SR.2 program suspended.
    pub const PROGRAM_SUSPENDED: u8 = 1 << 2;
    /// SR.1 the block is locked: program/erase aborted.
    pub const LOCKED: u8 = 1 << 1;
    /// The bits that mean an operation failed.
    pub const ERRORS: u8 = ERASE_ERROR | PROGRAM_ERROR | VPP_LOW | LOCKED;
}

/// Byte offsets in the CFI query structure (JESD68.01 §4.3), on an 8-bit bus one per address.
pub mod query {
    /// "QRY" (3 bytes).
    pub const QRY: usize = 0x10;
    /// Primary vendor command set, 16-bit little endian (0x0001 = Intel/Sharp extended).
    pub const COMMAND_SET: usize = 0x13;
    /// Typical single byte/word program time, 2^N µs (0 = not supported).
    pub const TYP_WORD_PROGRAM: usize = 0x1F;
    /// Typical buffer write time, 2^N µs (0 = not supported).
    pub const TYP_BUFFER_WRITE: usize = 0x20;
    /// Typical block erase time, 2^N ms.
    pub const TYP_BLOCK_ERASE: usize = 0x21;
    /// Typical chip erase time, 2^N ms (0 = not supported).
    pub const TYP_CHIP_ERASE: usize = 0x22;
    /// Maximum word program time, 2^N times typical.
    pub const MAX_WORD_PROGRAM: usize = 0x23;
    /// Maximum buffer write time, 2^N times typical.
    pub const MAX_BUFFER_WRITE: usize = 0x24;
    /// Maximum block erase time, 2^N times typical.
    pub const MAX_BLOCK_ERASE: usize = 0x25;
    /// Maximum chip erase time, 2^N times typical.
    pub const MAX_CHIP_ERASE: usize = 0x26;
    /// Device size, 2^N bytes (QEMU rounds a non-power-of-two size down here).
    pub const DEVICE_SIZE: usize = 0x27;
    /// Flash device interface code, 16-bit (0 = x8, 1 = x16, 2 = x8/x16).
    pub const INTERFACE: usize = 0x28;
    /// Maximum bytes in a multi-byte (buffer) write, 2^N, 16-bit.
    pub const MAX_BUFFER_BYTES: usize = 0x2A;
    /// Number of erase block regions.
    pub const REGIONS: usize = 0x2C;
    /// Erase block region 1: blocks − 1 (16-bit), then block size / 256 (16-bit).
    pub const REGION1: usize = 0x2D;
    /// Bytes of the query read by the driver (through region 1's info).
    pub const LEN: usize = 0x31;
}

/// The only command set driven here: Intel/Sharp extended (JEP137 ID 0x0001).
pub const INTEL_COMMAND_SET: u16 = 0x0001;

/// How long an operation may take, from the CFI timing bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Typical / maximum single-byte program, µs.
    pub word_program_us: (u64, u64),
    /// Typical / maximum buffer write, µs (0, 0 when buffered writes are not offered).
    pub buffer_write_us: (u64, u64),
    /// Typical / maximum block erase, µs.
    pub block_erase_us: (u64, u64),
}

/// Shortest timeout enforced, µs: a virtual CPU may be descheduled for milliseconds.
const MIN_TIMEOUT_US: u64 = 10_000;
/// Used when the query gives no maximum: generous datasheet-class figures.
const DEFAULT_PROGRAM_US: u64 = 10_000;
const DEFAULT_ERASE_US: u64 = 30_000_000;

impl Timeouts {
    /// Decode query bytes 0x1F–0x26 (`t` indexed from 0x1F).
    fn decode(t: &[u8; 8]) -> Timeouts {
        let pair = |typ: u8, max: u8, unit_us: u64, default: u64| -> (u64, u64) {
            if typ == 0 || typ > 30 {
                return (0, default);
            }
            let typical = unit_us << typ;
            let max = if max == 0 || max > 30 {
                default.max(typical)
            } else {
                typical << max
            };
            (typical, max)
        };
        Timeouts {
            word_program_us: pair(t[0], t[4], 1, DEFAULT_PROGRAM_US),
            buffer_write_us: if t[1] == 0 {
                (0, 0)
            } else {
                pair(t[1], t[5], 1, DEFAULT_PROGRAM_US)
            },
            block_erase_us: pair(t[2], t[6], 1000, DEFAULT_ERASE_US),
        }
    }

    /// The enforced wait for a program.
    pub fn program_limit_us(&self) -> u64 {
        self.word_program_us.1.max(MIN_TIMEOUT_US)
    }

    /// The enforced wait for a buffer write (and for the buffer to become available).
    pub fn buffer_limit_us(&self) -> u64 {
        self.buffer_write_us.1.max(MIN_TIMEOUT_US)
    }

    /// The enforced wait for a block erase.
    pub fn erase_limit_us(&self) -> u64 {
        self.block_erase_us.1.max(MIN_TIMEOUT_US)
    }
}

/// What the CFI query says about the chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CfiInfo {
    /// Primary command set.
    pub command_set: u16,
    /// Bytes, from erase region 1 (blocks × block size).
    pub size: u32,
    /// log2 of the size as byte 0x27 claims it (informational; QEMU rounds it down).
    pub size_log2: u8,
    /// Erase block bytes.
    pub block_size: u32,
    /// Erase blocks.
    pub blocks: u32,
    /// Write buffer bytes (0 when the chip has no buffered write).
    pub buffer_bytes: u32,
    /// Device interface code (0 = x8, 1 = x16, 2 = x8/x16).
    pub interface: u16,
    /// Operation times.
    pub timeouts: Timeouts,
}

impl CfiInfo {
    /// Decode the first [`query::LEN`] bytes of a query answer (byte `n` = CFI address `n`).
    pub fn parse(q: &[u8]) -> Result<CfiInfo, CfiError> {
        let q = q.get(..query::LEN).ok_or(CfiError::NoQueryAnswer)?;
        if &q[query::QRY..query::QRY + 3] != b"QRY" {
            return Err(CfiError::NoQueryAnswer);
        }
        let u16_at = |i: usize| u16::from(q[i]) | u16::from(q[i + 1]) << 8;
        let command_set = u16_at(query::COMMAND_SET);
        if command_set != INTEL_COMMAND_SET {
            return Err(CfiError::UnsupportedCommandSet(command_set));
        }
        if q[query::REGIONS] != 1 {
            return Err(CfiError::UnsupportedGeometry {
                regions: q[query::REGIONS],
                block_size: 0,
            });
        }
        let blocks = u32::from(u16_at(query::REGION1)) + 1;
        // Region block size is given in units of 256 bytes; 0 means 128 bytes (JESD68.01).
        let block_size = match u32::from(u16_at(query::REGION1 + 2)) {
            0 => 128,
            n => n * 256,
        };
        let size = blocks
            .checked_mul(block_size)
            .filter(|&s| s <= MAX_SIZE)
            .ok_or(CfiError::UnsupportedGeometry {
                regions: 1,
                block_size,
            })?;
        let buffer_log2 = u16_at(query::MAX_BUFFER_BYTES);
        let mut timing = [0u8; 8];
        timing.copy_from_slice(&q[query::TYP_WORD_PROGRAM..query::TYP_WORD_PROGRAM + 8]);
        Ok(CfiInfo {
            command_set,
            size,
            size_log2: q[query::DEVICE_SIZE],
            block_size,
            blocks,
            buffer_bytes: if buffer_log2 == 0 || buffer_log2 > 16 {
                0
            } else {
                1 << buffer_log2
            },
            interface: u16_at(query::INTERFACE),
            timeouts: Timeouts::decode(&timing),
        })
    }
}

/// The status register, displayed by its set error bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub u8);

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        write!(f, "SR {s:#04x}")?;
        let mut bits: [&str; 5] = [""; 5];
        let mut n = 0;
        let mut add = |text| {
            bits[n] = text;
            n += 1;
        };
        if s & sr::READY == 0 {
            add("busy");
        }
        if s & (sr::ERASE_ERROR | sr::PROGRAM_ERROR) == sr::ERASE_ERROR | sr::PROGRAM_ERROR {
            add("SR.5+SR.4 improper command sequence");
        } else if s & sr::ERASE_ERROR != 0 {
            add("SR.5 erase error");
        } else if s & sr::PROGRAM_ERROR != 0 {
            add("SR.4 program error");
        }
        if s & sr::VPP_LOW != 0 {
            add("SR.3 VPP low");
        }
        if s & sr::LOCKED != 0 {
            add("SR.1 block locked");
        }
        for (i, text) in bits[..n].iter().enumerate() {
            write!(f, "{}{text}", if i == 0 { ": " } else { ", " })?;
        }
        Ok(())
    }
}

/// A flash operation, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Block erase.
    Erase,
    /// Byte program.
    Program,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Erase => "erase",
            Op::Program => "program",
        })
    }
}

/// Why the CFI flash could not be found or an operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CfiError {
    /// Offset or length not a multiple of the operation's unit.
    NotAligned,
    /// Beyond the end of the flash.
    OutOfBounds,
    /// No "QRY" answer to the CFI query.
    NoQueryAnswer,
    /// The chip speaks another command set (e.g. 0x0002, AMD/Fujitsu).
    UnsupportedCommandSet(u16),
    /// The query answered at a 16- or 32-bit stride: only an 8-bit bus is driven.
    UnsupportedBusWidth(u8),
    /// Several erase regions, blocks larger than [`ERASE_SIZE`], or a chip over [`MAX_SIZE`].
    UnsupportedGeometry {
        /// Erase regions in the query.
        regions: u8,
        /// Region 1's block size.
        block_size: u32,
    },
    /// SR.7 stayed clear longer than the CFI maximum time.
    Timeout {
        /// What was waited for.
        op: Op,
        /// Flash offset of the operation.
        offset: u32,
        /// Last status read.
        status: Status,
        /// The limit, µs.
        limit_us: u64,
    },
    /// The chip reported an error in the status register.
    Device {
        /// What failed.
        op: Op,
        /// Flash offset of the operation.
        offset: u32,
        /// The status register.
        status: Status,
    },
    /// The read-back after an operation differs from what was asked for.
    Verify {
        /// What was checked.
        op: Op,
        /// Flash offset of the first differing byte.
        offset: u32,
        /// The byte expected.
        expected: u8,
        /// The byte read.
        found: u8,
    },
}

impl fmt::Display for CfiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CfiError::NotAligned => f.write_str("offset or length not aligned"),
            CfiError::OutOfBounds => f.write_str("beyond the end of the flash"),
            CfiError::NoQueryAnswer => f.write_str("no CFI query answer"),
            CfiError::UnsupportedCommandSet(set) => {
                write!(f, "CFI command set {set:#06x} is not Intel/Sharp (0x0001)")
            }
            CfiError::UnsupportedBusWidth(bytes) => {
                write!(
                    f,
                    "CFI flash on a {}-bit bus (only 8-bit is driven)",
                    u32::from(bytes) * 8
                )
            }
            CfiError::UnsupportedGeometry {
                regions,
                block_size,
            } => write!(
                f,
                "unsupported CFI geometry ({regions} erase regions, {block_size}-byte blocks)"
            ),
            CfiError::Timeout {
                op,
                offset,
                status,
                limit_us,
            } => write!(
                f,
                "{op} at {offset:#010x} timed out after {} ms ({status})",
                limit_us.div_ceil(1000)
            ),
            CfiError::Device { op, offset, status } => {
                write!(f, "{op} failed at {offset:#010x} ({status})")
            }
            CfiError::Verify {
                op,
                offset,
                expected,
                found,
            } => write!(
                f,
                "{op} verify failed at {offset:#010x}: wrote {expected:#04x}, read {found:#04x}"
            ),
        }
    }
}

impl NorFlashError for CfiError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            CfiError::NotAligned => NorFlashErrorKind::NotAligned,
            CfiError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            _ => NorFlashErrorKind::Other,
        }
    }
}

impl From<NorFlashErrorKind> for CfiError {
    fn from(kind: NorFlashErrorKind) -> Self {
        match kind {
            NorFlashErrorKind::NotAligned => CfiError::NotAligned,
            _ => CfiError::OutOfBounds,
        }
    }
}

/// Send the CFI query into a 4 KiB window at `base` and read the answer, restoring read-array
/// mode. `None` when "QRY" is not at the 8-bit stride.
///
/// # Safety
///
/// `base..base + 4096` must be mapped uncacheable and writing the bytes 0x98 and 0xFF to
/// `base` must be harmless: a CFI flash, ROM, or nothing.
unsafe fn query_at(base: u64) -> Result<[u8; query::LEN], CfiError> {
    // SAFETY: the caller's contract.
    let w = unsafe { Mmio::new(base, PROBE_WINDOW) };
    w.write8(0, cmd::CFI_QUERY);
    let mut q = [0u8; query::LEN];
    for (i, b) in q.iter_mut().enumerate() {
        *b = w.read8(i);
    }
    // A 16-bit (or 32-bit) bus puts CFI byte n at address 2n (4n).
    let wide = [1u8, 2]
        .into_iter()
        .find(|&shift| (0..3).all(|i| w.read8((query::QRY + i) << shift) == b"QRY"[i]));
    w.write8(0, cmd::READ_ARRAY);
    if &q[query::QRY..query::QRY + 3] == b"QRY" {
        Ok(q)
    } else if let Some(shift) = wide {
        Err(CfiError::UnsupportedBusWidth(1 << shift))
    } else {
        Err(CfiError::NoQueryAnswer)
    }
}

/// Find pflash unit 1 below unit 0 under 4 GiB. `None` when no CFI chip answers at the top
/// of 4 GiB or none below it; `Some(Err)` when one answers but cannot be driven.
pub fn find() -> Option<Result<CfiFlash, CfiError>> {
    // SAFETY: the 3–4 GiB hole is identity-mapped uncacheable by stage 2; the top 4 KiB is
    // the BIOS flash (CFI pflash under QEMU, else ROM that ignores writes).
    let unit0 = CfiInfo::parse(&unsafe { query_at(TOP_OF_4G - PROBE_WINDOW as u64) }.ok()?).ok()?;
    let top = TOP_OF_4G - u64::from(unit0.size);
    if top < (3 << 30) + PROBE_WINDOW as u64 {
        return None;
    }
    // SAFETY: as above: just below the BIOS flash is either the next flash unit (QEMU maps
    // pflash units contiguously downwards) or unassigned address space in the PCI hole,
    // which ignores writes. Only query/read-array commands are written.
    let q = match unsafe { query_at(top - PROBE_WINDOW as u64) } {
        Ok(q) => q,
        Err(CfiError::NoQueryAnswer) => return None,
        Err(e) => return Some(Err(e)),
    };
    Some(CfiInfo::parse(&q).and_then(|info| {
        if info.block_size as usize > ERASE_SIZE
            || !ERASE_SIZE.is_multiple_of(info.block_size as usize)
        {
            return Err(CfiError::UnsupportedGeometry {
                regions: 1,
                block_size: info.block_size,
            });
        }
        let base = top - u64::from(info.size);
        if base < 3 << 30 {
            return Err(CfiError::UnsupportedGeometry {
                regions: 1,
                block_size: info.block_size,
            });
        }
        // The chip must answer the same at its first block too (one chip of that size, not
        // a smaller one above a hole or another device).
        // SAFETY: `base` lies in the uncached hole, inside the range the query just claimed
        // for this chip; only query/read-array commands are written.
        match unsafe { query_at(base) }.and_then(|q| CfiInfo::parse(&q)) {
            Ok(again) if again == info => {}
            _ => return Err(CfiError::NoQueryAnswer),
        }
        // SAFETY: the query at both ends of this range answered with this size, so
        // `base..top` is that flash chip, in the uncached hole; nothing else drives it.
        Ok(unsafe { CfiFlash::new(base, info) })
    }))
}

/// An Intel command-set NOR flash on an 8-bit bus, mapped at a fixed physical address.
pub struct CfiFlash {
    regs: Mmio,
    base: u64,
    info: CfiInfo,
}

impl CfiFlash {
    /// The flash whose query answered `info`, mapped at `base`.
    ///
    /// # Safety
    ///
    /// `base..base + info.size` must be that chip's window, identity-mapped uncacheable, and
    /// nothing else may access the chip while this value lives.
    pub unsafe fn new(base: u64, info: CfiInfo) -> Self {
        Self {
            // SAFETY: the caller's contract.
            regs: unsafe { Mmio::new(base, info.size as usize) },
            base,
            info,
        }
    }

    /// Physical address of the first byte.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// What the query said.
    pub fn info(&self) -> &CfiInfo {
        &self.info
    }

    /// Wait for SR.7 at `offset` (the chip is in status mode after a program/erase command),
    /// then return to read-array mode. Errors name the status bits.
    fn finish(&mut self, op: Op, offset: u32, limit_us: u64) -> Result<(), CfiError> {
        let at = offset as usize;
        let mut status = 0;
        let ready = timer::poll_until(limit_us, || {
            status = self.regs.read8(at);
            status & sr::READY != 0
        }) || {
            // One last look: the wait may have been cut short by the vCPU being descheduled.
            status = self.regs.read8(at);
            status & sr::READY != 0
        };
        let result = if !ready {
            Err(CfiError::Timeout {
                op,
                offset,
                status: Status(status),
                limit_us,
            })
        } else if status & sr::ERRORS != 0 {
            Err(CfiError::Device {
                op,
                offset,
                status: Status(status),
            })
        } else {
            Ok(())
        };
        if result.is_err() {
            self.regs.write8(at, cmd::CLEAR_STATUS);
        }
        self.regs.write8(at, cmd::READ_ARRAY);
        result
    }

    fn erase_block(&mut self, offset: u32) -> Result<(), CfiError> {
        let at = offset as usize;
        self.regs.write8(at, cmd::CLEAR_STATUS);
        self.regs.write8(at, cmd::BLOCK_ERASE);
        self.regs.write8(at, cmd::CONFIRM);
        self.finish(Op::Erase, offset, self.info.timeouts.erase_limit_us())?;
        self.verify(Op::Erase, offset, self.info.block_size as usize, |_| 0xFF)
    }

    fn program_byte(&mut self, offset: u32, value: u8) -> Result<(), CfiError> {
        let at = offset as usize;
        self.regs.write8(at, cmd::PROGRAM);
        self.regs.write8(at, value);
        self.finish(Op::Program, offset, self.info.timeouts.program_limit_us())
    }

    /// Write to Buffer (28F128J3 §9.8): `data` must lie within one buffer-aligned window and
    /// hold at most 256 bytes (the count is one byte on an 8-bit bus).
    fn program_buffer(&mut self, offset: u32, data: &[u8]) -> Result<(), CfiError> {
        let at = offset as usize;
        let limit_us = self.info.timeouts.buffer_limit_us();
        let mut xsr = 0;
        // After 0xE8 the chip shows XSR; XSR.7 clear means "no buffer yet, ask again".
        let available = timer::poll_until(limit_us, || {
            self.regs.write8(at, cmd::WRITE_TO_BUFFER);
            xsr = self.regs.read8(at);
            xsr & sr::READY != 0
        });
        if !available {
            self.regs.write8(at, cmd::READ_ARRAY);
            return Err(CfiError::Timeout {
                op: Op::Program,
                offset,
                status: Status(xsr),
                limit_us,
            });
        }
        self.regs.write8(at, (data.len() - 1) as u8);
        for (i, &b) in data.iter().enumerate() {
            self.regs.write8(at + i, b);
        }
        self.regs.write8(at, cmd::CONFIRM);
        self.finish(Op::Program, offset, limit_us)
    }

    /// Compare `len` bytes from `offset` (read-array mode) with `expected(i)`.
    fn verify(
        &self,
        op: Op,
        offset: u32,
        len: usize,
        expected: impl Fn(usize) -> u8,
    ) -> Result<(), CfiError> {
        for i in 0..len {
            let found = self.regs.read8(offset as usize + i);
            if found != expected(i) {
                return Err(CfiError::Verify {
                    op,
                    offset: offset + i as u32,
                    expected: expected(i),
                    found,
                });
            }
        }
        Ok(())
    }
}

impl ErrorType for CfiFlash {
    type Error = CfiError;
}

impl ReadNorFlash for CfiFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), CfiError> {
        check_read(self, offset, bytes.len())?;
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = self.regs.read8(offset as usize + i);
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.info.size as usize
    }
}

impl NorFlash for CfiFlash {
    const WRITE_SIZE: usize = 1;
    const ERASE_SIZE: usize = ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), CfiError> {
        check_erase(self, from, to)?;
        let mut block = from;
        while block < to {
            self.erase_block(block)?;
            block += self.info.block_size;
        }
        Ok(())
    }

    /// Program with Write to Buffer when the chip has a buffer, else byte by byte; skip what is
    /// all 0xFF (programming a 1 changes nothing on NOR); then read the whole range back.
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), CfiError> {
        check_write(self, offset, bytes.len())?;
        let window = (self.info.buffer_bytes as usize).min(MAX_BUFFER_WRITE);
        let mut i = 0;
        while i < bytes.len() {
            let at = offset as usize + i;
            if window > 1 {
                let n = (window - at % window).min(bytes.len() - i);
                let chunk = &bytes[i..i + n];
                if chunk.iter().any(|&b| b != 0xFF) {
                    self.program_buffer(at as u32, chunk)?;
                }
                i += n;
            } else {
                if bytes[i] != 0xFF {
                    self.program_byte(at as u32, bytes[i])?;
                }
                i += 1;
            }
        }
        self.verify(Op::Program, offset, bytes.len(), |i| bytes[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query of QEMU 7.2's pflash_cfi01 as the PC maps it (4 MiB, 4 KiB blocks, width 1).
    fn qemu_query(size: u32) -> [u8; query::LEN] {
        let mut q = [0u8; query::LEN];
        q[0x10..0x13].copy_from_slice(b"QRY");
        q[0x13] = 0x01;
        q[0x15] = 0x31;
        q[0x1B] = 0x45;
        q[0x1C] = 0x55;
        q[0x1F..0x27].copy_from_slice(&[0x07, 0x07, 0x0A, 0x00, 0x04, 0x04, 0x04, 0x00]);
        q[0x27] = (size.ilog2()) as u8;
        q[0x28] = 0x02;
        q[0x2A] = 0x08;
        q[0x2C] = 0x01;
        let blocks = size / 4096 - 1;
        q[0x2D] = blocks as u8;
        q[0x2E] = (blocks >> 8) as u8;
        q[0x2F] = (4096u32 >> 8) as u8;
        q[0x30] = (4096u32 >> 16) as u8;
        q
    }

    #[test]
    fn parses_qemu_query() {
        let info = CfiInfo::parse(&qemu_query(4 << 20)).unwrap();
        assert_eq!(info.size, 4 << 20);
        assert_eq!(info.block_size, 4096);
        assert_eq!(info.blocks, 1024);
        assert_eq!(info.buffer_bytes, 256);
        assert_eq!(info.interface, 2);
        assert_eq!(info.timeouts.word_program_us, (128, 2048));
        assert_eq!(info.timeouts.buffer_write_us, (128, 2048));
        assert_eq!(info.timeouts.block_erase_us, (1_024_000, 16_384_000));
        assert_eq!(info.timeouts.program_limit_us(), MIN_TIMEOUT_US);
        assert_eq!(info.timeouts.erase_limit_us(), 16_384_000);
    }

    #[test]
    fn size_comes_from_the_erase_region_not_byte_0x27() {
        // 8 MiB − 256 KiB: byte 0x27 says 2^22, the region says 1984 blocks.
        let mut q = qemu_query(8 << 20);
        let blocks = (8u32 << 20) / 4096 - 64 - 1;
        q[0x2D] = blocks as u8;
        q[0x2E] = (blocks >> 8) as u8;
        q[0x27] = 22;
        let info = CfiInfo::parse(&q).unwrap();
        assert_eq!(info.size, (8 << 20) - (256 << 10));
        assert_eq!(info.size_log2, 22);
    }

    #[test]
    fn refuses_what_it_cannot_drive() {
        let mut q = qemu_query(1 << 20);
        q[0x11] = b'X';
        assert_eq!(CfiInfo::parse(&q), Err(CfiError::NoQueryAnswer));
        let mut q = qemu_query(1 << 20);
        q[0x13] = 0x02;
        assert_eq!(CfiInfo::parse(&q), Err(CfiError::UnsupportedCommandSet(2)));
        let mut q = qemu_query(1 << 20);
        q[0x2C] = 2;
        assert!(matches!(
            CfiInfo::parse(&q),
            Err(CfiError::UnsupportedGeometry { regions: 2, .. })
        ));
        assert_eq!(CfiInfo::parse(&[0u8; 4]), Err(CfiError::NoQueryAnswer));
    }

    #[test]
    fn missing_timing_falls_back_to_defaults() {
        let t = Timeouts::decode(&[0x04, 0x00, 0x0A, 0, 0x00, 0, 0x00, 0]);
        assert_eq!(t.word_program_us, (16, DEFAULT_PROGRAM_US));
        assert_eq!(t.buffer_write_us, (0, 0));
        assert_eq!(t.block_erase_us, (1_024_000, DEFAULT_ERASE_US));
    }

    #[test]
    fn status_names_the_error_bits() {
        assert_eq!(Status(0x80).to_string(), "SR 0x80");
        assert_eq!(Status(0x90).to_string(), "SR 0x90: SR.4 program error");
        assert_eq!(Status(0xA0).to_string(), "SR 0xa0: SR.5 erase error");
        assert_eq!(
            Status(0xBA).to_string(),
            "SR 0xba: SR.5+SR.4 improper command sequence, SR.3 VPP low, SR.1 block locked"
        );
        assert_eq!(Status(0x00).to_string(), "SR 0x00: busy");
        let e = CfiError::Device {
            op: Op::Program,
            offset: 0x1000,
            status: Status(0x90),
        };
        assert_eq!(
            e.to_string(),
            "program failed at 0x00001000 (SR 0x90: SR.4 program error)"
        );
        assert_eq!(e.kind(), NorFlashErrorKind::Other);
        assert_eq!(CfiError::NotAligned.kind(), NorFlashErrorKind::NotAligned);
    }
}
