use super::fake::{FakeTpm, NvIndex};
use super::*;
use crate::image::Version;

/// A session with swtpm 0.7.1 (Debian bookworm, `--flags startup-clear`), recorded: each
/// command lifeboat sent (byte for byte what these functions marshal) and swtpm's answer.
/// Start-up (already started), the vendor, the floor index absent, created at 2.0(0), a
/// lower raise that keeps it, the write lock, a raise refused while locked, a PCR 9 extend
/// and PCRs 8 and 9 read.
const SWTPM: &[(&str, &str)] = &[
    ("80010000000c000001440000", "80010000000a00000100"),
    ("8001000000160000017a000000060000010500000001", "80010000001b000000000100000006000000010000010549424d00"),
    ("80010000000e0000016901004c42", "80010000000a0000018b"),
    ("80010000000e0000016901004c42", "80010000000a0000018b"),
    ("80020000002d0000012a40000001000000094000000900000000000000000e01004c42000b0206500200000004", "80020000001300000000000000000000010000"),
    ("800200000027000001374000000101004c42000000094000000900000000000004020000000000", "80020000001300000000000000000000010000"),
    ("80010000000e0000016901004c42", "80010000003e00000000000e01004c42000b22065002000000040022000ba05eaa2f365d2cb19fdf5e9ad718174f5e617336cb985ed13d0e747c28a965e9"),
    ("8002000000230000014e01004c4201004c420000000940000009000000000000040000", "80020000001900000000000000060004020000000000010000"),
    ("80010000000e0000016901004c42", "80010000003e00000000000e01004c42000b22065002000000040022000ba05eaa2f365d2cb19fdf5e9ad718174f5e617336cb985ed13d0e747c28a965e9"),
    ("80010000000e0000016901004c42", "80010000003e00000000000e01004c42000b22065002000000040022000ba05eaa2f365d2cb19fdf5e9ad718174f5e617336cb985ed13d0e747c28a965e9"),
    ("8002000000230000014e01004c4201004c420000000940000009000000000000040000", "80020000001900000000000000060004020000000000010000"),
    ("80020000001f000001384000000101004c4200000009400000090000000000", "80020000001300000000000000000000010000"),
    ("80010000000e0000016901004c42", "80010000003e00000000000e01004c42000b22065802000000040022000bc21307bb8d216d2babf9335a0142a871ae16dc7cf10b6b9c7e40c6c852fe75b4"),
    ("80010000000e0000016901004c42", "80010000003e00000000000e01004c42000b22065802000000040022000bc21307bb8d216d2babf9335a0142a871ae16dc7cf10b6b9c7e40c6c852fe75b4"),
    ("8002000000230000014e01004c4201004c420000000940000009000000000000040000", "80020000001900000000000000060004020000000000010000"),
    ("800200000027000001374000000101004c42000000094000000900000000000004030000000000", "80010000000a00000148"),
    ("80020000004100000182000000090000000940000009000000000000000001000b1111111111111111111111111111111111111111111111111111111111111111", "80020000001300000000000000000000010000"),
    ("8001000000140000017e00000001000b03000300", "800100000060000000000000001500000001000b03000300000000020020000000000000000000000000000000000000000000000000000000000000000000208878b15a7d6a3a4f464e8f9f42591dbc0cf4bedea0ec309003d2b2ee53655ef8"),
];

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Plays the recorded session back: each command must be the one recorded (lifeboat's
/// marshalling is byte for byte what swtpm accepted); the answer is swtpm's, passed through
/// `mangle` (which may change it) first.
struct Replay<'m> {
    at: usize,
    mangle: &'m mut dyn FnMut(usize, &mut Vec<u8>),
}

impl Transport for Replay<'_> {
    fn transact(&mut self, cmd: &[u8], rsp: &mut [u8]) -> Result<usize, Error> {
        let (c, r) = SWTPM
            .get(self.at)
            .ok_or(Error::Timeout("past the recording"))?;
        if cmd != &hex(c)[..] {
            return Err(Error::Interface("not the recorded command"));
        }
        let mut r = hex(r);
        (self.mangle)(self.at, &mut r);
        self.at += 1;
        let n = r.len().min(rsp.len());
        rsp[..n].copy_from_slice(&r[..n]);
        Ok(n)
    }
}

