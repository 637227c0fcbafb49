//! This unit's RAM as the firmware handed it to Linux (the E820 map in the zero page, which
//! Linux shows in `/sys/firmware/memmap`): what an image's placement is checked against, as
//! the monitor checks it at install.
use std::path::Path;

use lifeboat_firmware::ram::{mapped_ram, RamRegion};

pub use lifeboat_firmware::boot::LINUX_STAGING;

/// The firmware's own memory, which no image may be placed over: from 1 MiB to the top of
/// its stack (0x44_0000 today, `LIFEBOAT_FIRMWARE_END` of the build), rounded up to 16 MiB
/// with room to grow. Only ever stricter than the firmware's own check.
pub const FIRMWARE: RamRegion = RamRegion {
    base: 0x10_0000,
    len: 0x100_0000 - 0x10_0000,
};

/// E820 type of usable RAM.
const E820_RAM: u32 = 1;

/// One memmap entry's files (`start`, `end` inclusive, `type`) as text.
pub fn parse_entry(start: &str, end: &str, kind: &str) -> Option<(u64, u64, u32)> {
    let hex = |s: &str| u64::from_str_radix(s.trim().strip_prefix("0x")?, 16).ok();
    let (start, end) = (hex(start)?, hex(end)?);
    let len = end.checked_sub(start)?.checked_add(1)?;
    let kind = if kind.trim() == "System RAM" {
        E820_RAM
    } else {
        2
    };
    Some((start, len, kind))
}

/// Usable RAM below the identity map's end, from a memmap directory.
pub fn from_memmap(dir: &Path) -> Result<heapless::Vec<RamRegion, 64>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot learn this unit's RAM from {} ({e}): the kernel needs CONFIG_FIRMWARE_MEMMAP",
            dir.display()
        )
    })?;
    let mut entries = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        let read = |f: &str| std::fs::read_to_string(p.join(f)).unwrap_or_default();
        let entry = parse_entry(&read("start"), &read("end"), &read("type"))
            .ok_or_else(|| format!("{}: not a memory map entry", p.display()))?;
        entries.push(entry);
    }
    let ram = mapped_ram(entries);
    if ram.is_empty() {
        return Err(format!("{} lists no usable RAM", dir.display()));
    }
    Ok(ram)
}

/// This unit's usable RAM.
pub fn usable() -> Result<heapless::Vec<RamRegion, 64>, String> {
    from_memmap(Path::new("/sys/firmware/memmap"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_as_linux_writes_them() {
        assert_eq!(
            parse_entry("0x0\n", "0x9fbff\n", "System RAM\n"),
            Some((0, 0x9_fc00, 1))
        );
        assert_eq!(
            parse_entry("0xf0000", "0xfffff", "Reserved"),
            Some((0xf_0000, 0x1_0000, 2))
        );
        for (s, e) in [
            ("0x10", "0xf"),
            ("10", "0x20"),
            ("0x", "0x1"),
            ("0x0", "0xffffffffffffffff"),
        ] {
            assert_eq!(parse_entry(s, e, "System RAM"), None, "{s} {e}");
        }
    }

    #[test]
    fn a_memmap_directory_gives_usable_ram_and_garbage_is_refused() {
        let dir = std::env::temp_dir().join(format!("lifeboat-ctl-memmap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let entry = |i: u32, s: &str, e: &str, t: &str| {
            let d = dir.join(i.to_string());
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("start"), s).unwrap();
            std::fs::write(d.join("end"), e).unwrap();
            std::fs::write(d.join("type"), t).unwrap();
        };
        entry(0, "0x0\n", "0x9fbff\n", "System RAM\n");
        entry(1, "0x100000\n", "0xfffffff\n", "System RAM\n");
        entry(2, "0xfffc0000\n", "0xffffffff\n", "Reserved\n");
        let ram = from_memmap(&dir).unwrap();
        assert_eq!(ram.len(), 2);
        assert_eq!(
            ram[1],
            RamRegion {
                base: 0x10_0000,
                len: 0xff0_0000
            }
        );
        entry(3, "junk", "0x1", "System RAM");
        assert!(from_memmap(&dir).is_err());
        assert!(from_memmap(&dir.join("missing"))
            .unwrap_err()
            .contains("CONFIG_FIRMWARE_MEMMAP"));
    }
}
