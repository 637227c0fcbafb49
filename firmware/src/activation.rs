//! The activation key: its one definition, how the operator types it and how it is shown.
//!
//! The PIX prints the key as four 32-bit hex words (`0x01234567 0x89abcdef 0x23456789
//! 0xabcdef01`); the install record keeps it ([`crate::install::Unit::activation`]), the
//! Boothelper asks for it ([`crate::recovery::ActivationPrompt`]) and the install dialogue
//! shows it.
#![forbid(unsafe_code)]

use core::fmt::Write;

/// The activation key, four 32-bit words as the PIX shows them (`0x01234567` ×4).
pub type ActivationKey = [u32; 4];

/// Four whitespace-separated hex words, each `0x` followed by 1 to 8 hex digits (the `0x`
/// may be left out).
pub fn parse(line: &str) -> Option<ActivationKey> {
    let mut words = line.split_ascii_whitespace();
    let mut key = [0u32; 4];
    for k in &mut key {
        let w = words.next()?;
        let digits = w
            .strip_prefix("0x")
            .or_else(|| w.strip_prefix("0X"))
            .unwrap_or(w);
        if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *k = u32::from_str_radix(digits, 16).ok()?;
    }
    words.next().is_none().then_some(key)
}

/// Writes a key as the PIX shows it: `0x01234567 0x89abcdef 0x23456789 0xabcdef01`.
pub fn write<W: Write + ?Sized>(out: &mut W, k: &ActivationKey) {
    let _ = write!(
        out,
        "{:#010x} {:#010x} {:#010x} {:#010x}",
        k[0], k[1], k[2], k[3]
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_keys_are_four_hex_words() {
        assert_eq!(
            parse("0x01234567 0x89abcdef 0x23456789 0xABCDEF01"),
            Some([0x0123_4567, 0x89ab_cdef, 0x2345_6789, 0xabcd_ef01])
        );
        assert_eq!(parse("  1 2\t3 ffffffff "), Some([1, 2, 3, 0xffff_ffff]));
        for bad in [
            "",
            "0x1 0x2 0x3",
            "0x1 0x2 0x3 0x4 0x5",
            // The PIX manual's own example has a nine-digit word.
            "0x12345678 0xabcdef01 0x2345678ab 0xcdef0123",
            "0x 0x1 0x2 0x3",
            "0xg 1 2 3",
            "-1 2 3 4",
            "+1 2 3 4",
            "0x1\u{0} 2 3 4",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
