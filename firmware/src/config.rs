//! The boot media's configuration sector: `key=value` lines, `#` comments, NUL padding.
//! Unknown keys and bad values are reported, never fatal: the unit must still boot. The one
//! exception is trust: a `pubkey=` line that does not parse, or a sector that is not text,
//! fails *closed* ([`BootConfig::trust_broken`]): the unit then installs and boots nothing
//! rather than silently dropping its signature check.
#![forbid(unsafe_code)]

use core::fmt::{self, Write};

/// What the monitor reads at power-on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootConfig {
    /// Seconds to wait for ESC/BREAK before flash boot.
    pub boot_timeout_s: u32,
    /// Console speed (COM1).
    pub baud: u32,
    /// Console log level.
    pub log_level: log::LevelFilter,
    /// `boothelper` media give the `boothelper>` prompt.
    pub boothelper: bool,
    /// `pubkey=<64 hex digits>`: the ed25519 key images must be signed with. When set,
    /// unsigned and wrongly signed images are refused before anything is written to flash.
    pub public_key: Option<[u8; 32]>,
    /// Why the unit's key cannot be known (a `pubkey=` line that does not parse, a sector
    /// that is not text or cannot be read): every install and flash boot is then refused.
    pub trust_broken: Option<&'static str>,
}

impl Default for BootConfig {
    fn default() -> Self {
        Self {
            boot_timeout_s: 10,
            baud: 9600,
            log_level: log::LevelFilter::Warn,
            boothelper: false,
            public_key: None,
            trust_broken: None,
        }
    }
}

/// One line of the configuration that was not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigWarning<'a> {
    pub line: usize,
    pub text: &'a str,
    pub why: &'static str,
}

impl fmt::Display for ConfigWarning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config line {}: {} (\"", self.line, self.why)?;
        // Quoted as `{:?}` would for printable ASCII; anything else (a control byte that
        // could move the operator's cursor) as `?`. No Debug machinery in the binary.
        for c in self.text.chars() {
            match c {
                '"' | '\\' => write!(f, "\\{c}")?,
                ' '..='~' => f.write_char(c)?,
                _ => f.write_char('?')?,
            }
        }
        f.write_str("\"); default kept")
    }
}

const NOT_TEXT: &str = "the configuration sector is not text, so the unit's key cannot be read";
const BAD_PUBKEY: &str = "the configuration's pubkey line does not parse";
/// For a unit whose configuration sector could not be read at all.
pub const UNREADABLE: &str = "the configuration sector could not be read";

const BAUDS: [u32; 7] = [1200, 2400, 4800, 9600, 19200, 38400, 115200];

impl BootConfig {
    /// Parse the sector; `warn` is called once per rejected line.
    pub fn parse<'a>(bytes: &'a [u8], mut warn: impl FnMut(ConfigWarning<'a>)) -> Self {
        let mut cfg = Self::default();
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let Ok(text) = core::str::from_utf8(&bytes[..end]) else {
            warn(ConfigWarning {
                line: 0,
                text: "",
                why: "not UTF-8",
            });
            cfg.trust_broken = Some(NOT_TEXT);
            return cfg;
        };
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut w = |why| {
                warn(ConfigWarning {
                    line: i + 1,
                    text: line,
                    why,
                })
            };
            let Some((k, v)) = line.split_once('=') else {
                w("expected key=value");
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            match k {
                "boot_timeout" => match v.parse::<u32>() {
                    Ok(s) if s <= 3600 => cfg.boot_timeout_s = s,
                    _ => w("boot_timeout must be 0-3600 seconds"),
                },
                "baud" => match v.parse::<u32>() {
                    Ok(b) if BAUDS.contains(&b) => cfg.baud = b,
                    _ => w("baud must be one of 1200..115200"),
                },
                "log" => match v.parse::<log::LevelFilter>() {
                    Ok(l) => cfg.log_level = l,
                    Err(_) => w("log must be off, error, warn, info, debug or trace"),
                },
                "mode" => match v {
                    "monitor" => cfg.boothelper = false,
                    "boothelper" => cfg.boothelper = true,
                    _ => w("mode must be monitor or boothelper"),
                },
                "pubkey" => match parse_key(v) {
                    Some(k) => cfg.public_key = Some(k),
                    None => {
                        cfg.public_key = None;
                        cfg.trust_broken = Some(BAD_PUBKEY);
                        w("pubkey must be 64 hex digits (an ed25519 public key); installs and flash boot are refused")
                    }
                },
                _ => w("unknown key"),
            }
        }
        cfg
    }
}

/// 64 hex digits → 32 bytes.
fn parse_key(v: &str) -> Option<[u8; 32]> {
    let b = v.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut k = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        let hex = |c: u8| (c as char).to_digit(16);
        k[i] = (hex(pair[0])? * 16 + hex(pair[1])?) as u8;
    }
    Some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pubkey_is_64_hex_digits() {
        let key = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let (c, n) = parse(&format!("pubkey={key}\n"));
        assert_eq!(n, 0);
        let k = c.public_key.unwrap();
        assert_eq!((k[0], k[1], k[31]), (0x00, 0x11, 0xFF));
        for bad in [
            "pubkey=00",
            "pubkey=zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ] {
            let (c, n) = parse(bad);
            assert_eq!((c.public_key, n), (None, 1), "{bad}");
            assert_eq!(c.trust_broken, Some(BAD_PUBKEY), "fails closed: {bad}");
        }
    }

    fn parse(s: &str) -> (BootConfig, usize) {
        let mut n = 0;
        let c = BootConfig::parse(s.as_bytes(), |_| n += 1);
        (c, n)
    }

    #[test]
    fn defaults_for_empty_and_nul_padded() {
        assert_eq!(parse(""), (BootConfig::default(), 0));
        let mut sector = [0u8; 512];
        sector[..15].copy_from_slice(b"boot_timeout=3\n");
        let c = BootConfig::parse(&sector, |_| panic!());
        assert_eq!(c.boot_timeout_s, 3);
        assert_eq!(c.baud, 9600);
    }

    #[test]
    fn all_keys() {
        let (c, n) =
            parse("# lifeboat\nboot_timeout = 5\nbaud=115200\nlog=info\nmode=boothelper\n");
        assert_eq!(n, 0);
        assert_eq!(
            c,
            BootConfig {
                boot_timeout_s: 5,
                baud: 115200,
                log_level: log::LevelFilter::Info,
                boothelper: true,
                public_key: None,
                trust_broken: None,
            }
        );
    }

    /// A good key followed by a broken one: the broken line wins, closed.
    #[test]
    fn a_later_broken_pubkey_line_does_not_leave_the_earlier_key_half_trusted() {
        let key = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let (c, n) = parse(&format!("pubkey={key}\npubkey={}\n", &key[1..]));
        assert_eq!(n, 1);
        assert_eq!((c.public_key, c.trust_broken), (None, Some(BAD_PUBKEY)));
    }

    #[test]
    fn bad_lines_warn_and_keep_defaults() {
        let (c, n) = parse("boot_timeout=-1\nbaud=9601\nlog=loud\nmode=x\nfoo=1\njunk\n");
        assert_eq!(c, BootConfig::default());
        assert_eq!(n, 6);
    }

    #[test]
    fn invalid_utf8_is_reported() {
        let mut n = 0;
        let c = BootConfig::parse(&[0xff, b'a'], |_| n += 1);
        assert_eq!(n, 1);
        assert_eq!(c.trust_broken, Some(NOT_TEXT));
        assert_eq!(c.public_key, None);
    }
}
