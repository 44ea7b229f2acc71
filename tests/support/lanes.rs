//! Lane runs in tests: the lane command with its reports in a folder, and
//! readers for those reports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Cli, Run, fixture};

/// The reference processor's name in the registries tests write.
pub const NAME: &str = "theory/reference@0.1.0";
/// The fingerprint the reference processor declares.
pub const FINGERPRINT: &str = "cpu:1;memory:512Mi;platform:amd64;runtime:container";

/// A registry with the reference processor reachable only at `url` (no
/// container), declaring every transport; written to `dir/registry.yaml`.
pub fn url_registry(dir: &Path, url: &str) -> PathBuf {
    super::registry::write_entry(dir, super::registry::reference_remote().url(url))
}

/// `--lane name` with `registry`; JUnit, JSON, work and state under `dir`;
/// the repository's goldens; `CI=true`, so nothing is written beside them.
pub fn lane(name: &str, registry: &Path, dir: &Path) -> Cli {
    Cli::new(["--lane", name])
        .arg("--registry")
        .arg(registry)
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .arg("--json")
        .arg(dir.join("summary.json"))
        .arg("--work-dir")
        .arg(dir.join("work"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--golden-dir")
        .arg(fixture("golden"))
        .env("CI", "true")
        .timeout(Duration::from_secs(120))
}

/// The JSON summary a [`lane`] run wrote in `dir`.
pub fn summary(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("summary is JSON")
}

/// Names of the trials with `verdict`.
pub fn trials_with(summary: &serde_json::Value, verdict: &str) -> BTreeSet<String> {
    summary["trials"]
        .as_array()
        .expect("trials")
        .iter()
        .filter(|t| t["verdict"] == verdict)
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}

/// Each trial that failed or errored, with its message (empty when the
/// lane passed), for an assertion.
pub fn failures(summary: &serde_json::Value) -> Vec<String> {
    ["fail", "error"]
        .iter()
        .flat_map(|verdict| trials_with(summary, verdict))
        .map(|name| format!("{name}: {}", message_of(summary, &name)))
        .collect()
}

/// The message of the trial `name` in a summary.
pub fn message_of(summary: &serde_json::Value, name: &str) -> String {
    summary["trials"]
        .as_array()
        .expect("trials")
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["message"].as_str())
        .unwrap_or_else(|| panic!("no trial {name} in {summary}"))
        .to_owned()
}

/// Exit status, stdout and the tail of stderr, for an assertion message.
pub fn explain(run: &Run) -> String {
    let lines: Vec<&str> = run.stderr.lines().collect();
    format!(
        "exit {}\nstdout:\n{}\nstderr (tail):\n{}",
        run.code,
        run.stdout_text(),
        lines[lines.len().saturating_sub(20)..].join("\n")
    )
}
