//! Locating the emulator binary.

use std::env;
use std::path::{Path, PathBuf};

/// Environment variable that overrides the emulator binary (a path).
pub const QEMU_ENV: &str = "LIFEBOAT_QEMU";

const QEMU_BINARY: &str = "qemu-system-x86_64";

/// Finds `qemu-system-x86_64`: `$LIFEBOAT_QEMU` if set, else the first match on `$PATH`.
///
/// The error says what to install, so a test failing on a fresh machine is self-explaining.
pub fn find_qemu() -> Result<PathBuf, String> {
    if let Some(path) = env::var_os(QEMU_ENV) {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!(
                "{QEMU_ENV}={} is not an executable file; unset it or point it at {QEMU_BINARY}",
                path.display()
            ))
        };
    }
    let search = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&search)
        .map(|dir| dir.join(QEMU_BINARY))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            format!(
                "{QEMU_BINARY} not found on PATH; install Debian package qemu-system-x86 \
                 (apt-get install qemu-system-x86) or set {QEMU_ENV} to the binary"
            )
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
