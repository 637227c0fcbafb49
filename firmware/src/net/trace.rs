//! `trace on`: what every frame was, for the console.
//!
//! - [`classify`] gives the Table 11-2 code of a received frame during a TFTP transfer for
//!   the cases smoltcp would drop without a word (ARP `A`, non-IP `(N)`, `<2>` `<4>` `<5>`
//!   `<6>` `<7>` `<8>`). Datagrams that do reach the TFTP socket are judged by the client
//!   (`<3>`, `<7>` for a wrong TID, `<9>`, `<10>`, `<11>`, `<-10>`, `<-1>`, `T`).
//! - [`Summary`] is a one-line description of any frame (`ping` prints one per frame sent
//!   and received with `trace on`).
//! - [`FrameTrace`] is a `phy::Device` wrapper in the shape of smoltcp's `Tracer` that keeps
//!   the codes and summaries of the frames passing through in a [`TraceLog`] for the session
//!   loop to print between polls (a device cannot reach the console itself).
//!
//! During `tftp` the summaries are not printed: one line per DATA frame would bury the
//! progress dots and slow the transfer to the console's speed. The codes are printed inline
//! instead, and a count of frames in and out closes the transfer.
use core::cell::RefCell;
use core::fmt;
use core::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::phy::{self, Device, DeviceCapabilities};
use smoltcp::time::Instant;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, Icmpv4Message, Icmpv4Packet,
    IgmpPacket, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet, TcpPacket, UdpPacket,
};

use super::tftp::TraceCode;

/// What the classifier needs to know about the transfer in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferContext {
    /// This unit's address.
    pub local_ip: Ipv4Addr,
    /// The transfer's local UDP port.
    pub local_port: u16,
    /// The multicast group and port the transfer also arrives on (RFC 2090), once joined.
    pub group: Option<SocketAddrV4>,
}

/// The Table 11-2 code of a received frame, for what the TFTP socket will never see.
pub fn classify(frame: &[u8], ctx: &TransferContext) -> Option<TraceCode> {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return Some(TraceCode::ShortPacket);
    };
    match eth.ethertype() {
        EthernetProtocol::Arp => return Some(TraceCode::Arp),
        EthernetProtocol::Ipv4 => {}
        other => return Some(TraceCode::NonIp(u16::from(other))),
    }
    let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
        return Some(TraceCode::ShortIpHeader);
    };
    if ip.header_len() < 20 || !ip.verify_checksum() {
        return Some(TraceCode::ShortIpHeader);
    }
    let dst = ip.dst_addr();
    let group = ctx.group.filter(|g| *g.ip() == dst);
    if dst != ctx.local_ip && !dst.is_broadcast() && group.is_none() {
        return Some(TraceCode::WrongDestination);
    }
    if ip.next_header() != IpProtocol::Udp {
        return Some(TraceCode::NotUdp);
    }
    if ip.more_frags() || ip.frag_offset() != 0 {
        // smoltcp reassembles nothing here: a fragment never reaches the socket.
        return Some(TraceCode::ShortPacket);
    }
    let Ok(udp) = UdpPacket::new_checked(ip.payload()) else {
        return Some(TraceCode::ShortPacket);
    };
    if udp.checksum() != 0
        && !udp.verify_checksum(&IpAddress::Ipv4(ip.src_addr()), &IpAddress::Ipv4(dst))
    {
        return Some(TraceCode::BadChecksum);
    }
    if udp.dst_port() != group.map_or(ctx.local_port, |g| g.port()) {
        return Some(TraceCode::WrongPorts);
    }
    None
}

/// Where datagrams to a joined multicast group go: from the transfer's `server` (its TID) to
/// the `group` (address and port), they are handed to smoltcp as if sent to `local` (this
/// unit's address and the transfer's port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupRoute {
    pub group: SocketAddrV4,
    pub server: SocketAddrV4,
    pub local: SocketAddrV4,
}

