//! Network scenarios (issue 3): the NIC listing and `ping` from the monitor, on every emulated
//! NIC model over slirp, a silent host (timeouts, ARP diagnosis), ESC aborting a ping, two NICs
//! and `interface`, and real Linux hosts and a router in private network namespaces behind a tap
//! (the `gateway` command).
//!
//! Each test boots one unit and runs several checks on it. Every scenario on the e1000 runs
//! again on the e1000e (82574L), on the same pc board (`..._on_e1000e`, `..._e1000e_...`).

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use lifeboat_qemu::lab::{ip, netns_unavailable};
use lifeboat_qemu::{MachineType, NetBackend, NicModel};

/// Boot window of the media these tests boot (interrupted with ESC at once).
const WINDOW_S: u32 = 3;
/// Slirp's fixed addresses: the guest and the host/gateway that answers ping.
const SLIRP_GUEST: &str = "10.0.2.15";
const SLIRP_HOST: &str = "10.0.2.2";
/// On slirp's segment, answering neither ARP nor ICMP.
const SILENT_HOST: &str = "10.0.2.77";
/// QEMU's default MAC (52:54:00:12:34:56) of the first NIC, in Cisco's dotted form.
const QEMU_MAC: &str = "5254.0012.3456";
/// ... and of the second NIC (QEMU counts the last byte up per NIC).
const QEMU_MAC_2: &str = "5254.0012.3457";
/// A ping that gets every reply: up to 3 s link wait, ARP, five echoes, with room for a
/// loaded 2-core runner.
const PING_OK: Duration = Duration::from_secs(20);
/// A ping of a silent host: five 4-second timeouts (~20 s), with room.
const PING_SILENT: Duration = Duration::from_secs(40);
const ALL_REPLIES: &str = "Success rate is 100 percent (5/5)";
const NO_REPLIES: &str = "Success rate is 0 percent (0/5)";

fn slirp() -> NetBackend {
    NetBackend::User {
        tftp: None,
        bootfile: None,
    }
}

/// A floppy-booted unit with the given NICs, in slot order.
fn unit(nics: &[(NicModel, NetBackend)]) -> Machine {
    nics.iter()
        .fold(machine(Medium::Floppy, WINDOW_S), |m, (model, backend)| {
            m.nic(*model, backend.clone())
        })
}

/// Boots `machine`, interrupts the boot window with ESC and waits for the prompt. Returns the
/// unit and the lines between `Flash boot interrupted.` and `Use ? for help.` (the NIC
/// listing and the `Using N: ...` line).
#[track_caller]
fn boot(machine: &Machine) -> (Qemu, Vec<String>) {
    let mut q = launch(machine);
    expect_banner(&mut q);
    q.send(ESC).expect("sending ESC");
    expect(&mut q, INTERRUPTED, REPLY);
    let nics = lines(&expect(&mut q, HELP_HINT, REPLY));
    expect(&mut q, PROMPT, REPLY);
    (q, nics)
}

/// `N: model @ PCI(bus:0 dev:D irq:` — the stable part of a listing line.
fn listing_prefix(n: usize, model: NicModel, dev: u8) -> String {
    format!("{n}: {} @ PCI(bus:0 dev:{dev} irq:", model_name(model))
}

/// Sets this unit's address (and mask) and checks the echo of the setting.
#[track_caller]
fn set_address(q: &mut Qemu, address: &str, mask: Option<&str>) {
    match mask {
        None => assert_eq!(
            command1(q, &format!("addr {address}")),
            format!("address {address}")
        ),
        Some(mask) => assert_eq!(
            command1(q, &format!("address {address} {mask}")),
            format!("address {address} {mask}")
        ),
    }
}

/// One `ping` run: the reply lines and how long the prompt took to come back.
#[derive(Debug)]
struct Ping {
    lines: Vec<String>,
    elapsed: Duration,
}

