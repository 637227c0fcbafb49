//! The install sequence against the strict flash, with power cut at every operation and in
//! random chains: slot selection must always give the old image or the new one.
use std::vec::Vec;

use super::sim::{SimError, SimFlash};
use super::*;
use crate::image::{HeaderRepr, Kind, PLATFORM};
use embedded_storage::nor_flash::ReadNorFlash;

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

/// Boots the unit's image and lets it confirm itself with the token it was given.
fn confirm_now<F: NorFlash>(s: &mut Slots<F>) -> Slot {
    let slot = s.begin_boot().expect("something boots");
    let token = s.token().unwrap();
    assert!(s.confirm(token).unwrap());
    slot
}

/// The version of the image the unit would boot.
fn booted<F: NorFlash>(s: &mut Slots<F>) -> Option<Version> {
    let slot = s.bootable()?;
    let h = s.header(slot).unwrap()?;
    Some(Header::new_checked(&h[..]).unwrap().version())
}

#[test]
fn first_install_goes_to_a_then_b_then_a() {
    let mut s = Slots::new(Nor::new(FLASH, 1)).unwrap();
    assert_eq!(s.bootable(), None);
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
    let list = s.list();
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
#[should_panic(expected = "not erased")]
fn the_strict_model_panics_on_a_write_without_erase() {
    let mut f = Nor::new(8192, 3);
    f.write(0, &[0, 0, 0, 0]).unwrap();
    let _ = f.write(0, &[0xFF, 0, 0, 0]);
}

#[test]
#[should_panic(expected = "not aligned")]
fn the_strict_model_panics_on_a_misaligned_write() {
    let _ = Nor::new(8192, 3).write(1, &[0; 4]);
}

#[test]
#[should_panic(expected = "not aligned")]
fn the_strict_model_panics_on_a_misaligned_erase() {
    let _ = Nor::new(8192, 3).erase(0, 100);
}

#[test]
fn the_strict_model_reports_bounds_and_bad_sectors() {
    let mut f = Nor::new(8192, 3);
    assert_eq!(f.write(8192, &[0; 4]), Err(SimError::OutOfBounds));
    f.bad.push(100..101);
    let mut b = [0u8; 8];
    assert_eq!(f.read(96, &mut b), Err(SimError::ReadFault));
    assert_eq!(f.read(101, &mut b), Ok(()));
}

/// Cuts power at operation `k` of installing `new` over `old`; returns what boots after.
fn install_cut<F: NorFlash<Error = SimError>>(
    mk: impl Fn() -> Slots<F>,
    k: usize,
    cut: impl Fn(&mut Slots<F>, Option<usize>),
) -> (Option<Version>, bool) {
    let mut s = mk();
    s.install(&image(v(1), 7000), |_, _| {}).unwrap();
    confirm_now(&mut s);
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
    assert_eq!(confirm_now(&mut s), Slot::A);
    s.install(&image(v(2), 3000), |_, _| {}).unwrap();
    for left in (0..BOOT_BUDGET).rev() {
        assert_eq!(s.begin_boot(), Some(Slot::B));
        assert_eq!(s.record().unwrap().state, State::New { boots_left: left });
    }
    // Budget spent, still unconfirmed: back to A.
    assert_eq!(s.begin_boot(), Some(Slot::A));
    assert_eq!(s.record().unwrap().state, State::Confirmed);
    assert_eq!(booted(&mut s), Some(v(1)));
}

#[test]
fn a_confirmed_image_stays() {
    let mut s = Slots::new(Nor::new(FLASH, 8)).unwrap();
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    s.install(&image(v(2), 3000), |_, _| {}).unwrap();
    assert_eq!(confirm_now(&mut s), Slot::B);
    for _ in 0..10 {
        assert_eq!(s.begin_boot(), Some(Slot::B));
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
    assert_eq!(s.bootable(), Some(Slot::A));
    assert!(matches!(s.check(Slot::B), Err(Refusal::PayloadCrc { .. })));
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
            Some(s.check_now(slot))
        }),
        Some(Slot::B)
    );
    assert_eq!(asked, [Slot::B], "only the selected slot is loaded");
    // The loader says B is bad (its RAM copy did not verify) and leaves A to the usual
    // check: A boots, and B is not read again from flash behind the loader's back.
    let mut s = Slots::new(s.into_flash()).unwrap();
    let mut asked = Vec::new();
    let r = s.begin_boot_with(|_, slot| {
        asked.push(slot);
        (slot == Slot::B).then_some(Err(Refusal::Sha256))
    });
    assert_eq!(r, Some(Slot::A));
    assert_eq!(asked, [Slot::B, Slot::A]);
    // Both refused by the loader: nothing to boot, each slot asked once.
    let mut s = Slots::new(s.into_flash()).unwrap();
    let mut asked = Vec::new();
    let r = s.begin_boot_with(|_, slot| {
        asked.push(slot);
        Some(Err(Refusal::Sha256))
    });
    assert_eq!(r, None);
    assert_eq!(asked, [Slot::A, Slot::B]);
}

