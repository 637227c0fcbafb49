//! Fuzzes the TFTP wire format and the client state machine.
//!
//! 1. The whole input is one datagram for `wire::parse`. What parses must emit again to
//!    exactly `buffer_len()` bytes and parse back to the same packet (options that are not
//!    numbers are dropped by `emit`, so requests/OACKs carrying them are not compared).
//! 2. The input is cut into up to 32 datagrams for a `TftpClient`. Each chunk is
//!    `[ctl, len, payload[len']]` with `len' = len | (ctl & 0b1100) << 6` (0..=1023 bytes, cut
//!    at the end of the input); `ctl & 0b11` picks the sender (server port 69, server port
//!    40000, a stray host, another server port) and `ctl >> 4` advances the clock by that
//!    many 100 ms before the datagram (and `poll` runs). The sink is the first 4096 bytes of
//!    an 8192-byte buffer whose last 4096 bytes must stay zero.
#![no_main]

use core::net::{Ipv4Addr, SocketAddrV4};

use libfuzzer_sys::fuzz_target;
use lifeboat_firmware::net::tftp::wire::{self, Repr};
use lifeboat_firmware::net::tftp::{ClientConfig, Event, TftpClient};
use smoltcp::time::{Duration, Instant};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
const STRAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 99);
const SINK: usize = 4096;
const MAX_DATAGRAMS: usize = 32;
/// Largest datagram the client may emit (RRQ with name and options, or an ERROR).
const CLIENT_TX_MAX: usize = 2 + 255 + 1 + 6 + 96;

fn check_wire(data: &[u8]) {
    let Ok(repr) = wire::parse(data) else { return };
    let mut buf = vec![0u8; 70000];
    let len = repr.emit(&mut buf);
    match repr {
        Repr::Data { .. } | Repr::Ack { .. } | Repr::Error { .. } => {
            assert_eq!(len, Some(repr.buffer_len()), "emit/buffer_len of {repr:?}");
        }
        Repr::Request { .. } | Repr::Oack { .. } => {
            assert_eq!(len, Some(repr.buffer_len()), "emit/buffer_len of {repr:?}");
        }
    }
    let Some(len) = len else { return };
    let again = wire::parse(&buf[..len]).expect("an emitted packet parses");
    let comparable = match &repr {
        Repr::Request { options, .. } | Repr::Oack { options } => {
            options.non_numeric().next().is_none()
        }
        _ => true,
    };
    if comparable {
        assert_eq!(again, repr, "parse(emit(x)) != x");
    }
}

fn drain(client: &mut TftpClient) {
    while let Some((to, bytes)) = client.transmit() {
        assert!(
            bytes.len() <= CLIENT_TX_MAX,
            "client datagram of {} bytes",
            bytes.len()
        );
        assert!(
            wire::parse(bytes).is_ok(),
            "client sent an unparsable datagram to {to}: {bytes:?}"
        );
    }
}

fn check_client(data: &[u8]) {
    let cfg = ClientConfig {
        server: SERVER,
        file: "pix601.bin",
        blksize: 1468,
        windowsize: 4,
        timeout: Duration::from_millis(500),
        give_up: Duration::from_secs(10),
        request_tsize: true,
        server_timeout_s: Some(1),
        utimeout_us: None,
        multicast: true,
    };
    let mut now = Instant::from_secs(1000);
    let mut client = TftpClient::new(&cfg, now);
    let mut mem = vec![0u8; 2 * SINK];
    let mut progress_ok = true;
    let mut ev = |e: Event| {
        if let Event::Progress { bytes } = e {
            progress_ok &= bytes <= SINK as u64;
        }
    };
    drain(&mut client);

    let mut rest = data;
    for _ in 0..MAX_DATAGRAMS {
        let [ctl, len, tail @ ..] = rest else { break };
        let len = (usize::from(*len) | (usize::from(ctl & 0b1100) << 6)).min(tail.len());
        let (payload, next) = tail.split_at(len);
        rest = next;
        let from = match ctl & 0b11 {
            0 => SocketAddrV4::new(SERVER, 69),
            1 => SocketAddrV4::new(SERVER, 40000),
            2 => SocketAddrV4::new(STRAY, 40000),
            _ => SocketAddrV4::new(SERVER, 40001),
        };
        now += Duration::from_millis(100 * u64::from(ctl >> 4));
        client.poll(now, &mut ev);
        drain(&mut client);
        client.on_datagram(now, from, payload, &mut mem[..SINK], &mut ev);
        drain(&mut client);
        assert!(
            mem[SINK..].iter().all(|&b| b == 0),
            "the client wrote outside its sink"
        );
    }
    // Whatever happened, giving up must end the transfer.
    now += Duration::from_secs(10);
    client.poll(now, &mut ev);
    drain(&mut client);
    assert!(progress_ok, "progress beyond the sink's capacity");
    let outcome = client.outcome();
    assert!(outcome.is_some(), "no outcome after give_up");
    if let Some(Ok(n)) = outcome {
        assert!(n <= SINK as u64, "a {n}-byte file in a {SINK}-byte sink");
        assert_eq!(n, client.received());
    }
    if let Some(Err(e)) = outcome {
        let _ = format!("{e}");
    }
    assert!(
        mem[SINK..].iter().all(|&b| b == 0),
        "the client wrote outside its sink"
    );
}

fuzz_target!(|data: &[u8]| {
    check_wire(data);
    check_client(data);
});