/// Whether `frame` is an IGMP Membership Query that asks after `group` (RFC 2236 §2.1, 3: a
/// general query, group 0, or one for `group` itself; version 1, 2 or 3 queriers alike), with
/// good IPv4 and IGMP checksums. The unit answers with a report, so a snooping switch whose
/// querier asks during a long transfer keeps forwarding the group to it.
pub fn asks_after(frame: &[u8], group: Ipv4Addr) -> bool {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return false;
    };
    let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
        return false;
    };
    if eth.ethertype() != EthernetProtocol::Ipv4
        || ip.next_header() != IpProtocol::Igmp
        || !ip.verify_checksum()
    {
        return false;
    }
    // Type 0x11 and the group at bytes 4-7 in every version; a version 3 query is longer, and
    // the checksum covers the whole message.
    let p = ip.payload();
    p.len() >= 8
        && p[0] == 0x11
        && IgmpPacket::new_unchecked(p).verify_checksum()
        && matches!(Ipv4Addr::new(p[4], p[5], p[6], p[7]), a if a.is_unspecified() || a == group)
}

/// A datagram `route.server` → `route.group`, turned into one to `route.local` in `out` (IPv4
/// and UDP checksums verified, then recomputed): so the transfer's own socket receives the
/// group's DATA, and smoltcp needs no `multicast` feature (with it, its IGMP state and
/// panicking paths, and the group's own socket, the firmware was 3.1 KB larger). Anything else (another sender on the group included: the group is
/// shared, nobody there gets an ERROR 5), or a datagram that fails a checksum, is `None` and
/// reaches smoltcp untouched, which drops it.
pub fn group_to_unicast(frame: &[u8], route: &GroupRoute, out: &mut [u8]) -> Option<usize> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    if dst != *route.group.ip()
        || src != *route.server.ip()
        || ip.next_header() != IpProtocol::Udp
        || ip.more_frags()
        || ip.frag_offset() != 0
        || !ip.verify_checksum()
    {
        return None;
    }
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    if udp.dst_port() != route.group.port()
        || udp.src_port() != route.server.port()
        || (udp.checksum() != 0
            && !udp.verify_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(dst)))
    {
        return None;
    }
    let n = frame.len();
    let out = out.get_mut(..n)?;
    out.copy_from_slice(frame);
    let local = *route.local.ip();
    let mut eth = EthernetFrame::new_unchecked(out);
    let mut ip = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.set_dst_addr(local);
    ip.fill_checksum();
    let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
    udp.set_dst_port(route.local.port());
    udp.fill_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(local));
    Some(n)
}

/// A one-line description of a frame (`Display`), decoded lazily from its first bytes.
#[derive(Clone, Copy)]
pub struct Summary {
    outgoing: bool,
    len: usize,
    head: [u8; 64],
}

impl Summary {
    pub fn new(frame: &[u8], outgoing: bool) -> Self {
        let mut head = [0u8; 64];
        let n = frame.len().min(head.len());
        head[..n].copy_from_slice(&frame[..n]);
        Summary {
            outgoing,
            len: frame.len(),
            head,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.head[..self.len.min(self.head.len())]
    }
}

fn ip4(a: Ipv4Address) -> Ipv4Addr {
    a
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = if self.outgoing { "out" } else { "in " };
        write!(f, "{dir} {:4} ", self.len)?;
        let Ok(eth) = EthernetFrame::new_checked(self.bytes()) else {
            return f.write_str("runt frame");
        };
        match eth.ethertype() {
            EthernetProtocol::Arp => {
                let arp = ArpPacket::new_checked(eth.payload()).ok();
                match arp.as_ref().map(ArpRepr::parse) {
                    Some(Ok(ArpRepr::EthernetIpv4 {
                        operation: ArpOperation::Request,
                        source_protocol_addr,
                        target_protocol_addr,
                        ..
                    })) => write!(
                        f,
                        "ARP who-has {} tell {}",
                        ip4(target_protocol_addr),
                        ip4(source_protocol_addr)
                    ),
                    Some(Ok(ArpRepr::EthernetIpv4 {
                        source_protocol_addr,
                        source_hardware_addr,
                        ..
                    })) => write!(
                        f,
                        "ARP {} is-at {}",
                        ip4(source_protocol_addr),
                        source_hardware_addr
                    ),
                    _ => f.write_str("ARP (malformed)"),
                }
            }
            EthernetProtocol::Ipv4 => {
                // Summaries keep 64 bytes: enough for the IP, UDP and ICMP headers.
                let Ok(ip) = Ipv4Packet::new_checked(eth.payload()).or_else(|_| {
                    let p = Ipv4Packet::new_unchecked(eth.payload());
                    if eth.payload().len() >= 20 {
                        Ok(p)
                    } else {
                        Err(())
                    }
                }) else {
                    return f.write_str("IPv4 (truncated)");
                };
                write!(f, "IPv4 {} > {} ", ip4(ip.src_addr()), ip4(ip.dst_addr()))?;
                let hl = usize::from(ip.header_len()).max(20);
                let payload = eth.payload().get(hl..).unwrap_or(&[]);
                match ip.next_header() {
                    IpProtocol::Udp if payload.len() >= 8 => {
                        let u = UdpPacket::new_unchecked(payload);
                        write!(f, "UDP {} > {} len {}", u.src_port(), u.dst_port(), u.len())
                    }
                    IpProtocol::Icmp if payload.len() >= 8 => {
                        let i = Icmpv4Packet::new_unchecked(payload);
                        match i.msg_type() {
                            Icmpv4Message::EchoRequest => write!(
                                f,
                                "ICMP echo request id {:#06x} seq {}",
                                i.echo_ident(),
                                i.echo_seq_no()
                            ),
                            Icmpv4Message::EchoReply => write!(
                                f,
                                "ICMP echo reply id {:#06x} seq {}",
                                i.echo_ident(),
                                i.echo_seq_no()
                            ),
                            t => write!(f, "ICMP {t}"),
                        }
                    }
                    p => write!(f, "protocol {}", u8::from(p)),
                }
            }
            other => write!(f, "EtherType {:#06x}", u16::from(other)),
        }
    }
}

