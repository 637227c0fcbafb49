//! Formatting of Ethernet MAC addresses the way Cisco prints them.
#![forbid(unsafe_code)]

use core::fmt;

/// Displays a MAC address in Cisco dotted form: three groups of four
/// lowercase hex digits, `0090.2722.f0b1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacDisplay(pub [u8; 6]);

impl fmt::Display for MacDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}{b:02x}.{c:02x}{d:02x}.{e:02x}{g:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cisco_dotted_lowercase() {
        let mac = MacDisplay([0x00, 0x90, 0x27, 0x22, 0xF0, 0xB1]);
        assert_eq!(mac.to_string(), "0090.2722.f0b1");
    }

    #[test]
    fn zero_and_broadcast() {
        assert_eq!(MacDisplay([0; 6]).to_string(), "0000.0000.0000");
        assert_eq!(MacDisplay([0xFF; 6]).to_string(), "ffff.ffff.ffff");
    }

    #[test]
    fn in_the_startup_line() {
        let mac = MacDisplay([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(format!("MAC: {mac}"), "MAC: 5254.0012.3456");
    }
}
