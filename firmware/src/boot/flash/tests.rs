//! The flash boot, whole, on the strict models: a NOR/ATA flash that panics on a protocol
//! violation, cuts the power at any operation and has sectors that fail reads, writes or
//! both; and a RAM that panics when the boot asks for memory it may not touch. Each unit
//! here powers on, boots, runs (and perhaps confirms) as the real one does; the invariants:
//! - an image that never confirms starts at most its budget while a confirmed image exists;
//! - the last confirmed image is never overwritten;
//! - whenever a slot verifies, a boot without a power cut starts an image;
//! - only images that verify under the unit's policy start.
use std::string::String;
use std::vec::Vec;

use super::sim::SimRam;
use super::*;
use crate::image::{sign_header, HeaderRepr, Version, PLATFORM};
use crate::install::sim::SimFlash;
use crate::install::{Record, State, BOOT_BUDGET};

const FLASH: usize = 64 * 1024;
/// Slot A's first byte (after the two 4 KiB record blocks).
const SLOT_A: usize = 8192;
const RAM_END: u64 = 64 << 20;
const FIRMWARE: RamRegion = RamRegion {
    base: 0x10_0000,
    len: 0x30_0000,
};
const STAGING: u64 = 0x300_0000;
/// Where the monitor's download buffer holds an image it just installed.
const DOWNLOAD: u64 = 0x80_0000;
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
const E820: [(u64, u64, u32); 2] = [(0, 0x9_FC00, 1), (0x10_0000, RAM_END - 0x10_0000, 1)];

fn sim_ram() -> SimRam {
    SimRam::new(RAM_END as usize, &USABLE, FIRMWARE)
}

fn keypair(seed: u8) -> ed25519_compact::KeyPair {
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([seed; 32]))
}

fn v(major: u8, minor: u8) -> Version {
    Version::new(major, minor, 1)
}

/// A flat64 image of `version`, signed with `key` when given.
fn image(version: Version, key: Option<&ed25519_compact::KeyPair>) -> Vec<u8> {
    let payload: Vec<u8> = (0..3000u32)
        .map(|i| (i as u8) ^ version.major ^ version.minor)
        .collect();
    let mut h = HeaderRepr {
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
    if let Some(k) = key {
        sign_header(&mut h, |m| *k.sk.sign(m, None));
    }
    let mut out = h.to_vec();
    out.extend_from_slice(&payload);
    out
}

fn trust(key: Option<[u8; 32]>) -> Trust<'static> {
    Trust {
        key,
        broken: None,
        boothelper: false,
        ram: &USABLE,
        firmware: FIRMWARE,
        linux_staging: STAGING,
        floor: crate::install::dialogue::INSTALL_FLOOR,
    }
}

/// One unit: its flash, its RAM, the CMOS confirmation bytes, and its console.
struct Unit<const W: usize, const E: usize> {
    flash: SimFlash<W, E>,
    ram: SimRam,
    cmos: Option<u32>,
    out: String,
}

/// What one power-on did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boot {
    /// The power went during it.
    Cut,
    /// The monitor (nothing to start).
    Monitor,
    Started {
        version: Version,
        token: u32,
    },
}

impl<const W: usize, const E: usize> Unit<W, E> {
    fn new(seed: u64) -> Self {
        Unit {
            flash: SimFlash::new(FLASH, seed),
            ram: sim_ram(),
            cmos: None,
            out: String::new(),
        }
    }

    fn slots(&mut self) -> Slots<&mut SimFlash<W, E>> {
        Slots::new(&mut self.flash).unwrap()
    }

    /// Powers on from a medium with `key` and flash boots, as `bare::startup` does.
    fn power_on(&mut self, key: Option<[u8; 32]>, own_medium: bool) -> Boot {
        let t = trust(key);
        self.out.clear();
        let token = self.cmos.take();
        let unit = power_on(Some(&mut self.flash), &t, token, own_medium, &mut self.out);
        let machine = Machine {
            e820: &E820,
            rsdp: 0,
        };
        let launch = flash_boot(unit, &t, machine, &mut self.ram, &mut self.out);
        self.outcome(launch)
    }

    /// The monitor's `boot` right after installing `img` from its download buffer (at
    /// [`DOWNLOAD`] in RAM): the image starts from that RAM, no power-on between.
    fn install_and_start(&mut self, img: &[u8], key: Option<[u8; 32]>) -> Boot {
        self.install(img);
        self.start_from_ram(img, key)
    }

