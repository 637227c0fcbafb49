//! Fuzzes the whole flash boot (`boot::flash`: power-on records, budget, token, slot, load)
//! and installs under fault schedules, on the strict ATA-like flash model: a power cut at
//! any operation of a power-on or an install, one sector anywhere that fails reads, writes
//! or both (there from the start), images that confirm or not.
//!
//! Invariants, for a keyed unit on its own medium:
//! - no panic (the flash model panics on a protocol violation, the RAM model on a request
//!   outside the RAM a boot may touch);
//! - only an image signed with the unit's key starts, exactly as installed;
//! - the last image known to have confirmed is never overwritten by an install while it
//!   can be read;
//! - while that image verifies, an image installed after it that never confirms starts at
//!   most its budget;
//! - while it verifies, a power-on that keeps its power starts an image.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use lifeboat_firmware::boot::flash::sim::SimRam;
use lifeboat_firmware::boot::flash::{flash_boot, power_on, Launch, Machine};
use lifeboat_firmware::ram::RamRegion;
use lifeboat_firmware::image::{sign_header, HeaderRepr, Kind, Version, PLATFORM};
use lifeboat_firmware::install::dialogue::Trust;
use lifeboat_firmware::install::sim::SimFlash;
use lifeboat_firmware::install::{Slot, Slots, State, BOOT_BUDGET};

type Ata = SimFlash<512, 512>;
const FLASH: usize = 64 * 1024;
const SLOT_A: usize = 8192;
const SLOT_LEN: usize = 7 * 4096;
const RAM_END: u64 = 48 << 20;
const FIRMWARE: RamRegion = RamRegion {
    base: 0x10_0000,
    len: 0x30_0000,
};
const USABLE: [RamRegion; 2] = [
    RamRegion {
        base: 0,
        len: 0x9_FC00,
    },
    RamRegion {
        base: 0x10_0000,
        len: RAM_END - 0x10_0000,
    },
];

fn key(seed: u8) -> ed25519_compact::KeyPair {
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([seed; 32]))
}

thread_local! {
    /// Signed images, made once (signing is the slow part of a run).
    static IMAGES: std::cell::RefCell<std::collections::HashMap<(u8, u16), Vec<u8>>> =
        Default::default();
    /// The RAM, allocated once.
    static RAM: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; RAM_END as usize]);
}

/// Image `which`: 2.0(which) signed with the unit's key; every fourth one unsigned.
fn image(which: u8, len: u16) -> Vec<u8> {
    let (which, len) = (which % 16, len % 6000);
    IMAGES.with(|m| {
        m.borrow_mut()
            .entry((which, len))
            .or_insert_with(|| make_image(which, len))
            .clone()
    })
}

fn make_image(which: u8, len: u16) -> Vec<u8> {
    let payload: Vec<u8> = (0..usize::from(len) + 1)
        .map(|i| (i as u8) ^ which)
        .collect();
    let mut h = HeaderRepr {
        platform: PLATFORM,
        version: Version::new(2, 0, u16::from(which)),
        kind: Kind::Flat64,
        load: 0x200_0000,
        entry: 0x200_0000,
        initrd_len: 0,
        cmdline: "",
    }
    .emit(&payload)
    .unwrap();
    if which % 4 != 3 {
        let k = key(1);
        sign_header(&mut h, |m| *k.sk.sign(m, None));
    }
    let mut v = h.to_vec();
    v.extend_from_slice(&payload);
    v
}

#[derive(Arbitrary, Debug)]
enum Step {
    PowerOn { cut: Option<u8>, confirms: bool },
    Install { which: u8, len: u16, cut: Option<u8> },
    /// A sector that fails (the first one, before any power-on or install): `kind` 0
    /// reads, 1 writes, 2 both.
    Fault { sector: u8, kind: u8 },
}

fn slot_range(slot: Slot) -> core::ops::Range<usize> {
    let start = SLOT_A + if slot == Slot::B { SLOT_LEN } else { 0 };
    start..start + SLOT_LEN
}

/// The last confirmed image is still whole in its slot and no failing sector is over it.
fn intact(flash: &Ata, confirmed: &Option<(Slot, Vec<u8>)>) -> bool {
    confirmed.as_ref().is_some_and(|(slot, bytes)| {
        let r = slot_range(*slot);
        let end = r.start + bytes.len();
        flash.mem[r.start..end] == bytes[..]
            && !flash.bad.iter().any(|b| b.start < end && r.start < b.end)
    })
}

