//! A TPM 2.0 behind the TIS (FIFO) interface of the TCG PC Client Platform TPM Profile
//! (PTP 1.05, 6.3/6.5): locality 0's registers at [`TIS_BASE`], polled, every wait bounded
//! by the profile's timeouts. It moves command and response bytes only; what they mean is
//! `lifeboat_firmware::tpm`'s.

use crate::regs::Mmio;
use crate::timer::poll_until;

/// Locality 0 of the TIS interface (PTP 1.05, table 8).
pub const TIS_BASE: u64 = 0xFED4_0000;
/// Bytes of one locality's register window.
const WINDOW: usize = 0x1000;

/// Register offsets in a locality's window (PTP 1.05, table 16).
mod reg {
    /// TPM_ACCESS_x (u8).
    pub const ACCESS: usize = 0x00;
    /// TPM_STS_x (u32): status bits, burstCount in bits 8-23, tpmFamily in bits 26-27.
    pub const STS: usize = 0x18;
    /// TPM_DATA_FIFO_x (8-bit accesses).
    pub const DATA_FIFO: usize = 0x24;
    /// TPM_DID_VID_x (u32): vendor ID in the low half.
    pub const DID_VID: usize = 0xF00;
}

/// TPM_ACCESS_x bits.
mod access {
    pub const REQUEST_USE: u8 = 0x02;
    pub const ACTIVE_LOCALITY: u8 = 0x20;
    pub const REG_VALID_STS: u8 = 0x80;
}

/// TPM_STS_x bits.
mod sts {
    pub const EXPECT: u32 = 0x08;
    pub const DATA_AVAIL: u32 = 0x10;
    pub const TPM_GO: u32 = 0x20;
    pub const COMMAND_READY: u32 = 0x40;
    pub const STS_VALID: u32 = 0x80;
    pub const FAMILY_SHIFT: u32 = 26;
    /// tpmFamily 01: TPM 2.0.
    pub const FAMILY_2_0: u32 = 1;
}

/// The profile's timeouts in microseconds (PTP 1.05, table 17): A for the locality, B for
/// commandReady, C/D for stsValid and burstCount.
const TIMEOUT_A: u64 = 750_000;
const TIMEOUT_B: u64 = 2_000_000;
const TIMEOUT_C: u64 = 200_000;
/// The longest any command lifeboat sends may take (TPM 2.0 "long" duration; an NV write
/// on a discrete TPM takes tens of milliseconds).
const COMMAND_DURATION: u64 = 2_000_000;