    /// [`start_installed`] with `img` in the download buffer (installed or not).
    fn start_from_ram(&mut self, img: &[u8], key: Option<[u8; 32]>) -> Boot {
        let t = trust(key);
        self.out.clear();
        self.ram.mem[DOWNLOAD as usize..][..img.len()].copy_from_slice(img);
        let unit = Slots::new(&mut self.flash).map_err(|_| "no slots");
        let machine = Machine {
            e820: &E820,
            rsdp: 0,
        };
        let installed = InRam {
            addr: DOWNLOAD,
            len: img.len(),
        };
        let launch = start_installed(unit, installed, &t, machine, &mut self.ram, &mut self.out);
        self.outcome(launch)
    }

    fn outcome(&mut self, launch: Option<Launch>) -> Boot {
        if self.flash.dead {
            self.flash.reboot();
            return Boot::Cut;
        }
        match launch {
            None => Boot::Monitor,
            Some(Launch::Flat64 {
                header, handoff, ..
            }) => {
                let h = Header::new_checked(header).unwrap();
                // What starts is exactly what verified: the payload in RAM is the slot's.
                let load = h.load() as usize;
                let mut check = crate::image::PayloadCheck::default();
                check.update(&self.ram.mem[load..load + h.payload_len() as usize]);
                check.finish(&h).unwrap();
                Boot::Started {
                    version: h.version(),
                    token: handoff.token,
                }
            }
            Some(Launch::Linux { handoff, .. }) => Boot::Started {
                version: Version::new(0, 0, 0),
                token: handoff.token,
            },
        }
    }

    /// The started image says it works (its userland writes the token to CMOS).
    fn run_and_confirm(&mut self, b: Boot) {
        if let Boot::Started { token, .. } = b {
            self.cmos = Some(token);
        }
    }

    fn install(&mut self, img: &[u8]) -> Slot {
        self.slots().install(img, |_, _| {}).unwrap()
    }

    fn record(&mut self) -> Option<Record> {
        self.slots().record()
    }
}

fn started(b: Boot) -> Option<Version> {
    match b {
        Boot::Started { version, .. } => Some(version),
        _ => None,
    }
}

/// A unit with `v(1, 0)` installed, started and confirmed (the confirmation recorded at
/// the next power-on, which starts it again), then `v(2, 0)` installed.
fn confirmed_then_new<const W: usize, const E: usize>(u: &mut Unit<W, E>) -> Vec<u8> {
    let one = image(v(1, 0), None);
    assert_eq!(u.install(&one), Slot::A);
    let b = u.power_on(None, true);
    assert_eq!(started(b), Some(v(1, 0)), "{}", u.out);
    u.run_and_confirm(b);
    assert_eq!(started(u.power_on(None, true)), Some(v(1, 0)));
    assert_eq!(u.record().unwrap().state, State::Confirmed);
    assert_eq!(u.install(&image(v(2, 0), None)), Slot::B);
    one
}

fn slot_bytes<const W: usize, const E: usize>(u: &Unit<W, E>, img: &[u8]) -> bool {
    u.flash.mem[SLOT_A..SLOT_A + img.len()] == *img
}

/// A power cut at every operation of every boot of an image that never confirms: it
/// starts at most its budget, the confirmed image is never touched, and every boot that
/// keeps its power starts an image.
#[test]
fn power_cut_at_every_operation_of_a_boot() {
    for k in 0..24 {
        for cut_boot in 0..BOOT_BUDGET as usize + 1 {
            let mut u: Unit<4, 4096> = Unit::new(k as u64 + 1);
            let one = confirmed_then_new(&mut u);
            let mut new_starts = 0;
            for boot in 0..8 {
                if boot == cut_boot {
                    u.flash.cut_at = Some(u.flash.ops + k);
                }
                let b = u.power_on(None, true);
                u.flash.cut_at = None;
                match b {
                    Boot::Cut => assert_eq!(boot, cut_boot),
                    Boot::Monitor => panic!("cut {k} boot {boot}: monitor\n{}", u.out),
                    Boot::Started { version, .. } => {
                        if version == v(2, 0) {
                            new_starts += 1;
                        }
                    }
                }
                assert!(
                    slot_bytes(&u, &one),
                    "cut {k}: the confirmed image was touched"
                );
            }
            assert!(new_starts <= BOOT_BUDGET, "cut {k}: {new_starts} starts");
            assert_eq!(started(u.power_on(None, true)), Some(v(1, 0)));
        }
    }
}

