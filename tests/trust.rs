//! Trust and fail-safety under QEMU (issue 12), each scenario one that broke on the code
//! before it:
//! 1. a Boothelper diskette without a key installs an unsigned image on a unit whose own disk
//!    has a key: the unit's flash boot refuses to start it; once the unit has recorded its key
//!    the same Boothelper refuses such an image at once, and a correctly signed image recovers
//!    the unit;
//! 2. a confirmed image, ESC, then an image that never confirms: rolled back unattended after
//!    its budget (a leftover confirmation once made it permanent);
//! 3. an unreadable sector in the selected slot of a CompactFlash (blkdebug): the other slot
//!    boots;
//! 4. a `flat64` image that asks for RAM above 4 GiB on a unit with 5 GiB: refused at install,
//!    and, written to the flash behind the firmware's back, refused at boot without a fault;
//! 5. an unsigned 9.9(9) written into a slot of a keyed unit (issue 21): `version` calls it
//!    refused, with the reason, and a signed 2.0(1) installs without a downgrade question;
//! 6. a `flat64` image whose entry lies outside its payload (issue 21): refused at install as
//!    such, not as "not free RAM".
//!
//! Each pc scenario fetches its images over the e1000 and again over an e1000e (82574L).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use lifeboat::media;
use lifeboat_firmware::config::{BAD_PUBKEY, NOT_TEXT, UNKNOWN_LINE, ZERO_KEY};
use lifeboat_firmware::image::{HeaderRepr, Kind, Version, HEADER_LEN, PLATFORM};
use lifeboat_qemu::{MachineType, NicModel};

const BH_PROMPT: &str = "pixboothelper> ";
const STARTED: Duration = Duration::from_secs(30);
/// Slot A starts after the two 4 KiB record blocks.
const SLOT_A: usize = 2 * 4096;

fn dir(tag: &str) -> PathBuf {
    scratch_dir(&format!("trust-{tag}"))
}

/// Sets address, server and file at `prompt`, runs `tftp`, returns what follows the echo
/// up to `until`.
fn fetch(q: &mut Qemu, prompt: &str, file: &str, until: &str) -> String {
    for line in [
        "address 10.0.2.15",
        "server 10.0.2.2",
        &format!("file {file}"),
    ] {
        q.send_line(line).unwrap();
        expect(q, prompt, REPLY);
    }
    q.send_line("tftp").unwrap();
    expect(q, "tftp\r\n", REPLY);
    expect(q, until, Duration::from_secs(60))
}

/// Answers the Boothelper's two questions (copy: y; activation key: keep) and waits for the
/// install and the removal countdown, then ejects the diskette.
fn boothelper_install(q: &mut Qemu, version: &str) {
    q.send_line("y").unwrap();
    expect(q, "Activation key [none]: ", REPLY);
    q.send_line("").unwrap();
    expect(
        q,
        &format!("Installed {version} in slot"),
        Duration::from_secs(30),
    );
    expect(q, "Remove the diskette now", REPLY);
    eject_floppy(q);
    expect(q, " 0\r\n", Duration::from_secs(40));
    expect(q, "booted from disk", BOOT);
}

on_nics!(
    keyless_boothelper;
    a_keyless_boothelper_cannot_make_a_keyed_unit_run_an_unsigned_image => E1000,
    a_keyless_boothelper_cannot_make_a_keyed_unit_run_an_unsigned_image_on_e1000e => E1000e,
);

