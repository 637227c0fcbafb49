//! Tests that cannot run on this machine: a skip never reads as a pass.
//!
//! A test that lacks something (root, a TFTP server, the Debian package source) calls
//! [`skip_or_fail`]. With `LIFEBOAT_REQUIRE_ALL=1` (what `.ci/run` sets) that is a failure
//! naming the reason; otherwise the test prints `SKIPPED <test>: <why>` and appends one line
//! to a per-run log under the target's temporary directory. The last test target of the
//! workspace (`qemu/tests/zz_skips.rs`) prints how many tests skipped in this run.
//!
//! A run is one `cargo test` process: every test binary it starts has it as parent, so the
//! log is named after the parent's process id and needs no reset between runs.
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Set to `1` to turn every skip into a failure (CI: nothing may skip).
pub const REQUIRE_ALL_ENV: &str = "LIFEBOAT_REQUIRE_ALL";

/// Whether `LIFEBOAT_REQUIRE_ALL=1` is set.
pub fn require_all() -> bool {
    std::env::var(REQUIRE_ALL_ENV).is_ok_and(|v| v == "1")
}

/// The skip log of the `cargo test` run this process belongs to, under `tmpdir`
/// (`CARGO_TARGET_TMPDIR`).
pub fn log_path(tmpdir: &Path) -> PathBuf {
    tmpdir
        .join("skipped")
        .join(format!("run-{}.txt", std::os::unix::process::parent_id()))
}

/// Fails the test under [`REQUIRE_ALL_ENV`], otherwise prints and records the skip.
/// `why` says what is missing and what to install.
#[track_caller]
pub fn skip_or_fail(tmpdir: &Path, test: &str, why: &str) {
    if require_all() {
        panic!("{test} cannot run here ({REQUIRE_ALL_ENV}=1 forbids skipping): {why}");
    }
    // Straight to stderr: libtest captures `eprintln!` of a passing test, and a skip must show.
    let say = |line: String| {
        let _ = std::io::stderr().write_all(line.as_bytes());
    };
    say(format!("SKIPPED {test}: {why}\n"));
    let path = log_path(tmpdir);
    let logged = path
        .parent()
        .map_or(Ok(()), fs::create_dir_all)
        .and_then(|()| OpenOptions::new().create(true).append(true).open(&path))
        .and_then(|mut f| f.write_all(format!("{test}: {why}\n").as_bytes()));
    if let Err(e) = logged {
        say(format!(
            "(could not record the skip in {}: {e})\n",
            path.display()
        ));
    }
}

/// The skips recorded in this run (one `test: why` per entry).
pub fn recorded(tmpdir: &Path) -> Vec<String> {
    fs::read_to_string(log_path(tmpdir))
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}
