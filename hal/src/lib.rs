//! x86 hardware for lifeboat. Every `unsafe` block of the product (outside the boot
//! assembly) lives in this crate, each with a `// SAFETY:` line saying why it holds.
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
pub mod uart;
