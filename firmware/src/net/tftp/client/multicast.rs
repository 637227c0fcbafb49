//! RFC 2090 multicast for [`TftpClient`], as atftpd serves it: the grant in the OACK, blocks
//! stored wherever they fall (a bitmap of those held), and the master client's ACKs.
//!
//! The contract (how the group's DATA reaches [`TftpClient::on_datagram`]) is at the top of
//! [`client`](super).
use core::net::SocketAddrV4;

use smoltcp::time::Instant;

use super::{Event, Sink, State, TftpClient, TftpError, GAP_ACK_DELAY};
use crate::net::tftp::code::TraceCode;
use crate::net::tftp::wire::{error_code, Options};

/// Blocks a multicast transfer may have: RFC 2090 block numbers do not roll over.
pub const MAX_MULTICAST_BLOCKS: u64 = 65535;
/// A multicast unit still missing blocks while it waits for its turn as master waits this
/// many `give_up`s (60 s by default): atftpd gives a silent master 6 × 5 s before it turns
/// to the next client, and a master that has finished and left may still be on its list.
pub const TURN_PATIENCE: u32 = 3;

/// Which blocks of a multicast transfer are held (bit n: block n).
pub(super) struct Blocks([u32; (MAX_MULTICAST_BLOCKS as usize + 1) / 32]);

impl Blocks {
    /// None held.
    pub(super) const fn new() -> Self {
        Blocks([0; (MAX_MULTICAST_BLOCKS as usize + 1) / 32])
    }

    pub(super) fn has(&self, n: u64) -> bool {
        self.0
            .get((n / 32) as usize)
            .is_some_and(|w| w & (1 << (n % 32)) != 0)
    }

    pub(super) fn set(&mut self, n: u64) {
        if let Some(w) = self.0.get_mut((n / 32) as usize) {
            *w |= 1 << (n % 32);
        }
    }

    /// Whether a block after `n` is held.
    pub(super) fn any_after(&self, n: u64) -> bool {
        let i = ((n + 1) / 32) as usize;
        let head = self.0.get(i).map_or(0, |&w| w >> ((n + 1) % 32));
        head != 0 || self.0.iter().skip(i + 1).any(|&w| w != 0)
    }

    /// The first block from `n` on that is not held.
    pub(super) fn first_missing(&self, mut n: u64) -> u64 {
        while self.0.get((n / 32) as usize).is_some_and(|&w| w == !0) {
            n = (n | 31) + 1;
        }
        while self.has(n) {
            n += 1;
        }
        n
    }
}

/// A granted multicast transfer.
#[derive(Clone, Copy)]
pub(super) struct Multicast {
    pub(super) group: SocketAddrV4,
    pub(super) master: bool,
    /// The server is past its first pass and sends one block per ACK.
    pub(super) lockstep: bool,
    /// The last (short) block, once seen.
    pub(super) last: Option<u64>,
    /// The file's length, known with `last`.
    pub(super) len: u64,
}

/// `addr,port,mc` (RFC 2090); addr and port may be empty in a later OACK.
pub(super) fn parse_multicast(v: &str) -> Option<(Option<SocketAddrV4>, bool)> {
    let mut f = v.split(',');
    let (addr, port, mc) = (f.next()?, f.next()?, f.next()?);
    let master = match (f.next(), mc) {
        (None, "0") => false,
        (None, "1") => true,
        _ => return None,
    };
    if addr.is_empty() && port.is_empty() {
        return Some((None, master));
    }
    let ip = crate::settings::parse_ipv4(addr).ok()?;
    // 1 to 5 digits, no sign: what core's u16 parser would also take.
    let port = port.bytes().try_fold(0u32, |a, c| {
        (c.is_ascii_digit() && a <= 6553).then(|| a * 10 + u32::from(c - b'0'))
    })?;
    let port = u16::try_from(port).ok()?;
    // A group, not the all-hosts/routers block (224.0.0.0/24), on a real port.
    if !ip.is_multicast() || ip.octets()[..3] == [224, 0, 0] || port == 0 {
        return None;
    }
    Some((Some(SocketAddrV4::new(ip, port)), master))
}

