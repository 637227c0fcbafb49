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
core::arch::global_asm!(include_str!("stage1.s"));
#[cfg(target_os = "none")]
core::arch::global_asm!(include_str!("stage2.s"));

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // There is no Rust code in the boot chain; this handler only satisfies the linker.
    loop {}
}

/// On the host this crate has nothing to run; it exists so the workspace builds.
#[cfg(not(target_os = "none"))]
fn main() {}
