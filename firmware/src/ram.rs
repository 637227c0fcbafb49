//! The RAM an image may be placed in: the usable regions of the E820 map that the identity
//! map reaches ([`mapped_ram`]), and where an image's payload is read to at boot
//! ([`placement`]), checked at install and at every boot. Pure; below both the install
//! dialogue ([`crate::install`]) and the boot plans ([`crate::boot`]).
use crate::image::{Header, Kind, Refusal};

/// A range of usable RAM (E820 type 1), or a range that must be left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamRegion {
    pub base: u64,
    pub len: u64,
}

/// The identity map the boot chain builds ends here: RAM above it is not addressable by the
/// firmware, so nothing is loaded there.
pub const MAPPED_END: u64 = 1 << 32;

/// Usable RAM regions (E820 type 1) clipped to the identity map.
pub fn mapped_ram(e820: impl IntoIterator<Item = (u64, u64, u32)>) -> heapless::Vec<RamRegion, 64> {
    e820.into_iter()
        .filter(|&(base, _, kind)| kind == 1 && base < MAPPED_END)
        .map(|(base, len, _)| RamRegion {
            base,
            len: len.min(MAPPED_END - base),
        })
        .take(64)
        .collect()
}

/// Where an image's payload is read to at boot (a `flat64` image: its load address; a
/// `linux` image: `linux_staging`), when a `flat64` entry lies inside the payload
/// ([`Refusal::Entry`] otherwise) and that place is usable RAM clear of `avoid`
/// ([`Refusal::Placement`] otherwise). Checked at install (so an image that could never
/// start is refused before it reaches flash) and at every boot (whatever wrote the flash).
pub fn placement<T: AsRef<[u8]>>(
    h: &Header<T>,
    ram: &[RamRegion],
    avoid: &[RamRegion],
    linux_staging: u64,
) -> Result<u64, Refusal> {
    let len = h.payload_len();
    let linux = h.kind() == Ok(Kind::Linux);
    let base = if linux { linux_staging } else { h.load() };
    let entry_ok = linux
        || base
            .checked_add(len)
            .is_some_and(|end| h.entry() >= base && h.entry() < end);
    if !entry_ok {
        Err(Refusal::Entry(h.entry()))
    } else if flat64_fits(ram, avoid, base, len) {
        Ok(base)
    } else {
        Err(Refusal::Placement { load: base, len })
    }
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
    use crate::image::{HeaderRepr, Version, PLATFORM};

    fn header(kind: Kind, load: u64, entry: u64, payload: &[u8]) -> [u8; crate::image::HEADER_LEN] {
        HeaderRepr {
            platform: PLATFORM,
            version: Version::new(1, 0, 0),
            kind,
            load,
            entry,
            initrd_len: 0,
            cmdline: "",
        }
        .emit(payload)
        .unwrap()
    }

    /// Finding 5: a unit with 5 GiB has RAM at 0x1_4000_0000, but the firmware's identity
    /// map ends at 4 GiB: an image loaded there would fault at every power-on.
    #[test]
    fn placement_refuses_ram_above_the_identity_map_and_entries_outside_the_payload() {
        let e820 = [
            (0, 0x9_FC00, 1),
            (0x10_0000, 0xBFF0_0000, 1),
            (0xFEFF_C000, 0x4000, 2),
            (0x1_0000_0000, 0x1_0000_0000, 1),
        ];
        let ram = mapped_ram(e820);
        assert_eq!(ram.len(), 2, "{ram:?}");
        let fw = [RamRegion {
            base: 0x10_0000,
            len: 0x34_0000,
        }];
        let p = [0u8; 4096];
        let ok = header(Kind::Flat64, 0x200_0000, 0x200_0000, &p);
        assert_eq!(
            placement(&Header::new_checked(&ok[..]).unwrap(), &ram, &fw, 0),
            Ok(0x200_0000)
        );
        for (load, entry) in [
            (0x1_4000_0000, 0x1_4000_0000),
            (0xFFFF_F800, 0xFFFF_F800),
            (0x18_0000, 0x18_0000),
        ] {
            let h = header(Kind::Flat64, load, entry, &p);
            assert_eq!(
                placement(&Header::new_checked(&h[..]).unwrap(), &ram, &fw, 0),
                Err(Refusal::Placement { load, len: 4096 }),
                "{load:#x} {entry:#x}"
            );
        }
        // Issue 21, finding 7: an entry outside the payload is said as such, not as "not
        // free RAM" (the RAM may be free).
        for (load, entry) in [
            (0x200_0000, 0x200_1000),
            (0x200_0000, 0x1FF_FFFF),
            (u64::MAX - 100, u64::MAX - 100),
        ] {
            let h = header(Kind::Flat64, load, entry, &p);
            let r = placement(&Header::new_checked(&h[..]).unwrap(), &ram, &fw, 0);
            assert_eq!(r, Err(Refusal::Entry(entry)), "{load:#x} {entry:#x}");
        }
        assert_eq!(
            Refusal::Entry(0x200_1000).to_string(),
            "image entry 0x2001000 is outside its payload"
        );
        // A Linux image goes to the staging area, which must fit too.
        let l = header(Kind::Linux, 0, 0, &p);
        let l = Header::new_checked(&l[..]).unwrap();
        assert_eq!(placement(&l, &ram, &fw, 0x600_0000), Ok(0x600_0000));
        assert!(placement(&l, &ram, &fw, 0xFFFF_FF00).is_err());
    }

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
