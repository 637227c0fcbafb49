//! The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry: read a
//! bzImage's setup header, decide where the kernel, initrd, command line and zero page go
//! in RAM, and fill the zero page (`struct boot_params`) with the E820 map.
//!
//! Pure: the caller copies the bytes to the planned addresses and makes the jump (an
//! `unsafe fn` in hal). Protocol facts used (boot.rst, "THE REAL-MODE KERNEL HEADER"):
//! - the setup is `setup_sects + 1` sectors (0 means 4); the protected-mode kernel follows;
//! - protocol ≥ 2.12 with `XLF_KERNEL_64` has a 64-bit entry at load address + 0x200,
//!   entered in long mode with an identity map, `rsi` = zero page, flat `__BOOT_CS` 0x10 /
//!   `__BOOT_DS` 0x18, interrupts off;
//! - the kernel needs `init_size` bytes from its load address; a relocatable one may sit
//!   at any `kernel_alignment` multiple, else only at `pref_address`.
use core::fmt;

use crate::image::{LinuxError, Version};
use crate::ram::RamRegion;

/// Byte offsets in the bzImage (and the same offsets in the zero page).
mod field {
    pub const SETUP_SECTS: usize = 0x1F1;
    pub const VID_MODE: usize = 0x1FA;
    pub const BOOT_FLAG: usize = 0x1FE;
    pub const JUMP: usize = 0x200;
    pub const HEADER: usize = 0x202;
    pub const VERSION: usize = 0x206;
    pub const TYPE_OF_LOADER: usize = 0x210;
    pub const CODE32_START: usize = 0x214;
    pub const RAMDISK_IMAGE: usize = 0x218;
    pub const RAMDISK_SIZE: usize = 0x21C;
    pub const CMD_LINE_PTR: usize = 0x228;
    pub const INITRD_ADDR_MAX: usize = 0x22C;
    pub const KERNEL_ALIGNMENT: usize = 0x230;
    pub const RELOCATABLE_KERNEL: usize = 0x234;
    pub const XLOADFLAGS: usize = 0x236;
    pub const CMDLINE_SIZE: usize = 0x238;
    pub const PREF_ADDRESS: usize = 0x258;
    pub const INIT_SIZE: usize = 0x260;
    /// Zero page only: `ext_ramdisk_image`, `ext_ramdisk_size`, `ext_cmd_line_ptr`.
    pub const EXT_RAMDISK_IMAGE: usize = 0x0C0;
    pub const EXT_RAMDISK_SIZE: usize = 0x0C4;
    pub const EXT_CMD_LINE_PTR: usize = 0x0C8;
    /// Zero page only: `e820_entries` (u8) and `e820_table` (20-byte entries, at most 128).
    pub const E820_ENTRIES: usize = 0x1E8;
    pub const E820_TABLE: usize = 0x2D0;
    /// Zero page only (protocol 2.14): `acpi_rsdp_addr`, u64.
    pub const ACPI_RSDP_ADDR: usize = 0x070;
}

/// `XLF_KERNEL_64`: the kernel has the 64-bit entry at load address + 0x200.
const XLF_KERNEL_64: u16 = 1 << 0;
/// Protocol 2.12: the first with `xloadflags`.
const MIN_VERSION: u16 = 0x020C;
/// E820 entries the zero page holds.
const E820_MAX: usize = 128;
/// Size of `struct boot_params`.
pub const ZERO_PAGE_LEN: usize = 4096;
/// Where the zero page and then the command line go: conventional memory below the EBDA,
/// which nothing of ours uses once the firmware runs.
pub const ZERO_PAGE_ADDR: u64 = 0x9_0000;
pub const CMDLINE_ADDR: u64 = ZERO_PAGE_ADDR + ZERO_PAGE_LEN as u64;
/// The command line area ends here (a page below the usual EBDA start 0x9FC00).
pub const CMDLINE_END: u64 = 0x9_F000;
/// Offset of the 64-bit entry from the load address.
pub const ENTRY_64_OFFSET: u64 = 0x200;
const PAGE: u64 = 4096;
/// Nothing of the kernel or initrd goes below this (BIOS data, the firmware itself).
const LOW_LIMIT: u64 = 0x10_0000;

