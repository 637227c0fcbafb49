//! TFTP against the servers people run (Debian's tftpd-hpa 5.2 and atftpd 0.8, which speaks
//! windowsize), through a lossy user-space bridge, since this kernel has no `tc netem`:
//!
//! ```text
//!   namespace lbsN:  QEMU -netdev socket,udp  <->  qemu/tools/lossy-bridge.py  <->  tap lbtN
//!                    (10.77.0.2, the unit)          loss / dup / reorder, seeded    10.77.0.1: server
//! ```
//!
//! QEMU, the bridge and the server all run inside one private namespace (its own loopback),
//! created and removed by the test. Each case downloads a file and checks the length and
//! CRC-32 the console prints against the file's. Root only, and each case needs only its own
//! server: otherwise skipped with the reason ([`skip_or_fail`]; a failure under
//! LIFEBOAT_REQUIRE_ALL=1). Each server's cases run on the e1000 and on the e1000e (82574L),
//! both on the pc board; atftpd's lossy cases are 256 KiB on the e1000e (1 MiB on the e1000:
//! at 10 % loss atftpd takes ~40 s a MiB, its retransmission timer being what is measured).

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use lifeboat_qemu::lab::{
    crc32, lab_unavailable, pattern, Impairment, Lab, Server, SERVER_IP, UNIT_IP,
};
use lifeboat_qemu::NicModel;

const WINDOW_S: u32 = 3;

fn root_with(name: &str, data: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tftp-servers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), data).unwrap();
    dir
}

/// Boots a unit with a `model` NIC in `lab`, downloads `name` and returns the console's
/// result line and seconds.
fn download(model: NicModel, lab: &Lab, name: &str, timeout: Duration) -> (String, f64) {
    let m = machine(Medium::Floppy, WINDOW_S)
        .nic(model, lab.backend())
        .netns(lab.netns());
    let mut q = launch(&m);
    expect_banner(&mut q);
    q.send(ESC).expect("ESC");
    expect(&mut q, HELP_HINT, REPLY);
    expect(&mut q, PROMPT, REPLY);
    assert_eq!(
        command1(&mut q, &format!("address {UNIT_IP}")),
        format!("address {UNIT_IP}")
    );
    assert_eq!(
        command1(&mut q, &format!("server {SERVER_IP}")),
        format!("server {SERVER_IP}")
    );
    assert_eq!(
        command1(&mut q, &format!("file {name}")),
        format!("file {name}")
    );
    q.send_line("tftp").expect("console");
    expect(&mut q, "tftp\r\n", REPLY);
    let t0 = Instant::now();
    let out = expect(&mut q, PROMPT, timeout);
    let secs = t0.elapsed().as_secs_f64();
    let line = lines(&out)
        .into_iter()
        .rfind(|l| l.starts_with("Received ") || l.starts_with("tftp: "))
        .unwrap_or_else(|| panic!("no result line in {out:?}"));
    (line, secs)
}

fn case(model: NicModel, server: Server, imp: Impairment, len: usize, seed: u64) {
    let name = format!("f-{server:?}-{model:?}-{seed}.bin");
    let data = pattern(len, seed);
    let root = root_with(&name, &data);
    let lab = Lab::new(server, imp, &root, seed).unwrap_or_else(|e| panic!("lab: {e}"));
    let (line, secs) = download(model, &lab, &name, Duration::from_secs(180));
    let want = format!("Received {len} bytes in ");
    assert!(line.starts_with(&want), "{server:?} {imp:?}: {line}");
    assert!(
        line.ends_with(&format!("CRC-32 {:#010x}", crc32(&data))),
        "{server:?} {imp:?}: {line}"
    );
    eprintln!("{model:?} {server:?} {imp:?}: {len} bytes in {secs:.2} s: {line}");
}

const MIB: usize = 1 << 20;

/// `server` clean (2 MiB), then (`lossy_len` bytes each) at 10 % loss, with 5 % duplication
/// and 10 % reordering, and all at once; the files' seeds from `seed` up.
fn clean_and_lossy(model: NicModel, server: Server, seed: u64, lossy_len: usize) {
    if let Some(why) = lab_unavailable(server) {
        return skip_or_fail(&test_name(), &why);
    }
    case(model, server, Impairment::default(), 2 * MIB, seed);
    let lossy = [
        Impairment {
            loss: 10,
            ..Default::default()
        },
        Impairment {
            dup: 5,
            reorder: 10,
            ..Default::default()
        },
        Impairment {
            loss: 10,
            dup: 5,
            reorder: 10,
            ..Default::default()
        },
    ];
    for (imp, seed) in lossy.into_iter().zip(seed + 1..) {
        case(model, server, imp, lossy_len, seed);
    }
}

on_nics!(
    |m| clean_and_lossy(m, Server::TftpdHpa, 1, MIB);
    tftpd_hpa_clean_and_lossy => E1000,
    tftpd_hpa_clean_and_lossy_on_e1000e => E1000e,
);

on_nics!(
    |m| clean_and_lossy(m, Server::Atftpd, 5, if m == NicModel::E1000 { MIB } else { MIB / 4 });
    atftpd_windowed_clean_and_lossy => E1000,
    atftpd_windowed_clean_and_lossy_on_e1000e => E1000e,
);
