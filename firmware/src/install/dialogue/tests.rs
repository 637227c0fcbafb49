//! The install dialogue as the operator sees it, on the strict flash with scripted answers.
use std::collections::VecDeque;
use std::string::String;
use std::vec::Vec;

use super::*;
use crate::image::{sign_header, HeaderRepr, Kind, HEADER_LEN};
use crate::install::sim::SimFlash;
use crate::install::Slot;

type Nor = SimFlash<4, 4096>;

/// A console that records what is written and answers from a script.
#[derive(Default)]
struct Script {
    out: String,
    yes_no: VecDeque<bool>,
    /// `None`: ESC at the activation-key question.
    activation: VecDeque<Option<Option<ActivationKey>>>,
    asked: Vec<&'static str>,
}

impl Write for Script {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.out.push_str(s);
        Ok(())
    }
}

impl Operator for Script {
    fn key(&mut self) -> Key {
        panic!("the script answers whole questions, not keys")
    }
    fn yes_no(&mut self, text: &'static str, _default: bool) -> bool {
        self.asked.push(text);
        self.yes_no.pop_front().expect("an unexpected question")
    }
    fn activation(&mut self, _current: Option<ActivationKey>) -> Option<Option<ActivationKey>> {
        self.asked.push("activation");
        self.activation
            .pop_front()
            .expect("an unexpected activation question")
    }
    fn now_us(&mut self) -> u64 {
        0
    }
}

const RAM: [RamRegion; 1] = [RamRegion {
    base: 0x10_0000,
    len: 0x1000_0000,
}];
const FW: RamRegion = RamRegion {
    base: 0x10_0000,
    len: 0x40_0000,
};

fn trust(key: Option<[u8; 32]>, boothelper: bool) -> Trust<'static> {
    Trust {
        key,
        broken: None,
        boothelper,
        ram: &RAM,
        firmware: FW,
        linux_staging: 0x600_0000,
        floor: crate::install::dialogue::INSTALL_FLOOR,
    }
}

fn image(version: Version, load: u64, sign: Option<&ed25519_compact::KeyPair>) -> Vec<u8> {
    let payload = [0x5Au8; 3000];
    let mut h = HeaderRepr {
        platform: PLATFORM,
        version,
        kind: Kind::Flat64,
        load,
        entry: load,
        initrd_len: 0,
        cmdline: "",
    }
    .emit(&payload)
    .unwrap();
    if let Some(kp) = sign {
        sign_header(&mut h, |m| *kp.sk.sign(m, None));
    }
    let mut v = h.to_vec();
    v.extend_from_slice(&payload);
    v
}

fn run(s: &mut Slots<Nor>, img: &[u8], t: &Trust<'_>, script: &mut Script) -> bool {
    install_download(s, script, img, None, &mut [], t)
}

fn kp(seed: u8) -> ed25519_compact::KeyPair {
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([seed; 32]))
}

#[test]
fn a_monitor_install_says_what_it_replaces_and_installs() {
    let mut s = Slots::new(Nor::new(64 * 1024, 1)).unwrap();
    let mut c = Script::default();
    assert!(run(
        &mut s,
        &image(Version::new(1, 0, 1), 0x200_0000, None),
        &trust(None, false),
        &mut c
    ));
    assert!(
        c.out
            .starts_with("Flash version none, Install version 1.0(1)\r\nInstalling to flash"),
        "{}",
        c.out
    );
    assert!(
        c.out
            .contains("Installed 1.0(1) in slot A (3320 bytes, read back and verified) in 0.000 s"),
        "{}",
        c.out
    );
    assert!(c.asked.is_empty());
}

/// Fail closed: a unit whose key cannot be read installs nothing, and says why.
#[test]
fn a_broken_configuration_refuses_every_install() {
    let mut s = Slots::new(Nor::new(64 * 1024, 2)).unwrap();
    let before = s.flash().mem.clone();
    let mut c = Script::default();
    let t = Trust {
        broken: Some("the configuration's pubkey line does not parse"),
        ..trust(None, false)
    };
    assert!(!run(
        &mut s,
        &image(Version::new(1, 0, 1), 0x200_0000, None),
        &t,
        &mut c
    ));
    assert_eq!(
        c.out,
        "Install refused: the configuration's pubkey line does not parse; this unit installs nothing until its configuration is repaired.\r\nNothing was written to flash.\r\n"
    );
    assert_eq!(s.flash().mem, before);
}

