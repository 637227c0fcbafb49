//! The TFTP read client (RFC 1350, octet mode) with options (RFC 2347 blksize/tsize/timeout,
//! RFC 2348, RFC 2349, RFC 7440 windowsize, and tftpd-hpa's `utimeout`), as a sans-IO state
//! machine: datagrams and time in, datagrams, events and the bytes (into a [`Sink`]) out.
//!
//! # The caller's contract
//! 1. [`TftpClient::new`] queues the RRQ (to the server's port 69).
//! 2. Loop until [`TftpClient::outcome`] is `Some`:
//!    - send everything [`TftpClient::transmit`] gives, from one local UDP port;
//!    - feed every datagram that arrives on that port to [`TftpClient::on_datagram`];
//!    - call [`TftpClient::poll`] at least by [`TftpClient::poll_at`] (retransmission,
//!      giving up).
//! 3. After the outcome, send what `transmit` still gives (the last ACK, an ERROR).
//!
//! Events report what the console shows: negotiated options, each stored block
//! ([`Event::Progress`]) and the Table 11-2 codes ([`Event::Trace`]).
//!
//! # Rules kept (each one host-tested below)
//! - The server's IP and port (its TID) are locked from the first reply; a datagram from
//!   another host gets `<3>`, from another port of the server `<7>`, every one of them, and the
//!   transfer goes on.
//! - A stray sender may get ERROR 5, but the client is no reflector: at most
//!   [`STRAY_ERROR_BURST`] in a burst and one per [`STRAY_ERROR_EVERY`] after that, whoever
//!   the strays claim to be. An ERROR 5 waits in a slot of its own and leaves after everything
//!   queued for the server, so no flood can push out an RRQ or an ACK.
//! - Retransmission is driven by our timer only (exponential backoff from `timeout`), never
//!   by a duplicate, so no Sorcerer's Apprentice. A duplicate of the block we last ACKed is
//!   ACKed again (the server missed our ACK); other duplicates are ignored (`<11>`).
//! - The first block shorter than blksize is the last (an exact multiple ends with an empty
//!   block). Block numbers roll over after 65535 to 0 or to 1; the client learns which.
//! - No byte is stored outside the sink: tsize is checked against its capacity before the
//!   first byte, and every block is checked before it is written.
//!
//! # Multicast (RFC 2090, as atftpd serves it; in `client/multicast.rs`)
//! With [`ClientConfig::multicast`] the RRQ also asks for `multicast` (only ever next to the
//! other options: the fallback RRQ without options does not carry it). When the OACK grants
//! it (`multicast addr,port,mc`), [`TftpClient::multicast_group`] names the group, and the
//! caller joins it and hands the client the group's DATA *as if sent to its own port*: the
//! client has no second entry point, everything goes through [`TftpClient::on_datagram`]
//! and is held to the same server and TID checks. (The session does this by rewriting, below
//! smoltcp, the datagrams from the server's TID to the group into datagrams to the transfer's
//! port, [`group_to_unicast`](crate::net::trace::group_to_unicast); anything else sent to the
//! group is dropped there, never answered.)
//!
//! Blocks are then stored wherever they fall, and a bitmap ([`MAX_MULTICAST_BLOCKS`] blocks,
//! the most a 16-bit block number without rollover can name) records which are held. Only
//! the master client (mc=1) ACKs: the block before its first missing one, so the server goes
//! on from there. A client that is not master sends nothing; the server makes it master by a
//! later OACK with mc=1, and it then asks for its gaps the same way (or ACKs the last block
//! when it has them all). A complete client that is never made master ends after `give_up`
//! with the file; one still missing blocks gives up after [`TURN_PATIENCE`] × `give_up`.
//! An OACK without `multicast` is a plain unicast transfer.
use core::fmt;
use core::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::time::{Duration, Instant};

mod multicast;

use super::code::TraceCode;
use super::wire::{self, error_code, Options, ParseError, Repr};
use multicast::{parse_multicast, Blocks, Multicast};
pub use multicast::{MAX_MULTICAST_BLOCKS, TURN_PATIENCE};

