//! The pure half of the unpack stage (`src/main.rs` is the other): the layout of the packed
//! firmware every medium and the ROM carry, its header, the unpack the stage runs and (with
//! the `pack` feature, on the host) the packer the media builder's build.rs runs. No
//! hardware access; tested on the host.
//!
//! The packed image is what the loaders (stage 2, the UEFI loader, the ROM stage) load: they
//! copy it to [`layout::LOAD`] and jump there with `rdi` = the boot-info block, as they once
//! jumped to the firmware. It is
//!
//! ```text
//! LOAD                 the unpack stage (code, rodata, data; src/main.rs, unpack.ld)
//! LOAD + stage length  the header (HEADER_LEN bytes, 16-aligned; `Header`)
//! then                 the firmware flat image, raw deflate (RFC 1951)
//! ```
//!
//! The stage checks the CRC-32 of the compressed bytes before it writes anything, inflates
//! them to [`layout::FIRMWARE_BASE`], checks the length, and jumps to the firmware with the
//! same `rdi`. Any mismatch prints one line on COM1 and the screen and halts: it never jumps
//! into a firmware it did not unpack whole.
#![cfg_attr(not(any(test, feature = "pack")), no_std)]
#![forbid(unsafe_code)]

use miniz_oxide::inflate::TINFLStatus;

/// Where things are in RAM while the stage runs.
pub mod layout {
    /// Where the firmware is linked, unpacked and entered (firmware/firmware.ld).
    pub const FIRMWARE_BASE: u64 = lifeboat_abi::memory::FIRMWARE_BASE;
    /// Where the loaders put the packed image and jump (unpack/unpack.ld): the firmware's
    /// stack guard (2-4 MiB), RAM nothing uses before the firmware runs and unmaps it.
    pub const LOAD: u64 = lifeboat_abi::memory::PACKED_BASE;
    /// The firmware's image and .bss end below the guard (firmware.ld asserts it), so the
    /// unpacked firmware can never reach the packed image it comes from.
    pub const FIRMWARE_MAX: usize = (LOAD - FIRMWARE_BASE) as usize;
    /// The packed image must end below the stage's .bss (0x3C0000, unpack.ld).
    pub const PACKED_MAX: usize = lifeboat_abi::memory::PACKED_MAX;
}

/// The header between the stage and the compressed firmware. Offsets in bytes.
pub mod field {
    use core::ops::Range;
    /// 8 bytes: [`super::MAGIC`].
    pub const MAGIC: Range<usize> = 0..8;
    /// u32: length of the firmware flat image once unpacked.
    pub const UNPACKED_LEN: Range<usize> = 8..12;
    /// u32: length of the compressed firmware that follows the header.
    pub const PACKED_LEN: Range<usize> = 12..16;
    /// u32: CRC-32 (ISO-HDLC, as zlib's) of the compressed bytes.
    pub const CRC: Range<usize> = 16..20;
    /// u32: the compression method ([`super::METHOD_DEFLATE`]).
    pub const METHOD: Range<usize> = 20..24;
    /// u64: where the firmware is unpacked and entered.
    pub const ENTRY: Range<usize> = 24..32;
}

/// Bytes of the header.
pub const HEADER_LEN: usize = 32;
/// The first 8 bytes of the header.
pub const MAGIC: [u8; 8] = *b"LBPACK1\0";
/// Raw deflate (RFC 1951), no zlib or gzip wrapper.
pub const METHOD_DEFLATE: u32 = 1;

/// The CRC the header carries: CRC-32/ISO-HDLC (zlib's, Ethernet's).
pub const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// The decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub unpacked_len: u32,
    pub packed_len: u32,
    pub crc: u32,
    pub entry: u64,
}

/// Why an unpack failed: each one line on the console (see [`Error::message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// No header where the stage ends (the image was not made by the media builder).
    BadMagic,
    /// A method this stage does not know.
    Method(u32),
    /// The header names more compressed bytes than there are.
    Truncated,
    /// The firmware would not fit below the packed image, or not at its entry.
    TooLarge,
    /// The compressed bytes do not match their CRC-32.
    Crc { expected: u32, found: u32 },
    /// The deflate stream is malformed (or unpacks to more than the header says).
    Inflate,
    /// The stream ended after fewer bytes than the header says.
    Length { expected: u32, found: u32 },
}

impl Error {
    /// The console line for this failure (without a line end).
    pub fn message(&self) -> &'static str {
        match self {
            Error::BadMagic => "lifeboat: no packed firmware after the unpack stage; halted",
            Error::Method(_) => "lifeboat: packed firmware in an unknown format; halted",
            Error::Truncated => "lifeboat: packed firmware cut short; halted",
            Error::TooLarge => "lifeboat: packed firmware too large for its memory; halted",
            Error::Crc { .. } => "lifeboat: firmware image corrupt (CRC-32 mismatch); halted",
            Error::Inflate => "lifeboat: firmware image corrupt (bad deflate stream); halted",
            Error::Length { .. } => "lifeboat: firmware image corrupt (wrong length); halted",
        }
    }
}

