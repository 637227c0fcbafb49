//! Two image slots (A/B) and the unit record on any embedded-storage `NorFlash`, and the
//! install and boot sequences that never leave the unit without its last good image.
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
//! The record ([`Record`]) is the unit's whole persistent state: the slot to boot and its
//! state, the slot holding the last image that confirmed itself, and the unit's own policy
//! ([`Unit`]: the public key, the anti-rollback floor, the activation key). It carries its
//! own CRC; new records go to the *other* record block, so the previous record survives
//! until the new one is whole; the newer valid record wins (serial-number order: the
//! sequence may wrap). A record block that cannot be read counts as empty.
//!
//! Rules (the embassy-boot / MCUboot semantics):
//! - An install overwrites the slot that does *not* hold the last confirmed image (when
//!   that image still verifies; else the one that does not hold the bootable image). It is
//!   erased, programmed, read back, and only then selected, state "new" with a boot budget.
//!   A power cut at any step leaves the previous record and its untouched slot.
//! - [`Slots::begin_boot_with`] spends one boot of a "new" image *before* the image is read
//!   (so an image that faults while loading or running still uses up its budget); one that
//!   has not confirmed when the budget is gone is abandoned for the confirmed slot (or, when
//!   no image ever confirmed, for the other slot if it verifies, in state `Unconfirmed`,
//!   where it stays). States stay real: `Confirmed` is only ever written for an image that
//!   confirmed itself.
//! - Confirmation ([`Slots::confirm`]) takes a token that is bound to the record the image
//!   was started under ([`Record::token`]): a stale or random value confirms nothing.
//! - A slot that cannot be read, fails its checks or breaks the unit's policy is a bad slot:
//!   the other one boots.
//! - When an image confirms, the unit's floor rises to its release train (`major.minor(0)`):
//!   maintenance downgrades within a train stay possible (with the operator's consent), older
//!   trains never install or boot again.
#![forbid(unsafe_code)]

pub mod dialogue;
mod record;
#[cfg(any(test, feature = "sim"))]
pub mod sim;

pub use record::{Record, State, Unit, BOOT_BUDGET, RECORD_LEN};

use core::fmt;

use embedded_storage::nor_flash::{NorFlash, NorFlashError, NorFlashErrorKind};

use crate::image::{Header, PayloadCheck, Policy, Refusal, Version, HEADER_LEN};

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
    pub(crate) fn code(self) -> u8 {
        match self {
            Slot::A => 0,
            Slot::B => 1,
        }
    }
    pub(crate) fn from_code(c: u8) -> Option<Slot> {
        match c {
            0 => Some(Slot::A),
            1 => Some(Slot::B),
            _ => None,
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

/// The platform, floor and key a slot's image must satisfy to boot (besides its integrity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootPolicy {
    pub platform: &'static str,
    /// The built-in floor; the record's floor applies on top.
    pub floor: Version,
    pub key: Option<[u8; 32]>,
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
    /// Neither record block takes a new record (the newest one stays in force).
    NoRecordBlock,
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
            InstallError::NoRecordBlock => f.write_str("no record block of the flash takes a record; the previous image stays selected"),
        }
    }
}

/// One slot, as `version` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotInfo {
    pub slot: Slot,
    /// The image's version and whole length, when a valid header is there.
    pub image: Option<(Version, u64)>,
    /// Selected by the current record (and in which state).
    pub selected: Option<State>,
    /// Holds the last image that confirmed itself.
    pub confirmed: bool,
}

/// A slot's header after [`Slots::verify_slot`], with the RAM its payload was read into.
type Verified<'r> = (Header<[u8; HEADER_LEN]>, Option<&'r mut [u8]>);

/// What [`Slots::check`] found for a slot.
pub type Checked = Result<Header<[u8; HEADER_LEN]>, Refusal>;

/// The slot layout over a flash `F`.
pub struct Slots<F> {
    flash: F,
    erase: u32,
    slot_len: u32,
    /// What a slot's image must satisfy besides its integrity (none: integrity only).
    policy: Option<BootPolicy>,
    /// The last integrity check of each slot (A, B), kept until this value writes that slot
    /// or hands out the flash: reading and hashing a 16 MiB image is not free, and one
    /// install or boot asks about the same slot several times.
    checked: [Option<Checked>; 2],
    /// The newest record and where it is, once read or written: what this value wrote
    /// (and read back) is never forgotten for an older record a failing sector shows.
    written: Option<(Record, At)>,
    /// The newest record also stands whole in the other record block.
    copied: bool,
    /// Why the last boot could not be recorded.
    unrecorded: Option<InstallError>,
}

