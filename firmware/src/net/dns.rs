//! A DNS A-record lookup (RFC 1035), sans-IO: the query for a name, and the address from an
//! answer. What `http` needs for a URL's host name, and no more: one question, recursion
//! desired, the first A record of the answer section (a CNAME chain's records are skipped).
//!
//! Hand-written rather than smoltcp's DNS socket: that feature alone costs 4.7 KB of the
//! firmware's 256 KiB budget (every socket poll dispatches over it), this about 1 KB.
//! Answers are hostile input: every length is checked against the packet, a name's labels
//! are skipped without following compression pointers (so no pointer loop), and anything
//! malformed is an error, never a guess.
use core::fmt;
use core::net::Ipv4Addr;

pub const PORT: u16 = 53;
/// The largest query: 12-byte header, a name of at most 255 bytes, type and class.
pub const MAX_QUERY: usize = 12 + 255 + 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// Not a host name: empty, over 253 characters, a label empty or over 63, or a
    /// character other than letters, digits and `-`.
    BadName,
    /// Not an answer to our query (id, flags, length): ignored, the wait goes on.
    NotOurs,
    /// The name does not exist (NXDOMAIN).
    NoSuchHost,
    /// The server failed (any other RCODE).
    Server(u8),
    /// The answer was cut to fit UDP.
    Truncated,
    /// The name exists but has no IPv4 address.
    NoAddress,
    /// A length or label that runs past the packet.
    Malformed,
    /// The answer is the asking unit's own address (a server's mistake: the unit would
    /// connect to itself). The caller, which knows its address, says so.
    OwnAddress(Ipv4Addr),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::BadName => f.write_str("not a host name"),
            DnsError::NotOurs => f.write_str("not an answer to the query"),
            DnsError::NoSuchHost => f.write_str("no such host"),
            DnsError::Server(code) => write!(f, "the DNS server failed (RCODE {code})"),
            DnsError::Truncated => f.write_str("the DNS answer was truncated"),
            DnsError::NoAddress => f.write_str("the host has no IPv4 address"),
            DnsError::Malformed => f.write_str("a malformed DNS answer"),
            DnsError::OwnAddress(ip) => {
                write!(f, "the DNS server answered {ip}, this unit's own address")
            }
        }
    }
}

/// Writes the query for `name`'s A record with `id` into `out`; returns its length.
pub fn query(id: u16, name: &str, out: &mut [u8; MAX_QUERY]) -> Result<usize, DnsError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err(DnsError::BadName);
    }
    out[..12].copy_from_slice(&[0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    out[..2].copy_from_slice(&id.to_be_bytes());
    let mut at = 12;
    for label in name.split('.') {
        let ok = label.len() <= 63
            && !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(DnsError::BadName);
        }
        out[at] = label.len() as u8;
        out[at + 1..at + 1 + label.len()].copy_from_slice(label.as_bytes());
        at += 1 + label.len();
    }
    out[at..at + 5].copy_from_slice(&[0, 0, 1, 0, 1]); // root, type A, class IN
    Ok(at + 5)
}

/// The offset after the name that starts at `at`.
fn skip_name(p: &[u8], mut at: usize) -> Result<usize, DnsError> {
    for _ in 0..128 {
        let len = *p.get(at).ok_or(DnsError::Malformed)?;
        match len >> 6 {
            0 if len == 0 => return Ok(at + 1),
            0 => at += 1 + usize::from(len),
            // A compression pointer ends the name; where it points does not matter here.
            3 => {
                return (at + 2 <= p.len())
                    .then_some(at + 2)
                    .ok_or(DnsError::Malformed)
            }
            _ => return Err(DnsError::Malformed),
        }
    }
    Err(DnsError::Malformed)
}

