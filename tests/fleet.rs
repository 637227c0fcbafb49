//! A fleet recovering at once: 4 units on one segment fetch the same 8 MiB image from one
//! atftpd with RFC 2090 multicast (`qemu::fleet`: a namespace with the server's tap and a
//! user-space switch to every unit's QEMU). Each unit's length and CRC-32 must match the
//! file's, every unit must have been granted the group and made master in turn (the `trace on`
//! brackets), and the server must have sent well under 4 copies of the image (its tap's
//! tx_bytes). The switch snoops IGMP and queries, as a managed switch does (every second, to
//! fit the test): a unit that stopped answering would lose the group, so every unit must have
//! reported more than its join and none may have been cut off. Root
//! only; skipped with the reason otherwise ([`skip_or_fail`]; a failure under
//! LIFEBOAT_REQUIRE_ALL=1). The fleet runs once on e1000s and once on e1000es (82574L), all on
//! the pc board, one fleet at a time.

mod common;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use common::*;
use lifeboat_qemu::fleet::{unit_ip, unit_mac, Fleet};
use lifeboat_qemu::lab::{crc32, lab_unavailable, pattern, Server, SERVER_IP};
use lifeboat_qemu::{NicModel, Qemu};

const UNITS: usize = 4;
const LEN: usize = 8 << 20;
/// The snooping switch's query interval (membership lasts 2 x this + 1 s without a report).
const QUERY: Duration = Duration::from_secs(1);

fn unit(model: NicModel, fleet: &Fleet, i: usize, name: &str) -> Qemu {
    let mut m = machine(Medium::Floppy, 3)
        .memory_mib(256)
        .nic(model, fleet.backend(i))
        .netns(fleet.netns());
    m.nics[0].mac = Some(unit_mac(i));
    let mut q = match Qemu::launch_over_limit(&m) {
        Ok(q) => q,
        Err(e) => panic!("launching unit {i}: {e}"),
    };
    expect_banner(&mut q);
    q.send(ESC).expect("ESC");
    expect(&mut q, HELP_HINT, REPLY);
    expect(&mut q, PROMPT, REPLY);
    for line in [
        format!("address {}", unit_ip(i)),
        format!("server {SERVER_IP}"),
        format!("file {name}"),
        "trace on".to_owned(),
    ] {
        command(&mut q, &line);
    }
    // Past QEMU's e1000/e1000e receive hold-off (frames refused for a second after the driver enables
    // the receiver at power-on): the units start their transfers together, not in boot order.
    let mut answered = false;
    for _ in 0..5 {
        let out = command(&mut q, &format!("ping {SERVER_IP}")).join("\n");
        if out.contains("Success rate is 100 percent") {
            answered = true;
            break;
        }
    }
    assert!(answered, "unit {i}: the server never answered ping");
    q
}

on_nics!(
    four_units_by_multicast;
    four_units_fetch_one_image_by_multicast => E1000,
    four_units_fetch_one_image_by_multicast_on_e1000e => E1000e,
);

fn four_units_by_multicast(model: NicModel) {
    if let Some(why) = lab_unavailable(Server::Atftpd) {
        return skip_or_fail(&test_name(), &why);
    }
    // One fleet at a time: its 4 units are beyond the process's QEMU limit already, and the
    // egress bound counts on the units keeping up with the server.
    static ONE_FLEET: Mutex<()> = Mutex::new(());
    let _fleet_turn = ONE_FLEET.lock().unwrap_or_else(|e| e.into_inner());
    let name = "fleet-8m.bin";
    let data = pattern(LEN, 15);
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fleet-{model:?}-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join(name), &data).unwrap();
    let fleet = Fleet::snooping(Server::Atftpd, UNITS, &root, QUERY)
        .unwrap_or_else(|e| panic!("fleet: {e}"));
    let mut units: Vec<Qemu> = (0..UNITS).map(|i| unit(model, &fleet, i, name)).collect();
    let before = fleet.server_tx_bytes().unwrap();
    // At once: the commands go out back to back.
    for q in &mut units {
        q.send_line("tftp").expect("console");
    }
    let want = format!("Received {LEN} bytes in ");
    let crc = format!("CRC-32 {:#010x}", crc32(&data));
    let mut granted = 0;
    let mut masters = 0;
    for (i, q) in units.iter_mut().enumerate() {
        let out = expect(q, PROMPT, Duration::from_secs(600));
        let line = lines(&out)
            .into_iter()
            .rfind(|l| l.starts_with("Received ") || l.starts_with("tftp: "))
            .unwrap_or_else(|| panic!("unit {i}: no result line in {out:?}"));
        assert!(
            line.starts_with(&want) && line.ends_with(&crc),
            "unit {i}: {line}\n{out}\nswitch: {:?}",
            fleet.snoop_stats()
        );
        if out.contains(", multicast 239.255.0.") {
            granted += 1;
        }
        // The first unit is master from its OACK; atftpd hands the role to each of the others
        // in turn (an OACK with mc=1) once the one before it has ACKed the last block.
        if out.contains(" master]") || out.contains("[master]") {
            masters += 1;
        }
        eprintln!("{model:?} unit {i}: {line}");
    }
    let egress = fleet.server_tx_bytes().unwrap() - before;
    let copies = egress as f64 / LEN as f64;
    eprintln!("server egress {egress} bytes = {copies:.2} images for {UNITS} units");
    let snoop = fleet.snoop_stats().unwrap();
    eprintln!("switch: {snoop:?}");
    assert_eq!(granted, UNITS, "units granted multicast");
    // The join's report, then at least one answer to a query while the transfer ran.
    assert!(snoop.queries >= 2, "{snoop:?}");
    assert!(snoop.reports.iter().all(|&r| r >= 2), "{snoop:?}");
    assert_eq!(snoop.pruned, 0, "a member was cut off the group: {snoop:?}");
    assert_eq!(masters, UNITS, "units made master");
    // Unicast would be 4.0. What multicast adds to one image: the part each late joiner
    // missed (filled once, for all, by the first of them made master) and lost frames.
    assert!(
        copies < 2.5,
        "server sent {copies:.2} images for {UNITS} units"
    );
}
