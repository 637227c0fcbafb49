//! `http` end to end on the host: the session's smoltcp stack against a second smoltcp stack
//! playing the server (a TCP listener that serves a file, cuts, refuses or stalls), joined by
//! a simulated wire that loses, duplicates and reorders frames from a seeded PRNG, on a
//! simulated clock. The server runs inside the unit's device: every time the session polls
//! the wire, the server polls too.
use std::boxed::Box;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::string::String;
use std::vec;
use std::vec::Vec;

use core::fmt::{self, Write};
use core::net::Ipv4Addr;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::{tcp, udp};
use smoltcp::storage::PacketMetadata;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

use super::session::http;
use crate::net::session::{Console, Key, TypeAhead};
use crate::settings::Settings;

const UNIT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const UNIT_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 0, 2];
const SERVER_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 0, 1];

use crate::net::test_frames::SimClock;

struct TestConsole {
    out: String,
    /// ESC after this many polls for a key.
    esc_at: Option<usize>,
    polls: usize,
}

impl Write for TestConsole {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.out.push_str(s);
        Ok(())
    }
}

impl Console for TestConsole {
    fn poll_key(&mut self) -> Option<Key> {
        self.polls += 1;
        (self.esc_at == Some(self.polls)).then_some(Key::Abort)
    }
}

/// What the server does with each connection, in order (the last one repeats).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    /// Serve the file (honouring `Range: bytes=N-`), cut with a reset after this many
    /// body bytes when given.
    Serve(Option<usize>),
    /// Take the request, send the head and this many body bytes, then go silent.
    Stall(usize),
    /// Take the request, send the head, then one body byte a second.
    Trickle,
}

struct Wire {
    to_unit: VecDeque<Vec<u8>>,
    to_server: VecDeque<Vec<u8>>,
    rng: u64,
    /// Per mille, each direction; ARP is never lost.
    loss: u64,
    reorder: u64,
    dup: u64,
}

impl Wire {
    fn roll(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % 1000
    }

    fn send(&mut self, to_unit: bool, frame: Vec<u8>) {
        let arp = frame.len() > 13 && frame[12..14] == [8, 6];
        if !arp && self.roll() < self.loss {
            return;
        }
        let dup = !arp && self.roll() < self.dup;
        let reorder = !arp && self.roll() < self.reorder;
        let q = if to_unit {
            &mut self.to_unit
        } else {
            &mut self.to_server
        };
        if dup {
            q.push_back(frame.clone());
        }
        if reorder && !q.is_empty() {
            let at = q.len() - 1;
            q.insert(at, frame);
        } else {
            q.push_back(frame);
        }
    }
}

/// The server's device: frames from the wire's `to_server` queue, out to `to_unit`.
struct ServerDev<'w>(&'w RefCell<Wire>);

struct Rx(Vec<u8>);
struct Tx<'w> {
    wire: &'w RefCell<Wire>,
    to_unit: bool,
}

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut b = vec![0u8; len];
        let r = f(&mut b);
        self.wire.borrow_mut().send(self.to_unit, b);
        r
    }
}

fn caps() -> DeviceCapabilities {
    let mut c = DeviceCapabilities::default();
    c.medium = Medium::Ethernet;
    c.max_transmission_unit = 1514;
    c
}

impl Device for ServerDev<'_> {
    type RxToken<'a>
        = Rx
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;
    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let f = self.0.borrow_mut().to_server.pop_front()?;
        Some((
            Rx(f),
            Tx {
                wire: self.0,
                to_unit: true,
            },
        ))
    }
    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx {
            wire: self.0,
            to_unit: true,
        })
    }
    fn capabilities(&self) -> DeviceCapabilities {
        caps()
    }
}

struct Server {
    iface: Interface,
    sockets: SocketSet<'static>,
    h: SocketHandle,
    /// A DNS server on port 53: `files.example` is the server, `me.example` the unit,
    /// anything else NXDOMAIN.
    h_dns: SocketHandle,
    listening: bool,
    file: Vec<u8>,
    acts: Vec<Act>,
    conn: usize,
    req: Vec<u8>,
    /// The response being sent, and how much of it has gone.
    out: Vec<u8>,
    sent: usize,
    /// Stop sending after this many bytes of `out` (then reset or stall).
    limit: Option<(usize, bool)>,
    /// With [`Act::Trickle`]: when the limit grows by the next byte.
    trickle: Option<Instant>,
    requests: Vec<String>,
}