/// Codes and summaries kept between two polls.
const LOG: usize = 32;

/// What [`FrameTrace`] saw.
#[derive(Default)]
pub struct TraceLog {
    /// Classify received frames against this transfer (tftp); `None` for ping.
    pub context: Option<TransferContext>,
    /// Keep [`Summary`] lines (ping with `trace on`).
    pub keep_summaries: bool,
    codes: heapless::Deque<TraceCode, LOG>,
    summaries: heapless::Deque<Summary, 8>,
    /// Frames and summaries that did not fit before the next drain.
    pub overflow: u32,
    pub rx_frames: u32,
    pub tx_frames: u32,
    /// The server's TCP segments to this local port, counted (`http`).
    pub tcp: Option<TcpCounts>,
    /// Hide the DHCP replies that would panic smoltcp ([`dhcp_guard::harmful`](super::dhcp_guard::harmful)),
    /// counting them in `guarded` (`address dhcp`). Done here rather than by a wrapper of
    /// its own so that every session shares one device stack (one copy of smoltcp's poll).
    pub guard_dhcp: bool,
    pub guarded: u32,
    /// The joined multicast group: its datagrams reach the transfer's socket
    /// ([`group_to_unicast`]).
    pub multicast: Option<GroupRoute>,
    /// An IGMP query asked after the joined group ([`asks_after`]) since the session last
    /// answered it with a report.
    pub igmp_asked: bool,
}

/// What a TCP server's data segments did, counted from the frames themselves (smoltcp does
/// not say): for `http` with `trace on`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TcpCounts {
    /// Segments to this local port are counted.
    pub port: u16,
    /// Data segments that brought nothing new (retransmissions, duplicates).
    pub repeated: u32,
    /// Data segments that arrived beyond a gap (a loss or a reordering before them).
    pub out_of_order: u32,
    /// One past the highest sequence number seen on this connection.
    high: Option<u32>,
}

impl TcpCounts {
    /// Counting for a new connection from `port`.
    pub fn connection(&mut self, port: u16) {
        self.port = port;
        self.high = None;
    }

    fn watch(&mut self, frame: &[u8]) -> Option<()> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        if eth.ethertype() != EthernetProtocol::Ipv4 {
            return None;
        }
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        if ip.next_header() != IpProtocol::Tcp {
            return None;
        }
        let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
        if tcp.dst_port() != self.port {
            return None;
        }
        let seq = tcp.seq_number().0 as u32;
        if tcp.syn() {
            self.high = Some(seq.wrapping_add(1));
            return None;
        }
        let high = self.high?;
        let len = tcp.payload().len() as u32;
        let end = seq.wrapping_add(len);
        if len == 0 {
            return None;
        }
        if (end.wrapping_sub(high) as i32) <= 0 {
            self.repeated += 1;
        } else {
            if (seq.wrapping_sub(high) as i32) > 0 {
                self.out_of_order += 1;
            }
            self.high = Some(end);
        }
        Some(())
    }
}

