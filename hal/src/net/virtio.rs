//! virtio-net over legacy PCI (1af4:1000, QEMU `virtio-net-pci`), polled.
//!
//! Reference: Virtual I/O Device (VIRTIO) Version 1.0, §2.4 (split virtqueues, with the
//! legacy layout of §2.4.2), §4.1.4.8 (legacy PCI I/O register layout), §4.1.5.1.3 (legacy
//! queue setup), §5.1 (network device). Registers are in I/O BAR0.
//!
//! Buffer ownership: each receive and transmit "slot" `s` is one [`PacketBuf`] described by
//! the chained descriptors `2s` (the 10-byte `virtio_net_hdr`) and `2s+1` (the frame), so the
//! driver works whether or not the device offers VIRTIO_F_ANY_LAYOUT.
//! - Receive: a slot is the device's from the moment its head index is published in the
//!   available ring until it appears in the used ring; the CPU then owns it until the frame
//!   has been handed to smoltcp, and republishes it at once.
//! - Transmit: a slot is the CPU's while its bit in `TxState::free` is set; filling it clears
//!   the bit and publishes it; the bit is set again when the device returns it in the used ring.

use core::cell::UnsafeCell;

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use super::dma::{dma_barrier, DmaClaim, DmaRegion, IoPorts, PacketBuf, Vol, BUF_SIZE};
use super::{eeprom, ring, NicDriver, NicError, NicModel, MTU};
use crate::pci::{command, Config, PciDevice};

/// Legacy virtio PCI registers, offsets in I/O BAR0 (VIRTIO 1.0 §4.1.4.8).
pub mod reg {
    /// Device features bits 0–31 (read-only).
    pub const HOST_FEATURES: u16 = 0x00;
    /// Driver (guest) features bits 0–31.
    pub const GUEST_FEATURES: u16 = 0x04;
    /// Physical page number of the selected queue (address >> 12); 0 disables it.
    pub const QUEUE_PFN: u16 = 0x08;
    /// Size of the selected queue (read-only for legacy devices).
    pub const QUEUE_SIZE: u16 = 0x0C;
    /// Queue selector.
    pub const QUEUE_SELECT: u16 = 0x0E;
    /// Queue notify: write a queue index to tell the device it has new buffers.
    pub const QUEUE_NOTIFY: u16 = 0x10;
    /// Device status (§2.1); writing 0 resets the device.
    pub const DEVICE_STATUS: u16 = 0x12;
    /// ISR status, cleared by reading.
    pub const ISR_STATUS: u16 = 0x13;
    /// Start of the device-specific configuration when MSI-X is off (§4.1.4.8).
    pub const CONFIG: u16 = 0x14;
    /// virtio-net config: MAC address, 6 bytes (§5.1.4).
    pub const NET_MAC: u16 = CONFIG;
    /// virtio-net config: status, 16 bits (§5.1.4).
    pub const NET_STATUS: u16 = CONFIG + 6;
    /// Length of the window we use.
    pub const LEN: u16 = CONFIG + 8;
}

/// Device status bits (§2.1).
mod status {
    /// The guest has found the device.
    pub const ACKNOWLEDGE: u8 = 1;
    /// The guest knows how to drive it.
    pub const DRIVER: u8 = 2;
    /// The driver is ready.
    pub const DRIVER_OK: u8 = 4;
    /// The driver gave up.
    pub const FAILED: u8 = 128;
}

/// VIRTIO_NET_F_MAC: the device has a MAC address in its config (§5.1.3).
const F_MAC: u32 = 1 << 5;
/// VIRTIO_NET_F_STATUS: the config status field is valid (§5.1.3).
const F_STATUS: u32 = 1 << 16;
/// VIRTIO_NET_S_LINK_UP (§5.1.4).
const S_LINK_UP: u16 = 1;
/// VIRTQ_DESC_F_NEXT (§2.4.5).
const DESC_F_NEXT: u16 = 1;
/// VIRTQ_DESC_F_WRITE: the device writes this buffer (§2.4.5).
const DESC_F_WRITE: u16 = 2;
/// VIRTQ_AVAIL_F_NO_INTERRUPT (§2.4.7): we poll.
const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Length of the legacy `virtio_net_hdr` without mergeable buffers (§5.1.6).
pub const NET_HDR_LEN: usize = 10;
/// Legacy queue alignment (§2.4.2).
pub const QUEUE_ALIGN: usize = 4096;
/// The largest queue the static memory holds.
pub const QUEUE_MAX: u16 = 1024;
/// Receive slots (buffers) kept posted.
pub const RX_SLOTS: usize = 16;
/// Transmit slots.
pub const TX_SLOTS: usize = 16;
/// Receive queue index.
const RXQ: u16 = 0;
/// Transmit queue index.
const TXQ: u16 = 1;

