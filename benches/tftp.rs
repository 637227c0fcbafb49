//! TFTP download benchmark (`cargo bench --bench tftp`; no libtest harness; root for the
//! tftpd-hpa/atftpd rows, which run in a private namespace, see `qemu::lab`).
//!
//! For 8 MiB and 32 MiB files, on QEMU's slirp server, tftpd-hpa 5.2 and atftpd 0.8 (which
//! grants windowsize 8), the seconds from sending the command's Enter to the prompt after the
//! result line, for lifeboat's `tftp` and for U-Boot 2023.01's `tftpboot` (Debian
//! `u-boot-qemu`), in the same run, on the same QEMU machine (q35, e1000, TCG). Each cell is
//! the median of `RUNS`; MiB/s is the file size over that time. lifeboat gets 2 s after its
//! prompt before the command (an e1000 passes no frames for ~0.5 s after it is opened).
//! Every download's length (and for lifeboat the CRC-32) is checked against the file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lifeboat::media::{self, MediaConfig};
use lifeboat_qemu::lab::{
    crc32, lab_unavailable, pattern, Impairment, Lab, Server, SERVER_IP, UNIT_IP,
};
use lifeboat_qemu::{Machine, MachineType, Medium, NetBackend, NicModel, Qemu};

const RUNS: usize = 3;
const UBOOT_ROM: &str = "/usr/lib/u-boot/qemu-x86_64/u-boot.rom";
const MIB: usize = 1 << 20;
const SIZES: [usize; 2] = [8 * MIB, 32 * MIB];
const T: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, PartialEq)]
enum Where {
    Slirp,
    Lab(Server),
}

impl Where {
    fn name(self) -> &'static str {
        match self {
            Where::Slirp => "slirp",
            Where::Lab(Server::TftpdHpa) => "tftpd-hpa",
            Where::Lab(Server::Atftpd) => "atftpd",
            Where::Lab(Server::Nginx) => "nginx",
        }
    }
    fn addresses(self) -> (&'static str, &'static str) {
        match self {
            Where::Slirp => ("10.0.2.15", "10.0.2.2"),
            Where::Lab(_) => (UNIT_IP, SERVER_IP),
        }
    }
}

struct Setup {
    backend: NetBackend,
    netns: Option<String>,
}

fn machine(m: Machine, s: &Setup) -> Machine {
    let m = m
        .machine_type(MachineType::Q35)
        .memory_mib(512)
        .nic(NicModel::E1000, s.backend.clone());
    match &s.netns {
        Some(ns) => m.netns(ns.clone()),
        None => m,
    }
}

fn expect(q: &mut Qemu, needle: &str, t: Duration) -> Result<String, String> {
    q.expect(needle, t).map_err(|e| e.to_string())
}

/// One lifeboat download: seconds from Enter to the prompt.
fn ours(floppy: &Path, s: &Setup, w: Where, name: &str, want: (usize, u32)) -> Result<f64, String> {
    let m = machine(
        Machine::new(Medium::Floppy, floppy).medium_snapshot(true),
        s,
    );
    let mut q = Qemu::launch(&m).map_err(|e| e.to_string())?;
    expect(&mut q, "Use SPACE", T)?;
    q.send(b"\x1b").map_err(|e| e.to_string())?;
    expect(&mut q, "monitor> ", T)?;
    let (unit, server) = w.addresses();
    for line in [
        format!("address {unit}"),
        format!("server {server}"),
        format!("file {name}"),
    ] {
        q.send_line(&line).map_err(|e| e.to_string())?;
        expect(&mut q, "monitor> ", T)?;
    }
    // The receiver must be up before the clock starts (QEMU's e1000 takes no frame for 1 s
    // after its receiver is enabled at power-on): a ping that is answered says it is.
    q.send_line("ping").map_err(|e| e.to_string())?;
    let ping = expect(&mut q, "monitor> ", T)?;
    if !ping.contains("Success rate is 100 percent") {
        return Err(format!(
            "lifeboat: the server does not answer ping: {ping:?}"
        ));
    }
    q.send(b"tftp\r").map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let out = expect(&mut q, "monitor> ", T)?;
    let secs = t0.elapsed().as_secs_f64();
    let expected = format!("Received {} bytes in ", want.0);
    let crc = format!("CRC-32 {:#010x}", want.1);
    if !out.contains(&expected) || !out.contains(&crc) {
        return Err(format!("lifeboat: unexpected result: {out:?}"));
    }
    Ok(secs)
}

