//! Table 11-2 on the wire: the test process is the unit's whole network (QEMU `-netdev
//! socket,udp`: one raw Ethernet frame per datagram). It answers ARP, plays a scripted TFTP
//! server, and injects the frames that provoke each trace code, then checks the console:
//! `A`, `(N)`, `<2>` `<3>` `<4>` `<5>` `<6>` `<7>` `<8>` `<11>` and `T` leave the download
//! running; `<9>` and `<10>` stop it; `<-10>` for a missing file; `<-1>` for a dead server.
//! Each scenario runs on the e1000 and on the e1000e (82574L), both on the pc board.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use lifeboat_qemu::{NetBackend, NicModel};

const UNIT_MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const UNIT: [u8; 4] = [10, 0, 3, 15];
const SERVER: [u8; 4] = [10, 0, 3, 2];
const TID: u16 = 44444;

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    for c in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    !(acc as u16)
}

/// Ethernet + IPv4 (+ `payload` as the IP payload, protocol `proto`).
fn ip_frame(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&UNIT_MAC);
    f.extend_from_slice(&SERVER_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + payload.len()) as u16;
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        proto,
        0,
        0,
    ];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = fold(sum16(&ip, 0));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(payload);
    f
}

fn udp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let len = (8 + data.len()) as u16;
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src);
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&len.to_be_bytes());
    let c = fold(sum16(&u, sum16(&pseudo, 0)));
    u[6..8].copy_from_slice(&if c == 0 { 0xFFFF } else { c }.to_be_bytes());
    ip_frame(src, dst, 17, &u)
}

fn arp_reply(to_ip: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&UNIT_MAC);
    f.extend_from_slice(&SERVER_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&SERVER_MAC);
    f.extend_from_slice(&SERVER);
    f.extend_from_slice(&UNIT_MAC);
    f.extend_from_slice(&to_ip);
    f
}

fn data(block: u16, bytes: &[u8]) -> Vec<u8> {
    let mut d = vec![0, 3];
    d.extend_from_slice(&block.to_be_bytes());
    d.extend_from_slice(bytes);
    d
}

/// The fake network: a UDP socket QEMU's NIC sends its frames to.
struct Wire {
    sock: UdpSocket,
    qemu: SocketAddr,
}

/// What the unit sent that the scripts care about.
enum Seen {
    /// An RRQ to port 69 from this source port.
    Rrq(u16),
    /// A TFTP packet to the server's TID: (opcode, block or code).
    Tftp(u16, u16),
}

impl Wire {
    fn new() -> (Wire, NetBackend) {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let mine = sock.local_addr().unwrap();
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        let qemu = probe.local_addr().unwrap();
        drop(probe);
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        (
            Wire { sock, qemu },
            NetBackend::Udp {
                local: qemu,
                remote: mine,
            },
        )
    }

    fn send(&self, frame: &[u8]) {
        let _ = self.sock.send_to(frame, self.qemu);
    }

    /// Next interesting frame within `t`; ARP requests for the server are answered here.
    fn next(&self, t: Duration) -> Option<Seen> {
        let end = Instant::now() + t;
        let mut buf = [0u8; 2048];
        while Instant::now() < end {
            let Ok((n, _)) = self.sock.recv_from(&mut buf) else {
                continue;
            };
            let f = &buf[..n];
            if n >= 42 && f[12..14] == [0x08, 0x06] && f[38..42] == SERVER {
                self.send(&arp_reply(f[28..32].try_into().unwrap()));
                continue;
            }
            if n < 14 + 20 + 8 + 4 || f[12..14] != [0x08, 0x00] || f[23] != 17 {
                continue;
            }
            let udp = &f[34..];
            let sport = u16::from_be_bytes([udp[0], udp[1]]);
            let dport = u16::from_be_bytes([udp[2], udp[3]]);
            let op = u16::from_be_bytes([udp[8], udp[9]]);
            let arg = u16::from_be_bytes([udp[10], udp[11]]);
            if dport == 69 && op == 1 {
                return Some(Seen::Rrq(sport));
            }
            if dport == TID {
                return Some(Seen::Tftp(op, arg));
            }
        }
        None
    }

    fn rrq(&self) -> u16 {
        match self.next(Duration::from_secs(20)) {
            Some(Seen::Rrq(p)) => p,
            _ => panic!("no RRQ from the unit"),
        }
    }
}

fn boot(model: NicModel, backend: NetBackend) -> Qemu {
    let m = machine(Medium::Floppy, 3).nic(model, backend);
    let mut q = launch(&m);
    expect_banner(&mut q);
    q.send(ESC).expect("ESC");
    expect(&mut q, HELP_HINT, REPLY);
    expect(&mut q, PROMPT, REPLY);
    for line in [
        "address 10.0.3.15",
        "server 10.0.3.2",
        "file f.bin",
        "trace on",
    ] {
        command1(&mut q, line);
    }
    q
}

fn start_tftp(q: &mut Qemu) {
    q.send_line("tftp").expect("console");
    expect(q, "tftp\r\n", REPLY);
}

on_nics!(
    nonfatal_codes;
    nonfatal_codes_leave_the_download_running => E1000,
    nonfatal_codes_leave_the_download_running_on_e1000e => E1000e,
);

