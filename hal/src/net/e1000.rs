//! Intel 8254x ("e1000") driver: 82540EM (QEMU `e1000`), 82545EM and 82544GC, and the PCIe
//! 82574L (QEMU `e1000e`, q35's NIC), polled.
//!
//! Reference: Intel PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's
//! Manual (8254x SDM, 317453), chapter 3 (descriptors), chapter 13 (registers), §14.3–14.5
//! (initialisation). Registers are reached through the 128 KiB memory BAR0.
//!
//! The 82574L (Intel 82574 GbE Controller Family datasheet, 317694) keeps the 8254x register
//! file and its legacy descriptors (used here: RCTL.DTYP = 0, RFCTL.EXSTEN = 0, as after
//! reset), so it is a model of this driver rather than a driver of its own. What differs, and
//! what [`E1000::new`] does about it (as U-Boot's `e1000.c` and iPXE's `intel.c` do):
//! - EERD: the word address is at bits 15:2 and DONE is bit 1 (the 8254x: bits
//!   15:8 and bit 4); see [`EerdLayout`].
//! - Reset: a PCIe device must stop mastering first (CTRL.GIO_MASTER_DISABLE, then
//!   STATUS.GIO_MASTER_ENABLE clears); after CTRL.RST the NVM auto-read ends with
//!   EECD.AUTO_RD.
//! - CTRL_EXT.DRV_LOAD tells the manageability firmware a driver owns the device, and GCR
//!   bit 22 must be set (82574 specification update; Linux `e1000_init_hw_82571`).
//!
//! Descriptor ownership (legacy descriptors, §3.2 and §3.3):
//! - Receive ring of [`RX_N`] descriptors. The device owns the slots from RDH up to RDT-1
//!   and writes a frame into each, setting DD|EOP. The CPU owns the slot at RDT (the "hole")
//!   and every slot whose DD bit it has seen set. After the CPU has consumed slot `i` it
//!   clears its status and writes RDT = i, which hands the previous hole back to the device.
//! - Transmit ring of [`TX_N`] descriptors. The CPU owns slots from `tx_clean` round to
//!   `tx_tail`-1 reversed, i.e. the ones not in flight; it fills slot `tx_tail`, advances
//!   TDT past it (the device then owns it) and reclaims slots from `tx_clean` once the device
//!   has set DD (we ask for it with RS). One slot always stays empty (see `ring`).

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use super::dma::{dma_barrier, DmaClaim, DmaRegion, Mmio, PacketBuf, Vol, BUF_SIZE};
use super::{eeprom, ring, NicDriver, NicError, NicModel, MTU};
use crate::pci::{command, Config, PciDevice};
use crate::timer;

/// Register offsets in BAR0 (8254x SDM Table 13-2).
pub mod reg {
    /// Device Control (§13.4.1).
    pub const CTRL: usize = 0x0000;
    /// Device Status (§13.4.2).
    pub const STATUS: usize = 0x0008;
    /// EEPROM/Flash Control & Data (§13.4.3).
    pub const EECD: usize = 0x0010;
    /// EEPROM Read (§13.4.4; not on the 82544).
    pub const EERD: usize = 0x0014;
    /// Extended Device Control (§13.4.6).
    pub const CTRL_EXT: usize = 0x0018;
    /// Interrupt Cause Read, cleared by reading (§13.4.17).
    pub const ICR: usize = 0x00C0;
    /// Interrupt Mask Clear (§13.4.21).
    pub const IMC: usize = 0x00D8;
    /// Receive Control (§13.4.22).
    pub const RCTL: usize = 0x0100;
    /// Transmit Control (§13.4.33).
    pub const TCTL: usize = 0x0400;
    /// Transmit Inter Packet Gap (§13.4.34).
    pub const TIPG: usize = 0x0410;
    /// Receive Descriptor Base Address Low (§13.4.25).
    pub const RDBAL: usize = 0x2800;
    /// Receive Descriptor Base Address High (§13.4.26).
    pub const RDBAH: usize = 0x2804;
    /// Receive Descriptor Length in bytes, multiple of 128 (§13.4.27).
    pub const RDLEN: usize = 0x2808;
    /// Receive Descriptor Head (§13.4.28).
    pub const RDH: usize = 0x2810;
    /// Receive Descriptor Tail (§13.4.29).
    pub const RDT: usize = 0x2818;
    /// Transmit Descriptor Base Address Low (§13.4.38).
    pub const TDBAL: usize = 0x3800;
    /// Transmit Descriptor Base Address High (§13.4.39).
    pub const TDBAH: usize = 0x3804;
    /// Transmit Descriptor Length in bytes, multiple of 128 (§13.4.40).
    pub const TDLEN: usize = 0x3808;
    /// Transmit Descriptor Head (§13.4.41).
    pub const TDH: usize = 0x3810;
    /// Transmit Descriptor Tail (§13.4.42).
    pub const TDT: usize = 0x3818;
    /// Multicast Table Array, 128 dwords (§13.5.1).
    pub const MTA: usize = 0x5200;
    /// Receive Address Low, entry 0 (§13.5.2).
    pub const RAL0: usize = 0x5400;
    /// Receive Address High, entry 0 (§13.5.3).
    pub const RAH0: usize = 0x5404;
    /// 82574: PCIe Control (GCR).
    pub const GCR: usize = 0x5B00;
}

