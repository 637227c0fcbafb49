//! `cargo run --release [-- OPTIONS]`: build the boot media and boot the appliance in
//! QEMU with the console on this terminal and a user-mode network whose TFTP server
//! serves a demo directory. `cargo run --release -- media --out DIR` only writes media;
//! `mkimage`, `inspect` and `keygen` are the image tool. `--help` lists every option.
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Args, Parser, Subcommand};
use lifeboat::imagetool;
use lifeboat::media::{self, MediaConfig, Medium};
use lifeboat_qemu::{ConsoleBackend, Machine, MachineType, NetBackend, NicModel};

/// Build the boot media of the lifeboat recovery monitor and boot them in QEMU, or use the
/// image tool. With no subcommand, `run`.
#[derive(Debug, Parser)]
#[command(name = "lifeboat", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// `run`'s options, when no subcommand is given.
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build the media and boot them in QEMU, console on this terminal (the default)
    Run(RunArgs),
    /// Write floppy.img, usb.img, uefi-usb.img (Boothelper media), disk.img and uefi-disk.img
    /// (the appliance's boot disk, for BIOS and UEFI)
    Media(MediaArgs),
    /// Pack a payload into a lifeboat image (signed with --key)
    Mkimage(imagetool::MkimageArgs),
    /// Check an image and print its header; exit status 1 when a check fails
    Inspect(imagetool::InspectArgs),
    /// Write a new signing key pair: FILE (secret) and FILE.pub
    Keygen(imagetool::KeygenArgs),
}

/// Options of `run` and `media`: what goes on the media.
#[derive(Debug, Args)]
struct MediaArgs {
    /// Where media are written
    #[arg(long, value_name = "DIR", default_value = "target/lifeboat-media")]
    out: PathBuf,
    /// Flash-boot window in seconds [default: 10]
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u32>,
    /// Console speed [default: 9600]
    #[arg(long, value_name = "RATE")]
    baud: Option<u32>,
    /// Console log level [default: warn]
    #[arg(long, value_name = "LEVEL",
          value_parser = ["off", "error", "warn", "info", "debug", "trace"])]
    log: Option<String>,
    /// Boot the Boothelper diskette, the appliance disk behind it (`run`; `media` ignores it)
    #[arg(long)]
    boothelper: bool,
    /// Install only images signed with this key (FILE.pub from keygen)
    #[arg(long, value_name = "FILE")]
    pubkey: Option<PathBuf>,
    /// Sign the UEFI loader for Secure Boot with this private key (PEM, with sbsign)
    #[arg(long, value_name = "FILE", requires = "efi_cert")]
    efi_key: Option<PathBuf>,
    /// The certificate (PEM) of --efi-key, trusted by the machine's Secure Boot db
    #[arg(long, value_name = "FILE", requires = "efi_key")]
    efi_cert: Option<PathBuf>,
}

/// Options of `run`.
#[derive(Debug, Args)]
struct RunArgs {
    /// Boot medium: floppy, usb or disk (the appliance's own boot disk)
    #[arg(long, value_parser = media::parse_medium, default_value = "disk")]
    medium: Medium,
    /// e1000 (default on pc), e1000e (default on q35), i82557b, i82558b, i82559er, virtio or
    /// none; repeat for more NICs
    #[arg(long = "nic", value_name = "MODEL", value_parser = parse_nic)]
    nics: Vec<Option<NicModel>>,
    /// QEMU board: pc or q35
    #[arg(long, value_name = "BOARD", value_parser = parse_machine, default_value = "pc")]
    machine: MachineType,
    /// Boot through UEFI (OVMF) from uefi-disk.img (or uefi-usb.img with --medium usb or
    /// --boothelper) instead of SeaBIOS; needs the Debian package ovmf
    #[arg(long)]
    uefi: bool,
    /// lifeboat as the system ROM (lifeboat.rom as the board's read-only pflash unit 0, no
    /// SeaBIOS and no boot medium), the flash as pflash unit 1 below it
    #[arg(long, conflicts_with = "uefi")]
    rom: bool,
    /// TFTP root served at 10.0.2.2 [default: a generated demo directory]
    #[arg(long, value_name = "DIR")]
    tftp: Option<PathBuf>,
    #[command(flatten)]
    media: MediaArgs,
}

/// A `--nic` model; `None` for `none`.
fn parse_nic(s: &str) -> Result<Option<NicModel>, String> {
    Ok(Some(match s {
        "e1000" => NicModel::E1000,
        "e1000e" => NicModel::E1000e,
        "i82557b" => NicModel::I82557b,
        "i82558b" => NicModel::I82558b,
        "i82559er" => NicModel::I82559er,
        "virtio" | "virtio-net" | "virtio-net-pci" => NicModel::VirtioNetPci,
        "none" => return Ok(None),
        n => return Err(format!("unknown NIC model {n:?}")),
    }))
}

fn parse_machine(s: &str) -> Result<MachineType, String> {
    match s {
        "pc" => Ok(MachineType::Pc),
        "q35" => Ok(MachineType::Q35),
        m => Err(format!("unknown machine {m:?} (pc or q35)")),
    }
}

