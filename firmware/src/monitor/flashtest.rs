//! The hidden `flashtest [KIB]` diagnostic, generic over embedded-storage's [`NorFlash`]:
//! erase the first KIB KiB of the flash, program them with [`pattern`], read them back, and
//! print what happened and how long each phase took. The clock is passed in.
//!
//! Console lines (each ending in "\r\n"):
//! - `flashtest: <device>: erase, program and verify <N> KiB at offset 0`
//! - success: `flashtest: <N> bytes erased, programmed and verified in <T> s (erase <E> s,
//!   program <P> s, verify <V> s)`, times with three decimals;
//! - failure: `flashtest: <phase> failed: <driver error>` or
//!   `flashtest: verify failed: <M> bytes differ, first at 0x<offset> (wrote 0x<w>, read 0x<r>)`.
#![forbid(unsafe_code)]

use core::fmt::{self, Display, Write};

use crate::install::dialogue::Operator;
use crate::install::Slots;
use embedded_storage::nor_flash::NorFlash;

/// Bytes moved per write/read call.
const CHUNK: usize = 4096;

/// The byte `flashtest` programs at flash offset `offset`: varies within and across
/// blocks, so a misplaced or dropped block shows. Host tests compute it too.
pub const fn pattern(offset: u32) -> u8 {
    (offset ^ (offset >> 8) ^ (offset >> 16) ^ 0x5A) as u8
}

/// Microseconds as `S.mmm`.
struct Seconds(u64);

impl Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 / 1000;
        write!(f, "{}.{:03}", ms / 1000, ms % 1000)
    }
}

/// `flashtest [KIB]` at the console: says what it erases (`kib`, default one erase block),
/// asks (ESC, BREAK or anything but `y` erases nothing), then [`run_keeping_record`].
pub fn at_console<F, O>(
    op: &mut O,
    flash: F,
    name: &dyn Display,
    kib: Option<u32>,
    now_us: impl FnMut() -> u64,
) where
    F: NorFlash,
    F::Error: Display,
    O: Operator + ?Sized,
{
    let kib = kib.unwrap_or((F::ERASE_SIZE / 1024).max(1) as u32);
    let _ = write!(
        op,
        "flashtest erases the first {kib} KiB of {name}, where the records are (the unit record is written back after).\r\n"
    );
    if !op.yes_no("Erase them?", false) {
        let _ = write!(op, "flashtest: nothing was erased.\r\n");
        return;
    }
    match Slots::new(flash) {
        Ok(mut s) => {
            run_keeping_record(&mut s, name, kib, now_us, op);
        }
        Err(e) => {
            let _ = write!(op, "flashtest: {e}\r\n");
        }
    }
}

/// [`run`] on the unit's flash, but the unit record survives it: read before, written back
/// after, so the floor never falls and the key and activation key stay (the slot it
/// names is checked afresh at the next boot, like any other).
pub fn run_keeping_record<F, W>(
    s: &mut Slots<F>,
    name: &dyn Display,
    kib: u32,
    now_us: impl FnMut() -> u64,
    out: &mut W,
) -> bool
where
    F: NorFlash,
    F::Error: Display,
    W: Write + ?Sized,
{
    let kept = s.record();
    let ok = run(s.flash(), name, kib, now_us, out);
    if let Some(r) = kept {
        match s.restore(r) {
            Ok(()) => {
                let _ = write!(
                    out,
                    "flashtest: unit record written back (floor {})\r\n",
                    r.unit.floor
                );
            }
            Err(e) => {
                let _ = write!(
                    out,
                    "Warning: flashtest: unit record not written back: {e}\r\n"
                );
            }
        }
    }
    ok
}

