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
//! CRC-32 the console prints against the file's. Root only: skipped with a printed reason
//! otherwise (LIFEBOAT_REQUIRE_NETNS=1 makes that a failure).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use lifeboat_qemu::{NetBackend, NicModel};

const SERVER_IP: &str = "10.77.0.1";
const UNIT_IP: &str = "10.77.0.2";
const WINDOW_S: u32 = 3;
/// tftpd-hpa's binary (the Debian package conflicts with atftpd's; see .ci/run).
pub const TFTPD_HPA: &str = "/usr/local/sbin/in.tftpd";
pub const ATFTPD: &str = "/usr/sbin/atftpd";
pub const BRIDGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/qemu/tools/lossy-bridge.py");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    TftpdHpa,
    Atftpd,
}

/// Loss, duplication and reordering in percent per frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct Impairment {
    pub loss: u32,
    pub dup: u32,
    pub reorder: u32,
}

/// A namespace with a tap, a server on it and the bridge; QEMU joins with [`Lab::machine`].
pub struct Lab {
    ns: String,
    children: Vec<Child>,
    qemu_port: u16,
    pub root: PathBuf,
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Lab {
    pub fn new(server: Server, imp: Impairment, root: &Path, seed: u64) -> Result<Lab, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}{}", std::process::id() % 100_000, n % 100);
        let ns = format!("lbs{tag}");
        let tap = format!("lbt{tag}");
        let _ = ip(&["netns", "del", &ns]);
        ip(&["netns", "add", &ns])?;
        let mut lab = Lab {
            ns: ns.clone(),
            children: Vec::new(),
            qemu_port: 40000,
            root: root.to_path_buf(),
        };
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        ip(&["-n", &ns, "tuntap", "add", "dev", &tap, "mode", "tap"])?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{SERVER_IP}/24"),
            "dev",
            &tap,
        ])?;
        ip(&["-n", &ns, "link", "set", &tap, "up"])?;
        let exec = |prog: &str| {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &ns, prog]);
            c.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            c
        };
        // The bridge first: it opens the tap (which has no carrier until someone does).
        let mut b = exec("python3");
        b.arg(BRIDGE)
            .args([&tap, "40001", "40000"])
            .args(["--loss", &imp.loss.to_string()])
            .args(["--dup", &imp.dup.to_string()])
            .args(["--reorder", &imp.reorder.to_string()])
            .args(["--seed", &seed.to_string()]);
        lab.children
            .push(b.spawn().map_err(|e| format!("bridge: {e}"))?);
        let root_s = root.to_string_lossy().into_owned();
        let mut s = match server {
            Server::TftpdHpa => {
                let mut c = exec(TFTPD_HPA);
                c.args(["-L", "-s", &root_s, "-a", &format!("{SERVER_IP}:69")]);
                c
            }
            Server::Atftpd => {
                let mut c = exec(ATFTPD);
                c.args([
                    "--daemon",
                    "--no-fork",
                    "--port",
                    "69",
                    "--bind-address",
                    SERVER_IP,
                ])
                .args(["--user", "root.root", "--logfile", "/dev/null", &root_s]);
                c
            }
        };
        lab.children
            .push(s.spawn().map_err(|e| format!("{server:?}: {e}"))?);
        std::thread::sleep(Duration::from_millis(300));
        for c in &mut lab.children {
            if let Ok(Some(status)) = c.try_wait() {
                return Err(format!("a lab process exited at once: {status}"));
            }
        }
        Ok(lab)
    }

    /// A floppy-booted unit whose e1000 is wired to the bridge, inside the namespace.
    pub fn machine(&self) -> Machine {
        let local: SocketAddr = format!("127.0.0.1:{}", self.qemu_port).parse().unwrap();
        let remote: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        machine(Medium::Floppy, WINDOW_S)
            .nic(NicModel::E1000, NetBackend::Udp { local, remote })
            .netns(self.ns.clone())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = ip(&["netns", "del", &self.ns]);
    }
}

