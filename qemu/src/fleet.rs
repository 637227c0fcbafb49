//! A fleet lab: N units on one Ethernet segment with one TFTP server, for multicast TFTP
//! (RFC 2090) and the fleet benchmark. One private namespace holds a tap (the server's side,
//! 10.77.0.1) and `qemu/tools/fleet-hub.py`, a learning switch between the tap and every
//! unit's `-netdev socket,udp` (unit `i` at 10.77.0.(10+i), MAC 52:54:00:77:00:(10+i)):
//!
//! ```text
//!   namespace lbfN:  QEMU unit 0 ─┐
//!                    QEMU unit 1 ─┼─ fleet-hub.py ── tap lbgN: 10.77.0.1, the server
//!                    ...         ─┘   (switch)        (its tx_bytes: the server's egress)
//! ```
//! The server is tftpd-hpa, nginx (port 80) or atftpd; atftpd serves multicast from 239.255.0.0-255, port 1758, TTL 1 (a route for 224.0.0.0/4
//! points at the tap). Root only ([`crate::lab::lab_unavailable`]). Removed on drop.
//!
//! [`Fleet::snooping`] makes the hub an IGMP snooping switch with its own querier (as managed
//! switches are): group datagrams reach only units that answered its general queries.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::lab::{
    in_netns, ip, nginx_conf, tftp_server, Server, HTTP_PROBE, NGINX, PROBE, SERVER_IP,
};
use crate::NetBackend;

pub const HUB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/fleet-hub.py");
/// The hub's port; unit `i`'s QEMU sends from `UNIT_PORT_BASE + i`.
const HUB_PORT: u16 = 41000;
const UNIT_PORT_BASE: u16 = 41100;
/// What atftpd is told to use for multicast.
pub const MCAST_ADDRS: &str = "239.255.0.0-255";
pub const MCAST_PORT: u16 = 1758;

/// Unit `i`'s address.
pub fn unit_ip(i: usize) -> String {
    format!("10.77.0.{}", 10 + i)
}

/// Unit `i`'s MAC (QEMU would give every unit the same one).
pub fn unit_mac(i: usize) -> String {
    format!("52:54:00:77:00:{:02x}", 10 + i)
}

/// What a snooping hub saw ([`Fleet::snoop_stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnoopStats {
    pub queries: u64,
    /// IGMP membership reports from each unit, in unit order.
    pub reports: Vec<u64>,
    /// Memberships that expired: units cut off a group they had not left.
    pub pruned: u64,
}

/// A namespace with the server, the tap and the switch for `units` QEMUs.
pub struct Fleet {
    ns: String,
    tap: String,
    children: Vec<Child>,
    conf_dir: Option<PathBuf>,
    /// The snooping hub's statistics file.
    stats: Option<PathBuf>,
    pub units: usize,
    pub root: PathBuf,
}

impl Fleet {
    pub fn new(server: Server, units: usize, root: &Path) -> Result<Fleet, String> {
        Self::start(server, units, root, None)
    }

    /// The same behind an IGMP snooping switch that sends a general query every `query`
    /// (see `fleet-hub.py --snoop`); [`Fleet::snoop_stats`] says what it saw.
    pub fn snooping(
        server: Server,
        units: usize,
        root: &Path,
        query: Duration,
    ) -> Result<Fleet, String> {
        Self::start(server, units, root, Some(query))
    }

