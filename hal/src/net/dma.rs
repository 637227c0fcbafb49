//! Memory shared with a NIC by DMA, and the register windows (MMIO or I/O ports) of a NIC.
//!
//! There is no allocator: each driver keeps its descriptor rings and packet buffers in one
//! `static` [`DmaRegion`], which at most one driver value may hold at a time (a second `open`
//! of the same kind fails with `NicError::InUse`). The boot chain identity-maps the low 4 GiB,
//! so the address of a static is its bus address; the firmware image is loaded below 4 GiB,
//! which the 32-bit-only 8255x and the legacy virtio queue PFN require.

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

pub use crate::regs::{IoPorts, Mmio};

/// Bytes in one packet buffer: a 1514-byte frame (+ 4 FCS bytes the 8254x may write when
/// not stripping, + the 10-byte virtio-net header) fits, and 2048 is the 8254x RCTL.BSIZE.
pub const BUF_SIZE: usize = 2048;

/// A value the device may read or write by DMA at any time: every access is volatile.
#[repr(transparent)]
pub struct Vol<T: Copy>(UnsafeCell<T>);

impl<T: Copy> Vol<T> {
    /// Read the current value (it may have been written by the device).
    #[inline]
    pub fn get(&self) -> T {
        // SAFETY: the pointer comes from a live reference to initialised memory; the access is
        // volatile because the device writes this location behind the compiler's back.
        unsafe { ptr::read_volatile(self.0.get()) }
    }

    /// Write a value the device will read.
    #[inline]
    pub fn set(&self, value: T) {
        // SAFETY: as in `get`; interior mutability through UnsafeCell makes the write through a
        // shared reference sound, and the drivers are single-threaded.
        unsafe { ptr::write_volatile(self.0.get(), value) }
    }

    /// The bus (== physical == virtual) address of this location.
    #[inline]
    pub fn addr(&self) -> u64 {
        self.0.get() as u64
    }
}

/// One packet buffer in DMA memory. Whether the CPU or the device owns it is recorded by the
/// descriptor that points at it; the drivers only take slices of buffers they own.
#[repr(C, align(64))]
pub struct PacketBuf(UnsafeCell<[u8; BUF_SIZE]>);

impl PacketBuf {
    /// The bus address of the first byte.
    #[inline]
    pub fn addr(&self) -> u64 {
        self.0.get() as u64
    }

    /// The buffer's bytes, to read a received frame.
    ///
    /// # Safety
    ///
    /// The CPU must own the buffer (no descriptor that the device may use points at it) for
    /// as long as the slice lives, and no mutable slice of it may exist meanwhile.
    #[inline]
    pub unsafe fn bytes(&self) -> &[u8; BUF_SIZE] {
        // SAFETY: the caller guarantees the device does not write the buffer meanwhile and
        // no `&mut` alias exists.
        unsafe { &*self.0.get() }
    }

    /// The buffer's bytes, to build a frame to send.
    ///
    /// # Safety
    ///
    /// The CPU must own the buffer for as long as the slice lives, and no other slice of it may
    /// exist meanwhile.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn bytes_mut(&self) -> &mut [u8; BUF_SIZE] {
        // SAFETY: the caller guarantees exclusive CPU ownership of the buffer.
        unsafe { &mut *self.0.get() }
    }
}

/// A statically allocated DMA region that one driver value at a time may claim.
pub struct DmaRegion<T: 'static> {
    taken: AtomicBool,
    memory: UnsafeCell<T>,
}

// SAFETY: the memory is reached only through a `DmaClaim`, and `taken` ensures at most one
// claim exists at a time.
unsafe impl<T> Sync for DmaRegion<T> {}

impl<T> DmaRegion<T> {
    /// A region whose memory starts all zero (it lives in `.bss`).
    ///
    /// # Safety
    ///
    /// All-zero bytes must be a valid `T`: `T` must consist only of integers, [`Vol`]s of
    /// integers, [`PacketBuf`]s and arrays of these.
    pub const unsafe fn zeroed() -> Self {
        Self {
            taken: AtomicBool::new(false),
            // SAFETY: the caller guarantees all-zero is a valid T.
            memory: UnsafeCell::new(unsafe { core::mem::zeroed() }),
        }
    }

    /// Claim the region; `None` if another driver value holds it.
    pub fn claim(&'static self) -> Option<DmaClaim<T>> {
        if self.taken.swap(true, Ordering::Acquire) {
            None
        } else {
            Some(DmaClaim { region: self })
        }
    }
}

/// Exclusive use of a [`DmaRegion`] until dropped. The holder must stop the device's DMA
/// before dropping it (the drivers reset their NIC in `Drop` first).
pub struct DmaClaim<T: 'static> {
    region: &'static DmaRegion<T>,
}

impl<T> core::ops::Deref for DmaClaim<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the claim is exclusive; T's fields that the device or CPU mutate are `Vol` or
        // `PacketBuf`, i.e. UnsafeCell, so a shared reference is sound while they change.
        unsafe { &*self.region.memory.get() }
    }
}

impl<T> Drop for DmaClaim<T> {
    fn drop(&mut self) {
        self.region.taken.store(false, Ordering::Release);
    }
}

/// Make the CPU's writes to DMA memory visible before a doorbell write (x86 is TSO, so a
/// compiler fence suffices for the ordering; `SeqCst` also orders the volatile MMIO store).
#[inline]
pub fn dma_barrier() {
    core::sync::atomic::fence(Ordering::SeqCst);
}

/// Bytes inside a DMA structure (e.g. the frame area that follows an 8255x RFD header).
/// Ownership follows the enclosing descriptor, as for [`PacketBuf`].
#[repr(transparent)]
pub struct Bytes<const N: usize>(UnsafeCell<[u8; N]>);

impl<const N: usize> Bytes<N> {
    /// The bytes, to read what the device wrote.
    ///
    /// # Safety
    ///
    /// The CPU must own the enclosing descriptor for as long as the slice lives, and no mutable
    /// slice of these bytes may exist meanwhile.
    #[inline]
    pub unsafe fn get(&self) -> &[u8; N] {
        // SAFETY: the caller guarantees the device does not write these bytes meanwhile.
        unsafe { &*self.0.get() }
    }

    /// The bytes, to fill them for the device.
    ///
    /// # Safety
    ///
    /// The CPU must own the enclosing descriptor for as long as the slice lives, and no other
    /// slice of these bytes may exist meanwhile.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get_mut(&self) -> &mut [u8; N] {
        // SAFETY: the caller guarantees exclusive CPU ownership.
        unsafe { &mut *self.0.get() }
    }
}