fn keyless_boothelper(nic: NicModel) {
    let d = dir(&format!("keyless-{nic:?}"));
    let unit_key = key(1);
    let (helper, appliance) = boothelper_and_appliance(&d, Some(*unit_key.pk));
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("plain.bin"),
        media::demo_image(Version::new(1, 0, 1)),
    )
    .unwrap();
    std::fs::write(
        root.join("signed.bin"),
        signed(&unit_key, &media::demo_image(Version::new(1, 0, 2))),
    )
    .unwrap();
    let flash = d.join("pflash.img");
    blank(&flash, 4 << 20);
    let m = Machine::new(Medium::Floppy, &helper.floppy)
        .medium_snapshot(true)
        .ide_disk(0, &appliance.disk)
        .pflash(&flash)
        .nic(nic, user_net(&root));

    // A unit that never ran its own firmware has no record: the Boothelper says so, and
    // installs the unsigned image.
    let mut q = launch(&m);
    expect(&mut q, BH_PROMPT, BOOT);
    let out = fetch(
        &mut q,
        BH_PROMPT,
        "plain.bin",
        "Do you wish to copy the image to flash? [n] ",
    );
    assert!(
        out.contains(
            "No unit record in flash: the unit's own flash boot will decide whether this image runs."
        ),
        "{out}"
    );
    boothelper_install(&mut q, "1.0(1)");
    // The unit's own disk: its flash boot checks the signature and refuses the image.
    let out = expect(&mut q, PROMPT, STARTED);
    assert!(
        out.contains(
            "Flash boot: slot A: image is not signed; this unit installs signed images only"
        ),
        "{out}"
    );
    assert!(out.contains("no valid image installed in flash"), "{out}");
    assert!(!out.contains("demo image 1.0(1) running"), "{out}");
    let v = command(&mut q, "version").join("\n");
    let pk = *unit_key.pk;
    let fingerprint = format!(
        "Unit record: key {:02x}{:02x}{:02x}{:02x}..., floor 1.0(0)",
        pk[0], pk[1], pk[2], pk[3]
    );
    assert!(v.contains(&fingerprint), "{v}");
    drop(q);

    // The Boothelper again: now the unit record holds the key, so the unsigned image is
    // refused before anything is written; the signed one installs and runs.
    let mut q = launch(&m);
    expect(&mut q, BH_PROMPT, BOOT);
    let before = std::fs::read(&flash).unwrap();
    let out = fetch(&mut q, BH_PROMPT, "plain.bin", BH_PROMPT);
    assert!(
        out.contains("image is not signed; this unit installs signed images only"),
        "{out}"
    );
    assert!(out.contains("Nothing was written to flash."), "{out}");
    assert!(std::fs::read(&flash).unwrap() == before, "flash changed");
    q.send_line("file signed.bin").unwrap();
    expect(&mut q, BH_PROMPT, REPLY);
    q.send_line("tftp").unwrap();
    expect(
        &mut q,
        "Do you wish to copy the image to flash? [n] ",
        Duration::from_secs(60),
    );
    boothelper_install(&mut q, "1.0(2)");
    // Slot A's unsigned image is one the unit refuses: nothing to keep, so the signed one
    // went over it (issue 21: an install keeps what the unit would boot, by its policy).
    expect(&mut q, "Flash boot: slot A, image 1.0(2)", STARTED);
    expect(&mut q, "demo image 1.0(2) running", STARTED);
}

on_nics!(
    confirmed_then_never_confirms;
    a_confirmed_image_then_esc_and_an_image_that_never_confirms_is_rolled_back_unattended => E1000,
    a_confirmed_image_then_esc_and_an_image_that_never_confirms_is_rolled_back_unattended_on_e1000e
        => E1000e,
);

