//! The operator's settings and the strict parsers for the values typed into them.
//!
//! Owns what the operator has told the monitor (this unit's address, the TFTP
//! server, the image file name, the gateway, the interface, tracing) and the
//! rules for what counts as a valid IPv4 address and netmask. Nothing here
//! touches hardware. It sits below both the console that sets the values
//! ([`crate::monitor`]) and the network code that reads them ([`crate::net`]).
#![forbid(unsafe_code)]

use core::fmt;
use core::net::Ipv4Addr;

/// Longest image file name `file` accepts, in characters.
pub const MAX_FILE_NAME_LEN: usize = 127;

/// The netmask used until the operator gives one: a /24, as on the PIX.
pub const DEFAULT_NETMASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);

/// An image file name on the TFTP server; empty means not set.
pub type FileName = heapless::String<MAX_FILE_NAME_LEN>;

/// Everything the operator has set in the monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// This unit's IPv4 address on the chosen interface.
    pub address: Option<Ipv4Addr>,
    /// The netmask that goes with `address`; always contiguous.
    pub netmask: Ipv4Addr,
    /// The TFTP server, also the default `ping` target.
    pub server: Option<Ipv4Addr>,
    /// The image file to fetch; empty means not set.
    pub file: FileName,
    /// The router towards the server, when it is not on the local subnet.
    pub gateway: Option<Ipv4Addr>,
    /// Index of the network interface to use, in the order they were found.
    pub interface: usize,
    /// Print a line for every packet sent and received.
    pub trace: bool,
    /// The DNS server `http` asks for a URL's host name.
    pub dns: Option<Ipv4Addr>,
}

impl Settings {
    /// Nothing set: no addresses, no file, the default netmask, interface 0.
    pub const fn new() -> Self {
        Settings {
            address: None,
            netmask: DEFAULT_NETMASK,
            server: None,
            file: heapless::String::new(),
            gateway: None,
            interface: 0,
            trace: false,
            dns: None,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::new()
    }
}

/// Why a string is not an IPv4 address. Octets are numbered from 1, left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrError {
    /// Nothing was given.
    Empty,
    /// Fewer than four dot-separated numbers (carries how many there were).
    TooFewOctets(usize),
    /// More than four dot-separated numbers.
    TooManyOctets,
    /// Nothing between two dots, or before the first or after the last.
    EmptyOctet(usize),
    /// A number with more than three digits.
    OctetTooLong(usize),
    /// A number above 255 (carries its position and value).
    OctetTooLarge(usize, u16),
    /// A character that is neither a digit nor a dot.
    InvalidCharacter(char),
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AddrError::Empty => f.write_str("empty"),
            AddrError::TooFewOctets(n) => write!(f, "only {n} of 4 numbers"),
            AddrError::TooManyOctets => f.write_str("more than 4 numbers"),
            AddrError::EmptyOctet(i) => write!(f, "number {i} is empty"),
            AddrError::OctetTooLong(i) => write!(f, "number {i} has more than 3 digits"),
            AddrError::OctetTooLarge(i, value) => write!(f, "number {i} is {value}, above 255"),
            AddrError::InvalidCharacter(c) => write!(f, "unexpected character '{c}'"),
        }
    }
}

/// Parses exactly four dot-separated decimal numbers 0-255, nothing else.
///
/// Leading zeros are read as decimal ("010" is 10): the monitor echoes the
/// value back in canonical form, so the operator sees how it was read.
pub fn parse_ipv4(text: &str) -> Result<Ipv4Addr, AddrError> {
    if text.is_empty() {
        return Err(AddrError::Empty);
    }
    if let Some(c) = text.chars().find(|&c| c != '.' && !c.is_ascii_digit()) {
        return Err(AddrError::InvalidCharacter(c));
    }
    let mut octets = [0u8; 4];
    let mut count = 0;
    for (index, part) in text.split('.').enumerate() {
        let position = index + 1;
        if index >= octets.len() {
            return Err(AddrError::TooManyOctets);
        }
        if part.is_empty() {
            return Err(AddrError::EmptyOctet(position));
        }
        if part.len() > 3 {
            return Err(AddrError::OctetTooLong(position));
        }
        // At most three ASCII digits, checked above, so this cannot overflow.
        let value = part
            .bytes()
            .fold(0u16, |acc, digit| acc * 10 + u16::from(digit - b'0'));
        octets[index] =
            u8::try_from(value).map_err(|_| AddrError::OctetTooLarge(position, value))?;
        count = position;
    }
    if count < octets.len() {
        return Err(AddrError::TooFewOctets(count));
    }
    Ok(Ipv4Addr::from(octets))
}

/// Why a string is not a netmask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetmaskError {
    /// Not an IPv4 address at all.
    Addr(AddrError),
    /// The one bits are not a single run from the top (e.g. 255.0.255.0).
    NotContiguous,
}

