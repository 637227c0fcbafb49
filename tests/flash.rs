//! Flash scenarios (issue 7, item 4): the banner's `Flash=` line for QEMU pflash (CFI), a
//! CompactFlash card on the secondary IDE master (ATA PIO) and no flash, and the hidden
//! `flashtest [KIB]` command, checked on the console and in the flash file after QEMU exits.
//!
//! `LIFEBOAT_FLASH_BENCH=1` also erases, programs and verifies 4 MiB on each and prints the
//! times (slow under TCG).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// What `flashtest` programs at `offset` (mirrors `lifeboat_firmware::monitor::flashtest::pattern`).
fn pattern(offset: u32) -> u8 {
    (offset ^ (offset >> 8) ^ (offset >> 16) ^ 0x5A) as u8
}

/// A `flashtest` of a few KiB.
const SHORT: Duration = Duration::from_secs(60);
/// A `flashtest 4096` under TCG with another guest running.
const LONG: Duration = Duration::from_secs(600);

/// A fresh file of `len` bytes of `fill` in this test's own directory.
fn flash_file(name: &str, len: usize, fill: u8) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("flash");
    std::fs::create_dir_all(&dir).expect("creating the flash dir");
    let path = dir.join(format!("{name}-{}.bin", std::process::id()));
    std::fs::write(&path, vec![fill; len]).expect("writing the flash file");
    path
}

/// Boots from the diskette with `machine`'s flash, interrupts the boot window and returns
/// the `Flash=` line of the banner.
fn boot(m: Machine) -> (Qemu, String) {
    let mut q = launch(&m);
    let banner = expect_banner(&mut q);
    q.send(ESC).expect("sending ESC");
    expect(&mut q, INTERRUPTED, REPLY);
    expect(&mut q, HELP_HINT, REPLY);
    expect(&mut q, PROMPT, REPLY);
    let flash = lines(&banner)
        .into_iter()
        .find(|l| l.starts_with("Flash="))
        .unwrap_or_else(|| panic!("no Flash= line in the banner: {banner:?}"));
    (q, flash)
}

/// Runs `flashtest [arg]` and returns its reply lines.
/// `flashtest ARG`, answering its question about the records with `y`; returns the lines
/// after the answer.
fn flashtest(q: &mut Qemu, arg: &str, timeout: Duration) -> Vec<String> {
    let line = format!("flashtest{arg}");
    q.send_line(&line).expect("writing to the console");
    expect(q, &format!("{line}\r\n"), REPLY);
    let warning = expect(q, "Erase them? [n] ", REPLY);
    assert!(
        warning.contains("where the records are (the unit record is written back after)"),
        "{warning}"
    );
    q.send_line("y").expect("writing to the console");
    expect(q, "y\r\n", REPLY);
    lines(&expect(q, PROMPT, timeout))
}

/// Checks the success line and returns the total seconds.
#[track_caller]
fn passed(reply: &[String], device: &str, bytes: usize) -> f64 {
    assert!(!reply.is_empty(), "no reply");
    assert_eq!(reply.len(), 2, "{reply:#?}");
    assert_eq!(
        reply[0],
        format!(
            "flashtest: {device}: erase, program and verify {} KiB at offset 0",
            bytes / 1024
        )
    );
    let prefix = format!("flashtest: {bytes} bytes erased, programmed and verified in ");
    let rest = reply[1]
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("not a success line: {:?}", reply[1]));
    let (secs, phases) = rest.split_once(" s (").expect("phase times");
    assert!(
        phases.starts_with("erase ") && phases.ends_with(" s)"),
        "{rest}"
    );
    secs.parse().expect("seconds")
}

/// The first `programmed` bytes hold the pattern, the rest still `fill`.
#[track_caller]
fn assert_file(path: &Path, programmed: usize, fill: u8) {
    let bytes = std::fs::read(path).expect("reading the flash file");
    for (i, &b) in bytes.iter().enumerate() {
        let want = if i < programmed {
            pattern(i as u32)
        } else {
            fill
        };
        assert_eq!(b, want, "{}: byte {i:#x}", path.display());
    }
}

fn bench() -> bool {
    std::env::var_os("LIFEBOAT_FLASH_BENCH").is_some()
}

