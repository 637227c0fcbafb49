//! lifeboat on UEFI machines (issue 14): OVMF boots `uefi-disk.img` / `uefi-usb.img`, whose
//! `BOOTX64.EFI` (efi/) starts the same firmware. On q35 and pc: the banner says UEFI,
//! ESC gives `monitor>`, `ping` and `tftp` work over slirp, the demo image installs to pflash
//! unit 1 (below OVMF in unit 0) and boots from there after `reload`; the stack guard (which
//! the firmware sets in the loader's page tables) catches an overflow; a Debian Linux boots from
//! ATA flash and finds ACPI through the RSDP the loader passes on.
//!
//! OVMF needs ~3.5 s under TCG before the loader runs: every wait is for an event, with room.
//! q35 has its own e1000e; each pc scenario runs with the e1000 and again with an e1000e.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use lifeboat::media;
use lifeboat_qemu::lab::{crc32, pattern};
use lifeboat_qemu::skip::skip_or_fail;
use lifeboat_qemu::{MachineType, NetBackend, NicModel, OVMF};

const WINDOW_S: u32 = 3;
/// QEMU start to the banner: OVMF's start-up and boot manager, then the loader.
const UEFI_BOOT: Duration = Duration::from_secs(60);
const STARTED: Duration = Duration::from_secs(20);
/// Where pflash unit 1 (4 MiB) sits below OVMF's 2 MiB unit 0.
const FLASH_LINE: &str = "Flash=CFI Intel 4096 KiB @ 0xffa00000\r\n";
/// q35 with its own NIC.
const Q35: (MachineType, NicModel) = (MachineType::Q35, NicModel::E1000e);

/// A fresh directory for one test's files.
fn dir(test: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("uefi-{}", std::process::id()))
        .join(test);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The appliance set (USB stick Boothelper, disk monitor) with a short window, written once
/// per test process.
fn uefi_media() -> &'static media::MediaSet {
    static SET: OnceLock<media::MediaSet> = OnceLock::new();
    SET.get_or_init(|| {
        let cfg = media::MediaConfig {
            boot_timeout_s: WINDOW_S,
            removable_boothelper: true,
            ..media::MediaConfig::default()
        };
        media::write_media(&dir("media"), &cfg).expect("writing media")
    })
}

/// A writable copy of OVMF for one machine (it writes its variable store), or `None` after
/// a skip (a failure under LIFEBOAT_REQUIRE_ALL=1) when OVMF is not installed.
fn ovmf(dir: &Path, test: &str) -> Option<PathBuf> {
    let copy = dir.join("OVMF.fd");
    match std::fs::copy(OVMF, &copy) {
        Ok(_) => Some(copy),
        Err(e) => {
            skip_or_fail(
                Path::new(env!("CARGO_TARGET_TMPDIR")),
                test,
                &format!("{OVMF}: {e} (install the Debian package ovmf)"),
            );
            None
        }
    }
}

/// The UEFI unit: `medium`'s UEFI image on `board` with a `nic` on slirp serving `root`,
/// and a 4 MiB pflash file as unit 1.
fn unit(
    (board, nic): (MachineType, NicModel),
    medium: Medium,
    ovmf: &Path,
    flash: &Path,
    root: &Path,
) -> Machine {
    let set = uefi_media();
    Machine::new(medium, set.uefi_path(medium))
        .medium_snapshot(true)
        .machine_type(board)
        .ovmf(ovmf)
        .pflash(flash)
        .nic(
            nic,
            NetBackend::User {
                tftp: Some(root.to_path_buf()),
                bootfile: None,
            },
        )
}

/// Files for a test: an empty flash, a TFTP root with the demo image and 1 MiB of data.
fn files(d: &Path) -> (PathBuf, PathBuf) {
    let flash = d.join("flash.img");
    std::fs::write(&flash, vec![0xFFu8; 4 << 20]).unwrap();
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("demo-image.bin"),
        media::demo_image(media::DEMO_VERSION),
    )
    .unwrap();
    std::fs::write(root.join("one-mib.bin"), pattern(1 << 20, 7)).unwrap();
    (flash, root)
}

/// The banner line of a unit whose entry named a PCI Express configuration window.
const ECAM_LINE: &str = "PCI configuration through ECAM at 0xb0000000\r\n";

