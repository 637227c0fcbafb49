//! Bare-metal entry, fault handling and the power-on sequence.
mod entry;
mod flash;
mod logger;
mod net;
mod startup;
mod tpm;

/// The firmware's version, as the banner and `version` print it.
const VERSION: &str = env!("CARGO_PKG_VERSION");