/// Runs `ping [target]` and returns its output up to the next prompt.
#[track_caller]
fn ping(q: &mut Qemu, target: Option<&str>, timeout: Duration) -> Ping {
    let line = match target {
        Some(t) => format!("ping {t}"),
        None => "ping".to_owned(),
    };
    let start = Instant::now();
    q.send_line(&line).expect("writing to the console");
    let before = expect(q, &format!("{line}\r\n"), REPLY);
    assert_eq!(before, "", "unexpected output before the echo of {line:?}");
    let lines = lines(&expect(q, PROMPT, timeout));
    Ping {
        lines,
        elapsed: start.elapsed(),
    }
}

/// Checks the PIX's banner line: `Sending 5, 100-byte 0xIIII ICMP Echoes to T, timeout is 4
/// seconds:` with a 4-digit hex identifier.
#[track_caller]
fn check_sending_line(line: &str, target: &str) {
    let ok = line
        .strip_prefix("Sending 5, 100-byte 0x")
        .and_then(|rest| rest.get(..4).zip(rest.get(4..)))
        .is_some_and(|(ident, rest)| {
            ident.chars().all(|c| c.is_ascii_hexdigit())
                && rest == format!(" ICMP Echoes to {target}, timeout is 4 seconds:")
        });
    assert!(ok, "bad ping banner for {target}: {line:?}");
}

/// Checks a ping that got all five replies, optionally preceded by `Using N: ...` when
/// `using` is given (and not preceded by one otherwise). Returns the round-trip line.
#[track_caller]
fn check_all_replies(p: &Ping, target: &str, using: Option<&str>) -> String {
    let mut l = p.lines.iter().map(String::as_str);
    if let Some(using) = using {
        assert_eq!(
            l.next(),
            Some(using),
            "expected {using:?} first: {:#?}",
            p.lines
        );
    }
    let banner = l.next().unwrap_or_default();
    check_sending_line(banner, target);
    let rest: Vec<&str> = l.collect();
    assert!(
        rest.len() == 3 && rest[0] == "!!!!!" && rest[1] == ALL_REPLIES,
        "ping {target}: expected !!!!!, {ALL_REPLIES:?} and a round-trip line, got {:#?}",
        p.lines
    );
    let rtt = rest[2];
    let numbers = rtt
        .strip_prefix("round-trip min/avg/max/median = ")
        .and_then(|r| r.strip_suffix(" us"))
        .map(|r| {
            r.split('/')
                .map(str::parse::<u64>)
                .collect::<Result<Vec<_>, _>>()
        });
    match numbers {
        Some(Ok(n)) if n.len() == 4 => {
            let (min, avg, max, median) = (n[0], n[1], n[2], n[3]);
            assert!(
                min <= median && median <= max && min <= avg && avg <= max,
                "inconsistent round-trip line {rtt:?}"
            );
        }
        _ => panic!("bad round-trip line {rtt:?}"),
    }
    rtt.to_owned()
}

/// Checks a ping of an on-link host that answers nothing: five timeouts, the ARP diagnosis,
/// and the 4-second timeouts really taking their time (and no more than `PING_SILENT`).
#[track_caller]
fn check_silent(p: &Ping, target: &str, interface: usize) {
    assert_eq!(p.lines.len(), 4, "ping {target}: {:#?}", p.lines);
    check_sending_line(&p.lines[0], target);
    assert_eq!(p.lines[1], "?????");
    assert_eq!(p.lines[2], NO_REPLIES);
    assert_eq!(
        p.lines[3],
        format!(
            "No ARP reply from {target} (the target): it is down or not on interface {interface}'s segment"
        )
    );
    assert!(
        p.elapsed >= Duration::from_secs(15),
        "five 4-second timeouts took only {:?}",
        p.elapsed
    );
}

// ---------------------------------------------------------------------------------------
// 1. Every NIC model pings slirp's host.

/// Boots a unit with one `model` NIC on slirp: the listing, the `Using 0:` line with QEMU's
/// default MAC, then `address`/`server` and `ping` (the server) gets 5/5.
fn ping_slirp_host_on(model: NicModel) {
    ping_slirp_host_on_board(model, machine(Medium::Floppy, WINDOW_S), 3);
}