fn leak<T>(v: Vec<T>) -> &'static mut [T] {
    Box::leak(v.into_boxed_slice())
}

impl Server {
    fn new(wire: &RefCell<Wire>, file: Vec<u8>, acts: Vec<Act>, listen: bool) -> Self {
        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(SERVER_MAC)));
        cfg.random_seed = 7;
        let mut iface = Interface::new(cfg, &mut ServerDev(wire), Instant::from_micros(0));
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(SERVER), 24));
        });
        let sock = tcp::Socket::new(
            tcp::SocketBuffer::new(leak(vec![0u8; 8192])),
            tcp::SocketBuffer::new(leak(vec![0u8; 256 * 1024])),
        );
        let storage: &'static mut [SocketStorage<'static>] =
            Box::leak(Box::new([SocketStorage::EMPTY; 2]));
        let mut sockets = SocketSet::new(storage);
        let h = sockets.add(sock);
        let mut dns = udp::Socket::new(
            udp::PacketBuffer::new(leak(vec![PacketMetadata::EMPTY; 4]), leak(vec![0u8; 2048])),
            udp::PacketBuffer::new(leak(vec![PacketMetadata::EMPTY; 4]), leak(vec![0u8; 2048])),
        );
        dns.bind(53).unwrap();
        let h_dns = sockets.add(dns);
        Server {
            iface,
            sockets,
            h,
            h_dns,
            listening: listen,
            file,
            acts,
            conn: 0,
            req: Vec::new(),
            out: Vec::new(),
            sent: 0,
            limit: None,
            trickle: None,
            requests: Vec::new(),
        }
    }

    fn poll(&mut self, wire: &RefCell<Wire>, now: Instant) {
        self.iface
            .poll(now, &mut ServerDev(wire), &mut self.sockets);
        let d = self.sockets.get_mut::<udp::Socket>(self.h_dns);
        while let Ok((q, meta)) = d.recv() {
            let mut r = q.to_vec();
            r[2] = 0x81;
            r[3] = 0x80;
            // `me.example` is the unit's own address (a DNS server's mistake).
            let me = q.windows(3).any(|w| w == b"\x02me");
            if q.windows(6).any(|w| w == b"\x05files") || me {
                r[7] = 1;
                r.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                r.extend_from_slice(&if me { UNIT } else { SERVER }.octets());
            } else {
                r[3] |= 3;
            }
            let _ = d.send_slice(&r, meta.endpoint);
        }
        let s = self.sockets.get_mut::<tcp::Socket>(self.h);
        if !s.is_open() {
            if self.listening {
                let _ = s.listen(80);
            }
            self.req.clear();
            self.out.clear();
            self.sent = 0;
            return;
        }
        while s.can_recv() {
            let _ = s.recv(|d| {
                self.req.extend_from_slice(d);
                (d.len(), ())
            });
        }
        if self.out.is_empty() && self.req.windows(4).any(|w| w == b"\r\n\r\n") {
            let req = String::from_utf8_lossy(&self.req).into_owned();
            let from = req
                .lines()
                .find_map(|l| l.strip_prefix("Range: bytes="))
                .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok())
                .unwrap_or(0);
            self.requests.push(req);
            let len = self.file.len();
            let mut out = if from > 0 {
                format!(
                    "HTTP/1.1 206 Partial\r\nContent-Length: {}\r\nContent-Range: bytes {from}-{}/{len}\r\n\r\n",
                    len - from,
                    len - 1
                )
            } else {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n")
            }
            .into_bytes();
            let head = out.len();
            out.extend_from_slice(&self.file[from..]);
            let act = self.acts[self.conn.min(self.acts.len() - 1)];
            self.conn += 1;
            self.limit = match act {
                Act::Serve(Some(n)) if from == 0 => Some((head + n, true)),
                Act::Serve(_) => None,
                Act::Stall(n) => Some((head + n, false)),
                Act::Trickle => Some((head, false)),
            };
            self.trickle = (act == Act::Trickle).then_some(now);
            self.out = out;
        }
        if let (Some(at), Some((n, _))) = (self.trickle, &mut self.limit) {
            if now >= at {
                *n += 1;
                self.trickle = Some(at + smoltcp::time::Duration::from_secs(1));
            }
        }
        let end = self
            .limit
            .map_or(self.out.len(), |(n, _)| n.min(self.out.len()));
        if self.sent < end && s.can_send() {
            let n = s.send_slice(&self.out[self.sent..end]).unwrap_or(0);
            self.sent += n;
        }
        if !self.out.is_empty() && self.sent == end && s.send_queue() == 0 {
            match self.limit {
                Some((_, true)) => s.abort(),
                Some((_, false)) => {}
                None => s.close(),
            }
        }
    }
}