/// Random chains of power cuts over boots, confirmations and installs.
#[test]
fn random_chains_of_power_cuts_over_boots_and_installs() {
    let mut rng = lifeboat_qemu::rng::XorShift::new(77);
    for seed in 0..150 {
        let mut u: Unit<512, 512> = Unit::new(seed + 1);
        let one = confirmed_then_new(&mut u);
        let mut new_starts = 0;
        for _ in 0..12 {
            if rng.below(2) == 0 {
                u.flash.cut_at = Some(u.flash.ops + rng.below(30) as usize);
            }
            let b = u.power_on(None, true);
            u.flash.cut_at = None;
            if started(b) == Some(v(2, 0)) {
                new_starts += 1;
            }
            assert!(slot_bytes(&u, &one), "seed {seed}");
        }
        assert!(new_starts <= BOOT_BUDGET, "seed {seed}: {new_starts}");
        // The next install goes over the never-confirmed image, not the confirmed one.
        assert_eq!(u.install(&image(v(3, 0), None)), Slot::B);
        assert!(slot_bytes(&u, &one));
    }
}

/// Finding 1: one sector of a record block fails reads, writes or both, from the start or
/// from any later point: the invariants hold, and a later install never overwrites the
/// last confirmed image (which, confirmed while the sector failed, must be known).
#[test]
fn a_failing_sector_anywhere_in_the_record_blocks() {
    #[derive(Clone, Copy, Debug)]
    enum Fault {
        Read,
        Write,
        Both,
    }
    for sector in 0..16 {
        for fault in [Fault::Read, Fault::Write, Fault::Both] {
            for phase in 0..3 {
                let mut u: Unit<512, 512> = Unit::new(sector as u64 * 7 + phase + 1);
                let range = sector * 512..sector * 512 + 512;
                let apply = |u: &mut Unit<512, 512>| {
                    if matches!(fault, Fault::Read | Fault::Both) {
                        u.flash.bad.push(range.clone());
                    }
                    if matches!(fault, Fault::Write | Fault::Both) {
                        u.flash.bad_write.push(range.clone());
                    }
                };
                let ctx = format!("sector {sector} {fault:?} phase {phase}");
                if phase == 0 {
                    apply(&mut u);
                }
                let one = image(v(1, 0), None);
                assert_eq!(u.install(&one), Slot::A, "{ctx}");
                let b = u.power_on(None, true);
                assert_eq!(started(b), Some(v(1, 0)), "{ctx}\n{}", u.out);
                u.run_and_confirm(b);
                if phase == 1 {
                    apply(&mut u);
                }
                assert_eq!(started(u.power_on(None, true)), Some(v(1, 0)), "{ctx}");
                assert_eq!(u.install(&image(v(2, 0), None)), Slot::B, "{ctx}");
                if phase == 2 {
                    apply(&mut u);
                }
                let mut new_starts = 0;
                for _ in 0..7 {
                    match u.power_on(None, true) {
                        Boot::Started { version, .. } => {
                            if version == v(2, 0) {
                                new_starts += 1;
                            }
                        }
                        other => panic!("{ctx}: {other:?}\n{}", u.out),
                    }
                }
                assert!(new_starts <= BOOT_BUDGET, "{ctx}: {new_starts} starts");
                assert_eq!(started(u.power_on(None, true)), Some(v(1, 0)), "{ctx}");
                // An image that confirms while the sector fails is the one kept.
                assert_eq!(u.install(&image(v(3, 0), None)), Slot::B, "{ctx}");
                let b = u.power_on(None, true);
                assert_eq!(started(b), Some(v(3, 0)), "{ctx}\n{}", u.out);
                u.run_and_confirm(b);
                assert_eq!(started(u.power_on(None, true)), Some(v(3, 0)), "{ctx}");
                assert_eq!(u.record().unwrap().confirmed, Some(Slot::B), "{ctx}");
                let slot_b = SLOT_A + u.slots().slot_len() as usize;
                let three = u.flash.mem[slot_b..][..3320].to_vec();
                assert_eq!(u.install(&image(v(4, 0), None)), Slot::A, "{ctx}");
                assert_eq!(
                    u.flash.mem[slot_b..][..3320],
                    three[..],
                    "{ctx}: the confirmed 3.0 was overwritten"
                );
            }
        }
    }
}

/// With no record block that takes a record at all, a boot that cannot be counted goes to
/// the confirmed image, and says so.
#[test]
fn a_boot_that_cannot_be_recorded_starts_the_confirmed_image() {
    let mut u: Unit<512, 512> = Unit::new(5);
    confirmed_then_new(&mut u);
    u.flash.bad_write.push(0..8192);
    for _ in 0..5 {
        assert_eq!(started(u.power_on(None, true)), Some(v(1, 0)), "{}", u.out);
        assert!(
            u.out.contains("Warning: this boot is not recorded: "),
            "{}",
            u.out
        );
    }
}

