//! TFTP packets (RFC 1350, options RFC 2347) in smoltcp's `Packet`/`Repr` style: a checked
//! view over the bytes and a decoded form that can be emitted again. Nothing here panics on
//! any input: every accessor of a checked packet stays inside the buffer.
use core::fmt;

/// Byte ranges of the fixed fields.
mod field {
    use core::ops::Range;
    pub const OPCODE: Range<usize> = 0..2;
    /// DATA/ACK block number, ERROR code.
    pub const BLOCK: Range<usize> = 2..4;
    pub const ERROR_CODE: Range<usize> = 2..4;
    /// DATA payload, ERROR message.
    pub const REST: usize = 4;
    /// RRQ file name, OACK options.
    pub const STRINGS: usize = 2;
}

/// Longest option list we decode or emit.
pub const MAX_OPTIONS: usize = 8;

/// The TFTP opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Rrq,
    Wrq,
    Data,
    Ack,
    Error,
    Oack,
    Unknown(u16),
}

impl From<u16> for Opcode {
    fn from(v: u16) -> Self {
        match v {
            1 => Opcode::Rrq,
            2 => Opcode::Wrq,
            3 => Opcode::Data,
            4 => Opcode::Ack,
            5 => Opcode::Error,
            6 => Opcode::Oack,
            n => Opcode::Unknown(n),
        }
    }
}

impl From<Opcode> for u16 {
    fn from(o: Opcode) -> u16 {
        match o {
            Opcode::Rrq => 1,
            Opcode::Wrq => 2,
            Opcode::Data => 3,
            Opcode::Ack => 4,
            Opcode::Error => 5,
            Opcode::Oack => 6,
            Opcode::Unknown(n) => n,
        }
    }
}

/// TFTP ERROR codes (RFC 1350, RFC 2347).
pub mod error_code {
    pub const NOT_DEFINED: u16 = 0;
    pub const FILE_NOT_FOUND: u16 = 1;
    pub const ACCESS_VIOLATION: u16 = 2;
    pub const DISK_FULL: u16 = 3;
    pub const ILLEGAL_OPERATION: u16 = 4;
    pub const UNKNOWN_TID: u16 = 5;
    pub const OPTION_REFUSED: u16 = 8;
}

/// Why bytes are not a TFTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Shorter than its opcode's fixed fields.
    Truncated,
    /// A string field without its terminating NUL, or not ASCII.
    BadString,
    /// An option without a value, a value that is not a decimal number, or too many options.
    BadOption,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireError::Truncated => "packet too short",
            WireError::BadString => "string not NUL-terminated ASCII",
            WireError::BadOption => "malformed option",
        })
    }
}

/// A read-only view of a TFTP packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// A packet with at least the opcode, and the 4 fixed bytes for DATA/ACK/ERROR.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Packet { buffer };
        let len = p.buffer.as_ref().len();
        if len < field::OPCODE.end {
            return Err(WireError::Truncated);
        }
        if matches!(p.opcode(), Opcode::Data | Opcode::Ack | Opcode::Error) && len < field::REST {
            return Err(WireError::Truncated);
        }
        Ok(p)
    }

    pub fn opcode(&self) -> Opcode {
        let b = self.buffer.as_ref();
        Opcode::from(u16::from_be_bytes([b[0], b[1]]))
    }

    /// DATA/ACK block number (checked packets of those kinds only).
    pub fn block(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::BLOCK];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// ERROR code.
    pub fn error_code(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::ERROR_CODE];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// DATA payload / ERROR message bytes (up to the end of the packet).
    pub fn rest(&self) -> &[u8] {
        &self.buffer.as_ref()[field::REST..]
    }

    /// RRQ/WRQ/OACK string area.
    pub fn strings(&self) -> &[u8] {
        &self.buffer.as_ref()[field::STRINGS..]
    }
}

/// Options as decoded name/value pairs (names compared case-insensitively, RFC 2347).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options<'a> {
    pairs: heapless::Vec<(&'a str, u64), MAX_OPTIONS>,
    /// Options whose value is not a number (RFC 2090's `multicast`, or a value the client
    /// refuses).
    text: heapless::Vec<(&'a str, &'a str), MAX_OPTIONS>,
}

