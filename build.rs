//! Builds the bare-metal crates (bootloader, firmware, demo) for `x86_64-unknown-none` and the
//! UEFI loader (efi/) for `x86_64-unknown-uefi` with nested cargos, extracts the flat images
//! and exports the paths to the runner (`LIFEBOAT_STAGE1`, `LIFEBOAT_STAGE2`,
//! `LIFEBOAT_FIRMWARE`, `LIFEBOAT_FIRMWARE_ELF`, `LIFEBOAT_DEMO`, `LIFEBOAT_EFI`, and
//! `LIFEBOAT_ROM_TOP`: the top 64 KiB of `lifeboat.rom`, the ROM stage of rom/) and the end
//! of the firmware's memory (`LIFEBOAT_FIRMWARE_END`, its `__stack_top`).
//!
//! Every medium and the ROM carry the firmware packed (`LIFEBOAT_PACKED`): the unpack stage
//! of unpack/ (linked at 0x200000) followed by its header and the firmware deflated here
//! (`lifeboat_unpack::packed_image`); the stage inflates it to 1 MiB at boot. And
//! lifeboat-ctl (ctl/) for `x86_64-unknown-linux-musl` (`LIFEBOAT_CTL`).
use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSection, ObjectSymbol, SectionFlags, SectionKind};