/// Why these tests cannot run here (besides root): a missing server or python3.
pub fn lab_unavailable() -> Option<String> {
    if let Some(why) = netns_unavailable() {
        return Some(why);
    }
    let hpa = Command::new(TFTPD_HPA).arg("-V").output();
    let is_hpa = hpa.is_ok_and(|o| {
        String::from_utf8_lossy(&[o.stdout, o.stderr].concat()).contains("tftp-hpa")
    });
    if !is_hpa {
        return Some(format!(
            "{TFTPD_HPA} is not tftpd-hpa (.ci/run extracts it from the tftpd-hpa .deb)"
        ));
    }
    if !Path::new(ATFTPD).exists() {
        return Some(format!("{ATFTPD} is missing (Debian package atftpd)"));
    }
    if run(Command::new("python3").arg("-c").arg("import fcntl")).is_err() {
        return Some("python3 is missing".into());
    }
    None
}

fn skip(test: &str) -> bool {
    if let Some(why) = lab_unavailable() {
        if std::env::var(REQUIRE_NETNS_ENV).is_ok_and(|v| v == "1") {
            panic!("{test}: {why}");
        }
        eprintln!("SKIPPED {test}: {why}");
        return true;
    }
    false
}

fn contents(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn root_with(name: &str, data: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tftp-servers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), data).unwrap();
    dir
}

/// Boots a unit in `lab`, downloads `name` and returns the console's result line and seconds.
fn download(lab: &Lab, name: &str, timeout: Duration) -> (String, f64) {
    let mut q = launch(&lab.machine());
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

fn case(server: Server, imp: Impairment, len: usize, seed: u64) {
    let name = format!("f-{server:?}-{seed}.bin");
    let data = contents(len, seed);
    let root = root_with(&name, &data);
    let lab = Lab::new(server, imp, &root, seed).unwrap_or_else(|e| panic!("lab: {e}"));
    let (line, secs) = download(&lab, &name, Duration::from_secs(180));
    let want = format!("Received {len} bytes in ");
    assert!(line.starts_with(&want), "{server:?} {imp:?}: {line}");
    assert!(
        line.ends_with(&format!("CRC-32 {:#010x}", crc32(&data))),
        "{server:?} {imp:?}: {line}"
    );
    eprintln!("{server:?} {imp:?}: {len} bytes in {secs:.2} s: {line}");
}

const MIB: usize = 1 << 20;

#[test]
fn tftpd_hpa_clean_and_lossy() {
    if skip("tftpd_hpa_clean_and_lossy") {
        return;
    }
    case(Server::TftpdHpa, Impairment::default(), 2 * MIB, 1);
    case(
        Server::TftpdHpa,
        Impairment {
            loss: 10,
            ..Default::default()
        },
        MIB,
        2,
    );
    case(
        Server::TftpdHpa,
        Impairment {
            dup: 5,
            reorder: 10,
            ..Default::default()
        },
        MIB,
        3,
    );
    case(
        Server::TftpdHpa,
        Impairment {
            loss: 10,
            dup: 5,
            reorder: 10,
        },
        MIB,
        4,
    );
}

#[test]
fn atftpd_windowed_clean_and_lossy() {
    if skip("atftpd_windowed_clean_and_lossy") {
        return;
    }
    case(Server::Atftpd, Impairment::default(), 2 * MIB, 5);
    case(
        Server::Atftpd,
        Impairment {
            loss: 10,
            ..Default::default()
        },
        MIB,
        6,
    );
    case(
        Server::Atftpd,
        Impairment {
            dup: 5,
            reorder: 10,
            ..Default::default()
        },
        MIB,
        7,
    );
    case(
        Server::Atftpd,
        Impairment {
            loss: 10,
            dup: 5,
            reorder: 10,
        },
        MIB,
        8,
    );
}
