//! The recovery monitor's console: the `monitor>` prompt of the PIX, as pure
//! logic with no hardware access.
//!
//! [`Monitor`] owns the line being typed ([`crate::line`]), the operator's
//! [`Settings`] ([`crate::settings`]) and the command language ([`command`]). It
//! answers everything that needs no hardware itself and hands the rest to its
//! caller as an [`Action`] (the network commands run in [`crate::net::session`]), and
//! [`mac`] prints MAC addresses the Cisco way.
//!
//! # The caller's contract
//! Feed every console byte to [`Monitor::feed`] with the console as `out`.
//! - [`Action::None`]: the monitor has written everything, including the next
//!   prompt. Nothing to do.
//! - Any other action: the monitor has written only the echo of the line (up
//!   to its "\r\n") and nothing else. The caller does the work, writes all of
//!   its output (each line ending in "\r\n"), then calls
//!   [`Monitor::print_prompt`]. For `Ping` and `Tftp` the caller reads
//!   [`Monitor::settings`] for the address, netmask, gateway, interface,
//!   server and file; the monitor has checked that the ones needed are set.
//!
//! At start-up the caller prints its banner and "Use ? for help.\r\n" and
//! calls [`Monitor::print_prompt`] once.
#![forbid(unsafe_code)]

pub mod command;
pub mod flashtest;
pub mod mac;

use core::fmt::{self, Write};
use core::net::Ipv4Addr;

pub use command::{Command, CommandError, FaultKind, FlashTestArgs};
pub use mac::MacDisplay;

use crate::line::{LineEditor, LineEvent};
use crate::settings::{Settings, DEFAULT_NETMASK};

/// The prompt of the network-recovery monitor.
pub const MONITOR_PROMPT: &str = "monitor>";
/// The prompt of the Boothelper diskette / USB stick (the PIX seed's wording).
pub const BOOTHELPER_PROMPT: &str = "pixboothelper>";

/// Work a finished line asks of the caller; see the module docs for who
/// prints what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing: the monitor has answered and printed the prompt.
    None,
    /// `reload`: restart the machine.
    Reload,
    /// `boot`: the flash boot now, without a reset; an image just installed is started
    /// from the RAM it was installed from (`boot::flash::start_installed`).
    Boot,
    /// `ping`: send the echoes to this address (see [`PingSession`](crate::net::ping::PingSession)).
    Ping(Ipv4Addr),
    /// `tftp [BLKSIZE]`: download `settings().file` from `settings().server`, with this block
    /// size instead of the path's largest when given.
    Tftp(Option<u16>),
    /// `http [URL]`: download [`Monitor::http_url`].
    Http,
    /// `version`: show the firmware version and the flash slots.
    Version,
    /// `address dhcp`: ask a DHCP server, then hand the lease to [`Monitor::apply_lease`].
    Dhcp,
    /// `crashtest`: cause this CPU fault on purpose.
    Fault(FaultKind),
    /// `flashtest [KIB] [pio]`: erase, program and verify this many KiB (`None`: one erase
    /// unit) from the start of the flash with [`flashtest::run`].
    FlashTest(FlashTestArgs),
    /// `interface [N]`: this interface is the selected one now: say so with the state of its
    /// NIC (`interface N: link up`; it is started if it is not running).
    Interface(usize),
}

/// The monitor's command interpreter; see the module docs.
#[derive(Debug)]
pub struct Monitor {
    editor: LineEditor,
    settings: Settings,
    prompt: &'static str,
    nic_count: usize,
    /// The URL the last `http` command asked for.
    url: crate::net::http::url::UrlBuf,
}

impl Monitor {
    /// A monitor showing `prompt` (e.g. [`MONITOR_PROMPT`]) with `nic_count`
    /// network interfaces found (possibly 0), and nothing set.
    pub const fn new(prompt: &'static str, nic_count: usize) -> Self {
        Monitor {
            editor: LineEditor::new(),
            settings: Settings::new(),
            prompt,
            nic_count,
            url: heapless::String::new(),
        }
    }

    /// The URL of the [`Action::Http`] just returned (checked by [`url::parse`](crate::net::http::url::parse)).
    pub fn http_url(&self) -> &str {
        &self.url
    }

    /// The operator's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The settings, for the caller to preset (e.g. the default interface).
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// How many network interfaces the monitor was told about.
    pub fn nic_count(&self) -> usize {
        self.nic_count
    }

    /// Writes the prompt followed by one space, e.g. "monitor> ".
    pub fn print_prompt<W: Write + ?Sized>(&self, out: &mut W) {
        let _ = write!(out, "{} ", self.prompt);
    }