impl Header {
    /// Checks the magic, method and sizes of the header at the start of `bytes`; returns it
    /// and the compressed bytes that follow it.
    pub fn parse(bytes: &[u8]) -> Result<(Header, &[u8]), Error> {
        let h = bytes.get(..HEADER_LEN).ok_or(Error::BadMagic)?;
        if h[field::MAGIC] != MAGIC {
            return Err(Error::BadMagic);
        }
        let u32_at =
            |r: core::ops::Range<usize>| u32::from_le_bytes(h[r].try_into().expect("4-byte field"));
        let method = u32_at(field::METHOD);
        if method != METHOD_DEFLATE {
            return Err(Error::Method(method));
        }
        let header = Header {
            unpacked_len: u32_at(field::UNPACKED_LEN),
            packed_len: u32_at(field::PACKED_LEN),
            crc: u32_at(field::CRC),
            entry: u64::from_le_bytes(h[field::ENTRY].try_into().expect("8-byte field")),
        };
        if header.entry != layout::FIRMWARE_BASE
            || header.unpacked_len as usize > layout::FIRMWARE_MAX
        {
            return Err(Error::TooLarge);
        }
        let packed = bytes[HEADER_LEN..]
            .get(..header.packed_len as usize)
            .ok_or(Error::Truncated)?;
        Ok((header, packed))
    }

    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[field::MAGIC].copy_from_slice(&MAGIC);
        h[field::UNPACKED_LEN].copy_from_slice(&self.unpacked_len.to_le_bytes());
        h[field::PACKED_LEN].copy_from_slice(&self.packed_len.to_le_bytes());
        h[field::CRC].copy_from_slice(&self.crc.to_le_bytes());
        h[field::METHOD].copy_from_slice(&METHOD_DEFLATE.to_le_bytes());
        h[field::ENTRY].copy_from_slice(&self.entry.to_le_bytes());
        h
    }
}

/// The header and the compressed firmware at the start of `packed` (the bytes after the
/// stage): the CRC is checked before anything is unpacked.
pub fn check(packed: &[u8]) -> Result<(Header, &[u8]), Error> {
    let (header, data) = Header::parse(packed)?;
    let found = CRC32.checksum(data);
    if found != header.crc {
        return Err(Error::Crc {
            expected: header.crc,
            found,
        });
    }
    Ok((header, data))
}

/// Inflates the checked compressed firmware `data` of `header` into `out` (at least
/// `header.unpacked_len` bytes); returns the firmware's length.
pub fn inflate(header: &Header, data: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let want = header.unpacked_len as usize;
    let out = out.get_mut(..want).ok_or(Error::TooLarge)?;
    let n = miniz_oxide::inflate::decompress_slice_iter_to_slice(
        out,
        core::iter::once(data),
        false,
        true,
    )
    .map_err(|_: TINFLStatus| Error::Inflate)?;
    if n != want {
        return Err(Error::Length {
            expected: header.unpacked_len,
            found: n as u32,
        });
    }
    Ok(n)
}

/// Where the header is in a whole packed image (the stage's own code holds [`MAGIC`] too):
/// the 16-aligned offset whose header describes exactly the rest of the image (host tools).
pub fn header_offset(image: &[u8]) -> Option<usize> {
    (0..image.len()).step_by(16).find(|&at| {
        Header::parse(&image[at..])
            .is_ok_and(|(h, _)| at + HEADER_LEN + h.packed_len as usize == image.len())
    })
}

/// [`check`], then [`inflate`] into `out`.
pub fn unpack(packed: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let (header, data) = check(packed)?;
    inflate(&header, data, out)
}

/// The host's packer: the header and the deflated `firmware` (to go after the stage).
#[cfg(any(test, feature = "pack"))]
pub fn pack(firmware: &[u8]) -> Vec<u8> {
    // Level 10: miniz_oxide's slowest and smallest; the host pays once per build.
    pack_level(firmware, 10)
}

/// [`pack`] at a deflate level of miniz_oxide (0: stored blocks, no compression; 10: the
/// smallest).
#[cfg(any(test, feature = "pack"))]
pub fn pack_level(firmware: &[u8], level: u8) -> Vec<u8> {
    let data = miniz_oxide::deflate::compress_to_vec(firmware, level);
    let header = Header {
        unpacked_len: u32::try_from(firmware.len()).expect("firmware under 4 GiB"),
        packed_len: u32::try_from(data.len()).expect("firmware under 4 GiB"),
        crc: CRC32.checksum(&data),
        entry: layout::FIRMWARE_BASE,
    };
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(&data);
    out
}

