//! `http://host[:port]/path` URLs: strict parsing (what goes into a request line must not be
//! able to split it), redirect targets resolved against the current URL, and the URL the
//! `http` command fetches when none is given.
use core::fmt::Write;
use core::net::Ipv4Addr;

/// Longest URL kept (the command line, the `file` setting and a redirect's `Location`).
pub const MAX_URL: usize = 255;

/// A URL as text; [`parse`] gives its parts.
pub type UrlBuf = heapless::String<MAX_URL>;

/// The parts of an `http://` URL, borrowed from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Url<'a> {
    /// A dotted IPv4 address or a DNS name.
    pub host: &'a str,
    pub port: u16,
    /// Starts with `/`; the fragment is gone.
    pub path: &'a str,
}

impl Url<'_> {
    /// The host as an address, when it is one.
    pub fn ip(&self) -> Option<Ipv4Addr> {
        crate::settings::parse_ipv4(self.host).ok()
    }
}

/// Why a URL cannot be fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    /// Not `http://...`.
    NotHttp,
    /// `https://`: there is no TLS here.
    Https,
    /// Empty host, a character a host name cannot hold, or `user@`.
    BadHost,
    /// Not a port number 1 to 65535.
    BadPort,
    /// A space, control or non-ASCII character in the path, or a query without a path
    /// (`http://h?x`: write `http://h/?x`).
    BadPath,
    /// Longer than [`MAX_URL`].
    TooLong,
}

impl core::fmt::Display for UrlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            UrlError::NotHttp => "not an http:// URL",
            UrlError::Https => "https is not supported (no TLS in the monitor); use http://",
            UrlError::BadHost => "bad host in the URL",
            UrlError::BadPort => "bad port in the URL (1-65535)",
            UrlError::BadPath => {
                "the URL's path must start with / and hold no space, control or non-ASCII character"
            }
            UrlError::TooLong => "URL longer than 255 characters",
        })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Is `b` allowed in a request target? Printable ASCII without space (RFC 3986 leaves the
/// rest percent-encoded; a raw CR, LF or space would split the request).
fn path_byte(b: u8) -> bool {
    (0x21..=0x7E).contains(&b)
}

/// Parses an `http://` URL.
pub fn parse(s: &str) -> Result<Url<'_>, UrlError> {
    if s.len() > MAX_URL {
        return Err(UrlError::TooLong);
    }
    if strip_prefix_ci(s, "https://").is_some() {
        return Err(UrlError::Https);
    }
    let rest = strip_prefix_ci(s, "http://").ok_or(UrlError::NotHttp)?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, mut path) = rest.split_at(end);
    if let Some(hash) = path.find('#') {
        path = &path[..hash];
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => {
            let port = (!p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u32>().ok())
                .flatten()
                .filter(|p| (1..=65535).contains(p))
                .ok_or(UrlError::BadPort)?;
            (h, port as u16)
        }
        None => (authority, 80),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !host.starts_with(['.', '-']);
    if !host_ok {
        return Err(UrlError::BadHost);
    }
    if !path.bytes().all(path_byte) || !(path.is_empty() || path.starts_with('/')) {
        return Err(UrlError::BadPath);
    }
    let path = if path.is_empty() { "/" } else { path };
    Ok(Url { host, port, path })
}

/// `://` anywhere (a URL rather than a file name); bytes, without str's pattern machinery.
fn has_scheme(s: &str) -> bool {
    s.as_bytes().windows(3).any(|w| w == b"://")
}

fn push(out: &mut UrlBuf, parts: &[&str]) -> Result<(), UrlError> {
    for p in parts {
        out.push_str(p).map_err(|_| UrlError::TooLong)?;
    }
    Ok(())
}

fn authority(base: &Url<'_>, out: &mut UrlBuf) -> Result<(), UrlError> {
    push(out, &["http://", base.host])?;
    if base.port != 80 {
        write!(out, ":{}", base.port).map_err(|_| UrlError::TooLong)?;
    }
    Ok(())
}

/// The URL a redirect's `Location` names, resolved against `base` (absolute URL,
/// `//host/path`, `/path`, or a path relative to `base`'s directory). Checked with [`parse`].
pub fn resolve(base: &Url<'_>, location: &str) -> Result<UrlBuf, UrlError> {
    let location = location.trim();
    let mut out = UrlBuf::new();
    if strip_prefix_ci(location, "http://").is_some()
        || strip_prefix_ci(location, "https://").is_some()
    {
        push(&mut out, &[location])?;
    } else if let Some(rest) = location.strip_prefix("//") {
        push(&mut out, &["http://", rest])?;
    } else if location.starts_with('/') {
        authority(base, &mut out)?;
        push(&mut out, &[location])?;
    } else if has_scheme(location) {
        return Err(UrlError::NotHttp);
    } else {
        authority(base, &mut out)?;
        let query = base.path.find('?').unwrap_or(base.path.len());
        let dir = &base.path[..base.path[..query].rfind('/').map_or(0, |i| i + 1)];
        push(
            &mut out,
            &[if dir.is_empty() { "/" } else { dir }, location],
        )?;
    }
    parse(&out)?;
    Ok(out)
}

/// What `http` fetches: the URL given, else `file` when it holds a URL, else
/// `http://SERVER/FILE`. `None` when there is neither a URL nor server and file.
pub fn target(arg: Option<&str>, server: Option<Ipv4Addr>, file: &str) -> Option<UrlBuf> {
    let mut out = UrlBuf::new();
    if let Some(a) = arg {
        out.push_str(a).ok()?;
        // An over-long URL is kept cut to the limit: parse() then says why it fails.
    } else if has_scheme(file) {
        out.push_str(file).ok()?;
    } else {
        let server = server?;
        if file.is_empty() {
            return None;
        }
        let slash = if file.starts_with('/') { "" } else { "/" };
        write!(out, "http://{server}{slash}{file}").ok()?;
    }
    Some(out)
}
