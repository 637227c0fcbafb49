//! Host tests of the TFTP client against a simulated server over a simulated network that
//! can drop, duplicate and reorder datagrams (seeded, so every failure is reproducible).
use std::collections::VecDeque;
use std::vec::Vec;

use super::*;
use crate::image::{PayloadCheck, PayloadSums, StreamCheck, HEADER_LEN};
use crate::net::session::Landing;
use crate::net::tftp::wire::{error_code, parse, Options, Repr};

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);
const SERVER_TID: u16 = 40001;

use lifeboat_qemu::rng::XorShift as Rng;

fn file(len: usize, seed: u64) -> Vec<u8> {
    Rng::new(seed).bytes(len)
}

/// How the simulated server behaves.
#[derive(Clone)]
struct ServerCfg {
    /// Answer options with an OACK (else ignore them and send DATA 1).
    options: bool,
    /// Largest blksize it grants.
    max_blksize: u16,
    /// Grants windowsize (else leaves it out of the OACK).
    windowsize: bool,
    wrap_to_one: bool,
    /// Replaces the OACK it would send.
    oack: Option<Vec<u8>>,
    /// Answers the RRQ with this ERROR instead.
    error: Option<(u16, &'static [u8])>,
    /// Claims this tsize instead of the real one.
    tsize: Option<u64>,
    /// Its retransmission timer.
    timeout_ms: i64,
    /// Answers ERROR 8 to an RRQ with options.
    refuse_options: bool,
    /// Does not answer at all.
    dead: bool,
}

impl Default for ServerCfg {
    fn default() -> Self {
        ServerCfg {
            options: true,
            max_blksize: 1468,
            windowsize: true,
            wrap_to_one: false,
            oack: None,
            error: None,
            tsize: None,
            timeout_ms: 100,
            refuse_options: false,
            dead: false,
        }
    }
}

struct Server {
    cfg: ServerCfg,
    data: Vec<u8>,
    blksize: usize,
    window: u64,
    /// Highest block ACKed.
    acked: u64,
    started: bool,
    oack_pending: bool,
    resend_at: i64,
    done: bool,
    /// ERROR packets the server got (e.g. ERROR 8, ERROR 5 for strays don't reach it).
    errors: Vec<u16>,
}

impl Server {
    fn new(cfg: ServerCfg, data: Vec<u8>) -> Self {
        Server {
            cfg,
            data,
            blksize: 512,
            window: 1,
            acked: 0,
            started: false,
            oack_pending: false,
            resend_at: i64::MAX,
            done: false,
            errors: Vec::new(),
        }
    }

    fn blocks(&self) -> u64 {
        self.data.len() as u64 / self.blksize as u64 + 1
    }

    fn wire(&self, n: u64) -> u16 {
        if self.cfg.wrap_to_one {
            ((n - 1) % 65535 + 1) as u16
        } else {
            (n % 65536) as u16
        }
    }

    fn block(&self, n: u64) -> Vec<u8> {
        let start = ((n - 1) as usize * self.blksize).min(self.data.len());
        let end = (start + self.blksize).min(self.data.len());
        let mut out = vec![0u8; 4 + end - start];
        Repr::Data {
            block: self.wire(n),
            data: &self.data[start..end],
        }
        .emit(&mut out)
        .unwrap();
        out
    }

    fn send_window(&mut self, now: i64, out: &mut Vec<Vec<u8>>) {
        if self.oack_pending {
            out.push(self.oack());
        } else {
            let first = self.acked + 1;
            for n in first..(first + self.window).min(self.blocks() + 1) {
                out.push(self.block(n));
            }
        }
        self.resend_at = now + self.cfg.timeout_ms;
    }