/// The whole packed image: the stage's flat image (linked at [`layout::LOAD`], its length a
/// multiple of 16, ending where `__image_end` is), then [`pack`] of `firmware`.
#[cfg(any(test, feature = "pack"))]
pub fn packed_image(stage: &[u8], firmware: &[u8]) -> Vec<u8> {
    assert_eq!(stage.len() % 16, 0, "the unpack stage ends 16-aligned");
    let mut out = stage.to_vec();
    out.extend_from_slice(&pack(firmware));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Something firmware-like: code-ish bytes with repeats, some noise.
    fn firmware(len: usize) -> Vec<u8> {
        let mut x = 0x1234_5678u32;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if i % 7 < 4 {
                    (i / 64) as u8
                } else {
                    x as u8
                }
            })
            .collect()
    }

    #[test]
    fn round_trip() {
        let fw = firmware(200_000);
        let packed = pack(&fw);
        assert!(packed.len() < fw.len());
        let mut out = vec![0u8; layout::FIRMWARE_MAX];
        assert_eq!(unpack(&packed, &mut out), Ok(fw.len()));
        assert_eq!(&out[..fw.len()], &fw[..]);
        let (h, data) = check(&packed).unwrap();
        assert_eq!(h.unpacked_len as usize, fw.len());
        let mut image = vec![0x90u8; 64];
        image[8..16].copy_from_slice(&MAGIC);
        image.extend_from_slice(&packed);
        assert_eq!(header_offset(&image), Some(64));
        assert_eq!(data.len(), packed.len() - HEADER_LEN);
        assert_eq!(h.entry, layout::FIRMWARE_BASE);
    }

    #[test]
    fn stored_blocks_round_trip() {
        let fw = firmware(150_000);
        let packed = pack_level(&fw, 0);
        assert!(packed.len() > fw.len());
        let mut out = vec![0u8; layout::FIRMWARE_MAX];
        assert_eq!(unpack(&packed, &mut out), Ok(fw.len()));
        assert_eq!(&out[..fw.len()], &fw[..]);
    }

    #[test]
    fn header_round_trips() {
        let h = Header {
            unpacked_len: 261_720,
            packed_len: 146_000,
            crc: 0xDEAD_BEEF,
            entry: layout::FIRMWARE_BASE,
        };
        let mut bytes = h.to_bytes().to_vec();
        bytes.resize(HEADER_LEN + 146_000, 0);
        assert_eq!(Header::parse(&bytes).unwrap().0, h);
        assert_eq!(&bytes[..8], b"LBPACK1\0");
    }

    #[test]
    fn every_flipped_byte_is_caught_before_a_jump() {
        let fw = firmware(20_000);
        let packed = pack(&fw);
        let mut out = vec![0u8; layout::FIRMWARE_MAX];
        // A flipped bit anywhere: in the header or the data, never Ok with other bytes.
        for at in (0..packed.len()).step_by(7) {
            let mut bad = packed.clone();
            bad[at] ^= 0x10;
            match unpack(&bad, &mut out) {
                Ok(n) => panic!("corruption at {at} unpacked {n} bytes"),
                Err(e) => assert!(e.message().starts_with("lifeboat: "), "{e:?}"),
            }
        }
        // A corrupt stream whose CRC was recomputed (a packer bug, not a medium's) still
        // fails in the decoder or on the length, never with a whole firmware.
        let (h, data) = check(&packed).unwrap();
        let mut data = data.to_vec();
        let mid = data.len() / 2;
        data[mid] ^= 0xFF;
        let h = Header {
            crc: CRC32.checksum(&data),
            ..h
        };
        let mut bad = h.to_bytes().to_vec();
        bad.extend_from_slice(&data);
        if let Ok(n) = unpack(&bad, &mut out) {
            assert_ne!(
                &out[..n],
                &fw[..],
                "a corrupt stream gave the firmware back"
            );
        }
    }

    #[test]
    fn bad_headers_are_refused() {
        let fw = firmware(4_000);
        let packed = pack(&fw);
        let mut out = vec![0u8; layout::FIRMWARE_MAX];
        assert_eq!(unpack(&[0u8; 64], &mut out), Err(Error::BadMagic));
        assert_eq!(unpack(&packed[..10], &mut out), Err(Error::BadMagic));
        assert_eq!(
            unpack(&packed[..packed.len() - 1], &mut out),
            Err(Error::Truncated)
        );
        let mut big = packed.clone();
        big[field::UNPACKED_LEN].copy_from_slice(&(layout::FIRMWARE_MAX as u32 + 1).to_le_bytes());
        assert_eq!(unpack(&big, &mut out), Err(Error::TooLarge));
        let mut elsewhere = packed.clone();
        elsewhere[field::ENTRY].copy_from_slice(&layout::LOAD.to_le_bytes());
        assert_eq!(unpack(&elsewhere, &mut out), Err(Error::TooLarge));
        let mut method = packed.clone();
        method[field::METHOD].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(unpack(&method, &mut out), Err(Error::Method(2)));
        // A header that says more than the stream holds: the length check catches it.
        let mut long = packed.clone();
        long[field::UNPACKED_LEN].copy_from_slice(&(fw.len() as u32 + 1).to_le_bytes());
        assert_eq!(
            unpack(&long, &mut out),
            Err(Error::Length {
                expected: fw.len() as u32 + 1,
                found: fw.len() as u32
            })
        );
        // Less: the decoder has more to write than room.
        let mut short = packed;
        short[field::UNPACKED_LEN].copy_from_slice(&(fw.len() as u32 - 1).to_le_bytes());
        assert_eq!(unpack(&short, &mut out), Err(Error::Inflate));
    }
}
