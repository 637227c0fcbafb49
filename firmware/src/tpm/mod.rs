//! TPM 2.0: the few commands lifeboat sends (start-up, the floor's NV index, PCR extend and
//! read, the vendor), marshalled and parsed here, pure, over any [`Transport`] (the TIS
//! driver in hal on the unit, [`fake::FakeTpm`] and recorded swtpm answers on the host).
//!
//! Every response is checked before a field of it is believed: its length against the
//! header's size, its tag, its response code, every field against the bytes left. A TPM
//! that answers nonsense or not at all is one [`Error`], printed on one line.
#![forbid(unsafe_code)]

use core::fmt;

pub mod floor;
pub mod log;

#[cfg(any(test, feature = "sim"))]
pub mod fake;
#[cfg(test)]
mod tests;

/// The interface a TPM is reached through (TIS FIFO on the unit): sends one command and
/// receives its whole response into `rsp`, returning its length.
pub trait Transport {
    fn transact(&mut self, cmd: &[u8], rsp: &mut [u8]) -> Result<usize, Error>;
}

/// The largest command or response lifeboat exchanges (TPM2_PCR_Read of two SHA-256 PCRs is
/// the longest answer, 70 bytes; TPM2_NV_DefineSpace the longest command, 49 bytes).
pub const MAX_MESSAGE: usize = 256;

/// Tags (TPM 2.0 Part 2, 6.9).
pub const ST_NO_SESSIONS: u16 = 0x8001;
pub const ST_SESSIONS: u16 = 0x8002;
/// TPM 1.2's response tag: a TPM 2.0 sends it only for a fatal error it cannot parse the
/// command of (and QEMU for a TPM that has gone).
pub const ST_RSP_COMMAND: u16 = 0x00C4;

/// Command codes (Part 2, 6.5).
pub mod cc {
    pub const NV_DEFINE_SPACE: u32 = 0x12A;
    pub const NV_WRITE: u32 = 0x137;
    pub const NV_WRITE_LOCK: u32 = 0x138;
    pub const STARTUP: u32 = 0x144;
    pub const NV_READ: u32 = 0x14E;
    pub const NV_READ_PUBLIC: u32 = 0x169;
    pub const GET_CAPABILITY: u32 = 0x17A;
    pub const PCR_READ: u32 = 0x17E;
    pub const PCR_EXTEND: u32 = 0x182;
}

/// Response codes lifeboat tells apart (Part 2, 6.6).
pub mod rc {
    pub const SUCCESS: u32 = 0;
    /// TPM2_Startup when the TPM has started (the BIOS did it).
    pub const INITIALIZE: u32 = 0x100;
    /// NV_Read of an index defined but never written.
    pub const NV_UNINITIALIZED: u32 = 0x14A;
    /// A format-1 code's error number for a handle that does not exist (`TPM_RC_HANDLE`).
    pub const FMT1: u32 = 0x80;
    pub const HANDLE: u32 = 0x0B;
}

/// Handles (Part 2, 7.4).
pub const RH_OWNER: u32 = 0x4000_0001;
/// The password session (empty password).
pub const RS_PW: u32 = 0x4000_0009;
/// TPM_ALG_SHA256.
pub const ALG_SHA256: u16 = 0x000B;

/// Why a TPM exchange failed: one line for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// No TPM answered at the interface.
    Absent,
    /// The interface did not reach a state in time (which step).
    Timeout(&'static str),
    /// The interface misbehaved (how).
    Interface(&'static str),
    /// The response does not parse as an answer to the command (what is wrong).
    Malformed(&'static str),
    /// The TPM refused a command: its code and the response code.
    Refused { cc: u32, rc: u32 },
    /// The floor's NV index exists with attributes or a size lifeboat never gives it.
    Foreign { attributes: u32, size: u16 },
    /// The TPM answers only with a fatal error (a TPM 1.2-style `TPM_FAIL` header, what
    /// QEMU's TIS sends once its TPM is gone).
    Failed { rc: u32 },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Absent => f.write_str("no TPM answers at the TIS interface"),
            Error::Timeout(step) => write!(f, "the TPM did not answer in time ({step})"),
            Error::Interface(why) => write!(f, "the TPM interface misbehaved ({why})"),
            Error::Malformed(why) => write!(f, "the TPM's response is malformed ({why})"),
            Error::Refused { cc, rc } => {
                write!(f, "the TPM refused command {cc:#x} (response code {rc:#x})")
            }
            Error::Failed { rc } => {
                write!(f, "the TPM has failed (response code {rc:#x}) and no longer answers")
            }
            Error::Foreign { attributes, size } => write!(
                f,
                "the floor's NV index was not made by lifeboat (attributes {attributes:#010x}, {size} bytes)"
            ),
        }
    }
}