/// [`ping_slirp_host_on`] on the unit `m` (no NIC yet), where QEMU puts the NIC at `dev`.
fn ping_slirp_host_on_board(model: NicModel, m: Machine, dev: u8) {
    let (mut q, nics) = boot(&m.nic(model, slirp()));
    let name = model_name(model);
    let listing = format!("0: {name} @ PCI(bus:0 dev:{dev} irq:11)");
    let using = format!("Using 0: {name} @ PCI(bus:0 dev:{dev} irq:11), MAC: {QEMU_MAC}");
    assert_eq!(
        nics,
        [listing.as_str(), using.as_str()],
        "{} NIC listing",
        model.device()
    );

    set_address(&mut q, SLIRP_GUEST, None);
    assert_eq!(
        command1(&mut q, &format!("serv {SLIRP_HOST}")),
        format!("server {SLIRP_HOST}")
    );
    let p = ping(&mut q, None, PING_OK);
    let rtt = check_all_replies(&p, SLIRP_HOST, None);
    eprintln!("{:<15} {name:<10} {rtt}", model.device());
    // A second ping on the running NIC (no restart, no new ARP): all replies again.
    let p = ping(&mut q, Some(SLIRP_HOST), PING_OK);
    let rtt = check_all_replies(&p, SLIRP_HOST, None);
    eprintln!("{:<15} {name:<10} {rtt} (2nd)", model.device());
}

#[test]
fn e1000_pings_slirp_host() {
    ping_slirp_host_on(NicModel::E1000);
}

/// q35's own NIC, the e1000e (82574L), on the board it comes with (booted from its disk on
/// the ICH9 AHCI controller; the NIC at 00:02.0).
#[test]
fn e1000e_on_q35_pings_slirp_host() {
    let m = machine(Medium::Disk, WINDOW_S).machine_type(MachineType::Q35);
    ping_slirp_host_on_board(NicModel::E1000e, m, 2);
}

#[test]
fn i82557b_pings_slirp_host() {
    ping_slirp_host_on(NicModel::I82557b);
}

#[test]
fn i82558b_pings_slirp_host() {
    ping_slirp_host_on(NicModel::I82558b);
}

#[test]
fn i82559er_pings_slirp_host() {
    ping_slirp_host_on(NicModel::I82559er);
}

#[test]
fn virtio_net_pings_slirp_host() {
    ping_slirp_host_on(NicModel::VirtioNetPci);
}

// ---------------------------------------------------------------------------------------
// 2 + 3. A silent host: timeouts and the ARP diagnosis; ESC aborts; off-subnet without a
// gateway is refused up front.

on_nics!(
    silent_host_and_esc_abort;
    silent_host_times_out_and_esc_aborts_ping => E1000,
    silent_host_times_out_and_esc_aborts_ping_on_e1000e => E1000e,
);