/// Where a record sits: its record block (0, 1) and its position in that block's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct At {
    block: u32,
    index: u32,
}

impl<F: NorFlash> Slots<F> {
    /// The layout on `flash`.
    pub fn new(flash: F) -> Result<Self, InstallError> {
        let erase = (F::ERASE_SIZE as u32).max(4096);
        let cap = u32::try_from(flash.capacity()).unwrap_or(u32::MAX);
        let blocks = (cap / erase).saturating_sub(2) / 2;
        if blocks == 0 {
            return Err(InstallError::FlashTooSmall);
        }
        Ok(Slots {
            flash,
            erase,
            slot_len: blocks * erase,
            policy: None,
            checked: [None; 2],
            written: None,
            copied: false,
            unrecorded: None,
        })
    }

    /// From now on a slot is good only if its image also satisfies `policy` (platform, the
    /// higher of its floor and the record's, the signature).
    pub fn set_policy(&mut self, policy: BootPolicy) {
        self.policy = Some(policy);
    }

    /// The flash itself; whatever the caller does with it, the slots are checked afresh.
    pub fn flash(&mut self) -> &mut F {
        self.checked = [None; 2];
        self.written = None;
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

    /// The newest valid record, if any (a record that cannot be read is not there).
    pub fn record(&mut self) -> Option<Record> {
        self.newest().map(|(r, _)| r)
    }

    /// Bytes from one record position to the next in a record block (a whole write unit).
    fn stride(&self) -> u32 {
        align_up(RECORD_LEN, F::WRITE_SIZE) as u32
    }

    /// The newest valid record and where it is. Each record block is a short log: a record
    /// may sit at every [`Slots::stride`] (a position that could not be written is left
    /// blank, so all are read); a position that cannot be read, or holds a torn record, is
    /// passed over. What this value wrote itself (and
    /// read back) is remembered, so it never acts on an older record than one it wrote.
    fn newest(&mut self) -> Option<(Record, At)> {
        if let Some(w) = self.written {
            return Some(w);
        }
        let mut best: Option<(Record, At)> = None;
        // The newest record of each block: the newest of all has its second copy when the
        // other block's newest is the same record (see `copy_record`).
        let mut per_block: [Option<Record>; 2] = [None; 2];
        let stride = self.stride();
        for block in 0..2 {
            for index in 0..self.erase / stride {
                let mut r = [0u8; RECORD_LEN];
                if self
                    .read(block * self.erase + index * stride, &mut r)
                    .is_err()
                {
                    continue;
                }
                if let Some(rec) = Record::decode(&r) {
                    // Serial-number order (RFC 1982): the sequence may wrap past u32::MAX.
                    let newer = |b: &Record| (rec.seq.wrapping_sub(b.seq) as i32) > 0;
                    let own = &mut per_block[block as usize];
                    if own.as_ref().is_none_or(newer) {
                        *own = Some(rec);
                    }
                    if best.is_none_or(|(b, _)| newer(&b)) {
                        best = Some((rec, At { block, index }));
                    }
                }
            }
        }
        self.copied = best.is_some_and(|(b, at)| per_block[1 - at.block as usize] == Some(b));
        self.written = best;
        best
    }

    /// The unit's policy as the record holds it (defaults on a blank flash).
    pub fn unit(&mut self) -> Unit {
        self.record().map_or_else(Unit::default, |r| r.unit)
    }

    /// Writes `next`, with the sequence after the newest record's, so that a power cut or
    /// one failing sector at any point leaves the newest record whole, reading it back:
    /// 1. into the record block the newest record is *not* in (erased first; at the first
    ///    position that is blank and reads back whole: a bad sector costs one position);
    /// 2. then a second copy into the other block, over the previous record, so that a
    ///    sector that fails later loses neither copy (a cut here leaves the first);
    /// 3. when the first block takes no record (it cannot be erased, written or read),
    ///    appended after the newest record in its own block, which is not erased.
    ///
    /// Err when none takes it: the newest record stays what it was.
    fn commit(&mut self, next: Record) -> Result<Record, InstallError> {
        let newest = self.newest();
        let rec = Record {
            seq: newest.map_or(1, |(p, _)| p.seq.wrapping_add(1)),
            ..next
        };
        let bytes = rec.encode();
        let first = newest.map_or(0, |(_, at)| 1 - at.block);
        let err = match self.write_block(first, 0, true, &bytes) {
            Ok(at) => {
                self.written = Some((rec, at));
                self.copied = self.write_block(1 - first, 0, true, &bytes).is_ok();
                return Ok(rec);
            }
            Err(e) => e,
        };
        let Some((_, home)) = newest else {
            return Err(err);
        };
        let at = self.write_block(home.block, home.index + 1, false, &bytes)?;
        self.written = Some((rec, at));
        self.copied = false;
        Ok(rec)
    }

    /// At power-on: when the newest record has no copy in the other record block (a power
    /// cut fell between the two copies of [`Slots::commit`]), writes one there, so that a
    /// sector failing later loses nothing. A block that takes no copy is left as it is.
    pub fn copy_record(&mut self) {
        let Some((rec, at)) = self.newest() else {
            return;
        };
        if !self.copied {
            self.copied = self
                .write_block(1 - at.block, 0, true, &rec.encode())
                .is_ok();
        }
    }

    /// Puts a record into `block` at the first position from `from` that takes it (blank,
    /// written, read back whole), erasing the block first when `erase`: a block that fails
    /// its erase is erased position by position where the flash's erase unit allows.
    fn write_block(
        &mut self,
        block: u32,
        from: u32,
        erase: bool,
        bytes: &[u8; RECORD_LEN],
    ) -> Result<At, InstallError> {
        let start = block * self.erase;
        let stride = self.stride();
        let mut err = InstallError::NoRecordBlock;
        if erase {
            if let Err(e) = self.flash.erase(start, start + self.erase) {
                err = InstallError::Erase(e.kind());
                if (stride as usize).is_multiple_of(F::ERASE_SIZE.max(1)) {
                    for index in 0..self.erase / stride {
                        let at = start + index * stride;
                        let _ = self.flash.erase(at, at + stride);
                    }
                }
            }
        }
        for index in from..self.erase / stride {
            let at = At { block, index };
            match self.put(at, bytes) {
                Ok(()) => return Ok(at),
                Err(e) => err = e,
            }
        }
        Err(err)
    }

    /// Programs `bytes` at a record position that reads blank, then reads it back.
    fn put(&mut self, at: At, bytes: &[u8; RECORD_LEN]) -> Result<(), InstallError> {
        let offset = at.block * self.erase + at.index * self.stride();
        let mut back = [0u8; RECORD_LEN];
        self.read(offset, &mut back)?;
        if back.iter().any(|&b| b != 0xFF) {
            return Err(InstallError::Verify {
                offset: u64::from(offset),
            });
        }
        let mut buf = [0xFFu8; CHUNK];
        buf[..RECORD_LEN].copy_from_slice(bytes);
        let n = (self.stride() as usize).min(buf.len());
        self.flash
            .write(offset, &buf[..n])
            .map_err(|e| InstallError::Program(e.kind()))?;
        self.read(offset, &mut back)?;
        if back != *bytes {
            return Err(InstallError::Verify {
                offset: u64::from(offset),
            });
        }
        Ok(())
    }

    /// Changes the unit's policy (key, floor, activation key) in a new record; the slots
    /// and their states stay as they are. Nothing is written when nothing changes.
    pub fn update_unit(&mut self, f: impl FnOnce(&mut Unit)) -> Result<(), InstallError> {
        let prev = self.record();
        let mut next = prev.unwrap_or_else(Record::blank);
        f(&mut next.unit);
        if prev.map_or(Unit::default(), |p| p.unit) != next.unit {
            self.commit(Record {
                started: false,
                ..next
            })?;
        }
        Ok(())
    }

    /// The header of the image in `slot`, if it is a valid header.
    pub fn header(&mut self, slot: Slot) -> Result<Option<[u8; HEADER_LEN]>, InstallError> {
        let mut h = [0u8; HEADER_LEN];
        self.read(self.slot_start(slot), &mut h)?;
        Ok(Header::new_checked(&h[..]).is_ok().then_some(h))
    }

    /// Checks the image in `slot`: integrity (header, CRC-32, SHA-256, read from flash in
    /// pieces and remembered until the slot is written), then the policy set with
    /// [`Slots::set_policy`] and the record's floor. `Err(why)` for any bad slot, an
    /// unreadable one included.
    pub fn check(&mut self, slot: Slot) -> Checked {
        let c = match self.checked[slot.code() as usize] {
            Some(c) => c,
            None => {
                let c = self.check_now(slot);
                self.checked[slot.code() as usize] = Some(c);
                c
            }
        };
        let h = c?;
        self.admit(&h)?;
        Ok(h)
    }

    /// [`Slots::check`] for a slot already checked since it was last written; `None` (and
    /// no flash read) for one that was not.
    pub fn known(&mut self, slot: Slot) -> Option<Checked> {
        let _ = self.checked[slot.code() as usize]?;
        Some(self.check(slot))
    }

    /// The policy part of a check ([`Policy::admit`]), the record's floor on top of the
    /// built-in one.
    fn admit(&mut self, h: &Header<[u8; HEADER_LEN]>) -> Result<(), Refusal> {
        let Some(p) = self.policy else {
            return Ok(());
        };
        Policy {
            platform: p.platform,
            floor: p.floor.max(self.unit().floor),
            installed: None,
            public_key: p.key.as_ref(),
        }
        .admit(h)
    }

    /// [`Slots::check`], but a slot not checked yet is first offered to `load`, which may
    /// check its integrity by other means (the boot path reads it into RAM and checks it
    /// there, see [`Slots::begin_boot_with`]); `None` from `load` means "check it the usual
    /// way".
    fn check_with(
        &mut self,
        slot: Slot,
        load: &mut impl FnMut(&mut Self, Slot) -> Option<Checked>,
    ) -> Checked {
        if self.checked[slot.code() as usize].is_none() {
            if let Some(c) = load(self, slot) {
                self.checked[slot.code() as usize] = Some(c);
            }
        }
        self.check(slot)
    }

    /// The integrity check of `slot` read from flash: header (its lengths inside the slot),
    /// CRC-32, SHA-256. A read error is a bad slot ([`Refusal::Unreadable`]). Behind
    /// [`Slots::check`], which remembers it.
    fn check_now(&mut self, slot: Slot) -> Checked {
        type NoPlace = fn(&Header<[u8; HEADER_LEN]>) -> Result<&'static mut [u8], Refusal>;
        let mut chunk = [0u8; CHECK_CHUNK];
        self.verify_slot(slot, &mut chunk, None::<NoPlace>)
            .map(|(h, _)| h)
    }

    /// The same check, but the payload is read into the RAM `place` gives for the header
    /// (`Err` from `place`, e.g. no room, refuses the slot before a byte is read): what the
    /// boot path starts is exactly what was verified, and the slot is read once. `place`
    /// must give exactly `payload_len` bytes.
    pub fn load_into<'r>(
        &mut self,
        slot: Slot,
        place: impl FnOnce(&Header<[u8; HEADER_LEN]>) -> Result<&'r mut [u8], Refusal>,
    ) -> Result<(Header<[u8; HEADER_LEN]>, &'r mut [u8]), Refusal> {
        let (h, ram) = self.verify_slot(slot, &mut [], Some(place))?;
        ram.map(|r| (h, r)).ok_or(Refusal::Unreadable)
    }

