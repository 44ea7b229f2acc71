//! The live progress line of a lane on a terminal, as `cargo nextest run`
//! draws it: one line at the bottom of stderr, redrawn in place, with the
//! finished, failed and ignored counts and the time spent.
//!
//! libtest-mimic writes its result lines to stdout, which is usually the
//! same terminal. So that a result line never lands in the middle of the
//! progress line, stdout is relayed while the line is shown: fd 1 is
//! pointed at a pipe, and one thread copies what arrives to the real
//! stdout, clearing the progress line before and redrawing it after each
//! whole line. [`Progress::end`] restores fd 1 and clears the line.
//!
//! **Invariant:** the progress line is drawn only when stderr is a
//! terminal, `CI` is not `true` and `--no-progress` was not given; it is
//! never part of stdout, and every byte libtest writes reaches stdout in
//! order.

use std::fs::File;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::conform::report::Status;

/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(100);
/// How long [`Progress::end`] waits for the relay to copy what is left.
const DRAIN: Duration = Duration::from_secs(2);
/// Clears the terminal's current line.
const CLEAR: &str = "\r\x1b[K";

/// The counts the line shows.
#[derive(Debug, Default)]
struct Counts {
    total: usize,
    finished: usize,
    failed: usize,
    ignored: usize,
    /// Whether stdout's last byte ended a line (the line may be drawn).
    at_line_start: bool,
    /// Whether the line is on the screen now.
    drawn: bool,
}

/// A lane's progress line; inert when it is not to be drawn.
pub(super) struct Progress {
    live: Option<Live>,
}

struct Live {
    counts: Arc<Mutex<Counts>>,
    stop: Arc<AtomicBool>,
    ticker: JoinHandle<()>,
    /// The real stdout, and the thread relaying the pipe to it.
    relay: (OwnedFd, JoinHandle<()>),
}

impl Progress {
    /// Whether a lane asked for progress (`!--no-progress`) may draw it
    /// here: stderr is a terminal and `CI` is not `true`.
    pub(super) fn wanted(asked: bool, ci: bool) -> bool {
        asked && !ci && std::io::stderr().is_terminal()
    }

    /// No line.
    pub(super) fn off() -> Self {
        Self { live: None }
    }

    /// Starts drawing the line for `total` trials, stdout relayed through
    /// a pipe; without a pipe (a failure is logged), the line is not drawn.
    pub(super) fn start(total: usize) -> Self {
        let counts = Arc::new(Mutex::new(Counts {
            total,
            at_line_start: true,
            ..Counts::default()
        }));
        let relay = match relay(Arc::clone(&counts)) {
            Ok(relay) => relay,
            Err(e) => {
                tracing::warn!(event = "conform.progress.error", message = %e);
                return Self::off();
            }
        };
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (counts, stop) = (Arc::clone(&counts), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    draw(&counts, started);
                    std::thread::sleep(TICK);
                }
            })
        };
        Self {
            live: Some(Live {
                counts,
                stop,
                ticker,
                relay,
            }),
        }
    }

    /// A trial finished with `status`.
    pub(super) fn finished(&self, status: Status) {
        let Some(live) = &self.live else { return };
        let mut counts = live.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.finished += 1;
        match status {
            Status::Fail | Status::Error => counts.failed += 1,
            Status::Skip | Status::KnownFailure => counts.ignored += 1,
            Status::Pass | Status::Flaky => {}
        }
    }

    /// Stops drawing: stdout is restored (what libtest wrote is copied
    /// first, bounded by [`DRAIN`]) and the line is cleared.
    pub(super) fn end(&mut self) {
        let Some(live) = self.live.take() else {
            return;
        };
        live.stop.store(true, Ordering::Relaxed);
        let _ = live.ticker.join();
        let _ = std::io::stdout().flush();
        let (real, relay) = live.relay;
        // The pipe's write end was fd 1 alone: pointing fd 1 back at the
        // real stdout closes it, and the relay ends at its EOF.
        if let Err(e) = rustix::stdio::dup2_stdout(&real) {
            tracing::warn!(event = "conform.progress.error", message = %e);
        }
        let deadline = Instant::now() + DRAIN;
        while !relay.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut counts = live.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.drawn {
            let _ = write!(std::io::stderr().lock(), "{CLEAR}");
            counts.drawn = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.end();
    }
}

