//! The `http` download as a sans-IO state machine: which host to connect to, the request to
//! send, what to do with the bytes that come back and with the end of a connection. The
//! session ([`super::session`]) moves bytes between it and a smoltcp TCP socket; host tests
//! drive it with scripted responses.
//!
//! - The body lands at the start of the caller's buffer; a length larger than the buffer is
//!   refused when the head says so, before any body byte lands.
//! - Up to [`MAX_REDIRECTS`] redirects (301, 302, 303, 307, 308) are followed.
//! - A connection that ends before the body does is resumed with `Range: bytes=N-` from the
//!   byte reached (with `If-Range` when the server gave a strong ETag, so a file that changed
//!   meanwhile comes whole instead of spliced); after [`MAX_TRIES`] connections in a row that
//!   bring no new byte, the download fails.
use core::fmt::{self, Write};

use super::response::{Fed, ParseError, Response};
use super::url::{self, Url, UrlBuf, UrlError};

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: u8 = 3;
/// Connections in a row that may end without bringing a new body byte.
pub const MAX_TRIES: u8 = 4;
/// A download that brings fewer than [`SLOW_BYTES`] body bytes in this many seconds (a
/// silent server, a zero window, a trickle) is given up: waiting for ESC is no answer. The
/// operator's line says "a minute".
pub const SLOW_SECONDS: u64 = 60;
pub const SLOW_BYTES: u64 = 64 << 10;

/// Why a download failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    Url(UrlError),
    Parse(ParseError),
    /// A 4xx or 5xx (or an unexpected) status: the status line as the server gave it.
    Status(u16, heapless::String<48>),
    /// The file is larger than the buffer: by the head's length (refused before any body
    /// byte), or, for a body without one (chunked, or up to the close), at the first byte
    /// that did not fit.
    TooLarge {
        len: Option<u64>,
        room: u64,
    },
    TooManyRedirects,
    /// A redirect without a usable `Location`.
    BadRedirect,
    /// The connection ended before the body did, [`MAX_TRIES`] times without progress.
    Cut {
        reached: u64,
        total: Option<u64>,
    },
    /// A 206 whose range does not start where the download stands.
    BadResume {
        asked: u64,
    },
    /// The host could not be reached (refused, no answer) this many times.
    NoConnection,
    /// A host name that could not be resolved.
    Dns(crate::net::dns::DnsError),
    /// A host name and no DNS server set.
    NoDnsServer,
    /// The DNS server did not answer.
    DnsTimeout,
    /// Fewer than [`SLOW_BYTES`] body bytes came in [`SLOW_SECONDS`]: this many.
    TooSlow(u64),
    /// A host (after a redirect, or the DNS server) this unit has no route to.
    Route(crate::net::session::RouteError),
    Aborted,
}

impl From<ParseError> for HttpError {
    fn from(e: ParseError) -> Self {
        HttpError::Parse(e)
    }
}

impl From<UrlError> for HttpError {
    fn from(e: UrlError) -> Self {
        HttpError::Url(e)
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Url(e) => write!(f, "{e}"),
            HttpError::Parse(e) => write!(f, "the server sent {e}"),
            HttpError::Status(code, reason) => write!(f, "server said \"{code} {reason}\""),
            HttpError::TooLarge {
                len: Some(len),
                room,
            } => write!(
                f,
                "the file is {len} bytes, larger than the {room}-byte download buffer; nothing was received"
            ),
            HttpError::TooLarge { len: None, room } => write!(
                f,
                "the file is larger than the {room}-byte download buffer (it gave no length); stopped there"
            ),
            HttpError::TooManyRedirects => write!(f, "more than {MAX_REDIRECTS} redirects"),
            HttpError::BadRedirect => f.write_str("a redirect without a usable Location"),
            HttpError::Cut { reached, total } => {
                write!(f, "connection lost at byte {reached}")?;
                if let Some(t) = total {
                    write!(f, " of {t}")?;
                }
                write!(f, " {MAX_TRIES} times in a row without progress")
            }
            HttpError::BadResume { asked } => {
                write!(f, "the server answered a resume from byte {asked} with another range")
            }
            HttpError::NoConnection => {
                write!(f, "no connection to the server after {MAX_TRIES} tries")
            }
            HttpError::Dns(e) => write!(f, "cannot resolve the host name: {e}"),
            HttpError::NoDnsServer => {
                f.write_str("the URL names a host and no DNS server is set (dns IP, or address dhcp)")
            }
            HttpError::DnsTimeout => f.write_str("the DNS server did not answer"),
            HttpError::TooSlow(got) => write!(f, "the server sent {got} bytes in a minute"),
            HttpError::Route(e) => write!(f, "{e}"),
            HttpError::Aborted => f.write_str("aborted"),
        }
    }
}

