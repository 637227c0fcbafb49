//! The boot media's configuration sector: `key=value` lines, `#` comments, NUL padding.
//!
//! A bad value for a console or timing key (`boot_timeout`, `baud`, `log`, `mode`) is
//! reported and its default kept: the unit must still come up. Anything that could hide the
//! unit's key fails *closed* ([`BootConfig::trust_broken`]): the unit then installs and boots
//! nothing rather than silently dropping its signature check. That is a sector that is not
//! text (a UTF-8 BOM, a NUL before the last text byte, any byte outside printable ASCII, tab,
//! CR and LF; only NULs after the text are padding), a line that is not one of the keys in
//! lower case, a line that names `pubkey` in any case (a comment included) and is not
//! `pubkey=<64 hex digits>`, an all-zero key, and, under UEFI Secure Boot, no key at all
//! (the `secure_boot` argument of [`BootConfig::parse`]).
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
    /// Never set together with [`Self::trust_broken`].
    pub public_key: Option<[u8; 32]>,
    /// Why the configuration is refused (see the module documentation): every install and
    /// flash boot is then refused with this reason.
    pub trust_broken: Option<&'static str>,
    /// `tpm=required`: a missing or failing TPM refuses installs and flash boots
    /// ([`TPM_REQUIRED`]); `tpm=optional` (the default): without one the unit keeps only
    /// the record's and the built-in floor.
    pub tpm_required: bool,
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
            tpm_required: false,
        }
    }
}

/// One line of the configuration that was not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigWarning<'a> {
    /// 1-based line number.
    pub line: usize,
    /// The line, trimmed (for a byte that is not text: the line up to that byte).
    pub text: &'a str,
    pub why: &'static str,
    /// The line refuses the whole configuration (else its default is kept).
    pub refuses: bool,
}

impl fmt::Display for ConfigWarning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config line {}: {} (\"", self.line, self.why)?;
        // Quoted as `{:?}` would for printable ASCII; anything else (a tab, or a control
        // byte that could move the operator's cursor) as `?`. No Debug machinery in the
        // binary.
        for c in self.text.chars() {
            match c {
                '"' | '\\' => write!(f, "\\{c}")?,
                ' '..='~' => f.write_char(c)?,
                _ => f.write_char('?')?,
            }
        }
        // A refusing line is followed by the refusal's reason (the caller's).
        f.write_str(if self.refuses {
            "\")"
        } else {
            "\"); default kept"
        })
    }
}

/// Reasons the configuration is refused ([`BootConfig::trust_broken`]).
pub const NOT_TEXT: &str = "the configuration sector is not text, so the unit's key cannot be read";
pub const UNKNOWN_LINE: &str = "the configuration has a line that is not a known key";
pub const BAD_PUBKEY: &str = "the configuration's pubkey line does not parse";
pub const ZERO_KEY: &str = "the configuration's pubkey is all zeros";
pub const SECURE_BOOT_KEYLESS: &str = "no pubkey in the configuration under UEFI Secure Boot";
pub const BAD_TPM: &str = "the configuration's tpm line is neither required nor optional";
/// With `tpm=required`, when the TPM is missing or fails (the TPM's own line says how).
pub const TPM_REQUIRED: &str = "the configuration requires a TPM (tpm=required) and none works";
/// For a unit whose configuration sector could not be read at all.
pub const UNREADABLE: &str = "the configuration sector could not be read";

use lifeboat_abi::config::{BAUD, BAUDS, BOOT_TIMEOUT, LOG, MODE, PUBKEY, TPM};

/// The warning for a line that names `pubkey` and does not give a key.
const MUST_BE_PUBKEY: &str = "must be pubkey=<64 hex digits>";

/// What is wrong with one line: the warning's reason, and the refusal it causes (if any).
type Bad = (&'static str, Option<&'static str>);

