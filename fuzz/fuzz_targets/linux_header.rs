//! Fuzzes the Linux boot protocol code (`boot::linux`): a bzImage setup header through
//! `Kernel::parse`, `plan` and `zero_page`, with a fixed RAM map (usable 0–0x9FC00,
//! 1 MiB–256 MiB and 4–5 GiB, a reserved BIOS hole) and the firmware at 1 MiB–0x440000 to
//! avoid, plus an optional second region to avoid chosen by the input.
//!
//! Input: `ctl` (1 byte), a 28-byte trailer (little-endian: kernel body length u16, initrd
//! length u64, command line length u16, base u64 and length u64 of a second region to avoid,
//! length 0 for none), then the setup header from 0x1F1 on (up to 0x268: `setup_sects`,
//! `version`, `kernel_alignment`, `relocatable_kernel`, `xloadflags`, `cmdline_size`,
//! `pref_address`, `init_size`, … at their boot.rst offsets; a real bzImage's bytes
//! 0x1F1..0x268 are a seed as they are). The file is a zeroed skeleton of
//! `(setup_sects + 1) * 512` + body bytes with that header in place and "HdrS" at 0x202 and
//! 0xAA55 at 0x1FE written over it (unless `ctl` bit 0 / bit 1 says to keep the input's),
//! so mutations reach the fields past the magic checks.
//!
//! Checks: no panic; errors display; a parsed kernel's lengths add up to the file; an `Ok`
//! plan puts the kernel's `[addr, addr + max(init_size, kernel file))` and the initrd in
//! usable RAM above 1 MiB, clear of the regions to avoid and of each other, the kernel at
//! `pref_address` or (relocatable) aligned, the initrd page-aligned below
//! `initrd_addr_max`, the entry inside the kernel's bytes; the zero page carries the header
//! and the plan.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_firmware::boot::linux::{self, Kernel, ENTRY_64_OFFSET, ZERO_PAGE_LEN};
use lifeboat_firmware::image::LinuxError;
use lifeboat_firmware::ram::RamRegion;

const MIB: u64 = 1 << 20;
/// (base, length, E820 type).
const E820: [(u64, u64, u32); 4] = [
    (0, 0x9_FC00, 1),
    (0x10_0000, 0x1000_0000 - 0x10_0000, 1),
    (0xFFFC_0000, 0x4_0000, 2),
    (0x1_0000_0000, 0x4000_0000, 1),
];
const FIRMWARE: RamRegion = RamRegion {
    base: 0x10_0000,
    len: 0x44_0000 - 0x10_0000,
};

/// The input's trailer after `ctl`: what the setup header does not hold.
struct Trailer {
    /// Bytes of protected-mode kernel after the setup.
    body_len: u16,
    initrd_len: u64,
    cmdline_len: u16,
    /// A second region to avoid (length 0: only the firmware).
    avoid: RamRegion,
}

const TRAILER_LEN: usize = 28;
/// The setup header: from `setup_sects` at 0x1F1 to past `init_size` at 0x264.
const HEADER: core::ops::Range<usize> = 0x1F1..0x268;

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0, |v, &x| v << 8 | u64::from(x))
}

fn put(f: &mut [u8], at: usize, bytes: &[u8]) {
    f[at..at + bytes.len()].copy_from_slice(bytes);
}

fn overlaps(a: u64, a_len: u64, b: u64, b_len: u64) -> bool {
    a_len > 0 && b_len > 0 && a < b.saturating_add(b_len) && b < a.saturating_add(a_len)
}

