//! Long-path benchmark (`cargo bench --bench wan`; root: the servers run in a lab namespace,
//! see `qemu::lab`): every frame is held 25 ms each way by the lab's bridge (RTT 50 ms),
//! QEMU q35, e1000, TCG. In one run:
//!
//! - lifeboat `http` and iPXE `imgfetch http://` (Debian `ipxe-qemu`'s pxe-e1000.rom), 16 MiB
//!   from nginx, on three paths: no bound (no loss), a 100 Mbit/s bottleneck behind a queue
//!   of 1,000 frames, and that bottleneck with 1 % loss each way; rounds interleaved, medians;
//! - lifeboat `tftp` from tftpd-hpa (lock-step) and from atftpd (windowsize 8), and U-Boot
//!   2023.01 `tftpboot` from tftpd-hpa: lock-step TFTP needs one round trip per block, so
//!   these rows fetch 2 MiB and the 16 MiB column is that time × 8 (said in the row).
//!
//! Seconds from the command's Enter to the prompt after the result; every lifeboat download's
//! length and CRC-32 is checked, U-Boot's and iPXE's length. One run per TFTP row (minutes each).
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lifeboat::media::{self, MediaConfig};
use lifeboat_qemu::lab::{
    crc32, lab_unavailable, pattern, Impairment, Lab, Server, SERVER_IP, UNIT_IP,
};
use lifeboat_qemu::{Machine, MachineType, Medium, NetBackend, NicModel, Qemu};

const UBOOT_ROM: &str = "/usr/lib/u-boot/qemu-x86_64/u-boot.rom";
const IPXE_ROM: &str = "/usr/lib/ipxe/qemu/pxe-e1000.rom";
const MIB: usize = 1 << 20;
const T: Duration = Duration::from_secs(900);
const PATH: Impairment = Impairment {
    loss: 0,
    dup: 0,
    reorder: 0,
    delay_ms: 25,
    rate_mbit: 0,
    queue: 0,
};
/// The same path through a bottleneck: 100 Mbit/s each way (Fast Ethernet, an appliance's
/// management port or a small site's uplink; also below what the Python bridge itself
/// forwards, so the modelled queue and not the bridge is what fills) with a tail-drop queue
/// of 1,000 frames in front of it (Linux's default txqueuelen; 120 ms at that rate). The
/// path holds 50 ms × 100 Mbit/s = 625 kB (~430 full frames) plus the queue.
const BOUNDED: Impairment = Impairment {
    rate_mbit: 100,
    queue: 1000,
    ..PATH
};
const BOUNDED_NAME: &str = "100 Mbit/s, queue 1,000";
/// The bounded path with 1 % of the frames lost each way.
const BOUNDED_LOSSY: Impairment = Impairment { loss: 1, ..BOUNDED };
const BOUNDED_LOSSY_NAME: &str = "100 Mbit/s, queue 1,000, 1 % loss";

fn expect(q: &mut Qemu, needle: &str, t: Duration) -> Result<String, String> {
    q.expect(needle, t).map_err(|e| e.to_string())
}

fn base(lab: &Lab) -> Machine {
    Machine::new(Medium::Floppy, "/dev/null")
        .machine_type(MachineType::Q35)
        .memory_mib(512)
        .netns(lab.netns().to_owned())
}

