//! `http [URL]`: the [`HttpClient`] over a smoltcp TCP socket, in the same shape as the
//! `tftp` session (progress dots, ESC, `Received N bytes in S s (R MiB/s), CRC-32 ...`).
//!
//! Throughput over a long path comes from the receive window: the TCP receive ring is carved
//! from the end of the download buffer (up to [`RING`], 2 MiB, so smoltcp offers window
//! scaling), the body is copied out of it as it arrives, and nothing per segment goes to the
//! console.
//!
//! Waits end on their own: a connection that brings nothing for `STALL` is resumed, and a
//! download that brings fewer than [`SLOW_BYTES`] in [`SLOW_SECONDS`] (a silent server, a
//! window that stays shut, a trickle) fails with one line; ESC ends any wait sooner.
use core::cell::RefCell;
use core::net::Ipv4Addr;

use smoltcp::iface::{SocketSet, SocketStorage};
use smoltcp::phy::Device;
use smoltcp::socket::{tcp, udp};
use smoltcp::storage::PacketMetadata;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpAddress;

use super::client::{Event, HttpClient, HttpError, SLOW_BYTES, SLOW_SECONDS};
use crate::net::arp_watch::{ArpState, ArpWatch};
use crate::net::dns;
use crate::net::session::{
    diagnose_arp, interface, received, route, ArpPrimer, Clock, Console, Dots, Download, TypeAhead,
    KEY_POLL,
};
use crate::net::trace::{FrameTrace, TcpCounts, TraceLog};
use crate::settings::Settings;

/// Largest TCP receive ring (the window offered, with scaling).
pub const RING: usize = 2 << 20;
/// A connection that does not come up in this time is tried again.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// An open connection that brings nothing for this long is given up (and resumed).
const STALL: Duration = Duration::from_secs(20);
/// Pause before connecting again after a failure.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// DNS tries for one name, and the wait for each.
const DNS_TRIES: u32 = 3;
const DNS_WAIT: Duration = Duration::from_secs(2);

/// One host-name lookup in progress.
struct Lookup {
    server: Ipv4Addr,
    /// This unit's address: no answer for another host.
    own: Ipv4Addr,
    id: u16,
    tries: u32,
    next: Instant,
    done: Option<Result<Ipv4Addr, HttpError>>,
}

impl Lookup {
    fn new(server: Ipv4Addr, own: Ipv4Addr, id: u16, now: Instant) -> Self {
        Lookup {
            server,
            own,
            id,
            tries: 0,
            next: now,
            done: None,
        }
    }

