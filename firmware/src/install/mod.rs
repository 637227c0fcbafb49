//! Two image slots (A/B) on any embedded-storage `NorFlash`, and the install sequence that
//! never leaves the unit without a bootable image.
//!
//! Layout (`E` = the flash's erase size, rounded up to 4 KiB):
//!
//! | offset | what |
//! |---|---|
//! | 0 | record block 0 |
//! | E | record block 1 |
//! | 2E | slot A (half of the rest, in whole erase blocks) |
//! | 2E + S | slot B |
//!
//! A record (at the start of a record block) names the slot to boot, its state and a
//! sequence number, and carries its own CRC. New records go to the *other* record block, so
//! the previous record survives until the new one is whole; selection takes the valid record
//! with the highest sequence.
//!
//! Install: refuse an image larger than a slot before touching anything; erase the slot that
//! is not the bootable one; program; read back and compare; only then write the record that
//! selects it (state "new", with a boot budget). A power cut at any step leaves the old record,
//! which selects the old, untouched slot. Host tests cut power at every flash operation.
//!
//! Boot budget (rollback): each [`Slots::begin_boot`] of a "new" image spends one boot; an
//! image that has not confirmed itself ([`Slots::confirm`]) when the budget is gone is
//! abandoned for the other slot.
#![forbid(unsafe_code)]

#[cfg(test)]
pub mod sim;

use core::fmt;

use embedded_storage::nor_flash::{NorFlash, NorFlashError, NorFlashErrorKind};

use crate::image::{Header, PayloadCheck, Refusal, Version, HEADER_LEN};

const RECORD_MAGIC: [u8; 4] = *b"LBSR";
const RECORD_LEN: usize = 32;
/// Boots a new image gets to confirm itself.
pub const BOOT_BUDGET: u8 = 3;
/// Bytes moved per flash read when no larger scratch buffer is given.
const CHUNK: usize = 4096;
/// Bytes per flash read when a slot is checked in place (on the stack: the firmware's is
/// 256 KiB). Each read is a command to the flash (an ATA DMA command under QEMU costs about
/// 0.3 ms whatever its size): 4 KiB reads made checking a 16 MiB slot take 1.6 s.
const CHECK_CHUNK: usize = 64 * 1024;
/// Bytes per flash write of an install: the image is written straight from its buffer in
/// pieces this large (one progress call each); a driver ends each write durably (the ATA
/// driver flushes its cache), so fewer, larger writes are faster.
const WRITE_CHUNK: usize = 256 * 1024;

/// A slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
    fn code(self) -> u8 {
        match self {
            Slot::A => 0,
            Slot::B => 1,
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Slot::A => "A",
            Slot::B => "B",
        })
    }
}

/// Whether the selected image has proved itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Installed, not yet confirmed; `boots_left` boots remain.
    New {
        boots_left: u8,
    },
    Confirmed,
}

/// The record that selects a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub seq: u32,
    pub slot: Slot,
    pub state: State,
}

impl Record {
    fn encode(&self) -> [u8; RECORD_LEN] {
        let mut r = [0xFFu8; RECORD_LEN];
        r[0..4].copy_from_slice(&RECORD_MAGIC);
        r[4..8].copy_from_slice(&self.seq.to_le_bytes());
        r[8] = self.slot.code();
        let (state, left) = match self.state {
            State::New { boots_left } => (0, boots_left),
            State::Confirmed => (1, 0),
        };
        r[9] = state;
        r[10] = left;
        r[11] = 0;
        let crc = crate::image::CRC32.checksum(&r[..28]);
        r[28..32].copy_from_slice(&crc.to_le_bytes());
        r
    }

    fn decode(r: &[u8]) -> Option<Record> {
        if r.len() < RECORD_LEN || r[0..4] != RECORD_MAGIC {
            return None;
        }
        let crc = u32::from_le_bytes([r[28], r[29], r[30], r[31]]);
        if crate::image::CRC32.checksum(&r[..28]) != crc {
            return None;
        }
        let slot = match r[8] {
            0 => Slot::A,
            1 => Slot::B,
            _ => return None,
        };
        let state = match r[9] {
            0 => State::New { boots_left: r[10] },
            1 => State::Confirmed,
            _ => return None,
        };
        Some(Record {
            seq: u32::from_le_bytes([r[4], r[5], r[6], r[7]]),
            slot,
            state,
        })
    }
}

/// What went wrong, with the flash's own error kind where there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallError {
    /// The flash is too small for two record blocks and two slots.
    FlashTooSmall,
    /// The image does not fit a slot (nothing was erased).
    TooLarge {
        len: u64,
        slot: u64,
    },
    Erase(NorFlashErrorKind),
    Program(NorFlashErrorKind),
    Read(NorFlashErrorKind),
    /// The read-back differs from the image at this offset (the old image stays selected).
    Verify {
        offset: u64,
    },
}

