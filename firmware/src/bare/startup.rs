//! Power-on: banner, the flash-boot window, then the monitor.
use core::fmt::Write;

use lifeboat_firmware::config::BootConfig;
use lifeboat_hal::bootinfo::{BootInfo, Medium};
use lifeboat_hal::timer;
use lifeboat_hal::uart::{Uart16550, UartEvent, COM1, COM2};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn run(bootinfo_addr: usize) -> ! {
    let tsc_khz = timer::init();
    lifeboat_hal::exceptions::init(super::entry::on_exception);
    // SAFETY: stage 2 passed this address in rdi; it and the configuration sector sit in
    // low memory (0x800, 0x7E00) that nothing else uses.
    let boot = unsafe { BootInfo::from_raw(bootinfo_addr) };
    let cfg = match &boot {
        Ok(b) => BootConfig::parse(b.config, |_| {}),
        Err(_) => BootConfig::default(),
    };
    // SAFETY: COM1 and COM2 exist on every PC-compatible and QEMU machine; these are the
    // only driver objects for them.
    let mut con = unsafe { Uart16550::new(COM1, cfg.baud) }.unwrap_or_else(|_| {
        // SAFETY: as above; 9600 is always a valid rate.
        unsafe { Uart16550::new(COM1, 9600) }.ok().unwrap()
    });
    // SAFETY: as above.
    let _com2 = unsafe { Uart16550::new(COM2, 115_200) };
    defmt::info!("lifeboat {=str} up, TSC {=u64} kHz", VERSION, tsc_khz);

    let _ = write!(con, "\r\nlifeboat recovery monitor {VERSION}\r\n");
    if let Ok(b) = &boot {
        let medium = match b.medium {
            Medium::Diskette => "diskette",
            Medium::UsbStick => "USB stick",
            Medium::Disk => "disk",
            Medium::Unknown(_) => "unknown medium",
        };
        let _ = write!(
            con,
            "Platform x86-64 PC, {} MiB RAM, booted from {} (drive {:#04x})\r\n",
            b.usable_ram() >> 20,
            medium,
            b.boot_drive
        );
    }
    let _ = write!(con, "\r\nUse BREAK or ESC to interrupt flash boot.\r\nUse SPACE to begin flash boot immediately.\r\n");
    loop {
        if let Some(ev) = con.try_read() {
            match ev {
                UartEvent::Byte(b) => {
                    let _ = write!(con, "[{b:02x}]");
                }
                UartEvent::Break => {
                    let _ = write!(con, "[BREAK]");
                }
            }
        }
    }
}
