//! Shared helpers of the QEMU scenario tests: boot media, booting a machine, and talking to
//! the monitor over the serial console.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use lifeboat::media::{self, MediaConfig, MediaSet};
pub use lifeboat_qemu::{Machine, Medium, Qemu};

/// Launch to the first banner line (SeaBIOS + bootloader under TCG, 2 guests on 2 cores).
pub const BOOT: Duration = Duration::from_secs(30);
/// One console reply.
pub const REPLY: Duration = Duration::from_secs(10);

pub const ESC: &[u8] = b"\x1b";
pub const USE_BREAK: &str = "Use BREAK or ESC to interrupt flash boot.\r\n";
pub const USE_SPACE: &str = "Use SPACE to begin flash boot immediately.\r\n";
pub const INTERRUPTED: &str = "Flash boot interrupted.\r\n";
pub const NO_IMAGE: &str = "no valid image";
pub const HELP_HINT: &str = "Use ? for help.\r\n";
pub const PROMPT: &str = "monitor> ";

/// Every monitor command, as `?` lists them.
pub const COMMANDS: [&str; 13] = [
    "address",
    "server",
    "file",
    "gateway",
    "interface",
    "ping",
    "tftp",
    "http",
    "dns",
    "trace",
    "reload",
    "help",
    "version",
];

/// Boot media with a `boot_timeout_s`-second window, written once per test process.
///
/// Each set is built in a staging directory and renamed into
/// `$CARGO_TARGET_TMPDIR/media/t<seconds>/`, so a QEMU of another test process that still
/// has the old file open keeps reading a complete image.
pub fn media(boot_timeout_s: u32) -> MediaSet {
    static CACHE: OnceLock<Mutex<HashMap<u32, MediaSet>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    cache
        .entry(boot_timeout_s)
        .or_insert_with(|| {
            let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("media");
            let staging = base.join(format!("staging-{}-t{boot_timeout_s}", std::process::id()));
            let dir = base.join(format!("t{boot_timeout_s}"));
            let cfg = MediaConfig {
                boot_timeout_s,
                ..MediaConfig::default()
            };
            let staged = media::write_media(&staging, &cfg)
                .unwrap_or_else(|e| panic!("writing media to {}: {e}", staging.display()));
            std::fs::create_dir_all(&dir).expect("creating media dir");
            let place = |from: &PathBuf| {
                let to = dir.join(from.file_name().expect("media file name"));
                std::fs::rename(from, &to).expect("moving media into place");
                to
            };
            let set = MediaSet {
                floppy: place(&staged.floppy),
                usb: place(&staged.usb),
                disk: place(&staged.disk),
                uefi_usb: place(&staged.uefi_usb),
                uefi_disk: place(&staged.uefi_disk),
                rom: place(&staged.rom),
            };
            let _ = std::fs::remove_dir_all(&staging);
            set
        })
        .clone()
}

/// A Boothelper media set (no key: its medium sets no policy) and the appliance's own media
/// provisioned with `unit_key`, both with a 2 s window, written under `dir`.
pub fn boothelper_and_appliance(dir: &Path, unit_key: Option<[u8; 32]>) -> (MediaSet, MediaSet) {
    let write = |sub: &str, cfg: MediaConfig| {
        media::write_media(&dir.join(sub), &cfg)
            .unwrap_or_else(|e| panic!("writing media to {}: {e}", dir.display()))
    };
    let helper = write(
        "helper",
        MediaConfig {
            boot_timeout_s: 2,
            boothelper: true,
            ..MediaConfig::default()
        },
    );
    let appliance = write(
        "appliance",
        MediaConfig {
            boot_timeout_s: 2,
            public_key: unit_key,
            ..MediaConfig::default()
        },
    );
    (helper, appliance)
}

/// The test machine: `medium` from a media set with a `boot_timeout_s` window, no NIC.
/// The image is opened as a snapshot so concurrent tests can share it.
pub fn machine(medium: Medium, boot_timeout_s: u32) -> Machine {
    let set = media(boot_timeout_s);
    let image = match medium {
        Medium::Floppy => set.floppy,
        Medium::Usb => set.usb,
        Medium::Disk => set.disk,
    };
    Machine::new(medium, image).medium_snapshot(true)
}

#[track_caller]
pub fn launch(machine: &Machine) -> Qemu {
    match Qemu::launch(machine) {
        Ok(q) => q,
        Err(e) => panic!("launching QEMU: {e}"),
    }
}

/// Waits for `needle` or fails the test with the transcript tail.
#[track_caller]
pub fn expect(q: &mut Qemu, needle: &str, timeout: Duration) -> String {
    match q.expect(needle, timeout) {
        Ok(text) => text,
        Err(e) => panic!("{e}"),
    }
}

