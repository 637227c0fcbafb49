//! The receive window offered to the server: it grows with what the path delivers in a round
//! trip instead of being the whole receive ring (2 MiB) at once.
//!
//! A window larger than the path can hold (its bandwidth × delay plus the bottleneck's queue)
//! brings nothing but queueing, and once the sender's congestion window reaches it a burst
//! overflows a bounded queue: frames are tail-dropped and, with nothing after them to report
//! the hole, each costs the sender a timeout (`docs/benchmarks.md`, the bounded-queue rows).
//! As Linux's receive-buffer tuning does, the window follows what arrived in the last round
//! trip: twice that (plus [`FLOOR`]) on a path that is full, four times while the arrivals
//! still grow by half or more a round (slow start doubles each round trip, and what the
//! receiver measures lags the sender by one); a window above the target comes down by a
//! quarter a round, never faster, so one round that brought little (a loss being repaired, a
//! pause of the server) does not close the path.
//!
//! The round trip is the connection's handshake (SYN to established): the path before any
//! queue builds up. What arrived is new sequence space (out of order included, repeats not):
//! the rate through the bottleneck, not the bursts a filled hole hands the application.
//!
//! The socket offers its free ring space as window, so the session applies [`RxWindow::hold`]
//! by leaving that many received bytes on the ring (they are taken once the rest of the file
//! is on the ring): the window's right edge never moves back.

/// The smallest window: well above a sender's first flights (10 segments, doubling).
pub const FLOOR: usize = 64 << 10;

/// The window policy for one connection; times in microseconds, sequence numbers as on the
/// wire (wrapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxWindow {
    ring: usize,
    window: usize,
    /// The handshake's round trip; 0 until connected (no holding back before).
    rtt: u64,
    /// The current round: when it began and the sequence front then.
    round: Option<(u64, u32)>,
    /// Bytes that arrived in the last whole round.
    last: usize,
    /// When the sequence front last moved, and where it was.
    moved: Option<(u64, u32)>,
}

impl RxWindow {
    /// A connection whose receive ring holds `ring` bytes.
    pub fn new(ring: usize) -> Self {
        RxWindow {
            ring,
            window: FLOOR.min(ring),
            rtt: 0,
            round: None,
            last: 0,
            moved: None,
        }
    }

    /// The connection came up `rtt` after its SYN went out.
    pub fn connected(&mut self, rtt: u64) {
        *self = RxWindow::new(self.ring);
        self.rtt = rtt.max(1);
    }

    /// `front`: one past the highest sequence number that has arrived. Once a round trip has
    /// passed, the window moves towards what arrived in it (see the module's description).
    pub fn on_arrival(&mut self, now: u64, front: u32) {
        if self.rtt == 0 {
            return;
        }
        if self.moved.is_none_or(|(_, f)| f != front) {
            self.moved = Some((now, front));
        }
        let Some((since, from)) = self.round else {
            self.round = Some((now, front));
            return;
        };
        if now.saturating_sub(since) < self.rtt {
            return;
        }
        // A front behind the round's start (a new connection's numbers) counts as nothing.
        let arrived = match front.wrapping_sub(from) {
            d if (d as i32) < 0 => 0,
            d => d as usize,
        };
        let growing = arrived.saturating_mul(2) >= self.last.saturating_mul(3);
        let factor = if growing { 4 } else { 2 };
        let want = arrived
            .saturating_mul(factor)
            .saturating_add(FLOOR)
            .min(self.ring);
        self.window = want.max(self.window - self.window / 4);
        self.last = arrived;
        self.round = Some((now, front));
    }

    /// The window to offer.
    pub fn window(&self) -> usize {
        if self.rtt == 0 {
            self.ring
        } else {
            self.window
        }
    }

    /// Bytes to leave on the ring so that its free space is the window.
    pub fn hold(&self) -> usize {
        self.ring - self.window()
    }