/// The command line a kernel gets: the image's own, then `lifeboat.slot=<A|B>` (`slot`, the
/// slot's letter) and
/// `lifeboat.version=<M.m(n)>` (what booted, for `lifeboat-ctl status`), then
/// `lifeboat.confirm=0x<token>`, the token its userland hands back to confirm the boot (CMOS
/// 0x7B = 0xC5, 0x7C..0x7F = the token, little-endian; see `hal::cmos`).
pub fn command_line(
    image_cmdline: &str,
    token: u32,
    slot: char,
    version: Version,
) -> heapless::String<{ crate::image::CMDLINE_MAX + CONFIRM_ARG_LEN }> {
    let mut s = heapless::String::new();
    // Fits by construction: CMDLINE_MAX + the arguments' longest length.
    let _ = s.push_str(image_cmdline);
    if !image_cmdline.is_empty() {
        let _ = s.push(' ');
    }
    let _ = fmt::write(
        &mut s,
        format_args!(
            "lifeboat.slot={slot} lifeboat.version={version} lifeboat.confirm={token:#010x}"
        ),
    );
    s
}

/// Bytes [`command_line`] adds at most: a space, `lifeboat.slot=A`, the longest
/// `lifeboat.version=`, `lifeboat.confirm=0x12345678`.
pub const CONFIRM_ARG_LEN: usize = 1
    + "lifeboat.slot=A ".len()
    + "lifeboat.version=255.255(65535) ".len()
    + "lifeboat.confirm=0x12345678".len();

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | u64::from(u32_at(b, at + 4)) << 32
}

/// What the setup header of a bzImage says, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    /// Bytes of the real-mode part (boot sector + setup); the protected-mode kernel follows.
    pub setup_len: usize,
    /// Bytes of the protected-mode kernel (file length − `setup_len`).
    pub kernel_len: usize,
    pub version: u16,
    pub relocatable: bool,
    pub kernel_alignment: u64,
    pub pref_address: u64,
    /// Bytes the kernel needs from its load address while it decompresses and runs.
    pub init_size: u64,
    /// Longest command line, without its NUL.
    pub cmdline_max: usize,
    /// Highest address an initrd byte may have.
    pub initrd_addr_max: u64,
    /// End of the setup header (what is copied into the zero page).
    header_end: usize,
}

