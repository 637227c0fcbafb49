//! Monitor console scenarios (issue 2): help, prefixes and canonical echo, current values,
//! line editing, rejected input, a pasted line, and reload. Each test boots once (floppy, ESC)
//! and runs several cases on that boot.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn question_mark_and_help_list_every_command_once() {
    let mut q = boot_to_monitor(Medium::Floppy);
    let by_mark = command(&mut q, "?");
    let by_help = command(&mut q, "help");
    assert_eq!(by_mark, by_help, "? and help differ");
    for name in COMMANDS {
        let hits = by_mark
            .iter()
            .filter(|l| l.split_whitespace().next() == Some(name))
            .count();
        assert_eq!(hits, 1, "{name} should have one line in {by_mark:#?}");
    }
    // A unique prefix of help works too.
    assert_eq!(command(&mut q, "he"), by_help);
}

#[test]
fn unique_prefixes_set_values_and_echo_them_canonically() {
    let mut q = boot_to_monitor(Medium::Floppy);
    // The transcript of the PIX manual.
    assert_eq!(command1(&mut q, "addr 192.168.1.1"), "address 192.168.1.1");
    assert_eq!(command1(&mut q, "serv 192.168.1.2"), "server 192.168.1.2");
    assert_eq!(command1(&mut q, "file pix601.bin"), "file pix601.bin");
    assert_eq!(
        command1(&mut q, "gat 192.168.1.254"),
        "gateway 192.168.1.254"
    );
    assert_eq!(command1(&mut q, "tr on"), "trace on");
    assert_eq!(
        command1(&mut q, "ADDRESS 192.168.1.10"),
        "address 192.168.1.10"
    );

    // Without an argument each command shows the current value.
    let address = command1(&mut q, "address");
    assert!(address.starts_with("address 192.168.1.10"), "{address:?}");
    assert_eq!(command1(&mut q, "s"), "server 192.168.1.2");
    assert_eq!(command1(&mut q, "f"), "file pix601.bin");
    assert_eq!(command1(&mut q, "g"), "gateway 192.168.1.254");
    assert_eq!(command1(&mut q, "trace"), "trace on");
    let interface = command1(&mut q, "i");
    assert!(interface.starts_with("interface"), "{interface:?}");
}

#[test]
fn backspace_delete_and_ctrl_u_edit_the_line() {
    let mut q = boot_to_monitor(Medium::Floppy);

    // BS (0x08) and DEL (0x7F) each erase one character, visibly.
    let (echo, reply) = raw_command(&mut q, b"serv 10.0.0.99\x08\x7f5\r");
    assert_eq!(echo, "serv 10.0.0.99\x08 \x08\x08 \x085");
    assert_eq!(reply, ["server 10.0.0.5"]);

    // Ctrl-U throws the whole line away; what follows is a new line.
    let (_, reply) = raw_command(&mut q, b"address 1.1.1.1\x15gateway 10.0.0.1\r");
    assert_eq!(reply, ["gateway 10.0.0.1"]);
    let address = command1(&mut q, "address");
    assert!(
        !address.contains("1.1.1.1"),
        "Ctrl-U'd address was set: {address:?}"
    );

    // Backspace over the command word, and on an empty line.
    let (_, reply) = raw_command(&mut q, b"\x08\x7fx\x08s\r");
    assert_eq!(reply, ["server 10.0.0.5"]);

    // Typed at human speed, with corrections.
    q.type_slow("fil boot.bim\x08n\r", Duration::from_millis(20))
        .expect("typing");
    let reply = lines(&expect(&mut q, PROMPT, REPLY));
    assert_eq!(
        reply.last().map(String::as_str),
        Some("file boot.bin"),
        "{reply:#?}"
    );
}

/// Sends a bad line; it must be answered by exactly one line containing `keyword`.
#[track_caller]
fn rejected(q: &mut Qemu, bytes: &[u8], keyword: &str) -> String {
    let (_, reply) = raw_command(q, bytes);
    assert_eq!(
        reply.len(),
        1,
        "{:?} should be rejected with one line, got {reply:#?}",
        String::from_utf8_lossy(bytes)
    );
    let line = reply.into_iter().next().unwrap_or_default();
    assert!(
        line.to_ascii_lowercase().contains(keyword),
        "{:?} answered {line:?}, expected it to mention {keyword:?}",
        String::from_utf8_lossy(bytes)
    );
    line
}

