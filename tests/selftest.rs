//! `theory-conform selftest`: the whole fault matrix, end to end. Every
//! catalogued fault fails exactly its catalogued cases (sensitivity) and
//! the unfaulted processor passes every trial (specificity); see
//! docs/selftest.md.

mod support;

use std::time::{Duration, Instant};

use support::Cli;
use support::processor::binary;

#[test]
fn the_fault_matrix_is_exact_and_lists_every_fault() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let run = Cli::new(["selftest", "--processor"])
        .arg(binary())
        .arg("--json")
        .arg(dir.path().join("matrix.json"))
        .timeout(Duration::from_secs(240))
        .run();
    let table = run.stdout_text();
    assert_eq!(run.code, 0, "{table}");
    assert!(table.contains("(100%)"), "{table}");
    let output = std::process::Command::new(binary())
        .arg("--list-faults")
        .output()
        .expect("--list-faults");
    let faults: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("a JSON array");
    assert!(faults.len() >= 30);
    for fault in &faults {
        let slug = fault["slug"].as_str().expect("slug");
        assert!(
            table.lines().any(|l| l.starts_with(&format!("{slug} "))),
            "{slug} missing from the matrix:\n{table}"
        );
    }
    let matrix: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("matrix.json")).expect("matrix.json"),
    )
    .expect("JSON");
    assert_eq!(
        matrix["rows"].as_array().expect("rows").len(),
        faults.len() + 1,
        "one row per fault and the baseline"
    );
    eprintln!("selftest took {:?}", started.elapsed());
}

#[test]
fn an_unknown_fault_is_a_usage_error() {
    let run = Cli::new(["selftest", "--processor"])
        .arg(binary())
        .arg("--fault")
        .arg("no-such-fault")
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn a_single_fault_row_runs_alone() {
    let run = Cli::new(["selftest", "--processor"])
        .arg(binary())
        .arg("--fault")
        .arg("status-wrong")
        .timeout(Duration::from_secs(120))
        .run();
    let table = run.stdout_text();
    assert_eq!(run.code, 0, "{table}");
    assert!(table.lines().any(|l| l.starts_with("status-wrong ")));
    assert!(table.lines().any(|l| l.starts_with("(none) ")));
    assert!(!table.contains("envelope-unknown-field"));
}