/// The unit's NIC: the wire, with the server polled first at each look.
struct UnitDev<'a> {
    wire: &'a RefCell<Wire>,
    server: &'a RefCell<Server>,
    clock: &'a SimClock,
}

impl Device for UnitDev<'_> {
    type RxToken<'a>
        = Rx
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;
    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let now = Instant::from_micros(self.clock.0.get());
        self.server.borrow_mut().poll(self.wire, now);
        let f = self.wire.borrow_mut().to_unit.pop_front()?;
        Some((
            Rx(f),
            Tx {
                wire: self.wire,
                to_unit: false,
            },
        ))
    }
    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx {
            wire: self.wire,
            to_unit: false,
        })
    }
    fn capabilities(&self) -> DeviceCapabilities {
        caps()
    }
}

struct Outcome {
    out: String,
    got: Option<(u64, u32)>,
    buf: Vec<u8>,
    requests: Vec<String>,
}

fn file(n: usize) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run(
    data: &[u8],
    acts: Vec<Act>,
    listen: bool,
    net: (u64, u64, u64),
    esc_at: Option<usize>,
    room: usize,
    url: &str,
    dns: Option<Ipv4Addr>,
) -> Outcome {
    run_with(data, acts, listen, net, esc_at, room, url, dns, |_| {})
}

/// [`run`], with `setup` given the server before the download starts.
#[allow(clippy::too_many_arguments)]
fn run_with(
    data: &[u8],
    acts: Vec<Act>,
    listen: bool,
    (loss, dup, reorder): (u64, u64, u64),
    esc_at: Option<usize>,
    room: usize,
    url: &str,
    dns: Option<Ipv4Addr>,
    setup: impl FnOnce(&mut Server),
) -> Outcome {
    let wire = RefCell::new(Wire {
        to_unit: VecDeque::new(),
        to_server: VecDeque::new(),
        rng: 0x9E37_79B9_7F4A_7C15,
        loss,
        reorder,
        dup,
    });
    let mut server = Server::new(&wire, data.to_vec(), acts, listen);
    setup(&mut server);
    let server = RefCell::new(server);
    let clock = SimClock(Cell::new(0));
    let mut dev = UnitDev {
        wire: &wire,
        server: &server,
        clock: &clock,
    };
    let mut con = TestConsole {
        out: String::new(),
        esc_at,
        polls: 0,
    };
    let mut s = Settings::new();
    s.address = Some(UNIT);
    s.server = Some(SERVER);
    s.dns = dns;
    let mut buf = vec![0u8; room];
    let mut ta = TypeAhead::default();
    let got = http(
        &mut dev, UNIT_MAC, &clock, &mut con, &s, url, &mut buf, 42, &mut ta,
    );
    let requests = server.borrow().requests.clone();
    Outcome {
        out: con.out,
        got: got.map(|d| (d.len, d.crc32)),
        buf,
        requests,
    }
}

const URL: &str = "http://10.0.0.1/f.bin";

#[test]
fn a_file_arrives_whole_through_loss_duplication_and_reordering() {
    let data = file(3 << 20);
    for (loss, dup, reorder) in [(0, 0, 0), (20, 10, 30)] {
        let o = run(
            &data,
            vec![Act::Serve(None)],
            true,
            (loss, dup, reorder),
            None,
            8 << 20,
            URL,
            None,
        );
        assert_eq!(
            o.got,
            Some((data.len() as u64, crate::image::CRC32.checksum(&data))),
            "{}",
            o.out
        );
        assert_eq!(&o.buf[..data.len()], &data[..]);
        assert!(o.out.starts_with("http http://10.0.0.1/f.bin"), "{}", o.out);
        assert!(o.out.contains("Received 3145728 bytes in "), "{}", o.out);
        assert_eq!(o.requests.len(), 1);
    }
}