#[test]
fn a_slot_is_checked_again_after_the_flash_is_touched() {
    let mut s = Slots::new(Nor::new(FLASH, 11)).unwrap();
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    assert!(s.check(Slot::A).is_ok());
    let a = 2 * 4096 + HEADER_LEN + 7;
    s.flash().mem[a] ^= 1;
    assert!(matches!(s.check(Slot::A), Err(Refusal::PayloadCrc { .. })));
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

/// Finding 3: v1 confirmed, then v2 and v3 installed without a boot between: v3 must go
/// where v2 went, and when v3 never confirms the unit goes back to v1, not to v2.
#[test]
fn two_installs_in_a_row_keep_the_confirmed_image() {
    let mut s = Slots::new(Nor::new(FLASH, 20)).unwrap();
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    assert_eq!(confirm_now(&mut s), Slot::A);
    assert_eq!(s.install(&image(v(2), 3000), |_, _| {}), Ok(Slot::B));
    assert_eq!(s.install(&image(v(3), 3000), |_, _| {}), Ok(Slot::B));
    assert_eq!(booted(&mut s), Some(v(3)));
    for _ in 0..BOOT_BUDGET {
        assert_eq!(s.begin_boot(), Some(Slot::B));
    }
    assert_eq!(s.begin_boot(), Some(Slot::A));
    assert_eq!(booted(&mut s), Some(v(1)));
    let r = s.record().unwrap();
    assert_eq!((r.state, r.confirmed), (State::Confirmed, Some(Slot::A)));
}

/// Rollback keeps real states: with no confirmed image to go back to, a new image that
/// spends its budget gives way to the other verifying image, which is then booted as it is
/// (`Unconfirmed`, never `Confirmed`: the old rule wrote `Confirmed` for it though it never
/// ran), without flipping back and forth.
#[test]
fn rollback_never_writes_confirmed_for_an_image_that_never_confirmed() {
    let mut s = Slots::new(Nor::new(FLASH, 21)).unwrap();
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    s.install(&image(v(2), 3000), |_, _| {}).unwrap();
    for _ in 0..BOOT_BUDGET {
        assert_eq!(s.begin_boot(), Some(Slot::B));
    }
    for _ in 0..10 {
        assert_eq!(s.begin_boot(), Some(Slot::A));
        let r = s.record().unwrap();
        assert_eq!((r.state, r.confirmed), (State::Unconfirmed, None));
    }
    // It confirms after all: a real confirmation, with its token.
    let t = s.token().unwrap();
    assert!(s.confirm(t).unwrap());
    assert_eq!(s.record().unwrap().confirmed, Some(Slot::A));
    // With the other slot bad, the spent image itself stays, unconfirmed.
    let mut s = Slots::new(Nor::new(FLASH, 29)).unwrap();
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    for _ in 0..BOOT_BUDGET + 5 {
        assert_eq!(s.begin_boot(), Some(Slot::A));
    }
    assert_eq!(s.record().unwrap().state, State::Unconfirmed);
}

/// Finding 2: a token left over from an earlier record (the confirmed image's, before an
/// install from the monitor) or random CMOS contents confirm nothing.
#[test]
fn a_stale_or_random_token_confirms_nothing() {
    let mut s = Slots::new(Nor::new(FLASH, 22)).unwrap();
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    s.begin_boot();
    let old = s.token().unwrap();
    assert!(s.confirm(old).unwrap());
    // The confirmed image runs again and hands back its token; the operator then installs
    // 1.2(0) from the monitor without a flash boot in between.
    let stale = s.token().unwrap();
    s.install(&image(v(2), 3000), |_, _| {}).unwrap();
    assert_eq!(s.begin_boot(), Some(Slot::B));
    for wrong in [stale, old, 0, 0xC5, 0xFFFF_FFFF, 0xC5C5_C5C5] {
        assert!(!s.confirm(wrong).unwrap(), "{wrong:#x}");
    }
    assert!(matches!(s.record().unwrap().state, State::New { .. }));
    // The token of an earlier boot of the same image does not count either.
    let first_boot = s.token().unwrap();
    assert_eq!(s.begin_boot(), Some(Slot::B));
    assert!(!s.confirm(first_boot).unwrap());
    let now = s.token().unwrap();
    assert!(s.confirm(now).unwrap());
    assert_eq!(s.record().unwrap().state, State::Confirmed);
    // Once confirmed, the same token does nothing more.
    assert!(!s.confirm(now).unwrap());
}

/// Finding 4: one unreadable sector in the selected slot makes that slot bad, not the unit:
/// the other slot boots and the next install replaces the bad one.
#[test]
fn an_unreadable_sector_makes_the_slot_bad_not_the_unit() {
    let mut s = Slots::new(Ata::new(FLASH, 23)).unwrap();
    s.install(&image(v(1), 9000), |_, _| {}).unwrap();
    confirm_now(&mut s);
    s.install(&image(v(2), 9000), |_, _| {}).unwrap();
    let b = 2 * 4096 + s.slot_len() as usize;
    s.flash().bad.push(b + 5000..b + 5512);
    let mut s = Slots::new(s.into_flash()).unwrap();
    assert_eq!(s.check(Slot::B).unwrap_err(), Refusal::Unreadable);
    assert_eq!(s.begin_boot(), Some(Slot::A));
    assert_eq!(s.bootable(), Some(Slot::A));
    s.flash().bad.clear(); // the sector is remapped by the rewrite
    assert_eq!(s.install(&image(v(3), 9000), |_, _| {}), Ok(Slot::B));
    // A bad sector in a record block: that block holds no record, the other one decides.
    s.flash().bad.push(0..512);
    s.flash().bad.push(4096..4608);
    assert_eq!(s.record(), None);
    assert!(s.bootable().is_some());
}

/// The budget of a new image is spent before the loader touches it.
#[test]
fn the_boot_budget_is_spent_before_the_image_is_loaded() {
    let mut s = Slots::new(Nor::new(FLASH, 24)).unwrap();
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    let mut seen = None;
    s.begin_boot_with(|s, _| {
        seen = s.record().map(|r| r.state);
        // The loader "faults" here: it never returns a verdict the boot could use.
        None
    })
    .unwrap();
    assert_eq!(
        seen,
        Some(State::New {
            boots_left: BOOT_BUDGET - 1
        })
    );
    // A loader that finds no room in RAM makes the slot bad.
    let mut s = Slots::new(s.into_flash()).unwrap();
    let r = s.begin_boot_with(|_, _| {
        Some(Err(Refusal::Placement {
            load: 1 << 32,
            len: 1,
        }))
    });
    assert_eq!(r, None);
}

fn signed_image(version: Version, len: usize, key: &ed25519_compact::KeyPair) -> Vec<u8> {
    let img = image(version, len);
    let mut h: [u8; HEADER_LEN] = img[..HEADER_LEN].try_into().unwrap();
    crate::image::sign_header(&mut h, |m| *key.sk.sign(m, None));
    let mut out = h.to_vec();
    out.extend_from_slice(&img[HEADER_LEN..]);
    out
}

/// Finding 1 on the slot model: with the unit's key as boot policy, an unsigned or wrongly
/// signed image in a slot is a bad slot, whoever wrote it; the signed one boots.
#[test]
fn the_boot_policy_refuses_unsigned_and_foreign_images() {
    let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([1; 32]));
    let other = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([2; 32]));
    let mut s = Slots::new(Nor::new(FLASH, 25)).unwrap();
    s.install(&signed_image(v(1), 3000, &kp), |_, _| {})
        .unwrap();
    confirm_now(&mut s);
    // A keyless Boothelper writes an unsigned image (no policy on its side).
    s.install(&image(v(2), 3000), |_, _| {}).unwrap();
    let policy = BootPolicy {
        platform: PLATFORM,
        floor: Version::new(1, 0, 0),
        key: Some(*kp.pk),
    };
    let mut unit = Slots::new(s.into_flash()).unwrap();
    unit.set_policy(policy);
    assert_eq!(unit.check(Slot::B).unwrap_err(), Refusal::Unsigned);
    assert_eq!(unit.begin_boot(), Some(Slot::A));
    // A foreign signature is as bad.
    unit.install(&signed_image(v(3), 3000, &other), |_, _| {})
        .unwrap();
    let mut unit = Slots::new(unit.into_flash()).unwrap();
    unit.set_policy(policy);
    assert_eq!(unit.check(Slot::B).unwrap_err(), Refusal::BadSignature);
    assert_eq!(unit.begin_boot(), Some(Slot::A));
    // The unit's own signed image boots.
    unit.install(&signed_image(v(4), 3000, &kp), |_, _| {})
        .unwrap();
    assert_eq!(unit.begin_boot(), Some(Slot::B));
    // Another platform's image is bad too.
    let other_platform = Slots::new(Nor::new(FLASH, 26)).unwrap();
    let mut p = other_platform;
    p.set_policy(BootPolicy {
        platform: "pix-525",
        ..policy
    });
    p.install(&signed_image(v(1), 100, &kp), |_, _| {}).unwrap();
    assert_eq!(p.check(Slot::A).unwrap_err(), Refusal::Platform);
}

