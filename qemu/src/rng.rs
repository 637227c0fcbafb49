//! The one pseudo-random generator of the tests, benchmarks and demo data: Marsaglia's
//! xorshift64 (shifts 13, 7, 17). Seeded, so every failure is reproducible; not for secrets.

/// A xorshift64 generator. Never yields 0 (the seed is made odd).
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed | 1)
    }

    /// The next 64 bits.
    #[allow(clippy::should_implement_trait)] // an infinite generator, not an Iterator
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A byte (the low eight bits of [`next`](Self::next)).
    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    /// A value below `n` (`n > 0`; modulo bias is irrelevant for tests).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `p` percent.
    pub fn percent(&mut self, p: u32) -> bool {
        self.below(100) < u64::from(p)
    }

    /// `len` bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::XorShift;

    #[test]
    fn reference_values() {
        // xorshift64 (13, 7, 17) from 1: the first outputs of the reference generator.
        let mut r = XorShift::new(1);
        assert_eq!(r.next(), 0x0000_0000_4082_2041);
        assert_eq!(r.next(), 0x1000_4106_0C01_1441);
    }

    #[test]
    fn zero_seed_is_not_stuck() {
        let mut r = XorShift::new(0);
        assert_ne!(r.next(), 0);
    }
}
