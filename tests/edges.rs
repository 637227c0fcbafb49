//! The two promises at the edges (issue 21), each as an operator or an attacker meets it:
//! 1. one record sector of the ATA/AHCI/NVMe flash that fails every read (blkdebug): an image
//!    that never confirms still runs only its budget, and the next install spares the
//!    confirmed image (on pc's IDE, on q35's AHCI and on an NVMe namespace on q35);
//! 3. `flashtest 8` at the unit's own monitor: the floor a confirmed 2.0(1) raised survives,
//!    and a signed 1.9(9) is refused;
//! 4. a diskette whose configuration names another key, in monitor mode: its image runs
//!    and confirms, but the unit's floor stays, and the unit's own signed images install
//!    once the diskette is gone;
//! 5. the install record's CRC written into CMOS through the QEMU monitor confirms nothing:
//!    the image that never confirms is rolled back after its budget.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use lifeboat::media::{self, MediaConfig};
use lifeboat_firmware::image::Version;
use lifeboat_firmware::install::{Record, RECORD_LEN};
use lifeboat_qemu::{MachineType, NicModel};

const STARTED: Duration = Duration::from_secs(30);

fn dir(tag: &str) -> PathBuf {
    scratch_dir(&format!("edges-{tag}"))
}

/// Address and server for QEMU's user network, at the monitor prompt.
fn net_settings(q: &mut Qemu) {
    command1(q, "address 10.0.2.15");
    command1(q, "server 10.0.2.2");
}

/// `tftp` of `file`, up to the next prompt; returns what it printed.
fn fetch(q: &mut Qemu, file: &str) -> String {
    command1(q, &format!("file {file}"));
    q.send_line("tftp").unwrap();
    expect(q, "tftp\r\n", REPLY);
    expect(q, PROMPT, Duration::from_secs(60))
}

/// Installs 1.0(1) (confirms itself) and lets it confirm unattended, then ESC and installs
/// 1.0(2), which never confirms; returns at the prompt.
fn confirmed_then_never_confirming(d: &Path, m: Machine, nic: NicModel) -> Qemu {
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("one.bin"),
        media::demo_image(Version::new(1, 0, 1)),
    )
    .unwrap();
    std::fs::write(
        root.join("two.bin"),
        media::demo_image_with(Version::new(1, 0, 2), false),
    )
    .unwrap();
    std::fs::write(
        root.join("three.bin"),
        media::demo_image(Version::new(1, 0, 3)),
    )
    .unwrap();
    let mut q = launch(&m.nic(nic, user_net(&root)));
    to_prompt(&mut q);
    net_settings(&mut q);
    tftp_install(&mut q, "one.bin", "1.0(1)");
    q.send_line("reload").unwrap();
    expect(&mut q, "demo image 1.0(1) running", STARTED);
    expect(&mut q, "demo image: boot confirmed", REPLY);
    q.qmp(r#"{"execute":"system_reset"}"#).expect("reset");
    to_prompt(&mut q);
    net_settings(&mut q);
    tftp_install(&mut q, "two.bin", "1.0(2)");
    q
}

