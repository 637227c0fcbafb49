//! Recovery benchmark (`cargo bench --bench recovery`; prints a table; no libtest harness).
//!
//! Same QEMU machine for all rows (pc, 256 MiB, e1000 on slirp, TCG):
//! - cold boot of an installed image with the window skipped by SPACE: seconds from QEMU
//!   start to `demo image ... running` (flat64, pflash) and to the initramfs marker (Debian's
//!   cloud kernel + busybox initramfs, ATA flash);
//! - the whole recovery of that Linux image, phase by phase: from `tftp`'s Enter through
//!   download, verification, install, then `boot` (the image started from the RAM it was
//!   installed from) or `reload`, SPACE at the window and flash boot, to the initramfs
//!   marker; with `LIFEBOAT_RECOVERY_BASELINE=<boot disk image>` also another build's
//!   firmware by `reload` (before/after in one run);
//! - U-Boot 2023.01 (Debian `u-boot-qemu`, the 32-bit `qemu-x86` build: the 64-bit build hangs
//!   in `zboot` with this kernel) doing `tftpboot` of the kernel and the initramfs and `zboot`,
//!   phase by phase from the first `tftpboot`'s Enter to the marker; both totals also from
//!   QEMU start.
//!
//! Median of `RUNS`; the recovery and U-Boot runs alternate. `LIFEBOAT_BENCH_ROWS=cold`
//! stops after the cold-boot rows (flat64 unsigned, flat64 signed on a unit with a key,
//! Linux); `LIFEBOAT_BENCH_ROWS=recovery` skips them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lifeboat::media::{self, MediaConfig};
use lifeboat_firmware::image::{sign_header, HEADER_LEN};
use lifeboat_qemu::linux::{self, CMDLINE, MARKER};
use lifeboat_qemu::{Machine, Medium, NetBackend, NicModel, Qemu};

const RUNS: usize = 5;
const T: Duration = Duration::from_secs(240);
const UBOOT32: &str = "/usr/lib/u-boot/qemu-x86/u-boot.rom";

fn wait(q: &mut Qemu, s: &str) -> Result<String, String> {
    q.expect(s, T).map_err(|e| e.to_string())
}

fn line(q: &mut Qemu, l: &str, prompt: &str) -> Result<(), String> {
    q.send_line(l).map_err(|e| e.to_string())?;
    wait(q, prompt).map(drop)
}

fn unit(disk: &Path, root: &Path) -> Machine {
    Machine::new(Medium::Disk, disk)
        .medium_snapshot(true)
        .memory_mib(256)
        .nic(
            NicModel::E1000,
            NetBackend::User {
                tftp: Some(root.to_path_buf()),
                bootfile: None,
            },
        )
}

/// Installs `file` from `root` onto the flash of `m` (a fresh unit), then quits.
fn install(m: &Machine, file: &str) -> Result<(), String> {
    let mut q = Qemu::launch(m).map_err(|e| e.to_string())?;
    wait(&mut q, "Use SPACE")?;
    q.send(b"\x1b").map_err(|e| e.to_string())?;
    wait(&mut q, "monitor> ")?;
    for l in [
        "address 10.0.2.15",
        "server 10.0.2.2",
        &format!("file {file}"),
        "tftp",
    ] {
        line(&mut q, l, "monitor> ")?;
    }
    if !q.transcript().contains("Installed ") {
        return Err(format!("install of {file} failed: {}", q.transcript()));
    }
    Ok(())
}

/// Cold boot with SPACE: seconds from launch to `marker`.
fn cold(m: &Machine, marker: &str) -> Result<f64, String> {
    let t0 = Instant::now();
    let mut q = Qemu::launch(m).map_err(|e| e.to_string())?;
    wait(&mut q, "Use SPACE")?;
    q.send(b" ").map_err(|e| e.to_string())?;
    wait(&mut q, marker)?;
    Ok(t0.elapsed().as_secs_f64())
}