/// The floor rises to the release train of each image that confirms; nothing below it
/// boots afterwards, maintenance releases of the same train still do.
#[test]
fn the_floor_rises_when_an_image_confirms() {
    let mut s = Slots::new(Nor::new(FLASH, 27)).unwrap();
    s.set_policy(BootPolicy {
        platform: PLATFORM,
        floor: Version::new(1, 0, 0),
        key: None,
    });
    s.install(&image(Version::new(1, 1, 5), 3000), |_, _| {})
        .unwrap();
    confirm_now(&mut s);
    assert_eq!(s.unit().floor, Version::new(1, 1, 0));
    s.install(&image(Version::new(1, 2, 3), 3000), |_, _| {})
        .unwrap();
    confirm_now(&mut s);
    assert_eq!(s.unit().floor, Version::new(1, 2, 0));
    // The previous image (1.1(5)) is below the floor now: not bootable, not a fallback.
    assert_eq!(
        s.check(Slot::A).unwrap_err(),
        Refusal::BelowFloor {
            version: Version::new(1, 1, 5),
            floor: Version::new(1, 2, 0)
        }
    );
    s.install(&image(Version::new(1, 2, 1), 3000), |_, _| {})
        .unwrap();
    assert_eq!(s.begin_boot(), Some(Slot::A));
    // The floor never falls: a record with a lower floor is never written by confirm.
    let t = s.token().unwrap();
    s.confirm(t).unwrap();
    assert_eq!(s.unit().floor, Version::new(1, 2, 0));
}

