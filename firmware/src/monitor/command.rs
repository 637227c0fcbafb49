//! The monitor's command language: the command table, the help text, and
//! parsing of one console line into a [`Command`] or a [`CommandError`].
//!
//! Owns every rule about what a line may say; nothing here changes settings or
//! touches hardware (that is [`super::Monitor`]'s job). Command words may be
//! shortened to any unique prefix (`addr`, `s`), in any letter case. The
//! hidden `crashtest` and `flashtest` diagnostics are not in the table: they are
//! neither listed nor prefix-matched, so they need their full names and can make
//! no prefix ambiguous.
#![forbid(unsafe_code)]

use core::fmt;
use core::net::Ipv4Addr;

use crate::settings::{
    parse_ipv4, parse_netmask, AddrError, FileName, NetmaskError, MAX_FILE_NAME_LEN,
};

/// One command the operator can type, as listed by `help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    /// The full command word.
    pub name: &'static str,
    /// The command with its arguments, as shown in help and usage messages.
    pub usage: &'static str,
    /// One line saying what it does.
    pub help: &'static str,
}

const fn info(name: &'static str, usage: &'static str, help: &'static str) -> CommandInfo {
    CommandInfo { name, usage, help }
}

/// Every listed command, in help order. Indexes are used by [`Verb`].
pub const COMMANDS: &[CommandInfo] = &[
    info("?", "?", "show this list"),
    info(
        "address",
        "address [IP [MASK]|dhcp]",
        "set or show this unit's IP address; MASK defaults to 255.255.255.0; dhcp asks a DHCP server",
    ),
    info(
        "boot",
        "boot",
        "start the image in flash now, without a reset (one just installed: from RAM)",
    ),
    info(
        "dns",
        "dns [IP]",
        "set or show the DNS server http asks for a URL's host name",
    ),
    info(
        "file",
        "file [NAME]",
        "set or show the image file name on the server (max 127 characters)",
    ),
    info(
        "gateway",
        "gateway [IP]",
        "set or show the router through which the server is reached",
    ),
    info("help", "help", "show this list"),
    info(
        "interface",
        "interface [N]",
        "set or show the network interface to use, numbered as listed at startup",
    ),
    info(
        "ping",
        "ping [IP]",
        "send 5 ICMP echoes to IP (default: the server)",
    ),
    info(
        "http",
        "http [URL]",
        "download the image by HTTP (default URL: file if it is one, else http://SERVER/FILE)",
    ),
    info("reload", "reload", "restart the machine"),
    info(
        "server",
        "server [IP]",
        "set or show the IP address of the TFTP server",
    ),
    info(
        "tftp",
        "tftp [BLKSIZE]",
        "download the image file from the server; BLKSIZE (8-1468) forces a block size",
    ),
    info(
        "trace",
        "trace [on|off]",
        "set or show the printing of every packet sent and received",
    ),
    info(
        "version",
        "version",
        "show this firmware's version and the images in flash (slot, version, size, state)",
    ),
];

/// The hidden diagnostic's word; needs to be typed in full.
pub const CRASHTEST: &str = "crashtest";

/// The hidden flash diagnostic's word (`flashtest [KIB]`); needs to be typed in full.
/// It erases, programs and verifies the start of the flash: whatever was there is lost.
pub const FLASHTEST: &str = "flashtest";

/// The most `flashtest` accepts, KiB (4 GiB, the reach of the flash traits' offsets).
pub const FLASHTEST_MAX_KIB: u32 = 4 << 20;

/// A deliberate CPU fault, for testing the exception handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Touch an unmapped address.
    PageFault,
    /// Execute `ud2`.
    InvalidOpcode,
    /// Call `panic!`.
    Panic,
    /// Recurse until the stack runs into its guard page.
    StackOverflow,
}

impl FaultKind {
    /// The word `crashtest` takes for this fault.
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::PageFault => "page-fault",
            FaultKind::InvalidOpcode => "invalid-opcode",
            FaultKind::Panic => "panic",
            FaultKind::StackOverflow => "stack-overflow",
        }
    }

    const ALL: [FaultKind; 4] = [
        FaultKind::PageFault,
        FaultKind::InvalidOpcode,
        FaultKind::Panic,
        FaultKind::StackOverflow,
    ];
}

