//! `DhcpGuard<D>`: a `phy::Device` wrapper for `address dhcp` that drops, before smoltcp's
//! DHCP client sees them, the replies that make smoltcp 0.12.0 panic (found by the
//! `dhcp_offer` fuzz target; any DHCP server on the segment can send them):
//!
//! - a reply whose times contradict each other: a renewal time (option 58) or rebinding time
//!   (option 59) longer than the lease (option 51, 120 s when absent), or a renewal after the
//!   rebinding (smoltcp subtracts them: "overflow when subtracting durations", smoltcp#1028);
//! - a reply from IP source 0.0.0.0 (smoltcp then sends its renewal to 0.0.0.0 and asserts).
//!
//! RFC 2131 4.4.5 requires T1 < T2 < lease, so no valid server is affected. A dropped frame
//! reaches smoltcp as an empty frame, which it discards; the count is kept for the operator.
use core::cell::Cell;

use smoltcp::phy::{self, Device, DeviceCapabilities};
use smoltcp::time::Instant;
use smoltcp::wire::{
    DhcpPacket, DhcpRepr, EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, UdpPacket,
    DHCP_CLIENT_PORT,
};

/// smoltcp's lease when the server names none (`socket/dhcpv4.rs` DEFAULT_LEASE_DURATION).
const DEFAULT_LEASE_S: u32 = 120;

/// Would this incoming frame make smoltcp 0.12.0's DHCP client panic?
pub fn harmful(frame: &[u8]) -> bool {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return false;
    };
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return false;
    }
    let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
        return false;
    };
    if ip.next_header() != IpProtocol::Udp {
        return false;
    }
    let Ok(udp) = UdpPacket::new_checked(ip.payload()) else {
        return false;
    };
    if udp.dst_port() != DHCP_CLIENT_PORT {
        return false;
    }
    if ip.src_addr().is_unspecified() {
        return true;
    }
    let Ok(dhcp) = DhcpPacket::new_checked(udp.payload()) else {
        return false;
    };
    let Ok(r) = DhcpRepr::parse(&dhcp) else {
        return false;
    };
    let lease = r.lease_duration.unwrap_or(DEFAULT_LEASE_S);
    let renew = r.renew_duration;
    let rebind = r.rebind_duration;
    renew.is_some_and(|t1| t1 > lease)
        || rebind.is_some_and(|t2| t2 > lease)
        || matches!((renew, rebind), (Some(t1), Some(t2)) if t1 > t2)
}

/// The device `address dhcp` runs on; `dropped` counts the frames it kept from smoltcp.
pub struct DhcpGuard<'s, 'd, D: Device> {
    inner: &'d mut D,
    dropped: &'s Cell<u32>,
}

impl<'s, 'd, D: Device> DhcpGuard<'s, 'd, D> {
    pub fn new(inner: &'d mut D, dropped: &'s Cell<u32>) -> Self {
        Self { inner, dropped }
    }
}

impl<D: Device> Device for DhcpGuard<'_, '_, D> {
    type RxToken<'a>
        = GuardRx<'a, D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }

    fn receive(&mut self, timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let dropped = self.dropped;
        self.inner
            .receive(timestamp)
            .map(|(rx, tx)| (GuardRx { token: rx, dropped }, tx))
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<Self::TxToken<'_>> {
        self.inner.transmit(timestamp)
    }
}

#[doc(hidden)]
pub struct GuardRx<'a, T> {
    token: T,
    dropped: &'a Cell<u32>,
}