/// On a unit with one `model` NIC: a silent host times out with the ARP diagnosis, ESC aborts
/// a ping, the slirp host still answers, and an off-subnet target without a gateway is refused.
fn silent_host_and_esc_abort(model: NicModel) {
    let (mut q, _) = boot(&unit(&[(model, slirp())]));
    set_address(&mut q, SLIRP_GUEST, None);

    // Five 4-second timeouts, then the diagnosis, within a bounded time.
    let p = ping(&mut q, Some(SILENT_HOST), PING_SILENT);
    check_silent(&p, SILENT_HOST, 0);
    eprintln!(
        "ping {SILENT_HOST} (silent): prompt back after {:?}",
        p.elapsed
    );

    // ESC during a ping of the silent host aborts it at once.
    let line = format!("ping {SILENT_HOST}");
    q.send_line(&line).expect("writing to the console");
    expect(&mut q, &format!("{line}\r\n"), REPLY);
    let banner = expect(&mut q, "\r\n", REPLY);
    check_sending_line(&banner, SILENT_HOST);
    // The first '?' (one echo timed out): ARP and an echo are out, the ping is under way.
    let first = expect(&mut q, "?", PING_SILENT);
    assert_eq!(first, "", "before the first '?'");
    let esc_at = Instant::now();
    q.send(ESC).expect("sending ESC");
    let marks = expect(&mut q, "Ping aborted.\r\n", Duration::from_secs(5));
    let aborted_after = esc_at.elapsed();
    let summary = lines(&expect(&mut q, PROMPT, Duration::from_secs(5)));
    let prompt_after = esc_at.elapsed();
    eprintln!(
        "ESC: 'Ping aborted.' after {aborted_after:?}, prompt after {prompt_after:?}; marks {marks:?}, then {summary:?}"
    );
    assert!(
        marks.trim_end_matches("\r\n").chars().all(|c| c == '?'),
        "before 'Ping aborted.': {marks:?}"
    );
    assert!(
        prompt_after < Duration::from_secs(3),
        "the prompt came back {prompt_after:?} after ESC"
    );
    assert!(
        summary
            .first()
            .is_some_and(|l| l.starts_with("Success rate is 0 percent (0/")),
        "after 'Ping aborted.': {summary:#?}"
    );

    // The unit is fine after the abort: the slirp host still answers.
    let p = ping(&mut q, Some(SLIRP_HOST), PING_OK);
    check_all_replies(&p, SLIRP_HOST, None);

    // Off the subnet with no gateway: refused at once with the reason.
    let p = ping(&mut q, Some("8.8.8.8"), REPLY);
    assert_eq!(
        p.lines,
        ["ping: 8.8.8.8 is not on this unit's subnet 10.0.2.0/24 and no gateway is set"]
    );
}

// ---------------------------------------------------------------------------------------
// 5. Two NICs: the listing, the default (inside) interface 1, `interface` switching.

/// Boots a unit with `first` and `second` on two separate slirp networks: the listing shows
/// both, interface 1 is the default; ping works on 1, then on 0 after `interface 0` (with a
/// `Using 0:` line), then on 1 again after `interface 1` (with `Using 1:`).
fn two_nics(first: NicModel, second: NicModel) {
    let (mut q, nics) = boot(&unit(&[(first, slirp()), (second, slirp())]));
    eprintln!("{} + {}: {nics:#?}", first.device(), second.device());
    assert_eq!(nics.len(), 3, "two NICs and a Using line: {nics:#?}");
    let l0 = listing_prefix(0, first, 3);
    let l1 = listing_prefix(1, second, 4);
    assert!(
        nics[0].starts_with(&l0),
        "{:?} should start with {l0:?}",
        nics[0]
    );
    assert!(
        nics[1].starts_with(&l1),
        "{:?} should start with {l1:?}",
        nics[1]
    );
    // `Using N: <the listing line without "N: ">, MAC: ...`
    let using = |n: usize, mac: &str| {
        let listed = nics[n]
            .split_once(": ")
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        format!("Using {n}: {listed}, MAC: {mac}")
    };
    let (using0, using1) = (using(0, QEMU_MAC), using(1, QEMU_MAC_2));
    assert_eq!(nics[2], using1, "the default interface is 1 (inside)");

    set_address(&mut q, SLIRP_GUEST, None);
    // `interface` shows the selected NIC (started behind the prompt, or now) and its link.
    let shown = command(&mut q, "interface");
    check_state(&shown, &[], 1);
    let p = ping(&mut q, Some(SLIRP_HOST), PING_OK);
    let rtt = check_all_replies(&p, SLIRP_HOST, None);
    eprintln!("  default 1: {rtt}");

    // Selecting interface 0 starts its NIC at once (announcing it), so the ping says nothing
    // more before its own lines.
    let shown = command(&mut q, "interface 0");
    check_state(&shown, &[&using0], 0);
    let p = ping(&mut q, Some(SLIRP_HOST), PING_OK);
    let rtt = check_all_replies(&p, SLIRP_HOST, None);
    eprintln!("  interface 0: {rtt}");

    let shown = command(&mut q, "interface 1");
    check_state(&shown, &[&using1], 1);
    let p = ping(&mut q, Some(SLIRP_HOST), PING_OK);
    let rtt = check_all_replies(&p, SLIRP_HOST, None);
    eprintln!("  interface 1: {rtt}");

    assert_eq!(
        command1(&mut q, "interface 2"),
        "interface: no interface 2; choose 0 to 1"
    );
    let shown = command(&mut q, "interface");
    check_state(&shown, &[], 1);
}

