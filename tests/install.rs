//! Download and install as the operator does it (issue 7, item 7): `tftp` of a good image
//! installs it to pflash and to ATA flash (the flash file then holds it in slot A), a corrupt
//! image is refused with the flash file unchanged, a downgrade is asked about, and a unit
//! killed in the middle of an install still selects the old image after a restart. Every
//! scenario on the pc's e1000 also runs on an e1000e (82574L) on the same pc board.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use lifeboat_firmware::image::{HeaderRepr, Kind, Version, HEADER_LEN, PLATFORM};
use lifeboat_qemu::lab::pattern;
use lifeboat_qemu::{MachineType, NetBackend, NicModel};

/// Record blocks come first: slot A starts at two 4 KiB erase blocks.
const SLOT_A: usize = 2 * 4096;

fn image(version: Version, len: usize, seed: u64) -> Vec<u8> {
    let payload = pattern(len, seed);

    lifeboat::imagetool::pack(
        &HeaderRepr {
            platform: PLATFORM,
            version,
            kind: Kind::Flat64,
            load: 0x200_0000,
            entry: 0x200_0000,
            initrd_len: 0,
            cmdline: "",
        },
        &payload,
        None,
    )
    .unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("install-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn blank(name: &str, len: usize) -> PathBuf {
    let p = tmp(name);
    std::fs::write(&p, vec![0xFFu8; len]).unwrap();
    p
}

/// Where the unit's flash is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Store {
    /// pflash unit 1 (pc, floppy-booted).
    Pflash,
    /// A CompactFlash card on the secondary IDE master (pc, disk-booted).
    Ata,
    /// A SATA disk on AHCI port 2 of q35 (booted from its disk on port 0).
    Ahci,
}

/// A unit with `flash` attached as `store` and a `nic` on slirp serving `root`.
fn unit(flash: &Path, store: Store, nic: NicModel, root: &Path) -> Qemu {
    let net = NetBackend::User {
        tftp: Some(root.to_path_buf()),
        bootfile: None,
    };
    let m = match store {
        Store::Pflash => machine(Medium::Floppy, 3).pflash(flash),
        Store::Ata => machine(Medium::Disk, 3).ide_disk(2, flash),
        Store::Ahci => machine(Medium::Disk, 3)
            .machine_type(MachineType::Q35)
            .ide_disk(2, flash),
    }
    .nic(nic, net);
    let mut q = launch(&m);
    let banner = expect_banner(&mut q);
    if store == Store::Ahci {
        assert!(
            banner.contains("Flash=AHCI \"QEMU HARDDISK\" 16 MiB @ port 2\r\n"),
            "{banner}"
        );
    }
    q.send(ESC).expect("ESC");
    expect(&mut q, HELP_HINT, REPLY);
    expect(&mut q, PROMPT, REPLY);
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    q
}

/// `file NAME` then `tftp`; returns the output up to the next prompt.
fn fetch(q: &mut Qemu, name: &str, timeout: Duration) -> String {
    command1(q, &format!("file {name}"));
    q.send_line("tftp").unwrap();
    expect(q, "tftp\r\n", REPLY);
    expect(q, PROMPT, timeout)
}

/// A TFTP root of its own for the test `tag` (tests run in parallel threads: two writing the
/// same file while a QEMU of the other reads it would serve a truncated file).
fn root_with(tag: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let r = tmp(&format!("root-{tag}"));
    std::fs::create_dir_all(&r).unwrap();
    for (n, d) in files {
        std::fs::write(r.join(n), d).unwrap();
    }
    r
}