/// Unattended boots: 1.0(2) for its three boots, then 1.0(1) for good.
fn rolled_back_after_three_boots(q: &mut Qemu) {
    for boot in 0..5 {
        let want = if boot < 3 { "1.0(2)" } else { "1.0(1)" };
        let out = expect(q, &format!("demo image {want} running"), STARTED);
        assert!(!out.contains("demo image 1.0("), "boot {boot}: {out}");
        q.qmp(r#"{"execute":"system_reset"}"#).expect("reset");
    }
}

/// The slots' disk goes where `fit` puts it (the disk file, or a `blkdebug:` spec over it).
fn unreadable_record_sector(
    tag: &str,
    board: MachineType,
    nic: NicModel,
    fit: fn(Machine, &str) -> Machine,
) {
    let d = dir(tag);
    let ata = d.join("cf.img");
    blank(&ata, 16 << 20);
    let unit = || machine(Medium::Disk, 2).machine_type(board);
    let plain = ata.display().to_string();
    confirmed_then_never_confirming(&d, fit(unit(), &plain), nic).kill();
    // The first sector of record block 0 fails every read from now on.
    let rules = d.join("bad.blkdebug");
    std::fs::write(
        &rules,
        "[inject-error]\nevent = \"read_aio\"\nerrno = \"5\"\nsector = \"0\"\n",
    )
    .unwrap();
    let spec = format!("blkdebug:{}:{}", rules.display(), ata.display());
    let mut q = launch(&fit(unit(), &spec).nic(nic, user_net(&d.join("root"))));
    rolled_back_after_three_boots(&mut q);
    // The next install goes over the image that never confirmed, never over 1.0(1).
    to_prompt(&mut q);
    net_settings(&mut q);
    let out = tftp_install(&mut q, "three.bin", "1.0(3)");
    assert!(out.contains("Installed 1.0(3) in slot B"), "{out}");
    q.send_line("reload").unwrap();
    expect(&mut q, "demo image 1.0(3) running", STARTED);
    expect(&mut q, "demo image: boot confirmed", REPLY);
}

#[test]
fn an_unreadable_record_sector_on_ide_costs_neither_the_budget_nor_the_confirmed_image() {
    unreadable_record_sector("rec-ide", MachineType::Pc, NicModel::E1000, |m, f| {
        m.ide_disk(2, f)
    });
}

#[test]
fn an_unreadable_record_sector_on_ahci_costs_neither_the_budget_nor_the_confirmed_image() {
    unreadable_record_sector("rec-ahci", MachineType::Q35, NicModel::E1000e, |m, f| {
        m.ide_disk(2, f)
    });
}

#[test]
fn an_unreadable_record_sector_on_nvme_costs_neither_the_budget_nor_the_confirmed_image() {
    unreadable_record_sector("rec-nvme", MachineType::Q35, NicModel::E1000e, |m, f| {
        with_nvme(m, f, "")
    });
}

/// Keyed appliance media (its disk has `unit`'s key) and a pflash, with a TFTP root.
fn keyed_unit(d: &Path, unit: &ed25519_compact::KeyPair) -> (media::MediaSet, PathBuf, PathBuf) {
    let appliance = media::write_media(
        &d.join("appliance"),
        &MediaConfig {
            boot_timeout_s: 2,
            public_key: Some(*unit.pk),
            ..MediaConfig::default()
        },
    )
    .unwrap();
    let flash = d.join("pflash.img");
    blank(&flash, 4 << 20);
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    (appliance, flash, root)
}

/// From the unit's own disk: installs `file` (`version`, confirms itself), lets it run and
/// confirm, and powers on once more so the confirmation is recorded.
fn install_and_confirm(q: &mut Qemu, file: &str, version: &str) {
    to_prompt(q);
    net_settings(q);
    tftp_install(q, file, version);
    q.send_line("reload").unwrap();
    expect(q, &format!("demo image {version} running"), STARTED);
    expect(q, "demo image: boot confirmed", REPLY);
    q.qmp(r#"{"execute":"system_reset"}"#).expect("reset");
    expect(q, &format!("demo image {version} running"), STARTED);
    q.qmp(r#"{"execute":"system_reset"}"#).expect("reset");
}

#[test]
fn flashtest_over_the_records_keeps_the_floor() {
    let d = dir("flashtest");
    let unit_key = key(1);
    let (appliance, flash, root) = keyed_unit(&d, &unit_key);
    let two = signed(&unit_key, &media::demo_image(Version::new(2, 0, 1)));
    std::fs::write(root.join("two.bin"), two).unwrap();
    let older = signed(&unit_key, &media::demo_image(Version::new(1, 9, 9)));
    std::fs::write(root.join("older.bin"), older).unwrap();
    let m = Machine::new(Medium::Disk, &appliance.disk)
        .medium_snapshot(true)
        .pflash(&flash)
        .nic(NicModel::E1000, user_net(&root));
    let mut q = launch(&m);
    install_and_confirm(&mut q, "two.bin", "2.0(1)");
    to_prompt(&mut q);
    q.send_line("flashtest 8").unwrap();
    expect(&mut q, "Erase them? [n] ", REPLY);
    q.send_line("y").unwrap();
    let out = expect(&mut q, PROMPT, Duration::from_secs(60));
    assert!(
        out.contains("flashtest: unit record written back (floor 2.0(0))"),
        "{out}"
    );
    net_settings(&mut q);
    let out = fetch(&mut q, "older.bin");
    assert!(out.contains("is older than 2.0(0)"), "{out}");
    assert!(out.contains("Nothing was written to flash."), "{out}");
    let v = command(&mut q, "version").join("\n");
    assert!(v.contains("floor 2.0(0)"), "{v}");
}

#[test]
fn a_diskette_with_another_key_never_raises_the_units_floor() {
    let d = dir("foreign");
    let unit_key = key(1);
    let attacker = key(7);
    let (appliance, flash, root) = keyed_unit(&d, &unit_key);
    let edited = media::write_media(
        &d.join("edited"),
        &MediaConfig {
            boot_timeout_s: 2,
            public_key: Some(*attacker.pk),
            ..MediaConfig::default()
        },
    )
    .unwrap();
    let own = |v: Version| signed(&unit_key, &media::demo_image(v));
    std::fs::write(root.join("two.bin"), own(Version::new(2, 0, 1))).unwrap();
    std::fs::write(root.join("next.bin"), own(Version::new(2, 0, 5))).unwrap();
    std::fs::write(
        root.join("evil.bin"),
        signed(&attacker, &media::demo_image(Version::new(9, 9, 9))),
    )
    .unwrap();
    let unit = Machine::new(Medium::Disk, &appliance.disk)
        .medium_snapshot(true)
        .pflash(&flash)
        .nic(NicModel::E1000, user_net(&root));
    let mut q = launch(&unit);
    install_and_confirm(&mut q, "two.bin", "2.0(1)");
    drop(q);

    // The edited diskette (monitor mode, the attacker's key): its image installs, runs and
    // confirms itself, and the diskette records the confirmation at its next power-on.
    let diskette = Machine::new(Medium::Floppy, &edited.floppy)
        .medium_snapshot(true)
        .ide_disk(0, &appliance.disk)
        .pflash(&flash)
        .nic(NicModel::E1000, user_net(&root));
    let mut q = launch(&diskette);
    install_and_confirm(&mut q, "evil.bin", "9.9(9)");
    drop(q);

    // The unit's own disk again: the foreign image is refused, the floor is still 2.0(0),
    // and the unit's next signed image installs.
    let mut q = launch(&unit);
    let out = expect(&mut q, "demo image 2.0(1) running", STARTED);
    assert!(out.contains("Flash boot: slot B: "), "{out}");
    q.qmp(r#"{"execute":"system_reset"}"#).expect("reset");
    to_prompt(&mut q);
    let v = command(&mut q, "version").join("\n");
    assert!(v.contains("floor 2.0(0)"), "{v}");
    net_settings(&mut q);
    let out = tftp_install(&mut q, "next.bin", "2.0(5)");
    assert!(!out.contains("older than"), "{out}");
    q.send_line("reload").unwrap();
    expect(&mut q, "demo image 2.0(5) running", STARTED);
}

/// The newest record in the flash file (CFI: records every 128 bytes of two 4 KiB blocks).
fn newest_record(flash: &Path) -> Record {
    let bytes = std::fs::read(flash).unwrap();
    (0..2 * 4096 / RECORD_LEN)
        .filter_map(|i| Record::decode(&bytes[i * RECORD_LEN..]))
        .max_by_key(|r| r.seq)
        .expect("a record in flash")
}

#[test]
fn the_install_records_crc_written_into_cmos_confirms_nothing() {
    let d = dir("forged");
    let flash = d.join("pflash.img");
    blank(&flash, 4 << 20);
    let m = machine(Medium::Floppy, 2).pflash(&flash);
    let mut q = confirmed_then_never_confirming(&d, m, NicModel::E1000);
    // Anyone who can read the flash has the install record's CRC; write it as the token.
    let r = newest_record(&flash);
    assert!(!r.started, "{r:?}");
    let token = r.token().to_le_bytes();
    let mut cmos = vec![(0x7Bu8, 0xC5u8)];
    cmos.extend((0..4).map(|i| (0x7C + i as u8, token[i])));
    for (index, value) in cmos {
        for (port, byte) in [(0x70, index), (0x71, value)] {
            q.qmp(&format!(
                r#"{{"execute":"human-monitor-command","arguments":{{"command-line":"o /b {port:#x} {byte:#x}"}}}}"#
            ))
            .expect("port write");
        }
    }
    q.send_line("reload").unwrap();
    rolled_back_after_three_boots(&mut q);
}
