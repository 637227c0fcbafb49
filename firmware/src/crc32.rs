//! CRC-32/ISO-HDLC (`zlib.crc32`), slice-by-8: the image payload's checksum, computed over
//! every byte at install and at every flash boot.
//!
//! The crc crate offers byte-at-a-time (1 KiB of table, about 5x slower here) or
//! slice-by-16 (16 KiB); slice-by-8 is the middle (8 KiB, built at compile time) and the
//! 8 KiB it saves is what the firmware's 256 KiB budget needed. Checked against the crc
//! crate in the tests.

const POLY: u32 = 0xEDB8_8320;

const fn tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

static T: [[u32; 256]; 8] = tables();

/// The CRC-32 in progress over bytes fed in pieces.
#[derive(Debug, Clone, Copy)]
pub struct Digest(u32);

impl Default for Digest {
    fn default() -> Self {
        Digest(!0)
    }
}

impl Digest {
    pub fn update(&mut self, mut data: &[u8]) {
        let mut c = self.0;
        while let Some((head, rest)) = data.split_first_chunk::<8>() {
            let a = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) ^ c;
            let b = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            c = T[7][(a & 0xFF) as usize]
                ^ T[6][((a >> 8) & 0xFF) as usize]
                ^ T[5][((a >> 16) & 0xFF) as usize]
                ^ T[4][(a >> 24) as usize]
                ^ T[3][(b & 0xFF) as usize]
                ^ T[2][((b >> 8) & 0xFF) as usize]
                ^ T[1][((b >> 16) & 0xFF) as usize]
                ^ T[0][(b >> 24) as usize];
            data = rest;
        }
        for &byte in data {
            c = T[0][((c ^ u32::from(byte)) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    pub fn finalize(self) -> u32 {
        !self.0
    }
}

/// The algorithm, as a value (`CRC32.checksum(bytes)`, `CRC32.digest()`).
#[derive(Debug, Clone, Copy)]
pub struct Crc32;

impl Crc32 {
    pub fn checksum(&self, data: &[u8]) -> u32 {
        let mut d = Digest::default();
        d.update(data);
        d.finalize()
    }

    pub fn digest(&self) -> Digest {
        Digest::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_crc_crate_for_every_length_and_split() {
        let oracle = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
        assert_eq!(Crc32.checksum(b"123456789"), 0xCBF4_3926);
        let data: std::vec::Vec<u8> = (0..4099u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in (0..64).chain([255, 256, 1023, 4096, 4099]) {
            let want = oracle.checksum(&data[..len]);
            assert_eq!(Crc32.checksum(&data[..len]), want, "{len}");
            for split in [0, 1, 3, 7, 8, 9, len / 2] {
                let split = split.min(len);
                let mut d = Crc32.digest();
                d.update(&data[..split]);
                d.update(&data[split..len]);
                assert_eq!(d.finalize(), want, "{len} split {split}");
            }
        }
    }
}
