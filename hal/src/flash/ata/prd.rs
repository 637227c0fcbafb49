//! Physical region descriptors: splitting a buffer into what the bus master can reach
//! (SFF-8038i §3.1).

/// One physical region: a 32-bit bus address and a length of 2..=65,536 bytes, even, not
/// crossing a 64 KiB boundary (SFF-8038i §3.1: the descriptor's byte count 0 means 64 KiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Bus (physical) address.
    pub addr: u32,
    /// Bytes.
    pub len: u32,
}

impl Region {
    /// The 8-byte descriptor: address, byte count (0 = 64 KiB), end-of-table bit 63.
    pub fn descriptor(self, last: bool) -> u64 {
        u64::from(self.addr) | u64::from(self.len & 0xFFFF) << 32 | u64::from(last) << 63
    }
}

/// Splits the buffer at bus address `addr`, `len` bytes, into physical regions (at 64 KiB
/// boundaries). `None` when the bus master cannot reach it: odd address or length, empty,
/// above 4 GiB, or more than `out.len()` regions. Returns the number of regions.
pub fn split_regions(addr: u64, len: usize, out: &mut [Region]) -> Option<usize> {
    let end = addr.checked_add(len as u64)?;
    if len == 0 || !addr.is_multiple_of(2) || !len.is_multiple_of(2) || end > 1 << 32 {
        return None;
    }
    let mut at = addr;
    let mut n = 0;
    while at < end {
        let boundary = (at | 0xFFFF) + 1;
        let stop = boundary.min(end);
        *out.get_mut(n)? = Region {
            addr: at as u32,
            len: (stop - at) as u32,
        };
        n += 1;
        at = stop;
    }
    Some(n)
}
