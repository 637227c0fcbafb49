//! What went wrong: the command, the Error register, and [`AtaError`].

use super::*;

/// An ATA command, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// IDENTIFY DEVICE.
    Identify,
    /// READ SECTORS (EXT).
    Read,
    /// WRITE SECTORS (EXT).
    Write,
    /// FLUSH CACHE (EXT).
    Flush,
    /// READ DMA (EXT).
    ReadDma,
    /// WRITE DMA (EXT).
    WriteDma,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Identify => "IDENTIFY DEVICE",
            Op::Read => "READ SECTORS",
            Op::Write => "WRITE SECTORS",
            Op::Flush => "FLUSH CACHE",
            Op::ReadDma => "READ DMA",
            Op::WriteDma => "WRITE DMA",
        })
    }
}

/// The Error register, displayed by its set bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorBits(pub u8);

impl fmt::Display for ErrorBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error {:#04x}", self.0)?;
        let names = [
            (error::ABRT, "ABRT aborted"),
            (error::IDNF, "IDNF address not found"),
            (error::UNC, "UNC uncorrectable"),
            (error::ICRC, "ICRC interface CRC"),
        ];
        let mut first = true;
        for (bit, name) in names {
            if self.0 & bit != 0 {
                write!(f, "{}{name}", if first { ": " } else { ", " })?;
                first = false;
            }
        }
        Ok(())
    }
}

/// Why the ATA flash could not be found or an operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtaError {
    /// Offset or length not a multiple of the operation's unit.
    NotAligned,
    /// Beyond the end of the card.
    OutOfBounds,
    /// No device answers at this position (floating bus or empty).
    NoDevice,
    /// The device is not an ATA disk (ATAPI signature, or IDENTIFY DEVICE aborted).
    NotAta {
        /// LBA Mid / LBA High after the command: 0x14/0xEB is ATAPI.
        signature: (u8, u8),
    },
    /// The device does not support LBA addressing.
    NoLba,
    /// BSY stayed set, or DRQ never came.
    Timeout {
        /// The command.
        op: Op,
        /// First sector of the command.
        lba: u64,
        /// Last status read.
        status: u8,
    },
    /// The bus-master engine stopped with its Error bit (a PRD or PCI bus error).
    Dma {
        /// The command.
        op: Op,
        /// First sector of the command.
        lba: u64,
        /// Bus-master status register.
        bm_status: u8,
    },
    /// The device reported ERR or DF.
    Device {
        /// The command.
        op: Op,
        /// First sector of the command.
        lba: u64,
        /// Status register.
        status: u8,
        /// Error register.
        error: ErrorBits,
    },
}

impl fmt::Display for AtaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AtaError::NotAligned => f.write_str("offset or length not aligned"),
            AtaError::OutOfBounds => f.write_str("beyond the end of the card"),
            AtaError::NoDevice => f.write_str("no ATA device"),
            AtaError::NotAta {
                signature: (mid, high),
            } => {
                write!(f, "not an ATA disk (signature {mid:#04x} {high:#04x})")
            }
            AtaError::NoLba => f.write_str("the ATA device does not support LBA"),
            AtaError::Timeout { op, lba, status } => {
                write!(f, "{op}{} timed out (status {status:#04x})", At(op, lba))
            }
            AtaError::Dma { op, lba, bm_status } => write!(
                f,
                "{op}{}: bus-master error (status {bm_status:#04x})",
                At(op, lba)
            ),
            AtaError::Device {
                op,
                lba,
                status,
                error,
            } => {
                let fault = if status & status::DF != 0 {
                    ", device fault"
                } else {
                    ""
                };
                write!(
                    f,
                    "{op} failed{} (status {status:#04x}{fault}, {error})",
                    At(op, lba)
                )
            }
        }
    }
}

/// " at sector N" for the commands that address sectors.
pub(crate) struct At(pub(crate) Op, pub(crate) u64);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Op::Read | Op::Write | Op::ReadDma | Op::WriteDma => {
                write!(f, " at sector {}", self.1)
            }
            Op::Identify | Op::Flush => Ok(()),
        }
    }
}

impl NorFlashError for AtaError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            AtaError::NotAligned => NorFlashErrorKind::NotAligned,
            AtaError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            _ => NorFlashErrorKind::Other,
        }
    }
}

impl From<NorFlashErrorKind> for AtaError {
    fn from(kind: NorFlashErrorKind) -> Self {
        match kind {
            NorFlashErrorKind::NotAligned => AtaError::NotAligned,
            _ => AtaError::OutOfBounds,
        }
    }
}