impl Kernel {
    /// Checks the header of the bzImage `file` (the whole file, so the lengths can be checked).
    pub fn parse(file: &[u8]) -> Result<Kernel, LinuxError> {
        if file.len() < field::INIT_SIZE + 4 {
            return Err(LinuxError::Truncated);
        }
        if u16_at(file, field::BOOT_FLAG) != 0xAA55 {
            return Err(LinuxError::NoBootFlag);
        }
        if &file[field::HEADER..field::HEADER + 4] != b"HdrS" {
            return Err(LinuxError::NotBzImage);
        }
        let version = u16_at(file, field::VERSION);
        if version < MIN_VERSION {
            return Err(LinuxError::TooOld { version });
        }
        if u16_at(file, field::XLOADFLAGS) & XLF_KERNEL_64 == 0 {
            return Err(LinuxError::No64BitEntry);
        }
        let sects = match file[field::SETUP_SECTS] {
            0 => 4,
            n => usize::from(n),
        };
        let setup_len = (sects + 1) * 512;
        // The header runs from 0x1F1 to the target of the 2-byte jump at 0x200.
        let header_end = (field::JUMP + 2 + usize::from(file[field::JUMP + 1])).min(0x280);
        if file.len() <= setup_len || header_end > setup_len {
            return Err(LinuxError::Truncated);
        }
        // The fields read here (up to `init_size`) must be inside the header that the zero
        // page receives, or the kernel would see a different header than was planned for.
        if header_end < field::INIT_SIZE + 4 {
            return Err(LinuxError::ShortHeader { end: header_end });
        }
        // The entry is at +0x200: a kernel of no more bytes would be entered past its end.
        if file.len() - setup_len <= ENTRY_64_OFFSET as usize {
            return Err(LinuxError::NoEntryInKernel {
                len: file.len() - setup_len,
            });
        }
        let kernel_alignment = u64::from(u32_at(file, field::KERNEL_ALIGNMENT));
        Ok(Kernel {
            setup_len,
            kernel_len: file.len() - setup_len,
            version,
            relocatable: file[field::RELOCATABLE_KERNEL] != 0,
            // A zero or non-power-of-two alignment is nonsense: take 2 MiB, the x86-64 norm.
            kernel_alignment: if kernel_alignment.is_power_of_two() {
                kernel_alignment
            } else {
                0x20_0000
            },
            pref_address: u64_at(file, field::PREF_ADDRESS),
            init_size: u64::from(u32_at(file, field::INIT_SIZE)),
            cmdline_max: u32_at(file, field::CMDLINE_SIZE) as usize,
            initrd_addr_max: u64::from(u32_at(file, field::INITRD_ADDR_MAX)),
            header_end,
        })
    }
}

/// Where everything goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The protected-mode kernel is copied here.
    pub kernel_addr: u64,
    /// Jump here (`kernel_addr + 0x200`) with `rsi = params_addr`.
    pub entry: u64,
    /// The initrd is copied here (0 when there is none).
    pub initrd_addr: u64,
    pub initrd_len: u64,
    pub params_addr: u64,
    pub cmdline_addr: u64,
}

fn align_up(v: u64, a: u64) -> Option<u64> {
    v.checked_add(a - 1).map(|x| x & !(a - 1))
}

fn overlaps(a: u64, a_len: u64, b: u64, b_len: u64) -> bool {
    a < b.saturating_add(b_len) && b < a.saturating_add(a_len)
}

fn inside(ram: &[RamRegion], base: u64, len: u64) -> bool {
    ram.iter()
        .any(|r| base >= r.base && base.saturating_add(len) <= r.base.saturating_add(r.len))
}

