//! Accounting for the monitor's `ping` (the loop that sends and receives is
//! [`crate::net::session::ping`]): which echo to send next, which ones
//! were answered or timed out, and the lines the PIX prints about them.
//!
//! Owns no socket and reads no clock: the caller sends and receives the ICMP
//! packets and passes the time in (microseconds, from any fixed origin), so
//! tests can step time by hand. Echoes go out one at a time, as on the PIX: the
//! next is sent only after the previous one was answered or timed out.
//!
//! A caller's loop looks like this:
//! ```text
//! session.write_banner(out)
//! until session.is_finished():
//!     if let Some(seq) = session.next_to_send(now): send echo (session.identifier(), seq)
//!     for each echo reply received: session.on_reply(reply.seq, now)
//!     while let Some(event) = session.poll(now): print event.symbol()
//! print "\r\n"; session.write_summary(out)
//! ```
#![forbid(unsafe_code)]

use core::fmt::{self, Write};
use core::net::Ipv4Addr;

/// Echoes sent per `ping`.
pub const ECHO_COUNT: usize = 5;
/// ICMP echo size the banner announces, in bytes.
pub const ECHO_SIZE: usize = 100;
/// How long each echo waits for its reply, in microseconds.
pub const ECHO_TIMEOUT_US: u64 = 4_000_000;

/// One echo's outcome, reported once by [`PingSession::poll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingEvent {
    /// Echo `seq` was answered after `rtt_us` microseconds.
    Reply { seq: u16, rtt_us: u64 },
    /// Echo `seq` got no answer within [`ECHO_TIMEOUT_US`].
    Timeout { seq: u16 },
}

impl PingEvent {
    /// The character the PIX prints for this outcome: `!` or `?`.
    pub const fn symbol(&self) -> char {
        match self {
            PingEvent::Reply { .. } => '!',
            PingEvent::Timeout { .. } => '?',
        }
    }
}

/// Round-trip times of the answered echoes, in microseconds. `Display` prints them the
/// IOS way, in whole milliseconds (rounded down); [`RoundTrip::micros`] keeps the detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundTrip {
    pub min_us: u64,
    pub avg_us: u64,
    pub max_us: u64,
    /// The middle one (the upper middle for an even count).
    pub median_us: u64,
}

impl RoundTrip {
    /// `round-trip min/avg/max/median = a/b/c/d us`.
    pub fn micros(&self) -> impl fmt::Display + '_ {
        struct Micros<'a>(&'a RoundTrip);
        impl fmt::Display for Micros<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let r = self.0;
                write!(
                    f,
                    "round-trip min/avg/max/median = {}/{}/{}/{} us",
                    r.min_us, r.avg_us, r.max_us, r.median_us
                )
            }
        }
        Micros(self)
    }
}

impl fmt::Display for RoundTrip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "round-trip min/avg/max = {}/{}/{} ms",
            self.min_us / 1000,
            self.avg_us / 1000,
            self.max_us / 1000
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EchoState {
    NotSent,
    Outstanding { sent_at_us: u64 },
    Replied { rtt_us: u64 },
    TimedOut,
}

/// The state of one `ping` run of [`ECHO_COUNT`] echoes; see the module docs.
#[derive(Debug, Clone)]
pub struct PingSession {
    target: Ipv4Addr,
    identifier: u16,
    echoes: [EchoState; ECHO_COUNT],
    /// Echoes handed out by `next_to_send`.
    sent: usize,
    /// Echoes whose outcome `poll` has reported; the one at this index is the
    /// one in flight, if any.
    reported: usize,
}

impl PingSession {
    /// A session pinging `target` with ICMP identifier `identifier`.
    pub const fn new(target: Ipv4Addr, identifier: u16) -> Self {
        PingSession {
            target,
            identifier,
            echoes: [EchoState::NotSent; ECHO_COUNT],
            sent: 0,
            reported: 0,
        }
    }

    /// The address being pinged.
    pub const fn target(&self) -> Ipv4Addr {
        self.target
    }

    /// The ICMP identifier to put in every echo request.
    pub const fn identifier(&self) -> u16 {
        self.identifier
    }

    /// The sequence number of the echo to send now, if one is due, and records
    /// it as sent at `now_us`. Returns `None` while an echo is in flight and
    /// after all have been sent.
    pub fn next_to_send(&mut self, now_us: u64) -> Option<u16> {
        if self.sent >= ECHO_COUNT || self.sent != self.reported {
            return None;
        }
        let seq = self.sent;
        self.echoes[seq] = EchoState::Outstanding { sent_at_us: now_us };
        self.sent += 1;
        u16::try_from(seq).ok()
    }

