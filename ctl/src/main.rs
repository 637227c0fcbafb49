//! `lifeboat-ctl`: the running Linux system's side of lifeboat's A/B scheme.
//!
//! - `confirm`: hand the boot's token (`lifeboat.confirm=` on the kernel command line) back
//!   through CMOS (`hal::cmos`'s protocol), so the firmware keeps this image.
//! - `status [--json] [--device DEV]`: what booted (command line) and the unit's flash (read
//!   only): the record, the floor, the key, the activation key, both slots as the monitor's
//!   `version` shows them.
//! - `install IMAGE [--device DEV] [--yes]`: the monitor's own install dialogue
//!   (`install::dialogue::install_download`) over the flash as a block device: verified under
//!   the unit record's policy, written to the slot that does not hold the confirmed image,
//!   read back, selected in a new record; the next boot tries it.
//! - `activation-key [--device DEV]`.
//!
//! Every failure is one line on stderr (`lifeboat-ctl: ...`) and a non-zero exit status.
//!
//! The only `unsafe` is port I/O (`cmos`) and two raw system calls (`sys`), each with its
//! `// SAFETY:` line; everything about images, records and slots is the firmware library's.
#![deny(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]
mod blockdev;
mod cmdline;
mod cmos;
mod ram;
mod status;
mod sys;

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use blockdev::BlockDev;
use lifeboat_firmware::activation::ActivationKey;
use lifeboat_firmware::image::{HEADER_LEN, PAYLOAD_MAX};
use lifeboat_firmware::install::dialogue::{install_download, Key, Operator, Trust};
use lifeboat_firmware::install::Slots;

const USAGE: &str = "usage: lifeboat-ctl confirm
       lifeboat-ctl status [--json] [--device DEV]
       lifeboat-ctl install IMAGE [--device DEV] [--yes]
       lifeboat-ctl activation-key [--device DEV]";

/// Exit status of a refused or failed command (2: a usage error).
const FAILED: u8 = 1;
const USAGE_ERROR: u8 = 2;

/// One parsed command line.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Confirm,
    Status {
        json: bool,
        device: Option<PathBuf>,
    },
    Install {
        image: PathBuf,
        device: Option<PathBuf>,
        yes: bool,
    },
    ActivationKey {
        device: Option<PathBuf>,
    },
    Help,
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter();
    let Some(cmd) = it.next() else {
        return Err("no command given".into());
    };
    let mut json = false;
    let mut yes = false;
    let mut device = None;
    let mut positional = Vec::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" if cmd == "status" => json = true,
            "--yes" if cmd == "install" => yes = true,
            "--device" if cmd != "confirm" => {
                let d = it.next().ok_or("--device needs a device path")?;
                if device.replace(PathBuf::from(d)).is_some() {
                    return Err("--device given twice".into());
                }
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s} for {cmd}")),
            s => positional.push(PathBuf::from(s)),
        }
    }
    let command = match (cmd.as_str(), positional.len()) {
        ("confirm", 0) => Command::Confirm,
        ("status", 0) => Command::Status { json, device },
        ("install", 1) => Command::Install {
            image: positional.remove(0),
            device,
            yes,
        },
        ("install", _) => return Err("install takes exactly one IMAGE".into()),
        ("activation-key", 0) => Command::ActivationKey { device },
        ("help" | "--help" | "-h", 0) => Command::Help,
        (c @ ("confirm" | "status" | "activation-key"), _) => {
            return Err(format!("{c} takes no file argument"))
        }
        (c, _) => return Err(format!("unknown command {c}")),
    };
    Ok(command)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lifeboat-ctl: {e}\n{USAGE}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let r = match cmd {
        Command::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Command::Confirm => confirm(),
        Command::Status { json, device } => status::run(json, device.as_deref()),
        Command::Install { image, device, yes } => install(&image, device.as_deref(), yes),
        Command::ActivationKey { device } => activation_key(device.as_deref()),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the error carried.
            eprintln!("lifeboat-ctl: {}", e.replace(['\r', '\n'], " ").trim_end());
            ExitCode::from(FAILED)
        }
    }
}

/// The lifeboat arguments of this boot's command line.
fn boot_args() -> Result<cmdline::BootArgs, String> {
    let line = std::fs::read_to_string("/proc/cmdline")
        .map_err(|e| format!("cannot read /proc/cmdline: {e}"))?;
    cmdline::parse(&line).map_err(|e| e.to_string())
}

fn confirm() -> Result<(), String> {
    let Some(token) = boot_args()?.token else {
        return Err(
            "not started by lifeboat: the kernel command line has no lifeboat.confirm= token"
                .into(),
        );
    };
    let mut ports = cmos::open().map_err(|e| e.to_string())?;
    cmos::confirm(ports.as_mut(), token).map_err(|e| e.to_string())?;
    println!(
        "boot confirmed (token {token:#010x}): lifeboat keeps this image from the next power-on"
    );
    Ok(())
}

