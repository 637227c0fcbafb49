//! The install dialogue and the `version` report, as pure logic over any `NorFlash` and a
//! console ([`Operator`]): what the operator sees and answers around an install, host-tested
//! on the strict flash model with scripted answers. The bare binary only supplies the
//! console (its key loops) and the clock.
#![forbid(unsafe_code)]

use core::fmt::Write;

use embedded_storage::nor_flash::NorFlash;

use super::{BootPolicy, Slots, State};
use crate::activation::{self, ActivationKey};
use crate::image::{verify_with, PayloadSums, Policy, Verdict, Version, PLATFORM};
use crate::ram::{placement, RamRegion};
use crate::recovery::{ActivationPrompt, Question};

/// The oldest image version this unit installs or boots (the PIX refused anything below
/// 4.4); the unit record's floor applies on top.
pub const INSTALL_FLOOR: Version = Version::new(1, 0, 0);
/// Progress mark every this many bytes written.
const INSTALL_DOT: u64 = 256 * 1024;

/// The console side of the dialogue: output, two questions and a clock.
pub trait Operator: Write {
    /// The next thing the operator sends on the console (waits for it).
    fn key(&mut self) -> Key;
    /// Microseconds, for the install time shown.
    fn now_us(&mut self) -> u64;
    /// A yes/no question (`Question`); ESC or BREAK answers no (every question of the
    /// dialogue is one the install goes on only after a yes).
    fn yes_no(&mut self, text: &'static str, default: bool) -> bool {
        let mut q = Question::ask(text, default, self);
        answer(self, |b, o| q.feed(b, o)).unwrap_or(false)
    }
    /// The activation key question (`ActivationPrompt`): `Some(None)` keeps the current
    /// key, `Some(Some(k))` sets `k`, `None` (ESC or BREAK) aborts the install.
    fn activation(&mut self, current: Option<ActivationKey>) -> Option<Option<ActivationKey>> {
        let mut p = ActivationPrompt::ask(current, self);
        answer(self, |b, o| p.feed(b, o))
    }
}

/// What the console delivers: a byte, or a serial BREAK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Byte(u8),
    Break,
}

/// Feeds the operator's keys to `feed` until it has an answer; ESC or BREAK ends the
/// question with `None` (on a new line).
fn answer<O: Operator + ?Sized, T>(
    o: &mut O,
    mut feed: impl FnMut(u8, &mut O) -> Option<T>,
) -> Option<T> {
    loop {
        match o.key() {
            Key::Byte(0x1B) | Key::Break => {
                let _ = o.write_str("\r\n");
                return None;
            }
            Key::Byte(b) => {
                if let Some(a) = feed(b, o) {
                    return Some(a);
                }
            }
        }
    }
}

/// What the firmware that runs the dialogue knows of the unit's trust and RAM.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// The key of the medium that booted (for the appliance disk: the unit's key).
    pub key: Option<[u8; 32]>,
    /// Why the key cannot be known: installs and flash boot are refused (fail closed).
    pub broken: Option<&'static str>,
    /// A Boothelper: its medium is anyone's, so it never sets the unit's policy and takes
    /// the unit's key from the unit record instead (its own key, if any, is checked too).
    pub boothelper: bool,
    /// Usable RAM below the identity map's end, the firmware to keep clear of, and where a
    /// `linux` image is staged: an image that could never be placed is refused at install.
    pub ram: &'a [RamRegion],
    pub firmware: RamRegion,
    pub linux_staging: u64,
    /// The floor kept outside the flash: the built-in [`INSTALL_FLOOR`], or the TPM's when
    /// it holds a higher one ([`crate::tpm::floor`]). The unit record's applies on top.
    pub floor: Version,
}

impl<'a> Trust<'a> {
    /// The trust of a medium with configuration `cfg` (`None`: its configuration could not
    /// be read), failing closed: a configuration that cannot be trusted refuses every
    /// install and flash boot ([`crate::config::BootConfig::trust_broken`]).
    pub fn new(
        cfg: Option<&crate::config::BootConfig>,
        ram: &'a [RamRegion],
        firmware: RamRegion,
        linux_staging: u64,
    ) -> Trust<'a> {
        Trust {
            key: cfg.and_then(|c| c.public_key),
            broken: cfg.map_or(Some(crate::config::UNREADABLE), |c| c.trust_broken),
            boothelper: cfg.is_some_and(|c| c.boothelper),
            ram,
            firmware,
            linux_staging,
            floor: INSTALL_FLOOR,
        }
    }
}