    /// Records an echo reply with sequence number `seq` received at `now_us`.
    /// Returns whether it counted: replies to echoes never sent, already
    /// answered, or already past their timeout are ignored.
    pub fn on_reply(&mut self, seq: u16, now_us: u64) -> bool {
        let Some(echo) = self.echoes.get_mut(usize::from(seq)) else {
            return false;
        };
        match *echo {
            EchoState::Outstanding { sent_at_us } => {
                let rtt_us = now_us.saturating_sub(sent_at_us);
                if rtt_us >= ECHO_TIMEOUT_US {
                    return false;
                }
                *echo = EchoState::Replied { rtt_us };
                true
            }
            _ => false,
        }
    }

    /// The outcome of the echo in flight, once it is known at `now_us`. Each
    /// echo's outcome is reported exactly once, in sequence order.
    pub fn poll(&mut self, now_us: u64) -> Option<PingEvent> {
        let index = self.reported;
        let seq = u16::try_from(index).ok()?;
        let echo = self.echoes.get_mut(index)?;
        let event = match *echo {
            EchoState::Replied { rtt_us } => PingEvent::Reply { seq, rtt_us },
            EchoState::Outstanding { sent_at_us }
                if now_us.saturating_sub(sent_at_us) >= ECHO_TIMEOUT_US =>
            {
                *echo = EchoState::TimedOut;
                PingEvent::Timeout { seq }
            }
            _ => return None,
        };
        self.reported += 1;
        Some(event)
    }

    /// All echoes have been sent and their outcomes reported.
    pub fn is_finished(&self) -> bool {
        self.reported >= ECHO_COUNT
    }

    /// How many echoes were answered in time.
    pub fn replies(&self) -> usize {
        self.echoes
            .iter()
            .filter(|echo| matches!(echo, EchoState::Replied { .. }))
            .count()
    }

    /// Percentage of the [`ECHO_COUNT`] echoes answered, rounded down.
    pub fn success_percent(&self) -> usize {
        self.replies() * 100 / ECHO_COUNT
    }

    /// Min/avg/max/median round trip of the answered echoes; `None` if none were.
    pub fn round_trip(&self) -> Option<RoundTrip> {
        let mut rtts = [0u64; ECHO_COUNT];
        let mut count = 0;
        for echo in &self.echoes {
            if let EchoState::Replied { rtt_us } = *echo {
                rtts[count] = rtt_us;
                count += 1;
            }
        }
        let rtts = &mut rtts[..count];
        rtts.sort_unstable();
        let total_us = rtts.iter().fold(0u64, |t, &r| t.saturating_add(r));
        Some(RoundTrip {
            min_us: *rtts.first()?,
            avg_us: total_us / count as u64,
            max_us: *rtts.last()?,
            median_us: rtts[count / 2],
        })
    }

    /// Writes the line the PIX prints before the first echo, with "\r\n".
    pub fn write_banner<W: Write + ?Sized>(&self, out: &mut W) -> fmt::Result {
        write!(
            out,
            "Sending {ECHO_COUNT}, {ECHO_SIZE}-byte 0x{:04x} ICMP Echoes to {}, timeout is {} seconds:\r\n",
            self.identifier,
            self.target,
            ECHO_TIMEOUT_US / 1_000_000
        )
    }