/// CTRL bits (§13.4.1).
mod ctrl {
    /// 82574: GIO Master Disable (stop PCIe requests before a reset).
    pub const GIO_MASTER_DISABLE: u32 = 1 << 2;
    /// Link Reset.
    pub const LRST: u32 = 1 << 3;
    /// Auto-Speed Detection Enable.
    pub const ASDE: u32 = 1 << 5;
    /// Set Link Up.
    pub const SLU: u32 = 1 << 6;
    /// Invert Loss-of-Signal.
    pub const ILOS: u32 = 1 << 7;
    /// Device Reset (self-clearing).
    pub const RST: u32 = 1 << 26;
    /// VLAN Mode Enable.
    pub const VME: u32 = 1 << 30;
    /// PHY Reset.
    pub const PHY_RST: u32 = 1 << 31;
}

/// STATUS.LU: link up (§13.4.2).
const STATUS_LU: u32 = 1 << 1;
/// 82574 STATUS.GIO_MASTER_ENABLE: requests still outstanding.
const STATUS_GIO_MASTER_ENABLE: u32 = 1 << 19;
/// After CTRL.RST the device takes no register access for about 1 µs (§13.4.1).
const RST_SETTLE_US: u64 = 2;

/// 82574 EECD.AUTO_RD: the NVM auto-read after reset is done.
const EECD_AUTO_RD: u32 = 1 << 9;
/// 82574 CTRL_EXT.DRV_LOAD: a driver has loaded.
const CTRL_EXT_DRV_LOAD: u32 = 1 << 28;
/// 82574 GCR bit 22 (must be set).
const GCR_82574: u32 = 1 << 22;
/// EERD.START (§13.4.4; the same bit on the 82574).
const EERD_START: u32 = 1 << 0;

/// Where EERD keeps the word address and the DONE bit: the 8254x (§13.4.4) and the 82574
/// differ; START (bit 0) and the data (bits 31:16) are the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EerdLayout {
    /// 82540/82545: address at bits 15:8, DONE bit 4.
    Small,
    /// 82574: address at bits 15:2, DONE bit 1.
    Large,
}

impl EerdLayout {
    /// The layout of `model`.
    pub fn of(model: NicModel) -> Self {
        if model == NicModel::I82574L {
            EerdLayout::Large
        } else {
            EerdLayout::Small
        }
    }

    /// The EERD value that starts a read of `word`.
    pub fn start(self, word: u8) -> u32 {
        let shift = if self == EerdLayout::Large { 2 } else { 8 };
        (u32::from(word) << shift) | EERD_START
    }