impl fmt::Display for NetmaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetmaskError::Addr(error) => error.fmt(f),
            NetmaskError::NotContiguous => f.write_str("the one bits must be contiguous"),
        }
    }
}

/// True if `mask` is some ones followed only by zeros (including 0.0.0.0 and
/// 255.255.255.255).
pub fn is_contiguous_netmask(mask: Ipv4Addr) -> bool {
    let bits = u32::from(mask);
    bits.leading_ones() + bits.trailing_zeros() >= 32
}

/// Parses a dotted netmask and checks that its ones are contiguous.
pub fn parse_netmask(text: &str) -> Result<Ipv4Addr, NetmaskError> {
    let mask = parse_ipv4(text).map_err(NetmaskError::Addr)?;
    if is_contiguous_netmask(mask) {
        Ok(mask)
    } else {
        Err(NetmaskError::NotContiguous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let settings = Settings::default();
        assert_eq!(settings.address, None);
        assert_eq!(settings.netmask, Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(settings.server, None);
        assert!(settings.file.is_empty());
        assert_eq!(settings.gateway, None);
        assert_eq!(settings.interface, 0);
        assert!(!settings.trace);
    }

    #[test]
    fn valid_addresses() {
        assert_eq!(parse_ipv4("192.168.1.1"), Ok(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(parse_ipv4("0.0.0.0"), Ok(Ipv4Addr::UNSPECIFIED));
        assert_eq!(parse_ipv4("255.255.255.255"), Ok(Ipv4Addr::BROADCAST));
        assert_eq!(parse_ipv4("010.001.000.1"), Ok(Ipv4Addr::new(10, 1, 0, 1)));
    }

    #[test]
    fn invalid_addresses_say_what_is_wrong() {
        let cases: &[(&str, AddrError)] = &[
            ("", AddrError::Empty),
            ("1.2.3", AddrError::TooFewOctets(3)),
            ("192.168.1", AddrError::TooFewOctets(3)),
            ("1", AddrError::TooFewOctets(1)),
            ("1.2.3.4.5", AddrError::TooManyOctets),
            ("256.1.1.1", AddrError::OctetTooLarge(1, 256)),
            ("1.1.1.999", AddrError::OctetTooLarge(4, 999)),
            ("1..2.3", AddrError::EmptyOctet(2)),
            (".1.2.3", AddrError::EmptyOctet(1)),
            ("1.2.3.", AddrError::EmptyOctet(4)),
            ("1.2.3.4.", AddrError::TooManyOctets),
            ("0001.2.3.4", AddrError::OctetTooLong(1)),
            ("1.2.3.99999999999999999999", AddrError::OctetTooLong(4)),
            (" 1.2.3.4", AddrError::InvalidCharacter(' ')),
            ("1.2.3.4 ", AddrError::InvalidCharacter(' ')),
            ("1.2.3.4x", AddrError::InvalidCharacter('x')),
            ("x1.2.3.4", AddrError::InvalidCharacter('x')),
            ("-1.2.3.4", AddrError::InvalidCharacter('-')),
            ("+1.2.3.4", AddrError::InvalidCharacter('+')),
            ("1.2.3.4/24", AddrError::InvalidCharacter('/')),
            ("1.2.3.é", AddrError::InvalidCharacter('é')),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_ipv4(text), Err(*expected), "input {text:?}");
        }
    }

    #[test]
    fn address_error_messages() {
        assert_eq!(
            AddrError::TooFewOctets(3).to_string(),
            "only 3 of 4 numbers"
        );
        assert_eq!(
            AddrError::OctetTooLarge(1, 256).to_string(),
            "number 1 is 256, above 255"
        );
        assert_eq!(AddrError::EmptyOctet(2).to_string(), "number 2 is empty");
        assert_eq!(
            AddrError::OctetTooLong(1).to_string(),
            "number 1 has more than 3 digits"
        );
        assert_eq!(
            AddrError::InvalidCharacter('x').to_string(),
            "unexpected character 'x'"
        );
    }

    #[test]
    fn netmasks_must_be_contiguous() {
        for good in [
            "255.255.255.0",
            "255.255.0.0",
            "255.255.255.255",
            "0.0.0.0",
            "255.255.255.252",
            "128.0.0.0",
        ] {
            assert!(parse_netmask(good).is_ok(), "{good}");
        }
        for bad in [
            "255.0.255.0",
            "0.255.255.255",
            "255.255.255.1",
            "255.254.255.0",
        ] {
            assert_eq!(
                parse_netmask(bad),
                Err(NetmaskError::NotContiguous),
                "{bad}"
            );
        }
        assert_eq!(
            parse_netmask("255.255"),
            Err(NetmaskError::Addr(AddrError::TooFewOctets(2)))
        );
    }

    #[test]
    fn every_two_byte_string_parses_without_panicking() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                if let Ok(text) = core::str::from_utf8(&[a, b, b'.', b'1']) {
                    let _ = parse_ipv4(text);
                    let _ = parse_netmask(text);
                }
            }
        }
    }
}