/// Sets on `s` the policy the unit's own flash boot applies (platform, floor, key) and
/// returns the key: the unit firmware's own, or on a Boothelper (whose medium is anyone's)
/// the unit record's.
pub(crate) fn boot_policy<F: NorFlash>(s: &mut Slots<F>, trust: &Trust<'_>) -> Option<[u8; 32]> {
    let key = if trust.boothelper {
        s.record().and_then(|r| r.unit.key)
    } else {
        trust.key
    };
    s.set_policy(BootPolicy {
        platform: PLATFORM,
        floor: trust.floor.max(INSTALL_FLOOR),
        key,
    });
    key
}

/// After a download: verify the image against the unit's policy, say what is installed and
/// what would be, ask where needed (a downgrade; always in Boothelper mode, then the
/// activation key; ESC or BREAK at any question ends it), write it to the slot that does
/// not hold the image to keep (the confirmed one, else the one the unit's flash boot would
/// start: both judged by its policy, [`Slots::keep`]), read it back, select it. A refused or
/// declined image leaves the flash untouched. True when installed.
///
/// `sums`: the payload's CRC-32 and SHA-256 when the download computed them as it landed
/// ([`crate::image::StreamCheck`]); `None` hashes the payload here.
pub fn install_download<F: NorFlash, O: Operator + ?Sized>(
    s: &mut Slots<F>,
    con: &mut O,
    image: &[u8],
    sums: Option<PayloadSums>,
    scratch: &mut [u8],
    trust: &Trust<'_>,
) -> bool {
    if let Some(why) = trust.broken {
        let _ = write!(con, "Install refused: {why}; this unit installs nothing until its configuration is repaired.\r\nNothing was written to flash.\r\n");
        return false;
    }
    let unit = s.record().map(|r| r.unit);
    if trust.boothelper && unit.is_none() {
        let _ = write!(con, "No unit record in flash: the unit's own flash boot will decide whether this image runs.\r\n");
    }
    // What is installed is what the unit would boot under its own policy: an image it
    // refuses (unsigned, foreign, below the floor) is nothing to downgrade from, nor to keep.
    let key = boot_policy(s, trust);
    let installed = s
        .bootable()
        .and_then(|slot| s.check(slot).ok())
        .map(|h| h.version());
    let floor = unit
        .map_or(INSTALL_FLOOR, |u| u.floor)
        .max(trust.floor.max(INSTALL_FLOOR));
    let policy = Policy {
        platform: PLATFORM,
        floor,
        installed,
        public_key: key.as_ref(),
    };
    let mut result = verify_with(image, &policy, sums);
    if let (true, Some(own), Ok(_)) = (trust.boothelper, trust.key.as_ref(), &result) {
        if Some(*own) != key {
            result = verify_with(
                image,
                &Policy {
                    public_key: Some(own),
                    ..policy
                },
                sums,
            );
        }
    }
    // An image that could never start on this unit is refused before it reaches flash.
    let result = result.and_then(|(h, v)| {
        placement(&h, trust.ram, &[trust.firmware], trust.linux_staging).map(|_| (h, v))
    });
    let (header, verdict) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = write!(con, "{e}\r\nNothing was written to flash.\r\n");
            return false;
        }
    };
    let new = header.version();
    match installed {
        Some(v) => {
            let _ = write!(con, "Flash version {v}, Install version {new}\r\n");
        }
        None => {
            let _ = write!(con, "Flash version none, Install version {new}\r\n");
        }
    }
    if let Verdict::Downgrade { .. } = verdict {
        if !con.yes_no(
            "This is older than the installed image. Install it anyway?",
            false,
        ) {
            let _ = write!(con, "Nothing was written to flash.\r\n");
            return false;
        }
    }
    let mut activation = None;
    if trust.boothelper {
        if !con.yes_no("Do you wish to copy the image to flash?", false) {
            let _ = write!(con, "Nothing was written to flash.\r\n");
            return false;
        }
        match con.activation(unit.and_then(|u| u.activation)) {
            Some(k) => activation = k,
            None => {
                let _ = write!(con, "Nothing was written to flash.\r\n");
                return false;
            }
        }
    }
    let _ = write!(con, "Installing to flash");
    let t0 = con.now_us();
    let mut dots = 0u64;
    let r = s.install_with(image, scratch, |done, _| {
        while done >= (dots + 1) * INSTALL_DOT {
            dots += 1;
            let _ = write!(con, ".");
        }
    });
    let ms = con.now_us().saturating_sub(t0) / 1000;
    match r {
        Ok(slot) => {
            let _ = write!(
                con,
                "\r\nInstalled {new} in slot {slot} ({} bytes, read back and verified) in {}.{:03} s\r\n",
                image.len(),
                ms / 1000,
                ms % 1000
            );
            if let Some(k) = activation {
                match s.update_unit(|u| u.activation = Some(k)) {
                    Ok(()) => {
                        let _ = write!(con, "Activation key stored: ");
                        activation::write(con, &k);
                        let _ = write!(con, "\r\n");
                    }
                    Err(e) => {
                        let _ = write!(con, "Activation key not stored: {e}\r\n");
                    }
                }
            }
            true
        }
        Err(e) => {
            let _ = write!(con, "\r\nInstall failed: {e}\r\n");
            false
        }
    }
}

