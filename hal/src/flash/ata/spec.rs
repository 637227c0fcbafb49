//! The ATA and bus-master register spec "as in the standard": register offsets, bits,
//! command codes and IDENTIFY word offsets (ATA/ATAPI-6, SFF-8038i, PIIX4).

/// Bytes in a sector.
pub const SECTOR: usize = 512;
/// Most sectors moved by one command (the LBA28 limit; a count of 0 means 256).
pub(super) const MAX_SECTORS_PER_COMMAND: usize = 256;

/// Command block register offsets from the channel's command base (ATA/ATAPI-6 §7.1, Table 9).
pub mod reg {
    /// Data, 16 bits.
    pub const DATA: u16 = 0;
    /// Error (read) / Features (write).
    pub const ERROR: u16 = 1;
    /// Sector Count.
    pub const SECTOR_COUNT: u16 = 2;
    /// LBA Low (bits 7:0; 31:24 when written first in a 48-bit command).
    pub const LBA_LOW: u16 = 3;
    /// LBA Mid (bits 15:8; 39:32).
    pub const LBA_MID: u16 = 4;
    /// LBA High (bits 23:16; 47:40).
    pub const LBA_HIGH: u16 = 5;
    /// Device: DEV bit, LBA mode bit, LBA bits 27:24 in 28-bit commands.
    pub const DEVICE: u16 = 6;
    /// Status (read) / Command (write).
    pub const STATUS: u16 = 7;
    /// Control block: Alternate Status (read) / Device Control (write), at the control base.
    pub const ALT_STATUS: u16 = 0;
}

/// Status register bits (§7.15).
pub mod status {
    /// BSY: the device owns the registers.
    pub const BSY: u8 = 1 << 7;
    /// DRDY: the device accepts commands.
    pub const DRDY: u8 = 1 << 6;
    /// DF: device fault.
    pub const DF: u8 = 1 << 5;
    /// DRQ: ready to transfer a data block.
    pub const DRQ: u8 = 1 << 3;
    /// ERR: see the Error register.
    pub const ERR: u8 = 1 << 0;
}

/// Error register bits (§7.9, command-specific).
pub mod error {
    /// ICRC: interface CRC error.
    pub const ICRC: u8 = 1 << 7;
    /// UNC: uncorrectable data error.
    pub const UNC: u8 = 1 << 6;
    /// IDNF: address not found.
    pub const IDNF: u8 = 1 << 4;
    /// ABRT: command aborted (unsupported, or the device could not do it; a write-protected
    /// card aborts writes).
    pub const ABRT: u8 = 1 << 2;
}

/// Device register bits (§7.10).
pub(super) mod device {
    /// Obsolete bits 7 and 5, set for old devices.
    pub const OBS: u8 = 0xA0;
    /// LBA addressing.
    pub const LBA: u8 = 1 << 6;
    /// DEV: select device 1 (slave).
    pub const DEV1: u8 = 1 << 4;
}

/// Device Control bits (§7.8).
pub(super) mod control {
    /// nIEN: the device does not assert INTRQ.
    pub const NIEN: u8 = 1 << 1;
}

/// Command codes (§8).
pub mod command {
    /// IDENTIFY DEVICE.
    pub const IDENTIFY: u8 = 0xEC;
    /// READ SECTORS (LBA28 PIO).
    pub const READ_SECTORS: u8 = 0x20;
    /// READ SECTORS EXT (LBA48 PIO).
    pub const READ_SECTORS_EXT: u8 = 0x24;
    /// WRITE SECTORS (LBA28 PIO).
    pub const WRITE_SECTORS: u8 = 0x30;
    /// WRITE SECTORS EXT (LBA48 PIO).
    pub const WRITE_SECTORS_EXT: u8 = 0x34;
    /// READ DMA (LBA28).
    pub const READ_DMA: u8 = 0xC8;
    /// READ DMA EXT (LBA48).
    pub const READ_DMA_EXT: u8 = 0x25;
    /// WRITE DMA (LBA28).
    pub const WRITE_DMA: u8 = 0xCA;
    /// WRITE DMA EXT (LBA48).
    pub const WRITE_DMA_EXT: u8 = 0x35;
    /// FLUSH CACHE.
    pub const FLUSH_CACHE: u8 = 0xE7;
    /// FLUSH CACHE EXT.
    pub const FLUSH_CACHE_EXT: u8 = 0xEA;
}

/// Bus-master IDE registers of one channel, at BAR4 + 8 × channel (SFF-8038i §3; Intel
/// PIIX4 datasheet §3.5.4–3.5.6: BMICX, BMISX, BMIDTPX).
pub mod bm {
    /// Command: Start/Stop, Read/Write control.
    pub const COMMAND: u16 = 0;
    /// Status: Active, Error, Interrupt (the last two write-1-to-clear), drive DMA capable.
    pub const STATUS: u16 = 2;
    /// Descriptor table pointer (32-bit physical, dword aligned, not crossing 64 KiB).
    pub const PRDT: u16 = 4;
    /// Command: start the engine.
    pub const START: u8 = 1 << 0;
    /// Command: the engine writes memory (a device-to-memory transfer, i.e. READ DMA).
    pub const TO_MEMORY: u8 = 1 << 3;
    /// Status: the engine is transferring.
    pub const ACTIVE: u8 = 1 << 0;
    /// Status: a PRD or bus error stopped the transfer.
    pub const ERROR: u8 = 1 << 1;
    /// Status: the device raised its interrupt line (not with nIEN set).
    pub const INTERRUPT: u8 = 1 << 2;
}

/// IDENTIFY DEVICE word offsets (§8.15, Table 16).
pub mod identify {
    /// Model number, 40 ASCII characters, two per word, first character in the high byte.
    pub const MODEL: core::ops::Range<usize> = 27..47;
    /// Capabilities: bit 9 LBA supported.
    pub const CAPABILITIES: usize = 49;
    /// Total addressable sectors in 28-bit LBA (2 words, low first).
    pub const LBA28_SECTORS: usize = 60;
    /// Command sets supported: bit 13 FLUSH CACHE EXT, bit 12 FLUSH CACHE, bit 10 48-bit
    /// addresses; valid when bits 15:14 are 01.
    pub const COMMAND_SETS: usize = 83;
    /// Maximum user LBA for 48-bit addressing (4 words, low first).
    pub const LBA48_SECTORS: usize = 100;
}
