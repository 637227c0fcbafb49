//! Network interface cards: which ones lifeboat drives, finding them on PCI, and one
//! `smoltcp::phy::Device` over whichever was chosen.
//!
//! Drivers (one file each, all polled, no interrupts, no allocation; descriptor rings and
//! buffers in one static per driver kind, so at most one NIC of each kind is open at a time):
//! - [`e1000`]: Intel 8254x (82540EM = QEMU `e1000`, 82545EM, 82544GC) and the PCIe 82574L
//!   (QEMU `e1000e`, q35's NIC; same register file and legacy descriptors), MMIO BAR0.
//! - [`virtio`]: virtio-net legacy PCI (1af4:1000), I/O BAR0, split virtqueues.
//! - [`i8255x`]: Intel 8255x (82557/8/9, 82559ER; the PIX's NICs), CSR through BAR0 MMIO
//!   or BAR1 I/O, simplified memory model.
//!
//! Typical use: `let nics = net::probe();` lists what is present (with MACs, for the banner);
//! `let nic = AnyNic::open(nics.get(i).unwrap())?;` starts one; hand `&mut nic` to smoltcp.

pub mod dma;
pub mod e1000;
pub mod eeprom;
pub mod i8255x;
pub mod ring;
pub mod virtio;

use smoltcp::phy::{self, DeviceCapabilities};
use smoltcp::time::Instant;

use crate::pci::{self, command, Config, PciDevice};

/// Largest Ethernet frame handed to or from smoltcp: 1500 bytes of IP + 14 of header
/// (no FCS; every NIC here strips and appends it).
pub const MTU: usize = 1514;

/// At most this many NICs are listed by [`probe`].
pub const MAX_NICS: usize = 8;

/// The NIC models lifeboat drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NicModel {
    /// Intel 82540EM (8086:100e), QEMU `-device e1000`.
    I82540EM,
    /// Intel 82545EM copper (8086:100f), QEMU `e1000-82545em`.
    I82545EM,
    /// Intel 82544GC copper (8086:1004), QEMU `e1000-82544gc`.
    I82544GC,
    /// Intel 82574L (8086:10d3), PCIe, QEMU `e1000e`.
    I82574L,
    /// Intel 82557 (8086:1229, revision 1–3), QEMU `i82557a/b/c`.
    I82557,
    /// Intel 82558 (8086:1229, revision 4–5), QEMU `i82558a/b`.
    I82558,
    /// Intel 82559 (8086:1229, revision 6–0x0B), QEMU `i82559a/b/c`.
    I82559,
    /// Intel 82550/82551 (8086:1229, revision ≥ 0x0C), programmed like the 82559.
    I82550,
    /// Intel 82559ER (8086:1209), QEMU `i82559er`.
    I82559ER,
    /// virtio-net, legacy/transitional PCI (1af4:1000), QEMU `virtio-net-pci`.
    VirtioNet,
}

/// Which driver runs a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NicFamily {
    /// [`e1000::E1000`].
    E1000,
    /// [`i8255x::I8255x`].
    I8255x,
    /// [`virtio::VirtioNet`].
    Virtio,
}

impl NicModel {
    /// The model of a PCI function, if lifeboat drives it.
    pub fn identify(vendor: u16, device: u16, revision: u8) -> Option<NicModel> {
        Some(match (vendor, device) {
            (0x8086, 0x100E) => NicModel::I82540EM,
            (0x8086, 0x100F) => NicModel::I82545EM,
            (0x8086, 0x1004) => NicModel::I82544GC,
            (0x8086, 0x10D3) => NicModel::I82574L,
            (0x8086, 0x1229) => match revision {
                0..=3 => NicModel::I82557,
                4..=5 => NicModel::I82558,
                6..=0x0B => NicModel::I82559,
                _ => NicModel::I82550,
            },
            (0x8086, 0x1209) => NicModel::I82559ER,
            (0x1AF4, 0x1000) => NicModel::VirtioNet,
            _ => return None,
        })
    }

