//! The network side of the monitor, wiring only: the NIC listing before the prompt, the
//! open NIC (started behind the prompt: `net::bringup`), and the library's sessions (`ping`,
//! `tftp`, `address dhcp`) run over it with the TSC clock and the UART console.
use core::fmt::{self, Write};
use core::net::Ipv4Addr;

use lifeboat_firmware::monitor::MacDisplay;
use lifeboat_firmware::net::bringup::Bringup;
use lifeboat_firmware::net::session::{
    self, Clock, Console, Download, Key, Lease, TftpOptions, TypeAhead,
};
use lifeboat_firmware::settings::Settings;
use lifeboat_hal::net::{probe, AnyNic, NicDriver, NicInfo, NicList};
use lifeboat_hal::timer;
use lifeboat_hal::uart::{Uart16550, UartEvent};
use smoltcp::time::Instant;

const ESC: u8 = 0x1B;
/// How long a command waits for a link that is still coming up.
const LINK_WAIT_US: u64 = 3_000_000;

pub struct Network {
    list: NicList,
    /// The NIC in use and its interface number. One at a time: drivers keep their
    /// descriptor rings in static memory, one set per driver kind.
    open: Option<(usize, AnyNic)>,
    /// Whether [`Network::find`] has run.
    found: bool,
    /// The interface last named in a `Using N: ...` line.
    announced: Option<usize>,
    /// Which interface to start behind the prompt.
    bringup: Bringup,
}

struct Pci<'a>(&'a NicInfo);

impl fmt::Display for Pci<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.0.pci;
        write!(
            f,
            "{} @ PCI(bus:{} dev:{} irq:{})",
            self.0.model.name(),
            p.bus,
            p.dev,
            p.irq
        )
    }
}

/// The TSC clock, for the library's sessions.
struct Tsc;

impl Clock for Tsc {
    fn now(&self) -> Instant {
        Instant::from_micros(timer::now_us() as i64)
    }
}

/// The UART as the sessions' console: ESC and BREAK abort, other bytes are kept.
struct Operator<'a>(&'a mut Uart16550);

impl Write for Operator<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_str(s)
    }
}

impl Console for Operator<'_> {
    fn poll_key(&mut self) -> Option<Key> {
        match self.0.try_read()? {
            UartEvent::Break | UartEvent::Byte(ESC) => Some(Key::Abort),
            UartEvent::Byte(b) => Some(Key::Byte(b)),
        }
    }
}

