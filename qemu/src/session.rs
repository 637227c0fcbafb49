//! One running emulator with a scripted console.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::limit::Slot;
use crate::machine::{ConsoleBackend, Machine, CONSOLE_CHARDEV};
use crate::qmp::{Qmp, QmpError};
use crate::transcript::{printable, ExpectError, Transcript};

/// How long `launch` waits for a free slot under the concurrency limit.
const SLOT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long `launch` waits for QEMU to create its sockets.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Time limit of one QMP command.
const QMP_TIMEOUT: Duration = Duration::from_secs(10);
/// Time limit of one console write (the guest may stop reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Starting QEMU failed.
#[derive(Debug)]
pub enum LaunchError {
    /// `qemu-system-x86_64` is not installed.
    NoQemu(String),
    /// Too many emulators ran for too long.
    Busy(Duration),
    /// Temp dir or spawn failed.
    Io(String, io::Error),
    /// QEMU exited during start-up (bad option, missing image, ...).
    Exited { status: ExitStatus, stderr: String },
    /// QEMU did not create a socket in time.
    NoSocket { path: PathBuf, stderr: String },
    /// QMP handshake failed.
    Qmp(QmpError),
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchError::NoQemu(msg) => f.write_str(msg),
            LaunchError::Busy(t) => write!(f, "no free QEMU slot within {t:?}"),
            LaunchError::Io(what, e) => write!(f, "{what}: {e}"),
            LaunchError::Exited { status, stderr } => {
                write!(
                    f,
                    "QEMU exited during start-up ({status}); stderr:\n{stderr}"
                )
            }
            LaunchError::NoSocket { path, stderr } => write!(
                f,
                "QEMU did not open {} within {CONNECT_TIMEOUT:?}; stderr:\n{stderr}",
                path.display()
            ),
            LaunchError::Qmp(e) => write!(f, "QMP handshake: {e}"),
        }
    }
}

impl std::error::Error for LaunchError {}

/// A running emulator: console on a Unix socket (transcript recorded from the first byte),
/// QMP on another. Dropping it kills QEMU and removes its temp dir.
pub struct Qemu {
    child: Child,
    exit: Option<ExitStatus>,
    console: UnixStream,
    transcript: Arc<Transcript>,
    cursor: usize,
    qmp: Qmp,
    stderr: Arc<Stderr>,
    dir: PathBuf,
    _slot: Slot,
}

impl Qemu {
    /// Starts `machine` and connects its console and QMP.
    ///
    /// Waits for a slot under the process-wide limit ([`max_concurrent`](crate::max_concurrent))
    /// first. The console chardev has `wait=on`, so the guest starts only once connected.
    pub fn launch(machine: &Machine) -> Result<Qemu, LaunchError> {
        let slot = Slot::acquire(SLOT_TIMEOUT).ok_or(LaunchError::Busy(SLOT_TIMEOUT))?;
        Self::launch_in(machine, slot)
    }

    /// [`launch`](Self::launch) without waiting for a free slot: for a fleet whose guests must
    /// run at once ([`crate::fleet`]). The guest still counts, so other launches wait for it.
    pub fn launch_over_limit(machine: &Machine) -> Result<Qemu, LaunchError> {
        Self::launch_in(machine, Slot::take())
    }

