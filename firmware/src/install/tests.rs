//! The install sequence against the strict flash, with power cut at every operation and in
//! random chains: slot selection must always give the old image or the new one.
use std::vec::Vec;

use super::sim::{SimError, SimFlash};
use super::*;
use crate::image::{HeaderRepr, Kind, PLATFORM};

type Nor = SimFlash<4, 4096>;
type Ata = SimFlash<512, 512>;
const FLASH: usize = 64 * 1024;

fn image(version: Version, len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..len)
        .map(|i| (i as u8) ^ version.minor ^ (version.maint as u8))
        .collect();
    let h = HeaderRepr {
        platform: PLATFORM,
        version,
        kind: Kind::Flat64,
        load: 0x200_0000,
        entry: 0x200_0000,
        initrd_len: 0,
        cmdline: "",
    }
    .emit(&payload)
    .unwrap();
    let mut v = h.to_vec();
    v.extend_from_slice(&payload);
    v
}

fn v(minor: u8) -> Version {
    Version::new(1, minor, 0)
}

/// The version of the image the unit would boot.
fn booted<F: NorFlash>(s: &mut Slots<F>) -> Option<Version> {
    let slot = s.bootable().unwrap()?;
    let h = s.header(slot).unwrap()?;
    Some(Header::new_checked(&h[..]).unwrap().version())
}

#[test]
fn first_install_goes_to_a_then_b_then_a() {
    let mut s = Slots::new(Nor::new(FLASH, 1)).unwrap();
    assert_eq!(s.bootable().unwrap(), None);
    let mut seen = 0;
    assert_eq!(
        s.install(&image(v(1), 10_000), |d, t| {
            assert!(d <= t);
            seen = d
        }),
        Ok(Slot::A)
    );
    assert_eq!(seen, 10_320);
    assert_eq!(booted(&mut s), Some(v(1)));
    assert_eq!(s.install(&image(v(2), 9000), |_, _| {}), Ok(Slot::B));
    assert_eq!(booted(&mut s), Some(v(2)));
    assert_eq!(s.install(&image(v(3), 100), |_, _| {}), Ok(Slot::A));
    assert_eq!(booted(&mut s), Some(v(3)));
    let list = s.list().unwrap();
    assert_eq!(list[0].image, Some((v(3), 420)));
    assert_eq!(
        list[0].selected,
        Some(State::New {
            boots_left: BOOT_BUDGET
        })
    );
    assert_eq!(list[1].image, Some((v(2), 9320)));
    assert_eq!(list[1].selected, None);
}

#[test]
fn too_large_is_refused_before_anything_is_erased() {
    let mut s = Slots::new(Nor::new(FLASH, 2)).unwrap();
    s.install(&image(v(1), 5000), |_, _| {}).unwrap();
    let before = s.flash().mem.clone();
    let big = image(v(2), FLASH);
    assert!(matches!(
        s.install(&big, |_, _| {}),
        Err(InstallError::TooLarge { .. })
    ));
    assert_eq!(s.flash().mem, before, "flash changed");
}

#[test]
fn the_strict_model_catches_a_write_without_erase() {
    let mut f = Nor::new(8192, 3);
    f.write(0, &[0, 0, 0, 0]).unwrap();
    assert_eq!(f.write(0, &[0xFF, 0, 0, 0]), Err(SimError::NotErased));
    assert_eq!(f.write(1, &[0; 4]), Err(SimError::NotAligned));
    assert_eq!(f.erase(0, 100), Err(SimError::NotAligned));
    assert_eq!(f.write(8192, &[0; 4]), Err(SimError::OutOfBounds));
}

/// Cuts power at operation `k` of installing `new` over `old`; returns what boots after.
fn install_cut<F: NorFlash<Error = SimError>>(
    mk: impl Fn() -> Slots<F>,
    k: usize,
    cut: impl Fn(&mut Slots<F>, Option<usize>),
) -> (Option<Version>, bool) {
    let mut s = mk();
    s.install(&image(v(1), 7000), |_, _| {}).unwrap();
    s.confirm().unwrap();
    cut(&mut s, Some(k));
    let finished = s.install(&image(v(2), 11_000), |_, _| {}).is_ok();
    cut(&mut s, None);
    (booted(&mut s), finished)
}