/// The well-known TFTP port the RRQ goes to.
pub const TFTP_PORT: u16 = 69;
/// RFC 1350 block size, used when the server ignores options.
pub const DEFAULT_BLKSIZE: u16 = 512;
/// RFC 2348 limits.
pub const MIN_BLKSIZE: u16 = 8;
pub const MAX_BLKSIZE: u16 = 65464;
/// Longest file name we send.
pub const MAX_FILE_LEN: usize = 255;
/// Retransmission timeouts never grow beyond this.
const MAX_RTO: Duration = Duration::from_secs(4);
/// A large blksize that gets no DATA after this many retransmissions is given up for 512.
const BLKSIZE_RETRIES: u32 = 3;
/// A gap in a window is reported (ACK of the last block in order) this long after it is
/// seen: servers such as atftpd ignore an ACK that arrives while they are still sending the
/// window, and accept it once they wait.
const GAP_ACK_DELAY: Duration = Duration::from_millis(10);
/// Largest datagram the client emits: RRQ with name and options, or an ERROR.
const TX_BUF: usize = 2 + MAX_FILE_LEN + 1 + 6 + 96;
/// Datagrams for the server waiting to be sent.
const TX_QUEUE: usize = 4;
/// ERROR 5s to stray senders the client may send at once, after a quiet spell.
pub const STRAY_ERROR_BURST: u8 = 4;
/// One more ERROR 5 to a stray sender is allowed per this much time (4 per second).
pub const STRAY_ERROR_EVERY: Duration = Duration::from_millis(250);
/// What to ask for.
#[derive(Debug, Clone, Copy)]
pub struct ClientConfig<'a> {
    pub server: Ipv4Addr,
    pub file: &'a str,
    /// Block size to ask for; 512 sends no blksize option.
    pub blksize: u16,
    /// Window to ask for (RFC 7440); 1 sends no windowsize option.
    pub windowsize: u16,
    /// First retransmission timeout (doubles up to 4 s).
    pub timeout: Duration,
    /// With no progress for this long the transfer fails with code -1.
    pub give_up: Duration,
    /// Ask the server for the file size (RFC 2349) so it can be refused before a byte lands.
    pub request_tsize: bool,
    /// RFC 2349 `timeout` (whole seconds): the server's retransmission timer. atftpd's is 5 s
    /// otherwise, and in a windowed or multicast transfer it ignores a repeated ACK, so a
    /// window whose first block is lost waits for it (and a departed master costs 6 of them).
    pub server_timeout_s: Option<u8>,
    /// tftpd-hpa's `utimeout` (µs): its own retransmission timer, when it accepts it (asked
    /// after `timeout`, so it wins there).
    pub utimeout_us: Option<u32>,
    /// Ask for RFC 2090 multicast (the server decides whether to grant it).
    pub multicast: bool,
}

/// The place the received bytes go.
pub trait Sink {
    /// Bytes it can hold.
    fn capacity(&self) -> u64;
    /// Stores `data` at `offset`; the client has checked it fits in `capacity`.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), SinkFull>;
}

/// A [`Sink`] refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkFull;

impl Sink for [u8] {
    fn capacity(&self) -> u64 {
        self.len() as u64
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), SinkFull> {
        let start = usize::try_from(offset).map_err(|_| SinkFull)?;
        let end = start.checked_add(data.len()).ok_or(SinkFull)?;
        self.get_mut(start..end)
            .ok_or(SinkFull)?
            .copy_from_slice(data);
        Ok(())
    }
}

/// What happened, for the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The server accepted options (OACK).
    Negotiated {
        blksize: u16,
        windowsize: u16,
        tsize: Option<u64>,
        /// The group and whether this unit is the master client.
        multicast: Option<(SocketAddrV4, bool)>,
    },
    /// The server made this unit the master client of the multicast transfer.
    Master,
    /// The server answered with DATA: plain RFC 1350, 512-byte blocks.
    OptionsIgnored,
    /// The server or the path refused the options: asking again without them.
    Fallback,
    /// A Table 11-2 code or `T`.
    Trace(TraceCode),
    /// A block was stored; `bytes` received so far.
    Progress { bytes: u64 },
}

/// Longest server message kept.
pub const MAX_MESSAGE: usize = 64;

