//! TFTP scenarios against QEMU's built-in (slirp) TFTP and DHCP servers, which nobody here
//! wrote: downloads on each NIC family checked by CRC-32, a missing file, `trace on`, ESC
//! during a download, `address dhcp` then `tftp`, and a 40 MiB file at blksize 512
//! (81,920 blocks: the block number rolls over). Each scenario on the e1000 also runs on the
//! e1000e (82574L) on the same pc board (`..._on_e1000e`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use lifeboat_qemu::lab::{crc32, pattern};
use lifeboat_qemu::{MachineType, NetBackend, NicModel};

const WINDOW_S: u32 = 3;
const SLIRP_HOST: &str = "10.0.2.2";
const SLIRP_GUEST: &str = "10.0.2.15";

/// The TFTP root every test here serves: a few files, written once per test process.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tftp-root-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, len, seed) in [
            ("one-mib.bin", 1 << 20, 1),
            ("big.bin", 40 << 20, 2),
            ("small.bin", 3000, 3),
        ] {
            std::fs::write(dir.join(name), pattern(len, seed)).unwrap();
        }
        dir
    })
}

fn file_crc(name: &str) -> (usize, u32) {
    let d = std::fs::read(root().join(name)).unwrap();
    (d.len(), crc32(&d))
}

fn slirp(bootfile: Option<&str>) -> NetBackend {
    NetBackend::User {
        tftp: Some(root().to_path_buf()),
        bootfile: bootfile.map(str::to_owned),
    }
}

#[track_caller]
fn boot(model: NicModel, backend: NetBackend) -> Qemu {
    boot_unit(machine(Medium::Floppy, WINDOW_S).nic(model, backend))
}

#[track_caller]
fn boot_unit(m: Machine) -> Qemu {
    let mut q = launch(&m);
    expect_banner(&mut q);
    q.send(ESC).expect("ESC");
    expect(&mut q, HELP_HINT, REPLY);
    expect(&mut q, PROMPT, REPLY);
    q
}

#[track_caller]
fn setup(q: &mut Qemu, file: &str) {
    assert_eq!(
        command1(q, &format!("address {SLIRP_GUEST}")),
        format!("address {SLIRP_GUEST}")
    );
    assert_eq!(
        command1(q, &format!("server {SLIRP_HOST}")),
        format!("server {SLIRP_HOST}")
    );
    assert_eq!(command1(q, &format!("file {file}")), format!("file {file}"));
}

/// Runs `line` (a `tftp` command) and returns everything up to the next prompt.
#[track_caller]
fn tftp(q: &mut Qemu, line: &str, timeout: Duration) -> String {
    q.send_line(line).expect("console");
    expect(q, &format!("{line}\r\n"), REPLY);
    expect(q, PROMPT, timeout)
}

