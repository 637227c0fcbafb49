//! [`Lease::sanitize`] against the worst values a DHCP server (or anyone answering in its
//! place) can send.
use std::string::{String, ToString};
use std::vec::Vec;

use super::*;

fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

const MASK_24: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);

/// A good lease on 10.0.0.0/24: this unit .5, router .1, server .2, file `pix.bin`.
fn good() -> Lease {
    Lease {
        address: ip(10, 0, 0, 5),
        netmask: MASK_24,
        gateway: Some(ip(10, 0, 0, 1)),
        server: Some(ip(10, 0, 0, 2)),
        file: Some(OfferedFile::from_slice(b"pix.bin").unwrap()),
        dns: None,
    }
}

fn with_file(bytes: &[u8]) -> Lease {
    Lease {
        file: Some(OfferedFile::from_slice(bytes).unwrap()),
        ..good()
    }
}

fn warnings_of(lease: &Lease) -> Vec<LeaseWarning> {
    lease.sanitize().unwrap().1.iter().copied().collect()
}

#[test]
fn a_good_lease_is_taken_whole() {
    let (clean, warnings) = good().sanitize().unwrap();
    assert!(warnings.is_empty());
    assert_eq!(
        clean,
        CleanLease {
            address: ip(10, 0, 0, 5),
            netmask: MASK_24,
            gateway: Some(ip(10, 0, 0, 1)),
            server: Some(ip(10, 0, 0, 2)),
            file: Some(FileName::try_from("pix.bin").unwrap()),
            dns: None,
        }
    );
    // The server may be the router, and off the subnet (reached through the router).
    for server in [ip(10, 0, 0, 1), ip(192, 168, 7, 7)] {
        let lease = Lease {
            server: Some(server),
            ..good()
        };
        assert_eq!(lease.sanitize().unwrap().0.server, Some(server));
    }
}

#[test]
fn masks_outside_1_to_30_or_not_contiguous_refuse_the_lease() {
    for (mask, prefix) in [
        (ip(0, 0, 0, 0), 0),
        (ip(255, 255, 255, 254), 31),
        (ip(255, 255, 255, 255), 32),
    ] {
        let lease = Lease {
            netmask: mask,
            ..good()
        };
        assert_eq!(
            lease.sanitize(),
            Err(LeaseError::PrefixOutOfRange {
                netmask: mask,
                prefix
            }),
            "{mask}"
        );
    }
    for mask in [
        ip(255, 0, 255, 0),
        ip(0, 255, 255, 255),
        ip(255, 255, 255, 1),
    ] {
        let lease = Lease {
            netmask: mask,
            ..good()
        };
        assert_eq!(
            lease.sanitize(),
            Err(LeaseError::MaskNotContiguous(mask)),
            "{mask}"
        );
    }
    // The edges that are allowed.
    for (address, mask) in [
        (ip(10, 0, 0, 5), ip(128, 0, 0, 0)),
        (ip(10, 0, 0, 5), ip(255, 255, 255, 252)),
    ] {
        let lease = Lease {
            address,
            netmask: mask,
            gateway: Some(ip(10, 0, 0, 6)),
            server: None,
            file: None,
            dns: None,
        };
        assert!(lease.sanitize().is_ok(), "{mask}");
    }
    assert_eq!(
        Lease {
            netmask: ip(255, 255, 255, 254),
            ..good()
        }
        .sanitize()
        .unwrap_err()
        .to_string(),
        "the netmask 255.255.255.254 (/31) is outside /1 to /30"
    );
    assert_eq!(
        LeaseError::MaskNotContiguous(ip(255, 0, 255, 0)).to_string(),
        "the netmask 255.0.255.0 is not contiguous"
    );
}

#[test]
fn an_address_that_is_no_host_refuses_the_lease() {
    let cases = [
        (ip(0, 0, 0, 0), AddrProblem::ThisNetwork),
        (ip(0, 1, 2, 3), AddrProblem::ThisNetwork),
        (ip(255, 255, 255, 255), AddrProblem::Broadcast),
        (ip(127, 0, 0, 1), AddrProblem::Loopback),
        (ip(224, 0, 0, 1), AddrProblem::Multicast),
        (ip(239, 255, 255, 250), AddrProblem::Multicast),
        (ip(240, 0, 0, 1), AddrProblem::Reserved),
        (ip(10, 0, 0, 0), AddrProblem::SubnetNetwork),
        (ip(10, 0, 0, 255), AddrProblem::SubnetBroadcast),
    ];
    for (addr, why) in cases {
        let lease = Lease {
            address: addr,
            ..good()
        };
        assert_eq!(
            lease.sanitize(),
            Err(LeaseError::Address { addr, why }),
            "{addr}"
        );
    }
    assert_eq!(
        LeaseError::Address {
            addr: ip(10, 0, 0, 255),
            why: AddrProblem::SubnetBroadcast
        }
        .to_string(),
        "the address 10.0.0.255: it is the subnet's broadcast address"
    );
}

