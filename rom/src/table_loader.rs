//! QEMU's ACPI table loader: the fw_cfg file `etc/table-loader`, an array of 128-byte
//! commands (QEMU `hw/acpi/bios-linker-loader.c`; SeaBIOS `src/fw/romfile_loader.c` runs it)
//! that says which fw_cfg files hold ACPI tables, how to place them, which pointers between
//! them to relocate and which checksums to fix up once they are placed.
//!
//! The ROM stage runs it in four steps, the memory access being its own:
//! 1. [`plan`]: every `ALLOCATE` gets an address, top-down from the end of the highest RAM
//!    range below 4 GiB (both zones, HIGH and FSEG, go there: Linux takes the RSDP from the
//!    zero page's `acpi_rsdp_addr`, so it needs no copy in the 0xE0000-0xFFFFF segment);
//! 2. [`Plan::load`]: the stage reads each file into its place, inside one byte slice (the
//!    arena) that covers [`Plan::base`]..[`Plan::end`];
//! 3. [`link`]: `ADD_POINTER` and `ADD_CHECKSUM` patch the arena; `WRITE_POINTER` (used by
//!    vmgenid and nvdimm) becomes a [`WriteBack`] the stage writes to its fw_cfg file;
//! 4. [`check`]: the RSDP, the RSDT or XSDT and every table they (and the FADT) point at must
//!    lie inside the blobs with their checksums right; the RSDP's address goes to Linux.
//!
//! Everything is bounds-checked against the blobs: a bad script is an [`Error`] (one line),
//! never a panic or a write outside a blob. Unknown commands are skipped, as SeaBIOS does
//! and QEMU's protocol expects (zero commands pad the file to 4 KiB).
use core::fmt;

use crate::fw_cfg::File;

/// Bytes of one command.
pub const ENTRY_LEN: usize = 128;
/// Bytes of a file name field (fw_cfg's, NUL included).
pub const NAME_LEN: usize = 56;
/// Blobs (`ALLOCATE`s) one script may have (QEMU 7.2 uses 2, up to 5 with TPM, vmgenid and
/// nvdimm).
pub const MAX_FILES: usize = 16;
/// `WRITE_POINTER`s one script may have.
pub const MAX_WRITES: usize = 8;
/// The largest alignment accepted (QEMU asks for 64 at most, 4096 for vmgenid and nvdimm).
pub const MAX_ALIGN: u32 = 64 * 1024;
/// Every blob is at least this aligned.
pub const MIN_ALIGN: u32 = 16;
/// At most this much RAM for all blobs together (QEMU pads `etc/acpi/tables` to 128 KiB).
pub const MAX_TOTAL: u64 = 4 << 20;

pub const ALLOCATE: u32 = 1;
pub const ADD_POINTER: u32 = 2;
pub const ADD_CHECKSUM: u32 = 3;
pub const WRITE_POINTER: u32 = 4;
pub const ZONE_HIGH: u8 = 1;
pub const ZONE_FSEG: u8 = 2;

/// The blob holding the RSDP.
pub const RSDP_FILE: &[u8] = b"etc/acpi/rsdp";

/// What went wrong, and in which command (0-based) if in one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    pub command: Option<usize>,
    pub what: What,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// The script's length is not a whole number of commands.
    Length(usize),
    /// A file name field with no NUL, or empty.
    Name,
    /// `ALLOCATE` of a file fw_cfg does not have (or that is empty).
    NoSuchFile,
    /// A second `ALLOCATE` of one file.
    Duplicate,
    /// More than [`MAX_FILES`] `ALLOCATE`s or [`MAX_WRITES`] `WRITE_POINTER`s.
    TooMany,
    /// An alignment that is not a power of two or above [`MAX_ALIGN`].
    Align(u32),
    /// A zone other than HIGH (1) or FSEG (2).
    Zone(u8),
    /// The blobs do not fit (over [`MAX_TOTAL`], or below the RAM floor).
    NoRoom,
    /// A command names a file no `ALLOCATE` placed.
    UnknownFile,
    /// A pointer size other than 1, 2, 4 or 8.
    PointerSize(u8),
    /// An offset or range beyond its file.
    Bounds,
    /// A relocated pointer does not fit its size.
    Overflow,
    /// The arena handed to [`link`] or [`check`] is not the plan's.
    Arena,
    /// No `etc/acpi/rsdp` blob.
    NoRsdp,
    /// The RSDP or a table it leads to is malformed, outside the blobs or fails its checksum;
    /// the signature of the culprit.
    Table([u8; 4]),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("etc/table-loader")?;
        if let Some(n) = self.command {
            write!(f, " command {n}")?;
        }
        f.write_str(": ")?;
        match self.what {
            What::Length(n) => write!(f, "{n} bytes is not a whole number of 128-byte commands"),
            What::Name => f.write_str("a file name without its NUL"),
            What::NoSuchFile => f.write_str("ALLOCATE of a file fw_cfg lacks or that is empty"),
            What::Duplicate => f.write_str("a second ALLOCATE of one file"),
            What::TooMany => write!(f, "more than {MAX_FILES} files or {MAX_WRITES} write-backs"),
            What::Align(a) => write!(f, "alignment {a:#x} (a power of two up to 64 KiB)"),
            What::Zone(z) => write!(f, "zone {z} (1 = high, 2 = FSEG)"),
            What::NoRoom => f.write_str("the tables do not fit in RAM"),
            What::UnknownFile => f.write_str("a file no ALLOCATE placed"),
            What::PointerSize(s) => write!(f, "pointer size {s} (1, 2, 4 or 8)"),
            What::Bounds => f.write_str("an offset or length beyond its file"),
            What::Overflow => f.write_str("a pointer that does not fit its size"),
            What::Arena => f.write_str("the blobs are not where the plan put them"),
            What::NoRsdp => f.write_str("no etc/acpi/rsdp"),
            What::Table(sig) => {
                f.write_str("table ")?;
                for &b in &sig {
                    let c = if b.is_ascii_graphic() { b as char } else { '?' };
                    write!(f, "{c}")?;
                }
                f.write_str(" outside the blobs, malformed or with a bad checksum")
            }
        }
    }
}

