//! `theory-conform report merge`: the shards of a partitioned staging run
//! joined are the unsharded run, trial for trial, certificate for
//! certificate (the local container by digest and the native processor at
//! its url, one seed).

mod support;

use std::path::{Path, PathBuf};

use support::lanes::{FINGERPRINT, explain, lane, url_registry};
use support::processor::{Options, Processor, digest_of, reference_image};
use support::registry::{self, DocumentEntry};
use support::{Cli, Run};

const SEED: &str = "13";
const CERTIFICATE: &str = "certificates/theory-reference-0.1.0.json";

/// The staging lane on `registry` with `extra`, its reports in `out`.
fn staging(registry: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut cli = lane("staging", registry, out)
        .arg("--seed")
        .arg(SEED)
        .arg("--certificate")
        .arg(out.join("certificates"));
    for arg in extra {
        cli = cli.arg(arg);
    }
    cli.run()
}

/// A summary without its durations (the one field two runs differ in).
fn timeless(path: &Path) -> serde_json::Value {
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("summary")).expect("JSON");
    for trial in doc["trials"].as_array_mut().expect("trials") {
        trial["duration_ms"] = 0.into();
    }
    doc
}

/// JUnit without its `time` attributes.
fn untimed(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("junit");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(" time=\"") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 7..];
        rest = &after[after.find('"').expect("closing quote") + 1..];
    }
    out.push_str(rest);
    out
}

fn entry(url: &str) -> DocumentEntry {
    registry::reference_remote()
        .pinned_image(&reference_image())
        .url(url)
}

#[test]
fn four_merged_shards_are_the_unsharded_run_trial_for_trial() {
    // A deployment of the pinned image: it claims the image's digest.
    let processor = Processor::start(
        Options::plain()
            .env("IMAGE_DIGEST", &digest_of(&reference_image()))
            .env("THEORY_ENV_FINGERPRINT", FINGERPRINT),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = registry::write_entry(dir.path(), entry(processor.http_url().as_str()));
    let whole = dir.path().join("whole");
    let run = staging(&registry, &whole, &[]);
    assert_eq!(run.code, 0, "{}", explain(&run));
    let shards: Vec<PathBuf> = (1..=4)
        .map(|k| {
            let out = dir.path().join(format!("shard-{k}"));
            let run = staging(&registry, &out, &["--partition", &format!("hash:{k}/4")]);
            assert_eq!(run.code, 0, "shard {k}: {}", explain(&run));
            out
        })
        .collect();
    // A shard alone certifies nothing.
    let shard: serde_json::Value = timeless(&shards[0].join("summary.json"));
    assert_eq!(
        shard["certificates"]["theory/reference@0.1.0"],
        "incomplete"
    );
    let merged = dir.path().join("merged");
    let mut cli = Cli::new(["report", "merge"]);
    for shard in &shards {
        cli = cli.arg(shard);
    }
    let run = cli
        .arg("--json")
        .arg(merged.join("summary.json"))
        .arg("--junit")
        .arg(merged.join("junit.xml"))
        .arg("--html")
        .arg(merged.join("report.html"))
        .arg("--certificate")
        .arg(merged.join("certificates"))
        .run();
    assert_eq!(run.code, 0, "{}", explain(&run));
    assert_eq!(
        timeless(&merged.join("summary.json")),
        timeless(&whole.join("summary.json"))
    );
    assert_eq!(
        std::fs::read_to_string(merged.join(CERTIFICATE)).expect("merged certificate"),
        std::fs::read_to_string(whole.join(CERTIFICATE)).expect("certificate"),
    );
    assert_eq!(
        untimed(&merged.join("junit.xml")),
        untimed(&whole.join("junit.xml"))
    );
    assert!(merged.join("report.html").is_file());
    let certificate: serde_json::Value =
        serde_json::from_slice(&std::fs::read(merged.join(CERTIFICATE)).expect("read"))
            .expect("JSON");
    assert_eq!(certificate["verdict"], "certified");
    assert!(
        certificate["image"]["engine_digest"].is_string(),
        "{certificate}"
    );
}

#[test]
fn shards_of_different_runs_or_that_overlap_are_refused_and_nothing_is_written() {
    let processor = Processor::start(Options::plain());
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = url_registry(dir.path(), processor.http_url().as_str());
    let run = |name: &str, seed: &str, partition: &str| {
        let out = dir.path().join(name);
        let run = lane("dev", &registry, &out)
            .arg("--seed")
            .arg(seed)
            .arg("--partition")
            .arg(partition)
            .arg("--certificate")
            .arg(out.join("certificates"))
            .run();
        assert!(run.code == 0 || run.code == 1, "{}", explain(&run));
        out
    };
    let a = run("a", "1", "hash:1/2");
    let b = run("b", "2", "hash:2/2");
    let again = run("again", "1", "hash:1/2");
    let merged = dir.path().join("merged.json");
    for (shards, says) in [
        (vec![&a, &b], "its seed differs"),
        (vec![&a, &again], "is in another shard too"),
    ] {
        let mut cli = Cli::new(["report", "merge"]);
        for shard in shards {
            cli = cli.arg(shard);
        }
        let refused = cli.arg("--json").arg(&merged).run();
        assert_eq!(refused.code, 2, "{}", explain(&refused));
        assert!(
            refused
                .event_message("error.usage")
                .is_some_and(|m| m.contains(says)),
            "{}",
            explain(&refused)
        );
        assert!(!merged.exists());
    }
    let missing = Cli::new(["report", "merge"])
        .arg(dir.path().join("nowhere"))
        .run();
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .event_message("error.usage")
            .is_some_and(|m| m.contains("summary.json"))
    );
}
