//! The JSON summary (`--json FILE`): a [`Summary`] in canonical JSON (RFC 8785),
//!
//! ```json
//! {"certificates":{"acme/resize@2.1.0":"not_certified"},
//!  "counts":{"errors":0,"failed":1,"flaky":0,"known_failures":0,"passed":40,"skipped":2,"total":43},
//!  "lane":"staging",
//!  "lane_source":{"file":"<embedded ci/lanes.yaml>","file_digest":"sha256:...","name":"staging","suites":{"contract":"sha256:..."}},
//!  "seed":"42",
//!  "trials":[{"duration_ms":12,"message":"...","name":"contract::...","suite":"contract","verdict":"fail"}]}
//! ```
//!
//! `certificates` holds each processor's certificate verdict (the whole
//! certificate is `--certificate DIR`'s, see `certificate`), and
//! `lane_source` says where the lane came from; both are absent only in
//! summaries that are not a lane run's.
//!
//! Trials are sorted by name; `verdict` is the record's status (`pass`,
//! `flaky`, `fail`, `known_failure`, `error`, `skip`); `message` is the
//! full detail (message, diff, trace, then `replay: <command>` for a
//! failing trial) and is empty for a pass. A known failure adds its
//! `reason`; a flaky pass adds `attempts` and `failed_attempts`. Nothing
//! but `duration_ms` changes between two runs with the same seed.
//!
//! The same type reads a summary back (the selftest does), so writer and
//! reader cannot disagree on a field or a status.
//!
//! **Invariant:** a pure function of the events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::certificate::{CertificateVerdict, LaneSource};
use super::{Counts, Disposition, Event, Record, RunInfo, Status, clean, counts, records};

/// The whole summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Each processor's certificate verdict (a lane run's summary).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub certificates: BTreeMap<String, CertificateVerdict>,
    /// The lane.
    pub lane: String,
    /// Where the lane came from: the lanes file, the suites and their digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane_source: Option<LaneSource>,
    /// The seed (a string: JSON numbers lose integers above 2^53).
    #[serde(with = "seed_text")]
    pub seed: u64,
    /// The trials by status.
    pub counts: Counts,
    /// One entry per trial, sorted by name.
    pub trials: Vec<TrialSummary>,
}

/// One trial of a [`Summary`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrialSummary {
    /// The trial's name.
    pub name: String,
    /// Its suite.
    pub suite: String,
    /// Its status.
    pub verdict: Status,
    /// The full detail, then the replay command (empty for a pass).
    pub message: String,
    /// How long it took (every attempt), in whole milliseconds.
    pub duration_ms: u64,
    /// A known failure's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A flaky pass's attempts (the failed ones and the passing one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<usize>,
    /// A flaky pass's failed attempts' details, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_attempts: Option<Vec<String>>,
}

impl TrialSummary {
    fn of(record: &Record) -> Self {
        let mut trial = Self {
            name: record.name.clone(),
            suite: record.suite.clone(),
            verdict: record.status(),
            message: clean(&record.details()),
            duration_ms: u64::try_from(record.duration.as_millis()).unwrap_or(u64::MAX),
            reason: None,
            attempts: None,
            failed_attempts: None,
        };
        match &record.disposition {
            Disposition::Plain => {}
            Disposition::KnownFailure { reason } => trial.reason = Some(clean(reason)),
            Disposition::Flaky { failures } => {
                trial.attempts = Some(failures.len() + 1);
                trial.failed_attempts = Some(failures.iter().map(|f| clean(f)).collect());
            }
        }
        trial
    }
}

impl Summary {
    /// The summary of a run.
    pub fn of(info: &RunInfo, events: &[Event]) -> Self {
        Self {
            certificates: info.certificates.clone(),
            lane: info.lane.clone(),
            lane_source: info.source.clone(),
            seed: info.seed,
            counts: counts(events),
            trials: records(events).into_iter().map(TrialSummary::of).collect(),
        }
    }

    /// Reads a summary's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// The summary's bytes: the canonical JSON of [`Summary::of`], written
/// member by member in RFC 8785 order (`certificates`, `counts`, `lane`,
/// `lane_source`, `seed`, `trials`) with each trial canonicalized alone, so a run of 10,000
/// trials never holds the whole summary as a tree.
pub fn render(info: &RunInfo, events: &[Event]) -> Vec<u8> {
    fn canonical<T: Serialize>(value: &T) -> Vec<u8> {
        theory_contract::canon::to_canonical_serde(value)
            .unwrap_or_else(|_| serde_json::to_vec(value).unwrap_or_default())
    }
    let mut out = Vec::new();
    out.push(b'{');
    if !info.certificates.is_empty() {
        out.extend_from_slice(b"\"certificates\":");
        out.extend(canonical(&info.certificates));
        out.push(b',');
    }
    out.extend_from_slice(b"\"counts\":");
    out.extend(canonical(&counts(events)));
    out.extend_from_slice(b",\"lane\":");
    theory_contract::canon::write_canonical_string(&mut out, &info.lane);
    if let Some(source) = &info.source {
        out.extend_from_slice(b",\"lane_source\":");
        out.extend(canonical(source));
    }
    out.extend_from_slice(b",\"seed\":");
    theory_contract::canon::write_canonical_string(&mut out, &info.seed.to_string());
    out.extend_from_slice(b",\"trials\":[");
    for (i, record) in records(events).into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(canonical(&TrialSummary::of(record)));
    }
    out.extend_from_slice(b"]}");
    out
}

