//! The record codec: the unit's whole persistent state in 128 bytes with its own CRC-32.
//! Where records live in flash (two blocks, each a short log) is [`super::Slots`]'s.
#![forbid(unsafe_code)]

use crate::activation::ActivationKey;
use crate::image::Version;

use super::Slot;

pub(super) const RECORD_MAGIC: [u8; 4] = *b"LBS2";
/// Bytes of one encoded record.
pub const RECORD_LEN: usize = 128;
/// Boots a new image gets to confirm itself.
pub const BOOT_BUDGET: u8 = 3;

/// Whether the selected image has proved itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Installed, not yet confirmed; `boots_left` boots remain.
    New {
        boots_left: u8,
    },
    /// A new image spent its budget with no confirmed image to go back to, so the unit
    /// boots the other verifying image (or, with none, this one) as it is, and stays with
    /// it until an image confirms: never `Confirmed` without a confirmation.
    Unconfirmed,
    Confirmed,
}

/// The unit's own policy, kept in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// The ed25519 key images must be signed with (a copy of the unit firmware's own, for
    /// Boothelpers to refuse early; the unit's flash boot uses its firmware's key).
    pub key: Option<[u8; 32]>,
    /// Nothing older installs or boots (raised when an image signed with `key` confirms).
    pub floor: Version,
    pub activation: Option<ActivationKey>,
}

impl Default for Unit {
    fn default() -> Self {
        Unit {
            key: None,
            floor: Version::new(0, 0, 0),
            activation: None,
        }
    }
}

/// The record: which slot boots, in what state, which slot holds the last confirmed image,
/// and the unit's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub seq: u32,
    pub slot: Slot,
    pub state: State,
    /// The slot holding the last image that confirmed itself (`None`: none ever did, or
    /// it was lost).
    pub confirmed: Option<Slot>,
    /// Written by a flash boot just before it starts `slot`: only a record under which an
    /// image was really started has a token that confirms anything ([`Record::token`]).
    pub started: bool,
    pub unit: Unit,
}

mod rec {
    use core::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const SLOT: usize = 8;
    pub const STATE: usize = 9;
    pub const BOOTS_LEFT: usize = 10;
    pub const CONFIRMED: usize = 11;
    pub const FLOOR: Range<usize> = 12..16;
    pub const FLAGS: usize = 16;
    pub const KEY: Range<usize> = 20..52;
    pub const ACTIVATION: Range<usize> = 52..68;
    pub const CRC: Range<usize> = 124..128;
    pub const FLAG_KEY: u8 = 1;
    pub const FLAG_ACTIVATION: u8 = 2;
    pub const FLAG_STARTED: u8 = 4;
    pub const NO_SLOT: u8 = 0xFF;
}

impl Record {
    /// The record a blank flash implies.
    pub fn blank() -> Record {
        Record {
            seq: 0,
            slot: Slot::A,
            state: State::New {
                boots_left: BOOT_BUDGET,
            },
            confirmed: None,
            started: false,
            unit: Unit::default(),
        }
    }

    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut r = [0u8; RECORD_LEN];
        r[rec::MAGIC].copy_from_slice(&RECORD_MAGIC);
        r[rec::SEQ].copy_from_slice(&self.seq.to_le_bytes());
        r[rec::SLOT] = self.slot.code();
        let (state, left) = match self.state {
            State::New { boots_left } => (0, boots_left),
            State::Confirmed => (1, 0),
            State::Unconfirmed => (2, 0),
        };
        r[rec::STATE] = state;
        r[rec::BOOTS_LEFT] = left;
        r[rec::CONFIRMED] = self.confirmed.map_or(rec::NO_SLOT, Slot::code);
        let f = self.unit.floor;
        r[rec::FLOOR].copy_from_slice(&[f.major, f.minor, f.maint as u8, (f.maint >> 8) as u8]);
        if let Some(k) = self.unit.key {
            r[rec::FLAGS] |= rec::FLAG_KEY;
            r[rec::KEY].copy_from_slice(&k);
        }
        if let Some(a) = self.unit.activation {
            r[rec::FLAGS] |= rec::FLAG_ACTIVATION;
            for (i, w) in a.iter().enumerate() {
                r[rec::ACTIVATION.start + 4 * i..][..4].copy_from_slice(&w.to_le_bytes());
            }
        }
        if self.started {
            r[rec::FLAGS] |= rec::FLAG_STARTED;
        }
        let crc = crate::image::CRC32.checksum(&r[..rec::CRC.start]);
        r[rec::CRC].copy_from_slice(&crc.to_le_bytes());
        r
    }

    /// A record from flash bytes; `None` for anything but a whole, valid record.
    pub fn decode(r: &[u8]) -> Option<Record> {
        let r = r.get(..RECORD_LEN)?;
        if r[rec::MAGIC] != RECORD_MAGIC {
            return None;
        }
        let le32 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if crate::image::CRC32.checksum(&r[..rec::CRC.start]) != le32(&r[rec::CRC]) {
            return None;
        }
        let state = match (r[rec::STATE], r[rec::BOOTS_LEFT]) {
            (0, left) if left <= BOOT_BUDGET => State::New { boots_left: left },
            (1, 0) => State::Confirmed,
            (2, 0) => State::Unconfirmed,
            _ => return None,
        };
        let confirmed = match r[rec::CONFIRMED] {
            rec::NO_SLOT => None,
            c => Some(Slot::from_code(c)?),
        };
        let flags = r[rec::FLAGS];
        if flags & !(rec::FLAG_KEY | rec::FLAG_ACTIVATION | rec::FLAG_STARTED) != 0 {
            return None;
        }
        let f = &r[rec::FLOOR];
        let key = (flags & rec::FLAG_KEY != 0).then(|| {
            let mut k = [0u8; 32];
            k.copy_from_slice(&r[rec::KEY]);
            k
        });
        let activation = (flags & rec::FLAG_ACTIVATION != 0).then(|| {
            let a = &r[rec::ACTIVATION];
            [le32(&a[0..]), le32(&a[4..]), le32(&a[8..]), le32(&a[12..])]
        });
        Some(Record {
            seq: le32(&r[rec::SEQ]),
            slot: Slot::from_code(r[rec::SLOT])?,
            state,
            confirmed,
            started: flags & rec::FLAG_STARTED != 0,
            unit: Unit {
                key,
                floor: Version::new(f[0], f[1], u16::from_le_bytes([f[2], f[3]])),
                activation,
            },
        })
    }

    /// The confirmation token of an image started under this record: what the image hands
    /// back (`hal::cmos`) to say it works. It is the record's own CRC-32, so it names this
    /// record and no other (another sequence number, slot or state gives another token);
    /// [`super::Slots::confirm`] takes it only for a record an image was started under.
    pub fn token(&self) -> u32 {
        let r = self.encode();
        u32::from_le_bytes([r[124], r[125], r[126], r[127]])
    }
}