/// A Boothelper takes the unit's key from the unit record, never from its own medium; with
/// no record it says who decides.
#[test]
fn a_boothelper_refuses_by_the_unit_records_key() {
    let unit = kp(1);
    let mut s = Slots::new(Nor::new(64 * 1024, 3)).unwrap();
    // Without a record: installs, saying the unit's own boot decides.
    let mut c = Script {
        yes_no: [true].into(),
        activation: [Some(None)].into(),
        ..Script::default()
    };
    assert!(run(
        &mut s,
        &image(Version::new(1, 0, 1), 0x200_0000, None),
        &trust(None, true),
        &mut c
    ));
    assert!(c.out.starts_with("No unit record in flash: the unit's own flash boot will decide whether this image runs.\r\n"), "{}", c.out);
    assert_eq!(
        c.asked,
        ["Do you wish to copy the image to flash?", "activation"]
    );
    // The unit's firmware records its key; the keyless Boothelper now refuses an unsigned
    // image before any question, and the flash stays as it was.
    s.update_unit(|u| u.key = Some(*unit.pk)).unwrap();
    let before = s.flash().mem.clone();
    let mut c = Script::default();
    assert!(!run(
        &mut s,
        &image(Version::new(1, 0, 2), 0x200_0000, None),
        &trust(None, true),
        &mut c
    ));
    assert_eq!(c.out, "image is not signed; this unit installs signed images only\r\nNothing was written to flash.\r\n");
    // A Boothelper carrying another key cannot substitute it for the unit's.
    let other = kp(2);
    let mut c = Script::default();
    let foreign = image(Version::new(1, 0, 2), 0x200_0000, Some(&other));
    assert!(!run(
        &mut s,
        &foreign,
        &trust(Some(*other.pk), true),
        &mut c
    ));
    assert!(
        c.out
            .starts_with("image signature does not verify with this unit's key"),
        "{}",
        c.out
    );
    assert_eq!(s.flash().mem, before);
    // The unit's signed image installs, and the activation key is stored.
    let key = [0xe028_88da, 0x4ba7_bed6, 0xf1c1_23ae, 0xffd8_624e];
    let mut c = Script {
        yes_no: [true].into(),
        activation: [Some(Some(key))].into(),
        ..Script::default()
    };
    assert!(run(
        &mut s,
        &image(Version::new(1, 0, 2), 0x200_0000, Some(&unit)),
        &trust(None, true),
        &mut c
    ));
    assert!(
        c.out
            .ends_with("Activation key stored: 0xe02888da 0x4ba7bed6 0xf1c123ae 0xffd8624e\r\n"),
        "{}",
        c.out
    );
    assert_eq!(s.unit().activation, Some(key));
    assert_eq!(
        s.unit().key,
        Some(*unit.pk),
        "the Boothelper left the unit's key alone"
    );
}

#[test]
fn answering_no_writes_nothing() {
    let mut s = Slots::new(Nor::new(64 * 1024, 4)).unwrap();
    let mut c = Script::default();
    assert!(run(
        &mut s,
        &image(Version::new(2, 0, 0), 0x200_0000, None),
        &trust(None, false),
        &mut c
    ));
    let before = s.flash().mem.clone();
    // A downgrade asks; no keeps the flash as it was.
    let mut c = Script {
        yes_no: [false].into(),
        ..Script::default()
    };
    assert!(!run(
        &mut s,
        &image(Version::new(1, 5, 0), 0x200_0000, None),
        &trust(None, false),
        &mut c
    ));
    assert_eq!(
        c.asked,
        ["This is older than the installed image. Install it anyway?"]
    );
    assert!(c.out.ends_with("Nothing was written to flash.\r\n"));
    // The Boothelper's copy question, answered no.
    let mut c = Script {
        yes_no: [false].into(),
        ..Script::default()
    };
    assert!(!run(
        &mut s,
        &image(Version::new(2, 0, 1), 0x200_0000, None),
        &trust(None, true),
        &mut c
    ));
    assert_eq!(s.flash().mem, before);
}