/// Finding 5: the install's record is in flash for anyone to read; its token, written to
/// CMOS, confirms nothing. The token of the boot that started the image does.
#[test]
fn the_install_records_token_confirms_nothing() {
    let mut u: Unit<4, 4096> = Unit::new(9);
    confirmed_then_new(&mut u);
    let forged = u.record().unwrap().token();
    u.cmos = Some(forged);
    let b = u.power_on(None, true);
    assert_eq!(started(b), Some(v(2, 0)));
    assert!(matches!(u.record().unwrap().state, State::New { .. }));
    // Its real token (of the record it was started under) confirms it.
    u.run_and_confirm(b);
    u.power_on(None, true);
    let r = u.record().unwrap();
    assert_eq!((r.state, r.confirmed), (State::Confirmed, Some(Slot::B)));
}

/// Finding 4: a medium that is not the unit's (a diskette whose configuration names
/// another key, in monitor mode) starts that key's image, which confirms: the unit record
/// keeps the unit's key and floor, and the unit's own firmware goes on booting its own
/// signed images.
#[test]
fn a_foreign_key_never_raises_the_floor() {
    let unit_key = keypair(1);
    let attacker = keypair(2);
    let mut u: Unit<4, 4096> = Unit::new(11);
    u.install(&image(v(2, 0), Some(&unit_key)));
    let b = u.power_on(Some(*unit_key.pk), true);
    u.run_and_confirm(b);
    u.power_on(Some(*unit_key.pk), true);
    assert_eq!(u.record().unwrap().unit.floor, Version::new(2, 0, 0));
    // The attacker's diskette: its key, monitor mode.
    u.install(&image(v(9, 9), Some(&attacker)));
    let b = u.power_on(Some(*attacker.pk), false);
    assert_eq!(started(b), Some(v(9, 9)));
    u.run_and_confirm(b);
    u.power_on(Some(*attacker.pk), false);
    let r = u.record().unwrap();
    assert_eq!(r.unit.key, Some(*unit_key.pk));
    assert_eq!(r.unit.floor, Version::new(2, 0, 0));
    // The diskette is gone: the unit's own firmware refuses 9.9 and boots its 2.0, and its
    // next signed image installs and runs.
    let b = u.power_on(Some(*unit_key.pk), true);
    assert_eq!(started(b), Some(v(2, 0)), "{}", u.out);
    assert!(u.out.contains("signature"), "{}", u.out);
    u.install(&image(v(2, 1), Some(&unit_key)));
    assert_eq!(started(u.power_on(Some(*unit_key.pk), true)), Some(v(2, 1)));
}

/// Finding 3: `flashtest` over the record blocks keeps the unit record: the floor a
/// confirmed 2.0 raised still refuses a signed 1.9.
#[test]
fn flashtest_keeps_the_floor() {
    let key = keypair(1);
    let mut u: Unit<4, 4096> = Unit::new(13);
    u.install(&image(v(2, 0), Some(&key)));
    let b = u.power_on(Some(*key.pk), true);
    u.run_and_confirm(b);
    u.power_on(Some(*key.pk), true);
    let mut out = String::new();
    assert!(crate::monitor::flashtest::run_keeping_record(
        &mut u.slots(),
        &"sim",
        8,
        || 0,
        &mut out
    ));
    assert!(
        out.contains("unit record written back (floor 2.0(0))"),
        "{out}"
    );
    let r = u.record().unwrap();
    assert_eq!(
        (r.unit.floor, r.unit.key),
        (Version::new(2, 0, 0), Some(*key.pk))
    );
    u.install(&image(v(1, 9), Some(&key)));
    let b = u.power_on(Some(*key.pk), true);
    assert_eq!(started(b), Some(v(2, 0)), "{}", u.out);
    assert!(u.out.contains("is older than 2.0(0)"), "{}", u.out);
}

/// A unit whose configuration cannot be trusted boots nothing and says why.
#[test]
fn a_broken_trust_boots_nothing() {
    let mut u: Unit<4, 4096> = Unit::new(15);
    u.install(&image(v(1, 0), None));
    let t = Trust {
        broken: Some("the configuration's pubkey line does not parse"),
        ..trust(None)
    };
    let mut out = String::new();
    let unit = power_on(Some(&mut u.flash), &t, None, true, &mut out);
    assert!(unit.is_err());
    let machine = Machine {
        e820: &E820,
        rsdp: 0,
    };
    assert_eq!(flash_boot(unit, &t, machine, &mut u.ram, &mut out), None);
    assert!(out.contains("Flash boot refused: the configuration's pubkey line does not parse; entering the monitor."), "{out}");
}

/// An empty unit: no record written, the monitor, one line.
#[test]
fn an_empty_unit_enters_the_monitor() {
    let mut u: Unit<4, 4096> = Unit::new(17);
    assert_eq!(u.power_on(None, true), Boot::Monitor);
    assert_eq!(u.flash.ops, 0);
    assert!(
        u.out.contains("no valid image installed in flash"),
        "{}",
        u.out
    );
}