    /// The word read, once EERD reads `value` with DONE set; `None` while not done.
    pub fn done(self, value: u32) -> Option<u16> {
        let done = if self == EerdLayout::Large {
            1 << 1
        } else {
            1 << 4
        };
        (value & done != 0).then_some((value >> 16) as u16)
    }
}
/// RAH.AV: address valid (§13.5.3).
const RAH_AV: u32 = 1 << 31;

/// RCTL bits (§13.4.22).
mod rctl {
    /// Receiver Enable.
    pub const EN: u32 = 1 << 1;
    /// Multicast Promiscuous Enable: every multicast frame (multicast TFTP: the firmware
    /// keeps only its group's datagrams from its server).
    pub const MPE: u32 = 1 << 4;
    /// Broadcast Accept Mode.
    pub const BAM: u32 = 1 << 15;
    /// Strip Ethernet CRC.
    pub const SECRC: u32 = 1 << 26;
    // BSIZE = 00 with BSEX = 0: 2048-byte buffers.
}

/// TCTL bits (§13.4.33).
mod tctl {
    /// Transmit Enable.
    pub const EN: u32 = 1 << 1;
    /// Pad Short Packets.
    pub const PSP: u32 = 1 << 3;
    /// Collision Threshold 15 (bits 11:4), the recommended value.
    pub const CT: u32 = 0x0F << 4;
    /// Collision Distance 64 bytes (bits 21:12), the full-duplex value.
    pub const COLD: u32 = 0x40 << 12;
}

/// TIPG for the 82540EM/82545EM copper PHY: IPGT 10, IPGR1 8, IPGR2 6 (§13.4.34).
const TIPG_COPPER: u32 = 10 | (8 << 10) | (6 << 20);

/// Receive descriptor status: Descriptor Done (§3.2.3.1).
const RXD_DD: u8 = 1 << 0;
/// Receive descriptor status: End Of Packet.
const RXD_EOP: u8 = 1 << 1;
/// Receive descriptor errors that mean the frame itself is bad (§3.2.3.2): CE (CRC or
/// alignment), SE (symbol), SEQ (sequence), CXE (carrier extension), RXE (data). Not TCPE
/// (bit 5) and IPE (bit 6), the receive checksum offload's verdicts (RXCSUM.TUOFL/IPOFL are on
/// after reset): a frame with a bad IP header or UDP checksum is still delivered, because the
/// firmware classifies it (trace codes `<4>`, `<5>`, `<8>`) and smoltcp checks every checksum
/// itself. QEMU's e1000 never sets TCPE/IPE; its e1000e does, so dropping on any error bit
/// hid those trace codes on the 82574L (Linux's e1000e likewise drops only on these bits).
const RXD_ERR_FRAME: u8 = 0x01 | 0x02 | 0x04 | 0x10 | 0x80;
/// Transmit descriptor command: End Of Packet (§3.3.3.1).
const TXD_EOP: u8 = 1 << 0;
/// Transmit descriptor command: Insert FCS.
const TXD_IFCS: u8 = 1 << 1;
/// Transmit descriptor command: Report Status (set DD when done).
const TXD_RS: u8 = 1 << 3;
/// Transmit descriptor status: Descriptor Done.
const TXD_DD: u8 = 1 << 0;

/// Receive descriptors (RDLEN must be a multiple of 128 bytes = 8 descriptors). Deep enough
/// to hold a burst of a TCP window (`http` offers up to 2 MiB): with 32, a server sending at
/// full window overflowed the ring between two polls and a tenth of its segments were
/// retransmissions. 256 KiB of buffers (the firmware and its .bss must stay below 2 MiB).
pub const RX_N: usize = 128;
/// Transmit descriptors.
pub const TX_N: usize = 16;

/// Legacy receive descriptor (§3.2.3).
#[repr(C)]
pub struct RxDesc {
    addr: Vol<u64>,
    length: Vol<u16>,
    checksum: Vol<u16>,
    status: Vol<u8>,
    errors: Vol<u8>,
    special: Vol<u16>,
}

/// Legacy transmit descriptor (§3.3.3).
#[repr(C)]
pub struct TxDesc {
    addr: Vol<u64>,
    length: Vol<u16>,
    cso: Vol<u8>,
    cmd: Vol<u8>,
    status: Vol<u8>,
    css: Vol<u8>,
    special: Vol<u16>,
}

