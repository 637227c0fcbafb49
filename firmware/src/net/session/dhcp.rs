//! `address dhcp`: smoltcp's DHCPv4 client, behind the guard against replies that would
//! panic it; the lease as offered, for [`Lease::sanitize`] to judge.
use core::cell::RefCell;

use smoltcp::iface::{SocketSet, SocketStorage};
use smoltcp::phy::Device;
use smoltcp::socket::dhcpv4;
use smoltcp::time::Duration;

use super::{interface, Clock, Console, TypeAhead};
use crate::net::arp_watch::{ArpState, ArpWatch};
use crate::net::lease::{offered_file, Lease};
use crate::net::trace::{FrameTrace, TraceLog};

/// Where the BOOTP `file` field (128 bytes, NUL-padded) lies in a DHCP packet (RFC 2131).
const BOOTP_FILE: core::ops::Range<usize> = 108..236;

/// How long `address dhcp` waits for a lease.
pub const DHCP_TIMEOUT: Duration = Duration::from_secs(12);

/// `address dhcp`: asks for a lease with smoltcp's DHCPv4 client. The lease is returned as
/// offered; [`Lease::sanitize`] decides what of it is used.
pub fn dhcp<D: Device, K: Console + ?Sized>(
    dev: &mut D,
    mac: [u8; 6],
    clock: &impl Clock,
    con: &mut K,
    seed: u64,
    typeahead: &mut TypeAhead,
) -> Option<Lease> {
    // Replies that would panic smoltcp's DHCP client never reach it.
    let mut log = TraceLog::new(None, false);
    log.guard_dhcp = true;
    let log = RefCell::new(log);
    let arp = ArpState::default();
    let dev = &mut FrameTrace::new(ArpWatch::new(dev, &arp), &log);
    let start = clock.now();
    let mut iface = interface(dev, mac, None, None, start, seed);
    let mut packet = [0u8; 1500];
    let mut sock = dhcpv4::Socket::new();
    sock.set_receive_packet_buffer(&mut packet);
    const PARAMS: [u8; 5] = [1, 3, 6, 66, 67];
    sock.set_parameter_request_list(&PARAMS);
    let mut storage = [SocketStorage::EMPTY; 1];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let h = sockets.add(sock);
    let _ = write!(con, "Asking for a DHCP lease");
    let mut shown = 0;
    loop {
        let now = clock.now();
        iface.poll(now, dev, &mut sockets);
        if core::mem::take(&mut log.borrow_mut().guarded) > 0 {
            let _ = write!(
                con,
                "\r\naddress: ignored a DHCP reply with contradicting lease times or from 0.0.0.0"
            );
        }
        if let Some(dhcpv4::Event::Configured(cfg)) = sockets.get_mut::<dhcpv4::Socket>(h).poll() {
            let _ = write!(con, "\r\n");
            let mut lease = Lease {
                address: cfg.address.address(),
                netmask: cfg.address.netmask(),
                gateway: cfg.router,
                server: None,
                file: None,
                dns: cfg.dns_servers.first().copied(),
            };
            if let Some(p) = &cfg.packet {
                let si = p.server_ip();
                if !si.is_unspecified() {
                    lease.server = Some(si);
                }
                let mut option_67 = None;
                for o in p.options() {
                    match o.kind {
                        66 if lease.server.is_none() => {
                            lease.server = core::str::from_utf8(o.data).ok().and_then(|t| {
                                crate::settings::parse_ipv4(t.trim_end_matches('\0')).ok()
                            });
                        }
                        67 if option_67.is_none() => option_67 = Some(o.data),
                        _ => {}
                    }
                }
                let field = p.into_inner().get(BOOTP_FILE).unwrap_or(&[]);
                lease.file = offered_file(option_67, field);
            }
            return Some(lease);
        }
        let waited = now - start;
        if waited >= DHCP_TIMEOUT {
            let _ = write!(
                con,
                "\r\naddress: no DHCP offer in {} s; set the address by hand\r\n",
                DHCP_TIMEOUT.secs()
            );
            return None;
        }
        if waited.secs() > shown {
            shown = waited.secs();
            let _ = write!(con, ".");
        }
        if typeahead.key(con) {
            let _ = write!(con, "\r\naddress: DHCP aborted\r\n");
            return None;
        }
    }
}