/// The answer of `interface [N]`: the `head` lines, then `interface N: link up` or `down`
/// (a NIC started a moment ago may still be negotiating).
#[track_caller]
fn check_state(shown: &[String], head: &[&str], n: usize) {
    assert_eq!(shown.len(), head.len() + 1, "{shown:#?}");
    assert_eq!(&shown[..head.len()], head, "{shown:#?}");
    let link = shown[head.len()].strip_prefix(&format!("interface {n}: link "));
    assert!(
        matches!(link, Some("up" | "down")),
        "{:?} should be interface {n}: link up or down",
        shown[head.len()]
    );
}

on_nics!(
    |m| two_nics(m, m);
    two_e1000_default_to_inside_and_switch => E1000,
    two_e1000e_default_to_inside_and_switch => E1000e,
);

on_nics!(
    |m| two_nics(NicModel::I82558b, m);
    i82558b_and_e1000_default_to_inside_and_switch => E1000,
    i82558b_and_e1000e_default_to_inside_and_switch => E1000e,
);

// 6. The NIC starts behind the prompt (issue 23 item 5).

/// The prompt comes before any NIC is started; a command typed at once (here before the
/// prompt is even printed) starts the NIC itself, waits for its link and gets every reply;
/// `interface` then shows its link up.
#[test]
fn a_command_typed_at_the_prompt_waits_for_the_nic_started_behind_it() {
    let mut q = launch(&unit(&[(NicModel::E1000, slirp())]));
    expect_banner(&mut q);
    q.send(ESC).expect("sending ESC");
    expect(&mut q, HELP_HINT, REPLY);
    q.send(format!("address {SLIRP_GUEST}\rping {SLIRP_HOST}\r").as_bytes())
        .expect("typing ahead");
    expect(&mut q, PROMPT, REPLY);
    let echo = expect(&mut q, PROMPT, REPLY);
    assert_eq!(
        lines(&echo),
        [
            format!("address {SLIRP_GUEST}"),
            format!("address {SLIRP_GUEST}")
        ]
    );
    expect(&mut q, &format!("ping {SLIRP_HOST}\r\n"), REPLY);
    let start = Instant::now();
    let p = Ping {
        lines: lines(&expect(&mut q, PROMPT, PING_OK)),
        elapsed: start.elapsed(),
    };
    check_all_replies(&p, SLIRP_HOST, None);
    assert_eq!(command1(&mut q, "interface"), "interface 0: link up");
}

/// A NIC that cannot start (QEMU gives it a multicast MAC, which no driver may use) is
/// reported once, in one line after the prompt, which is then shown again; it is not tried
/// again behind the prompt, and the commands that need it say the same line each.
#[test]
fn a_nic_that_cannot_start_is_reported_once_behind_the_prompt() {
    let mut m = unit(&[(NicModel::E1000, slirp())]);
    m.nics[0].mac = Some("01:02:03:04:05:06".into());
    let (mut q, nics) = boot(&m);
    let name = model_name(NicModel::E1000);
    assert_eq!(
        nics,
        [
            format!("0: {name} @ PCI(bus:0 dev:3 irq:11)"),
            format!("Using 0: {name} @ PCI(bus:0 dev:3 irq:11), MAC unreadable"),
        ]
    );
    let failed =
        format!("interface 0 ({name}): cannot start the NIC: no valid MAC address could be read");
    // The line comes after the prompt, on a line of its own, and the prompt again after it.
    assert_eq!(expect(&mut q, PROMPT, REPLY), format!("\r\n{failed}\r\n"));
    // Idle at the prompt again (the command ran from there): nothing more was said.
    assert_eq!(command1(&mut q, "server"), "server not set");
    assert_eq!(command1(&mut q, "interface"), failed);
    set_address(&mut q, SLIRP_GUEST, None);
    assert_eq!(command1(&mut q, &format!("ping {SLIRP_HOST}")), failed);
    assert_eq!(q.transcript().matches(&failed).count(), 3);
}

