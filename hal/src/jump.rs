//! Leaving the firmware for a loaded image. Both entries are one-way: interrupts off, then a
//! jump in long mode on the identity map the boot chain built (which covers the low 4 GiB).
//!
//! Before calling either, the caller must have stopped every DMA master (drop the NIC
//! drivers: dropping resets the NIC) and copied the image to where it is entered.
use core::arch::asm;

/// GDT for the Linux 64-bit boot protocol: `__BOOT_CS` = 0x10 (64-bit code, flat) and
/// `__BOOT_DS` = 0x18 (flat read/write data), as Documentation/arch/x86/boot.rst requires.
#[repr(C, align(16))]
struct BootGdt([u64; 4]);

static LINUX_GDT: BootGdt = BootGdt([
    0,
    0,
    0x00AF_9A00_0000_FFFF, // 0x10: present, DPL 0, code, execute/read, L=1, G=1
    0x00CF_9200_0000_FFFF, // 0x18: present, DPL 0, data, read/write, D/B=1, G=1
]);

#[repr(C, packed)]
struct GdtPointer {
    limit: u16,
    base: u64,
}

/// Enters a `flat64` image at `entry` with `rdi = boot_info`, `rsi = header` (its image
/// header in RAM) and a fresh stack below `stack_top`.
///
/// # Safety
/// `entry` must be the entry point of code copied to identity-mapped RAM that expects this
/// convention; `stack_top` must be the 16-byte-aligned top of RAM the image may use as stack;
/// nothing of the firmware is used afterwards.
pub unsafe fn enter_flat64(entry: u64, boot_info: u64, header: u64, stack_top: u64) -> ! {
    // SAFETY: the caller guarantees the target code and stack; interrupts are disabled first
    // so no handler of ours runs on the new stack.
    unsafe {
        asm!(
            "cli",
            "mov rsp, rcx",
            "xor ebp, ebp",
            "push 0",          // fake return address: the image must not return
            "jmp rax",
            // Fixed registers: with `reg` the compiler may give `entry` rbp, which the
            // `xor ebp, ebp` above clears (a jump to 0, seen once the code around it grew).
            in("rax") entry,
            in("rcx") stack_top,
            in("rdi") boot_info,
            in("rsi") header,
            options(noreturn)
        )
    }
}

/// Enters a Linux kernel at its 64-bit entry (`load address + 0x200`) with `rsi` = the
/// zero page, on the boot protocol's GDT.
///
/// # Safety
/// The protected-mode kernel must be at `entry - 0x200` with `init_size` bytes of free,
/// identity-mapped RAM from there; `zero_page` must hold a filled `struct boot_params`
/// whose command line and initrd pointers are valid; nothing of the firmware is used
/// afterwards.
pub unsafe fn enter_linux64(entry: u64, zero_page: u64) -> ! {
    let ptr = GdtPointer {
        limit: (core::mem::size_of::<BootGdt>() - 1) as u16,
        base: &LINUX_GDT as *const BootGdt as u64,
    };
    // SAFETY: the GDT is a static that lives forever; after lgdt the data selectors are
    // reloaded and CS is switched by a far return, so every segment register names a
    // descriptor of the new table before the jump; the caller guarantees the kernel.
    unsafe {
        asm!(
            "cli",
            "lgdt [rdx]",
            "mov eax, 0x18",
            "mov ds, eax",
            "mov es, eax",
            "mov ss, eax",
            "mov fs, eax",
            "mov gs, eax",
            "push 0x10",
            "lea rax, [rip + 2f]",
            "push rax",
            "retfq",
            "2:",
            "xor ebp, ebp",
            "jmp rcx",
            // Fixed registers: rax is overwritten above, so nothing may be allocated there.
            in("rdx") &ptr,
            in("rcx") entry,
            in("rsi") zero_page,
            options(noreturn)
        )
    }
}

/// The version bytes (24..28) of an image header the loader placed at `addr`, for payloads
/// that print their own version.
pub fn read_header_version(addr: u64) -> [u8; 4] {
    let mut v = [0u8; 4];
    for (i, b) in v.iter_mut().enumerate() {
        // SAFETY: a payload calls this with the header address its loader passed in `rsi`
        // (identity-mapped RAM holding the 320-byte header); a byte read has no alignment need.
        *b = unsafe { core::ptr::read_volatile((addr + 24 + i as u64) as *const u8) };
    }
    v
}

/// The RAM a payload is loaded into, as a slice.
///
/// # Safety
/// `[addr, addr + len)` must be usable RAM, identity-mapped, used by nothing else of the
/// firmware (not its image, stack, DMA rings or download buffer) for as long as the slice lives.
pub unsafe fn ram(addr: u64, len: usize) -> &'static mut [u8] {
    // SAFETY: the caller guarantees the range is free, mapped RAM.
    unsafe { core::slice::from_raw_parts_mut(addr as usize as *mut u8, len) }
}

/// Does the header at `addr` carry the command line `noconfirm` (bytes 104..)?
pub fn header_says_noconfirm(addr: u64) -> bool {
    const WORD: &[u8] = b"noconfirm\0";
    WORD.iter().enumerate().all(|(i, &c)| {
        // SAFETY: as in `read_header_version`: the loader's 320-byte header copy.
        let b = unsafe { core::ptr::read_volatile((addr + 104 + i as u64) as *const u8) };
        b == c
    })
}
