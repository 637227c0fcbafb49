//! The unit's flash at the console: the banner's `Flash=` line and the hidden `flashtest`.
use core::fmt::Write;

use lifeboat_firmware::boot::{linux, mapped_ram, placement, RamRegion};
use lifeboat_firmware::image::{Header, Kind, Refusal, HEADER_LEN, PLATFORM};
use lifeboat_firmware::install::dialogue::{self, Operator, Trust, INSTALL_FLOOR};
use lifeboat_firmware::install::{BootPolicy, Slot, Slots};
use lifeboat_firmware::monitor::flashtest;
use lifeboat_firmware::recovery::{ActivationKey, ActivationPrompt, Question};
use lifeboat_hal::bootinfo::{BootInfo, Handoff};
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
            if let Some(e) = found.ahci_error {
                let _ = write!(con, " (AHCI: {e})");
            }
            let _ = write!(con, "\r\n");
        }
    }
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
    let kib = kib.unwrap_or(
        (<flash::AnyFlash as embedded_storage::nor_flash::NorFlash>::ERASE_SIZE / 1024) as u32,
    );
    let _ = write!(
        con,
        "flashtest erases the first {kib} KiB of {name}: the slot records and the unit record are there, so the unit may forget which image to boot, its floor and its activation key.\r\n"
    );
    if !ask(con, "Erase them?", false) {
        let _ = write!(con, "flashtest: nothing was erased.\r\n");
        return;
    }
    flashtest::run(&mut flash, &name, kib, timer::now_us, con);
}

/// Feeds console bytes to `feed` until it has an answer; ESC or BREAK gives `None`.
fn answer<T>(
    con: &mut Uart16550,
    mut feed: impl FnMut(u8, &mut Uart16550) -> Option<T>,
) -> Option<T> {
    loop {
        match con.try_read() {
            Some(UartEvent::Byte(0x1B)) | Some(UartEvent::Break) => {
                let _ = write!(con, "\r\n");
                return None;
            }
            Some(UartEvent::Byte(b)) => {
                if let Some(a) = feed(b, con) {
                    return Some(a);
                }
            }
            None => lifeboat_hal::cpu::idle(),
        }
    }
}

/// Asks a yes/no question on the console; ESC or BREAK answers no.
fn ask(con: &mut Uart16550, text: &'static str, default: bool) -> bool {
    let mut q = Question::ask(text, default, con);
    answer(con, |b, con| q.feed(b, con)).unwrap_or(false)
}

/// Asks for the activation key: `Some(None)` keeps the current one; ESC or BREAK: `None`.
fn ask_activation(
    con: &mut Uart16550,
    current: Option<ActivationKey>,
) -> Option<Option<ActivationKey>> {
    let mut p = ActivationPrompt::ask(current, con);
    answer(con, |b, con| p.feed(b, con))
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

/// At power-on, in the unit's own firmware (monitor mode) only: record the confirmation
/// the image that ran last handed back (`hal::cmos`; taken once, so it is recorded even when
/// the operator then stops in the monitor), and keep the unit record's key equal to the
/// firmware's own, so a Boothelper can refuse early what the unit's flash boot would refuse
/// anyway. Writes the flash only when something changes. A Boothelper leaves both alone.
/// `found` is the flash the banner found; returns the unit's slots on it for the flash boot,
/// or why there are none.
pub fn power_on_records(
    con: &mut Uart16550,
    found: Option<flash::AnyFlash>,
    trust: &Trust<'_>,
) -> Result<Slots<flash::AnyFlash>, &'static str> {
    if trust.boothelper {
        return Err("a Boothelper does not boot the flash");
    }
    let token = lifeboat_hal::cmos::take_confirmation();
    if trust.broken.is_some() {
        return Err("the unit's key cannot be read");
    }
    let f = found.ok_or("no valid image (no flash found)")?;
    let mut s = Slots::new(f).map_err(|_| "the flash is too small for image slots")?;
    if let Some(t) = token {
        if let Err(e) = s.confirm(t) {
            let _ = write!(
                con,
                "Warning: cannot record the image's confirmation: {e}\r\n"
            );
        }
    }
    if let Err(e) = s.update_unit(|u| u.key = trust.key) {
        let _ = write!(
            con,
            "Warning: cannot record the unit's key in flash: {e}\r\n"
        );
    }
    Ok(s)
}