fn every_cut<const W: usize, const E: usize>(seed: u64) -> usize {
    let mk = || Slots::new(SimFlash::<W, E>::new(FLASH, seed)).unwrap();
    let set = |s: &mut Slots<SimFlash<W, E>>, at: Option<usize>| match at {
        Some(k) => {
            let f = s.flash();
            f.cut_at = Some(f.ops + k);
        }
        None => s.flash().reboot(),
    };
    let mut k = 0;
    loop {
        let (boots, finished) = install_cut(mk, k, set);
        assert!(
            boots == Some(v(1)) || boots == Some(v(2)),
            "cut at op {k}: boots {boots:?}"
        );
        if finished {
            assert_eq!(boots, Some(v(2)));
            return k;
        }
        k += 1;
        assert!(k < 10_000);
    }
}

#[test]
fn power_cut_at_every_operation_of_an_install() {
    let ops = every_cut::<4, 4096>(4);
    assert!(
        ops > 2000,
        "only {ops} operations: is every write unit counted?"
    );
    let ops = every_cut::<512, 512>(5);
    assert!(ops > 40, "{ops}");
}

#[test]
fn random_chains_of_power_cuts() {
    let mut rng = 0x1234_5678_9abc_def1u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut s = Slots::new(Ata::new(FLASH, 6)).unwrap();
    // Images whose install returned Ok, newest last.
    let mut committed: Vec<Version> = Vec::new();
    // Before the first install completes there is no record: a whole, valid image left by
    // an install cut while writing the record is bootable too.
    let mut before_first: Vec<Version> = Vec::new();
    let mut cuts = 0;
    for step in 0..1700u32 {
        let ver = Version::new(1, (step % 200) as u8, step as u16);
        let len = 200 + (next() % 20_000) as usize;
        let f = s.flash();
        f.cut_at = if next() % 4 == 0 {
            None
        } else {
            Some(f.ops + (next() % 40) as usize)
        };
        let ok = s.install(&image(ver, len), |_, _| {}).is_ok();
        cuts += usize::from(s.flash().dead);
        s.flash().reboot();
        // Sometimes a boot, itself cut short: spends the new image's budget or rolls back.
        if next() % 3 == 0 {
            let f = s.flash();
            f.cut_at = Some(f.ops + (next() % 6) as usize);
            let _ = s.begin_boot();
            s.flash().reboot();
        }
        if ok {
            committed.push(ver);
        } else if committed.is_empty() {
            before_first.push(ver);
        }
        let boots = booted(&mut s);
        match (boots, committed.last()) {
            (None, None) => {}
            (None, Some(c)) => panic!("step {step}: nothing bootable after {c} was installed"),
            (Some(b), _) => {
                // The image being installed (if its record made it), or one of the last two
                // installed (the previous one after a rollback).
                let recent = committed.iter().rev().take(2).any(|&c| c == b);
                let unrecorded = committed.is_empty() && before_first.contains(&b);
                assert!(
                    b == ver || recent || unrecorded,
                    "step {step}: boots {b}, installed {committed:?}"
                );
            }
        }
    }
    assert!(cuts >= 1000, "only {cuts} installs were cut");
}

#[test]
fn an_image_that_never_confirms_is_rolled_back() {
    let mut s = Slots::new(Nor::new(FLASH, 7)).unwrap();
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    assert_eq!(s.begin_boot().unwrap(), Some(Slot::A));
    s.confirm().unwrap();
    s.install(&image(v(2), 3000), |_, _| {}).unwrap();
    for left in (0..BOOT_BUDGET).rev() {
        assert_eq!(s.begin_boot().unwrap(), Some(Slot::B));
        assert_eq!(
            s.record().unwrap().unwrap().state,
            State::New { boots_left: left }
        );
    }
    // Budget spent, still unconfirmed: back to A.
    assert_eq!(s.begin_boot().unwrap(), Some(Slot::A));
    assert_eq!(s.record().unwrap().unwrap().state, State::Confirmed);
    assert_eq!(booted(&mut s), Some(v(1)));
}