impl MediaArgs {
    /// The configuration sector these options describe.
    fn config(&self) -> Result<MediaConfig, String> {
        let mut cfg = MediaConfig {
            removable_boothelper: true,
            ..MediaConfig::default()
        };
        if let Some(t) = self.timeout {
            cfg.boot_timeout_s = t;
        }
        if let Some(b) = self.baud {
            cfg.baud = b;
        }
        if let Some(l) = &self.log {
            cfg.log_level = l.clone();
        }
        if let Some(f) = &self.pubkey {
            cfg.public_key = Some(lifeboat::imagetool::public_key(f)?);
        }
        Ok(cfg)
    }
}

impl RunArgs {
    /// The NICs to attach: the board's own by default (pc: e1000, q35: e1000e), none after
    /// `--nic none`.
    fn nics(&self) -> Vec<NicModel> {
        if self.nics.contains(&None) {
            Vec::new()
        } else if self.nics.is_empty() {
            vec![match self.machine {
                MachineType::Pc => NicModel::E1000,
                MachineType::Q35 => NicModel::E1000e,
            }]
        } else {
            self.nics.iter().flatten().copied().collect()
        }
    }
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

/// Prints the image tool's report; exit status 1 when a check failed, 2 on an error.
fn image_tool(cmd: &str, result: Result<(String, bool), String>) -> ExitCode {
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
            eprintln!("lifeboat {cmd}: {e}\n(lifeboat {cmd} --help for usage)");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (run, media_only) = match cli.command {
        None => (cli.run, false),
        Some(Cmd::Run(run)) => (run, false),
        Some(Cmd::Media(media)) => (RunArgs { media, ..cli.run }, true),
        Some(Cmd::Mkimage(a)) => {
            return image_tool("mkimage", imagetool::mkimage(&a).map(|s| (s, true)))
        }
        Some(Cmd::Inspect(a)) => return image_tool("inspect", imagetool::inspect(&a)),
        Some(Cmd::Keygen(a)) => {
            return image_tool("keygen", imagetool::keygen(&a).map(|s| (s, true)))
        }
    };
    let cfg = match run.media.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lifeboat: {e}");
            return ExitCode::from(2);
        }
    };
    let out = &run.media.out;
    let set = match media::write_media(out, &cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lifeboat: cannot write media to {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
    };
    if let (Some(key), Some(cert)) = (&run.media.efi_key, &run.media.efi_cert) {
        if let Err(e) = media::sign_uefi_media(&set, &cfg, key, cert) {
            eprintln!("lifeboat: cannot sign the UEFI loader: {e}");
            return ExitCode::FAILURE;
        }
        eprintln!("lifeboat: UEFI loaders signed with {}", cert.display());
    }
    for m in Medium::ALL {
        eprintln!("lifeboat: wrote {}", set.path(m).display());
    }
    for m in [Medium::Usb, Medium::Disk] {
        eprintln!("lifeboat: wrote {}", set.uefi_path(m).display());
    }
    eprintln!("lifeboat: wrote {}", set.rom.display());
    if media_only {
        return ExitCode::SUCCESS;
    }
    let qemu = match ensure_qemu() {
        Ok(q) => q,
        Err(e) => {
            eprintln!("lifeboat: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tftp = match run.tftp.clone().map(Ok).unwrap_or_else(|| demo_dir(out)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("lifeboat: cannot create the demo TFTP directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The appliance's flash: a 4 MiB pflash file kept between runs (delete it to start empty).
    let flash = out.join("flash.img");
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
    let medium = if run.media.boothelper {
        Medium::Floppy
    } else {
        run.medium
    };
    let mut machine = if run.rom {
        // The board's flash arrangement: the ROM read-only as pflash unit 0 (where `-bios`
        // would map it), the appliance flash as unit 1 below it, found by the same CFI probe.
        eprintln!(
            "lifeboat: system ROM {} (pflash unit 0, read-only; no SeaBIOS, no boot medium)",
            set.rom.display()
        );
        Machine::rom(&set.rom)
    } else if run.uefi {
        // UEFI: OVMF as pflash unit 0 (a writable copy: it keeps its variables there), the
        // appliance flash as unit 1; the diskette has no UEFI form, the stick stands in.
        let ovmf = out.join("OVMF.fd");
        if !ovmf.exists() {
            if let Err(e) = std::fs::copy(lifeboat_qemu::OVMF, &ovmf) {
                eprintln!(
                    "lifeboat: cannot copy {} (install the Debian package ovmf): {e}",
                    lifeboat_qemu::OVMF
                );
                return ExitCode::FAILURE;
            }
        }
        let medium = if medium == Medium::Floppy {
            Medium::Usb
        } else {
            medium
        };
        eprintln!(
            "lifeboat: UEFI (OVMF {}), booting {}",
            ovmf.display(),
            set.uefi_path(medium).display()
        );
        Machine::new(medium, set.uefi_path(medium)).ovmf(ovmf)
    } else {
        Machine::new(medium, set.path(medium))
    }
    .machine_type(run.machine)
    .pflash(&flash);
    if medium != Medium::Disk && !run.rom {
        // The appliance's own disk behind the diskette/stick: boot it by ejecting the
        // medium (Ctrl-A c, `eject -f floppy0`) when the Boothelper asks.
        let disk = if run.uefi {
            set.uefi_path(Medium::Disk)
        } else {
            set.path(Medium::Disk)
        };
        machine = machine.ide_disk(0, disk);
    }
    for (i, nic) in run.nics().iter().enumerate() {
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
