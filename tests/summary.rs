//! `--summary FILE`: the Markdown job summary a CI job shows. It says how
//! the lane ended, counts the trials, lists each processor's certificate
//! and folds every failure with its message and replay command.

mod support;

use support::lanes::{explain, lane};
use support::processor::{Options, Processor};

fn run(fault: Option<&str>, dir: &std::path::Path) -> (support::Run, String) {
    let options = fault.map_or_else(Options::plain, |f| Options::plain().fault(f));
    let processor = Processor::start(options);
    let registry = support::lanes::url_registry(dir, processor.http_url().as_str());
    let summary = dir.join("job/summary.md");
    let run = lane("staging", &registry, dir)
        .arg("--seed")
        .arg("3")
        .arg("--skip")
        .arg("certification::")
        .arg("--summary")
        .arg(&summary)
        .run();
    let text =
        std::fs::read_to_string(&summary).unwrap_or_else(|e| panic!("{e}\n{}", explain(&run)));
    (run, text)
}

#[test]
fn a_passing_lane_says_so_with_its_counts_and_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, text) = run(None, dir.path());
    assert_eq!(run.code, 0, "{}", explain(&run));
    assert!(
        text.starts_with("## theory-conform: lane `staging` passed\n"),
        "{text}"
    );
    assert!(text.contains("Seed `3`: "), "{text}");
    assert!(text.contains(" 0 failed, 0 errors,"), "{text}");
    assert!(text.contains("| `theory/reference@0.1.0` |"), "{text}");
    assert!(!text.contains("### Failures"), "{text}");
    // The same seed gives the same bytes.
    let again = tempfile::tempdir().expect("tempdir");
    assert_eq!(run_text(again.path()), text);
}

fn run_text(dir: &std::path::Path) -> String {
    run(None, dir).1
}

#[test]
fn a_failing_lane_folds_each_failure_with_its_replay_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, text) = run(Some("transport-dependent-message"), dir.path());
    assert_eq!(run.code, 1, "{}", explain(&run));
    assert!(
        text.starts_with("## theory-conform: lane `staging` failed\n"),
        "{text}"
    );
    assert!(text.contains("### Failures"), "{text}");
    assert!(
        text.contains("<summary><code>parity::transports::theory/reference@0.1.0::url::http</code>: failed</summary>"),
        "{text}"
    );
    assert!(
        text.contains("replay: theory-conform --lane staging"),
        "{text}"
    );
    assert!(text.contains("| not_certified |"), "{text}");
}

#[test]
fn a_summary_that_cannot_be_written_is_refused_before_the_lane_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = support::lanes::url_registry(dir.path(), "http://127.0.0.1:9/");
    let run = lane("staging", &registry, dir.path())
        .arg("--summary")
        .arg(dir.path())
        .run();
    assert_eq!(run.code, 2, "{}", explain(&run));
    assert!(run.stderr.contains("--summary"), "{}", run.stderr);
}
