//! Fuzzes the TPM 2.0 response parsing (`tpm`): a TPM that answers anything. The input is
//! a sequence of responses, each `[len u16 LE][len bytes]` (cut at the end of the input;
//! once it is used up the TPM stops answering: a timeout). Lifeboat's power-on runs on it:
//! `startup`, `manufacturer`, `floor::raise` to 2.0(0), `floor::lock`, `log::measure`,
//! `pcr_read` of PCRs 8 and 9. The whole input is also read as a TCG2 event log
//! (`log::events`, `log::replay`), as a platform's log area lifeboat's entries join
//! (`log::append_to`), and as memory holding ACPI tables from address 0 (`acpi_log_area`).
//!
//! Checks: no panic, no hang; every error displays as one line; a floor `raise` returns is
//! never below the one asked for (it is believed only once read back); PCR values read are
//! exactly 32 bytes each; an area `append_to` accepts holds a log that parses, one it refuses
//! is unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_firmware::image::Version;
use lifeboat_firmware::tpm::{self, floor, log, Error, Transport};

struct Hostile<'a> {
    rest: &'a [u8],
}

impl Transport for Hostile<'_> {
    fn transact(&mut self, _cmd: &[u8], rsp: &mut [u8]) -> Result<usize, Error> {
        if self.rest.len() < 2 {
            return Err(Error::Timeout("no answer"));
        }
        let n = usize::from(u16::from_le_bytes([self.rest[0], self.rest[1]]));
        let n = n.min(self.rest.len() - 2).min(rsp.len());
        rsp[..n].copy_from_slice(&self.rest[2..2 + n]);
        self.rest = &self.rest[2 + n..];
        Ok(n)
    }
}

fn one_line(e: &Error) {
    let s = e.to_string();
    assert!(!s.contains('\n') && !s.contains('\r'), "{s:?}");
}

fuzz_target!(|data: &[u8]| {
    let mut t = Hostile { rest: data };
    let check = |r: Result<(), Error>| {
        if let Err(e) = r {
            one_line(&e);
        }
    };
    check(tpm::startup(&mut t));
    check(tpm::manufacturer(&mut t).map(|_| ()));
    let want = Version::new(2, 0, 0);
    match floor::raise(&mut t, want) {
        Ok(v) => assert!(v >= want, "{v:?}"),
        Err(e) => one_line(&e),
    }
    check(floor::read(&mut t).map(|_| ()));
    check(floor::lock(&mut t));
    let mut l = log::EventLog::new();
    let m = log::Measurement {
        config: b"boot_timeout=1\n",
        cmdline: b"console=ttyS0",
        payload_sha256: [7; 32],
        what: "lifeboat image 2.0(1)",
    };
    check(log::measure(&mut t, &m, &mut l));
    check(tpm::pcr_read(&mut t, [8, 9]).map(|_| ()));
    // What lifeboat logged always parses back.
    assert!(log::events(l.bytes(), |_| {}));
    let _ = log::events(data, |e| assert!(e.data.len() <= data.len()));
    let _ = log::replay(data, 9);
    // The input as a platform's log area: lifeboat's entries join it or it is left alone.
    let mut area = data.to_vec();
    match log::append_to(&mut area, l.bytes()) {
        Some(n) => assert!(n <= area.len() && log::events(&area[..n], |_| {})),
        None => assert_eq!(area, data),
    }
    let mut read =
        |a: u64, b: &mut [u8]| match data.get(a as usize..).and_then(|d| d.get(..b.len())) {
            Some(s) => {
                b.copy_from_slice(s);
                true
            }
            None => false,
        };
    let _ = log::acpi_log_area(&mut read, 0);
});
