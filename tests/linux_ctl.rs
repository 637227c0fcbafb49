//! The running Linux system's side (issue 22): Debian's cloud kernel with a busybox
//! initramfs that loads the IDE drivers (`ata_piix` and `sd_mod` are modules there) and
//! carries `lifeboat-ctl`, booted by lifeboat's flash boot from ATA flash (IDE, pc machine).
//! The unit's flash is prepared on the host by the slot logic itself; the guest is driven
//! through a shell on COM1, and `lifeboat-ctl status --json` is parsed here.
//!
//! (a) an image whose init runs `lifeboat-ctl confirm` is kept past 4 boots, the floor rises;
//! (b) an image that does not confirm is rolled back to the confirmed one after 3 boots;
//! (c) `lifeboat-ctl install` of a new image from the running Linux, reboot: it boots and
//!     confirms itself; (f) `status --json` before and after; the same on q35 with the slots
//!     on a SATA disk (AHCI) under Debian's generic kernel (the cloud kernel has no `ahci`);
//! (d) QEMU killed during that install (erasing; a quarter written): the previous image boots;
//! (e) a keyed unit refuses unsigned, foreign-signed, below-floor, other-platform and
//!     malformed images, a device that is no lifeboat flash and a read-only flash, with the
//!     reason; the flash is unchanged to the byte.
//!
//! Skipped with the reason when the Debian package source cannot be reached (a failure
//! under LIFEBOAT_REQUIRE_ALL=1).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use lifeboat::media;
use lifeboat_firmware::image::{HeaderRepr, Kind, Version, PLATFORM};
use lifeboat_firmware::install::sim::SimFlash;
use lifeboat_firmware::install::{Record, Slot, Slots, State};
use lifeboat_qemu::linux::{self, LinuxAssets};
use lifeboat_qemu::MachineType;
use serde_json::Value;

/// The flash as the firmware's ATA driver sees it: 512-byte sectors, 4 KiB erase blocks.
type Flash = SimFlash<512, 4096>;
const FLASH_LEN: usize = 64 << 20;
/// The test images' command line: COM1 at the monitor's speed, kernel messages quiet (they
/// would interleave with the shell's output).
const CMDLINE: &str = "console=ttyS0,9600 panic=-1 quiet";
const READY: &str = "lifeboat-test: shell ready\r\n";
/// Flash boot (16 MiB read and hashed) to the shell, the drivers loaded.
const TO_SHELL: Duration = Duration::from_secs(120);
const OLD: Version = Version::new(6, 1, 0);
const NEW: Version = Version::new(6, 2, 0);

