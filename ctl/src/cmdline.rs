//! What the firmware put on the kernel command line (`firmware/src/boot/linux.rs`):
//! `lifeboat.confirm=0x<token>`, `lifeboat.slot=<A|B>`, `lifeboat.version=<M.m(n)>`.
use lifeboat_firmware::image::Version;
use lifeboat_firmware::install::Slot;

/// The lifeboat arguments of one command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BootArgs {
    /// The token to hand back; `None`: not started by lifeboat.
    pub token: Option<u32>,
    pub slot: Option<Slot>,
    pub version: Option<Version>,
}

/// Why a command line cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// An argument is there but its value is not what the firmware writes.
    Malformed(String),
    /// The same argument twice with different values (someone added one by hand).
    Conflicting(&'static str),
}

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgError::Malformed(a) => write!(f, "the kernel command line has a malformed {a}"),
            ArgError::Conflicting(a) => write!(
                f,
                "the kernel command line has {a} twice with different values"
            ),
        }
    }
}

/// The token's form: `0x` and exactly eight hex digits.
fn parse_token(v: &str) -> Option<u32> {
    let hex = v.strip_prefix("0x")?;
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

fn parse_slot(v: &str) -> Option<Slot> {
    match v {
        "A" => Some(Slot::A),
        "B" => Some(Slot::B),
        _ => None,
    }
}

fn set<T: PartialEq>(
    at: &mut Option<T>,
    v: Option<T>,
    name: &'static str,
    arg: &str,
) -> Result<(), ArgError> {
    let v = v.ok_or_else(|| ArgError::Malformed(arg.chars().take(64).collect()))?;
    match at {
        Some(old) if *old != v => Err(ArgError::Conflicting(name)),
        _ => {
            *at = Some(v);
            Ok(())
        }
    }
}

/// The lifeboat arguments of `cmdline` (`/proc/cmdline`). Words are split at whitespace
/// (the firmware's values hold none); arguments after `--` belong to init and are ignored.
pub fn parse(cmdline: &str) -> Result<BootArgs, ArgError> {
    let mut a = BootArgs::default();
    for w in cmdline.split_ascii_whitespace() {
        if w == "--" {
            break;
        }
        let Some((k, v)) = w.split_once('=') else {
            continue;
        };
        match k {
            "lifeboat.confirm" => set(&mut a.token, parse_token(v), k_name(k), w)?,
            "lifeboat.slot" => set(&mut a.slot, parse_slot(v), k_name(k), w)?,
            "lifeboat.version" => set(&mut a.version, Version::parse(v), k_name(k), w)?,
            _ => {}
        }
    }
    Ok(a)
}

fn k_name(k: &str) -> &'static str {
    match k {
        "lifeboat.confirm" => "lifeboat.confirm",
        "lifeboat.slot" => "lifeboat.slot",
        _ => "lifeboat.version",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_firmware_writes_is_read_back() {
        let line = lifeboat_firmware::boot::linux::command_line(
            "console=ttyS0,9600 panic=-1",
            0x00c5_0a07,
            'B',
            Version::new(6, 1, 3),
        );
        let a = parse(&format!("{line}\n")).unwrap();
        assert_eq!(a.token, Some(0x00c5_0a07));
        assert_eq!(a.slot, Some(Slot::B));
        assert_eq!(a.version, Some(Version::new(6, 1, 3)));
    }

    #[test]
    fn a_line_without_lifeboat_is_not_an_error() {
        let a = parse("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet").unwrap();
        assert_eq!(a, BootArgs::default());
        assert_eq!(parse("").unwrap(), BootArgs::default());
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "lifeboat.confirm=",
            "lifeboat.confirm=12345678",
            "lifeboat.confirm=0x1234567",
            "lifeboat.confirm=0x123456789",
            "lifeboat.confirm=0x1234567g",
            "lifeboat.confirm=0x+1234567",
            "lifeboat.slot=C",
            "lifeboat.slot=a",
            "lifeboat.slot=",
            "lifeboat.version=6",
            "lifeboat.version=6.1(",
            "lifeboat.version=300.1(0)",
        ] {
            assert!(
                matches!(parse(bad), Err(ArgError::Malformed(_))),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn duplicates_must_agree_and_init_arguments_are_ignored() {
        assert_eq!(
            parse("lifeboat.confirm=0x00000001 lifeboat.confirm=0x00000002"),
            Err(ArgError::Conflicting("lifeboat.confirm"))
        );
        let a = parse("lifeboat.slot=A lifeboat.slot=A").unwrap();
        assert_eq!(a.slot, Some(Slot::A));
        let a = parse("quiet -- lifeboat.confirm=0x00000002").unwrap();
        assert_eq!(a.token, None);
    }

    #[test]
    fn an_error_is_one_short_line() {
        let long = format!("lifeboat.slot={}", "x".repeat(5000));
        let e = parse(&long).unwrap_err().to_string();
        assert!(e.len() < 200 && !e.contains('\n'), "{e}");
    }
}
