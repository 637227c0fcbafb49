//! Boot media: `floppy.img` (a 1.44 MB diskette, written with `dd bs=18b`), `usb.img`
//! and `disk.img` (MBR disk images). Layout, shared with `bootloader/` (see
//! `bootloader/layout.md`):
//!
//! | LBA        | contents                                                    |
//! |------------|-------------------------------------------------------------|
//! | 0          | stage 1 boot sector; parameters patched at 0x1A0; MBR table |
//! | 1          | configuration sector (`key=value` text, NUL-padded)         |
//! | 2 ..       | stage 2 (whole sectors)                                     |
//! | then       | packed firmware, padded to a whole sector                   |
//!
//! Every medium and the ROM carry the firmware packed ([`PACKED`]): the unpack stage of
//! `unpack/` and the deflated flat image; the loaders copy it to 0x200000 and jump there,
//! the stage inflates the firmware to 1 MiB (`lifeboat_unpack`).
//!
//! And the UEFI media `uefi-usb.img` (Boothelper) and `uefi-disk.img` (the appliance's disk):
//! a GPT disk with one EFI system partition (FAT) holding `\EFI\BOOT\BOOTX64.EFI`, the
//! loader of `efi/` with the packed firmware and the configuration patched into its payload block
//! (`lifeboat_efi::payload`).
use std::fmt;
use std::path::{Path, PathBuf};

pub const STAGE1: &[u8] = include_bytes!(env!("LIFEBOAT_STAGE1"));
pub const STAGE2: &[u8] = include_bytes!(env!("LIFEBOAT_STAGE2"));
/// The firmware flat image (linked at 1 MiB), as it runs once unpacked.
pub const FIRMWARE: &[u8] = include_bytes!(env!("LIFEBOAT_FIRMWARE"));
/// What the media and the ROM carry: the unpack stage (linked at 0x200000), its header and
/// [`FIRMWARE`] deflated (build.rs, `lifeboat_unpack::packed_image`).
pub const PACKED: &[u8] = include_bytes!(env!("LIFEBOAT_PACKED"));
/// The size budgets (README, docs/benchmarks.md), held by a test: the packed firmware (what
/// every medium and the ROM carry), the firmware once unpacked, `lifeboat.rom`.
pub const PACKED_BUDGET: usize = 180 << 10;
pub const FIRMWARE_BUDGET: usize = 512 << 10;
pub const ROM_BUDGET: usize = 256 << 10;
/// The UEFI loader (`efi/`) as built, with an empty payload block.
pub const LOADER: &[u8] = include_bytes!(env!("LIFEBOAT_EFI"));
/// The top 64 KiB of the system ROM (rom/): the ROM stage and its reset stub.
pub const ROM_TOP: &[u8] = include_bytes!(env!("LIFEBOAT_ROM_TOP"));
/// The system ROM's file name in the media directory.
pub const ROM_FILE: &str = "lifeboat.rom";
/// The end of the firmware's memory (image, .bss, stack), from its ELF.
const FIRMWARE_END: &str = env!("LIFEBOAT_FIRMWARE_END");
/// The demo `flat64` payload (demo/), linked at [`DEMO_LOAD`].
pub const DEMO: &[u8] = include_bytes!(env!("LIFEBOAT_DEMO"));
/// `lifeboat-ctl` (ctl/), the running Linux system's side, a static x86-64 Linux executable;
/// [`write_media`] writes it as `lifeboat-ctl` beside the media.
pub const CTL: &[u8] = include_bytes!(env!("LIFEBOAT_CTL"));
/// The file name of [`CTL`] in a media directory.
pub const CTL_FILE: &str = "lifeboat-ctl";
pub const DEMO_LOAD: u64 = 0x200_0000;
/// The version `media` gives `demo-image.bin`.
pub const DEMO_VERSION: lifeboat_firmware::image::Version =
    lifeboat_firmware::image::Version::new(1, 0, 1);

/// `demo-image.bin`: the demo payload as an image (unsigned) of `version`; it confirms its
/// boot when started (see `hal::cmos`).
pub fn demo_image(version: lifeboat_firmware::image::Version) -> Vec<u8> {
    demo_image_with(version, true)
}

/// The demo image, optionally one that never confirms its boot (command line `noconfirm`).
pub fn demo_image_with(version: lifeboat_firmware::image::Version, confirms: bool) -> Vec<u8> {
    use lifeboat_firmware::image::{HeaderRepr, Kind, PLATFORM};
    let repr = HeaderRepr {
        platform: PLATFORM,
        version,
        kind: Kind::Flat64,
        load: DEMO_LOAD,
        entry: DEMO_LOAD,
        initrd_len: 0,
        cmdline: if confirms { "" } else { "noconfirm" },
    };
    crate::imagetool::pack(&repr, DEMO, None).expect("the demo header fits")
}

/// The firmware ELF (for defmt decoding and symbolising fault addresses).
pub fn firmware_elf() -> PathBuf {
    PathBuf::from(env!("LIFEBOAT_FIRMWARE_ELF"))
}

