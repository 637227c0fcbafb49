//! Fuzzes the image header parser and the verifier past their checksums.
//!
//! The first input byte `ctl` picks a mode (`ctl & 0b11`):
//! - 0, raw: the rest of the input as an image, untouched (mostly stops at the header CRC);
//!   plus `Version::parse` on it when it is UTF-8.
//! - 1, fixed up: the next 320 bytes are the header (zero-padded when short), the remainder
//!   the payload; then, as `ctl` says, bit 2 writes a valid magic/format/header length,
//!   bit 3 sets the payload length to the bytes present, bit 4 the payload CRC-32, bit 5 the
//!   SHA-256, bit 6 signs a header with the signed flag (fixed test key) or clears the
//!   signature of an unsigned one, bit 7 recomputes the header CRC (`image::seal`). So
//!   every field mutation reaches the field checks.
//! - 2 and 3, structured: a `HeaderRepr` and payload from the input (`arbitrary`), emitted;
//!   it must verify when its platform and version allow it; then one header byte is set as
//!   the input says and the header resealed.
//!
//! Whatever the mode: no panic, every accessor is total, refusals display, and an accepted
//! image has a consistent header (payload length = bytes present, initrd within the payload,
//! `image_len` = input length, platform and floor as the policy says, signed when keyed).
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use lifeboat_firmware::image::{
    self, Header, HeaderRepr, Kind, Policy, Verdict, Version, HEADER_LEN, PAYLOAD_MAX,
};
use sha2::{Digest, Sha256};

const FLOOR: Version = Version::new(1, 0, 0);
const INSTALLED: Version = Version::new(6, 3, 5);
/// Field offsets, as in `image.rs`'s table.
const PAYLOAD_LEN: usize = 48;
const PAYLOAD_CRC: usize = 64;
const SHA256: usize = 72;
const FLAGS: usize = 29;
const SIGNATURE: usize = 256;

fn key() -> ed25519_compact::KeyPair {
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7; 32]))
}

/// Every accessor, on any header `new_checked` let through.
fn read_all<T: AsRef<[u8]>>(h: &Header<T>) {
    let _ = (
        h.platform(),
        h.version(),
        h.kind(),
        h.signed(),
        h.load(),
        h.entry(),
    );
    let _ = (
        h.payload_len(),
        h.initrd_len(),
        h.payload_crc(),
        h.sha256(),
        h.cmdline(),
    );
    let _ = (h.bytes(), h.version().to_string());
    assert!(h.payload_len() <= PAYLOAD_MAX);
    assert!(h.initrd_len() <= h.payload_len());
    assert_eq!(h.image_len(), HEADER_LEN as u64 + h.payload_len());
    assert_eq!(h.kernel_len() + h.initrd_len(), h.payload_len());
    let _ = h.signature_ok(&[7u8; 32]);
}