/// Why a transfer ended without the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TftpError {
    /// No progress for `give_up` (code -1).
    Timeout { server: Ipv4Addr, seconds: u64 },
    /// ERROR 1 (code -10).
    FileNotFound {
        server: Ipv4Addr,
        message: heapless::String<MAX_MESSAGE>,
    },
    /// Any other ERROR from the server (code 10).
    Server {
        code: u16,
        message: heapless::String<MAX_MESSAGE>,
    },
    /// An opcode the client does not expect from the server (code 9).
    UnexpectedOpcode(u16),
    /// The file does not fit in the buffer (tsize or the data itself).
    TooLarge { size: u64, capacity: u64 },
    /// The server's OACK was unusable; ERROR 8 was sent.
    BadOack(&'static str),
    /// A DATA block longer than the block size in force (negotiated, or RFC 1350's 512
    /// when the server sent no OACK); ERROR 4 was sent.
    BlockTooLarge(usize),
    /// The server sent a different number of bytes than its tsize said.
    SizeMismatch { tsize: u64, received: u64 },
    /// The operator pressed ESC or sent BREAK.
    Aborted,
}

impl TftpError {
    /// The Table 11-2 code this failure shows as.
    pub fn code(&self) -> Option<TraceCode> {
        match self {
            TftpError::Timeout { .. } => Some(TraceCode::Timeout),
            TftpError::FileNotFound { .. } => Some(TraceCode::FileNotFound),
            TftpError::Server { .. }
            | TftpError::TooLarge { .. }
            | TftpError::BadOack(_)
            | TftpError::BlockTooLarge(_)
            | TftpError::SizeMismatch { .. } => Some(TraceCode::TransferError),
            TftpError::UnexpectedOpcode(_) => Some(TraceCode::UnexpectedOpcode),
            TftpError::Aborted => None,
        }
    }
}

fn to_message(s: &str) -> heapless::String<MAX_MESSAGE> {
    let mut m = heapless::String::new();
    for c in s.chars() {
        if m.push(c).is_err() {
            break;
        }
    }
    m
}

impl fmt::Display for TftpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TftpError::Timeout { server, seconds } => write!(
                f,
                "no answer from {server} for {seconds} s (-1); check the server, address and gateway"
            ),
            TftpError::FileNotFound { server, message } => write!(
                f,
                "file not found on {server} (-10): '{message}'. Check the spelling of the file name and that the TFTP server may read it (on UNIX it must be world readable)"
            ),
            TftpError::Server { code, message } => {
                write!(f, "the server ended the transfer (10): error {code} '{message}'")
            }
            TftpError::UnexpectedOpcode(op) => {
                write!(f, "unexpected TFTP opcode {op} from the server (9)")
            }
            TftpError::TooLarge { size, capacity } => write!(
                f,
                "the file ({size} bytes) is larger than the download buffer ({capacity} bytes) (10); nothing beyond the buffer was written"
            ),
            TftpError::BadOack(why) => {
                write!(f, "the server's option acknowledgement is unusable (10): {why}")
            }
            TftpError::BlockTooLarge(len) => {
                write!(f, "the server sent a {len}-byte block, over the block size (10)")
            }
            TftpError::SizeMismatch { tsize, received } => write!(
                f,
                "the server announced {tsize} bytes but sent {received} (10)"
            ),
            TftpError::Aborted => f.write_str("aborted by the operator"),
        }
    }
}

#[derive(Clone, Copy)]
struct Datagram {
    to: SocketAddrV4,
    len: usize,
    buf: [u8; TX_BUF],
}

impl Datagram {
    fn new(to: SocketAddrV4, repr: &Repr<'_>) -> Option<Datagram> {
        let mut d = Datagram {
            to,
            len: 0,
            buf: [0; TX_BUF],
        };
        d.len = repr.emit(&mut d.buf)?;
        Some(d)
    }
}

/// A token bucket for ERROR 5s to stray senders: one token per [`STRAY_ERROR_EVERY`], at
/// most [`STRAY_ERROR_BURST`] kept. Global, not per sender: a flood with forged sources
/// must not buy itself more answers.
#[derive(Debug, Clone, Copy)]
struct StrayBudget {
    tokens: u8,
    /// When the last token was earned (or the bucket was last seen full).
    since: Instant,
}

impl StrayBudget {
    fn new(now: Instant) -> Self {
        StrayBudget {
            tokens: STRAY_ERROR_BURST,
            since: now,
        }
    }