fn good_bad_and_downgrade(store: Store, nic: NicModel) {
    let flash_len = match store {
        Store::Pflash => 4 << 20,
        Store::Ata | Store::Ahci => 16 << 20,
    };
    let name = &format!("{store:?}-{nic:?}");
    let flash = blank(&format!("{name}.img"), flash_len);
    let good = image(Version::new(6, 3, 5), 300_000, 1);
    let mut corrupt = image(Version::new(6, 4, 0), 300_000, 2);
    corrupt[HEADER_LEN + 1234] ^= 0x01;
    let older = image(Version::new(6, 2, 1), 1000, 3);
    let root = root_with(
        name,
        &[
            ("good.bin", &good),
            ("corrupt.bin", &corrupt),
            ("older.bin", &older),
        ],
    );
    let mut q = unit(&flash, store, nic, &root);

    let out = fetch(&mut q, "good.bin", Duration::from_secs(60));
    assert!(
        out.contains("Flash version none, Install version 6.3(5)"),
        "{out}"
    );
    assert!(out.contains("Installing to flash"), "{out}");
    assert!(
        out.contains(&format!(
            "Installed 6.3(5) in slot A ({} bytes, read back and verified)",
            good.len()
        )),
        "{out}"
    );
    let v = command(&mut q, "version").join("\n");
    assert!(
        v.contains("Slot A: 6.3(5), 300320 bytes, selected (new, 3 boots to confirm), boots next"),
        "{v}"
    );
    assert!(v.contains("Slot B: empty"), "{v}");

    // One payload byte flipped: refused, flash untouched.
    let before = std::fs::read(&flash).unwrap();
    let out = fetch(&mut q, "corrupt.bin", Duration::from_secs(60));
    assert!(
        out.contains("Checksum verification on flash image failed"),
        "{out}"
    );
    assert!(out.contains("Nothing was written to flash."), "{out}");
    // An older image: asked, answered no, flash untouched.
    command1(&mut q, "file older.bin");
    q.send_line("tftp").unwrap();
    expect(
        &mut q,
        "Flash version 6.3(5), Install version 6.2(1)\r\n",
        Duration::from_secs(30),
    );
    expect(&mut q, "Install it anyway? [n] ", REPLY);
    q.send_line("n").unwrap();
    let out = expect(&mut q, PROMPT, REPLY);
    assert!(out.contains("Nothing was written to flash."), "{out}");
    // Asked again, answered with ESC: the same (issue 21: every question aborts on ESC).
    q.send_line("tftp").unwrap();
    expect(&mut q, "Install it anyway? [n] ", Duration::from_secs(30));
    q.send(ESC).unwrap();
    let out = expect(&mut q, PROMPT, REPLY);
    assert!(out.contains("Nothing was written to flash."), "{out}");
    assert!(!out.contains("Installing"), "{out}");
    drop(q);
    let after = std::fs::read(&flash).unwrap();
    assert!(before == after, "a refused image changed the flash");
    assert_eq!(
        &after[SLOT_A..SLOT_A + good.len()],
        &good[..],
        "slot A does not hold the image"
    );
}

on_nics!(
    |m| good_bad_and_downgrade(Store::Pflash, m);
    install_to_pflash => E1000,
    install_to_pflash_on_e1000e => E1000e,
);

on_nics!(
    |m| good_bad_and_downgrade(Store::Ata, m);
    install_to_ata_flash => E1000,
    install_to_ata_flash_on_e1000e => E1000e,
);

/// q35: the image comes over its e1000e and goes to a SATA disk on AHCI port 2.
#[test]
fn install_to_ahci_disk_on_q35_over_e1000e() {
    good_bad_and_downgrade(Store::Ahci, NicModel::E1000e);
}

on_nics!(
    power_cut_keeps_the_old_image;
    power_cut_during_an_install_keeps_the_old_image => E1000,
    power_cut_during_an_install_keeps_the_old_image_on_e1000e => E1000e,
);

