//! The layouts lifeboat's stages hand each other, defined once. Every writer (stage 1 and 2
//! through `global_asm!` constant operands, the UEFI loader, the ROM stage, the media
//! builder) and every reader (hal, the firmware, the unpack stage, the demo image) takes its
//! offsets, magics, flags and addresses from here; `bootloader/layout.md` describes them.
//!
//! Pure and host-tested: constants, and the encoders and decoders of the boot-info block
//! and the hand-off over byte slices, so a host test can feed each writer's block to the
//! reader.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bootinfo;
pub mod cmos;
pub mod config;
pub mod efi;
pub mod memory;
pub mod rom;
pub mod stage1;

/// Little-endian field access on byte slices (shared by the codecs here).
pub(crate) mod le {
    #[inline(always)]
    pub fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }
    #[inline(always)]
    pub fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }
    #[inline(always)]
    pub fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from(u32_at(b, at)) | u64::from(u32_at(b, at + 4)) << 32
    }
    #[inline(always)]
    pub fn put(b: &mut [u8], at: usize, v: &[u8]) {
        b[at..at + v.len()].copy_from_slice(v);
    }
}
