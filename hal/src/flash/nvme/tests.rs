//! Host tests: entries, doorbells, status text, PRPs, IDENTIFY decoding, error lines.
use super::spec::*;
use super::*;

#[test]
fn read_command_carries_opcode_cid_nsid_prps_lba_and_0_based_count() {
    let e = command(
        nvm::READ,
        0x1234,
        1,
        (0x0010_2000, 0x1_0000_3000),
        rw_cdw(0x0000_00AB_CDEF_0123, 256),
    );
    assert_eq!(e[0], 0x1234_0002, "CID 31:16, opcode 7:0, PRPs (PSDT 0)");
    assert_eq!(e[1], 1);
    assert_eq!(&e[2..6], &[0; 4], "reserved, no metadata pointer");
    assert_eq!(&e[6..10], &[0x0010_2000, 0, 0x0000_3000, 1]);
    assert_eq!(&e[10..13], &[0xCDEF_0123, 0xAB, 255]);
    assert_eq!(&e[13..], &[0; 3]);
    assert_eq!(rw_cdw(0, 1)[2], 0, "one block is NLB 0");
}

#[test]
fn queue_creation_and_doorbells() {
    // QSIZE (0-based) 31:16, QID 15:0; PC; a SQ names its CQ in CDW11 31:16.
    assert_eq!(create_queue_cdw(1, 4, None), [0x0003_0001, 1, 0]);
    assert_eq!(
        create_queue_cdw(1, 4, Some(1)),
        [0x0003_0001, 0x0001_0001, 0]
    );
    // 0x1000 + (2y + completion) × (4 << DSTRD).
    assert_eq!(doorbell(0, false, 4), 0x1000);
    assert_eq!(doorbell(0, true, 4), 0x1004);
    assert_eq!(doorbell(1, false, 4), 0x1008);
    assert_eq!(doorbell(1, true, 16), 0x1030);
    assert_eq!(CC_ENABLE, 0x0046_0001);
}

#[test]
fn cap_fields() {
    // MQES 0x7ff, CQR, TO 0x0f, DSTRD 0, NSSRS, CSS NVM, MPSMAX 4 (64 KiB), as QEMU sets them.
    let qemu = Cap(0x0040_0020_0F01_07FF);
    assert_eq!(qemu.timeout_ms(), 7500);
    assert_eq!(qemu.doorbell_stride(), 4);
    assert!(qemu.nvm());
    assert_eq!(qemu.min_page(), 4096);
    let odd = Cap(0x0001_0003_0000_0001);
    assert_eq!(odd.timeout_ms(), 500, "TO 0 is still a wait");
    assert_eq!(odd.doorbell_stride(), 32);
    assert!(!odd.nvm());
    assert_eq!(odd.min_page(), 8192);
}

#[test]
fn completion_fields_and_status_lines() {
    // CID 7, phase 1, status SCT 2 SC 0x81 with DNR.
    let dw3 = 7 | 1 << 16 | (0x4281u32 << 17);
    let c = Completion(dw3);
    assert_eq!(c.cid(), 7);
    assert!(c.phase());
    let s = c.status();
    assert_eq!((s.sct(), s.sc()), (2, 0x81));
    assert_eq!(
        s.to_string(),
        "status 0x4281 (SCT 2 SC 0x81: unrecovered read error)"
    );
    assert_eq!(
        Status(0x0080).to_string(),
        "status 0x80 (SCT 0 SC 0x80: LBA out of range)"
    );
    assert_eq!(
        Status(0x0280).to_string(),
        "status 0x280 (SCT 2 SC 0x80: write fault)"
    );
    assert_eq!(Status(0x07C1).to_string(), "status 0x7c1 (SCT 7 SC 0xc1)");
    assert!(!Completion(0xFFFE_FFFF).phase());
}

fn prp_of(addr: u64, len: usize) -> (Option<(u64, u64)>, Vec<u64>) {
    let mut list = vec![0u64; 8];
    let mut used = 0;
    let r = prps(addr, len, 0xF000, 8, |i, v| {
        list[i] = v;
        used = used.max(i + 1);
    });
    list.truncate(used);
    (r, list)
}