/// A fresh directory for one test (its flash and image files, ~100 MB: one per test name,
/// replaced by the next run, kept after a failure for a look).
fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("linux-ctl-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// What every test image is built from: a kernel, the modules its init loads (in order),
/// busybox.
struct Kit {
    vmlinuz: PathBuf,
    busybox: Vec<u8>,
    modules: Vec<(String, Vec<u8>)>,
}

/// Debian's cloud kernel with its IDE modules (pc, PIIX IDE).
fn kit() -> Option<Kit> {
    let assets: LinuxAssets = linux_assets()?;
    let cache = assets.vmlinuz.parent().unwrap().to_path_buf();
    let modules = match linux::ata_modules(&cache, &assets) {
        Ok(m) => m,
        Err(why) => {
            skip_or_fail(&test_name(), &format!("the kernel's IDE modules: {why}"));
            return None;
        }
    };
    let busybox = std::fs::read(cache.join("busybox")).unwrap();
    Some(Kit {
        vmlinuz: assets.vmlinuz,
        busybox,
        modules,
    })
}

/// Debian's generic kernel with its AHCI modules (q35's SATA; the cloud kernel has no AHCI).
fn ahci_kit() -> Option<Kit> {
    let assets: LinuxAssets = linux_assets()?;
    let cache = assets.vmlinuz.parent().unwrap().to_path_buf();
    let fetched = linux::generic_kernel(&cache).and_then(|(vmlinuz, package)| {
        linux::modules(&cache, &package, &linux::AHCI_MODULES).map(|m| (vmlinuz, m))
    });
    match fetched {
        Ok((vmlinuz, modules)) => Some(Kit {
            vmlinuz,
            busybox: std::fs::read(cache.join("busybox")).unwrap(),
            modules,
        }),
        Err(why) => {
            skip_or_fail(
                &test_name(),
                &format!("Debian's generic kernel and its AHCI modules: {why}"),
            );
            None
        }
    }
}

/// `/init`: busybox applets, /proc, /sys, devtmpfs, the IDE drivers, wait until
/// `lifeboat-ctl` finds the flash, then (a "blessing" image) `lifeboat-ctl confirm` as
/// `lifeboat-bless.service` would, then a shell on the console without echo.
fn init_script(bless: bool, modules: &[&str]) -> String {
    let mut s = String::from(
        "#!/bin/busybox sh\n\
         /bin/busybox mkdir -p /proc /sys /tmp /sbin /usr/bin /usr/sbin\n\
         /bin/busybox --install -s\n\
         export PATH=/bin:/sbin:/usr/bin:/usr/sbin\n\
         mount -t proc proc /proc\n\
         mount -t sysfs sysfs /sys\n\
         mount -t devtmpfs devtmpfs /dev\n\
         echo 1 > /proc/sys/kernel/printk\n",
    );
    s.push_str(&format!(
        "for m in {}; do insmod /lib/modules/$m.ko || echo \"lifeboat-test: insmod $m failed\"; done\n",
        modules.join(" ")
    ));
    s.push_str(
        "i=0\n\
         until lifeboat-ctl activation-key >/dev/null 2>&1 || [ $i -ge 300 ]; do sleep 0.1; i=$((i+1)); done\n",
    );
    if bless {
        s.push_str("lifeboat-ctl confirm; echo \"lifeboat-test: confirm exit $?\"\n");
    }
    s.push_str(
        "stty -echo\n\
         export PS1=''\n\
         echo 'lifeboat-test: shell ready'\n\
         exec sh\n",
    );
    s
}

/// A `linux` image of Debian's kernel and a test initramfs (`extra` files added to it).
fn linux_image(kit: &Kit, version: Version, bless: bool, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let names: Vec<&str> = kit.modules.iter().map(|(n, _)| n.as_str()).collect();
    let init = init_script(bless, &names);
    let mut entries: Vec<linux::CpioEntry<'_>> = vec![
        ("bin", 0o040755, b""),
        ("bin/busybox", 0o100755, &kit.busybox),
        ("bin/lifeboat-ctl", 0o100755, media::CTL),
        ("lib", 0o040755, b""),
        ("lib/modules", 0o040755, b""),
        ("init", 0o100755, init.as_bytes()),
        // An unprivileged user, to show `confirm` refused without CAP_SYS_RAWIO.
        ("etc", 0o040755, b""),
        (
            "etc/passwd",
            0o100644,
            b"root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n",
        ),
        ("etc/group", 0o100644, b"root:x:0:\nnogroup:x:65534:\n"),
    ];
    let names: Vec<String> = kit
        .modules
        .iter()
        .map(|(n, _)| format!("lib/modules/{n}.ko"))
        .collect();
    for (name, (_, ko)) in names.iter().zip(&kit.modules) {
        entries.push((name, 0o100644, ko));
    }
    if !extra.is_empty() {
        entries.push(("img", 0o040755, b""));
    }
    for (name, data) in extra {
        entries.push((name, 0o100644, data));
    }
    let initrd = linux::cpio(&entries);
    let mut payload = std::fs::read(&kit.vmlinuz).unwrap();
    payload.extend_from_slice(&initrd);
    let h = HeaderRepr {
        platform: PLATFORM,
        version,
        kind: Kind::Linux,
        load: 0,
        entry: 0,
        initrd_len: initrd.len() as u64,
        cmdline: CMDLINE,
    }
    .emit(&payload)
    .unwrap();
    let mut img = h.to_vec();
    img.extend_from_slice(&payload);
    img
}

