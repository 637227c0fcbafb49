//! The unit's flash at the console: the banner's `Flash=` line and the hidden `flashtest`.
use core::fmt::Write;

use lifeboat_firmware::monitor::flashtest;
use lifeboat_hal::flash::{self, ata::AtaError};
use lifeboat_hal::timer;
use lifeboat_hal::uart::Uart16550;

/// `Flash=<device>` or `Flash=none`; a candidate that answered but cannot be driven is named
/// in parentheses (not QEMU's default CD-ROM on the secondary master, which is no flash).
pub fn banner(con: &mut Uart16550) {
    let found = flash::probe_report();
    match &found.flash {
        Some(f) => {
            defmt::info!("flash found");
            let _ = write!(con, "Flash={f}\r\n");
        }
        None => {
            let _ = write!(con, "Flash=none");
            if let Some(e) = found.cfi_error {
                let _ = write!(con, " (CFI flash below the BIOS: {e})");
            }
            match found.ata_error {
                None | Some(AtaError::NotAta { .. }) => {}
                Some(e) => {
                    let _ = write!(con, " (ide1:0: {e})");
                }
            }
            let _ = write!(con, "\r\n");
        }
    }
}

/// `flashtest [KIB]`: erase, program and verify the start of the flash.
pub fn flashtest(con: &mut Uart16550, kib: Option<u32>) {
    let Some(mut flash) = flash::probe() else {
        let _ = write!(con, "flashtest: no flash found\r\n");
        return;
    };
    let mut name: heapless::String<96> = heapless::String::new();
    let _ = write!(name, "{flash}");
    let kib = kib.unwrap_or(
        (<flash::AnyFlash as embedded_storage::nor_flash::NorFlash>::ERASE_SIZE / 1024) as u32,
    );
    flashtest::run(&mut flash, &name, kib, timer::now_us, con);
}