/// Points fd 1 at a pipe and starts the thread that copies it to the real
/// stdout; the real stdout and the thread's end signal.
fn relay(counts: Arc<Mutex<Counts>>) -> std::io::Result<(OwnedFd, JoinHandle<()>)> {
    let _ = std::io::stdout().flush();
    let real = rustix::io::dup(std::io::stdout())?;
    let mut out = File::from(real.try_clone()?);
    let (mut reader, writer) = std::io::pipe()?;
    rustix::stdio::dup2_stdout(&writer)?;
    drop(writer);
    let thread = std::thread::spawn(move || {
        let mut buffer = [0_u8; 8192];
        loop {
            let read = match reader.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let chunk = &buffer[..read];
            let mut counts = counts.lock().unwrap_or_else(PoisonError::into_inner);
            if counts.drawn {
                let _ = write!(std::io::stderr().lock(), "{CLEAR}");
                counts.drawn = false;
            }
            let _ = out.write_all(chunk).and_then(|()| out.flush());
            counts.at_line_start = chunk.ends_with(b"\n");
        }
    });
    Ok((real, thread))
}

/// Redraws the line when stdout is at the start of a line.
fn draw(counts: &Mutex<Counts>, started: Instant) {
    let mut counts = counts.lock().unwrap_or_else(PoisonError::into_inner);
    if !counts.at_line_start {
        return;
    }
    let text = line(&counts, started.elapsed());
    let _ = write!(std::io::stderr().lock(), "{CLEAR}{text}");
    counts.drawn = true;
}

/// The progress line's text: `    Running [00:03] [=====>      ] 12/43: 1 failed, 2 ignored`.
fn line(counts: &Counts, elapsed: Duration) -> String {
    const WIDTH: usize = 24;
    let done = (counts.finished * WIDTH)
        .checked_div(counts.total)
        .unwrap_or(WIDTH)
        .min(WIDTH);
    let bar = format!(
        "{}{}{}",
        "=".repeat(done.saturating_sub(1)),
        if done > 0 { ">" } else { "" },
        " ".repeat(WIDTH - done)
    );
    let seconds = elapsed.as_secs();
    let mut text = format!(
        "    Running [{:02}:{:02}] [{bar}] {}/{}",
        seconds / 60,
        seconds % 60,
        counts.finished,
        counts.total
    );
    let mut tail = Vec::new();
    if counts.failed > 0 {
        tail.push(format!("{} failed", counts.failed));
    }
    if counts.ignored > 0 {
        tail.push(format!("{} ignored", counts.ignored));
    }
    if !tail.is_empty() {
        text.push_str(": ");
        text.push_str(&tail.join(", "));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(total: usize, finished: usize, failed: usize, ignored: usize) -> Counts {
        Counts {
            total,
            finished,
            failed,
            ignored,
            ..Counts::default()
        }
    }

    #[test]
    fn the_line_shows_the_counts_and_a_bar_in_proportion() {
        assert_eq!(
            line(&counts(4, 1, 0, 0), Duration::from_secs(3)),
            "    Running [00:03] [=====>                  ] 1/4"
        );
        assert_eq!(
            line(&counts(4, 4, 1, 2), Duration::from_secs(75)),
            "    Running [01:15] [=======================>] 4/4: 1 failed, 2 ignored"
        );
    }

    #[test]
    fn no_trial_and_no_progress_are_not_a_division_by_zero() {
        assert_eq!(
            line(&counts(0, 0, 0, 0), Duration::ZERO),
            "    Running [00:00] [=======================>] 0/0"
        );
        assert_eq!(
            line(&counts(3, 0, 0, 0), Duration::ZERO),
            format!("    Running [00:00] [{}] 0/3", " ".repeat(24))
        );
    }

    #[test]
    fn progress_is_never_drawn_with_ci_or_when_refused() {
        assert!(!Progress::wanted(true, true));
        assert!(!Progress::wanted(false, false));
    }

    #[test]
    fn an_inert_progress_counts_nothing_and_ends_quietly() {
        let mut progress = Progress::off();
        progress.finished(Status::Fail);
        progress.end();
        assert!(progress.live.is_none());
    }
}