/// A parsed console line. `None` arguments mean "show the current value".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Nothing but spaces was typed.
    Empty,
    /// `?` or `help`.
    Help,
    /// `address [IP [MASK]]`: the address, and the netmask if one was given.
    Address(Option<(Ipv4Addr, Option<Ipv4Addr>)>),
    /// `address dhcp`.
    AddressDhcp,
    /// `file [NAME]`.
    File(Option<FileName>),
    /// `gateway [IP]`.
    Gateway(Option<Ipv4Addr>),
    /// `dns [IP]`.
    Dns(Option<Ipv4Addr>),
    /// `interface [N]`; not yet checked against the interfaces found.
    Interface(Option<usize>),
    /// `ping [IP]`; `None` means the server.
    Ping(Option<Ipv4Addr>),
    /// `http [URL]`.
    Http(Option<crate::net::http::url::UrlBuf>),
    /// `reload`.
    Reload,
    /// `boot`.
    Boot,
    /// `server [IP]`.
    Server(Option<Ipv4Addr>),
    /// `tftp [BLKSIZE]`.
    Tftp(Option<u16>),
    /// `trace [on|off]`.
    Trace(Option<bool>),
    /// `version`.
    Version,
    /// `crashtest KIND`.
    CrashTest(FaultKind),
    /// `flashtest [KIB] [pio]`: see [`FlashTestArgs`].
    FlashTest(FlashTestArgs),
}

/// `flashtest [KIB] [pio]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlashTestArgs {
    /// KiB to erase, program and verify from the start of the flash; `None` means one
    /// erase unit.
    pub kib: Option<u32>,
    /// Drive an ATA flash by PIO, not bus-master DMA (so the PIO path can be proved).
    pub pio: bool,
}