/// Waits for the start-up banner up to the boot window; returns the text before the
/// window lines (product, version and platform).
#[track_caller]
pub fn expect_banner(q: &mut Qemu) -> String {
    let banner = expect(q, USE_BREAK, BOOT);
    expect(q, USE_SPACE, REPLY);
    banner
}

/// Boots `medium` (5 s window), interrupts the boot window with ESC and waits for the prompt.
#[track_caller]
pub fn boot_to_monitor(medium: Medium) -> Qemu {
    let mut q = launch(&machine(medium, 5));
    expect_banner(&mut q);
    q.send(ESC).expect("sending ESC");
    expect(&mut q, INTERRUPTED, REPLY);
    expect(&mut q, HELP_HINT, REPLY);
    expect(&mut q, PROMPT, REPLY);
    q
}

/// Waits for the banner, interrupts the boot window with ESC and waits for the prompt.
#[track_caller]
pub fn to_prompt(q: &mut Qemu) {
    expect_banner(q);
    q.send(ESC).expect("ESC");
    expect(q, HELP_HINT, REPLY);
    expect(q, PROMPT, REPLY);
}

/// `file FILE` and `tftp` at `monitor>` (address and server already set): the image must
/// install as `version`; returns what `tftp` printed.
#[track_caller]
pub fn tftp_install(q: &mut Qemu, file: &str, version: &str) -> String {
    command1(q, &format!("file {file}"));
    q.send_line("tftp").unwrap();
    expect(q, "tftp\r\n", REPLY);
    let out = expect(q, PROMPT, Duration::from_secs(60));
    assert!(
        out.contains(&format!("Installed {version} in slot")),
        "{out}"
    );
    out
}