/// Waits for the banner (OVMF's output comes first on the same COM1) and returns it.
#[track_caller]
fn uefi_banner(q: &mut Qemu) -> String {
    let before = expect(q, USE_BREAK, UEFI_BOOT);
    expect(q, USE_SPACE, REPLY);
    assert!(
        before.contains("lifeboat: UEFI loader starting the firmware\r\n"),
        "{before}"
    );
    before
}

#[track_caller]
fn to_monitor(q: &mut Qemu) -> String {
    let banner = uefi_banner(q);
    q.send(ESC).unwrap();
    expect(q, INTERRUPTED, REPLY);
    expect(q, HELP_HINT, REPLY);
    expect(q, PROMPT, REPLY);
    banner
}

#[track_caller]
fn ping_and_fetch(q: &mut Qemu) {
    command1(q, "address 10.0.2.15");
    command1(q, "server 10.0.2.2");
    let ping = command(q, "ping").join("\n");
    assert!(ping.contains("Success rate is 100 percent (5/5)"), "{ping}");
    command1(q, "file one-mib.bin");
    q.send_line("tftp").unwrap();
    expect(q, "tftp\r\n", REPLY);
    let out = expect(q, PROMPT, Duration::from_secs(60));
    assert!(out.contains("Received 1048576 bytes in "), "{out}");
    let crc = format!("CRC-32 {:#010x}", crc32(&pattern(1 << 20, 7)));
    assert!(out.contains(&crc), "{out}");
}

/// q35 + OVMF + the UEFI disk: banner, monitor, ping, tftp of 1 MiB (CRC-checked).
#[test]
fn q35_uefi_disk_reaches_the_monitor_pings_and_fetches() {
    let d = dir("q35-monitor");
    let Some(ovmf) = ovmf(&d, "q35_uefi_disk_reaches_the_monitor_pings_and_fetches") else {
        return;
    };
    let (flash, root) = files(&d);
    let mut q = launch(&unit(Q35, Medium::Disk, &ovmf, &flash, &root));
    let banner = to_monitor(&mut q);
    assert!(banner.contains("(Q35/ICH9, QEMU q35)"), "{banner}");
    assert!(banner.contains("booted from disk (UEFI)\r\n"), "{banner}");
    // The loader found OVMF's PCIEXBAR window in ACPI's MCFG: the e1000e below is found,
    // set up and driven through ECAM, not ports 0xCF8/0xCFC.
    assert!(banner.contains(ECAM_LINE), "{banner}");
    assert!(banner.contains(FLASH_LINE), "{banner}");
    ping_and_fetch(&mut q);
}

on_nics!(
    pc_disk_and_boothelper_stick;
    pc_uefi_disk_and_boothelper_stick => E1000,
    pc_uefi_disk_and_boothelper_stick_on_e1000e => E1000e,
);

/// pc + OVMF: the disk reaches the monitor and fetches; the UEFI stick is the Boothelper.
fn pc_disk_and_boothelper_stick(nic: NicModel) {
    let d = dir(&format!("pc-{nic:?}"));
    let Some(ovmf) = ovmf(&d, &test_name()) else {
        return;
    };
    let (flash, root) = files(&d);
    let pc = (MachineType::Pc, nic);
    let mut q = launch(&unit(pc, Medium::Disk, &ovmf, &flash, &root));
    let banner = to_monitor(&mut q);
    assert!(banner.contains("(i440FX, QEMU pc)"), "{banner}");
    assert!(banner.contains("booted from disk (UEFI)\r\n"), "{banner}");
    assert!(!banner.contains("ECAM"), "pc has no MCFG: {banner}");
    assert!(banner.contains(FLASH_LINE), "{banner}");
    ping_and_fetch(&mut q);
    drop(q);

    let mut q = launch(&unit(pc, Medium::Usb, &ovmf, &flash, &root));
    let out = expect(&mut q, "pixboothelper> ", UEFI_BOOT);
    assert!(out.contains("booted from USB stick (UEFI)\r\n"), "{out}");
    assert!(!out.contains(USE_BREAK), "{out}");
}