/// The recorded session's steps, as lifeboat runs them; the outcome of each.
fn session(t: &mut impl Transport) -> Vec<String> {
    let v = |a, b| Version::new(a, b, 0);
    vec![
        format!("{:?}", startup(t)),
        format!("{:?}", manufacturer(t)),
        format!("{:?}", floor::read_public(t)),
        format!("{:?}", floor::raise(t, v(2, 0))),
        format!("{:?}", floor::raise(t, v(1, 0))),
        format!("{:?}", floor::lock(t)),
        format!("{:?}", floor::raise(t, v(3, 0))),
        format!("{:?}", pcr_extend(t, 9, &[0x11; 32])),
        format!("{:?}", pcr_read(t, [8, 9])),
    ]
}

#[test]
fn swtpm_answers_parse_as_recorded() {
    let mut t = Replay {
        at: 0,
        mangle: &mut |_, _| {},
    };
    let out = session(&mut t);
    assert_eq!(t.at, SWTPM.len(), "{out:?}");
    assert!(!out.iter().any(|o| o.contains("recorded")), "{out:?}");
    assert_eq!(out[0], "Ok(())");
    assert_eq!(out[1], "Ok([73, 66, 77, 0])"); // "IBM"
    assert_eq!(out[2], "Ok(None)");
    assert_eq!(out[3], "Ok(Version { major: 2, minor: 0, maint: 0 })");
    assert_eq!(out[4], out[3], "a lower raise keeps the floor");
    assert_eq!(out[5], "Ok(())");
    assert_eq!(
        out[6], "Err(Refused { cc: 311, rc: 328 })",
        "locked until reset"
    );
    assert_eq!(out[7], "Ok(())");
    // PCR 8 untouched; PCR 9 = SHA-256(zeros || 0x11 * 32), as swtpm computed it.
    let mut pcr9 = [0u8; 32];
    pcr9.copy_from_slice(&hex(
        "8878b15a7d6a3a4f464e8f9f42591dbc0cf4bedea0ec309003d2b2ee53655ef8",
    ));
    assert_eq!(out[8], format!("{:?}", Ok::<_, Error>([[0u8; 32], pcr9])));
    let mut f = FakeTpm::new();
    f.started = true;
    let fake = session(&mut f);
    // The fake answers as swtpm did (but for the vendor).
    assert_eq!(fake[2..], out[2..]);
}

/// Every truncation and every single-bit flip of every recorded answer: a result or an
/// error, never a panic; a truncated answer is always an error.
#[test]
fn hostile_answers_are_errors_never_panics() {
    for (i, (_, answer)) in SWTPM.iter().enumerate() {
        let len = hex(answer).len();
        for cut in 0..len {
            let mut t = Replay {
                at: 0,
                mangle: &mut |at, r| {
                    if at == i {
                        r.truncate(cut)
                    }
                },
            };
            let out = session(&mut t);
            assert!(
                out.iter().any(|o| o.starts_with("Err(Malformed")),
                "{i} cut at {cut}: {out:?}"
            );
        }
        for bit in 0..len * 8 {
            let mut t = Replay {
                at: 0,
                mangle: &mut |at, r| {
                    if at == i {
                        r[bit / 8] ^= 1 << (bit % 8)
                    }
                },
            };
            let _ = session(&mut t);
        }
    }
}

#[test]
fn errors_are_one_line() {
    for e in [
        Error::Absent,
        Error::Timeout("commandReady"),
        Error::Interface("x"),
        Error::Malformed("y"),
        Error::Refused {
            cc: 0x137,
            rc: 0x148,
        },
        Error::Foreign {
            attributes: 2,
            size: 8,
        },
    ] {
        let s = e.to_string();
        assert!(!s.contains('\n') && s.len() < 120, "{s}");
    }
}

