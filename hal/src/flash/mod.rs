//! The unit's flash: which kinds lifeboat drives, finding the one present, and one
//! embedded-storage [`NorFlash`] over whichever it is.
//!
//! - [`cfi`]: Intel command-set CFI NOR below the BIOS under 4 GiB (QEMU pflash unit 1).
//! - [`ata`]: a CompactFlash card in true-IDE mode on the secondary master, by bus-master DMA
//!   (PIO where the controller has no bus-master interface).
//! - [`ahci`]: a SATA disk on an AHCI port ≥ 1 (q35's ICH9; port 0 is the boot disk's), by
//!   DMA through the port's command list.
//! - [`nvme`]: namespace 1 of the first NVMe controller, by its admin and one I/O queue pair.
//!
//! [`probe`] looks for all four ([`probe_report`] also says why a candidate was unusable),
//! in this order: IDE, AHCI, NVMe, CFI. A disk **wins over pflash**: it is fitted on purpose, and it
//! is the only one large enough for two slots of a Linux image with its initramfs (pflash
//! stops below 8 MiB, or 16 MiB with `max-fw-size`). NVMe comes after the ATA disks so that a
//! unit whose slots are on an ATA disk keeps them when an NVMe drive is added.
//!
//! [`AnyFlash`] offers the common units of all: reads of any length, writes in 512-byte
//! units (an ATA sector), erases in 4 KiB units (a pflash block, eight ATA sectors).

pub mod ahci;
pub mod ata;
pub mod cfi;
pub mod nvme;

use core::fmt;

use embedded_storage::nor_flash::{
    check_erase, check_read, check_write, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind,
    ReadNorFlash,
};

pub use ahci::{AhciError, AhciFlash};
pub use ata::{AtaError, AtaFlash};
pub use cfi::{CfiError, CfiFlash};
pub use nvme::{NvmeError, NvmeFlash};

/// The flash found by [`probe`].
pub enum AnyFlash {
    /// CFI NOR (QEMU pflash).
    Cfi(CfiFlash),
    /// CompactFlash on the secondary IDE master.
    Ata(AtaFlash),
    /// A SATA disk on an AHCI port ≥ 1.
    Ahci(AhciFlash),
    /// Namespace 1 of an NVMe controller.
    Nvme(NvmeFlash),
}

/// The flash of this unit, if any: [`probe_report`] without the reasons.
pub fn probe() -> Option<AnyFlash> {
    probe_report().flash
}

/// What [`probe_report`] found: the flash to use, and why any other candidate was passed over.
pub struct Probe {
    /// The flash to use, if any.
    pub flash: Option<AnyFlash>,
    /// A CFI chip that answered but cannot be driven.
    pub cfi_error: Option<CfiError>,
    /// A device on the secondary master that is not a usable ATA disk.
    pub ata_error: Option<AtaError>,
    /// An ATA disk on an AHCI port ≥ 1 that cannot be driven.
    pub ahci_error: Option<AhciError>,
    /// An NVMe controller or namespace that cannot be driven.
    pub nvme_error: Option<NvmeError>,
}

/// Look for the flash: a CompactFlash card on the secondary master first, then a disk on an
/// AHCI port ≥ 1, then namespace 1 of an NVMe controller, then CFI pflash.
/// Writes only identification commands (IDENTIFY DEVICE; CFI query and read array), so it
/// may be called again at any time (each call builds a new driver value).
pub fn probe_report() -> Probe {
    let mut found = Probe {
        flash: None,
        cfi_error: None,
        ata_error: None,
        ahci_error: None,
        nvme_error: None,
    };
    match ata::find() {
        Some(Ok(card)) => found.flash = Some(AnyFlash::Ata(card)),
        Some(Err(e)) => found.ata_error = Some(e),
        None => {}
    }
    if found.flash.is_none() {
        match ahci::find() {
            Some(Ok(disk)) => found.flash = Some(AnyFlash::Ahci(disk)),
            Some(Err(e)) => found.ahci_error = Some(e),
            None => {}
        }
    }
    if found.flash.is_none() {
        match nvme::find() {
            Some(Ok(disk)) => found.flash = Some(AnyFlash::Nvme(disk)),
            Some(Err(e)) => found.nvme_error = Some(e),
            None => {}
        }
    }
    if found.flash.is_none() {
        match cfi::find() {
            Some(Ok(chip)) => found.flash = Some(AnyFlash::Cfi(chip)),
            Some(Err(e)) => found.cfi_error = Some(e),
            None => {}
        }
    }
    found
}

impl fmt::Display for AnyFlash {
    /// The banner's description: `CFI Intel 4096 KiB @ 0xffbc0000`,
    /// `ATA "QEMU HARDDISK" 64 MiB @ ide1:0`, `AHCI "QEMU HARDDISK" 64 MiB @ port 2`,
    /// `NVMe "QEMU NVMe Ctrl" 64 MiB @ 00:04.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sector = ata::SECTOR as u64;
        let (kind, model, bytes) = match self {
            AnyFlash::Cfi(c) => {
                return write!(
                    f,
                    "CFI Intel {} KiB @ {:#010x}",
                    c.info().size >> 10,
                    c.base()
                )
            }
            AnyFlash::Ata(a) => ("ATA", a.info().model(), a.info().sectors * sector),
            AnyFlash::Ahci(a) => ("AHCI", a.info().model(), a.info().sectors * sector),
            AnyFlash::Nvme(n) => ("NVMe", n.info().model(), n.info().blocks * sector),
        };
        write!(f, "{kind} \"{model}\" ")?;
        if bytes >= 1 << 20 {
            write!(f, "{} MiB", bytes >> 20)?;
        } else {
            write!(f, "{} KiB", bytes >> 10)?;
        }
        match self {
            AnyFlash::Ata(a) => {
                let (channel, device) = a.position();
                write!(f, " @ ide{channel}:{device}")
            }
            AnyFlash::Ahci(a) => write!(f, " @ port {}", a.port_index()),
            AnyFlash::Nvme(n) => write!(f, " @ {}", n.bdf()),
            AnyFlash::Cfi(_) => Ok(()),
        }
    }
}