/// The console's side of the install dialogue.
struct Console<'c>(&'c mut Uart16550);

impl Write for Console<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.write_str(s)
    }
}

impl Operator for Console<'_> {
    fn yes_no(&mut self, text: &'static str, default: bool) -> bool {
        ask(self.0, text, default)
    }
    fn activation(&mut self, current: Option<ActivationKey>) -> Option<Option<ActivationKey>> {
        ask_activation(self.0, current)
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
    scratch: &mut [u8],
    trust: &Trust<'_>,
) -> bool {
    let Some(mut s) = slots(con) else {
        return false;
    };
    dialogue::install_download(&mut s, &mut Console(con), image, scratch, trust)
}

/// `version`: this firmware, the flash, each slot (judged by `trust`, as the flash boot
/// would), and the unit record.
pub fn version(con: &mut Uart16550, trust: &Trust<'_>) {
    let _ = write!(
        con,
        "lifeboat recovery monitor {}\r\n",
        super::startup::VERSION
    );
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

/// Where a Linux image's payload is staged while it is verified and taken apart: above the
/// kernel's usual 16 MiB + 64 MiB `init_size`.
pub const LINUX_STAGING: u64 = 0x600_0000;
const ZERO_PAGE: u64 = linux::ZERO_PAGE_ADDR;

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
    let firmware = RamRegion {
        base: 0x10_0000,
        len: lifeboat_hal::bootinfo::firmware_end().saturating_sub(0x10_0000),
    };
    (ram, firmware)
}

/// An image read from a slot into the RAM it runs from (flat64: its load address; linux:
/// the staging area) and checked there.
struct Loaded {
    slot: Slot,
    /// A `linux` image's kernel header and where its pieces go (planned before the slot is
    /// chosen, so a kernel that cannot be placed makes the slot bad).
    linux: Option<(linux::Kernel, linux::Plan)>,
    header: Header<[u8; HEADER_LEN]>,
    /// The payload in RAM.
    payload: &'static mut [u8],
}

/// Reads the image in `slot` into the RAM it will run from and checks its integrity there
/// (header, lengths, CRC-32, SHA-256); the unit's policy (platform, floor, signature) is
/// [`Slots::check`]'s, applied to the same header. What gets started is exactly what was
/// verified, and the slot is read from flash once. An image that asks for RAM that is not
/// free (outside usable RAM below 4 GiB, over the firmware) is refused before a byte of it
/// is copied. `previous` (an image loaded before) is forgotten once this load starts
/// writing RAM, which may be the same RAM.
fn load_slot(
    s: &mut Slots<flash::AnyFlash>,
    slot: Slot,
    trust: &Trust<'_>,
    previous: &mut Option<Loaded>,
) -> Result<Loaded, Refusal> {
    let (header, payload) = s.load_into(slot, |h| {
        let base = placement(h, trust.ram, &[trust.firmware], trust.linux_staging)?;
        // The slice of the previous image (if any) dies here, before this one is made.
        *previous = None;
        // SAFETY: `placement` checked [base, base + payload_len) is usable RAM below 4 GiB
        // (the identity map) clear of the firmware; the monitor has not started (no
        // download buffer; the caller stopped the NIC, whose rings are in the firmware's
        // .bss anyway), and no other slice of it lives (`previous` was just dropped).
        Ok(unsafe { lifeboat_hal::jump::ram(base, h.payload_len() as usize) })
    })?;
    let linux = match header.kind() {
        Ok(Kind::Linux) => {
            let (kernel_file, initrd) = payload.split_at(header.kernel_len() as usize);
            let k = linux::Kernel::parse(kernel_file).map_err(Refusal::Linux)?;
            let staging = RamRegion {
                base: trust.linux_staging,
                len: payload.len() as u64,
            };
            let plan = linux::plan(
                &k,
                initrd.len() as u64,
                header.cmdline().len() + linux::CONFIRM_ARG_LEN,
                trust.ram,
                &[trust.firmware, staging],
            )
            .map_err(Refusal::Linux)?;
            Some((k, plan))
        }
        _ => None,
    };
    Ok(Loaded {
        slot,
        linux,
        header,
        payload,
    })
}

