//! `http` against real servers in a lab namespace: nginx (port 80) for the files, and
//! `qemu/tools/http-faults.py` (port 8080) for what nginx will not do on demand (a reset
//! mid-body, chunked coding, redirect chains, a 1 TiB Content-Length). The lossy bridge adds
//! the path: 25 ms each way (RTT 50 ms), and loss where asked.
//!
//! Each download is checked by the length and CRC-32 the console prints against the file's;
//! each fault by the one line the monitor prints. Root only (namespaces), nginx and python3:
//! otherwise skipped with the reason ([`skip_or_fail`]; a failure under LIFEBOAT_REQUIRE_ALL=1).
//! Each scenario runs on the e1000 and on the e1000e (82574L), both on the pc board.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use lifeboat_firmware::image::Version;
use lifeboat_qemu::lab::{
    crc32, lab_unavailable, pattern, Impairment, Lab, Server, SERVER_IP, UNIT_IP,
};
use lifeboat_qemu::NicModel;

const MIB: usize = 1 << 20;

/// Whether the running test cannot run here (see [`skip_or_fail`]).
fn skip() -> bool {
    match lab_unavailable(Server::Nginx) {
        Some(why) => {
            skip_or_fail(&test_name(), &why);
            true
        }
        None => false,
    }
}

fn root_with(tag: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("http-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (n, d) in files {
        std::fs::write(dir.join(n), d).unwrap();
    }
    dir
}

/// A unit with a `model` NIC in `lab` at the prompt with address and server set (and
/// `pflash` attached).
fn unit(model: NicModel, lab: &Lab, pflash: Option<&std::path::Path>) -> Qemu {
    let mut m = machine(Medium::Floppy, 2)
        .nic(model, lab.backend())
        .netns(lab.netns());
    if let Some(f) = pflash {
        m = m.pflash(f);
    }
    let mut q = launch(&m);
    to_prompt(&mut q);
    command1(&mut q, &format!("address {UNIT_IP}"));
    command1(&mut q, &format!("server {SERVER_IP}"));
    q
}

/// `http ARGS`; the output up to the next prompt.
fn http(q: &mut Qemu, args: &str, timeout: Duration) -> String {
    let line = format!("http {args}").trim_end().to_owned();
    q.send_line(&line).unwrap();
    expect(q, &format!("{line}\r\n"), REPLY);
    expect(q, PROMPT, timeout)
}

#[track_caller]
fn assert_received(out: &str, data: &[u8]) {
    let want = format!("Received {} bytes in ", data.len());
    let crc = format!("CRC-32 {:#010x}", crc32(data));
    assert!(
        lines(out)
            .iter()
            .any(|l| l.starts_with(&want) && l.ends_with(&crc)),
        "want {want}... {crc} in {out}"
    );
}

fn sixteen_mib_over_rtt_50ms(model: NicModel, loss: u32, seed: u64) {
    let imp = Impairment {
        loss,
        delay_ms: 25,
        ..Default::default()
    };
    sixteen_mib_through(model, imp, seed);
}

fn sixteen_mib_through(model: NicModel, imp: Impairment, seed: u64) {
    if skip() {
        return;
    }
    let data = pattern(16 * MIB, seed);
    let root = root_with(&format!("wan{seed}-{model:?}"), &[("big.bin", &data)]);
    let lab = Lab::new(Server::Nginx, imp, &root, seed).unwrap_or_else(|e| panic!("lab: {e}"));
    let mut q = unit(model, &lab, None);
    command1(&mut q, "trace on");
    let out = http(
        &mut q,
        &format!("http://{SERVER_IP}/big.bin"),
        Duration::from_secs(300),
    );
    assert_received(&out, &data);
    eprintln!("{model:?}: 16 MiB through {imp:?}:\n{out}");
}

/// The long path through a bottleneck that holds a bounded queue (100 Mbit/s behind 1,000
/// frames, as in `benches/wan.rs`), at 1 % loss: tail drops and random losses together.
#[test]
fn sixteen_mib_through_a_bounded_queue_at_1_percent_loss() {
    let imp = Impairment {
        loss: 1,
        delay_ms: 25,
        rate_mbit: 100,
        queue: 1000,
        ..Default::default()
    };
    sixteen_mib_through(NicModel::E1000, imp, 13);
}

on_nics!(
    |m| sixteen_mib_over_rtt_50ms(m, 0, 11);
    sixteen_mib_across_a_50_ms_path => E1000,
    sixteen_mib_across_a_50_ms_path_on_e1000e => E1000e,
);

on_nics!(
    |m| sixteen_mib_over_rtt_50ms(m, 1, 12);
    sixteen_mib_across_a_50_ms_path_at_1_percent_loss => E1000,
    sixteen_mib_across_a_50_ms_path_at_1_percent_loss_on_e1000e => E1000e,
);

on_nics!(
    faults_and_resumes;
    http_faults_are_named_and_cuts_are_resumed => E1000,
    http_faults_are_named_and_cuts_are_resumed_on_e1000e => E1000e,
);