fn err(command: usize, what: What) -> Error {
    Error {
        command: Some(command),
        what,
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The u32 at `at`, or 0 when `b` ends before it.
fn u32_or_0(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).map_or(0, |_| u32_at(b, at))
}

/// The name in a 56-byte field: the bytes before its NUL (there must be one), not empty.
fn name(field: &[u8]) -> Option<&[u8]> {
    let n = field.iter().position(|&b| b == 0)?;
    (n > 0).then_some(&field[..n])
}

/// One command, decoded (the numbers as they stand; checks come with their use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command<'a> {
    Allocate {
        file: &'a [u8],
        align: u32,
        zone: u8,
    },
    AddPointer {
        dest: &'a [u8],
        src: &'a [u8],
        offset: u32,
        size: u8,
    },
    AddChecksum {
        file: &'a [u8],
        offset: u32,
        start: u32,
        length: u32,
    },
    WritePointer {
        dest: &'a [u8],
        src: &'a [u8],
        dst_offset: u32,
        src_offset: u32,
        size: u8,
    },
    /// Zero padding, or a command this loader does not know: skipped.
    Other,
}

fn decode(e: &[u8]) -> Result<Command<'_>, What> {
    let n1 = &e[4..4 + NAME_LEN];
    let n2 = &e[4 + NAME_LEN..4 + 2 * NAME_LEN];
    let after1 = 4 + NAME_LEN;
    let after2 = 4 + 2 * NAME_LEN;
    Ok(match u32_at(e, 0) {
        ALLOCATE => Command::Allocate {
            file: name(n1).ok_or(What::Name)?,
            align: u32_at(e, after1),
            zone: e[after1 + 4],
        },
        ADD_POINTER => Command::AddPointer {
            dest: name(n1).ok_or(What::Name)?,
            src: name(n2).ok_or(What::Name)?,
            offset: u32_at(e, after2),
            size: e[after2 + 4],
        },
        ADD_CHECKSUM => Command::AddChecksum {
            file: name(n1).ok_or(What::Name)?,
            offset: u32_at(e, after1),
            start: u32_at(e, after1 + 4),
            length: u32_at(e, after1 + 8),
        },
        WRITE_POINTER => Command::WritePointer {
            dest: name(n1).ok_or(What::Name)?,
            src: name(n2).ok_or(What::Name)?,
            dst_offset: u32_at(e, after2),
            src_offset: u32_at(e, after2 + 4),
            size: e[after2 + 8],
        },
        _ => Command::Other,
    })
}

/// The commands of a script, with their index.
fn commands(script: &[u8]) -> Result<impl Iterator<Item = (usize, &[u8])>, Error> {
    if !script.len().is_multiple_of(ENTRY_LEN) {
        return Err(Error {
            command: None,
            what: What::Length(script.len()),
        });
    }
    Ok(script.chunks_exact(ENTRY_LEN).enumerate())
}

/// One placed blob: a fw_cfg file and its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blob {
    name: [u8; NAME_LEN],
    name_len: usize,
    pub file: File,
    pub addr: u64,
    pub zone: u8,
}

impl Blob {
    pub fn name(&self) -> &[u8] {
        &self.name[..self.name_len]
    }

    pub fn len(&self) -> usize {
        self.file.size as usize
    }

    pub fn is_empty(&self) -> bool {
        self.file.size == 0
    }
}

/// Where the blobs go: [`Plan::base`]..[`Plan::end`] (4 KiB aligned) holds them all, each
/// below the one before it in the script. Only [`plan`] makes one.
#[derive(Debug, Clone)]
pub struct Plan {
    blobs: [Blob; MAX_FILES],
    count: usize,
    base: u64,
    end: u64,
}

impl Plan {
    /// The lowest address of the arena (4 KiB aligned).
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The first address above it.
    pub fn end(&self) -> u64 {
        self.end
    }

    pub fn blobs(&self) -> &[Blob] {
        &self.blobs[..self.count]
    }

    pub fn find(&self, name: &[u8]) -> Option<&Blob> {
        self.blobs().iter().find(|b| b.name() == name)
    }

    /// Bytes of RAM the blobs take, gaps included: the arena's length.
    pub fn len(&self) -> usize {
        (self.end - self.base) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.base
    }

    /// The bytes of `blob` in `arena` (which covers base..end).
    fn bytes<'a>(&self, arena: &'a [u8], blob: &Blob) -> &'a [u8] {
        let at = (blob.addr - self.base) as usize;
        &arena[at..at + blob.len()]
    }

    fn bytes_mut<'a>(&self, arena: &'a mut [u8], blob: &Blob) -> &'a mut [u8] {
        let at = (blob.addr - self.base) as usize;
        &mut arena[at..at + blob.len()]
    }

    /// Fills each blob in `arena` (base..end) from `read(file, its bytes)` and the gaps
    /// between them with zeros.
    pub fn load(
        &self,
        arena: &mut [u8],
        mut read: impl FnMut(File, &mut [u8]),
    ) -> Result<(), Error> {
        if arena.len() != self.len() {
            return Err(Error {
                command: None,
                what: What::Arena,
            });
        }
        // Blobs are placed top-down: walk them from the top, zeroing what lies above each.
        let mut above = arena.len();
        for b in self.blobs() {
            let at = (b.addr - self.base) as usize;
            arena[at + b.len()..above].fill(0);
            read(b.file, self.bytes_mut(arena, b));
            above = at;
        }
        arena[..above].fill(0);
        Ok(())
    }
}

/// Places every `ALLOCATE`d file (looked up by name with `lookup`, the fw_cfg directory)
/// top-down from `top`, in script order, each aligned as asked (at least [`MIN_ALIGN`]),
/// none below `floor`.
pub fn plan(
    script: &[u8],
    mut lookup: impl FnMut(&[u8]) -> Option<File>,
    top: u64,
    floor: u64,
) -> Result<Plan, Error> {
    let empty = Blob {
        name: [0; NAME_LEN],
        name_len: 0,
        file: File { select: 0, size: 0 },
        addr: 0,
        zone: 0,
    };
    let top = top & !0xFFF;
    let mut p = Plan {
        blobs: [empty; MAX_FILES],
        count: 0,
        base: top,
        end: top,
    };
    let mut next = top;
    for (i, e) in commands(script)? {
        let Command::Allocate { file, align, zone } = decode(e).map_err(|w| err(i, w))? else {
            continue;
        };
        if zone != ZONE_HIGH && zone != ZONE_FSEG {
            return Err(err(i, What::Zone(zone)));
        }
        if (align != 0 && !align.is_power_of_two()) || align > MAX_ALIGN {
            return Err(err(i, What::Align(align)));
        }
        if p.find(file).is_some() {
            return Err(err(i, What::Duplicate));
        }
        if p.count == MAX_FILES {
            return Err(err(i, What::TooMany));
        }
        let f = lookup(file)
            .filter(|f| f.size > 0)
            .ok_or(err(i, What::NoSuchFile))?;
        let align = u64::from(align.max(MIN_ALIGN));
        let addr = next
            .checked_sub(u64::from(f.size))
            .map(|a| a & !(align - 1))
            .filter(|&a| a >= floor && top - a <= MAX_TOTAL)
            .ok_or(err(i, What::NoRoom))?;
        let mut b = Blob {
            file: f,
            addr,
            zone,
            name_len: file.len(),
            ..empty
        };
        b.name[..file.len()].copy_from_slice(file);
        p.blobs[p.count] = b;
        p.count += 1;
        next = addr;
    }
    p.base = next & !0xFFF;
    if p.base < floor {
        return Err(Error {
            command: None,
            what: What::NoRoom,
        });
    }
    Ok(p)
}

