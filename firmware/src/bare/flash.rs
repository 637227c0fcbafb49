//! The unit's flash at the console (the banner's `Flash=` line, `flashtest`, `version`, the
//! install dialogue's keys) and the flash boot's hardware side: the RAM it may write, the
//! hand-off and the jump ([`boot_flash::flash_boot`] decides everything else).
use core::fmt::Write;

use lifeboat_abi::memory;
use lifeboat_firmware::boot::flash::{self as boot_flash, InRam, Launch, Machine, Ram};
use lifeboat_firmware::image::{Header, PayloadSums, HEADER_LEN};
use lifeboat_firmware::install::dialogue::{self, Key, Operator, Trust};
use lifeboat_firmware::install::Slots;
use lifeboat_firmware::monitor::flashtest;
use lifeboat_firmware::ram::{mapped_ram, RamRegion};
use lifeboat_firmware::tpm::log;
use lifeboat_hal::bootinfo::{write_handoff, BootInfo};
use lifeboat_hal::flash::{self, ata::AtaError};
use lifeboat_hal::timer;
use lifeboat_hal::uart::{Uart16550, UartEvent};

/// `Flash=<device>` or `Flash=none`; a candidate that answered but cannot be driven is named
/// in parentheses (not QEMU's default CD-ROM on the secondary master, which is no flash).
/// Returns the flash found, for [`power_on_records`].
pub fn banner(con: &mut Uart16550) -> Option<flash::AnyFlash> {
    let found = flash::probe_report();
    match &found.flash {
        Some(f) => {
            defmt::info!("flash found");
            let _ = write!(con, "Flash={f}");
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
            if let Some(e) = found.ahci_error {
                let _ = write!(con, " (AHCI: {e})");
            }
        }
    }
    // Also when pflash is used instead: an NVMe drive was fitted on purpose.
    if let Some(e) = found.nvme_error {
        let _ = write!(con, " (NVMe: {e})");
    }
    let _ = write!(con, "\r\n");
    found.flash
}

/// `flashtest [KIB] [pio]`: erase, program and verify the start of the flash.
pub fn flashtest(con: &mut Uart16550, kib: Option<u32>, pio: bool) {
    let Some(mut flash) = flash::probe() else {
        let _ = write!(con, "flashtest: no flash found\r\n");
        return;
    };
    if pio {
        if let flash::AnyFlash::Ata(card) = &mut flash {
            card.disable_dma();
        }
    }
    let mut name: heapless::String<96> = heapless::String::new();
    let _ = write!(name, "{flash}");
    flashtest::at_console(&mut Console(con), flash, &name, kib, timer::now_us);
}

fn slots(con: &mut Uart16550) -> Option<Slots<flash::AnyFlash>> {
    let Some(f) = flash::probe() else {
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

/// At power-on: the confirmation the image that ran last handed back (`hal::cmos`) and the
/// unit record ([`boot_flash::power_on`] decides). `found` is the flash the banner found;
/// `own_medium`: started from the unit's own disk, ROM or UEFI disk, not a diskette or stick.
pub fn power_on_records(
    con: &mut Uart16550,
    found: Option<flash::AnyFlash>,
    trust: &Trust<'_>,
    own_medium: bool,
) -> Result<Slots<flash::AnyFlash>, &'static str> {
    // Taken before anything else: once, so it is not seen again by a Boothelper.
    let token = lifeboat_hal::cmos::take_confirmation();
    boot_flash::power_on(found, trust, token, own_medium, con)
}

/// The console's side of the install dialogue: its keys and its clock (the questions and
/// "ESC or BREAK aborts" are the library's, [`Operator`]).
struct Console<'c>(&'c mut Uart16550);

impl Write for Console<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.write_str(s)
    }
}

impl Operator for Console<'_> {
    fn key(&mut self) -> Key {
        loop {
            match self.0.try_read() {
                Some(UartEvent::Byte(b)) => return Key::Byte(b),
                Some(UartEvent::Break) => return Key::Break,
                None => lifeboat_hal::cpu::idle(),
            }
        }
    }
    fn now_us(&mut self) -> u64 {
        timer::now_us()
    }
}

/// After a download: the install dialogue ([`dialogue::install_download`]) on the unit's
/// flash. True when installed.
pub fn install_download(
    con: &mut Uart16550,
    image: &[u8],
    sums: Option<PayloadSums>,
    scratch: &mut [u8],
    trust: &Trust<'_>,
) -> bool {
    let Some(mut s) = slots(con) else {
        return false;
    };
    dialogue::install_download(&mut s, &mut Console(con), image, sums, scratch, trust)
}