/// Ejects the diskette by QMP (QEMU versions name the drive by `id` or by `device`).
pub fn eject_floppy(q: &mut Qemu) {
    q.qmp(r#"{"execute":"eject","arguments":{"id":"floppy0","force":true}}"#)
        .or_else(|_| q.qmp(r#"{"execute":"eject","arguments":{"device":"floppy0","force":true}}"#))
        .expect("eject");
}

/// Sends `line` + CR, checks the echo and returns the reply lines before the next prompt.
#[track_caller]
pub fn command(q: &mut Qemu, line: &str) -> Vec<String> {
    q.send_line(line).expect("writing to the console");
    let echo = format!("{line}\r\n");
    let before = expect(q, &echo, REPLY);
    assert_eq!(before, "", "unexpected output before the echo of {line:?}");
    lines(&expect(q, PROMPT, REPLY))
}

/// Like [`command`] for a reply of exactly one line.
#[track_caller]
pub fn command1(q: &mut Qemu, line: &str) -> String {
    let reply = command(q, line);
    assert_eq!(
        reply.len(),
        1,
        "{line:?} should answer one line, got {reply:#?}"
    );
    reply.into_iter().next().unwrap_or_default()
}

/// Sends raw bytes (a line with editing keys or bad bytes, ending in CR) and returns
/// `(echo, reply lines)`: the echo is everything up to the first CR LF.
#[track_caller]
pub fn raw_command(q: &mut Qemu, bytes: &[u8]) -> (String, Vec<String>) {
    q.send(bytes).expect("writing to the console");
    let text = expect(q, PROMPT, REPLY);
    match text.split_once("\r\n") {
        Some((echo, reply)) => (echo.to_owned(), lines(reply)),
        None => panic!("no line end before the prompt in {text:?}"),
    }
}

/// Non-empty CR LF separated lines.
pub fn lines(text: &str) -> Vec<String> {
    text.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The model name the monitor prints for a QEMU NIC.
pub fn model_name(model: lifeboat_qemu::NicModel) -> &'static str {
    use lifeboat_qemu::NicModel;
    match model {
        NicModel::E1000 => "i82540em",
        NicModel::E1000e => "i82574l",
        NicModel::I82557b => "i82557",
        NicModel::I82558b => "i82558",
        NicModel::I82559er => "i82559er",
        NicModel::VirtioNetPci => "virtio-net",
    }
}

/// One `#[test]` per NIC model for a scenario that takes the [`NicModel`](lifeboat_qemu::NicModel):
/// `on_nics!(scenario; name => E1000, name_on_e1000e => E1000e);` defines `fn name()` running
/// `scenario(NicModel::E1000)` and `fn name_on_e1000e()` running `scenario(NicModel::E1000e)`.
/// `scenario` is a path or a closure (`|m| two_nics(m, m)`).
#[allow(unused_macros)] // each test binary uses a different subset
macro_rules! on_nics {
    ($scenario:expr; $($test:ident => $model:ident),+ $(,)?) => {
        $(
            #[test]
            fn $test() {
                ($scenario)(lifeboat_qemu::NicModel::$model);
            }
        )+
    };
}
#[allow(unused_imports)] // each test binary uses a different subset
pub(crate) use on_nics;

/// The running test's name (libtest runs each test on a thread named after it), for a skip.
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_owned()
}

// Debian Linux (`qemu::linux`), recovered and booted by several scenarios.

/// Debian's kernel and busybox (`qemu::linux`, cached under the target directory), or `None`
/// once the running test has been skipped (a failure in CI) for want of them.
pub fn linux_assets() -> Option<lifeboat_qemu::linux::LinuxAssets> {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("linux");
    match lifeboat_qemu::linux::ensure(&cache) {
        Ok(a) => Some(a),
        Err(why) => {
            skip_or_fail(
                &test_name(),
                &format!("{why}; needs apt-get with a reachable Debian package source"),
            );
            None
        }
    }
}

/// At `monitor>`, with slirp's TFTP root holding `linux.img`: fetch it, and it must be
/// installed in slot A as 6.1(0). Returns what `tftp` printed.
#[track_caller]
pub fn install_linux(q: &mut Qemu) -> String {
    command1(q, "address 10.0.2.15");
    command1(q, "server 10.0.2.2");
    command1(q, "file linux.img");
    q.send_line("tftp").unwrap();
    let out = expect(q, PROMPT, Duration::from_secs(180));
    assert!(out.contains("Installed 6.1(0) in slot A"), "{out}");
    out
}

/// After the reset that follows [`install_linux`]'s `reload`: the flash boot starts the
/// kernel and the initramfs prints its marker. Returns the console text up to the marker.
#[track_caller]
pub fn boot_installed_linux(q: &mut Qemu) -> String {
    expect(
        q,
        "Flash boot: slot A, image 6.1(0) (linux, kernel ",
        Duration::from_secs(60),
    );
    expect(q, "Linux version 6.1", Duration::from_secs(60));
    expect(q, lifeboat_qemu::linux::MARKER, Duration::from_secs(120))
}

// Skips and network namespaces.

/// A test that cannot run here: a failure under `LIFEBOAT_REQUIRE_ALL=1` (CI), otherwise
/// `SKIPPED <test>: <why>` on stderr, counted at the end of the run (`qemu/tests/zz_skips.rs`).
/// `why` names what to install.
#[track_caller]
pub fn skip_or_fail(test: &str, why: &str) {
    lifeboat_qemu::skip::skip_or_fail(Path::new(env!("CARGO_TARGET_TMPDIR")), test, why);
}

// Scratch files, networks and keys that many scenarios share.

/// A directory of its own under the target's scratch area for this test process:
/// `CARGO_TARGET_TMPDIR/<name>-<pid>`, created.
pub fn scratch_dir(name: &str) -> PathBuf {
    let d =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An erased flash file of `len` bytes (all 0xFF).
pub fn blank(path: &Path, len: usize) {
    std::fs::write(path, vec![0xFFu8; len]).unwrap();
}

/// QEMU's user network with its TFTP server serving `root`.
pub fn user_net(root: &Path) -> lifeboat_qemu::NetBackend {
    lifeboat_qemu::NetBackend::User {
        tftp: Some(root.to_path_buf()),
        bootfile: None,
    }
}

/// The ed25519 key pair of `seed` (every byte of the seed).
pub fn key(seed: u8) -> ed25519_compact::KeyPair {
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([seed; 32]))
}

/// `img` (header + payload) with its header signed by `kp`.
pub fn signed(kp: &ed25519_compact::KeyPair, img: &[u8]) -> Vec<u8> {
    use lifeboat_firmware::image::{sign_header, HEADER_LEN};
    let mut h: [u8; HEADER_LEN] = img[..HEADER_LEN].try_into().unwrap();
    sign_header(&mut h, |m| *kp.sk.sign(m, None));
    let mut v = h.to_vec();
    v.extend_from_slice(&img[HEADER_LEN..]);
    v
}

/// `m` with an NVMe controller whose namespace 1 is `file` (a raw file, or a `blkdebug:` spec
/// over one), with `extra` device properties (`,logical_block_size=4096,...`).
pub fn with_nvme(m: Machine, file: &str, extra: &str) -> Machine {
    m.arg("-drive")
        .arg(format!("if=none,id=nv,format=raw,file={file}"))
        .arg("-device")
        .arg(format!("nvme,serial=lifeboat,drive=nv{extra}"))
}
