#![cfg_attr(not(any(test, feature = "sim")), no_std)]
#![forbid(unsafe_code)]
//! The lifeboat firmware library: everything that can be tested on the host.

pub mod activation;
pub mod boot;
pub mod config;
pub mod crc32;
pub mod image;
pub mod install;
pub mod line;
pub mod monitor;
pub mod net;
pub mod ram;
pub mod recovery;
pub mod settings;
pub mod tpm;
