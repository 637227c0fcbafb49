//! A TFTP lab for tests and benchmarks: a private network namespace holding a tap with a
//! real TFTP server on it (Debian's tftpd-hpa or atftpd) and a lossy user-space bridge
//! (`qemu/tools/lossy-bridge.py`) between the tap and QEMU's `-netdev socket,udp`, since this
//! kernel has no `tc netem`. QEMU joins the namespace with [`Machine::netns`](crate::Machine::netns).
//!
//! ```text
//!   namespace lbsN:  QEMU -netdev socket,udp  <->  lossy-bridge.py  <->  tap lbtN
//!                    (10.77.0.2, the unit)         loss/dup/reorder      10.77.0.1: server
//! ```
//! Root only ([`lab_unavailable`] says why not, per server). Everything is removed on drop.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::NetBackend;

pub const SERVER_IP: &str = "10.77.0.1";
pub const UNIT_IP: &str = "10.77.0.2";
/// tftpd-hpa's binary (the Debian package conflicts with atftpd's; see .ci/run).
pub const TFTPD_HPA: &str = "/usr/local/sbin/in.tftpd";
pub const ATFTPD: &str = "/usr/sbin/atftpd";
pub const BRIDGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/lossy-bridge.py");
pub const NGINX: &str = "/usr/sbin/nginx";
/// The misbehaving HTTP server (`/cut/`, `/chunked/`, `/redirect/`, `/status/`, `/huge`).
pub const HTTP_FAULTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/http-faults.py");
/// Where [`Server::Nginx`] labs also run [`HTTP_FAULTS`].
pub const FAULTS_PORT: u16 = 8080;

/// Sends a TFTP read request for a missing file to `argv[1]:69` until an ERROR packet comes
/// back or `argv[2]` seconds pass (exit status 1).
pub(crate) const PROBE: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.1)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        s.sendto(b"\x00\x01lifeboat-probe-no-such-file\x00octet\x00", (sys.argv[1], 69))
        d, _ = s.recvfrom(1024)
        if d[:2] == b"\x00\x05":
            sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
"#;

/// Connects to `argv[1]` ports `argv[3..]` (80 and 8080 if none) until each answers a request
/// with a status line, or `argv[2]` seconds pass (exit status 1).
pub(crate) const HTTP_PROBE: &str = r#"
import socket, sys, time
end = time.monotonic() + float(sys.argv[2])
left = {int(p) for p in sys.argv[3:]} or {80, 8080}
while left and time.monotonic() < end:
    for port in list(left):
        try:
            c = socket.create_connection((sys.argv[1], port), timeout=0.2)
            c.sendall(b"GET /lifeboat-probe HTTP/1.0\r\n\r\n")
            if c.recv(16).startswith(b"HTTP/1."):
                left.discard(port)
            c.close()
        except OSError:
            time.sleep(0.02)
sys.exit(1 if left else 0)
"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    TftpdHpa,
    Atftpd,
    /// nginx on port 80 serving the lab's root, and [`HTTP_FAULTS`] on [`FAULTS_PORT`].
    Nginx,
}

/// Loss, duplication and reordering in percent per frame; a one-way delay in each direction
/// (RTT = 2 × `delay_ms`) and a rate limit in Mbit/s per direction (0: none), in front of
/// which at most `queue` frames wait (0: no bound; a frame that finds it full is dropped).
#[derive(Clone, Copy, Debug, Default)]
pub struct Impairment {
    pub loss: u32,
    pub dup: u32,
    pub reorder: u32,
    pub delay_ms: u32,
    pub rate_mbit: u32,
    pub queue: u32,
}

/// A namespace with a tap, a server on it and the bridge; QEMU joins with [`Lab::machine`].
pub struct Lab {
    ns: String,
    children: Vec<Child>,
    qemu_port: u16,
    pub root: PathBuf,
    conf_dir: Option<PathBuf>,
}