#[test]
fn a_reset_mid_body_is_resumed_from_the_byte_reached() {
    let data = file(1 << 20);
    let o = run(
        &data,
        vec![Act::Serve(Some(300_000)), Act::Serve(None)],
        true,
        (0, 0, 0),
        None,
        4 << 20,
        URL,
        None,
    );
    assert_eq!(o.got.map(|g| g.0), Some(data.len() as u64), "{}", o.out);
    assert_eq!(&o.buf[..data.len()], &data[..]);
    assert_eq!(o.requests.len(), 2, "{:?}", o.requests);
    let from: usize = o.requests[1]
        .lines()
        .find_map(|l| l.strip_prefix("Range: bytes="))
        .and_then(|r| r.trim_end_matches('-').parse().ok())
        .expect("a Range request");
    assert!((1..=300_000).contains(&from), "{from}");
    assert!(
        o.out.contains(&format!("[resume from byte {from}]")),
        "{}",
        o.out
    );
}

#[test]
fn a_server_that_goes_silent_is_given_up_on_and_resumed() {
    let data = file(200_000);
    let o = run(
        &data,
        vec![Act::Stall(50_000), Act::Serve(None)],
        true,
        (0, 0, 0),
        None,
        1 << 20,
        URL,
        None,
    );
    assert_eq!(o.got.map(|g| g.0), Some(data.len() as u64), "{}", o.out);
    assert_eq!(&o.buf[..data.len()], &data[..]);
    assert!(o.out.contains("[resume from byte 50000]"), "{}", o.out);
}

#[test]
fn nobody_listening_is_a_clear_error_after_the_tries() {
    let o = run(
        &file(10),
        vec![Act::Serve(None)],
        false,
        (0, 0, 0),
        None,
        4096,
        URL,
        None,
    );
    assert_eq!(o.got, None);
    assert!(
        o.out
            .ends_with("http: no connection to the server after 4 tries\r\n"),
        "{}",
        o.out
    );
}

#[test]
fn esc_stops_the_download_and_nothing_is_returned() {
    // The server stalls: only ESC ends the wait (the keys are looked at every 10 ms).
    let data = file(100_000);
    let o = run(
        &data,
        vec![Act::Stall(10_000)],
        true,
        (0, 0, 0),
        Some(20),
        1 << 20,
        URL,
        None,
    );
    assert_eq!(o.got, None);
    assert!(o.out.ends_with("http: aborted\r\n"), "{}", o.out);
    assert!(!o.out.contains("resume"), "{}", o.out);
}

#[test]
fn a_file_larger_than_the_buffer_is_refused_at_the_head() {
    // Half of the buffer is the TCP ring: 2 MiB of room for the body.
    let data = file((2 << 20) + 1);
    let o = run(
        &data,
        vec![Act::Serve(None)],
        true,
        (0, 0, 0),
        None,
        4 << 20,
        URL,
        None,
    );
    assert_eq!(o.got, None);
    assert!(
        o.out.contains("http: the file is 2097153 bytes, larger than the 2097152-byte download buffer; nothing was received"),
        "{}",
        o.out
    );
}

#[test]
fn a_host_name_or_an_off_subnet_server_without_gateway_is_refused_before_any_frame() {
    let o = run(
        &file(10),
        vec![],
        true,
        (0, 0, 0),
        None,
        4096,
        "http://files.example/f",
        None,
    );
    assert!(
        o.out
            .contains("the URL names a host and no DNS server is set"),
        "{}",
        o.out
    );
    let o = run(
        &file(10),
        vec![],
        true,
        (0, 0, 0),
        None,
        4096,
        "http://192.168.5.5/f",
        None,
    );
    assert!(
        o.out.contains("is not on this unit's subnet") && o.out.contains("no gateway is set"),
        "{}",
        o.out
    );
}