    /// The one slot check behind [`Slots::check_now`] (payload streamed through `chunk`) and
    /// [`Slots::load_into`] (payload read whole into the RAM `place` gives).
    fn verify_slot<'r, P>(
        &mut self,
        slot: Slot,
        chunk: &mut [u8],
        place: Option<P>,
    ) -> Result<Verified<'r>, Refusal>
    where
        P: FnOnce(&Header<[u8; HEADER_LEN]>) -> Result<&'r mut [u8], Refusal>,
    {
        let mut h = [0u8; HEADER_LEN];
        let start = self.slot_start(slot);
        self.read(start, &mut h).map_err(|_| Refusal::Unreadable)?;
        let header = Header::new_checked(h)?;
        if header.image_len() > self.slot_len() {
            return Err(Refusal::TooLarge {
                len: header.image_len(),
                room: self.slot_len(),
            });
        }
        let len = header.payload_len();
        let mut ram = match place {
            Some(place) => {
                let ram = place(&header)?;
                if ram.len() as u64 != len {
                    return Err(Refusal::Placement { load: 0, len });
                }
                Some(ram)
            }
            None => None,
        };
        let mut check = PayloadCheck::default();
        let mut done = 0usize;
        // image_len <= slot_len < 4 GiB: lengths and offsets fit u32 and usize.
        while (done as u64) < len {
            let piece: &mut [u8] = match ram.as_deref_mut() {
                Some(r) => &mut r[done..],
                None => {
                    let n = (len as usize - done).min(chunk.len());
                    &mut chunk[..n]
                }
            };
            if piece.is_empty() {
                return Err(Refusal::Unreadable);
            }
            self.read(start + (HEADER_LEN + done) as u32, piece)
                .map_err(|_| Refusal::Unreadable)?;
            check.update(piece);
            done += piece.len();
        }
        check.finish(&header)?;
        Ok((header, ram))
    }

    /// The slot to boot: the record's slot if its image checks out, else the other slot if
    /// that one does. `None`: nothing bootable.
    pub fn bootable(&mut self) -> Option<Slot> {
        self.bootable_with(&mut |_, _| None)
    }

    fn bootable_with(
        &mut self,
        load: &mut impl FnMut(&mut Self, Slot) -> Option<Checked>,
    ) -> Option<Slot> {
        let first = self.record().map_or(Slot::A, |r| r.slot);
        [first, first.other()]
            .into_iter()
            .find(|&s| self.check_with(s, load).is_ok())
    }

    /// The slot whose image must survive an install: the last confirmed image if it still
    /// checks out, else the bootable one.
    pub fn keep(&mut self) -> Option<Slot> {
        let confirmed = self.record().and_then(|r| r.confirmed);
        match confirmed {
            Some(c) if self.check(c).is_ok() => Some(c),
            _ => self.bootable(),
        }
    }

    /// Writes `image` (header + payload, already verified by the caller) to the slot that
    /// does not hold the image to keep ([`Slots::keep`]), reads it back, then selects it.
    /// `progress(done, total)` is called as bytes are written.
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
        let keep = self.keep();
        // With nothing that verifies, the slot of the last confirmed image is spared all
        // the same (its bad sector may be a passing fault).
        let spare = keep.or_else(|| self.record().and_then(|r| r.confirmed));
        let target = spare.map_or(Slot::A, Slot::other);
        // An image started from this slot (not yet confirmed) loses its token before its
        // bytes go: its confirmation must never land on what replaces it.
        if let Some(r) = self.record().filter(|r| r.started && r.slot == target) {
            self.commit(Record {
                started: false,
                ..r
            })?;
        }
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
        let prev = self.record();
        let base = prev.unwrap_or_else(Record::blank);
        // The confirmed image survives unless its slot was the one written (it is spared
        // whenever it checks out, and also when nothing does: a failing sector over it may
        // be a passing fault, and the boot checks it again before going back to it).
        let confirmed = base.confirmed.filter(|&c| c != target);
        self.commit(Record {
            slot: target,
            state: State::New {
                boots_left: BOOT_BUDGET,
            },
            confirmed,
            started: false,
            ..base
        })?;
        Ok(target)
    }

    /// Called once per boot attempt before jumping: spends one boot of a new image, and when
    /// none is left falls back to the confirmed slot. Returns the slot to boot now.
    pub fn begin_boot(&mut self) -> Option<Slot> {
        self.begin_boot_with(|_, _| None)
    }

    /// [`Slots::begin_boot`] where `load(slots, slot)` may check a slot's integrity itself:
    /// the boot path reads the whole image into RAM (where it will run) and checks it there,
    /// once, instead of reading it from flash twice. `None` from `load` means "check it the
    /// usual way"; a loader that finds the image has no place in RAM says so with
    /// `Some(Err(..))`, which makes the slot bad. Each slot is asked about at most once; the
    /// caller must start the slot returned only if its last `load` of that slot said it is
    /// good (a later `load` of the other slot may have used the same RAM).
    ///
    /// The budget of a new image is spent (a record written and read back) before any slot
    /// is loaded, so an image that faults while being loaded or run still runs out of
    /// boots. The record an image is started under is marked started: only its token
    /// confirms. When no record can be written ([`Slots::unrecorded`] says why), a boot
    /// that cannot be counted goes to the confirmed image if it verifies (the new one gets
    /// no uncounted boot); with none to go back to, the unit boots what verifies.
    pub fn begin_boot_with(
        &mut self,
        mut load: impl FnMut(&mut Self, Slot) -> Option<Checked>,
    ) -> Option<Slot> {
        self.unrecorded = None;
        let mut rec = self.record();
        if let Some(r) = rec {
            // A slot without even a valid header cannot start (and so cannot fault): no
            // budget to spend, no record to write on every power-on of an empty unit.
            let startable = matches!(self.header(r.slot), Ok(Some(_)));
            if let (State::New { boots_left }, true) = (r.state, startable) {
                let next = match (boots_left, r.confirmed) {
                    // Never confirmed: back to the confirmed image (checked below).
                    (0, Some(back)) if back != r.slot => Record {
                        slot: back,
                        state: State::Confirmed,
                        ..r
                    },
                    // Nothing confirmed to go back to: the other image if it verifies, else
                    // this one, either as it is from now on.
                    (0, _) => {
                        let other = r.slot.other();
                        let slot = if self.check_with(other, &mut load).is_ok() {
                            other
                        } else {
                            r.slot
                        };
                        Record {
                            slot,
                            state: State::Unconfirmed,
                            ..r
                        }
                    }
                    (n, _) => Record {
                        state: State::New { boots_left: n - 1 },
                        ..r
                    },
                };
                match self.commit(Record {
                    started: true,
                    ..next
                }) {
                    Ok(n) => rec = Some(n),
                    Err(e) => {
                        self.unrecorded = Some(e);
                        if let Some(back) = r.confirmed.filter(|&c| c != r.slot) {
                            if self.check_with(back, &mut load).is_ok() {
                                return Some(back);
                            }
                        }
                    }
                }
            }
        }
        let slot = self.bootable_with(&mut load)?;
        let next = match rec {
            Some(r) if r.slot == slot => {
                // Started under this record from now on (a record written since the last
                // boot, by an install or a change of the unit's policy, is not yet).
                (!r.started && r.state != State::Confirmed).then_some(Record { started: true, ..r })
            }
            // No record, or it names a slot that does not check out: adopt this one, in the
            // state it really has.
            _ => {
                let base = rec.unwrap_or_else(Record::blank);
                let state = if base.confirmed == Some(slot) {
                    State::Confirmed
                } else {
                    State::New {
                        boots_left: BOOT_BUDGET - 1,
                    }
                };
                Some(Record {
                    slot,
                    state,
                    started: true,
                    ..base
                })
            }
        };
        if let (Some(next), None) = (next, self.unrecorded) {
            if let Err(e) = self.commit(next) {
                self.unrecorded = Some(e);
            }
        }
        Some(slot)
    }

    /// Writes `rec` back as the newest record (after something wiped the record blocks:
    /// `flashtest`), not as one an image was started under.
    pub fn restore(&mut self, rec: Record) -> Result<(), InstallError> {
        self.commit(Record {
            started: false,
            ..rec
        })
        .map(|_| ())
    }

    /// Why the last [`Slots::begin_boot_with`] could not record its boot (none: it did).
    pub fn unrecorded(&self) -> Option<InstallError> {
        self.unrecorded
    }

    /// The token an image started now must hand back to confirm itself ([`Record::token`]).
    pub fn token(&mut self) -> Option<u32> {
        self.record().map(|r| r.token())
    }

    /// The image started under the current record says it works (`token` is what it handed
    /// back): keep it, and raise the unit's floor to its release train. A token that is not
    /// the current record's, or names a record no image was started under (an install's
    /// record is in flash for anyone to read), confirms nothing. The floor follows only an
    /// image signed with the unit's key (on a keyless unit, any image): one signed with
    /// another key, started by a medium that is not the unit's, never raises it.
    /// True when a confirmation was recorded.
    pub fn confirm(&mut self, token: u32) -> Result<bool, InstallError> {
        let Some(r) = self.record() else {
            return Ok(false);
        };
        if r.state == State::Confirmed || !r.started || token != r.token() {
            return Ok(false);
        }
        let mut unit = r.unit;
        if let Ok(Some(h)) = self.header(r.slot) {
            if let Ok(h) = Header::new_checked(&h[..]) {
                if unit.key.is_none_or(|k| h.signature_ok(&k)) {
                    let v = h.version();
                    unit.floor = unit.floor.max(Version::new(v.major, v.minor, 0));
                }
            }
        }
        self.commit(Record {
            state: State::Confirmed,
            confirmed: Some(r.slot),
            started: false,
            unit,
            ..r
        })?;
        Ok(true)
    }

    /// Both slots, for `version`.
    pub fn list(&mut self) -> [SlotInfo; 2] {
        let rec = self.record();
        [Slot::A, Slot::B].map(|slot| SlotInfo {
            slot,
            image: self
                .header(slot)
                .ok()
                .flatten()
                .and_then(|h| Header::new_checked(h).ok())
                .map(|h| (h.version(), h.image_len())),
            selected: rec.filter(|r| r.slot == slot).map(|r| r.state),
            confirmed: rec.is_some_and(|r| r.confirmed == Some(slot)),
        })
    }
}

fn align_up(n: usize, a: usize) -> usize {
    n.div_ceil(a.max(1)) * a.max(1)
}

#[cfg(test)]
mod tests;
