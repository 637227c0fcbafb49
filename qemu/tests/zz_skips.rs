//! Runs last in `cargo test --workspace` (the last package's last test target; cargo runs
//! packages and their test targets in name order): says how many tests of this run skipped,
//! so that a skip never reads as a pass. Fails when any did under `LIFEBOAT_REQUIRE_ALL=1`.
//! No libtest harness: its output is never captured.
use std::path::Path;

use lifeboat_qemu::skip;

fn main() {
    let tmpdir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let skipped = skip::recorded(tmpdir);
    let _ = std::fs::remove_file(skip::log_path(tmpdir));
    if skipped.is_empty() {
        println!("\nskipped tests: 0 (every test ran)\n");
        return;
    }
    println!("\nSKIPPED TESTS: {} did not run here:", skipped.len());
    for s in &skipped {
        println!("  {s}");
    }
    println!("(install what each names, or run as root; .ci/run sets LIFEBOAT_REQUIRE_ALL=1)\n");
    if skip::require_all() {
        std::process::exit(1);
    }
}
