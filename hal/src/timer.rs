//! Monotonic time from the TSC, calibrated once against PIT channel 2.
//!
//! Logic code never reads this clock itself: the firmware passes `now_us()` in.
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use lifeboat_hw::port;

static TSC_PER_MS: AtomicU64 = AtomicU64::new(0);
static TSC_ZERO: AtomicU64 = AtomicU64::new(0);

/// PIT input clock, Hz.
const PIT_HZ: u64 = 1_193_182;
/// One calibration interval: 1 ms of PIT ticks (1193: the count's resolution is 0.08 %, a
/// poll of port 0x61 under emulation ~1 µs).
const CAL_TICKS: u64 = PIT_HZ / 1000;
/// Calibration intervals at most; the smallest wins (see [`settled`]).
const CAL_ROUNDS: usize = 5;
/// TSC ticks after which one calibration interval is abandoned (the PIT is broken).
const TSC_GIVE_UP: u64 = 1 << 28;
/// Assumed TSC rate when the PIT never counted down: 2 GHz.
const FALLBACK_PER_MS: u64 = 2_000_000;

static CALIBRATION_FAILED: AtomicBool = AtomicBool::new(false);

/// True when the PIT never counted down and the TSC rate is a guess (timeouts may be off).
pub fn calibration_failed() -> bool {
    CALIBRATION_FAILED.load(Ordering::Relaxed)
}

fn rdtsc() -> u64 {
    // SAFETY: RDTSC exists on every x86-64 CPU and has no side effects.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

/// TSC ticks while PIT channel 2 counts `CAL_TICKS` (one calibration interval).
fn measure_once() -> Option<u64> {
    // SAFETY: ports 0x42/0x43/0x61 are the PIT channel 2 and its gate on every PC; the
    // speaker output (0x61 bit 1) is kept off; nothing else uses channel 2.
    unsafe {
        let v = port::inb(0x61);
        port::outb(0x61, (v & !0x02) & !0x01); // gate low: counter holds
        port::outb(0x43, 0xB0); // channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count), binary
        port::outb(0x42, (CAL_TICKS & 0xFF) as u8);
        port::outb(0x42, (CAL_TICKS >> 8) as u8);
        let v = port::inb(0x61);
        port::outb(0x61, v | 0x01); // gate high: counting starts
        let t0 = rdtsc();
        // OUT2 (0x61 bit 5) rises when the count reaches zero. A PIT that never gets
        // there must not hang the unit: give up after TSC_GIVE_UP ticks (~0.1-0.5 s).
        while port::inb(0x61) & 0x20 == 0 {
            if rdtsc().wrapping_sub(t0) > TSC_GIVE_UP {
                return None;
            }
        }
        Some(rdtsc().wrapping_sub(t0))
    }
}

/// The calibration's answer from the intervals measured so far (TSC ticks each): the
/// smallest, as soon as another one agrees with it within 1/512 (0.2 %), or at the `last`
/// round; `None` while neither holds (or nothing was measured).
///
/// A virtual CPU can be descheduled by its host at any moment; a pause between the PIT
/// reaching zero and the closing RDTSC inflates one measurement (and so every timeout
/// after it). Pauses only ever add ticks, so the smallest interval is the truest, and two
/// that agree were not paused: on a quiet host the second interval settles it (2 ms of
/// the boot, where five fixed rounds took 10).
fn settled(intervals: &[u64], last: bool) -> Option<u64> {
    let min = *intervals.iter().min()?;
    let close = intervals.iter().filter(|&&t| t - min <= min / 512).count();
    (close >= 2 || last).then_some(min)
}

/// Calibrate the TSC; returns its rate in kHz. Call once, early.
pub fn init() -> u64 {
    let mut intervals = [0u64; CAL_ROUNDS];
    let mut n = 0;
    let mut best = None;
    for round in 1..=CAL_ROUNDS {
        // A round where the PIT did not count adds nothing: the others decide, or the fallback.
        if let Some(ticks) = measure_once() {
            intervals[n] = ticks;
            n += 1;
        }
        best = settled(&intervals[..n], round == CAL_ROUNDS);
        if best.is_some() {
            break;
        }
    }
    let per_ms = match best {
        Some(ticks) => (ticks * PIT_HZ / (CAL_TICKS * 1000)).max(1000),
        None => {
            CALIBRATION_FAILED.store(true, Ordering::Relaxed);
            FALLBACK_PER_MS
        }
    };
    TSC_PER_MS.store(per_ms, Ordering::Relaxed);
    TSC_ZERO.store(rdtsc(), Ordering::Relaxed);
    per_ms
}

fn per_ms() -> u64 {
    match TSC_PER_MS.load(Ordering::Relaxed) {
        0 => 1_000_000, // uncalibrated: assume 1 GHz rather than divide by zero
        v => v,
    }
}

/// Microseconds since `init`.
pub fn now_us() -> u64 {
    let d = rdtsc().wrapping_sub(TSC_ZERO.load(Ordering::Relaxed)) as u128;
    (d * 1000 / per_ms() as u128) as u64
}

/// Call `done` until it returns true or `timeout_us` has passed; true if it did.
/// Every "wait for the device, but not forever" loop goes through here.
pub fn poll_until(timeout_us: u64, mut done: impl FnMut() -> bool) -> bool {
    let start = now_us();
    loop {
        if done() {
            return true;
        }
        if now_us().wrapping_sub(start) > timeout_us {
            return false;
        }
    }
}

/// Busy-wait for `us` microseconds.
pub fn delay_us(us: u64) {
    let end = now_us() + us;
    while now_us() < end {
        core::hint::spin_loop();
    }
}

/// `embedded_hal::delay::DelayNs` over the TSC clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct Delay;

impl embedded_hal::delay::DelayNs for Delay {
    fn delay_ns(&mut self, ns: u32) {
        delay_us((ns as u64).div_ceil(1000));
    }
}

#[cfg(test)]
mod tests {
    use super::settled;

    #[test]
    fn two_agreeing_intervals_settle_the_rate_at_the_smaller() {
        assert_eq!(settled(&[], false), None);
        assert_eq!(settled(&[2_600_000], false), None);
        assert_eq!(settled(&[2_600_000, 2_601_000], false), Some(2_600_000));
        assert_eq!(settled(&[2_601_000, 2_600_000], false), Some(2_600_000));
    }

    #[test]
    fn a_paused_interval_is_outvoted_by_two_that_agree() {
        // The host paused the vCPU in the first interval: 40 % longer.
        assert_eq!(settled(&[3_640_000, 2_600_000], false), None);
        assert_eq!(
            settled(&[3_640_000, 2_600_000, 2_602_000], false),
            Some(2_600_000)
        );
        // More than 1/512 apart is not agreement.
        assert_eq!(settled(&[2_600_000, 2_606_000], false), None);
    }

    #[test]
    fn at_the_last_round_the_smallest_wins_and_nothing_measured_is_none() {
        let noisy = [3_000_000, 2_700_000, 2_900_000, 2_650_000, 2_800_000];
        assert_eq!(settled(&noisy, false), None);
        assert_eq!(settled(&noisy, true), Some(2_650_000));
        assert_eq!(settled(&[], true), None);
    }
}
