//! The unit's TPM under QEMU with swtpm (issue 24).
//!
//! 1. q35 from its disk, the slots on the AHCI disk: 2.0(1) installed and confirmed raises
//!    the TPM's floor to 2.0(0); the flash then erased as a flash programmer would: the
//!    TPM's floor holds, a 1.0(5) fetched over TFTP is refused and nothing is written; the
//!    same 1.0(5) written into the flash behind the firmware's back (with a record saying it
//!    is confirmed) is refused by the flash boot and never runs.
//! 2. lifeboat as the system ROM on pc: the demo image is measured; the PCRs it reads from
//!    the TPM equal its event log replayed on the host; the floor outlives the erased ATA
//!    flash; swtpm killed in the boot window is one line, and the image starts (TPM
//!    optional).
//! 3. pc from its disk: `tpm=required` without a TPM refuses the flash boot and the install;
//!    with swtpm (after SeaBIOS) the image is measured, PCRs equal to the log.
//! 4. Debian's kernel booted from the flash reads PCRs 8 and 9 through its own TPM driver:
//!    equal to the host's computation.
//! 5. Under OVMF on q35: the TPM found, the floor settled, the image measured.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use lifeboat::media;
use lifeboat_firmware::image::Version;
use lifeboat_firmware::install::sim::SimFlash;
use lifeboat_firmware::install::{Slot, Slots};
use lifeboat_qemu::swtpm::{self, Swtpm};
use lifeboat_qemu::{Machine, MachineType, NicModel};

const STARTED: Duration = Duration::from_secs(30);
/// The AHCI disk that holds the slots.
const FLASH_LEN: usize = 16 << 20;
type Flash = SimFlash<512, 4096>;

fn tpm_or_skip(test: &str) -> bool {
    match swtpm::unavailable() {
        Some(why) => {
            skip_or_fail(test, &why);
            false
        }
        None => true,
    }
}

fn with_tpm(m: Machine, tpm: &Swtpm) -> Machine {
    tpm.qemu_args().into_iter().fold(m, Machine::arg)
}

/// Writes the unit's flash to `path` after `f` has run the slot logic on a blank one.
fn prepare_flash(path: &Path, f: impl FnOnce(&mut Slots<Flash>)) {
    let mut s = Slots::new(Flash::new(FLASH_LEN, 7)).unwrap();
    f(&mut s);
    std::fs::write(path, &s.into_flash().mem).unwrap();
}

