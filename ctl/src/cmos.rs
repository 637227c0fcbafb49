//! The boot confirmation from Linux: the token written to CMOS RAM as `hal::cmos` defines it
//! (the token at [`TOKEN_INDEX`]..+4, little-endian, then [`CONFIRMED`] at [`MARK_INDEX`]),
//! then read back. The firmware takes the five bytes at the next power-on.
//!
//! Two ways to the index/data ports 0x70/0x71: `ioperm(2)` and `in`/`out` instructions (needs
//! CAP_SYS_RAWIO and a kernel with `CONFIG_X86_IOPL_IOPERM`, Debian's default), else
//! `/dev/port` (a kernel with `CONFIG_DEVPORT`; Debian's cloud kernel has none).
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;

use lifeboat_hal::cmos::{CONFIRMED, MARK_INDEX, TOKEN_INDEX};

use crate::sys::ioperm;

/// The CMOS index port (bit 7 masks NMI; we leave it clear, as the firmware does).
const INDEX_PORT: u16 = 0x70;
/// Attempts before giving up when the read-back differs (the kernel's RTC driver may use
/// the index port between our index and data accesses).
const ATTEMPTS: usize = 3;

/// Byte access to CMOS RAM.
pub trait Cmos {
    fn write(&mut self, index: u8, value: u8) -> io::Result<()>;
    fn read(&mut self, index: u8) -> io::Result<u8>;
}

/// Why the confirmation could not be made.
#[derive(Debug)]
pub enum CmosError {
    /// ioperm said EPERM and /dev/port could not be opened for the same reason.
    NotPermitted,
    /// Neither ioperm nor /dev/port is there.
    NoWay {
        ioperm: io::Error,
        devport: io::Error,
    },
    /// An access failed after the ports were reached.
    Io(io::Error),
    /// The bytes read back are not the ones written.
    ReadBack { mark: u8, token: u32 },
}

impl std::fmt::Display for CmosError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CmosError::NotPermitted => f.write_str(
                "not permitted to write the CMOS ports 0x70/0x71: lifeboat-ctl confirm needs CAP_SYS_RAWIO (run it as root)",
            ),
            CmosError::NoWay { ioperm, devport } => write!(
                f,
                "no way to reach the CMOS ports 0x70/0x71: ioperm failed ({ioperm}) and /dev/port cannot be opened ({devport}); the kernel needs CONFIG_X86_IOPL_IOPERM or CONFIG_DEVPORT"
            ),
            CmosError::Io(e) => write!(f, "CMOS access failed: {e}"),
            CmosError::ReadBack { mark, token } => write!(
                f,
                "the CMOS did not keep the confirmation (read back marker {mark:#04x}, token {token:#010x})"
            ),
        }
    }
}

/// Writes the confirmation for `token` and reads it back; `Ok` only when all five bytes are
/// there.
pub fn confirm(cmos: &mut dyn Cmos, token: u32) -> Result<(), CmosError> {
    let mut last = (0, 0);
    for _ in 0..ATTEMPTS {
        for (i, b) in token.to_le_bytes().into_iter().enumerate() {
            cmos.write(TOKEN_INDEX + i as u8, b)
                .map_err(CmosError::Io)?;
        }
        cmos.write(MARK_INDEX, CONFIRMED).map_err(CmosError::Io)?;
        let (mark, back) = read_confirmation(cmos).map_err(CmosError::Io)?;
        if mark == CONFIRMED && back == token {
            return Ok(());
        }
        last = (mark, back);
    }
    Err(CmosError::ReadBack {
        mark: last.0,
        token: last.1,
    })
}

/// The marker byte and the token bytes as they are now.
pub fn read_confirmation(cmos: &mut dyn Cmos) -> io::Result<(u8, u32)> {
    let mark = cmos.read(MARK_INDEX)?;
    let mut t = [0u8; 4];
    for (i, b) in t.iter_mut().enumerate() {
        *b = cmos.read(TOKEN_INDEX + i as u8)?;
    }
    Ok((mark, u32::from_le_bytes(t)))
}

/// The ports through `in`/`out` after `ioperm(0x70, 2, 1)`.
struct IoPorts;

impl Cmos for IoPorts {
    fn write(&mut self, index: u8, value: u8) -> io::Result<()> {
        // SAFETY: `open` got ioperm for 0x70..=0x71 before making an `IoPorts`, so these
        // instructions do not fault; writing the index port selects a CMOS byte (NMI left
        // enabled) and the data port writes one of MARK_INDEX..=0x7F, general-purpose CMOS
        // RAM that neither the clock nor the BIOS checksum covers (hal::cmos).
        unsafe {
            outb(INDEX_PORT, index & 0x7F);
            outb(INDEX_PORT + 1, value);
        }
        Ok(())
    }

