//! `lifeboat-ctl status`: what booted (from the command line the firmware wrote) and the
//! unit's flash, read only: the record, the floor, the key, the activation key and both
//! slots as the monitor's `version` shows them (`install::dialogue::version_report`).
use std::fmt::Write as _;
use std::path::Path;

use lifeboat_firmware::activation;
use lifeboat_firmware::image::Version;
use lifeboat_firmware::install::dialogue::{version_report, Trust, INSTALL_FLOOR};
use lifeboat_firmware::install::{Record, Slot, Slots, State};

use crate::blockdev::BlockDev;
use crate::cmdline::BootArgs;

/// Everything `status` shows, gathered once.
pub struct Status {
    pub booted: BootArgs,
    pub device: Option<String>,
    /// Why the flash could not be read (the booted part is still shown).
    pub flash_error: Option<String>,
    pub record: Option<Record>,
    /// The monitor's `version` lines for the flash.
    pub report: String,
    /// Per slot: version and length, whether it verifies (or why not), boots next.
    pub slots: Vec<SlotStatus>,
    /// The confirmation handed back this boot, if the CMOS could be read: `Some(true)` when
    /// it holds this boot's token.
    pub confirm_pending: Option<bool>,
}

pub struct SlotStatus {
    pub slot: Slot,
    pub image: Option<(Version, u64)>,
    pub refusal: Option<String>,
    pub selected: bool,
    pub last_confirmed: bool,
    pub boots_next: bool,
}

/// Gathers the status from `booted` and the flash `dev`.
pub fn gather(booted: BootArgs, dev: Result<BlockDev, String>) -> Status {
    let mut st = Status {
        booted,
        device: None,
        flash_error: None,
        record: None,
        report: String::new(),
        slots: Vec::new(),
        confirm_pending: None,
    };
    let mut s = match dev {
        Ok(d) => {
            st.device = Some(d.path().display().to_string());
            match Slots::new(d) {
                Ok(s) => s,
                Err(e) => {
                    st.flash_error = Some(e.to_string());
                    return st;
                }
            }
        }
        Err(e) => {
            st.flash_error = Some(e);
            return st;
        }
    };
    st.record = s.record();
    // The slots judged as the unit's flash boot judges them: by the unit's key, which Linux
    // knows from the unit record (the firmware's own copy of it is on its boot medium).
    let trust = Trust {
        key: st.record.and_then(|r| r.unit.key),
        broken: None,
        boothelper: false,
        ram: &[],
        firmware: crate::ram::FIRMWARE,
        linux_staging: crate::ram::LINUX_STAGING,
        floor: INSTALL_FLOOR,
    };
    version_report(&mut s, &mut st.report, &trust);
    st.report = st.report.replace("\r\n", "\n");
    let boot = s.bootable();
    for i in s.list() {
        let refusal = match i.image {
            Some(_) => s.check(i.slot).err().map(|e| e.to_string()),
            None => Some("empty".to_owned()),
        };
        st.slots.push(SlotStatus {
            slot: i.slot,
            image: i.image,
            refusal,
            selected: i.selected.is_some(),
            last_confirmed: i.confirmed,
            boots_next: boot == Some(i.slot),
        });
    }
    st
}

fn state_text(s: State) -> (&'static str, Option<u8>) {
    match s {
        State::New { boots_left } => ("new", Some(boots_left)),
        State::Unconfirmed => ("unconfirmed", None),
        State::Confirmed => ("confirmed", None),
    }
}

/// The key as the monitor's `version` shows it: its first four bytes.
fn fingerprint(k: &[u8; 32]) -> String {
    let mut s = String::new();
    for b in &k[..4] {
        let _ = write!(s, "{b:02x}");
    }
    s + "..."
}