    /// Sends the query (again) when due, reads the answers; sets `done`.
    fn poll(&mut self, sock: &mut udp::Socket<'_>, name: &str, now: Instant) {
        while let Ok((data, meta)) = sock.recv() {
            if meta.endpoint.addr != IpAddress::Ipv4(self.server) || meta.endpoint.port != dns::PORT
            {
                continue;
            }
            match dns::answer(self.id, data) {
                Err(dns::DnsError::NotOurs) => {}
                Ok(ip) if ip == self.own => {
                    self.done = Some(Err(HttpError::Dns(dns::DnsError::OwnAddress(ip))))
                }
                Ok(ip) => self.done = Some(Ok(ip)),
                Err(e) => self.done = Some(Err(HttpError::Dns(e))),
            }
        }
        if self.done.is_some() || now < self.next {
            return;
        }
        if self.tries == DNS_TRIES {
            self.done = Some(Err(HttpError::DnsTimeout));
            return;
        }
        let mut q = [0u8; dns::MAX_QUERY];
        match dns::query(self.id, name, &mut q) {
            Ok(n) => {
                let _ = sock.send_slice(&q[..n], (IpAddress::Ipv4(self.server), dns::PORT));
            }
            Err(e) => self.done = Some(Err(HttpError::Dns(e))),
        }
        self.tries += 1;
        self.next = now + DNS_WAIT;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// No connection; the next one no earlier than this.
    Idle(Instant),
    Connecting(Instant),
    /// Established; the last time data came.
    Open(Instant),
}

/// `http`: downloads `url` into `buf`, printing `http URL`, progress dots, then
/// `Received N bytes ...` or `http: <why>`. Returns the download when the file arrived whole.
#[allow(clippy::too_many_arguments)]
pub fn http<D: Device, K: Console + ?Sized>(
    dev: &mut D,
    mac: [u8; 6],
    clock: &impl Clock,
    con: &mut K,
    s: &Settings,
    url: &str,
    buf: &mut [u8],
    seed: u64,
    typeahead: &mut TypeAhead,
) -> Option<Download> {
    let mut client = match HttpClient::new(url) {
        Ok(c) => c,
        Err(e) => {
            let _ = write!(con, "http: {e}\r\n");
            return None;
        }
    };
    let Some(local_ip) = s.address else {
        let _ = write!(con, "http: set this unit's address first\r\n");
        return None;
    };
    let ring_len = RING.min(buf.len() / 2);
    let split = buf.len() - ring_len;
    let (buf, ring) = buf.split_at_mut(split);
    let arp = ArpState::default();
    let mut log = TraceLog::new(None, false);
    log.tcp = Some(TcpCounts::default());
    let log = RefCell::new(log);
    let start = clock.now();
    // The same device stack as `tftp` and `ping`: one copy of smoltcp's poll in the binary.
    let mut dev = FrameTrace::new(ArpWatch::new(dev, &arp), &log);
    // An address URL whose host cannot be reached says so before any frame; a name is
    // looked up when the connection is wanted (a redirect may name another host).
    if let Some(ip) = client.url().ip() {
        if let Err(e) = route(s, ip) {
            let _ = write!(con, "http: {e}\r\n");
            return None;
        }
    } else if s.dns.is_none() {
        let _ = write!(con, "http: {}\r\n", HttpError::NoDnsServer);
        return None;
    }
    let first = match route(s, local_ip) {
        Ok(r) => r,
        Err(e) => {
            let _ = write!(con, "http: {e}\r\n");
            return None;
        }
    };
    let mut iface = interface(&mut dev, mac, Some(first.cidr), s.gateway, start, seed);
    let mut tx = [0u8; 1024];
    let mut sock = tcp::Socket::new(
        tcp::SocketBuffer::new(&mut ring[..]),
        tcp::SocketBuffer::new(&mut tx[..]),
    );
    sock.set_nagle_enabled(false);
    // A UDP socket for DNS lookups.
    let mut dns_rx_meta = [PacketMetadata::EMPTY; 2];
    let mut dns_rx = [0u8; 1024];
    let mut dns_tx_meta = [PacketMetadata::EMPTY; 2];
    let mut dns_tx = [0u8; dns::MAX_QUERY + 16];
    let mut dns_sock = udp::Socket::new(
        udp::PacketBuffer::new(&mut dns_rx_meta[..], &mut dns_rx[..]),
        udp::PacketBuffer::new(&mut dns_tx_meta[..], &mut dns_tx[..]),
    );
    let _ = dns_sock.bind(49152 + ((seed >> 20) % 16384) as u16);
    let mut storage = [SocketStorage::EMPTY; 2];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let h = sockets.add(sock);
    let h_dns = sockets.add(dns_sock);
    let mut lookup: Option<Lookup> = None;

    let trace = s.trace;
    let _ = write!(con, "http {}", client.url_text());
    let mut dots = Dots::default();
    let mut conn = Conn::Idle(start);
    let mut route_now = first;
    let mut primer = ArpPrimer { next: start };
    let mut port = 49152 + (seed % 16384) as u16;
    let mut next_key = start;
    // Since when, and from which byte, the download is expected to bring SLOW_BYTES.
    let mut slow_mark = (start, 0u64);
    let mut end = start;
    let mut req = heapless::Vec::<u8, 512>::new();
    let mut ev = |con: &mut K, e: Event<'_>| match e {
        Event::Progress(bytes) => dots.show(con, bytes),
        Event::Status(code) if trace => {
            let _ = write!(con, "[{code}]");
        }
        Event::Redirect(to) => {
            let _ = write!(con, "\r\nredirected to {to}");
        }
        Event::Resume(from) => {
            let _ = write!(con, "[resume from byte {from}]");
        }
        Event::Restart => {
            let _ = write!(con, "[the server sent the whole file again]");
        }
        _ => {}
    };
    loop {
        let now = clock.now();
        if let Conn::Idle(after) = conn {
            if client.wants_connection() && now >= after {
                let u = client.url();
                let ip = match (u.ip(), &mut lookup) {
                    (Some(ip), _) => ip,
                    (None, Some(l)) if l.done.is_some() => {
                        let r = l.done.take();
                        lookup = None;
                        match r {
                            Some(Ok(ip)) => {
                                if trace {
                                    let _ = write!(con, "[{} is {ip}]", u.host);
                                }
                                ip
                            }
                            Some(Err(e)) => {
                                client.fail(e);
                                break;
                            }
                            None => continue,
                        }
                    }
                    (None, Some(l)) => {
                        l.poll(sockets.get_mut::<udp::Socket>(h_dns), u.host, now);
                        iface.poll(now, &mut dev, &mut sockets);
                        if typeahead.key(con) {
                            client.fail(HttpError::Aborted);
                            break;
                        }
                        continue;
                    }
                    (None, None) => {
                        let Some(server) = s.dns else {
                            client.fail(HttpError::NoDnsServer);
                            break;
                        };
                        match route(s, server) {
                            Ok(r) => route_now = r,
                            Err(e) => {
                                client.fail(HttpError::Route(e));
                                break;
                            }
                        }
                        lookup = Some(Lookup::new(server, local_ip, seed as u16, now));
                        continue;
                    }
                };
                match route(s, ip) {
                    Ok(r) => route_now = r,
                    Err(e) => {
                        client.fail(HttpError::Route(e));
                        break;
                    }
                }
                port = if port == u16::MAX { 49152 } else { port + 1 };
                if let Some(t) = &mut log.borrow_mut().tcp {
                    t.connection(port);
                }
                let sock = sockets.get_mut::<tcp::Socket>(h);
                if sock
                    .connect(iface.context(), (IpAddress::Ipv4(ip), u.port), port)
                    .is_err()
                {
                    client.fail(HttpError::NoConnection);
                    break;
                }
                if trace {
                    let _ = write!(con, "[SYN {ip}:{}]", u.port);
                }
                conn = Conn::Connecting(now);
            }
        }
        primer.poll(&mut dev, &arp, mac, local_ip, route_now.next_hop, now);
        iface.poll(now, &mut dev, &mut sockets);
        let sock = sockets.get_mut::<tcp::Socket>(h);
        match conn {
            Conn::Connecting(since) => {
                if sock.state() == tcp::State::Established {
                    if trace {
                        let _ = write!(con, "[established]");
                    }
                    match client.on_connected(&mut req) {
                        Ok(()) => {
                            let _ = sock.send_slice(&req);
                            conn = Conn::Open(now);
                        }
                        Err(e) => {
                            client.fail(e);
                        }
                    }
                } else if sock.state() == tcp::State::Closed || now - since > CONNECT_TIMEOUT {
                    if trace {
                        let _ = write!(con, "[no connection]");
                    }
                    sock.abort();
                    client.on_connect_failed(&mut |e| ev(con, e));
                    conn = Conn::Idle(now + RETRY_PAUSE);
                }
            }
            Conn::Open(last) => {
                let mut got = false;
                while sock.can_recv() {
                    // Everything is taken off the ring (the window stays open); bytes after
                    // an outcome or a redirect are dropped with the connection.
                    let r = sock.recv(|data| {
                        if client.outcome().is_none() && !client.wants_connection() {
                            client.on_data(data, buf, &mut |e| ev(con, e));
                        }
                        (data.len(), data.len())
                    });
                    match r {
                        Ok(n) if n > 0 => got = true,
                        _ => break,
                    }
                }
                if got {
                    conn = Conn::Open(now);
                }
                if client.outcome().is_some() || client.wants_connection() {
                    // Done, failed, or redirected: this connection has nothing more to give.
                    if client.outcome().is_some_and(|r| r.is_ok()) {
                        sock.close();
                    } else {
                        sock.abort();
                    }
                    iface.poll(now, &mut dev, &mut sockets);
                    if client.outcome().is_some() {
                        end = now;
                        break;
                    }
                    conn = Conn::Idle(now);
                    continue;
                }
                let closed = !sock.may_recv() || sock.state() == tcp::State::Closed;
                if closed || now - last > STALL {
                    if trace {
                        let (reached, _) = client.progress();
                        let why = if closed { "closed" } else { "stalled" };
                        let _ = write!(con, "[connection {why} at byte {reached}]");
                    }
                    sock.abort();
                    iface.poll(now, &mut dev, &mut sockets);
                    client.on_closed(&mut |e| ev(con, e));
                    conn = Conn::Idle(now + RETRY_PAUSE);
                }
            }
            Conn::Idle(_) => {}
        }
        if client.outcome().is_some() {
            end = now;
            break;
        }
        if now >= next_key {
            next_key = now + KEY_POLL;
            let (reached, _) = client.progress();
            // Progress, or a restart from byte 0 (which wraps): a new period.
            if reached.wrapping_sub(slow_mark.1) >= SLOW_BYTES {
                slow_mark = (now, reached);
            }
            let stop = if typeahead.key(con) {
                Some(HttpError::Aborted)
            } else if now - slow_mark.0 > Duration::from_secs(SLOW_SECONDS) {
                Some(HttpError::TooSlow(reached - slow_mark.1))
            } else {
                None
            };
            if let Some(e) = stop {
                client.fail(e);
                sockets.get_mut::<tcp::Socket>(h).abort();
                iface.poll(now, &mut dev, &mut sockets);
                break;
            }
        }
    }
    let _ = write!(con, "\r\n");
    if trace {
        let l = log.borrow();
        let t = l.tcp.unwrap_or_default();
        let _ = write!(
            con,
            "trace: {} frames in, {} out; server segments repeated {}, out of order {}\r\n",
            l.rx_frames, l.tx_frames, t.repeated, t.out_of_order
        );
    }
    match client.outcome() {
        Some(Ok(len)) => Some(received(con, buf, *len, (end - start).total_micros(), None)),
        Some(Err(e)) => {
            let _ = write!(con, "http: {e}\r\n");
            if matches!(e, HttpError::NoConnection) {
                diagnose_arp(con, &arp, &route_now, s.interface);
            }
            None
        }
        None => None,
    }
}
