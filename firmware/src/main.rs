//! The bare-metal lifeboat firmware: wiring only (it probes, prints, copies and jumps).
//! Stage 2 jumps to `_start` at 1 MiB in long mode with `rdi` = the boot-info block; every
//! decision (the flash boot's included, `boot::flash`) lives in the `lifeboat_firmware`
//! library and is tested on the host.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

#[cfg(target_os = "none")]
mod bare;

/// On the host this binary has nothing to do: the firmware only runs on bare metal.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "lifeboat-firmware runs on bare metal; use `cargo run --release` in the workspace root"
    );
}
