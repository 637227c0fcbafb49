//! Entry point, panic handler and CPU exception reports.
use core::fmt::Write;

use lifeboat_hal::exceptions::ExceptionFrame;
use lifeboat_hal::uart::{RawTx, COM1};

// Boot code: zero .bss (the stack lives there, so before using it), set the stack,
// call `firmware_main(bootinfo)`.
core::arch::global_asm!(
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
2:  hlt
    jmp 2b
.text
"#,
    main = sym firmware_main,
);

extern "C" fn firmware_main(bootinfo: usize) -> ! {
    super::startup::run(bootinfo, on_exception)
}

/// Seconds the fault report stays on screen before the unit resets.
const FAULT_RESET_DELAY_US: u64 = 2_000_000;

/// Console writer that turns bare `\n` (Rust's panic messages have them) into `\r\n`.
struct CrLf(RawTx);

impl Write for CrLf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for (i, part) in s.split('\n').enumerate() {
            if i > 0 {
                self.0.write_str("\r\n")?;
            }
            self.0.write_str(part.strip_suffix('\r').unwrap_or(part))?;
        }
        Ok(())
    }
}

fn report_and_reset(args: core::fmt::Arguments<'_>) -> ! {
    let mut tx = CrLf(RawTx(COM1));
    let _ = tx.write_fmt(args);
    let _ = tx.write_str("\r\nResetting the unit in 2 seconds...\r\n");
    lifeboat_hal::timer::delay_us(FAULT_RESET_DELAY_US);
    lifeboat_hal::reset::reset()
}

fn on_exception(f: &ExceptionFrame) -> ! {
    defmt::error!(
        "CPU exception {=u64} at rip={=u64:#x} error={=u64:#x}",
        f.vector,
        f.rip,
        f.error
    );
    let cr2 = lifeboat_hal::exceptions::cr2();
    if matches!(f.vector, 8 | 14) && lifeboat_hal::cpu::in_stack_guard(cr2) {
        report_and_reset(format_args!(
            "\r\n*** stack overflow: CPU exception {} ({}) at RIP {:#018x}, guard page hit at {:#018x}",
            f.vector,
            f.name(),
            f.rip,
            cr2
        ))
    }
    if f.vector == 14 {
        report_and_reset(format_args!(
            "\r\n*** CPU exception {} ({}) at RIP {:#018x}, error code {:#x}, address {:#018x}",
            f.vector,
            f.name(),
            f.rip,
            f.error,
            lifeboat_hal::exceptions::cr2()
        ))
    }
    report_and_reset(format_args!(
        "\r\n*** CPU exception {} ({}) at RIP {:#018x}, error code {:#x}",
        f.vector,
        f.name(),
        f.rip,
        f.error
    ))
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if let Some(l) = info.location() {
        defmt::error!("panic at {=str}:{=u32}", l.file(), l.line());
    }
    report_and_reset(format_args!("\r\n*** firmware panic: {}", info))
}
