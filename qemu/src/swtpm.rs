//! A software TPM 2.0 for a machine: `swtpm socket --tpm2` (Debian `swtpm`) with its state
//! in a directory that outlives it (the TPM's NV, as a unit's chip keeps it across power
//! cycles and flash erasures), reached by QEMU's `tpm-emulator` backend and a `tpm-tis`
//! device at 0xFED40000.
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One running swtpm; dropping it stops it.
pub struct Swtpm {
    child: Child,
    ctrl: PathBuf,
}

/// Why swtpm cannot run here (for [`crate::skip`]), `None` when it can.
pub fn unavailable() -> Option<String> {
    match Command::new("swtpm").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("swtpm is not installed (Debian: apt-get install swtpm swtpm-tools)".into()),
    }
}

/// Manufactures a new TPM in `state` with only the PCR banks `banks` active (e.g. `sha256`;
/// swtpm's own default is SHA-1 and SHA-256), as `swtpm_setup` (Debian `swtpm-tools`) does.
pub fn manufacture(state: &Path, banks: &str) -> Result<(), String> {
    std::fs::create_dir_all(state).map_err(|e| format!("{}: {e}", state.display()))?;
    let out = Command::new("swtpm_setup")
        .arg("--tpm2")
        .arg("--tpmstate")
        .arg(state)
        .args(["--pcr-banks", banks, "--overwrite"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("swtpm_setup: {e} (Debian: apt-get install swtpm-tools)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "swtpm_setup failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Swtpm {
    /// Starts swtpm on the state in `state` (created when missing); the TPM is manufactured
    /// on first use. Returns once its control socket exists (up to 10 s).
    pub fn start(state: &Path) -> Result<Swtpm, String> {
        std::fs::create_dir_all(state).map_err(|e| format!("{}: {e}", state.display()))?;
        let ctrl = state.join("ctrl.sock");
        let _ = std::fs::remove_file(&ctrl);
        let child = Command::new("swtpm")
            .arg("socket")
            .arg("--tpm2")
            .arg("--tpmstate")
            .arg(format!("dir={}", state.display()))
            .arg("--ctrl")
            .arg(format!("type=unixio,path={}", ctrl.display()))
            .arg("--log")
            .arg(format!(
                "file={},level=1",
                state.join("swtpm.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting swtpm: {e}"))?;
        let mut s = Swtpm { child, ctrl };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !s.ctrl.exists() {
            if let Ok(Some(status)) = s.child.try_wait() {
                return Err(format!("swtpm exited at start: {status}"));
            }
            if Instant::now() > deadline {
                return Err("swtpm's control socket did not appear in 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(s)
    }

    /// The QEMU arguments that give the machine this TPM on the TIS interface.
    pub fn qemu_args(&self) -> Vec<OsString> {
        let mut chardev = OsString::from("socket,id=chrtpm,path=");
        chardev.push(&self.ctrl);
        [
            "-chardev".into(),
            chardev,
            "-tpmdev".into(),
            "emulator,id=tpm0,chardev=chrtpm".into(),
            "-device".into(),
            "tpm-tis,tpmdev=tpm0".into(),
        ]
        .into()
    }

    /// Stops the TPM now (the chip dies under the running machine).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        self.kill();
    }
}