/// A small flat64 image (for refusals: they happen before a byte is written).
fn small_image(platform: &str, version: Version) -> Vec<u8> {
    let payload = vec![0xC3u8; 4096];
    let h = HeaderRepr {
        platform,
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

/// Writes the unit's flash to `path` after `f` has run the slot logic on a blank one.
fn prepare_flash(path: &Path, f: impl FnOnce(&mut Slots<Flash>)) {
    let mut s = Slots::new(Flash::new(FLASH_LEN, 7)).unwrap();
    f(&mut s);
    std::fs::write(path, &s.into_flash().mem).unwrap();
}

/// The record in the flash file at `path`.
fn record_of(path: &Path) -> Record {
    let mut f = Flash::new(FLASH_LEN, 7);
    f.mem = std::fs::read(path).unwrap();
    Slots::new(f).unwrap().record().expect("a unit record")
}

/// `image` installed and confirmed in slot A (floor raised to its train).
fn confirmed(s: &mut Slots<Flash>, image: &[u8]) {
    assert_eq!(s.install(image, |_, _| {}), Ok(Slot::A));
    assert_eq!(s.begin_boot(), Some(Slot::A));
    let t = s.token().unwrap();
    assert_eq!(s.confirm(t), Ok(true));
}

/// A raw disk holding `image` (padded to whole sectors), for the guest to read it from.
fn image_disk(path: &Path, image: &[u8]) {
    let mut v = image.to_vec();
    v.resize(image.len().div_ceil(512) * 512, 0);
    std::fs::write(path, v).unwrap();
}

/// Waits for the flash boot of `slot`/`version` and the shell; returns the console text
/// from the flash boot line to the shell.
#[track_caller]
fn boot_to_shell(q: &mut Qemu, slot: Slot, version: Version) -> String {
    expect(
        q,
        &format!("Flash boot: slot {slot}, image {version} (linux, kernel "),
        TO_SHELL,
    );
    let text = expect(q, READY, TO_SHELL);
    assert!(!text.contains("insmod"), "{text}");
    text
}

/// Runs `cmd` in the guest's shell; its output (stderr included) and exit status.
#[track_caller]
fn sh(q: &mut Qemu, cmd: &str, timeout: Duration) -> (String, i32) {
    // The marker's format string is not the marker: an echo could never match.
    q.send_line(&format!("{{ {cmd} ; }} 2>&1; printf '@@%s=%d@@\\n' rc $?"))
        .unwrap();
    let out = expect(q, "@@rc=", timeout);
    let rc = expect(q, "@@", REPLY);
    (out, rc.trim().parse().unwrap_or(-1))
}

/// `lifeboat-ctl status --json`, parsed.
#[track_caller]
fn status(q: &mut Qemu) -> Value {
    let (out, rc) = sh(q, "lifeboat-ctl status --json", REPLY * 3);
    assert_eq!(rc, 0, "{out}");
    let line = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("{\""))
        .unwrap_or_else(|| panic!("no JSON in {out:?}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn reboot(q: &mut Qemu) {
    q.send_line("reboot -f").unwrap();
}

fn unit(flash: &Path, disk: Option<&Path>) -> lifeboat_qemu::Machine {
    let mut m = machine(Medium::Disk, 2).memory_mib(384).ide_disk(2, flash);
    if let Some(d) = disk {
        m = m.ide_disk(1, d);
    }
    m
}

/// The guest copies the image on the disk that starts with the image magic to /tmp/new.img.
fn fetch_cmd(len: usize) -> String {
    format!(
        "for d in /dev/sd?; do [ \"$(head -c 4 $d)\" = LBIM ] && head -c {len} $d > /tmp/new.img; done; ls -l /tmp/new.img"
    )
}

/// (a), (f): the image's init confirms (as lifeboat-bless.service would): the first boot
/// shows it new with 2 boots left and the confirmation handed back; from the second boot on
/// it is confirmed, the floor is its train, and it stays past 4 boots.
#[test]
fn an_image_whose_init_confirms_is_kept_past_four_boots_and_raises_the_floor() {
    let Some(kit) = kit() else { return };
    let d = dir("keep");
    let flash = d.join("cf.img");
    let image = linux_image(&kit, OLD, true, &[]);
    prepare_flash(&flash, |s| {
        assert_eq!(s.install(&image, |_, _| {}), Ok(Slot::A));
    });
    let mut q = launch(&unit(&flash, None));
    let text = boot_to_shell(&mut q, Slot::A, OLD);
    assert!(text.contains("lifeboat-test: confirm exit 0"), "{text}");
    let st = status(&mut q);
    assert_eq!(st["booted"]["slot"], "A", "{st}");
    assert_eq!(st["booted"]["version"], "6.1(0)", "{st}");
    assert_eq!(st["record"]["state"], "new", "{st}");
    assert_eq!(st["record"]["boots_left"], 2, "{st}");
    assert_eq!(st["record"]["floor"], "1.0(0)", "{st}");
    assert_eq!(st["confirm_pending"], true, "{st}");
    assert_eq!(st["booted"]["token"], st["record"]["token"], "{st}");
    for boot in 2..=5 {
        reboot(&mut q);
        let text = boot_to_shell(&mut q, Slot::A, OLD);
        assert!(
            text.contains("lifeboat-test: confirm exit 0"),
            "boot {boot}: {text}"
        );
        if boot == 2 || boot == 5 {
            let st = status(&mut q);
            assert_eq!(st["record"]["slot"], "A", "boot {boot}: {st}");
            assert_eq!(st["record"]["state"], "confirmed", "boot {boot}: {st}");
            assert_eq!(st["record"]["confirmed_slot"], "A", "boot {boot}: {st}");
            assert_eq!(st["record"]["floor"], "6.1(0)", "boot {boot}: {st}");
        }
    }
    q.kill();
    let r = record_of(&flash);
    assert_eq!((r.slot, r.state), (Slot::A, State::Confirmed));
    assert_eq!(r.unit.floor, Version::new(6, 1, 0));
}

/// (b): a new image that never confirms boots 3 times, then the confirmed one is back.
#[test]
fn a_linux_image_that_does_not_confirm_is_rolled_back_after_three_boots() {
    let Some(kit) = kit() else { return };
    let d = dir("rollback");
    let flash = d.join("cf.img");
    let old = linux_image(&kit, OLD, true, &[]);
    let new = linux_image(&kit, NEW, false, &[]);
    prepare_flash(&flash, |s| {
        confirmed(s, &old);
        assert_eq!(s.install(&new, |_, _| {}), Ok(Slot::B));
    });
    let mut q = launch(&unit(&flash, None));
    for left in [2, 1, 0] {
        let text = boot_to_shell(&mut q, Slot::B, NEW);
        assert!(!text.contains("confirm exit"), "{text}");
        if left == 0 {
            let st = status(&mut q);
            assert_eq!(st["record"]["slot"], "B", "{st}");
            assert_eq!(st["record"]["boots_left"], 0, "{st}");
            assert_eq!(st["record"]["confirmed_slot"], "A", "{st}");
        }
        reboot(&mut q);
    }
    let text = boot_to_shell(&mut q, Slot::A, OLD);
    assert!(text.contains("lifeboat-test: confirm exit 0"), "{text}");
    let st = status(&mut q);
    assert_eq!(st["record"]["slot"], "A", "{st}");
    assert_eq!(st["record"]["state"], "confirmed", "{st}");
    assert_eq!(st["slots"][1]["version"], "6.2(0)", "{st}");
    assert_eq!(st["slots"][1]["selected"], false, "{st}");
    q.kill();
}

/// (c), (f): from the running 6.1(0), `lifeboat-ctl install` of 6.2(0) into slot B; the
/// status before and after; reboot: 6.2(0) boots from B, confirms itself, and is kept.
#[test]
fn linux_installs_a_new_image_into_the_other_slot_which_boots_and_confirms_itself() {
    let Some(kit) = kit() else { return };
    update_from_linux(&kit, "update", |flash, disk| unit(flash, Some(disk)));
}

/// The same on q35 with the slots on a SATA disk (AHCI port 2; the image to install on port
/// 3), under Debian's generic kernel, whose `ahci` the init loads.
#[test]
fn on_q35_linux_installs_into_the_other_slot_of_an_ahci_disk() {
    let Some(kit) = ahci_kit() else { return };
    update_from_linux(&kit, "update-ahci", |flash, disk| {
        machine(Medium::Disk, 2)
            .machine_type(MachineType::Q35)
            .memory_mib(384)
            .ide_disk(2, flash)
            .ide_disk(3, disk)
    });
}

fn update_from_linux(
    kit: &Kit,
    name: &str,
    machine: impl Fn(&Path, &Path) -> lifeboat_qemu::Machine,
) {
    let d = dir(name);
    let flash = d.join("cf.img");
    let disk = d.join("new.img");
    let old = linux_image(kit, OLD, true, &[]);
    let new = linux_image(kit, NEW, true, &[]);
    prepare_flash(&flash, |s| confirmed(s, &old));
    image_disk(&disk, &new);
    let mut q = launch(&machine(&flash, &disk));
    boot_to_shell(&mut q, Slot::A, OLD);
    let before = status(&mut q);
    assert_eq!(before["record"]["slot"], "A", "{before}");
    assert_eq!(before["record"]["state"], "confirmed", "{before}");
    assert_eq!(before["slots"][1]["version"], Value::Null, "{before}");
    let (out, rc) = sh(&mut q, &fetch_cmd(new.len()), REPLY * 3);
    assert_eq!(rc, 0, "{out}");
    // Sectors written to the flash (field 7 of the block device's stat), for the benchmark.
    let stat = format!(
        "/sys/block/{}/stat",
        before["device"]
            .as_str()
            .unwrap()
            .trim_start_matches("/dev/")
    );
    let sectors = |q: &mut Qemu| -> u64 {
        let (out, rc) = sh(q, &format!("cat {stat}"), REPLY);
        assert_eq!(rc, 0, "{out}");
        let line = out.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
        line.split_whitespace().nth(6).unwrap().parse().unwrap()
    };
    let s0 = sectors(&mut q);
    let (out, rc) = sh(&mut q, "time lifeboat-ctl install /tmp/new.img", TO_SHELL);
    assert_eq!(rc, 0, "{out}");
    let written = (sectors(&mut q) - s0) * 512;
    // The image is erased (0xFF) and written, in whole sectors, then one record sector.
    let span = new.len().div_ceil(4096) as u64 * 4096;
    assert!(
        written >= span + new.len() as u64 + 512,
        "{written} bytes written"
    );
    assert!(
        out.contains("Flash version 6.1(0), Install version 6.2(0)"),
        "{out}"
    );
    let installed = format!(
        "Installed 6.2(0) in slot B ({} bytes, read back and verified) in ",
        new.len()
    );
    assert!(out.contains(&installed), "{out}");
    eprintln!(
        "lifeboat-ctl install of {} bytes from Linux (TCG): {written} bytes written to the flash; {out:?}",
        new.len()
    );
    let after = status(&mut q);
    assert_eq!(after["record"]["slot"], "B", "{after}");
    assert_eq!(after["record"]["state"], "new", "{after}");
    assert_eq!(after["record"]["boots_left"], 3, "{after}");
    assert_eq!(after["record"]["confirmed_slot"], "A", "{after}");
    assert_eq!(after["slots"][1]["version"], "6.2(0)", "{after}");
    assert_eq!(after["slots"][1]["verifies"], true, "{after}");
    assert_eq!(after["slots"][1]["boots_next"], true, "{after}");
    // Still running 6.1(0) from A.
    assert_eq!(after["booted"]["slot"], "A", "{after}");
    reboot(&mut q);
    let text = boot_to_shell(&mut q, Slot::B, NEW);
    assert!(text.contains("lifeboat-test: confirm exit 0"), "{text}");
    reboot(&mut q);
    boot_to_shell(&mut q, Slot::B, NEW);
    let st = status(&mut q);
    assert_eq!(st["booted"]["slot"], "B", "{st}");
    assert_eq!(st["record"]["state"], "confirmed", "{st}");
    assert_eq!(st["record"]["floor"], "6.2(0)", "{st}");
    q.kill();
    let r = record_of(&flash);
    assert_eq!(
        (r.slot, r.state, r.confirmed),
        (Slot::B, State::Confirmed, Some(Slot::B))
    );
}

/// (d): the power fails (QEMU killed) while Linux installs 6.2(0): once while the other
/// slot is being erased, once a quarter into the writing. The unit boots 6.1(0) from A,
/// confirmed, and its record is the one from before the install.
#[test]
fn killed_during_an_install_from_linux_the_previous_image_boots() {
    let Some(kit) = kit() else { return };
    let d = dir("cut");
    let flash = d.join("cf.img");
    let disk = d.join("new.img");
    let old = linux_image(&kit, OLD, true, &[]);
    let new = linux_image(&kit, NEW, true, &[]);
    image_disk(&disk, &new);
    // The first cut: as soon as the install starts erasing; the second: 16 progress dots
    // (4 MiB) written.
    for (cut, wait_for) in [("erasing", ""), ("writing", "................")] {
        prepare_flash(&flash, |s| confirmed(s, &old));
        let before = record_of(&flash);
        let mut q = launch(&unit(&flash, Some(&disk)));
        boot_to_shell(&mut q, Slot::A, OLD);
        let (out, rc) = sh(&mut q, &fetch_cmd(new.len()), REPLY * 3);
        assert_eq!(rc, 0, "{out}");
        q.send_line("lifeboat-ctl install /tmp/new.img").unwrap();
        expect(&mut q, "Installing to flash", TO_SHELL);
        if !wait_for.is_empty() {
            expect(&mut q, wait_for, TO_SHELL);
        }
        q.kill();
        assert_eq!(record_of(&flash), before, "cut while {cut}");
        let mut q = launch(&unit(&flash, None));
        boot_to_shell(&mut q, Slot::A, OLD);
        let st = status(&mut q);
        assert_eq!(st["record"]["slot"], "A", "cut while {cut}: {st}");
        assert_eq!(st["record"]["state"], "confirmed", "cut while {cut}: {st}");
        assert_eq!(st["slots"][1]["verifies"], false, "cut while {cut}: {st}");
        q.kill();
    }
}

/// (e): a keyed unit (its media and its record carry the key) running 6.1(0): every image
/// the unit must not run, and every malformed one, is refused from Linux with the reason,
/// exit status 1, and the flash stays the same to the byte.
#[test]
fn a_keyed_unit_refuses_bad_images_from_linux_and_the_flash_is_unchanged() {
    let Some(kit) = kit() else { return };
    let d = dir("keyed");
    let k = key(1);
    let (_, appliance) = boothelper_and_appliance(&d, Some(*k.pk));
    let good = signed(&k, &small_image(PLATFORM, Version::new(6, 3, 0)));
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "unsigned",
            small_image(PLATFORM, Version::new(6, 3, 0)),
            "image is not signed; this unit installs signed images only".into(),
        ),
        (
            "foreign",
            signed(&key(2), &small_image(PLATFORM, Version::new(6, 3, 0))),
            "image signature does not verify with this unit's key".into(),
        ),
        (
            "old",
            signed(&k, &small_image(PLATFORM, Version::new(6, 0, 9))),
            "image version 6.0(9) is older than 6.1(0), the oldest this unit installs".into(),
        ),
        (
            "platform",
            signed(&k, &small_image("other-x86", Version::new(6, 3, 0))),
            format!("image is for another platform (this unit is {PLATFORM})"),
        ),
        (
            "garbage",
            (0..5000u32).map(|i| (i * 31 % 251) as u8).collect(),
            "not a lifeboat image (no LBIM magic)".into(),
        ),
        (
            "truncated",
            good[..good.len() - 100].to_vec(),
            "header says 4096 payload bytes, 3996 present".into(),
        ),
        (
            "empty",
            Vec::new(),
            "not an image: 0 bytes is shorter than the 320-byte header".into(),
        ),
    ];
    let names: Vec<String> = cases.iter().map(|(n, _, _)| format!("img/{n}")).collect();
    let mut extra: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&cases)
        .map(|(n, (_, b, _))| (n.as_str(), b.as_slice()))
        .collect();
    extra.push(("img/good", &good));
    let image = signed(&k, &linux_image(&kit, OLD, true, &extra));
    let flash = d.join("cf.img");
    prepare_flash(&flash, |s| {
        s.update_unit(|u| u.key = Some(*k.pk)).unwrap();
        confirmed(s, &image);
    });
    let bytes_before = std::fs::read(&flash).unwrap();
    let m = lifeboat_qemu::Machine::new(Medium::Disk, &appliance.disk)
        .medium_snapshot(true)
        .memory_mib(384)
        .ide_disk(2, &flash);
    let mut q = launch(&m);
    boot_to_shell(&mut q, Slot::A, OLD);
    let st = status(&mut q);
    assert_eq!(
        st["record"]["key_fingerprint"],
        format!(
            "{:02x}{:02x}{:02x}{:02x}...",
            k.pk[0], k.pk[1], k.pk[2], k.pk[3]
        ),
        "{st}"
    );
    for (name, _, why) in &cases {
        let (out, rc) = sh(
            &mut q,
            &format!("lifeboat-ctl install /img/{name}"),
            REPLY * 3,
        );
        assert_eq!(rc, 1, "{name}: {out}");
        assert!(
            out.contains("lifeboat-ctl: install refused: ") && out.contains(why.as_str()),
            "{name}: {out}"
        );
    }
    // A device that is no lifeboat flash (the boot disk), and the flash made read-only.
    let dev = st["device"].as_str().unwrap().to_owned();
    let other = if dev == "/dev/sda" {
        "/dev/sdb"
    } else {
        "/dev/sda"
    };
    let (out, rc) = sh(
        &mut q,
        &format!("lifeboat-ctl install /img/good --device {other}"),
        REPLY,
    );
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("is not a lifeboat flash"), "{out}");
    let (out, rc) = sh(
        &mut q,
        &format!("blockdev --setro {dev} && lifeboat-ctl install /img/good; r=$?; blockdev --setrw {dev}; exit_code() {{ return $r; }}; exit_code"),
        REPLY,
    );
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains(&format!("{dev} is read-only")), "{out}");
    let (out, rc) = sh(&mut q, "lifeboat-ctl install", REPLY);
    assert_eq!(rc, 2, "{out}");
    // Not root: no CAP_SYS_RAWIO, no confirmation.
    let (out, rc) = sh(
        &mut q,
        "su -s /bin/sh -c \"lifeboat-ctl confirm\" nobody",
        REPLY,
    );
    assert_eq!(rc, 1, "{out}");
    assert!(
        out.contains("lifeboat-ctl: not permitted to write the CMOS ports 0x70/0x71")
            && out.contains("CAP_SYS_RAWIO"),
        "{out}"
    );
    assert_eq!(status(&mut q), st);
    q.kill();
    assert!(
        std::fs::read(&flash).unwrap() == bytes_before,
        "the flash changed"
    );
}

