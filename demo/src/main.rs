//! The demo `flat64` payload that `media` packs into `demo-image.bin`: entered per the
//! flat64 contract (`firmware/src/image.rs`: long mode, identity map, `rdi` = boot-info,
//! `rsi` = its image header), it prints `demo image <version> running` on COM1, the version
//! read from its own header, confirms the boot (`hal::cmos`, with the token from the boot-info hand-off) unless its header's command
//! line is `noconfirm`, and halts. Measured by the firmware (a TPM present), it first prints
//! the event log it was handed (hex, 32 bytes a line) and the SHA-256 PCRs 8 and 9 it reads
//! from the TPM itself, for a verifier to replay the one and compare with the other.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod bare {
    use core::fmt::Write;

    use lifeboat_hal::uart::{RawTx, COM1};

    core::arch::global_asm!(
        ".section .text.entry, \"ax\"",
        ".global _start",
        "_start:",
        "    and rsp, -16",
        "    call {main}",
        "2:  hlt",
        "    jmp 2b",
        main = sym demo_main,
    );

    /// Writes into a fixed buffer (no allocation).
    struct Line {
        buf: [u8; 96],
        len: usize,
    }

    impl Write for Line {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.len + s.len();
            self.buf
                .get_mut(self.len..end)
                .ok_or(core::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    /// Formats one line into a fixed buffer and writes it to COM1.
    fn say(args: core::fmt::Arguments<'_>) {
        let mut line = Line {
            buf: [0; 96],
            len: 0,
        };
        let _ = line.write_fmt(args);
        RawTx(COM1).write_bytes(&line.buf[..line.len]);
    }

    extern "C" fn demo_main(boot_info: u64, header: u64) -> ! {
        // The version at bytes 24..28 of the header (major, minor, maintenance u16 LE).
        let v = if header == 0 {
            [0u8; 4]
        } else {
            // SAFETY-free: the loader hands over the address of its 320-byte header copy;
            // reading it through a volatile pointer needs unsafe, so hal's helper does it.
            lifeboat_hal::jump::read_header_version(header)
        };
        say(format_args!(
            "demo image {}.{}({}) running\r\n",
            v[0],
            v[1],
            u16::from_le_bytes([v[2], v[3]])
        ));
        // SAFETY: `boot_info` is the rdi the firmware entered us with (its boot-info block).
        let handoff = unsafe { lifeboat_hal::bootinfo::read_handoff(boot_info as usize) };
        // SAFETY: as above.
        let event_log = unsafe { lifeboat_hal::bootinfo::read_event_log(boot_info as usize) };
        if let Some((addr, len)) = event_log {
            measured(addr, len);
        }
        if let Some(a) = handoff.and_then(|h| h.activation) {
            say(format_args!(
                "demo image: activation key {:#010x} {:#010x} {:#010x} {:#010x}\r\n",
                a[0], a[1], a[2], a[3]
            ));
        }
        // It runs: confirm, unless its header's command line says `noconfirm` (the image
        // the rollback test installs).
        if header != 0 && !lifeboat_hal::jump::header_says_noconfirm(header) {
            match handoff {
                Some(h) => {
                    lifeboat_hal::cmos::confirm_boot(h.token);
                    RawTx(COM1).write_bytes(b"demo image: boot confirmed\r\n");
                }
                None => RawTx(COM1).write_bytes(b"demo image: no hand-off; cannot confirm\r\n"),
            }
        }
        x86_64::instructions::interrupts::disable();
        loop {
            x86_64::instructions::hlt();
        }
    }

    /// The event log (in low memory the firmware wrote) and PCRs 8 and 9, as the TPM says.
    fn measured(addr: u32, len: u32) {
        // SAFETY: the firmware wrote `len` (at most 4 KiB) bytes of log at `addr` in
        // conventional memory nothing else uses, identity-mapped, just before the jump.
        let log = unsafe { lifeboat_hal::jump::ram(addr.into(), len as usize) };
        say(format_args!("demo image: event log {len} bytes\r\n"));
        for chunk in log.chunks(32) {
            let mut line = Line {
                buf: [0; 96],
                len: 0,
            };
            let _ = line.write_str("demo image: log ");
            for b in chunk {
                let _ = write!(line, "{b:02x}");
            }
            let _ = line.write_str("\r\n");
            RawTx(COM1).write_bytes(&line.buf[..line.len]);
        }
        // TPM2_PCR_Read of SHA-256 PCRs 8 and 9; the values end the response.
        const PCR_READ: [u8; 20] = [
            0x80, 0x01, 0, 0, 0, 0x14, 0, 0, 0x01, 0x7E, 0, 0, 0, 1, 0, 0x0B, 3, 0, 3, 0,
        ];
        let mut rsp = [0u8; 128];
        // SAFETY: the TPM's window; nothing else of ours drives it (the firmware is gone).
        let r = unsafe { lifeboat_hal::tpm::Tis::probe() }
            .and_then(|mut t| t.transact(&PCR_READ, &mut rsp));
        match r {
            Ok(n) if n >= 10 + 68 && rsp[6..10] == [0; 4] => {
                for (i, pcr) in [8, 9].iter().enumerate() {
                    let v = &rsp[n - 68 + 34 * i + 2..n - 68 + 34 * (i + 1)];
                    let mut line = Line {
                        buf: [0; 96],
                        len: 0,
                    };
                    let _ = write!(line, "demo image: PCR {pcr} sha256 ");
                    for b in v {
                        let _ = write!(line, "{b:02x}");
                    }
                    let _ = line.write_str("\r\n");
                    RawTx(COM1).write_bytes(&line.buf[..line.len]);
                }
            }
            _ => RawTx(COM1).write_bytes(b"demo image: cannot read the PCRs\r\n"),
        }
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        RawTx(COM1).write_bytes(b"demo image: panic\r\n");
        loop {
            x86_64::instructions::hlt();
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("lifeboat-demo is a bare-metal payload; `cargo run --release -- media` packs it");
}