/// A `linux` image of version 3.0(1) (a kernel of 5,000 bytes, an initrd of 777, the
/// command line `console=ttyS0`): the image, the kernel file, the initrd.
fn linux_image() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut kernel = vec![0u8; 40 * 512 + 5000];
    let f = |o: usize, b: &[u8], k: &mut Vec<u8>| k[o..o + b.len()].copy_from_slice(b);
    f(0x1F1, &[39], &mut kernel);
    f(0x1FE, &0xAA55u16.to_le_bytes(), &mut kernel);
    f(0x200, &[0xEB, 0x6A], &mut kernel);
    f(0x202, b"HdrS", &mut kernel);
    f(0x206, &0x020Fu16.to_le_bytes(), &mut kernel);
    f(0x22C, &0x7FFF_FFFFu32.to_le_bytes(), &mut kernel);
    f(0x230, &0x20_0000u32.to_le_bytes(), &mut kernel);
    kernel[0x234] = 1;
    f(0x236, &0x7Fu16.to_le_bytes(), &mut kernel);
    f(0x238, &2047u32.to_le_bytes(), &mut kernel);
    f(0x258, &(16u64 << 20).to_le_bytes(), &mut kernel);
    f(0x260, &(8u32 << 20).to_le_bytes(), &mut kernel);
    for (i, b) in kernel[40 * 512..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let initrd = vec![0x5Au8; 777];
    let mut payload = kernel.clone();
    payload.extend_from_slice(&initrd);
    let h = HeaderRepr {
        platform: PLATFORM,
        version: v(3, 0),
        kind: Kind::Linux,
        load: 0,
        entry: 0,
        initrd_len: initrd.len() as u64,
        cmdline: "console=ttyS0",
    }
    .emit(&payload)
    .unwrap();
    let mut img = h.to_vec();
    img.extend_from_slice(&payload);
    (img, kernel, initrd)
}

/// A `linux` image: the kernel and initrd land where the plan puts them, the command line
/// carries the token, the zero page points at both.
#[test]
fn a_linux_image_is_laid_out_by_the_boot_protocol() {
    let (img, kernel, initrd) = linux_image();
    let mut u: Unit<4, 4096> = Unit::new(19);
    u.install(&img);
    let t = trust(None);
    let mut out = String::new();
    let unit = power_on(Some(&mut u.flash), &t, None, true, &mut out);
    let machine = Machine {
        e820: &E820,
        rsdp: 0xF_5A40,
    };
    let Some(Launch::Linux {
        entry,
        zero_page,
        handoff,
        ..
    }) = flash_boot(unit, &t, machine, &mut u.ram, &mut out)
    else {
        panic!("{out}")
    };
    assert_eq!(entry, (16 << 20) + 0x200);
    let mem = &u.ram.mem;
    assert_eq!(&mem[16 << 20..(16 << 20) + 5000], &kernel[40 * 512..]);
    let zp = &mem[zero_page as usize..zero_page as usize + 4096];
    let le32 = |o: usize| u32::from_le_bytes(zp[o..o + 4].try_into().unwrap()) as usize;
    assert_eq!(&mem[le32(0x218)..le32(0x218) + 777], &initrd[..]);
    assert_eq!(le32(0x21C), 777);
    let cl = &mem[le32(0x228)..le32(0x228) + 128];
    let cl = &cl[..cl.iter().position(|&b| b == 0).unwrap()];
    assert_eq!(
        core::str::from_utf8(cl).unwrap(),
        format!(
            "console=ttyS0 lifeboat.slot=A lifeboat.version=3.0(1) lifeboat.confirm={:#010x}",
            handoff.token
        )
    );
    assert_eq!(&zp[0x70..0x78], &0xF_5A40u64.to_le_bytes());
    assert!(out.contains("Flash boot: slot A, image 3.0(1) (linux, kernel 5000 bytes at 0x1000000, initrd 777 bytes at"), "{out}");
    // The token is that of the record the kernel was started under.
    assert!(Slots::new(&mut u.flash)
        .unwrap()
        .confirm(handoff.token)
        .unwrap());
}

/// Without faults: the new image gets its budget, then the confirmed one boots for good.
#[test]
fn an_image_that_never_confirms_gets_its_budget_then_the_confirmed_one() {
    let mut u: Unit<4, 4096> = Unit::new(21);
    confirmed_then_new(&mut u);
    for _ in 0..BOOT_BUDGET {
        assert_eq!(started(u.power_on(None, true)), Some(v(2, 0)));
    }
    assert_eq!(started(u.power_on(None, true)), Some(v(1, 0)));
}

