//! The emulated appliance and its QEMU command line (pure: no process is started here).

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// SeaBIOS image mapped as pflash unit 0 when the machine has a flash file (unit 1).
pub const SEABIOS: &str = "/usr/share/seabios/bios-256k.bin";

/// OVMF (UEFI for QEMU, Debian package `ovmf`), code and variable store in one file. The
/// machine maps a writable copy of it as pflash unit 0 (see [`Machine::ovmf`]).
pub const OVMF: &str = "/usr/share/ovmf/OVMF.fd";

/// I/O port of the `isa-debug-exit` device: writing `v` there exits QEMU with `(v << 1) | 1`.
pub const DEBUG_EXIT_IOBASE: u16 = 0xf4;

/// Chardev id of the console (COM1) in [`ConsoleBackend::Socket`] mode; QMP's
/// `chardev-send-break` names it.
pub const CONSOLE_CHARDEV: &str = "con0";

/// What the interactive runner prints before handing the terminal to QEMU.
pub const STDIO_NOTE: &str = "lifeboat: COM1 console on this terminal (9600 8N1). \
Ctrl-A b sends a BREAK, Ctrl-A x quits QEMU, Ctrl-A c switches to the QEMU monitor and back.";

/// The kind of boot medium; the measured boot facts for each are in `docs/design.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Medium {
    /// 1.44 MB diskette (`-drive if=floppy -boot a`): CHS reads only.
    Floppy,
    /// USB stick on an xHCI controller, first in the boot order: LBA reads only.
    Usb,
    /// IDE hard disk (or CompactFlash in true-IDE mode), booted as the first hard disk.
    Disk,
}

impl Medium {
    /// Every medium, for tests that loop over them.
    pub const ALL: [Medium; 3] = [Medium::Floppy, Medium::Usb, Medium::Disk];
}

/// A boot medium and its raw image file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootMedium {
    pub medium: Medium,
    pub image: PathBuf,
}

/// Emulated network cards (QEMU device names in [`NicModel::device`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NicModel {
    /// Intel 82540EM, 8086:100e.
    E1000,
    /// Intel 82574L, 8086:10d3 (PCIe; q35's NIC).
    E1000e,
    /// Intel 82557B, 8086:1229 (the PIX's i8255x family).
    I82557b,
    /// Intel 82558B, 8086:1229.
    I82558b,
    /// Intel 82559ER, 8086:1209.
    I82559er,
    /// virtio-net (legacy/transitional PCI), 1af4:1000.
    VirtioNetPci,
}

impl NicModel {
    /// The `-device` driver name.
    pub fn device(self) -> &'static str {
        match self {
            NicModel::E1000 => "e1000",
            NicModel::E1000e => "e1000e",
            NicModel::I82557b => "i82557b",
            NicModel::I82558b => "i82558b",
            NicModel::I82559er => "i82559er",
            NicModel::VirtioNetPci => "virtio-net-pci",
        }
    }
}

/// Where a NIC's frames go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetBackend {
    /// User-mode networking (slirp): guest 10.0.2.15, host/server 10.0.2.2, optional TFTP root
    /// and the boot file name its DHCP server offers.
    User {
        tftp: Option<PathBuf>,
        bootfile: Option<String>,
    },
    /// An existing tap interface (no up/down scripts).
    Tap { ifname: String },
    /// One raw Ethernet frame (no FCS) per UDP datagram between `local` and `remote`:
    /// a host program at `remote` sees and injects every frame.
    Udp {
        local: SocketAddr,
        remote: SocketAddr,
    },
}

/// One network card and its backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nic {
    pub model: NicModel,
    pub backend: NetBackend,
    /// `52:54:00:12:34:56` style; QEMU picks one when `None`.
    pub mac: Option<String>,
}

/// The QEMU board.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MachineType {
    /// i440FX + PIIX (single NIC at 00:03.0).
    #[default]
    Pc,
    /// Q35 + ICH9 (single NIC at 00:02.0).
    Q35,
}