/// `version`: this firmware, the flash, each slot (judged by `trust`, as the flash boot
/// would), and the unit record.
pub fn version(con: &mut Uart16550, trust: &Trust<'_>) {
    let _ = write!(con, "lifeboat recovery monitor {}\r\n", super::VERSION);
    let Some(f) = flash::probe() else {
        let _ = write!(con, "Flash=none\r\n");
        return;
    };
    let _ = write!(con, "Flash={f}\r\n");
    match Slots::new(f) {
        Ok(mut s) => dialogue::version_report(&mut s, con, trust),
        Err(e) => {
            let _ = write!(con, "{e}\r\n");
        }
    }
}

/// The header of the image being started, where the payload can find it (`rsi`).
static mut BOOT_HEADER: [u8; HEADER_LEN] = [0; HEADER_LEN];

pub use lifeboat_firmware::boot::LINUX_STAGING;

/// The RAM an image may be placed in (usable, below the identity map's end) and the
/// firmware, from 1 MiB to the top of its stack, which stays in use until the jump: made
/// once at start-up for [`Trust`].
pub fn boot_ram(bootinfo: Option<&BootInfo>) -> (heapless::Vec<RamRegion, 64>, RamRegion) {
    let ram = mapped_ram(
        bootinfo
            .map(|b| b.memory_map())
            .unwrap_or_default()
            .iter()
            .map(|r| (r.base, r.len, r.kind)),
    );
    let base = lifeboat_abi::memory::FIRMWARE_BASE;
    let firmware = RamRegion {
        base,
        len: lifeboat_hal::bootinfo::firmware_end().saturating_sub(base),
    };
    (ram, firmware)
}

/// The RAM a flash boot may write: usable RAM below the identity map's end, clear of the
/// firmware (from 1 MiB to the top of its stack), and the conventional memory the zero page
/// and the command line go to (below the EBDA, unused by anything of ours).
struct BootRam<'a> {
    ram: &'a [RamRegion],
    firmware: RamRegion,
}

impl BootRam<'_> {
    fn may_write(&self, base: u64, len: usize) -> bool {
        boot_flash::may_write(self.ram, self.firmware, base, len)
    }
}

impl Ram for BootRam<'_> {
    fn slice(&mut self, base: u64, len: usize) -> Option<&mut [u8]> {
        // SAFETY: `may_write` admits only usable RAM below 4 GiB (identity-mapped) clear of
        // the firmware, its stack and .bss (the NIC rings), or the low area above; no
        // reference to the download buffer lives meanwhile (the monitor's `boot` hands it
        // over as an address, [`boot_now`]), and the slice borrows `self`, so no other
        // slice made here lives at the same time.
        self.may_write(base, len)
            .then(|| unsafe { lifeboat_hal::jump::ram(base, len) })
    }

    fn copy(&mut self, from: u64, to: u64, len: usize) -> bool {
        if !(self.may_write(from, len) && self.may_write(to, len)) {
            return false;
        }
        // SAFETY: both ranges are RAM as in `slice`; the library's plan keeps them apart
        // (`copy` is only for the kernel and initrd leaving the staging area).
        unsafe { core::ptr::copy(from as *const u8, to as *mut u8, len) };
        true
    }
}

/// Flash boot (the caller has stopped every NIC): [`boot_flash::flash_boot`] decides, loads
/// and lays out; this writes the hand-off and jumps. Returns (to the monitor) when there is
/// nothing to start, the line saying why already printed.
pub fn boot(
    con: &mut Uart16550,
    unit: Result<Slots<flash::AnyFlash>, &'static str>,
    bootinfo: Option<&BootInfo>,
    bootinfo_addr: usize,
    trust: &Trust<'_>,
    tpm: (&mut Option<super::tpm::Tpm>, bool),
) {
    boot_with(con, unit, None, bootinfo, bootinfo_addr, trust, tpm)
}

/// The monitor's `boot` (the caller has stopped every NIC and holds no reference to the
/// download buffer): the flash boot now, without a reset; `installed`, the image the last
/// command installed, still in the download buffer, starts from there
/// ([`boot_flash::start_installed`]). Returns (to the monitor) when there is nothing to
/// start, the line saying why already printed.
pub fn boot_now(
    con: &mut Uart16550,
    installed: Option<InRam>,
    bootinfo: Option<&BootInfo>,
    bootinfo_addr: usize,
    trust: &Trust<'_>,
    tpm: (&mut Option<super::tpm::Tpm>, bool),
) {
    // The power-on records were taken at power-on; this only opens the slots.
    let unit = boot_flash::power_on(flash::probe(), trust, None, false, con);
    boot_with(con, unit, installed, bootinfo, bootinfo_addr, trust, tpm)
}