/// What happened, for `trace on` and the progress dots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Body bytes landed: this many in all.
    Progress(u64),
    /// The status line arrived.
    Status(u16),
    /// Following a redirect to this URL.
    Redirect(&'a str),
    /// Asking again from this byte (a resume).
    Resume(u64),
    /// The server answered a resume with the whole file: starting again from byte 0.
    Restart,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// A connection to [`HttpClient::url`] is wanted.
    Connect,
    /// The request has gone out; a response is being read.
    Response,
    /// The body is being read into the buffer.
    Body,
    Finished(Result<u64, HttpError>),
}

/// One `http` download.
#[derive(Debug)]
pub struct HttpClient {
    url: UrlBuf,
    state: State,
    resp: Response,
    redirects: u8,
    /// Connections in a row without a new body byte (or without a connection at all).
    failures: u8,
    /// Body bytes at the start of the buffer.
    reached: u64,
    /// The file's length when a head said it.
    total: Option<u64>,
    /// Where this response's body lands.
    offset: u64,
    /// `reached` when this connection started.
    reached_at_connect: u64,
    etag: Option<heapless::String<80>>,
    /// Did this connection ever get established (for the "no connection" verdict)?
    connected: bool,
}

impl HttpClient {
    /// A download of `url` (checked now: a bad URL fails before any connection).
    pub fn new(url: &str) -> Result<Self, HttpError> {
        url::parse(url)?;
        Ok(HttpClient {
            url: UrlBuf::try_from(url).map_err(|_| UrlError::TooLong)?,
            state: State::Connect,
            resp: Response::new(),
            redirects: 0,
            failures: 0,
            reached: 0,
            total: None,
            offset: 0,
            reached_at_connect: 0,
            etag: None,
            connected: false,
        })
    }