/// `Received N bytes in S s (R MiB/s), CRC-32 0xC` → (N, seconds, C).
fn received(out: &str) -> (usize, f64, u32) {
    let line = out
        .lines()
        .find(|l| l.starts_with("Received "))
        .unwrap_or_else(|| panic!("no Received line in {out:?}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        (words[0], words[2], words[3], words[5]),
        ("Received", "bytes", "in", "s"),
        "{line}"
    );
    assert!(words[6].starts_with('(') && words[7] == "MiB/s),", "{line}");
    assert_eq!(words[8], "CRC-32", "{line}");
    let crc = u32::from_str_radix(words[9].trim_start_matches("0x"), 16).expect("hex CRC");
    (words[1].parse().unwrap(), words[4].parse().unwrap(), crc)
}

#[track_caller]
fn download_ok(q: &mut Qemu, file: &str, line: &str, timeout: Duration) -> f64 {
    let out = tftp(q, line, timeout);
    assert!(
        out.starts_with(&format!("tftp {file}@{SLIRP_HOST}")),
        "{out:?}"
    );
    let (len, secs, crc) = received(&out);
    assert_eq!((len, crc), file_crc(file), "{out:?}");
    secs
}

#[test]
fn downloads_on_each_nic_family_match_the_file() {
    for model in [NicModel::E1000, NicModel::I82558b, NicModel::VirtioNetPci] {
        let mut q = boot(model, slirp(None));
        setup(&mut q, "one-mib.bin");
        let secs = download_ok(&mut q, "one-mib.bin", "tftp", Duration::from_secs(60));
        eprintln!("{model:?}: 1 MiB from slirp in {secs:.3} s");
        // The same unit downloads again (the NIC and buffers are reusable).
        download_ok(&mut q, "one-mib.bin", "tftp", Duration::from_secs(60));
    }
}

/// q35 with its e1000e (82574L), booted from its disk on the AHCI controller: 1 MiB, twice.
#[test]
fn e1000e_on_q35_downloads_match_the_file() {
    let m = machine(Medium::Disk, WINDOW_S)
        .machine_type(MachineType::Q35)
        .nic(NicModel::E1000e, slirp(None));
    let mut q = boot_unit(m);
    setup(&mut q, "one-mib.bin");
    let secs = download_ok(&mut q, "one-mib.bin", "tftp", Duration::from_secs(60));
    eprintln!("E1000e (q35): 1 MiB from slirp in {secs:.3} s");
    download_ok(&mut q, "one-mib.bin", "tftp", Duration::from_secs(60));
}

on_nics!(
    missing_file_trace_and_esc;
    missing_file_trace_and_abort => E1000,
    missing_file_trace_and_abort_on_e1000e => E1000e,
);

/// A missing file, `trace on` (codes and the OACK), and ESC during a 40 MiB download.
fn missing_file_trace_and_esc(model: NicModel) {
    let mut q = boot(model, slirp(None));
    setup(&mut q, "no-such-file.bin");
    let out = tftp(&mut q, "tftp", Duration::from_secs(30));
    let last = lines(&out).pop().unwrap_or_default();
    assert!(
        last.starts_with("tftp: file not found on 10.0.2.2 (-10):"),
        "{out:?}"
    );

    assert_eq!(command1(&mut q, "trace on"), "trace on");
    let out = tftp(&mut q, "tftp", Duration::from_secs(30));
    assert!(out.contains("<-10>"), "{out:?}");
    assert_eq!(command1(&mut q, "file small.bin"), "file small.bin");
    let out = tftp(&mut q, "tftp", Duration::from_secs(30));
    // slirp caps blksize at 1428 and ignores windowsize.
    assert!(
        out.contains("[blksize 1428, windowsize 1, tsize 3000]"),
        "{out:?}"
    );
    assert!(out.contains("trace: "), "{out:?}");
    assert_eq!(received(&out).0, 3000);
    assert_eq!(command1(&mut q, "trace off"), "trace off");

    // ESC during a 40 MiB download stops it; the prompt works afterwards.
    assert_eq!(command1(&mut q, "file big.bin"), "file big.bin");
    q.send_line("tftp 512").expect("console");
    expect(&mut q, "tftp big.bin@10.0.2.2..", Duration::from_secs(30));
    q.send(ESC).expect("ESC");
    let out = expect(&mut q, PROMPT, Duration::from_secs(10));
    assert!(
        out.ends_with("tftp: aborted by the operator\r\n"),
        "{out:?}"
    );
    assert_eq!(command1(&mut q, "file"), "file big.bin");
}

on_nics!(
    dhcp_then_tftp;
    dhcp_fills_address_server_and_file_then_tftp_works => E1000,
    dhcp_fills_address_server_and_file_then_tftp_works_on_e1000e => E1000e,
);

fn dhcp_then_tftp(model: NicModel) {
    let mut q = boot(model, slirp(Some("one-mib.bin")));
    let out = command(&mut q, "address dhcp").join("\n");
    assert!(
        out.contains(&format!("address {SLIRP_GUEST} 255.255.255.0")),
        "{out:?}"
    );
    assert!(out.contains(&format!("gateway {SLIRP_HOST}")), "{out:?}");
    assert!(out.contains(&format!("server {SLIRP_HOST}")), "{out:?}");
    assert!(out.contains("file one-mib.bin"), "{out:?}");
    download_ok(&mut q, "one-mib.bin", "tftp", Duration::from_secs(60));
}

on_nics!(
    forty_mib_at_blksize_512;
    forty_mib_at_blksize_512_rolls_the_block_number_over => E1000,
    forty_mib_at_blksize_512_rolls_the_block_number_over_on_e1000e => E1000e,
);

fn forty_mib_at_blksize_512(model: NicModel) {
    let mut q = boot(model, slirp(None));
    setup(&mut q, "big.bin");
    let secs = download_ok(&mut q, "big.bin", "tftp 512", Duration::from_secs(400));
    eprintln!("{model:?}: 40 MiB at blksize 512 from slirp in {secs:.3} s");
}