fn boot_with(
    con: &mut Uart16550,
    unit: Result<Slots<flash::AnyFlash>, &'static str>,
    installed: Option<InRam>,
    bootinfo: Option<&BootInfo>,
    bootinfo_addr: usize,
    trust: &Trust<'_>,
    tpm: (&mut Option<super::tpm::Tpm>, bool),
) {
    let e820: heapless::Vec<(u64, u64, u32), 64> = bootinfo
        .map(|b| {
            b.memory_map()
                .iter()
                .map(|r| (r.base, r.len, r.kind))
                .collect()
        })
        .unwrap_or_default();
    let machine = Machine {
        e820: &e820,
        rsdp: bootinfo.map_or(0, |b| b.rsdp),
    };
    let mut ram = BootRam {
        ram: trust.ram,
        firmware: trust.firmware,
    };
    let launch = match installed {
        Some(i) => boot_flash::start_installed(unit, i, trust, machine, &mut ram, con),
        None => boot_flash::flash_boot(unit, trust, machine, &mut ram, con),
    };
    let Some(launch) = launch else {
        return;
    };
    let (handoff, header) = match &launch {
        Launch::Flat64 {
            handoff, header, ..
        }
        | Launch::Linux {
            handoff, header, ..
        } => (*handoff, *header),
    };
    // Measured before it starts: the configuration, the command line, the image.
    let Ok(h) = Header::new_checked(&header[..]) else {
        // Not reached: flash_boot verified this header.
        let _ = write!(
            con,
            "Flash boot: the header does not parse; entering the monitor.\r\n"
        );
        return;
    };
    let mut what: heapless::String<48> = heapless::String::new();
    let _ = write!(what, "lifeboat image {}", h.version());
    let mut payload_sha256 = [0u8; 32];
    payload_sha256.copy_from_slice(h.sha256());
    let m = log::Measurement {
        config: bootinfo.map_or(&[][..], |b| b.config),
        cmdline: h.cmdline().as_bytes(),
        payload_sha256,
        what: &what,
    };
    let mut event_log = log::EventLog::new();
    let (tpm, required) = tpm;
    if !super::tpm::measure(con, tpm, &m, &mut event_log, required) {
        return;
    }
    // A kernel finds lifeboat's entries in the ACPI TPM2 table's log area.
    if let (Launch::Linux { .. }, true) = (&launch, tpm.is_some()) {
        if !super::tpm::acpi_log(machine.rsdp, &event_log, trust.ram) {
            let _ = write!(
                con,
                "Warning: no ACPI TPM2 log area takes the SHA-256 event log\r\n"
            );
        }
    }
    // A flat64 image finds the log in low memory (where a kernel's zero page would go).
    let mut logged = (0, 0);
    if let (Launch::Flat64 { .. }, true) = (&launch, tpm.is_some()) {
        let bytes = event_log.bytes();
        if let Some(dst) = ram.slice(memory::EVENT_LOG, bytes.len().min(memory::EVENT_LOG_MAX)) {
            dst.copy_from_slice(&bytes[..dst.len()]);
            logged = (memory::EVENT_LOG as u32, dst.len() as u32);
        }
    }
    // SAFETY: bootinfo_addr is the block stage 2 wrote; the hand-off bytes are unused by it.
    unsafe { write_handoff(&handoff, bootinfo_addr) };
    // SAFETY: as above (the event log's field is unused by the entry too).
    unsafe { lifeboat_hal::bootinfo::write_event_log(bootinfo_addr, logged.0, logged.1) };
    // The operator sees the whole line before the image takes the UART.
    con.flush();
    match launch {
        Launch::Flat64 {
            entry,
            stack,
            header,
            ..
        } => {
            // SAFETY: single-threaded start-up; nothing else refers to BOOT_HEADER.
            let header_addr = unsafe {
                let p = core::ptr::addr_of_mut!(BOOT_HEADER);
                (*p).copy_from_slice(&header);
                p as u64
            };
            // SAFETY: flash_boot copied the payload to its load address and verified it
            // (CRC-32, SHA-256, the unit's policy); entry lies inside it; the stack goes
            // below the load address, above the firmware (placement kept the payload clear
            // of it); no NIC is running (the caller stopped it before the flash boot).
            unsafe {
                lifeboat_hal::jump::enter_flat64(entry, bootinfo_addr as u64, header_addr, stack)
            }
        }
        Launch::Linux {
            entry, zero_page, ..
        } => {
            // SAFETY: flash_boot put the kernel's init_size and the initrd in usable RAM
            // clear of the firmware, the command line and the zero page in low memory, all
            // verified; no NIC runs.
            unsafe { lifeboat_hal::jump::enter_linux64(entry, zero_page) }
        }
    }
}
