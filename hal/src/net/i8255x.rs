//! Intel 8255x 10/100 driver (82557, 82558, 82559, 82550/1, 82559ER — the PIX's NICs), polled.
//!
//! Reference: Intel 8255x 10/100 Mbps Ethernet Controller Family Open Source Software
//! Developer Manual (2006), chapter 6 "Host Software Interface": "Control/Status Registers",
//! "System Control Block", "Action Commands", "Receive Frame Area", "EEPROM Interface",
//! "MDI Control Register". Section titles are named below since numbering differs between
//! revisions of the manual. CSR through memory BAR0 (4 KiB) or, failing that, I/O BAR1.
//!
//! Memory model: linear addressing (CU and RU base 0, so every pointer is a bus address) and
//! the *simplified* frame layout (frame data directly after the RFD / TxCB header).
//!
//! Ownership:
//! - Receive Frame Area: [`RX_N`] RFDs linked in a ring. The RU owns every RFD from where it
//!   is up to the one carrying EL; the CPU owns an RFD once its C bit is set. After consuming
//!   RFD `i` the CPU clears it, sets EL on it and clears EL on RFD `i-1`, so EL always marks
//!   the RFD most recently given back. If the RU ran into EL (no resources), the CPU restarts
//!   it at the next RFD it expects, once everything before has been consumed.
//! - Transmit: [`TX_N`] TxCBs linked in a ring, each with the S (suspend) bit so the CU
//!   suspends after every frame and never runs into a stale TxCB. The CPU owns TxCBs from
//!   `tx_tail` to `tx_clean`-1 (one always empty); it fills TxCB `tail` and starts the CU at it
//!   (CU idle) or resumes it (CU suspended after `tail-1`); TxCB `clean` is reclaimed when C
//!   is set. A resume that the CU missed because it was still active is repeated by `kick_cu`.

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use super::dma::{dma_barrier, Bytes, DmaClaim, DmaRegion, IoPorts, Mmio, Vol};
use super::eeprom::{self, MicrowireBus};
use super::{ring, NicDriver, NicError, NicModel, MTU};
use crate::pci::{command, Config, PciDevice};
use crate::timer;

/// CSR offsets ("Control/Status Registers").
pub mod reg {
    /// SCB Status Word, low byte: CU status (bits 7:6), RU status (bits 5:2).
    pub const SCB_STATUS: u16 = 0x00;
    /// SCB Status Word, high byte: STAT/ACK bits; write 1s to acknowledge.
    pub const SCB_STATACK: u16 = 0x01;
    /// SCB Command Word, low byte: CU command (bits 7:4), RU command (bits 2:0); reads 0 once
    /// the command is accepted.
    pub const SCB_COMMAND: u16 = 0x02;
    /// SCB Command Word, high byte: interrupt mask (bit 0 M masks all).
    pub const SCB_INTMASK: u16 = 0x03;
    /// SCB General Pointer: operand of CU/RU commands.
    pub const SCB_POINTER: u16 = 0x04;
    /// PORT: software reset, self-test, selective reset, dump.
    pub const PORT: u16 = 0x08;
    /// EEPROM Control Register: EESK bit 0, EECS bit 1, EEDI bit 2, EEDO bit 3.
    pub const EEPROM_CTRL: u16 = 0x0E;
    /// MDI Control Register: data 15:0, register 20:16, PHY 25:21, opcode 27:26, ready 28.
    pub const MDI_CTRL: u16 = 0x10;
    /// Bytes of the window used.
    pub const LEN: u16 = 0x14;
}

/// SCB CU commands ("SCB Command Word").
mod cuc {
    /// Start the CU at the General Pointer.
    pub const START: u8 = 0x10;
    /// Resume a suspended CU at the link of the last command block.
    pub const RESUME: u8 = 0x20;
    /// Load CU base from the General Pointer.
    pub const LOAD_BASE: u8 = 0x60;
}
/// SCB RU commands ("SCB Command Word").
mod ruc {
    /// Start the RU at the RFD in the General Pointer.
    pub const START: u8 = 0x01;
    /// Load RU base from the General Pointer.
    pub const LOAD_BASE: u8 = 0x06;
}

/// CU status field values (SCB Status Word bits 7:6).
const CUS_IDLE: u8 = 0;
const CUS_SUSPENDED: u8 = 1;
/// RU status Ready (SCB Status Word bits 5:2).
const RUS_READY: u8 = 4;