const FIRMWARE_BASE: u64 = 0x10_0000;
/// The top of the unpack stage's stack (unpack/unpack.ld): the loaders' range must cover it.
const UNPACK_STACK_TOP: u64 = 0x40_0000;
/// lifeboat-ctl's target: a static x86-64 Linux executable.
const CTL_TARGET: &str = "x86_64-unknown-linux-musl";
/// Where the demo flat64 payload is linked (demo/demo.ld) and loaded.
const DEMO_BASE: u64 = 0x200_0000;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for p in [
        "abi", // the layouts every stage shares
        "hw",  // the hardware core of the ROM stage, the unpack stage and hal
        "bootloader",
        "ctl",
        "demo",
        "efi",
        "firmware",
        "hal",
        "rom",
        "unpack",
        "Cargo.lock",
        "Cargo.toml", // the release profile the bare build uses
        ".cargo/config.toml",
        "rust-toolchain.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    // <target-dir>/<profile>/build/<pkg>/out -> <target-dir>/bare, shared by all profiles.
    let target_dir = out
        .ancestors()
        .nth(4)
        .map(|t| t.join("bare"))
        .unwrap_or_else(|| out.join("bare"));
    ensure_target("x86_64-unknown-none");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", "x86_64-unknown-none"])
        .args([
            "-p",
            "lifeboat-bootloader",
            "-p",
            "lifeboat-firmware",
            "-p",
            "lifeboat-demo",
            "-p",
            "lifeboat-rom",
            "-p",
            "lifeboat-unpack",
            "--bins",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    // Panic locations name their source files in the image: the crates.io sources' long
    // absolute prefix (~60 bytes each, ~40 files) is shortened to `crates/`, which also makes
    // the image the same on every machine. (.cargo/config.toml's flag is repeated: this
    // variable replaces it.)
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        let registry = home.join("registry").join("src");
        let mut flags = String::from("-C relocation-model=static");
        for d in std::fs::read_dir(&registry).into_iter().flatten().flatten() {
            let dir = d.path().display().to_string();
            // The variable is split at spaces: a path holding one is left as it is.
            if !dir.contains(char::is_whitespace) {
                flags.push_str(&format!(" --remap-path-prefix={dir}=crates"));
            }
        }
        cmd.env("CARGO_TARGET_X86_64_UNKNOWN_NONE_RUSTFLAGS", flags);
    }
    run(cmd, "bootloader/firmware");
    // The UEFI loader (efi/): its own target, so its own cargo run.
    ensure_target("x86_64-unknown-uefi");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", "x86_64-unknown-uefi"])
        .args(["-p", "lifeboat-efi", "--bins"])
        .arg("--target-dir")
        .arg(&target_dir);
    run(cmd, "the UEFI loader");
    // lifeboat-ctl (ctl/), the running Linux system's side: a static executable (musl links
    // it with no C toolchain step), its symbols stripped (2.9 MB with them, for an initramfs).
    ensure_target(CTL_TARGET);
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", CTL_TARGET])
        .args(["-p", "lifeboat-ctl", "--bins"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols");
    run(cmd, "lifeboat-ctl");
    let ctl = target_dir.join(CTL_TARGET).join("release/lifeboat-ctl");
    println!("cargo:rustc-env=LIFEBOAT_CTL={}", ctl.display());
    let bin = target_dir.join("x86_64-unknown-none/release");
    let boot_elf = bin.join("lifeboat-bootloader");
    let fw_elf = bin.join("lifeboat-firmware");

    let boot = std::fs::read(&boot_elf).unwrap();
    let boot = object::File::parse(&*boot).unwrap();
    let section = |name: &str| -> Vec<u8> {
        boot.section_by_name(name)
            .unwrap_or_else(|| panic!("bootloader has no {name}"))
            .data()
            .unwrap()
            .to_vec()
    };
    let stage1 = section(".stage1");
    let stage2 = section(".stage2");
    assert_eq!(stage1.len(), 512, "stage 1 must be exactly one sector");
    assert_eq!(
        &stage1[510..],
        &[0x55, 0xAA],
        "stage 1 lacks the boot signature"
    );
    assert_eq!(stage2.len() % 512, 0, "stage 2 must be whole sectors");

    let firmware = flat_image(&fw_elf, FIRMWARE_BASE);
    let demo = flat_image(&bin.join("lifeboat-demo"), DEMO_BASE);
    write(&out, "demo.bin", &demo, "LIFEBOAT_DEMO");
    write(&out, "stage1.bin", &stage1, "LIFEBOAT_STAGE1");
    write(&out, "stage2.bin", &stage2, "LIFEBOAT_STAGE2");
    write(&out, "firmware.bin", &firmware, "LIFEBOAT_FIRMWARE");
    let packed =
        lifeboat_unpack::packed_image(&unpack_stage(&bin.join("lifeboat-unpack")), &firmware);
    assert!(
        packed.len() <= lifeboat_unpack::layout::PACKED_MAX,
        "the packed firmware ({} bytes) overruns the unpack stage's room",
        packed.len()
    );
    write(&out, "firmware-packed.bin", &packed, "LIFEBOAT_PACKED");
    write(
        &out,
        "rom-top.bin",
        &rom_top(&bin.join("lifeboat-rom")),
        "LIFEBOAT_ROM_TOP",
    );
    println!("cargo:rustc-env=LIFEBOAT_FIRMWARE_ELF={}", fw_elf.display());
    // The UEFI loader needs the end of the firmware's memory (its stack top) to allocate it.
    let elf = std::fs::read(&fw_elf).unwrap();
    let elf = object::File::parse(&*elf).unwrap();
    let end = elf
        .symbols()
        .find(|s| s.name() == Ok("__stack_top"))
        .expect("firmware has no __stack_top")
        .address();
    // The unpack stage runs inside that range too (0x200000 up to its stack at 4 MiB).
    assert!(
        end >= UNPACK_STACK_TOP,
        "the firmware's memory ends below the unpack stage's stack"
    );
    println!("cargo:rustc-env=LIFEBOAT_FIRMWARE_END={end:#x}");
    let efi = target_dir.join("x86_64-unknown-uefi/release/lifeboat-efi.efi");
    println!("cargo:rustc-env=LIFEBOAT_EFI={}", efi.display());
}

/// Runs a nested cargo build with the outer build's target settings removed.
fn run(mut cmd: Command, what: &str) {
    for v in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(v);
    }
    let res = cmd
        .output()
        .expect("cannot run cargo for a bare-metal build");
    if !res.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&res.stderr));
        panic!("bare-metal build of {what} failed (see above)");
    }
}