/// The floor in the unit record refuses older trains at install; placement refuses an
/// image that could never be loaded.
#[test]
fn floor_and_placement_are_checked_before_anything_is_written() {
    let mut s = Slots::new(Nor::new(64 * 1024, 5)).unwrap();
    s.update_unit(|u| u.floor = Version::new(2, 1, 0)).unwrap();
    let before = s.flash().mem.clone();
    let mut c = Script::default();
    assert!(!run(
        &mut s,
        &image(Version::new(2, 0, 9), 0x200_0000, None),
        &trust(None, false),
        &mut c
    ));
    assert!(
        c.out.starts_with(
            "image version 2.0(9) is older than 2.1(0), the oldest this unit installs"
        ),
        "{}",
        c.out
    );
    let mut c = Script::default();
    assert!(!run(
        &mut s,
        &image(Version::new(2, 1, 0), 0x1_4000_0000, None),
        &trust(None, false),
        &mut c
    ));
    assert!(
        c.out
            .starts_with("image wants 3000 bytes at 0x140000000, which is not free RAM"),
        "{}",
        c.out
    );
    let mut c = Script::default();
    assert!(!run(
        &mut s,
        &image(Version::new(2, 1, 0), 0x20_0000, None),
        &trust(None, false),
        &mut c
    ));
    assert!(
        c.out
            .starts_with("image wants 3000 bytes at 0x200000, which is not free RAM"),
        "over the firmware: {}",
        c.out
    );
    assert_eq!(s.flash().mem, before);
}

#[test]
fn version_report_lists_slots_states_and_the_unit_record() {
    let mut s = Slots::new(Nor::new(64 * 1024, 6)).unwrap();
    let mut out = String::new();
    version_report(&mut s, &mut out, &trust(None, false));
    assert_eq!(
        out,
        "Slot A: empty\r\nSlot B: empty\r\nUnit record: none\r\n"
    );
    let a = image(Version::new(1, 0, 1), 0x200_0000, None);
    s.install(&a, |_, _| {}).unwrap();
    s.begin_boot();
    let t = s.token().unwrap();
    s.confirm(t).unwrap();
    s.install(&image(Version::new(1, 0, 2), 0x200_0000, None), |_, _| {})
        .unwrap();
    s.update_unit(|u| {
        u.key = Some([0xAB; 32]);
        u.activation = Some([1, 2, 3, 4]);
    })
    .unwrap();
    let mut out = String::new();
    version_report(&mut s, &mut out, &trust(None, false));
    assert_eq!(
        out,
        "Slot A: 1.0(1), 3320 bytes, last confirmed\r\n\
         Slot B: 1.0(2), 3320 bytes, selected (new, 3 boots to confirm), boots next\r\n\
         Unit record: key abababab..., floor 1.0(0), activation key 0x00000001 0x00000002 0x00000003 0x00000004\r\n"
    );
    // A damaged slot says why it does not verify.
    let b = 2 * 4096 + s.slot_len() as usize + HEADER_LEN + 10;
    s.flash().mem[b] ^= 1;
    let mut out = String::new();
    version_report(&mut s, &mut out, &trust(None, false));
    assert!(
        out.contains(
            "Slot B: 1.0(2), 3320 bytes, refused: Checksum verification on flash image failed"
        ),
        "{out}"
    );
    assert!(
        out.contains("Slot A: 1.0(1), 3320 bytes, last confirmed, boots next"),
        "{out}"
    );
}

/// Issue 21, finding 6: ESC or BREAK (the console's `None`) at the activation-key question
/// ends the install like a no at any other question: nothing written, and said so.
#[test]
fn esc_at_the_activation_key_question_writes_nothing() {
    let mut s = Slots::new(Nor::new(64 * 1024, 7)).unwrap();
    s.update_unit(|u| u.activation = Some([1, 2, 3, 4]))
        .unwrap();
    let before = s.flash().mem.clone();
    let mut c = Script {
        yes_no: [true].into(),
        activation: [None].into(),
        ..Script::default()
    };
    assert!(!run(
        &mut s,
        &image(Version::new(1, 0, 1), 0x200_0000, None),
        &trust(None, true),
        &mut c
    ));
    assert_eq!(
        c.asked,
        ["Do you wish to copy the image to flash?", "activation"]
    );
    assert!(
        c.out.ends_with("Nothing was written to flash.\r\n"),
        "{}",
        c.out
    );
    assert!(!c.out.contains("Installing"), "{}", c.out);
    assert_eq!(s.flash().mem, before);
    assert_eq!(s.unit().activation, Some([1, 2, 3, 4]));
}