/// A command being marshalled (big-endian, as all of TPM 2.0).
pub struct Command {
    buf: [u8; MAX_MESSAGE],
    len: usize,
}

impl Command {
    /// A command `cc` with tag `tag`; the size is filled in by [`Self::bytes`].
    pub fn new(tag: u16, cc: u32) -> Command {
        let mut c = Command {
            buf: [0; MAX_MESSAGE],
            len: 10,
        };
        c.buf[..2].copy_from_slice(&tag.to_be_bytes());
        c.buf[6..10].copy_from_slice(&cc.to_be_bytes());
        c
    }
    pub fn put(&mut self, b: &[u8]) -> &mut Self {
        // Every command lifeboat builds is far shorter than the buffer (the tests send each).
        let end = (self.len + b.len()).min(MAX_MESSAGE);
        self.buf[self.len..end].copy_from_slice(&b[..end - self.len]);
        self.len = end;
        self
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.put(&[v])
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.put(&v.to_be_bytes())
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.put(&v.to_be_bytes())
    }
    /// A TPM2B: u16 size, then the bytes.
    pub fn sized(&mut self, b: &[u8]) -> &mut Self {
        self.u16(b.len() as u16).put(b)
    }
    /// The authorization area of one password session with an empty password.
    pub fn password(&mut self) -> &mut Self {
        self.u32(9).u32(RS_PW).u16(0).u8(0).u16(0)
    }
    /// The finished command.
    pub fn bytes(&mut self) -> &[u8] {
        let n = self.len as u32;
        self.buf[2..6].copy_from_slice(&n.to_be_bytes());
        &self.buf[..self.len]
    }
}

/// A response's parameters, read front to back with every length checked.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(rest: &'a [u8]) -> Reader<'a> {
        Reader { rest }
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.rest.len() < n {
            return Err(Error::Malformed("shorter than its fields"));
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A TPM2B: u16 size, then that many bytes.
    pub fn sized(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u16()?;
        self.take(n.into())
    }
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

/// Checks a response to command `cc` (sent with tag `sent`) and returns its parameters:
/// the size field equals the bytes received, the tag is one a TPM sends, the response code
/// is success (or `ok_rc`, returned as `Err(Refused)` for the caller to tell apart), and a
/// response with sessions has a parameter size that fits.
pub fn response(cc: u32, sent: u16, rsp: &[u8]) -> Result<Reader<'_>, Error> {
    let mut r = Reader::new(rsp);
    let tag = r.u16()?;
    let size = r.u32()?;
    let code = r.u32()?;
    if size as usize != rsp.len() {
        return Err(Error::Malformed("its size field is not its length"));
    }
    if tag == ST_RSP_COMMAND && code != rc::SUCCESS {
        return Err(Error::Failed { rc: code });
    }
    if tag != ST_NO_SESSIONS && tag != ST_SESSIONS {
        return Err(Error::Malformed("unknown tag"));
    }
    if code != rc::SUCCESS {
        // An error response has no parameters (and may carry ST_NO_SESSIONS either way).
        return Err(Error::Refused { cc, rc: code });
    }
    if tag != sent {
        return Err(Error::Malformed("its tag does not match the command's"));
    }
    if tag == ST_SESSIONS {
        let n = r.u32()? as usize;
        let params = r.take(n)?;
        return Ok(Reader::new(params));
    }
    Ok(r)
}

