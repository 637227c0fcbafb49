//! The appliance image format, defined once for the firmware and the host tool (`mkimage`,
//! `inspect`): a 320-byte header followed by the payload.
//!
//! | offset | size | field (little-endian) |
//! |---|---|---|
//! | 0 | 4 | magic `LBIM` |
//! | 4 | 2 | format version (1) |
//! | 6 | 2 | header length (320) |
//! | 8 | 16 | platform id, ASCII, NUL-padded (e.g. `lifeboat-x86`) |
//! | 24 | 4 | image version: major u8, minor u8, maintenance u16 (`6.3(5)`) |
//! | 28 | 1 | payload kind: 1 `flat64`, 2 `linux` |
//! | 29 | 1 | flags: bit 0 signed |
//! | 30 | 2 | reserved (0) |
//! | 32 | 8 | load address (`flat64`; 0 for `linux`) |
//! | 40 | 8 | entry (`flat64`; 0 for `linux`) |
//! | 48 | 8 | payload length (for `linux`: kernel then initrd) |
//! | 56 | 8 | initrd length (`linux`; the last bytes of the payload) |
//! | 64 | 4 | CRC-32/ISO-HDLC of the payload |
//! | 68 | 4 | reserved (0) |
//! | 72 | 32 | SHA-256 of the payload |
//! | 104 | 120 | kernel command line (`linux`), NUL-padded |
//! | 224 | 28 | reserved (0) |
//! | 252 | 4 | CRC-32 of bytes 0..252 (the header CRC) |
//! | 256 | 64 | ed25519 signature of bytes 0..256 (zero when unsigned) |
//!
//! The signature covers the header, which holds the payload's SHA-256: one signature binds
//! the whole image. An image is checked in three parts, each written once here, and never
//! panics on any input:
//! - the header: [`Header::new_checked`], a checked zero-copy view in smoltcp's `Packet` style;
//! - the payload's integrity: [`PayloadCheck`], fed in pieces (RAM, or flash read back);
//! - the unit's policy: [`Policy::admit`] (platform, version floor, signature).
//!
//! [`verify`] is the three over a whole image in RAM (a download, the host tool), and says
//! whether it is a downgrade. The flash slots run the same three over a slot
//! ([`crate::install::Slots::check`], and [`crate::install::Slots::load_into`] for the
//! boot, which reads the payload straight into the RAM it runs from).
//!
//! `flat64` contract: the payload is copied to `load` and entered at `entry` in 64-bit long
//! mode on the identity map of the low 4 GiB, interrupts off, `rdi` = the boot-info block,
//! with a stack below `load`.
use core::fmt;

use sha2::{Digest, Sha256};

/// Bytes before the payload.
pub const HEADER_LEN: usize = 320;
pub const MAGIC: [u8; 4] = *b"LBIM";
pub const FORMAT_VERSION: u16 = 1;
/// Longest command line, without NUL.
pub const CMDLINE_MAX: usize = 119;
pub const PLATFORM_MAX: usize = 16;
/// The longest payload a header may declare: flash offsets are 32-bit, so header and
/// payload together stay below 4 GiB (and every length sum below is then exact).
pub const PAYLOAD_MAX: u64 = u32::MAX as u64 - HEADER_LEN as u64;
/// The platform id this firmware accepts.
pub const PLATFORM: &str = "lifeboat-x86";

mod field {
    use core::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const FORMAT: Range<usize> = 4..6;
    pub const HEADER_LEN: Range<usize> = 6..8;
    pub const PLATFORM: Range<usize> = 8..24;
    pub const VERSION: Range<usize> = 24..28;
    pub const KIND: usize = 28;
    pub const FLAGS: usize = 29;
    pub const LOAD: Range<usize> = 32..40;
    pub const ENTRY: Range<usize> = 40..48;
    pub const PAYLOAD_LEN: Range<usize> = 48..56;
    pub const INITRD_LEN: Range<usize> = 56..64;
    pub const PAYLOAD_CRC: Range<usize> = 64..68;
    pub const SHA256: Range<usize> = 72..104;
    pub const CMDLINE: Range<usize> = 104..224;
    pub const HEADER_CRC: Range<usize> = 252..256;
    pub const SIGNED_PART: Range<usize> = 0..256;
    pub const SIGNATURE: Range<usize> = 256..320;
}

const FLAG_SIGNED: u8 = 1;

/// CRC-32/ISO-HDLC, as `zlib.crc32`.
pub const CRC32: crate::crc32::Crc32 = crate::crc32::Crc32;

/// What the payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Flat64,
    Linux,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Flat64 => "flat64",
            Kind::Linux => "linux",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "flat64" => Some(Kind::Flat64),
            "linux" => Some(Kind::Linux),
            _ => None,
        }
    }
    fn code(self) -> u8 {
        match self {
            Kind::Flat64 => 1,
            Kind::Linux => 2,
        }
    }
}

