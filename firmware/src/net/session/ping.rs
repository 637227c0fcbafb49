//! `ping`: the echoes over a smoltcp ICMP socket, counted by [`PingSession`].
use core::cell::RefCell;
use core::net::Ipv4Addr;

use smoltcp::iface::{SocketSet, SocketStorage};
use smoltcp::phy::Device;
use smoltcp::socket::icmp;
use smoltcp::storage::PacketMetadata;
use smoltcp::wire::IpAddress;

use super::{interface, route, ArpDiagnosis, ArpPrimer, Clock, Console, TypeAhead};
use crate::net::arp_watch::{ArpState, ArpWatch};
use crate::net::echo;
use crate::net::ping::PingSession;
use crate::net::trace::{FrameTrace, TraceLog};
use crate::settings::Settings;

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