/// One U-Boot `tftpboot`: seconds from Enter to its prompt.
fn uboot(s: &Setup, w: Where, name: &str, len: usize, window: bool) -> Result<f64, String> {
    let mut m = machine(Machine::new(Medium::Floppy, "/dev/null"), s);
    m.boot = None;
    let m = m.arg("-bios").arg(UBOOT_ROM);
    let mut q = Qemu::launch(&m).map_err(|e| e.to_string())?;
    expect(&mut q, "autoboot", T)?;
    q.send(b"\r").map_err(|e| e.to_string())?;
    expect(&mut q, "=> ", T)?;
    let (unit, server) = w.addresses();
    let mut setup = vec![
        format!("setenv ipaddr {unit}"),
        format!("setenv serverip {server}"),
    ];
    if window {
        setup.push("setenv tftpwindowsize 8".into());
    }
    for line in setup {
        q.send_line(&line).map_err(|e| e.to_string())?;
        expect(&mut q, "=> ", T)?;
    }
    q.send(format!("tftpboot 0x1000000 {name}\r").as_bytes())
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let out = expect(&mut q, "=> ", T)?;
    let secs = t0.elapsed().as_secs_f64();
    if !out.contains(&format!("Bytes transferred = {len} ")) {
        return Err(format!("U-Boot: unexpected result: {out:?}"));
    }
    Ok(secs)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn cell(r: &Result<Vec<f64>, String>, len: usize) -> (String, Option<f64>) {
    match r {
        Ok(v) => {
            let m = median(v.clone());
            (
                format!("{m:7.2} s {:6.2} MiB/s", len as f64 / MIB as f64 / m),
                Some(m),
            )
        }
        Err(e) => (format!("failed: {e}"), None),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks; nothing to list
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-tftp");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let cfg = MediaConfig {
        boot_timeout_s: 30,
        ..MediaConfig::default()
    };
    let set = media::write_media(&dir.join("media"), &cfg).expect("writing media");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).expect("root");
    let mut files = Vec::new();
    for (i, &len) in SIZES.iter().enumerate() {
        let name = format!("bench-{}m.bin", len / MIB);
        let data = pattern(len, 100 + i as u64);
        std::fs::write(root.join(&name), &data).expect("file");
        files.push((name, len, crc32(&data)));
    }
    let mut places = vec![Where::Slirp];
    for server in [Server::TftpdHpa, Server::Atftpd] {
        match lab_unavailable(server) {
            None => places.push(Where::Lab(server)),
            Some(why) => println!("{server:?} rows skipped: {why}"),
        }
    }
    let uboot_ok = Path::new(UBOOT_ROM).exists();
    if !uboot_ok {
        println!("U-Boot rows skipped: {UBOOT_ROM} is missing (Debian package u-boot-qemu)");
    }
    println!("lifeboat tftp vs U-Boot 2023.01 tftpboot: q35, e1000, TCG; median of {RUNS}; seconds from Enter to prompt");
    println!("| server | file | lifeboat | U-Boot | U-Boot windowsize 8 | lifeboat / U-Boot |");
    println!("|---|---|---|---|---|---|");
    // LIFEBOAT_BENCH_SERVERS=slirp,tftpd-hpa,atftpd picks rows (all by default).
    let only = std::env::var("LIFEBOAT_BENCH_SERVERS").ok();
    for w in places {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|n| n == w.name()))
        {
            continue;
        }
        let mut lab = None;
        let setup = match w {
            Where::Slirp => Setup {
                backend: NetBackend::User {
                    tftp: Some(root.clone()),
                    bootfile: None,
                },
                netns: None,
            },
            Where::Lab(server) => match Lab::new(server, Impairment::default(), &root, 1) {
                Ok(l) => {
                    let s = Setup {
                        backend: l.backend(),
                        netns: Some(l.netns().to_owned()),
                    };
                    lab = Some(l);
                    s
                }
                Err(e) => {
                    println!("| {} | | lab failed: {e} | | | |", w.name());
                    continue;
                }
            },
        };
        for (name, len, crc) in &files {
            let ours: Result<Vec<f64>, String> = (0..RUNS)
                .map(|_| ours(&set.floppy, &setup, w, name, (*len, *crc)))
                .collect();
            let ub: Result<Vec<f64>, String> = if uboot_ok {
                (0..RUNS)
                    .map(|_| uboot(&setup, w, name, *len, false))
                    .collect()
            } else {
                Err("no U-Boot".into())
            };
            let ubw: Result<Vec<f64>, String> = if uboot_ok && w == Where::Lab(Server::Atftpd) {
                (0..RUNS)
                    .map(|_| uboot(&setup, w, name, *len, true))
                    .collect()
            } else {
                Err("n/a".into())
            };
            let (o, om) = cell(&ours, *len);
            let (u, um) = cell(&ub, *len);
            let (uw, _) = cell(&ubw, *len);
            let ratio = match (om, um) {
                (Some(o), Some(u)) => format!("{:.2}", o / u),
                _ => "-".into(),
            };
            let uw = if uw.starts_with("failed: n/a") {
                "-".into()
            } else {
                uw
            };
            println!(
                "| {} | {} MiB | {o} | {u} | {uw} | {ratio} |",
                w.name(),
                len / MIB
            );
        }
        drop(lab);
    }
}
