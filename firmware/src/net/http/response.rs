//! A streaming HTTP/1.1 response parser, sans-IO: bytes go in as they arrive, in pieces of
//! any size; the head is parsed line by line with hard limits, then the body is framed by
//! `Content-Length`, by chunked transfer coding, or by the end of the connection.
//!
//! Hostile heads get an error, never a guess: an overlong line, too many header lines, a
//! length that is not plain decimal or disagrees with itself, a chunk size that is not hex
//! or overflows, an unknown transfer coding.
use core::fmt;

/// Longest status or header line, CRLF included.
pub const MAX_LINE: usize = 1024;
/// Most header lines in one head (the trailer of a chunked body counts too).
pub const MAX_HEADERS: usize = 64;

/// What the head says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// The status line after the code (`Not Found`), cut to fit.
    pub reason: heapless::String<48>,
    pub content_length: Option<u64>,
    pub chunked: bool,
    /// `Location`, when it fits.
    pub location: Option<heapless::String<{ super::url::MAX_URL }>>,
    /// `Content-Range: bytes FIRST-LAST/TOTAL` (`TOTAL` may be `*`).
    pub content_range: Option<ContentRange>,
    /// A strong `ETag` (weak ones cannot be used with `If-Range`).
    pub etag: Option<heapless::String<80>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub first: u64,
    pub last: u64,
    pub total: Option<u64>,
}

/// Why a response cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    LineTooLong,
    TooManyHeaders,
    BadStatusLine,
    BadContentLength,
    BadContentRange,
    UnsupportedCoding,
    BadChunk,
    /// Bytes after a complete body (`Connection: close` was asked for).
    TrailingBytes,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::LineTooLong => "a header line longer than 1024 bytes",
            ParseError::TooManyHeaders => "more than 64 header lines",
            ParseError::BadStatusLine => "not an HTTP/1.x status line",
            ParseError::BadContentLength => "a bad or contradicting Content-Length",
            ParseError::BadContentRange => "a bad Content-Range",
            ParseError::UnsupportedCoding => "a transfer coding other than chunked",
            ParseError::BadChunk => "a bad chunk size line",
            ParseError::TrailingBytes => "bytes after the end of the body",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    StatusLine,
    Headers,
    /// `Content-Length` framing: this many bytes to go.
    Fixed(u64),
    /// No length, not chunked: the body ends with the connection.
    UntilClose,
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailer,
    Done,
}

/// One response being parsed.
#[derive(Debug)]
pub struct Response {
    phase: Phase,
    line: heapless::Vec<u8, MAX_LINE>,
    headers: usize,
    head: Head,
    /// Body bytes handed out so far.
    pub body: u64,
}

/// What [`Response::feed`] reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fed {
    /// Everything was taken; more is needed.
    More,
    /// The head is complete after this many bytes of the input: look at [`Response::head`]
    /// before feeding the rest (whose body would otherwise land at once).
    Head(usize),
    /// The body is complete after this many bytes of the input.
    Done(usize),
}