fn confirmed_then_never_confirms(nic: NicModel) {
    let d = dir(&format!("stale-{nic:?}"));
    let flash = d.join("pflash.img");
    blank(&flash, 4 << 20);
    let two = media::demo_image_with(Version::new(1, 0, 2), false);
    let m = machine(Medium::Floppy, 2).pflash(&flash);
    let mut q = confirmed_one_then(&d, m, nic, &two);
    let v = command(&mut q, "version").join("\n");
    let n = media::demo_image(Version::new(1, 0, 1)).len();
    assert!(
        v.contains(&format!("Slot A: 1.0(1), {n} bytes, last confirmed")),
        "{v}"
    );
    assert!(
        v.contains(&format!(
            "Slot B: 1.0(2), {n} bytes, selected (new, 3 boots to confirm)"
        )),
        "{v}"
    );
    assert!(v.contains("floor 1.0(0)"), "{v}");
    q.send_line("reload").unwrap();
    // Unattended: three boots of 1.0(2), then back to 1.0(1) for good.
    for boot in 0..5 {
        let want = if boot < 3 { "1.0(2)" } else { "1.0(1)" };
        expect(&mut q, &format!("demo image {want} running"), STARTED);
        q.qmp(r#"{"execute":"system_reset"}"#).expect("reset");
    }
}

/// On unit `m` (its flash blank) with a TFTP root under `d`: installs the demo 1.0(1), lets
/// it run and confirm itself with nobody at the console, stops in the monitor again (ESC)
/// and installs `second` (version 1.0(2)); returns at the prompt.
fn confirmed_one_then(d: &Path, m: Machine, nic: NicModel, second: &[u8]) -> Qemu {
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("one.bin"),
        media::demo_image(Version::new(1, 0, 1)),
    )
    .unwrap();
    std::fs::write(root.join("two.bin"), second).unwrap();
    let mut q = launch(&m.nic(nic, user_net(&root)));
    for (file, version) in [("one.bin", "1.0(1)"), ("two.bin", "1.0(2)")] {
        to_prompt(&mut q);
        command1(&mut q, "address 10.0.2.15");
        command1(&mut q, "server 10.0.2.2");
        tftp_install(&mut q, file, version);
        if file == "one.bin" {
            q.send_line("reload").unwrap();
            expect(&mut q, "demo image 1.0(1) running", STARTED);
            expect(&mut q, "demo image: boot confirmed", REPLY);
            q.qmp(r#"{"execute":"system_reset"}"#).expect("reset");
        }
    }
    q
}

on_nics!(
    |m| unreadable_sector_in_slot_b(&format!("badsector-{m:?}"), MachineType::Pc, m);
    an_unreadable_sector_in_the_selected_slot_boots_the_other_slot => E1000,
    an_unreadable_sector_in_the_selected_slot_boots_the_other_slot_on_e1000e => E1000e,
);

/// The same on q35 with its e1000e, the slots on a SATA disk on AHCI port 2.
#[test]
fn on_q35_an_unreadable_ahci_sector_in_the_selected_slot_boots_the_other_slot() {
    unreadable_sector_in_slot_b("badsector-q35", MachineType::Q35, NicModel::E1000e);
}

fn unreadable_sector_in_slot_b(tag: &str, board: MachineType, nic: NicModel) {
    let d = dir(tag);
    let ata = d.join("cf.img");
    let len = 16usize << 20;
    blank(&ata, len);
    let two = media::demo_image(Version::new(1, 0, 2));
    let unit = || machine(Medium::Disk, 2).machine_type(board);
    confirmed_one_then(&d, unit().ide_disk(2, &ata), nic, &two).kill();
    // Slot B starts after the records and slot A (half of the rest, in 4 KiB blocks).
    let slot_len = ((len / 4096 - 2) / 2) * 4096;
    let b = SLOT_A + slot_len;
    let image = std::fs::read(&ata).unwrap();
    assert_eq!(&image[b..b + 4], b"LBIM", "slot B holds the second image");
    // One sector inside B's payload fails every read.
    let sector = (b + HEADER_LEN + 1024) / 512;
    let rules = d.join("bad.blkdebug");
    std::fs::write(
        &rules,
        format!("[inject-error]\nevent = \"read_aio\"\nerrno = \"5\"\nsector = \"{sector}\"\n"),
    )
    .unwrap();
    let spec = format!("blkdebug:{}:{}", rules.display(), ata.display());
    let mut q = launch(&unit().ide_disk(2, spec));
    let out = expect(&mut q, "demo image 1.0(1) running", STARTED);
    assert!(
        out.contains("Flash boot: slot B: the flash cannot be read there"),
        "{out}"
    );
    assert!(out.contains("Flash boot: slot A, image 1.0(1)"), "{out}");
}

/// A `flat64` image of the demo payload with `load`/`entry` set to `addr`.
fn high_image(addr: u64) -> Vec<u8> {
    placed_image(addr, addr)
}

/// A `flat64` image of the demo payload loaded at `load`, entered at `entry`.
fn placed_image(load: u64, entry: u64) -> Vec<u8> {
    let demo = media::demo_image(Version::new(1, 0, 7));
    let payload = &demo[HEADER_LEN..];
    let h = HeaderRepr {
        platform: PLATFORM,
        version: Version::new(1, 0, 7),
        kind: Kind::Flat64,
        load,
        entry,
        initrd_len: 0,
        cmdline: "",
    }
    .emit(payload)
    .unwrap();
    let mut v = h.to_vec();
    v.extend_from_slice(payload);
    v
}

on_nics!(
    above_4_gib_refused;
    an_image_above_4_gib_is_refused_at_install_and_at_boot_without_a_fault => E1000,
    an_image_above_4_gib_is_refused_at_install_and_at_boot_without_a_fault_on_e1000e => E1000e,
);

fn above_4_gib_refused(nic: NicModel) {
    let d = dir(&format!("high-{nic:?}"));
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let high = high_image(0x1_4000_0000);
    std::fs::write(root.join("high.bin"), &high).unwrap();
    let flash = d.join("pflash.img");
    blank(&flash, 4 << 20);
    let m = machine(Medium::Floppy, 2)
        .memory_mib(5 << 10)
        .pflash(&flash)
        .nic(nic, user_net(&root));
    let mut q = launch(&m);
    to_prompt(&mut q);
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    command1(&mut q, "file high.bin");
    q.send_line("tftp").unwrap();
    let out = expect(&mut q, PROMPT, Duration::from_secs(60));
    let len = high.len() - HEADER_LEN;
    assert!(
        out.contains(&format!(
            "image wants {len} bytes at 0x140000000, which is not free RAM"
        )),
        "{out}"
    );
    assert!(out.contains("Nothing was written to flash."), "{out}");
    // Dropped, not just killed: that frees its QEMU slot (with this scenario on two NICs at
    // once, each holding one slot, neither could launch its second unit).
    drop(q);
    // Written into slot A by something else (a programmer, another firmware): the unit's
    // flash boot refuses it before copying a byte, every boot, and stays usable.
    let mut f = std::fs::read(&flash).unwrap();
    f[SLOT_A..SLOT_A + high.len()].copy_from_slice(&high);
    std::fs::write(&flash, f).unwrap();
    let mut q = launch(&m);
    for _ in 0..2 {
        let out = expect(&mut q, PROMPT, STARTED);
        assert!(
            out.contains(&format!(
                "Flash boot: slot A: image wants {len} bytes at 0x140000000, which is not free RAM"
            )),
            "{out}"
        );
        assert!(!out.contains("exception"), "{out}");
        q.qmp(r#"{"execute":"system_reset"}"#).expect("reset");
    }
}

/// Issue 21, finding 7: an unsigned 9.9(9) written into slot A of a keyed unit's flash behind
/// its back is what the unit's flash boot refuses: `version` says so, with the reason, and
/// never "boots next"; a correctly signed 2.0(1) then installs without asking whether to
/// replace a newer image (it compared with 9.9(9) before), over the refused one.
#[test]
fn a_planted_unsigned_image_is_refused_by_version_and_is_no_downgrade() {
    let d = dir("planted");
    let unit_key = key(1);
    let (_helper, appliance) = boothelper_and_appliance(&d, Some(*unit_key.pk));
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let good = signed(&unit_key, &media::demo_image(Version::new(2, 0, 1)));
    std::fs::write(root.join("good.bin"), &good).unwrap();
    let planted = media::demo_image(Version::new(9, 9, 9));
    let flash = d.join("pflash.img");
    let mut f = vec![0xFFu8; 4 << 20];
    f[SLOT_A..SLOT_A + planted.len()].copy_from_slice(&planted);
    std::fs::write(&flash, f).unwrap();
    let m = Machine::new(Medium::Disk, &appliance.disk)
        .medium_snapshot(true)
        .pflash(&flash)
        .nic(NicModel::E1000, user_net(&root));
    let mut q = launch(&m);
    to_prompt(&mut q);
    let v = command(&mut q, "version").join("\n");
    let n = planted.len();
    assert!(
        v.contains(&format!(
            "Slot A: 9.9(9), {n} bytes, refused: image is not signed; this unit installs signed images only, selected (new, 3 boots to confirm)\n"
        )),
        "{v}"
    );
    assert!(!v.contains("boots next"), "{v}");
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    let out = tftp_install(&mut q, "good.bin", "2.0(1)");
    assert!(
        out.contains("Flash version none, Install version 2.0(1)\r\n"),
        "{out}"
    );
    assert!(!out.contains("older than the installed image"), "{out}");
    assert!(out.contains("Installed 2.0(1) in slot A"), "{out}");
    let v = command(&mut q, "version").join("\n");
    assert!(
        v.contains(&format!(
            "Slot A: 2.0(1), {} bytes, selected (new, 3 boots to confirm), boots next",
            good.len()
        )),
        "{v}"
    );
    drop(q);
    let f = std::fs::read(&flash).unwrap();
    assert!(
        f[SLOT_A..SLOT_A + good.len()] == good[..],
        "slot A holds 2.0(1)"
    );
}

/// Issue 21, finding 7: an image whose entry point lies outside its payload (in free RAM) is
/// refused at install for what it is, not as an image that wants RAM that is not free.
#[test]
fn an_entry_outside_the_payload_is_refused_as_such() {
    let d = dir("entry");
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let img = placed_image(0x200_0000, 0x300_0000);
    std::fs::write(root.join("entry.bin"), &img).unwrap();
    let flash = d.join("pflash.img");
    blank(&flash, 4 << 20);
    let m = machine(Medium::Floppy, 2)
        .pflash(&flash)
        .nic(NicModel::E1000, user_net(&root));
    let mut q = launch(&m);
    to_prompt(&mut q);
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    command1(&mut q, "file entry.bin");
    q.send_line("tftp").unwrap();
    let out = expect(&mut q, PROMPT, Duration::from_secs(60));
    assert!(
        out.contains(
            "image entry 0x3000000 is outside its payload\r\nNothing was written to flash."
        ),
        "{out}"
    );
    assert!(!out.contains("not free RAM"), "{out}");
    drop(q);
    assert!(
        std::fs::read(&flash).unwrap().iter().all(|&b| b == 0xFF),
        "the flash changed"
    );
}

// Issue 21 finding 2: configuration near-misses once left a keyed unit keyless. Each is now
// refused: the banner says which line and why, the flash boot is refused with the reason
// (an unsigned image in flash that a keyless unit boots stays unstarted), and `tftp` of the
// unsigned image is refused before anything is written.

/// The unit key of the near-miss scenarios, as the configuration spells it.
fn unit_key_hex() -> String {
    key(1).pk.iter().map(|b| format!("{b:02x}")).collect()
}

/// The start of every near-miss configuration: a 1 s window, the usual console.
const BASE_CONFIG: &str = "boot_timeout=1\nbaud=9600\nlog=warn\nmode=monitor\n";

/// A pflash file holding the unsigned demo 1.0(1) in slot A, as a keyless unit installed
/// it, and that unit's proof that it boots it: written once per test process.
fn flash_with_an_unsigned_image() -> &'static Path {
    static FLASH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    FLASH.get_or_init(|| {
        let d = dir("near-miss-plant");
        let root = d.join("root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("plain.bin"),
            media::demo_image(Version::new(1, 0, 1)),
        )
        .unwrap();
        let flash = d.join("pflash.img");
        blank(&flash, 4 << 20);
        let floppy = d.join("keyless.img");
        write_floppy(&floppy, BASE_CONFIG.as_bytes());
        let mut q = launch(
            &Machine::new(Medium::Floppy, &floppy)
                .pflash(&flash)
                .nic(NicModel::E1000, user_net(&root)),
        );
        to_prompt(&mut q);
        command1(&mut q, "address 10.0.2.15");
        command1(&mut q, "server 10.0.2.2");
        tftp_install(&mut q, "plain.bin", "1.0(1)");
        // A keyless unit boots it: the refusals below are the configuration's doing.
        q.send_line("reload").unwrap();
        expect(&mut q, "demo image 1.0(1) running", STARTED);
        drop(q);
        flash
    })
}

/// A diskette of the appliance's firmware whose configuration sector holds `config`
/// (NUL-padded; LBA 1, bootloader/layout.md).
fn write_floppy(path: &Path, config: &[u8]) {
    let mut img = media::image(Medium::Floppy, &media::MediaConfig::default()).unwrap();
    assert!(config.len() <= 512);
    img[512..1024].fill(0);
    img[512..512 + config.len()].copy_from_slice(config);
    std::fs::write(path, img).unwrap();
}

/// Boots a unit whose configuration is `config` on the flash of
/// [`flash_with_an_unsigned_image`]: the banner must show `warning` and the refusal's
/// `reason`, the flash boot must be refused with it (the unsigned image never starts), and
/// `tftp` of that image must be refused with it, the flash unchanged.
fn near_miss_is_refused(tag: &str, config: &[u8], warning: &str, reason: &str) {
    let planted = flash_with_an_unsigned_image();
    let d = dir(&format!("near-miss-{tag}"));
    let flash = d.join("pflash.img");
    std::fs::copy(planted, &flash).unwrap();
    let before = std::fs::read(&flash).unwrap();
    let floppy = d.join("unit.img");
    write_floppy(&floppy, config);
    let root = planted.parent().unwrap().join("root");
    let mut q = launch(
        &Machine::new(Medium::Floppy, &floppy)
            .pflash(&flash)
            .nic(NicModel::E1000, user_net(&root)),
    );
    let banner = expect_banner(&mut q);
    assert!(
        banner.contains(&format!("Warning: {warning}\r\n")),
        "{banner}"
    );
    assert!(
        banner.contains(&format!(
            "Warning: {reason}: installs and flash boot are refused until it is repaired\r\n"
        )),
        "{banner}"
    );
    // Nobody at the console: the window ends and the flash boot is refused.
    let out = expect(&mut q, PROMPT, BOOT);
    assert!(
        out.contains(&format!(
            "Flash boot refused: {reason}; entering the monitor.\r\n"
        )),
        "{out}"
    );
    assert!(!out.contains("demo image"), "the unsigned image ran: {out}");
    let out = fetch(&mut q, PROMPT, "plain.bin", PROMPT);
    assert!(
        out.contains(&format!("Install refused: {reason}; this unit installs nothing until its configuration is repaired.\r\nNothing was written to flash.\r\n")),
        "{out}"
    );
    assert!(std::fs::read(&flash).unwrap() == before, "flash changed");
}

/// One test per near miss: `name: config bytes, the banner's warning, the reason`.
macro_rules! near_misses {
    ($($name:ident: $config:expr, $warning:expr, $reason:expr;)+) => {
        $(
            #[test]
            fn $name() {
                let config: Vec<u8> = $config;
                near_miss_is_refused(stringify!($name), &config, &$warning, $reason);
            }
        )+
    };
}

near_misses! {
    a_key_line_in_capitals_refuses_installs_and_flash_boot:
        format!("{BASE_CONFIG}PUBKEY={}\n", unit_key_hex()).into_bytes(),
        format!("config line 5: must be pubkey=<64 hex digits> (\"PUBKEY={}\")", unit_key_hex()),
        BAD_PUBKEY;
    a_capitalised_key_line_refuses_installs_and_flash_boot:
        format!("{BASE_CONFIG}Pubkey={}\n", unit_key_hex()).into_bytes(),
        format!("config line 5: must be pubkey=<64 hex digits> (\"Pubkey={}\")", unit_key_hex()),
        BAD_PUBKEY;
    a_utf8_bom_refuses_installs_and_flash_boot:
        [b"\xEF\xBB\xBF".as_slice(), format!("pubkey={}\n{BASE_CONFIG}", unit_key_hex()).as_bytes()].concat(),
        "config line 1: not text (\"\")",
        NOT_TEXT;
    a_key_line_with_a_colon_refuses_installs_and_flash_boot:
        format!("{BASE_CONFIG}pubkey: {}\n", unit_key_hex()).into_bytes(),
        format!("config line 5: must be pubkey=<64 hex digits> (\"pubkey: {}\")", unit_key_hex()),
        BAD_PUBKEY;
    a_nul_before_the_key_line_refuses_installs_and_flash_boot:
        format!("{BASE_CONFIG}\0\npubkey={}\n", unit_key_hex()).into_bytes(),
        "config line 5: not text (\"\")",
        NOT_TEXT;
    an_all_zero_key_refuses_installs_and_flash_boot:
        format!("{BASE_CONFIG}pubkey={}\n", "0".repeat(64)).into_bytes(),
        format!("config line 5: the configuration's pubkey is all zeros (\"pubkey={}\")", "0".repeat(64)),
        ZERO_KEY;
    an_unknown_key_refuses_installs_and_flash_boot:
        format!("{BASE_CONFIG}public_key={}\n", unit_key_hex()).into_bytes(),
        format!("config line 5: unknown key (keys are lower case) (\"public_key={}\")", unit_key_hex()),
        UNKNOWN_LINE;
}

/// Every configuration the media builder writes (each medium, the UEFI loader's payload,
/// the ROM's header; each option) is accepted as it was meant: no warning, no refusal, its
/// key in force. The other half of failing closed: nothing legitimate is refused.
#[test]
fn every_configuration_the_media_builder_writes_is_accepted() {
    use lifeboat_firmware::config::BootConfig;
    let find = |hay: &[u8], magic: &[u8]| {
        hay.windows(magic.len())
            .position(|w| w == magic)
            .expect("payload magic")
    };
    let mut n = 0;
    for timeout in [0, 3, 3600] {
        for (baud, log) in [(1200, "off"), (9600, "warn"), (115200, "trace")] {
            for boothelper in [false, true] {
                for public_key in [None, Some(*key(1).pk)] {
                    let cfg = media::MediaConfig {
                        boot_timeout_s: timeout,
                        baud,
                        log_level: log.into(),
                        boothelper,
                        public_key,
                        removable_boothelper: !boothelper,
                    };
                    let mut sectors = vec![];
                    for m in [Medium::Floppy, Medium::Usb, Medium::Disk] {
                        let img = media::image(m, &cfg).unwrap();
                        sectors.push((m, img[512..1024].to_vec()));
                    }
                    for m in [Medium::Usb, Medium::Disk] {
                        let efi = media::uefi_loader(m, &cfg).unwrap();
                        let p = find(&efi, &lifeboat_efi::payload::MAGIC);
                        let c = p + lifeboat_efi::payload::CONFIG;
                        sectors.push((m, efi[c..c + 512].to_vec()));
                    }
                    let rom = media::rom_image(&cfg).unwrap();
                    let at = rom.len()
                        - (lifeboat_rom::layout::ROM_END - lifeboat_rom::layout::HEADER_ADDR)
                            as usize;
                    let c = at + lifeboat_rom::payload::CONFIG;
                    sectors.push((Medium::Disk, rom[c..c + 512].to_vec()));
                    for (m, sector) in sectors {
                        for secure_boot in [false, true] {
                            let c = BootConfig::parse(&sector, secure_boot, |w| {
                                panic!("{w} in {:?}", String::from_utf8_lossy(&sector))
                            });
                            let keyless_secure = secure_boot && public_key.is_none();
                            assert_eq!(c.trust_broken.is_some(), keyless_secure, "{cfg:?} {m:?}");
                            assert_eq!(c.public_key, public_key.filter(|_| !keyless_secure));
                            assert_eq!((c.boot_timeout_s, c.baud), (timeout, baud));
                            let helper = boothelper || (m != Medium::Disk);
                            assert_eq!(c.boothelper, helper, "{cfg:?} {m:?}");
                            n += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(n, 3 * 3 * 2 * 2 * 6 * 2);
}