/// PORT selections ("PORT Interface").
const PORT_SOFTWARE_RESET: u32 = 0;
const PORT_SELECTIVE_RESET: u32 = 2;

/// Command block / RFD status: Complete.
const ST_C: u16 = 1 << 15;
/// Command block / RFD status: OK.
const ST_OK: u16 = 1 << 13;
/// Command: End of List.
const CMD_EL: u16 = 1 << 15;
/// Command: Suspend after this block.
const CMD_S: u16 = 1 << 14;
/// Action command: Individual Address Setup.
const CMD_IA_SETUP: u16 = 1;
/// Action command: Configure.
const CMD_CONFIGURE: u16 = 2;
/// Action command: Transmit.
const CMD_TRANSMIT: u16 = 4;
/// Simplified-mode TBD array address ("Transmit Command").
const TBD_NONE: u32 = 0xFFFF_FFFF;
/// TxCB byte count: EOF, the whole frame is in the TxCB.
const TX_EOF: u16 = 1 << 15;
/// RFD actual count mask (bits 13:0).
const RFD_COUNT_MASK: u16 = 0x3FFF;

/// Configure command parameters, 22 bytes ("Configure Command"): byte 7 keeps short frames
/// (bit 0 clear; QEMU hands up 60-byte frames), byte 15 no promiscuous, byte 18 padding on
/// and no CRC transfer, byte 20 no multiple IA, byte 8 MII mode, byte 21 bit 3 Multicast All
/// (multicast TFTP: the firmware keeps only its group's datagrams from its server).
pub const CONFIG: [u8; 22] = [
    22, 0x08, 0x00, 0x00, 0x00, 0x00, 0x32, 0x02, 0x01, 0x00, 0x2E, 0x00, 0x60, 0x00, 0xF2, 0x48,
    0x00, 0x40, 0xF2, 0x80, 0x3F, 0x0D,
];

/// Receive Frame Descriptors.
pub const RX_N: usize = 16;
/// Transmit command blocks.
pub const TX_N: usize = 16;
/// Frame bytes after each RFD/TxCB header (≥ 1514, multiple of 16).
const FRAME_AREA: usize = 1520;

/// Receive Frame Descriptor, simplified mode ("Receive Frame Area").
#[repr(C, align(16))]
struct Rfd {
    status: Vol<u16>,
    command: Vol<u16>,
    link: Vol<u32>,
    rbd: Vol<u32>,
    count: Vol<u16>,
    size: Vol<u16>,
    data: Bytes<FRAME_AREA>,
}

/// Transmit Command Block, simplified mode ("Transmit Command").
#[repr(C, align(16))]
struct TxCb {
    status: Vol<u16>,
    command: Vol<u16>,
    link: Vol<u32>,
    tbd_array: Vol<u32>,
    byte_count: Vol<u16>,
    threshold: Vol<u8>,
    tbd_count: Vol<u8>,
    data: Bytes<FRAME_AREA>,
}

/// A non-transmit action command block (Configure, IA Setup).
#[repr(C, align(16))]
struct ActionCb {
    status: Vol<u16>,
    command: Vol<u16>,
    link: Vol<u32>,
    params: [Vol<u8>; 24],
}

/// All DMA memory of the 8255x driver.
#[repr(C, align(4096))]
pub struct I8255xDma {
    action: ActionCb,
    rfd: [Rfd; RX_N],
    tx: [TxCb; TX_N],
}

// SAFETY: I8255xDma consists only of Vol<integer>s and bytes: all-zero is valid.
static DMA: DmaRegion<I8255xDma> = unsafe { DmaRegion::zeroed() };

/// The CSR window, memory-mapped or in I/O space.
pub enum Csr {
    /// BAR0.
    Mem(Mmio),
    /// BAR1.
    Io(IoPorts),
}

impl Csr {
    /// Map the CSR: memory BAR0 when it is below 4 GiB, else I/O BAR1.
    ///
    /// # Safety
    ///
    /// `pci` must be an 8255x with memory and I/O decoding enabled, and nothing else may
    /// use its CSR meanwhile (other than `probe`'s EEPROM reads while no driver reads it).
    pub unsafe fn map(pci: &PciDevice) -> Result<Csr, NicError> {
        if let Some(addr) = pci.bars[0].mem_addr().filter(|&a| a < 1 << 32) {
            // SAFETY: BAR0 of an 8255x is its 4 KiB CSR window; caller guarantees the rest.
            return Ok(Csr::Mem(unsafe { Mmio::new(addr, 4096) }));
        }
        let port = pci.bars[1].io_port().ok_or(NicError::NoBar)?;
        // SAFETY: BAR1 of an 8255x is its 32/64-port CSR window; caller guarantees the rest.
        Ok(Csr::Io(unsafe { IoPorts::new(port, reg::LEN) }))
    }