impl Status {
    pub fn text(&self) -> String {
        let mut o = String::new();
        match (self.booted.slot, self.booted.version) {
            (Some(slot), Some(v)) => {
                let _ = writeln!(o, "Booted: slot {slot}, image {v}");
            }
            _ if self.booted.token.is_some() => {
                let _ = writeln!(
                    o,
                    "Booted: by lifeboat (a firmware that does not name the slot)"
                );
            }
            _ => {
                let _ = writeln!(
                    o,
                    "Booted: not by lifeboat (no lifeboat.confirm= on the kernel command line)"
                );
            }
        }
        if let Some(r) = &self.record {
            let (state, left) = state_text(r.state);
            let _ = match left {
                Some(n) => writeln!(
                    o,
                    "Selected: slot {}, {state}, {n} boots left to confirm",
                    r.slot
                ),
                None => writeln!(o, "Selected: slot {}, {state}", r.slot),
            };
            let _ = writeln!(o, "Floor: {}", r.unit.floor.max(INSTALL_FLOOR));
            let _ = writeln!(
                o,
                "Key: {}",
                r.unit.key.as_ref().map_or("none".into(), fingerprint)
            );
            let mut a = String::new();
            match &r.unit.activation {
                Some(k) => activation::write(&mut a, k),
                None => a.push_str("none"),
            }
            let _ = writeln!(o, "Activation key: {a}");
        }
        match self.confirm_pending {
            Some(true) => {
                let _ = writeln!(o, "Confirmation: handed back, taken at the next power-on");
            }
            Some(false) => {
                let _ = writeln!(o, "Confirmation: not handed back this boot");
            }
            None => {}
        }
        if let Some(d) = &self.device {
            let _ = writeln!(o, "Flash: {d}");
        }
        match &self.flash_error {
            Some(e) => {
                let _ = writeln!(o, "Flash: {e}");
            }
            None => o.push_str(&self.report),
        }
        o
    }

    pub fn json(&self) -> String {
        let mut o = String::from("{");
        let opt = |v: Option<String>| v.unwrap_or_else(|| "null".into());
        let _ = write!(
            o,
            "\"booted\":{{\"by_lifeboat\":{},\"slot\":{},\"version\":{},\"token\":{}}}",
            self.booted.token.is_some(),
            opt(self.booted.slot.map(|s| json_str(&s.to_string()))),
            opt(self.booted.version.map(|v| json_str(&v.to_string()))),
            opt(self.booted.token.map(|t| json_str(&format!("{t:#010x}")))),
        );
        let _ = write!(
            o,
            ",\"device\":{},\"flash_error\":{}",
            opt(self.device.as_deref().map(json_str)),
            opt(self.flash_error.as_deref().map(json_str))
        );
        let _ = write!(
            o,
            ",\"confirm_pending\":{}",
            opt(self.confirm_pending.map(|b| b.to_string()))
        );
        match &self.record {
            None => o.push_str(",\"record\":null"),
            Some(r) => {
                let (state, left) = state_text(r.state);
                let mut act = String::new();
                if let Some(k) = &r.unit.activation {
                    activation::write(&mut act, k);
                }
                let _ = write!(
                    o,
                    ",\"record\":{{\"seq\":{},\"slot\":\"{}\",\"state\":\"{state}\",\"boots_left\":{},\"confirmed_slot\":{},\"token\":\"{:#010x}\",\"floor\":{},\"key\":{},\"key_fingerprint\":{},\"activation_key\":{}}}",
                    r.seq,
                    r.slot,
                    opt(left.map(|n| n.to_string())),
                    opt(r.confirmed.map(|s| json_str(&s.to_string()))),
                    r.token(),
                    json_str(&r.unit.floor.max(INSTALL_FLOOR).to_string()),
                    opt(r.unit.key.map(|k| json_str(&k.iter().map(|b| format!("{b:02x}")).collect::<String>()))),
                    opt(r.unit.key.as_ref().map(|k| json_str(&fingerprint(k)))),
                    opt(r.unit.activation.map(|_| json_str(&act))),
                );
            }
        }
        o.push_str(",\"slots\":[");
        for (i, s) in self.slots.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(
                o,
                "{{\"slot\":\"{}\",\"version\":{},\"bytes\":{},\"verifies\":{},\"refusal\":{},\"selected\":{},\"last_confirmed\":{},\"boots_next\":{}}}",
                s.slot,
                opt(s.image.map(|(v, _)| json_str(&v.to_string()))),
                opt(s.image.map(|(_, n)| n.to_string())),
                s.refusal.is_none(),
                opt(s.refusal.as_deref().map(json_str)),
                s.selected,
                s.last_confirmed,
                s.boots_next
            );
        }
        o.push_str("]}");
        o
    }
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