/// Byte offsets of the three parts of a legacy split virtqueue of `size` entries (§2.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLayout {
    /// Descriptor table (16 bytes per entry) at offset 0.
    pub desc: usize,
    /// Available ring: flags, idx, ring[size], used_event.
    pub avail: usize,
    /// Used ring (page-aligned): flags, idx, ring[size] of (id, len), avail_event.
    pub used: usize,
    /// Total bytes.
    pub total: usize,
}

const fn align_up(x: usize, a: usize) -> usize {
    x.div_ceil(a) * a
}

impl QueueLayout {
    /// The layout of a queue of `size` entries.
    pub const fn legacy(size: u16) -> Self {
        let q = size as usize;
        let avail = 16 * q;
        let used = align_up(avail + 6 + 2 * q, QUEUE_ALIGN);
        Self {
            desc: 0,
            avail,
            used,
            total: used + align_up(6 + 8 * q, QUEUE_ALIGN),
        }
    }
}

const QUEUE_BYTES: usize = QueueLayout::legacy(QUEUE_MAX).total;

/// Memory of one virtqueue, page-aligned as the legacy interface requires.
#[repr(C, align(4096))]
pub struct QueueMem(UnsafeCell<[u8; QUEUE_BYTES]>);

/// Descriptor (§2.4.5).
#[repr(C)]
struct Desc {
    addr: Vol<u64>,
    len: Vol<u32>,
    flags: Vol<u16>,
    next: Vol<u16>,
}

/// All DMA memory of the virtio-net driver.
#[repr(C)]
pub struct VirtioDma {
    rxq: QueueMem,
    txq: QueueMem,
    rx_buf: [PacketBuf; RX_SLOTS],
    tx_buf: [PacketBuf; TX_SLOTS],
}

// SAFETY: VirtioDma consists only of bytes and PacketBufs: all-zero is valid.
static DMA: DmaRegion<VirtioDma> = unsafe { DmaRegion::zeroed() };

/// A view of one virtqueue in its [`QueueMem`]; valid while the DMA claim is held.
struct Virtq {
    base: usize,
    size: u16,
    layout: QueueLayout,
    /// Free-running count of entries we published in the available ring.
    avail_idx: u16,
    /// Free-running count of used-ring entries we have consumed.
    last_used: u16,
}

impl Virtq {
    fn new(mem: &QueueMem, size: u16) -> Self {
        Self {
            base: mem.0.get() as usize,
            size,
            layout: QueueLayout::legacy(size),
            avail_idx: 0,
            last_used: 0,
        }
    }

    fn u16_at(&self, offset: usize) -> &Vol<u16> {
        debug_assert!(offset + 2 <= self.layout.total);
        // SAFETY: offset lies inside the QueueMem (layout.total ≤ QUEUE_BYTES since size ≤
        // QUEUE_MAX), is 2-aligned, and the memory lives as long as the claim held by the driver
        // that owns this Virtq; Vol is an UnsafeCell, so a shared reference is sound under DMA.
        unsafe { &*((self.base + offset) as *const Vol<u16>) }
    }

    fn u32_at(&self, offset: usize) -> &Vol<u32> {
        debug_assert!(offset + 4 <= self.layout.total);
        // SAFETY: as in `u16_at`, 4-aligned.
        unsafe { &*((self.base + offset) as *const Vol<u32>) }
    }

    fn desc(&self, i: u16) -> &Desc {
        assert!(i < self.size);
        // SAFETY: as in `u16_at`: entry i of the descriptor table, 16-aligned.
        unsafe { &*((self.base + self.layout.desc + 16 * i as usize) as *const Desc) }
    }

    fn avail_flags(&self) -> &Vol<u16> {
        self.u16_at(self.layout.avail)
    }

    fn avail_idx(&self) -> &Vol<u16> {
        self.u16_at(self.layout.avail + 2)
    }