    fn oack(&self) -> Vec<u8> {
        if let Some(o) = &self.cfg.oack {
            return o.clone();
        }
        let mut opts = Options::new();
        opts.push("blksize", self.blksize as u64);
        opts.push("tsize", self.cfg.tsize.unwrap_or(self.data.len() as u64));
        if self.window > 1 {
            opts.push("windowsize", self.window);
        }
        let mut buf = vec![0u8; 200];
        let n = Repr::Oack { options: opts }.emit(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    fn handle(&mut self, now: i64, bytes: &[u8], out: &mut Vec<Vec<u8>>) {
        if self.cfg.dead || self.done {
            return;
        }
        match parse(bytes) {
            Ok(Repr::Request { options, .. }) if !self.started => {
                self.started = true;
                if let Some((code, msg)) = self.cfg.error {
                    let mut b = vec![0, 5, 0, code as u8];
                    b.extend_from_slice(msg);
                    out.push(b);
                    self.done = true;
                    return;
                }
                if self.cfg.refuse_options && !options.is_empty() {
                    out.push(vec![0, 5, 0, 8, b'n', b'o', 0]);
                    self.started = false;
                    return;
                }
                if self.cfg.options && !options.is_empty() {
                    if let Some(b) = options.get("blksize") {
                        self.blksize = (b as usize).min(self.cfg.max_blksize as usize);
                    }
                    if let (Some(w), true) = (options.get("windowsize"), self.cfg.windowsize) {
                        self.window = w;
                    }
                    self.oack_pending = true;
                }
                self.send_window(now, out);
            }
            Ok(Repr::Ack { block }) if self.started => {
                // Map the wire number back near what we expect.
                let n = if self.oack_pending && block == 0 {
                    self.oack_pending = false;
                    0
                } else {
                    let base = self.acked;
                    (base.saturating_sub(100)..=base + self.window + 1)
                        .find(|&n| n > 0 && self.wire(n) == block)
                        .unwrap_or(u64::MAX)
                };
                if n == u64::MAX || n < self.acked {
                    return;
                }
                self.acked = n;
                if n >= self.blocks() {
                    self.done = true;
                    return;
                }
                self.send_window(now, out);
            }
            Ok(Repr::Error { code, .. }) => {
                self.errors.push(code);
                self.done = true;
            }
            _ => {}
        }
    }

    fn poll(&mut self, now: i64, out: &mut Vec<Vec<u8>>) {
        if self.started && !self.done && now >= self.resend_at {
            self.send_window(now, out);
        }
    }
}

/// Loss, duplication and reordering, in percent per datagram.
#[derive(Clone, Copy, Default)]
struct Net {
    loss: u32,
    dup: u32,
    reorder: u32,
}

struct Run {
    outcome: Result<u64, TftpError>,
    /// The file's CRC-32 and payload sums computed as the blocks landed (`None`: they did
    /// not land once each, in order, and the session makes the full pass).
    streamed: Option<(u32, Option<PayloadSums>)>,
    buf: Vec<u8>,
    events: Vec<Event>,
    server_errors: Vec<u16>,
    /// Datagrams the client sent to the server's TID.
    sent: usize,
    /// The datagrams to the server, in order.
    to_server: Vec<Vec<u8>>,
    /// Datagrams the client sent anywhere else (ERROR 5 to strays).
    to_others: Vec<(SocketAddrV4, Vec<u8>)>,
    elapsed_ms: i64,
}

fn config(file: &str) -> ClientConfig<'_> {
    ClientConfig {
        server: SERVER_IP,
        file,
        blksize: 1468,
        windowsize: 8,
        timeout: Duration::from_millis(50),
        give_up: Duration::from_secs(5),
        request_tsize: true,
        server_timeout_s: None,
        utimeout_us: None,
        multicast: false,
    }
}

/// Runs a whole transfer: `inject(t)` may add extra datagrams (from, bytes) for the client,
/// delivered right after the server's datagrams of that millisecond.
fn run_with(
    cfg: ClientConfig<'_>,
    server: ServerCfg,
    data: &[u8],
    net: Net,
    seed: u64,
    capacity: usize,
    mut inject: impl FnMut(i64) -> Vec<(SocketAddrV4, Vec<u8>)>,
) -> Run {
    let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut srv = Server::new(server, data.to_vec());
    let mut client = TftpClient::new(&cfg, Instant::from_millis(0));
    let mut buf = vec![0u8; capacity];
    // The session's sink: every block hashed as it lands, in order.
    let mut landing = Landing {
        buf: &mut buf[..],
        check: StreamCheck::default(),
    };
    let mut events = Vec::new();
    // (deliver at, to_server, bytes)
    let mut wire: VecDeque<(i64, bool, Vec<u8>)> = VecDeque::new();
    let mut sent = 0;
    let mut to_server = Vec::new();
    let mut to_others = Vec::new();
    let mut t = 0i64;
    let push = |wire: &mut VecDeque<(i64, bool, Vec<u8>)>,
                rng: &mut Rng,
                t: i64,
                to_server: bool,
                b: Vec<u8>| {
        if rng.percent(net.loss) {
            return;
        }
        let delay = if rng.percent(net.reorder) { 3 } else { 1 };
        if rng.percent(net.dup) {
            wire.push_back((t + 2, to_server, b.clone()));
        }
        wire.push_back((t + delay, to_server, b));
    };
    loop {
        while let Some((to, bytes)) = client.transmit() {
            if *to.ip() == SERVER_IP && (to.port() == TFTP_PORT || to.port() == SERVER_TID) {
                sent += 1;
                let b = bytes.to_vec();
                to_server.push(b.clone());
                push(&mut wire, &mut rng, t, true, b);
            } else {
                to_others.push((to, bytes.to_vec()));
            }
        }
        if client.outcome().is_some() {
            // What the client said last (an ERROR, the final ACK) still reaches the server.
            let mut out = Vec::new();
            for (_, to_server, b) in wire.drain(..) {
                if to_server {
                    srv.handle(t, &b, &mut out);
                }
            }
            break;
        }
        let mut out = Vec::new();
        let mut later = VecDeque::new();
        while let Some((at, to_server, b)) = wire.pop_front() {
            if at > t {
                later.push_back((at, to_server, b));
                continue;
            }
            if to_server {
                srv.handle(t, &b, &mut out);
            } else {
                let from = SocketAddrV4::new(SERVER_IP, SERVER_TID);
                client.on_datagram(Instant::from_millis(t), from, &b, &mut landing, &mut |e| {
                    events.push(e)
                });
            }
        }
        wire = later;
        // As the session does while it waits.
        landing.catch_up(700);
        // After the server's DATA: a stray must not push out the ACK it just queued.
        for (from, b) in inject(t) {
            client.on_datagram(Instant::from_millis(t), from, &b, &mut landing, &mut |e| {
                events.push(e)
            });
        }
        srv.poll(t, &mut out);
        for b in out {
            push(&mut wire, &mut rng, t, false, b);
        }
        client.poll(Instant::from_millis(t), &mut |e| events.push(e));
        t += 1;
        assert!(t < 600_000, "simulation did not end");
    }
    let outcome = client.outcome().unwrap();
    let streamed = outcome.as_ref().ok().and_then(|&len| landing.finish(len));
    Run {
        outcome,
        streamed,
        buf,
        events,
        server_errors: srv.errors,
        sent,
        to_server,
        to_others,
        elapsed_ms: t,
    }
}

fn run(server: ServerCfg, data: &[u8], net: Net, seed: u64) -> Run {
    run_with(
        config("pix601.bin"),
        server,
        data,
        net,
        seed,
        1 << 20,
        |_| Vec::new(),
    )
}

fn traces(r: &Run, code: TraceCode) -> usize {
    r.events
        .iter()
        .filter(|e| **e == Event::Trace(code))
        .count()
}

fn assert_file(r: &Run, data: &[u8]) {
    assert_eq!(r.outcome, Ok(data.len() as u64));
    assert_eq!(&r.buf[..data.len()], data);
    // What was hashed as it landed is what a full pass over the file gives.
    if let Some((crc, payload)) = r.streamed {
        assert_eq!(crc, crate::image::CRC32.checksum(data));
        let mut full = PayloadCheck::default();
        full.update(&data[HEADER_LEN..]);
        assert_eq!(payload, Some(full.sums()));
    }
}

#[test]
fn clean_transfer_with_options_and_window() {
    let data = file(100_000, 1);
    let r = run(ServerCfg::default(), &data, Net::default(), 1);
    assert_file(&r, &data);
    assert!(r.events.contains(&Event::Negotiated {
        blksize: 1468,
        windowsize: 8,
        tsize: Some(100_000),
        multicast: None,
    }));
    assert_eq!(traces(&r, TraceCode::Retransmit), 0);
    // 69 blocks in windows of 8: ACK 0 + 9 window ACKs + RRQ.
    assert!(r.sent <= 12, "sent {}", r.sent);
}

#[test]
fn server_that_ignores_options_gets_plain_rfc1350() {
    let data = file(5000, 2);
    let cfg = ServerCfg {
        options: false,
        ..Default::default()
    };
    let r = run(cfg, &data, Net::default(), 2);
    assert_file(&r, &data);
    assert!(r.events.contains(&Event::OptionsIgnored));
}

#[test]
fn exact_multiple_of_blksize_ends_with_an_empty_block() {
    let data = file(512 * 6, 3);
    let cfg = ServerCfg {
        options: false,
        ..Default::default()
    };
    let r = run(cfg, &data, Net::default(), 3);
    assert_file(&r, &data);
    let data = file(1468 * 8, 4);
    let r = run(ServerCfg::default(), &data, Net::default(), 4);
    assert_file(&r, &data);
    let r = run(ServerCfg::default(), &[], Net::default(), 4);
    assert_eq!(r.outcome, Ok(0));
}

fn rollover(wrap_to_one: bool, window: u16) {
    // 70 000 blocks of 8 bytes: past 65535.
    let data = file(8 * 70_000 + 3, 5);
    let mut cfg = config("big");
    cfg.blksize = 8;
    cfg.windowsize = window;
    let srv = ServerCfg {
        wrap_to_one,
        max_blksize: 8,
        ..Default::default()
    };
    let r = run_with(cfg, srv, &data, Net::default(), 5, 1 << 20, |_| Vec::new());
    assert_file(&r, &data);
}

#[test]
fn block_numbers_roll_over_to_zero() {
    rollover(false, 1);
    rollover(false, 8);
}

#[test]
fn block_numbers_roll_over_to_one() {
    rollover(true, 1);
}

#[test]
fn loss_duplication_and_reordering_for_many_seeds() {
    let data = file(30_000, 6);
    let mut streamed = [0; 2];
    for seed in 0..200 {
        let net = Net {
            loss: 10,
            dup: 5,
            reorder: 10,
        };
        let (window, options) = match seed % 3 {
            0 => (8, true),
            1 => (1, true),
            _ => (1, false),
        };
        let mut cfg = config("f");
        cfg.windowsize = window;
        let srv = ServerCfg {
            options,
            ..Default::default()
        };
        let r = run_with(cfg, srv, &data, net, seed, 1 << 20, |_| Vec::new());
        assert_file(&r, &data);
        streamed[usize::from(r.streamed.is_some())] += 1;
    }
    // The unicast client stores each block once, in order, whatever the network does (a
    // duplicate or an early block is never written): every transfer was hashed as it
    // landed. (Multicast, whose blocks land out of order, falls back: tested below.)
    assert_eq!(streamed, [0, 200]);
}

#[test]
fn duplicates_are_stored_once_and_last_block_reacked() {
    let data = file(20_000, 7);
    let net = Net {
        dup: 50,
        ..Default::default()
    };
    let r = run(ServerCfg::default(), &data, net, 7);
    assert_file(&r, &data);
    assert!(traces(&r, TraceCode::OutOfSequence) > 0);
    // No Sorcerer's Apprentice: duplicates never multiply our ACKs beyond one per datagram
    // received (blocks + duplicates), and the transfer stays short.
    assert!(r.sent < 2 * 14 + 10, "sent {}", r.sent);
}

#[test]
fn stray_senders_get_error_5_and_the_transfer_goes_on() {
    let data = file(20_000, 8);
    let other_host = SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 99), SERVER_TID);
    let other_port = SocketAddrV4::new(SERVER_IP, 5555);
    let stray = vec![0, 3, 0, 1, 0xAA, 0xBB];
    let r = run_with(
        config("f"),
        ServerCfg::default(),
        &data,
        Net::default(),
        8,
        1 << 20,
        |t| {
            if t == 3 {
                vec![(other_host, stray.clone()), (other_port, stray.clone())]
            } else {
                Vec::new()
            }
        },
    );
    assert_file(&r, &data);
    assert_eq!(traces(&r, TraceCode::NotFromServer), 1);
    assert_eq!(traces(&r, TraceCode::WrongPorts), 1);
    // The ERROR 5 went to the strays, not to the server.
    assert!(r.server_errors.is_empty());
}