#[test]
fn on_q35_the_tpm_floor_outlives_an_erased_flash() {
    if !tpm_or_skip("on_q35_the_tpm_floor_outlives_an_erased_flash") {
        return;
    }
    let d = scratch_dir("tpm-floor");
    let state = d.join("tpm");
    let _ = std::fs::remove_dir_all(&state);
    let flash = d.join("ahci.img");
    blank(&flash, FLASH_LEN);
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("two.bin"),
        media::demo_image(Version::new(2, 0, 1)),
    )
    .unwrap();
    let old = media::demo_image(Version::new(1, 0, 5));
    std::fs::write(root.join("old.bin"), &old).unwrap();
    let unit = |tpm: &Swtpm| {
        with_tpm(
            machine(Medium::Disk, 2)
                .machine_type(MachineType::Q35)
                .ide_disk(2, &flash)
                .nic(NicModel::E1000e, user_net(&root)),
            tpm,
        )
    };
    let net = |q: &mut Qemu| {
        command1(q, "address 10.0.2.15");
        command1(q, "server 10.0.2.2");
    };

    // 2.0(1) installed, run, confirmed; the next power-on raises both floors.
    let tpm = Swtpm::start(&state).unwrap();
    let mut q = launch(&unit(&tpm));
    let banner = expect_banner(&mut q);
    assert!(banner.contains("TPM=2.0 IBM (TIS)\r\n"), "{banner}");
    q.send(ESC).unwrap();
    expect(&mut q, PROMPT, REPLY);
    net(&mut q);
    tftp_install(&mut q, "two.bin", "2.0(1)");
    q.send_line("reload").unwrap();
    expect(&mut q, "demo image 2.0(1) running", STARTED);
    expect(&mut q, "demo image: boot confirmed", REPLY);
    q.qmp(r#"{"execute":"system_reset"}"#).expect("reset");
    to_prompt(&mut q);
    let v = command(&mut q, "version").join("\n");
    assert!(v.contains(", floor 2.0(0), "), "{v}");
    assert!(v.contains("TPM=2.0 IBM, floor 2.0(0)"), "{v}");
    drop(q);
    drop(tpm);

    // A flash programmer erases the flash: the record's floor is gone, the TPM's is not.
    std::fs::write(&flash, vec![0xFFu8; FLASH_LEN]).unwrap();
    let tpm = Swtpm::start(&state).unwrap();
    let mut q = launch(&unit(&tpm));
    to_prompt(&mut q);
    let v = command(&mut q, "version").join("\n");
    assert!(v.contains("Unit record: none"), "{v}");
    assert!(v.contains("TPM=2.0 IBM, floor 2.0(0)"), "{v}");
    net(&mut q);
    command1(&mut q, "file old.bin");
    q.send_line("tftp").unwrap();
    expect(&mut q, "tftp\r\n", REPLY);
    let out = expect(&mut q, PROMPT, Duration::from_secs(60));
    assert!(
        out.contains("image version 1.0(5) is older than 2.0(0), the oldest this unit installs\r\nNothing was written to flash."),
        "{out}"
    );
    assert!(std::fs::read(&flash).unwrap().iter().all(|&b| b == 0xFF));
    drop(q);
    drop(tpm);

    // The same 1.0(5) written behind the firmware's back, confirmed as far as the record
    // says: the flash boot refuses it, and it never runs.
    prepare_flash(&flash, |s| {
        assert_eq!(s.install(&old, |_, _| {}), Ok(Slot::A));
        assert_eq!(s.begin_boot(), Some(Slot::A));
        let t = s.token().unwrap();
        assert_eq!(s.confirm(t), Ok(true));
    });
    let tpm = Swtpm::start(&state).unwrap();
    let mut q = launch(&unit(&tpm));
    let out = expect(
        &mut q,
        "Flash boot: no valid image installed in flash; entering the monitor.",
        STARTED,
    );
    assert!(
        out.contains("Flash boot: slot A: image version 1.0(5) is older than 2.0(0), the oldest this unit installs"),
        "{out}"
    );
    assert!(!out.contains("demo image 1.0(5) running"), "{out}");
    expect(&mut q, PROMPT, REPLY);
}

/// The lines the demo image prints after a measured boot: the event log and PCRs 8, 9.
fn measured(out: &str) -> (Vec<u8>, [[u8; 32]; 2]) {
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let mut log = Vec::new();
    let mut pcrs = [[0u8; 32]; 2];
    for l in out.lines() {
        if let Some(h) = l.trim_end().strip_prefix("demo image: log ") {
            log.extend(hex(h));
        }
        for (i, n) in [8, 9].iter().enumerate() {
            if let Some(h) = l
                .trim_end()
                .strip_prefix(&format!("demo image: PCR {n} sha256 "))
            {
                pcrs[i].copy_from_slice(&hex(h));
            }
        }
    }
    let len: usize = out
        .split("demo image: event log ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no event log in {out}"));
    assert_eq!(log.len(), len, "{out}");
    (log, pcrs)
}