/// Places the kernel (needing `init_size` bytes) and an initrd of `initrd_len` bytes in the
/// usable RAM `ram`, away from `avoid` (regions still in use while copying, e.g. the
/// firmware). The kernel goes to `pref_address` when that fits, else (relocatable kernels)
/// to the lowest aligned place that does; the initrd as high as allowed, page-aligned.
pub fn plan(
    k: &Kernel,
    initrd_len: u64,
    cmdline_len: usize,
    ram: &[RamRegion],
    avoid: &[RamRegion],
) -> Result<Plan, LinuxError> {
    let max = k.cmdline_max.min((CMDLINE_END - CMDLINE_ADDR) as usize - 1);
    if cmdline_len > max {
        return Err(LinuxError::CmdlineTooLong {
            len: cmdline_len,
            max,
        });
    }
    // The zero page and the command line go to conventional memory, which must be usable
    // RAM on this unit (E820), not just assumed to be.
    if !inside(ram, ZERO_PAGE_ADDR, CMDLINE_END - ZERO_PAGE_ADDR) {
        return Err(LinuxError::NoRoom {
            what: "zero page and command line",
            bytes: CMDLINE_END - ZERO_PAGE_ADDR,
        });
    }
    let need = k.init_size.max(k.kernel_len as u64);
    let free = |base: u64, len: u64, extra: &[(u64, u64)]| {
        base >= LOW_LIMIT
            && inside(ram, base, len)
            && !avoid.iter().any(|r| overlaps(base, len, r.base, r.len))
            && !extra.iter().any(|&(b, l)| overlaps(base, len, b, l))
    };
    let mut kernel_addr = None;
    if free(k.pref_address, need, &[]) {
        kernel_addr = Some(k.pref_address);
    } else if k.relocatable {
        // Candidates: each region's start and each avoided region's end, aligned up.
        let starts = ram
            .iter()
            .map(|r| r.base)
            .chain(avoid.iter().map(|r| r.base.saturating_add(r.len)));
        kernel_addr = starts
            .filter_map(|s| align_up(s.max(LOW_LIMIT), k.kernel_alignment))
            .filter(|&a| free(a, need, &[]))
            .min();
    }
    let kernel_addr = kernel_addr.ok_or(LinuxError::NoRoom {
        what: "kernel",
        bytes: need,
    })?;
    let kernel = [(kernel_addr, need)];
    let mut initrd_addr = 0;
    if initrd_len > 0 {
        let limit = k.initrd_addr_max.saturating_add(1);
        // Candidates: just below each region's end and just below each obstacle's start.
        let ends = ram
            .iter()
            .map(|r| r.base.saturating_add(r.len))
            .chain(avoid.iter().map(|r| r.base))
            .chain(core::iter::once(kernel_addr))
            .chain(core::iter::once(limit));
        initrd_addr = ends
            .filter_map(|e| e.min(limit).checked_sub(initrd_len))
            .map(|a| a & !(PAGE - 1))
            .filter(|&a| free(a, initrd_len, &kernel))
            .max()
            .ok_or(LinuxError::NoRoom {
                what: "initrd",
                bytes: initrd_len,
            })?;
    }
    Ok(Plan {
        kernel_addr,
        entry: kernel_addr + ENTRY_64_OFFSET,
        initrd_addr,
        initrd_len,
        params_addr: ZERO_PAGE_ADDR,
        cmdline_addr: CMDLINE_ADDR,
    })
}

/// Fills the zero page: the kernel's setup header (from `file`), our loader id, the command
/// line and initrd pointers of `plan`, and the E820 map (`e820`: base, length, type).
pub fn zero_page(
    file: &[u8],
    k: &Kernel,
    plan: &Plan,
    e820: &[(u64, u64, u32)],
    out: &mut [u8; ZERO_PAGE_LEN],
) {
    out.fill(0);
    out[field::SETUP_SECTS..k.header_end].copy_from_slice(&file[field::SETUP_SECTS..k.header_end]);
    out[field::VID_MODE..field::VID_MODE + 2].copy_from_slice(&0xFFFFu16.to_le_bytes());
    out[field::TYPE_OF_LOADER] = 0xFF; // "undefined" boot loader id
    let put32 = |o: &mut [u8; ZERO_PAGE_LEN], at: usize, v: u64| {
        o[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes())
    };
    put32(out, field::CODE32_START, plan.kernel_addr);
    put32(out, field::CMD_LINE_PTR, plan.cmdline_addr);
    put32(out, field::EXT_CMD_LINE_PTR, plan.cmdline_addr >> 32);
    put32(out, field::RAMDISK_IMAGE, plan.initrd_addr);
    put32(out, field::EXT_RAMDISK_IMAGE, plan.initrd_addr >> 32);
    put32(out, field::RAMDISK_SIZE, plan.initrd_len);
    put32(out, field::EXT_RAMDISK_SIZE, plan.initrd_len >> 32);
    let n = e820.len().min(E820_MAX);
    out[field::E820_ENTRIES] = n as u8;
    for (i, &(base, len, kind)) in e820.iter().take(n).enumerate() {
        let at = field::E820_TABLE + i * 20;
        out[at..at + 8].copy_from_slice(&base.to_le_bytes());
        out[at + 8..at + 16].copy_from_slice(&len.to_le_bytes());
        out[at + 16..at + 20].copy_from_slice(&kind.to_le_bytes());
    }
}