    /// How many of `queued` bytes on the ring to take at `now`, when `rest` more bytes (the
    /// body's remainder, `None` when unknown) complete the file: all but
    /// [`RxWindow::hold`] while data streams in; all of them once the file's end is on the
    /// ring, when its length is unknown, or when nothing new arrived for a round trip (a
    /// pause, a stall, a trickle: what came is progress and must not wait on the ring).
    pub fn take(&self, now: u64, queued: usize, rest: Option<u64>) -> usize {
        let idle = self
            .moved
            .is_none_or(|(at, _)| now.saturating_sub(at) >= self.rtt);
        match rest {
            Some(r) if r > queued as u64 && !idle => queued.saturating_sub(self.hold()),
            _ => queued,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RING: usize = 2 << 20;
    const MSS: u32 = 1460;
    const RTT: u64 = 50_000;

    #[test]
    fn before_the_handshake_the_whole_ring_is_offered_and_nothing_held() {
        let w = RxWindow::new(RING);
        assert_eq!(w.window(), RING);
        assert_eq!(w.hold(), 0);
        assert_eq!(w.take(0, 1000, Some(1 << 30)), 1000);
    }

    #[test]
    fn a_connected_window_starts_at_the_floor() {
        let mut w = RxWindow::new(RING);
        w.connected(RTT);
        assert_eq!(w.window(), FLOOR);
        assert_eq!(w.hold(), RING - FLOOR);
        w.on_arrival(0, 5000);
        // Of 2 MiB queued, all but the hold are taken; with the file's end on the ring, all.
        assert_eq!(w.take(10, RING, Some(1 << 30)), FLOOR);
        assert_eq!(w.take(10, RING, Some(RING as u64)), RING);
        assert_eq!(w.take(10, 100, None), 100);
        assert_eq!(w.take(10, 100, Some(1 << 30)), 0);
        // Nothing new for a round trip: all of it (a stall must not strand bytes).
        w.on_arrival(RTT - 1, 5000);
        assert_eq!(w.take(RTT - 1, 100, Some(1 << 30)), 0);
        assert_eq!(w.take(RTT, 100, Some(1 << 30)), 100);
        w.on_arrival(RTT + 5, 6000);
        assert_eq!(w.take(RTT + 5, 100, Some(1 << 30)), 0);
        // A ring smaller than the floor is offered whole.
        let mut small = RxWindow::new(4096);
        small.connected(RTT);
        assert_eq!((small.window(), small.hold()), (4096, 0));
    }

    /// A scripted sender: slow start from 10 segments, doubling each round trip, up to what
    /// the window allows and what a 100 Mbit/s path holds in 50 ms (~430 segments). The
    /// window is never what stops the doubling, and it settles at twice the path plus the
    /// floor (below the path and a 1,000-frame queue: ~1,430 segments), not the ring.
    #[test]
    fn the_window_follows_slow_start_and_settles_at_twice_the_path() {
        let path = 430 * MSS as usize;
        let mut w = RxWindow::new(RING);
        w.connected(RTT);
        let mut front = 1u32;
        let mut cwnd = 10 * MSS as usize;
        let mut limited = 0;
        for round in 0..40u64 {
            let flight = cwnd.min(w.window()).min(path);
            if cwnd.min(path) > w.window() {
                limited += 1;
            }
            // The round's segments arrive spread across it, 1 ms apart.
            let per_ms = flight / 50;
            for ms in 0..50u64 {
                front = front.wrapping_add(per_ms as u32);
                w.on_arrival(round * RTT + ms * 1000, front);
            }
            cwnd = flight * 2;
        }
        assert_eq!(limited, 0, "the window held back slow start");
        let w = w.window();
        assert!(w + 100 >= 2 * path + FLOOR, "{w}");
        assert!(w <= 2 * path + FLOOR, "{w}");
        assert!(w < 1430 * MSS as usize, "{w}");
    }

    #[test]
    fn the_window_comes_down_by_a_quarter_a_round_at_most_and_stops_at_the_ring() {
        let mut w = RxWindow::new(RING);
        w.connected(RTT);
        w.on_arrival(0, 1000);
        // The first round: growing (from nothing), four times what arrived.
        w.on_arrival(RTT, 1000 + 300_000);
        assert_eq!(w.window(), 1_200_000 + FLOOR);
        // A round in which nothing new arrived (a hole being repaired): down a quarter.
        w.on_arrival(2 * RTT, 1000 + 300_000);
        assert_eq!(w.window(), (1_200_000 + FLOOR) * 3 / 4);
        // Within a round nothing changes.
        w.on_arrival(2 * RTT + 10, 1000 + 3_000_000);
        assert_eq!(w.window(), (1_200_000 + FLOOR) * 3 / 4);
        w.on_arrival(3 * RTT + 10, 1000 + 3_000_000);
        assert_eq!(w.window(), RING);
        assert_eq!(w.hold(), 0);
        // A full path: twice a steady round's arrivals plus the floor.
        let mut front = 1000 + 3_000_000u32;
        for r in 4..20 {
            front += 500_000;
            w.on_arrival(r * RTT + 10, front);
        }
        assert_eq!(w.window(), 1_000_000 + FLOOR);
    }

    #[test]
    fn sequence_numbers_wrap_and_a_front_behind_counts_as_nothing() {
        let mut w = RxWindow::new(RING);
        w.connected(RTT);
        w.on_arrival(0, u32::MAX - 100_000);
        w.on_arrival(RTT, 100_000);
        assert_eq!(w.window(), 4 * 200_001 + FLOOR);
        let mut b = RxWindow::new(RING);
        b.connected(RTT);
        b.on_arrival(0, 500_000);
        b.on_arrival(RTT, 400_000);
        assert_eq!(b.window(), FLOOR);
    }

    #[test]
    fn a_new_connection_starts_again_with_its_own_round_trip() {
        let mut w = RxWindow::new(RING);
        w.connected(RTT);
        w.on_arrival(0, 0);
        w.on_arrival(RTT, 400_000);
        assert!(w.window() > FLOOR);
        w.connected(200_000);
        assert_eq!(w.window(), FLOOR);
        w.on_arrival(10 * RTT, 7);
        w.on_arrival(11 * RTT, 7 + 100_000);
        assert_eq!(
            w.window(),
            FLOOR,
            "not yet a round trip of the new connection"
        );
        w.on_arrival(10 * RTT + 200_000, 7 + 100_000);
        assert_eq!(w.window(), 400_000 + FLOOR);
    }
}
