//! Fuzzes the unpack stage's check and inflate (`lifeboat_unpack::unpack`), the code that
//! runs on every boot before the firmware.
//!
//! The first input byte `ctl`: bit 0 puts a valid header (magic, method, entry) in front of
//! the rest, bit 1 sets its compressed length to the bytes present and bit 2 its CRC-32, so
//! the inflater sees arbitrary deflate streams; the next 4 bytes give the unpacked length.
//! Whatever the input: no panic, and an accepted image unpacks to exactly the length its
//! header names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_unpack::{field, layout, unpack, Header, CRC32, HEADER_LEN, MAGIC};

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let mut image = Vec::with_capacity(rest.len() + HEADER_LEN);
    if ctl & 1 != 0 && rest.len() >= 4 {
        let (len, body) = rest.split_at(4);
        let mut h = [0u8; HEADER_LEN];
        h[field::MAGIC].copy_from_slice(&MAGIC);
        h[field::UNPACKED_LEN].copy_from_slice(len);
        h[field::METHOD].copy_from_slice(&1u32.to_le_bytes());
        h[field::ENTRY].copy_from_slice(&layout::FIRMWARE_BASE.to_le_bytes());
        if ctl & 2 != 0 {
            h[field::PACKED_LEN].copy_from_slice(&(body.len() as u32).to_le_bytes());
        }
        if ctl & 4 != 0 {
            h[field::CRC].copy_from_slice(&CRC32.checksum(body).to_le_bytes());
        }
        image.extend_from_slice(&h);
        image.extend_from_slice(body);
    } else {
        image.extend_from_slice(rest);
    }
    let mut out = vec![0u8; layout::FIRMWARE_MAX];
    match unpack(&image, &mut out) {
        Ok(n) => {
            let (h, _) = Header::parse(&image).expect("an accepted image has a header");
            assert_eq!(n, h.unpacked_len as usize);
        }
        Err(e) => assert!(e.message().starts_with("lifeboat: ")),
    }
});