    /// Read a byte register.
    pub fn read8(&self, off: u16) -> u8 {
        match self {
            Csr::Mem(m) => m.read8(off as usize),
            Csr::Io(p) => p.read8(off),
        }
    }
    /// Write a byte register.
    pub fn write8(&self, off: u16, v: u8) {
        match self {
            Csr::Mem(m) => m.write8(off as usize, v),
            Csr::Io(p) => p.write8(off, v),
        }
    }
    /// Read a word register.
    pub fn read16(&self, off: u16) -> u16 {
        match self {
            Csr::Mem(m) => m.read16(off as usize),
            Csr::Io(p) => p.read16(off),
        }
    }
    /// Write a word register.
    pub fn write16(&self, off: u16, v: u16) {
        match self {
            Csr::Mem(m) => m.write16(off as usize, v),
            Csr::Io(p) => p.write16(off, v),
        }
    }
    /// Read a dword register.
    pub fn read32(&self, off: u16) -> u32 {
        match self {
            Csr::Mem(m) => m.read32(off as usize),
            Csr::Io(p) => p.read32(off),
        }
    }
    /// Write a dword register.
    pub fn write32(&self, off: u16, v: u32) {
        match self {
            Csr::Mem(m) => m.write32(off as usize, v),
            Csr::Io(p) => p.write32(off, v),
        }
    }
}

/// The EEPROM Control Register as a Microwire bus.
/// The serial EEPROM's Microwire lines in the EEPROM control register; bit timing
/// through `embedded_hal::delay::DelayNs` (the TSC delay).
struct EepromBus<'a>(&'a Csr, timer::Delay);

impl MicrowireBus for EepromBus<'_> {
    fn drive(&mut self, cs: bool, sk: bool, di: bool) {
        let v = u16::from(sk) | u16::from(cs) << 1 | u16::from(di) << 2;
        self.0.write16(reg::EEPROM_CTRL, v);
        // Flush a posted MMIO write before timing the half period.
        let _ = self.0.read16(reg::SCB_STATUS);
    }
    fn data_out(&mut self) -> bool {
        self.0.read16(reg::EEPROM_CTRL) & (1 << 3) != 0
    }
    fn half_period(&mut self) {
        // 8255x datasheet: SK period >= 1 us (82559 serial EEPROM); 4 us is safe for all.
        embedded_hal::delay::DelayNs::delay_us(&mut self.1, 4);
    }
}

/// The MAC address from EEPROM words 0–2 (for `probe`).
pub fn probe_mac(pci: &PciDevice) -> Option<[u8; 6]> {
    // SAFETY: `probe` enabled decoding; EEPROM reads do not disturb a running CU/RU.
    let csr = unsafe { Csr::map(pci) }.ok()?;
    let mut bus = EepromBus(&csr, timer::Delay);
    let bits = eeprom::address_bits(&mut bus)?;
    let mut w = [0u16; 3];
    for (i, x) in w.iter_mut().enumerate() {
        *x = eeprom::read_word(&mut bus, bits, i as u16)?;
    }
    let mac = eeprom::mac_from_words(&w);
    eeprom::mac_is_valid(&mac).then_some(mac)
}

/// A running 8255x.
pub struct I8255x {
    csr: Csr,
    model: NicModel,
    pci: PciDevice,
    mac: [u8; 6],
    phy: u8,
    rx: RxState,
    tx: TxState,
    dma: DmaClaim<I8255xDma>,
}

struct RxState {
    /// Next RFD the CPU expects to complete.
    next: u16,
}

struct TxState {
    tail: u16,
    clean: u16,
}

fn bus_addr<T>(x: &T) -> u32 {
    x as *const T as usize as u32
}

fn wait_command_accepted(csr: &Csr) -> Result<(), NicError> {
    if timer::poll_until(10_000, || csr.read8(reg::SCB_COMMAND) == 0) {
        Ok(())
    } else {
        Err(NicError::CommandTimeout)
    }
}

