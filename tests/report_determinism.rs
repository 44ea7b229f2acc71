//! Reproducibility: two runs of a lane with the same seed write the same
//! JUnit and JSON bytes once timings are removed; every failure ends with
//! the command that replays it alone; `--last-failed` reruns exactly the
//! failures, with the recorded seed.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::processor::{Options, Processor};
use support::{Cli, Run, fixture};

use support::lanes::{FINGERPRINT, NAME, url_registry};

fn remote(fault: &str) -> Processor {
    Processor::start(
        Options::plain()
            .env("THEORY_ENV_FINGERPRINT", FINGERPRINT)
            .fault(fault),
    )
}

/// A dev-lane run whose reports go to `out`, state and work under `dir`.
fn lane(registry: &Path, dir: &Path, out: &Path) -> Cli {
    Cli::new(["--lane", "dev"])
        .arg("--registry")
        .arg(registry)
        .arg("--junit")
        .arg(out.join("junit.xml"))
        .arg("--json")
        .arg(out.join("summary.json"))
        .arg("--work-dir")
        .arg(dir.join("work"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--golden-dir")
        .arg(fixture("golden"))
        .env("CI", "true")
        .timeout(Duration::from_secs(120))
}

fn explain(run: &Run) -> String {
    let lines: Vec<&str> = run.stderr.lines().collect();
    format!(
        "exit {}\nstdout:\n{}\nstderr (tail):\n{}",
        run.code,
        run.stdout_text(),
        lines[lines.len().saturating_sub(20)..].join("\n")
    )
}

/// Removes `time="..."` and `timestamp="..."` attributes.
fn strip_xml_times(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    loop {
        let next = [" time=\"", " timestamp=\""]
            .iter()
            .filter_map(|a| rest.find(a).map(|at| (at, a.len())))
            .min();
        let Some((at, len)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        let after = &rest[at + len..];
        let end = after.find('"').expect("closing quote");
        rest = &after[end + 1..];
    }
}

/// The JSON summary without `duration_ms`, in canonical form.
fn strip_json_times(bytes: &[u8]) -> String {
    let mut doc: serde_json::Value = serde_json::from_slice(bytes).expect("JSON");
    for trial in doc["trials"].as_array_mut().expect("trials") {
        trial
            .as_object_mut()
            .expect("trial")
            .remove("duration_ms")
            .expect("duration_ms");
    }
    doc.to_string()
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
        .expect("JSON")
}

fn failed(summary: &serde_json::Value) -> BTreeSet<String> {
    summary["trials"]
        .as_array()
        .expect("trials")
        .iter()
        .filter(|t| t["verdict"] == "fail")
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}

#[test]
fn two_runs_with_one_seed_write_the_same_reports_but_for_timings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = remote("outputs-unsorted");
    let registry = url_registry(dir.path(), remote.http_url().as_str());
    let known = dir.path().join("known.yaml");
    std::fs::write(
        &known,
        "version: 1\nentries:\n  - trial: 'contract::envelope::*::url::http'\n    reason: r\n",
    )
    .expect("write list");
    let mut reports = Vec::new();
    for attempt in ["a", "b"] {
        let out = dir.path().join(attempt);
        let run = lane(&registry, dir.path(), &out)
            .arg("--seed")
            .arg("20240601")
            .arg("--known-failures")
            .arg(&known)
            .run();
        assert_eq!(run.code, 1, "{}", explain(&run));
        let xml = std::fs::read_to_string(out.join("junit.xml")).expect("junit");
        let json = std::fs::read(out.join("summary.json")).expect("json");
        assert!(!xml.contains("/conform-"), "the run folder leaked: {xml}");
        reports.push((strip_xml_times(&xml), strip_json_times(&json)));
    }
    let summary = summary(&dir.path().join("a"));
    assert!(
        !failed(&summary).is_empty(),
        "the run must have failures to compare"
    );
    assert_eq!(summary["counts"]["known_failures"], 1);
    let ((xml_a, json_a), (xml_b, json_b)) = (&reports[0], &reports[1]);
    if xml_a != xml_b {
        let diff: Vec<(&str, &str)> = xml_a
            .lines()
            .zip(xml_b.lines())
            .filter(|(a, b)| a != b)
            .take(5)
            .collect();
        panic!("JUnit reports differ: {diff:#?}");
    }
    assert_eq!(json_a, json_b, "JSON summaries differ");
}

#[test]
fn the_printed_replay_command_reproduces_one_failure_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = remote("outputs-unsorted");
    let registry = url_registry(dir.path(), remote.http_url().as_str());
    let out = dir.path().join("first");
    let run = lane(&registry, dir.path(), &out)
        .arg("contract::envelope::")
        .run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    let seed = run
        .stdout_text()
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("seed: "))
        .expect("seed line")
        .to_owned();
    let name = format!("contract::envelope::{NAME}::url::ws");
    let summary = summary(&out);
    let message = support::lanes::message_of(&summary, &name);
    let replay = message
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("replay: "))
        .unwrap_or_else(|| panic!("no replay line at the end of {message}"))
        .to_owned();
    assert!(replay.contains(&format!("--seed {seed} ")), "{replay}");
    // The name needs no quotes: it is made of characters a shell keeps.
    assert!(replay.ends_with(&format!("--exact {name}")), "{replay}");
    assert!(
        run.stdout_text().contains(&format!("replay: {replay}")),
        "the terminal shows it too"
    );
    // Run it as printed, through a shell, with the binary on PATH.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_theory-conform"));
    let path = format!(
        "{}:{}",
        bin.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let replayed = std::process::Command::new("timeout")
        .args(["60", "sh", "-c", &replay])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("CI", "true")
        .output()
        .expect("sh");
    let stdout = String::from_utf8_lossy(&replayed.stdout);
    assert_eq!(replayed.status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout.lines().next(),
        Some(format!("seed: {seed}").as_str())
    );
    assert!(stdout.contains("running 1 test"), "{stdout}");
    assert!(
        stdout.contains(&format!("test {name} ... FAILED")),
        "{stdout}"
    );
    assert!(stdout.contains("envelope.outputs.unsorted"), "{stdout}");
}