#[test]
fn the_unit_record_keeps_key_floor_and_activation_through_installs() {
    let mut s = Slots::new(Ata::new(FLASH, 28)).unwrap();
    assert_eq!(s.unit(), Unit::default());
    let key = [0xAB; 32];
    let act = [0x0123_4567, 0x89ab_cdef, 0, 0xffff_ffff];
    s.update_unit(|u| {
        u.key = Some(key);
        u.activation = Some(act);
        u.floor = Version::new(1, 1, 0);
    })
    .unwrap();
    let ops = s.flash().ops;
    s.update_unit(|u| u.key = Some(key)).unwrap();
    assert_eq!(s.flash().ops, ops, "an unchanged unit writes nothing");
    s.install(&image(v(1), 3000), |_, _| {}).unwrap();
    confirm_now(&mut s);
    s.install(&image(v(2), 3000), |_, _| {}).unwrap();
    let u = s.unit();
    assert_eq!((u.key, u.activation), (Some(key), Some(act)));
    assert_eq!(u.floor, Version::new(1, 1, 0));
    // Power cut at every operation of a unit update: the old or the new unit, never none.
    for k in 0..20 {
        let f = s.flash();
        f.cut_at = Some(f.ops + k);
        let done = s
            .update_unit(|u| u.activation = Some([k as u32; 4]))
            .is_ok();
        s.flash().reboot();
        let a = s.unit().activation.unwrap();
        assert!(a == [k as u32; 4] || !done, "cut {k}");
        assert_eq!(s.unit().key, Some(key));
        assert_eq!(booted(&mut s), Some(v(2)));
        if done {
            break;
        }
    }
}

