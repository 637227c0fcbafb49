//! The fault path, on one running unit: for each `crashtest` kind the console shows the fault
//! report (vector, name, RIP inside the firmware, error code, fault address), announces the
//! reset, waits about two seconds, resets (banner again), and the unit is usable again
//! (ESC → `monitor> `, and a command runs).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lifeboat::media::{self, MediaConfig};
use lifeboat_qemu::{Machine, Medium, Qemu};

const T: Duration = Duration::from_secs(60);
const BANNER: &str = "lifeboat recovery monitor 0.1.0";
const RESETTING: &str = "Resetting the unit in 2 seconds...";
/// Link address of the firmware's flat image.
const FIRMWARE_BASE: u64 = 0x10_0000;

/// After the banner: ESC in the flash-boot window, then `monitor> `.
fn interrupt_to_prompt(q: &mut Qemu) {
    q.expect("Use BREAK or ESC to interrupt flash boot.", T)
        .unwrap();
    q.send(b"\x1b").unwrap();
    q.expect("Flash boot interrupted.", T).unwrap();
    q.expect("Use ? for help.", T).unwrap();
    q.expect("monitor> ", T).unwrap();
}

/// `0x` + exactly `digits` hex digits (or any number of them when `digits` is 0).
fn hex(s: &str, digits: usize) -> u64 {
    let h = s
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("{s:?} lacks 0x"));
    if digits != 0 {
        assert_eq!(h.len(), digits, "{s:?}: expected {digits} hex digits");
    }
    u64::from_str_radix(h, 16).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// The RIP must point into the firmware image.
fn assert_in_firmware(rip: u64, report: &str) {
    let end = FIRMWARE_BASE + media::FIRMWARE.len() as u64;
    assert!(
        (FIRMWARE_BASE..end).contains(&rip),
        "RIP {rip:#x} outside the firmware [{FIRMWARE_BASE:#x}, {end:#x}): {report}"
    );
}

/// Types `crashtest <kind>`, returns the report text (after `*** `, up to the reset notice)
/// and the seconds from the notice to the next banner (the cursor is left after the banner).
fn crash(q: &mut Qemu, kind: &str) -> (String, f64) {
    q.send_line(&format!("crashtest {kind}")).unwrap();
    q.expect(&format!("crashtest {kind}\r\n"), T).unwrap();
    q.expect("crashtest: raising the fault now\r\n", T).unwrap();
    q.expect("*** ", T).unwrap();
    let report = q.expect(RESETTING, T).unwrap().trim_end().to_owned();
    let notice = Instant::now();
    q.expect(BANNER, T)
        .unwrap_or_else(|e| panic!("no reset after {kind}: {e}"));
    (report, notice.elapsed().as_secs_f64())
}

#[test]
fn every_crashtest_reports_resets_and_comes_back() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("faults");
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = MediaConfig {
        boot_timeout_s: 3,
        ..MediaConfig::default()
    };
    let set = media::write_media(&dir, &cfg).unwrap();
    let mut q = Qemu::launch(&Machine::new(Medium::Floppy, &set.floppy)).unwrap();
    q.expect(BANNER, T).unwrap();
    interrupt_to_prompt(&mut q);

    // Page fault: a read at 512 GiB (canonical, not mapped) → vector 14, error code 0
    // (not-present, read, supervisor), CR2 the address.
    let (report, delay) = crash(&mut q, "page-fault");
    let rest = report
        .strip_prefix("CPU exception 14 (page fault) at RIP ")
        .unwrap_or_else(|| panic!("page-fault report: {report:?}"));
    let parts: Vec<&str> = rest.split(", ").collect();
    assert_eq!(parts.len(), 3, "{report:?}");
    assert_in_firmware(hex(parts[0], 16), &report);
    assert_eq!(parts[1], "error code 0x0", "{report:?}");
    assert_eq!(parts[2], "address 0x0000008000000000", "{report:?}");
    assert!(
        delay >= 1.0,
        "reset {delay:.2} s after the notice (2 s announced)"
    );
    eprintln!("page-fault: {report} (reset after {delay:.2} s)");
    interrupt_to_prompt(&mut q);

    // Invalid opcode: `ud2` → vector 6, no error code pushed (reported as 0); RIP is the ud2.
    let (report, delay) = crash(&mut q, "invalid-opcode");
    let rest = report
        .strip_prefix("CPU exception 6 (invalid opcode) at RIP ")
        .unwrap_or_else(|| panic!("invalid-opcode report: {report:?}"));
    let (rip, error) = rest
        .split_once(", ")
        .unwrap_or_else(|| panic!("{report:?}"));
    let rip = hex(rip, 16);
    assert_in_firmware(rip, &report);
    let off = (rip - FIRMWARE_BASE) as usize;
    assert_eq!(
        &media::FIRMWARE[off..off + 2],
        &[0x0F, 0x0B],
        "RIP {rip:#x} is not a ud2: {report:?}"
    );
    assert_eq!(error, "error code 0x0", "{report:?}");
    assert!(
        delay >= 1.0,
        "reset {delay:.2} s after the notice (2 s announced)"
    );
    eprintln!("invalid-opcode: {report} (reset after {delay:.2} s)");
    interrupt_to_prompt(&mut q);

    // Panic: the panic message and its location.
    let (report, delay) = crash(&mut q, "panic");
    let rest = report
        .strip_prefix("firmware panic: ")
        .unwrap_or_else(|| panic!("panic report: {report:?}"));
    assert!(
        rest.contains("crashtest requested by the operator"),
        "{report:?}"
    );
    assert!(rest.contains(".rs:"), "panic location missing: {report:?}");
    assert!(
        delay >= 1.0,
        "reset {delay:.2} s after the notice (2 s announced)"
    );
    eprintln!("panic: {report} (reset after {delay:.2} s)");
    interrupt_to_prompt(&mut q);

    // Stack overflow: the recursion runs into the unmapped page below the stack (2-4 MiB);
    // the page fault is taken on its own IST stack and reported as an overflow, so nothing
    // in .bss was overwritten and the unit resets cleanly.
    let (report, delay) = crash(&mut q, "stack-overflow");
    let rest = report
        .strip_prefix("stack overflow: CPU exception ")
        .unwrap_or_else(|| panic!("stack-overflow report: {report:?}"));
    let (vector, rest) = rest.split_once(' ').unwrap_or_else(|| panic!("{report:?}"));
    assert!(vector == "14" || vector == "8", "{report:?}");
    let (_, addr) = rest
        .split_once("guard page hit at ")
        .unwrap_or_else(|| panic!("{report:?}"));
    let addr = hex(addr, 16);
    assert!((0x20_0000..0x40_0000).contains(&addr), "{report:?}");
    assert!(
        delay >= 1.0,
        "reset {delay:.2} s after the notice (2 s announced)"
    );
    eprintln!("stack-overflow: {report} (reset after {delay:.2} s)");
    interrupt_to_prompt(&mut q);

    // Usable again: a command runs and the prompt returns.
    q.send_line("?").unwrap();
    q.expect("reload", T).unwrap();
    q.expect("monitor> ", T).unwrap();
    // Four faults, four resets: five banners in all.
    assert_eq!(
        q.transcript().matches(BANNER).count(),
        5,
        "{}",
        q.transcript_printable()
    );
}