/// `version`'s lines for the flash: each slot (version, length, whether the unit's flash
/// boot would refuse it and why, its state, whether it boots next) and the unit record. The
/// policy is the flash boot's own (`boot_policy`); with a broken configuration nothing
/// boots, and the last line says why.
pub fn version_report<F: NorFlash, W: Write + ?Sized>(
    s: &mut Slots<F>,
    con: &mut W,
    trust: &Trust<'_>,
) {
    let boot = match trust.broken {
        None => {
            boot_policy(s, trust);
            s.bootable()
        }
        Some(_) => None,
    };
    for i in s.list() {
        let _ = write!(con, "Slot {}: ", i.slot);
        match i.image {
            Some((v, len)) => {
                let _ = write!(con, "{v}, {len} bytes");
                if let Err(e) = s.check(i.slot) {
                    let _ = write!(con, ", refused: {e}");
                }
            }
            None => {
                let _ = write!(con, "empty");
            }
        }
        if i.confirmed && i.selected != Some(State::Confirmed) {
            let _ = write!(con, ", last confirmed");
        }
        match i.selected {
            Some(State::Confirmed) => {
                let _ = write!(con, ", selected");
            }
            Some(State::Unconfirmed) => {
                let _ = write!(con, ", selected (unconfirmed, nothing to roll back to)");
            }
            Some(State::New { boots_left }) => {
                let _ = write!(con, ", selected (new, {boots_left} boots to confirm)");
            }
            None => {}
        }
        if boot == Some(i.slot) {
            let _ = write!(con, ", boots next");
        }
        let _ = write!(con, "\r\n");
    }
    match s.record() {
        None => {
            let _ = write!(con, "Unit record: none\r\n");
        }
        Some(r) => {
            let u = r.unit;
            let _ = write!(con, "Unit record: key ");
            match u.key {
                Some(k) => {
                    for b in &k[..4] {
                        let _ = write!(con, "{b:02x}");
                    }
                    let _ = write!(con, "...");
                }
                None => {
                    let _ = write!(con, "none");
                }
            }
            // The floor in force: the built-in one, the TPM's or the record's, the highest.
            let _ = write!(
                con,
                ", floor {}, activation key ",
                u.floor.max(trust.floor.max(INSTALL_FLOOR))
            );
            match &u.activation {
                Some(k) => activation::write(con, k),
                None => {
                    let _ = write!(con, "none");
                }
            }
            let _ = write!(con, "\r\n");
        }
    }
    if let Some(why) = trust.broken {
        let _ = write!(
            con,
            "Warning: {why}: installs and flash boot are refused until it is repaired\r\n"
        );
    }
}

#[cfg(test)]
mod tests;
