//! The flash boot as one decision: the power-on records, the budget, the token, the slot,
//! the load and check in RAM, the placement, the Linux plan, and every line the operator
//! reads about it. What is left to the caller: probing the flash, writing the hand-off,
//! and the jump in [`Launch`].
//!
//! RAM is reached through [`Ram`], so the whole sequence runs on the host against the
//! strict flash model with power cuts and failing sectors (`tests.rs` beside this file).
#![forbid(unsafe_code)]

use core::fmt::Write;

use embedded_storage::nor_flash::NorFlash;

use super::linux;
use crate::image::{Header, Kind, Refusal, HEADER_LEN};
use crate::install::dialogue::Trust;
use crate::install::{Checked, Slot, Slots};
use crate::ram::{flat64_fits, placement, RamRegion};

/// The RAM a flash boot loads an image into and lays a kernel out in.
pub trait Ram {
    /// The `len` bytes at `base`; `None` when they are not RAM a boot may write (the
    /// implementation checks that itself: outside usable RAM, over the firmware).
    fn slice(&mut self, base: u64, len: usize) -> Option<&mut [u8]>;
    /// Copies `len` bytes from `from` to `to` (the two may overlap: a memmove); false when
    /// either is not RAM a boot may touch.
    fn copy(&mut self, from: u64, to: u64, len: usize) -> bool;
}

/// Whether a boot may write `len` bytes at `base`: the conventional memory the zero page
/// and the command line go to (below the EBDA), or usable RAM (`ram`) above the first MiB
/// clear of `firmware`. What the bare binary's [`Ram`] admits, and the models check.
pub fn may_write(ram: &[RamRegion], firmware: RamRegion, base: u64, len: usize) -> bool {
    let low =
        base >= linux::ZERO_PAGE_ADDR && base.saturating_add(len as u64) <= linux::CMDLINE_END;
    low || flat64_fits(ram, &[firmware], base, len as u64)
}

/// What the image started gets besides its entry (its token,
/// [`crate::install::Record::token`], and the activation key): the caller writes it to the
/// hand-off block of the boot-info page. The ABI's own type.
pub use lifeboat_abi::bootinfo::handoff::Handoff;

/// The jump a flash boot ends in: everything is in place in RAM. (One lives on the stack,
/// once, just before the jump: the header's size is no cost worth a box.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// Enter long-mode code at `entry` with `rdi` = the boot-info block, `rsi` = the image's
    /// header (kept by the caller), the stack below `stack`.
    Flat64 {
        entry: u64,
        stack: u64,
        header: [u8; HEADER_LEN],
        handoff: Handoff,
    },
    /// Enter the kernel's 64-bit entry with `rsi` = the zero page. `header`: the image's
    /// (what the caller measures).
    Linux {
        entry: u64,
        zero_page: u64,
        header: [u8; HEADER_LEN],
        handoff: Handoff,
    },
}

/// What the boot knows of the machine: the E820 map for a kernel, and where ACPI's RSDP is
/// (0: unknown).
#[derive(Debug, Clone, Copy)]
pub struct Machine<'a> {
    pub e820: &'a [(u64, u64, u32)],
    pub rsdp: u64,
}

/// At power-on, in the unit's own firmware only: the confirmation the image that ran last
/// handed back (`token`: taken once, so it counts even when the operator then stops in the
/// monitor) and the unit's key kept equal to the firmware's own. A Boothelper (anyone's
/// medium) touches nothing; a removable medium in monitor mode (`own_medium` false) records
/// a confirmation but never writes its key into the unit record. Returns the unit's slots,
/// or why the flash cannot boot.
pub fn power_on<F: NorFlash>(
    flash: Option<F>,
    trust: &Trust<'_>,
    token: Option<u32>,
    own_medium: bool,
    con: &mut impl Write,
) -> Result<Slots<F>, &'static str> {
    if trust.boothelper {
        return Err("a Boothelper does not boot the flash");
    }
    if trust.broken.is_some() {
        return Err("the unit's key cannot be read");
    }
    let f = flash.ok_or("no valid image (no flash found)")?;
    let mut s = Slots::new(f).map_err(|_| "the flash is too small for image slots")?;
    s.copy_record();
    if let Some(t) = token {
        if let Err(e) = s.confirm(t) {
            let _ = write!(
                con,
                "Warning: cannot record the image's confirmation: {e}\r\n"
            );
        }
    }
    if own_medium {
        if let Err(e) = s.update_unit(|u| u.key = trust.key) {
            let _ = write!(
                con,
                "Warning: cannot record the unit's key in flash: {e}\r\n"
            );
        }
    }
    Ok(s)
}

