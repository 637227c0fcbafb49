//! The console line editor: turns serial bytes into whole command lines. Below the
//! monitor's prompt ([`crate::monitor`]) and the install dialogue's questions
//! ([`crate::recovery`]), which both read lines with it.
//!
//! Owns the line being typed and its echo. Bytes arrive one at a time (from a
//! UART or a test); printable ASCII is stored and echoed, Backspace/DEL and
//! Ctrl-U erase, CR or LF ends the line. A line that is too long or holds a
//! byte we cannot print is not cut short and run: the rest of it is absorbed
//! and the whole line is reported as an error when it ends, so a half-typed
//! command can never take effect.
#![forbid(unsafe_code)]

use core::fmt::{self, Write};

/// Longest line the editor stores, in characters.
pub const MAX_LINE_LEN: usize = 255;

const BACKSPACE: u8 = 0x08;
const DELETE: u8 = 0x7F;
const CTRL_U: u8 = 0x15;
const ESCAPE: u8 = 0x1B;
const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// Echo that erases the character left of the cursor on a terminal.
const ERASE_ONE: &str = "\x08 \x08";

/// Why a finished line was thrown away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// More than [`MAX_LINE_LEN`] characters were typed.
    TooLong,
    /// The line held a byte that is not printable ASCII: either >= 0x80 or a
    /// control character other than the editing keys. Carries the first one.
    NonAscii(u8),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LineError::TooLong => {
                write!(f, "line too long (max {MAX_LINE_LEN} characters); ignored")
            }
            LineError::NonAscii(byte) if byte >= 0x80 => {
                write!(f, "non-ASCII byte 0x{byte:02X} in line; ignored")
            }
            LineError::NonAscii(byte) => {
                write!(f, "control byte 0x{byte:02X} in line; ignored")
            }
        }
    }
}

/// What one fed byte produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEvent<'a> {
    /// The line is not finished yet.
    Pending,
    /// A finished line, without its terminator. Valid until the next `feed`.
    Line(&'a str),
    /// A finished line that was thrown away, and why.
    Error(LineError),
}

/// Collects one console line at a time; see the module docs.
#[derive(Debug, Default)]
pub struct LineEditor {
    text: heapless::String<MAX_LINE_LEN>,
    /// First problem seen in the current line; reported when it ends.
    error: Option<LineError>,
    /// The previous byte was a CR, so an LF now is its partner, not a new line.
    after_cr: bool,
    /// The last `feed` returned a finished line; clear it before the next byte.
    finished: bool,
}

impl LineEditor {
    /// An editor with an empty line.
    pub const fn new() -> Self {
        LineEditor {
            text: heapless::String::new(),
            error: None,
            after_cr: false,
            finished: false,
        }
    }

    /// The characters typed so far in the current line.
    pub fn current(&self) -> &str {
        if self.finished {
            ""
        } else {
            self.text.as_str()
        }
    }