    /// The driver family.
    pub fn family(self) -> NicFamily {
        match self {
            NicModel::I82540EM | NicModel::I82545EM | NicModel::I82544GC | NicModel::I82574L => {
                NicFamily::E1000
            }
            NicModel::I82557
            | NicModel::I82558
            | NicModel::I82559
            | NicModel::I82550
            | NicModel::I82559ER => NicFamily::I8255x,
            NicModel::VirtioNet => NicFamily::Virtio,
        }
    }

    /// A short name for listings ("i82559", "e1000 (82540EM)", ...).
    pub fn name(self) -> &'static str {
        match self {
            NicModel::I82540EM => "i82540em",
            NicModel::I82545EM => "i82545em",
            NicModel::I82544GC => "i82544gc",
            NicModel::I82574L => "i82574l",
            NicModel::I82557 => "i82557",
            NicModel::I82558 => "i82558",
            NicModel::I82559 => "i82559",
            NicModel::I82550 => "i82550",
            NicModel::I82559ER => "i82559er",
            NicModel::VirtioNet => "virtio-net",
        }
    }
}

/// Why a NIC could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NicError {
    /// Another driver value of the same kind is open (its static DMA memory is taken).
    InUse,
    /// The BAR the driver needs is missing or above 4 GiB.
    NoBar,
    /// The device did not finish its reset in time.
    ResetTimeout,
    /// The device did not accept a command in time.
    CommandTimeout,
    /// No valid MAC address could be read from the device.
    NoMac,
    /// virtio: a required queue is missing or larger than the driver's static memory.
    BadQueue,
    /// The PCI function is not a NIC lifeboat drives.
    Unsupported,
}

impl core::fmt::Display for NicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            NicError::InUse => "another NIC of the same kind is open",
            NicError::NoBar => "its register window (BAR) is missing or above 4 GiB",
            NicError::ResetTimeout => "it did not finish its reset in time",
            NicError::CommandTimeout => "it did not accept a command in time",
            NicError::NoMac => "no valid MAC address could be read",
            NicError::BadQueue => "a virtio queue is missing or too large",
            NicError::Unsupported => "lifeboat has no driver for it",
        })
    }
}

/// One supported NIC found on PCI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NicInfo {
    /// The model.
    pub model: NicModel,
    /// The PCI function (bus/dev/func, BARs, IRQ line).
    pub pci: PciDevice,
    /// The MAC address read from the device (EEPROM or device config), `None` if unreadable.
    pub mac: Option<[u8; 6]>,
}

/// The NICs found by [`probe`], in PCI order.
#[derive(Clone, Copy, Debug)]
pub struct NicList {
    nics: [Option<NicInfo>; MAX_NICS],
    len: usize,
}

impl NicList {
    /// An empty list.
    pub const fn new() -> Self {
        Self {
            nics: [None; MAX_NICS],
            len: 0,
        }
    }
    /// Append (ignored past [`MAX_NICS`]).
    pub fn push(&mut self, info: NicInfo) {
        if self.len < MAX_NICS {
            self.nics[self.len] = Some(info);
            self.len += 1;
        }
    }
    /// Number of NICs.
    pub fn len(&self) -> usize {
        self.len
    }
    /// No NIC found.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The `i`th NIC (interface number `i`).
    pub fn get(&self, i: usize) -> Option<&NicInfo> {
        self.nics.get(i).and_then(Option::as_ref)
    }
    /// All NICs in PCI order.
    pub fn iter(&self) -> impl Iterator<Item = &NicInfo> {
        self.nics.iter().flatten()
    }
}

impl Default for NicList {
    fn default() -> Self {
        Self::new()
    }
}

/// Scan PCI for supported NICs, in PCI order, and read each one's MAC address.
///
/// Enables memory and I/O decoding on each NIC found (not bus mastering); reads only
/// identification (EEPROM, device config), so it may run while a driver is open.
pub fn probe() -> NicList {
    // SAFETY: hal is the only user of PCI configuration space; lifeboat is single-threaded.
    let mut cfg = unsafe { Config::new() };
    let mut list = NicList::new();
    // Only the NICs are read in full (their BARs sized): see `Scan::only`.
    let nics =
        pci::scan(&mut cfg).only(|i| NicModel::identify(i.vendor, i.device, i.revision).is_some());
    for dev in nics {
        if let Some(model) = NicModel::identify(dev.vendor, dev.device, dev.revision) {
            list.push(NicInfo {
                model,
                pci: dev,
                mac: None,
            });
        }
    }
    for slot in list.nics.iter_mut().flatten() {
        slot.pci
            .enable(&mut cfg, command::MEMORY_SPACE | command::IO_SPACE);
        slot.mac = read_mac(slot);
    }
    list
}