fn u16_at(p: &[u8], at: usize) -> Result<u16, DnsError> {
    let b = p.get(at..at + 2).ok_or(DnsError::Malformed)?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

/// The address an answer to query `id` gives.
pub fn answer(id: u16, p: &[u8]) -> Result<Ipv4Addr, DnsError> {
    if p.len() < 12 || u16_at(p, 0)? != id || p[2] & 0x80 == 0 || p[2] & 0x78 != 0 {
        return Err(DnsError::NotOurs);
    }
    if p[2] & 0x02 != 0 {
        return Err(DnsError::Truncated);
    }
    match p[3] & 0x0F {
        0 => {}
        3 => return Err(DnsError::NoSuchHost),
        code => return Err(DnsError::Server(code)),
    }
    let (questions, answers) = (u16_at(p, 4)?, u16_at(p, 6)?);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(p, at)? + 4;
    }
    for _ in 0..answers {
        at = skip_name(p, at)?;
        let (kind, class) = (u16_at(p, at)?, u16_at(p, at + 2)?);
        let len = usize::from(u16_at(p, at + 8)?);
        let data = p.get(at + 10..at + 10 + len).ok_or(DnsError::Malformed)?;
        if kind == 1 && class == 1 && len == 4 {
            return Ok(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        at += 10 + len;
    }
    Err(DnsError::NoAddress)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer to `q` with a CNAME then an A record, names compressed as servers do.
    fn reply(q: &[u8], rcode: u8, records: &[&[u8]]) -> std::vec::Vec<u8> {
        let mut r = q.to_vec();
        r[2] = 0x81;
        r[3] = 0x80 | rcode;
        r[7] = records.len() as u8;
        for rec in records {
            r.extend_from_slice(rec);
        }
        r
    }

    const CNAME: &[u8] = &[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, b'x', 0xC0, 12];
    const A: &[u8] = &[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 77, 0, 1];

    #[test]
    fn a_query_and_its_answer() {
        let mut q = [0u8; MAX_QUERY];
        let n = query(0x1234, "files.example.", &mut q).unwrap();
        assert_eq!(
            &q[..n],
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05files\x07example\x00\x00\x01\x00\x01"
        );
        let r = reply(&q[..n], 0, &[CNAME, A]);
        assert_eq!(answer(0x1234, &r), Ok(Ipv4Addr::new(10, 77, 0, 1)));
        assert_eq!(answer(0x1235, &r), Err(DnsError::NotOurs));
        assert_eq!(
            answer(0x1234, &q[..n]),
            Err(DnsError::NotOurs),
            "a query is no answer"
        );
        assert_eq!(
            answer(0x1234, &reply(&q[..n], 3, &[])),
            Err(DnsError::NoSuchHost)
        );
        assert_eq!(
            answer(0x1234, &reply(&q[..n], 2, &[])),
            Err(DnsError::Server(2))
        );
        assert_eq!(
            answer(0x1234, &reply(&q[..n], 0, &[CNAME])),
            Err(DnsError::NoAddress)
        );
        let mut t = r.clone();
        t[2] |= 0x02;
        assert_eq!(answer(0x1234, &t), Err(DnsError::Truncated));
    }

    #[test]
    fn bad_names_are_refused() {
        let mut q = [0u8; MAX_QUERY];
        let long_label = "a".repeat(64);
        let long_name = ["abcdefghi"; 26].join(".");
        for bad in [
            "",
            ".",
            "a..b",
            "a b",
            "a_b.example",
            &long_label,
            &long_name,
        ] {
            assert_eq!(query(1, bad, &mut q), Err(DnsError::BadName), "{bad:?}");
        }
        let longest = ["a".repeat(63).as_str(); 4]
            .join(".")
            .get(..253)
            .unwrap()
            .to_string();
        let longest = longest.trim_end_matches('.').to_string();
        assert!(query(1, &longest, &mut q).is_ok());
    }

    #[test]
    fn every_cut_and_every_byte_of_an_answer_is_survived() {
        let mut q = [0u8; MAX_QUERY];
        let n = query(7, "h.example", &mut q).unwrap();
        let r = reply(&q[..n], 0, &[CNAME, A]);
        for cut in 0..r.len() {
            let _ = answer(7, &r[..cut]);
            assert_ne!(
                answer(7, &r[..cut]),
                Ok(Ipv4Addr::new(10, 77, 0, 1)),
                "{cut}"
            );
        }
        for i in 0..r.len() {
            for v in [0x00, 0x3F, 0x40, 0xC0, 0xFF] {
                let mut m = r.clone();
                m[i] = v;
                let _ = answer(7, &m);
            }
        }
        // A label running past the end, a reserved label type.
        let mut m = reply(&q[..n], 0, &[]);
        m[7] = 1;
        m.extend_from_slice(&[60, b'a']);
        assert_eq!(answer(7, &m), Err(DnsError::Malformed));
        let mut m = reply(&q[..n], 0, &[]);
        m[7] = 1;
        m.extend_from_slice(&[0x80, 0]);
        assert_eq!(answer(7, &m), Err(DnsError::Malformed));
    }
}
