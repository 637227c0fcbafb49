//! QEMU's firmware configuration device (fw_cfg, QEMU `docs/specs/fw_cfg.rst`): the selector
//! and data ports, and the DMA interface. The directory and file formats the ROM stage reads
//! are pure code in `lifeboat_rom::fw_cfg`.
use crate::port;

/// I/O port of the selector register (16 bits, written).
pub const SELECTOR: u16 = 0x510;
/// I/O port of the data register (8 bits, read).
pub const DATA: u16 = 0x511;
/// Item: the signature "QEMU".
pub const SIGNATURE: u16 = 0x0000;
/// Item: the feature bitmap (u32 little-endian); [`FEATURE_DMA`] = the DMA interface.
pub const ID: u16 = 0x0001;
/// Item: the file directory.
pub const FILE_DIR: u16 = 0x0019;
/// Feature bit: the DMA interface.
pub const FEATURE_DMA: u32 = 1 << 1;
/// I/O port of the DMA address register's high half (big-endian).
pub const DMA_HIGH: u16 = 0x514;
/// I/O port of the DMA address register's low half; its write starts the transfer.
pub const DMA_LOW: u16 = 0x518;
/// DMA control: the transfer failed.
pub const DMA_ERROR: u32 = 1 << 0;
/// DMA control: read the item into memory.
pub const DMA_READ: u32 = 1 << 1;
/// DMA control: skip bytes of the item.
pub const DMA_SKIP: u32 = 1 << 2;
/// DMA control: select the item in the top 16 bits first.
pub const DMA_SELECT: u32 = 1 << 3;
/// DMA control: write memory into the item.
pub const DMA_WRITE: u32 = 1 << 4;

/// A DMA access structure (16 bytes, big-endian: control, length, address).
pub fn dma_access(control: u32, len: u32, addr: u64) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&control.to_be_bytes());
    a[4..8].copy_from_slice(&len.to_be_bytes());
    a[8..].copy_from_slice(&addr.to_be_bytes());
    a
}

/// The control word that selects `select` and then reads (or skips, or writes).
pub fn dma_select(select: u16, op: u32) -> u32 {
    u32::from(select) << 16 | DMA_SELECT | op
}

/// Selects item `key`: the data port reads it from its start.
pub fn select(key: u16) {
    // SAFETY: the selector of QEMU's fw_cfg (on machines without it the port is unused);
    // selecting an item touches no memory.
    unsafe { port::outw(SELECTOR, key) }
}

/// Reads the next `buf.len()` bytes of the selected item through the data port.
pub fn read(buf: &mut [u8]) {
    for b in buf {
        // SAFETY: as in `select`: the data port moves no memory.
        *b = unsafe { port::inb(DATA) };
    }
}

/// Whether the device is there (its signature item reads "QEMU").
pub fn present() -> bool {
    select(SIGNATURE);
    let mut sig = [0u8; 4];
    read(&mut sig);
    &sig == b"QEMU"
}

/// Whether the device offers the DMA interface (its feature item).
pub fn has_dma() -> bool {
    select(ID);
    let mut id = [0u8; 4];
    read(&mut id);
    u32::from_le_bytes(id) & FEATURE_DMA != 0
}

/// One DMA transfer: `control` ([`dma_select`] and an operation), `len` bytes at `addr`;
/// false on a device error or when it did not finish.
///
/// # Safety
/// The device is present with DMA ([`has_dma`]); `addr..addr + len` is identity-mapped
/// memory the caller owns (the device writes it on a read, reads it on a write) and nothing
/// else uses until this returns.
pub unsafe fn dma(control: u32, len: u32, addr: u64) -> bool {
    let access = dma_access(control, len, addr);
    let at = access.as_ptr() as u64;
    // SAFETY: the access structure is on the stack (identity-mapped RAM) and lives until
    // the device has cleared its control word below; the caller owns `addr..addr + len`.
    // The fenced write to the low half starts the transfer after the structure is in
    // memory, and what the device wrote is read after it.
    unsafe {
        port::outl(DMA_HIGH, ((at >> 32) as u32).to_be());
        port::outl_fenced(DMA_LOW, (at as u32).to_be());
    }
    for _ in 0..10_000_000u32 {
        // SAFETY: the control word of the structure above, which the device clears.
        let c = unsafe { core::ptr::read_volatile(access.as_ptr() as *const [u8; 4]) };
        let c = u32::from_be_bytes(c);
        if c & !DMA_ERROR == 0 {
            return c & DMA_ERROR == 0;
        }
    }
    false
}
