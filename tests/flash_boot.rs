//! Flash boot of an installed `flat64` image (issue 8, the flat64 half): recover the demo
//! image over TFTP, install it, `reload`, and the unit starts it after the boot window; a
//! cold power-on with nobody at the console does the same; an image that never confirms
//! itself is rolled back to the previous one after its boot budget. The pc scenarios recover
//! over the e1000 and again over an e1000e (82574L) on the same board.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use lifeboat::media;
use lifeboat_firmware::image::Version;
use lifeboat_qemu::{MachineType, NetBackend, NicModel};

const WINDOW_S: u32 = 2;
const STARTED: Duration = Duration::from_secs(20);

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("flash-boot-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// The pc unit: floppy, `flash` as pflash, a `nic` on slirp serving `root`.
fn unit(flash: &Path, root: &Path, nic: NicModel) -> Machine {
    machine(Medium::Floppy, WINDOW_S).pflash(flash).nic(
        nic,
        NetBackend::User {
            tftp: Some(root.to_path_buf()),
            bootfile: None,
        },
    )
}

fn install(q: &mut Qemu, file: &str, version: &str) -> String {
    command1(q, "address 10.0.2.15");
    command1(q, "server 10.0.2.2");
    let ping = command(q, "ping").join("\n");
    assert!(ping.contains("Success rate is 100 percent (5/5)"), "{ping}");
    tftp_install(q, file, version)
}

/// q35: the demo image comes over the e1000e, goes to the SATA disk on AHCI port 2, and
/// boots from there after `reload` and after a cold power-on.
#[test]
fn on_q35_the_image_installed_to_an_ahci_disk_boots() {
    let disk = tmp("ahci-q35.img");
    std::fs::write(&disk, vec![0u8; 16 << 20]).unwrap();
    let root = tmp("root-q35");
    std::fs::create_dir_all(&root).unwrap();
    let demo = media::demo_image(media::DEMO_VERSION);
    std::fs::write(root.join("demo-image.bin"), &demo).unwrap();
    let unit = || {
        machine(Medium::Disk, WINDOW_S)
            .machine_type(MachineType::Q35)
            .ide_disk(2, &disk)
            .nic(
                NicModel::E1000e,
                NetBackend::User {
                    tftp: Some(root.clone()),
                    bootfile: None,
                },
            )
    };
    let mut q = launch(&unit());
    let banner = expect_banner(&mut q);
    assert!(
        banner.contains("Flash=AHCI \"QEMU HARDDISK\" 16 MiB @ port 2\r\n"),
        "{banner}"
    );
    q.send(ESC).unwrap();
    expect(&mut q, PROMPT, REPLY);
    install(&mut q, "demo-image.bin", "1.0(1)");
    q.send_line("reload").unwrap();
    expect(&mut q, "Rebooting...", REPLY);
    expect(&mut q, USE_SPACE, Duration::from_secs(30));
    expect(&mut q, "Flash boot: slot A, image 1.0(1) (flat64, ", REPLY);
    expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
    expect(&mut q, "demo image: boot confirmed\r\n", REPLY);
    drop(q);
    // Slot A (after the two 4 KiB record blocks) holds the image on the disk itself.
    let bytes = std::fs::read(&disk).unwrap();
    assert_eq!(&bytes[8192..8192 + demo.len()], &demo[..]);
    let mut q = launch(&unit());
    expect_banner(&mut q);
    q.send(b" ").unwrap();
    expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
}

/// `boot` right after an install starts the image from the RAM it was installed from, with
/// no reset (the PIX monitor starts the image it downloaded); its confirmation counts at the
/// next reset, and `boot` with nothing just installed is the flash boot, without a reset.
#[test]
fn boot_after_an_install_starts_the_image_from_ram_and_it_confirms() {
    let flash = tmp("pflash-boot-now.img");
    std::fs::write(&flash, vec![0xFFu8; 4 << 20]).unwrap();
    let root = tmp("root-boot-now");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("demo-image.bin"),
        media::demo_image(media::DEMO_VERSION),
    )
    .unwrap();
    let mut q = launch(&unit(&flash, &root, NicModel::E1000));
    to_prompt(&mut q);
    let out = install(&mut q, "demo-image.bin", "1.0(1)");
    assert!(
        out.contains("Type boot to start it now (no reset).\r\n"),
        "{out}"
    );
    q.send_line("boot").unwrap();
    let out = expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
    assert!(
        out.contains("boot\r\nBoot from RAM: slot A, image 1.0(1) (flat64, ")
            && out.contains("verified; starting it.\r\n"),
        "{out}"
    );
    assert!(!out.contains("Rebooting"), "{out}");
    expect(&mut q, "demo image: boot confirmed\r\n", REPLY);
    // A reset (CMOS, where the token waits, survives it; a new QEMU would not).
    q.qmp(r#"{"execute":"system_reset"}"#)
        .expect("system_reset");
    to_prompt(&mut q);
    let version = command(&mut q, "version").join("\n");
    assert!(
        version.contains("Slot A: 1.0(1), ") && version.contains(", selected, boots next"),
        "{version}"
    );
    q.send_line("boot").unwrap();
    let out = expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
    assert!(
        out.contains("Flash boot: slot A, image 1.0(1) (flat64, "),
        "{out}"
    );
}

on_nics!(
    recover_install_reload_cold_boot;
    recover_install_reload_and_the_image_runs_then_cold_boot_runs_it_again => E1000,
    recover_install_reload_and_the_image_runs_then_cold_boot_runs_it_again_on_e1000e => E1000e,
);

fn recover_install_reload_cold_boot(nic: NicModel) {
    let flash = tmp(&format!("pflash-a-{nic:?}.img"));
    std::fs::write(&flash, vec![0xFFu8; 4 << 20]).unwrap();
    let root = tmp(&format!("root-a-{nic:?}"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("demo-image.bin"),
        media::demo_image(media::DEMO_VERSION),
    )
    .unwrap();
    let mut corrupt = media::demo_image(Version::new(1, 0, 9));
    let n = corrupt.len();
    corrupt[n - 10] ^= 0x40;
    std::fs::write(root.join("corrupt.bin"), corrupt).unwrap();
    let mut q = launch(&unit(&flash, &root, nic));
    to_prompt(&mut q);
    install(&mut q, "demo-image.bin", "1.0(1)");
    // A corrupt image is refused; the installed one stays and is what boots.
    command1(&mut q, "file corrupt.bin");
    q.send_line("tftp").unwrap();
    let out = expect(&mut q, PROMPT, Duration::from_secs(60));
    assert!(
        out.contains("Checksum verification on flash image failed"),
        "{out}"
    );
    q.send_line("reload").unwrap();
    expect(&mut q, "Rebooting...", REPLY);
    // Nobody presses anything: the window passes and flash boot starts the image.
    expect(&mut q, USE_SPACE, Duration::from_secs(30));
    expect(
        &mut q,
        "Flash boot: slot A, image 1.0(1) (flat64, ",
        Duration::from_secs(10),
    );
    expect(&mut q, "verified; starting it.\r\n", REPLY);
    expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
    expect(&mut q, "demo image: boot confirmed\r\n", REPLY);
    drop(q);
    // Cold power-on with the same flash, SPACE to skip the window.
    let mut q = launch(&unit(&flash, &root, nic));
    expect_banner(&mut q);
    q.send(b" ").unwrap();
    expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
}

on_nics!(
    never_confirms_rolled_back;
    an_image_that_never_confirms_is_rolled_back_after_its_budget => E1000,
    an_image_that_never_confirms_is_rolled_back_after_its_budget_on_e1000e => E1000e,
);

fn never_confirms_rolled_back(nic: NicModel) {
    let flash = tmp(&format!("pflash-b-{nic:?}.img"));
    std::fs::write(&flash, vec![0xFFu8; 4 << 20]).unwrap();
    let root = tmp(&format!("root-b-{nic:?}"));
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
    let mut q = launch(&unit(&flash, &root, nic));
    to_prompt(&mut q);
    install(&mut q, "one.bin", "1.0(1)");
    install(&mut q, "two.bin", "1.0(2)");
    let v = command(&mut q, "version").join("\n");
    let len = media::demo_image(Version::new(1, 0, 1)).len();
    let want =
        format!("Slot B: 1.0(2), {len} bytes, selected (new, 3 boots to confirm), boots next");
    assert!(v.contains(&want), "{v}");
    // The demo never confirms: three boots of 1.0(2), then back to 1.0(1).
    for boot in 0..4 {
        q.qmp(r#"{"execute":"system_reset"}"#).expect("reset");
        expect_banner(&mut q);
        q.send(b" ").unwrap();
        let want = if boot < 3 {
            "demo image 1.0(2) running"
        } else {
            "demo image 1.0(1) running"
        };
        expect(&mut q, want, STARTED);
    }
    // 1.0(1) confirms itself; it stays from now on.
    expect(&mut q, "demo image: boot confirmed", REPLY);
    q.qmp(r#"{"execute":"system_reset"}"#).expect("reset");
    to_prompt(&mut q);
    let v = command(&mut q, "version").join("\n");
    assert!(
        v.contains(&format!(
            "Slot A: 1.0(1), {len} bytes, selected, boots next"
        )),
        "{v}"
    );
}

/// Where `image` sits in the flash file (the slot it was installed to).
fn find(flash: &[u8], image: &[u8]) -> usize {
    flash
        .windows(image.len())
        .position(|w| w == image)
        .expect("the installed image is in the flash file")
}

/// Flips one bit at `at` in the flash file (a cell gone bad while the unit was off), powers
/// the unit on and skips the window with SPACE.
fn damage_and_boot(flash: &Path, root: &Path, nic: NicModel, at: usize) -> Qemu {
    let mut bytes = std::fs::read(flash).unwrap();
    bytes[at] ^= 0x08;
    std::fs::write(flash, &bytes).unwrap();
    let mut q = launch(&unit(flash, root, nic));
    expect_banner(&mut q);
    q.send(b" ").unwrap();
    q
}

on_nics!(
    damaged_falls_back;
    a_selected_image_damaged_in_flash_falls_back_then_the_monitor_says_why => E1000,
    a_selected_image_damaged_in_flash_falls_back_then_the_monitor_says_why_on_e1000e => E1000e,
);

fn damaged_falls_back(nic: NicModel) {
    let flash = tmp(&format!("pflash-c-{nic:?}.img"));
    std::fs::write(&flash, vec![0xFFu8; 4 << 20]).unwrap();
    let root = tmp(&format!("root-c-{nic:?}"));
    std::fs::create_dir_all(&root).unwrap();
    let one = media::demo_image(Version::new(1, 0, 1));
    let two = media::demo_image(Version::new(1, 0, 2));
    std::fs::write(root.join("one.bin"), &one).unwrap();
    std::fs::write(root.join("two.bin"), &two).unwrap();
    let mut q = launch(&unit(&flash, &root, nic));
    to_prompt(&mut q);
    install(&mut q, "one.bin", "1.0(1)");
    install(&mut q, "two.bin", "1.0(2)");
    // Dropped, not just killed: that frees its QEMU slot (at most two run at once).
    drop(q);
    let bytes = std::fs::read(&flash).unwrap();
    let (a, b) = (find(&bytes, &one), find(&bytes, &two));
    // Slot B's payload (the selected image) goes bad: slot A boots.
    let mut q = damage_and_boot(&flash, &root, nic, b + 400);
    expect(
        &mut q,
        "Flash boot: slot A, image 1.0(1) (flat64, ",
        Duration::from_secs(10),
    );
    expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
    drop(q);
    // Both slots bad: the monitor, with the reason.
    let mut q = damage_and_boot(&flash, &root, nic, a + 400);
    expect(
        &mut q,
        "Flash boot: no valid image installed in flash; entering the monitor.\r\n",
        Duration::from_secs(10),
    );
    expect(&mut q, PROMPT, REPLY);
    let v = command(&mut q, "version").join("\n");
    assert!(v.contains("Slot A: 1.0(1)"), "{v}");
    assert!(v.contains("refused: Checksum verification"), "{v}");
}
