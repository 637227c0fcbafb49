//! A real Linux for the end-to-end tests: Debian's cloud kernel (`vmlinuz`, fetched as a .deb
//! with `apt-get download`, nothing committed) and a tiny initramfs around busybox-static
//! whose `/init` prints [`MARKER`] on the console and powers the machine off.
//!
//! Everything is cached under the directory passed to [`ensure`]; a second call costs nothing.
//! When the package source cannot be reached, [`ensure`] says so in its error so tests can
//! skip with that reason.
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use lifeboat_firmware::image::{HeaderRepr, Kind, Version, PLATFORM};

/// What the initramfs's `/init` prints once it runs.
pub const MARKER: &str = "lifeboat-initramfs: init is running";
/// The Debian metapackage whose dependency names the current cloud kernel.
const KERNEL_META: &str = "linux-image-cloud-amd64";

/// The kernel and initramfs files.
#[derive(Clone, Debug)]
pub struct LinuxAssets {
    pub vmlinuz: PathBuf,
    pub initramfs: PathBuf,
    /// The Debian package the kernel came from, e.g. `linux-image-6.1.0-56-cloud-amd64`.
    pub kernel_package: String,
}

fn run(cmd: &mut Command) -> Result<Vec<u8>, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

/// Downloads `package`'s .deb into `dir` (once) and returns its path.
fn download(dir: &Path, package: &str) -> Result<PathBuf, String> {
    let find = |dir: &Path| -> Option<PathBuf> {
        fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
            })
    };
    if let Some(p) = find(dir) {
        return Ok(p);
    }
    run(Command::new("apt-get")
        .args(["download", "-qq", package])
        .current_dir(dir))
    .map_err(|e| format!("the package source is unreachable or lacks {package}: {e}"))?;
    find(dir).ok_or_else(|| format!("apt-get download {package} left no .deb"))
}

/// Extracts one member (a `./path` inside the package) of a .deb to `out`.
fn extract(deb: &Path, member_glob: &str, out: &Path) -> Result<(), String> {
    let tmp = out.with_extension("x");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let script = format!(
        "dpkg-deb --fsys-tarfile '{}' | tar -x -C '{}' --wildcards '{}'",
        deb.display(),
        tmp.display(),
        member_glob
    );
    run(Command::new("sh").args(["-c", &script]))?;
    let found = walk(&tmp)
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{member_glob} not found in {}", deb.display()))?;
    fs::rename(&found, out).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&tmp);
    Ok(())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Fetches (once) the kernel and builds (once) the initramfs in `dir`.
pub fn ensure(dir: &Path) -> Result<LinuxAssets, String> {
    // Tests of one binary run in parallel threads: one fetches, the others then find it.
    static FETCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let vmlinuz = dir.join("vmlinuz");
    let initramfs = dir.join("initramfs.cpio");
    let pkg_file = dir.join("kernel-package");
    if vmlinuz.exists() && initramfs.exists() {
        if let Ok(kernel_package) = fs::read_to_string(&pkg_file) {
            return Ok(LinuxAssets {
                vmlinuz,
                initramfs,
                kernel_package,
            });
        }
    }
    let deps = run(Command::new("apt-cache").args(["depends", KERNEL_META]))
        .map_err(|e| format!("cannot resolve {KERNEL_META} (run apt-get update?): {e}"))?;
    let kernel_package = String::from_utf8_lossy(&deps)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_owned)
        .ok_or_else(|| format!("{KERNEL_META} names no kernel package"))?;
    let deb = download(dir, &kernel_package)?;
    extract(&deb, "./boot/vmlinuz-*", &vmlinuz)?;
    let bb_deb = download(dir, "busybox-static")?;
    let busybox = dir.join("busybox");
    extract(&bb_deb, "./bin/busybox", &busybox)?;
    let bb = fs::read(&busybox).map_err(|e| e.to_string())?;
    fs::write(&initramfs, initramfs_cpio(&bb)).map_err(|e| e.to_string())?;
    fs::write(&pkg_file, &kernel_package).map_err(|e| e.to_string())?;
    Ok(LinuxAssets {
        vmlinuz,
        initramfs,
        kernel_package,
    })
}

