//! Boot plans for an installed image: where its pieces go in RAM and what the jump takes.
//! Pure; the copy and the jump itself are the bare binary's and hal's.
//!
//! - `flat64`: the payload is copied to its load address and entered in long mode at its
//!   entry with `rdi` = the boot-info block ([`flat64_fits`] checks the place).
//! - `linux`: the Linux x86 64-bit boot protocol ([`linux`]).
pub mod linux;

/// A range of usable RAM (E820 type 1), or a range that must be left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamRegion {
    pub base: u64,
    pub len: u64,
}

/// Can a `flat64` payload of `len` bytes be loaded at `base`: inside usable RAM, above the
/// first MiB, and clear of every region in `avoid` (the firmware, the buffer it is read from)?
pub fn flat64_fits(ram: &[RamRegion], avoid: &[RamRegion], base: u64, len: u64) -> bool {
    let Some(end) = base.checked_add(len) else {
        return false;
    };
    base >= 0x10_0000
        && ram
            .iter()
            .any(|r| base >= r.base && end <= r.base.saturating_add(r.len))
        && !avoid
            .iter()
            .any(|r| base < r.base.saturating_add(r.len) && r.base < end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat64_placement() {
        let ram = [RamRegion {
            base: 0x10_0000,
            len: 0x1000_0000,
        }];
        let fw = [RamRegion {
            base: 0x10_0000,
            len: 0x10_0000,
        }];
        assert!(flat64_fits(&ram, &fw, 0x200_0000, 0x1000));
        assert!(
            !flat64_fits(&ram, &fw, 0x18_0000, 0x1000),
            "overlaps the firmware"
        );
        assert!(!flat64_fits(&ram, &fw, 0x8000, 0x100), "below 1 MiB");
        assert!(
            !flat64_fits(&ram, &fw, 0x1000_0000, 0x20_0000),
            "past the end of RAM"
        );
        assert!(!flat64_fits(&ram, &fw, u64::MAX - 4, 0x100), "wraps");
    }
}