/// All DMA memory of one 8254x: rings 128-byte aligned (§3.2.6, 16 bytes required, 128 helps
/// the cache), buffers 64-byte aligned.
#[repr(C, align(4096))]
pub struct E1000Dma {
    rx: [RxDesc; RX_N],
    tx: [TxDesc; TX_N],
    rx_buf: [PacketBuf; RX_N],
    tx_buf: [PacketBuf; TX_N],
}

// SAFETY: E1000Dma consists only of Vol<integer>s and PacketBufs: all-zero is valid.
static DMA: DmaRegion<E1000Dma> = unsafe { DmaRegion::zeroed() };

/// A running 8254x.
pub struct E1000 {
    regs: Mmio,
    model: NicModel,
    mac: [u8; 6],
    pci: PciDevice,
    rx: RxRing,
    tx: TxRing,
    dma: DmaClaim<E1000Dma>,
}

struct RxRing {
    /// Next slot the device will complete (the CPU looks at its DD bit).
    next: u16,
}

struct TxRing {
    /// Next slot to fill.
    tail: u16,
    /// Oldest slot in flight.
    clean: u16,
}

/// Read the MAC address without touching the rest of the device: EEPROM words 0–2 through
/// EERD when the EEPROM checksum holds, else RAL0/RAH0 (loaded from the EEPROM at reset).
pub fn read_mac(regs: &Mmio, model: NicModel) -> Option<[u8; 6]> {
    let layout = EerdLayout::of(model);
    let mut words = [0u16; eeprom::WORDS_64];
    let mut ok = true;
    for (i, w) in words.iter_mut().enumerate() {
        match eerd_read(regs, layout, i as u8) {
            Some(v) => *w = v,
            None => {
                ok = false;
                break;
            }
        }
    }
    if ok && eeprom::checksum_ok(&words) {
        let mac = eeprom::mac_from_words(&words);
        if eeprom::mac_is_valid(&mac) {
            return Some(mac);
        }
    }
    let ral = regs.read32(reg::RAL0);
    let rah = regs.read32(reg::RAH0);
    let mac = eeprom::mac_from_ral_rah(ral, rah);
    (rah & RAH_AV != 0 && eeprom::mac_is_valid(&mac)).then_some(mac)
}

/// One EEPROM word through EERD (§13.4.4), or `None` after 10 ms.
fn eerd_read(regs: &Mmio, layout: EerdLayout, word: u8) -> Option<u16> {
    regs.write32(reg::EERD, layout.start(word));
    let mut v = None;
    timer::poll_until(10_000, || {
        v = layout.done(regs.read32(reg::EERD));
        v.is_some()
    });
    v
}

/// Map BAR0 of an 8254x.
///
/// # Safety
///
/// `pci` must be an 8254x whose memory decoding is enabled, and nothing else may use its
/// registers while the returned window lives.
pub(crate) unsafe fn map_bar0(pci: &PciDevice) -> Result<Mmio, NicError> {
    let addr = pci.bars[0].mem_addr().ok_or(NicError::NoBar)?;
    if addr >= 1 << 32 {
        return Err(NicError::NoBar);
    }
    // SAFETY: BAR0 of this 8254x is its 128 KiB register window (8254x SDM §13.1), below 4 GiB
    // and so identity-mapped; the caller guarantees decoding and exclusive use.
    Ok(unsafe { Mmio::new(addr, 128 * 1024) })
}

