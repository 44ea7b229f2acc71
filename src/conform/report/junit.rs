//! The JUnit report (`--junit FILE`), written with quick-junit: one
//! `<testsuite>` per suite (and `golden` for unused goldens), one
//! `<testcase>` per trial named by the trial's full name; a conformance
//! failure is `<failure>` (message, then diff and wire trace in the body),
//! an infrastructure problem `<error>`, a skip `<skipped>` with its reason.
//! The seed, the lane and the lanes file it came from (with its digest)
//! are properties of every suite. A known failure
//! that failed is `<skipped type="known_failure">` with its reason; a
//! flaky trial that passed on a retry is a success with one
//! `<flakyFailure>` per failed attempt. Only `time` attributes change
//! between two runs with the same seed (no timestamps, no run folders).
//!
//! **Invariant:** a pure function of the events; every text is redacted
//! and cleaned of what XML 1.0 forbids, whatever a processor sent.

use std::collections::BTreeMap;
use std::time::Duration;

use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use super::{Disposition, Event, RunInfo, clean, records};
use crate::conform::verdict::Verdict;

/// The report's XML.
pub fn render(info: &RunInfo, events: &[Event]) -> Result<String, String> {
    let mut suites: BTreeMap<&str, Vec<TestCase>> = BTreeMap::new();
    let mut times: BTreeMap<&str, Duration> = BTreeMap::new();
    for record in records(events) {
        let status = match (&record.verdict, &record.disposition) {
            (Verdict::Pass, Disposition::Flaky { failures }) => {
                let mut status = TestCaseStatus::success();
                status.add_reruns(failures.iter().map(|failure| {
                    let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                    rerun
                        .set_message(clean(first_line(failure)))
                        .set_type("flaky")
                        .set_description(clean(failure));
                    rerun
                }));
                status
            }
            (Verdict::Pass, Disposition::Plain | Disposition::KnownFailure { .. }) => {
                TestCaseStatus::success()
            }
            (Verdict::Fail(_), Disposition::KnownFailure { reason }) => {
                let mut status = TestCaseStatus::skipped();
                status
                    .set_message(clean(&format!("known failure: {reason}")))
                    .set_type("known_failure")
                    .set_description(clean(&record.details()));
                status
            }
            (Verdict::Fail(failure), Disposition::Plain | Disposition::Flaky { .. }) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(clean(first_line(&failure.message)))
                    .set_type("conformance")
                    .set_description(clean(&record.details()));
                status
            }
            (Verdict::Error { message }, _) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status
                    .set_message(clean(first_line(message)))
                    .set_type("infrastructure")
                    .set_description(clean(&record.details()));
                status
            }
            (Verdict::Skip { reason }, _) => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(clean(reason));
                status
            }
        };
        let mut case = TestCase::new(clean(&record.name), status);
        case.set_classname(clean(&record.suite))
            .set_time(record.duration);
        suites.entry(record.suite.as_str()).or_default().push(case);
        *times.entry(record.suite.as_str()).or_default() += record.duration;
    }
    let mut report = Report::new(format!("theory-conform lane {}", info.lane));
    let mut total = Duration::ZERO;
    for (name, cases) in suites {
        let mut suite = TestSuite::new(name);
        suite
            .add_property(Property::new("lane", info.lane.as_str()))
            .add_property(Property::new("seed", info.seed.to_string()));
        if let Some(source) = &info.source {
            suite
                .add_property(Property::new("lanes_file", clean(&source.file)))
                .add_property(Property::new("lanes_digest", source.file_digest.as_str()));
        }
        suite.add_test_cases(cases);
        let time = times.get(name).copied().unwrap_or_default();
        suite.set_time(time);
        total += time;
        report.add_test_suite(suite);
    }
    report.set_time(total);
    report.to_string().map_err(|e| e.to_string())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}