/// QEMU's answer once its TPM has gone (TPM 1.2's header, TPM_FAIL): the TPM has failed.
#[test]
fn a_tpm_that_has_gone_is_failed() {
    let dead = hex("00c40000000a00000009");
    assert_eq!(
        response(cc::PCR_EXTEND, ST_SESSIONS, &dead).unwrap_err(),
        Error::Failed { rc: 9 }
    );
}

/// The floor only rises; it is locked until the TPM's next reset; after the reset the
/// firmware may raise it again.
#[test]
fn the_floor_rises_only_and_locks_until_reset() {
    let mut t = FakeTpm::new();
    startup(&mut t).unwrap();
    assert_eq!(floor::read(&mut t), Ok(None));
    assert_eq!(
        floor::raise(&mut t, Version::new(2, 0, 0)),
        Ok(Version::new(2, 0, 0))
    );
    assert_eq!(
        floor::raise(&mut t, Version::new(1, 9, 9)),
        Ok(Version::new(2, 0, 0))
    );
    floor::lock(&mut t).unwrap();
    assert!(matches!(
        floor::raise(&mut t, Version::new(3, 0, 0)),
        Err(Error::Refused { rc: 0x148, .. })
    ));
    t.reset();
    startup(&mut t).unwrap();
    assert_eq!(floor::read(&mut t), Ok(Some(Version::new(2, 0, 0))));
    assert_eq!(
        floor::raise(&mut t, Version::new(3, 0, 0)),
        Ok(Version::new(3, 0, 0))
    );
}

/// An index at the floor's handle that lifeboat did not make (other attributes: anyone may
/// write it) is refused, not believed.
#[test]
fn a_foreign_index_is_refused() {
    let mut t = FakeTpm::new();
    t.started = true;
    t.nv.push(NvIndex {
        handle: floor::NV_INDEX,
        attributes: floor::ATTRIBUTES | (1 << 2), // AUTHWRITE: anyone with its empty auth
        size: 4,
        data: Some(vec![0, 0, 0, 0]),
        locked: false,
    });
    let e = floor::read(&mut t).unwrap_err();
    assert!(matches!(e, Error::Foreign { .. }));
    assert!(e.to_string().contains("not made by lifeboat"), "{e}");
    assert!(floor::raise(&mut t, Version::new(1, 0, 0)).is_err());
}

/// A TPM that stops answering at any command of a power-on's floor step: an error, never
/// a floor that was not read back.
#[test]
fn a_tpm_that_stops_answering_is_an_error_at_every_step() {
    for dead in 0..8 {
        let mut t = FakeTpm::new();
        t.dead_from = Some(dead);
        let r = startup(&mut t).and_then(|()| floor::raise(&mut t, Version::new(2, 0, 0)));
        let r = r.and_then(|v| floor::lock(&mut t).map(|()| v));
        if t.commands <= dead {
            assert_eq!(r, Ok(Version::new(2, 0, 0)));
        } else {
            assert_eq!(
                r,
                Err(Error::Timeout("no answer to the command")),
                "dead from {dead}"
            );
        }
    }
}

/// The PCRs after a measured boot equal the log replayed, and the log parses.
#[test]
fn pcrs_equal_the_event_log_replayed() {
    let mut t = FakeTpm::new();
    startup(&mut t).unwrap();
    let mut l = log::EventLog::new();
    let m = log::Measurement {
        config: b"boot_timeout=1\n",
        cmdline: b"console=ttyS0",
        payload_sha256: [0x42; 32],
        what: "lifeboat image 2.0(1) slot A",
    };
    log::measure(&mut t, &m, &mut l).unwrap();
    let [p8, p9] = pcr_read(&mut t, [log::PCR_CONFIG, log::PCR_IMAGE]).unwrap();
    assert_ne!(p8, [0; 32]);
    assert_eq!(log::replay(l.bytes(), 8), Some(p8));
    assert_eq!(log::replay(l.bytes(), 9), Some(p9));
    let mut n = 0;
    assert!(log::events(l.bytes(), |e| {
        n += 1;
        assert_eq!(e.kind, log::EV_IPL);
    }));
    assert_eq!(n, 3);
    // Any truncation of the log: parsed or refused, never a panic.
    for cut in 0..l.bytes().len() {
        let _ = log::replay(&l.bytes()[..cut], 9);
    }
}