// ---------------------------------------------------------------------------------------
// 4. Real Linux hosts behind a tap, in private network namespaces.
//
//   QEMU -- tap lbtapN --+-- bridge lbbrN (root namespace, no address)
//                        +-- veth lbhN == eth0 in lbN-host   192.168.50.1/24
//                        +-- veth lbrN == eth0 in lbN-rtr    192.168.50.254/24 (forwarding)
//                                         eth1 in lbN-rtr    192.168.60.254/24
//                                           == eth0 in lbN-far 192.168.60.1/24, via .254

/// The namespaces, bridge, tap and veths of one test; all removed on drop (also on panic).
struct TestNet {
    tag: String,
}

impl TestNet {
    /// Unique per process and call; interface names stay within Linux's 15 characters.
    fn new() -> TestNet {
        static N: AtomicU32 = AtomicU32::new(0);
        // pid_max is at most 4194304 (7 digits): "lbtap" + 7 + 1 = 13 characters.
        let tag = format!(
            "{}{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed) % 10
        );
        let net = TestNet { tag };
        net.remove(); // leftovers of an earlier process with the same pid
        net
    }

    fn ns(&self, role: &str) -> String {
        format!("lb{}-{role}", self.tag)
    }

    fn ifname(&self, prefix: &str) -> String {
        let name = format!("{prefix}{}", self.tag);
        assert!(name.len() <= 15, "interface name {name:?} is too long");
        name
    }

    fn tap(&self) -> String {
        self.ifname("lbtap")
    }

    /// Builds the topology in the diagram above. The first step failing (no netns support
    /// here) is returned as an error, for a skip; a later one fails the test.
    fn build(&self) -> Result<(), String> {
        let (host, rtr, far) = (self.ns("host"), self.ns("rtr"), self.ns("far"));
        let (br, tap, vh, vr) = (
            self.ifname("lbbr"),
            self.tap(),
            self.ifname("lbh"),
            self.ifname("lbr"),
        );
        ip(&["netns", "add", &host])?;
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", &rtr],
            vec!["netns", "add", &far],
            vec!["link", "add", &br, "type", "bridge"],
            vec!["link", "set", &br, "up"],
            vec!["tuntap", "add", "dev", &tap, "mode", "tap"],
            vec!["link", "set", &tap, "master", &br],
            vec!["link", "set", &tap, "up"],
            // host: one end on the bridge, eth0 in lbN-host.
            vec![
                "link", "add", &vh, "type", "veth", "peer", "name", "eth0", "netns", &host,
            ],
            vec!["link", "set", &vh, "master", &br],
            vec!["link", "set", &vh, "up"],
            vec!["-n", &host, "addr", "add", "192.168.50.1/24", "dev", "eth0"],
            vec!["-n", &host, "link", "set", "eth0", "up"],
            vec!["-n", &host, "link", "set", "lo", "up"],
            // router: eth0 on the bridge, eth1 to the far host.
            vec![
                "link", "add", &vr, "type", "veth", "peer", "name", "eth0", "netns", &rtr,
            ],
            vec!["link", "set", &vr, "master", &br],
            vec!["link", "set", &vr, "up"],
            vec![
                "-n",
                &rtr,
                "addr",
                "add",
                "192.168.50.254/24",
                "dev",
                "eth0",
            ],
            vec!["-n", &rtr, "link", "set", "eth0", "up"],
            vec![
                "-n", &rtr, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns",
                &far,
            ],
            vec![
                "-n",
                &rtr,
                "addr",
                "add",
                "192.168.60.254/24",
                "dev",
                "eth1",
            ],
            vec!["-n", &rtr, "link", "set", "eth1", "up"],
            vec!["-n", &rtr, "link", "set", "lo", "up"],
            vec![
                "netns",
                "exec",
                &rtr,
                "sysctl",
                "-q",
                "-w",
                "net.ipv4.ip_forward=1",
            ],
            // far host: behind the router.
            vec!["-n", &far, "addr", "add", "192.168.60.1/24", "dev", "eth0"],
            vec!["-n", &far, "link", "set", "eth0", "up"],
            vec!["-n", &far, "link", "set", "lo", "up"],
            vec![
                "-n",
                &far,
                "route",
                "add",
                "default",
                "via",
                "192.168.60.254",
            ],
        ];
        for step in steps {
            if let Err(e) = ip(&step) {
                panic!("building the test network: {e}");
            }
        }
        Ok(())
    }

    /// Removes everything (errors ignored: parts may not exist). Deleting a namespace deletes
    /// its veth ends and so their peers in the root namespace.
    fn remove(&self) {
        for role in ["host", "rtr", "far"] {
            let _ = ip(&["netns", "del", &self.ns(role)]);
        }
        for prefix in ["lbh", "lbr", "lbtap", "lbbr"] {
            let _ = ip(&["link", "del", &self.ifname(prefix)]);
        }
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        self.remove();
    }
}