    fn launch_in(machine: &Machine, slot: Slot) -> Result<Qemu, LaunchError> {
        let mut machine = machine.clone();
        if machine.qemu.is_none() {
            machine.qemu = Some(crate::find_qemu().map_err(LaunchError::NoQemu)?);
        }
        let dir = make_temp_dir().map_err(|e| LaunchError::Io("creating temp dir".into(), e))?;
        let guard = DirGuard(Some(dir.clone()));
        let console_path = dir.join("console.sock");
        let qmp_path = dir.join("qmp.sock");
        let backend = ConsoleBackend::Socket {
            console: console_path.clone(),
            qmp: qmp_path.clone(),
        };

        let mut child = machine
            .command(&backend)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| LaunchError::Io(format!("spawning {:?}", machine.qemu), e))?;
        let stderr = Arc::new(Stderr::default());
        if let Some(mut pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            let _ = thread::Builder::new()
                .name("qemu-stderr".into())
                .spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n @ 1..) = pipe.read(&mut buf) {
                        sink.append(&buf[..n]);
                    }
                    sink.close();
                });
        } else {
            stderr.close();
        }
        let mut child = KillOnError(Some(child));

        let console = connect(&console_path, child.get(), &stderr)?;
        console
            .set_write_timeout(Some(WRITE_TIMEOUT))
            .map_err(|e| LaunchError::Io("console socket".into(), e))?;
        let transcript = Arc::new(Transcript::default());
        let mut reader = console
            .try_clone()
            .map_err(|e| LaunchError::Io("console socket".into(), e))?;
        let sink = Arc::clone(&transcript);
        thread::Builder::new()
            .name("qemu-console".into())
            .spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) => break sink.close("console socket closed: QEMU exited".into()),
                        Ok(n) => sink.append(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break sink.close(format!("console socket: {e}")),
                    }
                }
            })
            .map_err(|e| LaunchError::Io("console reader thread".into(), e))?;

        let qmp_stream = connect(&qmp_path, child.get(), &stderr)?;
        let qmp = match Qmp::handshake(qmp_stream, QMP_TIMEOUT) {
            Ok(qmp) => qmp,
            Err(e) => {
                // Most often QEMU quit during start-up (bad image, bad option) just after
                // opening its sockets: report that, with its words on stderr.
                let deadline = Instant::now() + Duration::from_secs(2);
                while Instant::now() < deadline {
                    if let Ok(Some(status)) = child.get().try_wait() {
                        return Err(LaunchError::Exited {
                            status,
                            stderr: stderr.after_exit(),
                        });
                    }
                    thread::sleep(Duration::from_millis(10));
                }
                return Err(LaunchError::Qmp(e));
            }
        };

        Ok(Qemu {
            child: child.take(),
            exit: None,
            console,
            transcript,
            cursor: 0,
            qmp,
            stderr,
            dir: guard.keep(),
            _slot: slot,
        })
    }

    /// Waits until `needle` appears after the cursor, moves the cursor past it and returns the
    /// text between (lossy UTF-8, raw control bytes kept).
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> Result<String, ExpectError> {
        let (start, end) = self.transcript.wait_for(self.cursor, needle, timeout)?;
        let bytes = self.transcript.bytes();
        let between = String::from_utf8_lossy(&bytes[self.cursor..start]).into_owned();
        self.cursor = end;
        Ok(between)
    }

    /// Waits `quiet`, then returns everything after the cursor and moves the cursor to the end:
    /// for checking that nothing (else) was printed.
    pub fn drain(&mut self, quiet: Duration) -> String {
        thread::sleep(quiet);
        let bytes = self.transcript.bytes();
        let text = String::from_utf8_lossy(&bytes[self.cursor.min(bytes.len())..]).into_owned();
        self.cursor = bytes.len();
        text
    }

    /// Byte offset of the cursor in the transcript.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Writes raw bytes to the console in one write.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.console.write_all(bytes)?;
        self.console.flush()
    }

    /// Writes `line` and a carriage return (what a terminal sends for Enter).
    pub fn send_line(&mut self, line: &str) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\r');
        self.send(&bytes)
    }

    /// Writes `text` one byte at a time, `per_char` apart, like a person typing.
    pub fn type_slow(&mut self, text: &str, per_char: Duration) -> io::Result<()> {
        for &b in text.as_bytes() {
            self.send(&[b])?;
            thread::sleep(per_char);
        }
        Ok(())
    }

    /// Sends a serial BREAK on the console (QMP `chardev-send-break`).
    pub fn send_break(&mut self) -> Result<(), QmpError> {
        let cmd = format!(
            r#"{{"execute":"chardev-send-break","arguments":{{"id":"{CONSOLE_CHARDEV}"}}}}"#
        );
        self.qmp(&cmd).map(drop)
    }

    /// Runs one QMP command (a JSON object) and returns its `return` value.
    pub fn qmp(&mut self, command: &str) -> Result<Value, QmpError> {
        self.qmp.execute(command, QMP_TIMEOUT)
    }

    /// QMP events received so far (`RESET`, `SHUTDOWN`, ...), oldest first.
    pub fn qmp_events(&self) -> Vec<Value> {
        self.qmp.events()
    }

    /// Everything the console printed so far (lossy UTF-8, raw control bytes kept).
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.transcript.bytes()).into_owned()
    }

    /// The transcript as raw bytes.
    pub fn transcript_bytes(&self) -> Vec<u8> {
        self.transcript.bytes()
    }

    /// The transcript for people: control bytes shown as `\xNN`.
    pub fn transcript_printable(&self) -> String {
        printable(&self.transcript.bytes())
    }

    /// Bytes received so far.
    pub fn transcript_len(&self) -> usize {
        self.transcript.len()
    }

    /// What QEMU wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Waits up to `timeout` for QEMU to exit; its exit code (`(v << 1) | 1` after a write of
    /// `v` to isa-debug-exit), or `None` if it is still running or was killed by a signal.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit {
                return status.code();
            }
            match self.child.try_wait() {
                Ok(Some(status)) => self.exit = Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => return None,
            }
        }
    }

    /// Kills QEMU now (also done on drop).
    pub fn kill(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
    }

    /// The per-instance directory holding the sockets (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Connects to a Unix socket QEMU is about to create, failing early if QEMU exits.
fn connect(path: &Path, child: &mut Child, stderr: &Stderr) -> Result<UnixStream, LaunchError> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(LaunchError::Exited {
                status,
                stderr: stderr.after_exit(),
            });
        }
        if let Ok(stream) = UnixStream::connect(path) {
            return Ok(stream);
        }
        if Instant::now() >= deadline {
            return Err(LaunchError::NoSocket {
                path: path.to_owned(),
                stderr: stderr.text(),
            });
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// What QEMU writes to stderr, collected by a reader thread until the pipe closes.
#[derive(Default)]
struct Stderr {
    /// The bytes so far and whether the pipe has closed.
    state: Mutex<(Vec<u8>, bool)>,
    closed: Condvar,
}

impl Stderr {
    fn append(&self, bytes: &[u8]) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .extend_from_slice(bytes);
    }

    fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.closed.notify_all();
    }

    /// Everything so far (lossy UTF-8).
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.state.lock().unwrap_or_else(|e| e.into_inner()).0)
            .into_owned()
    }

    /// Everything QEMU wrote, once it has exited: waits for the pipe to close (bounded, in
    /// case a child of QEMU still holds it).
    fn after_exit(&self) -> String {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (state, _) = self
            .closed
            .wait_timeout_while(state, Duration::from_secs(2), |s| !s.1)
            .unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&state.0).into_owned()
    }
}

fn make_temp_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("lifeboat-qemu-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Removes the temp dir unless the launch succeeded.
struct DirGuard(Option<PathBuf>);

impl DirGuard {
    fn keep(mut self) -> PathBuf {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Kills the child unless the launch succeeded.
struct KillOnError(Option<Child>);

impl KillOnError {
    fn get(&mut self) -> &mut Child {
        self.0.as_mut().expect("child present until taken")
    }

    fn take(mut self) -> Child {
        self.0.take().expect("child present until taken")
    }
}

impl Drop for KillOnError {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