    fn avail_ring(&self, i: u16) -> &Vol<u16> {
        self.u16_at(self.layout.avail + 4 + 2 * ring::slot(i, self.size) as usize)
    }

    fn used_idx(&self) -> u16 {
        self.u16_at(self.layout.used + 2).get()
    }

    /// The used-ring element for free-running index `i`: (descriptor head id, bytes written).
    fn used_elem(&self, i: u16) -> (u32, u32) {
        let off = self.layout.used + 4 + 8 * ring::slot(i, self.size) as usize;
        (self.u32_at(off).get(), self.u32_at(off + 4).get())
    }

    fn clear(&self) {
        // SAFETY: the device does not use the queue yet (not published); see `u16_at`.
        unsafe { core::ptr::write_bytes(self.base as *mut u8, 0, self.layout.total) }
    }

    /// Publish descriptor chain head `head` in the available ring.
    fn publish(&mut self, head: u16) {
        self.avail_ring(self.avail_idx).set(head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        dma_barrier();
        self.avail_idx().set(self.avail_idx);
        dma_barrier();
    }

    /// The next used element, if the device returned one.
    fn pop_used(&mut self) -> Option<(u32, u32)> {
        if ring::pending(self.used_idx(), self.last_used) == 0 {
            return None;
        }
        dma_barrier();
        let e = self.used_elem(self.last_used);
        self.last_used = self.last_used.wrapping_add(1);
        Some(e)
    }
}

/// Read the MAC address from the device config (for `probe`), without resetting it.
pub fn probe_mac(pci: &PciDevice) -> Option<[u8; 6]> {
    // SAFETY: I/O decoding was enabled by `probe`; reading the feature and config registers has
    // no side effect.
    let io = unsafe { map_bar0(pci) }.ok()?;
    if io.read32(reg::HOST_FEATURES) & F_MAC == 0 {
        return None;
    }
    let mac = read_config_mac(&io);
    eeprom::mac_is_valid(&mac).then_some(mac)
}

fn read_config_mac(io: &IoPorts) -> [u8; 6] {
    let mut mac = [0u8; 6];
    for (i, b) in mac.iter_mut().enumerate() {
        *b = io.read8(reg::NET_MAC + i as u16);
    }
    mac
}

/// Map I/O BAR0.
///
/// # Safety
///
/// `pci` must be a legacy virtio device with I/O decoding enabled; nothing else may use the
/// registers meanwhile (other than `probe`'s side-effect-free reads).
unsafe fn map_bar0(pci: &PciDevice) -> Result<IoPorts, NicError> {
    let port = pci.bars[0].io_port().ok_or(NicError::NoBar)?;
    // SAFETY: BAR0 of a legacy virtio device is its I/O register block (§4.1.4.8), at least
    // 0x14 + config bytes long; the caller guarantees decoding and exclusive use.
    Ok(unsafe { IoPorts::new(port, reg::LEN) })
}

struct TxState {
    q: Virtq,
    /// Bit s set: slot s is the CPU's.
    free: u32,
    slots: u16,
}

struct RxState {
    q: Virtq,
    slots: u16,
}

/// A running virtio-net device.
pub struct VirtioNet {
    io: IoPorts,
    pci: PciDevice,
    mac: [u8; 6],
    has_status: bool,
    rx: RxState,
    tx: TxState,
    dma: DmaClaim<VirtioDma>,
}

impl VirtioNet {
    /// Reset and start the device (§3.1.1 with the legacy variations of §3.1.2): negotiate
    /// only MAC and STATUS, set up queue 0 (receive) and 1 (transmit), post receive buffers.
    pub fn new(pci: &PciDevice) -> Result<Self, NicError> {
        let dma = DMA.claim().ok_or(NicError::InUse)?;
        // SAFETY: hal is the only user of PCI configuration space (ports or ECAM).
        let mut cfg = unsafe { Config::new() };
        pci.enable(&mut cfg, command::IO_SPACE);
        // SAFETY: I/O decoding is on; the claim makes this the only VirtioNet.
        let io = unsafe { map_bar0(pci)? };

        io.write8(reg::DEVICE_STATUS, 0); // reset: the device stops using any old queues
                                          // Bus mastering only after the reset, so a device left running cannot DMA meanwhile.
        pci.enable(&mut cfg, command::BUS_MASTER);
        io.write8(reg::DEVICE_STATUS, status::ACKNOWLEDGE);
        io.write8(reg::DEVICE_STATUS, status::ACKNOWLEDGE | status::DRIVER);
        let host = io.read32(reg::HOST_FEATURES);
        let guest = host & (F_MAC | F_STATUS);
        io.write32(reg::GUEST_FEATURES, guest);
        if guest & F_MAC == 0 {
            io.write8(reg::DEVICE_STATUS, status::FAILED);
            return Err(NicError::NoMac);
        }
        let mac = read_config_mac(&io);

        let setup = |index: u16, mem: &QueueMem| -> Result<Virtq, NicError> {
            io.write16(reg::QUEUE_SELECT, index);
            let size = io.read16(reg::QUEUE_SIZE);
            if !(2..=QUEUE_MAX).contains(&size) || !size.is_power_of_two() {
                return Err(NicError::BadQueue);
            }
            let q = Virtq::new(mem, size);
            q.clear();
            q.avail_flags().set(AVAIL_F_NO_INTERRUPT);
            dma_barrier();
            io.write32(reg::QUEUE_PFN, (q.base / QUEUE_ALIGN) as u32);
            Ok(q)
        };
        let queues = setup(RXQ, &dma.rxq).and_then(|rx| Ok((rx, setup(TXQ, &dma.txq)?)));
        let (rxq, txq) = match queues {
            Ok(q) => q,
            Err(e) => {
                io.write8(reg::DEVICE_STATUS, status::FAILED);
                return Err(e);
            }
        };

        let rx_slots = (RX_SLOTS as u16).min(rxq.size / 2);
        let tx_slots = (TX_SLOTS as u16).min(txq.size / 2);
        let mut rx = RxState {
            q: rxq,
            slots: rx_slots,
        };
        for s in 0..rx_slots {
            let buf = dma.rx_buf[s as usize].addr();
            let (h, d) = (rx.q.desc(2 * s), rx.q.desc(2 * s + 1));
            h.addr.set(buf);
            h.len.set(NET_HDR_LEN as u32);
            h.flags.set(DESC_F_WRITE | DESC_F_NEXT);
            h.next.set(2 * s + 1);
            d.addr.set(buf + NET_HDR_LEN as u64);
            d.len.set((BUF_SIZE - NET_HDR_LEN) as u32);
            d.flags.set(DESC_F_WRITE);
            d.next.set(0);
            rx.q.publish(2 * s);
        }
        let tx = TxState {
            q: txq,
            free: (1u32 << tx_slots) - 1,
            slots: tx_slots,
        };

        io.write8(
            reg::DEVICE_STATUS,
            status::ACKNOWLEDGE | status::DRIVER | status::DRIVER_OK,
        );
        io.write16(reg::QUEUE_NOTIFY, RXQ);

        Ok(Self {
            io,
            pci: *pci,
            mac,
            has_status: guest & F_STATUS != 0,
            rx,
            tx,
            dma,
        })
    }