/// A failing flash (QEMU's blkdebug fails every write with EIO): the install from Linux says
/// so in one line with the operating system's error, exit status 1; the flash is unchanged
/// to the byte and the unit still boots what it booted.
#[test]
fn a_flash_that_fails_every_write_is_reported_and_left_as_it_was() {
    let Some(kit) = kit() else { return };
    let d = dir("failing");
    let flash = d.join("cf.img");
    let disk = d.join("new.img");
    let old = linux_image(&kit, OLD, true, &[]);
    let new = linux_image(&kit, NEW, true, &[]);
    prepare_flash(&flash, |s| confirmed(s, &old));
    image_disk(&disk, &new);
    let rules = d.join("blkdebug.conf");
    std::fs::write(
        &rules,
        "[inject-error]\nevent = \"write_aio\"\nerrno = \"5\"\nonce = \"off\"\n",
    )
    .unwrap();
    let bytes_before = std::fs::read(&flash).unwrap();
    let m = machine(Medium::Disk, 2)
        .memory_mib(384)
        .ide_disk(1, &disk)
        .arg("-drive")
        .arg(format!(
            "if=ide,index=2,format=raw,werror=report,rerror=report,file=blkdebug:{}:{}",
            rules.display(),
            flash.display()
        ));
    let mut q = launch(&m);
    boot_to_shell(&mut q, Slot::A, OLD);
    let (out, rc) = sh(&mut q, &fetch_cmd(new.len()), REPLY * 3);
    assert_eq!(rc, 0, "{out}");
    let (out, rc) = sh(&mut q, "lifeboat-ctl install /tmp/new.img", TO_SHELL);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("Install failed: flash erase failed"), "{out}");
    assert!(
        out.contains("lifeboat-ctl: install failed: /dev/sd"),
        "{out}"
    );
    assert!(out.contains("I/O error (os error 5)"), "{out}");
    // The kernel may give up on the disk after its error handling (then the flash cannot be
    // found any more: status says so); the next boot is the unit's word.
    let st = status(&mut q);
    assert!(
        st["record"]["slot"] == "A" || st["flash_error"].is_string(),
        "{st}"
    );
    q.kill();
    assert!(
        std::fs::read(&flash).unwrap() == bytes_before,
        "the flash changed"
    );
    // Power on again (a warm reset after Linux's error handling is not used: see
    // docs/limitations.md): the same image boots from A, the disk still failing every write.
    let mut q = launch(&m);
    boot_to_shell(&mut q, Slot::A, OLD);
    let st = status(&mut q);
    assert_eq!(st["record"]["slot"], "A", "{st}");
    assert_eq!(st["record"]["state"], "confirmed", "{st}");
    assert_eq!(st["slots"][1]["version"], Value::Null, "{st}");
    q.kill();
    assert!(
        std::fs::read(&flash).unwrap() == bytes_before,
        "the flash changed"
    );
}
