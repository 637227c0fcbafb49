//! 16550 UART (COM1 console, COM2 defmt channel), polled.
//!
//! The receive FIFO holds 16 bytes, so a line pasted at 9600 baud or faster is lost
//! unless the UART is drained often: every wait for the transmitter drains the
//! receiver into a software ring (`rx_ring`) first, so echoing never drops input.
use core::sync::atomic::{AtomicBool, Ordering};

use lifeboat_hw::port;

/// Register offsets and bits, as in the PC16550D datasheet (`lifeboat_hw::uart::spec`).
use lifeboat_hw::uart::spec;

pub use lifeboat_hw::uart::{COM1, COM2};

/// Reading LSR clears its BI (break) bit while DR stays set, so every LSR read (the
/// transmitter polls it too, from `Uart16550` and `RawTx`) latches BI here and the
/// receiver reports the BREAK instead of the 0x00 that comes with it.
static BREAK_LATCH: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

fn latch(base: u16) -> Option<&'static AtomicBool> {
    match base {
        COM1 => Some(&BREAK_LATCH[0]),
        COM2 => Some(&BREAK_LATCH[1]),
        _ => None,
    }
}

/// Read LSR of the UART at `base`, latching BI.
///
/// # Safety
/// `base` must be the I/O base of a 16550-compatible UART.
unsafe fn read_lsr(base: u16) -> u8 {
    // SAFETY: the caller's contract; reading LSR only clears its error/break bits, which
    // are latched right here.
    let lsr = unsafe { port::inb(base + spec::LSR) };
    if lsr != 0xFF && lsr & spec::LSR_BI != 0 {
        if let Some(l) = latch(base) {
            l.store(true, Ordering::Relaxed);
        }
    }
    lsr
}

/// What the receiver delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartEvent {
    /// A received byte.
    Byte(u8),
    /// A serial BREAK (LSR.BI); the 0x00 the UART puts in RBR with it is consumed.
    Break,
}

/// Baud rates the divisor can produce exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadBaud(pub u32);

const RING: usize = 512;

/// A 16550 UART with a receive ring that the transmitter fills while it waits, so typed
/// bytes are not lost to the 16-byte FIFO during long output.
pub struct Uart16550 {
    base: u16,
    rx_ring: [UartEvent; RING],
    head: usize,
    len: usize,
    dropped: u32,
    /// A BREAK was reported ahead of its 0x00 byte, which is still to come.
    pending_nul: bool,
}

impl Uart16550 {
    /// # Safety
    /// `base` must be the I/O base of a 16550-compatible UART, and this must be the
    /// only object driving it.
    pub unsafe fn new(base: u16, baud: u32) -> Result<Self, BadBaud> {
        let div = lifeboat_hw::uart::divisor(baud).ok_or(BadBaud(baud))?;
        let mut u = Self {
            base,
            rx_ring: [UartEvent::Break; RING],
            head: 0,
            len: 0,
            dropped: 0,
            pending_nul: false,
        };
        // Keep what the operator typed during POST (an early ESC or BREAK must count):
        // reprogramming the FIFO below would discard it.
        u.drain_rx();
        // SAFETY: the caller's contract: the UART is ours.
        unsafe { lifeboat_hw::uart::init(base, div) };
        Ok(u)
    }

    fn out(&mut self, reg: u16, val: u8) {
        // SAFETY: `new`'s contract: base..base+7 are this UART's registers and we own them.
        unsafe { port::outb(self.base + reg, val) }
    }

    fn lsr(&mut self) -> u8 {
        // SAFETY: `new`'s contract: base is this UART's register block.
        unsafe { read_lsr(self.base) }
    }

    fn inp(&mut self, reg: u16) -> u8 {
        // SAFETY: as in `out`; reading LSR/RBR has only the documented side effects.
        unsafe { port::inb(self.base + reg) }
    }

