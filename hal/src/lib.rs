//! x86 hardware for lifeboat: the product's hardware `unsafe` lives in this crate and in the
//! hardware core it builds on (`lifeboat_hw`: port I/O, the 16550, PCI configuration, CMOS,
//! fw_cfg; shared with the ROM and unpack stages), each block with a `// SAFETY:` line saying
//! why it holds. The rest is the boot code (the bootloader's
//! assembly, the ROM stage's and the UEFI loader's `main.rs`), the firmware binary's bare
//! wiring (`firmware/src/bare`: constructing drivers, the RAM a flash boot may write, the
//! jump) and one block in the demo image, under the same lints.
//!
//! Memory model: the boot chain identity-maps the low 4 GiB, so a physical address
//! (DMA, MMIO BAR) is the same number as the virtual address.
#![cfg_attr(not(test), no_std)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![deny(missing_docs)]

pub mod bootinfo;
pub mod cmos;
pub mod cpu;
#[cfg(feature = "defmt")]
mod defmt_com2;
pub mod exceptions;
pub mod flash;
pub mod jump;
pub mod net;
pub mod pci;
pub mod platform;
pub mod regs;
pub mod reset;
pub mod timer;
pub mod tpm;
pub mod uart;