/// The seed as a decimal string.
mod seed_text {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(seed: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(seed)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use std::time::Duration;

    use super::*;
    use crate::conform::verdict::Verdict;

    fn record(name: &str, verdict: Verdict, disposition: Disposition) -> Event {
        Event::Finished(Record {
            name: name.to_owned(),
            suite: "contract".to_owned(),
            verdict,
            disposition,
            replay: None,
            duration: Duration::from_millis(7),
        })
    }

    #[test]
    fn the_streamed_summary_is_the_canonical_summary() {
        let info = RunInfo {
            lane: "pr \"x\"".to_owned(),
            seed: u64::MAX,
            ..RunInfo::default()
        };
        for events in [events(), Vec::new()] {
            let whole =
                theory_contract::canon::to_canonical_serde(&Summary::of(&info, &events)).unwrap();
            assert_eq!(
                String::from_utf8(render(&info, &events)).unwrap(),
                String::from_utf8(whole).unwrap()
            );
        }
    }

    fn events() -> Vec<Event> {
        vec![
            record("b", Verdict::fail("x \"y\"\n"), Disposition::Plain),
            record("a", Verdict::Pass, Disposition::Plain),
            record(
                "c",
                Verdict::fail("z"),
                Disposition::KnownFailure {
                    reason: "r".to_owned(),
                },
            ),
            record(
                "d",
                Verdict::Pass,
                Disposition::Flaky {
                    failures: vec!["f1".to_owned()],
                },
            ),
            record("e", Verdict::error("down"), Disposition::Plain),
            record("f", Verdict::skip("n/a"), Disposition::Plain),
        ]
    }

    #[test]
    fn a_summary_round_trips_through_its_bytes() {
        let info = RunInfo {
            lane: "pr".to_owned(),
            seed: u64::MAX,
            ..RunInfo::default()
        };
        let bytes = render(&info, &events());
        let read = Summary::parse(&bytes).unwrap();
        assert_eq!(read, Summary::of(&info, &events()));
        assert_eq!(read.seed, u64::MAX);
        let statuses: Vec<Status> = read.trials.iter().map(|t| t.verdict).collect();
        assert_eq!(
            statuses,
            [
                Status::Pass,
                Status::Fail,
                Status::KnownFailure,
                Status::Flaky,
                Status::Error,
                Status::Skip
            ]
        );
        assert_eq!(read.trials[2].reason.as_deref(), Some("r"));
        assert_eq!(read.trials[3].attempts, Some(2));
        assert_eq!(read.counts.known_failures, 1);
        assert_eq!(read.counts.flaky, 1);
    }

    #[test]
    fn the_bytes_are_canonical_with_the_documented_fields() {
        let info = RunInfo {
            lane: "pr".to_owned(),
            seed: 42,
            ..RunInfo::default()
        };
        let events = vec![
            record("a", Verdict::Pass, Disposition::Plain),
            record(
                "c",
                Verdict::fail("z"),
                Disposition::KnownFailure {
                    reason: "r".to_owned(),
                },
            ),
        ];
        let text = String::from_utf8(render(&info, &events)).unwrap();
        assert_eq!(
            text,
            r#"{"counts":{"errors":0,"failed":0,"flaky":0,"known_failures":1,"passed":1,"skipped":0,"total":2},"lane":"pr","seed":"42","trials":[{"duration_ms":7,"message":"","name":"a","suite":"contract","verdict":"pass"},{"duration_ms":7,"message":"z","name":"c","reason":"r","suite":"contract","verdict":"known_failure"}]}"#
        );
    }

    #[test]
    fn a_summary_with_an_unknown_status_or_field_is_refused() {
        let good = r#"{"counts":{"errors":0,"failed":0,"flaky":0,"known_failures":0,"passed":1,"skipped":0,"total":1},"lane":"pr","seed":"1","trials":[{"duration_ms":1,"message":"","name":"a","suite":"s","verdict":"pass"}]}"#;
        assert!(Summary::parse(good.as_bytes()).is_ok());
        assert!(Summary::parse(good.replace("\"pass\"", "\"passed\"").as_bytes()).is_err());
        assert!(
            Summary::parse(good.replace("\"lane\"", "\"extra\":1,\"lane\"").as_bytes()).is_err()
        );
        assert!(
            Summary::parse(good.replace("\"1\",\"trials\"", "1,\"trials\"").as_bytes()).is_err()
        );
    }
}
