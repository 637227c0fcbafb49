//! A minimal QMP (QEMU Machine Protocol) client: one command at a time, events collected.

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::Value;

/// A QMP command failed.
#[derive(Debug)]
pub enum QmpError {
    /// The socket failed.
    Io(io::Error),
    /// The command is not one JSON object.
    BadCommand(String),
    /// QEMU did not answer within the time limit.
    Timeout { command: String, timeout: Duration },
    /// QEMU closed the connection (it exited).
    Closed,
    /// QEMU answered with an error.
    Failed { class: String, desc: String },
}

impl fmt::Display for QmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QmpError::Io(e) => write!(f, "QMP socket: {e}"),
            QmpError::BadCommand(why) => write!(f, "QMP command is not a JSON object: {why}"),
            QmpError::Timeout { command, timeout } => {
                write!(f, "QMP gave no answer to {command} within {timeout:?}")
            }
            QmpError::Closed => write!(f, "QMP connection closed (QEMU exited?)"),
            QmpError::Failed { class, desc } => write!(f, "QMP error {class}: {desc}"),
        }
    }
}

impl std::error::Error for QmpError {}

impl From<io::Error> for QmpError {
    fn from(e: io::Error) -> Self {
        QmpError::Io(e)
    }
}

pub(crate) struct Qmp {
    writer: UnixStream,
    replies: Receiver<Value>,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Qmp {
    /// Takes over a connected socket: reads the greeting and negotiates capabilities.
    pub(crate) fn handshake(stream: UnixStream, timeout: Duration) -> Result<Qmp, QmpError> {
        stream.set_write_timeout(Some(timeout))?;
        let reader = BufReader::new(stream.try_clone()?);
        let (tx, replies) = mpsc::channel();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        thread::Builder::new()
            .name("qmp-reader".into())
            .spawn(move || {
                for line in reader.lines() {
                    let Ok(line) = line else { break };
                    let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                        continue;
                    };
                    if msg.get("event").is_some() {
                        sink.lock().unwrap_or_else(|e| e.into_inner()).push(msg);
                    } else if tx.send(msg).is_err() {
                        break;
                    }
                }
            })?;
        let mut qmp = Qmp {
            writer: stream,
            replies,
            events,
        };
        match qmp.replies.recv_timeout(timeout) {
            Ok(greeting) if greeting.get("QMP").is_some() => {}
            Ok(other) => return Err(QmpError::BadCommand(format!("unexpected greeting {other}"))),
            Err(RecvTimeoutError::Timeout) => {
                return Err(QmpError::Timeout {
                    command: "greeting".into(),
                    timeout,
                })
            }
            Err(RecvTimeoutError::Disconnected) => return Err(QmpError::Closed),
        }
        qmp.execute(r#"{"execute":"qmp_capabilities"}"#, timeout)?;
        Ok(qmp)
    }

    /// Sends one command and returns its `return` value.
    pub(crate) fn execute(&mut self, command: &str, timeout: Duration) -> Result<Value, QmpError> {
        let parsed: Value =
            serde_json::from_str(command).map_err(|e| QmpError::BadCommand(e.to_string()))?;
        if !parsed.is_object() {
            return Err(QmpError::BadCommand(command.to_owned()));
        }
        // Drop a late answer to an earlier command that timed out.
        while self.replies.try_recv().is_ok() {}
        let mut line = parsed.to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes())?;
        let reply = match self.replies.recv_timeout(timeout) {
            Ok(reply) => reply,
            Err(RecvTimeoutError::Timeout) => {
                return Err(QmpError::Timeout {
                    command: parsed.to_string(),
                    timeout,
                })
            }
            Err(RecvTimeoutError::Disconnected) => return Err(QmpError::Closed),
        };
        if let Some(value) = reply.get("return") {
            return Ok(value.clone());
        }
        let error = reply.get("error");
        let field = |name| {
            error
                .and_then(|e| e.get(name))
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned()
        };
        Err(QmpError::Failed {
            class: field("class"),
            desc: field("desc"),
        })
    }

    /// Events received so far (`{"event": "RESET", ...}` and the like), oldest first.
    pub(crate) fn events(&self) -> Vec<Value> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
