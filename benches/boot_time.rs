//! Boot-time benchmark (`cargo bench --bench boot_time`, no libtest harness).
//!
//! Prints the sizes (the firmware packed and unpacked, `lifeboat.rom`, beside iPXE's
//! `efi-e1000.rom` and U-Boot's `u-boot.rom`), then for each boot medium the seconds from spawning
//! QEMU to the first console byte, to the banner and to `monitor> ` (ESC is sent as soon as the
//! flash-boot prompt appears), and the same for Debian's U-Boot 2023.01 (`u-boot-qemu`) on q35
//! reaching its `=>` prompt (a key is sent at "Hit any key to stop autoboot"), and the UEFI disk
//! under OVMF on pc and q35 (first byte: OVMF's own output), and lifeboat as the system ROM
//! (`lifeboat.rom` as `-bios`, no SeaBIOS; its size is printed too) on pc and q35. TCG everywhere;
//! each row is the median of 5 runs (`LIFEBOAT_BOOT_RUNS`), all of which are printed. The rows marked "stored"
//! (BIOS diskette and disk, ROM) carry the same unpack stage with the firmware in stored
//! deflate blocks (no compression: the stage only copies it): the difference to the row
//! above is the inflate's cost, net of the smaller read. `LIFEBOAT_BOOT_BASELINE=DIR` adds
//! "baseline" rows for the media another build wrote to DIR (`cargo run -- media --out DIR`
//! at an older commit); the variants of a medium run in turn, so they share the host's noise.
//!
//! The rows "with the NIC" time `lifeboat.rom` and U-Boot on the same board with the same NIC
//! on slirp (q35 with its e1000e, pc with an e1000), their runs taken in turn, and print
//! lifeboat's prompt as a fraction of U-Boot's (target: at most 0.5). `LIFEBOAT_BOOT_ROWS=nic`
//! runs only those rows (and the sizes).
//!
//! The rows "+ TPM" (disk and ROM on pc) are the same media with swtpm attached, run in turn
//! with a row without: the difference is the TPM's cost at power-on.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use lifeboat::media::{self, MediaConfig};
use lifeboat_qemu::{Machine, MachineType, Medium, NetBackend, NicModel, Qemu};