fn scb_command(csr: &Csr, pointer: Option<u32>, cmd: u8) -> Result<(), NicError> {
    wait_command_accepted(csr)?;
    if let Some(p) = pointer {
        csr.write32(reg::SCB_POINTER, p);
    }
    dma_barrier();
    csr.write8(reg::SCB_COMMAND, cmd);
    wait_command_accepted(csr)
}

fn cu_status(csr: &Csr) -> u8 {
    csr.read8(reg::SCB_STATUS) >> 6
}

fn ru_status(csr: &Csr) -> u8 {
    (csr.read8(reg::SCB_STATUS) >> 2) & 0xF
}

impl I8255x {
    /// Reset and start the 8255x `pci`: PORT reset, EEPROM read (MAC, PHY address),
    /// CU/RU base 0, Configure, IA Setup, receive ring, RU start. Interrupts stay masked.
    pub fn new(pci: &PciDevice, model: NicModel) -> Result<Self, NicError> {
        let dma = DMA.claim().ok_or(NicError::InUse)?;
        // SAFETY: hal is the only user of PCI configuration space (ports or ECAM).
        let mut cfg = unsafe { Config::new() };
        pci.enable(&mut cfg, command::MEMORY_SPACE | command::IO_SPACE);
        // SAFETY: decoding is on; the claim makes this the only I8255x.
        let csr = unsafe { Csr::map(pci)? };

        // "Software Reset": selective reset stops DMA cleanly, then a full reset.
        csr.write32(reg::PORT, PORT_SELECTIVE_RESET);
        timer::delay_us(20);
        csr.write32(reg::PORT, PORT_SOFTWARE_RESET);
        timer::delay_us(20);
        csr.write8(reg::SCB_INTMASK, 1);
        // Bus mastering only after the reset, so a NIC left running cannot DMA meanwhile.
        pci.enable(&mut cfg, command::BUS_MASTER);

        // EEPROM: MAC in words 0-2, primary PHY address in word 6 bits 4:0.
        let mut bus = EepromBus(&csr, timer::Delay);
        let bits = eeprom::address_bits(&mut bus).ok_or(NicError::NoMac)?;
        let nwords = 1usize << bits;
        let mut words = [0u16; 256];
        for (i, w) in words.iter_mut().enumerate().take(nwords) {
            *w = eeprom::read_word(&mut bus, bits, i as u16).ok_or(NicError::NoMac)?;
        }
        if !eeprom::checksum_ok(&words[..nwords]) {
            log::warn!("i8255x {}: EEPROM checksum bad", pci.bdf());
        }
        let mac = eeprom::mac_from_words(&words);
        if !eeprom::mac_is_valid(&mac) {
            return Err(NicError::NoMac);
        }
        let phy = match words[6] & 0x1F {
            0 => 1,
            a => a as u8,
        };

        scb_command(&csr, Some(0), cuc::LOAD_BASE)?;
        scb_command(&csr, Some(0), ruc::LOAD_BASE)?;

        let mut dev = Self {
            csr,
            model,
            pci: *pci,
            mac,
            phy,
            rx: RxState { next: 0 },
            tx: TxState { tail: 0, clean: 0 },
            dma,
        };
        let mut params = [0u8; 24];
        params[..CONFIG.len()].copy_from_slice(&CONFIG);
        dev.action(CMD_CONFIGURE, &params)?;
        params = [0u8; 24];
        params[..6].copy_from_slice(&mac);
        dev.action(CMD_IA_SETUP, &params)?;

        // Receive Frame Area: a ring, EL on the last RFD.
        for i in 0..RX_N {
            let r = &dev.dma.rfd[i];
            r.status.set(0);
            r.command.set(if i == RX_N - 1 { CMD_EL } else { 0 });
            r.link.set(bus_addr(
                &dev.dma.rfd[ring::next(i as u16, RX_N as u16) as usize],
            ));
            r.rbd.set(TBD_NONE);
            r.count.set(0);
            r.size.set(FRAME_AREA as u16);
        }
        // Transmit ring: CPU-owned, linked.
        for i in 0..TX_N {
            let t = &dev.dma.tx[i];
            t.status.set(ST_C);
            t.command.set(0);
            t.link.set(bus_addr(
                &dev.dma.tx[ring::next(i as u16, TX_N as u16) as usize],
            ));
            t.tbd_array.set(TBD_NONE);
        }
        scb_command(&dev.csr, Some(bus_addr(&dev.dma.rfd[0])), ruc::START)?;
        Ok(dev)
    }