/// lifeboat as the system ROM on a pc (no SeaBIOS: lifeboat starts the TPM itself): the
/// demo 2.0(1), started with `boot` from the RAM it was installed from, is measured before
/// it starts; the PCRs it reads from the TPM equal the event
/// log it was handed, replayed on the host, and PCR 9 is the image's own digest extended.
/// It confirms: the TPM's floor rises to 2.0(0) and outlives the ATA flash erased (1.0(5)
/// refused). Then the TPM dies during the boot window: one line says the image is not
/// measured, and (the TPM optional) the image starts.
#[test]
fn from_the_rom_measured_boot_the_floor_after_an_erased_flash_and_a_dead_tpm() {
    use lifeboat_firmware::image::{Header, HEADER_LEN};
    use lifeboat_firmware::tpm::log;
    if !tpm_or_skip("from_the_rom_measured_boot_the_floor_after_an_erased_flash_and_a_dead_tpm") {
        return;
    }
    let d = scratch_dir("tpm-rom");
    let state = d.join("tpm");
    let _ = std::fs::remove_dir_all(&state);
    let disk = d.join("ide.img");
    blank(&disk, FLASH_LEN);
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let two = media::demo_image(Version::new(2, 0, 1));
    std::fs::write(root.join("two.bin"), &two).unwrap();
    let tpm = Swtpm::start(&state).unwrap();
    let m = Machine::rom(common::media(2).rom)
        .ide_disk(2, &disk)
        .nic(NicModel::E1000, user_net(&root));
    let mut q = launch(&with_tpm(m.clone(), &tpm));
    let banner = expect_banner(&mut q);
    assert!(banner.contains("TPM=2.0 IBM (TIS)\r\n"), "{banner}");
    q.send(ESC).unwrap();
    expect(&mut q, PROMPT, REPLY);
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    tftp_install(&mut q, "two.bin", "2.0(1)");
    // Started now, from the RAM it was installed from: measured as a flash boot is.
    q.send_line("boot").unwrap();
    expect(&mut q, "Boot from RAM: slot A, image 2.0(1)", REPLY);
    expect(&mut q, "demo image 2.0(1) running", STARTED);
    let out = expect(&mut q, "demo image: boot confirmed", REPLY);
    let (event_log, pcrs) = measured(&out);
    assert_eq!(log::replay(&event_log, 8), Some(pcrs[0]), "{out}");
    assert_eq!(log::replay(&event_log, 9), Some(pcrs[1]), "{out}");
    let mut payload_sha = [0u8; 32];
    payload_sha.copy_from_slice(Header::new_checked(&two[..HEADER_LEN]).unwrap().sha256());
    assert_eq!(pcrs[1], log::extend(&[0; 32], &payload_sha));
    assert_ne!(pcrs[0], [0; 32]);

    // The confirmation raised both floors at the next power-on; then the ATA flash is
    // erased: the TPM's floor holds from the ROM too, and a 1.0(5) is refused.
    q.qmp(r#"{"execute":"system_reset"}"#).expect("reset");
    to_prompt(&mut q);
    let v = command(&mut q, "version").join("\n");
    assert!(v.contains("TPM=2.0 IBM, floor 2.0(0)"), "{v}");
    drop(q);
    drop(tpm);
    std::fs::write(&disk, vec![0xFFu8; FLASH_LEN]).unwrap();
    let old = media::demo_image(Version::new(1, 0, 5));
    std::fs::write(root.join("old.bin"), &old).unwrap();
    let mut tpm = Swtpm::start(&state).unwrap();
    let mut q = launch(&with_tpm(m, &tpm));
    to_prompt(&mut q);
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    command1(&mut q, "file old.bin");
    q.send_line("tftp").unwrap();
    let out = expect(&mut q, PROMPT, Duration::from_secs(60));
    assert!(
        out.contains("image version 1.0(5) is older than 2.0(0), the oldest this unit installs\r\nNothing was written to flash."),
        "{out}"
    );
    tftp_install(&mut q, "two.bin", "2.0(1)");

    // The TPM dies while the unit waits in its boot window.
    q.send_line("reload").unwrap();
    expect(&mut q, USE_BREAK, BOOT);
    tpm.kill();
    q.send(b" ").unwrap();
    let out = expect(&mut q, "demo image 2.0(1) running", STARTED);
    let said: Vec<&str> = out.lines().filter(|l| l.contains("TPM")).collect();
    assert_eq!(said.len(), 1, "{out}");
    assert_eq!(
        said[0],
        "Warning: the image is not measured: the TPM has failed (response code 0x9) and no longer answers",
        "{out}"
    );
}

/// pc from its disk (SeaBIOS): a disk configured `tpm=required` on a unit without a TPM
/// refuses the flash boot and every install, with the reason; the same unit given a TPM
/// boots the same image measured (SeaBIOS started the TPM; lifeboat's PCRs 8 and 9 are its
/// own), and the PCRs equal the event log.
#[test]
fn on_pc_a_required_tpm_that_is_missing_refuses_and_a_present_one_measures() {
    use lifeboat_firmware::tpm::log;
    if !tpm_or_skip("on_pc_a_required_tpm_that_is_missing_refuses_and_a_present_one_measures") {
        return;
    }
    let d = scratch_dir("tpm-required");
    let cfg = media::MediaConfig {
        boot_timeout_s: 1,
        ..media::MediaConfig::default()
    };
    let mut img = media::image(Medium::Disk, &cfg).unwrap();
    let text = format!("{}tpm=required\n", cfg.to_text());
    img[512..1024].fill(0);
    img[512..512 + text.len()].copy_from_slice(text.as_bytes());
    let disk = d.join("disk.img");
    std::fs::write(&disk, &img).unwrap();
    let flash = d.join("pflash.img");
    let one = media::demo_image(Version::new(1, 0, 1));
    let pflash = |path: &Path| {
        let mut s = Slots::new(SimFlash::<512, 4096>::new(4 << 20, 3)).unwrap();
        assert_eq!(s.install(&one, |_, _| {}), Ok(Slot::A));
        std::fs::write(path, &s.into_flash().mem).unwrap();
    };
    pflash(&flash);
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("one.bin"), &one).unwrap();
    let unit = || {
        Machine::new(Medium::Disk, &disk)
            .pflash(&flash)
            .nic(NicModel::E1000, user_net(&root))
    };
    let required = "the configuration requires a TPM (tpm=required) and none works";

    let mut q = launch(&unit());
    let out = expect(&mut q, "entering the monitor.", BOOT);
    assert!(out.contains("TPM=none\r\n"), "{out}");
    assert!(
        out.contains(&format!(
            "Warning: {required}: installs and flash boot are refused until it is repaired\r\n"
        )),
        "{out}"
    );
    assert!(
        out.ends_with(&format!("Flash boot refused: {required}; ")),
        "{out}"
    );
    assert!(!out.contains("demo image"), "{out}");
    expect(&mut q, PROMPT, REPLY);
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    command1(&mut q, "file one.bin");
    q.send_line("tftp").unwrap();
    let out = expect(&mut q, PROMPT, Duration::from_secs(60));
    assert!(
        out.contains(&format!("Install refused: {required};")),
        "{out}"
    );
    let v = command(&mut q, "version").join("\n");
    assert!(v.contains("TPM=none: "), "{v}");
    drop(q);

    let state = d.join("tpm");
    let _ = std::fs::remove_dir_all(&state);
    let tpm = Swtpm::start(&state).unwrap();
    let mut q = launch(&with_tpm(unit(), &tpm));
    let banner = expect_banner(&mut q);
    assert!(banner.contains("TPM=2.0 IBM (TIS)\r\n"), "{banner}");
    expect(&mut q, "demo image 1.0(1) running", STARTED);
    let out = expect(&mut q, "demo image: boot confirmed", REPLY);
    let (event_log, pcrs) = measured(&out);
    assert_eq!(log::replay(&event_log, 8), Some(pcrs[0]), "{out}");
    assert_eq!(log::replay(&event_log, 9), Some(pcrs[1]), "{out}");
    // PCR 8's first event is the configuration sector lifeboat runs by.
    let mut first = None;
    assert!(log::events(&event_log, |e| {
        first.get_or_insert(e.sha256);
    }));
    let sector: [u8; 32] = sha256(&img[512..1024]);
    assert_eq!(first, Some(Some(sector)), "{out}");
}

