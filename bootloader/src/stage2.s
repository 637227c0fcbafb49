# Stage 2, loaded at 0000:8000 by stage 1; DL = boot drive, DS = ES = SS = 0.
# Builds the boot-info block at 0x800, enables A20, enters long mode with the low
# 4 GiB identity-mapped, copies the packed firmware to 2 MiB and jumps to it (its unpack
# stage, unpack/, inflates the firmware to 1 MiB and starts it with the same rdi).
.section .stage2, "awx"
.code16
.global stage2_entry
stage2_entry:
    cld
    # ---- boot-info block at 0x800 (2 KiB, see layout.md); every {{name}} is a constant of
    # lifeboat_abi, passed by main.rs as a global_asm! const operand
    xor ax, ax
    mov di, {bi}
    mov cx, {bi_len} / 2
    rep stosw
    mov dword ptr [{bi} + {bi_magic_at}], {bi_magic}   # "LBOT"
    mov al, byte ptr [boot_drive]
    mov byte ptr [{bi} + {bi_drive_at}], al
    mov al, byte ptr [medium_kind]
    mov byte ptr [{bi} + {bi_medium_at}], al
    mov dword ptr [{bi} + {bi_config_addr_at}], {config_addr}  # configuration sector
    mov dword ptr [{bi} + {bi_config_len_at}], {config_len}
    mov eax, dword ptr [fw_size]
    mov dword ptr [{bi} + {bi_fw_size_at}], eax

    # ---- E820 memory map: up to 64 entries of 24 bytes at 0x820
    mov di, {bi} + {bi_e820_at}
    xor ebx, ebx
    xor bp, bp
e820_next:
    mov eax, 0xE820
    mov edx, 0x534D4150                     # "SMAP"
    mov ecx, {e820_entry_len}
    mov dword ptr [di + {e820_attr_at}], 1  # valid, if the BIOS returns only 20 bytes
    int 0x15
    jc e820_done
    cmp eax, 0x534D4150
    jne e820_done
    jcxz e820_skip
    inc bp
    add di, {e820_entry_len}
    cmp bp, {e820_max}
    jae e820_done
e820_skip:
    test ebx, ebx
    jnz e820_next
e820_done:
    mov word ptr [{bi} + {bi_e820_count_at}], bp
    mov si, offset msg_e820
    test bp, bp
    jz s2_fail

    # ---- A20: already on, else BIOS INT 15h AX=2401, else port 0x92
    call a20_on
    jne a20_done
    mov ax, 0x2401
    int 0x15
    call a20_on
    jne a20_done
    in al, 0x92
    or al, 2
    and al, 0xFE
    out 0x92, al
    call a20_on
    jne a20_done
    mov si, offset msg_a20
    jmp s2_fail
a20_done:

    # ---- long mode available?
    mov si, offset msg_lm
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb s2_fail
    mov eax, 0x80000001
    cpuid
    bt edx, 29
    jnc s2_fail

    # ---- page tables: PML4 0x1000, PDPT 0x2000, 4 PDs 0x3000-0x6FFF (2 MiB pages)
    xor ax, ax
    mov es, ax
    mov di, 0x1000
    mov cx, 0x3000
    rep stosw
    mov dword ptr [0x1000], 0x2003
    mov dword ptr [0x2000], 0x3003
    mov dword ptr [0x2008], 0x4003
    mov dword ptr [0x2010], 0x5003
    mov dword ptr [0x2018], 0x6003
    mov di, 0x3000
    mov eax, 0x83                           # present, writable, 2 MiB page
    mov cx, 2048
1:  mov dword ptr [di], eax
    add eax, 0x200000
    add di, 8
    loop 1b
    # 3-4 GiB (the PCI hole: BARs, pflash, APICs) uncached whatever the MTRRs say:
    # PCD | PWT on every entry of the fourth page directory.
    mov di, 0x6000
    mov cx, 512
2:  or dword ptr [di], 0x18
    add di, 8
    loop 2b

    # ---- straight from real mode to long mode
    cli
    mov al, 0xFF                            # mask both PICs: no IRQ before the IDT
    out 0xA1, al
    out 0x21, al
    lgdt [gdt_desc]
    mov eax, 0xA0                           # CR4.PAE | CR4.PGE
    mov cr4, eax
    mov eax, 0x1000
    mov cr3, eax
    mov ecx, 0xC0000080                     # EFER
    rdmsr
    or eax, 0x100                           # LME
    wrmsr
    mov eax, cr0
    or eax, 0x80000001                      # PG | PE
    mov cr0, eax
    .byte 0xEA                              # jmp 0x08:long_entry
    .word long_entry
    .word 0x08

# ZF clear when A20 is on: 0000:0500 and FFFF:0510 are different bytes.
a20_on:
    push ds
    push es
    xor ax, ax
    mov ds, ax
    not ax
    mov es, ax
    mov bl, byte ptr ds:[0x500]
    mov bh, byte ptr es:[0x510]
    mov byte ptr ds:[0x500], 0x00
    mov byte ptr es:[0x510], 0xFF
    mov al, byte ptr ds:[0x500]
    mov byte ptr es:[0x510], bh
    mov byte ptr ds:[0x500], bl
    cmp al, 0xFF
    pop es
    pop ds
    ret

s2_fail:
    jmp boot_fail

msg_e820:   .asciz "\r\nlifeboat: no E820 memory map\r\n"
msg_a20:    .asciz "\r\nlifeboat: cannot enable A20\r\n"
msg_lm:     .asciz "\r\nlifeboat: CPU has no long mode (x86-64 required)\r\n"

.balign 8
gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF                # 0x08: 64-bit code
    .quad 0x00CF92000000FFFF                # 0x10: data
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt

.code64
long_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov esp, {entry_stack}
    mov esi, dword ptr [fw_offset]
    add esi, 0x7C00
    mov ecx, dword ptr [fw_size]
    mov edi, {packed_base}                  # lifeboat_abi::memory::PACKED_BASE
    cld
    rep movsb
    mov edi, {bi}
    mov eax, {packed_base}
    jmp rax
