//! The 16550 UART (PC16550D datasheet): its registers, its set-up and a polled transmitter.
//! hal's console driver (`lifeboat_hal::uart`) adds the receive ring and BREAK handling.
use crate::port;

/// Register offsets and bits, as in the PC16550D datasheet.
pub mod spec {
    /// Receive buffer (read) / transmit holding (write) / divisor latch low (DLAB).
    pub const RBR_THR_DLL: u16 = 0;
    /// Interrupt enable / divisor latch high (DLAB).
    pub const IER_DLM: u16 = 1;
    /// FIFO control (write).
    pub const FCR: u16 = 2;
    /// Line control.
    pub const LCR: u16 = 3;
    /// Modem control.
    pub const MCR: u16 = 4;
    /// Line status.
    pub const LSR: u16 = 5;
    /// LCR: divisor latch access.
    pub const LCR_DLAB: u8 = 0x80;
    /// LCR: 8 data bits, no parity, 1 stop bit.
    pub const LCR_8N1: u8 = 0x03;
    /// FCR: enable the FIFOs, clear both, receive trigger at 14 bytes.
    pub const FCR_ENABLE_CLEAR_14: u8 = 0xC7;
    /// MCR: DTR, RTS and OUT2.
    pub const MCR_DTR_RTS_OUT2: u8 = 0x0B;
    /// LSR: data ready.
    pub const LSR_DR: u8 = 0x01;
    /// LSR: overrun error, a received byte was lost.
    pub const LSR_OE: u8 = 0x02;
    /// LSR: break interrupt, the line held low for a whole character time.
    pub const LSR_BI: u8 = 0x10;
    /// LSR: transmit holding register empty.
    pub const LSR_THRE: u8 = 0x20;
    /// LSR: transmitter empty (holding register or FIFO, and shift register).
    pub const LSR_TEMT: u8 = 0x40;
    /// The divisor's clock: 1.8432 MHz / 16.
    pub const CLOCK_DIV: u32 = 115_200;
}

/// COM1's I/O base.
pub const COM1: u16 = 0x3F8;
/// COM2's I/O base.
pub const COM2: u16 = 0x2F8;

/// The divisor for `baud`, `None` unless the clock divides it exactly into 1..=0xFFFF.
pub const fn divisor(baud: u32) -> Option<u16> {
    if baud == 0 || !spec::CLOCK_DIV.is_multiple_of(baud) || spec::CLOCK_DIV / baud > 0xFFFF {
        return None;
    }
    Some((spec::CLOCK_DIV / baud) as u16)
}

/// Programs the UART at `base`: interrupts off, `divisor`, 8N1, FIFOs on and cleared, DTR,
/// RTS and OUT2.
///
/// # Safety
/// `base` must be the I/O base of a 16550-compatible UART nothing else drives.
pub unsafe fn init(base: u16, divisor: u16) {
    // SAFETY: the caller's contract: these are the UART's registers; none touches memory.
    unsafe {
        port::outb(base + spec::IER_DLM, 0x00);
        port::outb(base + spec::LCR, spec::LCR_DLAB);
        port::outb(base + spec::RBR_THR_DLL, divisor as u8);
        port::outb(base + spec::IER_DLM, (divisor >> 8) as u8);
        port::outb(base + spec::LCR, spec::LCR_8N1);
        port::outb(base + spec::FCR, spec::FCR_ENABLE_CLEAR_14);
        port::outb(base + spec::MCR, spec::MCR_DTR_RTS_OUT2);
    }
}

/// A polled transmitter (for the ROM stage's one-line warnings): waits for THRE, at most
/// about a million polls a byte, so a missing UART never hangs the caller.
#[derive(Debug)]
pub struct PolledTx(u16);

impl PolledTx {
    /// Sets up the UART at `base` for `baud` ([`init`]); `None` for a speed the divisor
    /// cannot make.
    ///
    /// # Safety
    /// As [`init`].
    pub unsafe fn new(base: u16, baud: u32) -> Option<PolledTx> {
        let div = divisor(baud)?;
        // SAFETY: the caller's contract.
        unsafe { init(base, div) };
        Some(PolledTx(base))
    }

    /// The UART at `base` as the previous stage left it (speed and format unchanged).
    ///
    /// # Safety
    /// `base` must be the I/O base of a 16550-compatible UART nothing else drives (a
    /// missing one reads 0xFF and costs the bounded wait only).
    pub unsafe fn attach(base: u16) -> PolledTx {
        PolledTx(base)
    }

    /// Sends one byte.
    pub fn send(&mut self, b: u8) {
        let mut spins = 0u32;
        // SAFETY: `new`'s contract: the UART is ours; reading LSR and writing THR touch no
        // memory.
        unsafe {
            while port::inb(self.0 + spec::LSR) & spec::LSR_THRE == 0 && spins < 1_000_000 {
                spins += 1;
            }
            port::outb(self.0 + spec::RBR_THR_DLL, b);
        }
    }
}

impl core::fmt::Write for PolledTx {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        s.bytes().for_each(|b| self.send(b));
        Ok(())
    }
}