#[test]
fn pflash_is_found_below_the_bios_and_flashtest_programs_it() {
    let file = flash_file("pflash", 4 << 20, 0x00);
    let (mut q, line) = boot(machine(Medium::Floppy, 5).pflash(&file));
    let device = "CFI Intel 4096 KiB @ 0xffbc0000";
    assert_eq!(line, format!("Flash={device}"));

    passed(&flashtest(&mut q, "", SHORT), device, 4096);
    passed(&flashtest(&mut q, " 12", SHORT), device, 12 << 10);
    // It asks before it touches the records; the default answer erases nothing (the file
    // check below sees nothing past the 12 KiB).
    q.send_line("flashtest 64").expect("writing to the console");
    expect(&mut q, "Erase them? [n] ", REPLY);
    q.send_line("").expect("writing to the console");
    let reply = lines(&expect(&mut q, PROMPT, REPLY));
    assert_eq!(reply, ["flashtest: nothing was erased."], "{reply:#?}");
    if bench() {
        let reply = flashtest(&mut q, " 4096", LONG);
        passed(&reply, device, 4 << 20);
        eprintln!("pflash: {}", reply[1]);
    }
    q.kill();
    let programmed = if bench() { 4 << 20 } else { 12 << 10 };
    assert_file(&file, programmed, 0x00);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn pflash_of_odd_size_reports_its_real_size() {
    // 8 MiB − 256 KiB (the most QEMU's default window holds): CFI byte 0x27 says 2^18.
    let file = flash_file("pflash-odd", (8 << 20) - (256 << 10), 0xFF);
    let (_q, line) = boot(machine(Medium::Floppy, 5).pflash(&file));
    assert_eq!(line, "Flash=CFI Intel 7936 KiB @ 0xff800000");
    let _ = std::fs::remove_file(&file);
}

#[test]
fn pflash_of_16_mib_with_a_larger_firmware_window() {
    // `max-fw-size=16M`: unit 1 may grow to 16 MiB − 256 KiB, reaching down to 0xff000000.
    let file = flash_file("pflash-16m", (16 << 20) - (256 << 10), 0xFF);
    let mut m = machine(Medium::Floppy, 5).pflash(&file);
    m.max_fw_size_mib = Some(16);
    let (mut q, line) = boot(m);
    let device = "CFI Intel 16128 KiB @ 0xff000000";
    assert_eq!(line, format!("Flash={device}"));
    passed(&flashtest(&mut q, " 8", SHORT), device, 8 << 10);
    q.kill();
    let bytes = std::fs::read(&file).expect("reading the flash file");
    assert!(bytes[..8192]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == pattern(i as u32)));
    assert!(bytes[8192..].iter().all(|&b| b == 0xFF));
    let _ = std::fs::remove_file(&file);
}