/// An image read from a slot into the RAM it runs from (flat64: its load address; linux:
/// the staging area) and checked there.
#[derive(Clone, Copy)]
struct Loaded {
    slot: Slot,
    header: Header<[u8; HEADER_LEN]>,
    /// Where the payload is in RAM.
    base: u64,
    /// A `linux` image's kernel and where its pieces go (planned before the slot is chosen,
    /// so a kernel that cannot be placed makes the slot bad).
    linux: Option<(linux::Kernel, linux::Plan)>,
    /// How the operator is told it starts: "Flash boot", or "Boot from RAM" for an image
    /// taken from where it was just installed from ([`InRam`]).
    how: &'static str,
}

/// Reads the image in `slot` into the RAM it will run from and checks it there (header,
/// lengths, CRC-32, SHA-256; the policy is [`Slots::check`]'s on the same header). An image
/// that asks for RAM that is not free is refused before a byte of it is copied.
fn load<F: NorFlash>(
    s: &mut Slots<F>,
    slot: Slot,
    trust: &Trust<'_>,
    ram: &mut impl Ram,
    installed: Option<InRam>,
) -> Result<Loaded, Refusal> {
    let mut base = 0;
    let from_ram = installed.filter(|r| r.holds(s, slot, ram));
    let how = if from_ram.is_some() {
        "Boot from RAM"
    } else {
        "Flash boot"
    };
    let (header, payload) = match from_ram {
        Some(r) => r.copy_out(trust, ram, &mut base)?,
        None => s.load_into(slot, |h| {
            base = placement(h, trust.ram, &[trust.firmware], trust.linux_staging)?;
            ram.slice(base, h.payload_len() as usize)
                .ok_or(Refusal::Placement {
                    load: base,
                    len: h.payload_len(),
                })
        })?,
    };
    let linux = match header.kind() {
        Ok(Kind::Linux) => {
            let kernel_file = &payload[..header.kernel_len() as usize];
            let k = linux::Kernel::parse(kernel_file).map_err(Refusal::Linux)?;
            let staging = RamRegion {
                base,
                len: payload.len() as u64,
            };
            let plan = linux::plan(
                &k,
                header.initrd_len(),
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
        header,
        base,
        linux,
        how,
    })
}

/// An image the monitor has just installed, still in RAM: `len` bytes (header and payload)
/// at `addr`, exactly the bytes the install verified (CRC-32, SHA-256, the unit's policy)
/// and read back from the slot it wrote, unchanged since (the caller's contract: nothing
/// ran in between that writes RAM). [`start_installed`] starts it from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InRam {
    pub addr: u64,
    pub len: usize,
}

impl InRam {
    /// Whether `slot` holds this image: its header in flash is, byte for byte, the one in
    /// RAM (the header carries the payload's lengths, CRC-32 and SHA-256), for this length.
    fn holds<F: NorFlash>(&self, s: &mut Slots<F>, slot: Slot, ram: &mut impl Ram) -> bool {
        let Ok(Some(flash)) = s.header(slot) else {
            return false;
        };
        Header::new_checked(flash).is_ok_and(|h| h.image_len() == self.len as u64)
            && ram
                .slice(self.addr, HEADER_LEN)
                .is_some_and(|b| *b == flash[..])
    }