/// Flash boot (the caller has stopped every NIC): the slot [`Slots::begin_boot_with`] picks
/// (spending a boot of an unconfirmed image first, rolling back one that never confirmed),
/// read into RAM and verified there against the unit's own policy (its key, the floor,
/// the platform), then started with a hand-off holding its confirmation token. `unit` is
/// what [`power_on_records`] found. Returns (to the monitor) with a line saying why when
/// there is nothing to start.
pub fn boot(
    con: &mut Uart16550,
    unit: Result<Slots<flash::AnyFlash>, &'static str>,
    bootinfo: Option<&BootInfo>,
    bootinfo_addr: usize,
    trust: &Trust<'_>,
) {
    if let Some(why) = trust.broken {
        let _ = write!(con, "Flash boot refused: {why}; entering the monitor.\r\n");
        return;
    }
    let mut s = match unit {
        Ok(s) => s,
        Err(why) => {
            let _ = write!(con, "Flash boot: {why}; entering the monitor.\r\n");
            return;
        }
    };
    s.set_policy(BootPolicy {
        platform: PLATFORM,
        floor: INSTALL_FLOOR,
        key: trust.key,
    });
    // Each slot the selection looks at is read into RAM and checked there; the last good
    // one loaded is kept (a later load may have reused the same RAM). Any refusal, an
    // unreadable sector or no room in RAM included, makes that slot bad.
    let mut loaded: Option<Loaded> = None;
    let mut why: [Option<Refusal>; 2] = [None, None];
    let chosen = s.begin_boot_with(|s, slot| {
        let r = load_slot(s, slot, trust, &mut loaded).map(|l| {
            let h = l.header;
            loaded = Some(l);
            h
        });
        Some(r)
    });
    for slot in [Slot::A, Slot::B] {
        if let Some(Err(e)) = s.known(slot) {
            why[slot as usize] = Some(e);
        }
    }
    let slot = match chosen {
        Ok(Some(slot)) => slot,
        Ok(None) => {
            for (slot, w) in [Slot::A, Slot::B].into_iter().zip(why) {
                if let Some(w) = w {
                    if w != Refusal::BadMagic {
                        let _ = write!(con, "Flash boot: slot {slot}: {w}\r\n");
                    }
                }
            }
            let _ = write!(
                con,
                "Flash boot: no valid image installed in flash; entering the monitor.\r\n"
            );
            return;
        }
        Err(e) => {
            let _ = write!(con, "Flash boot: {e}; entering the monitor.\r\n");
            return;
        }
    };
    let other = slot.other();
    if let Some(w) = why[other as usize] {
        if w != Refusal::BadMagic {
            let _ = write!(con, "Flash boot: slot {other}: {w}\r\n");
        }
    }
    let image = match loaded {
        Some(l) if l.slot == slot => l,
        // The RAM holds another slot's image (or none): load this one again; `load_slot`
        // drops the other's slice before it makes its own.
        other => match load_slot(&mut s, slot, trust, &mut { other }) {
            Ok(l) => l,
            Err(e) => {
                let _ = write!(
                    con,
                    "Flash boot: slot {slot}: {e}; entering the monitor.\r\n"
                );
                return;
            }
        },
    };
    let handoff = Handoff {
        token: s.token().unwrap_or(0),
        activation: s.unit().activation,
    };
    // SAFETY: bootinfo_addr is the block stage 2 wrote; the hand-off bytes are unused by it.
    unsafe { handoff.write(bootinfo_addr) };
    let h = &image.header;
    let (version, len) = (h.version(), h.payload_len());
    if h.kind() == Ok(Kind::Linux) {
        return boot_linux(con, &image, bootinfo, handoff.token);
    }
    let (load, entry) = (h.load(), h.entry());
    let _ = write!(
        con,
        "Flash boot: slot {slot}, image {version} (flat64, {len} bytes) verified; starting it.\r\n"
    );
    // The operator sees the whole line before the image takes the UART.
    con.flush();
    // SAFETY: single-threaded start-up; nothing else refers to BOOT_HEADER.
    let header_addr = unsafe {
        let p = core::ptr::addr_of_mut!(BOOT_HEADER);
        (*p).copy_from_slice(image.header.bytes());
        p as u64
    };
    // SAFETY: load_slot copied the payload to its load address and verified it (CRC-32,
    // SHA-256) and the slot's policy check passed; entry lies inside it; the stack goes
    // below the load address, above the firmware (flat64_fits kept the payload clear of
    // it); no NIC is running (the caller stopped it before the flash boot).
    unsafe {
        lifeboat_hal::jump::enter_flat64(entry, bootinfo_addr as u64, header_addr, load & !0xF)
    }
}