/// An image version, shown PIX-style: `6.3(5)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
    pub maint: u16,
}

impl Version {
    pub const fn new(major: u8, minor: u8, maint: u16) -> Self {
        Version {
            major,
            minor,
            maint,
        }
    }

    /// `6.3(5)`, `6.3.5` or `6.3`.
    pub fn parse(s: &str) -> Option<Version> {
        let (mm, maint) = match s.split_once('(') {
            Some((mm, rest)) => (mm, rest.strip_suffix(')')?),
            None => match s.matches('.').count() {
                2 => s.rsplit_once('.')?,
                1 => (s, "0"),
                _ => return None,
            },
        };
        let (major, minor) = mm.split_once('.')?;
        fn digits(t: &str) -> Option<&str> {
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then_some(t)
        }
        Some(Version {
            major: digits(major)?.parse().ok()?,
            minor: digits(minor)?.parse().ok()?,
            maint: digits(maint)?.parse().ok()?,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}({})", self.major, self.minor, self.maint)
    }
}

/// Why bytes are not a usable image; each displays as one operator line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Truncated {
        len: usize,
    },
    BadMagic,
    FormatVersion(u16),
    HeaderCrc,
    UnknownKind(u8),
    /// The payload length disagrees with the bytes present.
    Length {
        header: u64,
        present: u64,
    },
    PayloadCrc {
        expected: u32,
        actual: u32,
    },
    Sha256,
    Platform,
    BelowFloor {
        version: Version,
        floor: Version,
    },
    Unsigned,
    BadSignature,
    TooLarge {
        len: u64,
        room: u64,
    },
    /// The flash could not be read where the image is.
    Unreadable,
    /// A `linux` image whose kernel cannot be booted here (its setup header, or no room).
    Linux(LinuxError),
    /// A `flat64` entry point outside the payload it would jump into.
    Entry(u64),
    /// The image asks for RAM that is not free to load it into.
    Placement {
        load: u64,
        len: u64,
    },
    /// The header's lengths cannot describe an image: a payload past [`PAYLOAD_MAX`], or an
    /// initrd longer than the payload it is the tail of.
    Lengths {
        payload: u64,
        initrd: u64,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Refusal::Truncated { len } => write!(f, "not an image: {len} bytes is shorter than the {HEADER_LEN}-byte header"),
            Refusal::BadMagic => f.write_str("not a lifeboat image (no LBIM magic)"),
            Refusal::FormatVersion(v) => write!(f, "image format version {v} is not supported (this firmware reads version {FORMAT_VERSION})"),
            Refusal::HeaderCrc => f.write_str("Checksum verification on flash image failed (header CRC-32)"),
            Refusal::UnknownKind(k) => write!(f, "unknown payload kind {k}"),
            Refusal::Length { header, present } => write!(f, "Checksum verification on flash image failed (header says {header} payload bytes, {present} present)"),
            Refusal::PayloadCrc { expected, actual } => write!(f, "Checksum verification on flash image failed (CRC-32 {actual:#010x}, expected {expected:#010x})"),
            Refusal::Sha256 => f.write_str("Checksum verification on flash image failed (SHA-256 mismatch)"),
            Refusal::Platform => write!(f, "image is for another platform (this unit is {PLATFORM})"),
            Refusal::BelowFloor { version, floor } => write!(f, "image version {version} is older than {floor}, the oldest this unit installs"),
            Refusal::Unsigned => f.write_str("image is not signed; this unit installs signed images only"),
            Refusal::BadSignature => f.write_str("image signature does not verify with this unit's key"),
            Refusal::TooLarge { len, room } => write!(f, "image of {len} bytes does not fit a flash slot of {room} bytes"),
            Refusal::Unreadable => f.write_str("the flash cannot be read there"),
            Refusal::Linux(e) => write!(f, "{e}"),
            Refusal::Entry(e) => write!(f, "image entry {e:#x} is outside its payload"),
            Refusal::Placement { load, len } => write!(f, "image wants {len} bytes at {load:#x}, which is not free RAM"),
            Refusal::Lengths { payload, initrd } => write!(f, "image header is damaged: payload of {payload} bytes with an initrd of {initrd} bytes"),
        }
    }
}

/// Why a `linux` image's kernel cannot be booted: its setup header, read by
/// [`crate::boot::linux`] (here, with the other refusals, so the format does not
/// depend on the boot code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinuxError {
    /// Shorter than its own setup header says.
    Truncated,
    /// No 0xAA55 boot flag at 0x1FE.
    NoBootFlag,
    /// No "HdrS" at 0x202: not a bzImage.
    NotBzImage,
    /// Boot protocol older than 2.12 (no 64-bit entry to speak of).
    TooOld { version: u16 },
    /// The kernel has no 64-bit entry point.
    No64BitEntry,
    /// The setup header ends (jump target at 0x201) before the protocol 2.12 fields this
    /// loader reads and hands on in the zero page.
    ShortHeader { end: usize },
    /// The protected-mode kernel is too short to hold its 64-bit entry (load address + 0x200).
    NoEntryInKernel { len: usize },
    /// The command line is longer than the kernel or the area for it takes.
    CmdlineTooLong { len: usize, max: usize },
    /// The RAM map has no room for the kernel's `init_size` (or the initrd).
    NoRoom { what: &'static str, bytes: u64 },
}

