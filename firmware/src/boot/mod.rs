//! Boot plans for an installed image: where its pieces go in RAM and what the jump takes.
//! Pure; the copy and the jump itself are the bare binary's and hal's.
//!
//! - `flat64`: the payload is copied to its load address and entered in long mode at its
//!   entry with `rdi` = the boot-info block ([`crate::ram::flat64_fits`] checks the place);
//! - `linux`: the Linux x86 64-bit boot protocol ([`linux`]).
//! - [`flash`]: the boot from the flash slots.
//!
//! What RAM an image may take is [`crate::ram`]'s.
pub mod flash;
pub mod linux;

/// Where a Linux image's payload is staged while it is verified and taken apart: above the
/// kernel's usual 16 MiB + 64 MiB `init_size`. (Here, not in the bare binary, so that an
/// install from the running system checks the same placement.)
pub const LINUX_STAGING: u64 = lifeboat_abi::memory::LINUX_STAGING;