pub const SECTOR: usize = 512;
pub const FLOPPY_BYTES: usize = 1_474_560;
pub const USB_BYTES: usize = 2 << 20;
pub const DISK_BYTES: usize = 4 << 20;
/// Stage 1 loads to 0x7E00 and must stop below the EBDA (0x9F000).
pub const MAX_LOAD_BYTES: usize =
    (lifeboat_abi::memory::LOAD_LIMIT - lifeboat_abi::memory::CONFIG_ADDR) as usize;

use lifeboat_abi::bootinfo::medium as kind;
use lifeboat_abi::config;
use lifeboat_abi::stage1::{self, PARAMS, PARTITION_TABLE};

/// The boot media kinds (one definition, shared with the QEMU machine description).
pub use lifeboat_qemu::Medium;

pub fn file_name(m: Medium) -> &'static str {
    match m {
        Medium::Floppy => "floppy.img",
        Medium::Usb => "usb.img",
        Medium::Disk => "disk.img",
    }
}

/// The medium-kind byte stage 2 hands to the firmware.
fn kind_byte(m: Medium) -> u8 {
    match m {
        Medium::Floppy => kind::DISKETTE,
        Medium::Usb => kind::USB_STICK,
        Medium::Disk => kind::DISK,
    }
}

fn size(m: Medium) -> usize {
    match m {
        Medium::Floppy => FLOPPY_BYTES,
        Medium::Usb => USB_BYTES,
        Medium::Disk => DISK_BYTES,
    }
}

/// `floppy` (or `diskette`), `usb`, `disk`.
pub fn parse_medium(s: &str) -> Result<Medium, String> {
    match s {
        "floppy" | "diskette" => Ok(Medium::Floppy),
        "usb" => Ok(Medium::Usb),
        "disk" => Ok(Medium::Disk),
        _ => Err(format!("unknown medium {s:?} (floppy, usb or disk)")),
    }
}

/// What goes into the configuration sector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Seconds the unit waits for ESC/BREAK before flash boot.
    pub boot_timeout_s: u32,
    /// Console baud rate.
    pub baud: u32,
    /// Console log level: off, error, warn, info, debug, trace.
    pub log_level: String,
    /// Every medium is a Boothelper medium (the `pixboothelper>` prompt).
    pub boothelper: bool,
    /// The ed25519 public key images must be signed with (`pubkey=` in the sector).
    pub public_key: Option<[u8; 32]>,
    /// The appliance set: the diskette and the USB stick are Boothelper media, the disk the
    /// unit's own monitor-mode boot disk (what `media` and `cargo run` write).
    pub removable_boothelper: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            boot_timeout_s: 10,
            baud: 9600,
            log_level: "warn".into(),
            boothelper: false,
            public_key: None,
            removable_boothelper: false,
        }
    }
}

impl MediaConfig {
    pub fn to_text(&self) -> String {
        let key = self
            .public_key
            .map(|k| {
                format!(
                    "{}={}\n",
                    config::PUBKEY,
                    k.iter().map(|b| format!("{b:02x}")).collect::<String>()
                )
            })
            .unwrap_or_default();
        format!(
            "# lifeboat boot configuration\n{}={}\n{}={}\n{}={}\n{}={}\n{key}",
            config::BOOT_TIMEOUT,
            self.boot_timeout_s,
            config::BAUD,
            self.baud,
            config::LOG,
            self.log_level,
            config::MODE,
            if self.boothelper {
                "boothelper"
            } else {
                "monitor"
            }
        )
    }
}

