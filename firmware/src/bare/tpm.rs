//! The unit's TPM at the console: the banner's `TPM=` line, the floor at power-on, the
//! measurements before a flash boot and `version`'s lines. The library decides and
//! marshals ([`tpm`]); this only reaches the TIS driver.
use core::fmt::Write;

use embedded_storage::nor_flash::NorFlash;
use lifeboat_firmware::config::TPM_REQUIRED;
use lifeboat_firmware::install::dialogue::Trust;
use lifeboat_firmware::install::Slots;
use lifeboat_firmware::ram::RamRegion;
use lifeboat_firmware::tpm::{self, floor, log, Error, Transport};
use lifeboat_hal::tpm::{Tis, TisError};
use lifeboat_hal::uart::Uart16550;

/// The TPM found at start-up, as the library's transport.
pub struct Tpm {
    tis: Tis,
    vendor: [u8; 4],
}

fn error(e: TisError) -> Error {
    match e {
        TisError::Absent => Error::Absent,
        TisError::NotTpm2 => Error::Interface("not a TPM 2.0"),
        TisError::Timeout(s) => Error::Timeout(s),
        TisError::Protocol(s) => Error::Interface(s),
    }
}

impl Transport for Tpm {
    fn transact(&mut self, cmd: &[u8], rsp: &mut [u8]) -> Result<usize, Error> {
        self.tis.transact(cmd, rsp).map_err(error)
    }
}

/// The vendor ID as text (printable ASCII only).
fn vendor(con: &mut Uart16550, v: &[u8; 4]) {
    for &b in v.iter().filter(|b| b.is_ascii_graphic()) {
        let _ = con.write_char(b as char);
    }
}

/// `TPM=2.0 <vendor> (TIS)` or `TPM=none` (with why, when something answered but does not
/// work): the TPM started (TPM2_Startup, unless the BIOS did).
pub fn banner(con: &mut Uart16550) -> Option<Tpm> {
    // SAFETY: 0xFED40000 is the PC Client platform's TPM window, decoded by the TPM or by
    // nothing, mapped uncacheable by every entry; this is the only `Tis`.
    let found = unsafe { Tis::probe() }.map_err(error).and_then(|tis| {
        let mut t = Tpm {
            tis,
            vendor: [0; 4],
        };
        tpm::startup(&mut t)?;
        t.vendor = tpm::manufacturer(&mut t)?;
        Ok(t)
    });
    match found {
        Ok(t) => {
            let _ = write!(con, "TPM=2.0 ");
            vendor(con, &t.vendor);
            let _ = write!(con, " (TIS)\r\n");
            Some(t)
        }
        Err(Error::Absent) => {
            let _ = write!(con, "TPM=none\r\n");
            None
        }
        Err(e) => {
            let _ = write!(con, "TPM=none ({e})\r\n");
            None
        }
    }
}

/// At power-on, after the record's confirmation: the TPM's floor follows a confirmed image
/// up and is locked until reset ([`floor::settle`]), and becomes part of `trust`. A TPM
/// that fails is dropped (one line says why); with `required`, a missing or failed TPM
/// refuses every install and flash boot.
pub fn settle<F: NorFlash>(
    con: &mut Uart16550,
    tpm: &mut Option<Tpm>,
    slots: Option<&mut Slots<F>>,
    trust: &mut Trust<'_>,
    required: bool,
) {
    if let Some(t) = tpm {
        match floor::settle(t, slots, trust) {
            Ok(f) => trust.floor = trust.floor.max(f),
            Err(e) => {
                let _ = write!(con, "TPM: {e}; its floor is not in force\r\n");
                *tpm = None;
            }
        }
    }
    if tpm.is_none() && required && trust.broken.is_none() {
        trust.broken = Some(TPM_REQUIRED);
        let _ = write!(
            con,
            "Warning: {TPM_REQUIRED}: installs and flash boot are refused until it is repaired\r\n"
        );
    }
}