/// Runs per row: 5, or `LIFEBOAT_BOOT_RUNS`.
fn run_count() -> usize {
    std::env::var("LIFEBOAT_BOOT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(5)
}
const T: Duration = Duration::from_secs(120);
const BANNER: &str = "lifeboat recovery monitor";
const UBOOT_ROM: &str = "/usr/lib/u-boot/qemu-x86_64/u-boot.rom";
/// iPXE's single-NIC ROM for QEMU (BIOS and UEFI images, LZMA): Debian `ipxe-qemu`.
const IPXE_ROM: &str = "/usr/lib/ipxe/qemu/efi-e1000.rom";

/// Seconds from spawn to: first output, banner, prompt.
#[derive(Clone, Copy)]
struct Run {
    first: f64,
    banner: f64,
    prompt: f64,
}

fn lifeboat_run(medium: Medium, image: &Path) -> Result<Run, String> {
    machine_run(Machine::new(medium, image).medium_snapshot(true))
}

/// The UEFI disk under OVMF on `board` (a fresh writable copy of OVMF each run, as a new
/// unit would have): the firmware's banner comes after OVMF's start-up and the loader.
fn uefi_run(board: MachineType, image: &Path, dir: &Path) -> Result<Run, String> {
    let ovmf = dir.join("OVMF.fd");
    std::fs::copy(lifeboat_qemu::OVMF, &ovmf)
        .map_err(|e| format!("{}: {e}", lifeboat_qemu::OVMF))?;
    machine_run(
        Machine::new(Medium::Disk, image)
            .medium_snapshot(true)
            .machine_type(board)
            .ovmf(&ovmf),
    )
}

fn machine_run(machine: Machine) -> Result<Run, String> {
    let start = Instant::now();
    let mut q = Qemu::launch(&machine).map_err(|e| e.to_string())?;
    while q.transcript_len() == 0 {
        if start.elapsed() > T {
            return Err("no console output".into());
        }
        thread::sleep(Duration::from_micros(500));
    }
    let first = start.elapsed().as_secs_f64();
    q.expect(BANNER, T).map_err(|e| e.to_string())?;
    let banner = start.elapsed().as_secs_f64();
    q.expect("Use BREAK or ESC", T).map_err(|e| e.to_string())?;
    q.send(b"\x1b").map_err(|e| e.to_string())?;
    q.expect("monitor> ", T).map_err(|e| e.to_string())?;
    let prompt = start.elapsed().as_secs_f64();
    Ok(Run {
        first,
        banner,
        prompt,
    })
}

/// Output of a child's stdout, appended by a reader thread.
#[derive(Default)]
struct Output {
    bytes: Mutex<(Vec<u8>, Option<Instant>, bool)>,
    changed: Condvar,
}

impl Output {
    /// Waits for `needle` at or after `from`; returns the end offset.
    fn wait(&self, from: usize, needle: &str, deadline: Instant) -> Result<usize, String> {
        let mut g = self.bytes.lock().unwrap();
        loop {
            let hay = &g.0[from.min(g.0.len())..];
            if let Some(at) = hay
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
            {
                return Ok(from + at + needle.len());
            }
            let now = Instant::now();
            if g.2 || now >= deadline {
                return Err(format!(
                    "{needle:?} not seen ({}); output so far: {:?}",
                    if g.2 { "QEMU exited" } else { "timeout" },
                    String::from_utf8_lossy(&g.0)
                ));
            }
            g = self.changed.wait_timeout(g, deadline - now).unwrap().0;
        }
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// U-Boot on `board`, with QEMU's default NIC for that board (`None`: q35's e1000e, pc's
/// e1000, on slirp) or `nic` on slirp.
fn uboot_run(board: MachineType, nic: Option<NicModel>) -> Result<Run, String> {
    let start = Instant::now();
    let mut command = Command::new("qemu-system-x86_64");
    command.args([
        "-accel",
        "tcg",
        "-machine",
        board.name(),
        "-bios",
        UBOOT_ROM,
        "-nographic",
    ]);
    if let Some(model) = nic {
        command.args([
            "-netdev",
            "user,id=n0",
            "-device",
            &format!("{},netdev=n0", model.device()),
        ]);
    }
    let mut child = KillOnDrop(
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning qemu-system-x86_64: {e}"))?,
    );
    let out = Arc::new(Output::default());
    let mut pipe = child.0.stdout.take().unwrap();
    let sink = Arc::clone(&out);
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            let n = pipe.read(&mut buf).unwrap_or(0);
            let mut g = sink.bytes.lock().unwrap();
            if n == 0 {
                g.2 = true;
            } else {
                g.1.get_or_insert_with(Instant::now);
                g.0.extend_from_slice(&buf[..n]);
            }
            drop(g);
            sink.changed.notify_all();
            if n == 0 {
                break;
            }
        }
    });
    let deadline = start + T;
    let mut at = out.wait(0, "U-Boot 2023.01", deadline)?;
    let banner = start.elapsed().as_secs_f64();
    let first = out
        .bytes
        .lock()
        .unwrap()
        .1
        .unwrap()
        .duration_since(start)
        .as_secs_f64();
    at = out.wait(at, "Hit any key to stop autoboot", deadline)?;
    let mut stdin = child.0.stdin.take().unwrap();
    stdin
        .write_all(b" ")
        .and_then(|()| stdin.flush())
        .map_err(|e| e.to_string())?;
    out.wait(at, "=>", deadline)?;
    let prompt = start.elapsed().as_secs_f64();
    Ok(Run {
        first,
        banner,
        prompt,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Prints one row; returns its median prompt.
fn row(name: &str, runs: &[Run]) -> f64 {
    let col = |f: fn(&Run) -> f64| -> (f64, String) {
        let all: Vec<f64> = runs.iter().map(f).collect();
        let list = all
            .iter()
            .map(|s| format!("{s:.3}"))
            .collect::<Vec<_>>()
            .join(" ");
        (median(all), list)
    };
    let (first, first_all) = col(|r| r.first);
    let (banner, banner_all) = col(|r| r.banner);
    let (prompt, prompt_all) = col(|r| r.prompt);
    println!("{name:<24} {first:>8.3} {banner:>8.3} {prompt:>8.3}");
    println!(
        "{:<24} first [{first_all}] banner [{banner_all}] prompt [{prompt_all}]",
        ""
    );
    prompt
}

/// A row's name and one run of it.
type Variant<'a> = (String, Box<dyn Fn() -> Result<Run, String> + 'a>);

/// [`run_count`] runs of each variant, taken in turn so that the host's noise falls on all of
/// them alike; then one row each. Returns each row's median prompt (`None`: a run failed).
fn interleaved_runs(variants: &[Variant<'_>]) -> Vec<Option<f64>> {
    let mut runs: Vec<Result<Vec<Run>, String>> = vec![Ok(Vec::new()); variants.len()];
    for _ in 0..run_count() {
        for ((_, run), acc) in variants.iter().zip(runs.iter_mut()) {
            if let Ok(list) = acc {
                match run() {
                    Ok(r) => list.push(r),
                    Err(e) => *acc = Err(e),
                }
            }
        }
    }
    variants
        .iter()
        .zip(runs)
        .map(|((name, _), runs)| match runs {
            Ok(runs) => Some(row(name, &runs)),
            Err(e) => {
                println!("{name:<24} FAILED: {e}");
                None
            }
        })
        .collect()
}

/// [`interleaved_runs`] over variants that differ in their image.
fn interleaved(variants: &[(String, PathBuf)], run: impl Fn(&Path) -> Result<Run, String>) {
    let run = &run;
    let variants: Vec<Variant<'_>> = variants
        .iter()
        .map(|(name, image)| -> Variant<'_> { (name.clone(), Box::new(move || run(image))) })
        .collect();
    interleaved_runs(&variants);
}

/// `lifeboat.rom` and U-Boot on each board with the board's NIC on slirp, in turn (and the
/// baseline's `lifeboat.rom`, if any), and lifeboat's median prompt as a fraction of U-Boot's.
fn nic_rows(rom: &Path, baseline: Option<&Path>) {
    if !Path::new(UBOOT_ROM).exists() {
        println!("with the NIC: skipped: {UBOOT_ROM} is missing (Debian package u-boot-qemu)");
        return;
    }
    for (board, model) in [
        (MachineType::Q35, NicModel::E1000e),
        (MachineType::Pc, NicModel::E1000),
    ] {
        let label = format!("{}, {}", board.name(), model.device());
        let lifeboat = move |rom: &Path| {
            machine_run(Machine::rom(rom).machine_type(board).nic(
                model,
                NetBackend::User {
                    tftp: None,
                    bootfile: None,
                },
            ))
        };
        let mut variants: Vec<Variant<'_>> = vec![
            (
                format!("lifeboat ROM ({label})"),
                Box::new(move || lifeboat(rom)),
            ),
            (
                format!("U-Boot ({label})"),
                Box::new(move || uboot_run(board, Some(model))),
            ),
        ];
        if let Some(b) = baseline {
            variants.push((
                format!("  baseline ROM ({label})"),
                Box::new(move || lifeboat(b)),
            ));
        }
        let medians = interleaved_runs(&variants);
        for (name, ours) in [
            ("lifeboat", medians[0]),
            ("baseline", *medians.get(2).unwrap_or(&None)),
        ] {
            if let (Some(ours), Some(theirs)) = (ours, medians[1]) {
                println!(
                    "{:<24} {name}'s prompt {:.2} of U-Boot's (target: at most 0.50)",
                    "",
                    ours / theirs
                );
            }
        }
    }
}

/// The TPM's cost at power-on: the disk (SeaBIOS) and the ROM on pc, each run in turn
/// without and with a TPM (swtpm, its state kept between runs as a unit's chip keeps it:
/// the TIS probe, TPM2_Startup, the vendor, the floor's index read, raised when needed and
/// write-locked). The measurements before a flash boot (three extends) are not in this path.
fn tpm_rows(set: &media::MediaSet, dir: &Path) {
    use lifeboat_qemu::swtpm::{self, Swtpm};
    if let Some(why) = swtpm::unavailable() {
        println!("{:<24} skipped: {why}", "lifeboat + TPM");
        return;
    }
    let state = dir.join("tpm");
    for (name, unit) in [
        (
            "lifeboat disk (pc)",
            Machine::new(Medium::Disk, &set.disk).medium_snapshot(true),
        ),
        ("lifeboat ROM (pc)", Machine::rom(&set.rom)),
    ] {
        let (mut without, mut with) = (Vec::new(), Vec::new());
        for _ in 0..run_count() {
            match machine_run(unit.clone()) {
                Ok(r) => without.push(r),
                Err(e) => println!("{name:<24} FAILED: {e}"),
            }
            let run = Swtpm::start(&state).and_then(|tpm| {
                let m = tpm.qemu_args().into_iter().fold(unit.clone(), Machine::arg);
                machine_run(m)
            });
            match run {
                Ok(r) => with.push(r),
                Err(e) => println!("{name:<24} + TPM FAILED: {e}"),
            }
        }
        row(name, &without);
        row(
            &format!("  {} + TPM", name.trim_start_matches("lifeboat ")),
            &with,
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would run this too: skip then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("boot_time: run with `cargo bench --bench boot_time`");
        return;
    }
    let stored = media::stored_firmware();
    println!(
        "firmware: {} bytes packed (unpack stage + deflate; budget {}), {} bytes unpacked \
         (budget {}), {} bytes stored (no compression)",
        media::PACKED.len(),
        media::PACKED_BUDGET,
        media::FIRMWARE.len(),
        media::FIRMWARE_BUDGET,
        stored.len()
    );
    println!(
        "UEFI loader: {} bytes of BOOTX64.EFI besides its {}-byte payload block",
        media::LOADER.len() - lifeboat_efi::payload::LEN,
        lifeboat_efi::payload::LEN
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("boot-time");
    let _ = std::fs::remove_dir_all(&dir);
    let set = media::write_media(&dir, &MediaConfig::default()).expect("writing media");
    let rom_len = std::fs::metadata(&set.rom).expect("lifeboat.rom").len();
    let stage = &media::ROM_TOP[..lifeboat_rom::layout::TOP_LEN - lifeboat_rom::layout::RESET_LEN];
    println!(
        "system ROM lifeboat.rom: {rom_len} bytes ({} KiB; its stage {} bytes + a 4 KiB reset stub)",
        rom_len >> 10,
        stage.iter().rposition(|&b| b != 0xFF).map_or(0, |i| i + 1),
    );
    for (name, path) in [
        ("iPXE efi-e1000.rom", IPXE_ROM),
        ("U-Boot u-boot.rom", UBOOT_ROM),
    ] {
        match std::fs::metadata(path) {
            Ok(m) => println!("{name}: {} bytes ({} KiB), {path}", m.len(), m.len() >> 10),
            Err(e) => println!("{name}: {path}: {e}"),
        }
    }
    let sdir = dir.join("stored");
    std::fs::create_dir_all(&sdir).expect("creating the stored media's directory");
    let cfg = MediaConfig::default();
    let write = |name: &str, bytes: Result<Vec<u8>, media::MediaError>| {
        let path = sdir.join(name);
        std::fs::write(&path, bytes.expect("a stored medium")).expect("writing a stored medium");
        path
    };
    let stored_floppy = write(
        "floppy.img",
        media::image_with(Medium::Floppy, &cfg, &stored),
    );
    let stored_disk = write("disk.img", media::image_with(Medium::Disk, &cfg, &stored));
    let stored_rom = write("lifeboat.rom", media::rom_image_with(&cfg, &stored));

    println!("seconds from QEMU spawn (TCG), median of {}:", run_count());
    println!(
        "{:<24} {:>8} {:>8} {:>8}",
        "", "1st byte", "banner", "prompt"
    );
    // Another build's media (`cargo run -- media --out DIR` from an older commit) as
    // interleaved "before" rows: the same run, the same host noise.
    let baseline = std::env::var_os("LIFEBOAT_BOOT_BASELINE").map(PathBuf::from);
    if let Some(b) = &baseline {
        println!("baseline rows: the media in {}", b.display());
    }
    println!("with the NIC (slirp), lifeboat.rom and U-Boot in turn:");
    let baseline_rom = baseline.as_ref().map(|b| b.join(media::ROM_FILE));
    nic_rows(&set.rom, baseline_rom.as_deref());
    if std::env::var("LIFEBOAT_BOOT_ROWS").as_deref() == Ok("nic") {
        return;
    }
    for (medium, name) in [
        (Medium::Floppy, "lifeboat floppy (pc)"),
        (Medium::Usb, "lifeboat usb (pc)"),
        (Medium::Disk, "lifeboat disk (pc)"),
    ] {
        let image = set.path(match medium {
            Medium::Floppy => media::Medium::Floppy,
            Medium::Usb => media::Medium::Usb,
            Medium::Disk => media::Medium::Disk,
        });
        let short = name.trim_start_matches("lifeboat ");
        let mut variants = vec![(name.to_string(), image.to_path_buf())];
        match medium {
            Medium::Floppy => variants.push((format!("  stored {short}"), stored_floppy.clone())),
            Medium::Disk => variants.push((format!("  stored {short}"), stored_disk.clone())),
            Medium::Usb => {}
        }
        if let Some(b) = &baseline {
            variants.push((
                format!("  baseline {short}"),
                b.join(media::file_name(medium)),
            ));
        }
        interleaved(&variants, |image| lifeboat_run(medium, image));
    }

    for (board, name) in [
        (MachineType::Pc, "lifeboat UEFI disk (pc)"),
        (MachineType::Q35, "lifeboat UEFI disk (q35)"),
    ] {
        if !Path::new(lifeboat_qemu::OVMF).exists() {
            println!(
                "{name:<24} skipped: {} is missing (Debian package ovmf)",
                lifeboat_qemu::OVMF
            );
            continue;
        }
        // (No stored row: OVMF's 3.5 s and its spread hide a few milliseconds, and the
        // stored firmware does not fit the loader's 256 KiB payload block.)
        let runs: Result<Vec<Run>, String> = (0..run_count())
            .map(|_| uefi_run(board, &set.uefi_disk, &dir))
            .collect();
        match runs {
            Ok(runs) => {
                row(name, &runs);
            }
            Err(e) => println!("{name:<24} FAILED: {e}"),
        }
    }

    for (board, name) in [
        (MachineType::Pc, "lifeboat ROM (pc)"),
        (MachineType::Q35, "lifeboat ROM (q35)"),
    ] {
        let short = name.trim_start_matches("lifeboat ");
        let mut variants = vec![
            (name.to_string(), set.rom.clone()),
            (format!("  stored {short}"), stored_rom.clone()),
        ];
        if let Some(b) = &baseline {
            variants.push((format!("  baseline {short}"), b.join(media::ROM_FILE)));
        }
        interleaved(&variants, |rom| {
            machine_run(Machine::rom(rom).machine_type(board))
        });
    }

    tpm_rows(&set, &dir);

    let name = "U-Boot 2023.01 (q35)";
    if !Path::new(UBOOT_ROM).exists() {
        println!("{name:<24} skipped: {UBOOT_ROM} is missing (Debian package u-boot-qemu)");
        return;
    }
    let runs: Result<Vec<Run>, String> = (0..run_count())
        .map(|_| uboot_run(MachineType::Q35, None))
        .collect();
    match runs {
        Ok(runs) => {
            row(name, &runs);
        }
        Err(e) => println!("{name:<24} FAILED: {e}"),
    }
    println!("(banner: lifeboat `{BANNER}`, U-Boot `U-Boot 2023.01`; prompt: `monitor> ` / `=>`)");
}