/// Why a line is not a valid command. Displays as the one line the operator sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError<'a> {
    /// No command starts with this word.
    Unknown(&'a str),
    /// More than one command starts with this word.
    Ambiguous(&'a str),
    /// More arguments than the command takes.
    TooManyArguments(&'static CommandInfo),
    /// An argument that should be an IPv4 address is not one.
    InvalidAddress {
        command: &'static str,
        text: &'a str,
        error: AddrError,
    },
    /// The netmask given to `address` is not one.
    InvalidNetmask { text: &'a str, error: NetmaskError },
    /// The argument of `interface` is not a number.
    InvalidInterface(&'a str),
    /// The argument of `file` is longer than [`MAX_FILE_NAME_LEN`].
    FileNameTooLong,
    /// The argument of `http` is longer than a URL may be.
    UrlTooLong,
    /// The argument of `trace` is neither `on` nor `off`.
    InvalidTraceSetting(&'a str),
    /// `crashtest` without a known fault name.
    InvalidFaultKind,
    /// The argument of `tftp` is not a block size 8..=1468.
    InvalidBlockSize(&'a str),
    /// `flashtest` with something other than one size in KiB.
    InvalidFlashTestSize,
}

impl fmt::Display for CommandError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CommandError::Unknown(word) => write!(f, "unknown command \"{word}\"; type ? for help"),
            CommandError::Ambiguous(word) => {
                write!(f, "ambiguous command \"{word}\": could be ")?;
                let mut matches = COMMANDS.iter().filter(|c| is_prefix(word, c.name)).peekable();
                let mut first = true;
                while let Some(command) = matches.next() {
                    let separator = match (first, matches.peek().is_some()) {
                        (true, _) => "",
                        (false, true) => ", ",
                        (false, false) => " or ",
                    };
                    write!(f, "{separator}{}", command.name)?;
                    first = false;
                }
                Ok(())
            }
            CommandError::TooManyArguments(command) => {
                write!(f, "{}: too many arguments; usage: {}", command.name, command.usage)
            }
            CommandError::InvalidAddress { command, text, error } => write!(
                f,
                "{command}: invalid IPv4 address \"{text}\" ({error}; expected 4 dotted numbers 0-255)"
            ),
            CommandError::InvalidNetmask { text, error: NetmaskError::NotContiguous } => write!(
                f,
                "address: invalid netmask \"{text}\" (the one bits must be contiguous, like 255.255.255.0)"
            ),
            CommandError::InvalidNetmask { text, error: NetmaskError::Addr(error) } => write!(
                f,
                "address: invalid netmask \"{text}\" ({error}; expected 4 dotted numbers 0-255)"
            ),
            CommandError::InvalidInterface(text) => {
                write!(f, "interface: \"{text}\" is not an interface number")
            }
            CommandError::FileNameTooLong => {
                write!(f, "file: name too long (max {MAX_FILE_NAME_LEN} characters)")
            }
            CommandError::UrlTooLong => f.write_str("http: URL longer than 255 characters"),
            CommandError::InvalidTraceSetting(text) => {
                write!(f, "trace: expected \"on\" or \"off\", not \"{text}\"")
            }
            CommandError::InvalidBlockSize(text) => {
                write!(f, "tftp: \"{text}\" is not a block size from 8 to 1468")
            }
            CommandError::InvalidFlashTestSize => write!(
                f,
                "{FLASHTEST}: expected [KIB] [pio], KIB a size from 1 to {FLASHTEST_MAX_KIB}"
            ),
            CommandError::InvalidFaultKind => {
                write!(f, "{CRASHTEST}: expected ")?;
                for (i, kind) in FaultKind::ALL.iter().enumerate() {
                    let separator = match i {
                        0 => "",
                        i if i + 1 == FaultKind::ALL.len() => " or ",
                        _ => ", ",
                    };
                    write!(f, "{separator}{}", kind.name())?;
                }
                Ok(())
            }
        }
    }
}

/// Listed commands the PIX monitor did not have: they never take an abbreviation from one
/// it had.
const LIFEBOAT_ADDITIONS: &[&str] = &["dns", "http", "version"];

/// The listed commands, as returned by [`find_command`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Help,
    Address,
    Dns,
    File,
    Gateway,
    Interface,
    Ping,
    Http,
    Reload,
    Boot,
    Server,
    Tftp,
    Trace,
    Version,
}

fn verb_of(name: &str) -> Option<Verb> {
    Some(match name {
        "?" | "help" => Verb::Help,
        "address" => Verb::Address,
        "dns" => Verb::Dns,
        "file" => Verb::File,
        "gateway" => Verb::Gateway,
        "interface" => Verb::Interface,
        "ping" => Verb::Ping,
        "http" => Verb::Http,
        "reload" => Verb::Reload,
        "boot" => Verb::Boot,
        "server" => Verb::Server,
        "tftp" => Verb::Tftp,
        "trace" => Verb::Trace,
        "version" => Verb::Version,
        _ => return None,
    })
}

fn is_prefix(word: &str, name: &str) -> bool {
    !word.is_empty()
        && name
            .get(..word.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(word))
}

/// The listed command `word` names: its full name or a unique prefix of it.
pub fn find_command(word: &str) -> Result<&'static CommandInfo, CommandError<'_>> {
    if let Some(exact) = COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(word)) {
        return Ok(exact);
    }
    let mut matches = COMMANDS.iter().filter(|c| is_prefix(word, c.name));
    match (matches.next(), matches.next()) {
        (Some(only), None) => Ok(only),
        (Some(_), Some(_)) => {
            // An abbreviation the PIX knew keeps meaning the PIX's command (`h` is help,
            // not http): one PIX command among the matches wins.
            let mut pix = COMMANDS
                .iter()
                .filter(|c| is_prefix(word, c.name) && !LIFEBOAT_ADDITIONS.contains(&c.name));
            match (pix.next(), pix.next()) {
                (Some(only), None) => Ok(only),
                _ => Err(CommandError::Ambiguous(word)),
            }
        }
        (None, _) => Err(CommandError::Unknown(word)),
    }
}

/// Parses one console line.
pub fn parse(line: &str) -> Result<Command, CommandError<'_>> {
    let mut words = line.split_ascii_whitespace();
    let Some(word) = words.next() else {
        return Ok(Command::Empty);
    };
    let mut args = [""; 2];
    let mut arg_count = 0;
    let mut extra = false;
    for arg in words {
        match args.get_mut(arg_count) {
            Some(slot) => {
                *slot = arg;
                arg_count += 1;
            }
            None => extra = true,
        }
    }

    if word.eq_ignore_ascii_case(CRASHTEST) {
        let kind = match (arg_count, extra) {
            (1, false) => FaultKind::ALL
                .into_iter()
                .find(|k| k.name().eq_ignore_ascii_case(args[0])),
            _ => None,
        };
        return kind
            .map(Command::CrashTest)
            .ok_or(CommandError::InvalidFaultKind);
    }

    if word.eq_ignore_ascii_case(FLASHTEST) {
        let size = |text: &str| match text.parse::<u32>() {
            Ok(kib) if (1..=FLASHTEST_MAX_KIB).contains(&kib) => Ok(kib),
            _ => Err(CommandError::InvalidFlashTestSize),
        };
        let pio = |text: &str| text.eq_ignore_ascii_case("pio");
        let (kib, pio) = match (arg_count, extra) {
            (0, _) => (None, false),
            (1, false) if pio(args[0]) => (None, true),
            (1, false) => (Some(size(args[0])?), false),
            (2, false) if pio(args[1]) => (Some(size(args[0])?), true),
            _ => return Err(CommandError::InvalidFlashTestSize),
        };
        return Ok(Command::FlashTest(FlashTestArgs { kib, pio }));
    }

    let info = find_command(word)?;
    let Some(verb) = verb_of(info.name) else {
        // Every table entry has a verb; a test checks it.
        return Err(CommandError::Unknown(word));
    };
    let max_args = match verb {
        Verb::Address => 2,
        Verb::File
        | Verb::Dns
        | Verb::Gateway
        | Verb::Interface
        | Verb::Ping
        | Verb::Server
        | Verb::Trace
        | Verb::Http
        | Verb::Tftp => 1,
        Verb::Help | Verb::Reload | Verb::Boot | Verb::Version => 0,
    };
    if extra || arg_count > max_args {
        return Err(CommandError::TooManyArguments(info));
    }
    let arg = (arg_count >= 1).then_some(args[0]);
    let address_arg = |command: &'static str| -> Result<Option<Ipv4Addr>, CommandError<'_>> {
        arg.map(|text| {
            parse_ipv4(text).map_err(|error| CommandError::InvalidAddress {
                command,
                text,
                error,
            })
        })
        .transpose()
    };

    Ok(match verb {
        Verb::Help => Command::Help,
        Verb::Reload => Command::Reload,
        Verb::Boot => Command::Boot,
        Verb::Version => Command::Version,
        Verb::Tftp => match arg {
            None => Command::Tftp(None),
            Some(text) => {
                let size = text
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| text.parse::<u16>().ok())
                    .flatten()
                    .filter(|n| (8..=1468).contains(n));
                Command::Tftp(Some(size.ok_or(CommandError::InvalidBlockSize(text))?))
            }
        },
        Verb::Http => Command::Http(
            arg.map(|u| {
                crate::net::http::url::UrlBuf::try_from(u).map_err(|_| CommandError::UrlTooLong)
            })
            .transpose()?,
        ),
        Verb::Server => Command::Server(address_arg("server")?),
        Verb::Gateway => Command::Gateway(address_arg("gateway")?),
        Verb::Dns => Command::Dns(address_arg("dns")?),
        Verb::Ping => Command::Ping(address_arg("ping")?),
        Verb::Address if arg_count == 1 && args[0].eq_ignore_ascii_case("dhcp") => {
            Command::AddressDhcp
        }
        Verb::Address => {
            let address = address_arg("address")?;
            let netmask =
                match arg_count {
                    2 => Some(parse_netmask(args[1]).map_err(|error| {
                        CommandError::InvalidNetmask {
                            text: args[1],
                            error,
                        }
                    })?),
                    _ => None,
                };
            Command::Address(address.map(|address| (address, netmask)))
        }
        Verb::File => match arg {
            None => Command::File(None),
            Some(name) => Command::File(Some(
                FileName::try_from(name).map_err(|_| CommandError::FileNameTooLong)?,
            )),
        },
        Verb::Interface => match arg {
            None => Command::Interface(None),
            Some(text) => {
                let number = match text.bytes().all(|b| b.is_ascii_digit()) {
                    true => text.parse().ok(),
                    false => None,
                };
                Command::Interface(Some(number.ok_or(CommandError::InvalidInterface(text))?))
            }
        },
        Verb::Trace => match arg {
            None => Command::Trace(None),
            Some(text) if text.eq_ignore_ascii_case("on") => Command::Trace(Some(true)),
            Some(text) if text.eq_ignore_ascii_case("off") => Command::Trace(Some(false)),
            Some(text) => return Err(CommandError::InvalidTraceSetting(text)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
        Ipv4Addr::new(a, b, c, d)
    }

    #[test]
    fn every_listed_command_has_a_verb() {
        for command in COMMANDS {
            assert!(verb_of(command.name).is_some(), "{}", command.name);
            assert!(command.usage.starts_with(command.name));
            assert!(!command.help.contains('\n') && !command.help.contains('\r'));
        }
    }

    #[test]
    fn address_help_names_the_default_netmask() {
        let address = COMMANDS.iter().find(|c| c.name == "address").unwrap();
        let default = crate::settings::DEFAULT_NETMASK.to_string();
        assert!(address.help.contains(&default));
    }

    #[test]
    fn unique_prefixes_select_commands() {
        let cases = [
            ("addr", "address"),
            ("a", "address"),
            ("serv", "server"),
            ("s", "server"),
            ("g", "gateway"),
            ("i", "interface"),
            ("p", "ping"),
            ("r", "reload"),
            ("f", "file"),
            ("h", "help"),
            ("ht", "http"),
            ("?", "?"),
            ("tf", "tftp"),
            ("tr", "trace"),
            ("ADDR", "address"),
            ("Trace", "trace"),
        ];
        for (word, name) in cases {
            assert_eq!(find_command(word).map(|c| c.name), Ok(name), "{word}");
        }
    }

    #[test]
    fn t_is_ambiguous_and_the_message_names_both() {
        assert_eq!(find_command("t"), Err(CommandError::Ambiguous("t")));
        assert_eq!(
            CommandError::Ambiguous("t").to_string(),
            "ambiguous command \"t\": could be tftp or trace"
        );
    }

    #[test]
    fn crashtest_is_not_a_prefix_candidate() {
        assert_eq!(find_command("c"), Err(CommandError::Unknown("c")));
        assert_eq!(parse("crash panic"), Err(CommandError::Unknown("crash")));
        assert_eq!(
            parse("crashtest panic"),
            Ok(Command::CrashTest(FaultKind::Panic))
        );
        assert_eq!(
            parse("crashtest page-fault"),
            Ok(Command::CrashTest(FaultKind::PageFault))
        );
        assert_eq!(
            parse("crashtest invalid-opcode"),
            Ok(Command::CrashTest(FaultKind::InvalidOpcode))
        );
        for bad in ["crashtest", "crashtest boom", "crashtest panic panic"] {
            assert_eq!(parse(bad), Err(CommandError::InvalidFaultKind), "{bad}");
        }
        assert_eq!(
            CommandError::InvalidFaultKind.to_string(),
            "crashtest: expected page-fault, invalid-opcode, panic or stack-overflow"
        );
    }

    #[test]
    fn flashtest_is_hidden_and_takes_an_optional_size() {
        assert_eq!(parse("flash"), Err(CommandError::Unknown("flash")));
        assert_eq!(
            find_command("flashtest"),
            Err(CommandError::Unknown("flashtest"))
        );
        let t = |kib, pio| Ok(Command::FlashTest(FlashTestArgs { kib, pio }));
        assert_eq!(parse("flashtest"), t(None, false));
        assert_eq!(parse("FLASHTEST 4096"), t(Some(4096), false));
        assert_eq!(
            parse("flashtest 4194304"),
            t(Some(FLASHTEST_MAX_KIB), false)
        );
        assert_eq!(parse("flashtest pio"), t(None, true));
        assert_eq!(parse("flashtest 20 PIO"), t(Some(20), true));
        for bad in [
            "flashtest 0",
            "flashtest 4194305",
            "flashtest -1",
            "flashtest 4k",
            "flashtest 4 4",
            "flashtest pio 4",
            "flashtest 4 dma",
            "flashtest 4 pio pio",
            "flashtest 99999999999999999999",
        ] {
            assert_eq!(parse(bad), Err(CommandError::InvalidFlashTestSize), "{bad}");
        }
        assert_eq!(
            CommandError::InvalidFlashTestSize.to_string(),
            "flashtest: expected [KIB] [pio], KIB a size from 1 to 4194304"
        );
    }

    #[test]
    fn unknown_and_empty() {
        assert_eq!(parse("foo"), Err(CommandError::Unknown("foo")));
        assert_eq!(parse("addresses"), Err(CommandError::Unknown("addresses")));
        assert_eq!(
            CommandError::Unknown("foo").to_string(),
            "unknown command \"foo\"; type ? for help"
        );
        assert_eq!(parse(""), Ok(Command::Empty));
        assert_eq!(parse("    "), Ok(Command::Empty));
    }

    #[test]
    fn address_forms() {
        assert_eq!(parse("address"), Ok(Command::Address(None)));
        assert_eq!(
            parse("addr 192.168.1.1"),
            Ok(Command::Address(Some((ip(192, 168, 1, 1), None))))
        );
        assert_eq!(
            parse("  a   10.0.0.1  255.255.0.0 "),
            Ok(Command::Address(Some((
                ip(10, 0, 0, 1),
                Some(ip(255, 255, 0, 0))
            ))))
        );
        let error = parse("address 192.168.1").unwrap_err();
        assert_eq!(
            error.to_string(),
            "address: invalid IPv4 address \"192.168.1\" (only 3 of 4 numbers; expected 4 dotted numbers 0-255)"
        );
        let error = parse("address 1.2.3.4 255.0.255.0").unwrap_err();
        assert_eq!(
            error.to_string(),
            "address: invalid netmask \"255.0.255.0\" (the one bits must be contiguous, like 255.255.255.0)"
        );
        assert!(matches!(
            parse("address 1.2.3.4 255.255"),
            Err(CommandError::InvalidNetmask {
                error: NetmaskError::Addr(AddrError::TooFewOctets(2)),
                ..
            })
        ));
        let error = parse("address 1.2.3.4 255.255.255.0 x").unwrap_err();
        assert_eq!(
            error.to_string(),
            "address: too many arguments; usage: address [IP [MASK]|dhcp]"
        );
    }

    #[test]
    fn single_address_commands() {
        assert_eq!(
            parse("serv 192.168.1.2"),
            Ok(Command::Server(Some(ip(192, 168, 1, 2))))
        );
        assert_eq!(parse("server"), Ok(Command::Server(None)));
        assert_eq!(
            parse("gateway 10.0.2.2"),
            Ok(Command::Gateway(Some(ip(10, 0, 2, 2))))
        );
        assert_eq!(parse("ping"), Ok(Command::Ping(None)));
        assert_eq!(parse("p 8.8.8.8"), Ok(Command::Ping(Some(ip(8, 8, 8, 8)))));
        assert_eq!(
            parse("ping 1.2.3.4.5").unwrap_err().to_string(),
            "ping: invalid IPv4 address \"1.2.3.4.5\" (more than 4 numbers; expected 4 dotted numbers 0-255)"
        );
        assert_eq!(
            parse("gateway 256.1.1.1").unwrap_err().to_string(),
            "gateway: invalid IPv4 address \"256.1.1.1\" (number 1 is 256, above 255; expected 4 dotted numbers 0-255)"
        );
        assert_eq!(
            parse("server 1.2.3.4 5.6.7.8").unwrap_err().to_string(),
            "server: too many arguments; usage: server [IP]"
        );
    }

    #[test]
    fn file_names() {
        assert_eq!(
            parse("file pix601.bin"),
            Ok(Command::File(Some(
                FileName::try_from("pix601.bin").unwrap()
            )))
        );
        assert_eq!(parse("file"), Ok(Command::File(None)));
        let longest = "n".repeat(MAX_FILE_NAME_LEN);
        assert!(matches!(
            parse(&format!("file {longest}")),
            Ok(Command::File(Some(_)))
        ));
        assert_eq!(
            parse(&format!("file {longest}x")),
            Err(CommandError::FileNameTooLong)
        );
        assert_eq!(
            CommandError::FileNameTooLong.to_string(),
            "file: name too long (max 127 characters)"
        );
        assert_eq!(
            parse("file my image.bin").unwrap_err().to_string(),
            "file: too many arguments; usage: file [NAME]"
        );
    }

    #[test]
    fn interface_numbers() {
        assert_eq!(parse("interface"), Ok(Command::Interface(None)));
        assert_eq!(parse("i 1"), Ok(Command::Interface(Some(1))));
        for bad in ["x", "-1", "+1", "1.0", "99999999999999999999999"] {
            assert_eq!(
                parse(&format!("interface {bad}")),
                Err(CommandError::InvalidInterface(bad)),
                "{bad}"
            );
        }
        assert_eq!(
            CommandError::InvalidInterface("x").to_string(),
            "interface: \"x\" is not an interface number"
        );
    }

    #[test]
    fn trace_settings() {
        assert_eq!(parse("trace"), Ok(Command::Trace(None)));
        assert_eq!(parse("tr on"), Ok(Command::Trace(Some(true))));
        assert_eq!(parse("trace OFF"), Ok(Command::Trace(Some(false))));
        assert_eq!(
            parse("trace maybe").unwrap_err().to_string(),
            "trace: expected \"on\" or \"off\", not \"maybe\""
        );
    }

    #[test]
    fn commands_without_arguments_reject_them() {
        for (line, message) in [
            (
                "tftp 512 now",
                "tftp: too many arguments; usage: tftp [BLKSIZE]",
            ),
            ("reload 5", "reload: too many arguments; usage: reload"),
            ("help me", "help: too many arguments; usage: help"),
            ("? x", "?: too many arguments; usage: ?"),
        ] {
            assert_eq!(parse(line).unwrap_err().to_string(), message);
        }
        assert_eq!(parse("tftp"), Ok(Command::Tftp(None)));
        assert_eq!(parse("tftp 512"), Ok(Command::Tftp(Some(512))));
        assert_eq!(parse("tftp 7"), Err(CommandError::InvalidBlockSize("7")));
        assert_eq!(
            parse("tftp 1469"),
            Err(CommandError::InvalidBlockSize("1469"))
        );
        assert_eq!(parse("address dhcp"), Ok(Command::AddressDhcp));
        assert_eq!(parse("addr DHCP"), Ok(Command::AddressDhcp));
        assert_eq!(parse("reload"), Ok(Command::Reload));
        assert_eq!(parse("boot"), Ok(Command::Boot));
        assert_eq!(parse("b"), Ok(Command::Boot));
        assert_eq!(
            parse("boot now").unwrap_err().to_string(),
            "boot: too many arguments; usage: boot"
        );
        assert_eq!(parse("?"), Ok(Command::Help));
        assert_eq!(parse("h"), Ok(Command::Help));
        assert_eq!(parse("ht"), Ok(Command::Http(None)));
        assert_eq!(
            parse("http http://10.0.0.1/a.bin"),
            Ok(Command::Http(Some(
                "http://10.0.0.1/a.bin".try_into().unwrap()
            )))
        );
        assert_eq!(
            parse("http a b").unwrap_err().to_string(),
            "http: too many arguments; usage: http [URL]"
        );
    }
}
