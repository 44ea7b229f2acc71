//! Reports: the runner emits one [`Event`] stream, made into one
//! [`json::Summary`]; every report is a rendering of that summary
//! (libtest-mimic prints the terminal lines).
//!
//! - `json` — the canonical JSON summary: counts and one entry per trial
//!   (written streamed, member by member).
//! - `junit` — a JUnit XML file (quick-junit): `<failure>` for a
//!   conformance failure, `<error>` for an infrastructure problem,
//!   `<skipped>` with its reason.
//! - `markdown` — the Markdown job summary (`--summary`).
//! - `html` — the self-contained, filterable page (`--html`).
//! - `merge` — the summaries and certificates of a partitioned run's
//!   shards joined into the unsharded run's (`theory-conform report merge`).
//!
//! A record's [`Status`] combines its verdict with its [`Disposition`]: a
//! listed known failure that failed is `known_failure` (it does not fail
//! the lane), a listed flaky trial that passed on a retry is `flaky`.
//!
//! **Invariant:** reporters never touch a transport and never decide
//! verdicts; their output is sorted by trial name, so two runs give the
//! same bytes apart from timings.

pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod merge;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::certificate::{CertificateVerdict, LaneSource};
use super::verdict::Verdict;

/// What happened during a lane run, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A trial finished with a verdict.
    Finished(Record),
}

/// One trial's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The trial's name.
    pub name: String,
    /// Its suite (JUnit's test suite).
    pub suite: String,
    /// Its verdict (the last attempt's, for a retried trial).
    pub verdict: Verdict,
    /// How the known-failure and known-flaky lists bear on the verdict.
    pub disposition: Disposition,
    /// The command that replays this trial alone (failing trials).
    pub replay: Option<String>,
    /// How long it took (every attempt).
    pub duration: Duration,
}

/// How the known lists bear on a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Not listed, or listed with no effect.
    Plain,
    /// A listed known failure that failed: it does not fail the lane.
    KnownFailure {
        /// The entry's reason.
        reason: String,
    },
    /// A listed flaky trial that passed on a retry.
    Flaky {
        /// The details of the attempts that failed, in order.
        failures: Vec<String>,
    },
}

/// What a record counts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Passed at the first attempt.
    Pass,
    /// Passed on a retry (a listed flaky trial).
    Flaky,
    /// Failed (conformance).
    Fail,
    /// A listed known failure that failed.
    KnownFailure,
    /// Errored (infrastructure).
    Error,
    /// Did not apply.
    Skip,
}

impl Status {
    /// `pass`, `flaky`, `fail`, `known_failure`, `error` or `skip`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Flaky => "flaky",
            Self::Fail => "fail",
            Self::KnownFailure => "known_failure",
            Self::Error => "error",
            Self::Skip => "skip",
        }
    }
}

impl Record {
    /// What the record counts as.
    pub const fn status(&self) -> Status {
        match (&self.verdict, &self.disposition) {
            (Verdict::Pass, Disposition::Flaky { .. }) => Status::Flaky,
            (Verdict::Pass, Disposition::Plain | Disposition::KnownFailure { .. }) => Status::Pass,
            (Verdict::Fail(_), Disposition::KnownFailure { .. }) => Status::KnownFailure,
            (Verdict::Fail(_), Disposition::Plain | Disposition::Flaky { .. }) => Status::Fail,
            (Verdict::Error { .. }, _) => Status::Error,
            (Verdict::Skip { .. }, _) => Status::Skip,
        }
    }

    /// The full detail (message, diff, trace), then the replay command.
    pub fn details(&self) -> String {
        let mut out = self.verdict.details();
        if let Some(replay) = &self.replay {
            out.push_str("\n\nreplay: ");
            out.push_str(replay);
        }
        out
    }
}

/// The run as a whole, for the report headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunInfo {
    /// The lane.
    pub lane: String,
    /// The seed.
    pub seed: u64,
    /// Where the lane came from (a lane run always says).
    pub source: Option<LaneSource>,
    /// Each processor's certificate verdict.
    pub certificates: BTreeMap<String, CertificateVerdict>,
}

