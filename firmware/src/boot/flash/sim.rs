//! A RAM for host tests and fuzz targets of the flash boot: one buffer from address 0 that
//! panics on any request the bare binary's `Ram` would refuse ([`super::may_write`]), so a
//! boot that asks for memory it may not touch can never pass as an ordinary refusal.
use std::vec::Vec;

use super::{may_write, Ram};
use crate::ram::RamRegion;

/// The RAM: `mem[a]` is the byte at address `a`.
pub struct SimRam {
    pub mem: Vec<u8>,
    /// Usable RAM and the firmware, as the boot's `Trust` names them.
    pub ram: &'static [RamRegion],
    pub firmware: RamRegion,
}

impl SimRam {
    /// `len` bytes of zeroes.
    pub fn new(len: usize, ram: &'static [RamRegion], firmware: RamRegion) -> SimRam {
        SimRam {
            mem: vec![0; len],
            ram,
            firmware,
        }
    }

    fn check(&self, base: u64, len: usize) {
        assert!(
            may_write(self.ram, self.firmware, base, len),
            "the boot asked for RAM it may not touch: {base:#x}+{len:#x}"
        );
    }
}

impl Ram for SimRam {
    fn slice(&mut self, base: u64, len: usize) -> Option<&mut [u8]> {
        self.check(base, len);
        Some(&mut self.mem[base as usize..base as usize + len])
    }

    fn copy(&mut self, from: u64, to: u64, len: usize) -> bool {
        self.check(from, len);
        self.check(to, len);
        self.mem
            .copy_within(from as usize..from as usize + len, to as usize);
        true
    }
}
