//! Console transcripts fed byte by byte through [`Monitor::feed`].

use super::*;
use crate::net::lease::{Lease, OfferedFile};

/// A monitor with two interfaces, as on the PIX in the manual.
fn monitor() -> Monitor {
    Monitor::new(MONITOR_PROMPT, 2)
}

/// Feeds `input` and returns everything written plus the actions returned.
fn type_in(monitor: &mut Monitor, input: &str) -> (String, Vec<Action>) {
    type_bytes(monitor, input.as_bytes())
}

fn type_bytes(monitor: &mut Monitor, input: &[u8]) -> (String, Vec<Action>) {
    let mut out = String::new();
    let mut actions = Vec::new();
    for &byte in input {
        let action = monitor.feed(byte, &mut out);
        if action != Action::None {
            actions.push(action);
        }
    }
    (out, actions)
}

/// Feeds one line and returns the output only, asserting it asked for no action.
fn answer(monitor: &mut Monitor, line: &str) -> String {
    let (out, actions) = type_in(monitor, &format!("{line}\r"));
    assert_eq!(actions, [], "{line}");
    out
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

#[test]
fn prompt_has_one_trailing_space() {
    let mut out = String::new();
    monitor().print_prompt(&mut out);
    assert_eq!(out, "monitor> ");
    let mut out = String::new();
    Monitor::new(BOOTHELPER_PROMPT, 1).print_prompt(&mut out);
    assert_eq!(out, "pixboothelper> ");
}

#[test]
fn the_manuals_transcript() {
    let mut m = monitor();
    let (out, actions) = type_in(
        &mut m,
        "addr 192.168.1.1\rserv 192.168.1.2\rfile pix601.bin\rping 192.168.1.2\r",
    );
    assert_eq!(
        out,
        "addr 192.168.1.1\r\naddress 192.168.1.1\r\nmonitor> \
         serv 192.168.1.2\r\nserver 192.168.1.2\r\nmonitor> \
         file pix601.bin\r\nfile pix601.bin\r\nmonitor> \
         ping 192.168.1.2\r\n"
    );
    assert_eq!(actions, [Action::Ping(ip(192, 168, 1, 2))]);
    // The caller pings, then prints the prompt.
    let mut out = String::new();
    m.print_prompt(&mut out);
    let (more, actions) = type_in(&mut m, "tftp\r");
    out += &more;
    assert_eq!(out, "monitor> tftp\r\n");
    assert_eq!(actions, [Action::Tftp(None)]);

    let settings = m.settings();
    assert_eq!(settings.address, Some(ip(192, 168, 1, 1)));
    assert_eq!(settings.netmask, ip(255, 255, 255, 0));
    assert_eq!(settings.server, Some(ip(192, 168, 1, 2)));
    assert_eq!(settings.file.as_str(), "pix601.bin");
}

#[test]
fn address_with_mask_and_shown_back() {
    let mut m = monitor();
    assert_eq!(
        answer(&mut m, "address"),
        "address\r\naddress not set\r\nmonitor> "
    );
    assert_eq!(
        answer(&mut m, "a 10.0.2.15 255.255.0.0"),
        "a 10.0.2.15 255.255.0.0\r\naddress 10.0.2.15 255.255.0.0\r\nmonitor> "
    );
    assert_eq!(m.settings().netmask, ip(255, 255, 0, 0));
    assert_eq!(
        answer(&mut m, "addr"),
        "addr\r\naddress 10.0.2.15 255.255.0.0\r\nmonitor> "
    );
    // Without a mask the default comes back.
    assert!(answer(&mut m, "addr 10.0.2.15").ends_with("\r\naddress 10.0.2.15\r\nmonitor> "));
    assert!(answer(&mut m, "addr").ends_with("\r\naddress 10.0.2.15 255.255.255.0\r\nmonitor> "));
    // Canonical form: leading zeros dropped.
    assert!(answer(&mut m, "addr 010.000.002.015").ends_with("\r\naddress 10.0.2.15\r\nmonitor> "));
}

#[test]
fn show_and_set_the_other_values() {
    let mut m = monitor();
    assert!(answer(&mut m, "server").ends_with("\r\nserver not set\r\nmonitor> "));
    assert!(answer(&mut m, "gateway").ends_with("\r\ngateway not set\r\nmonitor> "));
    assert!(answer(&mut m, "file").ends_with("\r\nfile not set\r\nmonitor> "));
    assert_eq!(
        type_in(&mut m, "interface\r"),
        ("interface\r\n".into(), vec![Action::Interface(0)])
    );
    assert!(answer(&mut m, "trace").ends_with("\r\ntrace off\r\nmonitor> "));

    assert!(answer(&mut m, "g 10.0.2.2").ends_with("\r\ngateway 10.0.2.2\r\nmonitor> "));
    assert_eq!(
        type_in(&mut m, "i 1\r"),
        ("i 1\r\n".into(), vec![Action::Interface(1)])
    );
    assert!(answer(&mut m, "trace on").ends_with("\r\ntrace on\r\nmonitor> "));
    assert!(answer(&mut m, "f cdisk").ends_with("\r\nfile cdisk\r\nmonitor> "));

    assert!(answer(&mut m, "gateway").ends_with("\r\ngateway 10.0.2.2\r\nmonitor> "));
    assert_eq!(type_in(&mut m, "interface\r").1, [Action::Interface(1)]);
    assert!(answer(&mut m, "trace").ends_with("\r\ntrace on\r\nmonitor> "));
    assert!(answer(&mut m, "file").ends_with("\r\nfile cdisk\r\nmonitor> "));
    assert!(answer(&mut m, "trace off").ends_with("\r\ntrace off\r\nmonitor> "));
    assert!(!m.settings().trace);
    assert_eq!(m.settings().interface, 1);
    assert_eq!(m.settings().gateway, Some(ip(10, 0, 2, 2)));
}

#[test]
fn help_lists_every_command_once_in_one_line_each() {
    let mut m = monitor();
    for word in ["?", "help", "h", "HELP"] {
        let out = answer(&mut m, word);
        let body = out
            .strip_prefix(&format!("{word}\r\n"))
            .and_then(|rest| rest.strip_suffix("monitor> "))
            .unwrap();
        let lines: Vec<&str> = body.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), command::COMMANDS.len(), "{body}");
        for (line, info) in lines.iter().zip(command::COMMANDS) {
            assert!(line.starts_with(info.usage), "{line}");
            assert!(line.ends_with(info.help), "{line}");
        }
        for name in [
            "address",
            "file",
            "gateway",
            "help",
            "interface",
            "ping",
            "reload",
            "server",
            "tftp",
            "trace",
        ] {
            assert_eq!(
                lines.iter().filter(|l| l.starts_with(name)).count(),
                1,
                "{name}"
            );
        }
        assert!(lines.iter().any(|l| l.starts_with("? ")));
        assert!(body.contains("255.255.255.0"));
        assert!(body.contains("default: the server"));
        assert!(!body.contains("crashtest"));
        assert!(!body.contains("flashtest"));
        assert!(!body.contains('\n') || body.matches('\n').count() == body.matches("\r\n").count());
    }
}