/// Flash boot of a `linux` image, staged and verified by [`load_slot`]: place kernel and
/// initrd by the boot protocol, fill the zero page (E820 map, command line), enter the kernel.
fn boot_linux(con: &mut Uart16550, image: &Loaded, bootinfo: Option<&BootInfo>, token: u32) {
    let h = &image.header;
    let slot = image.slot;
    let version = h.version();
    let Some((k, plan)) = image.linux else {
        return;
    };
    // Header::new_checked bounds initrd_len by payload_len.
    let (kernel_file, initrd) = image.payload.split_at(h.kernel_len() as usize);
    let full = linux::command_line(h.cmdline(), token);
    let cmdline = full.as_str();
    let mut zp = [0u8; linux::ZERO_PAGE_LEN];
    let e820: heapless::Vec<(u64, u64, u32), 64> = bootinfo
        .map(|b| {
            b.memory_map()
                .iter()
                .map(|r| (r.base, r.len, r.kind))
                .collect()
        })
        .unwrap_or_default();
    linux::zero_page(kernel_file, &k, &plan, &e820, &mut zp);
    if let Some(rsdp) = bootinfo.map(|b| b.rsdp).filter(|&r| r != 0) {
        linux::set_acpi_rsdp(&mut zp, rsdp);
    }
    let _ = write!(
        con,
        "Flash boot: slot {slot}, image {version} (linux, kernel {} bytes at {:#x}, initrd {} bytes at {:#x}) verified; starting it.\r\n",
        k.kernel_len,
        plan.kernel_addr,
        initrd.len(),
        plan.initrd_addr
    );
    con.flush();
    // SAFETY: the plan put the kernel's init_size and the initrd in usable RAM clear of the
    // firmware and of the staging area they are copied from; the zero page and the command
    // line go to conventional memory below the EBDA that nothing of ours uses; no NIC runs.
    unsafe {
        lifeboat_hal::jump::ram(plan.kernel_addr, k.kernel_len)
            .copy_from_slice(&kernel_file[k.setup_len..]);
        if !initrd.is_empty() {
            lifeboat_hal::jump::ram(plan.initrd_addr, initrd.len()).copy_from_slice(initrd);
        }
        let cl = lifeboat_hal::jump::ram(plan.cmdline_addr, cmdline.len() + 1);
        cl[..cmdline.len()].copy_from_slice(cmdline.as_bytes());
        cl[cmdline.len()] = 0;
        lifeboat_hal::jump::ram(ZERO_PAGE, zp.len()).copy_from_slice(&zp);
        lifeboat_hal::jump::enter_linux64(plan.entry, ZERO_PAGE)
    }
}
