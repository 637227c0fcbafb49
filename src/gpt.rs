//! A GUID partition table with one partition (UEFI 2.10 §5.3), for the UEFI media: the
//! protective MBR, the primary header and entry array at LBA 1–33, the backup copies at the
//! end of the disk. Pure: it writes into a byte buffer.

const SECTOR: usize = 512;
const ENTRIES: usize = 128;
const ENTRY_LEN: usize = 128;
/// Sectors of the entry array (128 × 128 bytes).
const ARRAY_SECTORS: usize = ENTRIES * ENTRY_LEN / SECTOR;
/// The EFI system partition's type GUID, C12A7328-F81F-11D2-BA4B-00A0C93EC93B.
pub const ESP_TYPE: [u8; 16] = guid(
    0xC12A_7328,
    0xF81F,
    0x11D2,
    [0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B],
);

/// A GUID in its on-disk byte order (the first three fields little-endian).
pub const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

fn crc32(bytes: &[u8]) -> u32 {
    crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(bytes)
}

/// The one partition.
#[derive(Debug, Clone)]
pub struct Partition {
    pub type_guid: [u8; 16],
    pub guid: [u8; 16],
    /// First and last LBA (inclusive).
    pub first: u64,
    pub last: u64,
    /// Up to 36 UTF-16 code units.
    pub name: &'static str,
}

/// The first LBA a partition may use on a disk of `sectors` sectors, and the last.
pub fn usable(sectors: u64) -> (u64, u64) {
    (2 + ARRAY_SECTORS as u64, sectors - 2 - ARRAY_SECTORS as u64)
}

/// Writes the protective MBR, both headers and both entry arrays into `disk` (a whole
/// number of sectors; everything else is left as it is).
pub fn write(disk: &mut [u8], disk_guid: [u8; 16], part: &Partition) {
    assert_eq!(disk.len() % SECTOR, 0);
    let sectors = (disk.len() / SECTOR) as u64;
    let (first_usable, last_usable) = usable(sectors);
    assert!(part.first >= first_usable && part.last <= last_usable && part.first <= part.last);

    // Protective MBR: one partition of type 0xEE over the whole disk.
    let mbr = &mut disk[..SECTOR];
    let e = &mut mbr[0x1BE..0x1CE];
    e.copy_from_slice(&[0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0, 0, 0, 0, 0]);
    e[12..16].copy_from_slice(&((sectors - 1).min(u64::from(u32::MAX)) as u32).to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xAA;

    let mut array = vec![0u8; ENTRIES * ENTRY_LEN];
    let entry = &mut array[..ENTRY_LEN];
    entry[0..16].copy_from_slice(&part.type_guid);
    entry[16..32].copy_from_slice(&part.guid);
    entry[32..40].copy_from_slice(&part.first.to_le_bytes());
    entry[40..48].copy_from_slice(&part.last.to_le_bytes());
    for (i, u) in part.name.encode_utf16().take(36).enumerate() {
        entry[56 + 2 * i..58 + 2 * i].copy_from_slice(&u.to_le_bytes());
    }
    let array_crc = crc32(&array);

    let header = |my: u64, alternate: u64, entries: u64| {
        let mut h = [0u8; 92];
        h[0..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[24..32].copy_from_slice(&my.to_le_bytes());
        h[32..40].copy_from_slice(&alternate.to_le_bytes());
        h[40..48].copy_from_slice(&first_usable.to_le_bytes());
        h[48..56].copy_from_slice(&last_usable.to_le_bytes());
        h[56..72].copy_from_slice(&disk_guid);
        h[72..80].copy_from_slice(&entries.to_le_bytes());
        h[80..84].copy_from_slice(&(ENTRIES as u32).to_le_bytes());
        h[84..88].copy_from_slice(&(ENTRY_LEN as u32).to_le_bytes());
        h[88..92].copy_from_slice(&array_crc.to_le_bytes());
        let crc = crc32(&h);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        h
    };
    let last = sectors - 1;
    let backup_array = last - ARRAY_SECTORS as u64;
    let mut put = |lba: u64, bytes: &[u8]| {
        let at = lba as usize * SECTOR;
        disk[at..at + SECTOR.max(bytes.len())].fill(0);
        disk[at..at + bytes.len()].copy_from_slice(bytes);
    };
    put(1, &header(1, last, 2));
    put(2, &array);
    put(backup_array, &array);
    put(last, &header(last, 1, backup_array));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk() -> Vec<u8> {
        let mut d = vec![0u8; 4 << 20];
        let (first, last) = usable(8192);
        assert_eq!((first, last), (34, 8158));
        write(
            &mut d,
            [7; 16],
            &Partition {
                type_guid: ESP_TYPE,
                guid: [9; 16],
                first: 2048,
                last,
                name: "EFI system",
            },
        );
        d
    }

    #[test]
    fn esp_type_guid_bytes() {
        assert_eq!(
            ESP_TYPE,
            [
                0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E,
                0xC9, 0x3B
            ]
        );
    }

    #[test]
    fn headers_checksum_and_point_at_each_other() {
        let d = disk();
        assert_eq!(d[0x1BE + 4], 0xEE);
        assert_eq!(&d[510..512], &[0x55, 0xAA]);
        for (lba, my, alt, entries) in [(1u64, 1u64, 8191u64, 2u64), (8191, 8191, 1, 8159)] {
            let h = &d[lba as usize * 512..lba as usize * 512 + 92];
            assert_eq!(&h[0..8], b"EFI PART");
            let mut z = h.to_vec();
            z[16..20].fill(0);
            assert_eq!(u32::from_le_bytes(h[16..20].try_into().unwrap()), crc32(&z));
            let field = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap());
            assert_eq!((field(24), field(32), field(72)), (my, alt, entries));
            let a = &d[entries as usize * 512..entries as usize * 512 + 16384];
            assert_eq!(u32::from_le_bytes(h[88..92].try_into().unwrap()), crc32(a));
            assert_eq!(&a[0..16], &ESP_TYPE);
            assert_eq!(u64::from_le_bytes(a[32..40].try_into().unwrap()), 2048);
            assert_eq!(u64::from_le_bytes(a[40..48].try_into().unwrap()), 8158);
        }
    }

    #[test]
    fn a_flipped_bit_breaks_the_header_checksum() {
        let d = disk();
        let h = &d[512..512 + 92];
        let stored = u32::from_le_bytes(h[16..20].try_into().unwrap());
        for bit in 0..92 * 8 {
            if (16 * 8..20 * 8).contains(&bit) {
                continue;
            }
            let mut z = h.to_vec();
            z[bit / 8] ^= 1 << (bit % 8);
            z[16..20].fill(0);
            assert_ne!(crc32(&z), stored, "bit {bit}");
        }
    }
}