#[test]
fn empty_lines_just_reprint_the_prompt() {
    let mut m = monitor();
    let (out, actions) = type_in(&mut m, "\r\r\n   \r");
    assert_eq!(out, "\r\nmonitor> \r\nmonitor>    \r\nmonitor> ");
    assert_eq!(actions, []);
}

#[test]
fn crlf_and_lf_line_ends() {
    let mut m = monitor();
    let (out, _) = type_in(&mut m, "serv 10.0.0.1\r\nserv\n");
    assert_eq!(
        out,
        "serv 10.0.0.1\r\nserver 10.0.0.1\r\nmonitor> serv\r\nserver 10.0.0.1\r\nmonitor> "
    );
}

#[test]
fn editing_keys_take_effect_before_the_command_runs() {
    let mut m = monitor();
    let (out, _) = type_in(&mut m, "serv 10.0.0.99\x08\x7F1\r");
    assert!(out.ends_with("\r\nserver 10.0.0.1\r\nmonitor> "), "{out:?}");
    let (out, _) = type_in(&mut m, "garbage\x15serv\r");
    assert!(out.ends_with("\r\nserver 10.0.0.1\r\nmonitor> "), "{out:?}");
}

/// Every bad line gets exactly one line of answer and the prompt, and
/// changes no setting.
#[test]
fn bad_input_gets_one_line_and_changes_nothing() {
    let mut m = monitor();
    answer(&mut m, "addr 10.0.0.1 255.255.0.0");
    answer(&mut m, "serv 10.0.0.2");
    answer(&mut m, "file good.bin");
    answer(&mut m, "gateway 10.0.0.254");
    type_in(&mut m, "interface 1\r");
    answer(&mut m, "trace on");
    let before = m.settings().clone();

    let cases: &[(&str, &str)] = &[
        (
            "address 192.168.1",
            "address: invalid IPv4 address \"192.168.1\" (only 3 of 4 numbers; expected 4 dotted numbers 0-255)",
        ),
        (
            "address 192.168.1.1 255.0.255.0",
            "address: invalid netmask \"255.0.255.0\" (the one bits must be contiguous, like 255.255.255.0)",
        ),
        ("address 192.168.1.1 255.255.255.0 1", "address: too many arguments; usage: address [IP [MASK]|dhcp]"),
        (
            "serv 1..2.3",
            "server: invalid IPv4 address \"1..2.3\" (number 2 is empty; expected 4 dotted numbers 0-255)",
        ),
        (
            "gateway 1.2.3.4x",
            "gateway: invalid IPv4 address \"1.2.3.4x\" (unexpected character 'x'; expected 4 dotted numbers 0-255)",
        ),
        ("server 1.2.3.4 5", "server: too many arguments; usage: server [IP]"),
        ("file a b", "file: too many arguments; usage: file [NAME]"),
        ("interface 2", "interface: no interface 2; choose 0 to 1"),
        ("interface one", "interface: \"one\" is not an interface number"),
        ("trace yes", "trace: expected \"on\" or \"off\", not \"yes\""),
        ("foo", "unknown command \"foo\"; type ? for help"),
        ("t", "ambiguous command \"t\": could be tftp or trace"),
        ("t on", "ambiguous command \"t\": could be tftp or trace"),
        ("crash panic", "unknown command \"crash\"; type ? for help"),
        ("crashtest reboot", "crashtest: expected page-fault, invalid-opcode, panic or stack-overflow"),
        (
            "ping 1.2.3",
            "ping: invalid IPv4 address \"1.2.3\" (only 3 of 4 numbers; expected 4 dotted numbers 0-255)",
        ),
        ("tftp x", "tftp: \"x\" is not a block size from 8 to 1468"),
        ("reload now", "reload: too many arguments; usage: reload"),
    ];
    for (line, message) in cases {
        let out = answer(&mut m, line);
        assert_eq!(out, format!("{line}\r\n{message}\r\nmonitor> "));
        assert_eq!(m.settings(), &before, "{line}");
    }

    let long_file = format!("file {}", "x".repeat(128));
    let out = answer(&mut m, &long_file);
    assert_eq!(
        out,
        format!("{long_file}\r\nfile: name too long (max 127 characters)\r\nmonitor> ")
    );
    assert_eq!(m.settings(), &before);
}