impl E1000 {
    /// Reset and start the NIC `pci` (an 8254x): enables memory decoding and bus mastering,
    /// resets the MAC, reads the MAC address, sets up both rings and enables RX and TX.
    /// Interrupts stay masked: the driver is polled.
    ///
    /// Fails with `InUse` while another `E1000` exists (the DMA memory is a single static).
    pub fn new(pci: &PciDevice, model: NicModel) -> Result<Self, NicError> {
        let dma = DMA.claim().ok_or(NicError::InUse)?;
        // SAFETY: hal is the only user of PCI configuration space (single-threaded).
        let mut cfg = unsafe { Config::new() };
        // Bus mastering only once the device is reset and its rings point at our memory:
        // a NIC left running by an option ROM must not DMA meanwhile.
        pci.enable(&mut cfg, command::MEMORY_SPACE);
        // SAFETY: memory decoding is on; the `InUse` claim above makes this the only driver
        // value for an 8254x, and `probe` only reads EERD/RAL/RAH, which is harmless meanwhile.
        let regs = unsafe { map_bar0(pci)? };

        // Global reset (§14.5 / §13.4.1): mask interrupts first, then RST, wait for it to clear.
        let pcie = model == NicModel::I82574L;
        regs.write32(reg::IMC, 0xFFFF_FFFF);
        if pcie {
            // 82574: no PCIe request may be outstanding when the reset comes.
            regs.write32(reg::CTRL, regs.read32(reg::CTRL) | ctrl::GIO_MASTER_DISABLE);
            timer::poll_until(10_000, || {
                regs.read32(reg::STATUS) & STATUS_GIO_MASTER_ENABLE == 0
            });
        }
        regs.write32(reg::CTRL, regs.read32(reg::CTRL) | ctrl::RST);
        // §13.4.1: about 1 µs before the device answers again; then its own bit says when
        // the reset is done (no fixed millisecond: QEMU clears it at once).
        timer::delay_us(RST_SETTLE_US);
        if !timer::poll_until(100_000, || regs.read32(reg::CTRL) & ctrl::RST == 0) {
            return Err(NicError::ResetTimeout);
        }
        regs.write32(reg::IMC, 0xFFFF_FFFF);
        let _ = regs.read32(reg::ICR);
        if pcie {
            // The NVM auto-read (MAC address, RAL0/RAH0) ends before the EEPROM is ours.
            timer::poll_until(10_000, || regs.read32(reg::EECD) & EECD_AUTO_RD != 0);
            regs.write32(
                reg::CTRL_EXT,
                regs.read32(reg::CTRL_EXT) | CTRL_EXT_DRV_LOAD,
            );
            regs.write32(reg::GCR, regs.read32(reg::GCR) | GCR_82574);
        }

        // Link setup (§14.3, general configuration): set link up and let the MAC follow the PHY.
        let c = regs.read32(reg::CTRL);
        regs.write32(
            reg::CTRL,
            (c | ctrl::SLU | ctrl::ASDE) & !(ctrl::LRST | ctrl::PHY_RST | ctrl::ILOS | ctrl::VME),
        );

        let mac = read_mac(&regs, model).ok_or(NicError::NoMac)?;
        let (ral, rah) = eeprom::ral_rah_from_mac(&mac);
        regs.write32(reg::RAL0, ral);
        regs.write32(reg::RAH0, rah | RAH_AV);
        for i in 0..128 {
            regs.write32(reg::MTA + 4 * i, 0);
        }

        pci.enable(&mut cfg, command::BUS_MASTER);

        // Receive ring (§14.4): every descriptor points at its buffer; the device gets all but
        // the hole at RDT = RX_N - 1.
        for (d, b) in dma.rx.iter().zip(dma.rx_buf.iter()) {
            d.addr.set(b.addr());
            d.length.set(0);
            d.checksum.set(0);
            d.status.set(0);
            d.errors.set(0);
            d.special.set(0);
        }
        let rx_base = dma.rx.as_ptr() as u64;
        regs.write32(reg::RDBAL, rx_base as u32);
        regs.write32(reg::RDBAH, (rx_base >> 32) as u32);
        regs.write32(reg::RDLEN, (RX_N * core::mem::size_of::<RxDesc>()) as u32);
        regs.write32(reg::RDH, 0);
        dma_barrier();
        regs.write32(reg::RDT, (RX_N - 1) as u32);
        regs.write32(reg::RCTL, rctl::EN | rctl::MPE | rctl::BAM | rctl::SECRC);

        // Transmit ring (§14.5): all descriptors CPU-owned, TDH = TDT = 0.
        for (d, b) in dma.tx.iter().zip(dma.tx_buf.iter()) {
            d.addr.set(b.addr());
            d.length.set(0);
            d.cso.set(0);
            d.cmd.set(0);
            d.status.set(TXD_DD);
            d.css.set(0);
            d.special.set(0);
        }
        let tx_base = dma.tx.as_ptr() as u64;
        regs.write32(reg::TDBAL, tx_base as u32);
        regs.write32(reg::TDBAH, (tx_base >> 32) as u32);
        regs.write32(reg::TDLEN, (TX_N * core::mem::size_of::<TxDesc>()) as u32);
        regs.write32(reg::TDH, 0);
        regs.write32(reg::TDT, 0);
        regs.write32(reg::TIPG, TIPG_COPPER);
        regs.write32(reg::TCTL, tctl::EN | tctl::PSP | tctl::CT | tctl::COLD);

        // The reset restarted auto-negotiation (QEMU models it as 500 ms of link down; real
        // PHYs take up to ~3 s). Frames sent meanwhile are lost: callers wait for `link_up`
        // before they need the wire (the monitor does, with the console still served).

        Ok(Self {
            regs,
            model,
            mac,
            pci: *pci,
            rx: RxRing { next: 0 },
            tx: TxRing { tail: 0, clean: 0 },
            dma,
        })
    }

