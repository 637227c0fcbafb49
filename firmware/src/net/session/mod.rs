//! The network commands (`ping`, `tftp`, `address dhcp`) as one kind of session loop over
//! any smoltcp `phy::Device`, a [`Clock`] and a [`Console`]: the bare binary hands in the
//! open NIC, the TSC clock and the UART; host tests hand in a scripted device, a simulated
//! clock and a string.
//!
//! Each session builds a smoltcp `Interface` from the operator's [`Settings`], wraps the
//! device in [`ArpWatch`](crate::net::ArpWatch) (so a silent next hop is named) and
//! [`FrameTrace`](crate::net::trace::FrameTrace) (for `trace on`), and polls until its work
//! is done or the operator presses ESC / sends BREAK. Other keys typed meanwhile are kept in
//! a [`TypeAhead`] for the prompt. One file per command, as [`crate::net::http`] is:
//!
//! - this file: what every session shares (the route, the ARP primer and diagnosis, the
//!   progress dots, the `Received` line);
//! - `ping.rs`: [`ping`], the echoes counted by [`PingSession`](crate::net::ping::PingSession);
//! - `tftp.rs`: [`tftp`], the [`TftpClient`](crate::net::tftp::TftpClient) over UDP (and
//!   the multicast group's IGMP);
//! - `dhcp.rs`: [`dhcp`], `address dhcp`.
mod dhcp;
mod ping;
mod tftp;

use core::fmt::{self, Write};
use core::net::Ipv4Addr;

use smoltcp::iface::{Config, Interface};
use smoltcp::phy::Device;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

pub use self::dhcp::{dhcp, DHCP_TIMEOUT};
pub use self::ping::ping;
pub use self::tftp::{igmp_frame, tftp, TftpOptions, PATH_BLKSIZE};
use super::arp_watch::ArpState;
pub use super::lease::Lease;
use super::tftp::{Sink, SinkFull};
use crate::image::{PayloadSums, StreamCheck};
use crate::settings::Settings;

/// Time, in smoltcp's type.
pub trait Clock {
    fn now(&self) -> Instant;
}

/// What the operator typed while a session ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// ESC or a serial BREAK: stop now.
    Abort,
    /// Anything else: kept for the prompt.
    Byte(u8),
}

/// The operator's console: output, and keys without blocking.
pub trait Console: Write {
    fn poll_key(&mut self) -> Option<Key>;
}

/// Keys typed during a session, handed to the prompt afterwards.
#[derive(Debug, Default)]
pub struct TypeAhead {
    pub bytes: heapless::Vec<u8, 64>,
    pub lost: usize,
}

impl TypeAhead {
    pub(crate) fn key<C: Console + ?Sized>(&mut self, con: &mut C) -> bool {
        while let Some(k) = con.poll_key() {
            match k {
                Key::Abort => return true,
                Key::Byte(b) => {
                    if self.bytes.push(b).is_err() {
                        self.lost += 1;
                    }
                }
            }
        }
        false
    }
}

/// How frames for a destination leave this unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The host ARP must answer: the destination itself or the gateway.
    pub next_hop: Ipv4Addr,
    pub on_link: bool,
    pub cidr: IpCidr,
}

/// Why a destination cannot be reached with the current settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    NoAddress,
    OffLinkNoGateway {
        target: Ipv4Addr,
        network: Ipv4Addr,
        prefix: u8,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::NoAddress => f.write_str("set this unit's address first"),
            RouteError::OffLinkNoGateway {
                target,
                network,
                prefix,
            } => write!(
                f,
                "{target} is not on this unit's subnet {network}/{prefix} and no gateway is set"
            ),
        }
    }
}

