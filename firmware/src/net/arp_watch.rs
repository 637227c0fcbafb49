//! `ArpWatch<D>`: passes every frame through unchanged and remembers which addresses we
//! asked for with ARP and which answered, like smoltcp's `phy::Tracer` but keeping
//! state instead of printing.
use core::cell::{Cell, RefCell};
use core::net::Ipv4Addr;

use smoltcp::phy::{self, Device, DeviceCapabilities};
use smoltcp::time::Instant;
use smoltcp::wire::{ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol};

const TRACKED: usize = 8;

/// What has been seen on the wire since the last `clear`.
#[derive(Debug, Default)]
pub struct ArpState {
    requested: RefCell<heapless::Vec<Ipv4Addr, TRACKED>>,
    answered: RefCell<heapless::Vec<Ipv4Addr, TRACKED>>,
    rx_frames: Cell<u32>,
    tx_frames: Cell<u32>,
}

impl ArpState {
    /// Did we send an ARP request for `ip`?
    pub fn requested(&self, ip: Ipv4Addr) -> bool {
        self.requested.borrow().contains(&ip)
    }
    /// Did `ip` send us any ARP packet (reply or request) naming its MAC?
    pub fn answered(&self, ip: Ipv4Addr) -> bool {
        self.answered.borrow().contains(&ip)
    }
    pub fn rx_frames(&self) -> u32 {
        self.rx_frames.get()
    }
    pub fn tx_frames(&self) -> u32 {
        self.tx_frames.get()
    }
    pub fn clear(&self) {
        self.requested.borrow_mut().clear();
        self.answered.borrow_mut().clear();
        self.rx_frames.set(0);
        self.tx_frames.set(0);
    }

    fn note(list: &RefCell<heapless::Vec<Ipv4Addr, TRACKED>>, ip: Ipv4Addr) {
        let mut l = list.borrow_mut();
        if !l.contains(&ip) {
            if l.is_full() {
                l.remove(0);
            }
            let _ = l.push(ip);
        }
    }

    /// Classify one Ethernet frame; anything malformed is simply not ARP.
    fn observe(&self, frame: &[u8], outgoing: bool) {
        if outgoing {
            self.tx_frames.set(self.tx_frames.get().wrapping_add(1));
        } else {
            self.rx_frames.set(self.rx_frames.get().wrapping_add(1));
        }
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return;
        };
        if eth.ethertype() != EthernetProtocol::Arp {
            return;
        }
        let Ok(arp) = ArpPacket::new_checked(eth.payload()) else {
            return;
        };
        let Ok(ArpRepr::EthernetIpv4 {
            operation,
            source_protocol_addr,
            target_protocol_addr,
            ..
        }) = ArpRepr::parse(&arp)
        else {
            return;
        };
        if outgoing {
            if operation == ArpOperation::Request {
                Self::note(&self.requested, target_protocol_addr);
            }
        } else {
            Self::note(&self.answered, source_protocol_addr);
        }
    }
}

/// A `phy::Device` that records ARP traffic in an [`ArpState`].
pub struct ArpWatch<'s, 'd, D: Device> {
    inner: &'d mut D,
    state: &'s ArpState,
}

impl<'s, 'd, D: Device> ArpWatch<'s, 'd, D> {
    pub fn new(inner: &'d mut D, state: &'s ArpState) -> Self {
        Self { inner, state }
    }
}

impl<D: Device> Device for ArpWatch<'_, '_, D> {
    type RxToken<'a>
        = WatchRx<'a, D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = WatchTx<'a, D::TxToken<'a>>
    where
        Self: 'a;

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }

    fn receive(&mut self, timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let state = self.state;
        self.inner
            .receive(timestamp)
            .map(|(rx, tx)| (WatchRx { token: rx, state }, WatchTx { token: tx, state }))
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<Self::TxToken<'_>> {
        let state = self.state;
        self.inner
            .transmit(timestamp)
            .map(|token| WatchTx { token, state })
    }
}

#[doc(hidden)]
pub struct WatchRx<'a, T> {
    token: T,
    state: &'a ArpState,
}

impl<T: phy::RxToken> phy::RxToken for WatchRx<'_, T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let state = self.state;
        self.token.consume(|buf| {
            state.observe(buf, false);
            f(buf)
        })
    }
    fn meta(&self) -> phy::PacketMeta {
        self.token.meta()
    }
}

#[doc(hidden)]
pub struct WatchTx<'a, T> {
    token: T,
    state: &'a ArpState,
}

impl<T: phy::TxToken> phy::TxToken for WatchTx<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let state = self.state;
        self.token.consume(len, |buf| {
            let r = f(buf);
            state.observe(buf, true);
            r
        })
    }
    fn set_meta(&mut self, meta: phy::PacketMeta) {
        self.token.set_meta(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ARP request from 10.0.2.15 (52:54:00:12:34:56) for 10.0.2.2, as smoltcp sends it.
    const ARP_REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08,
        0x06, // Ethernet
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00,
        0x01, // htype, ptype, hlen, plen, op=request
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0, 2, 15, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 2, 2, // target
    ];
    /// The reply from slirp's 10.0.2.2 (52:55:0a:00:02:02).
    const ARP_REPLY: [u8; 42] = [
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x08, 0x06, //
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, //
        0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 10, 0, 2, 2, //
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0, 2, 15,
    ];

    #[test]
    fn request_then_reply() {
        let s = ArpState::default();
        let gw = Ipv4Addr::new(10, 0, 2, 2);
        s.observe(&ARP_REQUEST, true);
        assert!(s.requested(gw) && !s.answered(gw));
        s.observe(&ARP_REPLY, false);
        assert!(s.answered(gw));
        assert_eq!((s.tx_frames(), s.rx_frames()), (1, 1));
        s.clear();
        assert!(!s.requested(gw) && !s.answered(gw));
    }

    #[test]
    fn incoming_request_is_not_our_request() {
        let s = ArpState::default();
        s.observe(&ARP_REQUEST, false); // someone else asking: its sender is alive
        assert!(!s.requested(Ipv4Addr::new(10, 0, 2, 2)));
        assert!(s.answered(Ipv4Addr::new(10, 0, 2, 15)));
    }

    #[test]
    fn malformed_frames_are_counted_not_parsed() {
        let s = ArpState::default();
        for len in 0..ARP_REQUEST.len() {
            s.observe(&ARP_REQUEST[..len], true);
        }
        let mut bad = ARP_REQUEST;
        bad[18] = 9; // hardware length 9: not Ethernet/IPv4 ARP
        s.observe(&bad, true);
        assert!(!s.requested(Ipv4Addr::new(10, 0, 2, 2)));
        assert_eq!(s.tx_frames(), 43);
    }

    #[test]
    fn tracks_a_bounded_number_of_addresses() {
        let s = ArpState::default();
        for i in 0..20u8 {
            let mut f = ARP_REQUEST;
            f[41] = i;
            s.observe(&f, true);
        }
        assert!(s.requested(Ipv4Addr::new(10, 0, 2, 19)));
        assert!(!s.requested(Ipv4Addr::new(10, 0, 2, 0)));
    }
}
