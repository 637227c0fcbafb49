//! What a DHCP server offered, and the one place that decides which of it this unit takes.
//!
//! Anyone on the segment can answer `address dhcp`, so a [`Lease`] is input from the network
//! like any other packet: [`Lease::sanitize`] turns it into a [`CleanLease`] that is safe to
//! put into the monitor's settings, plus one [`LeaseWarning`] per part it ignored, or refuses
//! it whole with a [`LeaseError`]. The rules:
//! - The netmask is contiguous and /1 to /30; the address is a unicast host address and not
//!   its subnet's network or broadcast address. Otherwise the whole lease is refused.
//! - The router (option 3) and the TFTP server (`siaddr` / option 66) are unicast host
//!   addresses: not 0.0.0.0/8, 127.0.0.0/8, multicast, class E or 255.255.255.255, not the
//!   leased subnet's network or broadcast address, not this unit's own address. The router
//!   is also on the leased subnet. A bad one is ignored.
//! - The boot file name (option 67, else the BOOTP `file` field) loses its trailing NULs and
//!   must then be 1 to [`MAX_FILE_NAME_LEN`] bytes of 0x21..=0x7E: what the operator could
//!   type after `file` (which splits at spaces). Otherwise it is ignored, and the warning
//!   shows its length and the first bad byte as a number, never the bytes themselves.
#![forbid(unsafe_code)]

use core::fmt;
use core::net::Ipv4Addr;

use crate::settings::{is_contiguous_netmask, FileName, MAX_FILE_NAME_LEN};

/// Longest boot file name a DHCP packet carries: option 67 (the `file` field holds 128).
pub const MAX_OFFERED_FILE: usize = 255;

/// A boot file name as it came off the wire.
pub type OfferedFile = heapless::Vec<u8, MAX_OFFERED_FILE>;

/// Shortest and longest prefix a lease may have: /31 and /32 leave no room for a gateway
/// or a server beside this unit (and no broadcast address to tell apart), /0 is no subnet.
pub const MIN_PREFIX: u8 = 1;
pub const MAX_PREFIX: u8 = 30;

/// What a DHCP server offered, unchecked: see [`Lease::sanitize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub address: Ipv4Addr,
    pub netmask: Ipv4Addr,
    /// The first router of option 3.
    pub gateway: Option<Ipv4Addr>,
    /// The TFTP server: the offer's `siaddr`, else option 66 when it is an address.
    pub server: Option<Ipv4Addr>,
    /// The boot file name's bytes: see [`offered_file`].
    pub file: Option<OfferedFile>,
    /// The first DNS server of option 6.
    pub dns: Option<Ipv4Addr>,
}

/// The boot file name's bytes from option 67 (`option`) if it holds anything but NULs, else
/// from the BOOTP `file` field (`field`, NUL-padded) if that does; `None` if neither does.
pub fn offered_file(option: Option<&[u8]>, field: &[u8]) -> Option<OfferedFile> {
    let named = |b: &&[u8]| b.iter().any(|&c| c != 0);
    let bytes = option.filter(named).or(Some(field).filter(named))?;
    // Both fit (an option is at most 255 bytes, the field 128); a longer slice is cut, and
    // the cut name is then refused as too long, which it is.
    let n = bytes.len().min(MAX_OFFERED_FILE);
    OfferedFile::from_slice(&bytes[..n]).ok()
}

/// A lease that passed [`Lease::sanitize`]: every part may go into the settings as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanLease {
    pub address: Ipv4Addr,
    /// Contiguous, /1 to /30.
    pub netmask: Ipv4Addr,
    /// On the leased subnet; `None` when the lease had none or it was ignored.
    pub gateway: Option<Ipv4Addr>,
    pub server: Option<Ipv4Addr>,
    pub file: Option<FileName>,
    /// A unicast host, not this unit (off the subnet is fine: it is reached by the gateway).
    pub dns: Option<Ipv4Addr>,
}

/// The parts of a lease [`Lease::sanitize`] ignored, in the order gateway, server, file.
pub type LeaseWarnings = heapless::Vec<LeaseWarning, 4>;

/// Why an address from a lease is not usable as a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrProblem {
    /// 0.0.0.0/8: "this network", never a destination.
    ThisNetwork,
    /// 127.0.0.0/8.
    Loopback,
    /// 224.0.0.0/4.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 240.0.0.0/4 other than 255.255.255.255.
    Reserved,
    /// The leased subnet's network address (host bits all zero).
    SubnetNetwork,
    /// The leased subnet's broadcast address (host bits all one).
    SubnetBroadcast,
    /// The address this unit is leasing.
    OwnAddress,
    /// A router outside the leased subnet: it could not be reached.
    OffSubnet { network: Ipv4Addr, prefix: u8 },
}

