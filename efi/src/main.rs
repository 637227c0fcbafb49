//! `BOOTX64.EFI`: starts the lifeboat firmware on a UEFI machine, in place of the BIOS
//! stage 1 + stage 2. It
//! 1. takes the packed firmware and the configuration text from its payload block
//!    (`lifeboat_efi::payload`, patched in by the media builder),
//! 2. allocates the firmware's fixed range (0x100000 up to the end of its stack) and copies
//!    the packed firmware to 0x200000 inside it,
//! 3. allocates one reserved block for the boot-info block, the configuration and the page
//!    tables (the identity map of the low 4 GiB stage 2 builds; the firmware edits it to
//!    unmap its stack guard, so it may not be the UEFI's own),
//! 4. finds the ACPI RSDP in the configuration table and the PCI Express configuration
//!    window (ECAM) in ACPI's MCFG, and reads the `SecureBoot` variable (flags bit 3: the
//!    firmware then refuses a configuration without a key),
//! 5. exits boot services (retrying on a stale map key), converts the final memory map to
//!    E820 entries and writes the boot-info block,
//! 6. with interrupts off, loads its page tables and jumps to the packed firmware's unpack
//!    stage with `rdi` = the boot-info block, as stage 2 does; the stage inflates the
//!    firmware to 1 MiB and starts it.
//!
//! The UEFI types and calls come from the `r-efi` crate (the bindings Rust's own std uses on
//! UEFI targets): the system table, the boot services above and the memory descriptor.
#![cfg_attr(target_os = "uefi", no_std, no_main)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

#[cfg(not(target_os = "uefi"))]
fn main() {
    eprintln!("lifeboat-efi runs only as a UEFI application (x86_64-unknown-uefi)");
}

#[cfg(target_os = "uefi")]
mod bare {
    use core::ffi::c_void;

    use lifeboat_abi::efi::{KEPT_CONFIG, KEPT_PAGE_TABLES};
    use lifeboat_efi::{bootinfo, efi_type, payload, E820Map, EfiRegion, Header};
    use r_efi::efi::{self, Handle, Status, SystemTable};

    /// The payload block the media builder fills (see `lifeboat_efi::payload`): in `.data`,
    /// found there by its magic. Exported so the optimiser cannot assume its contents.
    #[repr(C)]
    pub struct Payload([u8; payload::LEN]);

    const fn initial_payload() -> Payload {
        let mut p = [0u8; payload::LEN];
        let mut i = 0;
        while i < 16 {
            p[i] = payload::MAGIC[i];
            i += 1;
        }
        Payload(p)
    }

    #[used]
    #[no_mangle]
    pub static mut LIFEBOAT_PAYLOAD: Payload = initial_payload();

    /// Pages of the reserved block: boot-info block + configuration (1), page tables (6).
    const BLOCK_PAGES: usize = lifeboat_abi::efi::KEPT_PAGES;
    /// Room for the memory map (OVMF: ~100 descriptors of 48 bytes).
    const MAP_BYTES: usize = 32 * 1024;

    /// Writes an ASCII line to the UEFI console (before ExitBootServices only).
    fn say(st: &SystemTable, msg: &str) {
        let mut buf = [0u16; 128];
        // The last element stays 0: the terminator.
        for (slot, b) in buf[..127].iter_mut().zip(msg.bytes().chain(*b"\r\n")) {
            *slot = u16::from(b);
        }
        if st.con_out.is_null() {
            return;
        }
        // SAFETY: con_out is the firmware's text output protocol (non-null, valid until
        // ExitBootServices, which has not happened when this is called); buf is
        // NUL-terminated UCS-2 and only read.
        unsafe {
            ((*st.con_out).output_string)(st.con_out, buf.as_mut_ptr());
        }
    }

    fn payload_u32(p: &[u8], off: usize) -> u32 {
        u32::from_le_bytes([p[off], p[off + 1], p[off + 2], p[off + 3]])
    }

