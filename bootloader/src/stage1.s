# Stage 1: the boot sector, loaded by the BIOS at 0000:7C00 with DL = boot drive.
# Loads `load_sectors` sectors starting at LBA 1 to 0000:7E00 and jumps to stage 2.
# The host media builder patches the fields at offset 0x1A0 (see layout.md).
.section .stage1, "awx"
.code16
.global stage1_start
stage1_start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    # far jump to 0000:s1_go to normalise CS (some BIOSes enter at 07C0:0000)
    .byte 0xEA
    .word s1_go
    .word 0
s1_go:
    sti
    cld
    mov byte ptr [boot_drive], dl
    # COM1 9600 8N1 through the BIOS, so that a failure can be reported there.
    mov ax, 0x00E3
    xor dx, dx
    int 0x14

s1_load:
    mov cx, word ptr [sectors_left]
    test cx, cx
    jz s1_loaded
    cmp byte ptr [boot_drive], 0x80
    jae s1_lba

    # ---- diskette: CHS, 18 sectors/track, 2 heads; never cross a 64 KiB boundary
    mov ax, word ptr [lba]
    xor dx, dx
    mov bx, 18
    div bx                      # ax = track, dx = sector index in track
    sub bx, dx                  # sectors left on this track
    cmp cx, bx
    jbe 1f
    mov cx, bx
1:  mov bx, word ptr [dest_seg]
    shl bx, 4
    neg bx                      # bytes to the next 64 KiB boundary (0 = 64 KiB)
    shr bx, 9                   # sectors (0 = 128)
    jz 2f
    cmp cx, bx
    jbe 2f
    mov cx, bx
2:  mov word ptr [count], cx
    inc dl                      # sector number is 1-based
    mov cl, dl
    mov dh, al
    and dh, 1                   # head = track & 1
    shr ax, 1                   # cylinder = track / 2
    mov ch, al
    shl ah, 6
    or cl, ah                   # cylinder bits 8-9 into CL bits 6-7
    mov si, 3                   # tries
3:  mov es, word ptr [dest_seg]
    xor bx, bx
    mov al, byte ptr [count]
    mov ah, 0x02
    mov dl, byte ptr [boot_drive]
    push cx
    push dx
    int 0x13
    pop dx
    pop cx
    jnc s1_advance
    xor ax, ax                  # reset the controller and try again
    mov dl, byte ptr [boot_drive]
    int 0x13
    dec si
    jnz 3b
    jmp s1_read_error

    # ---- USB stick / disk: INT 13h AH=42h with a disk address packet
s1_lba:
    cmp cx, 64
    jbe 4f
    mov cx, 64
4:  mov word ptr [count], cx
    mov si, 3
    # The BIOS writes back how many blocks it moved when a read fails (often 0), so
    # the packet is rebuilt for every try: a retry of "0 sectors" would "succeed".
5:  mov ax, word ptr [count]
    mov word ptr [dap_count], ax
    mov ax, word ptr [dest_seg]
    mov word ptr [dap_seg], ax
    mov ax, word ptr [lba]
    mov word ptr [dap_lba], ax
    push si
    mov si, offset dap
    mov ah, 0x42
    mov dl, byte ptr [boot_drive]
    int 0x13
    pop si
    jnc s1_advance
    dec si
    jnz 5b
    jmp s1_read_error

s1_advance:
    mov ax, word ptr [count]
    add word ptr [lba], ax
    sub word ptr [sectors_left], ax
    shl ax, 5                   # 512 bytes = 32 paragraphs
    add word ptr [dest_seg], ax
    jmp s1_load

s1_loaded:
    xor ax, ax
    mov es, ax
    mov dl, byte ptr [boot_drive]
    jmp stage2_entry

s1_read_error:
    mov si, offset msg_read
.global boot_fail
# Print the NUL-terminated string at DS:SI on screen and COM1, then halt.
boot_fail:
    call boot_print
1:  cli
    hlt
    jmp 1b

.global boot_print
# Print the NUL-terminated string at DS:SI on screen (INT 10h) and COM1 (INT 14h).
boot_print:
    lodsb
    test al, al
    jz 2f
    push ax
    mov ah, 0x0E
    xor bx, bx
    int 0x10
    pop ax
    mov ah, 0x01
    xor dx, dx
    int 0x14
    jmp boot_print
2:  ret

msg_read:   .asciz "\r\nlifeboat: boot medium read error\r\n"

.balign 4
dap:        .byte 0x10, 0
dap_count:  .word 0
dap_off:    .word 0
dap_seg:    .word 0
dap_lba:    .quad 0
lba:        .word 1
dest_seg:   .word 0x07E0
count:      .word 0

# ---- fields patched by the media builder: each placed at its lifeboat_abi::stage1 offset
# (`.org` cannot move back, so a field that grew past the next one fails the build)
.org {params}
.global boot_params
boot_params:
            .ascii "LBT1"               # 0x1A0 magic
.org {params} + {p_sectors}
sectors_left: .word 0                   # 0x1A4 sectors to load after LBA 0
.org {params} + {p_medium}
.global medium_kind
medium_kind: .byte 0                    # 0x1A6 1 = diskette, 2 = USB stick, 3 = disk
.org {params} + {p_drive}
.global boot_drive
boot_drive: .byte 0                     # 0x1A7 DL from the BIOS (filled at run time)
.org {params} + {p_fw_offset}
.global fw_offset
fw_offset:  .long 0                     # 0x1A8 byte offset of the firmware on the medium
.org {params} + {p_fw_size}
.global fw_size
fw_size:    .long 0                     # 0x1AC firmware size in bytes
.org 0x1FE
            .byte 0x55, 0xAA
.code64