impl fmt::Display for LinuxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LinuxError::Truncated => f.write_str("kernel is shorter than its setup header says"),
            LinuxError::NoBootFlag => f.write_str("kernel has no 0xAA55 boot flag"),
            LinuxError::NotBzImage => f.write_str("kernel is not a bzImage (no HdrS header)"),
            LinuxError::TooOld { version } => write!(
                f,
                "kernel boot protocol {}.{:02} is older than 2.12",
                version >> 8,
                version & 0xFF
            ),
            LinuxError::No64BitEntry => f.write_str("kernel has no 64-bit entry point"),
            LinuxError::ShortHeader { end } => write!(
                f,
                "kernel setup header ends at {end:#x}, before the boot protocol 2.12 fields"
            ),
            LinuxError::NoEntryInKernel { len } => write!(
                f,
                "kernel of {len} bytes is too short for its 64-bit entry at offset 0x200"
            ),
            LinuxError::CmdlineTooLong { len, max } => {
                write!(f, "command line of {len} bytes exceeds {max}")
            }
            LinuxError::NoRoom { what, bytes } => {
                write!(f, "no room in RAM for the {what} ({bytes} bytes)")
            }
        }
    }
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}
fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}
fn le64(b: &[u8]) -> u64 {
    u64::from(le32(b)) | u64::from(le32(&b[4..])) << 32
}

/// A checked view of an image header (the first [`HEADER_LEN`] bytes of `buffer`).
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// The header's [`HEADER_LEN`] bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[..HEADER_LEN]
    }

    /// Checks length, magic, format version, header CRC, kind and the lengths (payload below
    /// [`PAYLOAD_MAX`], initrd within the payload): every accessor after this is total.
    pub fn new_checked(buffer: T) -> Result<Self, Refusal> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Refusal::Truncated { len: b.len() });
        }
        if b[field::MAGIC] != MAGIC {
            return Err(Refusal::BadMagic);
        }
        let v = le16(&b[field::FORMAT]);
        if v != FORMAT_VERSION || usize::from(le16(&b[field::HEADER_LEN])) != HEADER_LEN {
            return Err(Refusal::FormatVersion(v));
        }
        if CRC32.checksum(&b[..field::HEADER_CRC.start]) != le32(&b[field::HEADER_CRC]) {
            return Err(Refusal::HeaderCrc);
        }
        let h = Header { buffer };
        h.kind()?;
        if h.payload_len() > PAYLOAD_MAX || h.initrd_len() > h.payload_len() {
            return Err(Refusal::Lengths {
                payload: h.payload_len(),
                initrd: h.initrd_len(),
            });
        }
        // The signature is outside the header CRC: an unsigned image keeps it all zero.
        if !h.signed() && h.b()[field::SIGNATURE].iter().any(|&x| x != 0) {
            return Err(Refusal::BadSignature);
        }
        Ok(h)
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn platform(&self) -> &str {
        let p = &self.b()[field::PLATFORM];
        let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
        core::str::from_utf8(&p[..end]).unwrap_or("?")
    }
    pub fn version(&self) -> Version {
        let v = &self.b()[field::VERSION];
        Version::new(v[0], v[1], le16(&v[2..]))
    }
    pub fn kind(&self) -> Result<Kind, Refusal> {
        match self.b()[field::KIND] {
            1 => Ok(Kind::Flat64),
            2 => Ok(Kind::Linux),
            k => Err(Refusal::UnknownKind(k)),
        }
    }
    pub fn signed(&self) -> bool {
        self.b()[field::FLAGS] & FLAG_SIGNED != 0
    }
    pub fn load(&self) -> u64 {
        le64(&self.b()[field::LOAD])
    }
    pub fn entry(&self) -> u64 {
        le64(&self.b()[field::ENTRY])
    }
    pub fn payload_len(&self) -> u64 {
        le64(&self.b()[field::PAYLOAD_LEN])
    }
    pub fn initrd_len(&self) -> u64 {
        le64(&self.b()[field::INITRD_LEN])
    }
    pub fn payload_crc(&self) -> u32 {
        le32(&self.b()[field::PAYLOAD_CRC])
    }
    pub fn sha256(&self) -> &[u8] {
        &self.b()[field::SHA256]
    }
    pub fn cmdline(&self) -> &str {
        let c = &self.b()[field::CMDLINE];
        let end = c.iter().position(|&x| x == 0).unwrap_or(c.len());
        core::str::from_utf8(&c[..end]).unwrap_or("")
    }
    /// Whole image length: header + payload (exact: [`Header::new_checked`] bounds both).
    pub fn image_len(&self) -> u64 {
        HEADER_LEN as u64 + self.payload_len()
    }
    /// The payload bytes before the initrd (`linux`: the kernel file; `flat64`: all of it).
    pub fn kernel_len(&self) -> u64 {
        self.payload_len() - self.initrd_len()
    }
    /// Does the ed25519 signature verify with `public_key`?
    pub fn signature_ok(&self, public_key: &[u8; 32]) -> bool {
        let pk = ed25519_compact::PublicKey::new(*public_key);
        let Ok(sig) = ed25519_compact::Signature::from_slice(&self.b()[field::SIGNATURE]) else {
            return false;
        };
        self.signed() && pk.verify(&self.b()[field::SIGNED_PART], &sig).is_ok()
    }
}

