//! CPU exception vectors 0-31: one assembly stub each, all funnelled into a handler
//! the firmware registers. The handler reports and resets; exceptions never return.
use core::sync::atomic::{AtomicUsize, Ordering};

/// What the CPU pushed, plus the vector number; `error` is 0 for vectors without one.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ExceptionFrame {
    /// The exception vector (0-31).
    pub vector: u64,
    /// The error code the CPU pushed, or 0.
    pub error: u64,
    /// The faulting instruction (or the next one, for traps).
    pub rip: u64,
    /// The code segment at the fault.
    pub cs: u64,
    /// RFLAGS at the fault.
    pub rflags: u64,
    /// The stack pointer at the fault.
    pub rsp: u64,
    /// The stack segment at the fault.
    pub ss: u64,
}

impl ExceptionFrame {
    /// The exception's name as the Intel SDM gives it ("page fault").
    pub fn name(&self) -> &'static str {
        match self.vector {
            0 => "divide error",
            1 => "debug",
            2 => "NMI",
            3 => "breakpoint",
            4 => "overflow",
            5 => "bound range exceeded",
            6 => "invalid opcode",
            7 => "device not available",
            8 => "double fault",
            10 => "invalid TSS",
            11 => "segment not present",
            12 => "stack-segment fault",
            13 => "general protection fault",
            14 => "page fault",
            16 => "x87 floating-point error",
            17 => "alignment check",
            18 => "machine check",
            19 => "SIMD floating-point error",
            _ => "reserved exception",
        }
    }
}

/// Faulting address for a page fault.
pub fn cr2() -> u64 {
    x86_64::registers::control::Cr2::read_raw()
}

static HANDLER: AtomicUsize = AtomicUsize::new(0);

core::arch::global_asm!(
    r#"
.section .text.exceptions, "ax"
.macro EXC_NOERR n
exc_stub_\n:
    push 0
    push \n
    jmp exc_common
.endm
.macro EXC_ERR n
exc_stub_\n:
    push \n
    jmp exc_common
.endm
EXC_NOERR 0
EXC_NOERR 1
EXC_NOERR 2
EXC_NOERR 3
EXC_NOERR 4
EXC_NOERR 5
EXC_NOERR 6
EXC_NOERR 7
EXC_ERR 8
EXC_NOERR 9
EXC_ERR 10
EXC_ERR 11
EXC_ERR 12
EXC_ERR 13
EXC_ERR 14
EXC_NOERR 15
EXC_NOERR 16
EXC_ERR 17
EXC_NOERR 18
EXC_NOERR 19
EXC_NOERR 20
EXC_ERR 21
EXC_NOERR 22
EXC_NOERR 23
EXC_NOERR 24
EXC_NOERR 25
EXC_NOERR 26
EXC_NOERR 27
EXC_NOERR 28
EXC_ERR 29
EXC_ERR 30
EXC_NOERR 31
exc_common:
    mov rdi, rsp
    and rsp, -16
    call {dispatch}
    ud2
// Hardware interrupts (remapped PICs, see cpu.rs): acknowledge and return. Only the PIT
// tick is unmasked; it exists to end `cpu::idle`'s `hlt`.
irq_master:
    push rax
    mov al, 0x20
    out 0x20, al
    pop rax
    iretq
irq_slave:
    push rax
    mov al, 0x20
    out 0xA0, al
    out 0x20, al
    pop rax
    iretq
.section .rodata.exceptions, "a"
.balign 8
.global lifeboat_exc_stubs
lifeboat_exc_stubs:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exc_stub_\n
.endr
.rept 8
    .quad irq_master
.endr
.rept 8
    .quad irq_slave
.endr
.text
"#,
    dispatch = sym dispatch,
);

/// Vectors with a gate: the 32 exceptions and the 16 remapped PIC lines.
const VECTORS: usize = 48;

extern "C" {
    static lifeboat_exc_stubs: [u64; VECTORS];
}

extern "C" fn dispatch(frame: &ExceptionFrame) -> ! {
    let h = HANDLER.load(Ordering::Relaxed);
    if h != 0 {
        // SAFETY: HANDLER only ever holds a `fn(&ExceptionFrame) -> !` stored by `init`.
        let f: fn(&ExceptionFrame) -> ! = unsafe { core::mem::transmute(h) };
        f(frame)
    }
    crate::reset::reset()
}

#[repr(C, align(16))]
struct Idt([u64; 2 * VECTORS]);

static mut IDT: Idt = Idt([0; 2 * VECTORS]);

/// The IST slot (0 = none) each exception runs on: #DF, #SS and #PF get their own stacks so
/// that a stack overflow is reported, not turned into a triple fault.
fn ist(vector: usize) -> u64 {
    match vector {
        8 => u64::from(crate::cpu::IST_DOUBLE_FAULT),
        12 | 14 => u64::from(crate::cpu::IST_PAGE_FAULT),
        _ => 0,
    }
}

/// Install the IDT for vectors 0-31 (and the PIC lines 0x20-0x2F) and register `handler`
/// for the exceptions. Call after `cpu::init` (the gates take its code selector).
pub fn init(handler: fn(&ExceptionFrame) -> !) {
    HANDLER.store(handler as usize, Ordering::Relaxed);
    use x86_64::instructions::segmentation::{Segment, CS};
    let cs = CS::get_reg().0 as u64;
    // SAFETY: single core, no interrupts enabled, called once before anything can fault
    // on purpose; the stubs table is a read-only array of 32 code addresses.
    unsafe {
        let idt = &mut *core::ptr::addr_of_mut!(IDT);
        for (v, &a) in lifeboat_exc_stubs.iter().enumerate() {
            // 64-bit interrupt gate: offset 15:0, selector, IST, type 0x8E, offset 31:16, offset 63:32
            idt.0[2 * v] = (a & 0xFFFF)
                | (cs << 16)
                | (ist(v) << 32)
                | (0x8E << 40)
                | (((a >> 16) & 0xFFFF) << 48);
            idt.0[2 * v + 1] = a >> 32;
        }
        let ptr = x86_64::structures::DescriptorTablePointer {
            limit: (core::mem::size_of::<Idt>() - 1) as u16,
            base: x86_64::VirtAddr::new(idt.0.as_ptr() as u64),
        };
        x86_64::instructions::tables::lidt(&ptr);
    }
}

/// Read an address that is mapped nowhere (the boot chain maps only the low 4 GiB).
pub fn raise_page_fault() -> ! {
    let p = 0x80_0000_0000u64 as *const u64; // 512 GiB: canonical, PML4 entry 1 not present
                                             // SAFETY: deliberately faulting for the `crashtest` diagnostic; the page-fault
                                             // handler reports and resets, so the read never completes.
    unsafe { core::ptr::read_volatile(p) };
    crate::reset::reset()
}

/// Execute `ud2`.
pub fn raise_invalid_opcode() -> ! {
    // SAFETY: deliberately faulting for the `crashtest` diagnostic; the handler resets.
    unsafe { core::arch::asm!("ud2", options(noreturn)) }
}