    /// Reclaim transmit slots the device has finished with.
    fn reclaim_tx(tx: &mut TxRing, dma: &E1000Dma) {
        while tx.clean != tx.tail && dma.tx[tx.clean as usize].status.get() & TXD_DD != 0 {
            tx.clean = ring::next(tx.clean, TX_N as u16);
        }
    }

    fn tx_token(&mut self) -> Option<E1000TxToken<'_>> {
        Self::reclaim_tx(&mut self.tx, &self.dma);
        (ring::free_slots(self.tx.clean, self.tx.tail, TX_N as u16) > 0).then(|| E1000TxToken {
            regs: &self.regs,
            tx: &mut self.tx,
            dma: &self.dma,
        })
    }
}

impl NicDriver for E1000 {
    /// The MAC address read from the EEPROM (or RAL0/RAH0).
    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// STATUS.LU: the PHY reports link.
    fn link_up(&self) -> bool {
        self.regs.read32(reg::STATUS) & STATUS_LU != 0
    }

    /// Which 8254x this is.
    fn model(&self) -> NicModel {
        self.model
    }

    fn pci(&self) -> &PciDevice {
        &self.pci
    }
}

impl Drop for E1000 {
    fn drop(&mut self) {
        // Stop DMA before the claim on the static rings is released (field drop order runs
        // after this body).
        self.regs.write32(reg::RCTL, 0);
        self.regs.write32(reg::TCTL, 0);
        self.regs.write32(reg::IMC, 0xFFFF_FFFF);
        self.regs
            .write32(reg::CTRL, self.regs.read32(reg::CTRL) | ctrl::RST);
        timer::delay_us(RST_SETTLE_US);
        // Bus mastering goes off once the reset has stopped the device (its own bit, at
        // most 100 ms, as in `new`).
        timer::poll_until(100_000, || self.regs.read32(reg::CTRL) & ctrl::RST == 0);
        // SAFETY: hal is the only user of PCI configuration space (ports or ECAM).
        let mut cfg = unsafe { Config::new() };
        self.pci.disable(&mut cfg, command::BUS_MASTER);
    }
}

/// A received frame in the receive slot `rx.next`, owned by the CPU until consumed.
pub struct E1000RxToken<'a> {
    regs: &'a Mmio,
    rx: &'a mut RxRing,
    dma: &'a E1000Dma,
}

/// A free transmit slot at `tx.tail`.
pub struct E1000TxToken<'a> {
    regs: &'a Mmio,
    tx: &'a mut TxRing,
    dma: &'a E1000Dma,
}