/// A platform's log area: SeaBIOS-like (a Spec ID event with SHA-256, one entry, zeros after
/// it) gets lifeboat's entries after its own; one that names SHA-1 too is left alone; an empty area gets lifeboat's log
/// whole; an area holding something else, or too small, is left alone. The result replays
/// to the PCRs lifeboat extended.
#[test]
fn lifeboat_entries_join_the_platforms_log_area() {
    let mut t = FakeTpm::new();
    startup(&mut t).unwrap();
    let mut ours = log::EventLog::new();
    let m = log::Measurement {
        config: b"x",
        cmdline: b"console=ttyS0",
        payload_sha256: [3; 32],
        what: "lifeboat image 6.1(0)",
    };
    log::measure(&mut t, &m, &mut ours).unwrap();
    let [p8, p9] = pcr_read(&mut t, [8, 9]).unwrap();

    // SeaBIOS's shape on a TPM with SHA-1 and SHA-256 banks: Spec ID with two algorithms,
    // one EV_SEPARATOR on PCR 0 (both digests).
    let mut platform = Vec::new();
    let mut spec = b"Spec ID Event03\0".to_vec();
    spec.extend([0, 0, 0, 0, 0, 2, 0, 2]);
    spec.extend(2u32.to_le_bytes());
    spec.extend([0x04, 0, 20, 0, 0x0B, 0, 32, 0, 0]);
    platform.extend(0u32.to_le_bytes());
    platform.extend(3u32.to_le_bytes());
    platform.extend([0; 20]);
    platform.extend((spec.len() as u32).to_le_bytes());
    platform.extend(&spec);
    platform.extend(0u32.to_le_bytes());
    platform.extend(4u32.to_le_bytes());
    platform.extend(2u32.to_le_bytes());
    platform.extend([0x04, 0]);
    platform.extend([0xAA; 20]);
    platform.extend([0x0B, 0]);
    platform.extend([0xBB; 32]);
    platform.extend(4u32.to_le_bytes());
    platform.extend([0; 4]);
    // With SHA-1 named too, lifeboat's SHA-256-only entries would break the log: left alone.
    let mut two_banks = platform.clone();
    two_banks.resize(4096, 0);
    let before = two_banks.clone();
    assert_eq!(log::append_to(&mut two_banks, ours.bytes()), None);
    assert_eq!(two_banks, before);
    // The same platform log of the SHA-256 bank alone takes them.
    let mut platform = Vec::new();
    let mut spec = b"Spec ID Event03\0".to_vec();
    spec.extend([0, 0, 0, 0, 0, 2, 0, 2]);
    spec.extend(1u32.to_le_bytes());
    spec.extend([0x0B, 0, 32, 0, 0]);
    platform.extend(0u32.to_le_bytes());
    platform.extend(3u32.to_le_bytes());
    platform.extend([0; 20]);
    platform.extend((spec.len() as u32).to_le_bytes());
    platform.extend(&spec);
    platform.extend(0u32.to_le_bytes());
    platform.extend(4u32.to_le_bytes());
    platform.extend(1u32.to_le_bytes());
    platform.extend([0x0B, 0]);
    platform.extend([0xBB; 32]);
    platform.extend(4u32.to_le_bytes());
    platform.extend([0; 4]);
    let mut area = platform.clone();
    area.resize(4096, 0);
    let used = log::append_to(&mut area, ours.bytes()).unwrap();
    assert!(area[used..].iter().all(|&b| b == 0));
    assert_eq!(log::replay(&area, 8), Some(p8));
    assert_eq!(log::replay(&area, 9), Some(p9));
    let mut n = 0;
    assert!(log::events(&area, |_| n += 1));
    assert_eq!(n, 4);

    let mut empty = vec![0u8; 4096];
    let used = log::append_to(&mut empty, ours.bytes()).unwrap();
    assert_eq!(&empty[..used], ours.bytes());

    let mut foreign = vec![0x5Au8; 4096];
    assert_eq!(log::append_to(&mut foreign, ours.bytes()), None);
    assert!(foreign.iter().all(|&b| b == 0x5A));
    let mut small = platform.clone();
    small.resize(platform.len() + 10, 0);
    let before = small.clone();
    assert_eq!(log::append_to(&mut small, ours.bytes()), None);
    assert_eq!(small, before);
}