/// Every bit of a record matters: flipped, it is refused (or, for the CRC, never matches).
#[test]
fn every_flipped_record_bit_is_caught() {
    let r = Record {
        seq: 7,
        slot: Slot::B,
        state: State::New { boots_left: 2 },
        confirmed: Some(Slot::A),
        started: true,
        unit: Unit {
            key: Some([3; 32]),
            floor: Version::new(2, 1, 0),
            activation: Some([1, 2, 3, 4]),
        },
    };
    let bytes = r.encode();
    assert_eq!(Record::decode(&bytes), Some(r));
    for i in 0..bytes.len() * 8 {
        let mut b = bytes;
        b[i / 8] ^= 1 << (i % 8);
        assert_eq!(Record::decode(&b), None, "bit {i}");
    }
    // Fields that a valid CRC cannot excuse: out-of-range state, budget, slots, flags.
    for (at, val) in [(8, 2), (9, 3), (10, BOOT_BUDGET + 1), (11, 2), (16, 8)] {
        let mut b = bytes;
        b[at] = val;
        let crc = crate::image::CRC32.checksum(&b[..124]);
        b[124..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(Record::decode(&b), None, "byte {at} = {val}");
    }
}

/// The boot path's load is the same check as the flash check: the payload lands whole in
/// the RAM given, is verified there, and a refusal from the placement stops it before any
/// payload byte is read.
#[test]
fn load_into_is_the_same_check_into_ram() {
    let mut s = Slots::new(Ata::new(FLASH, 30)).unwrap();
    let img = image(v(1), 20_000);
    s.install(&img, |_, _| {}).unwrap();
    let mut ram = vec![0u8; 20_000];
    let (h, got) = s.load_into(Slot::A, |_| Ok(&mut ram[..])).unwrap();
    assert_eq!(h.version(), v(1));
    assert_eq!(got, &img[HEADER_LEN..]);
    let mut ram = vec![0u8; 20_000];
    let read_before = s.flash().read_bytes;
    let e = s.load_into(Slot::A, |h| {
        Err(Refusal::Placement {
            load: h.load(),
            len: h.payload_len(),
        })
    });
    assert_eq!(
        e.unwrap_err(),
        Refusal::Placement {
            load: 0x200_0000,
            len: 20_000
        }
    );
    assert_eq!(
        s.flash().read_bytes - read_before,
        HEADER_LEN,
        "only the header was read"
    );
    // A place of the wrong size is refused, not overrun.
    assert!(s.load_into(Slot::A, |_| Ok(&mut ram[..100])).is_err());
    // A flipped payload bit: the RAM copy does not verify.
    s.flash().mem[2 * 4096 + HEADER_LEN + 19_999] ^= 4;
    assert!(matches!(
        s.load_into(Slot::A, |_| Ok(&mut ram[..])),
        Err(Refusal::PayloadCrc { .. })
    ));
    assert_eq!(
        s.load_into(Slot::B, |_| Ok(&mut ram[..])).unwrap_err(),
        Refusal::BadMagic
    );
}

/// A record that names an empty slot (the unit's key recorded before any install) costs no
/// flash write per power-on.
#[test]
fn an_empty_unit_writes_nothing_at_boot() {
    let mut s = Slots::new(Nor::new(FLASH, 31)).unwrap();
    s.update_unit(|u| u.key = Some([1; 32])).unwrap();
    let ops = s.flash().ops;
    for _ in 0..5 {
        assert_eq!(s.begin_boot(), None);
    }
    assert_eq!(s.flash().ops, ops);
}

/// The sequence number wraps: the record after u32::MAX (0) is the newer one.
#[test]
fn the_record_sequence_wraps() {
    let mut s = Slots::new(Nor::new(FLASH, 32)).unwrap();
    let old = Record {
        seq: u32::MAX,
        ..Record::blank()
    };
    // A record with sequence u32::MAX in block 1; the next one (0) lands in block 0.
    let f = s.flash();
    f.erase(4096, 8192).unwrap();
    let mut b = [0xFFu8; 128];
    b.copy_from_slice(&old.encode());
    f.write(4096, &b).unwrap();
    assert_eq!(s.record().unwrap().seq, u32::MAX);
    s.update_unit(|u| u.floor = Version::new(3, 0, 0)).unwrap();
    let r = s.record().unwrap();
    assert_eq!((r.seq, r.unit.floor), (0, Version::new(3, 0, 0)));
}

/// Found by the `slot_records` fuzz target: two records 2^31 apart (serial-number order is
/// not transitive there) with the newest in the block its parity does not name. Choosing
/// the block by parity overwrote the newest record, and the other, older one then won over
/// the record just written. A new record goes where the newest is not.
#[test]
fn a_new_record_never_overwrites_the_newest_whatever_its_block() {
    let mut s = Slots::new(Nor::new(FLASH, 33)).unwrap();
    let base = Record::blank();
    for (block, seq) in [(0usize, 1u32), (1, 1 + (1 << 31))] {
        let f = s.flash();
        let mut b = [0xFFu8; 128];
        b.copy_from_slice(&Record { seq, ..base }.encode());
        f.write((block * 4096) as u32, &b).unwrap();
    }
    assert_eq!(s.record().unwrap().seq, 1);
    s.update_unit(|u| u.floor = Version::new(4, 0, 0)).unwrap();
    let r = s.record().unwrap();
    assert_eq!((r.seq, r.unit.floor), (2, Version::new(4, 0, 0)));
}
