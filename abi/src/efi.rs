//! The UEFI loader (`BOOTX64.EFI`): the payload block the media builder patches into it and
//! the loader reads, and the pages it keeps for the firmware.

/// The payload block inside the loader's `.data`: found by [`payload::MAGIC`], filled by the
/// media builder (`src/media.rs`), read by the loader at run time. Offsets in bytes from the
/// start of the magic.
pub mod payload {
    /// 16 bytes that occur once in the loader image: the start of the block.
    pub const MAGIC: [u8; 16] = *b"LIFEBOAT-UEFI-P1";
    /// u32: medium kind for the boot-info block (2 USB stick, 3 disk; 0 = not patched).
    pub const MEDIUM: usize = 16;
    /// u32: length of the packed firmware (the unpack stage, then the compressed image).
    pub const FIRMWARE_LEN: usize = 20;
    /// u64: end of the firmware's memory (image, .bss, stack): what the loader allocates
    /// from [`FIRMWARE_BASE`]; the packed firmware runs inside it.
    pub const FIRMWARE_END: usize = 24;
    /// 512 bytes: the configuration text (`key=value` lines), NUL-padded, as in the
    /// configuration sector of the BIOS media.
    pub const CONFIG: usize = 32;
    /// Bytes of the configuration text.
    pub const CONFIG_LEN: usize = crate::config::LEN;
    /// The packed firmware, linked at [`PACKED_BASE`].
    pub const FIRMWARE: usize = CONFIG + CONFIG_LEN;
    /// Room for the packed firmware (its budget is 180 KiB; the rest is headroom).
    pub const FIRMWARE_MAX: usize = 256 * 1024;
    /// Bytes of the whole block.
    pub const LEN: usize = FIRMWARE + FIRMWARE_MAX;
    /// Where the firmware is linked (and unpacked): the start of the range the loader
    /// allocates.
    pub const FIRMWARE_BASE: u64 = crate::memory::FIRMWARE_BASE;
    /// Where the packed firmware is copied and entered (`lifeboat_unpack::layout::LOAD`):
    /// its unpack stage inflates the firmware to [`FIRMWARE_BASE`] and starts it.
    pub const PACKED_BASE: u64 = crate::memory::PACKED_BASE;
}

/// The UEFI memory type of the loader's own pages that must survive into the firmware
/// (boot-info block, configuration, page tables): an OS-defined type (0x8000_0000 and up),
/// so the E820 list has them reserved.
pub const RESERVED_TYPE: u32 = 0x8000_0000;
/// Offset of the configuration in the loader's kept pages (after the boot-info block).
pub const KEPT_CONFIG: usize = crate::memory::BOOT_INFO_LEN;
/// Offset of the page tables in the loader's kept pages.
pub const KEPT_PAGE_TABLES: usize = 0x1000;
/// Pages the loader keeps: the block and configuration, then six pages of tables.
pub const KEPT_PAGES: usize = 7;