fn read_mac(info: &NicInfo) -> Option<[u8; 6]> {
    match info.model.family() {
        NicFamily::E1000 => {
            // SAFETY: decoding was just enabled; reading EERD/RAL/RAH does not disturb a
            // driver that may be running on this NIC (single-threaded, EERD is idle between
            // the driver's own uses at open time).
            let regs = unsafe { e1000::map_bar0(&info.pci) }.ok()?;
            e1000::read_mac(&regs, info.model)
        }
        NicFamily::I8255x => i8255x::probe_mac(&info.pci),
        NicFamily::Virtio => virtio::probe_mac(&info.pci),
    }
}

/// What every NIC driver offers besides being a [`phy::Device`] (the shape of hermit-os's
/// `NetworkDriver`): identity and link state. [`AnyNic`] implements it by handing the call to
/// the driver inside ([`AnyNic::driver`]), so a new method is written once per driver.
pub trait NicDriver {
    /// The MAC address in use.
    fn mac(&self) -> [u8; 6];
    /// True when the link is up (e1000: STATUS.LU; 8255x: PHY status register; virtio:
    /// VIRTIO_NET_S_LINK_UP, or always up when the device does not report it).
    fn link_up(&self) -> bool;
    /// The model.
    fn model(&self) -> NicModel;
    /// The PCI function.
    fn pci(&self) -> &PciDevice;
}

/// Whichever NIC the operator selected, as one smoltcp device.
pub enum AnyNic {
    /// An Intel 8254x.
    E1000(e1000::E1000),
    /// An Intel 8255x.
    I8255x(i8255x::I8255x),
    /// A virtio-net device.
    Virtio(virtio::VirtioNet),
}

impl AnyNic {
    /// Reset and start the NIC described by `info` (from [`probe`]).
    pub fn open(info: &NicInfo) -> Result<AnyNic, NicError> {
        Ok(match info.model.family() {
            NicFamily::E1000 => AnyNic::E1000(e1000::E1000::new(&info.pci, info.model)?),
            NicFamily::I8255x => AnyNic::I8255x(i8255x::I8255x::new(&info.pci, info.model)?),
            NicFamily::Virtio => AnyNic::Virtio(virtio::VirtioNet::new(&info.pci)?),
        })
    }

    /// The driver inside, for [`NicDriver`]'s methods.
    pub fn driver(&self) -> &dyn NicDriver {
        match self {
            AnyNic::E1000(n) => n,
            AnyNic::I8255x(n) => n,
            AnyNic::Virtio(n) => n,
        }
    }
}

impl NicDriver for AnyNic {
    fn mac(&self) -> [u8; 6] {
        self.driver().mac()
    }

    fn link_up(&self) -> bool {
        self.driver().link_up()
    }

    fn model(&self) -> NicModel {
        self.driver().model()
    }

    fn pci(&self) -> &PciDevice {
        self.driver().pci()
    }
}

/// Receive token of [`AnyNic`].
pub enum AnyRxToken<'a> {
    /// 8254x.
    E1000(e1000::E1000RxToken<'a>),
    /// 8255x.
    I8255x(i8255x::I8255xRxToken<'a>),
    /// virtio-net.
    Virtio(virtio::VirtioRxToken<'a>),
}

/// Transmit token of [`AnyNic`].
pub enum AnyTxToken<'a> {
    /// 8254x.
    E1000(e1000::E1000TxToken<'a>),
    /// 8255x.
    I8255x(i8255x::I8255xTxToken<'a>),
    /// virtio-net.
    Virtio(virtio::VirtioTxToken<'a>),
}

impl phy::RxToken for AnyRxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        match self {
            AnyRxToken::E1000(t) => t.consume(f),
            AnyRxToken::I8255x(t) => t.consume(f),
            AnyRxToken::Virtio(t) => t.consume(f),
        }
    }
}

impl phy::TxToken for AnyTxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        match self {
            AnyTxToken::E1000(t) => t.consume(len, f),
            AnyTxToken::I8255x(t) => t.consume(len, f),
            AnyTxToken::Virtio(t) => t.consume(len, f),
        }
    }
}

