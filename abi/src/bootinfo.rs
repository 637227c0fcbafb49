//! The boot-info block every entry leaves for the packed firmware (`rdi`): written by stage
//! 2, the UEFI loader and the ROM stage, read by `hal::bootinfo`; the firmware writes the
//! hand-off into it for the image it starts ([`handoff`]).
//!
//! ```text
//! 0x00 u32 MAGIC          0x04 u8 boot drive     0x05 u8 medium     0x06 u16 E820 count
//! 0x08 u32 config address 0x0C u32 config length 0x10 u32 packed firmware size
//! 0x14 u32 flags          0x18 u64 ACPI RSDP     0x20 E820 entries, 24 bytes each, ≤ 64
//! 0x6F0 u64 ECAM base, u8 last bus (flags bit 2)  0x700 the hand-off (28 bytes)
//! 0x740 u32 event log address, u32 its length (a measured flat64 image)
//! ```
use crate::le;

/// "LBOT" at offset 0.
pub const MAGIC: u32 = 0x544F_424C;
/// Bytes of the block ([`crate::memory::BOOT_INFO_LEN`]).
pub const LEN: usize = crate::memory::BOOT_INFO_LEN;

/// Offsets of the fields in the block.
pub mod field {
    /// u32: [`super::MAGIC`].
    pub const MAGIC: usize = 0x00;
    /// u8: the BIOS boot drive (0x80 from the ROM, 0 from the UEFI loader).
    pub const BOOT_DRIVE: usize = 0x04;
    /// u8: the medium kind ([`super::medium`]).
    pub const MEDIUM: usize = 0x05;
    /// u16: number of E820 entries at [`E820`].
    pub const E820_COUNT: usize = 0x06;
    /// u32: address of the configuration text.
    pub const CONFIG_ADDR: usize = 0x08;
    /// u32: bytes of the configuration text.
    pub const CONFIG_LEN: usize = 0x0C;
    /// u32: bytes of the packed firmware the entry loaded.
    pub const FIRMWARE_SIZE: usize = 0x10;
    /// u32: [`super::flags`].
    pub const FLAGS: usize = 0x14;
    /// u64: the ACPI RSDP's address (0: unknown).
    pub const RSDP: usize = 0x18;
    /// The E820 entries ([`super::e820`]).
    pub const E820: usize = 0x20;
    /// With [`super::flags::ECAM`]: u64 base of the ECAM window, then u8 its last bus.
    pub const ECAM: usize = 0x6F0;
    /// The hand-off ([`super::handoff`]).
    pub const HANDOFF: usize = 0x700;
    /// Written by the firmware for a flat64 image it measured: u32 address, u32 length of
    /// the TCG2 crypto-agile event log of what it extended (both 0: none).
    pub const EVENT_LOG: usize = 0x740;
}

/// Bits of the flags word.
pub mod flags {
    /// Started by the UEFI loader.
    pub const UEFI: u32 = 1 << 0;
    /// Started by the system ROM.
    pub const ROM: u32 = 1 << 1;
    /// An ECAM window is described at [`super::field::ECAM`].
    pub const ECAM: u32 = 1 << 2;
    /// Started under UEFI Secure Boot (the firmware then refuses a keyless configuration).
    pub const SECURE_BOOT: u32 = 1 << 3;
}

/// The medium kind byte (also stage 1's parameter block, [`crate::stage1::MEDIUM`]).
pub mod medium {
    /// A diskette.
    pub const DISKETTE: u8 = 1;
    /// A USB stick.
    pub const USB_STICK: u8 = 2;
    /// A disk (also what the ROM reports: the slots are on the ATA disk).
    pub const DISK: u8 = 3;
}

/// The E820 entries: base u64, length u64, type u32, ACPI 3.0 attributes u32.
pub mod e820 {
    /// Bytes of one entry.
    pub const ENTRY_LEN: usize = 24;
    /// Entries the block holds at most.
    pub const MAX: usize = 64;
    /// Offset of the type in an entry.
    pub const KIND: usize = 16;
    /// Offset of the ACPI attributes in an entry.
    pub const ATTRIBUTES: usize = 20;
    /// The attributes every writer stores: bit 0, "enabled".
    pub const ENABLED: u32 = 1;
    /// Usable RAM (ACPI 6.5 §15).
    pub const USABLE: u32 = 1;
    /// Reserved.
    pub const RESERVED: u32 = 2;
    /// ACPI reclaimable.
    pub const ACPI_RECLAIM: u32 = 3;
    /// ACPI NVS.
    pub const ACPI_NVS: u32 = 4;
    /// Unusable.
    pub const UNUSABLE: u32 = 5;
    /// Persistent memory.
    pub const PERSISTENT: u32 = 7;
    const _: () = assert!(super::field::E820 + MAX * ENTRY_LEN <= super::field::ECAM);
}

/// The firmware's hand-off to an image it starts, inside the block at [`field::HANDOFF`].
pub mod handoff {
    use crate::le;