    fn reclaim_tx(tx: &mut TxState) {
        while let Some((id, _)) = tx.q.pop_used() {
            let s = id / 2;
            if id % 2 == 0 && s < u32::from(tx.slots) {
                tx.free |= 1 << s;
            }
        }
    }
}

impl NicDriver for VirtioNet {
    /// The MAC address from the device config.
    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// VIRTIO_NET_S_LINK_UP, or true when the device does not report link status.
    fn link_up(&self) -> bool {
        !self.has_status || self.io.read16(reg::NET_STATUS) & S_LINK_UP != 0
    }

    fn model(&self) -> NicModel {
        NicModel::VirtioNet
    }

    fn pci(&self) -> &PciDevice {
        &self.pci
    }
}

impl Drop for VirtioNet {
    fn drop(&mut self) {
        // Reset stops all queue processing before the static memory is released.
        self.io.write8(reg::DEVICE_STATUS, 0);
        // SAFETY: hal is the only user of PCI configuration space (ports or ECAM).
        let mut cfg = unsafe { Config::new() };
        self.pci.disable(&mut cfg, command::BUS_MASTER);
    }
}

/// A received frame: used-ring entry for slot `slot`, CPU-owned until consumed.
pub struct VirtioRxToken<'a> {
    io: &'a IoPorts,
    rx: &'a mut RxState,
    dma: &'a VirtioDma,
    slot: u16,
    len: usize,
}

