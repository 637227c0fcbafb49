//! Power-on: banner, the flash-boot window, then the monitor loop.
use core::fmt::Write;

use lifeboat_firmware::boot::flash::InRam;
use lifeboat_firmware::config::{BootConfig, ConfigWarning};
use lifeboat_firmware::install::dialogue::Trust;
use lifeboat_firmware::monitor::{Action, FaultKind, Monitor, BOOTHELPER_PROMPT, MONITOR_PROMPT};
use lifeboat_firmware::net::session::TypeAhead;
use lifeboat_hal::bootinfo::{BootInfo, Medium};
use lifeboat_hal::exceptions::ExceptionFrame;
use lifeboat_hal::timer;
use lifeboat_hal::uart::{RawTx, Uart16550, UartEvent, COM1, COM2};

use super::VERSION;

const ESC: u8 = 0x1B;

/// A writer that drops everything (for editor echo nobody should see).
struct Discard;

impl Write for Discard {
    fn write_str(&mut self, _: &str) -> core::fmt::Result {
        Ok(())
    }
}

/// How the flash-boot window ended.
enum Window {
    Interrupted,
    BootNow,
    TimedOut,
}

/// The power-on sequence; `on_exception` reports a CPU exception (the entry's).
pub fn run(bootinfo_addr: usize, on_exception: fn(&ExceptionFrame) -> !) -> ! {
    lifeboat_hal::cpu::init();
    lifeboat_hal::exceptions::init(on_exception);
    let tsc_khz = timer::init();
    lifeboat_hal::cpu::start_tick();
    // SAFETY: stage 2 or the UEFI loader passed this address in rdi; it and the
    // configuration sit in low memory (0x800, 0x7E00) that nothing else uses, or in pages
    // the UEFI loader reserved in the E820 list (so no download buffer covers them).
    let boot = unsafe { BootInfo::from_raw(bootinfo_addr) };
    if let Some(window) = boot.as_ref().ok().and_then(|b| b.ecam) {
        // SAFETY: the entry (the ROM, which programmed PCIEXBAR, or the UEFI loader, from
        // ACPI's MCFG) named this window; `Ecam` admits only windows below 4 GiB, which every
        // entry identity-maps, and nothing else in it.
        unsafe { lifeboat_hal::pci::use_ecam(window) };
    }
    // Kept as they are (they borrow the configuration sector, which stays) and printed
    // after the banner, once the console runs at the configured speed.
    let mut config_warnings: heapless::Vec<ConfigWarning<'static>, 4> = heapless::Vec::new();
    let cfg = match &boot {
        Ok(b) => BootConfig::parse(b.config, b.secure_boot, |w| {
            let _ = config_warnings.push(w);
        }),
        Err(_) => BootConfig::default(),
    };
    // SAFETY: COM1 and COM2 exist on every PC-compatible and QEMU machine; these are the
    // only receiver-side driver objects for them. `BootConfig` only admits exact rates.
    let mut con = match unsafe { Uart16550::new(COM1, cfg.baud) } {
        Ok(c) => c,
        Err(_) => {
            // SAFETY: as above (the first attempt created no driver object); 9600 is always
            // a valid rate.
            let c = unsafe { Uart16550::new(COM1, 9600) };
            c.unwrap_or_else(|_| lifeboat_hal::reset::reset())
        }
    };
    // SAFETY: as above.
    let _com2 = unsafe { Uart16550::new(COM2, 115_200) };
    super::logger::init(cfg.log_level);
    defmt::info!("lifeboat {=str} up, TSC {=u64} kHz", VERSION, tsc_khz);
    // The NICs are found during the boot window and started behind the prompt (net::bringup).
    let mut net = super::net::Network::new();

    let _ = write!(con, "\r\nlifeboat recovery monitor {VERSION}\r\n");
    match &boot {
        Ok(b) => {
            let medium = match b.medium {
                Medium::Diskette => "diskette",
                Medium::UsbStick => "USB stick",
                Medium::Disk => "disk",
                Medium::Unknown(_) => "unknown medium",
            };
            let _ = write!(
                con,
                "Platform {}, {} MiB RAM, booted from ",
                lifeboat_hal::platform::name(),
                b.usable_ram() >> 20,
            );
            let _ = if b.rom {
                write!(con, "the system ROM\r\n")
            } else if b.uefi {
                write!(con, "{medium} (UEFI)\r\n")
            } else {
                write!(con, "{medium} (BIOS drive {:#04x})\r\n", b.boot_drive)
            };
            if let Some(e) = b.ecam {
                // The window lies below 4 GiB (`Ecam::new`); u32's hex is already linked in.
                let _ = write!(
                    con,
                    "PCI configuration through ECAM at {:#x}\r\n",
                    e.base() as u32
                );
            }
            defmt::info!(
                "boot drive {=u8:#x}, {=usize} E820 regions",
                b.boot_drive,
                b.memory_map().len()
            );
        }
        Err(e) => {
            let _ = write!(
                con,
                "Boot-info block missing (magic {:#010x}); using defaults\r\n",
                e.0
            );
        }
    }
    let found_flash = super::flash::banner(&mut con);
    let mut tpm = super::tpm::banner(&mut con);
    if timer::calibration_failed() {
        let _ = write!(
            con,
            "Warning: the PIT did not count; timeouts assume a 2 GHz TSC\r\n"
        );
    }
    for w in &config_warnings {
        let _ = write!(con, "Warning: {w}\r\n");
    }
    // Trust comes from this medium's own configuration; one that cannot be read fails closed.
    let (ram, firmware) = super::flash::boot_ram(boot.as_ref().ok());
    let mut trust = Trust::new(
        boot.is_ok().then_some(&cfg),
        &ram,
        firmware,
        super::flash::LINUX_STAGING,
    );
    if let Some(why) = trust.broken {
        let _ = write!(
            con,
            "Warning: {why}: installs and flash boot are refused until it is repaired\r\n"
        );
    }
    // The unit speaks through its own disk, ROM or UEFI disk; a diskette or stick is anyone's.
    let own_medium = !matches!(
        boot.as_ref().map(|b| b.medium),
        Ok(Medium::Diskette) | Ok(Medium::UsbStick)
    );
    let mut unit = super::flash::power_on_records(&mut con, found_flash, &trust, own_medium);
    super::tpm::settle(
        &mut con,
        &mut tpm,
        unit.as_mut().ok(),
        &mut trust,
        cfg.tpm_required,
    );

    let prompt = if cfg.boothelper {
        BOOTHELPER_PROMPT
    } else {
        MONITOR_PROMPT
    };
    if !cfg.boothelper {
        let _ = write!(con, "\r\nUse BREAK or ESC to interrupt flash boot.\r\nUse SPACE to begin flash boot immediately.\r\n");
        match boot_window(&mut con, cfg.boot_timeout_s, &mut net) {
            Window::Interrupted => {
                defmt::info!("flash boot interrupted");
                let _ = write!(con, "Flash boot interrupted.\r\n");
            }
            Window::BootNow | Window::TimedOut => {
                net.stop(); // no NIC may run into the image
                super::flash::boot(
                    &mut con,
                    unit,
                    boot.as_ref().ok(),
                    bootinfo_addr,
                    &trust,
                    (&mut tpm, cfg.tpm_required),
                )
            }
        }
    }

    // What the Boothelper asks the operator to remove after an install.
    let medium_name = match boot.as_ref().map(|b| b.medium) {
        Ok(Medium::Diskette) => "diskette",
        Ok(Medium::UsbStick) => "USB stick",
        _ => "boot medium",
    };
    // Downloads go to the largest free RAM above the firmware (sized from the E820 map).
    let mut buffer = boot.as_ref().ok().and_then(|b| b.download_buffer());
    if let Some(b) = &buffer {
        defmt::info!(
            "download buffer {=usize} KiB at {=usize:#x}",
            b.len() >> 10,
            b.as_ptr() as usize
        );
    }
    net.report(&mut con);
    let mut monitor = Monitor::new(prompt, net.nic_count());
    if let Some(i) = net.default_interface() {
        monitor.settings_mut().interface = i;
    }
    let _ = write!(con, "Use ? for help.\r\n");
    monitor.print_prompt(&mut con);
    // The image the last command installed, still in the download buffer: what `boot`
    // starts from RAM. Forgotten by anything that may write the buffer or the flash.
    let mut installed: Option<InRam> = None;
    let mut reported_lost = con.dropped();
    let mut typeahead = TypeAhead::default();
    loop {
        let lost = con.dropped();
        if lost != reported_lost {
            let _ = write!(
                con,
                "\r\nconsole: input lost ({} overruns since the last report); retype the line\r\n",
                lost.wrapping_sub(reported_lost)
            );
            reported_lost = lost;
            // The half-typed line has holes in it: drop it (Ctrl-U, echo discarded).
            let _ = monitor.feed(0x15, &mut Discard);
            monitor.print_prompt(&mut con);
        }
        // Keys typed while a command ran come first, in order.
        let b = match typeahead.bytes.first().copied() {
            Some(b) => {
                typeahead.bytes.remove(0);
                b
            }
            None => match con.try_read() {
                Some(UartEvent::Byte(b)) => b,
                // A BREAK at the prompt means nothing; the line being typed is kept.
                Some(UartEvent::Break) => continue,
                None => {
                    // Nothing typed: start the selected NIC if it is due (net::bringup),
                    // else sleep until the next tick (1 ms) instead of spinning.
                    if net.bring_up(&mut con, monitor.settings().interface) {
                        monitor.redraw(&mut con);
                    }
                    lifeboat_hal::cpu::idle();
                    continue;
                }
            },
        };
        let action = monitor.feed(b, &mut con);
        if matches!(
            action,
            Action::Tftp(_) | Action::Http | Action::FlashTest(_)
        ) {
            installed = None;
        }
        match action {
            Action::None => continue,
            Action::Reload => reload(&mut con),
            Action::Boot => {
                // No NIC may run into the image; the buffer is handed over as an address,
                // so no reference to it lives while the boot writes RAM.
                net.stop();
                let raw = buffer.take().map(|b| (b.as_mut_ptr(), b.len()));
                super::flash::boot_now(
                    &mut con,
                    installed.take(),
                    boot.as_ref().ok(),
                    bootinfo_addr,
                    &trust,
                    (&mut tpm, cfg.tpm_required),
                );
                // SAFETY: the region `download_buffer` gave (usable RAM, above the
                // firmware, taken once); nothing was started and no other reference to
                // it exists. Its contents may have been overwritten by the boot.
                buffer = raw.map(|(p, n)| unsafe { core::slice::from_raw_parts_mut(p, n) });
            }
            Action::Version => {
                super::flash::version(&mut con, &trust);
                super::tpm::version(&mut con, &mut tpm, &trust);
            }
            Action::Ping(target) => net.ping(&mut con, monitor.settings(), target, &mut typeahead),
            Action::Dhcp => {
                let lease = net.dhcp(&mut con, monitor.settings(), &mut typeahead);
                if let Some(lease) = lease {
                    monitor.apply_lease(&lease, &mut con);
                }
            }
            Action::Tftp(_) | Action::Http => match buffer.as_deref_mut() {
                Some(buf) => {
                    let download = match action {
                        Action::Tftp(blksize) => {
                            net.tftp(&mut con, monitor.settings(), blksize, buf, &mut typeahead)
                        }
                        _ => net.http(
                            &mut con,
                            monitor.settings(),
                            monitor.http_url(),
                            buf,
                            &mut typeahead,
                        ),
                    };
                    if let Some(d) = download {
                        // The rest of the buffer is scratch for the install's read-back.
                        let (image, scratch) = buf.split_at_mut(d.len as usize);
                        if super::flash::install_download(
                            &mut con, image, d.payload, scratch, &trust,
                        ) {
                            if cfg.boothelper {
                                removal_countdown(&mut con, medium_name);
                            }
                            installed = Some(InRam {
                                addr: image.as_ptr() as u64,
                                len: image.len(),
                            });
                            let _ = write!(con, "Type boot to start it now (no reset).\r\n");
                        }
                    }
                }
                None => {
                    let _ = write!(
                        con,
                        "download: no free RAM above the firmware for a download buffer\r\n"
                    );
                }
            },
            Action::Fault(kind) => crash(kind),
            Action::FlashTest(args) => super::flash::flashtest(&mut con, args.kib, args.pio),
            Action::Interface(i) => net.show(&mut con, i),
        }
        if typeahead.lost > 0 {
            let _ = write!(
                con,
                "console: {} keys typed during the command were dropped\r\n",
                typeahead.lost
            );
            typeahead.lost = 0;
        }
        monitor.print_prompt(&mut con);
    }
}

