//! The firmware's `NorFlash` over a Linux block device (or any file): what the monitor's ATA
//! driver does to a CompactFlash card, done with `pread`/`pwrite`, so `Slots<BlockDev>` reads
//! and writes exactly the layout the firmware boots from.
//!
//! The units are the firmware's common ones (`hal::flash::AnyFlash`): writes of whole
//! 512-byte sectors, erase blocks of 4 KiB; "erase" writes 0xFF, as the ATA driver does. The
//! capacity is the device's size cut to whole erase blocks and to what 32-bit offsets reach
//! (4 GiB − 4 KiB), as the ATA driver's. Every erase and write is made durable (`fdatasync`)
//! before it returns, like the driver's cache flush: the slot logic's power-cut safety rests
//! on the image being on the medium before the record that selects it is written. Then the
//! range leaves the page cache, so the install's read-back reads the device.
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use embedded_storage::nor_flash::{
    check_erase, check_read, check_write, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind,
    ReadNorFlash,
};

/// Bytes of one write unit (a sector).
pub const WRITE_SIZE: usize = 512;
/// Bytes of one erase unit (the firmware's common erase block).
pub const ERASE_SIZE: usize = 4096;
/// The most a 32-bit flash offset reaches, as the ATA driver caps it.
const MAX_CAPACITY: u64 = u32::MAX as u64 + 1 - ERASE_SIZE as u64;
/// Bytes of 0xFF written per call while erasing.
const FILL: usize = 256 * 1024;

/// A block device (or image file) seen as the unit's flash.
pub struct BlockDev {
    file: File,
    path: PathBuf,
    capacity: usize,
    /// The operating system's last error, for the one line the operator reads (the trait's
    /// error kinds cannot carry it).
    last_error: Option<io::Error>,
}

/// What went wrong with the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevError {
    NotAligned,
    OutOfBounds,
    /// The operating system refused or failed the read, write or sync.
    Io,
}

impl NorFlashError for DevError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            DevError::NotAligned => NorFlashErrorKind::NotAligned,
            DevError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            DevError::Io => NorFlashErrorKind::Other,
        }
    }
}

impl From<NorFlashErrorKind> for DevError {
    fn from(k: NorFlashErrorKind) -> Self {
        match k {
            NorFlashErrorKind::NotAligned => DevError::NotAligned,
            _ => DevError::OutOfBounds,
        }
    }
}

impl BlockDev {
    /// Opens `path` read-only (`status`, finding the flash) or for reading and writing
    /// (`install`). The error names the device and says why.
    pub fn open(path: &Path, writable: bool) -> Result<BlockDev, String> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(|e| {
                let how = if writable {
                    "for reading and writing"
                } else {
                    "for reading"
                };
                format!("cannot open {} {how}: {e}", path.display())
            })?;
        if writable && crate::sys::block_read_only(&file) {
            return Err(format!(
                "{} is read-only (write-protected, or blockdev --setro); nothing was written",
                path.display()
            ));
        }
        // SEEK_END gives the size of a block device as well as of a regular file.
        let size = file
            .seek(SeekFrom::End(0))
            .map_err(|e| format!("cannot find the size of {}: {e}", path.display()))?;
        let capacity = size.min(MAX_CAPACITY);
        let capacity = (capacity - capacity % ERASE_SIZE as u64) as usize;
        Ok(BlockDev {
            file,
            path: path.to_owned(),
            capacity,
            last_error: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The operating system's words for the last failure, if there was one.
    pub fn last_error(&self) -> Option<&io::Error> {
        self.last_error.as_ref()
    }

    fn io<T>(&mut self, r: io::Result<T>) -> Result<T, DevError> {
        r.map_err(|e| {
            self.last_error = Some(e);
            DevError::Io
        })
    }

    fn write_durably(&mut self, offset: u32, bytes: &[u8]) -> Result<(), DevError> {
        let r = self.file.write_all_at(bytes, u64::from(offset));
        self.io(r)?;
        self.settle(offset, bytes.len())
    }

    /// Makes `len` bytes at `offset` durable, then drops them from the page cache: a later
    /// read (the install's read-back) sees what the device holds, not what we wrote. Also
    /// after a failed sync: pages whose write-back failed must not be read back as if they
    /// were on the device.
    fn settle(&mut self, offset: u32, len: usize) -> Result<(), DevError> {
        let r = self.file.sync_data();
        // Advice only (a file system may ignore it); a failure costs nothing but the proof.
        let _ = crate::sys::drop_cached(&self.file, u64::from(offset), len as u64);
        self.io(r)
    }
}

impl ErrorType for BlockDev {
    type Error = DevError;
}

impl ReadNorFlash for BlockDev {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), DevError> {
        check_read(self, offset, bytes.len())?;
        let r = self.file.read_exact_at(bytes, u64::from(offset));
        self.io(r)
    }

    fn capacity(&self) -> usize {
        self.capacity
    }
}

impl NorFlash for BlockDev {
    const WRITE_SIZE: usize = WRITE_SIZE;
    const ERASE_SIZE: usize = ERASE_SIZE;