impl TraceLog {
    pub fn new(context: Option<TransferContext>, keep_summaries: bool) -> Self {
        TraceLog {
            context,
            keep_summaries,
            ..Default::default()
        }
    }

    /// Records a frame; `true` when it must not reach smoltcp.
    fn observe(&mut self, frame: &[u8], outgoing: bool) -> bool {
        if !outgoing && self.guard_dhcp && super::dhcp_guard::harmful(frame) {
            self.guarded = self.guarded.wrapping_add(1);
            return true;
        }
        if outgoing {
            self.tx_frames = self.tx_frames.wrapping_add(1);
        } else {
            self.rx_frames = self.rx_frames.wrapping_add(1);
            if let Some(tcp) = &mut self.tcp {
                tcp.watch(frame);
            }
            if let Some(ctx) = &self.context {
                if let Some(code) = classify(frame, ctx) {
                    if self.codes.push_back(code).is_err() {
                        self.overflow += 1;
                    }
                }
            }
        }
        if self.keep_summaries
            && self
                .summaries
                .push_back(Summary::new(frame, outgoing))
                .is_err()
        {
            self.overflow += 1;
        }
        false
    }

    /// The next classifier code, oldest first.
    pub fn next_code(&mut self) -> Option<TraceCode> {
        self.codes.pop_front()
    }

    /// The next frame summary, oldest first.
    pub fn next_summary(&mut self) -> Option<Summary> {
        self.summaries.pop_front()
    }
}

/// A `phy::Device` that records every frame in a [`TraceLog`].
pub struct FrameTrace<'l, D: Device> {
    inner: D,
    log: &'l RefCell<TraceLog>,
}

impl<'l, D: Device> FrameTrace<'l, D> {
    pub fn new(inner: D, log: &'l RefCell<TraceLog>) -> Self {
        FrameTrace { inner, log }
    }
}

impl<D: Device> Device for FrameTrace<'_, D> {
    type RxToken<'a>
        = TraceRx<'a, D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = TraceTx<'a, D::TxToken<'a>>
    where
        Self: 'a;

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }

    fn receive(&mut self, timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let log = self.log;
        self.inner
            .receive(timestamp)
            .map(|(rx, tx)| (TraceRx { token: rx, log }, TraceTx { token: tx, log }))
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<Self::TxToken<'_>> {
        let log = self.log;
        self.inner
            .transmit(timestamp)
            .map(|tx| TraceTx { token: tx, log })
    }
}

pub struct TraceRx<'a, T: phy::RxToken> {
    token: T,
    log: &'a RefCell<TraceLog>,
}

impl<T: phy::RxToken> phy::RxToken for TraceRx<'_, T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let log = self.log;
        self.token.consume(|frame| {
            let mut l = log.borrow_mut();
            if l.observe(frame, false) {
                drop(l);
                return f(&[]);
            }
            let mc = l.multicast;
            if let Some(route) = mc {
                l.igmp_asked |= asks_after(frame, *route.group.ip());
            }
            drop(l);
            if let Some(route) = mc {
                let mut copy = [0u8; 1536];
                if let Some(n) = group_to_unicast(frame, &route, &mut copy) {
                    return f(&copy[..n]);
                }
            }
            f(frame)
        })
    }
}

pub struct TraceTx<'a, T: phy::TxToken> {
    token: T,
    log: &'a RefCell<TraceLog>,
}