#[test]
fn bad_input_is_rejected_with_one_line_and_changes_nothing() {
    let mut q = boot_to_monitor(Medium::Floppy);
    assert_eq!(
        command1(&mut q, "address 192.168.1.1"),
        "address 192.168.1.1"
    );
    assert_eq!(command1(&mut q, "server 192.168.1.2"), "server 192.168.1.2");
    let address_before = command1(&mut q, "address");

    let line = rejected(&mut q, b"address 192.168.1\r", "invalid");
    assert!(line.contains("192.168.1"), "{line:?}");
    rejected(&mut q, b"frobnicate 1 2\r", "unknown");
    let line = rejected(&mut q, b"t\r", "ambiguous");
    assert!(line.contains("tftp") && line.contains("trace"), "{line:?}");
    let long = format!("server {}\r", "1".repeat(293)); // 300 characters
    rejected(&mut q, long.as_bytes(), "too long");
    rejected(&mut q, b"server 10.0.0.\xc3\r", "non-ascii");
    rejected(&mut q, b"address 10.0.0.7 255.0.255.0\r", "invalid");

    // Nothing changed.
    assert_eq!(command1(&mut q, "address"), address_before);
    assert_eq!(command1(&mut q, "server"), "server 192.168.1.2");
    // And the line editor is in a clean state after the bad lines.
    assert_eq!(command1(&mut q, "serv 192.168.1.3"), "server 192.168.1.3");
}

#[test]
fn pasted_long_lines_arrive_intact() {
    let mut q = boot_to_monitor(Medium::Floppy);

    // 200 characters in one write; no two neighbours alike, so a lost byte shows.
    let word: String = (0..200)
        .map(|i| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36]))
        .collect();
    let reply = command1(&mut q, &word); // also checks the 200-character echo
    assert!(
        reply.contains(&word),
        "reply does not quote the line intact: {reply:?}"
    );

    // The longest file name (127 characters) in one write, echoed canonically.
    let name: String = (0..127)
        .map(|i| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.0123456789"[i % 39]))
        .collect();
    assert_eq!(
        command1(&mut q, &format!("fi {name}")),
        format!("file {name}")
    );
    assert_eq!(command1(&mut q, "file"), format!("file {name}"));
}

#[test]
fn reload_resets_the_machine() {
    let mut q = boot_to_monitor(Medium::Floppy);
    q.send_line("reload").expect("writing to the console");
    expect(&mut q, "reload\r\n", REPLY);
    // The banner again, from a real reset (QEMU runs without -no-reboot).
    expect_banner(&mut q);
    assert!(
        q.qmp_events().iter().any(|e| e["event"] == "RESET"),
        "no RESET event: {:?}",
        q.qmp_events()
    );
    q.send(ESC).expect("sending ESC");
    expect(&mut q, INTERRUPTED, REPLY);
    expect(&mut q, PROMPT, REPLY);
    assert_eq!(
        q.wait_exit(Duration::ZERO),
        None,
        "QEMU exited instead of rebooting"
    );
    let help = command(&mut q, "?");
    assert!(help.iter().any(|l| l.starts_with("reload")), "{help:#?}");
}

/// A BREAK at the prompt means nothing: the half-typed line survives it, and no 0x00
/// (the byte a UART delivers with a BREAK) reaches the line editor, also while the
/// monitor is busy printing.
#[test]
fn break_at_the_prompt_keeps_the_line() {
    let mut q = boot_to_monitor(Medium::Floppy);
    q.send(b"addr 10.1.2.3").expect("typing");
    expect(&mut q, "addr 10.1.2.3", REPLY);
    // QEMU answers chardev-send-break once the BREAK is in the UART, so the CR sent after the
    // reply reaches the guest after it.
    q.send_break().expect("BREAK over QMP");
    q.send(b"\r").expect("CR");
    let reply = lines(&expect(&mut q, PROMPT, REPLY));
    assert_eq!(reply, ["address 10.1.2.3"], "BREAK changed the line");

    // BREAKs while `help` is being printed (the transmitter polls LSR too).
    for _ in 0..3 {
        q.send(b"help\r").expect("help");
        q.send_break().expect("BREAK over QMP");
        let text = expect(&mut q, PROMPT, REPLY);
        assert!(
            !text.contains("control byte"),
            "a BREAK reached the editor: {text}"
        );
    }
    assert_eq!(
        command1(&mut q, "address"),
        "address 10.1.2.3 255.255.255.0"
    );
}
