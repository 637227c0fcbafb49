//! The defmt channel on COM2: boot with COM2 captured to a file, drive the console through a
//! `reload` and a `crashtest page-fault`, then decode the capture against the firmware ELF with
//! `defmt-decoder` and check the structured log end to end: the ELF carries a defmt table (so the
//! firmware was linked with `-Tdefmt.x`), every rzcobs frame decodes, and the messages, levels
//! and arguments are the ones the firmware logged, in order, agreeing with the console.

use std::path::PathBuf;
use std::time::Duration;

use defmt_decoder::{DecodeError, Table};
use lifeboat::media::{self, MediaConfig};
use lifeboat_qemu::{Machine, Medium, Qemu};

const T: Duration = Duration::from_secs(60);
const BANNER: &str = "lifeboat recovery monitor 0.1.0";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One decoded defmt frame.
#[derive(Debug)]
struct Line {
    level: String,
    timestamp: Option<String>,
    message: String,
}

/// Decodes an rzcobs byte stream; returns the frames and the number of malformed ones.
fn decode(table: &Table, bytes: &[u8]) -> (Vec<Line>, usize) {
    let mut decoder = table.new_stream_decoder();
    decoder.received(bytes);
    let mut lines = Vec::new();
    let mut malformed = 0;
    loop {
        match decoder.decode() {
            Ok(frame) => lines.push(Line {
                level: frame
                    .level()
                    .map(|l| l.as_str().to_owned())
                    .unwrap_or_default(),
                timestamp: frame.display_timestamp().map(|t| t.to_string()),
                message: frame.display_message().to_string(),
            }),
            Err(DecodeError::UnexpectedEof) => break,
            Err(DecodeError::Malformed) => malformed += 1,
        }
    }
    (lines, malformed)
}

/// Parses `0x...` or decimal.
fn number(s: &str) -> u64 {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|e| panic!("not a number: {s:?}: {e}"))
}

/// From the banner to `monitor> `, interrupting the flash-boot window with ESC.
fn interrupt_to_prompt(q: &mut Qemu) {
    q.expect(BANNER, T).unwrap();
    q.expect("Use BREAK or ESC to interrupt flash boot.", T)
        .unwrap();
    q.send(b"\x1b").unwrap();
    q.expect("Flash boot interrupted.", T).unwrap();
    q.expect("monitor> ", T).unwrap();
}

#[test]
fn com2_carries_decodable_defmt_frames() {
    let elf_path = media::firmware_elf();
    let elf = std::fs::read(&elf_path)
        .unwrap_or_else(|e| panic!("reading firmware ELF {}: {e}", elf_path.display()));
    let table = Table::parse(&elf)
        .expect("parsing the firmware's defmt table")
        .unwrap_or_else(|| {
            panic!(
                "{} has no .defmt section: the firmware was linked without -Tdefmt.x",
                elf_path.display()
            )
        });
    assert!(
        table.has_timestamp(),
        "the firmware defines a defmt timestamp"
    );
    let info_entries = table
        .raw_symbols()
        .filter(|s| s.contains(r#""tag":"defmt_info""#))
        .count();
    assert!(
        info_entries > 0,
        "the firmware's defmt table has no info-level entries: defmt::info! is compiled out \
         (defmt's default filter is `error` when DEFMT_LOG is unset at firmware build time). \
         Entries: {:#?}",
        table.raw_symbols().collect::<Vec<_>>()
    );

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("defmt-channel");
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = MediaConfig {
        boot_timeout_s: 3,
        ..MediaConfig::default()
    };
    let set = media::write_media(&dir, &cfg).unwrap();
    let com2 = dir.join("com2.bin");
    let machine = Machine::new(Medium::Floppy, &set.floppy).com2_file(&com2);
    let mut q = Qemu::launch(&machine).unwrap();

    // Boot 1: interrupt, then `reload`.
    interrupt_to_prompt(&mut q);
    q.send_line("reload").unwrap();
    q.expect("Rebooting...", T).unwrap();
    // Boot 2: interrupt, then a page fault.
    interrupt_to_prompt(&mut q);
    q.send_line("crashtest page-fault").unwrap();
    q.expect("*** CPU exception 14 (page fault) at RIP ", T)
        .unwrap();
    let console_rip = number(&q.expect(",", T).unwrap());
    q.expect("Resetting the unit in 2 seconds...", T).unwrap();
    // Boot 3: the banner again, so the fault's frame has long been written.
    q.expect(BANNER, T).unwrap();
    q.expect("Use BREAK or ESC to interrupt flash boot.", T)
        .unwrap();
    q.kill();

    let bytes = std::fs::read(&com2).unwrap();
    assert!(!bytes.is_empty(), "nothing arrived on COM2");
    let (lines, malformed) = decode(&table, &bytes);
    let dump = lines
        .iter()
        .map(|l| {
            format!(
                "{} {:5} {}",
                l.timestamp.as_deref().unwrap_or("-"),
                l.level,
                l.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!(
        "COM2: {} bytes, {} frames, {malformed} malformed\n{dump}",
        bytes.len(),
        lines.len()
    );
    assert_eq!(
        malformed,
        0,
        "malformed defmt frames on COM2 ({} bytes):\n{dump}",
        bytes.len()
    );
    assert!(
        lines.iter().all(|l| l.timestamp.is_some()),
        "every frame has a timestamp:\n{dump}"
    );

    // The expected sequence, in order (other frames may come between).
    let up = format!("lifeboat {VERSION} up, TSC ");
    let expected: [(&str, &str); 9] = [
        ("info", &up),
        ("info", "boot drive 0x0, "),
        ("info", "flash boot interrupted"),
        ("info", "reload"),
        ("info", &up),
        ("info", "boot drive 0x0, "),
        ("info", "flash boot interrupted"),
        ("error", "CPU exception 14 at rip="),
        ("info", &up),
    ];
    let mut found = Vec::new();
    let mut at = 0;
    for (level, prefix) in expected {
        let i = lines[at..]
            .iter()
            .position(|l| l.message.starts_with(prefix))
            .map(|i| at + i)
            .unwrap_or_else(|| panic!("no {prefix:?} after frame {at}:\n{dump}"));
        assert_eq!(lines[i].level, level, "level of {:?}", lines[i].message);
        found.push(i);
        at = i + 1;
    }

    // Arguments decode to plausible values.
    let up_line = &lines[found[0]].message;
    let khz = number(up_line[up.len()..].trim_end_matches(" kHz"));
    assert!(
        (100_000..20_000_000).contains(&khz),
        "TSC {khz} kHz: {up_line}"
    );
    let drive_line = &lines[found[1]].message;
    let regions = number(drive_line["boot drive 0x0, ".len()..].trim_end_matches(" E820 regions"));
    assert!((1..=128).contains(&regions), "{drive_line}");

    // The fault frame agrees with the console report: same RIP, inside the firmware image,
    // error code 0 (read of a not-present page).
    let fault = &lines[found[7]].message;
    let rest = &fault["CPU exception 14 at rip=".len()..];
    let (rip, error) = rest
        .split_once(" error=")
        .unwrap_or_else(|| panic!("{fault}"));
    assert_eq!(
        number(rip),
        console_rip,
        "defmt and console RIP differ: {fault}"
    );
    let base = 0x10_0000u64;
    assert!(
        (base..base + media::FIRMWARE.len() as u64).contains(&console_rip),
        "RIP {console_rip:#x} outside the firmware image"
    );
    assert_eq!(number(error), 0, "{fault}");
}