    /// # Safety
    /// Called by the UEFI firmware as the image entry point with its image handle and a
    /// valid system table.
    #[no_mangle]
    unsafe extern "efiapi" fn efi_main(image: Handle, st: *mut SystemTable) -> Status {
        // SAFETY: UEFI passes a valid system table that lives until ExitBootServices.
        let st = unsafe { &*st };
        // SAFETY: as above; boot services are valid until ExitBootServices.
        let bs = unsafe { &*st.boot_services };
        // SAFETY: the payload is only read, and only here, through a pointer (the media
        // builder changed its bytes in the file, so the compiler must not assume them).
        let p: &[u8; payload::LEN] = unsafe { &(*core::ptr::addr_of!(LIFEBOAT_PAYLOAD)).0 };
        let p = core::hint::black_box(p);
        let medium = payload_u32(p, payload::MEDIUM);
        let fw_len = payload_u32(p, payload::FIRMWARE_LEN) as usize;
        let fw_end = u64::from(payload_u32(p, payload::FIRMWARE_END));
        if medium == 0
            || fw_len == 0
            || fw_len > payload::FIRMWARE_MAX
            || payload::PACKED_BASE + fw_len as u64 > fw_end
        {
            say(
                st,
                "lifeboat: this BOOTX64.EFI carries no firmware (not made by `lifeboat media`)",
            );
            return Status::LOAD_ERROR;
        }
        say(st, "lifeboat: UEFI loader starting the firmware");
        // The jump switches to page tables that map only the low 4 GiB: this code and the
        // stack it runs on until the firmware sets its own must be there.
        let here = efi_main as *const () as usize as u64;
        let stack = core::ptr::addr_of!(here) as u64;
        if (here | stack) >> 32 != 0 {
            say(
                st,
                "lifeboat: loaded above 4 GiB; cannot start the firmware",
            );
            return Status::LOAD_ERROR;
        }

        // The firmware's fixed range: 0x100000 .. end of its stack.
        let mut fw_base = payload::FIRMWARE_BASE;
        let fw_pages = (fw_end.saturating_sub(fw_base) as usize).div_ceil(4096);
        // SAFETY: a boot service call with valid arguments; on success the range is ours.
        let s = unsafe {
            (bs.allocate_pages)(
                efi::ALLOCATE_ADDRESS,
                efi_type::LOADER_DATA,
                fw_pages,
                &mut fw_base,
            )
        };
        if s != Status::SUCCESS {
            say(
                st,
                "lifeboat: the firmware's memory (1 MiB up) is in use by UEFI; cannot start",
            );
            return s;
        }
        // The reserved block, below 4 GiB (the identity map's end and the block's u32 fields).
        let mut block: u64 = 0xFFFF_F000;
        // SAFETY: as above.
        let s = unsafe {
            (bs.allocate_pages)(
                efi::ALLOCATE_MAX_ADDRESS,
                efi_type::LIFEBOAT_RESERVED,
                BLOCK_PAGES,
                &mut block,
            )
        };
        if s != Status::SUCCESS {
            say(
                st,
                "lifeboat: no memory below 4 GiB for the boot-info block",
            );
            return s;
        }
        let mut map_buf: *mut c_void = core::ptr::null_mut();
        // SAFETY: as above.
        let s = unsafe { (bs.allocate_pool)(efi_type::LOADER_DATA, MAP_BYTES, &mut map_buf) };
        if s != Status::SUCCESS {
            return Status::OUT_OF_RESOURCES;
        }
        let map_buf = map_buf as *mut u8;

        // SAFETY: [fw_base, fw_base + fw_pages * 4096) was allocated above and is
        // identity-mapped (UEFI maps all memory 1:1); the packed firmware's place
        // [PACKED_BASE, PACKED_BASE + fw_len) lies inside it (checked above); the payload
        // holds fw_len bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(
                p.as_ptr().add(payload::FIRMWARE),
                payload::PACKED_BASE as *mut u8,
                fw_len,
            );
        }
        // SAFETY: the block's 7 pages were allocated above and nothing else refers to them.
        let (info, tables) = unsafe {
            let base = block as *mut u8;
            core::ptr::write_bytes(base, 0, BLOCK_PAGES * 4096);
            (
                core::slice::from_raw_parts_mut(base, KEPT_PAGE_TABLES),
                &mut *(base.add(KEPT_PAGE_TABLES) as *mut [[u64; 512]; 6]),
            )
        };
        info[KEPT_CONFIG..KEPT_CONFIG + payload::CONFIG_LEN]
            .copy_from_slice(&p[payload::CONFIG..payload::CONFIG + payload::CONFIG_LEN]);
        lifeboat_efi::identity_map(tables, block + KEPT_PAGE_TABLES as u64);

        let mut rsdp = 0u64;
        for i in 0..st.number_of_table_entries {
            // SAFETY: the configuration table has number_of_table_entries entries.
            let t = unsafe { &*st.configuration_table.add(i) };
            if t.vendor_guid == efi::ACPI_20_TABLE_GUID
                || (rsdp == 0 && t.vendor_guid == efi::ACPI_10_TABLE_GUID)
            {
                rsdp = t.vendor_table as u64;
            }
        }

        // The PCI Express configuration window, from ACPI's MCFG (q35; none on pc). Tables
        // are read only inside the first 4 GiB, which UEFI maps 1:1 and where OVMF puts them.
        let below_4g = |addr: u64, len: usize| -> Option<&'static [u8]> {
            let end = addr.checked_add(len as u64)?;
            // SAFETY: UEFI identity-maps all memory and ACPI tables stay mapped while boot
            // services run; addresses are limited to the low 4 GiB, lengths to 64 KiB
            // (find_ecam), and the bytes are only read.
            (addr != 0 && end <= 1 << 32)
                .then(|| unsafe { core::slice::from_raw_parts(addr as *const u8, len) })
        };
        let ecam = if rsdp != 0 {
            lifeboat_efi::find_ecam(rsdp, &below_4g)
        } else {
            None
        };

        // Secure Boot: the firmware then refuses a configuration without a key (a keyless
        // loader signed with the unit's certificate must not make a keyed unit run anything).
        let secure_boot = {
            let mut name = lifeboat_efi::secure_boot::NAME;
            let mut guid = lifeboat_efi::secure_boot::GLOBAL_VARIABLE;
            let mut attributes = 0u32;
            let mut value = [0u8; 8];
            let mut size = value.len();
            if st.runtime_services.is_null() {
                // Cannot tell: counts as on (fail closed), as a failed read does.
                true
            } else {
                // SAFETY: runtime services are valid while boot services run; the name is
                // NUL-terminated UCS-2, the out-pointers are valid, `size` is the buffer's.
                let s = unsafe {
                    ((*st.runtime_services).get_variable)(
                        name.as_mut_ptr(),
                        &mut guid,
                        &mut attributes,
                        &mut size,
                        value.as_mut_ptr() as *mut c_void,
                    )
                };
                lifeboat_efi::secure_boot::is_on(s, &value[..size.min(value.len())])
            }
        };
        if secure_boot {
            say(st, "lifeboat: UEFI Secure Boot is on");
        }

        // The final memory map, then ExitBootServices; a stale key (something allocated
        // in between) means: fetch the map again and retry.
        let mut desc_size = 0usize;
        let mut tries = 0;
        let map_len = loop {
            let mut size = MAP_BYTES;
            let mut key = 0usize;
            let mut version = 0u32;
            // SAFETY: map_buf holds MAP_BYTES bytes; the out-pointers are valid.
            let s = unsafe {
                (bs.get_memory_map)(
                    &mut size,
                    map_buf as *mut efi::MemoryDescriptor,
                    &mut key,
                    &mut desc_size,
                    &mut version,
                )
            };
            if s == Status::BUFFER_TOO_SMALL {
                if tries == 0 {
                    say(st, "lifeboat: the UEFI memory map is too large");
                }
                return s;
            }
            if s != Status::SUCCESS {
                return s;
            }
            // SAFETY: the image handle UEFI passed us, and the key of the map just read.
            let s = unsafe { (bs.exit_boot_services)(image, key) };
            if s == Status::SUCCESS {
                break size;
            }
            tries += 1;
            if s != Status::INVALID_PARAMETER || tries > 8 {
                return s;
            }
        };
        // From here on no boot service and no console: only memory we own.

        let regions =
            (0..map_len / desc_size.max(1)).map(|i| {
                // SAFETY: GetMemoryMap wrote map_len bytes of desc_size-byte descriptors, each
                // starting with an EFI_MEMORY_DESCRIPTOR (desc_size may be larger: the stride).
                let d = unsafe {
                    core::ptr::read_unaligned(
                        map_buf.add(i * desc_size) as *const efi::MemoryDescriptor
                    )
                };
                EfiRegion {
                    efi_type: d.r#type,
                    base: d.physical_start,
                    pages: d.number_of_pages,
                }
            });
        let map = E820Map::from_efi(regions);
        Header {
            medium: medium as u8,
            config_addr: (block + KEPT_CONFIG as u64) as u32,
            config_len: payload::CONFIG_LEN as u32,
            firmware_size: fw_len as u32,
            rsdp,
            ecam,
            secure_boot,
        }
        .write(&map, &mut info[..bootinfo::LEN]);

        // SAFETY: boot services are gone; the packed firmware is at PACKED_BASE, linked there
        // and entered like stage 2 enters it (long mode, rdi = boot-info block, interrupts
        // off); its unpack stage inflates the firmware to fw_base, inside the allocated
        // range, and starts it.
        // The new page tables identity-map the low 4 GiB, where this code, its stack, the
        // firmware and the block are (the block and firmware were allocated there; this
        // code and the stack were checked above).
        unsafe {
            core::arch::asm!(
                "cli",
                "mov cr3, {pml4}",
                "jmp {entry}",
                pml4 = in(reg) block + 4096,
                entry = in(reg) payload::PACKED_BASE,
                in("rdi") block,
                options(noreturn)
            )
        }
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        loop {
            // SAFETY: halting the CPU has no memory effects.
            unsafe { core::arch::asm!("cli; hlt") }
        }
    }
}