fuzz_target!(|steps: Vec<Step>| {
    let unit_key = *key(1).pk;
    let trust = Trust {
        key: Some(unit_key),
        broken: None,
        boothelper: false,
        ram: &USABLE,
        firmware: FIRMWARE,
        linux_staging: 0x200_0000,
        floor: lifeboat_firmware::install::dialogue::INSTALL_FLOOR,
    };
    let machine = Machine { e820: &[], rsdp: 0 };
    let mut flash = Ata::new(FLASH, 1);
    let mut ram = SimRam {
        mem: RAM.with(|r| std::mem::take(&mut *r.borrow_mut())),
        ram: &USABLE,
        firmware: FIRMWARE,
    };
    let mut cmos: Option<u32> = None;
    // The started image whose token is in CMOS: its slot and bytes.
    let mut pending: Option<(u32, Vec<u8>)> = None;
    // The last image known to have confirmed: its slot and bytes.
    let mut confirmed: Option<(Slot, Vec<u8>)> = None;
    // The image installed last (not yet confirmed) and its starts since.
    let mut newest: Option<(Vec<u8>, u32)> = None;
    let mut out = String::new();
    let mut started_steps = false;
    for step in steps.into_iter().take(24) {
        started_steps |= !matches!(step, Step::Fault { .. });
        match step {
            // One failing sector for good, there from the first power-on (the unit then never
            // relies on it). A sector that fails later is covered by the two copies of each
            // record, unless a power cut tore the other copy too: two faults, beyond this
            // model (`boot::flash::tests` has the later failures without cuts).
            Step::Fault { .. } if started_steps || !(flash.bad.is_empty() && flash.bad_write.is_empty()) => {}
            Step::Fault { sector, kind } => {
                let at = usize::from(sector) % (FLASH / 512) * 512;
                if kind % 3 != 1 {
                    flash.bad.push(at..at + 512);
                }
                if kind % 3 != 0 {
                    flash.bad_write.push(at..at + 512);
                }
            }
            Step::Install { which, len, cut } => {
                let img = image(which, len);
                let was_intact = intact(&flash, &confirmed);
                if let Some(c) = cut {
                    flash.cut_at = Some(flash.ops + usize::from(c) % 40);
                }
                let r = Slots::new(&mut flash).unwrap().install(&img, |_, _| {});
                let cut_happened = flash.dead;
                flash.reboot();
                // Kept while it can be read (one that cannot is no image to go back to).
                if let Some((slot, bytes)) = confirmed.as_ref().filter(|_| was_intact) {
                    let r = slot_range(*slot);
                    assert!(
                        flash.mem[r.start..r.start + bytes.len()] == bytes[..],
                        "an install overwrote the last confirmed image"
                    );
                }
                // Installed (the record committed; a cut may have come after), or perhaps
                // (cut while its record was being written): its budget starts afresh.
                let written = [Slot::A, Slot::B].into_iter().any(|s| {
                    let r = slot_range(s);
                    flash.mem[r.start..r.start + img.len()] == img[..]
                });
                if r.is_ok() || (cut_happened && written) {
                    newest = Some((img, 0));
                }
            }
            Step::PowerOn { cut, confirms } => {
                if let Some(c) = cut {
                    flash.cut_at = Some(flash.ops + usize::from(c) % 40);
                }
                out.clear();
                let token = cmos.take();
                let unit = power_on(Some(&mut flash), &trust, token, true, &mut out);
                // What the confirmation recorded, before the boot goes on.
                let mut just_confirmed = None;
                let unit = unit.map(|mut s| {
                    if let (Some(t), Some((pt, bytes))) = (token, &pending) {
                        // Confirmed, in a slot holding exactly the image started.
                        let slot = s
                            .record()
                            .filter(|r| *pt == t && r.state == State::Confirmed)
                            .and_then(|r| r.confirmed)
                            .filter(|&c| {
                                let r = slot_range(c);
                                s.flash().mem[r.start..r.start + bytes.len()] == bytes[..]
                            });
                        if let Some(slot) = slot {
                            just_confirmed = Some((slot, bytes.clone()));
                        }
                    }
                    s
                });
                pending = None;
                let launch = flash_boot(unit, &trust, machine, &mut ram, &mut out);
                let cut_happened = flash.dead;
                flash.reboot();
                if let Some(c) = just_confirmed {
                    if newest.as_ref().is_some_and(|(n, _)| c.1 == *n) {
                        newest = None;
                    }
                    confirmed = Some(c);
                }
                // Does the last confirmed image still verify (no failing sector over it)?
                let intact = intact(&flash, &confirmed);
                if cut_happened {
                    continue;
                }
                match launch {
                    None => assert!(!intact, "the confirmed image verifies, nothing started:\n{out}"),
                    Some(Launch::Linux { .. }) => panic!("no linux image was installed"),
                    Some(Launch::Flat64 {
                        header, handoff, ..
                    }) => {
                        let h = lifeboat_firmware::image::Header::new_checked(header).unwrap();
                        let payload = &ram.mem[0x200_0000..0x200_0000 + h.payload_len() as usize];
                        let mut started = header.to_vec();
                        started.extend_from_slice(payload);
                        assert!(h.signature_ok(&unit_key), "an unsigned image started");
                        assert!(
                            [Slot::A, Slot::B].into_iter().any(|s| {
                                let r = slot_range(s);
                                flash.mem[r.start..r.start + started.len()] == started[..]
                            }),
                            "the image started is in no slot"
                        );
                        if let Some((n, starts)) = &mut newest {
                            if *n == started {
                                *starts += 1;
                                if intact && confirmed.as_ref().is_some_and(|c| c.1 != *n) {
                                    assert!(
                                        *starts <= u32::from(BOOT_BUDGET),
                                        "an image that never confirmed started {starts} times"
                                    );
                                }
                            }
                        }
                        if confirms {
                            cmos = Some(handoff.token);
                            pending = Some((handoff.token, started));
                        }
                    }
                }
            }
        }
    }
    RAM.with(|r| *r.borrow_mut() = ram.mem);
});