#[test]
fn error_5_goes_to_the_stray_address() {
    let mut c = TftpClient::new(&config("f"), Instant::from_millis(0));
    while c.transmit().is_some() {}
    let mut buf = [0u8; 64];
    let stray = SocketAddrV4::new(Ipv4Addr::new(10, 9, 9, 9), 77);
    let mut ev = Vec::new();
    c.on_datagram(
        Instant::from_millis(1),
        stray,
        &[0, 3, 0, 1, 1],
        &mut buf[..],
        &mut |e| ev.push(e),
    );
    let (to, bytes) = c.transmit().expect("an ERROR 5");
    assert_eq!(to, stray);
    assert_eq!(&bytes[..4], &[0, 5, 0, error_code::UNKNOWN_TID as u8]);
    assert_eq!(ev, [Event::Trace(TraceCode::NotFromServer)]);
    assert!(c.outcome().is_none());
}

fn is_error_5(bytes: &[u8]) -> bool {
    bytes.get(..4) == Some(&[0, 5, 0, error_code::UNKNOWN_TID as u8])
}

#[test]
fn a_flood_of_strays_gets_a_handful_of_error_5_and_every_ack_goes_out() {
    let data = file(100_000, 17);
    let clean = run(ServerCfg::default(), &data, Net::default(), 17);
    assert_file(&clean, &data);
    let mut flooded = 0;
    let r = run_with(
        config("pix601.bin"),
        ServerCfg::default(),
        &data,
        Net::default(),
        17,
        1 << 20,
        |t| {
            // 50 strays a millisecond, from many hosts and from other ports of the server,
            // until 1000 have been sent; from the server's IP only once its port is locked
            // (before that, its first datagram from any port is its answer).
            let mut v = Vec::new();
            while t >= 3 && flooded < 1000 && v.len() < 50 {
                let from = if flooded % 2 == 0 {
                    SocketAddrV4::new(
                        Ipv4Addr::new(10, 0, (flooded >> 8) as u8, flooded as u8),
                        69,
                    )
                } else {
                    SocketAddrV4::new(SERVER_IP, 1000 + flooded as u16)
                };
                v.push((from, vec![0, 3, 0, 1, 0xAA]));
                flooded += 1;
            }
            v
        },
    );
    assert_eq!(flooded, 1000, "the flood lasted as long as the transfer");
    assert_file(&r, &data);
    // Every stray is still shown.
    assert_eq!(
        traces(&r, TraceCode::NotFromServer) + traces(&r, TraceCode::WrongPorts),
        1000
    );
    // A handful of ERROR 5, all to strays, none to the server.
    let errors = r.to_others.iter().filter(|(_, b)| is_error_5(b)).count();
    assert_eq!(errors, r.to_others.len());
    let allowed = usize::from(STRAY_ERROR_BURST)
        + (r.elapsed_ms / STRAY_ERROR_EVERY.total_millis() as i64) as usize;
    assert!(errors >= 1 && errors <= allowed.min(8), "{errors} ERROR 5");
    assert!(r.server_errors.is_empty());
    // Every RRQ and ACK went out as without the flood: none was displaced, none retransmitted.
    assert_eq!(r.to_server, clean.to_server);
    assert_eq!(traces(&r, TraceCode::Retransmit), 0);
}

