//! Fuzzes the `trace on` frame classifier and the one-line frame summary with arbitrary
//! Ethernet frames: neither may panic.
#![no_main]

use core::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use lifeboat_firmware::net::trace::{classify, Summary, TransferContext};

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
});
