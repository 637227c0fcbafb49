//! NIC EEPROM contents and the Microwire (93C46/93C56/93C66) serial protocol, without hardware:
//! the bus is a trait so the bit-banging runs on the host against a model EEPROM.
//!
//! Both Intel families keep the MAC address in words 0–2 (low byte first) and make the
//! 16-bit sum of the first 64 words 0xBABA (8254x SDM §5.6.1 "Checksum Word", 8255x Open
//! Source Software Developer Manual §6.3.5 "Checksum").

/// Words in a 64-word (1 Kbit, 93C46) EEPROM.
pub const WORDS_64: usize = 64;
/// What the 16-bit sum of the checksummed words must be.
pub const CHECKSUM: u16 = 0xBABA;

/// The 16-bit wrapping sum of `words`.
pub fn word_sum(words: &[u16]) -> u16 {
    words.iter().fold(0u16, |a, &w| a.wrapping_add(w))
}

/// True when the sum of `words` (the whole checksummed area) is 0xBABA.
pub fn checksum_ok(words: &[u16]) -> bool {
    word_sum(words) == CHECKSUM
}

/// The MAC address in words 0–2, each word low byte first. `words` must hold 3 words.
pub fn mac_from_words(words: &[u16]) -> [u8; 6] {
    let mut mac = [0u8; 6];
    for (i, w) in words.iter().take(3).enumerate() {
        mac[2 * i] = *w as u8;
        mac[2 * i + 1] = (*w >> 8) as u8;
    }
    mac
}

/// A MAC address a NIC may use as its own: not zero, not broadcast, not multicast.
pub fn mac_is_valid(mac: &[u8; 6]) -> bool {
    mac != &[0; 6] && mac != &[0xFF; 6] && mac[0] & 1 == 0
}

/// The MAC address in an 8254x Receive Address pair (RAL: bytes 0–3, RAH: bytes 4–5).
pub fn mac_from_ral_rah(ral: u32, rah: u32) -> [u8; 6] {
    let l = ral.to_le_bytes();
    let h = rah.to_le_bytes();
    [l[0], l[1], l[2], l[3], h[0], h[1]]
}

/// The Receive Address pair for `mac`, without the Address Valid bit.
pub fn ral_rah_from_mac(mac: &[u8; 6]) -> (u32, u32) {
    (
        u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
        u32::from(mac[4]) | u32::from(mac[5]) << 8,
    )
}

/// The four wires of a Microwire EEPROM as a NIC exposes them.
pub trait MicrowireBus {
    /// Drive chip select, serial clock and data-in.
    fn drive(&mut self, cs: bool, sk: bool, di: bool);
    /// Sample data-out.
    fn data_out(&mut self) -> bool;
    /// Wait half a clock period (the 93C46 needs ≥ 1 µs at 2.7 V; drivers use 4 µs).
    fn half_period(&mut self);
}

/// The READ opcode with its start bit: 1, 10 (93C46 datasheet, instruction set).
const READ_OPCODE: [bool; 3] = [true, true, false];

fn clock_out<B: MicrowireBus + ?Sized>(bus: &mut B, bit: bool) {
    bus.drive(true, false, bit);
    bus.half_period();
    bus.drive(true, true, bit);
    bus.half_period();
}

fn select<B: MicrowireBus + ?Sized>(bus: &mut B) {
    bus.drive(false, false, false);
    bus.half_period();
    bus.drive(true, false, false);
    bus.half_period();
}

fn deselect<B: MicrowireBus + ?Sized>(bus: &mut B) {
    bus.drive(true, false, false);
    bus.half_period();
    bus.drive(false, false, false);
    bus.half_period();
}

/// Find how many address bits the EEPROM takes (6 for a 93C46, 8 for a 93C66): send READ and
/// then zero address bits one at a time until the EEPROM answers with its dummy zero on
/// data-out. `None` if it never does (no EEPROM).
pub fn address_bits<B: MicrowireBus + ?Sized>(bus: &mut B) -> Option<u8> {
    select(bus);
    for bit in READ_OPCODE {
        clock_out(bus, bit);
    }
    let mut found = None;
    for n in 1..=8u8 {
        clock_out(bus, false);
        if !bus.data_out() {
            found = Some(n);
            break;
        }
    }
    if found.is_some() {
        // Clock the word out to leave the EEPROM idle.
        for _ in 0..16 {
            clock_out(bus, false);
        }
    }
    deselect(bus);
    found
}