fn sha256(b: &[u8]) -> [u8; 32] {
    lifeboat_firmware::tpm::log::sha256(b)
}

/// Debian's kernel booted from the flash (pc, from disk: SeaBIOS; a TPM with the SHA-256
/// bank alone) reads PCRs 8 and 9 from the TPM (`/sys/class/tpm/tpm0/pcr-sha256/N`, its
/// own TIS driver) and they equal what the host computes from the measured contents: the
/// configuration sector and the command line into PCR 8, the payload digest into PCR 9.
/// Its copy of the firmware's event log (`binary_bios_measurements`, read from the ACPI
/// TPM2 table's log area: SeaBIOS's entries, then lifeboat's three) replays to the same.
#[test]
fn debian_linux_booted_from_flash_reads_the_measured_pcrs() {
    use lifeboat_firmware::image::{HeaderRepr, Kind, PLATFORM};
    use lifeboat_firmware::tpm::log::extend;
    if !tpm_or_skip("debian_linux_booted_from_flash_reads_the_measured_pcrs") {
        return;
    }
    let Some(assets) = linux_assets() else {
        return;
    };
    let d = scratch_dir("tpm-linux");
    let busybox = std::fs::read(assets.vmlinuz.with_file_name("busybox")).unwrap();
    // No poweroff at the end: the kernel's power-down could overtake the console's last
    // lines (the tty not yet drained); the test stops QEMU once it has read them.
    let init = "#!/bin/busybox sh\n\
        /bin/busybox mkdir -p /sys\n\
        /bin/busybox mount -t sysfs sysfs /sys\n\
        for n in 8 9; do /bin/busybox echo \"lifeboat-test: pcr $n $(/bin/busybox cat /sys/class/tpm/tpm0/pcr-sha256/$n)\"; done\n\
        /bin/busybox mount -t securityfs securityfs /sys/kernel/security\n\
        /bin/busybox od -An -v -tx1 /sys/kernel/security/tpm0/binary_bios_measurements | /bin/busybox sed 's/^/lifeboat-test: log /'\n\
        /bin/busybox echo 'lifeboat-test: log end'\n\
        while :; do /bin/busybox sleep 3600; done\n";
    let initrd = lifeboat_qemu::linux::cpio(&[
        ("bin", 0o040755, b""),
        ("bin/busybox", 0o100755, &busybox),
        ("init", 0o100755, init.as_bytes()),
    ]);
    let cmdline = "console=ttyS0,9600 panic=-1 quiet";
    let mut payload = std::fs::read(&assets.vmlinuz).unwrap();
    payload.extend_from_slice(&initrd);
    let header = HeaderRepr {
        platform: PLATFORM,
        version: Version::new(6, 1, 0),
        kind: Kind::Linux,
        load: 0,
        entry: 0,
        initrd_len: initrd.len() as u64,
        cmdline,
    }
    .emit(&payload)
    .unwrap();
    let mut img = header.to_vec();
    img.extend_from_slice(&payload);
    let flash = d.join("ide.img");
    let mut s = Slots::new(SimFlash::<512, 4096>::new(64 << 20, 9)).unwrap();
    assert_eq!(s.install(&img, |_, _| {}), Ok(Slot::A));
    std::fs::write(&flash, &s.into_flash().mem).unwrap();

    let disk = common::media(1).disk;
    let sector = std::fs::read(&disk).unwrap()[512..1024].to_vec();
    let state = d.join("tpm");
    let _ = std::fs::remove_dir_all(&state);
    // A TPM with the SHA-256 bank alone: SeaBIOS's log then names SHA-256 only, and takes
    // lifeboat's entries (which carry SHA-256 digests only).
    swtpm::manufacture(&state, "sha256").unwrap();
    let tpm = Swtpm::start(&state).unwrap();
    let m = machine(Medium::Disk, 1).ide_disk(2, &flash);
    let mut q = launch(&with_tpm(m, &tpm));
    expect(&mut q, "Flash boot: slot A, image 6.1(0) (linux", STARTED);
    let mut got = Vec::new();
    for n in [8, 9] {
        expect(
            &mut q,
            &format!("lifeboat-test: pcr {n} "),
            Duration::from_secs(120),
        );
        got.push(expect(&mut q, "\r\n", REPLY).trim().to_ascii_lowercase());
    }
    let hex = |v: [u8; 32]| v.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let pcr8 = extend(
        &extend(&[0; 32], &sha256(&sector)),
        &sha256(cmdline.as_bytes()),
    );
    let pcr9 = extend(&[0; 32], &sha256(&payload));
    assert_eq!(got, vec![hex(pcr8), hex(pcr9)]);
    // The kernel's own copy of the firmware's event log (SeaBIOS's, from the ACPI TPM2
    // table, with lifeboat's entries after it) replays to the same PCRs.
    let dump = expect(&mut q, "lifeboat-test: log end", Duration::from_secs(120));
    let bytes: Vec<u8> = dump
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("lifeboat-test: log "))
        .flat_map(|l| {
            l.split_whitespace()
                .map(|b| u8::from_str_radix(b, 16).unwrap())
        })
        .collect();
    let mut ours = 0;
    assert!(lifeboat_firmware::tpm::log::events(&bytes, |e| {
        ours += usize::from(e.pcr == 8 || e.pcr == 9);
    }));
    assert_eq!(
        ours,
        3,
        "{}",
        q.transcript().split("lifeboat-test").next().unwrap_or("")
    );
    assert_eq!(lifeboat_firmware::tpm::log::replay(&bytes, 8), Some(pcr8));
    assert_eq!(lifeboat_firmware::tpm::log::replay(&bytes, 9), Some(pcr9));
}