/// With `LIFEBOAT_BENCH_TRANSCRIPTS=<dir>`, each run's console transcript goes to
/// `<dir>/<label>-<n>.txt` (to compare, say, the kernel's own timestamps after each hand-off).
fn keep_transcript(q: &Qemu, label: &str) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    if let Some(dir) = std::env::var_os("LIFEBOAT_BENCH_TRANSCRIPTS") {
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(
            Path::new(&dir).join(format!("{label}-{n}.txt")),
            q.transcript(),
        );
    }
}

/// Seconds at each milestone of one run, from a common start.
struct Phases {
    t0: Instant,
    last: Instant,
    marks: Vec<(&'static str, f64)>,
}

impl Phases {
    fn start() -> Phases {
        let now = Instant::now();
        Phases {
            t0: now,
            last: now,
            marks: Vec::new(),
        }
    }
    /// Closes the phase that ends now.
    fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.marks.push((name, (now - self.last).as_secs_f64()));
        self.last = now;
    }
    /// Starts timing from now without recording the time since the last mark.
    fn skip(&mut self) {
        self.last = Instant::now();
    }
    fn total(&self) -> f64 {
        self.marks.iter().map(|m| m.1).sum()
    }
}

/// The whole recovery, phase by phase from `tftp`'s Enter to the marker (and the seconds
/// from launch).
fn recovery(m: &Machine, file: &str, from_ram: bool, label: &str) -> Result<(Phases, f64), String> {
    let mut p = Phases::start();
    let mut q = Qemu::launch(m).map_err(|e| e.to_string())?;
    wait(&mut q, "Use SPACE")?;
    q.send(b"\x1b").map_err(|e| e.to_string())?;
    wait(&mut q, "monitor> ")?;
    for l in [
        "address 10.0.2.15",
        "server 10.0.2.2",
        &format!("file {file}"),
    ] {
        line(&mut q, l, "monitor> ")?;
    }
    q.send(b"tftp\r").map_err(|e| e.to_string())?;
    p.skip();
    wait(&mut q, "Received ")?;
    wait(&mut q, "\r\n")?;
    p.mark("download (tftp)");
    wait(&mut q, "Flash version")?;
    p.mark("verify (CRC-32, SHA-256)");
    wait(&mut q, "Installed ")?;
    wait(&mut q, "monitor> ")?;
    p.mark("install (write, read back)");
    if from_ram {
        q.send(b"boot\r").map_err(|e| e.to_string())?;
        wait(&mut q, "Boot from RAM: ")?;
        wait(&mut q, "verified; starting it.")?;
        p.mark("`boot` (no reset; copy from RAM, place)");
    } else {
        q.send(b"reload\r").map_err(|e| e.to_string())?;
        wait(&mut q, "Use SPACE")?;
        p.mark("reboot (BIOS, lifeboat start-up)");
        q.send(b" ").map_err(|e| e.to_string())?;
        wait(&mut q, "verified; starting it.")?;
        p.mark("flash boot (read, verify, place)");
    }
    wait(&mut q, MARKER)?;
    p.mark("kernel to the initramfs marker");
    let from_start = p.t0.elapsed().as_secs_f64();
    keep_transcript(&q, label);
    Ok((p, from_start))
}

