//! `cargo run --release [-- OPTIONS]`: build the boot media and boot the appliance in
//! QEMU with the console on this terminal and a user-mode network whose TFTP server
//! serves a demo directory. `cargo run --release -- media --out DIR` only writes media.
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use lifeboat::media::{self, MediaConfig, Medium};
use lifeboat_qemu::{ConsoleBackend, Machine, MachineType, NetBackend, NicModel};

const USAGE: &str = "\
usage: cargo run --release -- [run] [OPTIONS]     build the media and boot them in QEMU
       cargo run --release -- media --out DIR    write floppy.img, usb.img (Boothelper media) and
                                                 disk.img (the appliance's boot disk) to DIR
       cargo run --release -- mkimage|inspect|keygen ...   the image tool (--help for usage)

options (run):
  --medium floppy|usb|disk   boot medium (default disk: the appliance's own boot disk)
  --nic MODEL                e1000 (default), i82557b, i82558b, i82559er, virtio or none;
                             repeat for more NICs
  --machine pc|q35           QEMU board (default pc)
  --tftp DIR                 TFTP root served at 10.0.2.2 (default: a generated demo directory)
options (run and media):
  --out DIR                  where media are written (default target/lifeboat-media)
  --timeout SECONDS          flash-boot window (default 10)
  --baud RATE                console speed (default 9600)
  --log LEVEL                console log level: off, error, warn, info, debug, trace (default warn)
  --boothelper               boot the Boothelper diskette (the appliance disk behind it)
  --pubkey FILE              install only images signed with this key (FILE.pub from keygen)";

struct Options {
    media_only: bool,
    out: PathBuf,
    medium: Medium,
    nics: Vec<NicModel>,
    no_nic: bool,
    machine: MachineType,
    tftp: Option<PathBuf>,
    cfg: MediaConfig,
    /// Boot the Boothelper diskette (the appliance disk and flash attached behind it).
    boothelper: bool,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        media_only: false,
        out: PathBuf::from("target/lifeboat-media"),
        medium: Medium::Disk,
        nics: Vec::new(),
        no_nic: false,
        machine: MachineType::Pc,
        tftp: None,
        boothelper: false,
        cfg: MediaConfig {
            removable_boothelper: true,
            ..MediaConfig::default()
        },
    };
    let mut it = args.iter();
    let mut first = true;
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "media" if first => o.media_only = true,
            "run" if first => {}
            "-h" | "--help" => return Err(String::new()),
            "--out" => o.out = PathBuf::from(val("--out")?),
            "--medium" => o.medium = media::parse_medium(&val("--medium")?)?,
            "--nic" => match val("--nic")?.as_str() {
                "e1000" => o.nics.push(NicModel::E1000),
                "i82557b" => o.nics.push(NicModel::I82557b),
                "i82558b" => o.nics.push(NicModel::I82558b),
                "i82559er" => o.nics.push(NicModel::I82559er),
                "virtio" | "virtio-net" | "virtio-net-pci" => o.nics.push(NicModel::VirtioNetPci),
                "none" => o.no_nic = true,
                n => return Err(format!("unknown NIC model {n:?}")),
            },
            "--machine" => {
                o.machine = match val("--machine")?.as_str() {
                    "pc" => MachineType::Pc,
                    "q35" => MachineType::Q35,
                    m => return Err(format!("unknown machine {m:?} (pc or q35)")),
                }
            }
            "--tftp" => o.tftp = Some(PathBuf::from(val("--tftp")?)),
            "--timeout" => {
                o.cfg.boot_timeout_s = val("--timeout")?
                    .parse()
                    .map_err(|_| "--timeout takes whole seconds")?
            }
            "--baud" => {
                o.cfg.baud = val("--baud")?
                    .parse()
                    .map_err(|_| "--baud takes a number")?
            }
            "--log" => o.cfg.log_level = val("--log")?,
            "--boothelper" => o.boothelper = true,
            "--pubkey" => {
                let f = val("--pubkey")?;
                let k = std::fs::read(&f).map_err(|e| format!("{f}: {e}"))?;
                o.cfg.public_key = Some(k.try_into().map_err(|_| {
                    format!("{f}: not an ed25519 public key (32 bytes, from keygen)")
                })?);
            }
            x => return Err(format!("unknown argument {x:?}")),
        }
        first = false;
    }
    if o.nics.is_empty() && !o.no_nic {
        o.nics.push(NicModel::E1000);
    }
    if o.no_nic {
        o.nics.clear();
    }
    Ok(o)
}

