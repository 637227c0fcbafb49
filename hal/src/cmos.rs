//! The boot-confirmation byte in CMOS RAM (MC146818, ports 0x70/0x71): how a started image
//! tells the firmware "I work" without touching the flash. It survives a reset (and, on real
//! hardware, a power cut: the CMOS has its own battery).
//!
//! Contract: an image that runs well calls [`confirm_boot`] (writes [`CONFIRMED`] at index
//! [`INDEX`]); at the next flash boot the firmware sees it, marks the slot confirmed and
//! clears the byte. An image that never does is rolled back after its boot budget.
use x86_64::instructions::port::Port;

/// CMOS RAM index of the byte (high in the 128-byte bank, away from the clock, the
/// checksummed BIOS area and SeaBIOS's boot-order bytes).
pub const INDEX: u8 = 0x7E;
/// The value that means "confirmed".
pub const CONFIRMED: u8 = 0xC5;
/// Bit 7 of the index port masks NMI; it stays clear (NMI enabled).
const NMI_ENABLED: u8 = 0x00;

fn access<R>(f: impl FnOnce(&mut Port<u8>) -> R) -> R {
    let mut index = Port::<u8>::new(0x70);
    let mut data = Port::<u8>::new(0x71);
    // SAFETY: ports 0x70/0x71 are the CMOS index/data pair on every PC; INDEX is a byte of
    // general-purpose CMOS RAM that neither the clock nor the BIOS checksum covers; the
    // firmware is single-threaded with interrupts off, so the index/data pair is not split.
    unsafe { index.write(NMI_ENABLED | INDEX) };
    f(&mut data)
}

/// For a started image: say it works.
pub fn confirm_boot() {
    // SAFETY: see `access`.
    access(|d| unsafe { d.write(CONFIRMED) })
}

/// For the firmware: did the image that ran last confirm itself? Clears the byte.
pub fn take_confirmation() -> bool {
    // SAFETY: see `access`.
    let v = access(|d| unsafe { d.read() });
    if v == CONFIRMED {
        // SAFETY: see `access`.
        access(|d| unsafe { d.write(0) });
    }
    v == CONFIRMED
}