    /// Writes the prompt and the line typed so far: after a message the caller printed while
    /// the operator was at the prompt (the line is kept; the message ends in "\r\n").
    pub fn redraw<W: Write + ?Sized>(&self, out: &mut W) {
        let _ = write!(out, "{} {}", self.prompt, self.editor.current());
    }

    /// Takes a DHCP lease into the settings and shows it as the manual commands echo it.
    ///
    /// The lease goes through [`Lease::sanitize`](crate::net::lease::Lease::sanitize) first:
    /// a refused lease changes nothing and says why in one line; an ignored part says why in
    /// one line where its setting would have been shown. A lease without a usable router
    /// clears the gateway (saying so): the old one belongs to another subnet or another
    /// network's plan. A lease without a server or file keeps the ones set.
    pub fn apply_lease<W: Write + ?Sized>(
        &mut self,
        lease: &crate::net::lease::Lease,
        out: &mut W,
    ) {
        use crate::net::lease::LeaseWarning;
        let (lease, warnings) = match lease.sanitize() {
            Ok(clean) => clean,
            Err(error) => {
                let _ = write!(
                    out,
                    "address: refused the DHCP lease: {error}; set the address by hand\r\n"
                );
                return;
            }
        };
        let warn = |out: &mut W, which: fn(&LeaseWarning) -> bool| {
            for w in warnings.iter().filter(|w| which(w)) {
                let _ = write!(out, "{w}\r\n");
            }
        };
        let s = &mut self.settings;
        s.address = Some(lease.address);
        s.netmask = lease.netmask;
        let _ = write!(out, "address {} {}\r\n", lease.address, lease.netmask);
        warn(out, |w| matches!(w, LeaseWarning::Gateway { .. }));
        match (lease.gateway, s.gateway) {
            (Some(gw), _) => {
                s.gateway = Some(gw);
                let _ = write!(out, "gateway {gw}\r\n");
            }
            (None, Some(old)) => {
                s.gateway = None;
                let _ = write!(
                    out,
                    "gateway not set (was {old}; the lease has no usable router)\r\n"
                );
            }
            (None, None) => {}
        }
        warn(out, |w| matches!(w, LeaseWarning::Server { .. }));
        if let Some(server) = lease.server {
            s.server = Some(server);
            let _ = write!(out, "server {server}\r\n");
        }
        warn(out, |w| matches!(w, LeaseWarning::Dns { .. }));
        if let Some(dns) = lease.dns {
            s.dns = Some(dns);
            let _ = write!(out, "dns {dns}\r\n");
        }
        warn(out, |w| matches!(w, LeaseWarning::File { .. }));
        if let Some(file) = lease.file {
            let _ = write!(out, "file {file}\r\n");
            s.file = file;
        }
    }

    /// Takes one byte from the console, writes its echo and any answer to
    /// `out`, and says what the caller must do. Console write errors are
    /// ignored: there is nowhere else to report them.
    pub fn feed<W: Write + ?Sized>(&mut self, byte: u8, out: &mut W) -> Action {
        let action = match self.editor.feed(byte, out) {
            LineEvent::Pending => return Action::None,
            LineEvent::Error(error) => {
                let _ = write!(out, "{error}\r\n");
                Action::None
            }
            LineEvent::Line(line) => match command::parse(line) {
                Ok(command) => execute(
                    &mut self.settings,
                    &mut self.url,
                    self.nic_count,
                    command,
                    out,
                )
                .unwrap_or(Action::None),
                Err(error) => {
                    let _ = write!(out, "{error}\r\n");
                    Action::None
                }
            },
        };
        if action == Action::None {
            self.print_prompt(out);
        }
        action
    }
}