/// A demo TFTP directory: a placeholder image and a README saying what it is.
fn demo_dir(base: &Path) -> std::io::Result<PathBuf> {
    let dir = base.join("tftp-demo");
    std::fs::create_dir_all(&dir)?;
    // Deterministic, incompressible-looking bytes, 512 KiB.
    let data = lifeboat_qemu::rng::XorShift::new(0x1234_5678).bytes(512 * 1024);
    std::fs::write(dir.join("demo.bin"), data)?;
    std::fs::write(
        dir.join("demo-image.bin"),
        media::demo_image(media::DEMO_VERSION),
    )?;
    std::fs::write(
        dir.join("README"),
        "lifeboat demo TFTP root, served by QEMU user-mode networking at 10.0.2.2.\n\
         In the monitor: address 10.0.2.15, server 10.0.2.2, file demo-image.bin, ping, tftp\n\
         (installs it to the flash), reload (boots it). demo.bin is 512 KiB of test data.\n",
    )?;
    Ok(dir)
}

/// Find QEMU, installing it with apt-get when we are root on a Debian-like system.
fn ensure_qemu() -> Result<PathBuf, String> {
    if let Ok(p) = lifeboat_qemu::find_qemu() {
        return Ok(p);
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let apt = Path::new("/usr/bin/apt-get").exists();
    if root && apt {
        eprintln!(
            "lifeboat: qemu-system-x86_64 not found; installing Debian package qemu-system-x86 ..."
        );
        let ok = Command::new("apt-get")
            .args(["install", "-y", "qemu-system-x86"])
            .status()
            .map(|s| s.success());
        if !matches!(ok, Ok(true)) {
            let _ = Command::new("apt-get").arg("update").status();
            let _ = Command::new("apt-get")
                .args(["install", "-y", "qemu-system-x86"])
                .status();
        }
    }
    lifeboat_qemu::find_qemu()
}

/// `mkimage`, `inspect`, `keygen`: the image tool (see `lifeboat::imagetool`).
fn image_tool(cmd: &str, args: &[String]) -> ExitCode {
    use lifeboat::imagetool;
    let result = match cmd {
        "mkimage" => imagetool::mkimage(args).map(|s| (s, true)),
        "inspect" => imagetool::inspect(args),
        _ => imagetool::keygen(args).map(|s| (s, true)),
    };
    match result {
        Ok((report, ok)) => {
            print!("{report}");
            if !report.ends_with('\n') {
                println!();
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("lifeboat {cmd}: {e}\n{}", imagetool::USAGE);
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(cmd @ ("mkimage" | "inspect" | "keygen")) = args.first().map(String::as_str) {
        return image_tool(cmd, &args[1..]);
    }
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("lifeboat: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let set = match media::write_media(&o.out, &o.cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lifeboat: cannot write media to {}: {e}", o.out.display());
            return ExitCode::FAILURE;
        }
    };
    for m in Medium::ALL {
        eprintln!("lifeboat: wrote {}", set.path(m).display());
    }
    if o.media_only {
        return ExitCode::SUCCESS;
    }
    let qemu = match ensure_qemu() {
        Ok(q) => q,
        Err(e) => {
            eprintln!("lifeboat: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tftp = match o.tftp.clone().map(Ok).unwrap_or_else(|| demo_dir(&o.out)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("lifeboat: cannot create the demo TFTP directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The appliance's flash: a 4 MiB pflash file kept between runs (delete it to start empty).
    let flash = o.out.join("flash.img");
    if !flash.exists() {
        if let Err(e) = std::fs::write(&flash, vec![0xFFu8; 4 << 20]) {
            eprintln!("lifeboat: cannot create {}: {e}", flash.display());
            return ExitCode::FAILURE;
        }
    }
    eprintln!(
        "lifeboat: flash {} (pflash, kept between runs)",
        flash.display()
    );
    let medium = if o.boothelper {
        Medium::Floppy
    } else {
        o.medium
    };
    let mut machine = Machine::new(medium, set.path(medium))
        .machine_type(o.machine)
        .pflash(&flash);
    if medium != Medium::Disk {
        // The appliance's own disk behind the diskette/stick: boot it by ejecting the
        // medium (Ctrl-A c, `eject -f floppy0`) when the Boothelper asks.
        machine = machine.ide_disk(0, set.path(Medium::Disk));
    }
    for (i, nic) in o.nics.iter().enumerate() {
        // The first NIC gets slirp with the TFTP root; further NICs get their own slirp.
        let tftp = if i == 0 { Some(tftp.clone()) } else { None };
        machine = machine.nic(
            *nic,
            NetBackend::User {
                tftp,
                bootfile: None,
            },
        );
    }
    eprintln!(
        "lifeboat: TFTP root {} at 10.0.2.2; guest address 10.0.2.15",
        tftp.display()
    );
    eprintln!("{}", lifeboat_qemu::STDIO_NOTE);
    machine.qemu = Some(qemu.clone());
    let mut cmd = machine.command(&ConsoleBackend::Stdio);
    match cmd.status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("lifeboat: QEMU exited with {s}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("lifeboat: cannot start {}: {e}", qemu.display());
            ExitCode::FAILURE
        }
    }
}
