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
use x86_64::instructions::port::Port;

/// The marker's index, the token's first index and the marker value: one definition in
/// `lifeboat_abi::cmos`.
pub use lifeboat_abi::cmos::{CONFIRMED, MARK_INDEX, TOKEN_INDEX};
/// Bit 7 of the index port masks NMI; it stays clear (NMI enabled).
const NMI_ENABLED: u8 = 0x00;

fn access<R>(index_value: u8, f: impl FnOnce(&mut Port<u8>) -> R) -> R {
    let mut index = Port::<u8>::new(0x70);
    let mut data = Port::<u8>::new(0x71);
    // SAFETY: ports 0x70/0x71 are the CMOS index/data pair on every PC; MARK_INDEX..=0x7F
    // are bytes of general-purpose CMOS RAM that neither the clock nor the BIOS checksum
    // covers; the firmware and the images it starts are single-threaded with interrupts
    // off, so the index/data pair is not split.
    unsafe { index.write(NMI_ENABLED | index_value) };
    f(&mut data)
}

fn write(index: u8, value: u8) {
    // SAFETY: see `access`.
    access(index, |d| unsafe { d.write(value) })
}

fn read(index: u8) -> u8 {
    // SAFETY: see `access`.
    access(index, |d| unsafe { d.read() })
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