    fn start(
        server: Server,
        units: usize,
        root: &Path,
        query: Option<Duration>,
    ) -> Result<Fleet, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}{}", std::process::id() % 100_000, n % 100);
        let ns = format!("lbf{tag}");
        let tap = format!("lbg{tag}");
        let _ = ip(&["netns", "del", &ns]);
        ip(&["netns", "add", &ns])?;
        let mut fleet = Fleet {
            ns: ns.clone(),
            tap: tap.clone(),
            children: Vec::new(),
            conf_dir: None,
            stats: None,
            units,
            root: root.to_path_buf(),
        };
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        ip(&["-n", &ns, "tuntap", "add", "dev", &tap, "mode", "tap"])?;
        let cidr = format!("{SERVER_IP}/24");
        ip(&["-n", &ns, "addr", "add", &cidr, "dev", &tap])?;
        ip(&["-n", &ns, "link", "set", &tap, "up"])?;
        // Without a route the server cannot send to a group (ENETUNREACH).
        ip(&["-n", &ns, "route", "add", "224.0.0.0/4", "dev", &tap])?;
        let exec = |prog: &str| in_netns(&ns, prog);
        let mut hub = exec("python3");
        hub.arg(HUB);
        if let Some(q) = query {
            let stats = std::env::temp_dir().join(format!("lifeboat-snoop-{tag}.json"));
            hub.arg("--snoop")
                .arg(format!("{:.3}", q.as_secs_f64()))
                .arg(&stats);
            fleet.stats = Some(stats);
        }
        hub.arg(&tap).arg(HUB_PORT.to_string());
        for i in 0..units {
            hub.arg((UNIT_PORT_BASE + i as u16).to_string());
        }
        fleet
            .children
            .push(hub.spawn().map_err(|e| format!("hub: {e}"))?);
        let root_s = root.to_string_lossy().into_owned();
        let mut s = match server {
            Server::TftpdHpa | Server::Atftpd => {
                let port = MCAST_PORT.to_string();
                let mcast = [
                    "--mcast-addr",
                    MCAST_ADDRS,
                    "--mcast-port",
                    &port,
                    "--mcast-ttl",
                    "1",
                ];
                tftp_server(&ns, server, &root_s, &mcast)
            }
            Server::Nginx => {
                let dir = std::env::temp_dir().join(format!("lifeboat-nginx-{tag}"));
                let conf = nginx_conf(&dir, root)?;
                fleet.conf_dir = Some(dir);
                let mut c = exec(NGINX);
                c.arg("-c").arg(conf);
                c
            }
        };
        fleet
            .children
            .push(s.spawn().map_err(|e| format!("{server:?}: {e}"))?);
        fleet.wait_ready(server, Duration::from_secs(10))?;
        Ok(fleet)
    }

    fn wait_ready(&mut self, server: Server, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            for c in &mut self.children {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(format!("a fleet process exited at once: {status}"));
                }
            }
            let link = Command::new("ip")
                .args(["-n", &self.ns, "-o", "link", "show", &self.tap])
                .output()
                .map_err(|e| format!("ip link show: {e}"))?;
            if String::from_utf8_lossy(&link.stdout).contains("LOWER_UP") {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!("the hub did not open {} in {timeout:?}", self.tap));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let (script, port) = match server {
            Server::Nginx => (HTTP_PROBE, "80"),
            _ => (PROBE, "69"),
        };
        let probe = Command::new("ip")
            .args([
                "netns", "exec", &self.ns, "python3", "-c", script, SERVER_IP,
            ])
            .arg(format!("{:.3}", left.as_secs_f64()))
            .arg(port)
            .output()
            .map_err(|e| format!("probing {server:?}: {e}"))?;
        if probe.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{server:?} did not answer on {SERVER_IP}:{port} in {timeout:?}"
            ))
        }
    }

    /// What the snooping hub saw so far: general queries sent, IGMP reports from each unit
    /// (in unit order), and memberships that expired without a leave.
    pub fn snoop_stats(&self) -> Result<SnoopStats, String> {
        let path = self.stats.as_ref().ok_or("the hub does not snoop")?;
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path:?}: {e}"))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{path:?}: {e}"))?;
        let n = |v: &serde_json::Value| v.as_u64().ok_or(format!("{path:?}: {text}"));
        Ok(SnoopStats {
            queries: n(&v["queries"])?,
            reports: (0..self.units)
                .map(|i| n(&v["reports"][(UNIT_PORT_BASE + i as u16).to_string()]))
                .collect::<Result<_, _>>()?,
            pruned: n(&v["pruned"])?,
        })
    }

    /// Unit `i`'s netdev (QEMU must run in [`Fleet::netns`] and use [`unit_mac`]).
    pub fn backend(&self, i: usize) -> NetBackend {
        NetBackend::Udp {
            local: SocketAddr::from(([127, 0, 0, 1], UNIT_PORT_BASE + i as u16)),
            remote: SocketAddr::from(([127, 0, 0, 1], HUB_PORT)),
        }
    }

    pub fn netns(&self) -> &str {
        &self.ns
    }

    /// Bytes the server has sent onto the segment so far (the tap's tx_bytes: every frame
    /// the kernel hands to the switch).
    pub fn server_tx_bytes(&self) -> Result<u64, String> {
        let path = format!("/sys/class/net/{}/statistics/tx_bytes", self.tap);
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "cat", &path])
            .output()
            .map_err(|e| format!("reading {path}: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|e| format!("{path}: {e}"))
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = ip(&["netns", "del", &self.ns]);
        if let Some(d) = &self.conf_dir {
            let _ = std::fs::remove_dir_all(d);
        }
        if let Some(f) = &self.stats {
            let _ = std::fs::remove_file(f);
        }
    }
}