#[test]
fn too_long_line_is_ignored_whole() {
    let mut m = monitor();
    // A valid command followed by enough text to overflow must not run.
    let line = format!("serv 10.0.0.1 {}", "x".repeat(300));
    let (out, actions) = type_in(&mut m, &format!("{line}\r"));
    assert_eq!(actions, []);
    assert_eq!(
        out,
        format!(
            "{}\r\nline too long (max 255 characters); ignored\r\nmonitor> ",
            &line[..255]
        )
    );
    assert_eq!(m.settings().server, None);
}

#[test]
fn non_ascii_line_is_ignored_whole() {
    let mut m = monitor();
    let (out, actions) = type_bytes(&mut m, b"serv 10.0.0.1\xC3\xA9\r");
    assert_eq!(actions, []);
    assert_eq!(
        out,
        "serv 10.0.0.1\r\nnon-ASCII byte 0xC3 in line; ignored\r\nmonitor> "
    );
    assert_eq!(m.settings().server, None);
    let (out, _) = type_bytes(&mut m, b"serv\t10.0.0.1\r");
    assert_eq!(
        out,
        "serv10.0.0.1\r\ncontrol byte 0x09 in line; ignored\r\nmonitor> "
    );
}

#[test]
fn ping_targets() {
    let mut m = monitor();
    assert_eq!(
        answer(&mut m, "ping"),
        "ping\r\nping: no IP given and server not set\r\nmonitor> "
    );
    assert_eq!(
        answer(&mut m, "ping 10.0.0.2"),
        "ping 10.0.0.2\r\nping: address not set; set this unit's address first\r\nmonitor> "
    );
    answer(&mut m, "addr 10.0.0.1");
    let (out, actions) = type_in(&mut m, "p 10.0.0.3\r");
    assert_eq!(
        (out.as_str(), actions),
        ("p 10.0.0.3\r\n", vec![Action::Ping(ip(10, 0, 0, 3))])
    );
    answer(&mut m, "serv 10.0.0.2");
    let (out, actions) = type_in(&mut m, "ping\r");
    assert_eq!(
        (out.as_str(), actions),
        ("ping\r\n", vec![Action::Ping(ip(10, 0, 0, 2))])
    );
}