/// U-Boot, phase by phase from the first `tftpboot`'s Enter to the marker (and the seconds
/// from launch).
fn uboot(root: &Path, initrd_len: usize) -> Result<(Phases, f64), String> {
    let mut m = unit(Path::new("/dev/null"), root);
    m.boot = None;
    let m = m.arg("-bios").arg(UBOOT32);
    let mut p = Phases::start();
    let mut q = Qemu::launch(&m).map_err(|e| e.to_string())?;
    wait(&mut q, "autoboot")?;
    q.send(b"\r").map_err(|e| e.to_string())?;
    wait(&mut q, "=> ")?;
    for l in [
        "setenv ipaddr 10.0.2.15",
        "setenv serverip 10.0.2.2",
        &format!("setenv bootargs {CMDLINE}"),
    ] {
        line(&mut q, l, "=> ")?;
    }
    q.send(b"tftpboot 0x1000000 vmlinuz\r")
        .map_err(|e| e.to_string())?;
    p.skip();
    wait(&mut q, "=> ")?;
    p.mark("download kernel (tftpboot)");
    line(&mut q, "tftpboot 0x8000000 initramfs.cpio", "=> ")?;
    p.mark("download initrd (tftpboot)");
    // The initrd goes above the kernel's init_size (a lower address gets overwritten).
    q.send(format!("zboot 0x1000000 - 0x8000000 {initrd_len:x}\r").as_bytes())
        .map_err(|e| e.to_string())?;
    wait(&mut q, "Starting kernel")?;
    p.mark("zboot (place, start)");
    wait(&mut q, MARKER)?;
    p.mark("kernel to the initramfs marker");
    let from_start = p.t0.elapsed().as_secs_f64();
    keep_transcript(&q, "uboot");
    Ok((p, from_start))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn runs<T>(f: impl Fn() -> Result<T, String>) -> Result<Vec<T>, String> {
    (0..RUNS).map(|_| f()).collect()
}

fn show(name: &str, r: Result<Vec<f64>, String>) {
    match r {
        Ok(v) => println!("| {name} | {:.2} s | |", median(v)),
        Err(e) => println!("| {name} | failed: {e} | |"),
    }
}

/// One row per phase (median over the runs), then the total from the command's Enter and
/// from QEMU start.
fn show_phases(name: &str, r: Result<Vec<(Phases, f64)>, String>) -> Option<f64> {
    match r {
        Ok(v) => {
            for (i, (phase, _)) in v[0].0.marks.iter().enumerate() {
                let m = median(v.iter().map(|(p, _)| p.marks[i].1).collect());
                println!("| {name}: {phase} | {m:.2} s | |");
            }
            let total = median(v.iter().map(|(p, _)| p.total()).collect());
            let from_start = median(v.iter().map(|(_, s)| *s).collect());
            println!("| **{name}: total** | **{total:.2} s** | {from_start:.2} s |");
            Some(total)
        }
        Err(e) => {
            println!("| {name} | failed: {e} | |");
            None
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-recovery");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = MediaConfig {
        boot_timeout_s: 30,
        ..MediaConfig::default()
    };
    let set = media::write_media(&dir.join("media"), &cfg).expect("media");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("demo-image.bin"),
        media::demo_image(media::DEMO_VERSION),
    )
    .unwrap();
    let assets = match linux::ensure(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("linux")) {
        Ok(a) => Some(a),
        Err(e) => {
            println!("Linux rows skipped: {e}");
            None
        }
    };
    let mut initrd_len = 0;
    if let Some(a) = &assets {
        initrd_len = std::fs::metadata(&a.initramfs).unwrap().len() as usize;
        std::fs::copy(&a.vmlinuz, root.join("vmlinuz")).unwrap();
        std::fs::copy(&a.initramfs, root.join("initramfs.cpio")).unwrap();
        let img = linux::image(a).unwrap();
        std::fs::write(root.join("linux.img"), img).unwrap();
    }
    println!("Recovery and boot, QEMU pc, 256 MiB, e1000 on slirp, TCG; median of {RUNS}");
    println!("| what | seconds | from QEMU start |");
    println!("|---|---|---|");

    // `LIFEBOAT_BENCH_ROWS=recovery`: only the recovery rows.
    let recovery_only = std::env::var("LIFEBOAT_BENCH_ROWS").as_deref() == Ok("recovery");
    // flat64 on pflash, then the same image signed on a unit with a key: the difference is
    // the signature check every flash boot makes.
    let pflash = dir.join("pflash.img");
    std::fs::write(&pflash, vec![0xFFu8; 4 << 20]).unwrap();
    let m = unit(&set.disk, &root).pflash(&pflash);
    match install(&m, "demo-image.bin") {
        Ok(()) if recovery_only => {}
        Ok(()) => show(
            "lifeboat: cold boot to the flat64 demo image (pflash)",
            runs(|| cold(&m, "demo image 1.0(1) running")),
        ),
        Err(e) => println!("| flat64 | failed: {e} | |"),
    }
    let signer = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7; 32]));
    let keyed = media::write_media(
        &dir.join("media-keyed"),
        &MediaConfig {
            public_key: Some(*signer.pk),
            ..cfg.clone()
        },
    )
    .expect("keyed media");
    let signed = |img: &[u8]| {
        let mut h: [u8; HEADER_LEN] = img[..HEADER_LEN].try_into().unwrap();
        sign_header(&mut h, |m| *signer.sk.sign(m, None));
        let mut v = h.to_vec();
        v.extend_from_slice(&img[HEADER_LEN..]);
        v
    };
    std::fs::write(
        root.join("demo-signed.bin"),
        signed(&media::demo_image(media::DEMO_VERSION)),
    )
    .unwrap();
    let pflash = dir.join("pflash-keyed.img");
    std::fs::write(&pflash, vec![0xFFu8; 4 << 20]).unwrap();
    let m = unit(&keyed.disk, &root).pflash(&pflash);
    match install(&m, "demo-signed.bin") {
        Ok(()) if recovery_only => {}
        Ok(()) => show(
            "lifeboat: the same, signed, on a unit with a key (signature checked at boot)",
            runs(|| cold(&m, "demo image 1.0(1) running")),
        ),
        Err(e) => println!("| flat64 signed | failed: {e} | |"),
    }
    let cold_only = std::env::var("LIFEBOAT_BENCH_ROWS").as_deref() == Ok("cold");
    if assets.is_some() {
        let cf = dir.join("cf.img");
        std::fs::write(&cf, vec![0xFFu8; 64 << 20]).unwrap();
        let m = unit(&set.disk, &root).ide_disk(2, &cf);
        match install(&m, "linux.img") {
            Ok(()) if recovery_only => {}
            Ok(()) => show(
                "lifeboat: cold boot to the Linux initramfs marker (ATA flash)",
                runs(|| cold(&m, MARKER)),
            ),
            Err(e) => println!("| Linux cold boot | failed: {e} | |"),
        }
        if cold_only {
            return;
        }
        // Interleaved (ours, U-Boot, ours, ...) so that a machine getting slower or faster
        // during the run weighs on both alike.
        // `LIFEBOAT_RECOVERY_BASELINE=<disk image>`: a row for another build's firmware
        // (its boot disk, as `cargo run -- media` writes it), recovering by `reload`.
        let baseline = std::env::var_os("LIFEBOAT_RECOVERY_BASELINE").map(PathBuf::from);
        let have_uboot = Path::new(UBOOT32).exists();
        let (mut ram, mut reset, mut before, mut theirs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RUNS {
            std::fs::write(&cf, vec![0xFFu8; 64 << 20]).unwrap();
            let m = unit(&set.disk, &root).ide_disk(2, &cf);
            ram.push(recovery(&m, "linux.img", true, "boot"));
            if have_uboot {
                theirs.push(uboot(&root, initrd_len));
            }
            std::fs::write(&cf, vec![0xFFu8; 64 << 20]).unwrap();
            reset.push(recovery(&m, "linux.img", false, "reload"));
            if let Some(disk) = &baseline {
                std::fs::write(&cf, vec![0xFFu8; 64 << 20]).unwrap();
                let m = unit(disk, &root).ide_disk(2, &cf);
                before.push(recovery(&m, "linux.img", false, "baseline"));
            }
        }
        let ours = show_phases(
            "lifeboat recovery, `boot` from RAM",
            ram.into_iter().collect(),
        );
        show_phases(
            "lifeboat recovery, `reload` and flash boot",
            reset.into_iter().collect(),
        );
        if baseline.is_some() {
            show_phases(
                "baseline firmware, `reload` and flash boot",
                before.into_iter().collect(),
            );
        }
        if have_uboot {
            let theirs = show_phases("U-Boot 2023.01", theirs.into_iter().collect());
            if let (Some(a), Some(b)) = (ours, theirs) {
                println!(
                    "\nWhole recovery (tftp + verify + install + `boot` + kernel) {a:.2} s vs U-Boot's tftpboot + zboot of the same kernel {b:.2} s: {:.2}x U-Boot's speed.",
                    b / a
                );
            }
        } else {
            println!("U-Boot row skipped: {UBOOT32} missing (Debian package u-boot-qemu)");
        }
    }
}