impl fmt::Display for AddrProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrProblem::ThisNetwork => f.write_str("it is in 0.0.0.0/8, not a host address"),
            AddrProblem::Loopback => f.write_str("it is a loopback address"),
            AddrProblem::Multicast => f.write_str("it is a multicast address"),
            AddrProblem::Broadcast => f.write_str("it is the broadcast address"),
            AddrProblem::Reserved => f.write_str("it is a reserved (class E) address"),
            AddrProblem::SubnetNetwork => f.write_str("it is the subnet's network address"),
            AddrProblem::SubnetBroadcast => f.write_str("it is the subnet's broadcast address"),
            AddrProblem::OwnAddress => f.write_str("it is this unit's own address"),
            AddrProblem::OffSubnet { network, prefix } => {
                write!(f, "it is not on the leased subnet {network}/{prefix}")
            }
        }
    }
}

/// Why a boot file name from a lease is not usable. Byte positions count from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    /// Nothing but NULs.
    Empty,
    /// Longer than [`MAX_FILE_NAME_LEN`] once trailing NULs are gone.
    TooLong,
    /// A NUL before the end.
    Nul { at: usize },
    /// A space (0x20).
    Space { at: usize },
    /// A control byte (below 0x20, or DEL 0x7f), e.g. ESC.
    Control { at: usize, byte: u8 },
    /// A byte above 0x7f: not ASCII.
    NotAscii { at: usize, byte: u8 },
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NameProblem::Empty => f.write_str("it is empty"),
            NameProblem::TooLong => write!(f, "it is longer than {MAX_FILE_NAME_LEN} bytes"),
            NameProblem::Nul { at } => write!(f, "byte {at} is a NUL"),
            NameProblem::Space { at } => write!(f, "byte {at} is a space"),
            NameProblem::Control { at, byte } => {
                write!(f, "byte {at} is {byte:#04x}, a control character")
            }
            NameProblem::NotAscii { at, byte } => write!(f, "byte {at} is {byte:#04x}, not ASCII"),
        }
    }
}

/// A part of a lease that was ignored; one console line each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseWarning {
    Gateway {
        addr: Ipv4Addr,
        why: AddrProblem,
    },
    Server {
        addr: Ipv4Addr,
        why: AddrProblem,
    },
    Dns {
        addr: Ipv4Addr,
        why: AddrProblem,
    },
    /// The name's bytes are not shown: only how many there were (trailing NULs not counted).
    File {
        len: usize,
        why: NameProblem,
    },
}

impl fmt::Display for LeaseWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaseWarning::Gateway { addr, why } => {
                write!(f, "gateway: ignored the DHCP router {addr}: {why}")
            }
            LeaseWarning::Server { addr, why } => {
                write!(f, "server: ignored the DHCP server {addr}: {why}")
            }
            LeaseWarning::Dns { addr, why } => {
                write!(f, "dns: ignored the DHCP name server {addr}: {why}")
            }
            LeaseWarning::File { len, why } => {
                write!(
                    f,
                    "file: ignored the DHCP boot file name ({len} bytes): {why}"
                )
            }
        }
    }
}

/// Why a whole lease is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseError {
    /// The netmask's one bits are not a single run from the top.
    MaskNotContiguous(Ipv4Addr),
    /// The prefix is outside [`MIN_PREFIX`]..=[`MAX_PREFIX`].
    PrefixOutOfRange { netmask: Ipv4Addr, prefix: u8 },
    /// The leased address cannot be this unit's.
    Address { addr: Ipv4Addr, why: AddrProblem },
}

impl fmt::Display for LeaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaseError::MaskNotContiguous(mask) => {
                write!(f, "the netmask {mask} is not contiguous")
            }
            LeaseError::PrefixOutOfRange { netmask, prefix } => write!(
                f,
                "the netmask {netmask} (/{prefix}) is outside /{MIN_PREFIX} to /{MAX_PREFIX}"
            ),
            LeaseError::Address { addr, why } => write!(f, "the address {addr}: {why}"),
        }
    }
}

/// The leased subnet.
#[derive(Debug, Clone, Copy)]
struct Subnet {
    network: u32,
    mask: u32,
}

impl Subnet {
    fn contains(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & self.mask == self.network
    }