/// A `WRITE_POINTER`: write the `len` low bytes of `value` (little-endian) at `offset` of the
/// fw_cfg file `file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteBack {
    pub file: File,
    pub offset: u32,
    pub value: u64,
    pub len: u8,
}

impl WriteBack {
    pub fn bytes(&self) -> [u8; 8] {
        self.value.to_le_bytes()
    }
}

/// The write-backs [`link`] found, for the stage to do.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteBacks {
    items: [Option<WriteBack>; MAX_WRITES],
}

impl WriteBacks {
    pub fn iter(&self) -> impl Iterator<Item = &WriteBack> {
        self.items.iter().flatten()
    }
}

fn pointer_size(size: u8) -> Result<usize, What> {
    match size {
        1 | 2 | 4 | 8 => Ok(usize::from(size)),
        s => Err(What::PointerSize(s)),
    }
}

/// Does `v` fit in `size` bytes?
fn fits(v: u64, size: usize) -> bool {
    size == 8 || v >> (8 * size) == 0
}

/// Runs the script's `ADD_POINTER`s and `ADD_CHECKSUM`s over `arena` (base..end of `plan`,
/// each blob loaded) and returns its `WRITE_POINTER`s, their fw_cfg files looked up with
/// `lookup`. On an error the arena is half-patched: do not use it.
pub fn link(
    script: &[u8],
    plan: &Plan,
    arena: &mut [u8],
    mut lookup: impl FnMut(&[u8]) -> Option<File>,
) -> Result<WriteBacks, Error> {
    if arena.len() != plan.len() {
        return Err(Error {
            command: None,
            what: What::Arena,
        });
    }
    let mut writes = WriteBacks::default();
    let mut n_writes = 0;
    for (i, e) in commands(script)? {
        let blob = |name: &[u8]| plan.find(name).copied().ok_or(err(i, What::UnknownFile));
        match decode(e).map_err(|w| err(i, w))? {
            Command::Allocate { .. } | Command::Other => {}
            Command::AddPointer {
                dest,
                src,
                offset,
                size,
            } => {
                let (dest, src) = (blob(dest)?, blob(src)?);
                let size = pointer_size(size).map_err(|w| err(i, w))?;
                let at = offset as usize;
                let bytes = plan
                    .bytes_mut(arena, &dest)
                    .get_mut(at..at.saturating_add(size))
                    .filter(|b| b.len() == size)
                    .ok_or(err(i, What::Bounds))?;
                let mut v = [0u8; 8];
                v[..size].copy_from_slice(bytes);
                let v = u64::from_le_bytes(v)
                    .checked_add(src.addr)
                    .filter(|&v| fits(v, size))
                    .ok_or(err(i, What::Overflow))?;
                bytes.copy_from_slice(&v.to_le_bytes()[..size]);
            }
            Command::AddChecksum {
                file,
                offset,
                start,
                length,
            } => {
                let b = plan.bytes_mut(arena, &blob(file)?);
                let (start, end) = (
                    start as usize,
                    (start as usize).saturating_add(length as usize),
                );
                if offset as usize >= b.len() || end > b.len() {
                    return Err(err(i, What::Bounds));
                }
                let sum = b[start..end].iter().fold(0u8, |s, &x| s.wrapping_add(x));
                b[offset as usize] = b[offset as usize].wrapping_sub(sum);
            }
            Command::WritePointer {
                dest,
                src,
                dst_offset,
                src_offset,
                size,
            } => {
                let src = blob(src)?;
                let size = pointer_size(size).map_err(|w| err(i, w))?;
                let file = lookup(dest).ok_or(err(i, What::UnknownFile))?;
                if u64::from(dst_offset) + size as u64 > u64::from(file.size)
                    || src_offset as usize >= src.len()
                {
                    return Err(err(i, What::Bounds));
                }
                let value = src.addr + u64::from(src_offset);
                if !fits(value, size) {
                    return Err(err(i, What::Overflow));
                }
                if n_writes == MAX_WRITES {
                    return Err(err(i, What::TooMany));
                }
                writes.items[n_writes] = Some(WriteBack {
                    file,
                    offset: dst_offset,
                    value,
                    len: size as u8,
                });
                n_writes += 1;
            }
        }
    }
    Ok(writes)
}

/// Entries an RSDT or XSDT may have for [`check`] (QEMU 7.2 lists 5 or 6), and signatures
/// [`Tables`] keeps.
pub const MAX_TABLES: usize = 32;

/// What [`check`] found: the RSDP's address and the tables' signatures.
#[derive(Debug, Clone, Copy)]
pub struct Tables {
    pub rsdp: u64,
    pub revision: u8,
    signatures: [[u8; 4]; MAX_TABLES],
    count: usize,
}

impl Tables {
    /// The signatures of the tables found, in the order met: the RSDT or XSDT, then each
    /// entry (and after the FADT its DSDT and FACS).
    pub fn signatures(&self) -> &[[u8; 4]] {
        &self.signatures[..self.count]
    }

    fn push(&mut self, sig: [u8; 4]) {
        if self.count < MAX_TABLES {
            self.signatures[self.count] = sig;
            self.count += 1;
        }
    }
}

fn sum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |s, &x| s.wrapping_add(x))
}

