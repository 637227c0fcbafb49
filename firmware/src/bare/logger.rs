//! `log` records to the console (COM1) at the level the media configuration chose.
use core::fmt::Write;

use lifeboat_hal::uart::{RawTx, COM1};

struct ConsoleLog;

static LOGGER: ConsoleLog = ConsoleLog;

impl log::Log for ConsoleLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let _ = write!(
                RawTx(COM1),
                "[{}] {}: {}\r\n",
                r.level(),
                r.target(),
                r.args()
            );
        }
    }
    fn flush(&self) {}
}

pub fn init(level: log::LevelFilter) {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