#[test]
fn an_error_5_never_displaces_a_queued_rrq_or_ack() {
    let mut c = TftpClient::new(&config("f"), Instant::from_millis(0));
    let mut buf = [0u8; 10_000];
    let server = SocketAddrV4::new(SERVER_IP, SERVER_TID);
    let stray = |i: u16| SocketAddrV4::new(Ipv4Addr::new(10, 9, 9, 9), 1000 + i);
    let now = Instant::from_millis(1);
    // The RRQ is queued; ten strays arrive before it is sent.
    for i in 0..10 {
        c.on_datagram(now, stray(i), &[0, 3, 0, 1], &mut buf[..], &mut |_| {});
    }
    let (to, bytes) = c.transmit().expect("the RRQ");
    assert_eq!(
        (to, &bytes[..2]),
        (SocketAddrV4::new(SERVER_IP, TFTP_PORT), &[0u8, 1][..])
    );
    let (to, bytes) = c.transmit().expect("one ERROR 5");
    assert_eq!(to, stray(0));
    assert!(is_error_5(bytes));
    assert!(c.transmit().is_none(), "one ERROR 5 waits at a time");
    // The OACK queues ACK 0; strays from another port of the server follow.
    c.on_datagram(
        now,
        server,
        b"\0\x06blksize\x001468\0",
        &mut buf[..],
        &mut |_| {},
    );
    for i in 0..10 {
        let other_port = SocketAddrV4::new(SERVER_IP, 2000 + i);
        c.on_datagram(now, other_port, &[0, 3, 0, 1], &mut buf[..], &mut |_| {});
    }
    let (to, bytes) = c.transmit().expect("ACK 0");
    assert_eq!((to, bytes), (server, &[0u8, 4, 0, 0][..]));
    let (to, bytes) = c.transmit().expect("one ERROR 5");
    assert_eq!(to, SocketAddrV4::new(SERVER_IP, 2000));
    assert!(is_error_5(bytes));
    assert!(c.transmit().is_none());
}

#[test]
fn error_5_is_rate_limited_by_a_token_bucket() {
    let mut c = TftpClient::new(&config("f"), Instant::from_millis(0));
    while c.transmit().is_some() {}
    let mut buf = [0u8; 64];
    let mut shown = 0;
    let mut errors_at = |c: &mut TftpClient, ms: i64, n: u16| {
        let mut errors = 0;
        for i in 0..n {
            let from = SocketAddrV4::new(Ipv4Addr::new(10, 9, (i >> 8) as u8, i as u8), 69);
            c.on_datagram(
                Instant::from_millis(ms),
                from,
                &[0, 3, 0, 1],
                &mut buf[..],
                &mut |e| {
                    assert_eq!(e, Event::Trace(TraceCode::NotFromServer));
                    shown += 1;
                },
            );
            while let Some((_, b)) = c.transmit() {
                assert!(is_error_5(b));
                errors += 1;
            }
        }
        errors
    };
    // A burst, then one per STRAY_ERROR_EVERY, however many strays come.
    assert_eq!(errors_at(&mut c, 1, 1000), usize::from(STRAY_ERROR_BURST));
    assert_eq!(errors_at(&mut c, 100, 100), 0);
    assert_eq!(errors_at(&mut c, 251, 100), 1);
    assert_eq!(errors_at(&mut c, 300, 100), 0);
    assert_eq!(errors_at(&mut c, 751, 100), 2);
    // After a long quiet spell the bucket is full again, but holds no more than a burst.
    assert_eq!(
        errors_at(&mut c, 60_000, 100),
        usize::from(STRAY_ERROR_BURST)
    );
    // Time that runs backwards earns nothing.
    assert_eq!(errors_at(&mut c, 10, 100), 0);
    assert_eq!(shown, 1600);
    assert!(c.outcome().is_none());
}

#[test]
fn missing_file_is_minus_10_with_the_servers_message() {
    let srv = ServerCfg {
        error: Some((1, b"File not found\0")),
        ..Default::default()
    };
    let r = run(srv, &[], Net::default(), 9);
    let e = r.outcome.unwrap_err();
    assert_eq!(e.code(), Some(TraceCode::FileNotFound));
    let s = format!("{e}");
    assert!(
        s.contains("(-10)") && s.contains("'File not found'") && s.contains("world readable"),
        "{s}"
    );
}

#[test]
fn error_without_nul_and_other_errors_are_code_10() {
    let srv = ServerCfg {
        error: Some((2, b"Access violation")),
        ..Default::default()
    };
    let r = run(srv, &[], Net::default(), 10);
    let e = r.outcome.unwrap_err();
    assert_eq!(e.code(), Some(TraceCode::TransferError));
    assert!(format!("{e}").contains("'Access violation'"));
}

#[test]
fn dead_server_ends_with_minus_1_after_give_up() {
    let srv = ServerCfg {
        dead: true,
        ..Default::default()
    };
    let r = run(srv, &[], Net::default(), 11);
    let e = r.outcome.clone().unwrap_err();
    assert_eq!(e.code(), Some(TraceCode::Timeout));
    assert!(format!("{e}").contains("(-1)"));
    assert!(traces(&r, TraceCode::Retransmit) >= 3);
    // Bounded: give_up (5 s) and not much more.
    assert!((5000..5500).contains(&r.elapsed_ms), "{}", r.elapsed_ms);
    // Backoff: far fewer than one retransmission per 50 ms.
    assert!(r.sent < 10, "sent {}", r.sent);
}

fn oack_case(oack: &[u8]) -> Run {
    let srv = ServerCfg {
        oack: Some(oack.to_vec()),
        max_blksize: 8,
        ..Default::default()
    };
    run(srv, &file(100, 1), Net::default(), 12)
}

#[test]
fn bad_oacks_get_error_8() {
    let cases: [(&[u8], &str); 8] = [
        (b"\0\x06blksize\x000\0", "blksize out of range"),
        (b"\0\x06blksize\x007\0", "blksize out of range"),
        (b"\0\x06blksize\x0065465\0", "blksize out of range"),
        (b"\0\x06blksize\x002000\0", "blksize out of range"),
        (b"\0\x06colour\x00blue\0", "not a number"),
        (b"\0\x06mtu\x001400\0", "did not ask for"),
        (b"\0\x06blksize\x001024", "malformed"),
        (b"\0\x06windowsize\x0016\0", "windowsize out of range"),
    ];
    for (oack, why) in cases {
        let r = oack_case(oack);
        let e = r.outcome.clone().unwrap_err();
        assert!(matches!(e, TftpError::BadOack(_)), "{oack:?}: {e:?}");
        assert!(format!("{e}").contains(why), "{oack:?}: {e}");
        assert_eq!(r.server_errors, [8], "{oack:?}");
    }
}

#[test]
fn good_unusual_oacks_are_accepted() {
    // Only blksize (no tsize), in capitals; blksize 8.
    let r = oack_case(b"\0\x06BLKSIZE\x008\0");
    assert_eq!(r.outcome, Ok(100));
}

#[test]
fn option_refused_falls_back_to_plain_request() {
    let data = file(3000, 13);
    let srv = ServerCfg {
        refuse_options: true,
        ..Default::default()
    };
    let r = run(srv, &data, Net::default(), 13);
    assert_file(&r, &data);
    assert!(r.events.contains(&Event::Fallback));
}