/// Why an exchange with the TPM failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TisError {
    /// Nothing answers at the TIS registers.
    Absent,
    /// The TPM at the registers is not a TPM 2.0 (tpmFamily).
    NotTpm2,
    /// A state the profile promises did not come in time (which).
    Timeout(&'static str),
    /// The TPM broke the interface's rules (how).
    Protocol(&'static str),
}

/// The TPM at locality 0, its locality held.
pub struct Tis {
    regs: Mmio,
    /// TPM_DID_VID: the vendor ID (low half) and device ID.
    pub did_vid: u32,
}

impl Tis {
    /// Finds a TPM 2.0 at [`TIS_BASE`] and takes locality 0.
    ///
    /// # Safety
    ///
    /// The TIS window must be the TPM's or unassigned (the PC Client platform reserves it),
    /// identity-mapped uncacheable (the boot chain maps MMIO below 4 GiB with PCD), and no
    /// other `Tis` may exist.
    pub unsafe fn probe() -> Result<Tis, TisError> {
        // SAFETY: the caller's contract: a fixed window only the TPM decodes, and this is
        // its one driver.
        let regs = unsafe { Mmio::new(TIS_BASE, WINDOW) };
        let did_vid = regs.read32(reg::DID_VID);
        if did_vid == 0 || did_vid == u32::MAX {
            return Err(TisError::Absent);
        }
        let t = Tis { regs, did_vid };
        t.regs.write8(reg::ACCESS, access::REQUEST_USE);
        let want = access::ACTIVE_LOCALITY | access::REG_VALID_STS;
        if !poll_until(TIMEOUT_A, || t.regs.read8(reg::ACCESS) & want == want) {
            return Err(TisError::Timeout("locality 0"));
        }
        if (t.sts() >> sts::FAMILY_SHIFT) & 3 != sts::FAMILY_2_0 {
            return Err(TisError::NotTpm2);
        }
        Ok(t)
    }

    fn sts(&self) -> u32 {
        self.regs.read32(reg::STS)
    }

    /// Waits (up to `us`) until every bit of `bits` is set in TPM_STS.
    fn wait(&self, bits: u32, us: u64, what: &'static str) -> Result<u32, TisError> {
        let mut s = 0;
        if poll_until(us, || {
            s = self.sts();
            s != u32::MAX && s & bits == bits
        }) {
            Ok(s)
        } else {
            Err(TisError::Timeout(what))
        }
    }

    /// The burst count: how many bytes the FIFO takes or gives now (waits for a non-zero one).
    fn burst(&self) -> Result<usize, TisError> {
        let mut n = 0;
        if poll_until(TIMEOUT_C, || {
            n = (self.sts() >> 8) & 0xFFFF;
            n != 0
        }) {
            Ok(n as usize)
        } else {
            Err(TisError::Timeout("burstCount"))
        }
    }

    /// Sends `cmd` and reads the whole response into `rsp`; returns its length. The TPM is
    /// left ready for the next command (or idle) whatever happens.
    pub fn transact(&mut self, cmd: &[u8], rsp: &mut [u8]) -> Result<usize, TisError> {
        let r = self.exchange(cmd, rsp);
        // commandReady after a response (or a failure) aborts anything in flight.
        self.regs.write32(reg::STS, sts::COMMAND_READY);
        r
    }

    fn exchange(&mut self, cmd: &[u8], rsp: &mut [u8]) -> Result<usize, TisError> {
        if rsp.len() < 10 {
            return Err(TisError::Protocol("response buffer shorter than a header"));
        }
        self.regs.write32(reg::STS, sts::COMMAND_READY);
        self.wait(sts::COMMAND_READY, TIMEOUT_B, "commandReady")?;
        let mut sent = 0;
        while sent < cmd.len() {
            let n = self.burst()?.min(cmd.len() - sent);
            for &b in &cmd[sent..sent + n] {
                self.regs.write8(reg::DATA_FIFO, b);
            }
            sent += n;
            let s = self.wait(sts::STS_VALID, TIMEOUT_C, "stsValid")?;
            let expect = s & sts::EXPECT != 0;
            if expect != (sent < cmd.len()) {
                return Err(TisError::Protocol(
                    "Expect disagrees with the command's length",
                ));
            }
        }
        self.regs.write32(reg::STS, sts::TPM_GO);
        self.wait(
            sts::STS_VALID | sts::DATA_AVAIL,
            COMMAND_DURATION,
            "the response",
        )?;
        // The header first (its size), then the rest.
        let mut got = 0;
        let mut len = 10;
        while got < len {
            let n = self.burst()?.min(len - got);
            for b in &mut rsp[got..got + n] {
                *b = self.regs.read8(reg::DATA_FIFO);
            }
            got += n;
            if got == 10 && len == 10 {
                len = u32::from_be_bytes([rsp[2], rsp[3], rsp[4], rsp[5]]) as usize;
                if !(10..=rsp.len()).contains(&len) {
                    return Err(TisError::Protocol("response size out of range"));
                }
            }
            if got < len {
                self.wait(sts::STS_VALID | sts::DATA_AVAIL, TIMEOUT_C, "dataAvail")?;
            }
        }
        let s = self.wait(sts::STS_VALID, TIMEOUT_C, "stsValid")?;
        if s & sts::DATA_AVAIL != 0 {
            return Err(TisError::Protocol("more response bytes than its size"));
        }
        Ok(len)
    }
}
