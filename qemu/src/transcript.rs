//! The console transcript: every byte the guest wrote, and waiting for text to appear in it.

use std::fmt;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How much of the transcript an [`ExpectError`] shows.
const TAIL_CHARS: usize = 2000;

#[derive(Default)]
struct State {
    bytes: Vec<u8>,
    /// Why no more bytes will come (QEMU exited, socket error), once that is known.
    closed: Option<String>,
}

/// Bytes received from the console, appended by a reader thread and awaited by the session.
#[derive(Default)]
pub(crate) struct Transcript {
    state: Mutex<State>,
    changed: Condvar,
}

impl Transcript {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn append(&self, data: &[u8]) {
        self.lock().bytes.extend_from_slice(data);
        self.changed.notify_all();
    }

    pub(crate) fn close(&self, why: String) {
        self.lock().closed.get_or_insert(why);
        self.changed.notify_all();
    }

    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.lock().bytes.clone()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().bytes.len()
    }

    /// Waits until `needle` occurs at or after `cursor`; returns the match's byte range.
    pub(crate) fn wait_for(
        &self,
        cursor: usize,
        needle: &str,
        timeout: Duration,
    ) -> Result<(usize, usize), ExpectError> {
        let deadline = Instant::now() + timeout;
        let pattern = needle.as_bytes();
        let mut state = self.lock();
        let mut from = cursor.min(state.bytes.len());
        loop {
            if let Some(at) = find(&state.bytes[from..], pattern) {
                let start = from + at;
                return Ok((start, start + pattern.len()));
            }
            // Bytes already searched need not be searched again, except a partial match at the end.
            from = state
                .bytes
                .len()
                .saturating_sub(pattern.len().saturating_sub(1))
                .max(from);
            let failure = if let Some(why) = &state.closed {
                Some(Failure::Closed(why.clone()))
            } else if Instant::now() >= deadline {
                Some(Failure::Timeout(timeout))
            } else {
                None
            };
            if let Some(failure) = failure {
                return Err(ExpectError {
                    needle: needle.to_owned(),
                    failure,
                    unmatched: state.bytes.len().saturating_sub(cursor),
                    tail: tail(&state.bytes),
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Lossy text of `bytes` for people: CR LF becomes a newline, other control bytes are shown
/// as `\xNN` so that echoed backspaces and stray escapes are visible in a failure message.
pub fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn tail(bytes: &[u8]) -> String {
    let text = printable(bytes);
    let count = text.chars().count();
    if count <= TAIL_CHARS {
        text
    } else {
        let skip = count - TAIL_CHARS;
        format!(
            "[{skip} chars before]…{}",
            text.chars().skip(skip).collect::<String>()
        )
    }
}

#[derive(Clone, PartialEq, Eq)]
enum Failure {
    Timeout(Duration),
    Closed(String),
}

/// Expected console text did not appear.
#[derive(Clone, PartialEq, Eq)]
pub struct ExpectError {
    needle: String,
    failure: Failure,
    /// Bytes received after the cursor (that did not contain the needle).
    unmatched: usize,
    /// The end of the transcript, printable.
    tail: String,
}

impl ExpectError {
    /// The text that was awaited.
    pub fn needle(&self) -> &str {
        &self.needle
    }

    /// True if the console closed (QEMU exited) rather than the wait timing out.
    pub fn closed(&self) -> bool {
        matches!(self.failure, Failure::Closed(_))
    }

    /// The last ~2000 characters of the transcript.
    pub fn tail(&self) -> &str {
        &self.tail
    }
}

impl fmt::Display for ExpectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            Failure::Timeout(t) => {
                write!(f, "console did not show {:?} within {t:?}", self.needle)?
            }
            Failure::Closed(why) => write!(f, "console closed ({why}) before {:?}", self.needle)?,
        }
        write!(
            f,
            " ({} bytes arrived after the cursor). Transcript tail:\n----\n{}\n----",
            self.unmatched, self.tail
        )
    }
}

/// Same as Display, so `unwrap()` and `-> Result` tests print the transcript readably.
impl fmt::Debug for ExpectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ExpectError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn finds_text_already_present_after_the_cursor() {
        let t = Transcript::default();
        t.append(b"monitor> monitor> ");
        assert_eq!(t.wait_for(0, "monitor> ", Duration::ZERO), Ok((0, 9)));
        assert_eq!(t.wait_for(9, "monitor> ", Duration::ZERO), Ok((9, 18)));
        assert!(t.wait_for(18, "monitor> ", Duration::ZERO).is_err());
    }

    #[test]
    fn finds_a_needle_split_across_appends() {
        let t = Arc::new(Transcript::default());
        t.append(b"Use ? for he");
        let writer = Arc::clone(&t);
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            writer.append(b"lp.\r\n");
        });
        assert_eq!(t.wait_for(0, "help.", Duration::from_secs(5)), Ok((10, 15)));
        h.join().unwrap();
    }

    #[test]
    fn timeout_reports_the_tail() {
        let t = Transcript::default();
        t.append(b"abc\r\nde\x08 \x08f");
        let e = t.wait_for(0, "xyz", Duration::from_millis(20)).unwrap_err();
        assert!(!e.closed());
        assert_eq!(e.tail(), "abc\nde\\x08 \\x08f");
        let msg = e.to_string();
        assert!(
            msg.contains("\"xyz\"") && msg.contains("within 20ms"),
            "{msg}"
        );
    }

    #[test]
    fn closing_ends_the_wait_early() {
        let t = Transcript::default();
        t.close("QEMU exited".into());
        let start = Instant::now();
        let e = t.wait_for(0, "x", Duration::from_secs(10)).unwrap_err();
        assert!(e.closed());
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn tail_is_bounded() {
        let t = Transcript::default();
        t.append(&[b'a'; 5000]);
        let e = t.wait_for(0, "b", Duration::ZERO).unwrap_err();
        assert!(e.tail().starts_with("[3000 chars before]"));
        assert_eq!(e.tail().split('…').nth(1).map(|t| t.len()), Some(2000));
    }
}
