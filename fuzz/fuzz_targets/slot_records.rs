//! Fuzzes the flash boot's selection over whatever the flash holds: the two record blocks
//! (the fuzzer chooses every field of each record and the CRC is computed, or the bytes are
//! raw), the two slots (empty, one of four images, or the image with fuzzer-chosen bytes
//! flipped), unreadable ranges, and the CMOS token handed back, on the strict NOR model.
//!
//! Checks, for a unit with a key and a floor (the unit's own firmware):
//! - no panic (the model also panics on any flash protocol violation);
//! - the confirmation is taken only with the current record's token, and only for a record
//!   an image was started under;
//! - `begin_boot` selects nothing or a slot that verifies under the unit's policy (signed
//!   with its key, its platform, at or above the floor);
//! - an install afterwards never overwrites the slot of the last confirmed image while that
//!   image still verifies (bad sectors cleared first: the card remapped them), and the new
//!   record selects the new image, new with a whole budget.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use lifeboat_firmware::image::{sign_header, HeaderRepr, Kind, Version, HEADER_LEN, PLATFORM};
use lifeboat_firmware::install::sim::SimFlash;
use lifeboat_firmware::install::{BootPolicy, Record, Slot, Slots, State, Unit};

type Nor = SimFlash<4, 4096>;
const FLASH: usize = 64 * 1024;
const E: usize = 4096;
/// Slot length on this layout: (16 blocks - 2 record blocks) / 2.
const SLOT: usize = 7 * E;

fn key() -> ed25519_compact::KeyPair {
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([5; 32]))
}

/// Image `which` of four: signed 2.1(0), signed 2.0(3) (below a 2.1 floor), unsigned
/// 2.2(0), signed 2.3(0) for another platform.
fn image(which: u8, len: usize) -> Vec<u8> {
    let (version, signed, platform) = match which % 4 {
        0 => (Version::new(2, 1, 0), true, PLATFORM),
        1 => (Version::new(2, 0, 3), true, PLATFORM),
        2 => (Version::new(2, 2, 0), false, PLATFORM),
        _ => (Version::new(2, 3, 0), true, "pix-525"),
    };
    let payload: Vec<u8> = (0..len).map(|i| (i as u8) ^ which).collect();
    let mut h = HeaderRepr {
        platform,
        version,
        kind: Kind::Flat64,
        load: 0x200_0000,
        entry: 0x200_0000,
        initrd_len: 0,
        cmdline: "",
    }
    .emit(&payload)
    .unwrap();
    if signed {
        let kp = key();
        sign_header(&mut h, |m| *kp.sk.sign(m, None));
    }
    let mut v = h.to_vec();
    v.extend_from_slice(&payload);
    v
}

#[derive(Arbitrary, Debug)]
enum Block {
    Empty,
    Raw(Vec<u8>),
    Record {
        seq: u32,
        slot_b: bool,
        state: u8,
        boots_left: u8,
        confirmed: Option<bool>,
        floor: (u8, u8, u16),
        keyed: bool,
        activation: Option<[u32; 4]>,
        started: bool,
    },
}

#[derive(Arbitrary, Debug)]
enum SlotContent {
    Empty,
    Image {
        which: u8,
        len: u16,
        flips: Vec<(u16, u8)>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    blocks: [Block; 2],
    slots: [SlotContent; 2],
    bad: Vec<(u16, u8)>,
    /// The token in CMOS: none, the current record's, or any value.
    token: Option<Option<u32>>,
    install: Option<(u8, u16)>,
}

fn encode(b: &Block) -> Option<Vec<u8>> {
    match b {
        Block::Empty => None,
        Block::Raw(v) => Some(v.iter().copied().take(E).collect()),
        Block::Record {
            seq,
            slot_b,
            state,
            boots_left,
            confirmed,
            floor,
            keyed,
            activation,
            started,
        } => {
            let state = match state % 3 {
                0 => State::New {
                    boots_left: boots_left % 4,
                },
                1 => State::Confirmed,
                _ => State::Unconfirmed,
            };
            let slot = |b: bool| if b { Slot::B } else { Slot::A };
            let r = Record {
                seq: *seq,
                slot: slot(*slot_b),
                state,
                confirmed: confirmed.map(slot),
                started: *started,
                unit: Unit {
                    key: keyed.then(|| *key().pk),
                    floor: Version::new(floor.0, floor.1, floor.2),
                    activation: *activation,
                },
            };
            Some(r.encode().to_vec())
        }
    }
}

fn policy() -> BootPolicy {
    BootPolicy {
        platform: PLATFORM,
        floor: Version::new(2, 1, 0),
        key: Some(*key().pk),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let mut f = Nor::new(FLASH, 1);
    for (i, b) in input.blocks.iter().enumerate() {
        if let Some(bytes) = encode(b) {
            let n = bytes.len().div_ceil(4) * 4;
            let mut w = bytes.clone();
            w.resize(n, 0xFF);
            f.mem[i * E..i * E + n].copy_from_slice(&w);
        }
    }
    for (i, c) in input.slots.iter().enumerate() {
        if let SlotContent::Image { which, len, flips } = c {
            let img = image(*which, usize::from(*len) % (SLOT - HEADER_LEN));
            let start = 2 * E + i * SLOT;
            f.mem[start..start + img.len()].copy_from_slice(&img);
            for &(at, bit) in flips.iter().take(4) {
                let at = start + usize::from(at) % img.len();
                f.mem[at] ^= 1 << (bit % 8);
            }
        }
    }
    for &(at, len) in input.bad.iter().take(3) {
        let at = usize::from(at) % FLASH;
        f.bad.push(at..(at + usize::from(len) + 1).min(FLASH));
    }
    let mut s = Slots::new(f).unwrap();
    s.set_policy(policy());

    // Power-on: the token handed back.
    let before = s.record();
    if let Some(token) = input.token {
        let t = token.unwrap_or_else(|| before.map_or(0, |r| r.token()));
        let confirmed = s.confirm(t).unwrap_or(false);
        if confirmed {
            let r = before.expect("a confirmation needs a record");
            assert_eq!(t, r.token(), "confirmed with another record's token");
            assert!(r.started, "confirmed a record no image was started under");
            assert!(matches!(r.state, State::New { .. } | State::Unconfirmed));
        }
    }

    // Flash boot.
    if let Some(slot) = s.begin_boot() {
        assert!(
            s.check(slot).is_ok(),
            "selected a slot that does not verify: {:?}",
            s.check(slot)
        );
    }

    // An install afterwards keeps the last confirmed image that still verifies.
    if let Some((which, len)) = input.install {
        s.flash().bad.clear();
        let keep = s
            .record()
            .and_then(|r| r.confirmed)
            .filter(|&c| s.check(c).is_ok());
        let img = image(which, usize::from(len) % (SLOT - HEADER_LEN));
        if let Ok(target) = s.install(&img, |_, _| {}) {
            if let Some(c) = keep {
                assert_ne!(target, c, "the install overwrote the confirmed image");
                assert!(s.check(c).is_ok(), "the confirmed image no longer verifies");
            }
            let r = s.record().expect("an install leaves a record");
            assert_eq!(r.slot, target);
            assert_eq!(r.state, State::New { boots_left: 3 });
        }
    }
});