/// Wait for ESC / BREAK (monitor) or SPACE (boot now) up to `seconds`; the NICs are found
/// meanwhile (a key typed during that waits in the UART).
fn boot_window(con: &mut Uart16550, seconds: u32, net: &mut super::net::Network) -> Window {
    let deadline = timer::now_us() + u64::from(seconds) * 1_000_000;
    while timer::now_us() < deadline {
        match con.try_read() {
            Some(UartEvent::Break) | Some(UartEvent::Byte(ESC)) => return Window::Interrupted,
            Some(UartEvent::Byte(b' ')) => return Window::BootNow,
            _ if net.find() => {}
            _ => lifeboat_hal::cpu::idle(),
        }
    }
    Window::TimedOut
}

/// The Boothelper's last step: 30 seconds to take the diskette or stick out, then a reboot
/// (at once on `reload`). Without the medium the unit boots its own disk and flash.
fn removal_countdown(con: &mut Uart16550, medium: &str) -> ! {
    use lifeboat_firmware::recovery::Countdown;
    let now = || smoltcp::time::Instant::from_micros(timer::now_us() as i64);
    let mut c = Countdown::start(now(), 30, medium, con);
    loop {
        if c.tick(now(), con).is_some() {
            reload(con)
        }
        match con.try_read() {
            Some(UartEvent::Byte(b)) => {
                if c.feed(b, con).is_some() {
                    reload(con)
                }
            }
            Some(UartEvent::Break) => {}
            None => lifeboat_hal::cpu::idle(),
        }
    }
}

fn reload(con: &mut Uart16550) -> ! {
    let _ = write!(con, "Rebooting...\r\n");
    defmt::info!("reload");
    con.flush(); // the whole line leaves before the reset
    lifeboat_hal::reset::reset()
}

/// `crashtest`: prove the fault path (report, then reset) on purpose.
fn crash(kind: FaultKind) -> ! {
    let _ = RawTx(COM1).write_str("crashtest: raising the fault now\r\n");
    match kind {
        FaultKind::PageFault => lifeboat_hal::exceptions::raise_page_fault(),
        FaultKind::InvalidOpcode => lifeboat_hal::exceptions::raise_invalid_opcode(),
        FaultKind::Panic => panic!("crashtest requested by the operator"),
        FaultKind::StackOverflow => {
            let depth = recurse(0);
            panic!("recursion of depth {depth} did not overflow the stack")
        }
    }
}

/// Recurses without end (1 KiB a frame) until the stack guard stops it.
#[inline(never)]
#[allow(unconditional_recursion)] // on purpose: it ends in the stack guard
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth as u8; 1024]);
    let below = recurse(core::hint::black_box(depth + 1));
    below + u64::from(frame[0])
}