impl<T: phy::TxToken> phy::TxToken for TraceTx<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let log = self.log;
        self.token.consume(len, |frame| {
            let r = f(frame);
            log.borrow_mut().observe(frame, true);
            r
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::EthernetAddress;

    const US: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
    const CTX: TransferContext = TransferContext {
        local_ip: US,
        local_port: 3001,
        group: None,
    };

    /// An Ethernet/IPv4/UDP frame from the server's MAC to ours.
    fn udp_frame(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let macs = (
            EthernetAddress([2, 0, 0, 0, 0, 2]),
            EthernetAddress([2, 0, 0, 0, 0, 1]),
        );
        crate::net::test_frames::udp_frame(macs, (src, sport), (dst, dport), payload)
    }

    fn good() -> Vec<u8> {
        udp_frame(SERVER, US, 40000, 3001, &[0, 3, 0, 1, 9, 9])
    }

    /// An IGMP message from the querier 10.0.2.1 to 224.0.0.1 in an IPv4 header with the
    /// Router Alert option (as Linux and switches send queries), checksums filled.
    fn igmp(msg: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 24 + msg.len()];
        f[..6].copy_from_slice(&[0x01, 0, 0x5E, 0, 0, 1]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14..38].copy_from_slice(&[
            0x46, 0xC0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 10, 0, 2, 1, 224, 0, 0, 1, 0x94, 4, 0, 0,
        ]);
        f[16..18].copy_from_slice(&((24 + msg.len()) as u16).to_be_bytes());
        f[38..].copy_from_slice(msg);
        Ipv4Packet::new_unchecked(&mut f[14..]).fill_checksum();
        IgmpPacket::new_unchecked(&mut f[38..]).fill_checksum();
        f
    }

    #[test]
    fn an_igmp_query_for_the_group_or_for_all_asks_for_a_report() {
        let g = Ipv4Addr::new(239, 255, 0, 1);
        let general_v2 = igmp(&[0x11, 100, 0, 0, 0, 0, 0, 0]);
        let for_g = igmp(&[0x11, 10, 0, 0, 239, 255, 0, 1]);
        let general_v1 = igmp(&[0x11, 0, 0, 0, 0, 0, 0, 0]);
        let general_v3 = igmp(&[0x11, 100, 0, 0, 0, 0, 0, 0, 2, 125, 0, 0]);
        for q in [&general_v2, &for_g, &general_v1, &general_v3] {
            assert!(asks_after(q, g), "{q:02x?}");
        }
        // Another group's query, a report, a leave, a cut message, a bad IGMP or IPv4
        // checksum, another protocol with the same bytes, not IPv4, a cut frame: no report.
        let mut bad_igmp = general_v2.clone();
        bad_igmp[39] ^= 1;
        let mut bad_ip = general_v2.clone();
        bad_ip[22] ^= 1;
        let mut udp = general_v2.clone();
        udp[23] = 17;
        Ipv4Packet::new_unchecked(&mut udp[14..]).fill_checksum();
        let mut arp = general_v2.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        for q in [
            igmp(&[0x11, 10, 0, 0, 239, 255, 0, 2]),
            igmp(&[0x16, 0, 0, 0, 239, 255, 0, 1]),
            igmp(&[0x17, 0, 0, 0, 239, 255, 0, 1]),
            igmp(&[0x11, 100, 0, 0, 0, 0, 0]),
            bad_igmp,
            bad_ip,
            udp,
            arp,
            general_v2[..40].to_vec(),
        ] {
            assert!(!asks_after(&q, g), "{q:02x?}");
        }
    }

    #[test]
    fn a_datagram_from_the_server_to_the_group_reaches_the_transfer_socket() {
        let route = GroupRoute {
            group: SocketAddrV4::new(Ipv4Addr::new(239, 255, 0, 1), 1758),
            server: SocketAddrV4::new(SERVER, 40000),
            local: SocketAddrV4::new(US, 3001),
        };
        let g = *route.group.ip();
        let payload = [0, 3, 0, 7, 1, 2, 3];
        let frame = udp_frame(SERVER, g, 40000, 1758, &payload);
        let mut out = [0u8; 1536];
        let n = group_to_unicast(&frame, &route, &mut out).expect("rewritten");
        let eth = EthernetFrame::new_checked(&out[..n]).unwrap();
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!((ip.src_addr(), ip.dst_addr()), (SERVER, US));
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert!(udp.verify_checksum(&IpAddress::Ipv4(SERVER), &IpAddress::Ipv4(US)));
        assert_eq!((udp.src_port(), udp.dst_port()), (40000, 3001));
        assert_eq!(udp.payload(), &payload);
        // The same without a UDP checksum (0: none sent) is taken too, and gets one.
        let mut none = frame.clone();
        none[40..42].copy_from_slice(&[0, 0]);
        assert!(group_to_unicast(&none, &route, &mut out).is_some());
        // Another group or port, another sender (address or port), not for a group, not
        // UDP, a bad checksum, a fragment, a frame larger than the copy: untouched.
        let stray = Ipv4Addr::new(10, 0, 2, 99);
        let mut tcp = frame.clone();
        tcp[23] = 6;
        let mut corrupt = frame.clone();
        corrupt[44] ^= 1;
        let mut frag = frame.clone();
        frag[20] |= 0x20;
        for f in [
            udp_frame(SERVER, Ipv4Addr::new(239, 255, 0, 2), 40000, 1758, &payload),
            udp_frame(SERVER, g, 40000, 1759, &payload),
            udp_frame(stray, g, 40000, 1758, &payload),
            udp_frame(SERVER, g, 40001, 1758, &payload),
            udp_frame(SERVER, US, 40000, 1758, &payload),
            tcp,
            corrupt,
            frag,
        ] {
            assert_eq!(group_to_unicast(&f, &route, &mut out), None);
        }
        assert_eq!(group_to_unicast(&frame, &route, &mut out[..20]), None);
        for n in 0..frame.len() {
            assert_eq!(group_to_unicast(&frame[..n], &route, &mut out), None);
        }
    }

    #[test]
    fn a_good_tftp_frame_has_no_code() {
        assert_eq!(classify(&good(), &CTX), None);
    }

    #[test]
    fn each_drop_reason_has_its_code() {
        assert_eq!(classify(&good()[..10], &CTX), Some(TraceCode::ShortPacket));
        let mut arp = good();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(classify(&arp, &CTX), Some(TraceCode::Arp));
        let mut v6 = good();
        v6[12..14].copy_from_slice(&[0x86, 0xDD]);
        assert_eq!(classify(&v6, &CTX), Some(TraceCode::NonIp(0x86DD)));
        assert_eq!(format!("{}", classify(&v6, &CTX).unwrap()), "(34525)");
        let mut ihl = good();
        ihl[14] = 0x44; // IHL 4 words = 16 bytes
        assert_eq!(classify(&ihl, &CTX), Some(TraceCode::ShortIpHeader));
        let other = udp_frame(
            SERVER,
            Ipv4Addr::new(10, 0, 2, 99),
            40000,
            3001,
            &[0, 3, 0, 1],
        );
        assert_eq!(classify(&other, &CTX), Some(TraceCode::WrongDestination));
        let bcast = udp_frame(SERVER, Ipv4Addr::BROADCAST, 40000, 3001, &[0, 3, 0, 1]);
        assert_eq!(classify(&bcast, &CTX), None);
        let mut tcp = good();
        tcp[14 + 9] = 6;
        // Fix the IP checksum after changing the protocol.
        let mut p = Ipv4Packet::new_unchecked(&mut tcp[14..]);
        p.fill_checksum();
        assert_eq!(classify(&tcp, &CTX), Some(TraceCode::NotUdp));
        let mut sum = good();
        let n = sum.len();
        sum[n - 1] ^= 0xFF;
        assert_eq!(classify(&sum, &CTX), Some(TraceCode::BadChecksum));
        let port = udp_frame(SERVER, US, 40000, 3002, &[0, 3, 0, 1]);
        assert_eq!(classify(&port, &CTX), Some(TraceCode::WrongPorts));
    }

    #[test]
    fn summaries_read_like_tcpdump() {
        let s = format!("{}", Summary::new(&good(), false));
        assert_eq!(
            s,
            "in    48 IPv4 10.0.2.2 > 10.0.2.15 UDP 40000 > 3001 len 14"
        );
        assert_eq!(
            format!("{}", Summary::new(&[1, 2, 3], true)),
            "out    3 runt frame"
        );
    }

    #[test]
    fn malformed_frames_never_panic() {
        let g = good();
        for n in 0..g.len() {
            let _ = classify(&g[..n], &CTX);
            let _ = format!("{}", Summary::new(&g[..n], false));
        }
        let mut rng = lifeboat_qemu::rng::XorShift::new(0x1234_5678);
        for _ in 0..5000 {
            let mut f = g.clone();
            for _ in 0..4 {
                let i = rng.below(f.len() as u64) as usize;
                f[i] = rng.byte();
            }
            let _ = classify(&f, &CTX);
            let _ = format!("{}", Summary::new(&f, true));
        }
    }
}