    fn read(&mut self, index: u8) -> io::Result<u8> {
        // SAFETY: as in `write`; reading the data port has no side effect on CMOS RAM.
        Ok(unsafe {
            outb(INDEX_PORT, index & 0x7F);
            inb(INDEX_PORT + 1)
        })
    }
}

/// # Safety
/// The calling thread must have I/O permission for `port` (ioperm), and writing `value`
/// there must not break the machine.
unsafe fn outb(port: u16, value: u8) {
    // SAFETY: the caller holds the permission and vouches for the effect.
    unsafe {
        core::arch::asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags));
    }
}

/// # Safety
/// The calling thread must have I/O permission for `port`, and reading it must have no
/// harmful side effect.
unsafe fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: the caller holds the permission and vouches for the effect.
    unsafe {
        core::arch::asm!("in al, dx", out("al") v, in("dx") port, options(nomem, nostack, preserves_flags));
    }
    v
}

/// The CMOS through `/dev/port` (byte offset = port number).
struct DevPort(File);

impl Cmos for DevPort {
    fn write(&mut self, index: u8, value: u8) -> io::Result<()> {
        self.0
            .write_all_at(&[index & 0x7F], u64::from(INDEX_PORT))?;
        self.0.write_all_at(&[value], u64::from(INDEX_PORT + 1))
    }

    fn read(&mut self, index: u8) -> io::Result<u8> {
        self.0
            .write_all_at(&[index & 0x7F], u64::from(INDEX_PORT))?;
        let mut b = [0u8];
        self.0.read_exact_at(&mut b, u64::from(INDEX_PORT + 1))?;
        Ok(b[0])
    }
}

/// The way to the CMOS this kernel and these privileges allow: ioperm first, /dev/port next.
pub fn open() -> Result<Box<dyn Cmos>, CmosError> {
    let ioperm_err = match ioperm(INDEX_PORT, 2, true) {
        Ok(()) => return Ok(Box::new(IoPorts)),
        Err(e) => e,
    };
    match OpenOptions::new().read(true).write(true).open("/dev/port") {
        Ok(f) => Ok(Box::new(DevPort(f))),
        Err(e) => {
            let denied = |e: &io::Error| e.kind() == io::ErrorKind::PermissionDenied;
            if denied(&ioperm_err) || denied(&e) {
                Err(CmosError::NotPermitted)
            } else {
                Err(CmosError::NoWay {
                    ioperm: ioperm_err,
                    devport: e,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MC146818 as the ports see it: an index register and 128 bytes.
    struct FakeCmos {
        ram: [u8; 128],
        /// Writes to these indexes are lost (a dead battery, a chipset that maps them away).
        lost: Vec<u8>,
        writes: Vec<(u8, u8)>,
    }

    impl Cmos for FakeCmos {
        fn write(&mut self, index: u8, value: u8) -> io::Result<()> {
            self.writes.push((index, value));
            if !self.lost.contains(&index) {
                self.ram[index as usize & 0x7F] = value;
            }
            Ok(())
        }
        fn read(&mut self, index: u8) -> io::Result<u8> {
            Ok(self.ram[index as usize & 0x7F])
        }
    }

    fn fake(lost: &[u8]) -> FakeCmos {
        FakeCmos {
            ram: [0x11; 128],
            lost: lost.to_vec(),
            writes: Vec::new(),
        }
    }

    #[test]
    fn the_token_then_the_marker_as_hal_cmos_defines_them() {
        let mut c = fake(&[]);
        confirm(&mut c, 0xA1B2_C3D4).unwrap();
        assert_eq!(
            c.writes,
            [
                (0x7C, 0xD4),
                (0x7D, 0xC3),
                (0x7E, 0xB2),
                (0x7F, 0xA1),
                (0x7B, 0xC5)
            ]
        );
        assert_eq!(read_confirmation(&mut c).unwrap(), (0xC5, 0xA1B2_C3D4));
        // Nothing else in CMOS was touched.
        assert!(c.ram[..0x7B].iter().all(|&b| b == 0x11));
    }

    #[test]
    fn bytes_that_do_not_stick_are_an_error_not_a_confirmation() {
        for lost in [0x7B, 0x7C, 0x7F] {
            let mut c = fake(&[lost]);
            let e = confirm(&mut c, 0xA1B2_C3D4).unwrap_err();
            assert!(matches!(e, CmosError::ReadBack { .. }), "{e}");
            assert!(e.to_string().starts_with("the CMOS did not keep"));
            assert_eq!(c.writes.len(), 5 * ATTEMPTS);
        }
    }

    #[test]
    fn errors_are_one_line() {
        let e = CmosError::NoWay {
            ioperm: io::Error::from_raw_os_error(38),
            devport: io::Error::from_raw_os_error(2),
        };
        let s = e.to_string();
        assert!(s.contains("no way to reach") && !s.contains('\n'), "{s}");
        assert!(CmosError::NotPermitted
            .to_string()
            .contains("CAP_SYS_RAWIO"));
    }
}
