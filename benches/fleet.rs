//! Fleet benchmark (`cargo bench --bench fleet`; root: `qemu::fleet` runs the server, a tap
//! and a user-space switch in a namespace): N = 1, 4, 8 units (pc, e1000, TCG, all on this
//! machine's cores) recover the same image at once from
//!
//! - tftpd-hpa: `tftp`, unicast (one lock-step transfer per unit);
//! - atftpd: `tftp`, RFC 2090 multicast (one stream to the group, each unit made master in
//!   turn to fill what it missed);
//! - nginx: `http http://SERVER/FILE`, one TCP connection per unit.
//!
//! Per row: the seconds each unit's own `Received N bytes in S s` line reports (median and
//! max over the units), the wall time from the first unit's Enter to the last unit's prompt,
//! and the server's egress (its tap's tx_bytes) ÷ the image size. Every unit's length and
//! CRC-32 is checked; a unit that fails makes the row say so.
//! `LIFEBOAT_FLEET_MIB` (default 8) sets the image size, `LIFEBOAT_FLEET_UNITS` (default
//! `1,4,8`) the fleet sizes, `LIFEBOAT_FLEET_SERVERS` (default `tftpd-hpa,atftpd,nginx`) the
//! rows.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lifeboat::media::{self, MediaConfig};
use lifeboat_qemu::fleet::{unit_ip, unit_mac, Fleet};
use lifeboat_qemu::lab::{crc32, lab_unavailable, pattern, Server, SERVER_IP};
use lifeboat_qemu::{Machine, Medium, NicModel, Qemu};

const MIB: usize = 1 << 20;
const T: Duration = Duration::from_secs(900);
const PROMPT: &str = "monitor> ";

struct Row {
    secs: Vec<f64>,
    wall: f64,
    copies: f64,
}

fn expect(q: &mut Qemu, needle: &str, t: Duration) -> Result<String, String> {
    q.expect(needle, t).map_err(|e| e.to_string())
}

/// A unit at its prompt with address, server and file set.
fn unit(floppy: &Path, fleet: &Fleet, i: usize, file: &str) -> Result<Qemu, String> {
    let mut m = Machine::new(Medium::Floppy, floppy)
        .medium_snapshot(true)
        .memory_mib(256)
        .nic(NicModel::E1000, fleet.backend(i))
        .netns(fleet.netns().to_owned());
    m.nics[0].mac = Some(unit_mac(i));
    let mut q = Qemu::launch_over_limit(&m).map_err(|e| format!("unit {i}: {e}"))?;
    expect(&mut q, "Use SPACE", T)?;
    q.send(b"\x1b").map_err(|e| e.to_string())?;
    expect(&mut q, PROMPT, T)?;
    for line in [
        format!("address {}", unit_ip(i)),
        format!("server {SERVER_IP}"),
        format!("file {file}"),
    ] {
        q.send_line(&line).map_err(|e| e.to_string())?;
        expect(&mut q, PROMPT, T)?;
    }
    // Past QEMU's e1000 receive hold-off (a second after power-on): the units start together.
    for _ in 0..5 {
        q.send_line(&format!("ping {SERVER_IP}"))
            .map_err(|e| e.to_string())?;
        if expect(&mut q, PROMPT, T)?.contains("Success rate is 100 percent") {
            return Ok(q);
        }
    }
    Err(format!("unit {i}: the server never answered ping"))
}

/// The seconds in `Received LEN bytes in S s (...), CRC-32 0x...` when length and CRC match.
fn received(out: &str, want: (usize, u32)) -> Option<f64> {
    let head = format!("Received {} bytes in ", want.0);
    let crc = format!("CRC-32 {:#010x}", want.1);
    let line = out
        .lines()
        .find(|l| l.contains(&head) && l.contains(&crc))?;
    let rest = &line[line.find(&head)? + head.len()..];
    rest.split(' ').next()?.parse().ok()
}

fn run(
    floppy: &Path,
    root: &Path,
    server: Server,
    n: usize,
    cmd: &str,
    want: (usize, u32),
) -> Result<Row, String> {
    let fleet = Fleet::new(server, n, root)?;
    let mut units = (0..n)
        .map(|i| unit(floppy, &fleet, i, "fleet.bin"))
        .collect::<Result<Vec<_>, _>>()?;
    let before = fleet.server_tx_bytes()?;
    let t0 = Instant::now();
    for q in &mut units {
        q.send(format!("{cmd}\r").as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let mut secs = Vec::new();
    for (i, q) in units.iter_mut().enumerate() {
        let out = expect(q, PROMPT, T)?;
        match received(&out, want) {
            Some(s) => secs.push(s),
            None => return Err(format!("unit {i}: {:?}", out.trim_end())),
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let copies = (fleet.server_tx_bytes()? - before) as f64 / want.0 as f64;
    Ok(Row { secs, wall, copies })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mib: usize = std::env::var("LIFEBOAT_FLEET_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let sizes: Vec<usize> = std::env::var("LIFEBOAT_FLEET_UNITS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 4, 8]);
    let only = std::env::var("LIFEBOAT_FLEET_SERVERS").ok();
    let want_row = |r: &str| only.as_deref().is_none_or(|o| o.split(',').any(|n| n == r));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-fleet");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let cfg = MediaConfig {
        boot_timeout_s: 30,
        ..MediaConfig::default()
    };
    let set = media::write_media(&dir.join("media"), &cfg).expect("writing media");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).expect("root");
    let image = pattern(mib * MIB, 900);
    std::fs::write(root.join("fleet.bin"), &image).expect("file");
    let want = (image.len(), crc32(&image));
    println!(
        "{mib} MiB to N units at once on one segment: pc, e1000, TCG, {} host cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| server | mode | N | s per unit (median) | s per unit (max) | wall s | egress ÷ image |"
    );
    println!("|---|---|---|---|---|---|---|");
    let rows = [
        (
            "tftpd-hpa",
            Server::TftpdHpa,
            "unicast tftp",
            "tftp".to_owned(),
        ),
        (
            "atftpd",
            Server::Atftpd,
            "multicast tftp",
            "tftp".to_owned(),
        ),
        (
            "nginx",
            Server::Nginx,
            "http",
            format!("http http://{SERVER_IP}/fleet.bin"),
        ),
    ];
    for (name, server, mode, cmd) in rows {
        if !want_row(name) {
            continue;
        }
        if let Some(why) = lab_unavailable(server) {
            println!("| {name} | {mode} | | skipped: {why} | | | |");
            continue;
        }
        for &n in &sizes {
            match run(&set.floppy, &root, server, n, &cmd, want) {
                Ok(mut r) => {
                    let max = r.secs.iter().copied().fold(0.0, f64::max);
                    println!(
                        "| {name} | {mode} | {n} | {:.2} | {max:.2} | {:.1} | {:.2} |",
                        median(&mut r.secs),
                        r.wall,
                        r.copies
                    );
                }
                Err(e) => println!("| {name} | {mode} | {n} | failed: {e} | | | |"),
            }
        }
    }
}
