//! The configuration text (`key=value` lines, printable ASCII, NUL-padded): where each
//! entry carries it, its keys and the console speeds it accepts. Its rules are
//! `lifeboat_firmware::config`'s and `docs/security.md`'s.

/// Bytes of the configuration (one sector; the same in the ROM and UEFI payloads).
pub const LEN: usize = 512;
/// The sector of the BIOS media that holds it (stage 1 loads it to
/// [`crate::memory::CONFIG_ADDR`]).
pub const SECTOR_LBA: u64 = 1;
/// The keys the firmware knows (exactly these, lower case).
pub const KEYS: [&str; 6] = [BOOT_TIMEOUT, BAUD, LOG, MODE, PUBKEY, TPM];
/// Seconds before the flash boot.
pub const BOOT_TIMEOUT: &str = "boot_timeout";
/// The console speed (one of [`BAUDS`]).
pub const BAUD: &str = "baud";
/// The log level.
pub const LOG: &str = "log";
/// `monitor` or `boothelper`.
pub const MODE: &str = "mode";
/// The unit's ed25519 key, 64 hex digits.
pub const PUBKEY: &str = "pubkey";
/// `required` or `optional`: whether installs and flash boots need a working TPM.
pub const TPM: &str = "tpm";
/// The console speeds the firmware accepts.
pub const BAUDS: [u32; 7] = [1200, 2400, 4800, 9600, 19200, 38400, 115200];
/// The console speed without a `baud=` line.
pub const DEFAULT_BAUD: u32 = 9600;

/// Whether `baud` is one the firmware accepts.
pub fn baud_accepted(baud: u32) -> bool {
    BAUDS.contains(&baud)
}