/// The TPM2 table's log area found from the RSDP through the XSDT, and through the RSDT
/// of an ACPI 1.0 RSDP; nothing for a bad signature or a table without the log fields.
#[test]
fn the_acpi_tpm2_log_area_is_found_from_the_rsdp() {
    let mut mem = vec![0u8; 0x4000];
    let put = |m: &mut Vec<u8>, at: usize, b: &[u8]| m[at..at + b.len()].copy_from_slice(b);
    // RSDP at 0x100 (revision 2), RSDT at 0x200, XSDT at 0x300, a FACP at 0x400, TPM2 at 0x500.
    put(&mut mem, 0x100, b"RSD PTR ");
    mem[0x100 + 15] = 2;
    put(&mut mem, 0x100 + 16, &0x200u32.to_le_bytes());
    put(&mut mem, 0x100 + 24, &0x300u64.to_le_bytes());
    put(&mut mem, 0x200, b"RSDT");
    put(&mut mem, 0x204, &(36u32 + 8).to_le_bytes());
    put(&mut mem, 0x200 + 36, &0x400u32.to_le_bytes());
    put(&mut mem, 0x200 + 40, &0x500u32.to_le_bytes());
    put(&mut mem, 0x300, b"XSDT");
    put(&mut mem, 0x304, &(36u32 + 16).to_le_bytes());
    put(&mut mem, 0x300 + 36, &0x400u64.to_le_bytes());
    put(&mut mem, 0x300 + 44, &0x500u64.to_le_bytes());
    put(&mut mem, 0x400, b"FACP");
    put(&mut mem, 0x404, &244u32.to_le_bytes());
    put(&mut mem, 0x500, b"TPM2");
    put(&mut mem, 0x504, &76u32.to_le_bytes());
    put(&mut mem, 0x500 + 64, &0x1000u32.to_le_bytes());
    put(&mut mem, 0x500 + 68, &0x2000u64.to_le_bytes());
    let find = |mem: &Vec<u8>| {
        let mut read = |a: u64, b: &mut [u8]| match mem.get(a as usize..a as usize + b.len()) {
            Some(s) => {
                b.copy_from_slice(s);
                true
            }
            None => false,
        };
        log::acpi_log_area(&mut read, 0x100)
    };
    assert_eq!(find(&mem), Some((0x2000, 0x1000)));
    mem[0x100 + 15] = 0; // ACPI 1.0: the RSDT
    assert_eq!(find(&mem), Some((0x2000, 0x1000)));
    put(&mut mem, 0x504, &64u32.to_le_bytes()); // revision 3: no log fields
    assert_eq!(find(&mem), None);
    put(&mut mem, 0x504, &76u32.to_le_bytes());
    put(&mut mem, 0x100, b"RSD PTX ");
    assert_eq!(find(&mem), None);
    // Where a BIOS leaves it: found on a 16-byte boundary of 0xE0000-0xFFFFF, not elsewhere.
    let mut bios = vec![0u8; 0x10_0000];
    bios[0xF_5A10..0xF_5A18].copy_from_slice(b"RSD PTR ");
    bios[0xD_0000..0xD_0008].copy_from_slice(b"RSD PTR ");
    let mut read = |a: u64, b: &mut [u8]| {
        b.copy_from_slice(&bios[a as usize..a as usize + b.len()]);
        true
    };
    assert_eq!(log::find_rsdp(&mut read), Some(0xF_5A10));
}
