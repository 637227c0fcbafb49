//! The unit's flash at the console: the banner's `Flash=` line and the hidden `flashtest`.
use core::fmt::Write;

use lifeboat_firmware::image::{verify, Header, Policy, Verdict, Version, PLATFORM};
use lifeboat_firmware::install::{Slots, State};
use lifeboat_firmware::monitor::flashtest;
use lifeboat_firmware::recovery::Question;
use lifeboat_hal::flash::{self, ata::AtaError};
use lifeboat_hal::timer;
use lifeboat_hal::uart::{Uart16550, UartEvent};

/// `Flash=<device>` or `Flash=none`; a candidate that answered but cannot be driven is named
/// in parentheses (not QEMU's default CD-ROM on the secondary master, which is no flash).
pub fn banner(con: &mut Uart16550) {
    let found = flash::probe();
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
    let Some(mut flash) = flash::probe().flash else {
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

/// The oldest image version this unit installs (the PIX refused anything below 4.4).
const INSTALL_FLOOR: Version = Version::new(1, 0, 0);
/// Progress mark every this many bytes written.
const INSTALL_DOT: u64 = 256 * 1024;

/// Asks a yes/no question on the console; ESC or BREAK answers no.
fn ask(con: &mut Uart16550, text: &'static str, default: bool) -> bool {
    let mut q = Question::ask(text, default, con);
    loop {
        match con.try_read() {
            Some(UartEvent::Byte(0x1B)) | Some(UartEvent::Break) => {
                let _ = write!(con, "\r\n");
                return false;
            }
            Some(UartEvent::Byte(b)) => {
                if let Some(a) = q.feed(b, con) {
                    return a;
                }
            }
            None => lifeboat_hal::cpu::idle(),
        }
    }
}

fn slots(con: &mut Uart16550) -> Option<Slots<flash::AnyFlash>> {
    let Some(f) = flash::probe().flash else {
        let _ = write!(con, "No flash found in this unit; nothing installed.\r\n");
        return None;
    };
    match Slots::new(f) {
        Ok(s) => Some(s),
        Err(e) => {
            let _ = write!(con, "Flash: {e}\r\n");
            None
        }
    }
}

fn installed_version(s: &mut Slots<flash::AnyFlash>) -> Option<Version> {
    let slot = s.bootable().ok()??;
    let h = s.header(slot).ok()??;
    Header::new_checked(&h[..]).ok().map(|h| h.version())
}

/// After a download: verify the image, say what is installed and what would be, ask where
/// needed (a downgrade; always in Boothelper mode), write it to the inactive slot, read it
/// back, select it. A refused image leaves the flash untouched. True when installed.
pub fn install_download(
    con: &mut Uart16550,
    image: &[u8],
    boothelper: bool,
    public_key: Option<&[u8; 32]>,
) -> bool {
    let Some(mut s) = slots(con) else {
        return false;
    };
    let installed = installed_version(&mut s);
    let policy = Policy {
        platform: PLATFORM,
        floor: INSTALL_FLOOR,
        installed,
        public_key,
    };
    let (header, verdict) = match verify(image, &policy) {
        Ok(v) => v,
        Err(e) => {
            let _ = write!(con, "{e}\r\nNothing was written to flash.\r\n");
            return false;
        }
    };
    let new = header.version();
    match installed {
        Some(v) => {
            let _ = write!(con, "Flash version {v}, Install version {new}\r\n");
        }
        None => {
            let _ = write!(con, "Flash version none, Install version {new}\r\n");
        }
    }
    if let Verdict::Downgrade { .. } = verdict {
        if !ask(
            con,
            "This is older than the installed image. Install it anyway?",
            false,
        ) {
            let _ = write!(con, "Nothing was written to flash.\r\n");
            return false;
        }
    }
    if boothelper && !ask(con, "Do you wish to copy the image to flash?", false) {
        let _ = write!(con, "Nothing was written to flash.\r\n");
        return false;
    }
    let _ = write!(con, "Installing to flash");
    let t0 = timer::now_us();
    let mut dots = 0u64;
    let r = s.install(image, |done, _| {
        while done >= (dots + 1) * INSTALL_DOT {
            dots += 1;
            let _ = write!(con, ".");
        }
    });
    let ms = (timer::now_us() - t0) / 1000;
    match r {
        Ok(slot) => {
            let _ = write!(
                con,
                "\r\nInstalled {new} in slot {slot} ({} bytes, read back and verified) in {}.{:03} s\r\n",
                image.len(),
                ms / 1000,
                ms % 1000
            );
            true
        }
        Err(e) => {
            let _ = write!(con, "\r\nInstall failed: {e}\r\n");
            false
        }
    }
}

/// `version`: this firmware, the flash, and each slot.
pub fn version(con: &mut Uart16550) {
    let _ = write!(
        con,
        "lifeboat recovery monitor {}\r\n",
        super::startup::VERSION
    );
    let Some(f) = flash::probe().flash else {
        let _ = write!(con, "Flash=none\r\n");
        return;
    };
    let _ = write!(con, "Flash={f}\r\n");
    let mut s = match Slots::new(f) {
        Ok(s) => s,
        Err(e) => {
            let _ = write!(con, "{e}\r\n");
            return;
        }
    };
    let boot = s.bootable().ok().flatten();
    match s.list() {
        Ok(list) => {
            for i in list {
                let _ = write!(con, "Slot {}: ", i.slot);
                match i.image {
                    Some((v, len)) => {
                        let _ = write!(con, "{v}, {len} bytes");
                        if let Ok(Err(e)) = s.check(i.slot) {
                            let _ = write!(con, ", does not verify: {e}");
                        }
                    }
                    None => {
                        let _ = write!(con, "empty");
                    }
                }
                match i.selected {
                    Some(State::Confirmed) => {
                        let _ = write!(con, ", selected");
                    }
                    Some(State::New { boots_left }) => {
                        let _ = write!(con, ", selected (new, {boots_left} boots to confirm)");
                    }
                    None => {}
                }
                if boot == Some(i.slot) {
                    let _ = write!(con, ", boots next");
                }
                let _ = write!(con, "\r\n");
            }
        }
        Err(e) => {
            let _ = write!(con, "Flash: {e}\r\n");
        }
    }
}