/// The kernel command line of the test image: console on COM1 at the monitor's speed, and a
/// panic powers off at once.
pub const CMDLINE: &str = "console=ttyS0,9600 panic=-1";
/// The version the test image carries.
pub const VERSION: Version = Version::new(6, 1, 0);

/// The unsigned `linux` image of `assets` (kernel, then initramfs) for this platform, as
/// `mkimage --kind linux --version 6.1.0 --initrd initramfs.cpio --cmdline CMDLINE` makes it.
pub fn image(assets: &LinuxAssets) -> Result<Vec<u8>, String> {
    let read = |p: &Path| fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut payload = read(&assets.vmlinuz)?;
    let initrd = read(&assets.initramfs)?;
    payload.extend_from_slice(&initrd);
    let header = HeaderRepr {
        platform: PLATFORM,
        version: VERSION,
        kind: Kind::Linux,
        load: 0,
        entry: 0,
        initrd_len: initrd.len() as u64,
        cmdline: CMDLINE,
    }
    .emit(&payload)
    .map_err(|e| format!("packing the Linux image: {e:?}"))?;
    let mut img = header.to_vec();
    img.extend_from_slice(&payload);
    Ok(img)
}

/// The `/init` script: print the marker, power off.
fn init_script() -> String {
    format!(
        "#!/bin/busybox sh\n\
         /bin/busybox echo\n\
         /bin/busybox echo '{MARKER}'\n\
         /bin/busybox poweroff -f\n"
    )
}

/// The IDE disk drivers Debian's cloud kernel has only as modules (`lib/modules/...` of its
/// own package), in the order they must be loaded (`modinfo -F depends`).
pub const ATA_MODULES: [&str; 5] = ["scsi_common", "scsi_mod", "libata", "ata_piix", "sd_mod"];

/// The AHCI (SATA) drivers of Debian's generic kernel (all modules there), in load order:
/// `sd_mod` needs `t10-pi`, which needs the CRC-T10DIF and CRC64-Rocksoft crypto modules.
pub const AHCI_MODULES: [&str; 13] = [
    "scsi_common",
    "scsi_mod",
    "libata",
    "libahci",
    "ahci",
    "crct10dif_common",
    "crct10dif_generic",
    "crc-t10dif",
    "crc64",
    "crc64_rocksoft_generic",
    "crc64-rocksoft",
    "t10-pi",
    "sd_mod",
];

/// The Debian metapackage of the generic kernel (it has AHCI; the cloud kernel has not).
const GENERIC_META: &str = "linux-image-amd64";

/// [`ATA_MODULES`] of the kernel [`ensure`] fetched into `dir` (extracted once), in load
/// order: `(name, the .ko file)`.
pub fn ata_modules(dir: &Path, assets: &LinuxAssets) -> Result<Vec<(String, Vec<u8>)>, String> {
    modules(dir, &assets.kernel_package, &ATA_MODULES)
}

/// `names` (module names, the file names without `.ko`) from `package` (a kernel .deb,
/// downloaded into `dir` once), extracted once, in the order given.
pub fn modules(
    dir: &Path,
    package: &str,
    names: &[&str],
) -> Result<Vec<(String, Vec<u8>)>, String> {
    static EXTRACT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = EXTRACT.lock().unwrap_or_else(|e| e.into_inner());
    let out = dir.join(format!("modules-{package}"));
    fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut mods = Vec::new();
    for name in names {
        let ko = out.join(format!("{name}.ko"));
        if !ko.exists() {
            let deb = download(dir, package)?;
            // tar's `*` matches `/` too: any depth under the module tree.
            extract(&deb, &format!("./lib/modules/*/{name}.ko"), &ko)?;
        }
        mods.push((
            name.to_string(),
            fs::read(&ko).map_err(|e| format!("{}: {e}", ko.display()))?,
        ));
    }
    Ok(mods)
}