/// Runs `img` through the parser and both policies; returns whether the keyless one accepted.
fn check(img: &[u8]) -> bool {
    if let Ok(h) = Header::new_checked(img) {
        read_all(&h);
    }
    let pk = *key().pk;
    let keyless = Policy {
        platform: image::PLATFORM,
        floor: FLOOR,
        installed: Some(INSTALLED),
        public_key: None,
    };
    let keyed = Policy {
        public_key: Some(&pk),
        ..keyless
    };
    let mut accepted = false;
    for policy in [&keyless, &keyed] {
        match image::verify(img, policy) {
            Ok((h, verdict)) => {
                read_all(&h);
                assert_eq!(h.payload_len() as usize, img.len() - HEADER_LEN);
                assert_eq!(h.image_len(), img.len() as u64);
                assert!(h.kind().is_ok());
                assert_eq!(h.platform(), image::PLATFORM);
                assert!(h.version() >= FLOOR);
                assert_eq!(
                    verdict == Verdict::Install,
                    h.version() >= INSTALLED,
                    "{verdict:?}"
                );
                // The payload hashes are what the header says.
                let payload = &img[HEADER_LEN..];
                assert_eq!(image::CRC32.checksum(payload), h.payload_crc());
                assert_eq!(&Sha256::digest(payload)[..], h.sha256());
                if policy.public_key.is_some() {
                    assert!(h.signed() && h.signature_ok(&pk));
                } else {
                    accepted = true;
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    accepted
}

fn raw(data: &[u8]) {
    check(data);
    if let Ok(text) = core::str::from_utf8(data) {
        if let Some(v) = Version::parse(text) {
            assert_eq!(Version::parse(&v.to_string()), Some(v));
        }
    }
}

fn fixed_up(ctl: u8, data: &[u8]) {
    let mut h = [0u8; HEADER_LEN];
    let n = data.len().min(HEADER_LEN);
    h[..n].copy_from_slice(&data[..n]);
    let payload = &data[n..];
    if ctl & 1 << 2 != 0 {
        h[0..4].copy_from_slice(&image::MAGIC);
        h[4..6].copy_from_slice(&image::FORMAT_VERSION.to_le_bytes());
        h[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    }
    if ctl & 1 << 3 != 0 {
        h[PAYLOAD_LEN..PAYLOAD_LEN + 8].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    }
    if ctl & 1 << 4 != 0 {
        h[PAYLOAD_CRC..PAYLOAD_CRC + 4]
            .copy_from_slice(&image::CRC32.checksum(payload).to_le_bytes());
    }
    if ctl & 1 << 5 != 0 {
        h[SHA256..SHA256 + 32].copy_from_slice(&Sha256::digest(payload));
    }
    if ctl & 1 << 7 != 0 {
        image::seal(&mut h);
    }
    if ctl & 1 << 6 != 0 {
        if h[FLAGS] & 1 != 0 {
            let kp = key();
            image::sign_header(&mut h, |m| *kp.sk.sign(m, None));
        } else {
            h[SIGNATURE..].fill(0);
        }
    }
    let mut img = h.to_vec();
    img.extend_from_slice(payload);
    check(&img);
}

#[derive(Debug, Arbitrary)]
struct Fields {
    /// `None`: this unit's platform id.
    platform: Option<String>,
    version: (u8, u8, u16),
    linux: bool,
    load: u64,
    entry: u64,
    initrd_len: u64,
    /// Taken modulo the payload length + 1 when set (an initrd that fits).
    initrd_fits: bool,
    cmdline: String,
    signed: bool,
    /// After the clean image was checked: set header byte `.0 % 320` to `.1` and reseal.
    tweak: Option<(u16, u8)>,
    payload: Vec<u8>,
}

fn structured(data: &[u8]) {
    let Ok(f) = Fields::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let platform = f.platform.as_deref().unwrap_or(image::PLATFORM);
    let initrd_len = if f.initrd_fits {
        f.initrd_len % (f.payload.len() as u64 + 1)
    } else {
        f.initrd_len
    };
    let repr = HeaderRepr {
        platform,
        version: Version::new(f.version.0, f.version.1, f.version.2),
        kind: if f.linux { Kind::Linux } else { Kind::Flat64 },
        load: f.load,
        entry: f.entry,
        initrd_len,
        cmdline: &f.cmdline,
    };
    let built = repr.emit(&f.payload);
    let buildable = platform.len() <= image::PLATFORM_MAX
        && f.cmdline.len() <= image::CMDLINE_MAX
        && initrd_len <= f.payload.len() as u64;
    assert_eq!(built.is_ok(), buildable, "{built:?}");
    let Ok(mut h) = built else {
        let _ = built.unwrap_err().to_string();
        return;
    };
    if f.signed {
        let kp = key();
        image::sign_header(&mut h, |m| *kp.sk.sign(m, None));
    }
    let mut img = h.to_vec();
    img.extend_from_slice(&f.payload);
    let accepted = check(&img);
    assert_eq!(
        accepted,
        // The platform id is read up to its first NUL.
        platform.split('\0').next() == Some(image::PLATFORM) && repr.version >= FLOOR,
        "{repr:?}"
    );
    let parsed = Header::new_checked(&img[..]).unwrap();
    assert_eq!(
        (
            parsed.version(),
            parsed.kind(),
            parsed.load(),
            parsed.entry()
        ),
        (repr.version, Ok(repr.kind), repr.load, repr.entry)
    );
    assert_eq!(parsed.initrd_len(), initrd_len);
    assert_eq!(parsed.signed(), f.signed);
    if !f.cmdline.contains('\0') {
        assert_eq!(parsed.cmdline(), f.cmdline);
    }
    if let Some((at, value)) = f.tweak {
        h[usize::from(at) % HEADER_LEN] = value;
        image::seal(&mut h);
        img[..HEADER_LEN].copy_from_slice(&h);
        check(&img);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    match ctl & 0b11 {
        0 => raw(rest),
        1 => fixed_up(ctl, rest),
        _ => structured(rest),
    }
});