fn power_cut_keeps_the_old_image(nic: NicModel) {
    let flash = blank(&format!("cut-{nic:?}.img"), 4 << 20);
    let old = image(Version::new(1, 0, 1), 100_000, 4);
    let new = image(Version::new(1, 0, 2), 1_800_000, 5);
    let root = root_with(
        &format!("power-cut-{nic:?}"),
        &[("old.bin", &old), ("new.bin", &new)],
    );
    let mut q = unit(&flash, Store::Pflash, nic, &root);
    let out = fetch(&mut q, "old.bin", Duration::from_secs(60));
    assert!(out.contains("Installed 1.0(1) in slot A"), "{out}");
    command1(&mut q, "file new.bin");
    q.send_line("tftp").unwrap();
    // Pull the plug once the new image is being written (pflash writes go to the file).
    expect(&mut q, "Installing to flash..", Duration::from_secs(60));
    q.kill();
    drop(q);
    let mut q = unit(&flash, Store::Pflash, nic, &root);
    let v = command(&mut q, "version").join("\n");
    assert!(
        v.contains("Slot A: 1.0(1), 100320 bytes, selected (new, 3 boots to confirm), boots next"),
        "{v}"
    );
    assert!(
        v.contains(
            "Slot B: 1.0(2), 1800320 bytes, refused: Checksum verification on flash image failed"
        ),
        "the half-written image must be seen as such: {v}"
    );
    // And the next install completes.
    let out = fetch(&mut q, "new.bin", Duration::from_secs(120));
    assert!(out.contains("Installed 1.0(2) in slot B"), "{out}");
}

on_nics!(
    provisioned_key_refuses;
    a_provisioned_key_refuses_unsigned_and_wrongly_signed_images => E1000,
    a_provisioned_key_refuses_unsigned_and_wrongly_signed_images_on_e1000e => E1000e,
);

/// Media whose configuration provisions `key`: only images signed with it install.
fn provisioned_key_refuses(nic: NicModel) {
    use lifeboat::media::{self, MediaConfig};
    let seed = |b| ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([b; 32]));
    let (unit_key, other_key) = (seed(1), seed(2));
    let sign = |kp: &ed25519_compact::KeyPair, img: &[u8]| {
        let mut h: [u8; HEADER_LEN] = img[..HEADER_LEN].try_into().unwrap();
        lifeboat_firmware::image::sign_header(&mut h, |m| *kp.sk.sign(m, None));
        let mut v = h.to_vec();
        v.extend_from_slice(&img[HEADER_LEN..]);
        v
    };
    let plain = image(Version::new(2, 0, 0), 50_000, 6);
    let good = sign(&unit_key, &plain);
    let wrong = sign(&other_key, &plain);
    let root = root_with(
        &format!("keyed-{nic:?}"),
        &[
            ("plain.bin", &plain),
            ("wrong.bin", &wrong),
            ("good.bin", &good),
        ],
    );
    let dir = tmp(&format!("keyed-media-{nic:?}"));
    let cfg = MediaConfig {
        boot_timeout_s: 3,
        public_key: Some(*unit_key.pk),
        ..MediaConfig::default()
    };
    let set = media::write_media(&dir, &cfg).unwrap();
    let flash = blank(&format!("keyed-{nic:?}.img"), 4 << 20);
    let m = Machine::new(Medium::Floppy, &set.floppy)
        .medium_snapshot(true)
        .pflash(&flash)
        .nic(
            nic,
            NetBackend::User {
                tftp: Some(root.clone()),
                bootfile: None,
            },
        );
    let mut q = launch(&m);
    expect_banner(&mut q);
    q.send(ESC).expect("ESC");
    expect(&mut q, PROMPT, REPLY);
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    let before = std::fs::read(&flash).unwrap();
    let out = fetch(&mut q, "plain.bin", Duration::from_secs(60));
    assert!(
        out.contains("image is not signed; this unit installs signed images only"),
        "{out}"
    );
    let out = fetch(&mut q, "wrong.bin", Duration::from_secs(60));
    assert!(
        out.contains("image signature does not verify with this unit's key"),
        "{out}"
    );
    assert!(
        std::fs::read(&flash).unwrap() == before,
        "a refused image changed the flash"
    );
    let out = fetch(&mut q, "good.bin", Duration::from_secs(60));
    assert!(out.contains("Installed 2.0(0) in slot A"), "{out}");
}