#[test]
fn a_host_name_is_resolved_by_the_dns_server() {
    let data = file(100_000);
    let o = run(
        &data,
        vec![Act::Serve(None)],
        true,
        (0, 0, 0),
        None,
        1 << 20,
        "http://files.example/f.bin",
        Some(SERVER),
    );
    assert_eq!(o.got.map(|g| g.0), Some(data.len() as u64), "{}", o.out);
    assert!(
        o.requests[0].contains("Host: files.example\r\n"),
        "{:?}",
        o.requests
    );
    let o = run(
        &data,
        vec![Act::Serve(None)],
        true,
        (0, 0, 0),
        None,
        1 << 20,
        "http://nowhere.example/f.bin",
        Some(SERVER),
    );
    assert!(
        o.out
            .ends_with("http: cannot resolve the host name: no such host\r\n"),
        "{}",
        o.out
    );
    // A DNS server that never answers: three tries, then one line.
    let o = run(
        &data,
        vec![Act::Serve(None)],
        true,
        (0, 0, 0),
        None,
        1 << 20,
        "http://files.example/f.bin",
        Some(Ipv4Addr::new(10, 0, 0, 9)),
    );
    assert!(
        o.out.ends_with("http: the DNS server did not answer\r\n"),
        "{}",
        o.out
    );
    // A DNS server this unit cannot reach: the route's one line, nothing sent.
    let o = run(
        &data,
        vec![Act::Serve(None)],
        true,
        (0, 0, 0),
        None,
        1 << 20,
        "http://files.example/f.bin",
        Some(Ipv4Addr::new(192, 168, 9, 9)),
    );
    assert!(
        o.out.ends_with(
            "http: 192.168.9.9 is not on this unit's subnet 10.0.0.0/24 and no gateway is set\r\n"
        ),
        "{}",
        o.out
    );
}

/// Issue 21, finding 7: a DNS server that gives the unit's own address as the host's is
/// named for what it did, not as a server that "did not answer".
#[test]
fn a_host_name_that_resolves_to_the_units_own_address_says_so() {
    let o = run(
        &file(100),
        vec![Act::Serve(None)],
        true,
        (0, 0, 0),
        None,
        1 << 20,
        "http://me.example/f.bin",
        Some(SERVER),
    );
    assert_eq!(o.got, None);
    assert!(
        o.out.ends_with(
            "http: cannot resolve the host name: the DNS server answered 10.0.0.2, this unit's own address\r\n"
        ),
        "{}",
        o.out
    );
    assert!(o.requests.is_empty());
}

/// Issue 21, finding 7: `http` has an idle and progress timeout. A server that takes the
/// connection and sends nothing, a server whose window stays shut, and a server that sends
/// one byte a second each end in one line after SLOW_SECONDS, with nobody pressing ESC.
#[test]
fn a_silent_a_shut_or_a_trickling_server_is_given_up_after_a_minute() {
    use crate::net::http::client::SLOW_SECONDS;
    let data = file(100_000);
    let silent = run(
        &data,
        vec![Act::Stall(0)],
        true,
        (0, 0, 0),
        None,
        1 << 20,
        URL,
        None,
    );
    let trickle = run(
        &data,
        vec![Act::Trickle],
        true,
        (0, 0, 0),
        None,
        1 << 20,
        URL,
        None,
    );
    // A receive window of zero: the request never gets through.
    let shut = run_with(
        &data,
        vec![Act::Serve(None)],
        true,
        (0, 0, 0),
        None,
        1 << 20,
        URL,
        None,
        |s| {
            s.sockets.remove(s.h);
            s.h = s.sockets.add(tcp::Socket::new(
                tcp::SocketBuffer::new(leak(vec![0u8; 0])),
                tcp::SocketBuffer::new(leak(vec![0u8; 1024])),
            ));
        },
    );
    for (what, o) in [("silent", &silent), ("shut", &shut)] {
        assert_eq!(o.got, None, "{what}");
        assert!(
            o.out
                .ends_with("http: the server sent 0 bytes in a minute\r\n"),
            "{what}: {}",
            o.out
        );
    }
    assert!(shut.requests.is_empty(), "the window stayed shut");
    assert_eq!(trickle.got, None);
    // One byte a second: about a minute's worth, then the line.
    let tail = trickle.out.rsplit("http: the server sent ").next().unwrap();
    let got: u64 = tail.split(' ').next().unwrap().parse().unwrap();
    assert!((55..=SLOW_SECONDS + 2).contains(&got), "{}", trickle.out);
    assert!(
        trickle.out.ends_with(" bytes in a minute\r\n"),
        "{}",
        trickle.out
    );
}