impl phy::RxToken for E1000RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let i = self.rx.next as usize;
        let d = &self.dma.rx[i];
        let len = (d.length.get() as usize).min(BUF_SIZE);
        // SAFETY: DD is set on slot i (checked in `receive`), so the device has finished with
        // the buffer and will not touch it again until RDT moves past it below.
        let r = f(unsafe { &self.dma.rx_buf[i].bytes()[..len] });
        d.status.set(0);
        dma_barrier();
        // Slot i becomes the hole; the previous hole goes back to the device.
        self.regs.write32(reg::RDT, i as u32);
        self.rx.next = ring::next(self.rx.next, RX_N as u16);
        r
    }
}

impl phy::TxToken for E1000TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let i = self.tx.tail as usize;
        let len = len.min(MTU);
        // SAFETY: slot i is not in flight (free_slots > 0 and it lies between tail and clean),
        // so the device does not read the buffer until TDT moves past it below.
        let r = f(unsafe { &mut self.dma.tx_buf[i].bytes_mut()[..len] });
        let d = &self.dma.tx[i];
        d.length.set(len as u16);
        d.cso.set(0);
        d.css.set(0);
        d.special.set(0);
        d.status.set(0);
        d.cmd.set(TXD_EOP | TXD_IFCS | TXD_RS);
        self.tx.tail = ring::next(self.tx.tail, TX_N as u16);
        dma_barrier();
        self.regs.write32(reg::TDT, u32::from(self.tx.tail));
        r
    }
}

impl phy::Device for E1000 {
    type RxToken<'a> = E1000RxToken<'a>;
    type TxToken<'a> = E1000TxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        loop {
            let i = self.rx.next as usize;
            let status = self.dma.rx[i].status.get();
            if status & RXD_DD == 0 {
                return None;
            }
            // DD seen: no read of the descriptor or buffer may be hoisted above it.
            dma_barrier();
            // A frame larger than one buffer (not possible with 2048-byte buffers and no
            // long-packet mode) or one with frame errors is dropped here and the slot recycled.
            if status & RXD_EOP == 0 || self.dma.rx[i].errors.get() & RXD_ERR_FRAME != 0 {
                self.dma.rx[i].status.set(0);
                dma_barrier();
                self.regs.write32(reg::RDT, i as u32);
                self.rx.next = ring::next(self.rx.next, RX_N as u16);
                continue;
            }
            break;
        }
        Self::reclaim_tx(&mut self.tx, &self.dma);
        if ring::free_slots(self.tx.clean, self.tx.tail, TX_N as u16) == 0 {
            return None;
        }
        let rx = E1000RxToken {
            regs: &self.regs,
            rx: &mut self.rx,
            dma: &self.dma,
        };
        let tx = E1000TxToken {
            regs: &self.regs,
            tx: &mut self.tx,
            dma: &self.dma,
        };
        Some((rx, tx))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        self.tx_token()
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(TX_N - 1);
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eerd_layouts_place_address_and_done_where_each_model_has_them() {
        assert_eq!(EerdLayout::of(NicModel::I82540EM), EerdLayout::Small);
        assert_eq!(EerdLayout::of(NicModel::I82574L), EerdLayout::Large);
        // 8254x: word 0x3F at bits 15:8; 82574: at bits 15:2.
        assert_eq!(EerdLayout::Small.start(0x3F), 0x3F01);
        assert_eq!(EerdLayout::Large.start(0x3F), 0xFD);
        // QEMU's e1000e answers word 1 of 52:54:00:12:34:56 as DONE | addr << 2 | data << 16.
        let e1000e = 0x1200_0000 | 1 << 2 | 1 << 1;
        assert_eq!(EerdLayout::Large.done(e1000e), Some(0x1200));
        assert_eq!(
            EerdLayout::Small.done(e1000e),
            None,
            "bit 1 is no 8254x DONE"
        );
        let e1000 = 0x1200_0000 | 1 << 8 | 1 << 4;
        assert_eq!(EerdLayout::Small.done(e1000), Some(0x1200));
        assert_eq!(
            EerdLayout::Large.done(e1000 & !(1 << 1)),
            None,
            "bit 4 is address bit 2 on the 82574"
        );
        assert_eq!(EerdLayout::Large.done(EerdLayout::Large.start(5)), None);
    }
}