impl MachineType {
    /// QEMU's `-machine` name.
    pub fn name(self) -> &'static str {
        match self {
            MachineType::Pc => "pc",
            MachineType::Q35 => "q35",
        }
    }
}

/// Where COM1, the operator's console, is connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsoleBackend {
    /// The terminal, multiplexed with the QEMU monitor (`-serial mon:stdio`): Ctrl-A b sends a
    /// BREAK. Print [`STDIO_NOTE`] before running.
    Stdio,
    /// A Unix socket QEMU listens on and waits for (`wait=on`, so no early output is lost),
    /// plus a QMP socket for `chardev-send-break` and the like.
    Socket { console: PathBuf, qmp: PathBuf },
}

/// An emulated appliance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// Boot medium; `None` leaves SeaBIOS with nothing to boot.
    pub boot: Option<BootMedium>,
    /// Network cards, in PCI slot order; empty means `-nic none`.
    pub nics: Vec<Nic>,
    /// Guest RAM in MiB.
    pub memory_mib: u32,
    pub machine_type: MachineType,
    /// Flash file mapped as pflash unit 1 below SeaBIOS (unit 0, read-only); a multiple of 4 KiB,
    /// at most 8 MiB − 256 KiB unless `max_fw_size_mib` raises the limit.
    pub pflash: Option<PathBuf>,
    /// UEFI instead of SeaBIOS: a writable copy of [`OVMF`] (its variable store is written),
    /// mapped as pflash unit 0; [`Machine::pflash`] is then unit 1 below it, and the boot
    /// medium is a UEFI one (`uefi-disk.img`, `uefi-usb.img`).
    pub ovmf: Option<PathBuf>,
    /// Secure Boot: [`Machine::ovmf`] is then a `.secboot` code image (mapped read-only) and
    /// this file a writable copy of its variable store with keys enrolled (unit 1; so there is
    /// no room for [`Machine::pflash`]). The board gets SMM and secure pflash, as the secboot
    /// builds require.
    pub ovmf_vars: Option<PathBuf>,
    /// lifeboat as the system ROM (`lifeboat.rom`) instead of SeaBIOS: QEMU `-bios`, or with
    /// [`Machine::pflash`] the board's flash arrangement: the ROM read-only as pflash unit 0
    /// (mapped just as `-bios` maps it, top of 4 GiB) and the slots' flash as unit 1 below
    /// it. Without a pflash the slots go on an ATA disk ([`Machine::ide_disk`] index 2).
    pub bios: Option<PathBuf>,
    /// Network namespace QEMU runs in (see [`Machine::netns`]).
    pub netns: Option<String>,
    /// Map the pflash unit 1 file `readonly=on`: program and erase then fail with status
    /// errors (to test how failures are reported).
    pub pflash_readonly: bool,
    /// `-machine max-fw-size=`, in MiB (QEMU's default is 8).
    pub max_fw_size_mib: Option<u32>,
    /// Extra IDE disks `(index, raw image)`: index 0/1 = primary master/slave, 2/3 = secondary
    /// master/slave. Lifeboat's CompactFlash is index 2 (see [`Machine::ide_disk`]).
    pub ide_disks: Vec<(u8, PathBuf)>,
    /// COM2 (the defmt log channel) goes to this file when set, else to `null`.
    pub com2_file: Option<PathBuf>,
    /// Open the boot medium with `snapshot=on`: writes go to a temporary overlay, and several
    /// machines may boot one image file at once (QEMU otherwise locks it for writing).
    pub medium_snapshot: bool,
    /// `-no-reboot`: off by default, because `reload` must reboot the machine.
    pub no_reboot: bool,
    /// The emulator binary; [`find_qemu`](crate::find_qemu) when `None`.
    pub qemu: Option<PathBuf>,
    /// Appended verbatim after everything else.
    pub extra_args: Vec<OsString>,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            boot: None,
            nics: Vec::new(),
            memory_mib: 256,
            machine_type: MachineType::Pc,
            pflash: None,
            ovmf: None,
            ovmf_vars: None,
            bios: None,
            netns: None,
            pflash_readonly: false,
            max_fw_size_mib: None,
            ide_disks: Vec::new(),
            com2_file: None,
            medium_snapshot: false,
            no_reboot: false,
            qemu: None,
            extra_args: Vec::new(),
        }
    }
}

