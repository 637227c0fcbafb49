//! What machine this is, for the banner: the PCI host bridge at 00:00.0.
use crate::pci::{Bdf, Config, ConfigSpace};

/// Vendor and device ID of the host bridge.
pub fn host_bridge() -> (u16, u16) {
    // SAFETY: every PC (and QEMU pc/q35) has configuration mechanism #1, or the ECAM window
    // its entry named; lifeboat is single-threaded, so nothing else is using either during
    // this one read.
    let mut cfg = unsafe { Config::new() };
    let id = cfg.read32(
        Bdf {
            bus: 0,
            dev: 0,
            func: 0,
        },
        0,
    );
    (id as u16, (id >> 16) as u16)
}

/// A short platform name for the banner.
pub fn name() -> &'static str {
    match host_bridge() {
        (0x8086, 0x1237) => "lifeboat-x86 (i440FX, QEMU pc)",
        (0x8086, 0x29C0) => "lifeboat-x86 (Q35/ICH9, QEMU q35)",
        (0xFFFF, _) => "lifeboat-x86 (no PCI)",
        _ => "lifeboat-x86 (PC)",
    }
}