/// Runs one parsed command: changes `settings` and prints its answer, or
/// returns the action the caller must take (printing nothing).
fn execute<W: Write + ?Sized>(
    settings: &mut Settings,
    url: &mut crate::net::http::url::UrlBuf,
    nic_count: usize,
    command: Command,
    out: &mut W,
) -> Result<Action, fmt::Error> {
    match command {
        Command::Empty => {}
        Command::Help => {
            for info in command::COMMANDS {
                write!(out, "{:<20} {}\r\n", info.usage, info.help)?;
            }
        }
        Command::Address(None) => match settings.address {
            Some(address) => write!(out, "address {address} {}\r\n", settings.netmask)?,
            None => out.write_str("address not set\r\n")?,
        },
        Command::Address(Some((address, netmask))) => {
            settings.address = Some(address);
            // An address without a mask takes the default mask, as the help says.
            settings.netmask = netmask.unwrap_or(DEFAULT_NETMASK);
            match netmask {
                Some(netmask) => write!(out, "address {address} {netmask}\r\n")?,
                None => write!(out, "address {address}\r\n")?,
            }
        }
        Command::Server(server) => {
            if server.is_some() {
                settings.server = server;
            }
            write_address_setting(out, "server", settings.server)?;
        }
        Command::Dns(dns) => {
            if dns.is_some() {
                settings.dns = dns;
            }
            write_address_setting(out, "dns", settings.dns)?;
        }
        Command::Gateway(gateway) => {
            if gateway.is_some() {
                settings.gateway = gateway;
            }
            write_address_setting(out, "gateway", settings.gateway)?;
        }
        Command::File(file) => {
            if let Some(file) = file {
                settings.file = file;
            }
            match settings.file.as_str() {
                "" => out.write_str("file not set\r\n")?,
                file => write!(out, "file {file}\r\n")?,
            }
        }
        Command::Interface(_) if nic_count == 0 => {
            out.write_str("interface: no network interfaces found\r\n")?
        }
        Command::Interface(Some(number)) if number >= nic_count => match nic_count {
            1 => write!(
                out,
                "interface: no interface {number}; the only one is 0\r\n"
            )?,
            _ => write!(
                out,
                "interface: no interface {number}; choose 0 to {}\r\n",
                nic_count - 1
            )?,
        },
        Command::Interface(number) => {
            if let Some(number) = number {
                settings.interface = number;
            }
            return Ok(Action::Interface(settings.interface));
        }
        Command::Trace(trace) => {
            if let Some(trace) = trace {
                settings.trace = trace;
            }
            let state = if settings.trace { "on" } else { "off" };
            write!(out, "trace {state}\r\n")?;
        }
        Command::Ping(target) => {
            if nic_count == 0 {
                out.write_str("ping: no network interfaces found\r\n")?;
            } else if let Some(target) = target.or(settings.server) {
                if settings.address.is_some() {
                    return Ok(Action::Ping(target));
                }
                out.write_str("ping: address not set; set this unit's address first\r\n")?;
            } else {
                out.write_str("ping: no IP given and server not set\r\n")?;
            }
        }
        Command::AddressDhcp => {
            if nic_count == 0 {
                out.write_str("address: no network interfaces found\r\n")?;
            } else {
                return Ok(Action::Dhcp);
            }
        }
        Command::Tftp(blksize) => {
            let missing = [
                ("address", settings.address.is_none()),
                ("server", settings.server.is_none()),
                ("file", settings.file.is_empty()),
            ];
            if nic_count == 0 {
                out.write_str("tftp: no network interfaces found\r\n")?;
            } else if missing.iter().any(|&(_, is_missing)| is_missing) {
                out.write_str("tftp: cannot start; not set:")?;
                let names = missing.iter().filter(|&&(_, is_missing)| is_missing);
                for (i, (name, _)) in names.enumerate() {
                    write!(out, "{} {name}", if i == 0 { "" } else { "," })?;
                }
                out.write_str("\r\n")?;
            } else {
                return Ok(Action::Tftp(blksize));
            }
        }
        Command::Http(arg) => {
            use crate::net::http::url;
            if nic_count == 0 {
                out.write_str("http: no network interfaces found\r\n")?;
            } else if settings.address.is_none() {
                out.write_str("http: cannot start; not set: address\r\n")?;
            } else {
                match url::target(arg.as_deref(), settings.server, &settings.file) {
                    None => out.write_str(
                        "http: no URL given and server and file are not both set; usage: http [URL]\r\n",
                    )?,
                    Some(u) => match url::parse(&u) {
                        Err(e) => write!(out, "http: {e}\r\n")?,
                        Ok(_) => {
                            *url = u;
                            return Ok(Action::Http);
                        }
                    },
                }
            }
        }
        Command::Reload => return Ok(Action::Reload),
        Command::Boot => return Ok(Action::Boot),
        Command::Version => return Ok(Action::Version),
        Command::CrashTest(kind) => return Ok(Action::Fault(kind)),
        Command::FlashTest(args) => return Ok(Action::FlashTest(args)),
    }
    Ok(Action::None)
}

fn write_address_setting<W: Write + ?Sized>(
    out: &mut W,
    name: &str,
    value: Option<Ipv4Addr>,
) -> fmt::Result {
    match value {
        Some(address) => write!(out, "{name} {address}\r\n"),
        None => write!(out, "{name} not set\r\n"),
    }
}

#[cfg(test)]
mod tests;