impl Machine {
    /// A machine whose system ROM is `rom` (lifeboat's `lifeboat.rom`): no boot medium, no
    /// SeaBIOS, defaults for everything else (no NIC).
    pub fn rom(rom: impl Into<PathBuf>) -> Self {
        Machine {
            bios: Some(rom.into()),
            ..Machine::default()
        }
    }

    /// A machine booting `image` from `medium`, with defaults for everything else (no NIC).
    pub fn new(medium: Medium, image: impl Into<PathBuf>) -> Self {
        Machine {
            boot: Some(BootMedium {
                medium,
                image: image.into(),
            }),
            ..Machine::default()
        }
    }

    /// Adds a NIC with a QEMU-chosen MAC address.
    pub fn nic(mut self, model: NicModel, backend: NetBackend) -> Self {
        self.nics.push(Nic {
            model,
            backend,
            mac: None,
        });
        self
    }

    pub fn memory_mib(mut self, mib: u32) -> Self {
        self.memory_mib = mib;
        self
    }

    pub fn machine_type(mut self, machine_type: MachineType) -> Self {
        self.machine_type = machine_type;
        self
    }

    pub fn pflash(mut self, file: impl Into<PathBuf>) -> Self {
        self.pflash = Some(file.into());
        self
    }

    /// Boots through UEFI: `file` is a writable copy of [`OVMF`] (see [`Machine::ovmf`]).
    pub fn ovmf(mut self, file: impl Into<PathBuf>) -> Self {
        self.ovmf = Some(file.into());
        self
    }

    /// Maps the pflash file read-only (see [`Machine::pflash_readonly`]).
    pub fn pflash_readonly(mut self, readonly: bool) -> Self {
        self.pflash_readonly = readonly;
        self
    }

    /// Adds a raw IDE disk at `index` (0–3; 2 = secondary master, where lifeboat expects its
    /// CompactFlash card). Writes go to the file.
    pub fn ide_disk(mut self, index: u8, file: impl Into<PathBuf>) -> Self {
        self.ide_disks.push((index, file.into()));
        self
    }

