//! What machine this is, for the banner: the PCI host bridge at 00:00.0.
use x86_64::instructions::port::Port;

/// Vendor and device ID of the host bridge, read with PCI configuration mechanism #1.
pub fn host_bridge() -> (u16, u16) {
    // SAFETY: 0xCF8/0xCFC are the PCI configuration ports on every PC; reading
    // register 0 of 00:00.0 has no side effects.
    let id = unsafe {
        Port::<u32>::new(0xCF8).write(0x8000_0000);
        Port::<u32>::new(0xCFC).read()
    };
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