#[test]
fn last_failed_reruns_exactly_the_failures_with_their_seed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = remote("outputs-unsorted");
    let registry = url_registry(dir.path(), remote.http_url().as_str());
    let first = dir.path().join("first");
    let run = lane(&registry, dir.path(), &first)
        .arg("--seed")
        .arg("77")
        .arg("contract::")
        .run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    let failures = failed(&summary(&first));
    assert!(!failures.is_empty());
    assert!(
        summary(&first)["trials"].as_array().expect("trials").len() > failures.len(),
        "some trials passed or were skipped"
    );
    let second = dir.path().join("second");
    let run = lane(&registry, dir.path(), &second)
        .arg("--last-failed")
        .run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    assert_eq!(run.stdout_text().lines().next(), Some("seed: 77"));
    let rerun = summary(&second);
    let ran: BTreeSet<String> = rerun["trials"]
        .as_array()
        .expect("trials")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(ran, failures);
    assert_eq!(failed(&rerun), failures);
    // A passing rerun records nothing left to rerun.
    let empty = dir.path().join("state").join("last-failed.json");
    std::fs::write(&empty, "{\"failed\":[],\"lane\":\"dev\",\"seed\":\"77\"}").expect("write");
    let run = lane(&registry, dir.path(), &second)
        .arg("--last-failed")
        .run();
    assert_eq!(run.code, 0, "{}", explain(&run));
    assert!(run.stdout_text().contains("running 0 tests"));
    // Another lane's record is refused.
    let run = Cli::new(["--lane", "pr", "--last-failed", "--state-dir"])
        .arg(dir.path().join("state"))
        .arg("--registry")
        .arg(&registry)
        .run();
    assert_eq!(run.code, 2, "{}", explain(&run));
}
