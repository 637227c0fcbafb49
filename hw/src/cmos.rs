//! CMOS RAM and the real-time clock (MC146818, index port 0x70, data port 0x71). Every PC has
//! them; an access touches no memory, so these are safe functions. Lifeboat's stages are
//! single-threaded with interrupts off, so the index/data pair is never split.
use crate::port;

/// The index port; bit 7 of what is written masks NMI.
pub const INDEX: u16 = 0x70;
/// The data port.
pub const DATA: u16 = 0x71;
/// Bit 7 of the index: NMI disabled while set.
pub const NMI_DISABLE: u8 = 0x80;

/// Reads CMOS byte `index` (0..0x7F); `nmi_disable` sets bit 7 of the index port.
pub fn read(index: u8, nmi_disable: bool) -> u8 {
    let nmi = if nmi_disable { NMI_DISABLE } else { 0 };
    // SAFETY: ports 0x70/0x71 are the CMOS pair on every PC; an access touches no memory;
    // the callers are single-threaded with interrupts off (module doc).
    unsafe {
        port::outb(INDEX, nmi | (index & 0x7F));
        port::inb(DATA)
    }
}

/// Writes CMOS byte `index` (0..0x7F); `nmi_disable` as in [`read`].
pub fn write(index: u8, value: u8, nmi_disable: bool) {
    let nmi = if nmi_disable { NMI_DISABLE } else { 0 };
    // SAFETY: as in `read`.
    unsafe {
        port::outb(INDEX, nmi | (index & 0x7F));
        port::outb(DATA, value);
    }
}