/// The flash: `device` if given, else the one block device that holds a lifeboat record.
pub fn open_flash(device: Option<&Path>, writable: bool) -> Result<BlockDev, String> {
    if let Some(d) = device {
        return BlockDev::open(d, writable);
    }
    let mut found = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .map_err(|e| format!("cannot list /sys/block ({e}): name the flash with --device DEV"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let path = PathBuf::from("/dev").join(&name);
        let Ok(dev) = BlockDev::open(&path, false) else {
            continue;
        };
        if let Ok(mut s) = Slots::new(dev) {
            if s.record().is_some() {
                found.push(path);
            }
        }
    }
    match found.len() {
        0 => Err("no block device holds a lifeboat unit record: name the flash with --device DEV (the kernel needs the flash's disk driver, e.g. ata_piix and sd_mod)".into()),
        1 => BlockDev::open(&found[0], writable),
        _ => Err(format!(
            "several block devices hold a lifeboat unit record ({}): name the flash with --device DEV",
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The unit's flash with its record, or why it is not a lifeboat flash.
fn unit_slots(device: Option<&Path>, writable: bool) -> Result<Slots<BlockDev>, String> {
    let dev = open_flash(device, writable)?;
    let path = dev.path().to_owned();
    let mut s = Slots::new(dev).map_err(|e| format!("{}: {e}", path.display()))?;
    if s.record().is_none() {
        return Err(format!(
            "{} is not a lifeboat flash (no valid unit record); nothing was written",
            path.display()
        ));
    }
    Ok(s)
}

/// The monitor's dialogue, on a terminal: CR LF becomes LF, every piece is flushed at once
/// (the progress dots are how a watcher sees the install advance).
struct Terminal {
    yes: bool,
    start: Instant,
    /// Everything written, for the one-line error of a refusal.
    transcript: String,
}

impl std::fmt::Write for Terminal {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let s = s.replace("\r\n", "\n");
        self.transcript.push_str(&s);
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
        Ok(())
    }
}

impl Operator for Terminal {
    /// Nobody types at `lifeboat-ctl`: the questions are answered by its options below; any
    /// other question the dialogue might ask is answered with ESC (no).
    fn key(&mut self) -> Key {
        Key::Byte(0x1B)
    }

    fn now_us(&mut self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn yes_no(&mut self, text: &'static str, _default: bool) -> bool {
        if self.yes {
            let _ = writeln!(self, "{text} yes (--yes)");
        } else {
            let _ = writeln!(self, "{text} no (give --yes to install it)");
        }
        self.yes
    }

    /// Only a Boothelper asks for the activation key; this is the unit itself: keep it.
    fn activation(&mut self, _current: Option<ActivationKey>) -> Option<Option<ActivationKey>> {
        Some(None)
    }
}

fn install(image: &Path, device: Option<&Path>, yes: bool) -> Result<(), String> {
    // The image is anyone's: its size is checked before a byte of it is read into memory.
    let meta = std::fs::metadata(image).map_err(|e| format!("{}: {e}", image.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", image.display()));
    }
    let mut s = unit_slots(device, true)?;
    let room = s.slot_len().min(PAYLOAD_MAX + HEADER_LEN as u64);
    if meta.len() > room {
        return Err(format!(
            "image of {} bytes does not fit a flash slot of {room} bytes; nothing was written",
            meta.len()
        ));
    }
    // Read at most one byte more than fits: a file that grew since is refused as well.
    let mut bytes = Vec::new();
    std::fs::File::open(image)
        .and_then(|f| f.take(room + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("{}: {e}", image.display()))?;
    if bytes.len() as u64 > room {
        return Err(format!(
            "{} grew past a flash slot of {room} bytes while being read; nothing was written",
            image.display()
        ));
    }
    let ram = ram::usable().map_err(|e| format!("{e}; nothing was written"))?;
    let unit = s.unit();
    let trust = Trust {
        key: unit.key,
        broken: None,
        boothelper: false,
        ram: &ram,
        firmware: ram::FIRMWARE,
        linux_staging: ram::LINUX_STAGING,
        floor: lifeboat_firmware::install::dialogue::INSTALL_FLOOR,
    };
    let mut con = Terminal {
        yes,
        start: Instant::now(),
        transcript: String::new(),
    };
    let mut scratch = vec![0u8; 1 << 20];
    if install_download(&mut s, &mut con, &bytes, None, &mut scratch, &trust) {
        Ok(())
    } else {
        let os = s.flash().last_error().map(|e| e.to_string());
        // The dialogue's last word: its reason (before "Nothing was written to flash.") or
        // "Install failed: ...".
        let last = con
            .transcript
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("Nothing was written"))
            .unwrap_or("refused")
            .to_owned();
        Err(match (os, last.strip_prefix("Install failed: ")) {
            (Some(e), _) => format!("install failed: {}: {e}", s.flash().path().display()),
            (None, Some(why)) => format!("install failed: {why}"),
            (None, None) => format!("install refused: {last}; nothing was written"),
        })
    }
}

fn activation_key(device: Option<&Path>) -> Result<(), String> {
    let mut s = unit_slots(device, false)?;
    let mut out = String::new();
    match s.unit().activation {
        Some(k) => lifeboat_firmware::activation::write(&mut out, &k),
        None => {
            let _ = write!(out, "none");
        }
    }
    println!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, String> {
        parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn commands_and_options() {
        assert_eq!(p(&["confirm"]), Ok(Command::Confirm));
        assert_eq!(
            p(&["status", "--json"]),
            Ok(Command::Status {
                json: true,
                device: None
            })
        );
        assert_eq!(
            p(&["install", "x.img", "--device", "/dev/sda", "--yes"]),
            Ok(Command::Install {
                image: "x.img".into(),
                device: Some("/dev/sda".into()),
                yes: true
            })
        );
        assert_eq!(
            p(&["activation-key", "--device", "/dev/sdb"]),
            Ok(Command::ActivationKey {
                device: Some("/dev/sdb".into())
            })
        );
    }

    #[test]
    fn bad_command_lines_are_refused() {
        for bad in [
            &[][..],
            &["frobnicate"],
            &["confirm", "--device", "/dev/sda"],
            &["confirm", "extra"],
            &["status", "--yes"],
            &["install"],
            &["install", "a", "b"],
            &["install", "a", "--device"],
            &["install", "a", "--device", "x", "--device", "y"],
            &["install", "a", "--json"],
            &["activation-key", "x"],
        ] {
            assert!(p(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