impl<'a> Options<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name=value`; false when full.
    pub fn push(&mut self, name: &'a str, value: u64) -> bool {
        self.pairs.push((name, value)).is_ok()
    }

    /// Adds `name=value` with a value that is not a number; false when full.
    pub fn push_text(&mut self, name: &'a str, value: &'a str) -> bool {
        self.text.push((name, value)).is_ok()
    }

    /// The value of a non-numeric option.
    pub fn get_text(&self, name: &str) -> Option<&'a str> {
        self.text
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }

    pub fn get(&self, name: &str) -> Option<u64> {
        self.pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a str, u64)> + '_ {
        self.pairs.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty() && self.text.is_empty()
    }

    /// Names of the options whose value is not a decimal number.
    pub fn non_numeric(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.text.iter().map(|&(n, _)| n)
    }

    fn emit(&self, out: &mut [u8], mut at: usize) -> Option<usize> {
        for (name, value) in self.iter() {
            at = put_str(out, at, name)?;
            let mut digits = [0u8; 20];
            at = put_str(out, at, fmt_u64(value, &mut digits))?;
        }
        for &(name, value) in &self.text {
            at = put_str(out, at, name)?;
            at = put_str(out, at, value)?;
        }
        Some(at)
    }

    fn len(&self) -> usize {
        let text: usize = self.text.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
        self.iter()
            .map(|(n, v)| n.len() + 1 + fmt_u64(v, &mut [0u8; 20]).len() + 1)
            .sum::<usize>()
            + text
    }
}

fn fmt_u64(mut v: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    core::str::from_utf8(&buf[i..]).unwrap_or("0")
}

fn put_str(out: &mut [u8], at: usize, s: &str) -> Option<usize> {
    let end = at.checked_add(s.len())?;
    out.get_mut(at..end)?.copy_from_slice(s.as_bytes());
    *out.get_mut(end)? = 0;
    Some(end + 1)
}

/// Splits NUL-terminated ASCII strings; an unterminated tail is an error.
fn strings(mut b: &[u8]) -> impl Iterator<Item = Result<&str, WireError>> {
    core::iter::from_fn(move || {
        if b.is_empty() {
            return None;
        }
        let Some(nul) = b.iter().position(|&c| c == 0) else {
            b = &[];
            return Some(Err(WireError::BadString));
        };
        let (s, rest) = b.split_at(nul);
        b = &rest[1..];
        Some(if s.is_ascii() {
            core::str::from_utf8(s).map_err(|_| WireError::BadString)
        } else {
            Err(WireError::BadString)
        })
    })
}

fn parse_options<'a>(
    it: &mut impl Iterator<Item = Result<&'a str, WireError>>,
) -> Result<Options<'a>, WireError> {
    let mut o = Options::new();
    while let Some(name) = it.next() {
        let name = name?;
        let value = it.next().ok_or(WireError::BadOption)??;
        let numeric =
            !value.is_empty() && value.len() <= 19 && value.bytes().all(|c| c.is_ascii_digit());
        if numeric {
            let v = value
                .bytes()
                .fold(0u64, |a, c| a * 10 + u64::from(c - b'0'));
            o.pairs.push((name, v)).map_err(|_| WireError::BadOption)?;
        } else {
            o.text
                .push((name, value))
                .map_err(|_| WireError::BadOption)?;
        }
    }
    Ok(o)
}

/// A decoded TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repr<'a> {
    /// RRQ (`write: false`) or WRQ.
    Request {
        write: bool,
        filename: &'a str,
        mode: &'a str,
        options: Options<'a>,
    },
    Data {
        block: u16,
        data: &'a [u8],
    },
    Ack {
        block: u16,
    },
    /// ERROR; a message without its NUL is accepted (some servers omit it).
    Error {
        code: u16,
        message: &'a str,
    },
    Oack {
        options: Options<'a>,
    },
}

