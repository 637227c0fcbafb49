//! `http [URL]`: HTTP/1.1 GET over smoltcp TCP into the download buffer, then the same
//! verify-and-install path as `tftp`.
//!
//! - [`url`]: strict `http://` URL parsing and redirect resolution;
//! - [`response`]: a streaming response parser (head limits, Content-Length, chunked);
//! - [`client`]: the download as a sans-IO state machine (redirects, resume by Range);
//! - [`session`]: the client over a smoltcp TCP socket with a window sized for long paths.
pub mod client;
pub mod response;
pub mod session;
pub mod url;

#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;

pub use client::{HttpClient, HttpError};
pub use session::http;
