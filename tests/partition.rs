//! `--partition count:K/N` and `hash:K/N`: the shards of a lane are
//! disjoint and cover it exactly, after filters; trials outside a shard
//! neither run nor count.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::processor::{Options, Processor, reference_image};
use support::registry::DocumentEntry;
use support::{Cli, Run, fixture};
use theory_conform::vocab::{ArtifactSource, TargetKind, Transport};

/// The reference processor's pinned image and a url: every target of the lane.
fn registry(dir: &Path, url: &str) -> PathBuf {
    support::registry::write_entry(
        dir,
        DocumentEntry::default()
            .pinned_image(&reference_image())
            .url(url)
            .artifacts(TargetKind::Url, ArtifactSource::Shared)
            .run_timeout(Duration::from_secs(20))
            .transports(&Transport::ALL)
            .fixtures(fixture("fixtures/reference-processor/inputs")),
    )
}

fn lane(registry: &Path, dir: &Path) -> Cli {
    Cli::new(["--lane", "staging"])
        .arg("--registry")
        .arg(registry)
        .arg("--work-dir")
        .arg(dir.join("work"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--golden-dir")
        .arg(fixture("golden"))
        .env("CI", "true")
}

fn listed(run: &Run) -> Vec<String> {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout_text(), run.stderr);
    run.stdout_text()
        .lines()
        .map(|l| l.strip_suffix(": test").expect("`name: test`").to_owned())
        .collect()
}

fn check_cover(registry: &Path, dir: &Path, filter: Option<&str>) {
    let with_filter = |cli: Cli| match filter {
        Some(f) => cli.arg(f),
        None => cli,
    };
    let whole: BTreeSet<String> = listed(&with_filter(lane(registry, dir)).arg("--list").run())
        .into_iter()
        .collect();
    assert!(whole.len() > 10, "{whole:?}");
    for scheme in ["count", "hash"] {
        for total in [1u32, 2, 3, 7] {
            let mut union = BTreeSet::new();
            for shard in 1..=total {
                let names = listed(
                    &with_filter(lane(registry, dir))
                        .arg("--partition")
                        .arg(format!("{scheme}:{shard}/{total}"))
                        .arg("--list")
                        .run(),
                );
                for name in names {
                    assert!(
                        union.insert(name.clone()),
                        "{scheme}:{shard}/{total}: {name} is in two shards"
                    );
                }
            }
            assert_eq!(
                union, whole,
                "{scheme} over {total} shards, filter {filter:?}"
            );
        }
    }
}

#[test]
fn shards_cover_the_lane_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = registry(dir.path(), "http://127.0.0.1:9/");
    check_cover(&registry, dir.path(), None);
}

#[test]
fn shards_apply_after_filters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = registry(dir.path(), "http://127.0.0.1:9/");
    check_cover(&registry, dir.path(), Some("contract::"));
}

#[test]
fn count_shards_deal_sorted_names_round_robin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = registry(dir.path(), "http://127.0.0.1:9/");
    let mut whole = listed(&lane(&registry, dir.path()).arg("--list").run());
    whole.sort();
    let second = listed(
        &lane(&registry, dir.path())
            .arg("--partition")
            .arg("count:2/3")
            .arg("--list")
            .run(),
    );
    let expected: Vec<String> = whole.iter().skip(1).step_by(3).cloned().collect();
    let mut second_sorted = second.clone();
    second_sorted.sort();
    assert_eq!(second_sorted, expected);
}

#[test]
fn a_shard_runs_only_its_trials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = Processor::start(Options::plain());
    let registry = registry(dir.path(), remote.http_url().as_str());
    let filter = "contract::health::";
    let shard = listed(
        &lane(&registry, dir.path())
            .arg("--partition")
            .arg("hash:1/2")
            .arg("--list")
            .arg(filter)
            .run(),
    );
    let run = lane(&registry, dir.path())
        .arg("--partition")
        .arg("hash:1/2")
        .arg("--json")
        .arg(dir.path().join("summary.json"))
        .arg("--skip")
        .arg("::local::")
        .arg(filter)
        .run();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout_text(), run.stderr);
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("summary.json")).expect("summary"),
    )
    .expect("JSON");
    let ran: BTreeSet<String> = summary["trials"]
        .as_array()
        .expect("trials")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect();
    let expected: BTreeSet<String> = shard
        .into_iter()
        .filter(|n| !n.contains("::local::"))
        .collect();
    assert_eq!(ran, expected);
}

#[test]
fn a_malformed_partition_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = registry(dir.path(), "http://127.0.0.1:9/");
    for bad in ["count:0/2", "count:3/2", "slice:1/2", "hash:1"] {
        let run = lane(&registry, dir.path())
            .arg("--partition")
            .arg(bad)
            .arg("--list")
            .run();
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
    }
}
