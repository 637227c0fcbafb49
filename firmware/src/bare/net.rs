//! The network side of the monitor: the NIC listing at start-up, the open NIC, and
//! `ping` over a smoltcp interface configured from the monitor's settings.
use core::fmt::Write;
use core::net::Ipv4Addr;

use lifeboat_firmware::monitor::{MacDisplay, PingSession, Settings};
use lifeboat_firmware::net::{echo, ArpState, ArpWatch};
use lifeboat_hal::net::{probe, AnyNic, NicInfo, NicList};
use lifeboat_hal::timer;
use lifeboat_hal::uart::{Uart16550, UartEvent};
use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::socket::icmp;
use smoltcp::storage::PacketMetadata;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

const ESC: u8 = 0x1B;
/// How long `ping` waits for a link that is still coming up.
const LINK_WAIT_US: u64 = 3_000_000;

pub struct Network {
    list: NicList,
    /// The NIC in use and its interface number. One at a time: drivers keep their
    /// descriptor rings in static memory, one set per driver kind.
    open: Option<(usize, AnyNic)>,
    /// The interface last named in a `Using N: ...` line.
    announced: Option<usize>,
}

struct Pci<'a>(&'a NicInfo);

impl core::fmt::Display for Pci<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
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

fn now() -> Instant {
    Instant::from_micros(timer::now_us() as i64)
}

impl Network {
    /// List every supported NIC as the PIX does and announce the default interface.
    pub fn probe(con: &mut Uart16550) -> Self {
        let list = probe();
        if list.is_empty() {
            let _ = write!(con, "No supported network interface found (e1000, i8255x, virtio-net); ping and tftp are unavailable.\r\n");
        }
        for (i, nic) in list.iter().enumerate() {
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
        let mut net = Network {
            list,
            open: None,
            announced: None,
        };
        if let Some(i) = net.default_interface() {
            let _ = write!(con, "\r\n");
            // Start it now: links take a while to come up after a reset (e1000: ~0.5 s).
            let _ = net.nic(con, i);
        }
        net
    }

    pub fn nic_count(&self) -> usize {
        self.list.len()
    }

    /// As on the PIX: with two or more interfaces the inside one (1), else 0.
    pub fn default_interface(&self) -> Option<usize> {
        match self.list.len() {
            0 => None,
            1 => Some(0),
            _ => Some(1),
        }
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
            self.open = None; // drop (reset) the previous NIC before opening another
            let info = *self.list.get(i)?;
            self.announce(con, i);
            match AnyNic::open(&info) {
                Ok(n) => {
                    defmt::info!("interface {=usize} open", i);
                    self.open = Some((i, n));
                }
                Err(e) => {
                    let _ = write!(
                        con,
                        "interface {i} ({}): cannot start the NIC: {e:?}\r\n",
                        info.model.name()
                    );
                    return None;
                }
            }
        }
        self.open.as_mut().map(|(_, n)| n)
    }

    /// `ping`: five 100-byte echoes, `!` per reply and `?` per 4-second timeout.
    pub fn ping(&mut self, con: &mut Uart16550, s: &Settings, target: Ipv4Addr) {
        let Some(addr) = s.address else {
            let _ = write!(con, "ping: set this unit's address first\r\n");
            return;
        };
        let prefix = u32::from(s.netmask).leading_ones() as u8;
        let cidr = IpCidr::new(IpAddress::Ipv4(addr), prefix);
        let on_link = cidr.contains_addr(&IpAddress::Ipv4(target));
        let next_hop = if on_link {
            target
        } else if let Some(gw) = s.gateway {
            gw
        } else {
            let _ = write!(
                con,
                "ping: {target} is not on this unit's subnet {}/{prefix} and no gateway is set\r\n",
                Ipv4Addr::from(u32::from(addr) & u32::from(s.netmask))
            );
            return;
        };
        let Some(nic) = self.nic(con, s.interface) else {
            return;
        };
        let link = timer::poll_until(LINK_WAIT_US, || {
            con.drain_rx(); // keep what the operator types meanwhile
            nic.link_up()
        });
        if !link {
            let _ = write!(
                con,
                "Warning: interface {} reports link down\r\n",
                s.interface
            );
        }
        let mac = nic.mac();
        let arp = ArpState::default();
        let mut dev = ArpWatch::new(nic, &arp);

        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        cfg.random_seed = timer::now_us();
        let mut iface = Interface::new(cfg, &mut dev, now());
        iface.update_ip_addrs(|a| {
            let _ = a.push(cidr);
        });
        if let Some(gw) = s.gateway {
            let _ = iface.routes_mut().add_default_ipv4_route(gw);
        }
        let mut rx_meta = [PacketMetadata::EMPTY; 8];
        let mut rx_data = [0u8; 2048];
        let mut tx_meta = [PacketMetadata::EMPTY; 8];
        let mut tx_data = [0u8; 1024];
        let mut sock = icmp::Socket::new(
            icmp::PacketBuffer::new(&mut rx_meta[..], &mut rx_data[..]),
            icmp::PacketBuffer::new(&mut tx_meta[..], &mut tx_data[..]),
        );
        // Identifier: low bits of the TSC-based clock, never 0.
        let ident = (timer::now_us() as u16).max(1);
        if sock.bind(icmp::Endpoint::Ident(ident)).is_err() {
            let _ = write!(con, "ping: cannot open an ICMP socket\r\n");
            return;
        }
        let mut storage = [SocketStorage::EMPTY; 1];
        let mut sockets = SocketSet::new(&mut storage[..]);
        let h = sockets.add(sock);

        let mut session = PingSession::new(target, ident);
        let _ = session.write_banner(con);
        defmt::info!("ping {=u32:#x} ident {=u16:#x}", u32::from(target), ident);
        let mut aborted = false;
        while !session.is_finished() {
            let t = timer::now_us();
            iface.poll(Instant::from_micros(t as i64), &mut dev, &mut sockets);
            let sock = sockets.get_mut::<icmp::Socket>(h);
            while let Ok((msg, from)) = sock.recv() {
                if from == IpAddress::Ipv4(target) {
                    if let Some(seq) = echo::parse_reply(msg, ident) {
                        session.on_reply(seq, t);
                    }
                }
            }
            if sock.can_send() {
                if let Some(seq) = session.next_to_send(t) {
                    let _ = sock.send_slice(&echo::request(ident, seq), IpAddress::Ipv4(target));
                }
            }
            while let Some(ev) = session.poll(t) {
                let _ = write!(con, "{}", ev.symbol());
            }
            if let Some(UartEvent::Byte(ESC)) | Some(UartEvent::Break) = con.try_read() {
                aborted = true;
                break;
            }
        }
        let _ = write!(con, "\r\n");
        if aborted {
            let _ = write!(con, "Ping aborted.\r\n");
        }
        let _ = session.write_summary(con);
        if let Some(rtt) = session.round_trip() {
            let _ = write!(con, "{}\r\n", rtt.micros());
        } else if arp.requested(next_hop) && !arp.answered(next_hop) {
            let what = if on_link { "the target" } else { "the gateway" };
            let _ = write!(con, "No ARP reply from {next_hop} ({what}): it is down or not on interface {}'s segment\r\n", s.interface);
        }
        defmt::info!(
            "ping done: {=usize} replies, {=u32} frames out, {=u32} in",
            session.replies(),
            arp.tx_frames(),
            arp.rx_frames()
        );
    }
}