#[derive(Debug)]
pub enum MediaError {
    ConfigTooLong(usize),
    /// The firmware does not fit the UEFI loader's payload block.
    FirmwareTooLarge(usize),
    TooLarge {
        bytes: usize,
        max: usize,
    },
    Io(std::io::Error),
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaError::ConfigTooLong(n) => {
                write!(f, "configuration is {n} bytes; one sector (511) at most")
            }
            MediaError::FirmwareTooLarge(n) => write!(
                f,
                "firmware is {n} bytes; the UEFI loader's payload holds {}",
                lifeboat_efi::payload::FIRMWARE_MAX
            ),
            MediaError::TooLarge { bytes, max } => {
                write!(
                    f,
                    "boot payload is {bytes} bytes; the real-mode load window holds {max}"
                )
            }
            MediaError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MediaError {}

impl From<std::io::Error> for MediaError {
    fn from(e: std::io::Error) -> Self {
        MediaError::Io(e)
    }
}

fn pad(v: &mut Vec<u8>) {
    let r = v.len() % SECTOR;
    if r != 0 {
        v.resize(v.len() + SECTOR - r, 0);
    }
}

/// The configuration text of one medium (the removables of the appliance set are
/// Boothelper media).
fn config_text(medium: Medium, cfg: &MediaConfig) -> Result<String, MediaError> {
    let helper = cfg.boothelper || (cfg.removable_boothelper && medium != Medium::Disk);
    let text = MediaConfig {
        boothelper: helper,
        ..cfg.clone()
    }
    .to_text();
    if text.len() >= SECTOR {
        return Err(MediaError::ConfigTooLong(text.len()));
    }
    Ok(text)
}

/// The bytes of one medium.
pub fn image(medium: Medium, cfg: &MediaConfig) -> Result<Vec<u8>, MediaError> {
    image_with(medium, cfg, PACKED)
}

/// A medium carrying `packed` (a packed firmware: [`PACKED`], or [`stored_firmware`] for
/// the benchmark's comparison).
pub fn image_with(medium: Medium, cfg: &MediaConfig, packed: &[u8]) -> Result<Vec<u8>, MediaError> {
    let mut payload = config_text(medium, cfg)?.into_bytes();
    payload.resize(SECTOR, 0);
    payload.extend_from_slice(STAGE2);
    pad(&mut payload);
    let fw_offset = SECTOR + payload.len();
    payload.extend_from_slice(packed);
    pad(&mut payload);
    if payload.len() > MAX_LOAD_BYTES {
        return Err(MediaError::TooLarge {
            bytes: payload.len(),
            max: MAX_LOAD_BYTES,
        });
    }
    let mut img = STAGE1.to_vec();
    assert_eq!(
        &img[PARAMS..PARAMS + 4],
        &stage1::MAGIC,
        "stage 1 parameter block moved"
    );
    let sectors = (payload.len() / SECTOR) as u16;
    let at = |field: usize| PARAMS + field;
    img[at(stage1::SECTORS)..at(stage1::SECTORS) + 2].copy_from_slice(&sectors.to_le_bytes());
    img[at(stage1::MEDIUM)] = kind_byte(medium);
    img[at(stage1::FIRMWARE_OFFSET)..at(stage1::FIRMWARE_OFFSET) + 4]
        .copy_from_slice(&(fw_offset as u32).to_le_bytes());
    img[at(stage1::FIRMWARE_SIZE)..at(stage1::FIRMWARE_SIZE) + 4]
        .copy_from_slice(&(packed.len() as u32).to_le_bytes());
    if medium != Medium::Floppy {
        // One active partition (type 0xDA, "non-filesystem data") over the payload, so
        // BIOSes that insist on a valid MBR boot the stick as a hard disk.
        let total = (size(medium) / SECTOR) as u32;
        let e = &mut img[PARTITION_TABLE..PARTITION_TABLE + 16];
        e.copy_from_slice(&[
            0x80, 0xFE, 0xFF, 0xFF, 0xDA, 0xFE, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        e[8..12].copy_from_slice(&1u32.to_le_bytes());
        e[12..16].copy_from_slice(&(total - 1).to_le_bytes());
        img[0x1B8..0x1BC].copy_from_slice(b"LFBT");
    }
    img.extend_from_slice(&payload);
    img.resize(size(medium), 0);
    Ok(img)
}

/// `lifeboat.rom`: the system ROM for QEMU `-bios` (rom/): the packed firmware and the disk's
/// configuration text under the ROM stage (layout in `lifeboat_rom::layout`). Its slots are
/// on the ATA disk (secondary IDE master): a pflash unit 0 would replace the `-bios` ROM.
pub fn rom_image(cfg: &MediaConfig) -> Result<Vec<u8>, MediaError> {
    rom_image_with(cfg, PACKED)
}

/// `lifeboat.rom` carrying `packed` (see [`image_with`]).
pub fn rom_image_with(cfg: &MediaConfig, packed: &[u8]) -> Result<Vec<u8>, MediaError> {
    use lifeboat_rom::{layout, payload as p};
    let text = config_text(Medium::Disk, cfg)?;
    let len = layout::rom_len(packed.len());
    let mut rom = vec![0xFFu8; len];
    let at = |addr: u64| len - (layout::ROM_END - addr) as usize;
    let fw = at(layout::firmware_addr(packed.len()));
    rom[fw..fw + packed.len()].copy_from_slice(packed);
    let h = &mut rom[at(layout::HEADER_ADDR)..][..layout::HEADER_LEN];
    h.fill(0);
    h[..16].copy_from_slice(&p::MAGIC);
    h[p::FIRMWARE_LEN..p::FIRMWARE_LEN + 4].copy_from_slice(&(packed.len() as u32).to_le_bytes());
    h[p::ROM_LEN..p::ROM_LEN + 4].copy_from_slice(&(len as u32).to_le_bytes());
    h[p::CONFIG..p::CONFIG + text.len()].copy_from_slice(text.as_bytes());
    rom[len - layout::TOP_LEN..].copy_from_slice(ROM_TOP);
    if len > layout::ROM_MAX {
        return Err(MediaError::TooLarge {
            bytes: len,
            max: layout::ROM_MAX,
        });
    }
    Ok(rom)
}

/// Size of each UEFI medium; the EFI system partition starts at 1 MiB.
pub const UEFI_BYTES: usize = 4 << 20;
const ESP_FIRST_LBA: u64 = 2048;

/// The UEFI media: a USB stick (Boothelper) or the disk. (The diskette has no UEFI form.)
pub fn uefi_file_name(m: Medium) -> &'static str {
    match m {
        Medium::Usb | Medium::Floppy => "uefi-usb.img",
        Medium::Disk => "uefi-disk.img",
    }
}

/// `BOOTX64.EFI` for `medium`: the loader with the packed firmware, its memory end, the medium kind
/// and the configuration text patched into its payload block.
pub fn uefi_loader(medium: Medium, cfg: &MediaConfig) -> Result<Vec<u8>, MediaError> {
    uefi_loader_with(medium, cfg, PACKED)
}

/// `BOOTX64.EFI` carrying `packed` (see [`image_with`]).
pub fn uefi_loader_with(
    medium: Medium,
    cfg: &MediaConfig,
    packed: &[u8],
) -> Result<Vec<u8>, MediaError> {
    use lifeboat_efi::payload as p;
    let text = config_text(medium, cfg)?;
    if packed.len() > p::FIRMWARE_MAX {
        return Err(MediaError::FirmwareTooLarge(packed.len()));
    }
    let end = u32::from_str_radix(FIRMWARE_END.trim_start_matches("0x"), 16)
        .expect("LIFEBOAT_FIRMWARE_END is hex");
    let mut efi = LOADER.to_vec();
    let at = efi
        .windows(p::MAGIC.len())
        .position(|w| w == p::MAGIC)
        .expect("the loader has a payload block");
    assert!(at + p::LEN <= efi.len(), "payload block cut short");
    let block = &mut efi[at..at + p::LEN];
    block[p::MEDIUM..p::MEDIUM + 4].copy_from_slice(&u32::from(kind_byte(medium)).to_le_bytes());
    block[p::FIRMWARE_LEN..p::FIRMWARE_LEN + 4]
        .copy_from_slice(&(packed.len() as u32).to_le_bytes());
    block[p::FIRMWARE_END..p::FIRMWARE_END + 4].copy_from_slice(&end.to_le_bytes());
    block[p::CONFIG..p::CONFIG + text.len()].copy_from_slice(text.as_bytes());
    block[p::FIRMWARE..p::FIRMWARE + packed.len()].copy_from_slice(packed);
    Ok(efi)
}

/// The bytes of a UEFI medium: GPT, one EFI system partition (FAT) from 1 MiB to the end
/// with `\EFI\BOOT\BOOTX64.EFI`.
pub fn uefi_image(medium: Medium, cfg: &MediaConfig) -> Result<Vec<u8>, MediaError> {
    uefi_image_with(medium, &uefi_loader(medium, cfg)?)
}

/// A UEFI medium holding `efi` as `BOOTX64.EFI` (for example the loader of [`uefi_loader`]
/// after `sbsign`).
pub fn uefi_image_with(medium: Medium, efi: &[u8]) -> Result<Vec<u8>, MediaError> {
    use std::io::Write;
    let mut disk = vec![0u8; UEFI_BYTES];
    let sectors = (UEFI_BYTES / SECTOR) as u64;
    let (_, last) = crate::gpt::usable(sectors);
    // Fixed GUIDs: the media are reproducible; the two kinds differ.
    let k = kind_byte(medium);
    crate::gpt::write(
        &mut disk,
        crate::gpt::guid(
            0x4C46_4254,
            0x5545,
            0x4649,
            [0x44, 0x49, 0x53, 0x4B, 0, 0, 0, k],
        ),
        &crate::gpt::Partition {
            type_guid: crate::gpt::ESP_TYPE,
            guid: crate::gpt::guid(0x4C46_4254, 0x4553, 0x5000, [0, 0, 0, 0, 0, 0, 0, k]),
            first: ESP_FIRST_LBA,
            last,
            name: "lifeboat EFI system",
        },
    );
    let esp = &mut disk[ESP_FIRST_LBA as usize * SECTOR..(last as usize + 1) * SECTOR];
    fatfs::format_volume(
        std::io::Cursor::new(&mut *esp),
        fatfs::FormatVolumeOptions::new().volume_label(*b"LIFEBOAT   "),
    )?;
    {
        let fs = fatfs::FileSystem::new(std::io::Cursor::new(&mut *esp), fatfs::FsOptions::new())?;
        let boot = fs.root_dir().create_dir("EFI")?.create_dir("BOOT")?;
        let mut file = boot.create_file("BOOTX64.EFI")?;
        file.write_all(efi)?;
        file.flush()?;
        drop(file);
        drop(boot);
        fs.unmount()?;
    }
    Ok(disk)
}

/// `efi` signed for Secure Boot with `sbsign` (Debian package sbsigntool): an Authenticode
/// signature by `key` (PEM; sbsign asks for its passphrase, if any, on the terminal) with
/// `cert`, which the machine's `db` must trust.
pub fn sbsign(efi: &[u8], key: &Path, cert: &Path) -> Result<Vec<u8>, String> {
    let dir = std::env::temp_dir().join(format!("lifeboat-sbsign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (input, output) = (dir.join("in.efi"), dir.join("out.efi"));
    std::fs::write(&input, efi).map_err(|e| format!("{}: {e}", input.display()))?;
    let run = std::process::Command::new("sbsign")
        .arg("--key")
        .arg(key)
        .arg("--cert")
        .arg(cert)
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .output();
    let result = match run {
        Ok(o) if o.status.success() => {
            std::fs::read(&output).map_err(|e| format!("{}: {e}", output.display()))
        }
        Ok(o) => Err(format!(
            "sbsign failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!(
            "sbsign: {e} (install the Debian package sbsigntool)"
        )),
    };
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Rewrites the UEFI media of `set` with loaders signed by [`sbsign`].
pub fn sign_uefi_media(
    set: &MediaSet,
    cfg: &MediaConfig,
    key: &Path,
    cert: &Path,
) -> Result<(), String> {
    for m in [Medium::Usb, Medium::Disk] {
        let efi = uefi_loader(m, cfg).map_err(|e| e.to_string())?;
        let img = uefi_image_with(m, &sbsign(&efi, key, cert)?).map_err(|e| e.to_string())?;
        let path = set.uefi_path(m);
        std::fs::write(path, img).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The media written to `dir`: the three BIOS media and the two UEFI ones.
#[derive(Debug, Clone)]
pub struct MediaSet {
    pub floppy: PathBuf,
    pub usb: PathBuf,
    pub disk: PathBuf,
    pub uefi_usb: PathBuf,
    pub uefi_disk: PathBuf,
    /// `lifeboat.rom` (QEMU `-bios`).
    pub rom: PathBuf,
}

impl MediaSet {
    pub fn path(&self, m: Medium) -> &Path {
        match m {
            Medium::Floppy => &self.floppy,
            Medium::Usb => &self.usb,
            Medium::Disk => &self.disk,
        }
    }

    /// The UEFI medium of a kind (a diskette has none: its name gives the USB stick).
    pub fn uefi_path(&self, m: Medium) -> &Path {
        match m {
            Medium::Disk => &self.uefi_disk,
            Medium::Usb | Medium::Floppy => &self.uefi_usb,
        }
    }
}

/// Writes `bytes` to `path` with mode 0755.
pub fn write_executable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

pub fn write_media(dir: &Path, cfg: &MediaConfig) -> Result<MediaSet, MediaError> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("demo-image.bin"), demo_image(DEMO_VERSION))?;
    for m in Medium::ALL {
        std::fs::write(dir.join(file_name(m)), image(m, cfg)?)?;
    }
    for m in [Medium::Usb, Medium::Disk] {
        std::fs::write(dir.join(uefi_file_name(m)), uefi_image(m, cfg)?)?;
    }
    std::fs::write(dir.join(ROM_FILE), rom_image(cfg)?)?;
    write_executable(&dir.join(CTL_FILE), CTL)?;
    Ok(MediaSet {
        floppy: dir.join("floppy.img"),
        usb: dir.join("usb.img"),
        disk: dir.join("disk.img"),
        uefi_usb: dir.join(uefi_file_name(Medium::Usb)),
        uefi_disk: dir.join(uefi_file_name(Medium::Disk)),
        rom: dir.join(ROM_FILE),
    })
}

/// The unpack stage of [`PACKED`] with the firmware in stored deflate blocks (level 0, no
/// compression): the stage then only copies it. The boot-time benchmark runs it beside
/// [`PACKED`] to show what the inflate costs against a plain copy of the flat image.
pub fn stored_firmware() -> Vec<u8> {
    let at = lifeboat_unpack::header_offset(PACKED).expect("a packed firmware");
    let mut out = PACKED[..at].to_vec();
    out.extend_from_slice(&lifeboat_unpack::pack_level(FIRMWARE, 0));
    out
}

/// `img` (a BIOS medium of [`image`], a [`rom_image`] or a [`uefi_loader`]) with one byte of
/// its compressed firmware flipped, in the middle of the deflate stream: the unpack stage
/// must refuse it (tests).
pub fn corrupt_firmware(mut img: Vec<u8>) -> Vec<u8> {
    let at = lifeboat_unpack::header_offset(PACKED).expect("a packed firmware");
    let header = &PACKED[at..at + lifeboat_unpack::HEADER_LEN];
    let start = img
        .windows(header.len())
        .position(|w| w == header)
        .expect("the image carries the packed firmware");
    img[start + lifeboat_unpack::HEADER_LEN + (PACKED.len() - at) / 2] ^= 0x55;
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rom_carries_firmware_config_and_stage() {
        use lifeboat_rom::{layout, payload as p};
        let rom = rom_image(&MediaConfig::default()).unwrap();
        assert_eq!(rom.len() % layout::ROM_GRANULE, 0);
        assert!(rom.len() <= ROM_BUDGET, "ROM is {} bytes", rom.len());
        // The reset vector: a near jump in the last 16 bytes.
        assert_eq!(rom[rom.len() - 16], 0xE9);
        let at = |addr: u64| rom.len() - (layout::ROM_END - addr) as usize;
        let h = &rom[at(layout::HEADER_ADDR)..][..layout::HEADER_LEN];
        assert_eq!(p::firmware_len(h), Some(PACKED.len()));
        assert!(std::str::from_utf8(&h[p::CONFIG..p::CONFIG + 20])
            .unwrap()
            .starts_with("# lifeboat"));
        let fw = at(layout::firmware_addr(PACKED.len()));
        assert_eq!(&rom[fw..fw + PACKED.len()], PACKED);
        assert_eq!(&rom[rom.len() - layout::TOP_LEN..], ROM_TOP);
    }

    /// The size budgets (README, docs/benchmarks.md): the packed firmware (unpack stage and
    /// compressed image, what every medium carries) at most 180 KiB, the firmware once
    /// unpacked at most 512 KiB, the system ROM at most 256 KiB. A change that crosses one
    /// fails here, not in a benchmark nobody ran.
    #[test]
    fn the_firmware_and_the_rom_stay_within_their_budgets() {
        assert!(
            PACKED.len() <= PACKED_BUDGET,
            "packed firmware {} bytes, budget {PACKED_BUDGET}",
            PACKED.len()
        );
        assert!(
            FIRMWARE.len() <= FIRMWARE_BUDGET,
            "firmware {} bytes unpacked, budget {FIRMWARE_BUDGET}",
            FIRMWARE.len()
        );
        let rom = rom_image(&MediaConfig::default()).unwrap();
        assert!(
            rom.len() <= ROM_BUDGET,
            "ROM {} bytes, budget {ROM_BUDGET}",
            rom.len()
        );
    }

    /// `media --out` ships lifeboat-ctl for appliances whose initramfs has no C library:
    /// an x86-64 ELF executable with no program interpreter (static), symbols stripped.
    #[test]
    fn lifeboat_ctl_is_a_static_x86_64_linux_executable() {
        assert_eq!(&CTL[..4], b"\x7fELF");
        assert_eq!(CTL[4], 2, "64-bit");
        assert_eq!(u16::from_le_bytes([CTL[0x12], CTL[0x13]]), 0x3E, "x86-64");
        let u64_at = |o: usize| u64::from_le_bytes(CTL[o..o + 8].try_into().unwrap());
        let u16_at = |o: usize| u16::from_le_bytes([CTL[o], CTL[o + 1]]) as usize;
        let (phoff, phentsize, phnum) = (u64_at(0x20) as usize, u16_at(0x36), u16_at(0x38));
        assert!(phnum > 0);
        for i in 0..phnum {
            let p_type = u32::from_le_bytes(CTL[phoff + i * phentsize..][..4].try_into().unwrap());
            assert_ne!(p_type, 3, "PT_INTERP: lifeboat-ctl is dynamically linked");
        }
        assert!(CTL.len() < 1 << 20, "lifeboat-ctl is {} bytes", CTL.len());
        // `media --out DIR` writes it beside the media.
        let dir = std::env::temp_dir().join(format!("lifeboat-media-ctl-{}", std::process::id()));
        write_media(&dir, &MediaConfig::default()).unwrap();
        assert!(std::fs::read(dir.join(CTL_FILE)).unwrap() == CTL);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(CTL_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The packed firmware is the unpack stage, then a header and the deflated firmware that
    /// unpacks to exactly [`FIRMWARE`]; every loader puts it where the stage is linked.
    #[test]
    fn the_packed_firmware_unpacks_to_the_firmware() {
        use lifeboat_unpack::{check, header_offset, layout, unpack, Header, HEADER_LEN};
        let at = header_offset(PACKED).expect("a header after the unpack stage");
        let (header, data) = check(&PACKED[at..]).unwrap();
        assert_eq!(at + HEADER_LEN + data.len(), PACKED.len());
        assert_eq!(header.unpacked_len as usize, FIRMWARE.len());
        assert_eq!(header.entry, layout::FIRMWARE_BASE);
        let mut out = vec![0u8; layout::FIRMWARE_MAX];
        assert_eq!(unpack(&PACKED[at..], &mut out), Ok(FIRMWARE.len()));
        assert_eq!(&out[..FIRMWARE.len()], FIRMWARE);
        // The packed image lies between the firmware's room and the stage's .bss.
        assert!(PACKED.len() <= layout::PACKED_MAX);
        assert_eq!(
            layout::FIRMWARE_BASE + layout::FIRMWARE_MAX as u64,
            layout::LOAD
        );
        // Every loader copies it to the stage's link address and jumps there.
        assert_eq!(lifeboat_rom::layout::PACKED_BASE, layout::LOAD);
        assert_eq!(lifeboat_rom::layout::PACKED_MAX, layout::PACKED_MAX);
        assert_eq!(lifeboat_efi::payload::PACKED_BASE, layout::LOAD);
        assert_eq!(lifeboat_efi::payload::FIRMWARE_BASE, layout::FIRMWARE_BASE);
        // Stage 2: `mov edi, 0x200000` (copy) and `mov eax, 0x200000` (jump), and nothing
        // left that enters 1 MiB.
        let imm = |op: u8, v: u32| {
            let mut i = vec![op];
            i.extend_from_slice(&v.to_le_bytes());
            STAGE2.windows(5).filter(|w| *w == i.as_slice()).count()
        };
        assert_eq!(imm(0xBF, layout::LOAD as u32), 1, "stage 2 copies to LOAD");
        assert_eq!(imm(0xB8, layout::LOAD as u32), 1, "stage 2 jumps to LOAD");
        assert_eq!(imm(0xB8, layout::FIRMWARE_BASE as u32), 0);
        // The UEFI loader allocates up to the firmware's memory end, which covers the stage.
        let end = u64::from_str_radix(FIRMWARE_END.trim_start_matches("0x"), 16).unwrap();
        assert!(end >= layout::LOAD + 0x20_0000, "{end:#x}");
        let _ = Header::parse(&PACKED[at..]).unwrap();
    }

    /// A medium whose compressed firmware was damaged fails the check the unpack stage makes
    /// before it writes a byte (the QEMU test `boot::a_corrupt_firmware_halts_with_a_line`
    /// runs the same medium).
    #[test]
    fn a_damaged_medium_fails_the_unpack_check() {
        use lifeboat_unpack::{header_offset, unpack, Error};
        let img = corrupt_firmware(image(Medium::Floppy, &MediaConfig::default()).unwrap());
        let off = u32::from_le_bytes(img[PARAMS + 8..PARAMS + 12].try_into().unwrap()) as usize;
        let size = u32::from_le_bytes(img[PARAMS + 12..PARAMS + 16].try_into().unwrap()) as usize;
        let packed = &img[off..off + size];
        let at = header_offset(packed).unwrap();
        let mut out = vec![0u8; lifeboat_unpack::layout::FIRMWARE_MAX];
        assert!(matches!(
            unpack(&packed[at..], &mut out),
            Err(Error::Crc { .. })
        ));
    }

    #[test]
    fn floppy_is_exactly_a_diskette() {
        let img = image(Medium::Floppy, &MediaConfig::default()).unwrap();
        assert_eq!(img.len(), 1_474_560);
        assert_eq!(&img[510..512], &[0x55, 0xAA]);
        assert_eq!(&img[PARTITION_TABLE..PARTITION_TABLE + 16], &[0; 16]);
        assert_eq!(img[PARAMS + 6], 1);
    }

    #[test]
    fn parameters_describe_the_payload() {
        let img = image(Medium::Usb, &MediaConfig::default()).unwrap();
        let sectors = u16::from_le_bytes([img[PARAMS + 4], img[PARAMS + 5]]) as usize;
        let off = u32::from_le_bytes(img[PARAMS + 8..PARAMS + 12].try_into().unwrap()) as usize;
        let size = u32::from_le_bytes(img[PARAMS + 12..PARAMS + 16].try_into().unwrap()) as usize;
        assert_eq!(&img[off..off + size], PACKED);
        assert!(off + size <= SECTOR * (1 + sectors));
        assert_eq!(&img[2 * SECTOR..2 * SECTOR + STAGE2.len()], STAGE2);
        assert!(std::str::from_utf8(&img[SECTOR..SECTOR + 20])
            .unwrap()
            .starts_with("# lifeboat"));
        assert_eq!(img[PARTITION_TABLE], 0x80);
        assert_eq!(img[PARTITION_TABLE + 4], 0xDA);
        assert_eq!(img.len(), USB_BYTES);
    }

    #[test]
    fn the_appliance_set_has_boothelper_removables_and_a_monitor_disk() {
        let cfg = MediaConfig {
            removable_boothelper: true,
            ..MediaConfig::default()
        };
        let mode = |m| {
            let img = image(m, &cfg).unwrap();
            let text = String::from_utf8_lossy(&img[SECTOR..2 * SECTOR]).into_owned();
            text.contains("mode=boothelper")
        };
        assert!(mode(Medium::Floppy) && mode(Medium::Usb) && !mode(Medium::Disk));
    }

    /// Stage 2 gets its boot-info offsets and addresses from `lifeboat_abi` as `global_asm!`
    /// constant operands; this checks the assembled bytes carry them: each store it makes
    /// into the block, found by its x86 encoding built from the ABI's constants.
    #[test]
    fn stage2_writes_the_block_the_abi_defines() {
        use lifeboat_abi::bootinfo::{field, MAGIC};
        use lifeboat_abi::memory::{BOOT_INFO, CONFIG_ADDR, PACKED_BASE};
        let at = |f: usize| ((BOOT_INFO as usize + f) as u16).to_le_bytes();
        let cat = |parts: &[&[u8]]| parts.concat();
        // 16-bit code: mov dword ptr [m16], imm32 is 66 C7 06 m16 imm32; mov [m16], eax is
        // 66 A3 m16; mov [m16], al is A2 m16; mov [m16], bp is 89 2E m16; mov di, imm16 is
        // BF imm16. 64-bit code: mov edi, imm32 is BF imm32.
        let config_len = (lifeboat_abi::config::LEN as u32).to_le_bytes();
        let stores = [
            (
                "magic",
                cat(&[&[0x66, 0xC7, 0x06], &at(field::MAGIC), &MAGIC.to_le_bytes()]),
            ),
            ("drive", cat(&[&[0xA2], &at(field::BOOT_DRIVE)])),
            ("medium", cat(&[&[0xA2], &at(field::MEDIUM)])),
            ("E820 count", cat(&[&[0x89, 0x2E], &at(field::E820_COUNT)])),
            (
                "configuration address",
                cat(&[
                    &[0x66, 0xC7, 0x06],
                    &at(field::CONFIG_ADDR),
                    &(CONFIG_ADDR as u32).to_le_bytes(),
                ]),
            ),
            (
                "configuration length",
                cat(&[&[0x66, 0xC7, 0x06], &at(field::CONFIG_LEN), &config_len]),
            ),
            (
                "firmware size",
                cat(&[&[0x66, 0xA3], &at(field::FIRMWARE_SIZE)]),
            ),
            ("E820 entries", cat(&[&[0xBF], &at(field::E820)])),
            ("rdi", cat(&[&[0xBF], &(BOOT_INFO as u32).to_le_bytes()])),
            (
                "packed base",
                cat(&[&[0xBF], &(PACKED_BASE as u32).to_le_bytes()]),
            ),
        ];
        for (what, bytes) in stores {
            assert!(
                STAGE2.windows(bytes.len()).any(|w| w == bytes),
                "stage 2 does not store the {what} where lifeboat_abi says ({bytes:02x?})"
            );
        }
    }

    #[test]
    fn config_round_trips_through_the_sector() {
        let cfg = MediaConfig {
            boot_timeout_s: 3,
            baud: 115200,
            log_level: "info".into(),
            boothelper: true,
            public_key: Some([0xAB; 32]),
            removable_boothelper: false,
        };
        let img = image(Medium::Disk, &cfg).unwrap();
        let sector = &img[SECTOR..2 * SECTOR];
        let text =
            std::str::from_utf8(&sector[..sector.iter().position(|&b| b == 0).unwrap()]).unwrap();
        assert_eq!(text, cfg.to_text());
        assert!(text.contains(&format!("pubkey={}\n", "ab".repeat(32))));
        // The sector is where the ABI says, and every line names one of its keys; the
        // firmware reads the same text back with the same keys and the baud is accepted.
        let at = config::SECTOR_LBA as usize * SECTOR;
        assert_eq!(&img[at..at + config::LEN], sector);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (k, _) = line.split_once('=').unwrap();
            assert!(config::KEYS.contains(&k), "{line}");
        }
        let parsed = lifeboat_firmware::config::BootConfig::parse(sector, false, |w| {
            panic!("the media builder's text warns: {w}")
        });
        assert!(config::baud_accepted(parsed.baud));
        assert_eq!(
            (parsed.baud, parsed.boot_timeout_s, parsed.public_key),
            (115200, 3, Some([0xAB; 32]))
        );
    }

    #[test]
    fn uefi_loader_carries_firmware_and_config() {
        use lifeboat_efi::payload as p;
        let cfg = MediaConfig {
            removable_boothelper: true,
            ..MediaConfig::default()
        };
        for (m, mode, kind) in [
            (Medium::Usb, "mode=boothelper", 2),
            (Medium::Disk, "mode=monitor", 3),
        ] {
            let efi = uefi_loader(m, &cfg).unwrap();
            assert_eq!(&efi[..2], b"MZ");
            let at = efi.windows(16).position(|w| w == p::MAGIC).unwrap();
            let b = &efi[at..at + p::LEN];
            let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
            assert_eq!(u32_at(p::MEDIUM), kind);
            assert_eq!(u32_at(p::FIRMWARE_LEN) as usize, PACKED.len());
            assert!(u64::from(u32_at(p::FIRMWARE_END)) > p::PACKED_BASE + PACKED.len() as u64);
            let text = String::from_utf8_lossy(&b[p::CONFIG..p::CONFIG + p::CONFIG_LEN]);
            assert!(text.contains(mode), "{text}");
            assert_eq!(&b[p::FIRMWARE..p::FIRMWARE + PACKED.len()], PACKED);
        }
    }

    #[test]
    fn uefi_disk_has_the_loader_in_its_esp() {
        use std::io::Read;
        let img = uefi_image(Medium::Disk, &MediaConfig::default()).unwrap();
        assert_eq!(img.len(), UEFI_BYTES);
        assert_eq!(&img[512..520], b"EFI PART");
        let mut img = img;
        let esp = &mut img[ESP_FIRST_LBA as usize * SECTOR..];
        let fs =
            fatfs::FileSystem::new(std::io::Cursor::new(esp), fatfs::FsOptions::new()).unwrap();
        let mut efi = Vec::new();
        fs.root_dir()
            .open_file("EFI/BOOT/BOOTX64.EFI")
            .unwrap()
            .read_to_end(&mut efi)
            .unwrap();
        assert_eq!(
            efi,
            uefi_loader(Medium::Disk, &MediaConfig::default()).unwrap()
        );
    }

    #[test]
    fn overlong_config_is_refused() {
        let cfg = MediaConfig {
            log_level: "x".repeat(600),
            ..Default::default()
        };
        assert!(matches!(
            image(Medium::Floppy, &cfg),
            Err(MediaError::ConfigTooLong(_))
        ));
    }
}
