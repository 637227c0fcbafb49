//! Bare-metal entry, fault handling and the power-on sequence.
mod entry;
mod flash;
mod logger;
mod net;
mod startup;