    /// Takes a token if there is one at `now`.
    fn take(&mut self, now: Instant) -> bool {
        if now > self.since {
            let every = STRAY_ERROR_EVERY.total_micros().max(1);
            let earned = (now - self.since).total_micros() / every;
            let room = u64::from(STRAY_ERROR_BURST - self.tokens);
            if earned >= room {
                self.tokens = STRAY_ERROR_BURST;
                self.since = now;
            } else if earned > 0 {
                // earned < room <= STRAY_ERROR_BURST: both fit in a u8/u32.
                self.tokens += earned as u8;
                self.since += STRAY_ERROR_EVERY * earned as u32;
            }
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrap {
    /// Not yet past block 65535.
    Unknown,
    /// 65535 → 0 (most servers).
    ToZero,
    /// 65535 → 1.
    ToOne,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// RRQ sent, waiting for OACK, DATA or ERROR.
    Requesting,
    Transferring,
    Done(u64),
    Failed(TftpError),
}

/// One download; see the module docs.
pub struct TftpClient {
    server: Ipv4Addr,
    file: heapless::String<MAX_FILE_LEN>,
    want_windowsize: u16,
    want_tsize: bool,
    server_timeout_s: Option<u8>,
    utimeout_us: Option<u32>,
    want_multicast: bool,
    mc: Option<Multicast>,
    have: Blocks,
    /// The current RRQ carries options (cleared by a fallback).
    with_options: bool,
    /// blksize the current RRQ asks for.
    ask_blksize: u16,
    fallbacks: u8,
    state: State,
    /// The server's port, once locked.
    tid: Option<u16>,
    blksize: u16,
    windowsize: u16,
    tsize: Option<u64>,
    /// Absolute number (from 1) of the next block wanted.
    next: u64,
    /// Absolute number of the block last ACKed (0 = the OACK).
    acked: u64,
    /// In-order blocks since the last ACK.
    in_window: u16,
    /// The gap at `next` was already reported (or is about to be, at `gap_at`).
    gap_acked: bool,
    gap_at: Option<Instant>,
    wrap: Wrap,
    received: u64,
    base_rto: Duration,
    rto: Duration,
    deadline: Instant,
    last_progress: Instant,
    give_up: Duration,
    /// Retransmissions since the last progress.
    retries: u32,
    /// What the timer resends: the RRQ or the last ACK.
    last: Option<Datagram>,
    queue: heapless::Deque<Datagram, TX_QUEUE>,
    /// The one ERROR 5 to a stray sender waiting to go, after the queue.
    stray_error: Option<Datagram>,
    stray_budget: StrayBudget,
    sending: Option<Datagram>,
}

impl TftpClient {
    /// Starts a download: the RRQ is queued.
    pub fn new(cfg: &ClientConfig<'_>, now: Instant) -> Self {
        let mut file = heapless::String::new();
        for c in cfg.file.chars().take(MAX_FILE_LEN) {
            let _ = file.push(c);
        }
        let base_rto = if cfg.timeout.total_millis() == 0 {
            Duration::from_millis(500)
        } else {
            cfg.timeout
        };
        let ask_blksize = cfg.blksize.clamp(MIN_BLKSIZE, MAX_BLKSIZE);
        let mut c = TftpClient {
            server: cfg.server,
            file,
            want_windowsize: cfg.windowsize.max(1),
            want_tsize: cfg.request_tsize,
            server_timeout_s: cfg.server_timeout_s,
            utimeout_us: cfg.utimeout_us,
            want_multicast: cfg.multicast,
            mc: None,
            have: Blocks::new(),
            with_options: true,
            ask_blksize,
            fallbacks: 0,
            state: State::Requesting,
            tid: None,
            blksize: DEFAULT_BLKSIZE,
            windowsize: 1,
            tsize: None,
            next: 1,
            acked: 0,
            in_window: 0,
            gap_acked: false,
            gap_at: None,
            wrap: Wrap::Unknown,
            received: 0,
            base_rto,
            rto: base_rto,
            deadline: now + base_rto,
            last_progress: now,
            give_up: cfg.give_up,
            retries: 0,
            last: None,
            queue: heapless::Deque::new(),
            stray_error: None,
            stray_budget: StrayBudget::new(now),
            sending: None,
        };
        c.send_request(now);
        c
    }

    fn options(&self) -> Options<'static> {
        let mut o = Options::new();
        if !self.with_options {
            return o;
        }
        if self.ask_blksize != DEFAULT_BLKSIZE {
            o.push("blksize", u64::from(self.ask_blksize));
        }
        if self.want_tsize {
            o.push("tsize", 0);
        }
        if self.want_windowsize > 1 {
            o.push("windowsize", u64::from(self.want_windowsize));
        }
        if let Some(t) = self.server_timeout_s {
            o.push("timeout", u64::from(t));
        }
        if let Some(us) = self.utimeout_us {
            o.push("utimeout", u64::from(us));
        }
        if self.want_multicast {
            o.push_text("multicast", "");
        }
        o
    }

    fn send_request(&mut self, now: Instant) {
        let opts = self.options();
        let repr = Repr::Request {
            write: false,
            filename: &self.file,
            mode: "octet",
            options: opts,
        };
        let to = SocketAddrV4::new(self.server, TFTP_PORT);
        let d = Datagram::new(to, &repr);
        drop(repr);
        self.last = d;
        self.tid = None;
        self.send_last(now);
    }

    /// Queues `last` and arms the timer.
    fn send_last(&mut self, now: Instant) {
        if let Some(d) = self.last {
            self.push(d);
        }
        self.deadline = now + self.rto;
    }

    fn push(&mut self, d: Datagram) {
        if self.queue.is_full() {
            let _ = self.queue.pop_front();
        }
        let _ = self.queue.push_back(d);
    }

    /// The server's address and TID, once locked.
    pub fn server_addr(&self) -> Option<SocketAddrV4> {
        self.tid.map(|p| SocketAddrV4::new(self.server, p))
    }

    fn send_error(&mut self, to: SocketAddrV4, code: u16, msg: &str) {
        if let Some(d) = Datagram::new(to, &Repr::Error { code, message: msg }) {
            self.push(d);
        }
    }

    /// ERROR 5 to a datagram that is not from the server's TID, if the slot is free and the
    /// budget allows: it never takes the place of anything queued for the server.
    fn answer_stray(&mut self, now: Instant, to: SocketAddrV4) {
        if self.stray_error.is_some() || !self.stray_budget.take(now) {
            return;
        }
        let repr = Repr::Error {
            code: error_code::UNKNOWN_TID,
            message: "Unknown transfer ID",
        };
        self.stray_error = Datagram::new(to, &repr);
    }

    fn ack(&mut self, now: Instant, block: u64) {
        let Some(to) = self.server_addr() else { return };
        let wire = self.wire_block(block);
        self.last = Datagram::new(to, &Repr::Ack { block: wire });
        self.acked = block;
        self.in_window = 0;
        self.send_last(now);
    }

    fn fail(&mut self, e: TftpError) {
        self.last = None;
        self.state = State::Failed(e);
    }

    /// The wire block number of absolute block `n`.
    fn wire_block(&self, n: u64) -> u16 {
        match self.wrap {
            Wrap::ToOne if n > 0 => ((n - 1) % 65535 + 1) as u16,
            _ => (n % 65536) as u16,
        }
    }

    /// The absolute block a wire number stands for: the one nearest `next`.
    fn absolute(&mut self, w: u16) -> Option<u64> {
        if self.wrap == Wrap::Unknown && self.next >= 65536 {
            // The first block past 65535 tells how this server wraps. A 1 is only taken as
            // "wraps to 1" when it is the block we wait for: with a window, a 1 could also be
            // block 65537 of a wrap-to-0 server whose 65536 (a 0) was lost.
            if w == 0 {
                self.wrap = Wrap::ToZero;
            } else if w == 1 && self.next == 65536 && self.in_window == 0 {
                self.wrap = Wrap::ToOne;
            } else if w < 0x8000 {
                return None;
            }
        }
        let (period, base) = match self.wrap {
            Wrap::ToOne => (65535u64, 1u64),
            _ => (65536, 0),
        };
        if self.wrap == Wrap::ToOne && w == 0 {
            return None;
        }
        let w = u64::from(w) - base;
        let n0 = self.next.saturating_sub(base);
        // Candidates w + k·period around next; choose the nearest.
        let k = n0 / period;
        let best = [k.checked_sub(1), Some(k), k.checked_add(1)]
            .into_iter()
            .flatten()
            .map(|k| k * period + w)
            .min_by_key(|&c| c.abs_diff(n0))?;
        Some(best + base)
    }

    /// A datagram arrived on our port from `from`.
    pub fn on_datagram(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        payload: &[u8],
        sink: &mut (impl Sink + ?Sized),
        ev: &mut impl FnMut(Event),
    ) {
        if !matches!(self.state, State::Requesting | State::Transferring) {
            return;
        }
        if *from.ip() != self.server {
            ev(Event::Trace(TraceCode::NotFromServer));
            return self.answer_stray(now, from);
        }
        if let Some(tid) = self.tid {
            if from.port() != tid {
                ev(Event::Trace(TraceCode::WrongPorts));
                return self.answer_stray(now, from);
            }
        }
        let repr = match wire::parse(payload) {
            Ok(r) => r,
            Err(ParseError::Wire(wire::WireError::Truncated)) => {
                ev(Event::Trace(TraceCode::ShortPacket));
                return;
            }
            Err(ParseError::Wire(_)) => {
                // A malformed OACK: refuse it like an out-of-range one.
                if self.state == State::Requesting && payload.get(..2) == Some(&[0, 6]) {
                    self.tid = Some(from.port());
                    return self.refuse_oack(ev, "malformed option list");
                }
                ev(Event::Trace(TraceCode::ShortPacket));
                return;
            }
            Err(ParseError::UnknownOpcode(op)) => {
                ev(Event::Trace(TraceCode::UnexpectedOpcode));
                self.send_error(
                    from,
                    error_code::ILLEGAL_OPERATION,
                    "Illegal TFTP operation",
                );
                return self.fail(TftpError::UnexpectedOpcode(op));
            }
        };
        let requesting = self.state == State::Requesting;
        match repr {
            Repr::Error { code, message } => {
                if requesting
                    && code == error_code::OPTION_REFUSED
                    && self.with_options
                    && self.fallbacks < 2
                {
                    ev(Event::Fallback);
                    self.fallbacks += 1;
                    self.with_options = false;
                    self.rto = self.base_rto;
                    return self.send_request(now);
                }
                if code == error_code::FILE_NOT_FOUND {
                    ev(Event::Trace(TraceCode::FileNotFound));
                    self.fail(TftpError::FileNotFound {
                        server: self.server,
                        message: to_message(message_or(message, "File not found")),
                    });
                } else {
                    ev(Event::Trace(TraceCode::TransferError));
                    self.fail(TftpError::Server {
                        code,
                        message: to_message(message),
                    });
                }
            }
            Repr::Oack { options } if requesting => {
                self.tid = Some(from.port());
                self.on_oack(now, &options, sink, ev);
            }
            Repr::Oack { options } if self.mc.is_some() => self.on_mc_oack(now, &options, ev),
            Repr::Data { block, data } if self.mc.is_some() => {
                self.on_mc_data(now, block, data, sink, ev)
            }
            // Our ACK 0 was lost and the server repeats its OACK.
            Repr::Oack { .. } if self.next == 1 && self.acked == 0 => self.ack(now, 0),
            Repr::Data { block, data } => {
                if requesting {
                    self.tid = Some(from.port());
                    if self.with_options && !self.options().is_empty() {
                        ev(Event::OptionsIgnored);
                    }
                    self.blksize = DEFAULT_BLKSIZE;
                    self.windowsize = 1;
                    self.state = State::Transferring;
                }
                self.on_data(now, block, data, sink, ev)
            }
            Repr::Request { write, .. } => self.unexpected(from, if write { 2 } else { 1 }, ev),
            Repr::Ack { .. } => self.unexpected(from, 4, ev),
            Repr::Oack { .. } => self.unexpected(from, 6, ev),
        }
    }

    fn unexpected(&mut self, from: SocketAddrV4, op: u16, ev: &mut impl FnMut(Event)) {
        ev(Event::Trace(TraceCode::UnexpectedOpcode));
        self.send_error(
            from,
            error_code::ILLEGAL_OPERATION,
            "Illegal TFTP operation",
        );
        self.fail(TftpError::UnexpectedOpcode(op));
    }

    /// A DATA block longer than the block size: ERROR 4 to the server, and the end.
    fn block_too_large(&mut self, len: usize, ev: &mut impl FnMut(Event)) {
        if let Some(to) = self.server_addr() {
            self.send_error(
                to,
                error_code::ILLEGAL_OPERATION,
                "Block larger than blksize",
            );
        }
        ev(Event::Trace(TraceCode::TransferError));
        self.fail(TftpError::BlockTooLarge(len));
    }

    fn refuse_oack(&mut self, ev: &mut impl FnMut(Event), why: &'static str) {
        if let Some(to) = self.server_addr() {
            self.send_error(to, error_code::OPTION_REFUSED, "Option negotiation refused");
        }
        ev(Event::Trace(TraceCode::TransferError));
        self.fail(TftpError::BadOack(why));
    }

    fn on_oack(
        &mut self,
        now: Instant,
        o: &Options<'_>,
        sink: &(impl Sink + ?Sized),
        ev: &mut impl FnMut(Event),
    ) {
        let asked = self.options();
        if o.non_numeric().any(|n| asked.get_text(n).is_none()) {
            return self.refuse_oack(ev, "an option value is not a number");
        }
        for (name, _) in o.iter() {
            if asked.get(name).is_none() {
                return self.refuse_oack(ev, "an option we did not ask for");
            }
        }
        let mut blksize = DEFAULT_BLKSIZE;
        if let Some(b) = o.get("blksize") {
            if b < u64::from(MIN_BLKSIZE) || b > u64::from(self.ask_blksize) {
                return self.refuse_oack(ev, "blksize out of range");
            }
            blksize = b as u16;
        }
        let mut windowsize = 1;
        if let Some(w) = o.get("windowsize") {
            if w == 0 || w > u64::from(self.want_windowsize) {
                return self.refuse_oack(ev, "windowsize out of range");
            }
            windowsize = w as u16;
        }
        if let Some(t) = o.get("timeout") {
            if !(1..=255).contains(&t) {
                return self.refuse_oack(ev, "timeout out of range");
            }
        }
        self.tsize = o.get("tsize");
        let mut multicast = None;
        if asked.get_text("multicast").is_some() {
            let granted = match (o.get("multicast"), o.get_text("multicast")) {
                (None, None) => None,
                (None, Some(v)) => match parse_multicast(v) {
                    Some((Some(group), master)) => Some((group, master)),
                    _ => return self.refuse_oack(ev, "multicast address, port or flag unusable"),
                },
                _ => return self.refuse_oack(ev, "multicast address, port or flag unusable"),
            };
            if let (Some(_), Some(t)) = (granted, self.tsize) {
                if t / u64::from(blksize) >= MAX_MULTICAST_BLOCKS {
                    return self.refuse_oack(ev, "more than 65535 multicast blocks");
                }
            }
            multicast = granted;
        }
        ev(Event::Negotiated {
            blksize,
            windowsize,
            tsize: self.tsize,
            multicast,
        });
        if let Some(size) = self.tsize {
            if size > sink.capacity() {
                if let Some(to) = self.server_addr() {
                    self.send_error(to, error_code::DISK_FULL, "File too large for the buffer");
                }
                ev(Event::Trace(TraceCode::TransferError));
                return self.fail(TftpError::TooLarge {
                    size,
                    capacity: sink.capacity(),
                });
            }
        }
        self.blksize = blksize;
        self.windowsize = windowsize;
        self.state = State::Transferring;
        self.progress(now);
        if let Some((group, master)) = multicast {
            self.mc = Some(Multicast {
                group,
                master,
                lockstep: false,
                last: None,
                len: 0,
            });
            if !master {
                return;
            }
        }
        self.ack(now, 0);
    }

    fn progress(&mut self, now: Instant) {
        self.last_progress = now;
        self.retries = 0;
        self.rto = self.base_rto;
    }

    fn on_data(
        &mut self,
        now: Instant,
        wire_block: u16,
        data: &[u8],
        sink: &mut (impl Sink + ?Sized),
        ev: &mut impl FnMut(Event),
    ) {
        let Some(n) = self.absolute(wire_block) else {
            ev(Event::Trace(TraceCode::OutOfSequence));
            return;
        };
        if n != self.next {
            ev(Event::Trace(TraceCode::OutOfSequence));
            if n < self.next {
                // A repeat. The server resends the block we last ACKed when our ACK got lost.
                if n == self.acked {
                    self.ack(now, self.acked);
                }
            } else if !self.gap_acked {
                // A block is missing (windowed transfer): tell the server where we are,
                // once it has finished sending this window.
                self.gap_acked = true;
                self.gap_at = Some(now + GAP_ACK_DELAY);
            }
            return;
        }
        if data.len() > usize::from(self.blksize) {
            return self.block_too_large(data.len(), ev);
        }
        let offset = (n - 1) * u64::from(self.blksize);
        let end = offset + data.len() as u64;
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
        self.received = end;
        self.next += 1;
        self.in_window += 1;
        self.gap_acked = false;
        self.gap_at = None;
        self.progress(now);
        ev(Event::Progress { bytes: end });
        let last = data.len() < usize::from(self.blksize);
        if last || self.in_window >= self.windowsize {
            self.ack(now, n);
        } else {
            self.deadline = now + self.rto;
        }
        if last {
            self.last = None;
            match self.tsize {
                Some(t) if t != end => self.fail(TftpError::SizeMismatch {
                    tsize: t,
                    received: end,
                }),
                _ => self.state = State::Done(end),
            }
        }
    }

    /// Time passes: retransmits on timeout, gives up after `give_up` without progress.
    pub fn poll(&mut self, now: Instant, ev: &mut impl FnMut(Event)) {
        if !matches!(self.state, State::Requesting | State::Transferring) {
            return;
        }
        let mc = self.mc;
        let waiting = mc.is_some_and(|m| !m.master);
        let quiet = now - self.last_progress;
        if quiet >= self.give_up {
            if let Some(m) = mc.filter(|m| m.last.is_some_and(|l| self.next > l)) {
                // Whole, but never made master: the file is here all the same.
                self.received = m.len;
                self.state = State::Done(m.len);
                return;
            }
        }
        if quiet
            >= if waiting {
                self.give_up * TURN_PATIENCE
            } else {
                self.give_up
            }
        {
            ev(Event::Trace(TraceCode::Timeout));
            return self.fail(TftpError::Timeout {
                server: self.server,
                seconds: quiet.secs(),
            });
        }
        if self.gap_at.is_some_and(|t| now >= t) {
            self.gap_at = None;
            self.ack(now, self.next - 1);
            return;
        }
        if now < self.deadline {
            return;
        }
        if waiting {
            // Not the master: nothing to say until the server makes us one.
            self.deadline = now + MAX_RTO;
            return;
        }
        ev(Event::Trace(TraceCode::Retransmit));
        self.retries += 1;
        self.rto = (self.rto * 2).min(MAX_RTO);
        // A large blksize that never brings DATA 1: the path may drop large datagrams.
        let stuck = self.state == State::Transferring && self.next == 1 && mc.is_none();
        if stuck
            && self.blksize > DEFAULT_BLKSIZE
            && self.retries >= BLKSIZE_RETRIES
            && self.fallbacks < 2
        {
            if let Some(to) = self.server_addr() {
                self.send_error(to, error_code::NOT_DEFINED, "Retrying with 512-byte blocks");
            }
            ev(Event::Fallback);
            self.fallbacks += 1;
            self.ask_blksize = DEFAULT_BLKSIZE;
            self.state = State::Requesting;
            self.retries = 0;
            return self.send_request(now);
        }
        if self.state == State::Transferring {
            // Re-ACK the last block in order (RFC 7440: also the way to restart a window).
            self.ack(now, self.next - 1);
        } else {
            self.send_last(now);
        }
    }

    /// The next datagram to send: call until `None`. Everything for the server comes before
    /// an ERROR 5 to a stray sender.
    pub fn transmit(&mut self) -> Option<(SocketAddrV4, &[u8])> {
        self.sending = self.queue.pop_front().or_else(|| self.stray_error.take());
        self.sending.as_ref().map(|d| (d.to, &d.buf[..d.len]))
    }

    /// When [`poll`](Self::poll) next has work (none once finished).
    pub fn poll_at(&self) -> Option<Instant> {
        match self.state {
            State::Requesting | State::Transferring => {
                let t = self.deadline.min(self.last_progress + self.give_up);
                Some(self.gap_at.map_or(t, |g| g.min(t)))
            }
            _ => None,
        }
    }

    /// The operator gave up: tell the server (if it is known) and stop.
    pub fn abort(&mut self) {
        if !matches!(self.state, State::Requesting | State::Transferring) {
            return;
        }
        if let Some(to) = self.server_addr() {
            self.send_error(to, error_code::NOT_DEFINED, "Aborted by the operator");
        }
        self.fail(TftpError::Aborted);
    }

    /// `Some` once the transfer has ended: the file's length, or why not.
    pub fn outcome(&self) -> Option<Result<u64, TftpError>> {
        match &self.state {
            State::Done(n) => Some(Ok(*n)),
            State::Failed(e) => Some(Err(e.clone())),
            _ => None,
        }
    }

    /// Bytes stored so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The block size in use (512 until an OACK says otherwise).
    pub fn blksize(&self) -> u16 {
        self.blksize
    }

    /// The window in use (1 unless an OACK says otherwise).
    pub fn windowsize(&self) -> u16 {
        self.windowsize
    }
}

fn message_or<'a>(m: &'a str, default: &'a str) -> &'a str {
    if m.is_empty() {
        default
    } else {
        m
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
