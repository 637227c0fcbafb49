//! Bare-metal entry, fault handling and the power-on sequence.
mod entry;
mod logger;
mod net;
mod startup;