    /// [`Slots::load_into`] without the flash: the payload copied from RAM to where it
    /// runs (`base`), not hashed again (it was, at install).
    fn copy_out<'r>(
        &self,
        trust: &Trust<'_>,
        ram: &'r mut impl Ram,
        base: &mut u64,
    ) -> Result<(Header<[u8; HEADER_LEN]>, &'r mut [u8]), Refusal> {
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(
            ram.slice(self.addr, HEADER_LEN)
                .ok_or(Refusal::Unreadable)?,
        );
        let header = Header::new_checked(h)?;
        let len = header.payload_len();
        *base = placement(&header, trust.ram, &[trust.firmware], trust.linux_staging)?;
        let no_room = Refusal::Placement { load: *base, len };
        if !ram.copy(self.addr + HEADER_LEN as u64, *base, len as usize) {
            return Err(no_room);
        }
        let payload = ram.slice(*base, len as usize).ok_or(no_room)?;
        Ok((header, payload))
    }
}

/// Prints why a slot was refused (an empty slot, no header at all, says nothing).
fn refused(con: &mut impl Write, slot: Slot, why: Option<Refusal>) {
    if let Some(w) = why.filter(|&w| w != Refusal::BadMagic) {
        let _ = write!(con, "Flash boot: slot {slot}: {w}\r\n");
    }
}

/// The flash boot (the caller has stopped every NIC): the slot [`Slots::begin_boot_with`]
/// picks (spending a boot of an unconfirmed image first, rolling back one that never
/// confirmed), read into RAM and verified there against the unit's own policy (its key,
/// the floor, the platform), laid out (a kernel by the Linux boot protocol), and the jump
/// to make. `None`, with a line saying why, when there is nothing to start: the caller
/// enters the monitor.
pub fn flash_boot<F: NorFlash>(
    unit: Result<Slots<F>, &'static str>,
    trust: &Trust<'_>,
    machine: Machine<'_>,
    ram: &mut impl Ram,
    con: &mut impl Write,
) -> Option<Launch> {
    boot(unit, trust, machine, ram, con, None)
}

/// The monitor's `boot` right after an install: the same decision as [`flash_boot`] (the
/// budget spent and recorded, the token, the slot choice, the unit's policy, the layout),
/// but the slot whose image is `installed` is taken from that RAM instead of being read
/// from flash and hashed again, and there is no reset before it. A power cut or a fault
/// from here on is a boot that counted: an image that never confirms still rolls back
/// after its budget.
pub fn start_installed<F: NorFlash>(
    unit: Result<Slots<F>, &'static str>,
    installed: InRam,
    trust: &Trust<'_>,
    machine: Machine<'_>,
    ram: &mut impl Ram,
    con: &mut impl Write,
) -> Option<Launch> {
    boot(unit, trust, machine, ram, con, Some(installed))
}

fn boot<F: NorFlash>(
    unit: Result<Slots<F>, &'static str>,
    trust: &Trust<'_>,
    machine: Machine<'_>,
    ram: &mut impl Ram,
    con: &mut impl Write,
    mut installed: Option<InRam>,
) -> Option<Launch> {
    if let Some(why) = trust.broken {
        let _ = write!(con, "Flash boot refused: {why}; entering the monitor.\r\n");
        return None;
    }
    let mut s = match unit {
        Ok(s) => s,
        Err(why) => {
            let _ = write!(con, "Flash boot: {why}; entering the monitor.\r\n");
            return None;
        }
    };
    crate::install::dialogue::boot_policy(&mut s, trust);
    // Each slot the selection looks at is read into RAM and checked there; the last one
    // loaded is remembered (a later load may have reused the same RAM). Any refusal, an
    // unreadable sector or no room in RAM included, makes that slot bad.
    let mut loaded: Option<Loaded> = None;
    let chosen = s.begin_boot_with(|s, slot| {
        // The RAM holds the installed image only until the boot first writes RAM: only the
        // first load may take it from there (the loads of the other slot, or a second one
        // of this slot, read the flash).
        let r: Checked = load(s, slot, trust, ram, installed.take()).map(|l| {
            loaded = Some(l);
            l.header
        });
        if r.is_err() {
            loaded = None;
        }
        Some(r)
    });
    if let Some(e) = s.unrecorded() {
        let _ = write!(con, "Warning: this boot is not recorded: {e}\r\n");
    }
    let why = [Slot::A, Slot::B].map(|slot| s.known(slot).and_then(Result::err));
    let Some(slot) = chosen else {
        for slot in [Slot::A, Slot::B] {
            refused(con, slot, why[slot as usize]);
        }
        let _ = write!(
            con,
            "Flash boot: no valid image installed in flash; entering the monitor.\r\n"
        );
        return None;
    };
    refused(con, slot.other(), why[slot.other() as usize]);
    let image = match loaded {
        Some(l) if l.slot == slot => l,
        // The RAM holds the other slot's image (or none): load this one again.
        _ => match load(&mut s, slot, trust, ram, None) {
            Ok(l) => l,
            Err(e) => {
                let _ = write!(
                    con,
                    "Flash boot: slot {slot}: {e}; entering the monitor.\r\n"
                );
                return None;
            }
        },
    };
    let handoff = Handoff {
        token: s.token().unwrap_or(0),
        activation: s.unit().activation,
    };
    let h = &image.header;
    let version = h.version();
    match image.linux {
        None => {
            let _ = write!(
                con,
                "{}: slot {slot}, image {version} (flat64, {} bytes) verified; starting it.\r\n",
                image.how,
                h.payload_len()
            );
            let mut header = [0u8; HEADER_LEN];
            header.copy_from_slice(h.bytes());
            Some(Launch::Flat64 {
                entry: h.entry(),
                stack: h.load() & !0xF,
                header,
                handoff,
            })
        }
        Some((k, plan)) => lay_out_linux(&image, &k, &plan, machine, handoff, ram, con),
    }
}