    /// Writes the success-rate line the PIX prints at the end, with "\r\n".
    /// The caller ends the line of `!`/`?` before it.
    pub fn write_summary<W: Write + ?Sized>(&self, out: &mut W) -> fmt::Result {
        write!(
            out,
            "Success rate is {} percent ({}/{ECHO_COUNT})\r\n",
            self.success_percent(),
            self.replies()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);
    const MS: u64 = 1000;

    /// Runs a whole session; `reply_after(seq)` says how long echo `seq`
    /// takes to be answered, or None for no answer. Returns the marks printed.
    fn run(session: &mut PingSession, reply_after: impl Fn(u16) -> Option<u64>) -> String {
        let mut marks = String::new();
        let mut now = 1_000_000;
        let mut pending: Option<(u16, u64)> = None;
        for _ in 0..100_000 {
            if session.is_finished() {
                break;
            }
            if let Some(seq) = session.next_to_send(now) {
                pending = reply_after(seq).map(|delay| (seq, now + delay));
            }
            if let Some((seq, at)) = pending {
                if now >= at {
                    assert!(session.on_reply(seq, now));
                    pending = None;
                }
            }
            while let Some(event) = session.poll(now) {
                marks.push(event.symbol());
            }
            now += MS;
        }
        assert!(session.is_finished());
        marks
    }

    #[test]
    fn banner_matches_the_pix() {
        let session = PingSession::new(TARGET, 0x5b8d);
        let mut out = String::new();
        session.write_banner(&mut out).unwrap();
        assert_eq!(
            out,
            "Sending 5, 100-byte 0x5b8d ICMP Echoes to 192.168.1.2, timeout is 4 seconds:\r\n"
        );
        let mut out = String::new();
        PingSession::new(TARGET, 0x000a)
            .write_banner(&mut out)
            .unwrap();
        assert!(out.contains(" 0x000a "), "{out}");
    }

    #[test]
    fn all_answered() {
        let mut session = PingSession::new(TARGET, 1);
        let marks = run(&mut session, |seq| Some((u64::from(seq) + 1) * 2 * MS));
        assert_eq!(marks, "!!!!!");
        let mut out = String::new();
        session.write_summary(&mut out).unwrap();
        assert_eq!(out, "Success rate is 100 percent (5/5)\r\n");
        let rtt = session.round_trip().unwrap();
        assert_eq!(
            rtt,
            RoundTrip {
                min_us: 2000,
                avg_us: 6000,
                max_us: 10000,
                median_us: 6000
            }
        );
        assert_eq!(rtt.to_string(), "round-trip min/avg/max = 2/6/10 ms");
        assert_eq!(
            rtt.micros().to_string(),
            "round-trip min/avg/max/median = 2000/6000/10000/6000 us"
        );
    }

    #[test]
    fn none_answered() {
        let mut session = PingSession::new(TARGET, 1);
        assert_eq!(run(&mut session, |_| None), "?????");
        let mut out = String::new();
        session.write_summary(&mut out).unwrap();
        assert_eq!(out, "Success rate is 0 percent (0/5)\r\n");
        assert_eq!(session.round_trip(), None);
    }

    #[test]
    fn some_answered() {
        let mut session = PingSession::new(TARGET, 1);
        let marks = run(&mut session, |seq| (seq % 2 == 0).then_some(MS));
        assert_eq!(marks, "!?!?!");
        assert_eq!(session.replies(), 3);
        assert_eq!(session.success_percent(), 60);
    }

    #[test]
    fn one_echo_in_flight_at_a_time() {
        let mut session = PingSession::new(TARGET, 1);
        assert_eq!(session.next_to_send(0), Some(0));
        assert_eq!(session.next_to_send(0), None);
        assert!(session.on_reply(0, 5 * MS));
        // Still none until the outcome was reported.
        assert_eq!(session.next_to_send(5 * MS), None);
        assert_eq!(
            session.poll(5 * MS),
            Some(PingEvent::Reply {
                seq: 0,
                rtt_us: 5 * MS
            })
        );
        assert_eq!(session.poll(5 * MS), None);
        assert_eq!(session.next_to_send(6 * MS), Some(1));
    }

    #[test]
    fn timeout_is_exactly_four_seconds() {
        let mut session = PingSession::new(TARGET, 1);
        assert_eq!(session.next_to_send(10), Some(0));
        assert_eq!(session.poll(10 + ECHO_TIMEOUT_US - 1), None);
        assert_eq!(
            session.poll(10 + ECHO_TIMEOUT_US),
            Some(PingEvent::Timeout { seq: 0 })
        );
    }

    #[test]
    fn late_duplicate_and_unknown_replies_do_not_count() {
        let mut session = PingSession::new(TARGET, 1);
        assert!(!session.on_reply(0, 0), "not sent yet");
        assert_eq!(session.next_to_send(0), Some(0));
        assert!(!session.on_reply(3, MS), "unknown sequence");
        assert!(!session.on_reply(u16::MAX, MS), "unknown sequence");
        assert!(session.on_reply(0, MS));
        assert!(!session.on_reply(0, 2 * MS), "duplicate");
        assert!(session.poll(2 * MS).is_some());
        assert!(!session.on_reply(0, 3 * MS), "duplicate after report");
        assert_eq!(session.next_to_send(3 * MS), Some(1));
        assert!(!session.on_reply(1, 3 * MS + ECHO_TIMEOUT_US), "too late");
        assert_eq!(
            session.poll(3 * MS + ECHO_TIMEOUT_US),
            Some(PingEvent::Timeout { seq: 1 })
        );
        assert!(
            !session.on_reply(1, 3 * MS + ECHO_TIMEOUT_US + 1),
            "after timeout"
        );
        assert_eq!(session.replies(), 1);
    }

    #[test]
    fn clock_going_backwards_does_not_panic() {
        let mut session = PingSession::new(TARGET, 1);
        assert_eq!(session.next_to_send(u64::MAX), Some(0));
        assert_eq!(session.poll(0), None);
        assert!(session.on_reply(0, 0));
        assert_eq!(
            session.poll(0),
            Some(PingEvent::Reply { seq: 0, rtt_us: 0 })
        );
    }

    #[test]
    fn finished_session_stays_quiet() {
        let mut session = PingSession::new(TARGET, 1);
        run(&mut session, |_| Some(MS));
        assert_eq!(session.next_to_send(u64::MAX), None);
        assert_eq!(session.poll(u64::MAX), None);
        assert!(!session.on_reply(4, u64::MAX));
        assert_eq!(session.replies(), 5);
    }
}
