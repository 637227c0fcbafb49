//! The CPU set-up the firmware owns after stage 2: its own GDT with a TSS whose interrupt
//! stacks (IST) catch double faults and page faults even when the main stack is gone, the
//! guard below the stack, and a 1 kHz timer tick that only exists to wake [`idle`].
//!
//! Stack overflow: the stack (`firmware.ld`, `.stack` at 4 MiB) has the 2 MiB page below it
//! (2–4 MiB) unmapped. Running off its bottom is a page fault on that page, delivered on
//! IST 2, so the fault report always gets printed ([`in_stack_guard`] names it) and nothing
//! in .bss (timer state, DMA rings) is ever written by a runaway stack.
//!
//! Interrupts: the 8259 PICs are remapped to vectors 0x20–0x2F with every line masked but
//! IRQ 0 (PIT channel 0 at 1 kHz). Interrupts are enabled only inside [`idle`] (`sti; hlt`),
//! so the rest of the firmware keeps its simple polled model.
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use lifeboat_hw::port;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

/// The unmapped guard below the stack: [GUARD_START, GUARD_END).
pub const GUARD_START: u64 = 0x20_0000;
/// The end of the unmapped guard (exclusive): the stack's lowest byte.
pub const GUARD_END: u64 = 0x40_0000;

/// IST slots (1-based in the IDT, 0-based in the TSS array).
pub const IST_DOUBLE_FAULT: u8 = 1;
/// The IST slot of the page-fault handler (a stack overflow faults in the guard).
pub const IST_PAGE_FAULT: u8 = 2;

const IST_STACK: usize = 16 * 1024;

#[repr(C, align(16))]
struct IstStack([u8; IST_STACK]);

static mut DF_STACK: IstStack = IstStack([0; IST_STACK]);
static mut PF_STACK: IstStack = IstStack([0; IST_STACK]);
static mut TSS: TaskStateSegment = TaskStateSegment::new();
static mut GDT: GlobalDescriptorTable = GlobalDescriptorTable::new();
static GUARDED: AtomicBool = AtomicBool::new(false);

/// PIT input clock, Hz, and the tick we program: 1 kHz.
const PIT_HZ: u32 = 1_193_182;
const TICK_HZ: u32 = 1000;
/// 8259 ports and commands (Intel 8259A datasheet): ICW1 with ICW4, 8086 mode, EOI.
const PIC1_CMD: u16 = 0x20;
const PIC1_DATA: u16 = 0x21;
const PIC2_CMD: u16 = 0xA0;
const PIC2_DATA: u16 = 0xA1;
const ICW1_INIT_ICW4: u8 = 0x11;
const ICW4_8086: u8 = 0x01;
/// First vector of the remapped PICs.
pub const IRQ_BASE: u8 = 0x20;

/// Loads the firmware's GDT (code 0x08, data 0x10, TSS 0x18) with the IST stacks, and
/// unmaps the stack guard. Call first, before `exceptions::init` (which reads CS).
pub fn init() {
    // SAFETY: called once at start-up on the only core with interrupts off; the statics are
    // not touched anywhere else; the GDT and TSS live forever (statics), as lgdt/ltr require.
    unsafe {
        let tss = &mut *core::ptr::addr_of_mut!(TSS);
        let df_top = core::ptr::addr_of!(DF_STACK) as u64 + IST_STACK as u64;
        let pf_top = core::ptr::addr_of!(PF_STACK) as u64 + IST_STACK as u64;
        tss.interrupt_stack_table[usize::from(IST_DOUBLE_FAULT - 1)] = VirtAddr::new(df_top);
        tss.interrupt_stack_table[usize::from(IST_PAGE_FAULT - 1)] = VirtAddr::new(pf_top);
        let gdt = &mut *core::ptr::addr_of_mut!(GDT);
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss_sel = gdt.append(Descriptor::tss_segment(&*core::ptr::addr_of!(TSS)));
        gdt.load_unsafe();
        CS::set_reg(code);
        DS::set_reg(data);
        ES::set_reg(data);
        SS::set_reg(data);
        load_tss(tss_sel);
    }
    unmap_guard();
}

/// Clears the present bit of the 2 MiB page [GUARD_START, GUARD_END) in the identity map
/// stage 2 built (PML4 → PDPT → page directory with 2 MiB pages).
fn unmap_guard() {
    let (frame, _) = x86_64::registers::control::Cr3::read();
    let pml4 = frame.start_address().as_u64() as *mut u64;
    // SAFETY: the paging structures are identity-mapped low memory written by stage 2
    // (bootloader/layout.md); entry 0 of each level covers the first GiB; only the PD entry
    // of 2–4 MiB changes, which nothing maps or uses (the linker script keeps the firmware
    // below 2 MiB and the stack above 4 MiB), and its TLB entry is flushed right after.
    unsafe {
        let pdpt = (*pml4 & 0x000F_FFFF_FFFF_F000) as *mut u64;
        let pd = (*pdpt & 0x000F_FFFF_FFFF_F000) as *mut u64;
        let entry = pd.add((GUARD_START >> 21) as usize);
        // Only a present 2 MiB page (PS, bit 7) is what we expect to find here.
        if *entry & 0x81 == 0x81 {
            *entry &= !1;
            x86_64::instructions::tlb::flush(VirtAddr::new(GUARD_START));
            GUARDED.store(true, Ordering::Relaxed);
        }
    }
}