/// The operator's words for a flash error kind.
fn kind_text(k: &NorFlashErrorKind) -> &'static str {
    match k {
        NorFlashErrorKind::NotAligned => "access not aligned to the flash's units",
        NorFlashErrorKind::OutOfBounds => "access beyond the end of the flash",
        _ => "the device reported an error",
    }
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::FlashTooSmall => f.write_str("the flash is too small for two image slots"),
            InstallError::TooLarge { len, slot } => write!(f, "image of {len} bytes does not fit a flash slot of {slot} bytes; nothing was erased"),
            InstallError::Erase(k) => write!(f, "flash erase failed ({}); the previous image stays selected", kind_text(k)),
            InstallError::Program(k) => write!(f, "flash write failed ({}); the previous image stays selected", kind_text(k)),
            InstallError::Read(k) => write!(f, "flash read failed ({})", kind_text(k)),
            InstallError::Verify { offset } => write!(f, "flash read-back differs at offset {offset:#x}; the previous image stays selected"),
        }
    }
}

/// One slot, as the `slots` command lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotInfo {
    pub slot: Slot,
    /// The image's version and whole length, when a valid header is there.
    pub image: Option<(Version, u64)>,
    /// Selected by the current record (and in which state).
    pub selected: Option<State>,
}

/// What [`Slots::check`] found for a slot.
pub type Checked = Result<Header<[u8; HEADER_LEN]>, Refusal>;

/// The slot layout over a flash `F`.
pub struct Slots<F> {
    flash: F,
    erase: u32,
    slot_len: u32,
    /// The last [`Slots::check`] of each slot (A, B), kept until this value writes that slot
    /// or hands out the flash: reading and hashing a 16 MiB image is not free, and one
    /// install or boot asks about the same slot several times.
    checked: [Option<Checked>; 2],
}

impl<F: NorFlash> Slots<F> {
    /// The layout on `flash`.
    pub fn new(flash: F) -> Result<Self, InstallError> {
        let erase = (F::ERASE_SIZE as u32).max(4096);
        let cap = flash.capacity() as u32;
        let blocks = (cap / erase).saturating_sub(2) / 2;
        if blocks == 0 {
            return Err(InstallError::FlashTooSmall);
        }
        Ok(Slots {
            flash,
            erase,
            slot_len: blocks * erase,
            checked: [None; 2],
        })
    }

    /// The flash itself; whatever the caller does with it, the slots are checked afresh.
    pub fn flash(&mut self) -> &mut F {
        self.checked = [None; 2];
        &mut self.flash
    }

    pub fn into_flash(self) -> F {
        self.flash
    }

    /// Bytes one slot holds.
    pub fn slot_len(&self) -> u64 {
        u64::from(self.slot_len)
    }

