//! The NVMe 1.4 layouts the driver uses, as plain values and functions (host-tested): the
//! controller registers (§3.1), the submission and completion queue entries (§4.2, §4.6), the
//! status field (§4.6.1), PRP lists (§4.3), and the IDENTIFY data (§5.15).

use super::NvmeError;

/// Controller registers (§3.1), offsets in BAR0.
pub mod reg {
    /// Controller Capabilities (64 bits).
    pub const CAP: usize = 0x00;
    /// Controller Configuration.
    pub const CC: usize = 0x14;
    /// Controller Status.
    pub const CSTS: usize = 0x1C;
    /// Admin Queue Attributes: ACQS (27:16) and ASQS (11:0), both 0-based.
    pub const AQA: usize = 0x24;
    /// Admin Submission Queue Base Address (64 bits, page-aligned).
    pub const ASQ: usize = 0x28;
    /// Admin Completion Queue Base Address (64 bits, page-aligned).
    pub const ACQ: usize = 0x30;
}

/// CC bits (§3.1.5): EN, and the queue entry sizes as powers of two: IOSQES = 6 (64 bytes),
/// IOCQES = 4 (16 bytes). CSS = 0 (NVM command set), MPS = 0 (4 KiB pages), AMS = 0.
pub const CC_EN: u32 = 1;
/// CC written to enable the controller.
pub const CC_ENABLE: u32 = CC_EN | 6 << 16 | 4 << 20;
/// CSTS.RDY: the controller is ready (§3.1.6).
pub const CSTS_RDY: u32 = 1;
/// CSTS.CFS: Controller Fatal Status.
pub const CSTS_CFS: u32 = 1 << 1;

/// The memory page: CC.MPS = 0.
pub const PAGE: usize = 4096;
/// Submission queue entry bytes (IOSQES 6).
pub const SQE: usize = 64;
/// Completion queue entry bytes (IOCQES 4).
pub const CQE: usize = 16;

/// Admin command opcodes (§5).
pub mod admin {
    /// Create I/O Submission Queue.
    pub const CREATE_SQ: u8 = 0x01;
    /// Create I/O Completion Queue.
    pub const CREATE_CQ: u8 = 0x05;
    /// Identify.
    pub const IDENTIFY: u8 = 0x06;
}

/// NVM command set opcodes (§6).
pub mod nvm {
    /// Flush.
    pub const FLUSH: u8 = 0x00;
    /// Write.
    pub const WRITE: u8 = 0x01;
    /// Read.
    pub const READ: u8 = 0x02;
}

/// IDENTIFY CNS values (§5.15.1).
pub mod cns {
    /// The namespace data structure of NSID.
    pub const NAMESPACE: u32 = 0x00;
    /// The controller data structure.
    pub const CONTROLLER: u32 = 0x01;
}

/// What CAP says that the driver needs (§3.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap(pub u64);

impl Cap {
    /// Longest wait for CSTS.RDY to follow CC.EN, ms (TO is in 500 ms units).
    pub fn timeout_ms(self) -> u64 {
        ((self.0 >> 24) & 0xFF).max(1) * 500
    }
    /// Bytes between doorbell registers (4 << DSTRD).
    pub fn doorbell_stride(self) -> usize {
        4 << ((self.0 >> 32) & 0xF)
    }
    /// The NVM command set is supported (CSS bit 0).
    pub fn nvm(self) -> bool {
        self.0 >> 37 & 1 != 0
    }
    /// The smallest memory page, bytes (2^(12 + MPSMIN)).
    pub fn min_page(self) -> u64 {
        1 << (12 + ((self.0 >> 48) & 0xF))
    }
}

/// BAR0 offset of the doorbell of queue `qid`: its submission tail, or its completion head
/// (§3.1.24, §3.1.25).
pub fn doorbell(qid: u16, completion: bool, stride: usize) -> usize {
    0x1000 + (2 * qid as usize + completion as usize) * stride
}

/// A submission queue entry (§4.2) as 16 dwords: opcode and command identifier in CDW0,
/// NSID, PRP1 and PRP2 (PSDT 0: PRPs, no metadata pointer), CDW10-12.
pub fn command(opcode: u8, cid: u16, nsid: u32, prp: (u64, u64), cdw: [u32; 3]) -> [u32; 16] {
    let mut e = [0u32; 16];
    e[0] = u32::from(opcode) | u32::from(cid) << 16;
    e[1] = nsid;
    e[6] = prp.0 as u32;
    e[7] = (prp.0 >> 32) as u32;
    e[8] = prp.1 as u32;
    e[9] = (prp.1 >> 32) as u32;
    e[10..13].copy_from_slice(&cdw);
    e
}

/// CDW10-12 of READ or WRITE (§6.9, §6.15): the starting LBA and the 0-based block count.
pub fn rw_cdw(lba: u64, blocks: u16) -> [u32; 3] {
    [
        lba as u32,
        (lba >> 32) as u32,
        u32::from(blocks.wrapping_sub(1)),
    ]
}

/// CDW10-11 of Create I/O Completion/Submission Queue (§5.4, §5.5): queue `qid` of `entries`
/// entries, physically contiguous, no interrupts; a submission queue is bound to completion
/// queue `cq`.
pub fn create_queue_cdw(qid: u16, entries: u32, cq: Option<u16>) -> [u32; 3] {
    let dw10 = (entries - 1) << 16 | u32::from(qid);
    let dw11 = match cq {
        Some(cq) => u32::from(cq) << 16 | 1,
        None => 1,
    };
    [dw10, dw11, 0]
}