    /// Writes 0xFF over `from..to`, so the device reads like erased NOR.
    fn erase(&mut self, from: u32, to: u32) -> Result<(), DevError> {
        check_erase(self, from, to)?;
        let ones = vec![0xFFu8; FILL.min((to - from) as usize)];
        let mut at = from;
        while at < to {
            let n = ((to - at) as usize).min(ones.len());
            let r = self.file.write_all_at(&ones[..n], u64::from(at));
            self.io(r)?;
            at += n as u32;
        }
        self.settle(from, (to - from) as usize)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), DevError> {
        check_write(self, offset, bytes.len())?;
        self.write_durably(offset, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat_firmware::image::{HeaderRepr, Kind, Version, PLATFORM};
    use lifeboat_firmware::install::{Slot, Slots, State};

    fn temp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lifeboat-ctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        let _ = std::fs::remove_file(&p);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn image(version: Version, len: usize) -> Vec<u8> {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let h = HeaderRepr {
            platform: PLATFORM,
            version,
            kind: Kind::Flat64,
            load: 0x200_0000,
            entry: 0x200_0000,
            initrd_len: 0,
            cmdline: "",
        }
        .emit(&payload)
        .unwrap();
        let mut v = h.to_vec();
        v.extend_from_slice(&payload);
        v
    }

    #[test]
    fn capacity_is_whole_erase_blocks_of_the_file() {
        let p = temp("cap", &vec![0u8; 3 * 4096 + 1000]);
        let d = BlockDev::open(&p, false).unwrap();
        assert_eq!(d.capacity(), 3 * 4096);
    }

    #[test]
    fn erase_reads_as_ones_and_writes_land_where_asked() {
        let p = temp("rw", &vec![0x5Au8; 16 * 4096]);
        let mut d = BlockDev::open(&p, true).unwrap();
        d.erase(4096, 3 * 4096).unwrap();
        d.write(4096 + 512, &[1u8; 512]).unwrap();
        let f = std::fs::read(&p).unwrap();
        assert!(f[..4096].iter().all(|&b| b == 0x5A));
        assert!(f[4096..4096 + 512].iter().all(|&b| b == 0xFF));
        assert!(f[4096 + 512..4096 + 1024].iter().all(|&b| b == 1));
        assert!(f[4096 + 1024..3 * 4096].iter().all(|&b| b == 0xFF));
        assert!(f[3 * 4096..].iter().all(|&b| b == 0x5A));
        let mut back = [0u8; 8];
        d.read(4096 + 510, &mut back).unwrap();
        assert_eq!(back, [0xFF, 0xFF, 1, 1, 1, 1, 1, 1]);
    }

    #[test]
    fn misaligned_and_out_of_range_accesses_are_refused_and_write_nothing() {
        let p = temp("align", &vec![0u8; 4 * 4096]);
        let mut d = BlockDev::open(&p, true).unwrap();
        assert_eq!(d.write(100, &[1u8; 512]), Err(DevError::NotAligned));
        assert_eq!(d.write(0, &[1u8; 100]), Err(DevError::NotAligned));
        assert_eq!(d.erase(512, 4096), Err(DevError::NotAligned));
        assert_eq!(d.erase(0, 5 * 4096), Err(DevError::OutOfBounds));
        assert_eq!(d.write(4 * 4096, &[1u8; 512]), Err(DevError::OutOfBounds));
        let mut b = [0u8; 2];
        assert_eq!(d.read(4 * 4096 - 1, &mut b), Err(DevError::OutOfBounds));
        assert!(std::fs::read(&p).unwrap().iter().all(|&b| b == 0));
    }

    #[test]
    fn a_read_only_file_opens_for_reading_and_refuses_writing() {
        let p = temp("ro", &vec![0u8; 4 * 4096]);
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        perm.set_readonly(true);
        std::fs::set_permissions(&p, perm).unwrap();
        let mut d = BlockDev::open(&p, false).unwrap();
        // root ignores the mode bits; the descriptor itself is read-only either way.
        assert_eq!(d.write(0, &[1u8; 512]), Err(DevError::Io));
        assert!(d.last_error().is_some());
        assert!(std::fs::read(&p).unwrap().iter().all(|&b| b == 0));
        let is_root = std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false);
        if !is_root {
            let e = BlockDev::open(&p, true).err().unwrap();
            assert!(e.contains("for reading and writing"), "{e}");
        }
    }

    #[test]
    fn a_missing_device_is_one_clear_line() {
        let e = BlockDev::open(Path::new("/nonexistent/lifeboat"), false)
            .err()
            .unwrap();
        assert!(
            e.starts_with("cannot open /nonexistent/lifeboat for reading:"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    /// The slot logic runs on the device as on the flash: install, boot, confirm, and the
    /// bytes land in the firmware's layout (record blocks at 0 and 4 KiB, slot A at 8 KiB).
    #[test]
    fn slots_install_boot_and_confirm_on_a_file() {
        let p = temp("slots", &vec![0xFFu8; 64 * 4096]);
        let mut s = Slots::new(BlockDev::open(&p, true).unwrap()).unwrap();
        let one = image(Version::new(1, 0, 1), 5000);
        assert_eq!(s.install(&one, |_, _| {}), Ok(Slot::A));
        assert_eq!(s.begin_boot(), Some(Slot::A));
        let t = s.token().unwrap();
        assert_eq!(s.confirm(t), Ok(true));
        let two = image(Version::new(1, 0, 2), 7000);
        assert_eq!(s.install(&two, |_, _| {}), Ok(Slot::B));
        drop(s);
        let f = std::fs::read(&p).unwrap();
        assert_eq!(&f[2 * 4096..2 * 4096 + one.len()], &one[..]);
        let slot_len = (64 - 2) / 2 * 4096;
        assert_eq!(&f[2 * 4096 + slot_len..][..two.len()], &two[..]);
        let mut s = Slots::new(BlockDev::open(&p, false).unwrap()).unwrap();
        let r = s.record().unwrap();
        assert_eq!(r.slot, Slot::B);
        assert_eq!(r.state, State::New { boots_left: 3 });
        assert_eq!(r.confirmed, Some(Slot::A));
        assert_eq!(r.unit.floor, Version::new(1, 0, 0));
    }

    /// A device that shrinks under us (a card pulled, a failing disk) or is cut short: the
    /// slot reads fail or do not verify; nothing panics, nothing boots from a torn image.
    #[test]
    fn a_truncated_device_leaves_no_slot_that_verifies() {
        let p = temp("cut", &vec![0xFFu8; 64 * 4096]);
        let img = image(Version::new(1, 0, 1), 50_000);
        let mut s = Slots::new(BlockDev::open(&p, true).unwrap()).unwrap();
        assert_eq!(s.install(&img, |_, _| {}), Ok(Slot::A));
        // Cut inside slot A's image while the device is open: reads past the end fail.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(2 * 4096 + 20_000)
            .unwrap();
        let mut s = Slots::new(s.into_flash()).unwrap();
        assert!(s.record().is_some());
        assert!(s.check(Slot::A).is_err());
        assert_eq!(s.bootable(), None);
        assert!(s.flash().last_error().is_some());
        // Opened again: a smaller device, the same verdict.
        let mut s = Slots::new(BlockDev::open(&p, false).unwrap()).unwrap();
        assert!(s.check(Slot::A).is_err());
        assert_eq!(s.bootable(), None);
    }

    /// Garbage and a truncated file: no record, nothing bootable, no panic.
    #[test]
    fn garbage_and_truncated_devices_hold_no_record() {
        let mut x = 0x1234_5678u32;
        let junk: Vec<u8> = (0..64 * 4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let p = temp("junk", &junk);
        let mut s = Slots::new(BlockDev::open(&p, false).unwrap()).unwrap();
        assert_eq!(s.record(), None);
        assert_eq!(s.bootable(), None);
        let p = temp("short", &junk[..4096 * 3]);
        assert!(Slots::new(BlockDev::open(&p, false).unwrap()).is_err());
        let p = temp("empty", b"");
        assert!(Slots::new(BlockDev::open(&p, false).unwrap()).is_err());
    }
}