/// `prog` to run inside the namespace `ns`, its output discarded.
pub(crate) fn in_netns(ns: &str, prog: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, prog]);
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// The TFTP daemon `server` (tftpd-hpa or atftpd) serving `root` on SERVER_IP:69 inside `ns`;
/// atftpd also gets `atftpd_extra` (the fleet's multicast options).
pub(crate) fn tftp_server(ns: &str, server: Server, root: &str, atftpd_extra: &[&str]) -> Command {
    if server == Server::TftpdHpa {
        let mut c = in_netns(ns, TFTPD_HPA);
        c.args(["-L", "-s", root, "-a", &format!("{SERVER_IP}:69")]);
        return c;
    }
    let mut c = in_netns(ns, ATFTPD);
    c.args(["--daemon", "--no-fork", "--port", "69"])
        .args(["--bind-address", SERVER_IP])
        .args(atftpd_extra)
        .args(["--user", "root.root", "--logfile", "/dev/null", root]);
    c
}

/// Runs `ip ARGS`; the error carries the command and its stderr.
pub fn ip(args: &[&str]) -> Result<(), String> {
    run(Command::new("ip").args(args))
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
            conf_dir: None,
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
        let exec = |prog: &str| in_netns(&ns, prog);
        // The bridge first: it opens the tap (which has no carrier until someone does).
        let mut b = exec("python3");
        b.arg(BRIDGE)
            .args([&tap, "40001", "40000"])
            .args(["--loss", &imp.loss.to_string()])
            .args(["--dup", &imp.dup.to_string()])
            .args(["--reorder", &imp.reorder.to_string()])
            .args(["--delay", &imp.delay_ms.to_string()])
            .args(["--rate", &imp.rate_mbit.to_string()])
            .args(["--queue", &imp.queue.to_string()])
            .args(["--seed", &seed.to_string()]);
        lab.children
            .push(b.spawn().map_err(|e| format!("bridge: {e}"))?);
        let root_s = root.to_string_lossy().into_owned();
        let mut s = match server {
            Server::TftpdHpa | Server::Atftpd => tftp_server(&ns, server, &root_s, &[]),
            Server::Nginx => {
                let dir = std::env::temp_dir().join(format!("lifeboat-nginx-{tag}"));
                let conf = nginx_conf(&dir, root)?;
                lab.conf_dir = Some(dir);
                let mut f = exec("python3");
                f.args([HTTP_FAULTS, &root_s, SERVER_IP, &FAULTS_PORT.to_string()]);
                lab.children
                    .push(f.spawn().map_err(|e| format!("http-faults.py: {e}"))?);
                let mut c = exec(NGINX);
                c.arg("-c").arg(conf);
                c
            }
        };
        lab.children
            .push(s.spawn().map_err(|e| format!("{server:?}: {e}"))?);
        lab.wait_ready(&tap, server, Duration::from_secs(10))?;
        Ok(lab)
    }

    /// Waits until the bridge holds the tap (it has carrier) and the server answers on its
    /// port: a read request for a file that does not exist gets an ERROR packet back.
    fn wait_ready(&mut self, tap: &str, server: Server, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let exited = |lab: &mut Lab| -> Result<(), String> {
            for c in &mut lab.children {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(format!("a lab process exited at once: {status}"));
                }
            }
            Ok(())
        };
        loop {
            exited(self)?;
            let link = Command::new("ip")
                .args(["-n", &self.ns, "-o", "link", "show", tap])
                .output()
                .map_err(|e| format!("ip link show: {e}"))?;
            if String::from_utf8_lossy(&link.stdout).contains("LOWER_UP") {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!("the bridge did not open {tap} within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let script = if server == Server::Nginx {
            HTTP_PROBE
        } else {
            PROBE
        };
        let probe = Command::new("ip")
            .args([
                "netns", "exec", &self.ns, "python3", "-c", script, SERVER_IP,
            ])
            .arg(format!("{:.3}", left.as_secs_f64()))
            .output()
            .map_err(|e| format!("probing {server:?}: {e}"))?;
        exited(self)?;
        if probe.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{server:?} did not answer on {SERVER_IP} within {timeout:?}: {}",
                String::from_utf8_lossy(&probe.stderr).trim()
            ))
        }
    }

    /// The netdev that wires a NIC to the bridge (QEMU must run in [`Lab::netns`]).
    pub fn backend(&self) -> NetBackend {
        NetBackend::Udp {
            local: SocketAddr::from(([127, 0, 0, 1], self.qemu_port)),
            remote: SocketAddr::from(([127, 0, 0, 1], 40001)),
        }
    }

    /// The namespace's name.
    pub fn netns(&self) -> &str {
        &self.ns
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = ip(&["netns", "del", &self.ns]);
        if let Some(d) = &self.conf_dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Writes nginx's configuration into `dir` (created afresh; the caller removes it): `root` on
/// SERVER_IP:80, in the foreground, as root, no logs kept; `/status500` answers 500.
pub(crate) fn nginx_conf(dir: &Path, root: &Path) -> Result<PathBuf, String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let d = dir.display();
    let conf = format!(
        "user root;\ndaemon off;\nmaster_process off;\nworker_processes 1;\n\
         pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         types {{ application/octet-stream bin; }}\n  sendfile on;\n\
         server {{\n    listen {SERVER_IP}:80;\n    root {};\n\
         location = /status500 {{ return 500; }}\n  }}\n}}\n",
        root.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Why network-namespace tests cannot run here, if they cannot: they need root (taps and
/// namespaces need CAP_NET_ADMIN), `ip` and `/dev/net/tun`. The reason names what to install.
pub fn netns_unavailable() -> Option<String> {
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_owned))
        });
    if euid.as_deref() != Some("0") {
        return Some(format!(
            "not root (effective uid {}): network namespaces and taps need CAP_NET_ADMIN; run as root",
            euid.as_deref().unwrap_or("unknown")
        ));
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("`ip` is missing: install iproute2".into());
    }
    if !Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing: load the tun module".into());
    }
    None
}