/// Addresses no router or server may have, on 10.0.0.0/24 with this unit at .5.
const NO_PEER: [(Ipv4Addr, AddrProblem); 9] = [
    (Ipv4Addr::new(0, 0, 0, 0), AddrProblem::ThisNetwork),
    (Ipv4Addr::new(255, 255, 255, 255), AddrProblem::Broadcast),
    (Ipv4Addr::new(10, 0, 0, 255), AddrProblem::SubnetBroadcast),
    (Ipv4Addr::new(10, 0, 0, 0), AddrProblem::SubnetNetwork),
    (Ipv4Addr::new(10, 0, 0, 5), AddrProblem::OwnAddress),
    (Ipv4Addr::new(127, 0, 0, 1), AddrProblem::Loopback),
    (Ipv4Addr::new(224, 0, 0, 9), AddrProblem::Multicast),
    (Ipv4Addr::new(250, 1, 2, 3), AddrProblem::Reserved),
    (Ipv4Addr::new(0, 0, 0, 7), AddrProblem::ThisNetwork),
];

#[test]
fn a_bad_router_is_ignored_and_the_rest_kept() {
    let off = AddrProblem::OffSubnet {
        network: ip(10, 0, 0, 0),
        prefix: 24,
    };
    let cases = NO_PEER
        .iter()
        .copied()
        .chain([(ip(10, 0, 1, 1), off), (ip(192, 168, 1, 1), off)]);
    for (addr, why) in cases {
        let lease = Lease {
            gateway: Some(addr),
            ..good()
        };
        let (clean, warnings) = lease.sanitize().unwrap();
        assert_eq!(clean.gateway, None, "{addr}");
        assert_eq!(clean.server, Some(ip(10, 0, 0, 2)));
        assert_eq!(clean.address, ip(10, 0, 0, 5));
        assert_eq!(
            &warnings[..],
            [LeaseWarning::Gateway { addr, why }],
            "{addr}"
        );
    }
    assert_eq!(
        LeaseWarning::Gateway {
            addr: ip(10, 0, 1, 1),
            why: off
        }
        .to_string(),
        "gateway: ignored the DHCP router 10.0.1.1: it is not on the leased subnet 10.0.0.0/24"
    );
}

#[test]
fn a_bad_server_is_ignored_and_the_rest_kept() {
    for (addr, why) in NO_PEER {
        let lease = Lease {
            server: Some(addr),
            ..good()
        };
        let (clean, warnings) = lease.sanitize().unwrap();
        assert_eq!(clean.server, None, "{addr}");
        assert_eq!(clean.gateway, Some(ip(10, 0, 0, 1)));
        assert_eq!(
            &warnings[..],
            [LeaseWarning::Server { addr, why }],
            "{addr}"
        );
    }
    assert_eq!(
        LeaseWarning::Server {
            addr: ip(255, 255, 255, 255),
            why: AddrProblem::Broadcast
        }
        .to_string(),
        "server: ignored the DHCP server 255.255.255.255: it is the broadcast address"
    );
}

#[test]
fn boot_file_names_must_be_printable_ascii_without_spaces() {
    let refused: [(&[u8], NameProblem); 10] = [
        (b"pix\0evil.bin", NameProblem::Nul { at: 4 }),
        (b"\0pix.bin", NameProblem::Nul { at: 1 }),
        (
            b"\x1b[2Jpix.bin",
            NameProblem::Control { at: 1, byte: 0x1b },
        ),
        (
            b"pix\x1b]0;owned\x07.bin",
            NameProblem::Control { at: 4, byte: 0x1b },
        ),
        (
            b"pix.bin\r\nmonitor> ",
            NameProblem::Control { at: 8, byte: b'\r' },
        ),
        (b"pix\x7f.bin", NameProblem::Control { at: 4, byte: 0x7f }),
        (b"pix\x9b2J", NameProblem::NotAscii { at: 4, byte: 0x9b }),
        (
            "pïx.bin".as_bytes(),
            NameProblem::NotAscii { at: 2, byte: 0xc3 },
        ),
        (b" pix.bin", NameProblem::Space { at: 1 }),
        (b"pix.bin ", NameProblem::Space { at: 8 }),
    ];
    for (bytes, why) in refused {
        let trimmed = bytes.len();
        let (clean, warnings) = with_file(bytes).sanitize().unwrap();
        assert_eq!(clean.file, None, "{bytes:?}");
        assert_eq!(
            &warnings[..],
            [LeaseWarning::File { len: trimmed, why }],
            "{bytes:?}"
        );
        // The rest of the lease stands.
        assert_eq!(clean.server, Some(ip(10, 0, 0, 2)));
    }
    // Trailing NULs are padding (the BOOTP field, a C string's end), not part of the name.
    let mut field = [0u8; 128];
    field[..7].copy_from_slice(b"pix.bin");
    let (clean, warnings) = with_file(&field).sanitize().unwrap();
    assert!(warnings.is_empty());
    assert_eq!(clean.file.as_deref(), Some("pix.bin"));
    // The longest name the `file` setting holds passes; one more byte is refused.
    let longest = [b'n'; MAX_FILE_NAME_LEN];
    assert_eq!(
        with_file(&longest).sanitize().unwrap().0.file.as_deref(),
        Some(core::str::from_utf8(&longest).unwrap())
    );
    let too_long = [b'n'; MAX_FILE_NAME_LEN + 1];
    assert_eq!(
        warnings_of(&with_file(&too_long)),
        [LeaseWarning::File {
            len: MAX_FILE_NAME_LEN + 1,
            why: NameProblem::TooLong
        }]
    );
    assert_eq!(
        warnings_of(&with_file(&[0; 5])),
        [LeaseWarning::File {
            len: 0,
            why: NameProblem::Empty
        }]
    );
    // Every printable byte but the space is taken.
    let all: Vec<u8> = (0x21..=0x7e).collect();
    assert_eq!(
        with_file(&all)
            .sanitize()
            .unwrap()
            .0
            .file
            .as_deref()
            .map(str::len),
        Some(all.len())
    );
}