/// Debian's generic kernel (`linux-image-amd64`: 70 MB .deb, fetched once into `dir`): its
/// `vmlinuz` and package name.
pub fn generic_kernel(dir: &Path) -> Result<(PathBuf, String), String> {
    static FETCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let vmlinuz = dir.join("vmlinuz-generic");
    let pkg_file = dir.join("generic-package");
    if let (true, Ok(p)) = (vmlinuz.exists(), fs::read_to_string(&pkg_file)) {
        return Ok((vmlinuz, p));
    }
    let deps = run(Command::new("apt-cache").args(["depends", GENERIC_META]))
        .map_err(|e| format!("cannot resolve {GENERIC_META} (run apt-get update?): {e}"))?;
    let package = String::from_utf8_lossy(&deps)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_owned)
        .ok_or_else(|| format!("{GENERIC_META} names no kernel package"))?;
    let deb = download(dir, &package)?;
    extract(&deb, "./boot/vmlinuz-*", &vmlinuz)?;
    fs::write(&pkg_file, &package).map_err(|e| e.to_string())?;
    Ok((vmlinuz, package))
}

/// One file of a cpio archive: its path (no leading `/`), mode (with the file type bits)
/// and contents.
pub type CpioEntry<'a> = (&'a str, u32, &'a [u8]);

/// An uncompressed `newc` cpio archive (the kernel unpacks it into rootfs) with `/dev/console`
/// (so `/init` has a console without needing root to build it), busybox and `/init`.
pub fn initramfs_cpio(busybox: &[u8]) -> Vec<u8> {
    let init = init_script();
    cpio(&[
        ("bin", 0o040755, b""),
        ("bin/busybox", 0o100755, busybox),
        ("init", 0o100755, init.as_bytes()),
    ])
}

/// A `newc` cpio archive of `entries` after `dev/` and `dev/console` (character device 5:1).
pub fn cpio(entries: &[CpioEntry<'_>]) -> Vec<u8> {
    let mut w = Vec::new();
    let mut ino = 1;
    let mut entry = |w: &mut Vec<u8>, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]| {
        let _ = write!(
            w,
            "070701{ino:08X}{mode:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() + 1,
            0
        );
        ino += 1;
        w.extend_from_slice(name.as_bytes());
        w.push(0);
        while !w.len().is_multiple_of(4) {
            w.push(0);
        }
        w.extend_from_slice(data);
        while !w.len().is_multiple_of(4) {
            w.push(0);
        }
    };
    entry(&mut w, "dev", 0o040755, (0, 0), b"");
    entry(&mut w, "dev/console", 0o020600, (5, 1), b"");
    for &(name, mode, data) in entries {
        entry(&mut w, name, mode, (0, 0), data);
    }
    entry(&mut w, "TRAILER!!!", 0, (0, 0), b"");
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpio_is_well_formed_newc() {
        let a = initramfs_cpio(b"\x7fELF-ish");
        assert!(a.starts_with(b"070701"));
        assert_eq!(a.len() % 4, 0);
        let text = String::from_utf8_lossy(&a);
        for name in ["dev/console", "bin/busybox", "init", "TRAILER!!!"] {
            assert!(text.contains(name), "{name} missing");
        }
        assert!(text.contains(MARKER));
        // The header of dev/console: mode 020600, rdevmajor 5, rdevminor 1.
        let at = text.find("dev/console").unwrap() - 110;
        let hdr = &text[at..at + 110];
        assert_eq!(&hdr[14..22], "00002180");
        assert_eq!(&hdr[78..86], "00000005");
        assert_eq!(&hdr[86..94], "00000001");
    }
}
