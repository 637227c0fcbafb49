//! The boot confirmation in CMOS RAM (MC146818, index port 0x70, data port 0x71): a started
//! image writes the token the firmware handed it ([`crate::bootinfo::handoff`]) and then the
//! marker; the firmware takes and clears the five bytes at the next flash boot
//! (`docs/security.md`).

/// CMOS RAM index of the marker byte (high in the 128-byte bank, away from the clock, the
/// checksummed BIOS area and SeaBIOS's boot-order bytes); the token follows it.
pub const MARK_INDEX: u8 = 0x7B;
/// First of the four token bytes (little-endian), up to 0x7F.
pub const TOKEN_INDEX: u8 = 0x7C;
/// The marker value that means "a token follows".
pub const CONFIRMED: u8 = 0xC5;

const _: () = assert!(TOKEN_INDEX == MARK_INDEX + 1 && TOKEN_INDEX + 3 <= 0x7F);
