//! A process-wide limit on concurrently running emulators.
//!
//! TCG guests poll their consoles and keep a host core busy; the test harness runs tests on
//! several threads, and on a 2-core CI runner more than two guests make every timing-sensitive
//! scenario flaky. [`Qemu::launch`](crate::Qemu::launch) takes a [`Slot`] before spawning.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Environment variable overriding the limit (a positive integer; default 2).
pub const MAX_CONCURRENT_ENV: &str = "LIFEBOAT_QEMU_JOBS";

const DEFAULT_MAX: usize = 2;

static RUNNING: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

/// The limit in force: `$LIFEBOAT_QEMU_JOBS` or 2.
pub fn max_concurrent() -> usize {
    std::env::var(MAX_CONCURRENT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_MAX)
}

/// One of the permitted concurrent emulators; released on drop.
#[derive(Debug)]
pub(crate) struct Slot(());

impl Slot {
    /// A slot taken at once, even beyond the limit.
    pub(crate) fn take() -> Slot {
        *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Slot(())
    }

    /// Waits up to `timeout` for a free slot.
    pub(crate) fn acquire(timeout: Duration) -> Option<Slot> {
        let max = max_concurrent();
        let deadline = Instant::now() + timeout;
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= max {
            let left = deadline.checked_duration_since(Instant::now())?;
            running = FREED
                .wait_timeout(running, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *running += 1;
        Some(Slot(()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *running -= 1;
        FREED.notify_one();
    }
}