/// A free transmit slot.
pub struct VirtioTxToken<'a> {
    io: &'a IoPorts,
    tx: &'a mut TxState,
    dma: &'a VirtioDma,
    slot: u16,
}

impl phy::RxToken for VirtioRxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let s = self.slot as usize;
        // SAFETY: the device returned this slot in the used ring and it is not republished
        // until after `f` returns.
        let r = f(unsafe { &self.dma.rx_buf[s].bytes()[NET_HDR_LEN..NET_HDR_LEN + self.len] });
        self.rx.q.publish(2 * self.slot);
        self.io.write16(reg::QUEUE_NOTIFY, RXQ);
        r
    }
}

impl phy::TxToken for VirtioTxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let s = self.slot;
        let len = len.min(MTU);
        let buf = &self.dma.tx_buf[s as usize];
        // SAFETY: the slot's bit in `free` was set, so the device does not hold the buffer;
        // it gets it only by `publish` below.
        let bytes = unsafe { buf.bytes_mut() };
        bytes[..NET_HDR_LEN].fill(0);
        let r = f(&mut bytes[NET_HDR_LEN..NET_HDR_LEN + len]);
        let (h, d) = (self.tx.q.desc(2 * s), self.tx.q.desc(2 * s + 1));
        h.addr.set(buf.addr());
        h.len.set(NET_HDR_LEN as u32);
        h.flags.set(DESC_F_NEXT);
        h.next.set(2 * s + 1);
        d.addr.set(buf.addr() + NET_HDR_LEN as u64);
        d.len.set(len as u32);
        d.flags.set(0);
        d.next.set(0);
        self.tx.free &= !(1 << s);
        self.tx.q.publish(2 * s);
        self.io.write16(reg::QUEUE_NOTIFY, TXQ);
        r
    }
}

impl phy::Device for VirtioNet {
    type RxToken<'a> = VirtioRxToken<'a>;
    type TxToken<'a> = VirtioTxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        Self::reclaim_tx(&mut self.tx);
        if self.tx.free == 0 {
            return None;
        }
        let (slot, len) = loop {
            let (id, written) = self.rx.q.pop_used()?;
            let s = id / 2;
            let len = (written as usize).saturating_sub(NET_HDR_LEN);
            if id % 2 == 0
                && s < u32::from(self.rx.slots)
                && len > 0
                && len <= BUF_SIZE - NET_HDR_LEN
            {
                break (s as u16, len);
            }
            // A malformed entry: give the slot back if it is one of ours, and look further.
            if id % 2 == 0 && s < u32::from(self.rx.slots) {
                self.rx.q.publish(id as u16);
            }
        };
        let tx_slot = self.tx.free.trailing_zeros() as u16;
        let rx = VirtioRxToken {
            io: &self.io,
            rx: &mut self.rx,
            dma: &self.dma,
            slot,
            len,
        };
        let tx = VirtioTxToken {
            io: &self.io,
            tx: &mut self.tx,
            dma: &self.dma,
            slot: tx_slot,
        };
        Some((rx, tx))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        Self::reclaim_tx(&mut self.tx);
        if self.tx.free == 0 {
            return None;
        }
        let slot = self.tx.free.trailing_zeros() as u16;
        Some(VirtioTxToken {
            io: &self.io,
            tx: &mut self.tx,
            dma: &self.dma,
            slot,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(self.tx.slots as usize);
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_queue_layout() {
        // QEMU's virtio-net queues: 256 entries = 3 pages.
        assert_eq!(
            QueueLayout::legacy(256),
            QueueLayout {
                desc: 0,
                avail: 4096,
                used: 8192,
                total: 12288
            }
        );
        // vring_size(128, 4096) from the legacy spec: 2048 + 6 + 256 -> 4096, + 1030 -> 8192.
        assert_eq!(
            QueueLayout::legacy(128),
            QueueLayout {
                desc: 0,
                avail: 2048,
                used: 4096,
                total: 8192
            }
        );
        assert_eq!(QueueLayout::legacy(1024).total, 16384 + 4096 + 12288);
        assert_eq!(QUEUE_BYTES, QueueLayout::legacy(QUEUE_MAX).total);
    }
}