/// Why a lab with `server` cannot run here, if it cannot: [`netns_unavailable`], python3 (the
/// bridge) or the server itself. Each server is checked on its own.
pub fn lab_unavailable(server: Server) -> Option<String> {
    if let Some(why) = netns_unavailable() {
        return Some(why);
    }
    if run(Command::new("python3").arg("-c").arg("import fcntl")).is_err() {
        return Some("python3 is missing: install python3".into());
    }
    match server {
        Server::TftpdHpa => {
            let hpa = Command::new(TFTPD_HPA).arg("-V").output();
            let is_hpa = hpa.is_ok_and(|o| {
                String::from_utf8_lossy(&[o.stdout, o.stderr].concat()).contains("tftp-hpa")
            });
            if !is_hpa {
                return Some(format!(
                    "{TFTPD_HPA} is not tftpd-hpa: install tftpd-hpa's in.tftpd there \
                     (.ci/run extracts it from the tftpd-hpa .deb, which conflicts with atftpd)"
                ));
            }
        }
        Server::Atftpd => {
            if !Path::new(ATFTPD).exists() {
                return Some(format!("{ATFTPD} is missing: install atftpd"));
            }
        }
        Server::Nginx => {
            if !Path::new(NGINX).exists() {
                return Some(format!("{NGINX} is missing: install nginx"));
            }
        }
    }
    None
}

/// Deterministic test-file contents ([`XorShift`](crate::rng::XorShift) from `seed`), so a
/// mismatch is reproducible.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    crate::rng::XorShift::new(seed).bytes(len)
}

/// CRC-32/ISO-HDLC (`zlib.crc32`), what the firmware prints after `Received`.
pub fn crc32(data: &[u8]) -> u32 {
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

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
