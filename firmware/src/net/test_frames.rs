//! Frames for the network tests: whole Ethernet/IPv4/UDP frames with correct checksums,
//! built with smoltcp's own emitters; and the sessions' simulated clock.
use std::vec;
use std::vec::Vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol,
    Ipv4Address as Ipv4Addr, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};

/// One UDP datagram `src:sport -> dst:dport` from `src_mac` to `dst_mac`.
pub(crate) fn udp_frame(
    (src_mac, dst_mac): (EthernetAddress, EthernetAddress),
    (src, sport): (Ipv4Addr, u16),
    (dst, dport): (Ipv4Addr, u16),
    payload: &[u8],
) -> Vec<u8> {
    let eth = EthernetRepr {
        src_addr: src_mac,
        dst_addr: dst_mac,
        ethertype: EthernetProtocol::Ipv4,
    };
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: 8 + payload.len(),
        hop_limit: 64,
    };
    let mut buf = vec![0u8; 14 + 20 + 8 + payload.len()];
    let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.emit(&mut f);
    let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
    ip.emit(&mut p, &ChecksumCapabilities::default());
    let mut u = UdpPacket::new_unchecked(p.payload_mut());
    UdpRepr {
        src_port: sport,
        dst_port: dport,
    }
    .emit(
        &mut u,
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        payload.len(),
        |b| b.copy_from_slice(payload),
        &ChecksumCapabilities::default(),
    );
    buf
}

/// The sessions' clock in tests: every look at it costs 100 µs, so loops always make
/// progress (and a 20 s timeout is 200,000 looks).
pub struct SimClock(pub core::cell::Cell<i64>);

impl super::session::Clock for SimClock {
    fn now(&self) -> smoltcp::time::Instant {
        let t = self.0.get() + 100;
        self.0.set(t);
        smoltcp::time::Instant::from_micros(t)
    }
}
