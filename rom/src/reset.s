# The ROM stage's reset stub: the last 4 KiB below 4 GiB. The CPU starts at 0xFFFFFFF0 in
# real mode with CS.base = 0xFFFF0000; RAM needs no set-up under QEMU. The stub enters
# 32-bit protected mode, copies the stage image (linked at 0x20000) out of the ROM, zeroes
# its .bss, builds the identity map of the low 4 GiB stage 2 builds (PML4 0x1000, PDPT
# 0x2000, page directories 0x3000-0x6FFF, 2 MiB pages, 3-4 GiB uncached), enters long mode
# and jumps to rom_long_entry with the stage's GDT (the one stage 2 hands the firmware).
.section .reset, "ax"
.code16
reset16:
    cli
    cld
    # o32 lgdt cs:[rom_boot_gdt_desc]: the offset is relative to CS.base (0xFFFF0000) and
    # the operand-size prefix loads all 32 bits of the base.
    .byte 0x66, 0x2E, 0x0F, 0x01, 0x16
    .word rom_boot_gdt_desc - 0xFFFF0000
    mov eax, cr0
    and eax, 0x9FFFFFFF                     # caches on (CD, NW clear)
    or al, 1                                # PE
    mov cr0, eax
    .byte 0x66, 0xEA                        # jmp dword 0x18:prot32
    .long prot32
    .word 0x18

.code32
prot32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    in al, 0x92                             # A20 on (fast gate; QEMU resets with it on)
    or al, 2
    and al, 0xFE
    out 0x92, al
    # The stage image: from the ROM's top 64 KiB to where it is linked.
    mov esi, 0xFFFF0000
    mov edi, offset __stage_start
    mov ecx, offset __stage_len
    rep movsb
    xor eax, eax
    mov edi, offset __bss_start
    mov ecx, offset __bss_len
    rep stosb
    # Page tables, as stage 2 builds them.
    mov edi, 0x1000
    mov ecx, 0x1800
    rep stosd
    mov dword ptr [0x1000], 0x2003
    mov dword ptr [0x2000], 0x3003
    mov dword ptr [0x2008], 0x4003
    mov dword ptr [0x2010], 0x5003
    mov dword ptr [0x2018], 0x6003
    mov edi, 0x3000
    mov eax, 0x83                           # present, writable, 2 MiB page
    mov ecx, 2048
1:  mov dword ptr [edi], eax
    add eax, 0x200000
    add edi, 8
    loop 1b
    mov edi, 0x6000                         # 3-4 GiB: PCD | PWT
    mov ecx, 512
2:  or dword ptr [edi], 0x18
    add edi, 8
    loop 2b
    mov al, 0xFF                            # mask both PICs
    out 0xA1, al
    out 0x21, al
    lgdt [rom_gdt_desc]                     # the stage's GDT, in RAM now
    mov eax, 0xA0                           # CR4.PAE | CR4.PGE
    mov cr4, eax
    mov eax, 0x1000
    mov cr3, eax
    mov ecx, 0xC0000080                     # EFER.LME
    rdmsr
    or eax, 0x100
    wrmsr
    mov eax, cr0
    or eax, 0x80000000                      # PG
    mov cr0, eax
    .byte 0xEA                              # jmp 0x08:rom_long_entry
    .long rom_long_entry
    .word 0x08

.balign 8
# 0x08 64-bit code (unused here), 0x10 data, 0x18 32-bit code.
rom_boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
    .quad 0x00CF9A000000FFFF
rom_boot_gdt_desc:
    .word rom_boot_gdt_desc - rom_boot_gdt - 1
    .long rom_boot_gdt

    .org 0xFF0
.global reset_vector
reset_vector:
.code16
    jmp reset16
    .org 0x1000

# ---- in the stage image (RAM from 0x20000)
.section .text.entry, "ax"
.code64
.global rom_long_entry
rom_long_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rsp, offset __stack_top
    call rom_main
3:  hlt
    jmp 3b

.section .rodata.rom_gdt, "a"
.balign 8
# The GDT stage 2 hands the firmware: 0x08 64-bit code, 0x10 data (0x18 32-bit code for
# the jump into long mode above).
rom_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
    .quad 0x00CF9A000000FFFF
rom_gdt_desc:
    .word rom_gdt_desc - rom_gdt - 1
    .long rom_gdt