    /// "LBHO".
    pub const MAGIC: u32 = 0x4F48_424C;
    /// Bytes: magic u32, token u32, activation key present u32 (0/1), the key 4 × u32.
    pub const LEN: usize = 28;
    /// Offset of the token.
    pub const TOKEN: usize = 4;
    /// Offset of the "activation key present" word.
    pub const HAS_ACTIVATION: usize = 8;
    /// Offset of the activation key.
    pub const ACTIVATION: usize = 12;
    const _: () = assert!(super::field::HANDOFF + LEN <= super::LEN);

    /// What a started image learns from the firmware besides its header.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Handoff {
        /// The token to hand back through CMOS ([`crate::cmos`]).
        pub token: u32,
        /// The unit's activation key (four words), when one is stored.
        pub activation: Option<[u32; 4]>,
    }

    impl Handoff {
        /// The hand-off's bytes.
        pub fn encode(&self) -> [u8; LEN] {
            let mut b = [0u8; LEN];
            le::put(&mut b, 0, &MAGIC.to_le_bytes());
            le::put(&mut b, TOKEN, &self.token.to_le_bytes());
            le::put(
                &mut b,
                HAS_ACTIVATION,
                &u32::from(self.activation.is_some()).to_le_bytes(),
            );
            for (i, w) in self.activation.unwrap_or_default().iter().enumerate() {
                le::put(&mut b, ACTIVATION + 4 * i, &w.to_le_bytes());
            }
            b
        }

        /// The hand-off in `b`, if the firmware left one (its magic).
        pub fn decode(b: &[u8; LEN]) -> Option<Handoff> {
            (le::u32_at(b, 0) == MAGIC).then(|| Handoff {
                token: le::u32_at(b, TOKEN),
                activation: (le::u32_at(b, HAS_ACTIVATION) == 1)
                    .then(|| core::array::from_fn(|i| le::u32_at(b, ACTIVATION + 4 * i))),
            })
        }
    }
}

/// One E820 entry as the block stores it (the attributes are always [`e820::ENABLED`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct E820 {
    /// First byte.
    pub base: u64,
    /// Bytes.
    pub len: u64,
    /// [`e820`] type.
    pub kind: u32,
}

/// The block's header fields as an entry writes them (the E820 count follows from the
/// entries written).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Header {
    /// The BIOS boot drive.
    pub boot_drive: u8,
    /// [`medium`] kind.
    pub medium: u8,
    /// Address of the configuration text.
    pub config_addr: u32,
    /// Bytes of the configuration text.
    pub config_len: u32,
    /// Bytes of the packed firmware loaded.
    pub firmware_size: u32,
    /// [`flags`] besides [`flags::ECAM`], which [`Header::ecam`] sets.
    pub flags: u32,
    /// The ACPI RSDP (0: unknown).
    pub rsdp: u64,
    /// The PCI Express configuration window: base and last bus, from bus 0.
    pub ecam: Option<(u64, u8)>,
}

/// A block that does not start with [`MAGIC`] (the word found), or is shorter than [`LEN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadBlock(pub u32);

impl Header {
    /// Writes the block: this header and up to [`e820::MAX`] of `entries` into `block`
    /// (at least [`LEN`] bytes; the rest of the first [`LEN`] bytes is zeroed). Returns the
    /// number of entries written.
    pub fn write(&self, entries: impl IntoIterator<Item = E820>, block: &mut [u8]) -> usize {
        let block = &mut block[..LEN];
        block.fill(0);
        let mut n = 0;
        for (e, at) in entries
            .into_iter()
            .zip((field::E820..).step_by(e820::ENTRY_LEN).take(e820::MAX))
        {
            le::put(block, at, &e.base.to_le_bytes());
            le::put(block, at + 8, &e.len.to_le_bytes());
            le::put(block, at + e820::KIND, &e.kind.to_le_bytes());
            le::put(block, at + e820::ATTRIBUTES, &e820::ENABLED.to_le_bytes());
            n += 1;
        }
        le::put(block, field::MAGIC, &MAGIC.to_le_bytes());
        block[field::BOOT_DRIVE] = self.boot_drive;
        block[field::MEDIUM] = self.medium;
        le::put(block, field::E820_COUNT, &(n as u16).to_le_bytes());
        le::put(block, field::CONFIG_ADDR, &self.config_addr.to_le_bytes());
        le::put(block, field::CONFIG_LEN, &self.config_len.to_le_bytes());
        le::put(
            block,
            field::FIRMWARE_SIZE,
            &self.firmware_size.to_le_bytes(),
        );
        let mut f = self.flags & !flags::ECAM;
        if let Some((base, last_bus)) = self.ecam {
            f |= flags::ECAM;
            le::put(block, field::ECAM, &base.to_le_bytes());
            block[field::ECAM + 8] = last_bus;
        }
        le::put(block, field::FLAGS, &f.to_le_bytes());
        le::put(block, field::RSDP, &self.rsdp.to_le_bytes());
        n
    }

