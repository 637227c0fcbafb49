//! The boot confirmation in CMOS RAM (MC146818, ports 0x70/0x71): how a started image tells
//! the firmware "I work" without touching the flash. It survives a reset (and, on real
//! hardware, a power cut: the CMOS has its own battery).
//!
//! Contract: the firmware hands every image it starts a 32-bit token (the boot-info
//! hand-off, [`crate::bootinfo::Handoff`]) that names the slot record the image was started
//! under. An image that runs well calls [`confirm_boot`] with that token: a marker byte at
//! [`MARK_INDEX`] and the token at [`TOKEN_INDEX`]..+4. At the next flash boot the firmware
//! takes the five bytes ([`take_confirmation`], which clears them) and confirms the slot
//! only if the token is the current record's. A byte left over from an earlier image, the
//! random contents of a CMOS after its battery died, or a BIOS that uses these bytes for
//! itself can therefore never confirm an image.
use lifeboat_hw::cmos::{read as cmos_read, write as cmos_write};

/// The marker's index, the token's first index and the marker value: one definition in
/// `lifeboat_abi::cmos`.
pub use lifeboat_abi::cmos::{CONFIRMED, MARK_INDEX, TOKEN_INDEX};

/// NMI stays enabled (bit 7 of the index port clear); the hardware core
/// (`lifeboat_hw::cmos`) does the port access.
fn write(index: u8, value: u8) {
    cmos_write(index, value, false)
}

fn read(index: u8) -> u8 {
    cmos_read(index, false)
}

/// For a started image: say it works, with the token the firmware handed over.
pub fn confirm_boot(token: u32) {
    for (i, b) in token.to_le_bytes().into_iter().enumerate() {
        write(TOKEN_INDEX + i as u8, b);
    }
    write(MARK_INDEX, CONFIRMED);
}

/// For the firmware: the token the image that ran last handed back, if it did. Clears the
/// bytes, so a token is taken once.
pub fn take_confirmation() -> Option<u32> {
    let mark = read(MARK_INDEX);
    let token = u32::from_le_bytes(core::array::from_fn(|i| read(TOKEN_INDEX + i as u8)));
    for i in MARK_INDEX..TOKEN_INDEX + 4 {
        write(i, 0);
    }
    (mark == CONFIRMED).then_some(token)
}
