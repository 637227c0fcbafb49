//! Measured boot: what lifeboat extends into which PCR before it starts an image, and the
//! TCG2 crypto-agile event log that records it (TCG PC Client Platform Firmware Profile
//! 2.0, 10.2: a `TCG_PCR_EVENT` header carrying the Spec ID event, then `TCG_PCR_EVENT2`
//! entries with one SHA-256 digest each).
//!
//! PCRs 0-7 belong to the platform firmware that ran before lifeboat (SeaBIOS, OVMF);
//! lifeboat is the boot loader and measures into the loader's PCRs, as GRUB does:
//! - PCR 8 ([`PCR_CONFIG`]): the configuration sector lifeboat runs by (its SHA-256), then
//!   the image's command line as its header carries it (flat64 and linux alike; the
//!   per-boot token appended for a kernel is a nonce and is not measured);
//! - PCR 9 ([`PCR_IMAGE`]): the image started: its payload's SHA-256, as verified against
//!   the header before the jump.
//!
//! Each event is `EV_IPL` with a short text saying what was measured. A verifier replays
//! the log ([`replay`]) and compares with the PCRs it reads from the TPM.
#![forbid(unsafe_code)]

use sha2::{Digest, Sha256};

/// The configuration and the command line.
pub const PCR_CONFIG: u32 = 8;
/// The image.
pub const PCR_IMAGE: u32 = 9;
/// `EV_NO_ACTION`, the Spec ID event's type.
pub const EV_NO_ACTION: u32 = 3;
/// `EV_IPL`: what a boot loader measures.
pub const EV_IPL: u32 = 0x0D;
/// Bytes the log may take (the Spec ID event and a handful of events with short texts).
pub const CAPACITY: usize = 1024;

/// The log being written: the Spec ID event first, then one entry per extend.
pub struct EventLog {
    buf: [u8; CAPACITY],
    len: usize,
}

impl Default for EventLog {
    fn default() -> Self {
        Self::new()
    }
}

impl EventLog {
    /// A log holding only the Spec ID event (one algorithm: SHA-256).
    pub fn new() -> EventLog {
        let mut l = EventLog {
            buf: [0; CAPACITY],
            len: 0,
        };
        let mut spec = [0u8; 33];
        spec[..16].copy_from_slice(b"Spec ID Event03\0");
        // platformClass 0 (client), version 2.0 errata 2, UINTN 64-bit (2).
        spec[16..24].copy_from_slice(&[0, 0, 0, 0, 0, 2, 2, 2]);
        spec[24..28].copy_from_slice(&1u32.to_le_bytes());
        spec[28..30].copy_from_slice(&super::ALG_SHA256.to_le_bytes());
        spec[30..32].copy_from_slice(&32u16.to_le_bytes());
        // vendorInfoSize 0 (spec[32]).
        l.push(&0u32.to_le_bytes());
        l.push(&EV_NO_ACTION.to_le_bytes());
        l.push(&[0; 20]);
        l.push(&(spec.len() as u32).to_le_bytes());
        l.push(&spec);
        l
    }

    fn push(&mut self, b: &[u8]) -> bool {
        let Some(dst) = self.buf.get_mut(self.len..self.len + b.len()) else {
            return false;
        };
        dst.copy_from_slice(b);
        self.len += b.len();
        true
    }

    /// Appends an `EV_IPL` entry for `digest` extended into `pcr`, described by `text`;
    /// false (the log unchanged) when it is full.
    pub fn record(&mut self, pcr: u32, digest: &[u8; 32], text: &[u8]) -> bool {
        let need = 4 + 4 + 4 + 2 + 32 + 4 + text.len();
        if self.len + need > CAPACITY {
            return false;
        }
        self.push(&pcr.to_le_bytes());
        self.push(&EV_IPL.to_le_bytes());
        self.push(&1u32.to_le_bytes());
        self.push(&super::ALG_SHA256.to_le_bytes());
        self.push(digest);
        self.push(&(text.len() as u32).to_le_bytes());
        self.push(text)
    }

