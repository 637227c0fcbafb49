//! Launch mechanics against a 512-byte boot-sector stub, independent of the real firmware.
//!
//! The stub sets COM1 to 9600 8N1, prints `stub ready`, echoes every byte, prints `<BREAK>` when
//! the UART reports a break (LSR.BI), and on `q` writes 0x21 to isa-debug-exit (exit code 0x43).
//! Source (`as --32` + `ld -m elf_i386 -Ttext 0x7c00 --oformat binary`):
//!
//! ```text
//! .code16
//! .globl _start
//! _start:
//!   cli
//!   xor %ax,%ax
//!   mov %ax,%ds
//!   mov %ax,%ss
//!   mov $0x7c00,%sp
//!   mov $0x3fb,%dx
//!   mov $0x80,%al
//!   out %al,%dx
//!   mov $0x3f8,%dx
//!   mov $12,%al
//!   out %al,%dx
//!   mov $0x3f9,%dx
//!   xor %al,%al
//!   out %al,%dx
//!   mov $0x3fb,%dx
//!   mov $0x03,%al
//!   out %al,%dx
//!   mov $msg,%si
//!   call puts
//! poll:
//!   mov $0x3fd,%dx
//!   in %dx,%al
//!   test $0x10,%al
//!   jnz brk
//!   test $0x01,%al
//!   jz poll
//!   mov $0x3f8,%dx
//!   in %dx,%al
//!   cmp $'q',%al
//!   je quit
//!   call putc
//!   jmp poll
//! brk:
//!   mov $0x3f8,%dx
//!   in %dx,%al
//!   mov $bmsg,%si
//!   call puts
//!   jmp poll
//! quit:
//!   mov $0xf4,%dx
//!   mov $0x21,%al
//!   out %al,%dx
//!   hlt
//! putc:
//!   push %ax
//! 1:
//!   mov $0x3fd,%dx
//!   in %dx,%al
//!   test $0x20,%al
//!   jz 1b
//!   pop %ax
//!   mov $0x3f8,%dx
//!   out %al,%dx
//!   ret
//! puts:
//!   lodsb
//!   test %al,%al
//!   jz 2f
//!   call putc
//!   jmp puts
//! 2:
//!   ret
//! msg: .asciz "stub ready\r\n"
//! bmsg: .asciz "<BREAK>\r\n"
//! .org 510
//! .word 0xaa55
//! ```

use std::path::PathBuf;
use std::time::Duration;

use lifeboat_qemu::{LaunchError, Machine, Medium, Qemu};

const STUB: &[u8] = &[
    0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xd0, 0xbc, 0x00, 0x7c, 0xba, 0xfb, 0x03, 0xb0, 0x80, 0xee,
    0xba, 0xf8, 0x03, 0xb0, 0x0c, 0xee, 0xba, 0xf9, 0x03, 0x30, 0xc0, 0xee, 0xba, 0xfb, 0x03, 0xb0,
    0x03, 0xee, 0xbe, 0x6e, 0x7c, 0xe8, 0x3b, 0x00, 0xba, 0xfd, 0x03, 0xec, 0xa8, 0x10, 0x75, 0x11,
    0xa8, 0x01, 0x74, 0xf4, 0xba, 0xf8, 0x03, 0xec, 0x3c, 0x71, 0x74, 0x11, 0xe8, 0x15, 0x00, 0xeb,
    0xe7, 0xba, 0xf8, 0x03, 0xec, 0xbe, 0x7b, 0x7c, 0xe8, 0x18, 0x00, 0xeb, 0xdb, 0xba, 0xf4, 0x00,
    0xb0, 0x21, 0xee, 0xf4, 0x50, 0xba, 0xfd, 0x03, 0xec, 0xa8, 0x20, 0x74, 0xf8, 0x58, 0xba, 0xf8,
    0x03, 0xee, 0xc3, 0xac, 0x84, 0xc0, 0x74, 0x05, 0xe8, 0xe9, 0xff, 0xeb, 0xf6, 0xc3, 0x73, 0x74,
    0x75, 0x62, 0x20, 0x72, 0x65, 0x61, 0x64, 0x79, 0x0d, 0x0a, 0x00, 0x3c, 0x42, 0x52, 0x45, 0x41,
    0x4b, 0x3e, 0x0d, 0x0a, 0x00,
];

const FLOPPY_BYTES: usize = 1_474_560;

fn stub_floppy(name: &str) -> PathBuf {
    let mut image = vec![0u8; FLOPPY_BYTES];
    image[..STUB.len()].copy_from_slice(STUB);
    image[510] = 0x55;
    image[511] = 0xaa;
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, image).expect("writing stub floppy");
    path
}

const T: Duration = Duration::from_secs(20);

#[test]
fn console_echo_break_qmp_and_debug_exit() {
    let image = stub_floppy("stub-echo.img");
    let mut q = Qemu::launch(&Machine::new(Medium::Floppy, &image)).unwrap();
    q.expect("stub ready\r\n", T).unwrap();

    q.send(b"hello").unwrap();
    q.expect("hello", T).unwrap();
    q.type_slow("xyz", Duration::from_millis(5)).unwrap();
    q.expect("xyz", T).unwrap();

    q.send_break().unwrap();
    q.expect("<BREAK>", T).unwrap();

    let status = q.qmp(r#"{"execute":"query-status"}"#).unwrap();
    assert_eq!(status["status"], "running", "{status}");
    assert!(q.qmp(r#"{"execute":"no-such-command"}"#).is_err());

    // Text after the cursor only: "hello" was consumed.
    let e = q.expect("hello", Duration::from_millis(200)).unwrap_err();
    assert!(!e.closed());
    assert!(e.tail().contains("<BREAK>"), "{e}");

    q.send(b"q").unwrap();
    assert_eq!(q.wait_exit(T), Some((0x21 << 1) | 1));
    let e = q.expect("never", T).unwrap_err();
    assert!(e.closed(), "{e}");
    assert!(q.transcript().starts_with("stub ready\r\nhelloxyz<BREAK>"));
}

#[test]
fn reset_reboots_and_is_seen_as_a_qmp_event() {
    let image = stub_floppy("stub-reset.img");
    let mut q = Qemu::launch(&Machine::new(Medium::Floppy, &image)).unwrap();
    q.expect("stub ready", T).unwrap();
    q.qmp(r#"{"execute":"system_reset"}"#).unwrap();
    q.expect("stub ready", T).unwrap();
    assert!(q.qmp_events().iter().any(|e| e["event"] == "RESET"));
}

#[test]
fn missing_image_fails_launch_with_qemu_stderr() {
    let m = Machine::new(Medium::Floppy, "/nonexistent/lifeboat-floppy.img");
    match Qemu::launch(&m) {
        Err(LaunchError::Exited { stderr, .. }) => {
            assert!(stderr.contains("lifeboat-floppy.img"), "{stderr}")
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("launch succeeded without an image"),
    }
}