    /// Move everything the hardware holds into the software ring.
    pub fn drain_rx(&mut self) {
        for _ in 0..64 {
            let lsr = self.lsr();
            if lsr == 0xFF {
                return; // nothing decodes this port: no UART, not a line full of BREAKs
            }
            let brk = lsr & spec::LSR_BI != 0
                || latch(self.base).is_some_and(|l| l.swap(false, Ordering::Relaxed));
            if brk {
                self.push(UartEvent::Break);
                if lsr & spec::LSR_DR != 0 {
                    // With the FIFO on, BI can rise while earlier characters are still ahead
                    // of the break's 0x00 (QEMU does this): keep such a character and drop
                    // the next 0x00 instead.
                    match self.inp(spec::RBR_THR_DLL) {
                        0 => {}
                        b => {
                            self.push(UartEvent::Byte(b));
                            self.pending_nul = true;
                        }
                    }
                }
                continue;
            }
            if lsr & spec::LSR_OE != 0 {
                // The 16-byte FIFO overflowed before we got here: bytes were lost.
                self.dropped = self.dropped.wrapping_add(1);
            }
            if lsr & spec::LSR_DR == 0 {
                return;
            }
            let b = self.inp(spec::RBR_THR_DLL);
            if b == 0 && self.pending_nul {
                self.pending_nul = false;
                continue;
            }
            self.push(UartEvent::Byte(b));
        }
    }

    fn push(&mut self, ev: UartEvent) {
        if self.len == RING {
            self.dropped = self.dropped.wrapping_add(1);
        } else {
            self.rx_ring[(self.head + self.len) % RING] = ev;
            self.len += 1;
        }
    }

    /// Next received byte or BREAK, if any.
    pub fn try_read(&mut self) -> Option<UartEvent> {
        self.drain_rx();
        if self.len == 0 {
            return None;
        }
        let ev = self.rx_ring[self.head];
        self.head = (self.head + 1) % RING;
        self.len -= 1;
        Some(ev)
    }

    /// Input lost, counted since power-on: hardware FIFO overruns (at least one byte
    /// each) plus events dropped because the software ring was full.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Send one byte, waiting for room in the transmitter (and draining the receiver meanwhile).
    pub fn write_byte(&mut self, b: u8) {
        while self.lsr() & spec::LSR_THRE == 0 {
            self.drain_rx();
            core::hint::spin_loop();
        }
        self.out(spec::RBR_THR_DLL, b);
    }

    /// Send `bytes` in order.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_byte(b);
        }
    }

    /// Wait until the last byte written has left the wire (LSR.TEMT), at most 100 ms (a
    /// UART that never empties, e.g. held by flow control, does not hang a reset or a jump).
    /// Before a reset or a jump to an image, so the operator sees the whole last line.
    pub fn flush(&mut self) {
        crate::timer::poll_until(100_000, || {
            self.lsr() & spec::LSR_TEMT != 0 || self.lsr() == 0xFF
        });
    }
}

impl core::fmt::Write for Uart16550 {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Transmit-only access to an already initialised UART, for the log sink, the
/// exception and panic reports and the defmt channel: it owns no state, so it can be
/// used while the console object is borrowed elsewhere (output may interleave).
#[derive(Debug, Clone, Copy)]
pub struct RawTx(pub u16);

impl RawTx {
    /// Send `bytes` in order.
    pub fn write_bytes(&self, bytes: &[u8]) {
        for &b in bytes {
            let mut spins = 0u32;
            // SAFETY: COM1/COM2 registers; polling LSR (BI latched by `read_lsr`) and
            // writing THR leave the receiver state the console object keeps intact.
            unsafe {
                while read_lsr(self.0) & spec::LSR_THRE == 0 && spins < 1_000_000 {
                    spins += 1;
                }
                port::outb(self.0 + spec::RBR_THR_DLL, b);
            }
        }
    }
}

impl core::fmt::Write for RawTx {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}