#[test]
fn tsize_larger_than_the_buffer_is_refused_before_a_byte() {
    let data = file(5000, 14);
    let r = run_with(
        config("f"),
        ServerCfg::default(),
        &data,
        Net::default(),
        14,
        4096,
        |_| Vec::new(),
    );
    assert_eq!(
        r.outcome,
        Err(TftpError::TooLarge {
            size: 5000,
            capacity: 4096
        })
    );
    assert!(r.buf.iter().all(|&b| b == 0), "nothing stored");
    assert_eq!(r.server_errors, [3]);
}

#[test]
fn data_beyond_the_buffer_is_refused_at_the_first_block_that_does_not_fit() {
    // The server lies about tsize (claims 100 bytes) and ignores the limit.
    let data = file(5000, 15);
    let srv = ServerCfg {
        tsize: Some(100),
        ..Default::default()
    };
    let r = run_with(config("f"), srv, &data, Net::default(), 15, 4096, |_| {
        Vec::new()
    });
    assert!(matches!(
        r.outcome,
        Err(TftpError::TooLarge { capacity: 4096, .. })
    ));
    assert_eq!(
        &r.buf[..2936],
        &data[..2936],
        "whole blocks that fit are stored"
    );
    assert!(r.buf[2936..].iter().all(|&b| b == 0), "nothing beyond");
}

#[test]
fn tsize_mismatch_is_reported() {
    let data = file(1000, 16);
    let srv = ServerCfg {
        tsize: Some(999),
        ..Default::default()
    };
    let r = run(srv, &data, Net::default(), 16);
    assert_eq!(
        r.outcome,
        Err(TftpError::SizeMismatch {
            tsize: 999,
            received: 1000
        })
    );
}

#[test]
fn hostile_datagrams_never_panic_or_write_outside() {
    let mut rng = Rng::new(99);
    for _ in 0..2000 {
        let mut c = TftpClient::new(&config("f"), Instant::from_millis(0));
        let mut buf = [0u8; 1000];
        for i in 0..20 {
            let len = (rng.next() % 40) as usize;
            let mut d: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if len >= 2 && rng.percent(70) {
                d[0] = 0;
                d[1] = (rng.next() % 8) as u8;
            }
            let from = SocketAddrV4::new(SERVER_IP, SERVER_TID);
            c.on_datagram(Instant::from_millis(i), from, &d, &mut buf[..], &mut |_| {});
            c.poll(Instant::from_millis(i * 100), &mut |_| {});
            while c.transmit().is_some() {}
        }
    }
}

#[test]
fn unexpected_opcode_stops_with_code_9() {
    let mut c = TftpClient::new(&config("f"), Instant::from_millis(0));
    let mut buf = [0u8; 100];
    let mut ev = Vec::new();
    let from = SocketAddrV4::new(SERVER_IP, SERVER_TID);
    c.on_datagram(
        Instant::from_millis(1),
        from,
        &[0, 4, 0, 1],
        &mut buf[..],
        &mut |e| ev.push(e),
    );
    assert_eq!(c.outcome(), Some(Err(TftpError::UnexpectedOpcode(4))));
    assert_eq!(ev, [Event::Trace(TraceCode::UnexpectedOpcode)]);
    let mut c = TftpClient::new(&config("f"), Instant::from_millis(0));
    c.on_datagram(
        Instant::from_millis(1),
        from,
        &[0, 9, 1, 2],
        &mut buf[..],
        &mut |_| {},
    );
    assert_eq!(c.outcome(), Some(Err(TftpError::UnexpectedOpcode(9))));
}

#[test]
fn abort_tells_the_locked_server() {
    let mut c = TftpClient::new(&config("f"), Instant::from_millis(0));
    while c.transmit().is_some() {}
    let mut buf = [0u8; 10000];
    let from = SocketAddrV4::new(SERVER_IP, SERVER_TID);
    c.on_datagram(
        Instant::from_millis(1),
        from,
        b"\0\x06blksize\x001468\0",
        &mut buf[..],
        &mut |_| {},
    );
    while c.transmit().is_some() {}
    c.abort();
    let (to, bytes) = c.transmit().unwrap();
    assert_eq!(to, from);
    assert_eq!(&bytes[..4], &[0, 5, 0, 0]);
    assert_eq!(c.outcome(), Some(Err(TftpError::Aborted)));
    assert_eq!(c.poll_at(), None);
}

#[test]
fn wire_round_trip_and_malformed_packets() {
    let mut o = Options::new();
    o.push("blksize", 1468);
    o.push("tsize", 0);
    let rrq = Repr::Request {
        write: false,
        filename: "pix601.bin",
        mode: "octet",
        options: o,
    };
    let mut buf = [0u8; 100];
    let n = rrq.emit(&mut buf).unwrap();
    assert_eq!(n, rrq.buffer_len());
    assert_eq!(
        &buf[..n],
        b"\0\x01pix601.bin\0octet\0blksize\x001468\0tsize\x000\0"
    );
    assert_eq!(parse(&buf[..n]), Ok(rrq));
    assert_eq!(
        parse(&[0]),
        Err(ParseError::Wire(wire::WireError::Truncated))
    );
    assert_eq!(
        parse(&[0, 3, 0]),
        Err(ParseError::Wire(wire::WireError::Truncated))
    );
    assert_eq!(parse(&[0, 9]), Err(ParseError::UnknownOpcode(9)));
    assert_eq!(
        parse(b"\0\x05\0\x01No such file"),
        Ok(Repr::Error {
            code: 1,
            message: "No such file"
        })
    );
    assert_eq!(
        parse(b"\0\x06blksize\0"),
        Err(ParseError::Wire(wire::WireError::BadOption))
    );
    assert_eq!(
        parse(b"\0\x01file"),
        Err(ParseError::Wire(wire::WireError::BadString))
    );
    assert!(matches!(
        parse(b"\0\x06tsize\x0099999999999999999999\0"),
        Ok(Repr::Oack { .. })
    ));
}

/// Issue 21, finding 7: a server that ignores the options (DATA 1, no OACK) and then sends
/// a block longer than RFC 1350's 512 bytes is told so; no "option acknowledgement" is
/// blamed, for none was sent.
#[test]
fn an_oversized_block_without_an_oack_names_the_block_not_an_oack() {
    let mut c = TftpClient::new(&config("f"), Instant::from_millis(0));
    while c.transmit().is_some() {}
    let data = file(2000, 9);
    let mut buf = vec![0u8; 4096];
    c.on_datagram(
        Instant::from_millis(1),
        TID,
        &data_block(&data, 1000, 1),
        &mut buf[..],
        &mut |_| {},
    );
    assert_eq!(sent(&mut c), [100_004]);
    let e = c.outcome().unwrap().clone().unwrap_err();
    assert_eq!(e, TftpError::BlockTooLarge(1000));
    assert_eq!(
        e.to_string(),
        "the server sent a 1000-byte block, over the block size (10)"
    );
    assert!(buf.iter().all(|&b| b == 0), "nothing written");
}

