//! x86 port I/O (`in`/`out`, Intel SDM vol. 2). `nomem`: the compiler may keep memory
//! accesses on either side of these; a port write that makes a device read or write memory
//! (DMA) goes through [`outl_fenced`].
use core::arch::asm;

/// Reads a byte from `port`.
///
/// # Safety
/// `port` must be a register whose read has no effect the caller does not own (reads can
/// clear device status, pop a FIFO).
#[inline]
pub unsafe fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: the caller's contract.
    unsafe {
        asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Reads a word from `port`.
///
/// # Safety
/// As [`inb`].
#[inline]
pub unsafe fn inw(port: u16) -> u16 {
    let v: u16;
    // SAFETY: the caller's contract.
    unsafe {
        asm!("in ax, dx", in("dx") port, out("ax") v, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Reads a dword from `port`.
///
/// # Safety
/// As [`inb`].
#[inline]
pub unsafe fn inl(port: u16) -> u32 {
    let v: u32;
    // SAFETY: the caller's contract.
    unsafe {
        asm!("in eax, dx", in("dx") port, out("eax") v, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Writes a byte to `port`.
///
/// # Safety
/// `port` must be a register the caller owns, and the write must not make the device touch
/// memory Rust relies on (for a write that starts DMA, see [`outl_fenced`]).
#[inline]
pub unsafe fn outb(port: u16, v: u8) {
    // SAFETY: the caller's contract.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") v, options(nomem, nostack, preserves_flags))
    };
}

/// Writes a word to `port`.
///
/// # Safety
/// As [`outb`].
#[inline]
pub unsafe fn outw(port: u16, v: u16) {
    // SAFETY: the caller's contract.
    unsafe {
        asm!("out dx, ax", in("dx") port, in("ax") v, options(nomem, nostack, preserves_flags))
    };
}

/// Writes a dword to `port`.
///
/// # Safety
/// As [`outb`].
#[inline]
pub unsafe fn outl(port: u16, v: u32) {
    // SAFETY: the caller's contract.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") v, options(nomem, nostack, preserves_flags))
    };
}

/// Writes a dword to `port` as a compiler barrier: every memory write before it is done
/// before the port write, every read after it happens after. For a write that starts DMA.
///
/// # Safety
/// `port` must be a register the caller owns; the memory the device reads or writes must
/// be the caller's until the transfer ends.
#[inline]
pub unsafe fn outl_fenced(port: u16, v: u32) {
    // SAFETY: the caller's contract; no `nomem`, so the compiler orders memory around it.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") v, options(nostack, preserves_flags)) };
}
