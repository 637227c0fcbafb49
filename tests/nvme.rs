//! NVMe slots (issue 23 item 6): an NVMe namespace (QEMU `-device nvme`) is the unit's flash
//! when no ATA flash disk is fitted. From the BIOS disk on pc and on q35, and from
//! `lifeboat.rom` on both: the banner names it, `flashtest` programs it (pc), the demo image
//! installs to it over TFTP and boots from it after `reload` (and the bytes are in the
//! namespace's file); on pc a namespace of 4 KiB blocks is refused with its reason on the
//! banner's `Flash=` line, and a block that fails its reads (blkdebug) is reported with the
//! completion's status decoded. (An unreadable record sector on NVMe is in tests/edges.rs.)

mod common;

use std::time::Duration;

use common::*;
use lifeboat::media;
use lifeboat_qemu::{MachineType, NicModel};

const STARTED: Duration = Duration::from_secs(30);

/// `flashtest 8`, answering its question about the records with `y`: must pass on NVMe.
fn flashtest(q: &mut Qemu) {
    q.send_line("flashtest 8").unwrap();
    expect(q, "flashtest 8\r\n", REPLY);
    expect(q, "Erase them? [n] ", REPLY);
    q.send_line("y").unwrap();
    let out = expect(q, PROMPT, REPLY);
    assert!(
        out.contains("flashtest: NVMe \"QEMU NVMe Ctrl\" 16 MiB @ 00:0")
            && out.contains("flashtest: 8192 bytes erased, programmed and verified in "),
        "{out}"
    );
}

/// The two ways a unit starts here: from its BIOS disk behind SeaBIOS, or from `lifeboat.rom`
/// as the board's firmware (which assigns the NVMe controller's 64-bit BAR0 itself).
#[derive(Clone, Copy, PartialEq)]
enum Entry {
    BiosDisk,
    Rom,
}

/// Blank namespace: banner, `flashtest` (pc), install over TFTP, `reload`, flash boot.
fn install_and_boot(tag: &str, entry: Entry, board: MachineType, nic: NicModel) {
    let d = scratch_dir(&format!("nvme-{tag}"));
    let disk = d.join("nvme.img");
    blank(&disk, 16 << 20);
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let demo = media::demo_image(media::DEMO_VERSION);
    std::fs::write(root.join("demo-image.bin"), &demo).unwrap();
    let m = match entry {
        Entry::BiosDisk => machine(Medium::Disk, 2),
        Entry::Rom => Machine::rom(media(2).rom),
    };
    let m = m.machine_type(board).nic(nic, user_net(&root));
    let mut q = launch(&with_nvme(m, &disk.display().to_string(), ""));
    let banner = expect_banner(&mut q);
    assert!(
        banner.contains("Flash=NVMe \"QEMU NVMe Ctrl\" 16 MiB @ 00:0"),
        "{banner}"
    );
    q.send(ESC).unwrap();
    expect(&mut q, PROMPT, REPLY);
    if board == MachineType::Pc {
        flashtest(&mut q);
    }
    command1(&mut q, "address 10.0.2.15");
    command1(&mut q, "server 10.0.2.2");
    tftp_install(&mut q, "demo-image.bin", "1.0(1)");
    q.send_line("reload").unwrap();
    expect(&mut q, "Rebooting...", REPLY);
    expect(
        &mut q,
        "Flash boot: slot A, image 1.0(1) (flat64, ",
        STARTED,
    );
    expect(&mut q, "demo image 1.0(1) running\r\n", STARTED);
    expect(&mut q, "demo image: boot confirmed\r\n", REPLY);
    drop(q);
    // Slot A (after the two 4 KiB record blocks) holds the image in the namespace itself.
    let bytes = std::fs::read(&disk).unwrap();
    assert_eq!(&bytes[8192..8192 + demo.len()], &demo[..]);
}

#[test]
fn on_pc_the_image_installed_to_nvme_boots_and_a_4k_namespace_is_refused() {
    install_and_boot("pc", Entry::BiosDisk, MachineType::Pc, NicModel::E1000);
    let d = scratch_dir("nvme-pc-4k");
    let disk = d.join("nvme.img");
    blank(&disk, 16 << 20);
    let m = machine(Medium::Disk, 2);
    let spec = disk.display().to_string();
    let mut q = launch(&with_nvme(
        m,
        &spec,
        ",logical_block_size=4096,physical_block_size=4096",
    ));
    let banner = expect_banner(&mut q);
    assert!(
        banner
            .contains("Flash=none (NVMe: LBA format of 4096 bytes + 0 metadata, not 512 + 0)\r\n"),
        "{banner}"
    );
}

/// A block that fails every read (blkdebug, EIO): `flashtest`'s read-back reports the READ
/// with its completion status decoded, on one line, and the monitor carries on.
#[test]
fn a_read_error_on_nvme_is_one_line_with_its_status() {
    let d = scratch_dir("nvme-eio");
    let disk = d.join("nvme.img");
    blank(&disk, 16 << 20);
    let rules = d.join("bad.blkdebug");
    std::fs::write(
        &rules,
        "[inject-error]\nevent = \"read_aio\"\niotype = \"read\"\nerrno = \"5\"\nsector = \"9\"\n",
    )
    .unwrap();
    let spec = format!("blkdebug:{}:{}", rules.display(), disk.display());
    let mut q = launch(&with_nvme(machine(Medium::Disk, 2), &spec, ""));
    to_prompt(&mut q);
    q.send_line("flashtest 8").unwrap();
    expect(&mut q, "Erase them? [n] ", REPLY);
    q.send_line("y").unwrap();
    let out = expect(&mut q, PROMPT, REPLY);
    assert!(
        out.contains(
            "READ at block 8 failed: status 0x281 (SCT 2 SC 0x81: unrecovered read error)"
        ),
        "{out}"
    );
    // The monitor carries on.
    command1(&mut q, "address 10.0.2.15");
}

#[test]
fn on_q35_the_image_installed_to_nvme_boots() {
    install_and_boot("q35", Entry::BiosDisk, MachineType::Q35, NicModel::E1000e);
}

/// From the ROM, on q35 (PCI Express) and pc: the ROM places BAR0 and enables memory
/// decoding and bus mastering, and the firmware drives the controller as behind SeaBIOS.
#[test]
fn from_the_rom_the_image_installed_to_nvme_boots() {
    install_and_boot("rom-q35", Entry::Rom, MachineType::Q35, NicModel::E1000e);
    install_and_boot("rom-pc", Entry::Rom, MachineType::Pc, NicModel::E1000);
}
