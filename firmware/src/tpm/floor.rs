//! The unit's version floor in TPM NV, where a flash programmer cannot reach it.
//!
//! One ordinary NV index ([`NV_INDEX`], 4 bytes: major, minor, maint big-endian) in the
//! owner hierarchy, created on first use. Only the owner may write it (`OWNERWRITE`, with
//! the owner's authorization, empty unless someone set one), and every write is locked
//! until the next TPM reset (`WRITE_STCLEAR`) by [`lock`], which the firmware sends before
//! it starts any image or enters the monitor: nothing that runs after the firmware can
//! write it until the next power cycle, when the firmware runs first again. Lifeboat only
//! ever writes it upwards ([`raise`]). An index at that handle with any other attributes
//! or size was not made by lifeboat and is refused ([`Error::Foreign`]).
#![forbid(unsafe_code)]

use embedded_storage::nor_flash::NorFlash;

use super::{cc, exchange, rc, simple, Command, Error, Transport, ALG_SHA256, MAX_MESSAGE};
use super::{RH_OWNER, ST_SESSIONS};
use crate::image::Version;
use crate::install::dialogue::{boot_policy, Trust, INSTALL_FLOOR};
use crate::install::Slots;

/// The floor's NV index (owner range 0x0100_0000..0x013F_FFFF; "LB" in the low half).
pub const NV_INDEX: u32 = 0x0100_4C42;
/// Bytes of the index's data.
pub const SIZE: u16 = 4;

/// TPMA_NV bits (Part 2, 13.4).
pub mod attr {
    pub const OWNERWRITE: u32 = 1 << 1;
    pub const WRITELOCKED: u32 = 1 << 11;
    pub const WRITEALL: u32 = 1 << 12;
    pub const WRITE_STCLEAR: u32 = 1 << 14;
    pub const OWNERREAD: u32 = 1 << 17;
    pub const AUTHREAD: u32 = 1 << 18;
    pub const NO_DA: u32 = 1 << 25;
    pub const WRITTEN: u32 = 1 << 29;
}

/// The attributes lifeboat gives the index: written only by the owner, whole, lockable
/// until reset; readable by anyone (its own empty auth) and by the owner.
pub const ATTRIBUTES: u32 = attr::OWNERWRITE
    | attr::WRITEALL
    | attr::WRITE_STCLEAR
    | attr::OWNERREAD
    | attr::AUTHREAD
    | attr::NO_DA;

/// The index's public area: `None` when it does not exist; else its attributes (which the
/// TPM keeps: WRITTEN, WRITELOCKED) checked against [`ATTRIBUTES`].
pub fn read_public(t: &mut impl Transport) -> Result<Option<u32>, Error> {
    let mut rsp = [0; MAX_MESSAGE];
    let r = exchange(
        t,
        Command::new(super::ST_NO_SESSIONS, cc::NV_READ_PUBLIC).u32(NV_INDEX),
        &mut rsp,
    );
    let mut r = match r {
        Err(Error::Refused { rc: code, .. })
            if code & rc::FMT1 != 0 && code & 0x3F == rc::HANDLE =>
        {
            return Ok(None)
        }
        r => r?,
    };
    let mut p = super::Reader::new(r.sized()?);
    let (index, alg, attributes) = (p.u32()?, p.u16()?, p.u32()?);
    let policy = p.sized()?.len();
    let size = p.u16()?;
    if index != NV_INDEX || alg != ALG_SHA256 {
        return Err(Error::Malformed("not the NV index asked for"));
    }
    if attributes & !(attr::WRITTEN | attr::WRITELOCKED) != ATTRIBUTES
        || policy != 0
        || size != SIZE
    {
        return Err(Error::Foreign { attributes, size });
    }
    Ok(Some(attributes))
}

/// The floor the TPM holds; `None` when the index does not exist or was never written.
pub fn read(t: &mut impl Transport) -> Result<Option<Version>, Error> {
    match read_public(t)? {
        Some(a) if a & attr::WRITTEN != 0 => {}
        _ => return Ok(None),
    }
    let mut rsp = [0; MAX_MESSAGE];
    let mut r = exchange(
        t,
        Command::new(ST_SESSIONS, cc::NV_READ)
            .u32(NV_INDEX)
            .u32(NV_INDEX)
            .password()
            .u16(SIZE)
            .u16(0),
        &mut rsp,
    )?;
    match *r.sized()? {
        [major, minor, m0, m1] => Ok(Some(Version::new(
            major,
            minor,
            u16::from_be_bytes([m0, m1]),
        ))),
        _ => Err(Error::Malformed("the floor is not 4 bytes")),
    }
}

/// Raises the TPM's floor to `to` (creating the index on first use) and returns the floor
/// it holds: never lower than before.
pub fn raise(t: &mut impl Transport, to: Version) -> Result<Version, Error> {
    let current = match read_public(t)? {
        None => {
            simple(
                t,
                Command::new(ST_SESSIONS, cc::NV_DEFINE_SPACE)
                    .u32(RH_OWNER)
                    .password()
                    .u16(0)
                    .u16(14)
                    .u32(NV_INDEX)
                    .u16(ALG_SHA256)
                    .u32(ATTRIBUTES)
                    .u16(0)
                    .u16(SIZE),
            )?;
            None
        }
        Some(_) => read(t)?,
    };
    if let Some(c) = current.filter(|&c| c >= to) {
        return Ok(c);
    }
    let [major, minor] = [to.major, to.minor];
    let [m0, m1] = to.maint.to_be_bytes();
    simple(
        t,
        Command::new(ST_SESSIONS, cc::NV_WRITE)
            .u32(RH_OWNER)
            .u32(NV_INDEX)
            .password()
            .sized(&[major, minor, m0, m1])
            .u16(0),
    )?;
    // Believed only once read back.
    match read(t)? {
        Some(v) if v == to => Ok(v),
        _ => Err(Error::Malformed("the floor written does not read back")),
    }
}

/// Locks the index against every write until the TPM's next reset (TPM2_NV_WriteLock).
pub fn lock(t: &mut impl Transport) -> Result<(), Error> {
    simple(
        t,
        Command::new(ST_SESSIONS, cc::NV_WRITE_LOCK)
            .u32(RH_OWNER)
            .u32(NV_INDEX)
            .password(),
    )
}

/// At power-on, after the record's confirmation ([`crate::boot::flash::power_on`]): the
/// TPM's floor follows the record's up, to the release train of the image the record says
/// is confirmed, but only when that image passes the unit's own checks (its signature where
/// a key is set, its platform, the floors), so a record written by a flash programmer
/// cannot push it anywhere no genuine image has been. Created at the built-in floor on
/// first use; then locked until the next reset. Returns the floor the TPM holds.
pub fn settle<F: NorFlash>(
    t: &mut impl Transport,
    slots: Option<&mut Slots<F>>,
    trust: &Trust<'_>,
) -> Result<Version, Error> {
    let mut to = INSTALL_FLOOR;
    if let Some(s) = slots {
        if trust.broken.is_none() {
            boot_policy(s, trust);
            let confirmed = s.record().and_then(|r| r.confirmed);
            if let Some(h) = confirmed.and_then(|slot| s.check(slot).ok()) {
                let v = h.version();
                to = to.max(Version::new(v.major, v.minor, 0));
            }
        }
    }
    let floor = raise(t, to)?;
    lock(t)?;
    Ok(floor)
}
