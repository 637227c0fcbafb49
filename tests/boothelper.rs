//! The Boothelper (issue 8 (d)): the same firmware on a diskette or USB stick whose
//! configuration says `mode=boothelper` goes straight to `pixboothelper>`; after `tftp` it
//! asks before copying the image to flash, then gives 30 s to remove the medium. With the
//! diskette ejected or the stick pulled (QMP) the unit boots its own disk, whose monitor
//! boots the new image;
//! with the medium still in, `reload` comes back to `pixboothelper>`. After `y` it asks for
//! the activation key (the PIX's step 7): a malformed key is refused with the expected
//! format and asked again; the key is stored in the unit record and handed to the image.
//! Each scenario recovers over the e1000 and again over the e1000e (82574L), both on pc.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use lifeboat::media;
use lifeboat_qemu::{NetBackend, NicModel};

const BH_PROMPT: &str = "pixboothelper> ";

fn setup(tag: &str, model: NicModel) -> (media::MediaSet, media::MediaSet, PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("boothelper-{tag}-{model:?}-{}", std::process::id()));
    let (helper, appliance) = boothelper_and_appliance(&dir, None);
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("demo-image.bin"),
        media::demo_image(media::DEMO_VERSION),
    )
    .unwrap();
    let flash = dir.join("pflash.img");
    std::fs::write(&flash, vec![0xFFu8; 4 << 20]).unwrap();
    (helper, appliance, root, flash)
}

/// Recovers the demo image; `activation` is the line typed at the activation key question
/// (empty: keep the current one).
fn recover(q: &mut Qemu, activation: &str) {
    expect(q, "lifeboat recovery monitor", BOOT);
    expect(q, BH_PROMPT, Duration::from_secs(20));
    for line in [
        "address 10.0.2.15",
        "server 10.0.2.2",
        "file demo-image.bin",
    ] {
        q.send_line(line).unwrap();
        expect(q, BH_PROMPT, REPLY);
    }
    q.send_line("tftp").unwrap();
    expect(
        q,
        "Do you wish to copy the image to flash? [n] ",
        Duration::from_secs(60),
    );
    q.send_line("y").unwrap();
    expect(q, "Activation key [none]: ", REPLY);
    if !activation.is_empty() {
        q.send_line("0x1234 0xabcd").unwrap();
        expect(
            q,
            "The activation key is not valid: enter four 32-bit hex words",
            REPLY,
        );
        expect(q, "Activation key [none]: ", REPLY);
    }
    q.send_line(activation).unwrap();
    expect(q, "Installed 1.0(1) in slot A", Duration::from_secs(30));
    if !activation.is_empty() {
        expect(q, "Activation key stored: ", REPLY);
    }
}

const KEY: &str = "0xe02888da 0x4ba7bed6 0xf1c123ae 0xffd8624e";

fn nic(root: &std::path::Path) -> NetBackend {
    NetBackend::User {
        tftp: Some(root.to_path_buf()),
        bootfile: None,
    }
}

on_nics!(
    diskette_removed;
    diskette_removed_during_the_countdown_then_the_unit_boots_the_new_image => E1000,
    diskette_removed_during_the_countdown_then_the_unit_boots_the_new_image_on_e1000e => E1000e,
);

fn diskette_removed(model: NicModel) {
    let (helper, appliance, root, flash) = setup("floppy", model);
    let m = Machine::new(Medium::Floppy, &helper.floppy)
        .medium_snapshot(true)
        .ide_disk(0, &appliance.disk)
        .pflash(&flash)
        .nic(model, nic(&root));
    let mut q = launch(&m);
    recover(&mut q, KEY);
    expect(
        &mut q,
        "Remove the diskette now: the unit reboots in 30 seconds",
        REPLY,
    );
    eject_floppy(&mut q);
    expect(&mut q, " 0\r\n", Duration::from_secs(40));
    expect(&mut q, "booted from disk", BOOT);
    expect(&mut q, "demo image 1.0(1) running", Duration::from_secs(30));
    // The image finds the activation key in the boot-info hand-off.
    expect(&mut q, &format!("demo image: activation key {KEY}"), REPLY);
}

on_nics!(
    medium_still_in;
    with_the_medium_still_in_reload_comes_back_to_the_boothelper => E1000,
    with_the_medium_still_in_reload_comes_back_to_the_boothelper_on_e1000e => E1000e,
);

