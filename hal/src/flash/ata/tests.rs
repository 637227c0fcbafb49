//! Host tests: IDENTIFY decoding, PRD splitting, error text.
use super::*;

fn identify_data(model: &str, lba28: u32, lba48: Option<u64>) -> [u16; 256] {
    let mut w = [0u16; 256];
    let mut m = [b' '; 40];
    m[..model.len()].copy_from_slice(model.as_bytes());
    for i in 0..20 {
        w[27 + i] = u16::from(m[2 * i]) << 8 | u16::from(m[2 * i + 1]);
    }
    w[49] = 1 << 9;
    w[60] = lba28 as u16;
    w[61] = (lba28 >> 16) as u16;
    w[83] = 1 << 14 | 1 << 12;
    if let Some(n) = lba48 {
        w[83] |= 1 << 13 | 1 << 10;
        for i in 0..4 {
            w[100 + i] = (n >> (16 * i)) as u16;
        }
    }
    w
}

#[test]
fn identify_gives_model_and_size() {
    let info = AtaInfo::parse(&identify_data("QEMU HARDDISK", 131072, None)).unwrap();
    assert_eq!(info.model(), "QEMU HARDDISK");
    assert_eq!(info.sectors, 131072);
    assert!(!info.lba48);
    assert!(info.flush);
    let big = AtaInfo::parse(&identify_data("CF", 0x0FFF_FFFF, Some(1 << 30))).unwrap();
    assert_eq!(big.sectors, 1 << 30);
    assert!(big.lba48);
    let mut no_lba = identify_data("X", 100, None);
    no_lba[49] = 0;
    assert_eq!(AtaInfo::parse(&no_lba), Err(AtaError::NoLba));
    // Word 83 without its 01 signature in bits 15:14 says nothing.
    let mut old = identify_data("CF", 1000, Some(1 << 30));
    old[83] = 0xFFFF;
    let old = AtaInfo::parse(&old).unwrap();
    assert_eq!((old.sectors, old.lba48, old.flush), (1000, false, false));
}

#[test]
fn regions_split_at_64_kib_and_refuse_what_the_engine_cannot_reach() {
    let mut r = [Region { addr: 0, len: 0 }; 4];
    // 128 KiB from an aligned start: two whole regions.
    assert_eq!(split_regions(0x60_0000, 128 << 10, &mut r), Some(2));
    assert_eq!(
        r[0],
        Region {
            addr: 0x60_0000,
            len: 0x1_0000
        }
    );
    assert_eq!(
        r[1],
        Region {
            addr: 0x61_0000,
            len: 0x1_0000
        }
    );
    // An unaligned start: a short head, a whole 64 KiB, the tail; lengths add up.
    assert_eq!(split_regions(0x60_FFFE, 128 << 10, &mut r), Some(3));
    assert_eq!(
        r[0],
        Region {
            addr: 0x60_FFFE,
            len: 2
        }
    );
    assert_eq!(
        r[1],
        Region {
            addr: 0x61_0000,
            len: 0x1_0000
        }
    );
    assert_eq!(
        r[2],
        Region {
            addr: 0x62_0000,
            len: 0xFFFE
        }
    );
    // Within one 64 KiB window.
    assert_eq!(split_regions(0x1234, 512, &mut r), Some(1));
    assert_eq!(
        r[0],
        Region {
            addr: 0x1234,
            len: 512
        }
    );
    // Odd address or length, empty, above 4 GiB, too many regions.
    assert_eq!(split_regions(0x1001, 512, &mut r), None);
    assert_eq!(split_regions(0x1000, 511, &mut r), None);
    assert_eq!(split_regions(0x1000, 0, &mut r), None);
    assert_eq!(split_regions(0xFFFF_FE00, 1024, &mut r), None);
    assert_eq!(split_regions(0xFFFF_FE00, 512, &mut r), Some(1));
    assert_eq!(split_regions(0, 5 << 16, &mut r), None);
}

#[test]
fn descriptors_carry_count_and_end_of_table() {
    let full = Region {
        addr: 0x10_0000,
        len: 0x1_0000,
    };
    // 64 KiB is written as a byte count of 0.
    assert_eq!(full.descriptor(false), 0x0000_0000_0010_0000);
    assert_eq!(full.descriptor(true), 0x8000_0000_0010_0000);
    let part = Region {
        addr: 0x2000,
        len: 0x200,
    };
    assert_eq!(part.descriptor(true), 0x8000_0200_0000_2000);
}

#[test]
fn errors_name_the_registers() {
    let e = AtaError::Device {
        op: Op::Write,
        lba: 8,
        status: 0x51,
        error: ErrorBits(0x04),
    };
    assert_eq!(
        e.to_string(),
        "WRITE SECTORS failed at sector 8 (status 0x51, error 0x04: ABRT aborted)"
    );
    assert_eq!(
        AtaError::NotAta {
            signature: (0x14, 0xEB)
        }
        .to_string(),
        "not an ATA disk (signature 0x14 0xeb)"
    );
    assert_eq!(
        AtaError::Timeout {
            op: Op::Identify,
            lba: 0,
            status: 0x80
        }
        .to_string(),
        "IDENTIFY DEVICE timed out (status 0x80)"
    );
    assert_eq!(e.kind(), NorFlashErrorKind::Other);
    assert_eq!(
        AtaError::Dma {
            op: Op::WriteDma,
            lba: 300,
            bm_status: 0x23
        }
        .to_string(),
        "WRITE DMA at sector 300: bus-master error (status 0x23)"
    );
    assert_eq!(AtaError::OutOfBounds.kind(), NorFlashErrorKind::OutOfBounds);
}
