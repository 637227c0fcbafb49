//! The operator dialogue around an install, as pure logic in the monitor's shape (bytes and
//! time in, console output and a decision out):
//!
//! - [`Question`]: a yes/no question such as the Boothelper's
//!   `Do you wish to copy the image to flash? [n]`, answered with a line (`y`, `yes`, `n`,
//!   `no`, or just Enter for the default); anything else asks again.
//! - [`ActivationPrompt`]: the Boothelper's step 7, the activation key as four 32-bit hex
//!   words (`0x01234567 0x89abcdef 0x23456789 0xabcdef01`); Enter keeps the current one.
//! - [`Countdown`]: the Boothelper's "remove the diskette" wait, which prints the seconds
//!   left and ends in a reboot unless the operator types `reload` first.
//!
//! ESC and BREAK never reach these: the console loop that feeds them takes them, and at a
//! question of the install dialogue they end the install with nothing written
//! ([`crate::install::dialogue::Operator`]).
#![forbid(unsafe_code)]

use core::fmt::Write;

use smoltcp::time::{Duration, Instant};

use crate::activation::{self, ActivationKey};
use crate::line::{LineEditor, LineEvent};

/// A yes/no question on the console.
#[derive(Debug)]
pub struct Question {
    text: &'static str,
    default: bool,
    editor: LineEditor,
}

impl Question {
    /// Prints `text` followed by ` [y]` or ` [n]` (the default) and a space.
    pub fn ask<W: Write + ?Sized>(text: &'static str, default: bool, out: &mut W) -> Self {
        let q = Question {
            text,
            default,
            editor: LineEditor::new(),
        };
        q.print(out);
        q
    }

    fn print<W: Write + ?Sized>(&self, out: &mut W) {
        let d = if self.default { 'y' } else { 'n' };
        let _ = write!(out, "{} [{d}] ", self.text);
    }

    /// One console byte; `Some(answer)` once a valid answer line is complete.
    pub fn feed<W: Write + ?Sized>(&mut self, byte: u8, out: &mut W) -> Option<bool> {
        let answer = match self.editor.feed(byte, out) {
            LineEvent::Pending => return None,
            LineEvent::Error(e) => {
                let _ = write!(out, "{e}\r\n");
                None
            }
            LineEvent::Line(line) => match line.trim() {
                "" => Some(self.default),
                l if l.eq_ignore_ascii_case("y") || l.eq_ignore_ascii_case("yes") => Some(true),
                l if l.eq_ignore_ascii_case("n") || l.eq_ignore_ascii_case("no") => Some(false),
                _ => {
                    let _ = out.write_str("Please answer y or n.\r\n");
                    None
                }
            },
        };
        if answer.is_none() {
            self.print(out);
        }
        answer
    }
}

/// The activation key question: a line of four hex words sets the key, an empty line keeps
/// the current one, anything else is refused with the expected format and asked again.
#[derive(Debug)]
pub struct ActivationPrompt {
    current: Option<ActivationKey>,
    editor: LineEditor,
}

impl ActivationPrompt {
    pub fn ask<W: Write + ?Sized>(current: Option<ActivationKey>, out: &mut W) -> Self {
        let p = ActivationPrompt {
            current,
            editor: LineEditor::new(),
        };
        p.print(out);
        p
    }

    fn print<W: Write + ?Sized>(&self, out: &mut W) {
        let _ = out.write_str("Activation key [");
        match &self.current {
            Some(k) => activation::write(out, k),
            None => {
                let _ = out.write_str("none");
            }
        }
        let _ = out.write_str("]: ");
    }

    /// One console byte; `Some(key)` once a line is accepted: `Some(None)` keeps the
    /// current key, `Some(Some(k))` sets `k`.
    pub fn feed<W: Write + ?Sized>(
        &mut self,
        byte: u8,
        out: &mut W,
    ) -> Option<Option<ActivationKey>> {
        let answer = match self.editor.feed(byte, out) {
            LineEvent::Pending => return None,
            LineEvent::Error(e) => {
                let _ = write!(out, "{e}\r\n");
                None
            }
            LineEvent::Line(line) if line.trim().is_empty() => Some(None),
            LineEvent::Line(line) => match activation::parse(line) {
                Some(k) => Some(Some(k)),
                None => {
                    let _ = out.write_str("The activation key is not valid: enter four 32-bit hex words, such as 0x01234567 0x89abcdef 0x23456789 0xabcdef01, or Enter to keep the current key.\r\n");
                    None
                }
            },
        };
        if answer.is_none() {
            self.print(out);
        }
        answer
    }
}

/// What the countdown wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountdownEvent {
    /// Time is up, or the operator typed `reload`: reboot now.
    Reboot,
}

/// The Boothelper's wait for the medium's removal.
#[derive(Debug)]
pub struct Countdown {
    deadline: Instant,
    last_shown: u64,
    editor: LineEditor,
}

/// Seconds between two "N seconds left" marks.
const SHOW_EVERY_S: u64 = 5;

impl Countdown {
    /// Starts a wait of `seconds` and prints how to end it.
    pub fn start<W: Write + ?Sized>(now: Instant, seconds: u64, medium: &str, out: &mut W) -> Self {
        let _ = write!(
            out,
            "Remove the {medium} now: the unit reboots in {seconds} seconds, or type reload to reboot at once.\r\n{seconds}"
        );
        Countdown {
            deadline: now + Duration::from_secs(seconds),
            last_shown: seconds,
            editor: LineEditor::new(),
        }
    }

