//! Network logic on top of smoltcp that needs no hardware: a `phy::Device` wrapper that
//! watches ARP (so `ping` can say "no ARP reply" rather than just "?????"), and the ICMP
//! echo encoding used by `ping`.
#![forbid(unsafe_code)]

pub mod arp_watch;
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