    pub fn com2_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.com2_file = Some(file.into());
        self
    }

    pub fn medium_snapshot(mut self, snapshot: bool) -> Self {
        self.medium_snapshot = snapshot;
        self
    }

    pub fn no_reboot(mut self, no_reboot: bool) -> Self {
        self.no_reboot = no_reboot;
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Runs QEMU inside the network namespace `name` (`ip netns exec`), so its UDP and tap
    /// netdevs see that namespace's loopback and interfaces.
    pub fn netns(mut self, name: impl Into<String>) -> Self {
        self.netns = Some(name.into());
        self
    }

    /// The command that runs this machine (not yet spawned).
    pub fn command(&self, console: &ConsoleBackend) -> Command {
        let qemu = self
            .qemu
            .clone()
            .unwrap_or_else(|| PathBuf::from("qemu-system-x86_64"));
        let mut command = match &self.netns {
            // `ip netns exec` execs QEMU: the child's PID is QEMU's own.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(qemu);
                c
            }
            None => Command::new(qemu),
        };
        command.args(self.args(console));
        command
    }

    /// The argument list of [`command`](Self::command).
    pub fn args(&self, console: &ConsoleBackend) -> Vec<OsString> {
        let mut a = Args::default();
        a.push("-accel").push("tcg");
        let mut machine = OsString::from(self.machine_type.name());
        if let Some(mib) = self.max_fw_size_mib {
            machine.push(format!(",max-fw-size={mib}M"));
        }
        if self.ovmf_vars.is_some() {
            machine.push(",smm=on");
        }
        a.push("-machine").push(machine);
        a.push("-m").push(format!("{}M", self.memory_mib));
        a.push("-display").push("none");
        if self.no_reboot {
            a.push("-no-reboot");
        }
        a.push("-device").push(format!(
            "isa-debug-exit,iobase={DEBUG_EXIT_IOBASE:#x},iosize=0x04"
        ));

        match console {
            ConsoleBackend::Stdio => {
                a.push("-serial").push("mon:stdio");
            }
            ConsoleBackend::Socket { console, qmp } => {
                a.push("-chardev").push(opt(&[
                    format!("socket,id={CONSOLE_CHARDEV},path=").as_ref(),
                    &escape(console.as_os_str()),
                    ",server=on,wait=on".as_ref(),
                ]));
                a.push("-serial").push(format!("chardev:{CONSOLE_CHARDEV}"));
                a.push("-qmp").push(opt(&[
                    "unix:".as_ref(),
                    &escape(qmp.as_os_str()),
                    ",server=on,wait=off".as_ref(),
                ]));
                a.push("-monitor").push("none");
            }
        }
        match &self.com2_file {
            // `file:` takes the rest of the argument as the path: no comma escaping.
            Some(path) => a
                .push("-serial")
                .push(opt(&["file:".as_ref(), path.as_os_str()])),
            None => a.push("-serial").push("null"),
        };
        a.push("-parallel").push("none");
        if let Some(rom) = self.bios.as_ref().filter(|_| self.pflash.is_none()) {
            a.push("-bios").push(rom.as_os_str());
        }

        match (&self.ovmf, &self.ovmf_vars) {
            (Some(code), Some(vars)) => {
                a.push("-global")
                    .push("driver=cfi.pflash01,property=secure,value=on");
                a.push("-drive").push(opt(&[
                    "if=pflash,unit=0,readonly=on,format=raw,file=".as_ref(),
                    &escape(code.as_os_str()),
                ]));
                a.push("-drive").push(opt(&[
                    "if=pflash,unit=1,format=raw,file=".as_ref(),
                    &escape(vars.as_os_str()),
                ]));
            }
            (Some(ovmf), None) => {
                a.push("-drive").push(opt(&[
                    "if=pflash,unit=0,format=raw,file=".as_ref(),
                    &escape(ovmf.as_os_str()),
                ]));
            }
            _ => {}
        }
        if let Some(flash) = self.pflash.as_ref().filter(|_| self.ovmf_vars.is_none()) {
            if self.ovmf.is_none() {
                // The board's firmware chip, read-only: SeaBIOS, or lifeboat's own ROM (mapped
                // where `-bios` would put it, so it starts from the same reset vector).
                let rom = self.bios.as_deref().unwrap_or(Path::new(SEABIOS));
                a.push("-drive").push(opt(&[
                    "if=pflash,unit=0,readonly=on,format=raw,file=".as_ref(),
                    &escape(rom.as_os_str()),
                ]));
            }
            a.push("-drive").push(opt(&[
                "if=pflash,unit=1,format=raw,".as_ref(),
                if self.pflash_readonly {
                    "readonly=on,".as_ref()
                } else {
                    "".as_ref()
                },
                "file=".as_ref(),
                &escape(flash.as_os_str()),
            ]));
        }
        for (index, file) in &self.ide_disks {
            if self.ovmf.is_some() {
                // OVMF boots only what `bootindex` lists (an extra disk has to be there to be
                // booted once the medium is gone): the same places as `if=ide,index=N`
                // (pc: two units on each of ide.0/ide.1; q35: one on each AHCI port).
                let (bus, unit) = match self.machine_type {
                    MachineType::Pc => (index / 2, index % 2),
                    MachineType::Q35 => (*index, 0),
                };
                a.push("-drive").push(opt(&[
                    format!("if=none,id=ide{index},format=raw,file=").as_ref(),
                    &escape(file.as_os_str()),
                ]));
                a.push("-device").push(format!(
                    "ide-hd,drive=ide{index},bus=ide.{bus},unit={unit},bootindex={}",
                    2 + u32::from(*index)
                ));
                continue;
            }
            a.push("-drive").push(opt(&[
                format!("if=ide,index={index},format=raw,file=").as_ref(),
                &escape(file.as_os_str()),
            ]));
        }

        if let Some(BootMedium { medium, image }) = &self.boot {
            let mut file = escape(image.as_os_str());
            if self.medium_snapshot {
                file.push(",snapshot=on");
            }
            match medium {
                Medium::Floppy => {
                    a.push("-drive")
                        .push(opt(&["if=floppy,format=raw,file=".as_ref(), &file]));
                    a.push("-boot").push("a");
                }
                Medium::Usb => {
                    a.push("-device").push("qemu-xhci");
                    a.push("-drive")
                        .push(opt(&["if=none,id=u,format=raw,file=".as_ref(), &file]));
                    a.push("-device")
                        .push("usb-storage,drive=u,bootindex=1,id=stick");
                }
                // OVMF boots what `bootindex` names first (`-boot` is SeaBIOS's). Bus ide.0 is
                // where `if=ide` puts it: the primary master (pc), AHCI port 0 (q35), never
                // a place the firmware takes for its flash.
                Medium::Disk if self.ovmf.is_some() => {
                    a.push("-drive")
                        .push(opt(&["if=none,id=d,format=raw,file=".as_ref(), &file]));
                    a.push("-device")
                        .push("ide-hd,drive=d,bus=ide.0,bootindex=1");
                }
                Medium::Disk => {
                    a.push("-drive")
                        .push(opt(&["if=ide,format=raw,file=".as_ref(), &file]));
                    a.push("-boot").push("c");
                }
            }
        }

        if self.nics.is_empty() {
            a.push("-nic").push("none");
        }
        for (i, nic) in self.nics.iter().enumerate() {
            let id = format!("n{i}");
            let netdev = match &nic.backend {
                NetBackend::User { tftp, bootfile } => {
                    let mut o = OsString::from(format!("user,id={id}"));
                    if let Some(dir) = tftp {
                        o.push(",tftp=");
                        o.push(escape(dir.as_os_str()));
                    }
                    if let Some(f) = bootfile {
                        o.push(format!(",bootfile={}", f.replace(',', ",,")));
                    }
                    o
                }
                NetBackend::Tap { ifname } => OsString::from(format!(
                    "tap,id={id},ifname={},script=no,downscript=no",
                    ifname.replace(',', ",,")
                )),
                NetBackend::Udp { local, remote } => {
                    OsString::from(format!("socket,id={id},udp={remote},localaddr={local}"))
                }
            };
            a.push("-netdev").push(netdev);
            let mut device = format!("{},netdev={id}", nic.model.device());
            if let Some(mac) = &nic.mac {
                device.push_str(&format!(",mac={mac}"));
            }
            a.push("-device").push(device);
        }

        a.0.extend(self.extra_args.iter().cloned());
        a.0
    }
}