    /// The log's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// What a boot measures: the configuration sector, the image's command line, its payload
/// digest, and a description of the image (version, slot).
pub struct Measurement<'a> {
    pub config: &'a [u8],
    pub cmdline: &'a [u8],
    pub payload_sha256: [u8; 32],
    pub what: &'a str,
}

/// Extends the PCRs with `m` (each digest extended is also logged in `log`, before the
/// extend, so the log never misses one the TPM has).
pub fn measure(
    t: &mut impl super::Transport,
    m: &Measurement<'_>,
    log: &mut EventLog,
) -> Result<(), super::Error> {
    let config = sha256(m.config);
    let cmdline = sha256(m.cmdline);
    for (pcr, digest, text) in [
        (PCR_CONFIG, &config, &b"lifeboat configuration"[..]),
        (PCR_CONFIG, &cmdline, b"lifeboat command line"),
        (PCR_IMAGE, &m.payload_sha256, m.what.as_bytes()),
    ] {
        if !log.record(pcr, digest, text) {
            return Err(super::Error::Interface("the event log is full"));
        }
        super::pcr_extend(t, pcr, digest)?;
    }
    Ok(())
}

/// One entry of a log, as [`replay`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    pub pcr: u32,
    pub kind: u32,
    pub sha256: Option<[u8; 32]>,
    pub data: &'a [u8],
}

/// Reads a crypto-agile log (the Spec ID event first) and calls `each` for every entry
/// after it; false when the log does not parse (a verifier then trusts none of it).
pub fn events<'a>(log: &'a [u8], each: impl FnMut(Event<'a>)) -> bool {
    scan(log, each).is_some()
}

/// [`events`], returning where the last entry ends: an entry of type 0 with no data ends
/// the log (Linux's rule: a platform's log area is zero after its last entry).
fn scan<'a>(log: &'a [u8], mut each: impl FnMut(Event<'a>)) -> Option<usize> {
    fn le32(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }
    fn le16(b: &[u8], at: usize) -> Option<u16> {
        Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
    }
    let mut parse = || -> Option<usize> {
        // TCG_PCR_EVENT: pcr, type, SHA-1 digest, size, Spec ID event.
        let spec_len = le32(log, 28)? as usize;
        let spec = log.get(32..32usize.checked_add(spec_len)?)?;
        if le32(log, 4)? != EV_NO_ACTION || spec.get(..16)? != b"Spec ID Event03\0" {
            return None;
        }
        // The digest sizes the log uses, per algorithm.
        let n_alg = le32(spec, 24)? as usize;
        let sizes = |alg: u16| -> Option<usize> {
            (0..n_alg.min(16)).find_map(|i| {
                (le16(spec, 28 + 4 * i)? == alg).then(|| le16(spec, 30 + 4 * i).map(usize::from))?
            })
        };
        let mut at = 32 + spec_len;
        while at < log.len() {
            let start = at;
            let pcr = le32(log, at)?;
            let kind = le32(log, at + 4)?;
            let count = le32(log, at + 8)?;
            at += 12;
            let mut sha256 = None;
            for _ in 0..count.min(16) {
                let alg = le16(log, at)?;
                let len = sizes(alg)?;
                let d = log.get(at + 2..at + 2 + len)?;
                if alg == super::ALG_SHA256 {
                    sha256 = Some(d.try_into().ok()?);
                }
                at += 2 + len;
            }
            let size = le32(log, at)? as usize;
            if kind == 0 && size == 0 {
                return Some(start);
            }
            let data = log.get(at + 4..(at + 4).checked_add(size)?)?;
            at += 4 + size;
            each(Event {
                pcr,
                kind,
                sha256,
                data,
            });
        }
        Some(at)
    };
    parse()
}