// ---- RFC 2090 multicast ----

const TID: SocketAddrV4 = SocketAddrV4::new(SERVER_IP, SERVER_TID);
const GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 0, 1), 1758);

fn mc_oack(blksize: u64, tsize: Option<u64>, multicast: &str) -> Vec<u8> {
    let mut o = Options::new();
    o.push("blksize", blksize);
    if let Some(t) = tsize {
        o.push("tsize", t);
    }
    o.push_text("multicast", multicast);
    let mut buf = vec![0u8; 200];
    let n = Repr::Oack { options: o }.emit(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn data_block(data: &[u8], blksize: usize, n: u16) -> Vec<u8> {
    let start = ((n as usize - 1) * blksize).min(data.len());
    let end = (start + blksize).min(data.len());
    let mut out = vec![0u8; 4 + end - start];
    Repr::Data {
        block: n,
        data: &data[start..end],
    }
    .emit(&mut out)
    .unwrap();
    out
}

/// A client that asked for multicast, with everything it sent so far drained.
fn mc_client(give_up_s: u64) -> TftpClient {
    let mut cfg = config("fleet.bin");
    cfg.multicast = true;
    cfg.give_up = Duration::from_secs(give_up_s);
    let mut c = TftpClient::new(&cfg, Instant::from_millis(0));
    while c.transmit().is_some() {}
    c
}

/// What the client sent: ACK numbers, or (code) for an ERROR as 100_000 + code.
fn sent(c: &mut TftpClient) -> Vec<u32> {
    let mut v = Vec::new();
    while let Some((to, b)) = c.transmit() {
        assert_eq!(to, TID, "only the server's TID is ever answered");
        v.push(match parse(b) {
            Ok(Repr::Ack { block }) => u32::from(block),
            Ok(Repr::Error { code, .. }) => 100_000 + u32::from(code),
            other => panic!("unexpected {other:?}"),
        });
    }
    v
}

#[test]
fn multicast_is_asked_only_next_to_the_other_options() {
    let mut cfg = config("fleet.bin");
    cfg.multicast = true;
    let mut c = TftpClient::new(&cfg, Instant::from_millis(0));
    let (_, rrq) = c.transmit().unwrap();
    let Ok(Repr::Request { options, .. }) = parse(rrq) else {
        panic!("not an RRQ")
    };
    assert_eq!(options.get_text("multicast"), Some(""));
    assert_eq!(options.get("blksize"), Some(1468));
    // A server that refuses options gets a plain RRQ: no multicast either.
    let srv = ServerCfg {
        refuse_options: true,
        ..Default::default()
    };
    let data = file(3000, 40);
    let r = run_with(cfg, srv, &data, Net::default(), 40, 1 << 20, |_| Vec::new());
    assert_file(&r, &data);
    let Ok(Repr::Request { options, .. }) = parse(&r.to_server[1]) else {
        panic!("not an RRQ")
    };
    assert!(options.is_empty(), "{options:?}");
}

#[test]
fn the_servers_timer_is_asked_in_seconds_before_utimeout() {
    let mut cfg = config("fleet.bin");
    cfg.server_timeout_s = Some(1);
    cfg.utimeout_us = Some(20_000);
    let mut c = TftpClient::new(&cfg, Instant::from_millis(0));
    let (_, rrq) = c.transmit().unwrap();
    let Ok(Repr::Request { options, .. }) = parse(rrq) else {
        panic!("not an RRQ")
    };
    let names: Vec<&str> = options.iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["blksize", "tsize", "windowsize", "timeout", "utimeout"]
    );
    assert_eq!(options.get("timeout"), Some(1));
    // Granted as asked: the transfer goes on. Out of RFC 2349's range: ERROR 8.
    for (t, ok) in [(1, true), (0, false), (256, false)] {
        let mut c = TftpClient::new(&cfg, Instant::from_millis(0));
        while c.transmit().is_some() {}
        let mut o = Options::new();
        o.push("blksize", 1468);
        o.push("timeout", t);
        let mut oack = vec![0u8; 100];
        let n = Repr::Oack { options: o }.emit(&mut oack).unwrap();
        let mut buf = vec![0u8; 4096];
        c.on_datagram(
            Instant::from_millis(1),
            TID,
            &oack[..n],
            &mut buf[..],
            &mut |_| {},
        );
        assert_eq!(
            sent(&mut c),
            if ok { vec![0] } else { vec![100_008] },
            "{t}"
        );
    }
}

#[test]
fn server_ignoring_multicast_gives_a_plain_unicast_transfer() {
    let mut cfg = config("fleet.bin");
    cfg.multicast = true;
    let data = file(50_000, 41);
    let r = run_with(
        cfg,
        ServerCfg::default(),
        &data,
        Net {
            loss: 5,
            ..Default::default()
        },
        41,
        1 << 20,
        |_| Vec::new(),
    );
    assert_file(&r, &data);
    assert!(r.events.contains(&Event::Negotiated {
        blksize: 1468,
        windowsize: 8,
        tsize: Some(50_000),
        multicast: None,
    }));
}

#[test]
fn non_master_takes_blocks_out_of_order_then_fills_gaps_as_master() {
    let blksize = 512;
    let data = file(512 * 5 + 100, 42);
    let mut c = mc_client(20);
    let mut buf = vec![0u8; 1 << 16];
    let mut ev = Vec::new();
    let t = |ms| Instant::from_millis(ms);
    let oack = mc_oack(512, Some(data.len() as u64), "239.255.0.1,1758,0");
    c.on_datagram(t(1), TID, &oack, &mut buf[..], &mut |e| ev.push(e));
    assert!(ev.contains(&Event::Negotiated {
        blksize: 512,
        windowsize: 1,
        tsize: Some(data.len() as u64),
        multicast: Some((GROUP, false)),
    }));
    assert_eq!(c.multicast_group(), Some(GROUP));
    assert_eq!(sent(&mut c), Vec::<u32>::new(), "a non-master sends no ACK");
    for n in [4u16, 2, 6, 5, 4] {
        let b = data_block(&data, blksize, n);
        c.on_datagram(t(10), TID, &b, &mut buf[..], &mut |e| ev.push(e));
    }
    // A sender on the group that is not the server never reaches the client: the session
    // rewrites only the server's datagrams to the group (`trace::group_to_unicast`, tested
    // there), and smoltcp drops the rest.
    c.poll(t(3000), &mut |e| ev.push(e));
    assert_eq!(sent(&mut c), Vec::<u32>::new());
    assert_eq!(c.outcome(), None);
    assert_eq!(&buf[512..1024], &data[512..1024]);
    assert!(buf[..512].iter().all(|&b| b == 0), "block 1 has not come");
    // Made master: ACK the block before the first missing one (1).
    let oack = mc_oack(512, Some(data.len() as u64), "239.255.0.1,1758,1");
    c.on_datagram(t(3001), TID, &oack, &mut buf[..], &mut |e| ev.push(e));
    assert!(ev.contains(&Event::Master));
    assert_eq!(sent(&mut c), [0]);
    c.on_datagram(
        t(3002),
        TID,
        &data_block(&data, blksize, 1),
        &mut buf[..],
        &mut |e| ev.push(e),
    );
    assert_eq!(sent(&mut c), [2], "skips 2, which it holds");
    // Lost; the timer asks again.
    c.poll(t(3500), &mut |e| ev.push(e));
    assert_eq!(sent(&mut c), [2]);
    c.on_datagram(
        t(3501),
        TID,
        &data_block(&data, blksize, 3),
        &mut buf[..],
        &mut |e| ev.push(e),
    );
    assert_eq!(sent(&mut c), [6], "whole: the last block is ACKed");
    assert_eq!(c.outcome(), Some(Ok(data.len() as u64)));
    assert_eq!(&buf[..data.len()], &data[..]);
}

#[test]
fn master_from_the_start_acks_in_windows_and_reports_gaps() {
    let data = file(512 * 7 + 1, 43);
    let mut c = mc_client(20);
    let mut buf = vec![0u8; 1 << 16];
    let mut ev = |_| {};
    let t = Instant::from_millis;
    let mut o = Options::new();
    o.push("blksize", 512);
    o.push("windowsize", 4);
    o.push_text("multicast", "239.255.0.1,1758,1");
    let mut oack = vec![0u8; 200];
    let n = Repr::Oack { options: o }.emit(&mut oack).unwrap();
    c.on_datagram(t(1), TID, &oack[..n], &mut buf[..], &mut ev);
    assert_eq!(sent(&mut c), [0]);
    for n in [1u16, 2, 3, 4] {
        c.on_datagram(t(2), TID, &data_block(&data, 512, n), &mut buf[..], &mut ev);
    }
    assert_eq!(sent(&mut c), [4], "one ACK per window");
    // 6 is lost: the gap is reported after the window, from 5.
    for n in [5u16, 7, 8] {
        c.on_datagram(t(3), TID, &data_block(&data, 512, n), &mut buf[..], &mut ev);
    }
    c.poll(t(3) + GAP_ACK_DELAY, &mut ev);
    assert_eq!(sent(&mut c), [5]);
    // The server got our RRQ twice and tells this copy mc=0: the master stays master.
    let oack = mc_oack(512, None, "239.255.0.1,1758,0");
    c.on_datagram(t(10), TID, &oack, &mut buf[..], &mut ev);
    c.poll(t(500), &mut ev);
    assert_eq!(sent(&mut c), [5], "the timer still asks for 6");
    c.on_datagram(
        t(501),
        TID,
        &data_block(&data, 512, 6),
        &mut buf[..],
        &mut ev,
    );
    assert_eq!(sent(&mut c), [8]);
    assert_eq!(c.outcome(), Some(Ok(data.len() as u64)));
    assert_eq!(&buf[..data.len()], &data[..]);
}

#[test]
fn whole_non_master_never_made_master_ends_with_the_file_after_give_up() {
    let data = file(700, 44);
    let mut c = mc_client(2);
    let mut buf = vec![0u8; 4096];
    let mut ev = |_| {};
    let t = Instant::from_millis;
    let oack = mc_oack(512, None, "239.255.0.1,1758,0");
    c.on_datagram(t(1), TID, &oack, &mut buf[..], &mut ev);
    c.on_datagram(t(2), TID, &data_block(&data, 512, 2), &mut buf[..], &mut ev);
    c.on_datagram(t(3), TID, &data_block(&data, 512, 1), &mut buf[..], &mut ev);
    c.poll(t(1000), &mut ev);
    assert_eq!(c.outcome(), None);
    c.poll(t(2003), &mut ev);
    assert_eq!(c.outcome(), Some(Ok(700)));
    assert_eq!(sent(&mut c), Vec::<u32>::new());
    assert_eq!(&buf[..700], &data[..]);
    // One that is missing a block waits TURN_PATIENCE × give_up for its turn, then times out.
    let mut c = mc_client(2);
    c.on_datagram(t(1), TID, &oack, &mut buf[..], &mut ev);
    c.on_datagram(t(2), TID, &data_block(&data, 512, 2), &mut buf[..], &mut ev);
    c.poll(t(2002), &mut ev);
    assert_eq!(c.outcome(), None);
    c.poll(t(2 + 2000 * i64::from(TURN_PATIENCE)), &mut ev);
    assert_eq!(
        c.outcome(),
        Some(Err(TftpError::Timeout {
            server: SERVER_IP,
            seconds: 2 * u64::from(TURN_PATIENCE),
        }))
    );
}

#[test]
fn a_unit_missing_blocks_outwaits_a_server_stuck_on_a_departed_master() {
    // atftpd lists the first unit twice when it gets its RRQ twice; when that unit has
    // finished and left, the server offers the role to the departed copy 6 × 5 s before it
    // turns to the next client. A unit missing blocks (give_up 20 s) must still be there.
    let data = file(512 * 3 + 7, 45);
    let mut c = mc_client(20);
    let mut buf = vec![0u8; 4096];
    let mut ev = |_| {};
    let t = Instant::from_millis;
    let oack = mc_oack(512, Some(data.len() as u64), "239.255.0.1,1758,0");
    c.on_datagram(t(1), TID, &oack, &mut buf[..], &mut ev);
    for n in [2u16, 3, 4] {
        c.on_datagram(t(5), TID, &data_block(&data, 512, n), &mut buf[..], &mut ev);
    }
    for s in 1..=31 {
        c.poll(t(5 + s * 1000), &mut ev);
    }
    assert_eq!(c.outcome(), None);
    assert_eq!(sent(&mut c), Vec::<u32>::new(), "a non-master stays silent");
    let oack = mc_oack(512, Some(data.len() as u64), "239.255.0.1,1758,1");
    c.on_datagram(t(31_006), TID, &oack, &mut buf[..], &mut ev);
    assert_eq!(sent(&mut c), [0]);
    c.on_datagram(
        t(31_007),
        TID,
        &data_block(&data, 512, 1),
        &mut buf[..],
        &mut ev,
    );
    assert_eq!(sent(&mut c), [4], "whole: the last block is ACKed");
    assert_eq!(c.outcome(), Some(Ok(data.len() as u64)));
    assert_eq!(&buf[..data.len()], &data[..]);
}

#[test]
fn hostile_multicast_values_are_refused_with_error_8() {
    for v in [
        "",
        "239.255.0.1",
        "239.255.0.1,1758",
        "239.255.0.1,1758,2",
        "239.255.0.1,1758,01",
        "239.255.0.1,1758,1,",
        ",,1",
        "10.0.0.1,1758,1",
        "255.255.255.255,1758,1",
        "224.0.0.1,1758,1",
        "239.256.0.1,1758,1",
        "239.255.0.1,0,1",
        "239.255.0.1,65536,1",
        "239.255.0.1,,1",
        "239.255.0.1,1758x,1",
        "239.255.0.1,99999,1",
        "239.255.0.1,+1758,1",
        "239.255.0.1, 1758,1",
        "239.255.0.1,17580000000000000000,1",
    ] {
        let mut c = mc_client(20);
        let mut buf = vec![0u8; 4096];
        let oack = mc_oack(512, None, v);
        c.on_datagram(
            Instant::from_millis(1),
            TID,
            &oack,
            &mut buf[..],
            &mut |_| {},
        );
        assert_eq!(sent(&mut c), [100_008], "{v:?}");
        assert!(
            matches!(c.outcome(), Some(Err(TftpError::BadOack(_)))),
            "{v:?}"
        );
        assert_eq!(c.multicast_group(), None);
    }
    // A number where the group should be; multicast granted unasked; too many blocks.
    let mut o = Options::new();
    o.push("multicast", 5);
    let mut oack = vec![0u8; 100];
    let n = Repr::Oack { options: o }.emit(&mut oack).unwrap();
    let mut c = mc_client(20);
    c.on_datagram(
        Instant::from_millis(1),
        TID,
        &oack[..n],
        &mut vec![0u8; 64][..],
        &mut |_| {},
    );
    assert_eq!(sent(&mut c), [100_008]);
    let mut c = TftpClient::new(&config("f"), Instant::from_millis(0));
    while c.transmit().is_some() {}
    let oack = mc_oack(512, None, "239.255.0.1,1758,1");
    c.on_datagram(
        Instant::from_millis(1),
        TID,
        &oack,
        &mut vec![0u8; 64][..],
        &mut |_| {},
    );
    assert_eq!(
        sent(&mut c),
        [100_008],
        "multicast granted without being asked"
    );
    let mut c = mc_client(20);
    let oack = mc_oack(8, Some(8 * 65535), "239.255.0.1,1758,1");
    c.on_datagram(
        Instant::from_millis(1),
        TID,
        &oack,
        &mut vec![0u8; 1 << 20][..],
        &mut |_| {},
    );
    assert_eq!(sent(&mut c), [100_008], "65536 blocks");
}

#[test]
fn multicast_blocks_that_contradict_the_size_end_the_transfer() {
    let data = file(512 * 3, 45);
    let t = Instant::from_millis;
    // A short block 2 while block 3 is held.
    let mut c = mc_client(20);
    let mut buf = vec![0u8; 4096];
    c.on_datagram(
        t(1),
        TID,
        &mc_oack(512, None, "239.255.0.1,1758,0"),
        &mut buf[..],
        &mut |_| {},
    );
    c.on_datagram(
        t(2),
        TID,
        &data_block(&data, 512, 3),
        &mut buf[..],
        &mut |_| {},
    );
    let mut short = data_block(&data, 512, 2);
    short.truncate(100);
    c.on_datagram(t(3), TID, &short, &mut buf[..], &mut |_| {});
    assert!(matches!(
        c.outcome(),
        Some(Err(TftpError::SizeMismatch { .. }))
    ));
    // A block past the announced tsize.
    let mut c = mc_client(20);
    c.on_datagram(
        t(1),
        TID,
        &mc_oack(512, Some(600), "239.255.0.1,1758,0"),
        &mut buf[..],
        &mut |_| {},
    );
    c.on_datagram(
        t(2),
        TID,
        &data_block(&data, 512, 2),
        &mut buf[..],
        &mut |_| {},
    );
    assert!(matches!(
        c.outcome(),
        Some(Err(TftpError::SizeMismatch { .. }))
    ));
    // A block beyond the buffer: refused before a byte lands.
    let mut c = mc_client(20);
    let mut small = vec![0u8; 1024 + 16];
    c.on_datagram(
        t(1),
        TID,
        &mc_oack(512, None, "239.255.0.1,1758,0"),
        &mut small[..1024],
        &mut |_| {},
    );
    c.on_datagram(
        t(2),
        TID,
        &data_block(&data, 512, 3),
        &mut small[..1024],
        &mut |_| {},
    );
    assert!(matches!(c.outcome(), Some(Err(TftpError::TooLarge { .. }))));
    assert!(small[1024..].iter().all(|&b| b == 0));
}

/// A multicast transfer's blocks land where they belong, in any order: the sums computed
/// as they landed are given up for the full pass; the same transfer in order (a duplicate
/// of a block already held included) is hashed as it lands, and right.
#[test]
fn multicast_blocks_out_of_order_make_the_session_hash_the_whole_file_again() {
    let blksize = 512;
    let data = file(512 * 5 + 100, 43);
    let t = |ms| Instant::from_millis(ms);
    for (order, hashed) in [
        (&[4u16, 2, 6, 5, 1, 3][..], false),
        (&[1u16, 2, 3, 4, 5, 6][..], true),
        // A block it holds already is not written again.
        (&[1u16, 2, 2, 3, 4, 5, 6][..], true),
    ] {
        let mut c = mc_client(20);
        let mut buf = vec![0u8; 1 << 16];
        let mut landing = Landing {
            buf: &mut buf[..],
            check: StreamCheck::default(),
        };
        let mut ev = Vec::new();
        let oack = mc_oack(512, Some(data.len() as u64), "239.255.0.1,1758,1");
        c.on_datagram(t(1), TID, &oack, &mut landing, &mut |e| ev.push(e));
        for &n in order {
            let b = data_block(&data, blksize, n);
            c.on_datagram(t(10), TID, &b, &mut landing, &mut |e| ev.push(e));
        }
        assert_eq!(c.outcome(), Some(Ok(data.len() as u64)), "{order:?}");
        let streamed = landing.finish(data.len() as u64);
        assert_eq!(&buf[..data.len()], &data[..], "{order:?}");
        match streamed {
            Some((crc, payload)) => {
                assert!(hashed, "{order:?}: hashed out of order");
                assert_eq!(crc, crate::image::CRC32.checksum(&data));
                let mut full = PayloadCheck::default();
                full.update(&data[HEADER_LEN..]);
                assert_eq!(payload, Some(full.sums()));
            }
            None => assert!(!hashed, "{order:?}: in order, but not hashed"),
        }
    }
}