/// A `linux` image staged and verified by [`load`]: the kernel and initrd copied where the
/// plan puts them, the command line (with the token) and the zero page (E820 map, RSDP)
/// written.
fn lay_out_linux(
    image: &Loaded,
    k: &linux::Kernel,
    plan: &linux::Plan,
    machine: Machine<'_>,
    handoff: Handoff,
    ram: &mut impl Ram,
    con: &mut impl Write,
) -> Option<Launch> {
    let h = &image.header;
    let kernel_len = h.kernel_len();
    let initrd_len = h.initrd_len();
    let mut zp = [0u8; linux::ZERO_PAGE_LEN];
    let staged = ram.slice(image.base, h.payload_len() as usize)?;
    linux::zero_page(
        &staged[..kernel_len as usize],
        k,
        plan,
        machine.e820,
        &mut zp,
    );
    if machine.rsdp != 0 {
        linux::set_acpi_rsdp(&mut zp, machine.rsdp);
    }
    let letter = if image.slot == Slot::A { 'A' } else { 'B' };
    let cmdline = linux::command_line(h.cmdline(), handoff.token, letter, h.version());
    let laid_out = ram.copy(
        image.base + k.setup_len as u64,
        plan.kernel_addr,
        k.kernel_len,
    ) && (initrd_len == 0
        || ram.copy(
            image.base + kernel_len,
            plan.initrd_addr,
            initrd_len as usize,
        ))
        && put(ram, plan.cmdline_addr, &[cmdline.as_bytes(), &[0]])
        && put(ram, plan.params_addr, &[&zp]);
    if !laid_out {
        let _ = write!(
            con,
            "Flash boot: slot {}: {}; entering the monitor.\r\n",
            image.slot,
            Refusal::Placement {
                load: plan.kernel_addr,
                len: k.kernel_len as u64
            }
        );
        return None;
    }
    let _ = write!(
        con,
        "{}: slot {}, image {} (linux, kernel {} bytes at {:#x}, initrd {} bytes at {:#x}) verified; starting it.\r\n",
        image.how,
        image.slot,
        h.version(),
        k.kernel_len,
        plan.kernel_addr,
        initrd_len,
        plan.initrd_addr
    );
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(h.bytes());
    Some(Launch::Linux {
        entry: plan.entry,
        zero_page: plan.params_addr,
        header,
        handoff,
    })
}

/// Writes `parts`, one after the other, at `at`.
fn put(ram: &mut impl Ram, at: u64, parts: &[&[u8]]) -> bool {
    let len = parts.iter().map(|p| p.len()).sum();
    let Some(dst) = ram.slice(at, len) else {
        return false;
    };
    let mut o = 0;
    for p in parts {
        dst[o..o + p.len()].copy_from_slice(p);
        o += p.len();
    }
    true
}

#[cfg(any(test, feature = "sim"))]
pub mod sim;
#[cfg(test)]
mod tests;