/// The route to `target` from the settings.
pub fn route(s: &Settings, target: Ipv4Addr) -> Result<Route, RouteError> {
    let addr = s.address.ok_or(RouteError::NoAddress)?;
    let prefix = u32::from(s.netmask).leading_ones() as u8;
    let cidr = IpCidr::new(IpAddress::Ipv4(addr), prefix);
    let on_link = cidr.contains_addr(&IpAddress::Ipv4(target));
    let next_hop = match (on_link, s.gateway) {
        (true, _) => target,
        (false, Some(gw)) => gw,
        (false, None) => {
            return Err(RouteError::OffLinkNoGateway {
                target,
                network: Ipv4Addr::from(u32::from(addr) & u32::from(s.netmask)),
                prefix,
            })
        }
    };
    Ok(Route {
        next_hop,
        on_link,
        cidr,
    })
}

/// The line that names a next hop that never answered ARP, if that is what happened.
pub struct ArpDiagnosis<'a> {
    pub route: &'a Route,
    pub interface: usize,
}

impl fmt::Display for ArpDiagnosis<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.route.on_link {
            "the target"
        } else {
            "the gateway"
        };
        write!(
            f,
            "No ARP reply from {} ({what}): it is down or not on interface {}'s segment",
            self.route.next_hop, self.interface
        )
    }
}

/// Says [`ArpDiagnosis`] when the next hop was asked for and never answered (after a
/// download that got no answer at all).
pub(crate) fn diagnose_arp<K: Write + ?Sized>(
    con: &mut K,
    arp: &ArpState,
    route: &Route,
    interface: usize,
) {
    if arp.requested(route.next_hop) && !arp.answered(route.next_hop) {
        let diag = ArpDiagnosis { route, interface };
        let _ = write!(con, "{diag}\r\n");
    }
}

/// The progress dots of a download: one per [`DOT_BYTES`], [`DOTS_PER_LINE`] to a line.
#[derive(Debug, Default)]
pub(crate) struct Dots(u64);

impl Dots {
    /// Prints the dots `bytes` in all has earned since the last call.
    pub(crate) fn show<K: Write + ?Sized>(&mut self, con: &mut K, bytes: u64) {
        while bytes >= (self.0 + 1) * DOT_BYTES {
            self.0 += 1;
            let sep = if self.0.is_multiple_of(DOTS_PER_LINE) {
                "\r\n"
            } else {
                ""
            };
            let _ = write!(con, ".{sep}");
        }
    }
}

/// The line that closes a whole download (`Received N bytes in S s (R MiB/s), CRC-32 X`),
/// and the download for the install that follows.
/// `streamed`: the file's CRC-32 and payload sums computed as it landed
/// ([`crate::image::StreamCheck::finish`]); `None` makes the full pass here (the payload's
/// sums are then left to the install's check).
pub(crate) fn received<K: Write + ?Sized>(
    con: &mut K,
    buf: &[u8],
    len: u64,
    micros: u64,
    streamed: Option<(u32, Option<PayloadSums>)>,
) -> Download {
    let (crc32, payload) = streamed.unwrap_or_else(|| {
        let n = usize::try_from(len).unwrap_or(usize::MAX).min(buf.len());
        (crate::image::CRC32.checksum(&buf[..n]), None)
    });
    let _ = write!(
        con,
        "Received {len} bytes in {} s ({} MiB/s), CRC-32 {crc32:#010x}\r\n",
        Micros(micros),
        Rate(len, micros)
    );
    Download {
        len,
        micros,
        crc32,
        payload,
    }
}

/// The download buffer as the TFTP client's [`Sink`], every write also fed to a
/// [`StreamCheck`].
pub(crate) struct Landing<'b> {
    pub buf: &'b mut [u8],
    pub check: StreamCheck,
}

impl Sink for Landing<'_> {
    fn capacity(&self) -> u64 {
        self.buf.capacity()
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), SinkFull> {
        self.buf.write_at(offset, data)?;
        self.check.landed(offset, data.len());
        Ok(())
    }
}

