//! Index arithmetic of descriptor rings, kept apart from the hardware so it is tested on the
//! host. Two conventions occur:
//!
//! - head/tail rings (8254x, 8255x): indices in `0..n`; the device owns the slots from `head`
//!   up to (not including) `tail`; one slot always stays empty so that `head == tail` means
//!   "nothing for the device" and never "everything".
//! - free-running rings (virtio): 16-bit counters that wrap at 65536; the slot is
//!   `counter % n` with `n` a power of two.

/// The index after `i` in a ring of `n` slots.
#[inline]
pub const fn next(i: u16, n: u16) -> u16 {
    if i + 1 >= n {
        0
    } else {
        i + 1
    }
}

/// The index before `i` in a ring of `n` slots.
#[inline]
pub const fn prev(i: u16, n: u16) -> u16 {
    if i == 0 {
        n - 1
    } else {
        i - 1
    }
}

/// Slots handed to the device and not yet reclaimed: from `clean` (oldest in flight) up to
/// `tail` (next to fill).
#[inline]
pub const fn in_flight(clean: u16, tail: u16, n: u16) -> u16 {
    (tail + n - clean) % n
}

/// Slots the CPU may still fill before the ring is full (one slot always stays empty).
#[inline]
pub const fn free_slots(clean: u16, tail: u16, n: u16) -> u16 {
    n - 1 - in_flight(clean, tail, n)
}

/// Entries a free-running producer counter `produced` is ahead of the consumer's `seen`.
#[inline]
pub const fn pending(produced: u16, seen: u16) -> u16 {
    produced.wrapping_sub(seen)
}

/// The slot of a free-running counter in a ring of `n` (a power of two) slots.
#[inline]
pub const fn slot(counter: u16, n: u16) -> u16 {
    counter & (n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_and_prev_wrap() {
        assert_eq!(next(0, 8), 1);
        assert_eq!(next(7, 8), 0);
        assert_eq!(prev(0, 8), 7);
        assert_eq!(prev(5, 8), 4);
    }

    #[test]
    fn head_tail_ring_keeps_one_slot_empty() {
        let n = 8;
        assert_eq!(in_flight(0, 0, n), 0);
        assert_eq!(free_slots(0, 0, n), 7);
        assert_eq!(in_flight(6, 2, n), 4);
        assert_eq!(free_slots(6, 2, n), 3);
        // Fill completely: tail stops one behind clean.
        let (clean, mut tail) = (3, 3);
        while free_slots(clean, tail, n) > 0 {
            tail = next(tail, n);
        }
        assert_eq!(tail, 2);
        assert_eq!(in_flight(clean, tail, n), 7);
    }

    #[test]
    fn free_running_counters_wrap_at_65536() {
        assert_eq!(pending(5, 3), 2);
        assert_eq!(pending(1, 65535), 2);
        assert_eq!(pending(0, 0), 0);
        assert_eq!(slot(65535, 256), 255);
        assert_eq!(slot(65536u32 as u16, 256), 0);
        assert_eq!(slot(300, 256), 44);
    }
}
