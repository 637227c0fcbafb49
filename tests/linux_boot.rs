//! A real Linux recovered and booted (issue 8 (b)): Debian's cloud kernel and a busybox
//! initramfs (fetched with apt-get, see `qemu::linux`), packed as a `linux` image, served
//! over TFTP, installed to ATA flash (CompactFlash: the image is too large for two pflash
//! slots), then `reload` (or, on pc over the e1000e, `boot`: started from RAM, no reset):
//! the kernel's banner and the initramfs marker appear on COM1.
//! Skipped with the reason when the package source cannot be reached (a failure under
//! LIFEBOAT_REQUIRE_ALL=1). On pc over the e1000 and again over an e1000e (82574L); on q35
//! over its own e1000e, to its AHCI disk and to an NVMe namespace.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use lifeboat_qemu::linux;
use lifeboat_qemu::{MachineType, NetBackend, NicModel};

/// On pc over the e1000: `reload`, then the flash boot.
#[test]
fn recover_install_and_boot_debian_linux_from_ata_flash() {
    recover_install_and_boot(MachineType::Pc, NicModel::E1000);
}

/// On pc over the e1000e: `boot` right after the install, the image started from the RAM
/// it was downloaded to, no reset (issue 23).
#[test]
fn recover_install_and_boot_debian_linux_from_ata_flash_on_e1000e() {
    recover_install_and_boot(MachineType::Pc, NicModel::E1000e);
}

/// The same on q35: over the e1000e, to the SATA disk on AHCI port 2 (15 MiB through the
/// AHCI driver's DMA), booted from there.
#[test]
fn on_q35_debian_linux_installs_to_an_ahci_disk_and_boots() {
    recover_install_and_boot(MachineType::Q35, NicModel::E1000e);
}

/// The same on q35 to an NVMe namespace (the flash when no ATA disk is fitted).
#[test]
fn on_q35_debian_linux_installs_to_nvme_and_boots() {
    recover_install_and_boot_on(MachineType::Q35, NicModel::E1000e, true);
}

fn recover_install_and_boot(kind: MachineType, nic: NicModel) {
    recover_install_and_boot_on(kind, nic, false)
}

/// `nvme`: the slots are an NVMe namespace, else the ATA disk at ide index 2.
fn recover_install_and_boot_on(kind: MachineType, nic: NicModel, nvme: bool) {
    let Some(assets) = linux_assets() else {
        return;
    };
    let image = linux::image(&assets).unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "linux-boot-{}-{nic:?}-{nvme}-{}",
        kind.name(),
        std::process::id()
    ));
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("linux.img"), &image).unwrap();
    let flash = dir.join("cf.img");
    std::fs::write(&flash, vec![0xFFu8; 64 << 20]).unwrap();

    let m = machine(Medium::Disk, 2).machine_type(kind).memory_mib(256);
    let m = if nvme {
        with_nvme(m, &flash.display().to_string(), "")
    } else {
        m.ide_disk(2, &flash)
    };
    let m = m.nic(
        nic,
        NetBackend::User {
            tftp: Some(root),
            bootfile: None,
        },
    );
    let mut q = launch(&m);
    let banner = expect_banner(&mut q);
    assert_eq!(banner.contains("Flash=NVMe "), nvme, "{banner}");
    q.send(ESC).unwrap();
    expect(&mut q, PROMPT, REPLY);
    let out = install_linux(&mut q);
    assert!(
        out.contains(&format!("Received {} bytes", image.len())),
        "{out}"
    );
    if nic == NicModel::E1000e && kind == MachineType::Pc {
        q.send_line("boot").unwrap();
        expect(
            &mut q,
            "Boot from RAM: slot A, image 6.1(0) (linux, kernel ",
            Duration::from_secs(60),
        );
        expect(&mut q, "Linux version 6.1", Duration::from_secs(60));
        expect(&mut q, linux::MARKER, Duration::from_secs(120));
    } else {
        q.send_line("reload").unwrap();
        boot_installed_linux(&mut q);
    }
    eprintln!(
        "{} booted from flash on {} over {nic:?}",
        assets.kernel_package,
        kind.name()
    );
}