    /// Run one action command on the idle CU and wait for it to complete.
    fn action(&mut self, cmd: u16, params: &[u8; 24]) -> Result<(), NicError> {
        let a = &self.dma.action;
        a.status.set(0);
        a.command.set(CMD_EL | cmd);
        a.link.set(bus_addr(a));
        for (p, v) in a.params.iter().zip(params) {
            p.set(*v);
        }
        scb_command(&self.csr, Some(bus_addr(a)), cuc::START)?;
        if timer::poll_until(100_000, || a.status.get() & ST_C != 0) {
            Ok(())
        } else {
            Err(NicError::CommandTimeout)
        }
    }

    /// Read PHY register `reg` through the MDI Control Register; `None` on timeout.
    pub fn mdi_read(&self, phy_reg: u8) -> Option<u16> {
        let v = (2u32 << 26) | (u32::from(self.phy) << 21) | (u32::from(phy_reg & 0x1F) << 16);
        self.csr.write32(reg::MDI_CTRL, v);
        let mut r = 0;
        timer::poll_until(2_000, || {
            r = self.csr.read32(reg::MDI_CTRL);
            r & (1 << 28) != 0
        })
        .then_some(r as u16)
    }

    fn reclaim_tx(tx: &mut TxState, dma: &I8255xDma) {
        while tx.clean != tx.tail && dma.tx[tx.clean as usize].status.get() & ST_C != 0 {
            tx.clean = ring::next(tx.clean, TX_N as u16);
        }
    }

    /// Resume the CU if it suspended with a TxCB still waiting (a resume issued while it was
    /// still active is ignored by the hardware).
    fn kick_cu(csr: &Csr, tx: &TxState, dma: &I8255xDma) {
        if tx.clean != tx.tail
            && dma.tx[tx.clean as usize].status.get() & ST_C == 0
            && cu_status(csr) == CUS_SUSPENDED
        {
            let _ = scb_command(csr, None, cuc::RESUME);
        }
    }

    /// Restart the RU if it stopped (no resources) and the RFD it should fill next is free.
    fn restart_ru(&self) {
        let next = &self.dma.rfd[self.rx.next as usize];
        if next.status.get() & ST_C == 0 && ru_status(&self.csr) != RUS_READY {
            let _ = scb_command(&self.csr, Some(bus_addr(next)), ruc::START);
        }
    }

    fn poll(&mut self) {
        // Acknowledge whatever happened; nothing is delivered as an interrupt anyway.
        let ack = self.csr.read8(reg::SCB_STATACK);
        if ack != 0 {
            self.csr.write8(reg::SCB_STATACK, ack);
        }
        Self::reclaim_tx(&mut self.tx, &self.dma);
        Self::kick_cu(&self.csr, &self.tx, &self.dma);
    }

    /// Give RFD `i` back to the RU ("Receive Frame Area" with EL handling).
    fn recycle_rfd(rx: &mut RxState, dma: &I8255xDma) {
        let i = rx.next;
        let r = &dma.rfd[i as usize];
        r.status.set(0);
        r.count.set(0);
        r.size.set(FRAME_AREA as u16);
        r.command.set(CMD_EL);
        dma_barrier();
        let p = &dma.rfd[ring::prev(i, RX_N as u16) as usize];
        p.command.set(0);
        rx.next = ring::next(i, RX_N as u16);
    }
}

impl NicDriver for I8255x {
    /// The MAC address read from the EEPROM.
    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Link status from the PHY's status register (MII register 1, bit 2; latched low, so
    /// read twice).
    fn link_up(&self) -> bool {
        let _ = self.mdi_read(1);
        self.mdi_read(1).is_some_and(|s| s & (1 << 2) != 0)
    }

    /// Which 8255x this is.
    fn model(&self) -> NicModel {
        self.model
    }

    fn pci(&self) -> &PciDevice {
        &self.pci
    }
}

impl Drop for I8255x {
    fn drop(&mut self) {
        // Stop CU and RU DMA before the static memory is released.
        self.csr.write32(reg::PORT, PORT_SELECTIVE_RESET);
        timer::delay_us(20);
        self.csr.write32(reg::PORT, PORT_SOFTWARE_RESET);
        timer::delay_us(20);
        // SAFETY: hal is the only user of PCI configuration space (ports or ECAM).
        let mut cfg = unsafe { Config::new() };
        self.pci.disable(&mut cfg, command::BUS_MASTER);
    }
}