/// An error of whichever flash is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashError {
    /// Offset or length not a multiple of [`AnyFlash`]'s units.
    NotAligned,
    /// Beyond the end of the flash.
    OutOfBounds,
    /// From the CFI driver.
    Cfi(CfiError),
    /// From the ATA driver.
    Ata(AtaError),
    /// From the AHCI driver.
    Ahci(AhciError),
    /// From the NVMe driver.
    Nvme(NvmeError),
}

impl fmt::Display for FlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlashError::NotAligned => f.write_str("offset or length not aligned"),
            FlashError::OutOfBounds => f.write_str("beyond the end of the flash"),
            FlashError::Cfi(e) => write!(f, "flash: {e}"),
            FlashError::Ata(e) => write!(f, "CompactFlash: {e}"),
            FlashError::Ahci(e) => write!(f, "AHCI disk: {e}"),
            FlashError::Nvme(e) => write!(f, "NVMe: {e}"),
        }
    }
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::NotAligned => NorFlashErrorKind::NotAligned,
            FlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FlashError::Cfi(e) => e.kind(),
            FlashError::Ata(e) => e.kind(),
            FlashError::Ahci(e) => e.kind(),
            FlashError::Nvme(e) => e.kind(),
        }
    }
}

impl From<NorFlashErrorKind> for FlashError {
    fn from(kind: NorFlashErrorKind) -> Self {
        match kind {
            NorFlashErrorKind::NotAligned => FlashError::NotAligned,
            _ => FlashError::OutOfBounds,
        }
    }
}

impl ErrorType for AnyFlash {
    type Error = FlashError;
}

impl ReadNorFlash for AnyFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        check_read(self, offset, bytes.len())?;
        match self {
            AnyFlash::Cfi(c) => c.read(offset, bytes).map_err(FlashError::Cfi),
            AnyFlash::Ata(a) => a.read(offset, bytes).map_err(FlashError::Ata),
            AnyFlash::Ahci(a) => a.read(offset, bytes).map_err(FlashError::Ahci),
            AnyFlash::Nvme(n) => n.read(offset, bytes).map_err(FlashError::Nvme),
        }
    }

    /// A whole number of erase units.
    fn capacity(&self) -> usize {
        let raw = match self {
            AnyFlash::Cfi(c) => c.capacity(),
            AnyFlash::Ata(a) => a.capacity(),
            AnyFlash::Ahci(a) => a.capacity(),
            AnyFlash::Nvme(n) => n.capacity(),
        };
        raw - raw % Self::ERASE_SIZE
    }
}

impl NorFlash for AnyFlash {
    const WRITE_SIZE: usize = ata::SECTOR;
    const ERASE_SIZE: usize = cfi::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        check_erase(self, from, to)?;
        match self {
            AnyFlash::Cfi(c) => c.erase(from, to).map_err(FlashError::Cfi),
            AnyFlash::Ata(a) => a.erase(from, to).map_err(FlashError::Ata),
            AnyFlash::Ahci(a) => a.erase(from, to).map_err(FlashError::Ahci),
            AnyFlash::Nvme(n) => n.erase(from, to).map_err(FlashError::Nvme),
        }
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        check_write(self, offset, bytes.len())?;
        match self {
            AnyFlash::Cfi(c) => c.write(offset, bytes).map_err(FlashError::Cfi),
            AnyFlash::Ata(a) => a.write(offset, bytes).map_err(FlashError::Ata),
            AnyFlash::Ahci(a) => a.write(offset, bytes).map_err(FlashError::Ahci),
            AnyFlash::Nvme(n) => n.write(offset, bytes).map_err(FlashError::Nvme),
        }
    }
}

// The common units must be multiples of both drivers' own.
const _: () = {
    assert!(AnyFlash::ERASE_SIZE.is_multiple_of(CfiFlash::ERASE_SIZE));
    assert!(AnyFlash::ERASE_SIZE.is_multiple_of(AtaFlash::ERASE_SIZE));
    assert!(AnyFlash::WRITE_SIZE.is_multiple_of(CfiFlash::WRITE_SIZE));
    assert!(AnyFlash::WRITE_SIZE.is_multiple_of(AtaFlash::WRITE_SIZE));
    assert!(AnyFlash::ERASE_SIZE.is_multiple_of(AhciFlash::ERASE_SIZE));
    assert!(AnyFlash::WRITE_SIZE.is_multiple_of(AhciFlash::WRITE_SIZE));
    assert!(AnyFlash::ERASE_SIZE.is_multiple_of(NvmeFlash::ERASE_SIZE));
    assert!(AnyFlash::WRITE_SIZE.is_multiple_of(NvmeFlash::WRITE_SIZE));
    assert!(AnyFlash::ERASE_SIZE.is_multiple_of(AnyFlash::WRITE_SIZE));
};
