//! Host side of lifeboat: the boot-media builder used by the runner (`cargo run`) and
//! the QEMU tests.
pub mod gpt;
pub mod imagetool;
pub mod media;