/// Run the test on the first `kib` KiB (rounded up to whole erase units) of `flash`, named
/// `name` on the console. Returns whether it passed; console errors are ignored.
pub fn run<F, W>(
    flash: &mut F,
    name: &dyn Display,
    kib: u32,
    mut now_us: impl FnMut() -> u64,
    out: &mut W,
) -> bool
where
    F: NorFlash,
    F::Error: Display,
    W: Write + ?Sized,
{
    // Whole erase units and whole chunks: the larger of the two when one divides the other.
    let (erase, chunk) = (F::ERASE_SIZE as u64, CHUNK as u64);
    let unit = erase.max(chunk);
    if erase == 0
        || F::WRITE_SIZE == 0
        || !unit.is_multiple_of(erase)
        || !unit.is_multiple_of(chunk)
        || !CHUNK.is_multiple_of(F::WRITE_SIZE)
    {
        let _ = write!(
            out,
            "flashtest: {name}: erase unit {} B / write unit {} B do not fit {CHUNK}-byte chunks\r\n",
            F::ERASE_SIZE,
            F::WRITE_SIZE
        );
        return false;
    }
    let len = (u64::from(kib) * 1024).div_ceil(unit) * unit;
    let capacity = flash.capacity() as u64;
    if len > capacity {
        let _ = write!(
            out,
            "flashtest: {name}: {kib} KiB is more than the flash holds ({} KiB)\r\n",
            capacity / 1024
        );
        return false;
    }
    let len = len as u32;
    let _ = write!(
        out,
        "flashtest: {name}: erase, program and verify {} KiB at offset 0\r\n",
        len / 1024
    );
    let t0 = now_us();
    if let Err(e) = flash.erase(0, len) {
        let _ = write!(out, "flashtest: erase failed: {e}\r\n");
        return false;
    }
    let t1 = now_us();
    let mut buf = [0u8; CHUNK];
    let mut at = 0u32;
    while at < len {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = pattern(at + i as u32);
        }
        if let Err(e) = flash.write(at, &buf) {
            let _ = write!(out, "flashtest: program failed: {e}\r\n");
            return false;
        }
        at += CHUNK as u32;
    }
    let t2 = now_us();
    let mut differ = 0u64;
    let mut first = None;
    let mut at = 0u32;
    while at < len {
        if let Err(e) = flash.read(at, &mut buf) {
            let _ = write!(out, "flashtest: read failed: {e}\r\n");
            return false;
        }
        for (i, &b) in buf.iter().enumerate() {
            let offset = at + i as u32;
            if b != pattern(offset) {
                differ += 1;
                first.get_or_insert((offset, b));
            }
        }
        at += CHUNK as u32;
    }
    let t3 = now_us();
    if let Some((offset, found)) = first {
        let _ = write!(
            out,
            "flashtest: verify failed: {differ} bytes differ, first at {offset:#x} (wrote {:#04x}, read {found:#04x})\r\n",
            pattern(offset)
        );
        return false;
    }
    let _ = write!(
        out,
        "flashtest: {len} bytes erased, programmed and verified in {} s (erase {} s, program {} s, verify {} s)\r\n",
        Seconds(t3.wrapping_sub(t0)),
        Seconds(t1.wrapping_sub(t0)),
        Seconds(t2.wrapping_sub(t1)),
        Seconds(t3.wrapping_sub(t2)),
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_storage::nor_flash::{
        check_erase, check_read, check_write, ErrorType, NorFlashError, NorFlashErrorKind,
        ReadNorFlash,
    };

    /// Strict NOR: erase to 0xFF, program only clears bits, units enforced; can be told to
    /// fail a program or to drop one bit.
    struct Strict<const W: usize, const E: usize> {
        mem: Vec<u8>,
        fail_program_at: Option<u32>,
        stuck_bit_at: Option<u32>,
    }

    #[derive(Debug)]
    enum Err {
        Kind(NorFlashErrorKind),
        Sr(u8),
    }
    impl NorFlashError for Err {
        fn kind(&self) -> NorFlashErrorKind {
            match self {
                Err::Kind(k) => *k,
                Err::Sr(_) => NorFlashErrorKind::Other,
            }
        }
    }
    impl Display for Err {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Err::Kind(k) => write!(f, "{k}"),
                Err::Sr(s) => write!(f, "SR {s:#04x}"),
            }
        }
    }

    impl<const W: usize, const E: usize> Strict<W, E> {
        fn new(size: usize) -> Self {
            Strict {
                mem: vec![0u8; size],
                fail_program_at: None,
                stuck_bit_at: None,
            }
        }
    }
    impl<const W: usize, const E: usize> ErrorType for Strict<W, E> {
        type Error = Err;
    }
    impl<const W: usize, const E: usize> ReadNorFlash for Strict<W, E> {
        const READ_SIZE: usize = 1;
        fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Err> {
            check_read(self, offset, bytes.len()).map_err(Err::Kind)?;
            bytes.copy_from_slice(&self.mem[offset as usize..offset as usize + bytes.len()]);
            Ok(())
        }
        fn capacity(&self) -> usize {
            self.mem.len()
        }
    }
    impl<const W: usize, const E: usize> NorFlash for Strict<W, E> {
        const WRITE_SIZE: usize = W;
        const ERASE_SIZE: usize = E;
        fn erase(&mut self, from: u32, to: u32) -> Result<(), Err> {
            check_erase(self, from, to).map_err(Err::Kind)?;
            self.mem[from as usize..to as usize].fill(0xFF);
            Ok(())
        }
        fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Err> {
            check_write(self, offset, bytes.len()).map_err(Err::Kind)?;
            for (i, &b) in bytes.iter().enumerate() {
                let at = offset + i as u32;
                if Some(at) == self.fail_program_at {
                    return Err(Err::Sr(0x90));
                }
                let stuck = if Some(at) == self.stuck_bit_at {
                    0x01
                } else {
                    0
                };
                self.mem[at as usize] &= b | stuck;
            }
            Ok(())
        }
    }

    fn clock() -> impl FnMut() -> u64 {
        let mut t = 0;
        move || {
            t += 1_250_000;
            t
        }
    }

    #[test]
    fn programs_the_pattern_and_reports_the_times() {
        let mut flash = Strict::<1, 4096>::new(64 << 10);
        let mut out = String::new();
        assert!(run(&mut flash, &"model", 8, clock(), &mut out));
        assert_eq!(
            out,
            "flashtest: model: erase, program and verify 8 KiB at offset 0\r\n\
             flashtest: 8192 bytes erased, programmed and verified in 3.750 s \
             (erase 1.250 s, program 1.250 s, verify 1.250 s)\r\n"
        );
        for (i, &b) in flash.mem.iter().enumerate() {
            let expected = if i < 8192 { pattern(i as u32) } else { 0 };
            assert_eq!(b, expected, "byte {i}");
        }
    }

    #[test]
    fn rounds_up_to_erase_units_and_refuses_more_than_capacity() {
        let mut flash = Strict::<512, 512>::new(16 << 10);
        let mut out = String::new();
        assert!(run(&mut flash, &"ata", 1, clock(), &mut out));
        assert!(out.contains("verify 4 KiB"), "{out}");
        assert_eq!(flash.mem[4096], 0);
        out.clear();
        assert!(!run(&mut flash, &"ata", 17, clock(), &mut out));
        assert_eq!(
            out,
            "flashtest: ata: 17 KiB is more than the flash holds (16 KiB)\r\n"
        );
    }

    #[test]
    fn refuses_units_that_do_not_fit_its_chunks() {
        let mut flash = Strict::<3, 4096>::new(16 << 10);
        let mut out = String::new();
        assert!(!run(&mut flash, &"odd", 4, clock(), &mut out));
        assert_eq!(
            out,
            "flashtest: odd: erase unit 4096 B / write unit 3 B do not fit 4096-byte chunks\r\n"
        );
        assert!(flash.mem.iter().all(|&b| b == 0), "touched the flash");
    }

    #[test]
    fn reports_a_failed_program_and_a_bad_bit() {
        let mut flash = Strict::<1, 4096>::new(16 << 10);
        flash.fail_program_at = Some(0x1234);
        let mut out = String::new();
        assert!(!run(&mut flash, &"x", 8, clock(), &mut out));
        assert!(
            out.ends_with("flashtest: program failed: SR 0x90\r\n"),
            "{out}"
        );
        let mut flash = Strict::<1, 4096>::new(16 << 10);
        // pattern(0x10) = 0x4a has bit 0 clear: a stuck-at-1 bit there must show.
        flash.stuck_bit_at = Some(0x10);
        out.clear();
        assert!(!run(&mut flash, &"x", 4, clock(), &mut out));
        assert!(
            out.ends_with(
                "flashtest: verify failed: 1 bytes differ, first at 0x10 (wrote 0x4a, read 0x4b)\r\n"
            ),
            "{out}"
        );
    }

    /// `flashtest` at the console, key by key: anything but `y` (ESC included) erases
    /// nothing; `y` erases, tests and writes the unit record back.
    #[test]
    fn at_the_console_it_asks_and_keeps_the_unit_record() {
        use crate::install::dialogue::Key;
        use crate::install::sim::SimFlash;
        struct Keys(std::string::String, std::vec::Vec<Key>);
        impl Write for Keys {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0.push_str(s);
                Ok(())
            }
        }
        impl Operator for Keys {
            fn key(&mut self) -> Key {
                self.1.remove(0)
            }
            fn now_us(&mut self) -> u64 {
                0
            }
        }
        let mut flash = SimFlash::<4, 4096>::new(64 * 1024, 3);
        Slots::new(&mut flash)
            .unwrap()
            .update_unit(|u| u.floor = crate::image::Version::new(2, 0, 0))
            .unwrap();
        let before = flash.mem.clone();
        for keys in [
            vec![Key::Byte(0x1B)],
            vec![Key::Byte(b'n'), Key::Byte(b'\r')],
        ] {
            let mut op = Keys(std::string::String::new(), keys);
            at_console(&mut op, &mut flash, &"sim", Some(8), || 0);
            assert!(op.0.contains("nothing was erased"), "{}", op.0);
            assert!(flash.mem == before);
        }
        let mut op = Keys(
            std::string::String::new(),
            vec![Key::Byte(b'y'), Key::Byte(b'\r')],
        );
        at_console(&mut op, &mut flash, &"sim", None, || 0);
        assert!(
            op.0.contains("flashtest erases the first 4 KiB of sim"),
            "{}",
            op.0
        );
        assert!(
            op.0.contains("unit record written back (floor 2.0(0))"),
            "{}",
            op.0
        );
        let r = Slots::new(&mut flash).unwrap().record().unwrap();
        assert_eq!(r.unit.floor, crate::image::Version::new(2, 0, 0));
    }
}