fn decimal(v: &str) -> Option<u64> {
    let v = v.trim();
    if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

fn parse_range(v: &str) -> Option<ContentRange> {
    let v = v.trim().strip_prefix("bytes ")?;
    let (span, total) = v.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let (first, last) = (decimal(first)?, decimal(last)?);
    let total = match total.trim() {
        "*" => None,
        t => Some(decimal(t)?),
    };
    (first <= last && total.is_none_or(|t| last < t)).then_some(ContentRange { first, last, total })
}

impl Default for Response {
    fn default() -> Self {
        Self::new()
    }
}

impl Response {
    pub const fn new() -> Self {
        Response {
            phase: Phase::StatusLine,
            line: heapless::Vec::new(),
            headers: 0,
            head: Head {
                status: 0,
                reason: heapless::String::new(),
                content_length: None,
                chunked: false,
                location: None,
                content_range: None,
                etag: None,
            },
            body: 0,
        }
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The body's length when the head says it (the whole of it, or of this range).
    pub fn expected(&self) -> Option<u64> {
        (!self.head.chunked)
            .then_some(self.head.content_length)
            .flatten()
    }

    /// Does the body end only when the connection does?
    pub fn until_close(&self) -> bool {
        self.phase == Phase::UntilClose
    }

    /// A response with no body at all (`HEAD`-like statuses) is complete at its head.
    fn start_body(&mut self) {
        let h = &self.head;
        self.phase = if h.status == 204 || h.status == 304 || (100..200).contains(&h.status) {
            Phase::Done
        } else if h.chunked {
            Phase::ChunkSize
        } else {
            match h.content_length {
                Some(0) => Phase::Done,
                Some(n) => Phase::Fixed(n),
                None => Phase::UntilClose,
            }
        };
    }

    fn status_line(&mut self, line: &str) -> Result<(), ParseError> {
        let rest = line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| line.strip_prefix("HTTP/1.0 "))
            .ok_or(ParseError::BadStatusLine)?;
        // Bytes first: `split_at(3)` inside a multi-byte character would panic (the fuzzer
        // found a status line that did).
        if rest.len() < 3 || !rest.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
            return Err(ParseError::BadStatusLine);
        }
        let (code, reason) = rest.split_at(3);
        if !(reason.is_empty() || reason.starts_with(' ')) {
            return Err(ParseError::BadStatusLine);
        }
        self.head.status = code.parse().map_err(|_| ParseError::BadStatusLine)?;
        if self.head.status < 100 {
            return Err(ParseError::BadStatusLine);
        }
        for c in reason.trim().chars() {
            let c = if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            };
            if self.head.reason.push(c).is_err() {
                break;
            }
        }
        Ok(())
    }

    fn header_line(&mut self, line: &str) -> Result<(), ParseError> {
        self.headers += 1;
        if self.headers > MAX_HEADERS {
            return Err(ParseError::TooManyHeaders);
        }
        // A line without a colon, or a continuation line (obsolete folding), carries nothing
        // used here.
        let Some((name, value)) = line.split_once(':') else {
            return Ok(());
        };
        if name.starts_with([' ', '\t']) {
            return Ok(());
        }
        let value = value.trim();
        let h = &mut self.head;
        if name.eq_ignore_ascii_case("content-length") {
            // `Content-Length: 5, 5` is allowed by RFC 9110 when all values agree.
            for v in value.split(',') {
                let n = decimal(v).ok_or(ParseError::BadContentLength)?;
                if h.content_length.is_some_and(|m| m != n) {
                    return Err(ParseError::BadContentLength);
                }
                h.content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            for coding in value.split(',').map(str::trim) {
                if coding.eq_ignore_ascii_case("chunked") {
                    h.chunked = true;
                } else if !coding.eq_ignore_ascii_case("identity") {
                    return Err(ParseError::UnsupportedCoding);
                }
            }
        } else if name.eq_ignore_ascii_case("location") {
            h.location = heapless::String::try_from(value).ok();
        } else if name.eq_ignore_ascii_case("content-range") {
            h.content_range = Some(parse_range(value).ok_or(ParseError::BadContentRange)?);
        } else if name.eq_ignore_ascii_case("etag") && value.starts_with('"') {
            h.etag = heapless::String::try_from(value).ok();
        }
        Ok(())
    }

    /// Takes one complete line (without CRLF) in the head or a chunked body's framing.
    fn take_line(&mut self) -> Result<Option<Fed>, ParseError> {
        let line = core::mem::take(&mut self.line);
        // Header bytes outside ASCII are not used; they must not stop the parse.
        let text = core::str::from_utf8(&line).unwrap_or("");
        match self.phase {
            Phase::StatusLine => {
                if text.is_empty() && self.headers == 0 {
                    // Tolerate a stray empty line before the status line (RFC 9112 2.2).
                    self.headers = 1;
                    return Ok(None);
                }
                self.headers = 0;
                self.status_line(text)?;
                self.phase = Phase::Headers;
            }
            Phase::Headers => {
                if text.is_empty() {
                    if (100..200).contains(&self.head.status) {
                        // An interim response (100 Continue): the real one follows.
                        *self = Response::new();
                        return Ok(None);
                    }
                    self.start_body();
                    return Ok(Some(Fed::Head(0)));
                }
                self.header_line(text)?;
            }
            Phase::ChunkSize => {
                let size = text.split(';').next().unwrap_or("").trim();
                if size.is_empty()
                    || size.len() > 15
                    || !size.bytes().all(|b| b.is_ascii_hexdigit())
                {
                    return Err(ParseError::BadChunk);
                }
                let n = u64::from_str_radix(size, 16).map_err(|_| ParseError::BadChunk)?;
                self.phase = if n == 0 {
                    Phase::Trailer
                } else {
                    Phase::ChunkData(n)
                };
            }
            Phase::ChunkEnd => {
                if !text.is_empty() {
                    return Err(ParseError::BadChunk);
                }
                self.phase = Phase::ChunkSize;
            }
            Phase::Trailer => {
                if text.is_empty() {
                    self.phase = Phase::Done;
                    return Ok(Some(Fed::Done(0)));
                }
                self.headers += 1;
                if self.headers > MAX_HEADERS {
                    return Err(ParseError::TooManyHeaders);
                }
            }
            _ => {}
        }
        Ok(None)
    }

    /// Feeds received bytes. Body bytes go to `sink` in order (it may refuse them, which
    /// ends the parse with its error). Stops after the head (see [`Fed::Head`]).
    pub fn feed<E: From<ParseError>>(
        &mut self,
        data: &[u8],
        sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<Fed, E> {
        let mut i = 0;
        while i < data.len() {
            match self.phase {
                Phase::Fixed(left) => {
                    let n = (data.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                    sink(&data[i..i + n])?;
                    self.body += n as u64;
                    i += n;
                    if left == n as u64 {
                        self.phase = Phase::Done;
                        return Ok(Fed::Done(i));
                    }
                    self.phase = Phase::Fixed(left - n as u64);
                }
                Phase::UntilClose => {
                    sink(&data[i..])?;
                    self.body += (data.len() - i) as u64;
                    i = data.len();
                }
                Phase::ChunkData(left) => {
                    let n = (data.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                    sink(&data[i..i + n])?;
                    self.body += n as u64;
                    i += n;
                    self.phase = if left == n as u64 {
                        Phase::ChunkEnd
                    } else {
                        Phase::ChunkData(left - n as u64)
                    };
                }
                Phase::Done => return Err(ParseError::TrailingBytes.into()),
                _ => {
                    // Line mode: up to LF; a CR before it is dropped.
                    let b = data[i];
                    i += 1;
                    if self.phase == Phase::ChunkEnd && b != b'\r' && b != b'\n' {
                        // Chunk data longer than its size line said.
                        return Err(ParseError::BadChunk.into());
                    }
                    if b != b'\n' {
                        self.line.push(b).map_err(|_| ParseError::LineTooLong)?;
                        continue;
                    }
                    if self.line.last() == Some(&b'\r') {
                        self.line.pop();
                    }
                    match self.take_line()? {
                        Some(Fed::Head(_)) => return Ok(Fed::Head(i)),
                        Some(Fed::Done(_)) => return Ok(Fed::Done(i)),
                        _ => {}
                    }
                }
            }
        }
        Ok(Fed::More)
    }
}