/// Before a flash boot: the configuration, the command line and the image extended into
/// PCRs 8 and 9 and logged in `log` ([`log::measure`]). False (one line said why) when the
/// image must not start: the TPM failed and `required`.
pub fn measure(
    con: &mut Uart16550,
    tpm: &mut Option<Tpm>,
    m: &log::Measurement<'_>,
    event_log: &mut log::EventLog,
    required: bool,
) -> bool {
    let Some(t) = tpm else {
        if required {
            let _ = write!(
                con,
                "Flash boot refused: {TPM_REQUIRED}; entering the monitor.\r\n"
            );
        }
        return !required;
    };
    match log::measure(t, m, event_log) {
        Ok(()) => true,
        Err(e) => {
            *tpm = None;
            if required {
                let _ = write!(
                    con,
                    "Flash boot refused: the image cannot be measured: {e}; entering the monitor.\r\n"
                );
                false
            } else {
                let _ = write!(con, "Warning: the image is not measured: {e}\r\n");
                true
            }
        }
    }
}

/// After the measurements, for a kernel: lifeboat's log entries joined to the platform's
/// log in the ACPI TPM2 table's log area (SeaBIOS's, or the empty one the ROM's table loader
/// made), where Linux reads the firmware's event log. Nothing when the tables have no such
/// area, it is not below 4 GiB clear of usable RAM, or it holds no log of that format.
pub fn acpi_log(rsdp: u64, event_log: &log::EventLog, usable: &[RamRegion]) -> bool {
    const MAX: usize = 256 * 1024;
    let below_4g = |a: u64, len: usize| a != 0 && a.saturating_add(len as u64) <= 1 << 32;
    let mut read = |a: u64, buf: &mut [u8]| {
        below_4g(a, buf.len()) && {
            // SAFETY: below 4 GiB (identity-mapped); only read, and only the ACPI tables
            // the RSDP leads to, which nothing of ours writes.
            let src = unsafe { lifeboat_hal::jump::ram(a, buf.len()) };
            buf.copy_from_slice(src);
            true
        }
    };
    // Stage 2 leaves the RSDP unknown (0): then it is where the BIOS put it.
    let rsdp = match rsdp {
        0 => log::find_rsdp(&mut read),
        a => Some(a),
    };
    let Some((lasa, laml)) = rsdp.and_then(|r| log::acpi_log_area(&mut read, r)) else {
        return false;
    };
    let clear = usable
        .iter()
        .all(|r| lasa.saturating_add(laml as u64) <= r.base || lasa >= r.base + r.len);
    if !(laml <= MAX && below_4g(lasa, laml) && clear) {
        return false;
    }
    // SAFETY: the platform's log area, reserved memory (not usable RAM, checked above)
    // below 4 GiB that only the platform's log uses; the kernel reads it after the jump.
    let area = unsafe { lifeboat_hal::jump::ram(lasa, laml) };
    log::append_to(area, event_log.bytes()).is_some()
}

/// `version`'s TPM lines: the TPM, its floor and PCRs 8 and 9, or why there is none.
pub fn version(con: &mut Uart16550, tpm: &mut Option<Tpm>, trust: &Trust<'_>) {
    let Some(t) = tpm else {
        let _ = write!(
            con,
            "TPM=none: the record's and the built-in floor only; nothing measured\r\n"
        );
        return;
    };
    let _ = write!(con, "TPM=2.0 ");
    vendor(con, &t.vendor);
    let _ = write!(con, ", floor {}\r\n", trust.floor);
    match tpm::pcr_read(t, [log::PCR_CONFIG, log::PCR_IMAGE]) {
        Ok(values) => {
            for (pcr, v) in [log::PCR_CONFIG, log::PCR_IMAGE].iter().zip(values) {
                let _ = write!(con, "PCR {pcr} sha256 ");
                for b in v {
                    let _ = write!(con, "{b:02x}");
                }
                let _ = write!(con, "\r\n");
            }
        }
        Err(e) => {
            let _ = write!(con, "TPM: {e}\r\n");
        }
    }
}