pub fn run(json: bool, device: Option<&Path>) -> Result<(), String> {
    let booted = crate::boot_args()?;
    let dev = crate::open_flash(device, false);
    let mut st = gather(booted, dev);
    if let Some(token) = booted.token {
        // Reading the CMOS needs the same privilege as confirming; without it, say nothing.
        if let Ok(mut c) = crate::cmos::open() {
            if let Ok((mark, t)) = crate::cmos::read_confirmation(c.as_mut()) {
                st.confirm_pending = Some(mark == lifeboat_hal::cmos::CONFIRMED && t == token);
            }
        }
    }
    if json {
        println!("{}", st.json());
    } else {
        print!("{}", st.text());
    }
    if device.is_some() {
        if let Some(e) = &st.flash_error {
            return Err(e.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat_firmware::image::{HeaderRepr, Kind, PLATFORM};

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\nd"), "\"a\\\"b\\\\c\\u000ad\"");
    }

    fn image(v: Version) -> Vec<u8> {
        let payload = vec![0x42u8; 3000];
        let h = HeaderRepr {
            platform: PLATFORM,
            version: v,
            kind: Kind::Flat64,
            load: 0x200_0000,
            entry: 0x200_0000,
            initrd_len: 0,
            cmdline: "",
        }
        .emit(&payload)
        .unwrap();
        let mut i = h.to_vec();
        i.extend_from_slice(&payload);
        i
    }

    #[test]
    fn status_of_a_flash_shows_the_record_and_both_slots() {
        let dir = std::env::temp_dir().join(format!("lifeboat-ctl-status-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("flash");
        std::fs::write(&p, vec![0xFFu8; 64 * 4096]).unwrap();
        let mut s = Slots::new(BlockDev::open(&p, true).unwrap()).unwrap();
        s.install(&image(Version::new(2, 3, 1)), |_, _| {}).unwrap();
        s.begin_boot();
        s.update_unit(|u| {
            u.key = Some([0xAB; 32]);
            u.activation = Some([1, 2, 3, 4]);
        })
        .unwrap();
        drop(s);
        let booted = crate::cmdline::parse(
            "lifeboat.slot=A lifeboat.version=2.3(1) lifeboat.confirm=0x00000001",
        )
        .unwrap();
        let st = gather(booted, BlockDev::open(&p, false));
        let t = st.text();
        assert!(t.contains("Booted: slot A, image 2.3(1)\n"), "{t}");
        assert!(
            t.contains("Selected: slot A, new, 2 boots left to confirm\n"),
            "{t}"
        );
        assert!(t.contains("Key: abababab...\n"), "{t}");
        assert!(
            t.contains("Activation key: 0x00000001 0x00000002 0x00000003 0x00000004\n"),
            "{t}"
        );
        // The unit has a key now and the image is unsigned: judged as the flash boot
        // judges it, it does not boot.
        assert!(
            t.contains(
                "Slot A: 2.3(1), 3320 bytes, refused: image is not signed; this unit installs signed images only, selected (new, 2 boots to confirm)\n"
            ),
            "{t}"
        );
        assert!(t.contains("Slot B: empty\n"), "{t}");
        let j = st.json();
        assert!(
            j.contains("\"slot\":\"A\",\"version\":\"2.3(1)\",\"bytes\":3320,\"verifies\":false,\"refusal\":\"image is not signed"),
            "{j}"
        );
        assert!(j.contains("\"boots_next\":false"), "{j}");
        assert!(
            j.contains("\"state\":\"new\",\"boots_left\":2,\"confirmed_slot\":null"),
            "{j}"
        );
        assert!(!j.contains('\n'));
        // Garbage flash: no record, the error shown, no panic.
        std::fs::write(&p, vec![0x00u8; 64 * 4096]).unwrap();
        let st = gather(booted, BlockDev::open(&p, false));
        assert!(st.record.is_none());
        assert!(st.json().contains("\"record\":null"));
    }
}