#[test]
fn tftp_says_what_is_missing() {
    let mut m = monitor();
    assert_eq!(
        answer(&mut m, "tftp"),
        "tftp\r\ntftp: cannot start; not set: address, server, file\r\nmonitor> "
    );
    answer(&mut m, "serv 10.0.0.2");
    assert!(answer(&mut m, "tftp")
        .ends_with("\r\ntftp: cannot start; not set: address, file\r\nmonitor> "));
    answer(&mut m, "addr 10.0.0.1");
    assert!(answer(&mut m, "tftp").ends_with("\r\ntftp: cannot start; not set: file\r\nmonitor> "));
    answer(&mut m, "file pix.bin");
    let (out, actions) = type_in(&mut m, "tf\r");
    assert_eq!(
        (out.as_str(), actions),
        ("tf\r\n", vec![Action::Tftp(None)])
    );
}

#[test]
fn reload_and_crashtest_return_actions_and_print_nothing() {
    let mut m = monitor();
    let (out, actions) = type_in(&mut m, "r\r");
    assert_eq!((out.as_str(), actions), ("r\r\n", vec![Action::Reload]));
    let (out, actions) = type_in(&mut m, "boot\r");
    assert_eq!((out.as_str(), actions), ("boot\r\n", vec![Action::Boot]));
    for (kind, fault) in [
        ("page-fault", FaultKind::PageFault),
        ("invalid-opcode", FaultKind::InvalidOpcode),
        ("panic", FaultKind::Panic),
    ] {
        let line = format!("crashtest {kind}\r");
        let (out, actions) = type_in(&mut m, &line);
        assert_eq!(out, format!("crashtest {kind}\r\n"));
        assert_eq!(actions, [Action::Fault(fault)]);
    }
}

#[test]
fn flashtest_returns_its_action_and_prints_nothing() {
    let mut m = monitor();
    let (out, actions) = type_in(&mut m, "flashtest\r");
    assert_eq!(
        (out.as_str(), actions),
        (
            "flashtest\r\n",
            vec![Action::FlashTest(FlashTestArgs {
                kib: None,
                pio: false
            })]
        )
    );
    let (out, actions) = type_in(&mut m, "flashtest 4096\r");
    assert_eq!(
        (out.as_str(), actions),
        (
            "flashtest 4096\r\n",
            vec![Action::FlashTest(FlashTestArgs {
                kib: Some(4096),
                pio: false
            })]
        )
    );
}

#[test]
fn no_network_interfaces() {
    let mut m = Monitor::new(BOOTHELPER_PROMPT, 0);
    let none = "no network interfaces found";
    assert_eq!(
        answer(&mut m, "interface"),
        format!("interface\r\ninterface: {none}\r\npixboothelper> ")
    );
    assert_eq!(
        answer(&mut m, "interface 0"),
        format!("interface 0\r\ninterface: {none}\r\npixboothelper> ")
    );
    answer(&mut m, "addr 10.0.0.1");
    answer(&mut m, "serv 10.0.0.2");
    answer(&mut m, "file x");
    assert!(answer(&mut m, "ping").ends_with(&format!("\r\nping: {none}\r\npixboothelper> ")));
    assert!(answer(&mut m, "tftp").ends_with(&format!("\r\ntftp: {none}\r\npixboothelper> ")));
}

#[test]
fn one_interface() {
    let mut m = Monitor::new(MONITOR_PROMPT, 1);
    assert!(answer(&mut m, "interface 1")
        .ends_with("\r\ninterface: no interface 1; the only one is 0\r\nmonitor> "));
    assert_eq!(
        type_in(&mut m, "interface 0\r"),
        ("interface 0\r\n".into(), vec![Action::Interface(0)])
    );
}

/// A message printed at the prompt (a NIC that failed to start behind it) is followed by
/// the prompt and the line typed so far, which the monitor still holds.
#[test]
fn redraw_shows_the_prompt_and_the_line_typed_so_far() {
    let mut m = monitor();
    type_in(&mut m, "serv");
    let mut out = String::new();
    m.redraw(&mut out);
    assert_eq!(out, "monitor> serv");
    let (out, _) = type_in(&mut m, "er 10.0.0.1\r");
    assert!(out.ends_with("\r\nserver 10.0.0.1\r\nmonitor> "), "{out:?}");
}