/// A record has a copy in each block; a power-on of a confirmed unit writes nothing, and one
/// whose copy was lost (a cut between the two) writes the copy back, once.
#[test]
fn the_second_copy_is_made_once_and_only_when_missing() {
    let mut u: Unit<4, 4096> = Unit::new(23);
    u.install(&image(v(1, 0), None));
    let b = u.power_on(None, true);
    u.run_and_confirm(b);
    u.power_on(None, true);
    let ops = u.flash.ops;
    assert_eq!(started(u.power_on(None, true)), Some(v(1, 0)));
    assert_eq!(
        u.flash.ops, ops,
        "a confirmed unit's power-on wrote to the flash"
    );
    let r = u.record().unwrap().encode();
    let at = |mem: &[u8], block: usize| (0..32).any(|i| mem[block * 4096 + i * 128..][..128] == r);
    assert!(at(&u.flash.mem, 0) && at(&u.flash.mem, 1));
    u.flash.mem[4096..8192].fill(0xFF);
    assert_eq!(started(u.power_on(None, true)), Some(v(1, 0)));
    assert!(at(&u.flash.mem, 0) && at(&u.flash.mem, 1));
    let ops = u.flash.ops;
    u.power_on(None, true);
    assert_eq!(u.flash.ops, ops);
}

/// A power-on as `bare::startup` makes it on a unit with a TPM: the TPM reset and started,
/// the records, the TPM's floor settled (raised to a confirmed image's train, locked), and
/// the flash boot under the higher of the floors.
fn power_on_with_tpm<const W: usize, const E: usize>(
    u: &mut Unit<W, E>,
    tpm: &mut crate::tpm::fake::FakeTpm,
    key: Option<[u8; 32]>,
) -> Boot {
    tpm.reset();
    crate::tpm::startup(tpm).unwrap();
    let mut t = trust(key);
    u.out.clear();
    let token = u.cmos.take();
    let mut unit = power_on(Some(&mut u.flash), &t, token, true, &mut u.out);
    t.floor = crate::tpm::floor::settle(tpm, unit.as_mut().ok(), &t).unwrap();
    let machine = Machine {
        e820: &E820,
        rsdp: 0,
    };
    match flash_boot(unit, &t, machine, &mut u.ram, &mut u.out) {
        Some(Launch::Flat64 {
            header, handoff, ..
        }) => Boot::Started {
            version: Header::new_checked(header).unwrap().version(),
            token: handoff.token,
        },
        Some(Launch::Linux { .. }) => unreachable!("flat64 images only"),
        None => Boot::Monitor,
    }
}

/// Issue 24: a unit confirms 2.0(1); its TPM's floor follows to 2.0(0) at the next
/// power-on. A flash programmer erases the flash and writes a 1.0(5) with a record that
/// says it is confirmed: the flash boot refuses it by the TPM's floor, and the TPM's floor
/// stays where it was.
#[test]
fn the_tpm_floor_outlives_an_erased_flash() {
    let mut tpm = crate::tpm::fake::FakeTpm::new();
    let mut u: Unit<4, 4096> = Unit::new(24);
    let two = image(Version::new(2, 0, 1), None);
    assert_eq!(u.install(&two), Slot::A);
    let b = power_on_with_tpm(&mut u, &mut tpm, None);
    assert_eq!(started(b), Some(Version::new(2, 0, 1)), "{}", u.out);
    // Before the confirmation the TPM holds the built-in floor only.
    assert_eq!(
        crate::tpm::floor::read(&mut tpm),
        Ok(Some(Version::new(1, 0, 0)))
    );
    u.run_and_confirm(b);
    assert_eq!(
        started(power_on_with_tpm(&mut u, &mut tpm, None)),
        Some(Version::new(2, 0, 1))
    );
    assert_eq!(
        crate::tpm::floor::read(&mut tpm),
        Ok(Some(Version::new(2, 0, 0)))
    );

    u.flash.mem.fill(0xFF);
    let old = image(Version::new(1, 0, 5), None);
    assert_eq!(u.install(&old), Slot::A);
    let mut s = u.slots();
    assert_eq!(s.begin_boot(), Some(Slot::A));
    let t = s.token().unwrap();
    assert_eq!(s.confirm(t), Ok(true));
    assert_eq!(power_on_with_tpm(&mut u, &mut tpm, None), Boot::Monitor);
    assert!(
        u.out.contains("Flash boot: slot A: image version 1.0(5) is older than 2.0(0), the oldest this unit installs\r\n"),
        "{}",
        u.out
    );
    assert_eq!(
        crate::tpm::floor::read(&mut tpm),
        Ok(Some(Version::new(2, 0, 0)))
    );
    // Without the TPM the same flash boots the 1.0(5): the floor that held was the TPM's.
    assert_eq!(started(u.power_on(None, true)), Some(Version::new(1, 0, 5)));
}