#[test]
fn a_refused_name_is_shown_by_length_and_byte_number_never_by_its_bytes() {
    let lease = with_file(b"a\x1b[2J\x1b]0;x\x07\r\n\0\0");
    let lines: Vec<String> = warnings_of(&lease).iter().map(|w| w.to_string()).collect();
    assert_eq!(
        lines,
        ["file: ignored the DHCP boot file name (13 bytes): byte 2 is 0x1b, a control character"]
    );
    for line in &lines {
        assert!(line.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{line:?}");
    }
}

#[test]
fn every_warning_at_once_in_setting_order() {
    let lease = Lease {
        address: ip(192, 168, 1, 10),
        netmask: ip(255, 255, 255, 0),
        gateway: Some(ip(192, 168, 1, 10)),
        server: Some(ip(192, 168, 1, 255)),
        file: Some(OfferedFile::from_slice(b"x\0y").unwrap()),
        dns: None,
    };
    let w = warnings_of(&lease);
    assert!(matches!(
        w[..],
        [
            LeaseWarning::Gateway { .. },
            LeaseWarning::Server { .. },
            LeaseWarning::File { .. }
        ]
    ));
}

#[test]
fn offered_file_prefers_option_67_and_skips_empty_ones() {
    let mut field = [0u8; 128];
    field[..8].copy_from_slice(b"field.bi");
    let f = |o: Option<&[u8]>, field: &[u8]| offered_file(o, field).map(|v| v.to_vec());
    assert_eq!(f(Some(b"opt.bin\0"), &field), Some(b"opt.bin\0".to_vec()));
    assert_eq!(f(Some(b"\0\0"), &field), Some(field.to_vec()));
    assert_eq!(f(Some(b""), &field), Some(field.to_vec()));
    assert_eq!(f(None, &field), Some(field.to_vec()));
    assert_eq!(f(None, &[0; 128]), None);
    assert_eq!(f(Some(b"\0"), &[0; 128]), None);
    // A bad option 67 is kept (and then refused), not replaced by the field.
    assert_eq!(f(Some(b"a\x1bb"), &field), Some(b"a\x1bb".to_vec()));
    // The longest an option can be.
    assert_eq!(f(Some(&[b'a'; 255]), &field).map(|v| v.len()), Some(255));
}

#[test]
fn sanitize_never_panics_on_any_mask_or_short_name() {
    for prefix_bits in 0..=32u32 {
        let mask = Ipv4Addr::from(u32::MAX.checked_shl(32 - prefix_bits).unwrap_or(0));
        for address in [ip(0, 0, 0, 0), ip(10, 0, 0, 5), ip(255, 255, 255, 255)] {
            let _ = Lease {
                address,
                netmask: mask,
                ..good()
            }
            .sanitize();
        }
    }
    for a in 0..=255u8 {
        for b in 0..=255u8 {
            let _ = with_file(&[a, b]).sanitize();
        }
    }
}

#[test]
fn a_bad_name_server_is_ignored_and_the_rest_kept() {
    for (addr, why) in NO_PEER {
        let lease = Lease {
            dns: Some(addr),
            ..good()
        };
        let (clean, warnings) = lease.sanitize().unwrap();
        assert_eq!(clean.dns, None, "{addr}");
        assert_eq!(clean.server, Some(ip(10, 0, 0, 2)));
        assert_eq!(&warnings[..], [LeaseWarning::Dns { addr, why }], "{addr}");
    }
    // Off the subnet is fine for a name server: it is reached through the gateway.
    let lease = Lease {
        dns: Some(ip(8, 8, 8, 8)),
        ..good()
    };
    let (clean, warnings) = lease.sanitize().unwrap();
    assert_eq!((clean.dns, warnings.len()), (Some(ip(8, 8, 8, 8)), 0));
    assert_eq!(
        LeaseWarning::Dns {
            addr: ip(255, 255, 255, 255),
            why: AddrProblem::Broadcast
        }
        .to_string(),
        "dns: ignored the DHCP name server 255.255.255.255: it is the broadcast address"
    );
}