/// Issue 21, finding 7: an image the unit's flash boot refuses (an unsigned 9.9(9) written
/// to a slot of a keyed unit by another medium) is nothing to downgrade from, and `version` says it is refused
/// and why, not that it boots next.
#[test]
fn a_refused_image_is_no_installed_version_and_version_says_why() {
    let k = kp(1);
    let t = trust(Some(*k.pk), false);
    let mut s = Slots::new(Nor::new(64 * 1024, 8)).unwrap();
    // What the unit's firmware records at power-on.
    s.update_unit(|u| u.key = Some(*k.pk)).unwrap();
    let one = image(Version::new(1, 0, 1), 0x200_0000, Some(&k));
    assert!(run(&mut s, &one, &t, &mut Script::default()));
    let nine = image(Version::new(9, 9, 9), 0x200_0000, None);
    // A keyless Boothelper writes it to slot B and selects it (the unit's key is not
    // checked on that path), and the operator stops the unit in its monitor before any boot.
    s.install(&nine, |_, _| {}).unwrap();
    let mut out = String::new();
    version_report(&mut s, &mut out, &t);
    assert_eq!(
        out,
        format!(
            "Slot A: 1.0(1), 3320 bytes, boots next\r\n\
             Slot B: 9.9(9), 3320 bytes, refused: image is not signed; this unit installs signed images only, selected (new, 3 boots to confirm)\r\n\
             Unit record: {}, floor 1.0(0), activation key none\r\n",
            fingerprint(&k)
        )
    );
    // Installing a signed 2.0(1) asks nothing (it is newer than the 1.0(1) the unit would
    // boot), and overwrites the refused image, never the one that boots.
    let mut c = Script::default();
    assert!(run(
        &mut s,
        &image(Version::new(2, 0, 1), 0x200_0000, Some(&k)),
        &t,
        &mut c
    ));
    assert!(c.asked.is_empty(), "{:?}", c.asked);
    assert!(
        c.out
            .starts_with("Flash version 1.0(1), Install version 2.0(1)\r\n"),
        "{}",
        c.out
    );
    assert!(c.out.contains("Installed 2.0(1) in slot B"), "{}", c.out);
    assert!(s.check(Slot::A).is_ok(), "1.0(1) kept");
}

/// The unit record's rendering of `k` in `version`.
fn fingerprint(k: &ed25519_compact::KeyPair) -> String {
    let pk = *k.pk;
    format!(
        "key {:02x}{:02x}{:02x}{:02x}...",
        pk[0], pk[1], pk[2], pk[3]
    )
}

/// With the configuration broken, `version` marks no slot as booting next and says why.
#[test]
fn version_with_a_broken_configuration_says_nothing_boots() {
    let mut s = Slots::new(Nor::new(64 * 1024, 9)).unwrap();
    s.install(&image(Version::new(1, 0, 1), 0x200_0000, None), |_, _| {})
        .unwrap();
    let t = Trust {
        broken: Some("the configuration's pubkey line does not parse"),
        ..trust(None, false)
    };
    let mut out = String::new();
    version_report(&mut s, &mut out, &t);
    assert!(!out.contains("boots next"), "{out}");
    assert!(
        out.ends_with("Warning: the configuration's pubkey line does not parse: installs and flash boot are refused until it is repaired\r\n"),
        "{out}"
    );
}

/// On a Boothelper, `version` judges the slots by the unit record's key, as the unit's own
/// flash boot will, never by the key on the Boothelper's medium.
#[test]
fn a_boothelpers_version_judges_by_the_unit_records_key() {
    let (unit, medium) = (kp(1), kp(2));
    let mut s = Slots::new(Nor::new(64 * 1024, 10)).unwrap();
    s.update_unit(|u| u.key = Some(*unit.pk)).unwrap();
    s.install(
        &image(Version::new(1, 0, 1), 0x200_0000, Some(&unit)),
        |_, _| {},
    )
    .unwrap();
    s.install(
        &image(Version::new(1, 0, 2), 0x200_0000, Some(&medium)),
        |_, _| {},
    )
    .unwrap();
    let mut out = String::new();
    version_report(&mut s, &mut out, &trust(Some(*medium.pk), true));
    assert!(
        out.starts_with(
            "Slot A: 1.0(1), 3320 bytes, boots next\r\n\
             Slot B: 1.0(2), 3320 bytes, refused: image signature does not verify with this unit's key, selected (new, 3 boots to confirm)\r\n"
        ),
        "{out}"
    );
}