/// Adds the entries of `ours` (an [`EventLog`]'s bytes) to the platform's log in `area` (the
/// ACPI TPM2 table's log area, where Linux reads the firmware's log): after its last entry
/// when it holds a crypto-agile log of the SHA-256 bank alone (SeaBIOS's on such a TPM), or
/// `ours` whole when it is empty (zeros, as the ROM's table loader leaves it). `None`, the
/// area unchanged, when it holds anything else (a log that also names SHA-1: lifeboat
/// extends and logs SHA-256 only) or has no room. Returns the bytes of log in the area.
pub fn append_to(area: &mut [u8], ours: &[u8]) -> Option<usize> {
    let own_end = scan(ours, |_| {})?;
    // Where our entries start: after our Spec ID event.
    let spec_len = u32::from_le_bytes(ours.get(28..32)?.try_into().ok()?) as usize;
    let first = 32 + spec_len;
    // Each entry must carry a digest for every algorithm the log's Spec ID event names
    // (Linux drops a log whose entries do not): only a log of the SHA-256 bank alone, as
    // lifeboat's (numberOfAlgorithms and the one algorithm at bytes 56..64), takes them.
    let (at, bytes) = match scan(area, |_| {}) {
        Some(end) if area.get(56..64) == ours.get(56..64) => (end, ours.get(first..own_end)?),
        Some(_) => return None,
        None if area.iter().take(own_end).all(|&b| b == 0) => (0, ours.get(..own_end)?),
        None => return None,
    };
    let dst = area.get_mut(at..at.checked_add(bytes.len())?)?;
    dst.copy_from_slice(bytes);
    Some(at + bytes.len())
}

/// The RSDP where a BIOS leaves it (ACPI 6.5, 5.2.5.1): on a 16-byte boundary in
/// 0xE0000-0xFFFFF (SeaBIOS puts it there; the EBDA is not searched).
pub fn find_rsdp(read: &mut dyn FnMut(u64, &mut [u8]) -> bool) -> Option<u64> {
    (0xE_0000u64..0x10_0000).step_by(16).find(|&a| {
        let mut sig = [0u8; 8];
        read(a, &mut sig) && &sig == b"RSD PTR "
    })
}

/// Finds the ACPI TPM2 table's log area (LASA, LAML; ACPI TPM2 table revision 4, 76 bytes)
/// from the RSDP at `rsdp`, reading memory through `read` (false: not readable).
pub fn acpi_log_area(
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
    rsdp: u64,
) -> Option<(u64, usize)> {
    let mut r = [0u8; 36];
    if !read(rsdp, &mut r) || &r[..8] != b"RSD PTR " {
        return None;
    }
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |v, &x| v << 8 | u64::from(x));
    // ACPI 2.0 and later: the XSDT (8-byte entries); else the RSDT (4-byte entries).
    let (root, width) = if r[15] >= 2 && le(&r[24..32]) != 0 {
        (le(&r[24..32]), 8)
    } else {
        (le(&r[16..20]), 4)
    };
    let mut h = [0u8; 36];
    if !read(root, &mut h) {
        return None;
    }
    let n = (le(&h[4..8]) as usize).saturating_sub(36) / width;
    for i in 0..n.min(64) {
        let mut e = [0u8; 8];
        if !read(root + 36 + (i * width) as u64, &mut e[..width]) {
            return None;
        }
        let table = le(&e[..width]);
        let mut t = [0u8; 76];
        if read(table, &mut t[..36])
            && &t[..4] == b"TPM2"
            && le(&t[4..8]) >= 76
            && read(table, &mut t)
        {
            let (laml, lasa) = (le(&t[64..68]) as usize, le(&t[68..76]));
            return (lasa != 0 && laml != 0).then_some((lasa, laml));
        }
    }
    None
}

/// SHA-256 of `b` (for verifiers: what an event's digest is of).
pub fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// What a TPM's SHA-256 PCR holding `pcr` holds after an extend with `digest`.
pub fn extend(pcr: &[u8; 32], digest: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(pcr);
    h.update(digest);
    h.finalize().into()
}

/// The SHA-256 value PCR `pcr` holds after the log's extends, starting from zero; `None`
/// when the log does not parse.
pub fn replay(log: &[u8], pcr: u32) -> Option<[u8; 32]> {
    let mut v = [0u8; 32];
    let ok = events(log, |e| {
        if let (true, Some(d)) = (e.pcr == pcr && e.kind != EV_NO_ACTION, e.sha256) {
            v = extend(&v, &d);
        }
    });
    ok.then_some(v)
}
