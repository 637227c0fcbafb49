//! Stage 1's parameter block in the boot sector, patched by the media builder
//! (`src/media.rs`), read by stage 1 and 2 (through `global_asm!` constant operands).

/// Offset of the parameter block in the boot sector.
pub const PARAMS: usize = 0x1A0;
/// 4 bytes at [`PARAMS`]: the magic.
pub const MAGIC: [u8; 4] = *b"LBT1";
/// u16 at [`PARAMS`] + this: sectors to load after LBA 0.
pub const SECTORS: usize = 4;
/// u8: the medium kind ([`crate::bootinfo::medium`]).
pub const MEDIUM: usize = 6;
/// u8: the BIOS boot drive (DL), stored by stage 1 at run time.
pub const DRIVE: usize = 7;
/// u32: byte offset of the packed firmware on the medium.
pub const FIRMWARE_OFFSET: usize = 8;
/// u32: bytes of the packed firmware.
pub const FIRMWARE_SIZE: usize = 12;
/// Offset of the MBR partition table (USB stick and disk media).
pub const PARTITION_TABLE: usize = 0x1BE;

const _: () = assert!(PARAMS + FIRMWARE_SIZE + 4 <= PARTITION_TABLE);