/// What a new image must satisfy to be installed.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    pub platform: &'a str,
    /// Images older than this are refused (the PIX's "never below 4.4").
    pub floor: Version,
    /// The installed image's version, for the downgrade question.
    pub installed: Option<Version>,
    /// When set, only images signed with this key are accepted.
    pub public_key: Option<&'a [u8; 32]>,
}

impl Policy<'_> {
    /// The policy part of every check, written once: platform, floor, then signature (when a
    /// key is set). For a header whose integrity is checked already: [`verify`] (an image in
    /// RAM) and the flash slots' check ([`crate::install::Slots::check`]) both end here.
    pub fn admit<T: AsRef<[u8]>>(&self, h: &Header<T>) -> Result<(), Refusal> {
        if h.platform() != self.platform {
            return Err(Refusal::Platform);
        }
        if h.version() < self.floor {
            return Err(Refusal::BelowFloor {
                version: h.version(),
                floor: self.floor,
            });
        }
        if let Some(key) = self.public_key {
            if !h.signed() {
                return Err(Refusal::Unsigned);
            }
            if !h.signature_ok(key) {
                return Err(Refusal::BadSignature);
            }
        }
        Ok(())
    }
}

/// What [`verify`] concluded about an acceptable image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Newer than (or the same as) the installed one, or nothing is installed.
    Install,
    /// Older than the installed one: ask the operator first.
    Downgrade { installed: Version },
}

/// CRC-32 and SHA-256 of a payload fed in pieces (a RAM buffer, or flash read back).
pub struct PayloadCheck {
    crc: crate::crc32::Digest,
    sha: Sha256,
}

impl Default for PayloadCheck {
    fn default() -> Self {
        PayloadCheck {
            crc: CRC32.digest(),
            sha: Sha256::new(),
        }
    }
}

impl PayloadCheck {
    pub fn update(&mut self, bytes: &[u8]) {
        self.crc.update(bytes);
        self.sha.update(bytes);
    }
    /// Compares with the header: CRC first (the PIX's checksum message), then SHA-256.
    pub fn finish<T: AsRef<[u8]>>(self, h: &Header<T>) -> Result<(), Refusal> {
        self.sums().check(h)
    }
    /// The CRC-32 and SHA-256 of what was fed.
    pub fn sums(self) -> PayloadSums {
        PayloadSums {
            crc32: self.crc.finalize(),
            sha256: self.sha.finalize().into(),
        }
    }
}

/// A payload's CRC-32 and SHA-256, computed ([`PayloadCheck::sums`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadSums {
    pub crc32: u32,
    pub sha256: [u8; 32],
}

impl PayloadSums {
    /// Compares with the header: CRC first (the PIX's checksum message), then SHA-256.
    pub fn check<T: AsRef<[u8]>>(&self, h: &Header<T>) -> Result<(), Refusal> {
        if self.crc32 != h.payload_crc() {
            return Err(Refusal::PayloadCrc {
                expected: h.payload_crc(),
                actual: self.crc32,
            });
        }
        if self.sha256[..] != *h.sha256() {
            return Err(Refusal::Sha256);
        }
        Ok(())
    }
}

/// A download's checks computed as its bytes land in the buffer, while the CPU waits for
/// the network anyway: the whole file's CRC-32 (the `Received` line) and the payload's
/// [`PayloadSums`] (everything after the first [`HEADER_LEN`] bytes). Told of every write
/// to the buffer, in the order made ([`StreamCheck::landed`]), and hashing what landed when
/// the caller has time ([`StreamCheck::catch_up`]: a little at a time, while it waits for
/// the next datagram); it holds only
/// while each write starts exactly where the bytes written so far end. A write anywhere
/// else (a block written again, or one that landed out of order: a multicast pass) spoils
/// it, and the caller makes the full pass over the buffer instead.
pub struct StreamCheck {
    written: u64,
    hashed: u64,
    file: crate::crc32::Digest,
    payload: PayloadCheck,
    spoiled: bool,
}

impl Default for StreamCheck {
    fn default() -> Self {
        StreamCheck {
            written: 0,
            hashed: 0,
            file: CRC32.digest(),
            payload: PayloadCheck::default(),
            spoiled: false,
        }
    }
}