    fn slot_start(&self, s: Slot) -> u32 {
        2 * self.erase + s.code() as u32 * self.slot_len
    }

    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), InstallError> {
        self.flash
            .read(offset, buf)
            .map_err(|e| InstallError::Read(e.kind()))
    }

    /// The newest valid record, if any.
    pub fn record(&mut self) -> Result<Option<Record>, InstallError> {
        let mut best: Option<Record> = None;
        for i in 0..2 {
            let mut r = [0u8; RECORD_LEN];
            self.read(i * self.erase, &mut r)?;
            if let Some(rec) = Record::decode(&r) {
                if best.is_none_or(|b| rec.seq > b.seq) {
                    best = Some(rec);
                }
            }
        }
        Ok(best)
    }

    fn write_record(&mut self, rec: Record) -> Result<(), InstallError> {
        let block = (rec.seq % 2) * self.erase;
        self.flash
            .erase(block, block + self.erase)
            .map_err(|e| InstallError::Erase(e.kind()))?;
        let mut buf = [0xFFu8; CHUNK];
        buf[..RECORD_LEN].copy_from_slice(&rec.encode());
        let n = align_up(RECORD_LEN, F::WRITE_SIZE).min(buf.len());
        self.flash
            .write(block, &buf[..n])
            .map_err(|e| InstallError::Program(e.kind()))
    }

    /// The header of the image in `slot`, if it is a valid header.
    pub fn header(&mut self, slot: Slot) -> Result<Option<[u8; HEADER_LEN]>, InstallError> {
        let mut h = [0u8; HEADER_LEN];
        self.read(self.slot_start(slot), &mut h)?;
        Ok(Header::new_checked(&h[..]).is_ok().then_some(h))
    }

    /// Checks the image in `slot` end to end (header, CRC-32, SHA-256), reading it back in
    /// pieces; `Ok(Err(why))` when the flash reads fine but the image is bad. The answer is
    /// remembered until the slot is written.
    pub fn check(&mut self, slot: Slot) -> Result<Checked, InstallError> {
        if let Some(c) = self.checked[slot.code() as usize] {
            return Ok(c);
        }
        let c = self.check_now(slot)?;
        self.checked[slot.code() as usize] = Some(c);
        Ok(c)
    }

    /// [`Slots::check`], but a slot not checked yet is first offered to `load`, which may
    /// check it by other means (the boot path reads it into RAM and checks it there, see
    /// [`Slots::begin_boot_with`]); `Ok(None)` from `load` means "check it the usual way".
    fn check_with(
        &mut self,
        slot: Slot,
        load: &mut impl FnMut(&mut Self, Slot) -> Result<Option<Checked>, InstallError>,
    ) -> Result<Checked, InstallError> {
        if self.checked[slot.code() as usize].is_none() {
            if let Some(c) = load(self, slot)? {
                self.checked[slot.code() as usize] = Some(c);
            }
        }
        self.check(slot)
    }

    fn check_now(&mut self, slot: Slot) -> Result<Checked, InstallError> {
        let mut h = [0u8; HEADER_LEN];
        let start = self.slot_start(slot);
        self.read(start, &mut h)?;
        let header = match Header::new_checked(h) {
            Ok(hd) => hd,
            Err(e) => return Ok(Err(e)),
        };
        if header.image_len() > self.slot_len() {
            return Ok(Err(Refusal::TooLarge {
                len: header.image_len(),
                room: self.slot_len(),
            }));
        }
        let mut check = PayloadCheck::default();
        let mut buf = [0u8; CHECK_CHUNK];
        let mut done = 0u64;
        while done < header.payload_len() {
            let n = (header.payload_len() - done).min(CHECK_CHUNK as u64) as usize;
            self.read(start + HEADER_LEN as u32 + done as u32, &mut buf[..n])?;
            check.update(&buf[..n]);
            done += n as u64;
        }
        Ok(check.finish(&header).map(|()| header))
    }

    /// Reads `buf.len()` bytes of the image in `slot` from `offset` (0 = its header).
    pub fn read_image(
        &mut self,
        slot: Slot,
        offset: u32,
        buf: &mut [u8],
    ) -> Result<(), InstallError> {
        let start = self.slot_start(slot);
        self.read(start + offset, buf)
    }

    /// The slot to boot: the record's slot if its image checks out, else the other slot if
    /// that one does (the record is then rewritten to it). `None`: nothing bootable.
    pub fn bootable(&mut self) -> Result<Option<Slot>, InstallError> {
        self.bootable_with(&mut |_, _| Ok(None))
    }

    /// [`Slots::bootable`] with the slots checked through [`Slots::check_with`].
    fn bootable_with(
        &mut self,
        load: &mut impl FnMut(&mut Self, Slot) -> Result<Option<Checked>, InstallError>,
    ) -> Result<Option<Slot>, InstallError> {
        let rec = self.record()?;
        let first = rec.map_or(Slot::A, |r| r.slot);
        for s in [first, first.other()] {
            if self.check_with(s, load)?.is_ok() {
                return Ok(Some(s));
            }
        }
        Ok(None)
    }

    /// Writes `image` (header + payload, already verified by the caller) to the slot that is
    /// not the bootable one, reads it back, then selects it. `progress(done, total)` is
    /// called as bytes are written.
    pub fn install(
        &mut self,
        image: &[u8],
        progress: impl FnMut(u64, u64),
    ) -> Result<Slot, InstallError> {
        self.install_with(image, &mut [], progress)
    }

    /// [`Slots::install`], reading back through `scratch` (any length; the larger, the fewer
    /// flash reads: the firmware lends the free part of its download buffer).
    pub fn install_with(
        &mut self,
        image: &[u8],
        scratch: &mut [u8],
        mut progress: impl FnMut(u64, u64),
    ) -> Result<Slot, InstallError> {
        let len = image.len() as u64;
        if len > self.slot_len() {
            return Err(InstallError::TooLarge {
                len,
                slot: self.slot_len(),
            });
        }
        let keep = self.bootable()?;
        let target = keep.map_or(Slot::A, Slot::other);
        let start = self.slot_start(target);
        let span = align_up(image.len(), self.erase as usize) as u32;
        self.checked[target.code() as usize] = None;
        self.flash
            .erase(start, start + span)
            .map_err(|e| InstallError::Erase(e.kind()))?;
        // Whole write units straight from the image, then the tail padded with 0xFF.
        let unit = F::WRITE_SIZE.max(1);
        let whole = image.len() - image.len() % unit;
        let piece = (WRITE_CHUNK - WRITE_CHUNK % unit).max(unit);
        let mut done = 0usize;
        while done < image.len() {
            let n = if done < whole {
                (whole - done).min(piece)
            } else {
                image.len() - done
            };
            let r = if done < whole {
                self.flash
                    .write(start + done as u32, &image[done..done + n])
            } else {
                let mut buf = [0xFFu8; CHUNK];
                let padded = align_up(n, F::WRITE_SIZE);
                buf[..n].copy_from_slice(&image[done..]);
                self.flash.write(start + done as u32, &buf[..padded])
            };
            r.map_err(|e| InstallError::Program(e.kind()))?;
            done += n;
            progress(done as u64, len);
        }
        // Read back everything before it can be selected.
        let mut small = [0u8; CHUNK];
        let buf: &mut [u8] = if scratch.len() > CHUNK {
            scratch
        } else {
            &mut small
        };
        let mut done = 0usize;
        while done < image.len() {
            let n = (image.len() - done).min(buf.len());
            self.read(start + done as u32, &mut buf[..n])?;
            if buf[..n] != image[done..done + n] {
                let i = (0..n).find(|&i| buf[i] != image[done + i]).unwrap_or(0);
                return Err(InstallError::Verify {
                    offset: (done + i) as u64,
                });
            }
            done += n;
        }
        let seq = self.record()?.map_or(1, |r| r.seq.wrapping_add(1));
        self.write_record(Record {
            seq,
            slot: target,
            state: State::New {
                boots_left: BOOT_BUDGET,
            },
        })?;
        Ok(target)
    }

    /// Called once per boot attempt before jumping: spends one boot of a new image, and when
    /// none is left falls back to the other slot. Returns the slot to boot now.
    pub fn begin_boot(&mut self) -> Result<Option<Slot>, InstallError> {
        self.begin_boot_with(|_, _| Ok(None))
    }

    /// [`Slots::begin_boot`] where `load(flash_slots, slot)` may check a slot itself: the
    /// boot path reads the whole image into RAM (where it will run) and checks it there,
    /// once, instead of reading it from flash twice. `Ok(None)` from `load` means "check it
    /// the usual way". Each slot is asked about at most once; the caller must start the slot
    /// returned only if its last `load` of that slot said it is good (a later `load` of the
    /// other slot may have used the same RAM).
    pub fn begin_boot_with(
        &mut self,
        mut load: impl FnMut(&mut Self, Slot) -> Result<Option<Checked>, InstallError>,
    ) -> Result<Option<Slot>, InstallError> {
        let Some(slot) = self.bootable_with(&mut load)? else {
            return Ok(None);
        };
        let rec = self.record()?;
        let seq = rec.map_or(1, |r| r.seq.wrapping_add(1));
        match rec {
            Some(r) if r.slot == slot => match r.state {
                State::Confirmed => Ok(Some(slot)),
                State::New { boots_left: 0 } => {
                    // Never confirmed: go back to the other image if it still checks out.
                    let back = slot.other();
                    if self.check_with(back, &mut load)?.is_ok() {
                        self.write_record(Record {
                            seq,
                            slot: back,
                            state: State::Confirmed,
                        })?;
                        Ok(Some(back))
                    } else {
                        Ok(Some(slot))
                    }
                }
                State::New { boots_left } => {
                    self.write_record(Record {
                        seq,
                        slot,
                        state: State::New {
                            boots_left: boots_left - 1,
                        },
                    })?;
                    Ok(Some(slot))
                }
            },
            // No record, or it names a slot that no longer checks out: adopt this one.
            _ => {
                self.write_record(Record {
                    seq,
                    slot,
                    state: State::Confirmed,
                })?;
                Ok(Some(slot))
            }
        }
    }

    /// The running image says it works: keep it.
    pub fn confirm(&mut self) -> Result<(), InstallError> {
        if let Some(r) = self.record()? {
            if r.state != State::Confirmed {
                self.write_record(Record {
                    seq: r.seq.wrapping_add(1),
                    slot: r.slot,
                    state: State::Confirmed,
                })?;
            }
        }
        Ok(())
    }

    /// Both slots, for the `slots` command.
    pub fn list(&mut self) -> Result<[SlotInfo; 2], InstallError> {
        let rec = self.record()?;
        let mut out = [Slot::A, Slot::B].map(|slot| SlotInfo {
            slot,
            image: None,
            selected: rec.filter(|r| r.slot == slot).map(|r| r.state),
        });
        for info in &mut out {
            if let Some(h) = self.header(info.slot)? {
                let h = Header::new_checked(&h[..])
                    .map_err(|_| InstallError::Read(NorFlashErrorKind::Other))?;
                info.image = Some((h.version(), h.image_len()));
            }
        }
        Ok(out)
    }
}

fn align_up(n: usize, a: usize) -> usize {
    n.div_ceil(a.max(1)) * a.max(1)
}

#[cfg(test)]
mod tests;
