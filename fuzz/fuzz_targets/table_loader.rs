//! Fuzzes lifeboat-rom's ACPI table loader (`table_loader`): the input after its first byte is
//! an `etc/table-loader` script run over fixed fw_cfg files: QEMU 7.2's captured `etc/acpi/rsdp`
//! and `etc/acpi/tables` (pc when bit 0 of the first byte is clear, q35 when set; the tables
//! padded to 128 KiB as QEMU serves them), a 4 KiB `etc/vmgenid_guid` and an 8-byte
//! `etc/vmgenid_addr` (for WRITE_POINTER); bit 1 puts the RAM top at 16 MiB + 64 KiB instead
//! of 256 MiB (little room). No panic; every error displays as one line; `plan` keeps every
//! blob inside base..end, above the floor, aligned at least 16, disjoint; `link` writes
//! nothing outside the blobs (the arena's gaps stay zero); a write-back stays inside its file;
//! what `check` accepts has a zero-sum RSDP whose root table is a zero-sum RSDT or XSDT
//! inside a blob.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifeboat_rom::fw_cfg::File;
use lifeboat_rom::table_loader::{check, link, plan, Error};

const PC_RSDP: &[u8] = include_bytes!("../../rom/tests/fixtures/qemu-7.2-pc/rsdp");
const PC_TABLES: &[u8] = include_bytes!("../../rom/tests/fixtures/qemu-7.2-pc/tables");
const Q35_RSDP: &[u8] = include_bytes!("../../rom/tests/fixtures/qemu-7.2-q35/rsdp");
const Q35_TABLES: &[u8] = include_bytes!("../../rom/tests/fixtures/qemu-7.2-q35/tables");

fn one_line(e: &Error) {
    let s = e.to_string();
    assert!(
        s.starts_with("etc/table-loader") && !s.contains('\n'),
        "{s}"
    );
}

fn sum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |s, &x| s.wrapping_add(x))
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, script)) = data.split_first() else {
        return;
    };
    let (rsdp, tables) = if ctl & 1 == 0 {
        (PC_RSDP, PC_TABLES)
    } else {
        (Q35_RSDP, Q35_TABLES)
    };
    let mut t = tables.to_vec();
    t.resize(128 << 10, 0);
    let files: [(&[u8], Vec<u8>); 4] = [
        (b"etc/acpi/rsdp", rsdp.to_vec()),
        (b"etc/acpi/tables", t),
        (b"etc/vmgenid_guid", vec![0x5A; 4096]),
        (b"etc/vmgenid_addr", vec![0; 8]),
    ];
    let lookup = |name: &[u8]| {
        files
            .iter()
            .enumerate()
            .find(|(_, (n, _))| *n == name)
            .map(|(i, (_, d))| File {
                select: 0x20 + i as u16,
                size: d.len() as u32,
            })
    };
    let floor = 16u64 << 20;
    let top = if ctl & 2 == 0 {
        256 << 20
    } else {
        floor + (64 << 10)
    };
    let p = match plan(script, lookup, top, floor) {
        Ok(p) => p,
        Err(e) => return one_line(&e),
    };
    assert!(p.base() >= floor && p.end() <= top && p.base() <= p.end());
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for b in p.blobs() {
        assert!(b.addr % 16 == 0 && b.addr >= p.base() && b.addr + b.len() as u64 <= p.end());
        spans.push((b.addr, b.addr + b.len() as u64));
    }
    spans.sort();
    assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0));
    let mut arena = vec![0xEEu8; p.len()];
    p.load(&mut arena, |f, out| {
        let d = &files[usize::from(f.select - 0x20)].1;
        out.copy_from_slice(d);
    })
    .unwrap();
    let mut gap = vec![true; arena.len()];
    for &(a, e) in &spans {
        gap[(a - p.base()) as usize..(e - p.base()) as usize].fill(false);
    }
    let writes = match link(script, &p, &mut arena, lookup) {
        Ok(w) => w,
        Err(e) => return one_line(&e),
    };
    assert!(arena.iter().zip(&gap).all(|(&a, &g)| !g || a == 0));
    for w in writes.iter() {
        assert!(matches!(w.len, 1 | 2 | 4 | 8));
        assert!(u64::from(w.offset) + u64::from(w.len) <= u64::from(w.file.size));
    }
    match check(&p, &arena) {
        Ok(t) => {
            let at = |a: u64| (a - p.base()) as usize;
            let r = &arena[at(t.rsdp)..];
            assert_eq!(sum(&r[..20]), 0);
            let rsdt = u64::from(u32::from_le_bytes(r[16..20].try_into().unwrap()));
            if rsdt != 0 {
                let len = u32::from_le_bytes(arena[at(rsdt) + 4..at(rsdt) + 8].try_into().unwrap());
                assert_eq!(sum(&arena[at(rsdt)..at(rsdt) + len as usize]), 0);
            }
        }
        Err(e) => one_line(&e),
    }
});