/// The trust a medium gets fails closed: an unreadable configuration, or one the parser
/// refuses, refuses everything; a good one carries its key.
#[test]
fn trust_from_the_configuration_fails_closed() {
    use crate::config::BootConfig;
    let fw = RamRegion {
        base: 0x10_0000,
        len: 0x10_0000,
    };
    let t = Trust::new(None, &[], fw, 0);
    assert_eq!((t.key, t.broken), (None, Some(crate::config::UNREADABLE)));
    let bad = BootConfig::parse(b"PUBKEY=00\n", false, |_| {});
    assert!(bad.trust_broken.is_some());
    assert_eq!(Trust::new(Some(&bad), &[], fw, 0).broken, bad.trust_broken);
    let hex: String = "ab".repeat(32);
    let good = BootConfig::parse(format!("pubkey={hex}\n").as_bytes(), false, |_| {});
    let t = Trust::new(Some(&good), &[], fw, 0);
    assert_eq!((t.key, t.broken), (Some([0xAB; 32]), good.trust_broken));
}

/// An operator at the console, key by key: the library's questions and their "ESC or BREAK
/// aborts" are what runs.
struct Keys {
    out: String,
    keys: VecDeque<Key>,
}

impl Write for Keys {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.out.push_str(s);
        Ok(())
    }
}

impl Operator for Keys {
    fn key(&mut self) -> Key {
        self.keys
            .pop_front()
            .expect("the operator has nothing more to type")
    }
    fn now_us(&mut self) -> u64 {
        0
    }
}

/// ESC or BREAK at any question, typed key by key: nothing is written.
#[test]
fn esc_or_break_typed_at_any_boothelper_question_writes_nothing() {
    let img = image(Version::new(1, 0, 1), 0x200_0000, None);
    for (typed, at) in [
        (vec![Key::Byte(0x1B)], "copy"),
        (vec![Key::Break], "copy"),
        (
            vec![Key::Byte(b'y'), Key::Byte(b'\r'), Key::Byte(0x1B)],
            "activation",
        ),
        (
            vec![
                Key::Byte(b'y'),
                Key::Byte(b'\r'),
                Key::Byte(b'0'),
                Key::Break,
            ],
            "activation",
        ),
    ] {
        let mut s = Slots::new(Nor::new(64 * 1024, 9)).unwrap();
        let mut o = Keys {
            out: String::new(),
            keys: typed.into(),
        };
        let installed = install_download(&mut s, &mut o, &img, None, &mut [], &trust(None, true));
        assert!(!installed, "{at}: {}", o.out);
        assert!(
            o.out.contains("Nothing was written to flash."),
            "{at}: {}",
            o.out
        );
        assert!(o.keys.is_empty(), "{at}");
        assert_eq!(s.record(), None, "{at}");
        assert!(s.flash().mem.iter().all(|&b| b == 0xFF), "{at}");
    }
}

/// The floor kept outside the flash (the TPM's, [`Trust::floor`]) refuses an install on a
/// unit whose flash holds no record at all, before anything is written; `version` shows it.
#[test]
fn the_trusts_floor_refuses_an_install_without_any_record() {
    let mut s = Slots::new(Nor::new(64 * 1024, 24)).unwrap();
    let before = s.flash().mem.clone();
    let mut c = Script::default();
    let t = Trust {
        floor: Version::new(2, 0, 0),
        ..trust(None, false)
    };
    assert!(!run(
        &mut s,
        &image(Version::new(1, 0, 5), 0x200_0000, None),
        &t,
        &mut c
    ));
    assert_eq!(
        c.out,
        "image version 1.0(5) is older than 2.0(0), the oldest this unit installs\r\nNothing was written to flash.\r\n"
    );
    assert_eq!(s.flash().mem, before);
    assert!(run(
        &mut s,
        &image(Version::new(2, 0, 1), 0x200_0000, None),
        &t,
        &mut Script::default()
    ));
}
