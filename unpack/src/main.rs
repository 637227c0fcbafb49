//! The unpack stage: the head of the packed firmware every medium and the ROM carry
//! (`lifeboat_unpack`'s docs give the layout). Stage 2, the UEFI loader and the ROM stage
//! copy the packed image to 0x200000 and jump to [`bare`]'s `_start` with `rdi` = the
//! boot-info block (long mode, the low 4 GiB identity-mapped, interrupts off). It checks
//! the compressed firmware's CRC-32, inflates it to 1 MiB and jumps there with the same
//! `rdi`; a corrupt image prints one line on COM1 and the screen and halts.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("lifeboat-unpack runs only as the firmware's head (x86_64-unknown-none)");
}

#[cfg(target_os = "none")]
mod bare {
    use core::arch::{asm, global_asm};

    use lifeboat_unpack::{layout, unpack};

    // Zero .bss, take the stack below 4 MiB (the top of the firmware's stack guard), call
    // `unpack_main(bootinfo)`.
    global_asm!(
        r#"
.section .text.entry, "ax"
.global _start
_start:
    mov r12, rdi
    lea rdi, [rip + __bss_start]
    lea rcx, [rip + __bss_end]
    sub rcx, rdi
    xor eax, eax
    cld
    rep stosb
    lea rsp, [rip + __stack_top]
    mov rdi, r12
    call {main}
2:  cli
    hlt
    jmp 2b
.text
"#,
        main = sym unpack_main,
    );

    extern "C" {
        /// The end of the stage's flat image: the header and the compressed firmware follow.
        static __image_end: u8;
    }

    extern "C" fn unpack_main(bootinfo: u64) -> ! {
        let start = core::ptr::addr_of!(__image_end) as usize;
        // SAFETY: the loader copied the whole packed image to LOAD; its length is at most
        // PACKED_MAX (the media builder checks it), all of it RAM below the stage's .bss
        // and stack (0x3C0000, unpack.ld), which nothing writes while this slice lives.
        // A header naming more bytes than were copied only reads further into that
        // RAM, and fails the CRC.
        let packed = unsafe {
            core::slice::from_raw_parts(
                start as *const u8,
                layout::LOAD as usize + layout::PACKED_MAX - start,
            )
        };
        // SAFETY: 1 MiB .. 2 MiB is RAM the loaders leave free for the firmware (BIOS:
        // above the ISA hole, UEFI: allocated with the firmware's range, ROM: usable per
        // its E820); it does not overlap the packed image (from LOAD) or the stack.
        let out = unsafe {
            core::slice::from_raw_parts_mut(
                layout::FIRMWARE_BASE as usize as *mut u8,
                layout::FIRMWARE_MAX,
            )
        };
        match unpack(packed, out) {
            // SAFETY: the firmware is whole at its link address (CRC and length checked);
            // it is entered as the loaders entered it before: long mode, rdi = the
            // boot-info block; it sets its own stack. This never returns.
            Ok(_) => unsafe {
                asm!(
                    "jmp rax",
                    in("rdi") bootinfo,
                    in("rax") layout::FIRMWARE_BASE,
                    options(noreturn)
                )
            },
            Err(e) => fail(e.message()),
        }
    }

    /// One line on COM1 and on the first line of the text screen, then halt for good.
    fn fail(msg: &str) -> ! {
        // SAFETY: COM1, as the entry left it; the stage owns the machine. The wait for the
        // transmitter is bounded (a missing UART reads 0xFF).
        let mut com1 = unsafe { lifeboat_hw::uart::PolledTx::attach(lifeboat_hw::uart::COM1) };
        for b in "\r\n".bytes().chain(msg.bytes()).chain("\r\n".bytes()) {
            com1.send(b);
        }
        let vga = 0xB8000 as *mut u16;
        for (i, b) in msg.bytes().take(80).enumerate() {
            // SAFETY: the VGA text buffer (0xB8000, 80 x 25 cells) under the BIOS; elsewhere
            // a legacy window that ignores the write. Nothing else runs.
            unsafe { vga.add(i).write_volatile(0x4F00 | u16::from(b)) };
        }
        loop {
            // SAFETY: interrupts are off; the CPU stops here.
            unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
        }
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        fail("lifeboat: the unpack stage panicked; halted")
    }
}