/// lifeboat: `cmd` (tftp or http URL) after address, server, file and a ping with an answer.
fn ours(
    floppy: &Path,
    lab: &Lab,
    cmd: &str,
    file: &str,
    want: (usize, u32),
) -> Result<f64, String> {
    let m = Machine::new(Medium::Floppy, floppy)
        .medium_snapshot(true)
        .machine_type(MachineType::Q35)
        .memory_mib(512)
        .nic(NicModel::E1000, lab.backend())
        .netns(lab.netns().to_owned());
    let mut q = Qemu::launch(&m).map_err(|e| e.to_string())?;
    expect(&mut q, "Use SPACE", T)?;
    q.send(b"\x1b").map_err(|e| e.to_string())?;
    expect(&mut q, "monitor> ", T)?;
    for line in [
        format!("address {UNIT_IP}"),
        format!("server {SERVER_IP}"),
        format!("file {file}"),
        "ping".into(),
    ] {
        q.send_line(&line).map_err(|e| e.to_string())?;
        let out = expect(&mut q, "monitor> ", T)?;
        // On the lossy path a lost echo is the path, not a fault: one answer is enough.
        if line == "ping" && (!out.contains("Success rate") || out.contains("rate is 0 percent")) {
            return Err(format!("no answer to ping: {out:?}"));
        }
    }
    q.send(format!("{cmd}\r").as_bytes())
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let out = expect(&mut q, "monitor> ", T)?;
    let secs = t0.elapsed().as_secs_f64();
    let crc = format!("CRC-32 {:#010x}", want.1);
    if !out.contains(&format!("Received {} bytes in ", want.0)) || !out.contains(&crc) {
        return Err(format!("unexpected result: {out:?}"));
    }
    Ok(secs)
}

