//! The lifeboat boot chain: a 512-byte boot sector (stage 1) and a second stage, both
//! assembly. Stage 1 loads the rest of the medium (configuration sector, stage 2,
//! firmware) below 640 KiB with INT 13h: CHS reads on a diskette (AH=42h fails there
//! under SeaBIOS), AH=42h LBA reads on USB sticks and disks (their CHS geometry is
//! nonsense). Stage 2 collects the E820 map, enables A20, checks for long mode,
//! identity-maps the low 4 GiB with 2 MiB pages, enters long mode directly from real
//! mode, copies the firmware to 1 MiB and jumps to it with `rdi` = the boot-info block.
//!
//! The on-medium layout and the boot-info block are described in `layout.md`; the
//! host side (`src/media.rs` in the root package) is the other half of that contract.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
core::arch::global_asm!(
    include_str!("stage1.s"),
    params = const lifeboat_abi::stage1::PARAMS,
    p_sectors = const lifeboat_abi::stage1::SECTORS,
    p_medium = const lifeboat_abi::stage1::MEDIUM,
    p_drive = const lifeboat_abi::stage1::DRIVE,
    p_fw_offset = const lifeboat_abi::stage1::FIRMWARE_OFFSET,
    p_fw_size = const lifeboat_abi::stage1::FIRMWARE_SIZE,
);
// Stage 2 writes the boot-info block with the offsets, magic and addresses of
// `lifeboat_abi`, given as constant operands: the assembler sees the very numbers hal reads
// with, so the two cannot drift (a renamed or removed constant fails the build).
#[cfg(target_os = "none")]
core::arch::global_asm!(
    include_str!("stage2.s"),
    bi = const memory::BOOT_INFO,
    bi_len = const memory::BOOT_INFO_LEN,
    bi_magic = const bootinfo::MAGIC,
    bi_magic_at = const bootinfo::field::MAGIC,
    bi_drive_at = const bootinfo::field::BOOT_DRIVE,
    bi_medium_at = const bootinfo::field::MEDIUM,
    bi_e820_count_at = const bootinfo::field::E820_COUNT,
    bi_config_addr_at = const bootinfo::field::CONFIG_ADDR,
    bi_config_len_at = const bootinfo::field::CONFIG_LEN,
    bi_fw_size_at = const bootinfo::field::FIRMWARE_SIZE,
    bi_e820_at = const bootinfo::field::E820,
    e820_entry_len = const bootinfo::e820::ENTRY_LEN,
    e820_attr_at = const bootinfo::e820::ATTRIBUTES,
    e820_max = const bootinfo::e820::MAX,
    config_addr = const memory::CONFIG_ADDR,
    config_len = const lifeboat_abi::config::LEN,
    entry_stack = const memory::ENTRY_STACK_TOP,
    packed_base = const memory::PACKED_BASE,
);
#[cfg(target_os = "none")]
use lifeboat_abi::{bootinfo, memory};

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // There is no Rust code in the boot chain; this handler only satisfies the linker.
    loop {}
}

/// On the host this crate has nothing to run; it exists so the workspace builds.
#[cfg(not(target_os = "none"))]
fn main() {}