impl Landing<'_> {
    /// Hashes up to `max` bytes of what landed and is not hashed yet (the session calls it
    /// while it waits for the next datagram).
    pub fn catch_up(&mut self, max: usize) {
        self.check.catch_up(self.buf, max);
    }

    /// [`StreamCheck::finish`] for a download of `len` bytes.
    pub fn finish(&mut self, len: u64) -> Option<(u32, Option<PayloadSums>)> {
        core::mem::take(&mut self.check).finish(self.buf, len)
    }
}

/// How often the session asks for the next hop's MAC itself until it answers.
const ARP_PROBE_EVERY: Duration = Duration::from_millis(100);

/// Sends an ARP request for `target` straight through the device. smoltcp asks once and
/// then stays silent for a second; a lost first request (a NIC whose link has just come up,
/// a lossy segment) would cost that second. smoltcp learns from the reply either way.
fn arp_probe<D: Device + ?Sized>(
    dev: &mut D,
    mac: [u8; 6],
    ip: Ipv4Addr,
    target: Ipv4Addr,
    now: Instant,
) {
    use smoltcp::wire::{
        ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, EthernetRepr,
    };
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress(mac),
        source_protocol_addr: ip,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target,
    };
    let eth = EthernetRepr {
        src_addr: EthernetAddress(mac),
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    };
    let mut frame = [0u8; 42];
    let mut f = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.emit(&mut f);
    arp.emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
    send_frame(dev, &frame, now);
}

fn send_frame<D: Device + ?Sized>(dev: &mut D, frame: &[u8], now: Instant) {
    if let Some(tx) = dev.transmit(now) {
        smoltcp::phy::TxToken::consume(tx, frame.len(), |buf| buf.copy_from_slice(frame));
    }
}

/// Keeps asking for the next hop until [`ArpState`] has seen it answer.
pub(crate) struct ArpPrimer {
    pub(crate) next: Instant,
}

impl ArpPrimer {
    pub(crate) fn poll<D: Device + ?Sized>(
        &mut self,
        dev: &mut D,
        arp: &ArpState,
        mac: [u8; 6],
        ip: Ipv4Addr,
        hop: Ipv4Addr,
        now: Instant,
    ) {
        if now >= self.next && !arp.answered(hop) {
            arp_probe(dev, mac, ip, hop, now);
            self.next = now + ARP_PROBE_EVERY;
        }
    }
}

pub(crate) fn interface<D: Device + ?Sized>(
    dev: &mut D,
    mac: [u8; 6],
    cidr: Option<IpCidr>,
    gateway: Option<Ipv4Addr>,
    now: Instant,
    seed: u64,
) -> Interface {
    let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    cfg.random_seed = seed;
    let mut iface = Interface::new(cfg, dev, now);
    if let Some(cidr) = cidr {
        iface.update_ip_addrs(|a| {
            let _ = a.push(cidr);
        });
    }
    if let Some(gw) = gateway {
        let _ = iface.routes_mut().add_default_ipv4_route(gw);
    }
    iface
}

/// How often a download looks at the console for ESC.
pub(crate) const KEY_POLL: Duration = Duration::from_millis(10);

/// Bytes of file per progress dot.
pub const DOT_BYTES: u64 = 128 * 1024;
/// Dots per console line.
const DOTS_PER_LINE: u64 = 64;

/// A whole download's result, for the caller (the image checks start from here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Download {
    pub len: u64,
    pub micros: u64,
    pub crc32: u32,
    /// The payload's CRC-32 and SHA-256 computed as the bytes landed, when they landed in
    /// order (for [`crate::image::verify_with`]); `None`: not computed.
    pub payload: Option<PayloadSums>,
}

struct Micros(u64);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1_000_000, (self.0 / 1000) % 1000)
    }
}

/// MiB/s with two decimals from bytes and microseconds, in integers.
struct Rate(u64, u64);

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // u64 holds it for any download below 184 GB (the buffer is below 4 GiB); no u128
        // formatting code in the binary.
        let centi = self.0.saturating_mul(100_000_000) / (self.1.max(1) << 20);
        write!(f, "{}.{:02}", centi / 100, centi % 100)
    }
}

#[cfg(test)]
mod tests;