#[test]
fn pflash_on_q35() {
    let file = flash_file("pflash-q35", 2 << 20, 0x00);
    let m = machine(Medium::Floppy, 5)
        .machine_type(lifeboat_qemu::MachineType::Q35)
        .pflash(&file);
    let (mut q, line) = boot(m);
    let device = "CFI Intel 2048 KiB @ 0xffdc0000";
    assert_eq!(line, format!("Flash={device}"));
    passed(&flashtest(&mut q, "", SHORT), device, 4096);
    q.kill();
    assert_file(&file, 4096, 0x00);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn read_only_pflash_reports_the_erase_error_and_stays_unchanged() {
    let file = flash_file("pflash-ro", 1 << 20, 0x00);
    let (mut q, line) = boot(
        machine(Medium::Floppy, 5)
            .pflash(&file)
            .pflash_readonly(true),
    );
    assert_eq!(line, "Flash=CFI Intel 1024 KiB @ 0xffec0000");
    let reply = flashtest(&mut q, "", SHORT);
    assert_eq!(
        reply,
        [
            "flashtest: CFI Intel 1024 KiB @ 0xffec0000: erase, program and verify 4 KiB at offset 0",
            "flashtest: erase failed: flash: erase failed at 0x00000000 (SR 0xa0: SR.5 erase error)",
        ]
    );
    // The status was cleared: the flash still reads as memory and a second try says the same.
    assert_eq!(flashtest(&mut q, "", SHORT), reply);
    q.kill();
    assert_file(&file, 0, 0x00);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn compactflash_on_the_secondary_master_wins_over_pflash() {
    let card = flash_file("cf", 64 << 20, 0x00);
    let pflash = flash_file("pflash-both", 1 << 20, 0x00);
    let (mut q, line) = boot(machine(Medium::Disk, 5).ide_disk(2, &card).pflash(&pflash));
    let device = "ATA \"QEMU HARDDISK\" 64 MiB @ ide1:0";
    assert_eq!(line, format!("Flash={device}"));
    passed(&flashtest(&mut q, "", SHORT), device, 4096);
    passed(&flashtest(&mut q, " 20", SHORT), device, 20 << 10);
    // The same by PIO (the driver's path without a bus-master controller).
    passed(&flashtest(&mut q, " 20 pio", SHORT), device, 20 << 10);
    if bench() {
        let reply = flashtest(&mut q, " 4096", LONG);
        passed(&reply, device, 4 << 20);
        eprintln!("ATA (DMA): {}", reply[1]);
        let reply = flashtest(&mut q, " 4096 pio", LONG);
        passed(&reply, device, 4 << 20);
        eprintln!("ATA (PIO): {}", reply[1]);
    }
    q.kill();
    let programmed = if bench() { 4 << 20 } else { 20 << 10 };
    assert_file(&card, programmed, 0x00);
    assert_file(&pflash, 0, 0x00);
    let _ = std::fs::remove_file(&card);
    let _ = std::fs::remove_file(&pflash);
}

#[test]
fn no_flash_at_all() {
    // QEMU's default empty CD-ROM sits on the secondary master: ATAPI, not a flash card.
    let (mut q, line) = boot(machine(Medium::Disk, 5));
    assert_eq!(line, "Flash=none");
    assert_eq!(command(&mut q, "flashtest"), ["flashtest: no flash found"]);
}

/// Boots with a 1 MiB card whose image fails every `iotype` ("read", "write", "flush") request with
/// EIO once QEMU's raw driver has signalled `event` (blkdebug), runs `flashtest` (`args`: ""
/// or " pio") and returns its failure line; after a failed write the card's file must be
/// unchanged.
fn failing_card(name: &str, event: &str, iotype: &str, args: &str) -> String {
    let card = flash_file(name, 1 << 20, 0x00);
    let rules = card.with_extension("blkdebug");
    std::fs::write(
        &rules,
        format!("[inject-error]\nevent = \"{event}\"\niotype = \"{iotype}\"\nerrno = \"5\"\n"),
    )
    .expect("writing the blkdebug rules");
    let spec = format!("blkdebug:{}:{}", rules.display(), card.display());
    let (mut q, line) = boot(machine(Medium::Disk, 5).ide_disk(2, spec));
    let device = "ATA \"QEMU HARDDISK\" 1 MiB @ ide1:0";
    assert_eq!(line, format!("Flash={device}"));
    let reply = flashtest(&mut q, args, SHORT);
    assert_eq!(reply.len(), 2, "{reply:#?}");
    assert_eq!(
        reply[0],
        format!("flashtest: {device}: erase, program and verify 4 KiB at offset 0")
    );
    q.kill();
    if iotype == "write" {
        assert_file(&card, 0, 0x00);
    }
    let _ = std::fs::remove_file(&card);
    let _ = std::fs::remove_file(&rules);
    reply[1].clone()
}

#[test]
fn compactflash_errors_are_reported_with_the_error_register() {
    // QEMU's IDE model aborts a command whose disk I/O fails: status DRDY|ERR, error ABRT,
    // by bus-master DMA (the default) and by PIO alike.
    for (args, write, read) in [
        ("", "WRITE DMA", "READ DMA"),
        (" pio", "WRITE SECTORS", "READ SECTORS"),
    ] {
        assert_eq!(
            failing_card("cf-eio-write", "write_aio", "write", args),
            format!(
                "flashtest: erase failed: CompactFlash: {write} failed at sector 0 \
                 (status 0x41, error 0x04: ABRT aborted)"
            )
        );
        assert_eq!(
            failing_card("cf-eio-read", "read_aio", "read", args),
            format!(
                "flashtest: read failed: CompactFlash: {read} failed at sector 0 \
                 (status 0x41, error 0x04: ABRT aborted)"
            )
        );
        // The card says it has FLUSH CACHE, so every erase/write ends with one; its failure
        // shows.
        assert_eq!(
            failing_card("cf-eio-flush", "flush_to_disk", "flush", args),
            "flashtest: erase failed: CompactFlash: FLUSH CACHE failed \
             (status 0x41, error 0x04: ABRT aborted)"
        );
    }
}

/// q35: a SATA disk on AHCI port 2 (`-drive if=ide,index=2` lands there) is the flash; the
/// boot disk is on port 0 and is never driven.
#[test]
fn ahci_disk_on_q35_is_the_flash_and_flashtest_programs_it() {
    let disk = flash_file("ahci", 64 << 20, 0x00);
    let m = machine(Medium::Disk, 5)
        .machine_type(lifeboat_qemu::MachineType::Q35)
        .ide_disk(2, &disk);
    let (mut q, line) = boot(m);
    let device = "AHCI \"QEMU HARDDISK\" 64 MiB @ port 2";
    assert_eq!(line, format!("Flash={device}"));
    passed(&flashtest(&mut q, "", SHORT), device, 4096);
    // 20 KiB + a write from the flashtest's buffers in several commands' worth of pages.
    passed(&flashtest(&mut q, " 20", SHORT), device, 20 << 10);
    if bench() {
        let reply = flashtest(&mut q, " 4096", LONG);
        passed(&reply, device, 4 << 20);
        eprintln!("AHCI: {}", reply[1]);
    }
    q.kill();
    let programmed = if bench() { 4 << 20 } else { 20 << 10 };
    assert_file(&disk, programmed, 0x00);
    let _ = std::fs::remove_file(&disk);
}

/// [`failing_card`] for a 1 MiB SATA disk on AHCI port 1 of q35.
fn failing_ahci_disk(name: &str, event: &str, iotype: &str) -> String {
    let disk = flash_file(name, 1 << 20, 0x00);
    let rules = disk.with_extension("blkdebug");
    std::fs::write(
        &rules,
        format!("[inject-error]\nevent = \"{event}\"\niotype = \"{iotype}\"\nerrno = \"5\"\n"),
    )
    .expect("writing the blkdebug rules");
    let spec = format!("blkdebug:{}:{}", rules.display(), disk.display());
    let m = machine(Medium::Disk, 5)
        .machine_type(lifeboat_qemu::MachineType::Q35)
        .ide_disk(1, spec);
    let (mut q, line) = boot(m);
    let device = "AHCI \"QEMU HARDDISK\" 1 MiB @ port 1";
    assert_eq!(line, format!("Flash={device}"));
    let reply = flashtest(&mut q, "", SHORT);
    assert_eq!(reply.len(), 2, "{reply:#?}");
    assert_eq!(
        reply[0],
        format!("flashtest: {device}: erase, program and verify 4 KiB at offset 0")
    );
    // The port was restarted after the error: the disk still answers.
    let again = flashtest(&mut q, "", SHORT);
    assert_eq!(again, reply, "a second try says the same");
    q.kill();
    if iotype == "write" {
        assert_file(&disk, 0, 0x00);
    }
    let _ = std::fs::remove_file(&disk);
    let _ = std::fs::remove_file(&rules);
    reply[1].clone()
}

#[test]
fn ahci_errors_are_reported_with_the_port_registers() {
    // QEMU's AHCI aborts a command whose disk I/O fails: a task-file error in PxIS (bit 30),
    // status DRDY|ERR and error ABRT in PxTFD.
    assert_eq!(
        failing_ahci_disk("ahci-eio-write", "write_aio", "write"),
        "flashtest: erase failed: AHCI disk: WRITE DMA EXT at sector 0 failed \
         (PxIS 0x40000001, PxTFD 0x441, PxSERR 0x0)"
    );
    assert_eq!(
        failing_ahci_disk("ahci-eio-read", "read_aio", "read"),
        "flashtest: read failed: AHCI disk: READ DMA EXT at sector 0 failed \
         (PxIS 0x40000001, PxTFD 0x441, PxSERR 0x0)"
    );
    assert_eq!(
        failing_ahci_disk("ahci-eio-flush", "flush_to_disk", "flush"),
        "flashtest: erase failed: AHCI disk: FLUSH CACHE EXT failed \
         (PxIS 0x40000001, PxTFD 0x441, PxSERR 0x0)"
    );
}
