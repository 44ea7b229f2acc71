//! Golden files: a changed byte fails exactly the trials that compare with
//! it, with a readable diff; `golden accept` fixes it; `CI=true` writes
//! nothing; an unused golden fails an unfiltered lane.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use support::lanes::NAME;
use support::processor::{docker_available, reference_image};
use support::{Cli, Run, fixture};

const SLUG: &str = "theory-reference-0.1.0";

fn registry(dir: &Path) -> PathBuf {
    support::registry::write_entry(
        dir,
        support::registry::reference().pinned_image(&reference_image()),
    )
}

/// A copy of the repository's goldens.
fn goldens(dir: &Path) -> PathBuf {
    let to = dir.join("golden").join(SLUG);
    std::fs::create_dir_all(&to).expect("mkdir");
    for entry in std::fs::read_dir(fixture("golden").join(SLUG)).expect("goldens") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
    }
    dir.join("golden")
}

fn lane(dir: &Path, goldens: &Path) -> Cli {
    Cli::new(["--lane", "pr"])
        .arg("--registry")
        .arg(registry(dir))
        .arg("--json")
        .arg(dir.join("summary.json"))
        .arg("--work-dir")
        .arg(dir.join("work"))
        .arg("--golden-dir")
        .arg(goldens)
}

fn failed(dir: &Path) -> BTreeSet<String> {
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).expect("summary"))
            .expect("JSON");
    summary["trials"]
        .as_array()
        .expect("trials")
        .iter()
        .filter(|t| t["verdict"] == "fail")
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}

fn explain(run: &Run) -> String {
    format!("exit {}\nstdout:\n{}", run.code, run.stdout_text())
}

fn pending(goldens: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(goldens.join(SLUG))
        .expect("goldens")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".snap.new"))
        .collect();
    out.sort();
    out
}

#[test]
fn one_changed_byte_fails_exactly_its_trials_until_accepted_and_ci_writes_nothing() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let goldens = goldens(dir.path());
    let golden = goldens.join(SLUG).join("contract.envelope__basic.snap");
    let original = std::fs::read_to_string(&golden).expect("golden");
    std::fs::write(&golden, original.replacen("\"success\"", "\"sucess\"", 1)).expect("corrupt");

    // CI=true: the trial fails, nothing is written.
    let run = lane(dir.path(), &goldens).env("CI", "true").run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    assert_eq!(
        failed(dir.path()),
        BTreeSet::from([format!("contract::envelope::{NAME}::local::ws")])
    );
    let out = run.stdout_text();
    assert!(out.contains("golden theory-reference-0.1.0/contract.envelope__basic.snap differs; nothing written (CI=true)"), "{out}");
    assert!(
        out.contains("-  \"status\": \"sucess\"\n+  \"status\": \"success\""),
        "{out}"
    );
    assert!(pending(&goldens).is_empty());

    // Locally: the pending file is written, review shows it, accept fixes it.
    let run = lane(dir.path(), &goldens).env("CI", "false").run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    assert_eq!(
        pending(&goldens),
        vec![PathBuf::from(format!("{}.new", golden.display()))]
    );
    let review = Cli::new(["golden", "review", "--golden-dir"])
        .arg(&goldens)
        .run();
    assert_eq!(review.code, 0);
    assert!(
        review
            .stdout_text()
            .contains("pending: theory-reference-0.1.0/contract.envelope__basic.snap (changed)")
    );
    assert!(
        review.stdout_text().contains("+  \"status\": \"success\""),
        "{}",
        review.stdout_text()
    );
    let accept = Cli::new(["golden", "accept", "envelope__basic", "--golden-dir"])
        .arg(&goldens)
        .run();
    assert_eq!(accept.code, 0);
    assert_eq!(std::fs::read_to_string(&golden).expect("golden"), original);
    assert!(pending(&goldens).is_empty());
    let run = lane(dir.path(), &goldens).env("CI", "true").run();
    assert_eq!(run.code, 0, "{}", explain(&run));
}

#[test]
fn an_unused_golden_fails_an_unfiltered_lane_and_reject_deletes_pending_files() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let goldens = goldens(dir.path());
    let ghost = goldens.join(SLUG).join("contract.envelope__ghost.snap");
    std::fs::copy(
        goldens.join(SLUG).join("contract.envelope__basic.snap"),
        &ghost,
    )
    .expect("copy");
    let run = lane(dir.path(), &goldens).env("CI", "true").run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    assert_eq!(
        failed(dir.path()),
        BTreeSet::from([format!(
            "golden::unused::{SLUG}/contract.envelope__ghost.snap"
        )])
    );
    // A filtered run cannot tell what is unused: it does not report it.
    let run = lane(dir.path(), &goldens)
        .env("CI", "true")
        .arg("contract::health")
        .run();
    assert_eq!(run.code, 0, "{}", explain(&run));

    std::fs::remove_file(&ghost).expect("remove");
    std::fs::write(
        format!("{}.new", ghost.display()),
        "---\nsource: x\n---\n{}\n",
    )
    .expect("pending");
    let reject = Cli::new(["golden", "reject", "--golden-dir"])
        .arg(&goldens)
        .run();
    assert_eq!(reject.code, 0);
    assert!(
        reject.stdout_text().contains("1 golden(s) rejected"),
        "{}",
        reject.stdout_text()
    );
    assert!(pending(&goldens).is_empty());
}
