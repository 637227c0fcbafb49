//! A strict NOR flash for host tests, in the MCUboot-simulator spirit: programming can only
//! clear bits, erase sets whole blocks to 0xFF, and a protocol violation (programming a 1
//! over a 0, a misaligned write or erase) *panics*, so a bug in the slot code can never pass
//! as an ordinary failed install. Every operation is counted, and a power cut can be
//! scheduled at any operation index: that operation is torn (a random part of it happens,
//! leaving random bits), and everything after it fails until "reboot". Ranges can be made
//! unreadable (a bad sector).
use std::vec::Vec;

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimError {
    OutOfBounds,
    PowerCut,
    /// A bad sector.
    ReadFault,
    /// A sector that takes no erase or program.
    WriteFault,
}

impl core::fmt::Display for SimError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

impl NorFlashError for SimError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            SimError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            _ => NorFlashErrorKind::Other,
        }
    }
}

/// The flash. `W` and `E` are the write and erase sizes.
pub struct SimFlash<const W: usize, const E: usize> {
    pub mem: Vec<u8>,
    pub ops: usize,
    /// Bytes read so far (reads are not operations a power cut can fall on).
    pub read_bytes: usize,
    /// Cut the power during operation number `cut_at` (0-based).
    pub cut_at: Option<usize>,
    pub dead: bool,
    /// Reads touching any of these byte ranges fail (bad sectors).
    pub bad: Vec<core::ops::Range<usize>>,
    /// Erases and programs touching any of these byte ranges fail, the range untouched (the
    /// erase blocks of an erase before it are erased).
    pub bad_write: Vec<core::ops::Range<usize>>,
    rng: u64,
}

impl<const W: usize, const E: usize> SimFlash<W, E> {
    pub fn new(len: usize, seed: u64) -> Self {
        SimFlash {
            mem: vec![0xFF; len],
            ops: 0,
            read_bytes: 0,
            cut_at: None,
            dead: false,
            bad: Vec::new(),
            bad_write: Vec::new(),
            rng: seed | 1,
        }
    }

    /// Power comes back: the memory stays as it was left.
    pub fn reboot(&mut self) {
        self.dead = false;
        self.cut_at = None;
    }

    fn rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Fails when `at..at + len` touches a sector that takes no writes.
    fn writable(&self, at: usize, len: usize) -> Result<(), SimError> {
        if self
            .bad_write
            .iter()
            .any(|r| at < r.end && r.start < at + len)
        {
            return Err(SimError::WriteFault);
        }
        Ok(())
    }

    /// Counts an operation; true when this one is cut.
    fn op(&mut self) -> Result<bool, SimError> {
        if self.dead {
            return Err(SimError::PowerCut);
        }
        let n = self.ops;
        self.ops += 1;
        if self.cut_at == Some(n) {
            self.dead = true;
            return Ok(true);
        }
        Ok(false)
    }
}

impl<const W: usize, const E: usize> ErrorType for SimFlash<W, E> {
    type Error = SimError;
}

impl<const W: usize, const E: usize> ReadNorFlash for SimFlash<W, E> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        if self.dead {
            return Err(SimError::PowerCut);
        }
        let o = offset as usize;
        if self
            .bad
            .iter()
            .any(|r| o < r.end && r.start < o + bytes.len())
        {
            return Err(SimError::ReadFault);
        }
        let src = self
            .mem
            .get(o..o + bytes.len())
            .ok_or(SimError::OutOfBounds)?;
        bytes.copy_from_slice(src);
        self.read_bytes += bytes.len();
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.mem.len()
    }
}

impl<const W: usize, const E: usize> NorFlash for SimFlash<W, E> {
    const WRITE_SIZE: usize = W;
    const ERASE_SIZE: usize = E;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        let (from, to) = (from as usize, to as usize);
        assert!(
            from % E == 0 && to % E == 0 && from <= to,
            "flash protocol violation: erase {from:#x}..{to:#x} not aligned to {E:#x}"
        );
        if to > self.mem.len() {
            return Err(SimError::OutOfBounds);
        }
        // One operation per erase block, so a cut can fall between blocks.
        for b in (from..to).step_by(E) {
            if self.dead {
                return Err(SimError::PowerCut);
            }
            self.writable(b, E)?;
            if self.op()? {
                // Torn erase: some bytes of this block become 0xFF, others keep random bits.
                for i in b..b + E {
                    let r = self.rand();
                    if r.is_multiple_of(3) {
                        self.mem[i] = 0xFF;
                    } else if r % 3 == 1 {
                        self.mem[i] |= (r >> 8) as u8;
                    }
                }
                return Err(SimError::PowerCut);
            }
            self.mem[b..b + E].fill(0xFF);
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        let o = offset as usize;
        assert!(
            o.is_multiple_of(W) && bytes.len().is_multiple_of(W),
            "flash protocol violation: write of {} bytes at {o:#x} not aligned to {W}",
            bytes.len()
        );
        if o + bytes.len() > self.mem.len() {
            return Err(SimError::OutOfBounds);
        }
        // One operation per write unit.
        for (k, chunk) in bytes.chunks(W).enumerate() {
            let at = o + k * W;
            if self.dead {
                return Err(SimError::PowerCut);
            }
            self.writable(at, W)?;
            assert!(
                !chunk
                    .iter()
                    .zip(&self.mem[at..at + W])
                    .any(|(&new, &old)| new & !old != 0),
                "flash protocol violation: programming 1 over 0 at {at:#x} (not erased)"
            );
            if self.op()? {
                // Torn program: a random subset of the bits that should clear do.
                for (i, &want) in chunk.iter().enumerate() {
                    let mask = self.rand() as u8;
                    let old = self.mem[at + i];
                    self.mem[at + i] = old & !(!want & mask);
                }
                return Err(SimError::PowerCut);
            }
            for (cell, &want) in self.mem[at..at + W].iter_mut().zip(chunk) {
                *cell &= want;
            }
        }
        Ok(())
    }
}
