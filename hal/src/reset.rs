//! Machine reset: the keyboard controller's pulse-reset line, then the PCI reset
//! control register (0xCF9), then a triple fault as the last resort.
use lifeboat_hw::port;

/// Reset the machine; never returns.
pub fn reset() -> ! {
    // SAFETY: writing 0xFE to the 8042 command port pulses the CPU reset line; nothing
    // after this point depends on machine state.
    unsafe { port::outb(0x64, 0xFE) };
    crate::timer::delay_us(50_000);
    // SAFETY: 0xCF9 is the chipset's reset control register on PIIX/ICH (QEMU pc and q35);
    // 0x06 requests a hard reset.
    unsafe { port::outb(0xCF9, 0x06) };
    crate::timer::delay_us(50_000);
    triple_fault()
}

fn triple_fault() -> ! {
    use x86_64::instructions::tables::lidt;
    use x86_64::structures::DescriptorTablePointer;
    use x86_64::VirtAddr;
    let empty = DescriptorTablePointer {
        limit: 0,
        base: VirtAddr::new(0),
    };
    // SAFETY: loading an empty IDT and raising an exception makes the CPU triple-fault,
    // which resets it; that is the intent.
    unsafe {
        lidt(&empty);
        core::arch::asm!("int3", options(noreturn));
    }
}
