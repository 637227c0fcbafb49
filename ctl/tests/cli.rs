//! The `lifeboat-ctl` executable on the host: exit statuses and the one-line errors, with the
//! flash as an image file (`--device FILE`). The QEMU scenarios are `tests/linux_ctl.rs` in
//! the root package.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lifeboat_firmware::image::{HeaderRepr, Kind, Version, PLATFORM};
use lifeboat_firmware::install::{Slot, Slots};

const CTL: &str = env!("CARGO_BIN_EXE_lifeboat-ctl");

fn run(args: &[&str]) -> Output {
    Command::new(CTL).args(args).output().unwrap()
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lifeboat-ctl-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn image(version: Version, len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
    let h = HeaderRepr {
        platform: PLATFORM,
        version,
        kind: Kind::Flat64,
        load: 0x200_0000,
        entry: 0x200_0000,
        initrd_len: 0,
        cmdline: "",
    }
    .emit(&payload)
    .unwrap();
    let mut v = h.to_vec();
    v.extend_from_slice(&payload);
    v
}

/// stderr is exactly one line, starting with `lifeboat-ctl: ` and holding `what`.
#[track_caller]
fn one_line(o: &Output, what: &str) {
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.starts_with("lifeboat-ctl: "), "{e}");
    assert!(e.contains(what), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
}

/// A flash file with a unit record and `v` confirmed in slot A (the host's own slot logic).
fn unit_flash(path: &Path, v: Version) {
    std::fs::write(path, vec![0xFFu8; 256 * 4096]).unwrap();
    let dev = OpenFlash(path.to_owned());
    dev.with(|s| {
        assert_eq!(s.install(&image(v, 10_000), |_, _| {}), Ok(Slot::A));
        assert_eq!(s.begin_boot(), Some(Slot::A));
        let t = s.token().unwrap();
        assert_eq!(s.confirm(t), Ok(true));
    });
}

/// The flash file through the firmware's strict NOR model (then written back).
struct OpenFlash(PathBuf);

impl OpenFlash {
    fn with(
        &self,
        f: impl FnOnce(&mut Slots<lifeboat_firmware::install::sim::SimFlash<512, 4096>>),
    ) {
        let bytes = std::fs::read(&self.0).unwrap();
        let mut sim = lifeboat_firmware::install::sim::SimFlash::<512, 4096>::new(bytes.len(), 1);
        sim.mem = bytes;
        let mut s = Slots::new(sim).unwrap();
        f(&mut s);
        std::fs::write(&self.0, s.into_flash().mem).unwrap();
    }
}

#[test]
fn usage_errors_exit_with_2() {
    for args in [&[][..], &["frobnicate"], &["install"], &["status", "--yes"]] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("usage: lifeboat-ctl"));
    }
    let o = run(&["help"]);
    assert_eq!(o.status.code(), Some(0));
}

/// The build machine was not started by lifeboat: `confirm` says so and fails.
#[test]
fn confirm_outside_lifeboat_says_so() {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    if cmdline.contains("lifeboat.confirm=") {
        return; // running under lifeboat itself: nothing to show here
    }
    let o = run(&["confirm"]);
    assert_eq!(o.status.code(), Some(1));
    one_line(&o, "not started by lifeboat");
    assert!(o.stdout.is_empty());
}

