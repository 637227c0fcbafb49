//! QEMU machines for lifeboat, shared by the interactive runner (`cargo run`) and the scenario tests.
//!
//! * [`Machine`] describes the emulated appliance (boot medium, NICs, memory, flash, COM2) and
//!   turns it into a `qemu-system-x86_64` command line ([`Machine::command`]); this part is pure
//!   and unit-tested.
//! * [`Qemu`] runs one machine with its console on a Unix socket and a QMP socket, records the
//!   console transcript, and offers `expect`/`send`/`send_break` for scripted sessions. Every wait
//!   has a timeout, and dropping a [`Qemu`] kills the emulator.
//!
//! The measured QEMU facts these options rely on are in `docs/design.md`.
#![forbid(unsafe_code)]

/// The JSON crate of [`Qemu::qmp`]'s answers.
pub use serde_json;

mod find;
pub mod fleet;
pub mod lab;
mod limit;
pub mod linux;
mod machine;
mod qmp;
pub mod rng;
mod session;
pub mod skip;
pub mod swtpm;
mod transcript;

pub use find::{find_qemu, QEMU_ENV};
pub use limit::{max_concurrent, MAX_CONCURRENT_ENV};
pub use machine::{
    BootMedium, ConsoleBackend, Machine, MachineType, Medium, NetBackend, Nic, NicModel,
    CONSOLE_CHARDEV, DEBUG_EXIT_IOBASE, OVMF, SEABIOS, STDIO_NOTE,
};
pub use qmp::QmpError;
pub use session::{LaunchError, Qemu};
pub use transcript::{printable, ExpectError};