/// Counts by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Trials.
    pub total: usize,
    /// Passed at the first attempt.
    pub passed: usize,
    /// Passed on a retry.
    pub flaky: usize,
    /// Failed (conformance).
    pub failed: usize,
    /// Known failures that failed.
    pub known_failures: usize,
    /// Errored (infrastructure).
    pub errors: usize,
    /// Skipped.
    pub skipped: usize,
}

/// The finished records of `events`, sorted by name.
pub fn records(events: &[Event]) -> Vec<&Record> {
    let mut records: Vec<&Record> = events
        .iter()
        .map(|event| match event {
            Event::Finished(record) => record,
        })
        .collect();
    records.sort_by(|a, b| a.name.cmp(&b.name));
    records
}

impl Counts {
    /// Counts one more record of `status`.
    pub const fn add(&mut self, status: Status) {
        self.total += 1;
        match status {
            Status::Pass => self.passed += 1,
            Status::Flaky => self.flaky += 1,
            Status::Fail => self.failed += 1,
            Status::KnownFailure => self.known_failures += 1,
            Status::Error => self.errors += 1,
            Status::Skip => self.skipped += 1,
        }
    }
}

/// Counts the statuses of `events`.
pub fn counts(events: &[Event]) -> Counts {
    let mut counts = Counts::default();
    for record in records(events) {
        counts.add(record.status());
    }
    counts
}

/// Text safe for XML 1.0 and terminals: control characters other than
/// tab and newline, and the non-characters U+FFFE/U+FFFF, become `\u{..}`
/// escapes; the text is redacted.
pub fn clean(text: &str) -> String {
    let redacted = crate::redact::text(text);
    let mut out = String::with_capacity(redacted.len());
    for c in redacted.chars() {
        match c {
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// Where the reports rendered from a [`json::Summary`] go.
#[derive(Clone, Copy, Debug, Default)]
pub struct Destinations<'a> {
    /// `--junit`.
    pub junit: Option<&'a Path>,
    /// `--summary` (Markdown).
    pub markdown: Option<&'a Path>,
    /// `--html`.
    pub html: Option<&'a Path>,
}

/// Writes each report of `summary` that has a destination; `false` when
/// one could not be rendered or written (each failure logged).
pub fn write_all(summary: &json::Summary, to: &Destinations<'_>) -> bool {
    let mut written = true;
    if let Some(path) = to.junit {
        written &= match junit::render(summary) {
            Ok(xml) => write_file(path, xml.as_bytes()),
            Err(e) => {
                tracing::error!(event = "error.report", path = %path.display(), message = %e);
                false
            }
        };
    }
    for (path, render) in [
        (
            to.markdown,
            markdown::render as fn(&json::Summary) -> String,
        ),
        (to.html, html::render),
    ] {
        if let Some(path) = path {
            written &= write_file(path, render(summary).as_bytes());
        }
    }
    written
}

/// Writes one report (its folder created); `false` once the failure is
/// logged.
pub fn write_file(path: &Path, bytes: &[u8]) -> bool {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(path, bytes)
        .map_err(|e| {
            tracing::error!(event = "error.report", path = %path.display(), message = %e);
        })
        .is_ok()
}

/// `text` safe inside HTML, in an element or a quoted attribute (the
/// Markdown summary's folds, the HTML report).
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escape_covers_elements_and_quoted_attributes() {
        assert_eq!(html_escape("a<b>&c\"d'e"), "a&lt;b&gt;&amp;c&quot;d&#39;e");
    }

    #[test]
    fn clean_escapes_what_xml_forbids() {
        assert_eq!(
            clean("a\u{0}b\u{1b}[31mc\r\n\u{ffff}"),
            "a\\u{0000}b\\u{001b}[31mc\\r\n\\u{ffff}"
        );
    }
}
