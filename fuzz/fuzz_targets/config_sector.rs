//! Fuzzes the boot media's configuration sector: up to 512 arbitrary bytes through
//! `BootConfig::parse`, without and with UEFI Secure Boot. No panic; every warning displays
//! and names a line that exists, quoting text taken from that line; the values are within
//! their documented ranges; padding the sector with NULs to 512 bytes changes nothing.
//!
//! Fail closed (issue 21): either a key is in force or the configuration is refused (with a
//! non-empty reason, and a refusing warning unless only Secure Boot refused it); never
//! keyless when the sector names a key (`pubkey` in any case, anywhere), nor when it holds
//! a byte that is not text before its NUL padding, nor when a non-comment line is not one of
//! the lower-case keys; never an all-zero key; keyless under Secure Boot is refused. A key in
//! force is in the sector as hex on a `pubkey=` line, and `pubkey=<hex>` parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_firmware::config::{BootConfig, ConfigWarning};

const SECTOR: usize = 512;
const BAUDS: [u32; 7] = [1200, 2400, 4800, 9600, 19200, 38400, 115200];
const KEYS: [&str; 5] = ["boot_timeout", "baud", "log", "mode", "pubkey"];

fn is_text(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\r' | b' '..=b'~')
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn parse(data: &[u8], secure_boot: bool) -> (BootConfig, Vec<ConfigWarning<'_>>) {
    let mut warnings = Vec::new();
    let cfg = BootConfig::parse(data, secure_boot, |w| {
        let shown = w.to_string();
        assert!(shown.starts_with("config line "), "{shown}");
        assert!(!w.why.is_empty());
        warnings.push(w);
    });
    (cfg, warnings)
}

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(SECTOR)];
    let (cfg, warnings) = parse(data, false);

    // Warnings name existing lines and quote text from them.
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    for w in &warnings {
        assert!(
            w.line >= 1 && w.line <= lines.len(),
            "{w:?} of {}",
            lines.len()
        );
        let line = lines[w.line - 1];
        assert!(
            w.text.is_empty() || line.windows(w.text.len()).any(|s| s == w.text.as_bytes()),
            "{w:?} not in line {:?}",
            String::from_utf8_lossy(line)
        );
    }
    assert!(cfg.boot_timeout_s <= 3600);
    assert!(BAUDS.contains(&cfg.baud));

    // Fail closed.
    assert!(
        cfg.trust_broken.is_none() || cfg.public_key.is_none(),
        "half trusted"
    );
    assert_eq!(
        cfg.trust_broken.is_some(),
        warnings.iter().any(|w| w.refuses),
        "a refusal without its line, or a refusing line without a refusal: {warnings:?}"
    );
    if let Some(why) = cfg.trust_broken {
        assert!(!why.is_empty());
    }
    if cfg.public_key.is_none() && cfg.trust_broken.is_none() {
        assert!(
            !contains_ci(data, b"pubkey"),
            "keyless although the sector names a key"
        );
    }
    assert_ne!(cfg.public_key, Some([0; 32]), "an all-zero key in force");
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if !data[..end].iter().all(|&b| is_text(b)) {
        assert!(
            cfg.trust_broken.is_some(),
            "a sector that is not text was accepted"
        );
    }
    if cfg.trust_broken.is_none() {
        // Accepted: every line is blank, a comment, or `key=value` with a lower-case key.
        let text = core::str::from_utf8(&data[..end]).expect("accepted text is ASCII");
        for line in text.lines().map(str::trim) {
            let known = line
                .split_once('=')
                .is_some_and(|(k, _)| KEYS.contains(&k.trim()));
            assert!(
                line.is_empty() || line.starts_with('#') || known,
                "accepted the line {line:?}"
            );
        }
    }

    // Under Secure Boot: the same, and keyless is refused.
    let (secure, secure_warnings) = parse(data, true);
    assert_eq!(secure_warnings, warnings);
    assert_eq!(secure.public_key, cfg.public_key);
    if cfg.public_key.is_none() {
        assert!(secure.trust_broken.is_some(), "keyless under Secure Boot");
    } else {
        assert_eq!(secure, cfg);
    }

    // NUL padding is padding.
    let mut sector = [0u8; SECTOR];
    sector[..data.len()].copy_from_slice(data);
    let (padded, padded_warnings) = parse(&sector, false);
    assert_eq!(padded, cfg);
    assert_eq!(padded_warnings, warnings);

    if let Some(key) = cfg.public_key {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let lower = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
        assert!(lower.contains(&hex), "{hex} not in the sector");
        let line = format!("pubkey={hex}\n");
        let (again, w) = parse(line.as_bytes(), false);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(again.public_key, Some(key));
    }
});
