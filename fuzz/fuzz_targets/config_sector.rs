//! Fuzzes the boot media's configuration sector: up to 512 arbitrary bytes through
//! `BootConfig::parse`. No panic; every warning displays and names a line that exists with
//! text taken from the sector; the values are within their documented ranges; padding the
//! sector with NULs to 512 bytes changes nothing; a parsed public key round-trips its hex
//! (its 64 digits are in the sector, and `pubkey=<hex>` parses back to the same key).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_firmware::config::BootConfig;

const SECTOR: usize = 512;
const BAUDS: [u32; 7] = [1200, 2400, 4800, 9600, 19200, 38400, 115200];

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(SECTOR)];
    let mut warnings = Vec::new();
    let cfg = BootConfig::parse(data, |w| {
        let shown = w.to_string();
        assert!(shown.starts_with("config line "), "{shown}");
        warnings.push(w);
    });
    let text_end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    match core::str::from_utf8(&data[..text_end]) {
        Ok(text) => {
            let lines = text.lines().count();
            for w in &warnings {
                assert!(w.line >= 1 && w.line <= lines, "{w:?} of {lines} lines");
                assert!(text.contains(w.text), "{w:?}");
            }
        }
        Err(_) => {
            assert_eq!(cfg, BootConfig::default());
            assert_eq!(warnings.len(), 1);
        }
    }
    assert!(cfg.boot_timeout_s <= 3600);
    assert!(BAUDS.contains(&cfg.baud));

    let mut sector = [0u8; SECTOR];
    sector[..data.len()].copy_from_slice(data);
    let mut padded_warnings = 0;
    assert_eq!(BootConfig::parse(&sector, |_| padded_warnings += 1), cfg);
    assert_eq!(padded_warnings, warnings.len());

    if let Some(key) = cfg.public_key {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let lower = String::from_utf8_lossy(&data[..text_end]).to_ascii_lowercase();
        assert!(lower.contains(&hex), "{hex} not in the sector");
        let again = BootConfig::parse(format!("pubkey={hex}\n").as_bytes(), |w| {
            panic!("{w}");
        });
        assert_eq!(again.public_key, Some(key));
    }
});