    /// Takes one byte from the console and writes its echo to `echo`.
    ///
    /// Echo write errors are ignored: a console that cannot be written to
    /// cannot be told about it either.
    pub fn feed<W: Write + ?Sized>(&mut self, byte: u8, echo: &mut W) -> LineEvent<'_> {
        if self.finished {
            self.text.clear();
            self.error = None;
            self.finished = false;
        }
        let after_cr = core::mem::replace(&mut self.after_cr, false);
        match byte {
            LF if after_cr => LineEvent::Pending,
            CR | LF => {
                self.after_cr = byte == CR;
                self.finished = true;
                let _ = echo.write_str("\r\n");
                match self.error {
                    Some(error) => LineEvent::Error(error),
                    None => LineEvent::Line(self.text.as_str()),
                }
            }
            BACKSPACE | DELETE => {
                // Once a line is too long it is void; erasing cannot save it,
                // and what the terminal shows no longer matches what we hold.
                if self.error != Some(LineError::TooLong) && self.text.pop().is_some() {
                    let _ = echo.write_str(ERASE_ONE);
                }
                LineEvent::Pending
            }
            CTRL_U => {
                for _ in 0..self.text.len() {
                    let _ = echo.write_str(ERASE_ONE);
                }
                // The whole line is gone, including whatever was wrong with it.
                self.text.clear();
                self.error = None;
                LineEvent::Pending
            }
            ESCAPE => LineEvent::Pending,
            b' '..=b'~' => {
                if self.error == Some(LineError::TooLong) {
                    return LineEvent::Pending;
                }
                if self.text.push(char::from(byte)).is_ok() {
                    let _ = echo.write_char(char::from(byte));
                } else {
                    self.error.get_or_insert(LineError::TooLong);
                }
                LineEvent::Pending
            }
            _ => {
                self.error.get_or_insert(LineError::NonAscii(byte));
                LineEvent::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` and returns the echo plus every event that is not Pending.
    fn run(editor: &mut LineEditor, input: &[u8]) -> (String, Vec<Result<String, LineError>>) {
        let mut echo = String::new();
        let mut events = Vec::new();
        for &byte in input {
            match editor.feed(byte, &mut echo) {
                LineEvent::Pending => {}
                LineEvent::Line(line) => events.push(Ok(line.to_string())),
                LineEvent::Error(error) => events.push(Err(error)),
            }
        }
        (echo, events)
    }

    fn line(s: &str) -> Result<String, LineError> {
        Ok(s.to_string())
    }

    #[test]
    fn printable_ascii_is_stored_and_echoed() {
        let mut editor = LineEditor::new();
        let (echo, events) = run(&mut editor, b"addr 1.2.3.4\r");
        assert_eq!(echo, "addr 1.2.3.4\r\n");
        assert_eq!(events, [line("addr 1.2.3.4")]);
    }

    #[test]
    fn two_hundred_characters_arrive_intact() {
        let text: String = (0..200)
            .map(|i| char::from(b'!' + (i % 90) as u8))
            .collect();
        let mut input = text.clone().into_bytes();
        input.push(b'\r');
        let mut editor = LineEditor::new();
        let (echo, events) = run(&mut editor, &input);
        assert_eq!(events, [Ok(text.clone())]);
        assert_eq!(echo, text + "\r\n");
    }

    #[test]
    fn exactly_max_length_is_accepted() {
        let text = "x".repeat(MAX_LINE_LEN);
        let mut editor = LineEditor::new();
        let (_, events) = run(&mut editor, format!("{text}\r").as_bytes());
        assert_eq!(events, [Ok(text)]);
    }

    #[test]
    fn too_long_line_is_absorbed_then_rejected() {
        let input = format!("{}tail\r", "y".repeat(MAX_LINE_LEN));
        let mut editor = LineEditor::new();
        let (echo, events) = run(&mut editor, input.as_bytes());
        assert_eq!(events, [Err(LineError::TooLong)]);
        // Nothing past the limit was echoed.
        assert_eq!(echo, format!("{}\r\n", "y".repeat(MAX_LINE_LEN)));
        // The next line is fresh.
        let (_, events) = run(&mut editor, b"ok\r");
        assert_eq!(events, [line("ok")]);
    }

    #[test]
    fn backspace_after_overflow_does_not_revive_the_line() {
        let input = format!("{}zz\x08\x08\x08\r", "y".repeat(MAX_LINE_LEN));
        let mut editor = LineEditor::new();
        let (_, events) = run(&mut editor, input.as_bytes());
        assert_eq!(events, [Err(LineError::TooLong)]);
    }

    #[test]
    fn backspace_and_delete_erase_one_character() {
        let mut editor = LineEditor::new();
        let (echo, events) = run(&mut editor, b"abx\x08c\x7Fd\r");
        assert_eq!(echo, "abx\x08 \x08c\x08 \x08d\r\n");
        assert_eq!(events, [line("abd")]);
    }

    #[test]
    fn backspace_on_empty_line_echoes_nothing() {
        let mut editor = LineEditor::new();
        let (echo, events) = run(&mut editor, b"\x08\x7Fa\r");
        assert_eq!(echo, "a\r\n");
        assert_eq!(events, [line("a")]);
    }

    #[test]
    fn ctrl_u_erases_the_whole_line() {
        let mut editor = LineEditor::new();
        let (echo, events) = run(&mut editor, b"abc\x15xy\r");
        assert_eq!(echo, "abc\x08 \x08\x08 \x08\x08 \x08xy\r\n");
        assert_eq!(events, [line("xy")]);
    }

    #[test]
    fn ctrl_u_forgets_a_bad_byte() {
        let mut editor = LineEditor::new();
        let (_, events) = run(&mut editor, b"a\xC3b\x15ok\r");
        assert_eq!(events, [line("ok")]);
    }

    #[test]
    fn crlf_is_one_line_end_and_lone_lf_ends_a_line() {
        let mut editor = LineEditor::new();
        let (echo, events) = run(&mut editor, b"one\r\ntwo\nthree\r\r\n");
        assert_eq!(events, [line("one"), line("two"), line("three"), line("")]);
        assert_eq!(echo, "one\r\ntwo\r\nthree\r\n\r\n");
    }

    #[test]
    fn lf_not_directly_after_cr_ends_a_line() {
        let mut editor = LineEditor::new();
        let (_, events) = run(&mut editor, b"a\rb\n");
        assert_eq!(events, [line("a"), line("b")]);
    }

    #[test]
    fn escape_is_ignored_silently() {
        let mut editor = LineEditor::new();
        let (echo, events) = run(&mut editor, b"\x1Bhelp\x1B\r");
        assert_eq!(echo, "help\r\n");
        assert_eq!(events, [line("help")]);
    }

    #[test]
    fn non_ascii_byte_spoils_the_line_and_is_reported_first() {
        let mut editor = LineEditor::new();
        let (echo, events) = run(&mut editor, b"ab\xC3\xA9\x01c\r");
        assert_eq!(echo, "abc\r\n");
        assert_eq!(events, [Err(LineError::NonAscii(0xC3))]);
        let (_, events) = run(&mut editor, b"next\r");
        assert_eq!(events, [line("next")]);
    }

    #[test]
    fn control_bytes_spoil_the_line() {
        for byte in [0x00u8, 0x01, 0x09, 0x0C, 0x1F] {
            let mut editor = LineEditor::new();
            let (_, events) = run(&mut editor, &[b'a', byte, b'\r']);
            assert_eq!(events, [Err(LineError::NonAscii(byte))], "byte {byte:#04x}");
        }
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            LineError::TooLong.to_string(),
            "line too long (max 255 characters); ignored"
        );
        assert_eq!(
            LineError::NonAscii(0xC3).to_string(),
            "non-ASCII byte 0xC3 in line; ignored"
        );
        assert_eq!(
            LineError::NonAscii(0x09).to_string(),
            "control byte 0x09 in line; ignored"
        );
    }

    #[test]
    fn every_byte_value_is_handled_without_panicking() {
        let mut editor = LineEditor::new();
        let mut echo = String::new();
        for round in 0..3u32 {
            for byte in 0..=255u8 {
                let _ = editor.feed(byte.wrapping_add(round as u8), &mut echo);
            }
        }
        assert!(editor.current().len() <= MAX_LINE_LEN);
    }

    #[test]
    fn current_shows_the_line_in_progress() {
        let mut editor = LineEditor::new();
        let _ = run(&mut editor, b"abc");
        assert_eq!(editor.current(), "abc");
        let _ = run(&mut editor, b"\r");
        assert_eq!(editor.current(), "");
    }
}
