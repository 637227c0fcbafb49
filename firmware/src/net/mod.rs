//! Network logic on top of smoltcp that needs no hardware: a `phy::Device` wrapper that
//! watches ARP (so `ping` can say "no ARP reply" rather than just "?????"), and the ICMP
//! echo encoding used by `ping`.
#![forbid(unsafe_code)]

pub mod arp_watch;
pub mod bringup;
pub mod dhcp_guard;
pub mod dns;
pub mod echo;
pub mod http;
pub mod lease;
pub mod ping;
pub mod session;
pub mod tftp;
pub mod trace;

#[cfg(test)]
mod test_frames;

pub use arp_watch::{ArpState, ArpWatch};

/// The interface the monitor starts with, among `count` NICs, as on the PIX: with two or more
/// the inside one (1), with one that one (0), with none none.
pub fn default_interface(count: usize) -> Option<usize> {
    match count {
        0 => None,
        1 => Some(0),
        _ => Some(1),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_interface_is_the_inside_one_when_there_are_two() {
        let d: [Option<usize>; 4] = core::array::from_fn(super::default_interface);
        assert_eq!(d, [None, Some(0), Some(1), Some(1)]);
    }
}