/// rustup installs the targets of `rust-toolchain.toml` only when it installs the toolchain
/// itself; a machine that already had 1.95.0 lacks `x86_64-unknown-none` ("can't find crate
/// for `core`"). Add it here, so `cargo run`/`cargo test` work on any machine with rustup.
fn ensure_target(target: &str) {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let has_core = libdir
        .and_then(|d| std::fs::read_dir(d).ok())
        .is_some_and(|mut it| {
            it.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libcore-")))
        });
    if has_core {
        return;
    }
    println!(
        "cargo:warning=installing the {target} target with rustup (pinned in rust-toolchain.toml)"
    );
    let ok = Command::new("rustup")
        .args(["target", "add", target])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        panic!(
            "the {target} target is missing and `rustup target add {target}` failed; \
             install it by hand (rustup target add {target}) and build again"
        );
    }
}

/// Every allocated section with file contents, placed at (address - base).
fn flat_image(elf: &Path, base: u64) -> Vec<u8> {
    let data = std::fs::read(elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let mut img = Vec::new();
    for s in file.sections() {
        let alloc = matches!(s.flags(), SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_ALLOC) != 0);
        if !alloc || s.kind() == SectionKind::UninitializedData || s.size() == 0 {
            continue;
        }
        assert!(
            s.address() >= base,
            "section {:?} below the load address",
            s.name()
        );
        let off = (s.address() - base) as usize;
        let bytes = s.data().unwrap();
        if img.len() < off + bytes.len() {
            img.resize(off + bytes.len(), 0);
        }
        img[off..off + bytes.len()].copy_from_slice(bytes);
    }
    img
}

/// The unpack stage's flat image (linked at `lifeboat_unpack::layout::LOAD`), exactly up to
/// its `__image_end`, where the media builder puts the header and the compressed firmware.
fn unpack_stage(elf: &Path) -> Vec<u8> {
    let base = lifeboat_unpack::layout::LOAD;
    let mut img = flat_image(elf, base);
    let data = std::fs::read(elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let end = file
        .symbols()
        .find(|s| s.name() == Ok("__image_end"))
        .expect("the unpack stage has no __image_end")
        .address();
    assert!(
        end - base >= img.len() as u64,
        "unpack stage data past __image_end"
    );
    img.resize((end - base) as usize, 0);
    img
}

/// The top 64 KiB of the system ROM (rom/rom.ld): the stage image (linked at 0x20000, at
/// most 60 KiB) from 0xFFFF0000, the reset stub (`.reset`) in the last 4 KiB.
fn rom_top(elf: &Path) -> Vec<u8> {
    const STAGE_BASE: u64 = 0x2_0000;
    const TOP: usize = 64 * 1024;
    const RESET: usize = 4096;
    let data = std::fs::read(elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let mut top = vec![0xFFu8; TOP];
    for s in file.sections() {
        let alloc = matches!(s.flags(), SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_ALLOC) != 0);
        if !alloc || s.kind() == SectionKind::UninitializedData || s.size() == 0 {
            continue;
        }
        let bytes = s.data().unwrap();
        let at = if s.name() == Ok(".reset") {
            assert_eq!(bytes.len(), RESET, "the ROM's reset stub must be 4 KiB");
            TOP - RESET
        } else {
            (s.address() - STAGE_BASE) as usize
        };
        assert!(
            at + bytes.len() <= TOP
                && (s.name() == Ok(".reset") || at + bytes.len() <= TOP - RESET),
            "ROM stage section {:?} outside its 60 KiB",
            s.name()
        );
        top[at..at + bytes.len()].copy_from_slice(bytes);
    }
    top
}

fn write(dir: &Path, name: &str, bytes: &[u8], var: &str) {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    println!("cargo:rustc-env={var}={}", p.display());
}