#[test]
fn settings_mut_presets_are_shown() {
    let mut m = monitor();
    m.settings_mut().interface = 1;
    m.settings_mut().server = Some(ip(10, 0, 2, 2));
    assert_eq!(type_in(&mut m, "i\r").1, [Action::Interface(1)]);
    assert!(answer(&mut m, "s").ends_with("\r\nserver 10.0.2.2\r\nmonitor> "));
}

#[test]
fn all_output_lines_end_in_crlf() {
    let mut m = monitor();
    let (out, _) = type_in(
        &mut m,
        "?\raddr\raddr 1.2.3\rfoo\rt\rtftp\rping\rinterface 9\rfile\rtrace\r\n\n",
    );
    assert_eq!(
        out.matches('\n').count(),
        out.matches("\r\n").count(),
        "{out:?}"
    );
    assert!(!out.replace("\r\n", "").contains('\r'));
}

#[test]
fn random_bytes_never_panic_and_the_monitor_recovers() {
    let mut m = monitor();
    let mut out = String::new();
    // A simple LCG: deterministic noise including every byte value.
    let mut state = 0x1234_5678_u32;
    for _ in 0..200_000 {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let _ = m.feed((state >> 16) as u8, &mut out);
        if out.len() > 1 << 20 {
            out.clear();
        }
    }
    let (out, _) = type_in(&mut m, "\x15\rserv 10.9.8.7\r");
    assert!(out.ends_with("\r\nserver 10.9.8.7\r\nmonitor> "), "{out:?}");
}

/// A lease on 10.0.0.0/24 as `address dhcp` returns it: unchecked.
fn lease(gateway: Option<Ipv4Addr>, server: Option<Ipv4Addr>, file: &[u8]) -> Lease {
    Lease {
        address: ip(10, 0, 0, 5),
        netmask: ip(255, 255, 255, 0),
        gateway,
        server,
        file: (!file.is_empty()).then(|| OfferedFile::from_slice(file).unwrap()),
        dns: None,
    }
}

/// What `apply_lease` prints.
fn apply(m: &mut Monitor, lease: &Lease) -> String {
    let mut out = String::new();
    m.apply_lease(lease, &mut out);
    out
}

#[test]
fn a_good_lease_is_shown_as_the_manual_commands_echo_it() {
    let mut m = monitor();
    let good = lease(Some(ip(10, 0, 0, 1)), Some(ip(10, 0, 0, 2)), b"pix.bin\0");
    assert_eq!(
        apply(&mut m, &good),
        "address 10.0.0.5 255.255.255.0\r\n\
         gateway 10.0.0.1\r\n\
         server 10.0.0.2\r\n\
         file pix.bin\r\n"
    );
    let s = m.settings();
    assert_eq!(s.address, Some(ip(10, 0, 0, 5)));
    assert_eq!(s.gateway, Some(ip(10, 0, 0, 1)));
    assert_eq!(s.server, Some(ip(10, 0, 0, 2)));
    assert_eq!(s.file.as_str(), "pix.bin");
}

#[test]
fn a_lease_with_a_bad_mask_or_address_changes_nothing() {
    let mut m = monitor();
    answer(&mut m, "address 192.168.1.1 255.255.255.0");
    answer(&mut m, "gateway 192.168.1.254");
    let before = m.settings().clone();
    let cases = [
        (
            ip(10, 0, 0, 5),
            ip(0, 0, 0, 0),
            "the netmask 0.0.0.0 (/0) is outside /1 to /30",
        ),
        (
            ip(10, 0, 0, 5),
            ip(255, 255, 255, 254),
            "the netmask 255.255.255.254 (/31) is outside /1 to /30",
        ),
        (
            ip(10, 0, 0, 5),
            ip(255, 255, 255, 255),
            "the netmask 255.255.255.255 (/32) is outside /1 to /30",
        ),
        (
            ip(10, 0, 0, 5),
            ip(255, 0, 255, 0),
            "the netmask 255.0.255.0 is not contiguous",
        ),
        (
            ip(10, 0, 0, 255),
            ip(255, 255, 255, 0),
            "the address 10.0.0.255: it is the subnet's broadcast address",
        ),
        (
            ip(0, 0, 0, 0),
            ip(255, 255, 255, 0),
            "the address 0.0.0.0: it is in 0.0.0.0/8, not a host address",
        ),
    ];
    for (address, netmask, why) in cases {
        let bad = Lease {
            address,
            netmask,
            ..lease(Some(ip(10, 0, 0, 1)), Some(ip(10, 0, 0, 2)), b"evil.bin")
        };
        assert_eq!(
            apply(&mut m, &bad),
            format!("address: refused the DHCP lease: {why}; set the address by hand\r\n")
        );
        assert_eq!(m.settings(), &before);
    }
}