on_nics!(
    netns_hosts_and_gateway;
    netns_hosts_and_gateway_over_tap => E1000,
    netns_hosts_and_gateway_over_tap_on_e1000e => E1000e,
);

/// A unit with one `model` NIC on the tap: the on-link Linux host, the far host refused
/// without a gateway and reached through the router with one.
fn netns_hosts_and_gateway(model: NicModel) {
    let skip = |why: String| skip_or_fail(&test_name(), &why);
    if let Some(why) = netns_unavailable() {
        return skip(why);
    }
    // Declared before the unit, so QEMU (holding the tap) is dropped first.
    let net = TestNet::new();
    if let Err(e) = net.build() {
        return skip(format!("cannot create a network namespace: {e}"));
    }

    let tap = NetBackend::Tap { ifname: net.tap() };
    let (mut q, nics) = boot(&unit(&[(model, tap)]));
    let using = format!(
        "Using 0: {} @ PCI(bus:0 dev:3 irq:11), MAC: {QEMU_MAC}",
        model_name(model)
    );
    assert_eq!(nics.last(), Some(&using));
    set_address(&mut q, "192.168.50.2", Some("255.255.255.0"));

    // A Linux host on the segment.
    let p = ping(&mut q, Some("192.168.50.1"), PING_OK);
    let rtt = check_all_replies(&p, "192.168.50.1", None);
    eprintln!("tap, on-link Linux host 192.168.50.1: {rtt}");

    // Behind the router, without a gateway: refused with the reason.
    let p = ping(&mut q, Some("192.168.60.1"), REPLY);
    assert_eq!(
        p.lines,
        ["ping: 192.168.60.1 is not on this unit's subnet 192.168.50.0/24 and no gateway is set"]
    );

    // With the router as gateway: all replies.
    assert_eq!(
        command1(&mut q, "gateway 192.168.50.254"),
        "gateway 192.168.50.254"
    );
    let p = ping(&mut q, Some("192.168.60.1"), PING_OK);
    let rtt = check_all_replies(&p, "192.168.60.1", None);
    eprintln!("tap, via gateway 192.168.50.254 to 192.168.60.1: {rtt}");

    // The on-link host is still reached directly with a gateway set.
    let p = ping(&mut q, Some("192.168.50.1"), PING_OK);
    check_all_replies(&p, "192.168.50.1", None);
    drop(q);
    drop(net);
}