impl<T: phy::RxToken> phy::RxToken for GuardRx<'_, T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let dropped = self.dropped;
        self.token.consume(|buf| {
            if harmful(buf) {
                dropped.set(dropped.get().wrapping_add(1));
                f(&[])
            } else {
                f(buf)
            }
        })
    }
    fn meta(&self) -> phy::PacketMeta {
        self.token.meta()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;
    use smoltcp::wire::{DhcpMessageType, DhcpOption, EthernetAddress, DHCP_SERVER_PORT};

    /// An Ethernet/IPv4/UDP frame carrying a DHCP ACK from `src` with the given times.
    fn ack(src: Ipv4Addr, lease: Option<u32>, renew: Option<u32>, rebind: Option<u32>) -> Vec<u8> {
        // smoltcp emits neither option 58 nor 59 from its fields: they go as raw options.
        let (t1, t2) = (
            renew.unwrap_or(0).to_be_bytes(),
            rebind.unwrap_or(0).to_be_bytes(),
        );
        let mut extra = Vec::new();
        if renew.is_some() {
            extra.push(DhcpOption {
                kind: 58,
                data: &t1,
            });
        }
        if rebind.is_some() {
            extra.push(DhcpOption {
                kind: 59,
                data: &t2,
            });
        }
        let dhcp = DhcpRepr {
            message_type: DhcpMessageType::Ack,
            transaction_id: 0x1234,
            secs: 0,
            client_hardware_address: EthernetAddress([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            client_ip: Ipv4Addr::UNSPECIFIED,
            your_ip: Ipv4Addr::new(10, 0, 2, 15),
            server_ip: Ipv4Addr::UNSPECIFIED,
            router: Some(Ipv4Addr::new(10, 0, 2, 2)),
            subnet_mask: Some(Ipv4Addr::new(255, 255, 255, 0)),
            relay_agent_ip: Ipv4Addr::UNSPECIFIED,
            broadcast: false,
            requested_ip: None,
            client_identifier: None,
            server_identifier: Some(Ipv4Addr::new(10, 0, 2, 2)),
            parameter_request_list: None,
            dns_servers: None,
            max_size: None,
            lease_duration: lease,
            renew_duration: None,
            rebind_duration: None,
            additional_options: &extra,
        };
        let mut payload = vec![0u8; dhcp.buffer_len()];
        dhcp.emit(&mut DhcpPacket::new_unchecked(&mut payload[..]))
            .unwrap();
        crate::net::test_frames::udp_frame(
            (
                EthernetAddress([0x52, 0x55, 10, 0, 2, 2]),
                EthernetAddress::BROADCAST,
            ),
            (src, DHCP_SERVER_PORT),
            (Ipv4Addr::new(255, 255, 255, 255), DHCP_CLIENT_PORT),
            &payload,
        )
    }

    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

    #[test]
    fn the_test_frames_carry_the_times() {
        let f = ack(SERVER, Some(60), Some(30), Some(50));
        let dhcp = DhcpPacket::new_checked(&f[42..]).unwrap();
        let r = DhcpRepr::parse(&dhcp).unwrap();
        assert_eq!(
            (r.lease_duration, r.renew_duration, r.rebind_duration),
            (Some(60), Some(30), Some(50))
        );
    }

    #[test]
    fn consistent_times_pass() {
        for (lease, renew, rebind) in [
            (None, None, None),
            (Some(86400), None, None),
            (Some(86400), Some(43200), Some(75600)),
            (Some(600), Some(600), Some(600)),
            (Some(60), Some(0), None),
            (None, Some(120), None),
            (Some(u32::MAX), Some(u32::MAX - 1), None),
        ] {
            assert!(
                !harmful(&ack(SERVER, lease, renew, rebind)),
                "{lease:?} {renew:?} {rebind:?}"
            );
        }
    }

    /// The replies that panic smoltcp 0.12.0 (and every other contradiction of T1 < T2 < lease).
    #[test]
    fn contradicting_times_and_an_unspecified_source_are_dropped() {
        for (lease, renew, rebind) in [
            (Some(60), Some(600), None),
            (None, Some(121), None),
            (Some(60), None, Some(61)),
            (Some(600), Some(500), Some(400)),
            (Some(0), Some(1), None),
        ] {
            assert!(
                harmful(&ack(SERVER, lease, renew, rebind)),
                "{lease:?} {renew:?} {rebind:?}"
            );
        }
        assert!(harmful(&ack(
            Ipv4Addr::UNSPECIFIED,
            Some(600),
            Some(0),
            None
        )));
    }

    #[test]
    fn other_frames_and_garbage_pass_untouched() {
        let mut f = ack(SERVER, Some(60), Some(600), None);
        // To another UDP port: not the DHCP client's business.
        f[14 + 20 + 2..14 + 20 + 4].copy_from_slice(&5000u16.to_be_bytes());
        assert!(!harmful(&f));
        for n in 0..f.len() {
            let _ = harmful(&f[..n]);
        }
        assert!(!harmful(&[]));
    }
}
