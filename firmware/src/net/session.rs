//! The network commands (`ping`, `tftp`, `address dhcp`) as one kind of session loop over
//! any smoltcp `phy::Device`, a [`Clock`] and a [`Console`]: the bare binary hands in the
//! open NIC, the TSC clock and the UART; host tests hand in a scripted device, a simulated
//! clock and a string.
//!
//! Each session builds a smoltcp `Interface` from the monitor's [`Settings`], wraps the
//! device in [`ArpWatch`] (so a silent next hop is named) and [`FrameTrace`] (for `trace on`),
//! and polls until its work is done or the operator presses ESC / sends BREAK. Other keys
//! typed meanwhile are kept in a [`TypeAhead`] for the prompt.
use core::cell::RefCell;
use core::fmt::{self, Write};
use core::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::phy::Device;
use smoltcp::socket::{dhcpv4, icmp, udp};
use smoltcp::storage::PacketMetadata;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint};

use super::arp_watch::{ArpState, ArpWatch};
use super::echo;
use super::ping::PingSession;
use super::tftp::{ClientConfig, Event, TftpClient, TftpError, TraceCode};
use super::trace::{FrameTrace, GroupRoute, TraceLog, TransferContext};
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
pub(crate) fn received<K: Write + ?Sized>(
    con: &mut K,
    buf: &[u8],
    len: u64,
    micros: u64,
) -> Download {
    let n = usize::try_from(len).unwrap_or(usize::MAX).min(buf.len());
    let crc32 = crate::image::CRC32.checksum(&buf[..n]);
    let _ = write!(
        con,
        "Received {len} bytes in {} s ({} MiB/s), CRC-32 {crc32:#010x}\r\n",
        Micros(micros),
        Rate(len, micros)
    );
    Download { len, micros, crc32 }
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

/// An IGMPv2 Membership Report for `group` (`join`), or a Leave Group to 224.0.0.2 (RFC 2236),
/// from `mac`/`ip`: IPv4 with Router Alert, TTL 1. Built here rather than by smoltcp's
/// `multicast` feature (see [`group_to_unicast`](super::trace::group_to_unicast)); a switch
/// that snoops IGMP forwards the group to this port on the report.
pub fn igmp_frame(mac: [u8; 6], ip: Ipv4Addr, group: Ipv4Addr, join: bool) -> [u8; 46] {
    use smoltcp::wire::{IgmpPacket, Ipv4Packet};
    let (to, kind) = if join {
        (group.octets(), 0x16)
    } else {
        ([224, 0, 0, 2], 0x17)
    };
    let ([m0, m1, m2, m3, m4, m5], [s0, s1, s2, s3], [g0, g1, g2, g3]) =
        (mac, ip.octets(), group.octets());
    #[rustfmt::skip]
    let mut f = [
        // Ethernet: the group's MAC (01:00:5e + its low 23 bits), ours, IPv4.
        0x01, 0x00, 0x5e, to[1] & 0x7f, to[2], to[3], m0, m1, m2, m3, m4, m5, 0x08, 0x00,
        // IPv4: 24-byte header, precedence "internetwork control", 32 bytes, DF, TTL 1, IGMP,
        // checksum, source, destination, Router Alert (RFC 2236 §2).
        0x46, 0xc0, 0, 32, 0, 0, 0x40, 0, 1, 2, 0, 0, s0, s1, s2, s3,
        to[0], to[1], to[2], to[3], 0x94, 0x04, 0, 0,
        // IGMP: type, max response time, checksum, group.
        kind, 0, 0, 0, g0, g1, g2, g3,
    ];
    Ipv4Packet::new_unchecked(&mut f[14..]).fill_checksum();
    IgmpPacket::new_unchecked(&mut f[38..]).fill_checksum();
    f
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

/// `ping`: five 100-byte echoes to `target`, `!` per reply and `?` per timeout, the PIX's
/// summary and a round-trip line; with `trace` every frame as one line.
#[allow(clippy::too_many_arguments)]
pub fn ping<D: Device, K: Console + ?Sized>(
    dev: &mut D,
    mac: [u8; 6],
    clock: &impl Clock,
    con: &mut K,
    s: &Settings,
    target: Ipv4Addr,
    seed: u64,
    typeahead: &mut TypeAhead,
) {
    let route = match route(s, target) {
        Ok(r) => r,
        Err(e) => {
            let _ = write!(con, "ping: {e}\r\n");
            return;
        }
    };
    let arp = ArpState::default();
    let log = RefCell::new(TraceLog::new(None, s.trace));
    let mut dev = FrameTrace::new(ArpWatch::new(dev, &arp), &log);
    let mut iface = interface(
        &mut dev,
        mac,
        Some(route.cidr),
        s.gateway,
        clock.now(),
        seed,
    );
    let mut rx_meta = [PacketMetadata::EMPTY; 8];
    let mut rx_data = [0u8; 2048];
    let mut tx_meta = [PacketMetadata::EMPTY; 8];
    let mut tx_data = [0u8; 1024];
    let mut sock = icmp::Socket::new(
        icmp::PacketBuffer::new(&mut rx_meta[..], &mut rx_data[..]),
        icmp::PacketBuffer::new(&mut tx_meta[..], &mut tx_data[..]),
    );
    // Identifier: from the seed, never 0.
    let ident = ((seed >> 16) as u16).max(1);
    if sock.bind(icmp::Endpoint::Ident(ident)).is_err() {
        let _ = write!(con, "ping: cannot open an ICMP socket\r\n");
        return;
    }
    let mut storage = [SocketStorage::EMPTY; 1];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let h = sockets.add(sock);

    let mut session = PingSession::new(target, ident);
    let _ = session.write_banner(con);
    let mut aborted = false;
    let mut mid_line = false;
    let local_ip = s.address.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let mut primer = ArpPrimer { next: clock.now() };
    while !session.is_finished() {
        let now = clock.now();
        let t = now.total_micros() as u64;
        primer.poll(&mut dev, &arp, mac, local_ip, route.next_hop, now);
        iface.poll(now, &mut dev, &mut sockets);
        let sock = sockets.get_mut::<icmp::Socket>(h);
        while let Ok((msg, from)) = sock.recv() {
            if from == IpAddress::Ipv4(target) {
                if let Some(seq) = echo::parse_reply(msg, ident) {
                    session.on_reply(seq, t);
                }
            }
        }
        if sock.can_send() {
            if let Some(seq) = session.next_to_send(t) {
                let _ = sock.send_slice(&echo::request(ident, seq), IpAddress::Ipv4(target));
            }
        }
        // Frames first (they explain the mark that follows), each on its own line.
        while let Some(line) = log.borrow_mut().next_summary() {
            let sep = if mid_line { "\r\n" } else { "" };
            let _ = write!(con, "{sep}{line}\r\n");
            mid_line = false;
        }
        while let Some(ev) = session.poll(t) {
            let _ = write!(con, "{}", ev.symbol());
            mid_line = true;
        }
        if typeahead.key(con) {
            aborted = true;
            break;
        }
    }
    let _ = write!(con, "\r\n");
    if aborted {
        let _ = write!(con, "Ping aborted.\r\n");
    }
    let _ = session.write_summary(con);
    if let Some(rtt) = session.round_trip() {
        let _ = write!(con, "{}\r\n", rtt.micros());
    } else if arp.requested(route.next_hop) && !arp.answered(route.next_hop) {
        let diag = ArpDiagnosis {
            route: &route,
            interface: s.interface,
        };
        let _ = write!(con, "{diag}\r\n");
    }
}

/// How `tftp` asks for the file.
#[derive(Debug, Clone, Copy)]
pub struct TftpOptions {
    pub blksize: u16,
    pub windowsize: u16,
    pub timeout: Duration,
    pub give_up: Duration,
    pub server_timeout_s: Option<u8>,
    pub utimeout_us: Option<u32>,
    /// Ask for RFC 2090 multicast; the server decides.
    pub multicast: bool,
}

/// Ethernet MTU 1500 − IPv4 20 − UDP 8 − TFTP 4: the largest block that is not fragmented.
pub const PATH_BLKSIZE: u16 = 1468;

impl Default for TftpOptions {
    fn default() -> Self {
        TftpOptions {
            blksize: PATH_BLKSIZE,
            windowsize: 8,
            timeout: Duration::from_millis(200),
            give_up: Duration::from_secs(20),
            server_timeout_s: Some(1),
            utimeout_us: Some(20_000),
            multicast: true,
        }
    }
}

/// How often a download looks at the console for ESC.
pub(crate) const KEY_POLL: Duration = Duration::from_millis(10);

/// Bytes of file per progress dot.
pub const DOT_BYTES: u64 = 128 * 1024;
/// Dots per console line.
const DOTS_PER_LINE: u64 = 64;

/// The TFTP socket's buffers: a window of 8 full blocks (and some) must fit.
const RX_PACKETS: usize = 32;
const RX_BYTES: usize = RX_PACKETS * 1536;

/// A whole download's result, for the caller (the image checks start from here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Download {
    pub len: u64,
    pub micros: u64,
    pub crc32: u32,
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

/// `tftp`: downloads `settings.file` from `settings.server` into `buf`, printing the PIX's
/// lines: `tftp FILE@SERVER`, progress dots (and trace codes), then `Received N bytes ...`
/// or `tftp: <why>`. Returns the download when the file arrived whole.
#[allow(clippy::too_many_arguments)]
pub fn tftp<D: Device, K: Console + ?Sized>(
    dev: &mut D,
    mac: [u8; 6],
    clock: &impl Clock,
    con: &mut K,
    s: &Settings,
    opts: &TftpOptions,
    buf: &mut [u8],
    seed: u64,
    typeahead: &mut TypeAhead,
) -> Option<Download> {
    let Some(server) = s.server else {
        let _ = write!(con, "tftp: server not set\r\n");
        return None;
    };
    let route = match route(s, server) {
        Ok(r) => r,
        Err(e) => {
            let _ = write!(con, "tftp: {e}\r\n");
            return None;
        }
    };
    let local_ip = s.address?;
    // An ephemeral port from the seed: 49152..65535 (RFC 6335).
    let local_port = 49152 + (seed % 16384) as u16;
    let arp = ArpState::default();
    // Classifying costs a second checksum pass per frame: only when the codes are shown.
    let context = s.trace.then_some(TransferContext {
        local_ip,
        local_port,
        group: None,
    });
    let log = RefCell::new(TraceLog::new(context, false));
    let start = clock.now();
    let mut dev = FrameTrace::new(ArpWatch::new(dev, &arp), &log);
    let mut iface = interface(&mut dev, mac, Some(route.cidr), s.gateway, start, seed);
    let mut rx_meta = [PacketMetadata::EMPTY; RX_PACKETS];
    let mut rx_data = [0u8; RX_BYTES];
    let mut tx_meta = [PacketMetadata::EMPTY; 8];
    let mut tx_data = [0u8; 4096];
    let mut sock = udp::Socket::new(
        udp::PacketBuffer::new(&mut rx_meta[..], &mut rx_data[..]),
        udp::PacketBuffer::new(&mut tx_meta[..], &mut tx_data[..]),
    );
    if sock.bind(local_port).is_err() {
        let _ = write!(con, "tftp: cannot open a UDP socket\r\n");
        return None;
    }
    // ERROR 5 to a stray sender goes out of a second socket on the same port: a sender smoltcp
    // must first ARP for (or never gets an answer from) would otherwise hold up every ACK
    // queued behind it. smoltcp hands each datagram to the first socket that accepts it, so
    // this one, added second, never receives.
    let mut stray_rx_meta = [PacketMetadata::EMPTY; 1];
    let mut stray_rx_data = [0u8; 64];
    let mut stray_tx_meta = [PacketMetadata::EMPTY; 4];
    let mut stray_tx_data = [0u8; 512];
    let mut stray = udp::Socket::new(
        udp::PacketBuffer::new(&mut stray_rx_meta[..], &mut stray_rx_data[..]),
        udp::PacketBuffer::new(&mut stray_tx_meta[..], &mut stray_tx_data[..]),
    );
    let _ = stray.bind(local_port);
    let mut storage = [SocketStorage::EMPTY; 2];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let h = sockets.add(sock);
    let h_stray = sockets.add(stray);
    let mut joined = None;
    let send = |sockets: &mut SocketSet<'_>, to: SocketAddrV4, bytes: &[u8]| {
        let ep = IpEndpoint::new(IpAddress::Ipv4(*to.ip()), to.port());
        let via = if *to.ip() == server { h } else { h_stray };
        sockets
            .get_mut::<udp::Socket>(via)
            .send_slice(bytes, ep)
            .is_ok()
    };

    let cfg = ClientConfig {
        server,
        file: s.file.as_str(),
        blksize: opts.blksize,
        windowsize: opts.windowsize,
        timeout: opts.timeout,
        give_up: opts.give_up,
        request_tsize: true,
        server_timeout_s: opts.server_timeout_s,
        utimeout_us: opts.utimeout_us,
        multicast: opts.multicast,
    };
    let mut client = TftpClient::new(&cfg, start);
    let _ = write!(con, "tftp {}@{}", s.file, server);
    let mut dots = Dots::default();
    let mut end = start;
    let trace = s.trace;
    let mut primer = ArpPrimer { next: start };
    let mut next_key = start;
    loop {
        let now = clock.now();
        primer.poll(&mut dev, &arp, mac, local_ip, route.next_hop, now);
        iface.poll(now, &mut dev, &mut sockets);
        while let Some(code) = log.borrow_mut().next_code() {
            if trace {
                let _ = write!(con, "{code}");
            }
        }
        let sock = sockets.get_mut::<udp::Socket>(h);
        let mut resend = false;
        let mut on_event = |e: Event| match e {
            Event::Progress { bytes } => dots.show(con, bytes),
            Event::Trace(code) => {
                resend |= code == TraceCode::Retransmit;
                if trace {
                    let _ = write!(con, "{code}");
                }
            }
            Event::Negotiated {
                blksize,
                windowsize,
                tsize,
                multicast,
            } if trace => {
                let _ = write!(con, "[blksize {blksize}, windowsize {windowsize}");
                if let Some(t) = tsize {
                    let _ = write!(con, ", tsize {t}");
                }
                if let Some((group, master)) = multicast {
                    let m = if master { " master" } else { "" };
                    let _ = write!(con, ", multicast {}:{}{m}", group.ip(), group.port());
                }
                let _ = write!(con, "]");
            }
            Event::Master if trace => {
                let _ = write!(con, "[master]");
            }
            Event::OptionsIgnored if trace => {
                let _ = write!(con, "[options ignored: 512-byte blocks]");
            }
            Event::Fallback if trace => {
                let _ = write!(con, "[retrying without options]");
            }
            _ => {}
        };
        while let Ok((data, meta)) = sock.recv() {
            let IpAddress::Ipv4(ip) = meta.endpoint.addr;
            let from = SocketAddrV4::new(ip, meta.endpoint.port);
            client.on_datagram(now, from, data, buf, &mut on_event);
        }
        if let (None, Some(group), Some(server)) =
            (joined, client.multicast_group(), client.server_addr())
        {
            // The group granted: join it (an IGMP report, sent below as if a querier had
            // asked); the server's datagrams to it reach the transfer's socket.
            joined = Some(group);
            let mut l = log.borrow_mut();
            l.igmp_asked = true;
            l.multicast = Some(GroupRoute {
                group,
                server,
                local: SocketAddrV4::new(local_ip, local_port),
            });
            if let Some(ctx) = l.context.as_mut() {
                ctx.group = Some(group);
            }
        }
        if let Some(group) = joined {
            // Joined just now, or a querier asked who still wants the group (a snooping
            // switch prunes ports that stay silent): report. At once rather than after RFC
            // 2236's random delay up to the query's maximum; report suppression is a
            // router's saving, not needed.
            if core::mem::take(&mut log.borrow_mut().igmp_asked) {
                send_frame(&mut dev, &igmp_frame(mac, local_ip, *group.ip(), true), now);
            }
        }
        client.poll(now, &mut on_event);
        let mut sent = false;
        while let Some((to, bytes)) = client.transmit() {
            // A retransmission never queues behind a datagram still waiting for the server's
            // MAC (a NIC deaf for its first half second): smoltcp would send both copies at
            // once, and atftpd lists a client once per RRQ it gets (RFC 2090 master order).
            if resend && sockets.get::<udp::Socket>(h).send_queue() > 0 {
                continue;
            }
            sent |= send(&mut sockets, to, bytes);
        }
        if sent {
            // The ACK leaves now, not after the rest of the loop: in lock-step every
            // microsecond between DATA in and ACK out is lost throughput.
            iface.poll(now, &mut dev, &mut sockets);
        }
        if client.outcome().is_some() {
            end = now;
            break;
        }
        // The UART is slow to read (an I/O exit under emulation): look every 10 ms.
        if now >= next_key {
            next_key = now + KEY_POLL;
            if typeahead.key(con) {
                client.abort();
                while let Some((to, bytes)) = client.transmit() {
                    send(&mut sockets, to, bytes);
                }
                iface.poll(now, &mut dev, &mut sockets);
                break;
            }
        }
    }
    if let Some(group) = joined {
        send_frame(
            &mut dev,
            &igmp_frame(mac, local_ip, *group.ip(), false),
            clock.now(),
        );
    }
    let _ = write!(con, "\r\n");
    if trace {
        let l = log.borrow();
        let _ = write!(
            con,
            "trace: {} frames in, {} out\r\n",
            l.rx_frames, l.tx_frames
        );
    }
    match client.outcome() {
        Some(Ok(len)) => Some(received(con, buf, len, (end - start).total_micros())),
        Some(Err(e)) => {
            let _ = write!(con, "tftp: {e}\r\n");
            if matches!(e, TftpError::Timeout { .. }) {
                diagnose_arp(con, &arp, &route, s.interface);
            }
            None
        }
        None => None,
    }
}

use super::lease::offered_file;
pub use super::lease::Lease;

/// Where the BOOTP `file` field (128 bytes, NUL-padded) lies in a DHCP packet (RFC 2131).
const BOOTP_FILE: core::ops::Range<usize> = 108..236;

/// How long `address dhcp` waits for a lease.
pub const DHCP_TIMEOUT: Duration = Duration::from_secs(12);

/// `address dhcp`: asks for a lease with smoltcp's DHCPv4 client. The lease is returned as
/// offered; [`Lease::sanitize`] decides what of it is used.
pub fn dhcp<D: Device, K: Console + ?Sized>(
    dev: &mut D,
    mac: [u8; 6],
    clock: &impl Clock,
    con: &mut K,
    seed: u64,
    typeahead: &mut TypeAhead,
) -> Option<Lease> {
    // Replies that would panic smoltcp's DHCP client never reach it.
    let mut log = TraceLog::new(None, false);
    log.guard_dhcp = true;
    let log = RefCell::new(log);
    let arp = ArpState::default();
    let dev = &mut FrameTrace::new(ArpWatch::new(dev, &arp), &log);
    let start = clock.now();
    let mut iface = interface(dev, mac, None, None, start, seed);
    let mut packet = [0u8; 1500];
    let mut sock = dhcpv4::Socket::new();
    sock.set_receive_packet_buffer(&mut packet);
    const PARAMS: [u8; 5] = [1, 3, 6, 66, 67];
    sock.set_parameter_request_list(&PARAMS);
    let mut storage = [SocketStorage::EMPTY; 1];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let h = sockets.add(sock);
    let _ = write!(con, "Asking for a DHCP lease");
    let mut shown = 0;
    loop {
        let now = clock.now();
        iface.poll(now, dev, &mut sockets);
        if core::mem::take(&mut log.borrow_mut().guarded) > 0 {
            let _ = write!(
                con,
                "\r\naddress: ignored a DHCP reply with contradicting lease times or from 0.0.0.0"
            );
        }
        if let Some(dhcpv4::Event::Configured(cfg)) = sockets.get_mut::<dhcpv4::Socket>(h).poll() {
            let _ = write!(con, "\r\n");
            let mut lease = Lease {
                address: cfg.address.address(),
                netmask: cfg.address.netmask(),
                gateway: cfg.router,
                server: None,
                file: None,
                dns: cfg.dns_servers.first().copied(),
            };
            if let Some(p) = &cfg.packet {
                let si = p.server_ip();
                if !si.is_unspecified() {
                    lease.server = Some(si);
                }
                let mut option_67 = None;
                for o in p.options() {
                    match o.kind {
                        66 if lease.server.is_none() => {
                            lease.server = core::str::from_utf8(o.data).ok().and_then(|t| {
                                crate::settings::parse_ipv4(t.trim_end_matches('\0')).ok()
                            });
                        }
                        67 if option_67.is_none() => option_67 = Some(o.data),
                        _ => {}
                    }
                }
                let field = p.into_inner().get(BOOTP_FILE).unwrap_or(&[]);
                lease.file = offered_file(option_67, field);
            }
            return Some(lease);
        }
        let waited = now - start;
        if waited >= DHCP_TIMEOUT {
            let _ = write!(
                con,
                "\r\naddress: no DHCP offer in {} s; set the address by hand\r\n",
                DHCP_TIMEOUT.secs()
            );
            return None;
        }
        if waited.secs() > shown {
            shown = waited.secs();
            let _ = write!(con, ".");
        }
        if typeahead.key(con) {
            let _ = write!(con, "\r\naddress: DHCP aborted\r\n");
            return None;
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