fn seed() -> u64 {
    timer::now_us().wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Network {
    /// Nothing found or started yet: [`Network::find`] finds the NICs (during the
    /// flash-boot window, while the operator decides), [`Network::bring_up`] starts the
    /// selected one behind the prompt.
    pub fn new() -> Self {
        Network {
            list: NicList::new(),
            found: false,
            open: None,
            announced: None,
            bringup: Bringup::default(),
        }
    }

    /// Find the NICs (PCI and MAC address; none is started), once: true if this call did.
    pub fn find(&mut self) -> bool {
        if self.found {
            return false;
        }
        self.list = probe();
        self.found = true;
        true
    }

    /// Stop the open NIC (reset it): before an image is started, which must find no NIC
    /// writing memory behind its back. The next use opens it again.
    pub fn stop(&mut self) {
        self.open = None;
    }

    /// List every supported NIC as the PIX does (finding them first if the flash-boot window
    /// did not) and announce the default interface (its NIC starts behind the prompt:
    /// [`Network::bring_up`]).
    pub fn report(&mut self, con: &mut Uart16550) {
        self.find();
        if self.list.is_empty() {
            let _ = write!(con, "No supported network interface found (e1000, e1000e, i8255x, virtio-net); ping and tftp are unavailable.\r\n");
        }
        for (i, nic) in self.list.iter().enumerate() {
            let _ = write!(con, "{i}: {}\r\n", Pci(nic));
            defmt::info!(
                "nic {=usize}: {=str} bus {=u8} dev {=u8} irq {=u8}",
                i,
                nic.model.name(),
                nic.pci.bus,
                nic.pci.dev,
                nic.pci.irq
            );
        }
        if let Some(i) = self.default_interface() {
            let _ = write!(con, "\r\n");
            self.announce(con, i);
        }
    }

    /// With the console idle at the prompt: start the selected interface's NIC if it is due
    /// ([`Bringup::due`]). True when a line was printed (the NIC could not start), after
    /// which the caller shows the prompt and the line typed so far again.
    pub fn bring_up(&mut self, con: &mut Uart16550, selected: usize) -> bool {
        let open = self.open.as_ref().map(|(i, _)| *i);
        let Some(i) = self.bringup.due(selected, self.list.len(), open) else {
            return false;
        };
        !self.open_nic(con, i, "\r\n")
    }

    /// Start interface `i`'s NIC (dropping, so resetting, any other first); if it cannot
    /// start, say why in one line after `lead`.
    fn open_nic(&mut self, con: &mut Uart16550, i: usize, lead: &str) -> bool {
        self.open = None;
        let Some(info) = self.list.get(i).copied() else {
            return false;
        };
        match AnyNic::open(&info) {
            Ok(n) => {
                defmt::info!("interface {=usize} open", i);
                self.open = Some((i, n));
                true
            }
            Err(e) => {
                let _ = write!(
                    con,
                    "{lead}interface {i} ({}): cannot start the NIC: {e}\r\n",
                    info.model.name()
                );
                false
            }
        }
    }

    /// `interface`: `interface N: link up` (or down) for interface `i`, whose NIC is started
    /// now if it is not running (one that cannot start says why instead).
    pub fn show(&mut self, con: &mut Uart16550, i: usize) {
        if let Some(nic) = self.nic(con, i) {
            let link = if nic.link_up() { "up" } else { "down" };
            let _ = write!(con, "interface {i}: link {link}\r\n");
        }
    }

    pub fn nic_count(&self) -> usize {
        self.list.len()
    }

    /// The interface the monitor starts with (`net::default_interface` decides).
    pub fn default_interface(&self) -> Option<usize> {
        lifeboat_firmware::net::default_interface(self.list.len())
    }

    fn announce(&mut self, con: &mut Uart16550, i: usize) {
        if self.announced == Some(i) {
            return;
        }
        self.announced = Some(i);
        if let Some(nic) = self.list.get(i) {
            match nic.mac {
                Some(mac) => {
                    let _ = write!(con, "Using {i}: {}, MAC: {}\r\n", Pci(nic), MacDisplay(mac));
                }
                None => {
                    let _ = write!(con, "Using {i}: {}, MAC unreadable\r\n", Pci(nic));
                }
            }
        }
    }

    /// The NIC for interface `i`, started if needed (closing any other first).
    fn nic(&mut self, con: &mut Uart16550, i: usize) -> Option<&mut AnyNic> {
        if !matches!(self.open, Some((j, _)) if j == i) {
            self.announce(con, i);
            if !self.open_nic(con, i, "") {
                return None;
            }
        }
        self.open.as_mut().map(|(_, n)| n)
    }

    /// The interface's NIC with its link up (or a warning said), ready for a session.
    fn ready(&mut self, con: &mut Uart16550, interface: usize) -> Option<&mut AnyNic> {
        let nic = self.nic(con, interface)?;
        let link = timer::poll_until(LINK_WAIT_US, || {
            con.drain_rx(); // keep what the operator types meanwhile
            nic.link_up()
        });
        if !link {
            let _ = write!(con, "Warning: interface {interface} reports link down\r\n");
        }
        Some(nic)
    }

    /// `ping`: see [`session::ping`].
    pub fn ping(
        &mut self,
        con: &mut Uart16550,
        s: &Settings,
        target: Ipv4Addr,
        ta: &mut TypeAhead,
    ) {
        let Some(nic) = self.ready(con, s.interface) else {
            return;
        };
        let mac = nic.mac();
        session::ping(nic, mac, &Tsc, &mut Operator(con), s, target, seed(), ta);
    }

    /// `tftp`: see [`session::tftp`]; the file lands at the start of `buf`.
    pub fn tftp(
        &mut self,
        con: &mut Uart16550,
        s: &Settings,
        blksize: Option<u16>,
        buf: &mut [u8],
        ta: &mut TypeAhead,
    ) -> Option<Download> {
        let nic = self.ready(con, s.interface)?;
        let mac = nic.mac();
        let mut opts = TftpOptions::default();
        if let Some(b) = blksize {
            opts.blksize = b;
        }
        defmt::info!("tftp: buffer {=usize} bytes", buf.len());
        session::tftp(
            nic,
            mac,
            &Tsc,
            &mut Operator(con),
            s,
            &opts,
            buf,
            seed(),
            ta,
        )
    }

    /// `http`: see [`lifeboat_firmware::net::http::session::http`]; the file lands at the
    /// start of `buf` (whose end holds the TCP receive ring meanwhile).
    pub fn http(
        &mut self,
        con: &mut Uart16550,
        s: &Settings,
        url: &str,
        buf: &mut [u8],
        ta: &mut TypeAhead,
    ) -> Option<Download> {
        let nic = self.ready(con, s.interface)?;
        let mac = nic.mac();
        lifeboat_firmware::net::http::http(
            nic,
            mac,
            &Tsc,
            &mut Operator(con),
            s,
            url,
            buf,
            seed(),
            ta,
        )
    }

    /// `address dhcp`: see [`session::dhcp`].
    pub fn dhcp(&mut self, con: &mut Uart16550, s: &Settings, ta: &mut TypeAhead) -> Option<Lease> {
        let nic = self.ready(con, s.interface)?;
        let mac = nic.mac();
        session::dhcp(nic, mac, &Tsc, &mut Operator(con), seed(), ta)
    }
}