impl BootConfig {
    /// Parse the sector; `warn` is called once per rejected line. `secure_boot`: started
    /// under UEFI Secure Boot, where the platform checked the loader and the configuration
    /// in it; a configuration without a key is then a signed loader meant for another unit
    /// or for none, and is refused rather than run keyless.
    pub fn parse<'a>(
        bytes: &'a [u8],
        secure_boot: bool,
        mut warn: impl FnMut(ConfigWarning<'a>),
    ) -> Self {
        let mut cfg = Self::default();
        // Only the NULs after the last other byte are padding.
        let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        for (i, raw) in bytes[..end].split(|&b| b == b'\n').enumerate() {
            // Text is printable ASCII and tab (CR before LF is trimmed with the blanks).
            let text_end = raw
                .iter()
                .position(|&b| !matches!(b, b'\t' | b'\r' | b' '..=b'~'));
            let text = core::str::from_utf8(&raw[..text_end.unwrap_or(raw.len())]);
            let line = text.unwrap_or("").trim();
            let outcome = match (text_end, text) {
                (None, Ok(_)) if line.is_empty() => continue,
                (None, Ok(_)) => cfg.apply(line),
                // Quoted up to the first byte that is not text.
                _ => Err(("not text", Some(NOT_TEXT))),
            };
            if let Err((why, refusal)) = outcome {
                if let Some(r) = refusal {
                    cfg.trust_broken.get_or_insert(r);
                }
                warn(ConfigWarning {
                    line: i + 1,
                    text: line,
                    why,
                    refuses: refusal.is_some(),
                });
            }
        }
        if secure_boot && cfg.public_key.is_none() {
            cfg.trust_broken.get_or_insert(SECURE_BOOT_KEYLESS);
        }
        if cfg.trust_broken.is_some() {
            // No half trust: a key before the refused line is not kept either.
            cfg.public_key = None;
        }
        cfg
    }