    /// Reads a block's header; the entries are [`entries`]'s.
    pub fn read(block: &[u8]) -> Result<Header, BadBlock> {
        // As an array: every offset below is checked at compile time, not at run time.
        let block: &[u8; LEN] = block
            .get(..LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(BadBlock(0))?;
        let magic = le::u32_at(block, field::MAGIC);
        if magic != MAGIC {
            return Err(BadBlock(magic));
        }
        let f = le::u32_at(block, field::FLAGS);
        Ok(Header {
            boot_drive: block[field::BOOT_DRIVE],
            medium: block[field::MEDIUM],
            config_addr: le::u32_at(block, field::CONFIG_ADDR),
            config_len: le::u32_at(block, field::CONFIG_LEN),
            firmware_size: le::u32_at(block, field::FIRMWARE_SIZE),
            flags: f & !flags::ECAM,
            rsdp: le::u64_at(block, field::RSDP),
            ecam: (f & flags::ECAM != 0)
                .then(|| (le::u64_at(block, field::ECAM), block[field::ECAM + 8])),
        })
    }
}

/// The E820 entries of a block (its count, at most [`e820::MAX`]); none when `block` is
/// shorter than [`LEN`] (as [`Header::read`] refuses it).
pub fn entries(block: &[u8]) -> impl Iterator<Item = E820> + '_ {
    let block: &[u8; LEN] = block
        .get(..LEN)
        .and_then(|b| b.try_into().ok())
        .unwrap_or(&[0; LEN]);
    let n = usize::from(le::u16_at(block, field::E820_COUNT)).min(e820::MAX);
    (0..n).map(move |i| {
        let at = field::E820 + i * e820::ENTRY_LEN;
        E820 {
            base: le::u64_at(block, at),
            len: le::u64_at(block, at + 8),
            kind: le::u32_at(block, at + e820::KIND),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_block_reads_back() {
        let h = Header {
            boot_drive: 0x80,
            medium: medium::DISK,
            config_addr: 0x7E00,
            config_len: 512,
            firmware_size: 0x2_A000,
            flags: flags::ROM,
            rsdp: 0x7FF_E000,
            ecam: Some((0xB000_0000, 255)),
        };
        let map = [
            E820 {
                base: 0,
                len: 0x9_FC00,
                kind: e820::USABLE,
            },
            E820 {
                base: 0x10_0000,
                len: 0x7F0_0000,
                kind: e820::USABLE,
            },
            E820 {
                base: 0xB000_0000,
                len: 0x1000_0000,
                kind: e820::RESERVED,
            },
        ];
        let mut block = [0xAAu8; LEN + 8];
        assert_eq!(h.write(map, &mut block), 3);
        assert_eq!(&block[..4], b"LBOT");
        assert_eq!(block[LEN], 0xAA, "nothing past the block");
        assert_eq!(le::u32_at(&block, field::FLAGS), flags::ROM | flags::ECAM);
        assert_eq!(&block[0x20 + 20..0x20 + 24], &1u32.to_le_bytes());
        assert_eq!(Header::read(&block), Ok(h));
        assert!(entries(&block).eq(map));
    }

    #[test]
    fn a_block_without_its_magic_or_too_short_is_refused() {
        let mut block = [0u8; LEN];
        Header::default().write([], &mut block);
        assert!(Header::read(&block).is_ok());
        assert_eq!(Header::read(&block[..LEN - 1]), Err(BadBlock(0)));
        block[0] ^= 1;
        assert_eq!(Header::read(&block), Err(BadBlock(MAGIC ^ 1)));
    }

    #[test]
    fn at_most_64_entries_are_written_and_read() {
        let many = (0..100u64).map(|i| E820 {
            base: i << 20,
            len: 1 << 20,
            kind: 1,
        });
        let mut block = [0u8; LEN];
        assert_eq!(Header::default().write(many, &mut block), e820::MAX);
        assert_eq!(entries(&block).count(), e820::MAX);
        block[field::E820_COUNT] = 0xFF;
        assert_eq!(entries(&block).count(), e820::MAX, "a count over 64 is cut");
    }

    #[test]
    fn the_handoff_round_trips_and_needs_its_magic() {
        use handoff::Handoff;
        for h in [
            Handoff {
                token: 0xDEAD_BEEF,
                activation: None,
            },
            Handoff {
                token: 1,
                activation: Some([1, 2, 3, 0xFFFF_FFFF]),
            },
        ] {
            let b = h.encode();
            assert_eq!(&b[..4], b"LBHO");
            assert_eq!(Handoff::decode(&b), Some(h));
        }
        assert_eq!(Handoff::decode(&[0; handoff::LEN]), None);
    }

    /// The offsets `bootloader/layout.md` documents.
    #[test]
    fn offsets_are_the_documented_ones() {
        assert_eq!(
            [
                field::BOOT_DRIVE,
                field::MEDIUM,
                field::E820_COUNT,
                field::CONFIG_ADDR
            ],
            [4, 5, 6, 8]
        );
        assert_eq!([field::FLAGS, field::RSDP, field::E820], [0x14, 0x18, 0x20]);
        assert_eq!([field::ECAM, field::HANDOFF, LEN], [0x6F0, 0x700, 0x800]);
        assert_eq!(
            [flags::UEFI, flags::ROM, flags::ECAM, flags::SECURE_BOOT],
            [1, 2, 4, 8]
        );
    }
}