/// One unit, one lab: every fault the monitor must name, and the recoveries (a reset
/// mid-body resumed by Range, redirects followed, chunked coding) checked by CRC.
fn faults_and_resumes(model: NicModel) {
    if skip() {
        return;
    }
    let data = pattern(3 * MIB, 21);
    let root = root_with(&format!("faults-{model:?}"), &[("f.bin", &data)]);
    let lab = Lab::new(Server::Nginx, Impairment::default(), &root, 21)
        .unwrap_or_else(|e| panic!("lab: {e}"));
    let mut q = unit(model, &lab, None);
    let t = Duration::from_secs(120);
    let f = format!("http://{SERVER_IP}:8080");

    // nginx: a missing file and a server error: the status line, nothing else.
    let out = http(&mut q, &format!("http://{SERVER_IP}/nope.bin"), t);
    assert!(out.contains("http: server said \"404 Not Found\""), "{out}");
    assert!(!out.contains("Received"), "{out}");
    let out = http(&mut q, &format!("http://{SERVER_IP}/status500"), t);
    assert!(
        out.contains("http: server said \"500 Internal Server Error\""),
        "{out}"
    );

    // A reset after 300,000 bytes: resumed from there with Range, whole by CRC.
    command1(&mut q, "trace on");
    let out = http(&mut q, &format!("{f}/cut/300000/f.bin"), t);
    assert!(out.contains("[resume from byte "), "{out}");
    assert!(out.contains("[206]"), "{out}");
    assert_received(&out, &data);
    command1(&mut q, "trace off");

    // Redirects: two followed; four are one too many.
    let out = http(&mut q, &format!("{f}/redirect/2/f.bin"), t);
    assert!(
        out.contains(&format!("redirected to {f}/redirect/1/f.bin")),
        "{out}"
    );
    assert!(
        out.contains(&format!("redirected to {f}/files/f.bin")),
        "{out}"
    );
    assert_received(&out, &data);
    let out = http(&mut q, &format!("{f}/redirect/4/f.bin"), t);
    assert!(out.contains("http: more than 3 redirects"), "{out}");

    // Chunked transfer coding, chunks of 1 byte to 300 KB.
    let out = http(&mut q, &format!("{f}/chunked/f.bin"), t);
    assert_received(&out, &data);

    // A length larger than the buffer: refused at the head, before any body byte lands.
    let out = http(&mut q, &format!("{f}/huge"), t);
    assert!(
        out.contains("http: the file is 1099511627776 bytes, larger than the "),
        "{out}"
    );
    assert!(out.contains("nothing was received"), "{out}");

    // Host names, looked up at the lab's DNS server (the faults server answers `*.lab`).
    assert_eq!(
        command1(&mut q, &format!("dns {SERVER_IP}")),
        format!("dns {SERVER_IP}")
    );
    let out = http(&mut q, "http://files.lab:8080/files/f.bin", t);
    assert_received(&out, &data);
    let out = http(&mut q, "http://nowhere.example/f.bin", t);
    assert!(
        out.contains("http: cannot resolve the host name: no such host"),
        "{out}"
    );

    // What is not fetched at all.
    let out = http(&mut q, "https://example.com/x.bin", t);
    assert!(out.contains("http: https is not supported"), "{out}");
    let out = http(&mut q, "http://10.77.0.1:99999/x", t);
    assert!(out.contains("http: bad port in the URL"), "{out}");
}

on_nics!(
    fetched_by_http_installed_and_booted;
    an_image_fetched_by_http_is_installed_and_boots => E1000,
    an_image_fetched_by_http_is_installed_and_boots_on_e1000e => E1000e,
);

/// An image fetched by `http` (the URL held by `file`) goes through the same checks and
/// install as one fetched by `tftp`, and boots.
fn fetched_by_http_installed_and_booted(model: NicModel) {
    if skip() {
        return;
    }
    let demo = lifeboat::media::demo_image(Version::new(7, 1, 2));
    let mut corrupt = demo.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x40;
    let root = root_with(
        &format!("install-{model:?}"),
        &[("demo.bin", &demo), ("corrupt.bin", &corrupt)],
    );
    let lab = Lab::new(Server::Nginx, Impairment::default(), &root, 31)
        .unwrap_or_else(|e| panic!("lab: {e}"));
    let flash = root.join("pflash.img");
    std::fs::write(&flash, vec![0xFFu8; 4 << 20]).unwrap();
    let mut q = unit(model, &lab, Some(&flash));

    command1(&mut q, &format!("file http://{SERVER_IP}/corrupt.bin"));
    let out = http(&mut q, "", Duration::from_secs(60));
    assert_received(&out, &corrupt);
    assert!(
        out.contains("Checksum verification on flash image failed"),
        "{out}"
    );
    assert!(out.contains("Nothing was written to flash."), "{out}");

    // `http` with no URL and a plain file name: http://SERVER/FILE.
    command1(&mut q, "file demo.bin");
    let out = http(&mut q, "", Duration::from_secs(60));
    assert!(
        out.contains(&format!("http http://{SERVER_IP}/demo.bin")),
        "{out}"
    );
    assert_received(&out, &demo);
    assert!(out.contains("Installed 7.1(2) in slot A"), "{out}");
    q.send_line("reload").unwrap();
    expect(&mut q, "demo image 7.1(2) running", BOOT);
}