/// A completed RFD at `rx.next`, CPU-owned until consumed.
pub struct I8255xRxToken<'a> {
    rx: &'a mut RxState,
    dma: &'a I8255xDma,
}

/// A free TxCB at `tx.tail`.
pub struct I8255xTxToken<'a> {
    csr: &'a Csr,
    tx: &'a mut TxState,
    dma: &'a I8255xDma,
}

impl phy::RxToken for I8255xRxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let r = &self.dma.rfd[self.rx.next as usize];
        let len = ((r.count.get() & RFD_COUNT_MASK) as usize).min(FRAME_AREA);
        // SAFETY: C is set on this RFD (checked in `receive`): the RU has finished with it and
        // does not come back before `recycle_rfd` below.
        let out = f(unsafe { &r.data.get()[..len] });
        I8255x::recycle_rfd(self.rx, self.dma);
        out
    }
}

impl phy::TxToken for I8255xTxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let i = self.tx.tail;
        let t = &self.dma.tx[i as usize];
        let len = len.min(MTU);
        // SAFETY: TxCB i is not in flight (free_slots > 0), so the CU does not read it until the
        // start/resume below.
        let out = f(unsafe { &mut t.data.get_mut()[..len] });
        t.status.set(0);
        t.tbd_array.set(TBD_NONE);
        t.byte_count.set(len as u16 | TX_EOF);
        t.threshold.set(0xE0);
        t.tbd_count.set(0);
        t.command.set(CMD_TRANSMIT | CMD_S);
        self.tx.tail = ring::next(i, TX_N as u16);
        dma_barrier();
        let started = if cu_status(self.csr) == CUS_IDLE {
            scb_command(self.csr, Some(bus_addr(t)), cuc::START)
        } else {
            scb_command(self.csr, None, cuc::RESUME)
        };
        if started.is_err() {
            log::warn!("i8255x: CU command not accepted");
        }
        out
    }
}

impl phy::Device for I8255x {
    type RxToken<'a> = I8255xRxToken<'a>;
    type TxToken<'a> = I8255xTxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.poll();
        loop {
            let r = &self.dma.rfd[self.rx.next as usize];
            let st = r.status.get();
            if st & ST_C == 0 {
                self.restart_ru();
                return None;
            }
            // C seen: no read of the RFD's count or frame may be hoisted above it.
            dma_barrier();
            if st & ST_OK != 0 {
                break;
            }
            Self::recycle_rfd(&mut self.rx, &self.dma);
        }
        if ring::free_slots(self.tx.clean, self.tx.tail, TX_N as u16) == 0 {
            return None;
        }
        let rx = I8255xRxToken {
            rx: &mut self.rx,
            dma: &self.dma,
        };
        let tx = I8255xTxToken {
            csr: &self.csr,
            tx: &mut self.tx,
            dma: &self.dma,
        };
        Some((rx, tx))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        self.poll();
        (ring::free_slots(self.tx.clean, self.tx.tail, TX_N as u16) > 0).then(|| I8255xTxToken {
            csr: &self.csr,
            tx: &mut self.tx,
            dma: &self.dma,
        })
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
    fn layouts_match_the_manual() {
        assert_eq!(core::mem::size_of::<Rfd>(), 16 + FRAME_AREA);
        assert_eq!(core::mem::offset_of!(Rfd, count), 12);
        assert_eq!(core::mem::offset_of!(TxCb, data), 16);
        assert_eq!(core::mem::offset_of!(TxCb, threshold), 14);
        assert_eq!(core::mem::offset_of!(ActionCb, params), 8);
    }

    #[test]
    fn configure_bytes_keep_short_frames_and_no_crc_transfer() {
        assert_eq!(CONFIG[0] as usize, CONFIG.len());
        assert_eq!(
            CONFIG[7] & 1,
            0,
            "discard short receive would drop QEMU's 60-byte frames"
        );
        assert_eq!(CONFIG[8] & 0x80, 0, "CSMA must stay enabled");
        assert_eq!(CONFIG[15] & 1, 0, "not promiscuous");
        assert_eq!(CONFIG[18] & 0x04, 0, "no receive CRC transfer");
        assert_eq!(CONFIG[20] & 0x40, 0, "no multiple individual addresses");
    }
}