/// Read one 16-bit word at `addr` from an EEPROM with `addr_bits` address bits.
/// `None` if the dummy zero is missing (no EEPROM, wrong address size).
pub fn read_word<B: MicrowireBus + ?Sized>(bus: &mut B, addr_bits: u8, addr: u16) -> Option<u16> {
    select(bus);
    for bit in READ_OPCODE {
        clock_out(bus, bit);
    }
    for i in (0..addr_bits).rev() {
        clock_out(bus, addr >> i & 1 == 1);
    }
    let dummy = bus.data_out();
    let mut word = 0u16;
    for _ in 0..16 {
        clock_out(bus, false);
        word = word << 1 | u16::from(bus.data_out());
    }
    deselect(bus);
    (!dummy).then_some(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 93Cx6 in read mode: shifts in start bit, opcode and address on rising clock edges,
    /// answers with a dummy zero and then the word, most significant bit first.
    struct Model93c {
        words: Vec<u16>,
        addr_bits: u8,
        cs: bool,
        sk: bool,
        bits_in: Vec<bool>,
        out: Option<(u16, i8)>,
        dout: bool,
    }

    impl Model93c {
        fn new(words: Vec<u16>, addr_bits: u8) -> Self {
            Self {
                words,
                addr_bits,
                cs: false,
                sk: false,
                bits_in: vec![],
                out: None,
                dout: true,
            }
        }
    }

    impl MicrowireBus for Model93c {
        fn drive(&mut self, cs: bool, sk: bool, di: bool) {
            if !cs {
                self.bits_in.clear();
                self.out = None;
                self.dout = true;
            } else if sk && !self.sk && self.cs {
                if let Some((word, bit)) = self.out.as_mut() {
                    *bit -= 1;
                    self.dout = *bit >= 0 && (*word >> *bit) & 1 == 1;
                } else if !self.bits_in.is_empty() || di {
                    // Leading zeros before the start bit are ignored.
                    self.bits_in.push(di);
                    if self.bits_in.len() == 3 + self.addr_bits as usize {
                        assert_eq!(&self.bits_in[..3], &READ_OPCODE);
                        let addr = self.bits_in[3..]
                            .iter()
                            .fold(0usize, |a, &b| a << 1 | b as usize);
                        self.out = Some((self.words[addr], 16));
                        self.dout = false;
                    }
                }
            }
            self.cs = cs;
            self.sk = sk;
        }
        fn data_out(&mut self) -> bool {
            self.dout
        }
        fn half_period(&mut self) {}
    }

    fn image(mac: [u8; 6], n: usize) -> Vec<u16> {
        let mut w = vec![0u16; n];
        for i in 0..3 {
            w[i] = u16::from(mac[2 * i]) | u16::from(mac[2 * i + 1]) << 8;
        }
        w[5] = 0x4000;
        w[6] = 1;
        let sum = word_sum(&w[..n - 1]);
        w[n - 1] = CHECKSUM.wrapping_sub(sum);
        w
    }

    #[test]
    fn checksum_and_mac_of_an_8255x_image() {
        let w = image([0x52, 0x54, 0x00, 0x12, 0x34, 0x56], 64);
        assert!(checksum_ok(&w));
        assert_eq!(mac_from_words(&w), [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        let mut bad = w.clone();
        bad[10] ^= 1;
        assert!(!checksum_ok(&bad));
    }

    #[test]
    fn mac_validity() {
        assert!(mac_is_valid(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]));
        assert!(!mac_is_valid(&[0; 6]));
        assert!(!mac_is_valid(&[0xFF; 6]));
        assert!(!mac_is_valid(&[0x01, 0, 0x5E, 0, 0, 1]));
    }

    #[test]
    fn ral_rah_round_trip() {
        let mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        let (ral, rah) = ral_rah_from_mac(&mac);
        assert_eq!(ral, 0x1200_5452);
        assert_eq!(rah, 0x5634);
        assert_eq!(mac_from_ral_rah(ral, rah | 1 << 31), mac);
    }

    #[test]
    fn microwire_detects_address_size_and_reads_words() {
        for (bits, n) in [(6u8, 64usize), (8, 256)] {
            let w = image([0x00, 0xAA, 0x00, 0x01, 0x02, 0x03], n);
            let mut e = Model93c::new(w.clone(), bits);
            assert_eq!(address_bits(&mut e), Some(bits));
            let read: Vec<u16> = (0..n as u16)
                .map(|a| read_word(&mut e, bits, a).unwrap())
                .collect();
            assert_eq!(read, w);
            assert!(checksum_ok(&read));
        }
    }

    #[test]
    fn microwire_without_eeprom_reports_none() {
        struct Absent;
        impl MicrowireBus for Absent {
            fn drive(&mut self, _: bool, _: bool, _: bool) {}
            fn data_out(&mut self) -> bool {
                true
            }
            fn half_period(&mut self) {}
        }
        assert_eq!(address_bits(&mut Absent), None);
        assert_eq!(read_word(&mut Absent, 6, 0), None);
    }
}