impl TftpClient {
    /// A later OACK of a multicast transfer: mc=1 makes this unit the master client (or, when
    /// it is one, repeats the OACK whose ACK was lost). mc=0 never takes the role back:
    /// atftpd sends it to a master whose RRQ it got twice (a retransmitted RRQ), and a master
    /// that fell silent would leave the server waiting for an ACK that never comes. One
    /// naming another group, or unusable, changes nothing.
    pub(super) fn on_mc_oack(&mut self, now: Instant, o: &Options<'_>, ev: &mut impl FnMut(Event)) {
        let Some(mut mc) = self.mc else { return };
        let Some((group, master)) = o.get_text("multicast").and_then(parse_multicast) else {
            return ev(Event::Trace(TraceCode::OutOfSequence));
        };
        if group.is_some_and(|g| g != mc.group) {
            return ev(Event::Trace(TraceCode::OutOfSequence));
        }
        if master && !mc.master {
            ev(Event::Master);
            // The server has finished a pass (or given up on the last master): from now on
            // it sends one block per ACK.
            mc.lockstep = true;
        }
        mc.master |= master;
        self.mc = Some(mc);
        if master {
            self.progress(now);
            self.mc_ack(now);
        }
    }

    /// The master client tells the server where to go on: the block before the first one
    /// missing, or the last block when the file is whole (then the transfer is done).
    fn mc_ack(&mut self, now: Instant) {
        let Some(mc) = self.mc else { return };
        match mc.last {
            Some(last) if self.next > last => {
                self.ack(now, last);
                self.last = None;
                self.received = mc.len;
                self.state = State::Done(mc.len);
            }
            _ => self.ack(now, self.next - 1),
        }
    }

    /// A DATA block of a multicast transfer, from the group or unicast: stored wherever it
    /// falls in the file.
    pub(super) fn on_mc_data(
        &mut self,
        now: Instant,
        wire_block: u16,
        data: &[u8],
        sink: &mut (impl Sink + ?Sized),
        ev: &mut impl FnMut(Event),
    ) {
        let Some(mut mc) = self.mc else { return };
        let n = u64::from(wire_block);
        let blksize = u64::from(self.blksize);
        let short = data.len() < usize::from(self.blksize);
        if data.len() > usize::from(self.blksize) {
            return self.block_too_large(data.len(), ev);
        }
        if mc.master && !mc.lockstep {
            self.in_window += 1;
        }
        // Block 0 would be the 65536th: past what a multicast transfer can number.
        let beyond = n == 0 || mc.last.is_some_and(|l| n > l);
        if beyond || self.have.has(n) {
            ev(Event::Trace(TraceCode::OutOfSequence));
        } else {
            let offset = (n - 1) * blksize;
            let end = offset + data.len() as u64;
            // A short block is the last: no block after it may be held, and tsize must agree.
            let later = short && self.have.any_after(n);
            let bad_size = match self.tsize {
                Some(t) => end > t || (short && end != t),
                None => false,
            };
            if later || bad_size {
                if let Some(to) = self.server_addr() {
                    self.send_error(to, error_code::NOT_DEFINED, "Inconsistent file size");
                }
                ev(Event::Trace(TraceCode::TransferError));
                return self.fail(TftpError::SizeMismatch {
                    tsize: self.tsize.unwrap_or(end),
                    received: end,
                });
            }
            if end > sink.capacity() || sink.write_at(offset, data).is_err() {
                if let Some(to) = self.server_addr() {
                    self.send_error(to, error_code::DISK_FULL, "File too large for the buffer");
                }
                ev(Event::Trace(TraceCode::TransferError));
                return self.fail(TftpError::TooLarge {
                    size: end,
                    capacity: sink.capacity(),
                });
            }
            self.have.set(n);
            self.received += data.len() as u64;
            if short {
                mc.last = Some(n);
                mc.len = end;
                // Everything after it is past the file.
                self.mc = Some(mc);
            }
            self.progress(now);
            ev(Event::Progress {
                bytes: self.received,
            });
            if n == self.next {
                self.next = self.have.first_missing(n + 1);
                self.gap_acked = false;
                self.gap_at = None;
            } else if mc.master && !mc.lockstep && !self.gap_acked {
                // A block is missing: tell the server once this window has been sent.
                self.gap_acked = true;
                self.gap_at = Some(now + GAP_ACK_DELAY);
            }
        }
        if !mc.master {
            return;
        }
        let whole = mc.last.is_some_and(|l| self.next > l);
        if whole || mc.lockstep || self.in_window >= self.windowsize {
            self.mc_ack(now);
        } else {
            self.deadline = now + self.rto;
        }
    }

    /// The group and port a granted multicast transfer arrives on: the caller joins it.
    pub fn multicast_group(&self) -> Option<SocketAddrV4> {
        self.mc.map(|m| m.group)
    }
}