/// Tells the kernel where the ACPI RSDP is (`acpi_rsdp_addr`), when the boot chain knows it:
/// under UEFI there is no RSDP in the BIOS area the kernel would otherwise scan. Kernels
/// before protocol 2.14 have padding there and ignore it.
pub fn set_acpi_rsdp(zero_page: &mut [u8; ZERO_PAGE_LEN], rsdp: u64) {
    zero_page[field::ACPI_RSDP_ADDR..field::ACPI_RSDP_ADDR + 8]
        .copy_from_slice(&rsdp.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acpi_rsdp_goes_to_its_boot_params_field() {
        let mut zp = [0u8; ZERO_PAGE_LEN];
        set_acpi_rsdp(&mut zp, 0x7FB_E014);
        assert_eq!(&zp[0x70..0x78], &0x7FB_E014u64.to_le_bytes());
        assert!(zp[..0x70].iter().chain(&zp[0x78..]).all(|&b| b == 0));
    }

    const MIB: u64 = 1 << 20;

    /// A bzImage header like Debian 12's kernels (protocol 2.15, setup_sects 39, relocatable,
    /// 2 MiB alignment, pref_address 16 MiB, init_size 64 MiB), with `body` bytes of kernel.
    fn bzimage(body: usize) -> Vec<u8> {
        let mut f = vec![0u8; 40 * 512 + body];
        f[field::SETUP_SECTS] = 39;
        f[field::BOOT_FLAG..field::BOOT_FLAG + 2].copy_from_slice(&0xAA55u16.to_le_bytes());
        f[field::JUMP] = 0xEB;
        f[field::JUMP + 1] = 0x6A; // header ends at 0x26C
        f[field::HEADER..field::HEADER + 4].copy_from_slice(b"HdrS");
        f[field::VERSION..field::VERSION + 2].copy_from_slice(&0x020Fu16.to_le_bytes());
        f[field::INITRD_ADDR_MAX..field::INITRD_ADDR_MAX + 4]
            .copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
        f[field::KERNEL_ALIGNMENT..field::KERNEL_ALIGNMENT + 4]
            .copy_from_slice(&0x20_0000u32.to_le_bytes());
        f[field::RELOCATABLE_KERNEL] = 1;
        f[field::XLOADFLAGS..field::XLOADFLAGS + 2].copy_from_slice(&0x7Fu16.to_le_bytes());
        f[field::CMDLINE_SIZE..field::CMDLINE_SIZE + 4].copy_from_slice(&2047u32.to_le_bytes());
        f[field::PREF_ADDRESS..field::PREF_ADDRESS + 8].copy_from_slice(&(16 * MIB).to_le_bytes());
        f[field::INIT_SIZE..field::INIT_SIZE + 4].copy_from_slice(&(64 * MIB as u32).to_le_bytes());
        f
    }

    fn ram_256m() -> Vec<RamRegion> {
        vec![
            RamRegion {
                base: 0,
                len: 0x9FC00,
            },
            RamRegion {
                base: MIB,
                len: 255 * MIB - 128 * 1024,
            },
        ]
    }

    #[test]
    fn debian_like_header_parses() {
        let f = bzimage(8 * MIB as usize);
        let k = Kernel::parse(&f).unwrap();
        assert_eq!(k.setup_len, 0x5000);
        assert_eq!(k.kernel_len, 8 * MIB as usize);
        assert_eq!(k.version, 0x020F);
        assert!(k.relocatable);
        assert_eq!(k.init_size, 64 * MIB);
        assert_eq!(k.header_end, 0x26C);
    }

    #[test]
    fn bad_headers_are_refused_not_panicked_on() {
        let good = bzimage(4096);
        assert_eq!(Kernel::parse(&good[..100]), Err(LinuxError::Truncated));
        let mut f = good.clone();
        f[field::BOOT_FLAG] = 0;
        assert_eq!(Kernel::parse(&f), Err(LinuxError::NoBootFlag));
        let mut f = good.clone();
        f[field::HEADER] = b'X';
        assert_eq!(Kernel::parse(&f), Err(LinuxError::NotBzImage));
        let mut f = good.clone();
        f[field::VERSION] = 0x0B;
        assert_eq!(
            Kernel::parse(&f),
            Err(LinuxError::TooOld { version: 0x020B })
        );
        let mut f = good.clone();
        f[field::XLOADFLAGS] = 0x7E;
        assert_eq!(Kernel::parse(&f), Err(LinuxError::No64BitEntry));
        // setup_sects says 255 sectors: longer than the file.
        let mut f = good.clone();
        f[field::SETUP_SECTS] = 255;
        assert_eq!(Kernel::parse(&f), Err(LinuxError::Truncated));
        // Every prefix of a header is refused cleanly.
        for n in 0..0x300 {
            assert!(Kernel::parse(&good[..n]).is_err());
        }
    }

    /// Found by the `linux_header` fuzz target: a jump offset of 0 at 0x201 ends the header
    /// at 0x202, so the zero page got none of the fields the plan was made from.
    #[test]
    fn header_ending_before_its_fields_is_refused() {
        let mut f = bzimage(4096);
        f[field::JUMP + 1] = 0;
        assert_eq!(
            Kernel::parse(&f),
            Err(LinuxError::ShortHeader { end: 0x202 })
        );
        f[field::JUMP + 1] = 0x61; // ends at 0x263, inside init_size
        assert_eq!(
            Kernel::parse(&f),
            Err(LinuxError::ShortHeader { end: 0x263 })
        );
        f[field::JUMP + 1] = 0x62; // ends at 0x264, just after init_size
        assert!(Kernel::parse(&f).is_ok());
    }

    /// A kernel body of at most 0x200 bytes has no byte at its 64-bit entry: `plan` used to
    /// return an entry past the end of what is copied (with `init_size` 0).
    #[test]
    fn kernel_too_short_for_its_entry_is_refused() {
        let mut f = bzimage(0x200);
        f[field::INIT_SIZE..field::INIT_SIZE + 4].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            Kernel::parse(&f),
            Err(LinuxError::NoEntryInKernel { len: 0x200 })
        );
        assert!(Kernel::parse(&bzimage(0x201)).is_ok());
    }

    #[test]
    fn kernel_at_pref_address_initrd_at_the_top() {
        let f = bzimage(8 * MIB as usize);
        let k = Kernel::parse(&f).unwrap();
        let p = plan(&k, 3 * MIB + 5, 30, &ram_256m(), &[]).unwrap();
        assert_eq!(p.kernel_addr, 16 * MIB);
        assert_eq!(p.entry, 16 * MIB + 0x200);
        let top = MIB + 255 * MIB - 128 * 1024;
        assert!(p.initrd_addr + p.initrd_len <= top);
        assert_eq!(p.initrd_addr % 4096, 0);
        assert!(top - (p.initrd_addr + p.initrd_len) < 4096);
        assert!(p.initrd_addr >= 16 * MIB + 64 * MIB);
    }

    #[test]
    fn relocatable_kernel_moves_past_an_avoided_region() {
        let f = bzimage(MIB as usize);
        let k = Kernel::parse(&f).unwrap();
        let avoid = [RamRegion {
            base: 15 * MIB,
            len: 10 * MIB,
        }];
        let p = plan(&k, 0, 0, &ram_256m(), &avoid).unwrap();
        assert_eq!(p.kernel_addr, 26 * MIB); // 25 MiB aligned up to 2 MiB
        assert_eq!(p.initrd_addr, 0);
    }

    #[test]
    fn too_little_ram_and_long_cmdlines_are_refused() {
        let f = bzimage(MIB as usize);
        let k = Kernel::parse(&f).unwrap();
        let small = [
            RamRegion {
                base: 0,
                len: 0x9FC00,
            },
            RamRegion {
                base: MIB,
                len: 32 * MIB,
            },
        ];
        assert!(matches!(
            plan(&k, 0, 0, &small, &[]),
            Err(LinuxError::NoRoom { what: "kernel", .. })
        ));
        assert!(matches!(
            plan(&k, 300 * MIB, 0, &ram_256m(), &[]),
            Err(LinuxError::NoRoom { what: "initrd", .. })
        ));
        assert!(matches!(
            plan(&k, 0, 5000, &ram_256m(), &[]),
            Err(LinuxError::CmdlineTooLong { .. })
        ));
    }

    /// The zero page's conventional memory must be usable RAM in the map, not assumed.
    #[test]
    fn the_zero_page_must_be_usable_ram() {
        let f = bzimage(MIB as usize);
        let k = Kernel::parse(&f).unwrap();
        let no_low = [RamRegion {
            base: 0x10_0000,
            len: 255 * MIB,
        }];
        assert_eq!(
            plan(&k, 0, 0, &no_low, &[]),
            Err(LinuxError::NoRoom {
                what: "zero page and command line",
                bytes: CMDLINE_END - ZERO_PAGE_ADDR
            })
        );
        let short_low = [
            RamRegion {
                base: 0,
                len: 0x9_8000,
            },
            no_low[0],
        ];
        assert!(plan(&k, 0, 0, &short_low, &[]).is_err());
    }

    #[test]
    fn the_command_line_carries_the_slot_the_version_and_the_confirmation_token() {
        let v = Version::new(6, 1, 0);
        assert_eq!(
            command_line("console=ttyS0", 0xC5, 'A', v).as_str(),
            "console=ttyS0 lifeboat.slot=A lifeboat.version=6.1(0) lifeboat.confirm=0x000000c5"
        );
        assert_eq!(
            command_line("", u32::MAX, 'B', v).as_str(),
            "lifeboat.slot=B lifeboat.version=6.1(0) lifeboat.confirm=0xffffffff"
        );
        let longest = "x".repeat(crate::image::CMDLINE_MAX);
        let c = command_line(&longest, 7, 'B', Version::new(255, 255, 65535));
        assert_eq!(c.len(), crate::image::CMDLINE_MAX + CONFIRM_ARG_LEN);
        assert!(c.ends_with(" lifeboat.version=255.255(65535) lifeboat.confirm=0x00000007"));
    }

    #[test]
    fn zero_page_carries_header_pointers_and_e820() {
        let f = bzimage(MIB as usize);
        let k = Kernel::parse(&f).unwrap();
        let p = plan(&k, 4096, 10, &ram_256m(), &[]).unwrap();
        let mut zp = [0xEEu8; ZERO_PAGE_LEN];
        let e820 = [
            (0, 0x9FC00, 1),
            (MIB, 254 * MIB, 1),
            (0xFFFC_0000, 0x4_0000, 2),
        ];
        zero_page(&f, &k, &p, &e820, &mut zp);
        assert_eq!(&zp[field::HEADER..field::HEADER + 4], b"HdrS");
        assert_eq!(zp[field::TYPE_OF_LOADER], 0xFF);
        assert_eq!(u32_at(&zp, field::CMD_LINE_PTR) as u64, CMDLINE_ADDR);
        assert_eq!(u32_at(&zp, field::RAMDISK_IMAGE) as u64, p.initrd_addr);
        assert_eq!(u32_at(&zp, field::RAMDISK_SIZE), 4096);
        assert_eq!(zp[field::E820_ENTRIES], 3);
        assert_eq!(u64_at(&zp, field::E820_TABLE + 20), MIB);
        assert_eq!(u32_at(&zp, field::E820_TABLE + 2 * 20 + 16), 2);
        assert_eq!(zp[0x26C], 0, "bytes past the header are zeroed");
    }
}
