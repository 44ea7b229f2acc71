//! Reports: the runner emits one [`Event`] stream; the JUnit and JSON
//! reporters consume it (libtest-mimic prints the terminal lines).
//!
//! - `junit` — a JUnit XML file (quick-junit): `<failure>` for a
//!   conformance failure, `<error>` for an infrastructure problem,
//!   `<skipped>` with its reason.
//! - `json` — a canonical JSON summary: counts and one entry per trial.
//!
//! **Invariant:** reporters never touch a transport and never decide
//! verdicts; their output is sorted by trial name, so two runs give the
//! same bytes apart from timings.

pub mod json;
pub mod junit;

use std::time::Duration;

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
    /// Its verdict.
    pub verdict: Verdict,
    /// How long it took.
    pub duration: Duration,
}

/// The run as a whole, for the report headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInfo {
    /// The lane.
    pub lane: String,
    /// The seed.
    pub seed: u64,
}

/// Counts by verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Trials.
    pub total: usize,
    /// Passed.
    pub passed: usize,
    /// Failed (conformance).
    pub failed: usize,
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

/// Counts the verdicts of `events`.
pub fn counts(events: &[Event]) -> Counts {
    let mut counts = Counts::default();
    for record in records(events) {
        counts.total += 1;
        match record.verdict {
            Verdict::Pass => counts.passed += 1,
            Verdict::Fail(_) => counts.failed += 1,
            Verdict::Error { .. } => counts.errors += 1,
            Verdict::Skip { .. } => counts.skipped += 1,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_escapes_what_xml_forbids() {
        assert_eq!(
            clean("a\u{0}b\u{1b}[31mc\r\n\u{ffff}"),
            "a\\u{0000}b\\u{001b}[31mc\\r\n\\u{ffff}"
        );
    }
}