/// Is `[base, base + len)` inside one usable region (exactly, without wrapping)?
fn in_ram(ram: &[RamRegion], base: u64, len: u64) -> bool {
    let Some(end) = base.checked_add(len) else {
        return false;
    };
    ram.iter().any(|r| base >= r.base && end <= r.base + r.len)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    if rest.len() < TRAILER_LEN {
        return;
    }
    let (t, header) = rest.split_at(TRAILER_LEN);
    let t = Trailer {
        body_len: le(&t[0..2]) as u16,
        initrd_len: le(&t[2..10]),
        cmdline_len: le(&t[10..12]) as u16,
        avoid: RamRegion {
            base: le(&t[12..20]),
            len: le(&t[20..28]),
        },
    };
    let setup_sects = header.first().copied().unwrap_or(0);
    let sects = if setup_sects == 0 {
        4
    } else {
        usize::from(setup_sects)
    };
    let mut file = vec![0u8; (sects + 1) * 512 + usize::from(t.body_len)];
    let n = header.len().min(HEADER.len());
    file[HEADER.start..HEADER.start + n].copy_from_slice(&header[..n]);
    if ctl & 1 == 0 {
        put(&mut file, 0x1FE, &0xAA55u16.to_le_bytes());
    }
    if ctl & 2 == 0 {
        put(&mut file, 0x202, b"HdrS");
    }
    let k = match Kernel::parse(&file) {
        Ok(k) => k,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(k.setup_len + k.kernel_len, file.len());
    assert!(k.kernel_len > 0);
    assert!(k.version >= 0x020C);
    assert!(k.kernel_alignment.is_power_of_two());

    let ram: Vec<RamRegion> = E820
        .iter()
        .filter(|e| e.2 == 1)
        .map(|&(base, len, _)| RamRegion { base, len })
        .collect();
    let mut avoid = vec![FIRMWARE];
    if t.avoid.len > 0 {
        avoid.push(t.avoid);
    }
    let cmdline_len = usize::from(t.cmdline_len);
    let p = match linux::plan(&k, t.initrd_len, cmdline_len, &ram, &avoid) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            if let LinuxError::NoRoom { what, bytes } = e {
                assert!(what == "kernel" || what == "initrd");
                assert!(bytes > 0);
            }
            return;
        }
    };
    assert!(cmdline_len <= k.cmdline_max, "{p:?}");
    let need = k.init_size.max(k.kernel_len as u64);
    let kernel_ok = |len: u64| {
        in_ram(&ram, p.kernel_addr, len)
            && p.kernel_addr >= MIB
            && !avoid
                .iter()
                .any(|r| overlaps(p.kernel_addr, len, r.base, r.len))
    };
    assert!(kernel_ok(k.init_size), "{k:?} {p:?}");
    assert!(kernel_ok(need), "{k:?} {p:?}");
    assert!(
        p.kernel_addr == k.pref_address
            || (k.relocatable && p.kernel_addr % k.kernel_alignment == 0),
        "{k:?} {p:?}"
    );
    assert_eq!(p.entry, p.kernel_addr + ENTRY_64_OFFSET);
    assert!(
        p.entry >= p.kernel_addr && p.entry < p.kernel_addr + k.kernel_len as u64,
        "entry outside the kernel's {} bytes: {p:?}",
        k.kernel_len
    );
    assert_eq!(p.initrd_len, t.initrd_len);
    if t.initrd_len == 0 {
        assert_eq!(p.initrd_addr, 0);
    } else {
        assert!(in_ram(&ram, p.initrd_addr, p.initrd_len), "{p:?}");
        assert!(p.initrd_addr >= MIB);
        assert_eq!(p.initrd_addr % 4096, 0);
        assert!(
            p.initrd_addr + p.initrd_len - 1 <= k.initrd_addr_max,
            "{k:?} {p:?}"
        );
        assert!(!overlaps(p.initrd_addr, p.initrd_len, p.kernel_addr, need));
        assert!(!avoid
            .iter()
            .any(|r| overlaps(p.initrd_addr, p.initrd_len, r.base, r.len)));
    }
    // Zero page and command line sit below 1 MiB, clear of everything placed above it.
    assert!(p.cmdline_addr + cmdline_len as u64 + 1 <= 0xA_0000);
    assert!(p.params_addr + ZERO_PAGE_LEN as u64 <= p.cmdline_addr);

    let mut zp = [0xEEu8; ZERO_PAGE_LEN];
    linux::zero_page(&file, &k, &p, &E820, &mut zp);
    assert_eq!(&zp[0x202..0x206], &file[0x202..0x206]);
    assert_eq!(zp[0x210], 0xFF);
    assert_eq!(u32_at(&zp, 0x214), p.kernel_addr as u32);
    assert_eq!(u32_at(&zp, 0x218), p.initrd_addr as u32);
    assert_eq!(u32_at(&zp, 0x0C0), (p.initrd_addr >> 32) as u32);
    assert_eq!(u32_at(&zp, 0x21C), p.initrd_len as u32);
    assert_eq!(u32_at(&zp, 0x0C4), (p.initrd_len >> 32) as u32);
    assert_eq!(u32_at(&zp, 0x228), p.cmdline_addr as u32);
    assert_eq!(zp[0x1E8], E820.len() as u8);
});