/// Sends `cmd` and checks the response ([`response`]).
pub fn exchange<'r>(
    t: &mut impl Transport,
    cmd: &mut Command,
    rsp: &'r mut [u8; MAX_MESSAGE],
) -> Result<Reader<'r>, Error> {
    let bytes = cmd.bytes();
    let tag = u16::from_be_bytes([bytes[0], bytes[1]]);
    let cc = u32::from_be_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]);
    let n = t.transact(bytes, rsp)?;
    let got = rsp
        .get(..n)
        .ok_or(Error::Interface("response longer than the buffer"))?;
    response(cc, tag, got)
}

/// Runs a command whose answer lifeboat does not read beyond its code.
fn simple(t: &mut impl Transport, cmd: &mut Command) -> Result<(), Error> {
    exchange(t, cmd, &mut [0; MAX_MESSAGE]).map(|_| ())
}

/// TPM2_Startup(CLEAR); a TPM the BIOS already started (`TPM_RC_INITIALIZE`) is fine.
pub fn startup(t: &mut impl Transport) -> Result<(), Error> {
    match simple(t, Command::new(ST_NO_SESSIONS, cc::STARTUP).u16(0)) {
        Err(Error::Refused {
            rc: rc::INITIALIZE, ..
        }) => Ok(()),
        r => r,
    }
}

/// The four-character vendor ID (TPM_PT_MANUFACTURER), e.g. `IBM` for swtpm.
pub fn manufacturer(t: &mut impl Transport) -> Result<[u8; 4], Error> {
    const CAP_TPM_PROPERTIES: u32 = 6;
    const PT_MANUFACTURER: u32 = 0x105;
    let mut rsp = [0; MAX_MESSAGE];
    let mut r = exchange(
        t,
        Command::new(ST_NO_SESSIONS, cc::GET_CAPABILITY)
            .u32(CAP_TPM_PROPERTIES)
            .u32(PT_MANUFACTURER)
            .u32(1),
        &mut rsp,
    )?;
    let _more = r.u8()?;
    let (cap, count, prop) = (r.u32()?, r.u32()?, r.u32()?);
    if cap != CAP_TPM_PROPERTIES || count != 1 || prop != PT_MANUFACTURER {
        return Err(Error::Malformed("not the property asked for"));
    }
    Ok(r.u32()?.to_be_bytes())
}

/// TPM2_PCR_Extend of the SHA-256 bank of `pcr` with `digest`.
pub fn pcr_extend(t: &mut impl Transport, pcr: u32, digest: &[u8; 32]) -> Result<(), Error> {
    simple(
        t,
        Command::new(ST_SESSIONS, cc::PCR_EXTEND)
            .u32(pcr)
            .password()
            .u32(1)
            .u16(ALG_SHA256)
            .put(digest),
    )
}

/// The SHA-256 values of PCRs `pcrs` (each below 24, at most 8; in ascending order).
pub fn pcr_read<const N: usize>(
    t: &mut impl Transport,
    pcrs: [u32; N],
) -> Result<[[u8; 32]; N], Error> {
    let mut select = [0u8; 3];
    for p in pcrs {
        select[(p as usize / 8).min(2)] |= 1 << (p % 8);
    }
    let mut rsp = [0; MAX_MESSAGE];
    let mut r = exchange(
        t,
        Command::new(ST_NO_SESSIONS, cc::PCR_READ)
            .u32(1)
            .u16(ALG_SHA256)
            .u8(3)
            .put(&select),
        &mut rsp,
    )?;
    let _update_counter = r.u32()?;
    // The selection answered must be the one asked (a bank the TPM lacks comes back empty).
    if r.u32()? != 1 || r.u16()? != ALG_SHA256 || r.sized_u8()? != select {
        return Err(Error::Malformed("not the PCRs asked for"));
    }
    if r.u32()? as usize != N {
        return Err(Error::Malformed("not the PCRs asked for"));
    }
    let mut out = [[0u8; 32]; N];
    for o in &mut out {
        o.copy_from_slice(
            r.sized()?
                .try_into()
                .map_err(|_| Error::Malformed("not the PCRs asked for"))
                .map(|d: &[u8; 32]| &d[..])?,
        );
    }
    Ok(out)
}

impl<'a> Reader<'a> {
    /// A u8-sized byte array (a TPMS_PCR_SELECTION's bitmap).
    pub fn sized_u8(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u8()?;
        self.take(n.into())
    }
}