impl<'a> Repr<'a> {
    /// Decodes a checked packet. Unknown opcodes come back as
    /// [`ParseError::UnknownOpcode`] so the client can answer with ERROR 4.
    pub fn parse(p: Packet<&'a [u8]>) -> Result<Repr<'a>, ParseError> {
        let rest: &'a [u8] = p.buffer.get(field::REST..).unwrap_or(&[]);
        let strs: &'a [u8] = p.buffer.get(field::STRINGS..).unwrap_or(&[]);
        match p.opcode() {
            Opcode::Data => Ok(Repr::Data {
                block: p.block(),
                data: rest,
            }),
            Opcode::Ack => Ok(Repr::Ack { block: p.block() }),
            Opcode::Error => {
                let raw = rest;
                let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
                let msg = &raw[..end];
                // Keep the printable ASCII prefix: the message goes to the console.
                let good = msg
                    .iter()
                    .position(|c| !(0x20..0x7F).contains(c))
                    .unwrap_or(msg.len());
                Ok(Repr::Error {
                    code: p.error_code(),
                    message: core::str::from_utf8(&msg[..good]).unwrap_or(""),
                })
            }
            Opcode::Rrq | Opcode::Wrq => {
                let mut it = strings(strs);
                let filename = it.next().ok_or(WireError::Truncated)??;
                let mode = it.next().ok_or(WireError::Truncated)??;
                Ok(Repr::Request {
                    write: p.opcode() == Opcode::Wrq,
                    filename,
                    mode,
                    options: parse_options(&mut it)?,
                })
            }
            Opcode::Oack => Ok(Repr::Oack {
                options: parse_options(&mut strings(strs))?,
            }),
            Opcode::Unknown(n) => Err(ParseError::UnknownOpcode(n)),
        }
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::Request {
                filename,
                mode,
                options,
                ..
            } => 2 + filename.len() + 1 + mode.len() + 1 + options.len(),
            Repr::Data { data, .. } => 4 + data.len(),
            Repr::Ack { .. } => 4,
            Repr::Error { message, .. } => 4 + message.len() + 1,
            Repr::Oack { options } => 2 + options.len(),
        }
    }

    /// Writes the packet into `out`; `None` if it does not fit.
    pub fn emit(&self, out: &mut [u8]) -> Option<usize> {
        let op = |o: Opcode| u16::from(o).to_be_bytes();
        let head = |out: &mut [u8], o: Opcode, v: u16| -> Option<()> {
            out.get_mut(0..2)?.copy_from_slice(&op(o));
            out.get_mut(2..4)?.copy_from_slice(&v.to_be_bytes());
            Some(())
        };
        match self {
            Repr::Request {
                write,
                filename,
                mode,
                options,
            } => {
                let o = if *write { Opcode::Wrq } else { Opcode::Rrq };
                out.get_mut(0..2)?.copy_from_slice(&op(o));
                let at = put_str(out, 2, filename)?;
                let at = put_str(out, at, mode)?;
                options.emit(out, at)
            }
            Repr::Data { block, data } => {
                head(out, Opcode::Data, *block)?;
                out.get_mut(4..4 + data.len())?.copy_from_slice(data);
                Some(4 + data.len())
            }
            Repr::Ack { block } => {
                head(out, Opcode::Ack, *block)?;
                Some(4)
            }
            Repr::Error { code, message } => {
                head(out, Opcode::Error, *code)?;
                put_str(out, 4, message)
            }
            Repr::Oack { options } => {
                out.get_mut(0..2)?.copy_from_slice(&op(Opcode::Oack));
                options.emit(out, 2)
            }
        }
    }
}

/// Why a datagram could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    Wire(WireError),
    UnknownOpcode(u16),
}

impl From<WireError> for ParseError {
    fn from(e: WireError) -> Self {
        ParseError::Wire(e)
    }
}

/// Decodes one datagram: [`Packet::new_checked`] then [`Repr::parse`].
pub fn parse(bytes: &[u8]) -> Result<Repr<'_>, ParseError> {
    Repr::parse(Packet::new_checked(bytes)?)
}
