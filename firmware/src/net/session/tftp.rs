//! `tftp`: the [`TftpClient`] over a smoltcp UDP socket, with the progress dots, the trace
//! codes and, when the server grants RFC 2090 multicast, the IGMP membership of the group.
use core::cell::RefCell;
use core::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::iface::{SocketSet, SocketStorage};
use smoltcp::phy::Device;
use smoltcp::socket::udp;
use smoltcp::storage::PacketMetadata;
use smoltcp::time::Duration;
use smoltcp::wire::{IpAddress, IpEndpoint};

use super::{
    diagnose_arp, interface, received, route, send_frame, ArpPrimer, Clock, Console, Dots,
    Download, Landing, TypeAhead, KEY_POLL,
};
use crate::image::StreamCheck;
use crate::net::arp_watch::{ArpState, ArpWatch};
use crate::net::tftp::{ClientConfig, Event, TftpClient, TftpError, TraceCode};
use crate::net::trace::{FrameTrace, GroupRoute, TraceLog, TransferContext};
use crate::settings::Settings;

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

/// The TFTP socket's buffers: a window of 8 full blocks (and some) must fit.
const RX_PACKETS: usize = 32;
const RX_BYTES: usize = RX_PACKETS * 1536;

/// An IGMPv2 Membership Report for `group` (`join`), or a Leave Group to 224.0.0.2 (RFC 2236),
/// from `mac`/`ip`: IPv4 with Router Alert, TTL 1. Built here rather than by smoltcp's
/// `multicast` feature (see [`group_to_unicast`](crate::net::trace::group_to_unicast)); a switch
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

/// Bytes hashed per idle turn of the session loop ([`Landing::catch_up`]).
const CATCH_UP: usize = 512;

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
    // Every block is written through `landing`, which hashes it as it lands in order.
    let mut landing = Landing {
        buf,
        check: StreamCheck::default(),
    };
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
        let mut got = false;
        while let Ok((data, meta)) = sock.recv() {
            let IpAddress::Ipv4(ip) = meta.endpoint.addr;
            let from = SocketAddrV4::new(ip, meta.endpoint.port);
            client.on_datagram(now, from, data, &mut landing, &mut on_event);
            got = true;
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
        // Nothing came: hash a little of what landed while the server sends the next
        // blocks (a little, so that the next DATA waits at most that long for its ACK).
        if !got && !sent {
            landing.catch_up(CATCH_UP);
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
        Some(Ok(len)) => {
            let streamed = landing.finish(len);
            Some(received(
                con,
                landing.buf,
                len,
                (end - start).total_micros(),
                streamed,
            ))
        }
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