/// The bytes of the table at `addr`: inside one blob, header and all, `min` bytes at least.
/// With `checksum`, its bytes must sum to zero (the FACS has no checksum).
fn table<'a>(
    plan: &Plan,
    arena: &'a [u8],
    addr: u64,
    min: usize,
    checksum: bool,
) -> Result<&'a [u8], [u8; 4]> {
    let blob = plan
        .blobs()
        .iter()
        .find(|b| addr >= b.addr && addr < b.addr + b.len() as u64)
        .ok_or(*b"????")?;
    let b = &plan.bytes(arena, blob)[(addr - blob.addr) as usize..];
    let sig: [u8; 4] = b
        .get(..4)
        .and_then(|s| s.try_into().ok())
        .unwrap_or(*b"????");
    if b.len() < 8 {
        return Err(sig);
    }
    let len = u32_at(b, 4) as usize;
    if len < min || len > b.len() || (checksum && sum(&b[..len]) != 0) {
        return Err(sig);
    }
    Ok(&b[..len])
}

/// Checks what [`link`] made: the RSDP (signature, checksum, and for revision 2 its length
/// and extended checksum), the RSDT and the XSDT it points at, every table in them, and the
/// FADT's DSDT and FACS: inside the blobs, lengths sane, checksums zero.
pub fn check(plan: &Plan, arena: &[u8]) -> Result<Tables, Error> {
    let fail = |sig| Error {
        command: None,
        what: What::Table(sig),
    };
    if arena.len() != plan.len() {
        return Err(Error {
            command: None,
            what: What::Arena,
        });
    }
    let blob = plan.find(RSDP_FILE).ok_or(Error {
        command: None,
        what: What::NoRsdp,
    })?;
    let r = plan.bytes(arena, blob);
    const RSDP: [u8; 4] = *b"RSD ";
    if r.len() < 20 || &r[..8] != b"RSD PTR " || sum(&r[..20]) != 0 {
        return Err(fail(RSDP));
    }
    let mut t = Tables {
        rsdp: blob.addr,
        revision: r[15],
        signatures: [[0; 4]; MAX_TABLES],
        count: 0,
    };
    let mut roots = [(u64::from(u32_at(r, 16)), 4usize), (0, 8)];
    if t.revision >= 2 {
        if r.len() < 36 {
            return Err(fail(RSDP));
        }
        let len = u32_at(r, 20) as usize;
        if len < 36 || len > r.len() || sum(&r[..len]) != 0 {
            return Err(fail(RSDP));
        }
        roots[1].0 = u64::from_le_bytes(r[24..32].try_into().map_err(|_| fail(RSDP))?);
    }
    if roots.iter().all(|&(a, _)| a == 0) {
        return Err(fail(RSDP));
    }
    for (addr, width) in roots {
        if addr == 0 {
            continue;
        }
        let root = table(plan, arena, addr, 36, true).map_err(fail)?;
        let want: &[u8] = if width == 4 { b"RSDT" } else { b"XSDT" };
        // A root listing more than MAX_TABLES tables is refused: the walk stays short.
        if &root[..4] != want || (root.len() - 36) / width > MAX_TABLES {
            return Err(fail([root[0], root[1], root[2], root[3]]));
        }
        t.push([root[0], root[1], root[2], root[3]]);
        for entry in root[36..].chunks_exact(width) {
            let mut a = [0u8; 8];
            a[..width].copy_from_slice(entry);
            let a = u64::from_le_bytes(a);
            let tb = table(plan, arena, a, 36, true).map_err(fail)?;
            let sig = [tb[0], tb[1], tb[2], tb[3]];
            if width == 8 && t.signatures().contains(&sig) {
                continue; // the XSDT repeats what the RSDT listed
            }
            t.push(sig);
            if &sig == b"FACP" {
                // FIRMWARE_CTRL (FACS) at 36, DSDT at 40; the 64-bit X_ forms at 132, 140.
                let x = |at: usize| {
                    tb.get(at..at + 8)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_le_bytes)
                        .unwrap_or(0)
                };
                let facs = match x(132) {
                    0 => u64::from(u32_or_0(tb, 36)),
                    a => a,
                };
                let dsdt = match x(140) {
                    0 => u64::from(u32_or_0(tb, 40)),
                    a => a,
                };
                if dsdt != 0 {
                    let d = table(plan, arena, dsdt, 36, true).map_err(fail)?;
                    t.push([d[0], d[1], d[2], d[3]]);
                }
                if facs != 0 {
                    let f = table(plan, arena, facs, 64, false).map_err(fail)?;
                    if &f[..4] != b"FACS" {
                        return Err(fail([f[0], f[1], f[2], f[3]]));
                    }
                    t.push(*b"FACS");
                }
            }
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    /// A 256 MiB machine: RAM up to 0x10000000.
    const TOP: u64 = 256 * MIB;
    const FLOOR: u64 = 16 * MIB;

    /// A captured QEMU 7.2 set (`rom/tests/fixtures/capture.py`): the script, the RSDP and
    /// the tables (stored without the zero padding to 128 KiB).
    struct Fixture {
        script: &'static [u8],
        rsdp: &'static [u8],
        tables: Vec<u8>,
    }

    fn fixture(script: &'static [u8], rsdp: &'static [u8], tables: &[u8]) -> Fixture {
        let mut t = tables.to_vec();
        t.resize(128 << 10, 0);
        Fixture {
            script,
            rsdp,
            tables: t,
        }
    }

    fn pc() -> Fixture {
        fixture(
            include_bytes!("../tests/fixtures/qemu-7.2-pc/table-loader"),
            include_bytes!("../tests/fixtures/qemu-7.2-pc/rsdp"),
            include_bytes!("../tests/fixtures/qemu-7.2-pc/tables"),
        )
    }

    fn q35() -> Fixture {
        fixture(
            include_bytes!("../tests/fixtures/qemu-7.2-q35/table-loader"),
            include_bytes!("../tests/fixtures/qemu-7.2-q35/rsdp"),
            include_bytes!("../tests/fixtures/qemu-7.2-q35/tables"),
        )
    }

    /// The fw_cfg files: (name, select, contents).
    struct Cfg(Vec<(&'static [u8], u16, Vec<u8>)>);

    impl Cfg {
        fn of(f: &Fixture) -> Cfg {
            Cfg(vec![
                (b"etc/table-loader", 0x20, f.script.to_vec()),
                (b"etc/acpi/rsdp", 0x21, f.rsdp.to_vec()),
                (b"etc/acpi/tables", 0x22, f.tables.clone()),
            ])
        }

        fn lookup(&self) -> impl Fn(&[u8]) -> Option<File> + '_ {
            |name| {
                self.0
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .map(|(_, s, d)| File {
                        select: *s,
                        size: d.len() as u32,
                    })
            }
        }

        fn read(&self, file: File, out: &mut [u8]) {
            let (_, _, d) = self.0.iter().find(|(_, s, _)| *s == file.select).unwrap();
            out.copy_from_slice(d);
        }
    }

    /// Plan, load, link and check `script` over `cfg` on a 256 MiB machine: the plan, the
    /// arena, the write-backs and the check's verdict.
    fn run(script: &[u8], cfg: &Cfg) -> Result<(Plan, Vec<u8>, WriteBacks, Tables), Error> {
        let p = plan(script, cfg.lookup(), TOP, FLOOR)?;
        let mut arena = vec![0xAAu8; p.len()];
        p.load(&mut arena, |f, out| cfg.read(f, out))?;
        let w = link(script, &p, &mut arena, cfg.lookup())?;
        let t = check(&p, &arena)?;
        Ok((p, arena, w, t))
    }

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |s, &x| s.wrapping_add(x))
    }

    /// The table at `addr` in the arena, by its header's length.
    fn at(p: &Plan, arena: &[u8], addr: u64) -> Vec<u8> {
        let o = (addr - p.base()) as usize;
        let len = u32::from_le_bytes(arena[o + 4..o + 8].try_into().unwrap()) as usize;
        arena[o..o + len].to_vec()
    }

    #[test]
    fn qemu_pc_tables_link_and_every_checksum_verifies() {
        let f = pc();
        let cfg = Cfg::of(&f);
        let (p, arena, w, t) = run(f.script, &cfg).unwrap();
        // Top-down in script order: the RSDP (FSEG zone, align 16) under 256 MiB, the
        // 128 KiB of tables (align 64) under it, the arena from the 4 KiB page below.
        assert_eq!(p.blobs().len(), 2);
        assert_eq!(p.find(b"etc/acpi/rsdp").unwrap().addr, TOP - 0x20);
        assert_eq!(p.find(b"etc/acpi/rsdp").unwrap().zone, ZONE_FSEG);
        let tables = p.find(b"etc/acpi/tables").unwrap().addr;
        assert_eq!(tables, (TOP - 0x20 - (128 << 10)) & !63);
        assert_eq!(p.base(), tables & !0xFFF);
        assert_eq!((p.end(), p.len()), (TOP, 0x2_1000));
        assert_eq!(w.iter().count(), 0);
        assert_eq!(t.rsdp, TOP - 0x20);
        assert_eq!(t.revision, 0);
        let sigs: Vec<&[u8]> = t.signatures().iter().map(|s| &s[..]).collect();
        assert_eq!(
            sigs,
            [
                &b"RSDT"[..],
                b"FACP",
                b"DSDT",
                b"FACS",
                b"APIC",
                b"HPET",
                b"WAET"
            ]
        );
        // Independently of check(): the RSDP's checksum, its RSDT pointer, each table's.
        let r = &arena[(t.rsdp - p.base()) as usize..][..20];
        assert_eq!(&r[..8], b"RSD PTR ");
        assert_eq!(sum(r), 0);
        let rsdt_addr = u64::from(u32::from_le_bytes(r[16..20].try_into().unwrap()));
        let rsdt = at(&p, &arena, rsdt_addr);
        assert_eq!((&rsdt[..4], sum(&rsdt)), (&b"RSDT"[..], 0));
        for e in rsdt[36..].chunks_exact(4) {
            let tb = at(
                &p,
                &arena,
                u64::from(u32::from_le_bytes(e.try_into().unwrap())),
            );
            assert_eq!(sum(&tb), 0, "{:?}", &tb[..4]);
        }
    }

    #[test]
    fn qemu_q35_tables_carry_the_mcfg_of_the_pciexbar() {
        let f = q35();
        let cfg = Cfg::of(&f);
        let (p, arena, _, t) = run(f.script, &cfg).unwrap();
        let sigs: Vec<&[u8]> = t.signatures().iter().map(|s| &s[..]).collect();
        assert_eq!(
            sigs,
            [
                &b"RSDT"[..],
                b"FACP",
                b"DSDT",
                b"FACS",
                b"APIC",
                b"HPET",
                b"MCFG",
                b"WAET"
            ]
        );
        let r = &arena[(t.rsdp - p.base()) as usize..][..20];
        let rsdt = at(
            &p,
            &arena,
            u64::from(u32::from_le_bytes(r[16..20].try_into().unwrap())),
        );
        let mcfg = rsdt[36..]
            .chunks_exact(4)
            .map(|e| {
                at(
                    &p,
                    &arena,
                    u64::from(u32::from_le_bytes(e.try_into().unwrap())),
                )
            })
            .find(|tb| &tb[..4] == b"MCFG")
            .unwrap();
        // One allocation: base address, segment 0, buses 0-255.
        assert_eq!(
            u64::from_le_bytes(mcfg[44..52].try_into().unwrap()),
            crate::chipset::MMCONFIG_BASE
        );
        assert_eq!(&mcfg[52..56], &[0, 0, 0, 255]);
        // The FADT (revision 3) reaches its DSDT by the 64-bit X_DSDT, relocated too.
        let fadt = rsdt[36..]
            .chunks_exact(4)
            .map(|e| {
                at(
                    &p,
                    &arena,
                    u64::from(u32::from_le_bytes(e.try_into().unwrap())),
                )
            })
            .find(|tb| &tb[..4] == b"FACP")
            .unwrap();
        let x_dsdt = u64::from_le_bytes(fadt[140..148].try_into().unwrap());
        assert_eq!(&at(&p, &arena, x_dsdt)[..4], b"DSDT");
        // The PM blocks are at the base the ROM programs (PM1a_EVT_BLK at 56).
        assert_eq!(
            u32::from_le_bytes(fadt[56..60].try_into().unwrap()),
            u32::from(crate::chipset::PM_BASE)
        );
    }

    // Synthetic scripts.

    fn entry(cmd: u32) -> [u8; ENTRY_LEN] {
        let mut e = [0u8; ENTRY_LEN];
        e[..4].copy_from_slice(&cmd.to_le_bytes());
        e
    }

    fn put_name(e: &mut [u8], at: usize, name: &[u8]) {
        e[at..at + name.len()].copy_from_slice(name);
    }

    fn alloc(name: &[u8], align: u32, zone: u8) -> [u8; ENTRY_LEN] {
        let mut e = entry(ALLOCATE);
        put_name(&mut e, 4, name);
        e[60..64].copy_from_slice(&align.to_le_bytes());
        e[64] = zone;
        e
    }

    fn ptr(dest: &[u8], src: &[u8], offset: u32, size: u8) -> [u8; ENTRY_LEN] {
        let mut e = entry(ADD_POINTER);
        put_name(&mut e, 4, dest);
        put_name(&mut e, 60, src);
        e[116..120].copy_from_slice(&offset.to_le_bytes());
        e[120] = size;
        e
    }

    fn cksum(file: &[u8], offset: u32, start: u32, len: u32) -> [u8; ENTRY_LEN] {
        let mut e = entry(ADD_CHECKSUM);
        put_name(&mut e, 4, file);
        e[60..64].copy_from_slice(&offset.to_le_bytes());
        e[64..68].copy_from_slice(&start.to_le_bytes());
        e[68..72].copy_from_slice(&len.to_le_bytes());
        e
    }

    fn wptr(dest: &[u8], src: &[u8], dst_off: u32, src_off: u32, size: u8) -> [u8; ENTRY_LEN] {
        let mut e = entry(WRITE_POINTER);
        put_name(&mut e, 4, dest);
        put_name(&mut e, 60, src);
        e[116..120].copy_from_slice(&dst_off.to_le_bytes());
        e[120..124].copy_from_slice(&src_off.to_le_bytes());
        e[124] = size;
        e
    }

    fn script(entries: &[[u8; ENTRY_LEN]]) -> Vec<u8> {
        entries.concat()
    }

    /// A minimal ACPI set of two blobs: an RSDP (revision 2) pointing at an RSDT and an XSDT
    /// in `etc/acpi/tables`, each listing one "TEST" table; a vmgenid-like third blob whose
    /// address goes back to fw_cfg `etc/vmgenid_addr`.
    fn minimal() -> (Vec<u8>, Cfg) {
        let mut rsdp = vec![0u8; 36];
        rsdp[..8].copy_from_slice(b"RSD PTR ");
        rsdp[15] = 2;
        rsdp[16..20].copy_from_slice(&0u32.to_le_bytes()); // RSDT at tables + 0
        rsdp[20..24].copy_from_slice(&36u32.to_le_bytes());
        rsdp[24..32].copy_from_slice(&64u64.to_le_bytes()); // XSDT at tables + 64
        let mut tables = vec![0u8; 256];
        let header = |t: &mut [u8], sig: &[u8; 4], len: u32| {
            t[..4].copy_from_slice(sig);
            t[4..8].copy_from_slice(&len.to_le_bytes());
        };
        header(&mut tables[0..], b"RSDT", 40);
        tables[36..40].copy_from_slice(&128u32.to_le_bytes());
        header(&mut tables[64..], b"XSDT", 44);
        tables[100..108].copy_from_slice(&128u64.to_le_bytes());
        header(&mut tables[128..], b"TEST", 36);
        let s = script(&[
            alloc(b"etc/acpi/rsdp", 16, ZONE_FSEG),
            alloc(b"etc/acpi/tables", 64, ZONE_HIGH),
            alloc(b"etc/vmgenid_guid", 4096, ZONE_HIGH),
            cksum(b"etc/acpi/tables", 128 + 9, 128, 36),
            ptr(b"etc/acpi/tables", b"etc/acpi/tables", 36, 4),
            ptr(b"etc/acpi/tables", b"etc/acpi/tables", 100, 8),
            cksum(b"etc/acpi/tables", 9, 0, 40),
            cksum(b"etc/acpi/tables", 64 + 9, 64, 44),
            ptr(b"etc/acpi/rsdp", b"etc/acpi/tables", 16, 4),
            ptr(b"etc/acpi/rsdp", b"etc/acpi/tables", 24, 8),
            cksum(b"etc/acpi/rsdp", 8, 0, 20),
            cksum(b"etc/acpi/rsdp", 32, 0, 36),
            wptr(b"etc/vmgenid_addr", b"etc/vmgenid_guid", 0, 40, 8),
            entry(0),
            entry(0x7777), // unknown: skipped
        ]);
        let cfg = Cfg(vec![
            (b"etc/acpi/rsdp", 1, rsdp),
            (b"etc/acpi/tables", 2, tables),
            (b"etc/vmgenid_guid", 3, vec![0x5A; 4096]),
            (b"etc/vmgenid_addr", 4, vec![0; 8]),
        ]);
        (s, cfg)
    }

    #[test]
    fn a_revision_2_rsdp_with_an_xsdt_and_a_write_back() {
        let (s, cfg) = minimal();
        let (p, _, w, t) = run(&s, &cfg).unwrap();
        assert_eq!(t.revision, 2);
        let sigs: Vec<&[u8]> = t.signatures().iter().map(|s| &s[..]).collect();
        assert_eq!(sigs, [&b"RSDT"[..], b"TEST", b"XSDT"]);
        let guid = p.find(b"etc/vmgenid_guid").unwrap();
        assert_eq!(guid.addr % 4096, 0);
        let w: Vec<_> = w.iter().copied().collect();
        assert_eq!(
            w,
            [WriteBack {
                file: File { select: 4, size: 8 },
                offset: 0,
                value: guid.addr + 40,
                len: 8
            }]
        );
        // The blobs do not overlap and lie in base..end.
        let mut spans: Vec<_> = p
            .blobs()
            .iter()
            .map(|b| (b.addr, b.addr + b.len() as u64))
            .collect();
        spans.sort();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0));
        assert!(spans[0].0 >= p.base() && spans.last().unwrap().1 <= p.end());
    }

    /// The error of `run` for a script changed by `f` from the minimal one.
    fn error_of(f: impl FnOnce(&mut Vec<[u8; ENTRY_LEN]>, &mut Cfg)) -> Error {
        let (s, mut cfg) = minimal();
        let mut entries: Vec<[u8; ENTRY_LEN]> = s
            .chunks_exact(ENTRY_LEN)
            .map(|c| c.try_into().unwrap())
            .collect();
        f(&mut entries, &mut cfg);
        let s = entries.concat();
        let e = run(&s, &cfg)
            .map(|(_, _, _, t)| t)
            .expect_err("the script should be refused");
        // One line, and it says what.
        let text = e.to_string();
        assert!(
            !text.contains('\n') && text.starts_with("etc/table-loader"),
            "{text}"
        );
        e
    }

    #[test]
    fn hostile_names_files_and_sizes_are_refused() {
        // A name filling its 56 bytes, no NUL.
        let e = error_of(|s, _| s[3][4..60].fill(b'x'));
        assert_eq!(e, err(3, What::Name));
        let e = error_of(|s, _| s[4][60..116].fill(b'y'));
        assert_eq!(e, err(4, What::Name));
        let e = error_of(|s, _| s[0][4..60].fill(0));
        assert_eq!(e, err(0, What::Name));
        // A pointer into or out of a file nobody allocated.
        let e = error_of(|s, _| s[4] = ptr(b"etc/acpi/tables", b"etc/nope", 36, 4));
        assert_eq!(e, err(4, What::UnknownFile));
        let e = error_of(|s, _| s[3] = cksum(b"etc/nope", 0, 0, 1));
        assert_eq!(e, err(3, What::UnknownFile));
        let e = error_of(|s, _| s[12] = wptr(b"etc/nope", b"etc/vmgenid_guid", 0, 0, 8));
        assert_eq!(e, err(12, What::UnknownFile));
        // ALLOCATE of a file fw_cfg lacks, or that is empty; twice the same.
        let e = error_of(|s, _| s[2] = alloc(b"etc/absent", 64, ZONE_HIGH));
        assert_eq!(e, err(2, What::NoSuchFile));
        let e = error_of(|_, c| c.0[2].2.clear());
        assert_eq!(e, err(2, What::NoSuchFile));
        let e = error_of(|s, _| s[2] = alloc(b"etc/acpi/tables", 64, ZONE_HIGH));
        assert_eq!(e, err(2, What::Duplicate));
        // Pointer sizes other than 1, 2, 4, 8.
        for size in [0u8, 3, 5, 6, 7, 9, 16, 255] {
            let e = error_of(|s, _| s[4] = ptr(b"etc/acpi/tables", b"etc/acpi/tables", 36, size));
            assert_eq!(e, err(4, What::PointerSize(size)));
            let e =
                error_of(|s, _| s[12] = wptr(b"etc/vmgenid_addr", b"etc/vmgenid_guid", 0, 0, size));
            assert_eq!(e, err(12, What::PointerSize(size)));
        }
        // Zones other than 1 and 2.
        let e = error_of(|s, _| s[1][64] = 3);
        assert_eq!(e, err(1, What::Zone(3)));
    }

    #[test]
    fn hostile_offsets_and_lengths_are_refused() {
        let t = b"etc/acpi/tables";
        for (i, c) in [
            (4, ptr(t, t, 253, 4)), // 253 + 4 > 256
            (4, ptr(t, t, 256, 1)),
            (4, ptr(t, t, u32::MAX, 8)), // offset + size overflows 32 bits
            (3, cksum(t, 256, 0, 1)),    // result byte beyond the file
            (3, cksum(t, 0, 200, 57)),   // range beyond it
            (3, cksum(t, 0, u32::MAX, 2)), // start + length overflows 32 bits
            (3, cksum(t, 0, 1, u32::MAX)),
            (12, wptr(b"etc/vmgenid_addr", b"etc/vmgenid_guid", 1, 0, 8)), // 1 + 8 > 8
            (
                12,
                wptr(b"etc/vmgenid_addr", b"etc/vmgenid_guid", u32::MAX, 0, 8),
            ),
            (
                12,
                wptr(b"etc/vmgenid_addr", b"etc/vmgenid_guid", 0, 4096, 8),
            ),
        ] {
            let e = error_of(|s, _| s[i] = c);
            assert_eq!(e, err(i, What::Bounds), "{c:?}");
        }
        // A relocated pointer that no longer fits: 1- and 2-byte pointers to RAM near 256 MiB,
        // and a 4-byte one holding a large offset.
        for size in [1u8, 2] {
            let e = error_of(|s, _| s[4] = ptr(t, t, 36, size));
            assert_eq!(e, err(4, What::Overflow));
        }
        let e = error_of(|s, c| {
            c.0[1].2[36..40].copy_from_slice(&0xFFFF_0000u32.to_le_bytes());
            let _ = s;
        });
        assert_eq!(e, err(4, What::Overflow));
        let e = error_of(|s, _| s[12] = wptr(b"etc/vmgenid_addr", b"etc/vmgenid_guid", 0, 0, 2));
        assert_eq!(e, err(12, What::Overflow));
    }

    #[test]
    fn hostile_alignments_counts_and_lengths_are_refused() {
        for align in [3u32, 65, 0x2_0000, 0x8000_0000, u32::MAX] {
            let e = error_of(|s, _| s[2] = alloc(b"etc/vmgenid_guid", align, ZONE_HIGH));
            assert_eq!(e, err(2, What::Align(align)));
        }
        // Alignment 0 and 1 are taken as the minimum.
        let (s, cfg) = minimal();
        let mut s = s;
        s[2 * ENTRY_LEN..3 * ENTRY_LEN].copy_from_slice(&alloc(b"etc/vmgenid_guid", 0, ZONE_HIGH));
        assert!(run(&s, &cfg).is_ok());
        // Too many files.
        let e = error_of(|s, c| {
            for n in 0..MAX_FILES {
                let name: &'static [u8] =
                    Box::leak(format!("f{n}").into_bytes().into_boxed_slice());
                c.0.push((name, 100 + n as u16, vec![1]));
                s.insert(0, alloc(name, 16, ZONE_HIGH));
            }
        });
        assert_eq!(e, err(MAX_FILES, What::TooMany));
        // Too many write-backs.
        let e = error_of(|s, _| {
            for _ in 0..MAX_WRITES {
                s.push(wptr(b"etc/vmgenid_addr", b"etc/vmgenid_guid", 0, 0, 8));
            }
        });
        assert_eq!(e.what, What::TooMany);
        // Blobs too big for the RAM or for the limit.
        let e = error_of(|_, c| c.0[2].2 = vec![0; (MAX_TOTAL) as usize]);
        assert_eq!(e, err(2, What::NoRoom));
        let (s, cfg) = minimal();
        let e = plan(&s, cfg.lookup(), 16 * MIB + 4096, 16 * MIB).unwrap_err();
        assert_eq!(e, err(2, What::NoRoom));
        let e = plan(&s, cfg.lookup(), 64, 0).unwrap_err();
        assert_eq!(e, err(0, What::NoRoom));
        // A torn script.
        let mut s = s;
        s.push(0);
        let e = plan(&s, cfg.lookup(), TOP, FLOOR).unwrap_err();
        assert_eq!(e.what, What::Length(s.len()));
        assert!(e.to_string().contains("not a whole number"));
    }

    #[test]
    fn broken_tables_fail_the_check() {
        // No RSDP blob at all.
        let e = error_of(|s, c| {
            s[0] = alloc(b"etc/other", 16, ZONE_FSEG);
            c.0.push((b"etc/other", 9, vec![0; 36]));
            s.retain(|e| e[4..17] != *b"etc/acpi/rsdp");
        });
        assert_eq!(e.what, What::NoRsdp);
        // A checksum command left out: the RSDT's sum is no longer zero.
        let e = error_of(|s, _| s[6] = entry(0));
        assert_eq!(e.what, What::Table(*b"RSDT"));
        // The extended checksum left out.
        let e = error_of(|s, _| s[11] = entry(0));
        assert_eq!(e.what, What::Table(*b"RSD "));
        // A table entry pointing outside every blob (not relocated).
        let e = error_of(|s, _| s[4] = entry(0));
        assert_eq!(e.what, What::Table(*b"????"));
        // A table whose length runs past its blob.
        let e = error_of(|_, c| c.0[1].2[132..136].copy_from_slice(&200u32.to_le_bytes()));
        assert_eq!(e.what, What::Table(*b"TEST"));
        assert!(e.to_string().contains("table TEST"));
    }

    /// An RSDP (revision 0) and an RSDT of `n` entries, each pointing at one TEST table.
    fn rsdt_of(n: usize) -> (Vec<u8>, Cfg) {
        let mut rsdp = vec![0u8; 20];
        rsdp[..8].copy_from_slice(b"RSD PTR ");
        let test_at = 64u32;
        let rsdt_len = 36 + 4 * n;
        let mut tables = vec![0u8; test_at as usize + 36 + rsdt_len];
        tables[..4].copy_from_slice(b"TEST");
        tables[4..8].copy_from_slice(&36u32.to_le_bytes());
        let r = test_at as usize + 36;
        tables[r..r + 4].copy_from_slice(b"RSDT");
        tables[r + 4..r + 8].copy_from_slice(&(rsdt_len as u32).to_le_bytes());
        rsdp[16..20].copy_from_slice(&(r as u32).to_le_bytes());
        let t: &[u8] = b"etc/acpi/tables";
        let mut s = vec![
            alloc(b"etc/acpi/rsdp", 16, ZONE_FSEG),
            alloc(t, 64, ZONE_HIGH),
            cksum(t, 9, 0, 36),
        ];
        for i in 0..n {
            s.push(ptr(t, t, (r + 36 + 4 * i) as u32, 4));
        }
        s.push(cksum(t, r as u32 + 9, r as u32, rsdt_len as u32));
        s.push(ptr(b"etc/acpi/rsdp", t, 16, 4));
        s.push(cksum(b"etc/acpi/rsdp", 8, 0, 20));
        let cfg = Cfg(vec![(b"etc/acpi/rsdp", 1, rsdp), (t, 2, tables)]);
        (script(&s), cfg)
    }

    #[test]
    fn a_root_table_of_more_than_max_tables_entries_is_refused() {
        let (s, cfg) = rsdt_of(MAX_TABLES);
        let (_, _, _, t) = run(&s, &cfg).unwrap();
        assert_eq!(t.signatures().len(), MAX_TABLES);
        let (s, cfg) = rsdt_of(MAX_TABLES + 1);
        let e = run(&s, &cfg).map(|(_, _, _, t)| t).unwrap_err();
        assert_eq!(e.what, What::Table(*b"RSDT"));
    }

    #[test]
    fn the_arena_must_be_the_plans() {
        let (s, cfg) = minimal();
        let p = plan(&s, cfg.lookup(), TOP, FLOOR).unwrap();
        let mut short = vec![0u8; p.len() - 1];
        assert_eq!(p.load(&mut short, |_, _| {}).unwrap_err().what, What::Arena);
        assert_eq!(
            link(&s, &p, &mut short, cfg.lookup()).unwrap_err().what,
            What::Arena
        );
        assert_eq!(check(&p, &short).unwrap_err().what, What::Arena);
    }

    /// xorshift64*: a deterministic stream for the mutation test.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    /// Random damage to real scripts (bytes, whole fields, command words, swapped
    /// commands) never panics, never lets `link` write outside the blobs (the gaps of the
    /// arena stay as `load` left them), and whatever `check` accepts verifies.
    #[test]
    fn mutated_scripts_never_panic_nor_write_outside_the_blobs() {
        let mut rng = Rng(0x1234_5678_9ABC_DEF1);
        let sets = [pc(), q35()];
        for round in 0..1500 {
            let f = &sets[round % 2];
            let cfg = Cfg::of(f);
            let mut s = f.script.to_vec();
            for _ in 0..1 + rng.next() % 4 {
                let cmd = (rng.next() % 20) as usize * ENTRY_LEN;
                let r = rng.next();
                match r % 5 {
                    0 => s[cmd + (r >> 8) as usize % ENTRY_LEN] = (r >> 32) as u8,
                    1 => s[cmd] = (r >> 8) as u8 % 6,
                    2 => {
                        let at = cmd + [60, 64, 68, 116, 120][(r >> 8) as usize % 5];
                        let v =
                            [0u32, 1, 0xFF, 0x1_0000, 0x2_0000, u32::MAX][(r >> 16) as usize % 6];
                        s[at..at + 4].copy_from_slice(&v.to_le_bytes());
                    }
                    3 => {
                        let other = (rng.next() % 20) as usize * ENTRY_LEN;
                        let (a, b) = (cmd.min(other), cmd.max(other));
                        if a != b {
                            let (x, y) = s.split_at_mut(b);
                            x[a..a + ENTRY_LEN].swap_with_slice(&mut y[..ENTRY_LEN]);
                        }
                    }
                    _ => s[cmd + 120] = (r >> 8) as u8,
                }
            }
            let Ok(p) = plan(&s, cfg.lookup(), TOP, FLOOR) else {
                continue;
            };
            let mut arena = vec![0u8; p.len()];
            p.load(&mut arena, |f, out| cfg.read(f, out)).unwrap();
            let mut gaps = vec![true; arena.len()];
            for b in p.blobs() {
                let o = (b.addr - p.base()) as usize;
                gaps[o..o + b.len()].fill(false);
            }
            if link(&s, &p, &mut arena, cfg.lookup()).is_err() {
                continue;
            }
            assert!(arena.iter().zip(&gaps).all(|(&a, &g)| !g || a == 0));
            if let Ok(t) = check(&p, &arena) {
                let r = &arena[(t.rsdp - p.base()) as usize..][..20];
                assert_eq!(sum(r), 0);
            }
        }
    }
}
