//! Fuzzes the `trace on` frame classifier, the one-line frame summary and the multicast
//! group's rewrite to the transfer's socket with arbitrary Ethernet frames: none may panic,
//! and a rewritten frame keeps its length.
#![no_main]

use core::net::{Ipv4Addr, SocketAddrV4};

use libfuzzer_sys::fuzz_target;
use lifeboat_firmware::net::trace::{
    classify, group_to_unicast, GroupRoute, Summary, TransferContext,
};

fuzz_target!(|frame: &[u8]| {
    let ctx = TransferContext {
        local_ip: Ipv4Addr::new(10, 0, 2, 15),
        local_port: 50000,
        group: None,
    };
    if let Some(code) = classify(frame, &ctx) {
        let _ = format!("{code}");
    }
    let out = format!("{}", Summary::new(frame, true));
    assert!(out.starts_with("out "));
    let inc = format!("{}", Summary::new(frame, false));
    assert!(inc.starts_with("in "));
    let route = GroupRoute {
        group: SocketAddrV4::new(Ipv4Addr::new(239, 255, 0, 0), 1758),
        server: SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 2), 40000),
        local: SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 15), 50000),
    };
    let mut copy = [0u8; 1536];
    if let Some(n) = group_to_unicast(frame, &route, &mut copy) {
        assert_eq!(n, frame.len());
    }
});