    fn left(&self, now: Instant) -> u64 {
        if now >= self.deadline {
            return 0;
        }
        // Round up: 29.2 s left shows as 30 until a whole second has passed.
        (self.deadline - now).total_millis().div_ceil(1000)
    }

    /// Time passes: prints the seconds left every 5 s (dots between) and says when to reboot.
    pub fn tick<W: Write + ?Sized>(&mut self, now: Instant, out: &mut W) -> Option<CountdownEvent> {
        let left = self.left(now);
        while self.last_shown > left {
            self.last_shown -= 1;
            if self.last_shown.is_multiple_of(SHOW_EVERY_S) {
                let _ = write!(out, " {}", self.last_shown);
            } else {
                let _ = out.write_str(".");
            }
        }
        if left == 0 {
            let _ = out.write_str("\r\n");
            return Some(CountdownEvent::Reboot);
        }
        None
    }

    /// A console byte: a `reload` line (any unique prefix of it, as at the prompt) reboots at
    /// once; other lines get one line of advice.
    pub fn feed<W: Write + ?Sized>(&mut self, byte: u8, out: &mut W) -> Option<CountdownEvent> {
        match self.editor.feed(byte, out) {
            LineEvent::Line(l) => {
                let l = l.trim();
                let is_reload = "reload"
                    .get(..l.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(l));
                if !l.is_empty() && is_reload {
                    return Some(CountdownEvent::Reboot);
                }
                if !l.is_empty() {
                    let _ = out.write_str("Only reload works now.\r\n");
                }
                None
            }
            LineEvent::Error(e) => {
                let _ = write!(out, "{e}\r\n");
                None
            }
            LineEvent::Pending => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_line<T>(
        f: &mut impl FnMut(u8, &mut String) -> Option<T>,
        line: &str,
    ) -> (Option<T>, String) {
        let mut out = String::new();
        let mut got = None;
        for b in line.bytes().chain(core::iter::once(b'\r')) {
            if let Some(a) = f(b, &mut out) {
                got = Some(a);
            }
        }
        (got, out)
    }

    #[test]
    fn question_takes_yes_no_and_the_default() {
        let mut out = String::new();
        let mut q = Question::ask("Do you wish to copy the image to flash?", false, &mut out);
        assert_eq!(out, "Do you wish to copy the image to flash? [n] ");
        let (a, out) = feed_line(&mut |b, o| q.feed(b, o), "maybe");
        assert_eq!(a, None);
        assert!(
            out.ends_with("Please answer y or n.\r\nDo you wish to copy the image to flash? [n] ")
        );
        assert_eq!(feed_line(&mut |b, o| q.feed(b, o), "Y").0, Some(true));
        let mut q = Question::ask("Downgrade?", false, &mut String::new());
        assert_eq!(feed_line(&mut |b, o| q.feed(b, o), "").0, Some(false));
        let mut q = Question::ask("Downgrade?", false, &mut String::new());
        assert_eq!(feed_line(&mut |b, o| q.feed(b, o), "no").0, Some(false));
    }

    #[test]
    fn activation_prompt_sets_keeps_and_refuses() {
        let cur = [0xe028_88da, 0x4ba7_bed6, 0xf1c1_23ae, 0xffd8_624e];
        let mut out = String::new();
        let mut p = ActivationPrompt::ask(Some(cur), &mut out);
        assert_eq!(
            out,
            "Activation key [0xe02888da 0x4ba7bed6 0xf1c123ae 0xffd8624e]: "
        );
        assert_eq!(feed_line(&mut |b, o| p.feed(b, o), "").0, Some(None));
        let mut p = ActivationPrompt::ask(None, &mut String::new());
        let (a, out) = feed_line(&mut |b, o| p.feed(b, o), "0x1 0x2");
        assert_eq!(a, None);
        assert!(
            out.ends_with("or Enter to keep the current key.\r\nActivation key [none]: "),
            "{out}"
        );
        assert_eq!(
            feed_line(&mut |b, o| p.feed(b, o), "0x1 0x2 0x3 0x4").0,
            Some(Some([1, 2, 3, 4]))
        );
    }

    #[test]
    fn countdown_shows_the_seconds_and_reboots_at_zero() {
        let t0 = Instant::from_secs(100);
        let mut out = String::new();
        let mut c = Countdown::start(t0, 30, "diskette", &mut out);
        assert!(out.starts_with("Remove the diskette now: the unit reboots in 30 seconds"));
        out.clear();
        assert_eq!(c.tick(t0 + Duration::from_millis(500), &mut out), None);
        assert_eq!(out, "");
        assert_eq!(c.tick(t0 + Duration::from_secs(10), &mut out), None);
        assert_eq!(out, ".... 25.... 20");
        assert_eq!(
            c.tick(t0 + Duration::from_secs(31), &mut out),
            Some(CountdownEvent::Reboot)
        );
        assert!(out.ends_with(" 5.... 0\r\n"));
    }

    #[test]
    fn reload_or_its_prefix_ends_the_countdown_other_lines_do_not() {
        let mut c = Countdown::start(Instant::from_secs(0), 30, "USB stick", &mut String::new());
        let (a, out) = feed_line(&mut |b, o| c.feed(b, o), "ping");
        assert_eq!(a, None);
        assert!(out.ends_with("Only reload works now.\r\n"));
        assert_eq!(
            feed_line(&mut |b, o| c.feed(b, o), "rel").0,
            Some(CountdownEvent::Reboot)
        );
        let mut c = Countdown::start(Instant::from_secs(0), 30, "USB stick", &mut String::new());
        assert_eq!(
            feed_line(&mut |b, o| c.feed(b, o), "reloadreloadreloadreload").0,
            None
        );
    }
}
