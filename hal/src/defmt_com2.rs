//! defmt global logger: rzcobs-framed defmt frames out of COM2, the structured trace
//! channel. Decode on the host with `defmt-print -e firmware.elf` or `defmt-decoder`.
use core::sync::atomic::{AtomicBool, Ordering};

use crate::uart::{RawTx, COM2};

#[defmt::global_logger]
struct Com2Logger;

static TAKEN: AtomicBool = AtomicBool::new(false);
/// Set while a nested (re-entered) frame is being discarded: defmt still calls `write`
/// and `release` for it, and they must not touch the outer frame.
static NESTED: AtomicBool = AtomicBool::new(false);
static mut ENCODER: defmt::Encoder = defmt::Encoder::new();

fn write(bytes: &[u8]) {
    RawTx(COM2).write_bytes(bytes);
}

// SAFETY: single core, no interrupts: `acquire`/`release` bracket every frame and the
// TAKEN flag rejects re-entry, so ENCODER is never aliased.
unsafe impl defmt::Logger for Com2Logger {
    fn acquire() {
        if TAKEN.swap(true, Ordering::Acquire) {
            // Re-entered from a log inside a log (e.g. a fault while logging): drop it.
            NESTED.store(true, Ordering::Relaxed);
            return;
        }
        // SAFETY: see the impl's comment: we hold TAKEN.
        unsafe { (*core::ptr::addr_of_mut!(ENCODER)).start_frame(write) }
    }
    unsafe fn flush() {}
    unsafe fn release() {
        if NESTED.swap(false, Ordering::Relaxed) {
            return; // end of the discarded nested frame; the outer one goes on
        }
        // SAFETY: see the impl's comment: called after `acquire` by defmt.
        unsafe { (*core::ptr::addr_of_mut!(ENCODER)).end_frame(write) }
        TAKEN.store(false, Ordering::Release);
    }
    unsafe fn write(bytes: &[u8]) {
        if NESTED.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: see the impl's comment: called between `acquire` and `release`.
        unsafe { (*core::ptr::addr_of_mut!(ENCODER)).write(bytes, write) }
    }
}

defmt::timestamp!("{=u64:us}", crate::timer::now_us());
