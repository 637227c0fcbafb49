//! TFTP (RFC 1350 + options RFC 2347/2348/2349/7440): the wire format and the client state
//! machine, both pure and host-tested, and the Table 11-2 trace codes the console shows.
pub mod client;
pub mod code;
pub mod wire;

pub use client::{ClientConfig, Event, Sink, SinkFull, TftpClient, TftpError};
pub use code::TraceCode;