/// Under OVMF (the UEFI disk on q35): OVMF has started the TPM and measured itself into PCRs
/// 0-7; lifeboat finds it, keeps its floor in an owner index (OVMF leaves the owner
/// hierarchy usable), and the demo 2.0(1) planted in the pflash is measured before it
/// starts: its PCRs 8 and 9 equal the event log replayed on the host.
#[test]
fn under_ovmf_the_tpm_is_found_and_the_image_measured() {
    use lifeboat_firmware::tpm::log;
    if !tpm_or_skip("under_ovmf_the_tpm_is_found_and_the_image_measured") {
        return;
    }
    let d = scratch_dir("tpm-uefi");
    let ovmf = d.join("OVMF.fd");
    if let Err(e) = std::fs::copy(lifeboat_qemu::OVMF, &ovmf) {
        skip_or_fail(
            "under_ovmf_the_tpm_is_found_and_the_image_measured",
            &format!(
                "{}: {e} (install the Debian package ovmf)",
                lifeboat_qemu::OVMF
            ),
        );
        return;
    }
    let flash = d.join("pflash.img");
    let two = media::demo_image(Version::new(2, 0, 1));
    let mut s = Slots::new(SimFlash::<512, 4096>::new(4 << 20, 5)).unwrap();
    assert_eq!(s.install(&two, |_, _| {}), Ok(Slot::A));
    std::fs::write(&flash, &s.into_flash().mem).unwrap();
    let state = d.join("tpm");
    let _ = std::fs::remove_dir_all(&state);
    let tpm = Swtpm::start(&state).unwrap();
    let m = Machine::new(Medium::Disk, &common::media(1).uefi_disk)
        .medium_snapshot(true)
        .machine_type(MachineType::Q35)
        .ovmf(&ovmf)
        .pflash(&flash);
    let mut q = launch(&with_tpm(m, &tpm));
    let banner = expect(&mut q, USE_BREAK, Duration::from_secs(60));
    assert!(banner.contains("(UEFI)\r\n"), "{banner}");
    assert!(banner.contains("TPM=2.0 IBM (TIS)\r\n"), "{banner}");
    assert!(!banner.contains("TPM: "), "{banner}");
    expect(&mut q, "demo image 2.0(1) running", STARTED);
    let out = expect(&mut q, "demo image: boot confirmed", REPLY);
    let (event_log, pcrs) = measured(&out);
    assert_eq!(log::replay(&event_log, 8), Some(pcrs[0]), "{out}");
    assert_eq!(log::replay(&event_log, 9), Some(pcrs[1]), "{out}");
}