/// q35: the demo image over TFTP into pflash unit 1, then `reload`: OVMF, the loader and the
/// firmware again, and flash boot starts the image after the window.
#[test]
fn q35_uefi_installs_to_pflash_and_flash_boots_after_reload() {
    let d = dir("q35-install");
    let Some(ovmf) = ovmf(
        &d,
        "q35_uefi_installs_to_pflash_and_flash_boots_after_reload",
    ) else {
        return;
    };
    let (flash, root) = files(&d);
    let mut q = launch(&unit(Q35, Medium::Disk, &ovmf, &flash, &root));
    let banner = to_monitor(&mut q);
    // OVMF without Secure Boot: the keyless unit is not refused (flags bit 3 stays clear).
    assert!(!banner.contains("Secure Boot"), "{banner}");
    assert!(!banner.contains("refused"), "{banner}");
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    tftp_install(&mut q, "demo-image.bin", "1.0(1)");
    // Slot A (after the two 4 KiB record blocks) holds the image, in the pflash file.
    let demo = media::demo_image(media::DEMO_VERSION);
    let bytes = std::fs::read(&flash).unwrap();
    assert_eq!(&bytes[8192..8192 + demo.len()], &demo[..]);
    q.send_line("reload").unwrap();
    expect(&mut q, "Rebooting...", REPLY);
    uefi_banner(&mut q);
    expect(
        &mut q,
        "Flash boot: slot A, image 1.0(1) (flat64, ",
        Duration::from_secs(10),
    );
    expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
    expect(&mut q, "demo image: boot confirmed\r\n", REPLY);
}

/// The firmware unmaps its stack guard in the loader's page tables: a stack overflow under
/// UEFI is reported as one, then the unit resets and comes back through OVMF.
#[test]
fn q35_uefi_stack_guard_catches_an_overflow() {
    let d = dir("q35-guard");
    let Some(ovmf) = ovmf(&d, "q35_uefi_stack_guard_catches_an_overflow") else {
        return;
    };
    let (flash, root) = files(&d);
    let mut q = launch(&unit(Q35, Medium::Disk, &ovmf, &flash, &root));
    to_monitor(&mut q);
    q.send_line("crashtest stack-overflow").unwrap();
    expect(&mut q, "raising the fault now\r\n", REPLY);
    let report = expect(&mut q, "Resetting the unit in 2 seconds...", REPLY);
    assert!(
        report.contains("*** stack overflow: CPU exception "),
        "{report}"
    );
    uefi_banner(&mut q);
}

on_nics!(
    pc_debian_linux_with_acpi;
    pc_uefi_boots_debian_linux_from_ata_flash_with_acpi => E1000,
    pc_uefi_boots_debian_linux_from_ata_flash_with_acpi_on_e1000e => E1000e,
);

/// A real Linux under UEFI: Debian's kernel recovered over TFTP into ATA flash (pc, secondary
/// master), then `reload`: it boots and finds ACPI, whose RSDP only the UEFI configuration table
/// knows (OVMF puts none in the BIOS area Linux would scan): the loader hands it over in the
/// boot-info block and the firmware in the zero page (`acpi_rsdp_addr`).
fn pc_debian_linux_with_acpi(nic: NicModel) {
    let test = &test_name();
    let Some(assets) = linux_assets() else {
        return;
    };
    let d = dir(&format!("pc-linux-{nic:?}"));
    let Some(ovmf) = ovmf(&d, test) else {
        return;
    };
    let (flash, root) = files(&d);
    let image = lifeboat_qemu::linux::image(&assets).unwrap();
    std::fs::write(root.join("linux.img"), &image).unwrap();
    let cf = d.join("cf.img");
    std::fs::write(&cf, vec![0xFFu8; 64 << 20]).unwrap();
    let m = unit((MachineType::Pc, nic), Medium::Disk, &ovmf, &flash, &root).ide_disk(2, &cf);
    let mut q = launch(&m);
    let banner = to_monitor(&mut q);
    assert!(
        banner.contains("Flash=ATA \"QEMU HARDDISK\" 64 MiB @ ide1:0\r\n"),
        "{banner}"
    );
    install_linux(&mut q);
    q.send_line("reload").unwrap();
    expect(&mut q, "Rebooting...", REPLY);
    uefi_banner(&mut q);
    let log = boot_installed_linux(&mut q);
    // "ACPI: RSDP" without the address that follows: under load QEMU's 16550 has been seen
    // to mangle a byte of the kernel's flood of output. `poweroff -f` switching QEMU off
    // takes ACPI (the FADT's PM1a control block) and is immune to that.
    assert!(
        log.contains("ACPI: RSDP "),
        "Linux found no ACPI RSDP:\n{log}"
    );
    let off = q.wait_exit(Duration::from_secs(60));
    assert_eq!(off, Some(0), "QEMU still running after poweroff -f");
}