    /// One trimmed, non-empty line.
    fn apply(&mut self, line: &str) -> Result<(), Bad> {
        let kv = line.split_once('=').map(|(k, v)| (k.trim(), v.trim()));
        if let Some((PUBKEY, v)) = kv {
            return match parse_key(v) {
                Some(k) if k == [0; 32] => Err((ZERO_KEY, Some(ZERO_KEY))),
                Some(k) => {
                    self.public_key = Some(k);
                    Ok(())
                }
                None => Err((MUST_BE_PUBKEY, Some(BAD_PUBKEY))),
            };
        }
        // `PUBKEY=`, `pubkey: KEY`, `#pubkey=KEY`, `mode=pubkey`: a key that was meant and
        // is not in force.
        if line
            .as_bytes()
            .windows(6)
            .any(|w| w.eq_ignore_ascii_case(PUBKEY.as_bytes()))
        {
            return Err((MUST_BE_PUBKEY, Some(BAD_PUBKEY)));
        }
        if line.starts_with('#') {
            return Ok(());
        }
        let Some((k, v)) = kv else {
            return Err(("expected key=value", Some(UNKNOWN_LINE)));
        };
        match k {
            BOOT_TIMEOUT => match v.parse::<u32>() {
                Ok(s) if s <= 3600 => self.boot_timeout_s = s,
                _ => return Err(("boot_timeout must be 0-3600 seconds", None)),
            },
            BAUD => match v.parse::<u32>() {
                Ok(b) if BAUDS.contains(&b) => self.baud = b,
                _ => return Err(("baud must be one of 1200..115200", None)),
            },
            LOG => match v.parse::<log::LevelFilter>() {
                Ok(l) => self.log_level = l,
                Err(_) => return Err(("log must be off, error, warn, info, debug or trace", None)),
            },
            MODE => match v {
                "monitor" => self.boothelper = false,
                "boothelper" => self.boothelper = true,
                _ => return Err(("mode must be monitor or boothelper", None)),
            },
            // A misspelt `required` must not become optional: it fails closed.
            TPM => match v {
                "required" => self.tpm_required = true,
                "optional" => self.tpm_required = false,
                _ => return Err(("tpm must be required or optional", Some(BAD_TPM))),
            },
            _ => return Err(("unknown key (keys are lower case)", Some(UNKNOWN_LINE))),
        }
        Ok(())
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

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

    /// The parsed configuration and the warnings, as the banner shows them.
    fn parse_bytes(b: &[u8]) -> (BootConfig, Vec<String>) {
        let mut shown = Vec::new();
        let c = BootConfig::parse(b, false, |w| shown.push(w.to_string()));
        (c, shown)
    }

    fn parse(s: &str) -> (BootConfig, usize) {
        let (c, w) = parse_bytes(s.as_bytes());
        (c, w.len())
    }

    /// `text` in a 512-byte sector, NUL-padded as the media builder writes it.
    fn sector(text: &[u8]) -> [u8; 512] {
        let mut s = [0u8; 512];
        s[..text.len()].copy_from_slice(text);
        s
    }

    #[test]
    fn tpm_is_required_or_optional_and_fails_closed() {
        assert!(!parse("").0.tpm_required);
        assert!(parse("tpm=required\n").0.tpm_required);
        assert_eq!(parse("tpm=optional\n"), (BootConfig::default(), 0));
        for bad in ["tpm=reqired", "tpm=", "tpm=yes"] {
            let (c, n) = parse(bad);
            assert_eq!((c.trust_broken, n), (Some(BAD_TPM), 1), "{bad}");
        }
    }

    #[test]
    fn pubkey_is_64_hex_digits() {
        let (c, n) = parse(&format!("pubkey={KEY}\n"));
        assert_eq!((n, c.trust_broken), (0, None));
        let k = c.public_key.unwrap();
        assert_eq!((k[0], k[1], k[31]), (0x00, 0x11, 0xFF));
        for bad in [
            "pubkey=00",
            "pubkey=zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            "pubkey=+0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ] {
            let (c, n) = parse(bad);
            assert_eq!((c.public_key, n), (None, 1), "{bad}");
            assert_eq!(c.trust_broken, Some(BAD_PUBKEY), "fails closed: {bad}");
        }
    }

    #[test]
    fn defaults_for_empty_and_nul_padded() {
        assert_eq!(parse(""), (BootConfig::default(), 0));
        assert_eq!(parse_bytes(&[0; 512]), (BootConfig::default(), vec![]));
        let c = BootConfig::parse(&sector(b"boot_timeout=3\n"), false, |_| panic!());
        assert_eq!(c.boot_timeout_s, 3);
        assert_eq!(c.baud, 9600);
    }

    #[test]
    fn all_keys() {
        let (c, n) = parse(
            "# lifeboat\nboot_timeout = 5\nbaud=115200\nlog=info\nmode=boothelper\ntpm=required\n",
        );
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
                tpm_required: true,
            }
        );
    }

    /// What `lifeboat media` writes (src/media.rs `MediaConfig::to_text`; the ROM and the
    /// UEFI loader carry the same text), and what an operator may legitimately write: CR LF
    /// lines, blanks and tabs around keys and values, comments, blank lines, no final LF.
    #[test]
    fn every_legitimate_configuration_is_accepted() {
        let key = KEY.to_ascii_lowercase();
        for (text, boothelper, keyed) in [
            (
                "# lifeboat boot configuration\nboot_timeout=10\nbaud=9600\nlog=warn\nmode=monitor\n"
                    .to_string(),
                false,
                false,
            ),
            (
                format!("# lifeboat boot configuration\nboot_timeout=2\nbaud=115200\nlog=info\nmode=boothelper\npubkey={key}\n"),
                true,
                true,
            ),
            (
                format!("# unit 7\r\n\r\n\tboot_timeout =\t3\r\n  mode = monitor  \r\n\r\npubkey = {KEY}"),
                false,
                true,
            ),
            ("# comments may say anything: key, baud, PUB KEY\n\n".to_string(), false, false),
        ] {
            for bytes in [text.as_bytes().to_vec(), sector(text.as_bytes()).to_vec()] {
                let (c, warnings) = parse_bytes(&bytes);
                assert_eq!(warnings, Vec::<String>::new(), "{text:?}");
                assert_eq!(c.trust_broken, None, "{text:?}");
                assert_eq!(c.boothelper, boothelper, "{text:?}");
                assert_eq!(c.public_key.is_some(), keyed, "{text:?}");
                let secure = BootConfig::parse(&bytes, true, |_| panic!());
                assert_eq!(secure.trust_broken.is_none(), keyed, "{text:?}");
            }
        }
    }

    /// Issue 21 finding 2: every near-miss of a key line, and every line or byte the parser
    /// cannot account for, refuses the whole configuration with its reason; a good key on
    /// another line is not kept.
    #[test]
    fn near_misses_and_unknown_lines_refuse_the_configuration() {
        let key_line = format!("pubkey={KEY}\n");
        let zero = "0".repeat(64);
        for (bad, reason) in [
            (format!("PUBKEY={KEY}\n"), BAD_PUBKEY),
            (format!("Pubkey={KEY}\n"), BAD_PUBKEY),
            (format!("pubkey: {KEY}\n"), BAD_PUBKEY),
            (" pubkey =\n".to_string(), BAD_PUBKEY),
            (format!("pubkey=={KEY}\n"), BAD_PUBKEY),
            (format!("# pubkey={KEY}\n"), BAD_PUBKEY),
            (format!("public_key={KEY}\n"), UNKNOWN_LINE),
            ("mode=pubkey\n".to_string(), BAD_PUBKEY),
            (format!("pubkey={zero}\n"), ZERO_KEY),
            ("foo=1\n".to_string(), UNKNOWN_LINE),
            ("BAUD=9600\n".to_string(), UNKNOWN_LINE),
            ("Mode=monitor\n".to_string(), UNKNOWN_LINE),
            ("junk\n".to_string(), UNKNOWN_LINE),
            ("=1\n".to_string(), UNKNOWN_LINE),
        ] {
            for text in [
                bad.clone(),
                format!("{key_line}{bad}"),
                format!("{bad}{key_line}"),
            ] {
                let mut warnings = vec![];
                let c = BootConfig::parse(text.as_bytes(), false, |w| warnings.push(w));
                assert_eq!(c.trust_broken, Some(reason), "{text:?}");
                assert_eq!(c.public_key, None, "{text:?}");
                assert_eq!(warnings.len(), 1, "{text:?}: {warnings:?}");
                assert!(warnings[0].refuses, "{text:?}");
                assert_eq!(warnings[0].text, bad.trim(), "{text:?}");
            }
        }
    }

    /// A BOM, a NUL before text, any control byte, non-ASCII, padding other than NUL: the
    /// sector is not text and is refused; the warning names the line of the first such byte.
    #[test]
    fn a_sector_that_is_not_text_is_refused() {
        let key_line = format!("pubkey={KEY}\n");
        let cases: [(Vec<u8>, usize, &str); 9] = [
            (
                [b"\xEF\xBB\xBF".as_slice(), key_line.as_bytes()].concat(),
                1,
                "",
            ),
            (
                [b"mode=monitor\n\0".as_slice(), key_line.as_bytes()].concat(),
                2,
                "",
            ),
            (
                [key_line.as_bytes(), b"mode=mon\0itor\n"].concat(),
                2,
                "mode=mon",
            ),
            (
                [key_line.as_bytes(), b"log=warn\x1b[2J\n"].concat(),
                2,
                "log=warn",
            ),
            ([key_line.as_bytes(), b"\x0c"].concat(), 2, ""),
            (
                [key_line.as_bytes(), "# gerät\n".as_bytes()].concat(),
                2,
                "# ger",
            ),
            ([key_line.as_bytes(), b"\xff\xff"].concat(), 2, ""),
            (vec![0xFF; 512], 1, ""),
            (
                [sector(key_line.as_bytes()).as_slice(), b"pubkey=00"].concat(),
                2,
                "",
            ),
        ];
        for (bytes, line, text) in cases {
            let mut warnings = vec![];
            let c = BootConfig::parse(&bytes, false, |w| warnings.push(w));
            assert_eq!(
                (c.public_key, c.trust_broken),
                (None, Some(NOT_TEXT)),
                "{bytes:?}"
            );
            assert_eq!(
                warnings,
                [ConfigWarning {
                    line,
                    text,
                    why: "not text",
                    refuses: true
                }],
                "{bytes:?}"
            );
        }
    }

    /// A good key followed by a broken one: the broken line wins, closed.
    #[test]
    fn a_later_broken_pubkey_line_does_not_leave_the_earlier_key_half_trusted() {
        let (c, n) = parse(&format!("pubkey={KEY}\npubkey={}\n", &KEY[1..]));
        assert_eq!(n, 1);
        assert_eq!((c.public_key, c.trust_broken), (None, Some(BAD_PUBKEY)));
    }

    /// Console and timing values that do not parse keep their defaults: the unit still
    /// comes up, and trusts as before.
    #[test]
    fn bad_values_warn_and_keep_defaults() {
        let (c, w) = parse_bytes(b"boot_timeout=-1\nbaud=9601\nlog=loud\nmode=x\nbaud=\n");
        assert_eq!(c, BootConfig::default());
        assert_eq!(w.len(), 5);
        assert!(w.iter().all(|w| w.ends_with("; default kept")), "{w:?}");
        let (c, _) = parse_bytes(format!("baud=9601\npubkey={KEY}\n").as_bytes());
        assert_eq!((c.trust_broken, c.public_key.is_some()), (None, true));
    }

    /// What the banner prints (`Warning: ` and this): the line, why, the line quoted, and
    /// for a value that does not parse, that its default is kept (a refusing line is
    /// followed by the refusal's reason). Once `config line 6: ` and nothing else: the
    /// message did not fit the banner's buffer, which now keeps the warnings themselves.
    #[test]
    fn warnings_say_which_line_why_and_what_follows() {
        let (_, w) = parse_bytes(b"# x\n\n\n\n\npubkey=00\n");
        assert_eq!(
            w,
            ["config line 6: must be pubkey=<64 hex digits> (\"pubkey=00\")"]
        );
        let (_, w) = parse_bytes(format!("mode=monitor\nPUBKEY={KEY}").as_bytes());
        assert_eq!(
            w,
            [format!(
                "config line 2: must be pubkey=<64 hex digits> (\"PUBKEY={KEY}\")"
            )]
        );
        let (_, w) = parse_bytes(b"BAUD=9600\nbaud=\"\\\x7e\tx");
        assert_eq!(
            w,
            [
                "config line 1: unknown key (keys are lower case) (\"BAUD=9600\")",
                "config line 2: baud must be one of 1200..115200 (\"baud=\\\"\\\\~?x\"); default kept"
            ]
        );
        let (_, w) = parse_bytes(b"mode=monitor\n\xEF\xBB\xBFpubkey=00");
        assert_eq!(w, ["config line 2: not text (\"\")"]);
    }

    /// Under UEFI Secure Boot a configuration without a key is refused; with a key, or
    /// without Secure Boot, nothing changes; a refusal keeps its own reason.
    #[test]
    fn under_secure_boot_a_keyless_configuration_is_refused() {
        let parse_sb = |s: &str, on| BootConfig::parse(s.as_bytes(), on, |_| {});
        let keyless = parse_sb("mode=monitor\n", false);
        assert_eq!((keyless.public_key, keyless.trust_broken), (None, None));
        for text in ["mode=monitor\n", "", "# pubkey comes later\n"] {
            let c = parse_sb(text, true);
            let want = if text.contains("pubkey") {
                BAD_PUBKEY
            } else {
                SECURE_BOOT_KEYLESS
            };
            assert_eq!(
                (c.public_key, c.trust_broken),
                (None, Some(want)),
                "{text:?}"
            );
        }
        let keyed = format!("pubkey={KEY}\n");
        assert_eq!(parse_sb(&keyed, true), parse_sb(&keyed, false));
        assert!(parse_sb(&keyed, true).public_key.is_some());
        assert_eq!(parse_sb("PUBKEY=1\n", true).trust_broken, Some(BAD_PUBKEY));
        assert_eq!(parse_sb("\u{feff}", true).trust_broken, Some(NOT_TEXT));
    }
}