    fn broadcast(&self) -> u32 {
        self.network | !self.mask
    }
}

/// Why `a` is not a unicast host address, judged against `subnet` when it is on it.
fn host_problem(a: Ipv4Addr, subnet: &Subnet) -> Option<AddrProblem> {
    let [first, ..] = a.octets();
    let why = if a.is_broadcast() {
        AddrProblem::Broadcast
    } else if first == 0 {
        AddrProblem::ThisNetwork
    } else if a.is_loopback() {
        AddrProblem::Loopback
    } else if a.is_multicast() {
        AddrProblem::Multicast
    } else if first >= 240 {
        AddrProblem::Reserved
    } else if subnet.contains(a) && u32::from(a) == subnet.network {
        AddrProblem::SubnetNetwork
    } else if subnet.contains(a) && u32::from(a) == subnet.broadcast() {
        AddrProblem::SubnetBroadcast
    } else {
        return None;
    };
    Some(why)
}

/// `raw` without its trailing NULs (the `file` field's padding, a C string's end).
fn trim_nuls(raw: &[u8]) -> &[u8] {
    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &raw[..end]
}

/// The name as the `file` setting takes it, or why not.
fn file_name(raw: &[u8]) -> Result<FileName, NameProblem> {
    let name = trim_nuls(raw);
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.len() > MAX_FILE_NAME_LEN {
        return Err(NameProblem::TooLong);
    }
    for (i, &byte) in name.iter().enumerate() {
        let at = i + 1;
        match byte {
            0x21..=0x7e => {}
            0 => return Err(NameProblem::Nul { at }),
            b' ' => return Err(NameProblem::Space { at }),
            0x80.. => return Err(NameProblem::NotAscii { at, byte }),
            _ => return Err(NameProblem::Control { at, byte }),
        }
    }
    // All bytes are ASCII, so this is UTF-8; FileName's capacity is the length limit.
    let text = core::str::from_utf8(name).map_err(|_| NameProblem::TooLong)?;
    FileName::try_from(text).map_err(|_| NameProblem::TooLong)
}

impl Lease {
    /// What of this lease may reach the settings; see the module docs for the rules.
    pub fn sanitize(&self) -> Result<(CleanLease, LeaseWarnings), LeaseError> {
        let mask = u32::from(self.netmask);
        if !is_contiguous_netmask(self.netmask) {
            return Err(LeaseError::MaskNotContiguous(self.netmask));
        }
        let prefix = mask.leading_ones() as u8;
        if !(MIN_PREFIX..=MAX_PREFIX).contains(&prefix) {
            return Err(LeaseError::PrefixOutOfRange {
                netmask: self.netmask,
                prefix,
            });
        }
        let subnet = Subnet {
            network: u32::from(self.address) & mask,
            mask,
        };
        if let Some(why) = host_problem(self.address, &subnet) {
            return Err(LeaseError::Address {
                addr: self.address,
                why,
            });
        }
        let peer_problem = |a: Ipv4Addr| {
            host_problem(a, &subnet).or((a == self.address).then_some(AddrProblem::OwnAddress))
        };
        let mut warnings = LeaseWarnings::new();
        let gateway = self.gateway.filter(|&addr| {
            let why =
                peer_problem(addr).or((!subnet.contains(addr)).then_some(AddrProblem::OffSubnet {
                    network: Ipv4Addr::from(subnet.network),
                    prefix,
                }));
            if let Some(why) = why {
                let _ = warnings.push(LeaseWarning::Gateway { addr, why });
            }
            why.is_none()
        });
        let server = self.server.filter(|&addr| {
            let why = peer_problem(addr);
            if let Some(why) = why {
                let _ = warnings.push(LeaseWarning::Server { addr, why });
            }
            why.is_none()
        });
        let file = self.file.as_ref().and_then(|raw| match file_name(raw) {
            Ok(name) => Some(name),
            Err(why) => {
                let _ = warnings.push(LeaseWarning::File {
                    len: trim_nuls(raw).len(),
                    why,
                });
                None
            }
        });
        let dns = self.dns.filter(|&addr| {
            let why = peer_problem(addr);
            if let Some(why) = why {
                let _ = warnings.push(LeaseWarning::Dns { addr, why });
            }
            why.is_none()
        });
        let clean = CleanLease {
            address: self.address,
            netmask: self.netmask,
            gateway,
            server,
            file,
            dns,
        };
        Ok((clean, warnings))
    }
}

#[cfg(test)]
#[path = "lease_tests.rs"]
mod tests;