/// Dword 3 of a completion queue entry (§4.6): command identifier, phase tag, status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion(pub u32);

impl Completion {
    /// The command it completes.
    pub fn cid(self) -> u16 {
        self.0 as u16
    }
    /// The phase tag: the entry is new when it equals the queue's current phase.
    pub fn phase(self) -> bool {
        self.0 & 1 << 16 != 0
    }
    /// The status field (bits 31:17).
    pub fn status(self) -> Status {
        Status((self.0 >> 17) as u16)
    }
}

/// The 15-bit status field of a completion (§4.6.1): SC 7:0, SCT 10:8, CRD 12:11, M 13,
/// DNR 14. Zero is success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub u16);

impl Status {
    /// Status Code Type.
    pub fn sct(self) -> u8 {
        (self.0 >> 8 & 7) as u8
    }
    /// Status Code.
    pub fn sc(self) -> u8 {
        self.0 as u8
    }
    /// The spec's name of the status code, for the ones a driver meets (§4.6.1.2), else "".
    pub fn meaning(self) -> &'static str {
        match (self.sct(), self.sc()) {
            (0, 0x02) => "invalid field",
            (0, 0x04) => "data transfer error",
            (0, 0x06) => "internal error",
            (0, 0x80) => "LBA out of range",
            (2, 0x80) => "write fault",
            (2, 0x81) => "unrecovered read error",
            _ => "",
        }
    }
}

impl core::fmt::Display for Status {
    /// `status 0x281 (SCT 2 SC 0x81: unrecovered read error)`; SCT 0 is generic, 1 command
    /// specific, 2 media and data integrity, 3 path related.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "status {:#x} (SCT {} SC {:#04x}",
            self.0,
            self.sct(),
            self.sc()
        )?;
        match self.meaning() {
            "" => f.write_str(")"),
            m => write!(f, ": {m})"),
        }
    }
}

/// The PRP entries (§4.3) of a transfer of `len` bytes (> 0) at `addr`: returns PRP1 and
/// PRP2, and gives `list(i, page)` the entries of the PRP list at `list_addr` when the data
/// spans more than two pages. `None` when `addr` is not dword-aligned (PRP1's offset bits 1:0
/// must be 0) or the list would need more than `max_list` entries.
pub fn prps(
    addr: u64,
    len: usize,
    list_addr: u64,
    max_list: usize,
    mut list: impl FnMut(usize, u64),
) -> Option<(u64, u64)> {
    let page = PAGE as u64;
    if !addr.is_multiple_of(4) || len == 0 {
        return None;
    }
    let base = addr - addr % page;
    // Pages after the first one.
    let more = (addr % page + len as u64 - 1) / page;
    match more {
        0 => Some((addr, 0)),
        1 => Some((addr, base + page)),
        n if n as usize <= max_list => {
            for i in 0..n {
                list(i as usize, base + (i + 1) * page);
            }
            Some((addr, list_addr))
        }
        _ => None,
    }
}

/// What IDENTIFY CONTROLLER and IDENTIFY NAMESPACE say about the flash namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NvmeInfo {
    model: [u8; 40],
    model_len: u8,
    /// Logical blocks (512 bytes) in the namespace (NSZE).
    pub blocks: u64,
    /// Most bytes one command may move (MDTS; 0 = no limit given).
    pub max_transfer: u64,
    /// A volatile write cache is present (VWC bit 0): writes end with FLUSH.
    pub flush: bool,
}

impl NvmeInfo {
    /// Nothing known yet.
    pub(crate) const UNKNOWN: NvmeInfo = NvmeInfo {
        model: [0; 40],
        model_len: 0,
        blocks: 0,
        max_transfer: 0,
        flush: true,
    };

    /// Take model, MDTS and VWC from the IDENTIFY CONTROLLER data (§5.15.2.1: MN at bytes
    /// 24-63, MDTS at 77 in units of the minimum page `min_page`, VWC at 525).
    pub fn controller(&mut self, id: &[u8; PAGE], min_page: u64) {
        self.model.copy_from_slice(&id[24..64]);
        self.model_len = crate::flash::ata::printable(&mut self.model);
        self.max_transfer = match id[77] {
            0 => 0,
            n => min_page.checked_shl(u32::from(n)).unwrap_or(0),
        };
        self.flush = id[525] & 1 != 0;
    }

    /// Take the size from the IDENTIFY NAMESPACE data (§5.15.2.2), refusing what the driver
    /// cannot drive: an inactive namespace (NSZE 0), or a format in use (FLBAS 3:0 selects
    /// LBAF n at byte 128 + 4n) whose blocks are not 512 bytes (LBADS ≠ 9) or carry metadata
    /// (MS ≠ 0).
    pub fn namespace(&mut self, id: &[u8; PAGE]) -> Result<(), NvmeError> {
        let nsze = u64::from_le_bytes(id[0..8].try_into().unwrap_or([0; 8]));
        if nsze == 0 {
            return Err(NvmeError::NoNamespace);
        }
        let f = 128 + 4 * usize::from(id[26] & 0xF);
        let ms = u16::from_le_bytes([id[f], id[f + 1]]);
        let lbads = id[f + 2];
        if lbads != 9 || ms != 0 {
            return Err(NvmeError::LbaFormat { lbads, ms });
        }
        self.blocks = nsze;
        Ok(())
    }

    /// The model string ("QEMU NVMe Ctrl").
    pub fn model(&self) -> &str {
        core::str::from_utf8(&self.model[..self.model_len as usize]).unwrap_or("?")
    }
}
