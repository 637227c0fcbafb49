//! Fuzzes the image header parser and the verifier with arbitrary bytes (no panic; `verify`
//! accepting implies a sound header of the right length), and checks that an image built
//! from the input verifies and that flipping any one byte of it is caught.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_firmware::image::{self, Header, HeaderRepr, Kind, Policy, Version, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let policy = Policy {
        platform: image::PLATFORM,
        floor: Version::new(1, 0, 0),
        installed: Some(Version::new(6, 3, 5)),
        public_key: None,
    };
    if let Ok(h) = Header::new_checked(data) {
        let _ = (h.platform(), h.version(), h.kind(), h.signed(), h.load(), h.entry());
        let _ = (h.payload_len(), h.initrd_len(), h.payload_crc(), h.sha256(), h.cmdline());
        let _ = h.image_len();
        let _ = h.signature_ok(&[7u8; 32]);
    }
    if let Ok((h, _)) = image::verify(data, &policy) {
        assert_eq!(h.payload_len() as usize, data.len() - HEADER_LEN);
    }
    let keyed = Policy { public_key: Some(&[9u8; 32]), ..policy };
    let _ = image::verify(data, &keyed);
    if let Ok(text) = core::str::from_utf8(data) {
        if let Some(v) = Version::parse(text) {
            assert_eq!(Version::parse(&v.to_string()), Some(v));
        }
    }
    if data.len() >= 3 {
        let payload = &data[3..];
        let repr = HeaderRepr {
            platform: image::PLATFORM,
            version: Version::new(data[0].max(1), data[1], 5),
            kind: Kind::Flat64,
            load: 0x200_0000,
            entry: 0x200_0000,
            initrd_len: 0,
            cmdline: "",
        };
        let mut img = repr.emit(payload).unwrap().to_vec();
        img.extend_from_slice(payload);
        assert!(image::verify(&img, &policy).is_ok());
        let i = usize::from(data[2]) * 7 % img.len();
        img[i] ^= 0x01;
        assert!(image::verify(&img, &policy).is_err(), "flip at {i} undetected");
    }
});