#[test]
fn prps_name_one_page_two_pages_or_a_list() {
    // Within one page: PRP2 unused.
    assert_eq!(prp_of(0x1_0200, 512), (Some((0x1_0200, 0)), vec![]));
    assert_eq!(prp_of(0x1_0000, 4096), (Some((0x1_0000, 0)), vec![]));
    // Crossing into a second page: PRP2 is that page.
    assert_eq!(prp_of(0x1_0E00, 1024), (Some((0x1_0E00, 0x1_1000)), vec![]));
    // More: PRP2 points at the list of the pages after the first.
    assert_eq!(
        prp_of(0x1_0E00, 8192 + 512),
        (Some((0x1_0E00, 0xF000)), vec![0x1_1000, 0x1_2000])
    );
    assert_eq!(
        prp_of(0x2_0000, 3 * 4096),
        (Some((0x2_0000, 0xF000)), vec![0x2_1000, 0x2_2000])
    );
    // Refused: odd address, too long for the list, nothing.
    assert_eq!(prp_of(0x1_0202, 512).0, None);
    assert_eq!(prp_of(0x1_0000, 10 * 4096).0, None);
    assert_eq!(prp_of(0x1_0004, 9 * 4096).0, None);
    assert!(prp_of(0x1_0000, 9 * 4096).0.is_some());
    assert_eq!(prp_of(0x1_0000, 0).0, None);
}

fn controller(model: &str, mdts: u8, vwc: u8) -> [u8; 4096] {
    let mut id = [0u8; 4096];
    id[24..64].fill(b' ');
    id[24..24 + model.len()].copy_from_slice(model.as_bytes());
    id[77] = mdts;
    id[525] = vwc;
    id
}

fn namespace(nsze: u64, flbas: u8, formats: &[(u16, u8)]) -> [u8; 4096] {
    let mut id = [0u8; 4096];
    id[0..8].copy_from_slice(&nsze.to_le_bytes());
    id[26] = flbas;
    for (i, &(ms, lbads)) in formats.iter().enumerate() {
        id[128 + 4 * i..130 + 4 * i].copy_from_slice(&ms.to_le_bytes());
        id[130 + 4 * i] = lbads;
    }
    id
}

#[test]
fn identify_gives_model_transfer_limit_cache_and_size() {
    let mut info = NvmeInfo::UNKNOWN;
    info.controller(&controller("QEMU NVMe Ctrl", 7, 1), 4096);
    assert_eq!(info.model(), "QEMU NVMe Ctrl");
    assert_eq!(info.max_transfer, 512 << 10);
    assert!(info.flush);
    info.controller(&controller("X\x01", 0, 0), 4096);
    assert_eq!(info.model(), "X?");
    assert_eq!(info.max_transfer, 0, "no limit");
    assert!(!info.flush);
    info.controller(&controller("X", 200, 0), 4096);
    assert_eq!(
        info.max_transfer, 0,
        "a shift beyond 64 bits is no limit, not a panic"
    );

    assert_eq!(info.namespace(&namespace(32768, 0, &[(0, 9)])), Ok(()));
    assert_eq!(info.blocks, 32768);
    // FLBAS selects the format in use.
    let two = namespace(100, 1, &[(0, 9), (0, 12)]);
    assert_eq!(
        info.namespace(&two),
        Err(NvmeError::LbaFormat { lbads: 12, ms: 0 })
    );
    assert_eq!(
        info.namespace(&namespace(100, 0, &[(8, 9)])),
        Err(NvmeError::LbaFormat { lbads: 9, ms: 8 })
    );
    assert_eq!(
        info.namespace(&namespace(0, 0, &[(0, 9)])),
        Err(NvmeError::NoNamespace)
    );
    assert_eq!(info.blocks, 32768, "a refused namespace changes nothing");
}

#[test]
fn errors_are_one_line_naming_the_command_and_status() {
    let e = NvmeError::Command {
        op: Op::Read,
        lba: 16,
        status: Some(Status(0x0281)),
    };
    assert_eq!(
        e.to_string(),
        "READ at block 16 failed: status 0x281 (SCT 2 SC 0x81: unrecovered read error)"
    );
    let t = NvmeError::Command {
        op: Op::Flush,
        lba: 0,
        status: None,
    };
    assert_eq!(t.to_string(), "FLUSH timed out");
    assert_eq!(
        NvmeError::LbaFormat { lbads: 12, ms: 0 }.to_string(),
        "LBA format of 4096 bytes + 0 metadata, not 512 + 0"
    );
    assert_eq!(
        NvmeError::Bar(0x8000_0000_0000).to_string(),
        "BAR0 0x800000000000 cannot be mapped"
    );
    assert_eq!(e.kind(), NorFlashErrorKind::Other);
}