#[test]
fn devices_that_are_not_a_lifeboat_flash_are_refused_and_not_written() {
    let d = dir("notflash");
    let img = d.join("good.img");
    std::fs::write(&img, image(Version::new(2, 0, 0), 5000)).unwrap();
    // Missing, too small, and garbage of a good size.
    let o = run(&["install", img.to_str().unwrap(), "--device", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(1));
    one_line(&o, "cannot open /nonexistent for reading and writing");
    let small = d.join("small");
    std::fs::write(&small, [0u8; 4096]).unwrap();
    let o = run(&[
        "install",
        img.to_str().unwrap(),
        "--device",
        small.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    one_line(&o, "too small for two image slots");
    let junk = d.join("junk");
    let bytes: Vec<u8> = (0..256 * 4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&junk, &bytes).unwrap();
    let o = run(&[
        "install",
        img.to_str().unwrap(),
        "--device",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    one_line(
        &o,
        "is not a lifeboat flash (no valid unit record); nothing was written",
    );
    assert!(std::fs::read(&junk).unwrap() == bytes);
    let o = run(&["status", "--device", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let o = run(&["activation-key", "--device", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    one_line(&o, "is not a lifeboat flash");
}

#[test]
fn hostile_images_are_refused_with_the_reason_and_the_flash_is_unchanged() {
    let d = dir("images");
    let flash = d.join("flash");
    unit_flash(&flash, Version::new(3, 1, 0));
    let before = std::fs::read(&flash).unwrap();
    let good = image(Version::new(3, 2, 0), 5000);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "not an image: 0 bytes"),
        ("garbage", vec![0x5A; 3000], "no LBIM magic"),
        (
            "truncated",
            good[..4000].to_vec(),
            "payload bytes, 3680 present",
        ),
        (
            "old",
            image(Version::new(3, 0, 9), 100),
            "older than 3.1(0)",
        ),
        (
            "huge",
            vec![0u8; 200 * 4096],
            "does not fit a flash slot of",
        ),
    ];
    for (name, bytes, why) in &cases {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        let o = run(&[
            "install",
            p.to_str().unwrap(),
            "--device",
            flash.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        one_line(&o, why);
        assert!(
            std::fs::read(&flash).unwrap() == before,
            "{name} changed the flash"
        );
    }
    let o = run(&[
        "install",
        d.to_str().unwrap(),
        "--device",
        flash.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    one_line(&o, "not a regular file");
    // The same train, older: a downgrade, refused without --yes.
    let p = d.join("down");
    std::fs::write(&p, image(Version::new(3, 1, 0), 100)).unwrap();
    let o = run(&[
        "install",
        p.to_str().unwrap(),
        "--device",
        flash.to_str().unwrap(),
    ]);
    if Path::new("/sys/firmware/memmap").exists() {
        // 3.1(0) is not older than the installed 3.1(0): installed.
        assert_eq!(o.status.code(), Some(0), "{o:?}");
    } else {
        one_line(&o, "CONFIG_FIRMWARE_MEMMAP");
    }
}

/// The whole path on a file: install from "Linux", the record and slot B as the slot logic
/// reads them, status --json and activation-key.
#[test]
fn install_then_status_on_a_flash_file() {
    let d = dir("install");
    let flash = d.join("flash");
    unit_flash(&flash, Version::new(3, 1, 0));
    let img = image(Version::new(3, 2, 0), 70_000);
    let p = d.join("new.img");
    std::fs::write(&p, &img).unwrap();
    let o = run(&[
        "install",
        p.to_str().unwrap(),
        "--device",
        flash.to_str().unwrap(),
    ]);
    if !Path::new("/sys/firmware/memmap").exists() {
        one_line(&o, "CONFIG_FIRMWARE_MEMMAP");
        return;
    }
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("Flash version 3.1(0), Install version 3.2(0)\n"),
        "{out}"
    );
    assert!(
        out.contains("Installed 3.2(0) in slot B (70320 bytes, read back and verified)"),
        "{out}"
    );
    OpenFlash(flash.clone()).with(|s| {
        let r = s.record().unwrap();
        assert_eq!((r.slot, r.confirmed), (Slot::B, Some(Slot::A)));
        assert!(s.check(Slot::B).is_ok());
    });
    let o = run(&["status", "--json", "--device", flash.to_str().unwrap()]);
    let j = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        j.contains("\"state\":\"new\",\"boots_left\":3,\"confirmed_slot\":\"A\""),
        "{j}"
    );
    assert!(j.contains("\"floor\":\"3.1(0)\""), "{j}");
    let o = run(&["status", "--device", flash.to_str().unwrap()]);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(
        t.contains("Slot B: 3.2(0), 70320 bytes, selected (new, 3 boots to confirm), boots next\n"),
        "{t}"
    );
    let o = run(&["activation-key", "--device", flash.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "none\n");
}

/// `lifeboat-bless.service` is what docs/linux.md says (after and requiring
/// boot-complete.target, runs `lifeboat-ctl confirm`), and systemd accepts it where
/// `systemd-analyze` is installed (the build machines have it).
#[test]
fn the_bless_unit_is_a_valid_systemd_unit() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/lifeboat-bless.service"
    ))
    .unwrap();
    for line in [
        "Requires=boot-complete.target",
        "After=local-fs.target boot-complete.target",
        "ExecStart=/usr/sbin/lifeboat-ctl confirm",
        "ConditionKernelCommandLine=lifeboat.confirm",
        "AmbientCapabilities=CAP_SYS_RAWIO",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing");
    }
    let Ok(o) = Command::new("systemd-analyze").arg("--version").output() else {
        return;
    };
    assert!(o.status.success());
    let d = dir("unit");
    let path = d.join("lifeboat-bless.service");
    std::fs::write(&path, unit.replace("/usr/sbin/lifeboat-ctl", CTL)).unwrap();
    let o = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{e}");
    assert!(!e.contains("lifeboat-bless.service"), "{e}");
}
