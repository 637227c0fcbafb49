//! The system ROM (`lifeboat.rom`): its layout, written by the media builder
//! (`src/media.rs`) and read by the ROM stage (`rom/`).

/// Where things are in the ROM (mapped so that it ends at 4 GiB) and in RAM.
///
/// ```text
/// ROM end - 4 KiB   reset stub (.reset): real -> protected -> long mode; reset vector at -16
/// ROM end - 64 KiB  the stage image (linked at STAGE_BASE, copied there by the stub), ≤ 60 KiB
/// ROM end - 68 KiB  payload header (4 KiB): magic, firmware length, configuration text
/// below that        the packed firmware (unpack stage + compressed image), 4 KiB aligned
/// ROM start         0xFF fill (the ROM is a multiple of 64 KiB, as QEMU requires)
/// ```
pub mod layout {
    /// First byte above the ROM: it is mapped to end at 4 GiB.
    pub const ROM_END: u64 = 0x1_0000_0000;
    /// The top 64 KiB: the stage image and the reset stub (`LIFEBOAT_ROM_TOP` from build.rs).
    pub const TOP_LEN: usize = 64 * 1024;
    /// The reset stub: the last 4 KiB of the top.
    pub const RESET_LEN: usize = 4096;
    /// The payload header sits directly below the top.
    pub const HEADER_LEN: usize = 4096;
    /// Address of the payload header.
    pub const HEADER_ADDR: u64 = ROM_END - TOP_LEN as u64 - HEADER_LEN as u64;
    /// Where the stage image is linked and copied (rom/rom.ld).
    pub const STAGE_BASE: u64 = 0x2_0000;
    /// QEMU maps a `-bios` file only if its size is a multiple of 64 KiB.
    pub const ROM_GRANULE: usize = 64 * 1024;
    /// The largest ROM QEMU's pc and q35 boards map below 4 GiB (16 MiB with max-fw-size;
    /// the default is 8 MiB).
    pub const ROM_MAX: usize = 8 << 20;
    /// Where the configuration text goes in RAM (as stage 1 loads it).
    pub const CONFIG_ADDR: u64 = crate::memory::CONFIG_ADDR;
    /// The boot-info block.
    pub const BOOT_INFO: u64 = crate::memory::BOOT_INFO;
    /// Where the packed firmware is copied and entered.
    pub const PACKED_BASE: u64 = crate::memory::PACKED_BASE;
    /// The most the packed firmware may hold.
    pub const PACKED_MAX: usize = crate::memory::PACKED_MAX;

    /// Address of the packed firmware of `len` bytes in the ROM.
    pub const fn firmware_addr(len: usize) -> u64 {
        HEADER_ADDR - align_up(len as u64, 4096)
    }

    /// Bytes of the ROM holding a packed firmware of `len` bytes.
    pub const fn rom_len(firmware_len: usize) -> usize {
        let used = TOP_LEN + HEADER_LEN + align_up(firmware_len as u64, 4096) as usize;
        align_up(used as u64, ROM_GRANULE as u64) as usize
    }

    /// `v` rounded up to a multiple of `a`.
    pub const fn align_up(v: u64, a: u64) -> u64 {
        v.div_ceil(a) * a
    }
}

/// The payload header at [`layout::HEADER_ADDR`], written by the media builder.
pub mod payload {
    /// 16 bytes: the start of the header.
    pub const MAGIC: [u8; 16] = *b"LIFEBOAT-ROM-P1\0";
    /// u32: length of the packed firmware.
    pub const FIRMWARE_LEN: usize = 16;
    /// u32: length of the ROM (so the stage knows where the ROM starts).
    pub const ROM_LEN: usize = 20;
    /// 512 bytes: the configuration text (`key=value` lines), NUL-padded.
    pub const CONFIG: usize = 32;
    /// Bytes of the configuration text.
    pub const CONFIG_LEN: usize = crate::config::LEN;

    /// The firmware length in a header, if its magic is right.
    pub fn firmware_len(header: &[u8]) -> Option<usize> {
        if header.get(..16)? != MAGIC {
            return None;
        }
        let b = header.get(FIRMWARE_LEN..FIRMWARE_LEN + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
}