impl StreamCheck {
    /// `len` bytes were just written at `offset` of the buffer.
    pub fn landed(&mut self, offset: u64, len: usize) {
        if offset != self.written {
            self.spoiled = true;
        }
        self.written = self.written.max(offset.saturating_add(len as u64));
    }

    /// Hashes what landed since the last call, at most `max` bytes of it; `buf` is the
    /// buffer the writes went to.
    pub fn catch_up(&mut self, buf: &[u8], max: usize) {
        if self.spoiled || self.hashed >= self.written {
            return;
        }
        let end = self.written.min(self.hashed.saturating_add(max as u64));
        let Some(data) = buf.get(self.hashed as usize..end as usize) else {
            self.spoiled = true;
            return;
        };
        self.file.update(data);
        let skip = (HEADER_LEN as u64)
            .saturating_sub(self.hashed)
            .min(data.len() as u64);
        self.payload.update(&data[skip as usize..]);
        self.hashed = end;
    }

    /// For a download of `len` bytes in `buf`: the whole file's CRC-32 and the payload's
    /// sums (`None` for a file shorter than a header), when exactly its `len` bytes landed
    /// once each, in order; `None` otherwise (make the full pass).
    pub fn finish(mut self, buf: &[u8], len: u64) -> Option<(u32, Option<PayloadSums>)> {
        self.catch_up(buf, usize::MAX);
        if self.spoiled || self.written != len {
            return None;
        }
        let payload = (len >= HEADER_LEN as u64).then(|| self.payload.sums());
        Some((self.file.finalize(), payload))
    }
}

/// Checks a whole image in memory against `policy`: header, payload CRC-32 and SHA-256,
/// platform, version floor, signature; then says whether it is a downgrade.
pub fn verify<'b>(
    image: &'b [u8],
    policy: &Policy<'_>,
) -> Result<(Header<&'b [u8]>, Verdict), Refusal> {
    verify_with(image, policy, None)
}

/// [`verify`], with the payload's sums already computed when given (`sums`: those of
/// exactly `image[HEADER_LEN..]`, as [`StreamCheck`] computes them while the download
/// lands); without them the payload is hashed here.
pub fn verify_with<'b>(
    image: &'b [u8],
    policy: &Policy<'_>,
    sums: Option<PayloadSums>,
) -> Result<(Header<&'b [u8]>, Verdict), Refusal> {
    let h = Header::new_checked(image)?;
    let present = (image.len() - HEADER_LEN) as u64;
    if h.payload_len() != present {
        return Err(Refusal::Length {
            header: h.payload_len(),
            present,
        });
    }
    let sums = sums.unwrap_or_else(|| {
        let mut check = PayloadCheck::default();
        check.update(&image[HEADER_LEN..]);
        check.sums()
    });
    sums.check(&h)?;
    policy.admit(&h)?;
    let verdict = match policy.installed {
        Some(installed) if h.version() < installed => Verdict::Downgrade { installed },
        _ => Verdict::Install,
    };
    Ok((h, verdict))
}

/// What `mkimage` writes into a header.
#[derive(Debug, Clone)]
pub struct HeaderRepr<'a> {
    pub platform: &'a str,
    pub version: Version,
    pub kind: Kind,
    pub load: u64,
    pub entry: u64,
    pub initrd_len: u64,
    pub cmdline: &'a str,
}

/// Why a header cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildError {
    PlatformTooLong,
    CmdlineTooLong,
    InitrdLongerThanPayload,
    PayloadTooLong,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BuildError::PlatformTooLong => "platform id longer than 16 bytes",
            BuildError::CmdlineTooLong => "command line longer than 119 bytes",
            BuildError::InitrdLongerThanPayload => "initrd longer than the payload",
            BuildError::PayloadTooLong => "payload of 4 GiB or more",
        })
    }
}

impl HeaderRepr<'_> {
    /// The header (unsigned) for `payload`; [`sign_header`] adds a signature.
    pub fn emit(&self, payload: &[u8]) -> Result<[u8; HEADER_LEN], BuildError> {
        if self.platform.len() > PLATFORM_MAX {
            return Err(BuildError::PlatformTooLong);
        }
        if self.cmdline.len() > CMDLINE_MAX {
            return Err(BuildError::CmdlineTooLong);
        }
        if self.initrd_len > payload.len() as u64 {
            return Err(BuildError::InitrdLongerThanPayload);
        }
        if payload.len() as u64 > PAYLOAD_MAX {
            return Err(BuildError::PayloadTooLong);
        }
        let mut h = [0u8; HEADER_LEN];
        h[field::MAGIC].copy_from_slice(&MAGIC);
        h[field::FORMAT].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        h[field::HEADER_LEN].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        h[field::PLATFORM.start..field::PLATFORM.start + self.platform.len()]
            .copy_from_slice(self.platform.as_bytes());
        h[24] = self.version.major;
        h[25] = self.version.minor;
        h[26..28].copy_from_slice(&self.version.maint.to_le_bytes());
        h[field::KIND] = self.kind.code();
        h[field::LOAD].copy_from_slice(&self.load.to_le_bytes());
        h[field::ENTRY].copy_from_slice(&self.entry.to_le_bytes());
        h[field::PAYLOAD_LEN].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        h[field::INITRD_LEN].copy_from_slice(&self.initrd_len.to_le_bytes());
        h[field::PAYLOAD_CRC].copy_from_slice(&CRC32.checksum(payload).to_le_bytes());
        h[field::SHA256].copy_from_slice(&Sha256::digest(payload));
        h[field::CMDLINE.start..field::CMDLINE.start + self.cmdline.len()]
            .copy_from_slice(self.cmdline.as_bytes());
        seal(&mut h);
        Ok(h)
    }
}

