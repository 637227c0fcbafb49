//! IDENTIFY DEVICE decoded: model, size, LBA48 and FLUSH CACHE support.

use super::*;

/// What IDENTIFY DEVICE says about a disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtaInfo {
    /// Model number, ASCII, trailing spaces removed (see [`AtaInfo::model`]).
    pub(super) model: [u8; 40],
    pub(super) model_len: u8,
    /// Addressable sectors.
    pub sectors: u64,
    /// 48-bit addressing supported (used only beyond 2^28 sectors, i.e. never through the
    /// 32-bit offsets of the flash traits, but the size is taken from it).
    pub lba48: bool,
    /// FLUSH CACHE supported. Many CompactFlash cards have no write cache and abort it: then
    /// a write is on the medium when its command completes, and no flush is sent.
    pub flush: bool,
}

impl AtaInfo {
    /// Nothing known yet (before IDENTIFY).
    pub(crate) const UNKNOWN: AtaInfo = AtaInfo {
        model: [0; 40],
        model_len: 0,
        sectors: 0,
        lba48: false,
        flush: false,
    };

    /// Decode the 256 words of IDENTIFY DEVICE data.
    pub fn parse(words: &[u16; 256]) -> Result<AtaInfo, AtaError> {
        if words[identify::CAPABILITIES] & (1 << 9) == 0 {
            return Err(AtaError::NoLba);
        }
        let mut model = [0u8; 40];
        for (i, &w) in words[identify::MODEL].iter().enumerate() {
            model[2 * i] = (w >> 8) as u8;
            model[2 * i + 1] = w as u8;
        }
        let model_len = printable(&mut model);
        let lba28 = u64::from(words[identify::LBA28_SECTORS])
            | u64::from(words[identify::LBA28_SECTORS + 1]) << 16;
        let sets = words[identify::COMMAND_SETS];
        let sets = if sets >> 14 == 0b01 { sets } else { 0 };
        let lba48 = sets & (1 << 10) != 0;
        let flush = sets & (1 << 12) != 0;
        let sectors = if lba48 {
            let w = &words[identify::LBA48_SECTORS..identify::LBA48_SECTORS + 4];
            let n = w
                .iter()
                .rev()
                .fold(0u64, |acc, &x| acc << 16 | u64::from(x));
            n.max(lba28)
        } else {
            lba28
        };
        Ok(AtaInfo {
            model,
            model_len,
            sectors,
            lba48,
            flush,
        })
    }

    /// The model string ("QEMU HARDDISK").
    pub fn model(&self) -> &str {
        core::str::from_utf8(&self.model[..self.model_len as usize]).unwrap_or("?")
    }
}

/// Make a model string (ATA IDENTIFY, NVMe IDENTIFY CONTROLLER) printable: bytes outside
/// ASCII 0x20-0x7E become `?`; returns its length without trailing spaces.
#[inline(never)]
pub(crate) fn printable(model: &mut [u8; 40]) -> u8 {
    for b in model.iter_mut() {
        if !(0x20..0x7F).contains(b) {
            *b = b'?';
        }
    }
    model.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1) as u8
}