fn nonfatal_codes(model: NicModel) {
    let (wire, backend) = Wire::new();
    let mut q = boot(model, backend);
    start_tftp(&mut q);
    let port = wire.rrq();
    let s = |sp, dp, d: &[u8]| udp_frame(SERVER, UNIT, sp, dp, d);
    let mut tcp = ip_frame(SERVER, UNIT, 6, &[0u8; 20]);
    let mut bad_ihl = s(TID, port, &data(9, b"x"));
    bad_ihl[14] = 0x44; // IHL 4: shorter than an IPv4 header
    let mut bad_sum = s(TID, port, &data(1, &[7u8; 100]));
    let n = bad_sum.len();
    bad_sum[n - 1] ^= 0x55; // payload changed after the checksum
    let mut v6 = ip_frame(SERVER, UNIT, 17, &[0u8; 40]);
    v6[12..14].copy_from_slice(&[0x86, 0xDD]);
    tcp.truncate(tcp.len());
    let injected = [
        (v6, "(34525)"),
        (s(TID, port, &[0, 3]), "<2>"),
        (
            udp_frame([10, 0, 3, 99], UNIT, TID, port, &data(1, b"x")),
            "<3>",
        ),
        (bad_ihl, "<4>"),
        (tcp, "<5>"),
        (
            udp_frame(SERVER, [10, 0, 3, 77], TID, port, &data(1, b"x")),
            "<6>",
        ),
        (s(TID, port.wrapping_add(1), &data(1, b"x")), "<7>"),
        (bad_sum, "<8>"),
    ];
    for (frame, _) in &injected {
        wire.send(frame);
    }
    // The file: 3 blocks of 512 and a short one, lock-step; an out-of-sequence block and a
    // silence long enough for a retransmission on the way.
    let file: Vec<u8> = (0..1600u32).map(|i| (i * 13) as u8).collect();
    let blocks: Vec<&[u8]> = file.chunks(512).collect();
    wire.send(&s(TID, port, &data(1, blocks[0])));
    let mut next = 1usize;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stalled = false;
    while next <= blocks.len() && Instant::now() < deadline {
        match wire.next(Duration::from_secs(2)) {
            Some(Seen::Tftp(4, b)) if usize::from(b) == next => {
                if next == 1 {
                    // Another port of the server: the wrong-TID <7> (the client answers ERROR 5).
                    wire.send(&s(TID + 1, port, &data(2, blocks[1])));
                    // A block from the future: <11>.
                    wire.send(&s(TID, port, &data(3, blocks[2])));
                }
                if next == 2 && !stalled {
                    // Say nothing: the unit retransmits its ACK (T), then we go on.
                    stalled = true;
                    continue;
                }
                next += 1;
                if next <= blocks.len() {
                    wire.send(&s(TID, port, &data(next as u16, blocks[next - 1])));
                }
            }
            _ => {}
        }
    }
    let out = expect(&mut q, PROMPT, Duration::from_secs(30));
    for (_, code) in &injected {
        assert!(out.contains(code), "{code} missing in {out:?}");
    }
    for code in ["A", "<7>", "<11>", "T"] {
        assert!(out.contains(code), "{code} missing in {out:?}");
    }
    assert!(out.contains("Received 1600 bytes in "), "{out:?}");
}

/// The server's first answer is `answer`: the download stops with `code` and `line`.
fn fatal(model: NicModel, answer: &[u8], code: &str, line: &str) {
    let (wire, backend) = Wire::new();
    let mut q = boot(model, backend);
    start_tftp(&mut q);
    let port = wire.rrq();
    wire.send(&udp_frame(SERVER, UNIT, TID, port, answer));
    let out = expect(&mut q, PROMPT, Duration::from_secs(30));
    assert!(out.contains(code), "{code} missing in {out:?}");
    assert!(
        lines(&out).iter().any(|l| l.starts_with(line)),
        "{line} missing in {out:?}"
    );
    assert!(!out.contains("Received"), "{out:?}");
}

on_nics!(
    |m| fatal(m, &[0, 4, 0, 0], "<9>", "tftp: unexpected TFTP opcode 4 from the server (9)");
    unexpected_opcode_stops_with_9 => E1000,
    unexpected_opcode_stops_with_9_on_e1000e => E1000e,
);

on_nics!(
    |m| fatal(
        m,
        b"\0\x05\0\x02Access violation\0",
        "<10>",
        "tftp: the server ended the transfer (10): error 2 'Access violation'",
    );
    transfer_error_stops_with_10 => E1000,
    transfer_error_stops_with_10_on_e1000e => E1000e,
);

on_nics!(
    |m| fatal(
        m,
        b"\0\x05\0\x01File not found\0",
        "<-10>",
        "tftp: file not found on 10.0.3.2 (-10)",
    );
    missing_file_is_minus_10 => E1000,
    missing_file_is_minus_10_on_e1000e => E1000e,
);

on_nics!(
    dead_server;
    dead_server_is_minus_1 => E1000,
    dead_server_is_minus_1_on_e1000e => E1000e,
);

fn dead_server(model: NicModel) {
    let (wire, backend) = Wire::new();
    let mut q = boot(model, backend);
    start_tftp(&mut q);
    let _ = wire.rrq();
    // Answer ARP (in `next`) but never TFTP.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(24) {
        let _ = wire.next(Duration::from_millis(200));
        if q.transcript().contains("(-1)") {
            break;
        }
    }
    let out = expect(&mut q, PROMPT, Duration::from_secs(10));
    assert!(out.contains("T<-1>") || out.contains("TT"), "{out:?}");
    assert!(
        out.contains("tftp: no answer from 10.0.3.2 for 20 s (-1)"),
        "{out:?}"
    );
}