impl phy::Device for AnyNic {
    type RxToken<'a> = AnyRxToken<'a>;
    type TxToken<'a> = AnyTxToken<'a>;

    fn receive(&mut self, timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        match self {
            AnyNic::E1000(n) => n
                .receive(timestamp)
                .map(|(r, t)| (AnyRxToken::E1000(r), AnyTxToken::E1000(t))),
            AnyNic::I8255x(n) => n
                .receive(timestamp)
                .map(|(r, t)| (AnyRxToken::I8255x(r), AnyTxToken::I8255x(t))),
            AnyNic::Virtio(n) => n
                .receive(timestamp)
                .map(|(r, t)| (AnyRxToken::Virtio(r), AnyTxToken::Virtio(t))),
        }
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<Self::TxToken<'_>> {
        match self {
            AnyNic::E1000(n) => n.transmit(timestamp).map(AnyTxToken::E1000),
            AnyNic::I8255x(n) => n.transmit(timestamp).map(AnyTxToken::I8255x),
            AnyNic::Virtio(n) => n.transmit(timestamp).map(AnyTxToken::Virtio),
        }
    }

    fn capabilities(&self) -> DeviceCapabilities {
        match self {
            AnyNic::E1000(n) => n.capabilities(),
            AnyNic::I8255x(n) => n.capabilities(),
            AnyNic::Virtio(n) => n.capabilities(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_by_id_and_revision() {
        assert_eq!(
            NicModel::identify(0x8086, 0x100E, 3),
            Some(NicModel::I82540EM)
        );
        assert_eq!(
            NicModel::identify(0x8086, 0x1229, 2),
            Some(NicModel::I82557)
        );
        assert_eq!(
            NicModel::identify(0x8086, 0x1229, 5),
            Some(NicModel::I82558)
        );
        assert_eq!(
            NicModel::identify(0x8086, 0x1229, 8),
            Some(NicModel::I82559)
        );
        assert_eq!(
            NicModel::identify(0x8086, 0x1229, 0x0E),
            Some(NicModel::I82550)
        );
        assert_eq!(
            NicModel::identify(0x8086, 0x1209, 9),
            Some(NicModel::I82559ER)
        );
        assert_eq!(
            NicModel::identify(0x1AF4, 0x1000, 0),
            Some(NicModel::VirtioNet)
        );
        assert_eq!(
            NicModel::identify(0x8086, 0x10D3, 0),
            Some(NicModel::I82574L)
        );
        assert_eq!(NicModel::I82574L.family(), NicFamily::E1000);
        assert_eq!(NicModel::identify(0x1AF4, 0x1041, 1), None);
        assert_eq!(NicModel::identify(0x10EC, 0x8139, 0x20), None);
        assert_eq!(NicModel::I82559ER.family(), NicFamily::I8255x);
    }

    #[test]
    fn nic_list_keeps_order_and_caps_length() {
        let mut cfg = crate::pci::tests::FakeConfig::default();
        for d in 0..10u8 {
            cfg.add(
                crate::pci::Bdf {
                    bus: 0,
                    dev: d,
                    func: 0,
                },
                0x8086,
                0x100E,
                0x0200_0003,
                0,
                &[],
            );
        }
        let mut list = NicList::new();
        for dev in pci::scan(&mut cfg) {
            list.push(NicInfo {
                model: NicModel::I82540EM,
                pci: dev,
                mac: None,
            });
        }
        assert_eq!(list.len(), MAX_NICS);
        assert_eq!(
            list.iter().map(|n| n.pci.dev).collect::<Vec<_>>(),
            (0..8).collect::<Vec<_>>()
        );
        assert!(list.get(8).is_none());
    }
}