fn medium_still_in(model: NicModel) {
    let (helper, _appliance, root, flash) = setup("usb", model);
    let m = Machine::new(Medium::Usb, &helper.usb)
        .medium_snapshot(true)
        .pflash(&flash)
        .nic(model, nic(&root));
    let mut q = launch(&m);
    recover(&mut q, "");
    expect(&mut q, "Remove the USB stick now", REPLY);
    q.send_line("reload").unwrap();
    expect(&mut q, "Rebooting...", REPLY);
    expect(&mut q, "booted from USB stick", BOOT);
    expect(&mut q, BH_PROMPT, Duration::from_secs(20));
}

on_nics!(
    usb_stick_pulled;
    usb_stick_pulled_during_the_countdown_then_the_unit_boots_the_new_image => E1000,
    usb_stick_pulled_during_the_countdown_then_the_unit_boots_the_new_image_on_e1000e => E1000e,
);

fn usb_stick_pulled(model: NicModel) {
    let (helper, appliance, root, flash) = setup("usb-pull", model);
    let m = Machine::new(Medium::Usb, &helper.usb)
        .medium_snapshot(true)
        .ide_disk(0, &appliance.disk)
        .pflash(&flash)
        .nic(model, nic(&root));
    let mut q = launch(&m);
    recover(&mut q, "");
    expect(
        &mut q,
        "Remove the USB stick now: the unit reboots in 30 seconds",
        REPLY,
    );
    q.qmp(r#"{"execute":"device_del","arguments":{"id":"stick"}}"#)
        .expect("device_del");
    expect(&mut q, " 0\r\n", Duration::from_secs(40));
    expect(&mut q, "booted from disk", BOOT);
    expect(&mut q, "demo image 1.0(1) running", Duration::from_secs(30));
}

/// Issue 21, finding 6: ESC (or a serial BREAK) at the activation-key question ends the
/// install like a no at the copy question: "Nothing was written to flash", the Boothelper's prompt again, and the
/// flash exactly as it was (it went on with the install before).
#[test]
fn esc_or_break_at_the_activation_key_question_writes_nothing() {
    let (helper, _appliance, root, flash) = setup("esc-activation", NicModel::E1000);
    let before = std::fs::read(&flash).unwrap();
    let m = Machine::new(Medium::Floppy, &helper.floppy)
        .medium_snapshot(true)
        .pflash(&flash)
        .nic(NicModel::E1000, nic(&root));
    let mut q = launch(&m);
    expect(&mut q, BH_PROMPT, BOOT);
    for line in [
        "address 10.0.2.15",
        "server 10.0.2.2",
        "file demo-image.bin",
    ] {
        q.send_line(line).unwrap();
        expect(&mut q, BH_PROMPT, REPLY);
    }
    q.send_line("tftp").unwrap();
    expect(
        &mut q,
        "Do you wish to copy the image to flash? [n] ",
        Duration::from_secs(60),
    );
    q.send_line("y").unwrap();
    expect(&mut q, "Activation key [none]: ", REPLY);
    q.send(ESC).unwrap();
    let out = expect(&mut q, BH_PROMPT, REPLY);
    assert!(out.contains("Nothing was written to flash.\r\n"), "{out:?}");
    assert!(!out.contains("Installing"), "{out:?}");
    // A serial BREAK there does the same.
    q.send_line("tftp").unwrap();
    expect(
        &mut q,
        "Do you wish to copy the image to flash? [n] ",
        Duration::from_secs(60),
    );
    q.send_line("y").unwrap();
    expect(&mut q, "Activation key [none]: ", REPLY);
    q.send_break().expect("BREAK over QMP");
    let out = expect(&mut q, BH_PROMPT, REPLY);
    assert!(out.contains("Nothing was written to flash.\r\n"), "{out:?}");
    assert!(!out.contains("Installing"), "{out:?}");
    // The prompt works, and `version` finds the flash as blank as it was.
    q.send_line("version").unwrap();
    let v = expect(&mut q, BH_PROMPT, REPLY);
    assert!(
        v.contains("Slot A: empty\r\nSlot B: empty\r\nUnit record: none"),
        "{v}"
    );
    drop(q);
    assert!(
        std::fs::read(&flash).unwrap() == before,
        "the flash changed"
    );
}