#[test]
fn bad_router_server_and_file_are_ignored_with_one_line_each() {
    let mut m = monitor();
    answer(&mut m, "server 192.168.1.2");
    answer(&mut m, "file old.bin");
    let bad = lease(
        Some(ip(10, 0, 1, 1)),
        Some(ip(10, 0, 0, 5)),
        b"pix\x1b[2J\x1b]0;owned\x07\r\nmonitor> \0",
    );
    let out = apply(&mut m, &bad);
    assert_eq!(
        out,
        "address 10.0.0.5 255.255.255.0\r\n\
         gateway: ignored the DHCP router 10.0.1.1: it is not on the leased subnet 10.0.0.0/24\r\n\
         server: ignored the DHCP server 10.0.0.5: it is this unit's own address\r\n\
         file: ignored the DHCP boot file name (28 bytes): byte 4 is 0x1b, a control character\r\n"
    );
    assert!(!out.contains('\x1b') && !out.contains("owned"));
    let s = m.settings();
    assert_eq!(s.address, Some(ip(10, 0, 0, 5)));
    assert_eq!(s.gateway, None);
    // What was set by hand stays when the lease brings nothing usable in its place.
    assert_eq!(s.server, Some(ip(192, 168, 1, 2)));
    assert_eq!(s.file.as_str(), "old.bin");
}

#[test]
fn broadcast_and_unspecified_peers_and_a_nul_in_the_name_are_ignored() {
    let mut m = monitor();
    let bad = lease(
        Some(ip(255, 255, 255, 255)),
        Some(ip(0, 0, 0, 0)),
        b"pix\0.bin",
    );
    assert_eq!(
        apply(&mut m, &bad),
        "address 10.0.0.5 255.255.255.0\r\n\
         gateway: ignored the DHCP router 255.255.255.255: it is the broadcast address\r\n\
         server: ignored the DHCP server 0.0.0.0: it is in 0.0.0.0/8, not a host address\r\n\
         file: ignored the DHCP boot file name (8 bytes): byte 4 is a NUL\r\n"
    );
    let bad = lease(Some(ip(10, 0, 0, 255)), Some(ip(10, 0, 0, 255)), b"");
    assert_eq!(
        apply(&mut m, &bad),
        "address 10.0.0.5 255.255.255.0\r\n\
         gateway: ignored the DHCP router 10.0.0.255: it is the subnet's broadcast address\r\n\
         server: ignored the DHCP server 10.0.0.255: it is the subnet's broadcast address\r\n"
    );
}

#[test]
fn a_lease_without_a_usable_router_clears_the_old_gateway() {
    let mut m = monitor();
    answer(&mut m, "address 192.168.1.1 255.255.255.0");
    answer(&mut m, "gateway 192.168.1.254");
    assert_eq!(
        apply(&mut m, &lease(None, Some(ip(10, 0, 0, 2)), b"")),
        "address 10.0.0.5 255.255.255.0\r\n\
         gateway not set (was 192.168.1.254; the lease has no usable router)\r\n\
         server 10.0.0.2\r\n"
    );
    assert_eq!(m.settings().gateway, None);
    assert!(answer(&mut m, "gateway").ends_with("\r\ngateway not set\r\nmonitor> "));
    // The same when the lease's router is refused.
    answer(&mut m, "gateway 10.0.0.254");
    assert_eq!(
        apply(&mut m, &lease(Some(ip(10, 0, 0, 5)), None, b"")),
        "address 10.0.0.5 255.255.255.0\r\n\
         gateway: ignored the DHCP router 10.0.0.5: it is this unit's own address\r\n\
         gateway not set (was 10.0.0.254; the lease has no usable router)\r\n"
    );
    assert_eq!(m.settings().gateway, None);
    // With no gateway before, nothing is said about it.
    assert_eq!(
        apply(&mut m, &lease(None, None, b"")),
        "address 10.0.0.5 255.255.255.0\r\n"
    );
}