/// A record written by a flash programmer that calls an image confirmed moves the TPM's
/// floor only to an image the unit itself would boot: on a keyed unit, an unsigned 9.0
/// "confirmed" in the record leaves the TPM's floor where it was.
#[test]
fn a_forged_record_cannot_push_the_tpm_floor() {
    let kp = keypair(5);
    let key = Some(*kp.pk);
    let mut tpm = crate::tpm::fake::FakeTpm::new();
    let mut u: Unit<4, 4096> = Unit::new(25);
    let nine = image(v(9, 0), None);
    assert_eq!(u.install(&nine), Slot::A);
    let mut s = u.slots();
    assert_eq!(s.begin_boot(), Some(Slot::A));
    let t = s.token().unwrap();
    assert_eq!(s.confirm(t), Ok(true));
    assert_eq!(power_on_with_tpm(&mut u, &mut tpm, key), Boot::Monitor);
    assert_eq!(
        crate::tpm::floor::read(&mut tpm),
        Ok(Some(Version::new(1, 0, 0)))
    );
    // A signed 3.0 confirmed by the unit moves it.
    u.flash.mem.fill(0xFF);
    let three = image(v(3, 0), Some(&kp));
    assert_eq!(u.install(&three), Slot::A);
    let b = power_on_with_tpm(&mut u, &mut tpm, key);
    u.run_and_confirm(b);
    assert_eq!(
        started(power_on_with_tpm(&mut u, &mut tpm, key)),
        Some(v(3, 0))
    );
    assert_eq!(
        crate::tpm::floor::read(&mut tpm),
        Ok(Some(Version::new(3, 0, 0)))
    );
}

/// The monitor's `boot` right after an install starts the image from the RAM it was
/// installed from, as a boot that counts: with the budget spent by it, a new image that
/// never confirms gets `BOOT_BUDGET - 1` more power-ons, then the confirmed one boots.
#[test]
fn a_boot_from_ram_counts_and_a_never_confirming_image_still_rolls_back() {
    let mut u: Unit<4, 4096> = Unit::new(25);
    let one = image(v(1, 0), None);
    assert_eq!(u.install(&one), Slot::A);
    let b = u.power_on(None, true);
    u.run_and_confirm(b);
    assert_eq!(started(u.power_on(None, true)), Some(v(1, 0)));
    let two = image(v(2, 0), None);
    assert_eq!(started(u.install_and_start(&two, None)), Some(v(2, 0)));
    assert!(
        u.out.contains(
            "Boot from RAM: slot B, image 2.0(1) (flat64, 3000 bytes) verified; starting it."
        ),
        "{}",
        u.out
    );
    let r = u.record().unwrap();
    assert_eq!(r.slot, Slot::B);
    assert_eq!(
        r.state,
        State::New {
            boots_left: BOOT_BUDGET - 1
        }
    );
    assert!(r.started);
    let mut starts = 1;
    while started(u.power_on(None, true)) == Some(v(2, 0)) {
        starts += 1;
        assert!(starts <= BOOT_BUDGET, "{}", u.out);
    }
    assert_eq!(starts, BOOT_BUDGET);
    assert_eq!(started(u.power_on(None, true)), Some(v(1, 0)));
    assert!(slot_bytes(&u, &one));
}

/// A boot from RAM whose token comes back confirms the image, as a flash boot's does.
#[test]
fn a_boot_from_ram_hands_over_the_token_that_confirms() {
    let mut u: Unit<4, 4096> = Unit::new(27);
    let b = u.install_and_start(&image(v(1, 0), None), None);
    assert_eq!(started(b), Some(v(1, 0)), "{}", u.out);
    u.run_and_confirm(b);
    assert_eq!(started(u.power_on(None, true)), Some(v(1, 0)));
    let r = u.record().unwrap();
    assert_eq!((r.state, r.confirmed), (State::Confirmed, Some(Slot::A)));
}