fn uboot(lab: &Lab, name: &str, len: usize) -> Result<f64, String> {
    let mut m = base(lab).nic(NicModel::E1000, lab.backend());
    m.boot = None;
    let m = m.arg("-bios").arg(UBOOT_ROM);
    let mut q = Qemu::launch(&m).map_err(|e| e.to_string())?;
    expect(&mut q, "autoboot", T)?;
    q.send(b"\r").map_err(|e| e.to_string())?;
    expect(&mut q, "=> ", T)?;
    for line in [
        format!("setenv ipaddr {UNIT_IP}"),
        format!("setenv serverip {SERVER_IP}"),
    ] {
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

/// iPXE from the NIC's option ROM (SeaBIOS `-boot n`), on COM1 through fw_cfg
/// `etc/sercon-port`; Ctrl-B for its shell, a static address, `imgfetch`, `imgstat`.
fn ipxe(lab: &Lab, dir: &Path, name: &str, len: usize) -> Result<f64, String> {
    let sercon = dir.join("sercon-port");
    std::fs::write(&sercon, 0x3f8u16.to_le_bytes()).map_err(|e| e.to_string())?;
    let (local, remote) = match lab.backend() {
        NetBackend::Udp { local, remote } => (local, remote),
        _ => return Err("lab backend is not UDP".into()),
    };
    let mut m = base(lab);
    m.boot = None;
    let m = m
        .arg("-netdev")
        .arg(format!("socket,id=ipxe,udp={remote},localaddr={local}"))
        .arg("-device")
        .arg(format!("e1000,netdev=ipxe,romfile={IPXE_ROM}"))
        .arg("-boot")
        .arg("n")
        .arg("-fw_cfg")
        .arg(format!("name=etc/sercon-port,file={}", sercon.display()));
    let mut q = Qemu::launch(&m).map_err(|e| e.to_string())?;
    expect(&mut q, "Ctrl-B", Duration::from_secs(60))
        .map_err(|e| format!("iPXE never offered Ctrl-B on COM1: {e}"))?;
    q.send(b"\x02").map_err(|e| e.to_string())?;
    expect(&mut q, "iPXE> ", T)?;
    // iPXE's serial console drops bytes typed faster than it echoes them: one byte at a
    // time, each after the echo of the one before.
    let type_line = |q: &mut Qemu, line: &str| -> Result<(), String> {
        for c in line.chars() {
            q.send(c.to_string().as_bytes())
                .map_err(|e| e.to_string())?;
            expect(q, &c.to_string(), T)?;
        }
        Ok(())
    };
    for line in [
        format!("set net0/ip {UNIT_IP}"),
        "set net0/netmask 255.255.255.0".to_string(),
        "ifopen net0".to_string(),
    ] {
        type_line(&mut q, &line)?;
        q.send(b"\r").map_err(|e| e.to_string())?;
        expect(&mut q, "iPXE> ", T)?;
    }
    type_line(&mut q, &format!("imgfetch http://{SERVER_IP}/{name}"))?;
    q.send(b"\r").map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let out = expect(&mut q, "iPXE> ", T)?;
    let secs = t0.elapsed().as_secs_f64();
    type_line(&mut q, "imgstat")?;
    q.send(b"\r").map_err(|e| e.to_string())?;
    let stat = expect(&mut q, "iPXE> ", T)?;
    if !stat.contains(&format!("[{}]", len)) && !stat.contains(&format!("{} bytes", len)) {
        return Err(format!("iPXE: unexpected result: {out:?} {stat:?}"));
    }
    Ok(secs)
}

fn row(what: &str, server: &str, r: Result<f64, String>, len: usize) {
    match r {
        Ok(s) => {
            let scale = (16 * MIB) as f64 / len as f64;
            let note = if len == 16 * MIB {
                String::new()
            } else {
                format!(" ({} MiB × {scale:.0})", len / MIB)
            };
            println!(
                "| {what} | {server} | {:8.2} s{note} | {:6.3} MiB/s |",
                s * scale,
                len as f64 / MIB as f64 / s
            );
        }
        Err(e) => println!("| {what} | {server} | failed: {e} | |"),
    }
}

/// The 16 MiB HTTP rows on one path: every client once per round, rounds interleaved (so a
/// busy moment of the machine falls on all of them), then each client's median.
fn http_rows(
    path: &str,
    lab: &Lab,
    dir: &Path,
    clients: &[(&str, Option<&Path>)],
    runs: usize,
    want: (usize, u32),
) {
    let url = format!("http http://{SERVER_IP}/big.bin");
    let mut times: Vec<Vec<Result<f64, String>>> = vec![Vec::new(); clients.len()];
    for _ in 0..runs {
        for (i, (_, floppy)) in clients.iter().enumerate() {
            let r = match floppy {
                Some(f) => ours(f, lab, &url, "big.bin", want),
                None => ipxe(lab, dir, "big.bin", want.0),
            };
            times[i].push(r);
        }
    }
    let medians: Vec<Option<f64>> = times
        .iter()
        .map(|t| {
            let mut ok: Vec<f64> = t.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
            ok.sort_by(f64::total_cmp);
            (ok.len() == t.len()).then(|| ok[ok.len() / 2])
        })
        .collect();
    let ipxe_median = clients
        .iter()
        .position(|c| c.1.is_none())
        .and_then(|i| medians[i]);
    for (((what, _), t), m) in clients.iter().zip(&times).zip(&medians) {
        let each: Vec<String> = t
            .iter()
            .map(|r| match r {
                Ok(s) => format!("{s:.2}"),
                Err(e) => format!("failed: {e}"),
            })
            .collect();
        let (median, rate, ratio) = match (m, ipxe_median) {
            (Some(m), i) => (
                format!("{m:.2} s"),
                format!("{:.2} MiB/s", want.0 as f64 / MIB as f64 / m),
                i.map_or(String::new(), |i| format!("{:.2}", m / i)),
            ),
            (None, _) => ("failed".into(), String::new(), String::new()),
        };
        println!(
            "| {path} | {what} | {median} | {} | {rate} | {ratio} |",
            each.join(", ")
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-wan");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let cfg = MediaConfig {
        boot_timeout_s: 30,
        ..MediaConfig::default()
    };
    let set = media::write_media(&dir.join("media"), &cfg).expect("writing media");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).expect("root");
    let big = pattern(16 * MIB, 500);
    let small = pattern(2 * MIB, 501);
    std::fs::write(root.join("big.bin"), &big).expect("file");
    std::fs::write(root.join("small.bin"), &small).expect("file");
    let (bigw, smallw) = ((big.len(), crc32(&big)), (small.len(), crc32(&small)));
    // LIFEBOAT_WAN_ROWS=http,ipxe,tftp,atftp,uboot picks rows (all by default);
    // LIFEBOAT_WAN_PATHS=long,bounded,lossy picks the HTTP paths (all by default);
    // LIFEBOAT_WAN_RUNS=N rounds of the HTTP rows (3 by default);
    // LIFEBOAT_WAN_BASELINE=FLOPPY adds a row for another lifeboat build (before/after).
    let only = std::env::var("LIFEBOAT_WAN_ROWS").ok();
    let want = |r: &str| only.as_deref().is_none_or(|o| o.split(',').any(|n| n == r));
    let paths = std::env::var("LIFEBOAT_WAN_PATHS").ok();
    let want_path = |r: &str| {
        paths
            .as_deref()
            .is_none_or(|o| o.split(',').any(|n| n == r))
    };
    let runs = std::env::var("LIFEBOAT_WAN_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    let baseline = std::env::var_os("LIFEBOAT_WAN_BASELINE").map(PathBuf::from);

    println!("16 MiB over HTTP from nginx, RTT 50 ms (25 ms each way): q35, e1000, TCG; seconds from Enter to prompt, median of {runs} interleaved rounds");
    println!("| path | client | median | runs | rate | / iPXE |");
    println!("|---|---|---|---|---|---|");
    if let Some(why) = lab_unavailable(Server::Nginx) {
        println!("| | nginx | skipped: {why} | | | |");
    } else {
        let mut clients: Vec<(&str, Option<&Path>)> = Vec::new();
        if want("http") {
            clients.push(("lifeboat http", Some(&set.floppy)));
            if let Some(b) = &baseline {
                clients.push(("lifeboat http (baseline)", Some(b)));
            }
        }
        if want("ipxe") {
            clients.push(("iPXE imgfetch http", None));
        }
        for (key, path, imp, seed) in [
            ("long", "no bound", PATH, 1),
            ("bounded", BOUNDED_NAME, BOUNDED, 2),
            ("lossy", BOUNDED_LOSSY_NAME, BOUNDED_LOSSY, 3),
        ] {
            if !want_path(key) || clients.is_empty() {
                continue;
            }
            match Lab::new(Server::Nginx, imp, &root, seed) {
                Ok(lab) => http_rows(path, &lab, &dir, &clients, runs, bigw),
                Err(e) => println!("| {path} | | lab failed: {e} | | | |"),
            }
        }
    }

    if !(want("tftp") || want("uboot") || want("atftp")) {
        return;
    }
    println!();
    println!("Lock-step and windowed TFTP across the unbounded path (one run per row)");
    println!("| client | server | 16 MiB | rate |");
    println!("|---|---|---|---|");
    for server in [Server::TftpdHpa, Server::Atftpd] {
        if let Some(why) = lab_unavailable(server) {
            println!("| | {server:?} | skipped: {why} | |");
            continue;
        }
        let lab = match Lab::new(server, PATH, &root, 1) {
            Ok(l) => l,
            Err(e) => {
                println!("| | {server:?} | lab failed: {e} | |");
                continue;
            }
        };
        match server {
            Server::TftpdHpa => {
                if want("tftp") {
                    row(
                        "lifeboat tftp",
                        "tftpd-hpa",
                        ours(&set.floppy, &lab, "tftp", "small.bin", smallw),
                        small.len(),
                    );
                }
                if want("uboot") {
                    row(
                        "U-Boot tftpboot",
                        "tftpd-hpa",
                        uboot(&lab, "small.bin", small.len()),
                        small.len(),
                    );
                }
            }
            Server::Atftpd if want("atftp") => {
                row(
                    "lifeboat tftp (windowsize 8)",
                    "atftpd",
                    ours(&set.floppy, &lab, "tftp", "small.bin", smallw),
                    small.len(),
                );
            }
            _ => {}
        }
    }
}