#[test]
fn a_confirmed_image_stays() {
    let mut s = Slots::new(Nor::new(FLASH, 8)).unwrap();
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    s.install(&image(v(2), 3000), |_, _| {}).unwrap();
    assert_eq!(s.begin_boot().unwrap(), Some(Slot::B));
    s.confirm().unwrap();
    for _ in 0..10 {
        assert_eq!(s.begin_boot().unwrap(), Some(Slot::B));
    }
}

#[test]
fn a_corrupted_selected_image_falls_back_to_the_other_slot() {
    let mut s = Slots::new(Nor::new(FLASH, 9)).unwrap();
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    s.install(&image(v(2), 3000), |_, _| {}).unwrap();
    // Flip one payload bit of slot B in place (as a failing flash cell would).
    let b_start = 2 * 4096 + s.slot_len() as usize;
    s.flash().mem[b_start + HEADER_LEN + 100] ^= 0x10;
    assert_eq!(s.bootable().unwrap(), Some(Slot::A));
    assert!(matches!(
        s.check(Slot::B).unwrap(),
        Err(Refusal::PayloadCrc { .. })
    ));
    // The next install replaces the broken image, not the good one.
    assert_eq!(s.install(&image(v(3), 3000), |_, _| {}), Ok(Slot::B));
}

#[test]
fn boot_asks_the_loader_once_per_slot_and_uses_its_verdict() {
    let mut s = Slots::new(Ata::new(FLASH, 10)).unwrap();
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    s.install(&image(v(2), 3000), |_, _| {}).unwrap();
    // A fresh view of the same flash, as after a reboot (nothing checked yet).
    let mut s = Slots::new(s.into_flash()).unwrap();
    let mut asked = Vec::new();
    assert_eq!(
        s.begin_boot_with(|s, slot| {
            asked.push(slot);
            s.check_now(slot).map(Some)
        }),
        Ok(Some(Slot::B))
    );
    assert_eq!(asked, [Slot::B], "only the selected slot is loaded");
    // The loader says B is bad (its RAM copy did not verify) and leaves A to the usual
    // check: A boots, and B is not read again from flash behind the loader's back.
    let mut s = Slots::new(s.into_flash()).unwrap();
    let mut asked = Vec::new();
    let r = s.begin_boot_with(|_, slot| {
        asked.push(slot);
        Ok((slot == Slot::B).then_some(Err(Refusal::Sha256)))
    });
    assert_eq!(r, Ok(Some(Slot::A)));
    assert_eq!(asked, [Slot::B, Slot::A]);
    // Both refused by the loader: nothing to boot, each slot asked once.
    let mut s = Slots::new(s.into_flash()).unwrap();
    let mut asked = Vec::new();
    let r = s.begin_boot_with(|_, slot| {
        asked.push(slot);
        Ok(Some(Err(Refusal::Sha256)))
    });
    assert_eq!(r, Ok(None));
    assert_eq!(asked, [Slot::A, Slot::B]);
}

#[test]
fn a_slot_is_checked_again_after_the_flash_is_touched() {
    let mut s = Slots::new(Nor::new(FLASH, 11)).unwrap();
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    assert!(s.check(Slot::A).unwrap().is_ok());
    let a = 2 * 4096 + HEADER_LEN + 7;
    s.flash().mem[a] ^= 1;
    assert!(matches!(
        s.check(Slot::A).unwrap(),
        Err(Refusal::PayloadCrc { .. })
    ));
}

#[test]
fn install_reads_back_through_a_scratch_buffer_of_any_size() {
    for scratch_len in [0usize, 100, 4096, 5000, 1 << 16] {
        let mut s = Slots::new(Ata::new(FLASH, 12)).unwrap();
        let mut scratch = vec![0u8; scratch_len];
        let img = image(v(1), 20_001);
        assert_eq!(s.install_with(&img, &mut scratch, |_, _| {}), Ok(Slot::A));
        assert_eq!(booted(&mut s), Some(v(1)));
        let a = 2 * 4096;
        assert_eq!(&s.flash().mem[a..a + img.len()], &img[..]);
    }
}
