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
//! **Invariant:** a pure function of the [`Summary`] `--json` writes (so a
//! merged summary of shards gives the unsharded run's report); every text
//! was redacted and cleaned of what XML 1.0 forbids when the summary was
//! made, whatever a processor sent.

use std::collections::BTreeMap;
use std::time::Duration;

use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use super::Status;
use super::json::{Summary, TrialSummary};

/// The report's XML.
pub fn render(summary: &Summary) -> Result<String, String> {
    let mut suites: BTreeMap<&str, Vec<TestCase>> = BTreeMap::new();
    let mut times: BTreeMap<&str, Duration> = BTreeMap::new();
    for trial in &summary.trials {
        let duration = Duration::from_millis(trial.duration_ms);
        let mut case = TestCase::new(trial.name.as_str(), status(trial));
        case.set_classname(trial.suite.as_str()).set_time(duration);
        suites.entry(trial.suite.as_str()).or_default().push(case);
        *times.entry(trial.suite.as_str()).or_default() += duration;
    }
    let mut report = Report::new(format!("theory-conform lane {}", summary.lane));
    let mut total = Duration::ZERO;
    for (name, cases) in suites {
        let mut suite = TestSuite::new(name);
        suite
            .add_property(Property::new("lane", summary.lane.as_str()))
            .add_property(Property::new("seed", summary.seed.to_string()));
        if let Some(source) = &summary.lane_source {
            suite
                .add_property(Property::new("lanes_file", source.file.as_str()))
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

/// A trial's JUnit status, from its summary (whose texts are already
/// redacted and cleaned).
fn status(trial: &TrialSummary) -> TestCaseStatus {
    let details = trial.message.as_str();
    match trial.verdict {
        Status::Pass => TestCaseStatus::success(),
        Status::Flaky => {
            let mut status = TestCaseStatus::success();
            let failures = trial.failed_attempts.as_deref().unwrap_or_default();
            status.add_reruns(failures.iter().map(|failure| {
                let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                rerun
                    .set_message(first_line(failure))
                    .set_type("flaky")
                    .set_description(failure.as_str());
                rerun
            }));
            status
        }
        Status::KnownFailure => {
            let mut status = TestCaseStatus::skipped();
            status
                .set_message(format!(
                    "known failure: {}",
                    trial.reason.as_deref().unwrap_or_default()
                ))
                .set_type("known_failure")
                .set_description(details);
            status
        }
        Status::Fail => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(first_line(details))
                .set_type("conformance")
                .set_description(details);
            status
        }
        Status::Error => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_message(first_line(details))
                .set_type("infrastructure")
                .set_description(details);
            status
        }
        Status::Skip => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(details);
            status
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}