    /// The URL being fetched now (after redirects).
    pub fn url(&self) -> Url<'_> {
        // Checked when it was stored.
        url::parse(&self.url).unwrap_or(Url {
            host: "",
            port: 80,
            path: "/",
        })
    }

    pub fn url_text(&self) -> &str {
        &self.url
    }

    /// Does the client want a (new) connection to [`HttpClient::url`]?
    pub fn wants_connection(&self) -> bool {
        self.state == State::Connect
    }

    pub fn outcome(&self) -> Option<&Result<u64, HttpError>> {
        match &self.state {
            State::Finished(r) => Some(r),
            _ => None,
        }
    }

    /// Body bytes landed so far and the file's length when known.
    pub fn progress(&self) -> (u64, Option<u64>) {
        (self.reached, self.total)
    }

    /// The connection is established: the request to send on it.
    pub fn on_connected(&mut self, out: &mut heapless::Vec<u8, 512>) -> Result<(), HttpError> {
        self.connected = true;
        self.resp = Response::new();
        self.reached_at_connect = self.reached;
        self.state = State::Response;
        out.clear();
        let u = self.url();
        let mut w = Writer(out);
        let r = (|| -> fmt::Result {
            write!(w, "GET {} HTTP/1.1\r\nHost: {}", u.path, u.host)?;
            if u.port != 80 {
                write!(w, ":{}", u.port)?;
            }
            w.write_str("\r\nUser-Agent: lifeboat\r\nAccept: */*\r\nConnection: close\r\n")?;
            if self.reached > 0 {
                write!(w, "Range: bytes={}-\r\n", self.reached)?;
                if let Some(tag) = &self.etag {
                    write!(w, "If-Range: {tag}\r\n")?;
                }
            }
            w.write_str("\r\n")
        })();
        r.map_err(|_| HttpError::Url(UrlError::TooLong))
    }

    /// Bytes from the connection. Returns how many were used; the rest (after the end of a
    /// response that is not taken) is dropped by the caller with the connection.
    pub fn on_data(
        &mut self,
        data: &[u8],
        buf: &mut [u8],
        ev: &mut impl FnMut(Event<'_>),
    ) -> usize {
        match self.feed(data, buf, ev) {
            Ok(n) => n,
            Err(e) => {
                self.state = State::Finished(Err(e));
                data.len()
            }
        }
    }

    fn feed(
        &mut self,
        data: &[u8],
        buf: &mut [u8],
        ev: &mut impl FnMut(Event<'_>),
    ) -> Result<usize, HttpError> {
        let mut used = 0;
        if self.state == State::Response {
            let fed = self
                .resp
                .feed(data, &mut |_: &[u8]| Ok::<(), HttpError>(()))?;
            let Fed::Head(n) = fed else {
                return Ok(data.len());
            };
            used = n;
            self.on_head(buf.len() as u64, ev)?;
            if self.state != State::Body {
                return Ok(used);
            }
        }
        if self.state != State::Body {
            return Ok(data.len());
        }
        let room = buf.len() as u64;
        let mut at = self.offset + self.resp.body;
        let fed = self.resp.feed(&data[used..], &mut |bytes: &[u8]| {
            let end = at + bytes.len() as u64;
            if end > room {
                // What the head said was checked already: a body without a length.
                return Err(HttpError::TooLarge { len: None, room });
            }
            buf[at as usize..end as usize].copy_from_slice(bytes);
            at = end;
            Ok(())
        })?;
        if at > self.reached {
            self.reached = at;
            ev(Event::Progress(at));
        }
        match fed {
            Fed::Done(n) => {
                self.finish_body()?;
                Ok(used + n)
            }
            _ => Ok(data.len()),
        }
    }

    fn finish_body(&mut self) -> Result<(), HttpError> {
        if let Some(t) = self.total {
            if self.reached != t {
                return Err(HttpError::Cut {
                    reached: self.reached,
                    total: self.total,
                });
            }
        }
        self.state = State::Finished(Ok(self.reached));
        Ok(())
    }

    fn on_head(&mut self, room: u64, ev: &mut impl FnMut(Event<'_>)) -> Result<(), HttpError> {
        let head = self.resp.head().clone();
        ev(Event::Status(head.status));
        match head.status {
            200 => {
                if self.reached > 0 {
                    ev(Event::Restart);
                }
                self.reached = 0;
                self.offset = 0;
                self.total = self.resp.expected();
                self.etag = head.etag.clone();
            }
            206 if self.reached > 0 => {
                let r = head.content_range.ok_or(HttpError::BadResume {
                    asked: self.reached,
                })?;
                if r.first != self.reached || self.total.zip(r.total).is_some_and(|(a, b)| a != b) {
                    return Err(HttpError::BadResume {
                        asked: self.reached,
                    });
                }
                self.offset = r.first;
                self.total = r.total.or(self.total);
            }
            301 | 302 | 303 | 307 | 308 => {
                self.redirects += 1;
                if self.redirects > MAX_REDIRECTS {
                    return Err(HttpError::TooManyRedirects);
                }
                let loc = head.location.as_deref().ok_or(HttpError::BadRedirect)?;
                let next = url::resolve(&self.url(), loc)?;
                ev(Event::Redirect(&next));
                self.url = next;
                // A new resource: nothing of the old one counts.
                self.reached = 0;
                self.total = None;
                self.etag = None;
                self.failures = 0;
                self.state = State::Connect;
                return Ok(());
            }
            code => return Err(HttpError::Status(code, head.reason)),
        }
        if let Some(t) = self.total {
            if t > room {
                return Err(HttpError::TooLarge { len: Some(t), room });
            }
        }
        self.state = State::Body;
        if self.resp.is_done() {
            self.finish_body()?;
        }
        Ok(())
    }

    /// The connection ended (FIN, reset, or the session gave up on it): finish a body that
    /// runs to the end of the connection, resume a cut one, or fail after too many tries.
    pub fn on_closed(&mut self, ev: &mut impl FnMut(Event<'_>)) {
        match self.state {
            State::Finished(_) | State::Connect => {
                if self.state == State::Connect && !self.connected {
                    self.retry(ev);
                }
            }
            State::Body if self.resp.until_close() => {
                if let Err(e) = self.finish_body() {
                    self.state = State::Finished(Err(e));
                }
            }
            State::Response | State::Body => self.retry(ev),
        }
        self.connected = false;
    }

    /// A connection attempt failed (refused, timed out) before it was established.
    pub fn on_connect_failed(&mut self, ev: &mut impl FnMut(Event<'_>)) {
        self.connected = false;
        self.retry(ev);
    }

    fn retry(&mut self, ev: &mut impl FnMut(Event<'_>)) {
        if self.reached > self.reached_at_connect {
            self.failures = 0;
        }
        self.failures += 1;
        self.reached_at_connect = self.reached;
        if self.failures >= MAX_TRIES {
            self.state = State::Finished(Err(if self.reached == 0 && !self.connected {
                HttpError::NoConnection
            } else {
                HttpError::Cut {
                    reached: self.reached,
                    total: self.total,
                }
            }));
            return;
        }
        if self.reached > 0 {
            ev(Event::Resume(self.reached));
        }
        self.state = State::Connect;
    }

    /// The operator pressed ESC, or the session failed for a reason of its own.
    pub fn fail(&mut self, e: HttpError) {
        self.state = State::Finished(Err(e));
    }
}

struct Writer<'a>(&'a mut heapless::Vec<u8, 512>);

impl Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes())
            .map_err(|_| fmt::Error)
    }
}
