//! Where everything sits in RAM (identity-mapped: physical = virtual below 4 GiB).
//!
//! ```text
//! 0x0800            boot-info block (BOOT_INFO_LEN), hand-off at +0x700
//! 0x1000-0x6FFF     page tables: PML4, PDPT, four page directories (2 MiB pages)
//! 0x7000-0x7BFF     real-mode stack; its top is also the stack the packed firmware is entered on
//! 0x7C00            stage 1; 0x7E00 the configuration sector; 0x8000 stage 2
//! 0x100000          the firmware (unpacked), its .bss, below PACKED_BASE
//! 0x200000          the packed firmware (entered there); 2-4 MiB the firmware's stack guard
//! 0x400000          the firmware's stack (FIRMWARE_STACK_LEN); the download buffer above it
//! 0x6000000         the Linux staging area of a flash boot
//! ```

/// The boot-info block ([`crate::bootinfo`]) as stage 2 and the ROM stage place it; `rdi`
/// at the packed firmware's entry. (The UEFI loader puts it in pages it reserved.)
pub const BOOT_INFO: u64 = 0x800;
/// Bytes of the boot-info block.
pub const BOOT_INFO_LEN: usize = 0x800;
/// The PML4; the PDPT follows at +0x1000 and four page directories at +0x2000..+0x6000.
pub const PAGE_TABLES: u64 = 0x1000;
/// The stack pointer the packed firmware is entered with (the top of the real-mode stack).
pub const ENTRY_STACK_TOP: u64 = 0x7C00;
/// Where the BIOS loads stage 1 (the boot sector).
pub const STAGE1: u64 = 0x7C00;
/// Where the configuration text lies in RAM (stage 1 loads LBA 1 there; the ROM copies it
/// there).
pub const CONFIG_ADDR: u64 = 0x7E00;
/// Where stage 2 runs (stage 1 loads it after the configuration sector).
pub const STAGE2: u64 = 0x8000;
/// Stage 1 loads from [`CONFIG_ADDR`] up to here (the EBDA starts at 0x9F000 at the latest).
pub const LOAD_LIMIT: u64 = 0x9_F000;
/// Where the firmware is linked, unpacked and entered (firmware/firmware.ld).
pub const FIRMWARE_BASE: u64 = 0x10_0000;
/// Where every entry copies the packed firmware and jumps (unpack/unpack.ld): the
/// firmware's stack guard (2-4 MiB), RAM nothing uses before the firmware runs.
pub const PACKED_BASE: u64 = 0x20_0000;
/// The unpacked firmware's image and .bss end below [`PACKED_BASE`] (firmware.ld asserts
/// it), so it never reaches the packed image it comes from.
pub const FIRMWARE_MAX: usize = (PACKED_BASE - FIRMWARE_BASE) as usize;
/// The packed firmware must end below the unpack stage's .bss (0x3C0000, unpack.ld).
pub const PACKED_MAX: usize = 0x1C_0000;
/// The bottom of the firmware's stack (firmware/firmware.ld); the stack guard is below it.
pub const FIRMWARE_STACK: u64 = 0x40_0000;
/// Bytes of the firmware's stack; the download buffer starts above it.
pub const FIRMWARE_STACK_LEN: u64 = 256 * 1024;
/// Where a Linux image's payload is staged while a flash boot verifies and takes it apart:
/// above the kernel's usual 16 MiB + 64 MiB `init_size`.
pub const LINUX_STAGING: u64 = 0x600_0000;
/// Where a flat64 image measured into the TPM finds the event log (the place a Linux
/// kernel's zero page takes; a flat64 image has none), [`EVENT_LOG_MAX`] bytes at most.
pub const EVENT_LOG: u64 = 0x9_0000;
/// Bytes the event log may take.
pub const EVENT_LOG_MAX: usize = 0x1000;
/// The end of the identity map every entry builds (the low 4 GiB): nothing is placed above.
pub const IDENTITY_MAP_END: u64 = 1 << 32;

const _: () = assert!(BOOT_INFO + BOOT_INFO_LEN as u64 <= PAGE_TABLES);
const _: () = assert!(CONFIG_ADDR == STAGE1 + 512);
const _: () = assert!(PACKED_BASE + PACKED_MAX as u64 <= FIRMWARE_STACK);