/// A power cut at every operation of a boot from RAM: the new image starts at most its
/// budget over that boot and the power-ons after it, the confirmed image is never touched,
/// and every boot that keeps its power starts an image.
#[test]
fn power_cut_at_every_operation_of_a_boot_from_ram() {
    for k in 0..16 {
        let mut u: Unit<4, 4096> = Unit::new(k as u64 + 31);
        let one = confirmed_then_new(&mut u);
        let two = image(v(2, 0), None);
        u.flash.cut_at = Some(u.flash.ops + k);
        let b = u.start_from_ram(&two, None);
        u.flash.cut_at = None;
        let mut new_starts = usize::from(started(b) == Some(v(2, 0)));
        if b != Boot::Cut {
            assert_eq!(started(b), Some(v(2, 0)), "cut {k}: {b:?}\n{}", u.out);
        }
        for boot in 0..6 {
            match u.power_on(None, true) {
                Boot::Started { version, .. } => {
                    if version == v(2, 0) {
                        new_starts += 1;
                    }
                }
                other => panic!("cut {k} boot {boot}: {other:?}\n{}", u.out),
            }
            assert!(
                slot_bytes(&u, &one),
                "cut {k}: the confirmed image was touched"
            );
        }
        assert!(
            new_starts <= BOOT_BUDGET as usize,
            "cut {k}: {new_starts} starts"
        );
        assert_eq!(started(u.power_on(None, true)), Some(v(1, 0)), "cut {k}");
    }
}

/// The RAM stands in only for the slot whose header is the RAM image's, byte for byte;
/// everything else is the flash boot's: an image in RAM that is not installed is not what
/// starts, and an installed image the unit's policy refuses (unsigned, on a unit with a
/// key) does not start from RAM either.
#[test]
fn a_boot_from_ram_starts_only_the_installed_image_under_the_units_policy() {
    let mut u: Unit<4, 4096> = Unit::new(33);
    confirmed_then_new(&mut u);
    let b = u.start_from_ram(&image(v(3, 0), None), None);
    assert_eq!(started(b), Some(v(2, 0)), "{}", u.out);
    assert!(
        u.out.contains("Flash boot: slot B, image 2.0(1)"),
        "{}",
        u.out
    );

    let key = keypair(3);
    let mut u: Unit<4, 4096> = Unit::new(35);
    u.install(&image(v(1, 0), Some(&key)));
    let b = u.power_on(Some(*key.pk), true);
    u.run_and_confirm(b);
    u.power_on(Some(*key.pk), true);
    let b = u.install_and_start(&image(v(2, 0), None), Some(*key.pk));
    assert_eq!(started(b), Some(v(1, 0)), "{}", u.out);
    assert!(u.out.contains("Flash boot: slot B: "), "{}", u.out);
}

/// A `linux` image started from RAM is laid out as a flash boot lays it out.
#[test]
fn a_linux_image_from_ram_is_laid_out_by_the_boot_protocol() {
    let (img, kernel, initrd) = linux_image();
    let mut u: Unit<4, 4096> = Unit::new(37);
    u.install(&img);
    u.ram.mem[DOWNLOAD as usize..][..img.len()].copy_from_slice(&img);
    let unit = Slots::new(&mut u.flash).map_err(|_| "no slots");
    let machine = Machine {
        e820: &E820,
        rsdp: 0,
    };
    let installed = InRam {
        addr: DOWNLOAD,
        len: img.len(),
    };
    let mut out = String::new();
    let Some(Launch::Linux {
        entry, zero_page, ..
    }) = start_installed(unit, installed, &trust(None), machine, &mut u.ram, &mut out)
    else {
        panic!("{out}")
    };
    assert_eq!(entry, (16 << 20) + 0x200);
    let mem = &u.ram.mem;
    assert_eq!(&mem[16 << 20..(16 << 20) + 5000], &kernel[40 * 512..]);
    let zp = &mem[zero_page as usize..zero_page as usize + 4096];
    let le32 = |o: usize| u32::from_le_bytes(zp[o..o + 4].try_into().unwrap()) as usize;
    assert_eq!(&mem[le32(0x218)..le32(0x218) + 777], &initrd[..]);
    assert!(
        out.contains("Boot from RAM: slot A, image 3.0(1) (linux, kernel 5000 bytes at 0x1000000, initrd 777 bytes at"),
        "{out}"
    );
}

/// A boot from RAM that cannot be recorded goes to the confirmed image, read from flash:
/// the RAM is never taken for an image after the boot has written RAM.
#[test]
fn a_boot_from_ram_that_cannot_be_recorded_starts_the_confirmed_image_from_flash() {
    let mut u: Unit<512, 512> = Unit::new(39);
    confirmed_then_new(&mut u);
    u.flash.bad_write.push(0..8192);
    let b = u.start_from_ram(&image(v(2, 0), None), None);
    assert_eq!(started(b), Some(v(1, 0)), "{}", u.out);
    assert!(
        u.out.contains("Flash boot: slot A, image 1.0(1)"),
        "{}",
        u.out
    );
    assert!(!u.out.contains("Boot from RAM"), "{}", u.out);
}