/// A paging structure: 512 entries, page-aligned.
#[repr(C, align(4096))]
struct Table([u64; 512]);

/// The page directory (512 × 2 MiB, uncached) of the one GiB above 4 GiB that [`map_mmio`]
/// may add to the identity map, and the PDPT that holds it when its PML4 entry is empty.
static mut HIGH_PD: Table = Table([0; 512]);
static mut HIGH_PDPT: Table = Table([0; 512]);
/// The GiB (address >> 30) `HIGH_PD` maps; 0 = none yet.
static HIGH_GIB: AtomicU64 = AtomicU64::new(0);

/// Make `[addr, addr + len)` reachable: below 4 GiB it already is (the boot chain's identity
/// map); above, the GiB that holds it is identity-mapped uncached (PCD|PWT), for a memory BAR
/// a UEFI firmware placed in its 64-bit window. One such GiB at all (the first call that
/// needs one chooses it), below 128 TiB; false when the range is not reachable.
pub fn map_mmio(addr: u64, len: u64) -> bool {
    let end = addr.saturating_add(len.max(1)) - 1;
    if end < 1 << 32 {
        return true;
    }
    let gib = addr >> 30;
    if addr < 1 << 32 || end >> 30 != gib || addr >= 1 << 47 {
        return false;
    }
    match HIGH_GIB.load(Ordering::Relaxed) {
        0 => {}
        g => return g == gib,
    }
    const ADDR: u64 = 0x000F_FFFF_FFFF_F000;
    let (frame, _) = x86_64::registers::control::Cr3::read();
    let pml4 = frame.start_address().as_u64() as *mut u64;
    // SAFETY: the paging structures are identity-mapped low memory written by the boot chain
    // (PML4 entry 0 → a PDPT whose entries 0–3 map the low 4 GiB with 2 MiB pages). Only
    // entries that are not present are written: PML4 entry `gib >> 9` to point at HIGH_PDPT,
    // PDPT entry `gib & 511` at HIGH_PD, static tables nothing else touches (HIGH_GIB is set
    // once, on the only core, interrupts off); a new mapping needs no TLB flush.
    unsafe {
        let top = pml4.add((gib >> 9) as usize);
        if *top & 1 == 0 {
            *top = core::ptr::addr_of_mut!(HIGH_PDPT) as u64 | 0x3;
        }
        let entry = ((*top & ADDR) as *mut u64).add((gib & 511) as usize);
        if *entry & 1 != 0 {
            // The boot chain mapped it (its maps are identity maps).
            return true;
        }
        let pd = core::ptr::addr_of_mut!(HIGH_PD) as *mut u64;
        for i in 0..512u64 {
            // P, RW, PWT, PCD, PS (2 MiB).
            *pd.add(i as usize) = ((gib << 30) + (i << 21)) | 0x9B;
        }
        *entry = pd as u64 | 0x3;
    }
    HIGH_GIB.store(gib, Ordering::Relaxed);
    true
}

/// Is the stack guard in place?
pub fn guarded() -> bool {
    GUARDED.load(Ordering::Relaxed)
}

/// Does a fault address (CR2) lie in the stack guard?
pub fn in_stack_guard(addr: u64) -> bool {
    (GUARD_START..GUARD_END).contains(&addr)
}

/// The selector of the firmware's code segment (for IDT gates).
pub fn code_selector() -> SegmentSelector {
    CS::get_reg()
}

/// Remaps the PICs to [`IRQ_BASE`], masks every IRQ but the PIT's, and starts PIT channel 0
/// at 1 kHz. Interrupts stay disabled except inside [`idle`]. Call after `exceptions::init`.
pub fn start_tick() {
    let divisor = (PIT_HZ / TICK_HZ) as u16;
    // SAFETY: the PICs and PIT channel 0 are standard PC devices that nothing else in the
    // firmware programs (the TSC calibration uses channel 2); interrupts are disabled
    // (stage 2 masked both PICs; we never `sti` outside `idle`).
    unsafe {
        port::outb(PIC1_CMD, ICW1_INIT_ICW4);
        port::outb(PIC2_CMD, ICW1_INIT_ICW4);
        port::outb(PIC1_DATA, IRQ_BASE); // ICW2: master vectors 0x20-0x27
        port::outb(PIC2_DATA, IRQ_BASE + 8); // slave 0x28-0x2F
        port::outb(PIC1_DATA, 0x04); // ICW3: slave on IRQ 2
        port::outb(PIC2_DATA, 0x02); // ICW3: cascade identity 2
        port::outb(PIC1_DATA, ICW4_8086);
        port::outb(PIC2_DATA, ICW4_8086);
        port::outb(PIC1_DATA, 0xFE); // mask all but IRQ 0
        port::outb(PIC2_DATA, 0xFF);
        port::outb(0x43, 0x34); // channel 0, lobyte/hibyte, mode 2 (rate generator), binary
        port::outb(0x40, divisor as u8);
        port::outb(0x40, (divisor >> 8) as u8);
    }
}

/// Waits for the next interrupt (the 1 kHz tick at the latest) without burning the CPU.
pub fn idle() {
    // SAFETY: `sti` takes effect after the next instruction, so the `hlt` cannot miss the
    // interrupt that ends it; the only unmasked interrupt is the PIT tick, whose handler
    // only acknowledges it; `cli` restores the polled model before anything else runs.
    unsafe { core::arch::asm!("sti", "hlt", "cli", options(nomem, nostack)) }
}