#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn push(&mut self, arg: impl Into<OsString>) -> &mut Self {
        self.0.push(arg.into());
        self
    }
}

/// Concatenates option fragments.
fn opt(parts: &[&OsStr]) -> OsString {
    let mut s = OsString::new();
    for part in parts {
        s.push(part);
    }
    s
}

/// QEMU option values escape a comma by doubling it.
fn escape(value: &OsStr) -> OsString {
    let mut out = Vec::with_capacity(value.len());
    for &b in value.as_bytes() {
        out.push(b);
        if b == b',' {
            out.push(b',');
        }
    }
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    /// True if `needle` occurs in `args` as consecutive elements.
    fn has(args: &[String], needle: &[&str]) -> bool {
        args.windows(needle.len()).any(|w| w == needle)
    }

    fn socket() -> ConsoleBackend {
        ConsoleBackend::Socket {
            console: "/tmp/x/console.sock".into(),
            qmp: "/tmp/x/qmp.sock".into(),
        }
    }

    #[test]
    fn rom_machine_has_bios_and_no_pflash() {
        let args = strings(
            Machine::rom("/r/lifeboat.rom")
                .ide_disk(2, "/r/slots.img")
                .args(&ConsoleBackend::Stdio),
        );
        assert!(has(&args, &["-bios", "/r/lifeboat.rom"]));
        assert!(!args.iter().any(|a| a.contains("pflash")));
        assert!(!args.iter().any(|a| a == "-boot"));
        assert!(has(
            &args,
            &["-drive", "if=ide,index=2,format=raw,file=/r/slots.img"]
        ));
    }

    #[test]
    fn rom_machine_with_a_flash_maps_the_rom_as_pflash_unit_0() {
        let args = strings(
            Machine::rom("/r/lifeboat.rom")
                .pflash("/r/flash.img")
                .args(&ConsoleBackend::Stdio),
        );
        assert!(!args.iter().any(|a| a == "-bios"), "{args:?}");
        assert!(has(
            &args,
            &[
                "-drive",
                "if=pflash,unit=0,readonly=on,format=raw,file=/r/lifeboat.rom"
            ]
        ));
        assert!(has(
            &args,
            &["-drive", "if=pflash,unit=1,format=raw,file=/r/flash.img"]
        ));
        assert!(!args.iter().any(|a| a.contains("bios-256k")), "{args:?}");
    }

    #[test]
    fn defaults_are_tcg_pc_256m_headless_rebooting_with_debug_exit() {
        let args = strings(Machine::default().args(&ConsoleBackend::Stdio));
        assert!(has(&args, &["-accel", "tcg"]));
        assert!(has(&args, &["-machine", "pc"]));
        assert!(has(&args, &["-m", "256M"]));
        assert!(has(&args, &["-display", "none"]));
        assert!(has(
            &args,
            &["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
        ));
        assert!(
            !args.iter().any(|a| a == "-no-reboot"),
            "reload must reboot"
        );
        assert!(has(&args, &["-nic", "none"]));
        assert!(!args.iter().any(|a| a == "-boot"));
        assert!(!args.iter().any(|a| a.contains("pflash")));
    }

    #[test]
    fn stdio_console_is_multiplexed_with_the_monitor_and_com2_is_null() {
        let args = strings(Machine::default().args(&ConsoleBackend::Stdio));
        assert!(has(&args, &["-serial", "mon:stdio", "-serial", "null"]));
        assert!(!args.iter().any(|a| a == "-qmp"));
    }

    #[test]
    fn socket_console_waits_for_the_client_and_adds_qmp() {
        let args = strings(Machine::default().args(&socket()));
        assert!(has(
            &args,
            &[
                "-chardev",
                "socket,id=con0,path=/tmp/x/console.sock,server=on,wait=on",
                "-serial",
                "chardev:con0",
            ]
        ));
        assert!(has(
            &args,
            &["-qmp", "unix:/tmp/x/qmp.sock,server=on,wait=off"]
        ));
        assert!(has(&args, &["-monitor", "none"]));
    }

    #[test]
    fn com2_goes_to_a_file_after_com1() {
        let m = Machine::default().com2_file("/tmp/com2.bin");
        let args = strings(m.args(&socket()));
        assert!(has(&args, &["-serial", "chardev:con0"]));
        assert!(has(&args, &["-serial", "file:/tmp/com2.bin"]));
        let com1 = args.iter().position(|a| a == "chardev:con0").unwrap();
        let com2 = args.iter().position(|a| a == "file:/tmp/com2.bin").unwrap();
        assert!(com1 < com2);
    }

    #[test]
    fn floppy_boots_from_drive_a() {
        let args = strings(Machine::new(Medium::Floppy, "/m/floppy.img").args(&socket()));
        assert!(has(
            &args,
            &[
                "-drive",
                "if=floppy,format=raw,file=/m/floppy.img",
                "-boot",
                "a"
            ]
        ));
    }

    #[test]
    fn usb_stick_is_on_xhci_and_first_in_boot_order() {
        let args = strings(Machine::new(Medium::Usb, "/m/usb.img").args(&socket()));
        assert!(has(
            &args,
            &[
                "-device",
                "qemu-xhci",
                "-drive",
                "if=none,id=u,format=raw,file=/m/usb.img",
                "-device",
                "usb-storage,drive=u,bootindex=1,id=stick",
            ]
        ));
    }

    #[test]
    fn disk_boots_as_first_hard_disk() {
        let args = strings(Machine::new(Medium::Disk, "/m/disk.img").args(&socket()));
        assert!(has(
            &args,
            &["-drive", "if=ide,format=raw,file=/m/disk.img", "-boot", "c"]
        ));
    }

    #[test]
    fn shared_medium_is_opened_as_a_snapshot() {
        let m = Machine::new(Medium::Usb, "/m/usb.img").medium_snapshot(true);
        let args = strings(m.args(&socket()));
        assert!(has(
            &args,
            &[
                "-drive",
                "if=none,id=u,format=raw,file=/m/usb.img,snapshot=on"
            ]
        ));
    }

    #[test]
    fn commas_in_paths_are_doubled() {
        let args = strings(Machine::new(Medium::Floppy, "/m/a,b.img").args(&socket()));
        assert!(has(
            &args,
            &["-drive", "if=floppy,format=raw,file=/m/a,,b.img"]
        ));
    }

    #[test]
    fn pflash_sits_below_read_only_seabios() {
        let m = Machine::default().pflash("/m/flash.bin");
        let args = strings(m.args(&socket()));
        assert!(has(
            &args,
            &[
                "-drive",
                "if=pflash,unit=0,readonly=on,format=raw,file=/usr/share/seabios/bios-256k.bin",
                "-drive",
                "if=pflash,unit=1,format=raw,file=/m/flash.bin",
            ]
        ));
    }

    #[test]
    fn uefi_maps_ovmf_as_unit_0_and_boots_the_disk_by_bootindex() {
        let m = Machine::new(Medium::Disk, "/m/uefi-disk.img")
            .ovmf("/t/OVMF.fd")
            .pflash("/m/flash.bin");
        let args = strings(m.args(&socket()));
        assert!(has(
            &args,
            &[
                "-drive",
                "if=pflash,unit=0,format=raw,file=/t/OVMF.fd",
                "-drive",
                "if=pflash,unit=1,format=raw,file=/m/flash.bin",
            ]
        ));
        assert!(!args.iter().any(|a| a.contains("seabios")));
        assert!(has(
            &args,
            &[
                "-drive",
                "if=none,id=d,format=raw,file=/m/uefi-disk.img",
                "-device",
                "ide-hd,drive=d,bus=ide.0,bootindex=1"
            ]
        ));
        assert!(!args.iter().any(|a| a == "-boot"));
    }

    #[test]
    fn uefi_ide_disks_keep_their_places_and_get_a_bootindex() {
        let m = Machine::new(Medium::Usb, "/m/uefi-usb.img")
            .ovmf("/t/OVMF.fd")
            .ide_disk(0, "/m/uefi-disk.img")
            .ide_disk(2, "/m/cf.img");
        let args = strings(m.args(&socket()));
        assert!(has(
            &args,
            &[
                "-drive",
                "if=none,id=ide0,format=raw,file=/m/uefi-disk.img",
                "-device",
                "ide-hd,drive=ide0,bus=ide.0,unit=0,bootindex=2",
                "-drive",
                "if=none,id=ide2,format=raw,file=/m/cf.img",
                "-device",
                "ide-hd,drive=ide2,bus=ide.1,unit=0,bootindex=4",
            ]
        ));
        let q35 = strings(m.machine_type(MachineType::Q35).args(&socket()));
        assert!(q35
            .iter()
            .any(|a| a == "ide-hd,drive=ide2,bus=ide.2,unit=0,bootindex=4"));
    }

    #[test]
    fn read_only_pflash_and_ide_disks_by_index() {
        let m = Machine::default()
            .pflash("/m/flash.bin")
            .pflash_readonly(true)
            .ide_disk(2, "/m/c,f.img");
        let args = strings(m.args(&socket()));
        assert!(has(
            &args,
            &[
                "-drive",
                "if=pflash,unit=1,format=raw,readonly=on,file=/m/flash.bin"
            ]
        ));
        assert!(has(
            &args,
            &["-drive", "if=ide,index=2,format=raw,file=/m/c,,f.img"]
        ));
    }

    #[test]
    fn q35_with_larger_firmware_window() {
        let mut m = Machine::default().machine_type(MachineType::Q35);
        m.max_fw_size_mib = Some(16);
        let args = strings(m.args(&socket()));
        assert!(has(&args, &["-machine", "q35,max-fw-size=16M"]));
    }

    #[test]
    fn nics_get_numbered_netdevs_in_order() {
        let mut m = Machine::default()
            .nic(
                NicModel::I82558b,
                NetBackend::User {
                    tftp: Some("/srv/tftp".into()),
                    bootfile: None,
                },
            )
            .nic(
                NicModel::E1000,
                NetBackend::Tap {
                    ifname: "tap0".into(),
                },
            )
            .nic(
                NicModel::VirtioNetPci,
                NetBackend::Udp {
                    local: "127.0.0.1:5001".parse().unwrap(),
                    remote: "127.0.0.1:5000".parse().unwrap(),
                },
            )
            .nic(
                NicModel::I82559er,
                NetBackend::User {
                    tftp: None,
                    bootfile: None,
                },
            );
        m.nics[1].mac = Some("52:54:00:12:34:56".into());
        let args = strings(m.args(&socket()));
        assert!(has(
            &args,
            &[
                "-netdev",
                "user,id=n0,tftp=/srv/tftp",
                "-device",
                "i82558b,netdev=n0",
                "-netdev",
                "tap,id=n1,ifname=tap0,script=no,downscript=no",
                "-device",
                "e1000,netdev=n1,mac=52:54:00:12:34:56",
                "-netdev",
                "socket,id=n2,udp=127.0.0.1:5000,localaddr=127.0.0.1:5001",
                "-device",
                "virtio-net-pci,netdev=n2",
                "-netdev",
                "user,id=n3",
                "-device",
                "i82559er,netdev=n3",
            ]
        ));
        assert!(!args.iter().any(|a| a == "-nic"));
    }

    #[test]
    fn every_nic_model_has_its_qemu_device_name() {
        let names: Vec<_> = [
            NicModel::E1000,
            NicModel::E1000e,
            NicModel::I82557b,
            NicModel::I82558b,
            NicModel::I82559er,
            NicModel::VirtioNetPci,
        ]
        .iter()
        .map(|m| m.device())
        .collect();
        assert_eq!(
            names,
            [
                "e1000",
                "e1000e",
                "i82557b",
                "i82558b",
                "i82559er",
                "virtio-net-pci"
            ]
        );
    }

    #[test]
    fn no_reboot_and_extra_args_when_asked() {
        let m = Machine::default().no_reboot(true).arg("-S");
        let args = strings(m.args(&ConsoleBackend::Stdio));
        assert!(args.iter().any(|a| a == "-no-reboot"));
        assert_eq!(args.last().map(String::as_str), Some("-S"));
    }

    #[test]
    fn command_uses_the_configured_binary() {
        let m = Machine {
            qemu: Some("/opt/q/qemu-system-x86_64".into()),
            ..Machine::default()
        };
        let c = m.command(&ConsoleBackend::Stdio);
        assert_eq!(c.get_program(), "/opt/q/qemu-system-x86_64");
    }
}
