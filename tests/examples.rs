//! `ci/examples/github-actions.yml` runs as written: its shard commands
//! (the staging lane, `--partition hash:K/4`, one seed) and its merge
//! command, taken from the workflow file itself, with only the runner's
//! variables filled in. The shards run the plan-only evidence trial (no
//! processor is started); the merge writes one report of each kind.

mod support;

use std::path::Path;

use support::{Cli, fixture};

/// The shell words of a workflow step's `run`, variables filled in.
fn words(script: &str, shard: usize, dir: &Path) -> Vec<String> {
    script
        .replace("\\\n", " ")
        .replace("${{ matrix.shard }}", &shard.to_string())
        .replace("\"$THEORY_SEED\"", "42")
        .replace(
            "\"$GITHUB_STEP_SUMMARY\"",
            &dir.join("step-summary.md").display().to_string(),
        )
        .replace(
            "registry.yaml",
            &fixture("registry.yaml").display().to_string(),
        )
        .replace('"', "")
        .split_whitespace()
        .skip(1) // theory-conform
        .map(str::to_owned)
        .collect()
}

/// The `run` of the step whose script starts with `prefix`, in `job`.
fn step(workflow: &serde_yaml_ng::Value, job: &str, prefix: &str) -> String {
    workflow["jobs"][job]["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .filter_map(|s| s["run"].as_str())
        .find(|run| run.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no step of {job} runs {prefix}"))
        .to_owned()
}

#[test]
fn the_example_workflow_shards_merges_and_writes_junit_and_html() {
    let text =
        std::fs::read_to_string(fixture("ci/examples/github-actions.yml")).expect("workflow");
    let workflow: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
    assert_eq!(
        workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"],
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>("[1, 2, 3, 4]").expect("YAML")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let lane = step(&workflow, "shard", "theory-conform --lane");
    for shard in 1..=4 {
        let run = Cli::new(words(&lane, shard, dir.path()))
            .arg("certification::")
            .current_dir(dir.path())
            .env("CI", "true")
            .run();
        // The repository's registry has no url: the evidence trial fails
        // in the shard that holds it, and the others hold nothing.
        assert!(
            run.code == 0 || run.code == 1,
            "{}",
            support::lanes::explain(&run)
        );
        assert!(
            dir.path()
                .join(format!("shard-{shard}/summary.json"))
                .is_file()
        );
    }
    let merge = step(&workflow, "merge", "theory-conform report merge");
    let run = Cli::new(words(&merge, 0, dir.path()))
        .current_dir(dir.path())
        .run();
    assert_eq!(run.code, 1, "{}", support::lanes::explain(&run));
    for written in [
        "merged/summary.json",
        "merged/junit.xml",
        "merged/report.html",
        "merged/certificates/theory-reference-0.1.0.json",
        "step-summary.md",
    ] {
        assert!(
            dir.path().join(written).is_file(),
            "{written} was not written"
        );
    }
    let uploads: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("path: merged/"))
        .collect();
    assert_eq!(uploads.len(), 1, "the merged reports are uploaded");
}