on_nics!(
    pc_stick_pulled;
    pc_uefi_stick_pulled_during_the_countdown_then_the_disk_boots_the_new_image => E1000,
    pc_uefi_stick_pulled_during_the_countdown_then_the_disk_boots_the_new_image_on_e1000e
        => E1000e,
);

/// The UEFI Boothelper stick (pc, the UEFI appliance disk behind it): recover and install the
/// demo image, pull the stick (QMP `device_del`) during the countdown; the reboot goes through
/// OVMF to the appliance disk, whose monitor boots the new image.
fn pc_stick_pulled(nic: NicModel) {
    let d = dir(&format!("pc-stick-pull-{nic:?}"));
    let Some(ovmf) = ovmf(&d, &test_name()) else {
        return;
    };
    let (flash, root) = files(&d);
    let (helper, appliance) = boothelper_and_appliance(&d, None);
    let m = Machine::new(Medium::Usb, &helper.uefi_usb)
        .medium_snapshot(true)
        .ovmf(&ovmf)
        .ide_disk(0, &appliance.uefi_disk)
        .pflash(&flash)
        .nic(
            nic,
            NetBackend::User {
                tftp: Some(root.clone()),
                bootfile: None,
            },
        );
    let mut q = launch(&m);
    let out = expect(&mut q, "pixboothelper> ", UEFI_BOOT);
    assert!(out.contains("booted from USB stick (UEFI)\r\n"), "{out}");
    for line in [
        "address 10.0.2.15",
        "server 10.0.2.2",
        "file demo-image.bin",
    ] {
        q.send_line(line).unwrap();
        expect(&mut q, "pixboothelper> ", REPLY);
    }
    q.send_line("tftp").unwrap();
    expect(
        &mut q,
        "Do you wish to copy the image to flash? [n] ",
        Duration::from_secs(60),
    );
    q.send_line("y").unwrap();
    expect(&mut q, "Activation key [none]: ", REPLY);
    q.send_line("").unwrap();
    expect(
        &mut q,
        "Installed 1.0(1) in slot A",
        Duration::from_secs(30),
    );
    expect(
        &mut q,
        "Remove the USB stick now: the unit reboots in 30 seconds",
        REPLY,
    );
    q.qmp(r#"{"execute":"device_del","arguments":{"id":"stick"}}"#)
        .expect("device_del");
    expect(&mut q, " 0\r\n", Duration::from_secs(40));
    let banner = uefi_banner(&mut q);
    assert!(banner.contains("booted from disk (UEFI)\r\n"), "{banner}");
    expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
}

/// Secure Boot (OVMF's `.secboot` build with Debian's snakeoil key enrolled, q35 with SMM):
/// `BOOTX64.EFI` signed with that key (`sbsign`) boots to `monitor>`; the same loader unsigned
/// is refused by the platform and lifeboat never starts. Issue 21: a keyless loader signed
/// with the same certificate (copied over a keyed unit's `BOOTX64.EFI`, it once ran an
/// unsigned image) starts, but refuses the flash boot and the install of an unsigned image,
/// with the reason in its banner; a signed loader with a key starts without that refusal.
#[test]
fn q35_secure_boot_starts_the_signed_loader_and_refuses_the_unsigned_one() {
    const TEST: &str = "q35_secure_boot_starts_the_signed_loader_and_refuses_the_unsigned_one";
    const CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
    const VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd";
    const KEY: &str = "/usr/share/ovmf/PkKek-1-snakeoil.key";
    const CERT: &str = "/usr/share/ovmf/PkKek-1-snakeoil.pem";
    const REFUSED: &str = "no pubkey in the configuration under UEFI Secure Boot";
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for f in [CODE, VARS, KEY, CERT] {
        if !Path::new(f).exists() {
            skip_or_fail(tmp, TEST, &format!("{f} is missing (Debian package ovmf)"));
            return;
        }
    }
    let d = dir("q35-secure-boot");
    let keyless = media::MediaConfig {
        boot_timeout_s: WINDOW_S,
        ..media::MediaConfig::default()
    };
    let keyed = media::MediaConfig {
        public_key: Some([0x5A; 32]),
        ..keyless.clone()
    };
    let unsigned = d.join("unsigned.efi");
    std::fs::write(
        &unsigned,
        media::uefi_loader(Medium::Disk, &keyless).unwrap(),
    )
    .unwrap();
    // The snakeoil key's passphrase is "snakeoil" (the package's README.Debian); sbsign
    // cannot be given one, so the key is decrypted first.
    let key = d.join("snakeoil.key");
    let openssl = std::process::Command::new("openssl")
        .args(["pkey", "-in", KEY, "-passin", "pass:snakeoil", "-out"])
        .arg(&key)
        .status();
    if !openssl.is_ok_and(|s| s.success()) {
        skip_or_fail(
            tmp,
            TEST,
            "openssl cannot decrypt the snakeoil key (Debian package openssl)",
        );
        return;
    }
    let sign = |cfg: &media::MediaConfig, name: &str| -> Option<PathBuf> {
        let efi = media::uefi_loader(Medium::Disk, cfg).unwrap();
        let signed = d.join(name);
        match media::sbsign(&efi, &key, Path::new(CERT)) {
            Ok(bytes) => std::fs::write(&signed, bytes).unwrap(),
            Err(e) if e.contains("install the Debian package") => {
                skip_or_fail(tmp, TEST, &e);
                return None;
            }
            Err(e) => panic!("{e}"),
        }
        Some(signed)
    };
    let Some(signed) = sign(&keyless, "signed.efi") else {
        return;
    };
    let Some(signed_keyed) = sign(&keyed, "signed-keyed.efi") else {
        return;
    };
    // The flash: an AHCI disk (both pflash units hold OVMF's code and variables) with the
    // unsigned demo image in slot A, which a keyless unit without Secure Boot would boot.
    let (_, root) = files(&d);
    let flash = d.join("ahci.img");
    let mut disk = vec![0u8; 16 << 20];
    let demo = media::demo_image(media::DEMO_VERSION);
    disk[8192..8192 + demo.len()].copy_from_slice(&demo);
    std::fs::write(&flash, disk).unwrap();
    let boot = |efi: &Path, name: &str| {
        let image = d.join(name);
        let bytes = std::fs::read(efi).unwrap();
        std::fs::write(
            &image,
            media::uefi_image_with(Medium::Disk, &bytes).unwrap(),
        )
        .unwrap();
        let vars = d.join(format!("{name}.vars.fd"));
        std::fs::copy(VARS, &vars).unwrap();
        let mut m = Machine::new(Medium::Disk, &image)
            .machine_type(MachineType::Q35)
            .ovmf(CODE)
            .ide_disk(2, &flash)
            .nic(
                NicModel::E1000e,
                NetBackend::User {
                    tftp: Some(root.clone()),
                    bootfile: None,
                },
            );
        m.ovmf_vars = Some(vars);
        launch(&m)
    };

    // The signed keyless loader starts, says why it refuses, and refuses: nobody at the
    // console, the flash boot; then `tftp` of the (unsigned) demo image.
    let mut q = boot(&signed, "signed.img");
    let banner = uefi_banner(&mut q);
    assert!(banner.contains("booted from disk (UEFI)\r\n"), "{banner}");
    assert!(
        banner.contains("lifeboat: UEFI Secure Boot is on\r\n"),
        "{banner}"
    );
    assert!(
        banner.contains(&format!(
            "Warning: {REFUSED}: installs and flash boot are refused until it is repaired\r\n"
        )),
        "{banner}"
    );
    let out = expect(&mut q, PROMPT, REPLY);
    assert!(
        out.contains(&format!(
            "Flash boot refused: {REFUSED}; entering the monitor.\r\n"
        )),
        "{out}"
    );
    assert!(!out.contains("demo image"), "the unsigned image ran: {out}");
    let before = std::fs::read(&flash).unwrap();
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    command1(&mut q, "file demo-image.bin");
    q.send_line("tftp").unwrap();
    let out = expect(&mut q, PROMPT, Duration::from_secs(60));
    assert!(
        out.contains(&format!("Install refused: {REFUSED}; this unit installs nothing until its configuration is repaired.\r\nNothing was written to flash.\r\n")),
        "{out}"
    );
    assert!(std::fs::read(&flash).unwrap() == before, "flash changed");
    drop(q);

    // Signed with a key: no refusal of the configuration; the flash boot looks at slot A and
    // refuses the unsigned image there by its signature.
    let mut q = boot(&signed_keyed, "signed-keyed.img");
    let banner = uefi_banner(&mut q);
    assert!(
        banner.contains("lifeboat: UEFI Secure Boot is on\r\n"),
        "{banner}"
    );
    assert!(!banner.contains("refused"), "{banner}");
    let out = expect(&mut q, PROMPT, REPLY);
    assert!(
        out.contains(
            "Flash boot: slot A: image is not signed; this unit installs signed images only"
        ),
        "{out}"
    );
    assert!(!out.contains("demo image"), "the unsigned image ran: {out}");
    drop(q);

    let mut q = boot(&unsigned, "unsigned.img");
    let refused = expect(&mut q, "Access Denied", UEFI_BOOT);
    assert!(
        refused.contains("BdsDxe: failed to load Boot0001"),
        "{refused}"
    );
    let later = q.expect("lifeboat", Duration::from_secs(10));
    assert!(later.is_err(), "the unsigned loader ran: {later:?}");
}

/// q35 under UEFI with a SATA disk on AHCI port 2 (OVMF set the HBA up): the demo image goes
/// there and boots from there after `reload`.
#[test]
fn q35_uefi_installs_to_an_ahci_disk_and_boots_it() {
    let d = dir("q35-ahci");
    let Some(ovmf) = ovmf(&d, "q35_uefi_installs_to_an_ahci_disk_and_boots_it") else {
        return;
    };
    let (flash, root) = files(&d);
    let disk = d.join("ahci.img");
    std::fs::write(&disk, vec![0u8; 16 << 20]).unwrap();
    let m = unit(Q35, Medium::Disk, &ovmf, &flash, &root).ide_disk(2, &disk);
    installs_to_the_disk_and_boots_it(
        &m,
        &disk,
        "Flash=AHCI \"QEMU HARDDISK\" 16 MiB @ port 2\r\n",
    );
}

/// q35 under UEFI with an NVMe controller (OVMF's own NVMe driver set it up first): the
/// firmware resets it, the demo image goes to its namespace and boots from there after
/// `reload`. The NVMe namespace wins over the pflash unit 1 the unit also has.
#[test]
fn q35_uefi_installs_to_nvme_and_boots_it() {
    uefi_installs_to_nvme_and_boots_it(Q35, "q35_uefi_installs_to_nvme_and_boots_it");
}

/// The same on pc with an e1000 (OVMF places the NVMe BAR in pc's own 64-bit window).
#[test]
fn pc_uefi_installs_to_nvme_and_boots_it() {
    uefi_installs_to_nvme_and_boots_it(
        (MachineType::Pc, NicModel::E1000),
        "pc_uefi_installs_to_nvme_and_boots_it",
    );
}

fn uefi_installs_to_nvme_and_boots_it(board: (MachineType, NicModel), test: &str) {
    let d = dir(test);
    let Some(ovmf) = ovmf(&d, test) else {
        return;
    };
    let (flash, root) = files(&d);
    let disk = d.join("nvme.img");
    std::fs::write(&disk, vec![0u8; 16 << 20]).unwrap();
    let m = unit(board, Medium::Disk, &ovmf, &flash, &root);
    let m = with_nvme(m, &disk.display().to_string(), "");
    installs_to_the_disk_and_boots_it(&m, &disk, "Flash=NVMe \"QEMU NVMe Ctrl\" 16 MiB @ 00:0");
}

/// The unit `m` names `flash` (the disk file) on its banner's line, installs the demo image
/// from its TFTP root to the disk (checked in the file) and flash-boots it after `reload`.
fn installs_to_the_disk_and_boots_it(m: &Machine, disk: &Path, flash: &str) {
    let mut q = launch(m);
    let banner = to_monitor(&mut q);
    assert!(banner.contains(flash), "{banner}");
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    tftp_install(&mut q, "demo-image.bin", "1.0(1)");
    let demo = media::demo_image(media::DEMO_VERSION);
    let bytes = std::fs::read(disk).unwrap();
    assert_eq!(&bytes[8192..8192 + demo.len()], &demo[..]);
    q.send_line("reload").unwrap();
    expect(&mut q, "Rebooting...", REPLY);
    uefi_banner(&mut q);
    expect(&mut q, "Flash boot: slot A, image 1.0(1) (flat64, ", REPLY);
    expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
}