/// Recomputes the header CRC (after the flags or any field changed). Public for tools and
/// fuzz targets that build headers field by field; the firmware never seals what it reads.
pub fn seal(h: &mut [u8; HEADER_LEN]) {
    let crc = CRC32.checksum(&h[..field::HEADER_CRC.start]);
    h[field::HEADER_CRC].copy_from_slice(&crc.to_le_bytes());
}

/// Marks the header signed and stores `sign(bytes 0..256)` (the signer is the host tool's).
pub fn sign_header(h: &mut [u8; HEADER_LEN], sign: impl FnOnce(&[u8]) -> [u8; 64]) {
    h[field::FLAGS] |= FLAG_SIGNED;
    seal(h);
    let sig = sign(&h[field::SIGNED_PART]);
    h[field::SIGNATURE].copy_from_slice(&sig);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr() -> HeaderRepr<'static> {
        HeaderRepr {
            platform: PLATFORM,
            version: Version::new(6, 3, 5),
            kind: Kind::Flat64,
            load: 0x200_0000,
            entry: 0x200_0000,
            initrd_len: 0,
            cmdline: "",
        }
    }

    fn image(payload: &[u8]) -> Vec<u8> {
        let mut v = repr().emit(payload).unwrap().to_vec();
        v.extend_from_slice(payload);
        v
    }

    const POLICY: Policy<'static> = Policy {
        platform: PLATFORM,
        floor: Version::new(1, 0, 0),
        installed: None,
        public_key: None,
    };

    #[test]
    fn versions_read_pix_style() {
        assert_eq!(Version::parse("6.3(5)"), Some(Version::new(6, 3, 5)));
        assert_eq!(Version::parse("6.3.5"), Some(Version::new(6, 3, 5)));
        assert_eq!(Version::parse("4.4"), Some(Version::new(4, 4, 0)));
        for bad in ["", "6", "6.x(1)", "6.3(5", "6.3()", "300.1(1)", "1.2.3.4"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
        assert_eq!(format!("{}", Version::new(6, 3, 5)), "6.3(5)");
        assert!(Version::new(5, 1, 0) > Version::new(4, 4, 9));
    }

    #[test]
    fn a_good_image_verifies_and_reads_back() {
        let img = image(b"payload bytes");
        let (h, v) = verify(&img, &POLICY).unwrap();
        assert_eq!(v, Verdict::Install);
        assert_eq!(h.version(), Version::new(6, 3, 5));
        assert_eq!(h.kind(), Ok(Kind::Flat64));
        assert_eq!(h.load(), 0x200_0000);
        assert_eq!(h.payload_len(), 13);
        assert_eq!(h.platform(), PLATFORM);
        assert!(!h.signed());
    }

    #[test]
    fn every_flipped_payload_or_header_bit_is_caught() {
        let img = image(&[0x5A; 700]);
        for i in 0..img.len() {
            for bit in [0x01, 0x80] {
                let mut bad = img.clone();
                bad[i] ^= bit;
                assert!(
                    verify(&bad, &POLICY).is_err(),
                    "byte {i} bit {bit:#x} undetected"
                );
            }
        }
        let mut bad = img.clone();
        bad[HEADER_LEN + 3] ^= 1;
        let e = verify(&bad, &POLICY).unwrap_err();
        assert!(
            format!("{e}").starts_with("Checksum verification on flash image failed"),
            "{e}"
        );
    }

    #[test]
    fn truncation_and_garbage_are_refused_without_panic() {
        let img = image(b"abc");
        for n in 0..img.len() {
            assert!(verify(&img[..n], &POLICY).is_err());
        }
        let mut rng = lifeboat_qemu::rng::XorShift::new(7);
        for _ in 0..2000 {
            let g = rng.bytes(400);
            let _ = verify(&g, &POLICY);
            let _ = Header::new_checked(&g[..]);
        }
    }

    #[test]
    fn policy_platform_floor_downgrade() {
        let img = image(b"x");
        let other = Policy {
            platform: "pix-525",
            ..POLICY
        };
        assert_eq!(verify(&img, &other).unwrap_err(), Refusal::Platform);
        let high_floor = Policy {
            floor: Version::new(7, 0, 0),
            ..POLICY
        };
        assert!(matches!(
            verify(&img, &high_floor),
            Err(Refusal::BelowFloor { .. })
        ));
        let newer_installed = Policy {
            installed: Some(Version::new(6, 4, 0)),
            ..POLICY
        };
        assert_eq!(
            verify(&img, &newer_installed).unwrap().1,
            Verdict::Downgrade {
                installed: Version::new(6, 4, 0)
            }
        );
        let same = Policy {
            installed: Some(Version::new(6, 3, 5)),
            ..POLICY
        };
        assert_eq!(verify(&img, &same).unwrap().1, Verdict::Install);
    }

    #[test]
    fn signatures() {
        let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7; 32]));
        let other = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([8; 32]));
        let payload = b"signed payload";
        let mut h = repr().emit(payload).unwrap();
        sign_header(&mut h, |m| *kp.sk.sign(m, None));
        let mut img = h.to_vec();
        img.extend_from_slice(payload);
        let pk: [u8; 32] = *kp.pk;
        let opk: [u8; 32] = *other.pk;
        let with = |k| Policy {
            public_key: Some(k),
            ..POLICY
        };
        assert!(verify(&img, &with(&pk)).is_ok());
        assert_eq!(
            verify(&img, &with(&opk)).unwrap_err(),
            Refusal::BadSignature
        );
        let unsigned = image(payload);
        assert_eq!(
            verify(&unsigned, &with(&pk)).unwrap_err(),
            Refusal::Unsigned
        );
        // A signature is not moved to another header: change the version and re-seal.
        let mut forged = img.clone();
        forged[24] = 9;
        let mut hh: [u8; HEADER_LEN] = forged[..HEADER_LEN].try_into().unwrap();
        seal(&mut hh);
        forged[..HEADER_LEN].copy_from_slice(&hh);
        assert_eq!(
            verify(&forged, &with(&pk)).unwrap_err(),
            Refusal::BadSignature
        );
    }

    /// A header whose CRC is right but whose lengths are not: the overflow the fuzzer missed.
    #[test]
    fn impossible_lengths_are_refused_behind_a_valid_crc() {
        let img = image(b"abcd");
        for (payload, initrd) in [
            (u64::MAX, 0),
            (PAYLOAD_MAX + 1, 0),
            (4, 5),
            (0, u64::MAX),
            (u64::MAX, u64::MAX),
        ] {
            let mut h: [u8; HEADER_LEN] = img[..HEADER_LEN].try_into().unwrap();
            h[field::PAYLOAD_LEN].copy_from_slice(&payload.to_le_bytes());
            h[field::INITRD_LEN].copy_from_slice(&initrd.to_le_bytes());
            seal(&mut h);
            assert_eq!(
                Header::new_checked(&h[..]).unwrap_err(),
                Refusal::Lengths { payload, initrd },
                "{payload} {initrd}"
            );
        }
    }

    /// The header of a fixed image, written out byte by byte: an offset error made the same
    /// way in `emit` and in the accessors would pass every round-trip test, not this one.
    #[test]
    fn golden_header_bytes() {
        let r = HeaderRepr {
            platform: "lifeboat-x86",
            version: Version::new(6, 3, 5),
            kind: Kind::Linux,
            load: 0x0102_0304_0506_0708,
            entry: 0x1112_1314_1516_1718,
            initrd_len: 2,
            cmdline: "ro",
        };
        let h = r.emit(b"abc").unwrap();
        #[rustfmt::skip]
        let want_start: [u8; 64] = [
            b'L', b'B', b'I', b'M', 1, 0, 0x40, 0x01,
            b'l', b'i', b'f', b'e', b'b', b'o', b'a', b't', b'-', b'x', b'8', b'6', 0, 0, 0, 0,
            6, 3, 5, 0, 2, 0, 0, 0,
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
            0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,
            3, 0, 0, 0, 0, 0, 0, 0,
            2, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(h[..64], want_start);
        // zlib.crc32(b"abc") and the SHA-256 of "abc" (FIPS 180-2 appendix B.1).
        assert_eq!(h[64..68], 0x352441c2u32.to_le_bytes());
        assert_eq!(h[68..72], [0; 4]);
        assert_eq!(
            h[72..104],
            [
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
                0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
                0xf2, 0x00, 0x15, 0xad
            ]
        );
        assert_eq!(h[104..107], *b"ro\0");
        assert!(h[107..252].iter().all(|&b| b == 0));
        let crc = CRC32.checksum(&h[..252]);
        assert_eq!(h[252..256], crc.to_le_bytes());
        assert!(h[256..].iter().all(|&b| b == 0));
        let parsed = Header::new_checked(&h[..]).unwrap();
        assert_eq!(parsed.kernel_len(), 1);
        assert_eq!(parsed.cmdline(), "ro");
    }

    #[test]
    fn linux_header_fields() {
        let r = HeaderRepr {
            kind: Kind::Linux,
            initrd_len: 4,
            cmdline: "console=ttyS0",
            load: 0,
            entry: 0,
            ..repr()
        };
        let mut img = r.emit(b"kernelINIT").unwrap().to_vec();
        img.extend_from_slice(b"kernelINIT");
        let (h, _) = verify(&img, &POLICY).unwrap();
        assert_eq!(h.kind(), Ok(Kind::Linux));
        assert_eq!(h.initrd_len(), 4);
        assert_eq!(h.cmdline(), "console=ttyS0");
        let long = "x".repeat(120);
        assert_eq!(
            HeaderRepr {
                cmdline: &long,
                ..repr()
            }
            .emit(b"")
            .unwrap_err(),
            BuildError::CmdlineTooLong
        );
    }

    /// The sums of `data` by a full pass: the file's CRC-32 and the payload's.
    fn full(data: &[u8]) -> (u32, Option<PayloadSums>) {
        let mut p = PayloadCheck::default();
        p.update(&data[HEADER_LEN.min(data.len())..]);
        let payload = (data.len() >= HEADER_LEN).then(|| p.sums());
        (CRC32.checksum(data), payload)
    }

    /// Fed in order, in pieces of any size (across the header's end too), hashed after each
    /// piece or only at the end, the stream's sums are the full pass's; a write again, a
    /// gap, a write past what landed, or a length other than what landed gives none.
    #[test]
    fn stream_check_holds_only_for_each_byte_landed_once_in_order() {
        let data: std::vec::Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for piece in [1, 100, 319, 320, 321, 512, 1468, 5000] {
            for catch_up in [false, true] {
                let mut c = StreamCheck::default();
                for (i, chunk) in data.chunks(piece).enumerate() {
                    c.landed((i * piece) as u64, chunk.len());
                    if catch_up {
                        c.catch_up(&data, 100 + i % 700);
                    }
                }
                assert_eq!(
                    c.finish(&data, data.len() as u64),
                    Some(full(&data)),
                    "{piece}"
                );
            }
        }
        let short = &data[..HEADER_LEN - 1];
        let mut c = StreamCheck::default();
        c.landed(0, short.len());
        assert_eq!(
            c.finish(short, short.len() as u64),
            Some((CRC32.checksum(short), None))
        );
        let spoiled = |writes: &[(usize, usize)], len: usize| {
            let mut c = StreamCheck::default();
            for &(at, n) in writes {
                c.landed(at as u64, n);
                c.catch_up(&data, usize::MAX);
            }
            c.finish(&data, len as u64)
        };
        // Again (a retransmitted block written twice), ahead, out of order, short, long.
        assert_eq!(spoiled(&[(0, 512), (0, 512), (512, 4488)], 5000), None);
        assert_eq!(spoiled(&[(0, 512), (1024, 512)], 5000), None);
        assert_eq!(spoiled(&[(512, 4488), (0, 512)], 5000), None);
        assert_eq!(spoiled(&[(0, 4000)], 5000), None);
        assert_eq!(spoiled(&[(0, 5000)], 4000), None);
        assert_eq!(spoiled(&[(0, 5000)], 5000), Some(full(&data)));
        // Written again before it was hashed: still spoiled.
        let mut c = StreamCheck::default();
        c.landed(0, 512);
        c.landed(0, 512);
        c.landed(512, 4488);
        assert_eq!(c.finish(&data, 5000), None);
    }

    /// `verify_with` given sums decides by them (a stream that hashed something else is
    /// refused as a bad checksum), and given none hashes the image itself.
    #[test]
    fn verify_with_decides_by_the_sums_it_is_given() {
        let payload = [0x5Au8; 1000];
        let h = HeaderRepr {
            platform: PLATFORM,
            version: Version::new(2, 0, 0),
            kind: Kind::Flat64,
            load: 0x200_0000,
            entry: 0x200_0000,
            initrd_len: 0,
            cmdline: "",
        }
        .emit(&payload)
        .unwrap();
        let mut img = h.to_vec();
        img.extend_from_slice(&payload);
        let policy = Policy {
            platform: PLATFORM,
            floor: Version::new(1, 0, 0),
            installed: None,
            public_key: None,
        };
        let right = full(&img).1;
        assert!(verify_with(&img, &policy, right).is_ok());
        assert!(verify_with(&img, &policy, None).is_ok());
        let mut other = full(&img[..img.len() - 1]).1.unwrap();
        assert!(matches!(
            verify_with(&img, &policy, Some(other)),
            Err(Refusal::PayloadCrc { .. })
        ));
        other.crc32 = right.unwrap().crc32;
        assert_eq!(
            verify_with(&img, &policy, Some(other)).unwrap_err(),
            Refusal::Sha256
        );
    }
}
