//! Readiness as data: what a started process prints once it is ready, said
//! once and reused by every caller (the self-test, the tests' processor
//! supports), the way testcontainers' `WaitFor` describes it.
//!
//! A [`WaitFor`] names an NDJSON event and the field to take from it (the
//! reference processor's `{"event":"listening","addr":"127.0.0.1:PORT"}`
//! is [`WaitFor::LISTENING`]). [`WaitFor::watch`] drains a stream on a
//! thread, so the process never blocks on a full pipe, keeps its last lines
//! for messages, and hands over the field's value of the first matching
//! line; [`Watch::wait`] waits for it within a budget.
//!
//! **Invariant:** std and `serde_json` only, no reference to this crate: the
//! reference processor's tests include this very file.

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead as _, BufReader, Read};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The most lines a [`Watch`] keeps (the oldest go first).
pub const KEPT_LINES: usize = 500;

/// The line that says a process is ready: an NDJSON event and the string
/// field whose value the waiter wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitFor {
    event: &'static str,
    field: &'static str,
}

/// The process did not print its ready line within the budget (or its
/// stream ended first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotReady {
    /// The event waited for.
    pub event: &'static str,
    /// The budget.
    pub budget: Duration,
    /// The last lines it printed.
    pub lines: Vec<String>,
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no `{}` line within {} ms (last lines: {:?})",
            self.event,
            self.budget.as_millis(),
            self.lines
        )
    }
}

impl std::error::Error for NotReady {}

/// A stream being drained; see [`WaitFor::watch`].
#[derive(Debug)]
pub struct Watch {
    wait_for: WaitFor,
    found: Receiver<String>,
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl WaitFor {
    /// The reference processor's `{"event":"listening","addr":...}`.
    pub const LISTENING: Self = Self::event("listening", "addr");

    /// The event named `event`, taking its string field `field`.
    pub const fn event(event: &'static str, field: &'static str) -> Self {
        Self { event, field }
    }

    /// The field's value when `line` is the ready line.
    pub fn matches(&self, line: &str) -> Option<String> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        if value.get("event")?.as_str()? != self.event {
            return None;
        }
        Some(value.get(self.field)?.as_str()?.to_owned())
    }

    /// Drains `stream` on a thread until it ends, keeping the last
    /// [`KEPT_LINES`] lines.
    pub fn watch(self, stream: impl Read + Send + 'static) -> Watch {
        let (tx, found) = mpsc::channel();
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        let kept = Arc::clone(&lines);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if tx.is_some()
                    && let Some(value) = self.matches(&line)
                    && let Some(sender) = tx.take()
                {
                    // The waiter may have given up; the stream is drained anyway.
                    let _ = sender.send(value);
                }
                let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
                if kept.len() == KEPT_LINES {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        Watch {
            wait_for: self,
            found,
            lines,
        }
    }
}

impl Watch {
    /// The ready line's field, once it is printed within `budget`.
    pub fn wait(&self, budget: Duration) -> Result<String, NotReady> {
        self.found.recv_timeout(budget).map_err(|_| NotReady {
            event: self.wait_for.event,
            budget,
            lines: self.lines(),
        })
    }

    /// The lines read so far (the last [`KEPT_LINES`]).
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_line_gives_its_field_and_other_lines_are_kept() {
        let text = "not json\n{\"event\":\"starting\"}\n{\"level\":\"info\",\"addr\":\"127.0.0.1:9\",\"event\":\"listening\"}\n{\"event\":\"listening\",\"addr\":\"second\"}\n";
        let watch = WaitFor::LISTENING.watch(std::io::Cursor::new(text.as_bytes().to_vec()));
        assert_eq!(
            watch.wait(Duration::from_secs(10)),
            Ok("127.0.0.1:9".to_owned())
        );
        // Only the first ready line is handed over.
        assert!(watch.wait(Duration::from_millis(50)).is_err());
        // The reader thread keeps every line; on a loaded machine it may
        // still be reading when the first wait returns.
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while watch.lines().len() < 4 && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(watch.lines().len(), 4);
    }

    #[test]
    fn a_stream_without_the_ready_line_is_not_ready() {
        let text = "{\"event\":\"listening\"}\n{\"event\":\"listening\",\"addr\":7}\n{\"event\":\"other\",\"addr\":\"x\"}\n";
        let watch = WaitFor::LISTENING.watch(std::io::Cursor::new(text.as_bytes().to_vec()));
        let err = watch
            .wait(Duration::from_millis(200))
            .expect_err("never ready");
        assert_eq!(err.event, "listening");
        assert_eq!(err.lines.len(), 3);
        assert!(
            err.to_string()
                .starts_with("no `listening` line within 200 ms")
        );
    }

    #[test]
    fn only_the_last_lines_are_kept() {
        let text: String = (0..KEPT_LINES + 10).map(|i| format!("{i}\n")).collect();
        let watch = WaitFor::LISTENING.watch(std::io::Cursor::new(text.into_bytes()));
        assert!(watch.wait(Duration::from_secs(10)).is_err());
        let lines = watch.lines();
        assert_eq!(lines.len(), KEPT_LINES);
        assert_eq!(lines[0], "10");
    }
}
