//! Certification: a lane that asks for evidence (`staging`, `main`) fails
//! `certification::evidence::<processor>` naming what a registry entry
//! does not let it see, and every lane run writes one canonical
//! certificate per processor (`--certificate DIR`).
//!
//! The evidence trial is decided from the plan alone, so these runs select
//! it (`certification::`) and start nothing; the whole bundled processor's
//! certification is in `tests/lane.rs`.

mod support;

use std::path::Path;

use support::lanes::{NAME, explain, lane, message_of, summary, trials_with};
use support::processor::reference_image;
use support::registry::{self, DocumentEntry};
use support::{Run, fixture};
use theory_conform::vocab::Transport;

const EVIDENCE: &str = "certification::evidence::theory/reference@0.1.0";
const CERTIFICATE: &str = "theory-reference-0.1.0.json";

/// The reference processor's entry with both targets the staging lane
/// asks for (nothing is started: the url is never called).
fn both_targets(entry: DocumentEntry) -> DocumentEntry {
    entry
        .pinned_image(&reference_image())
        .url("http://127.0.0.1:9/")
}

/// The evidence trial alone on `lane_name`, with its certificate in `dir/cert`.
fn evidence(lane_name: &str, entry: DocumentEntry, dir: &Path) -> (Run, serde_json::Value) {
    let registry = registry::write_entry(dir, entry);
    let run = lane(lane_name, &registry, dir)
        .arg("--certificate")
        .arg(dir.join("cert"))
        .arg("--seed")
        .arg("7")
        .arg("certification::")
        .run();
    let summary = summary(dir);
    (run, summary)
}

fn certificate(dir: &Path) -> serde_json::Value {
    let bytes = std::fs::read(dir.join("cert").join(CERTIFICATE)).expect("certificate");
    serde_json::from_slice(&bytes).expect("JSON")
}

#[test]
fn an_entry_without_fixtures_fails_staging_naming_every_missing_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entry = both_targets(
        DocumentEntry::default()
            .env("THEORY_ENV_FINGERPRINT", support::lanes::FINGERPRINT)
            .transports(&Transport::ALL),
    );
    let (run, summary) = evidence("staging", entry, dir.path());
    assert_eq!(run.code, 1, "{}", explain(&run));
    assert_eq!(trials_with(&summary, "fail").len(), 1);
    let message = message_of(&summary, EVIDENCE);
    for kind in ["valid", "invalid", "crash"] {
        assert!(
            message.contains(&format!("no {kind} fixture")),
            "{kind}: {message}"
        );
    }
    assert_eq!(summary["certificates"][NAME], "not_certified");
    assert_eq!(certificate(dir.path())["verdict"], "not_certified");
}

#[test]
fn an_entry_without_crash_fixtures_fails_staging_and_main_naming_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = dir.path().join("inputs");
    for kind in ["valid", "invalid"] {
        let from = fixture(&format!("fixtures/reference-processor/inputs/{kind}"));
        let to = fixtures.join(kind);
        std::fs::create_dir_all(&to).expect("mkdir");
        for file in std::fs::read_dir(&from).expect("fixtures") {
            let file = file.expect("entry").path();
            std::fs::copy(&file, to.join(file.file_name().expect("name"))).expect("copy");
        }
    }
    for name in ["staging", "main"] {
        let out = dir.path().join(name);
        std::fs::create_dir_all(&out).expect("mkdir");
        let entry =
            both_targets(registry::reference().fixtures(&fixtures)).expected_oci(reference_image());
        let (run, summary) = evidence(name, entry, &out);
        assert_eq!(run.code, 1, "{name}: {}", explain(&run));
        let message = message_of(&summary, EVIDENCE);
        assert!(message.contains("no crash fixture"), "{name}: {message}");
        assert!(!message.contains("no valid fixture"), "{name}: {message}");
        assert!(!message.contains("no invalid fixture"), "{name}: {message}");
    }
}

#[test]
fn a_ws_only_entry_fails_staging_naming_the_transport_it_does_not_declare() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entry = both_targets(registry::reference().transports(&[Transport::Ws]));
    let (run, summary) = evidence("staging", entry, dir.path());
    assert_eq!(run.code, 1, "{}", explain(&run));
    let message = message_of(&summary, EVIDENCE);
    assert!(
        message.contains("transport http is not declared"),
        "{message}"
    );
    assert!(
        !message.contains("transport sse"),
        "SSE is optional: {message}"
    );
    assert!(!message.contains("fixture"), "{message}");
}

#[test]
fn an_entry_without_the_url_target_fails_staging_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entry = registry::reference().pinned_image(&reference_image());
    let (run, summary) = evidence("staging", entry, dir.path());
    assert_eq!(run.code, 1, "{}", explain(&run));
    let message = message_of(&summary, EVIDENCE);
    assert!(
        message.contains("target url: no url in the registry entry"),
        "{message}"
    );
}

#[test]
fn a_complete_entry_passes_and_its_certificate_is_the_same_bytes_for_the_same_seed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = Vec::new();
    for attempt in ["a", "b"] {
        let out = dir.path().join(attempt);
        std::fs::create_dir_all(&out).expect("mkdir");
        let (run, summary) = evidence("staging", both_targets(registry::reference()), &out);
        assert_eq!(run.code, 0, "{}", explain(&run));
        assert_eq!(trials_with(&summary, "pass").len(), 1);
        // Only the evidence ran: the certificate says so.
        assert_eq!(summary["certificates"][NAME], "incomplete");
        bytes.push(std::fs::read(out.join("cert").join(CERTIFICATE)).expect("certificate"));
    }
    assert_eq!(bytes[0], bytes[1], "the same inputs give the same bytes");
    let text = String::from_utf8(bytes[0].clone()).expect("UTF-8");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    // Canonical: serializing the parsed document sorted gives the same text.
    assert_eq!(doc.to_string(), text);
    assert_eq!(doc["processor"], NAME);
    assert_eq!(doc["seed"], "7");
    assert_eq!(doc["lane"]["name"], "staging");
    assert_eq!(doc["lane"]["file"], "<embedded ci/lanes.yaml>");
    let lanes = std::fs::read(fixture("ci/lanes.yaml")).expect("lanes");
    assert_eq!(doc["lane"]["file_digest"], sha256(&lanes));
    let contract = std::fs::read(fixture("suites/contract.yaml")).expect("suite");
    assert_eq!(doc["lane"]["suites"]["contract"], sha256(&contract));
    assert_eq!(doc["image"]["reference"], reference_image());
    assert_eq!(doc["targets"], serde_json::json!(["local", "url"]));
    assert_eq!(doc["transports"], serde_json::json!(["ws", "http", "sse"]));
    assert_eq!(doc["counts"]["passed"], 1);
    assert!(doc["not_run"].as_u64().expect("not_run") > 60, "{doc}");
    assert!(
        doc["harness"]
            .as_str()
            .expect("harness")
            .starts_with("theory-conform "),
        "{doc}"
    );
    // The summary names where the lane came from.
    let summary = summary(&dir.path().join("a"));
    assert_eq!(summary["lane_source"], doc["lane"]);
}

#[test]
fn an_entry_without_sse_passes_evidence_and_its_certificate_lists_what_was_not_proven() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entry = both_targets(registry::reference().transports(&[Transport::Ws, Transport::Http]));
    let registry = registry::write_entry(dir.path(), entry);
    // SSE is optional: the evidence holds.
    let run = lane("staging", &registry, dir.path())
        .arg("certification::")
        .run();
    assert_eq!(run.code, 0, "{}", explain(&run));
    // The SSE trials are skipped, each with its reason, in the certificate.
    let run = lane("staging", &registry, dir.path())
        .arg("--certificate")
        .arg(dir.path().join("cert"))
        .arg("::sse")
        .run();
    assert_eq!(run.code, 0, "{}", explain(&run));
    let doc = certificate(dir.path());
    let skipped = doc["skipped"].as_array().expect("skipped");
    assert!(skipped.len() > 10, "{doc}");
    for item in skipped {
        assert!(
            item["trial"].as_str().expect("trial").ends_with("::sse"),
            "{item}"
        );
        assert!(
            item["reason"]
                .as_str()
                .expect("reason")
                .contains("does not declare sse"),
            "{item}"
        );
    }
    assert_eq!(doc["transports"], serde_json::json!(["ws", "http"]));
    assert_eq!(doc["verdict"], "incomplete");
}

#[test]
fn the_reports_say_where_the_lanes_came_from() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, summary) = evidence("staging", both_targets(registry::reference()), dir.path());
    assert_eq!(run.code, 0, "{}", explain(&run));
    let lanes = std::fs::read(fixture("ci/lanes.yaml")).expect("lanes");
    assert_eq!(summary["lane_source"]["file_digest"], sha256(&lanes));
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit");
    assert!(junit.contains(r#"name="lanes_digest""#), "{junit}");
    assert!(junit.contains(&sha256(&lanes)), "{junit}");
    assert!(junit.contains(r#"name="lanes_file""#), "{junit}");
    assert!(junit.contains("embedded ci/lanes.yaml"), "{junit}");
}

#[test]
fn no_trial_of_the_shipped_suites_can_only_pass_or_skip_on_tags() {
    // `supply_chain::tag_refused` could not fail: a tag is refused at load.
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = registry::write_entry(dir.path(), both_targets(registry::reference()));
    let run = lane("main", &registry, dir.path()).arg("--list").run();
    assert!(
        !run.stdout_text().contains("tag_refused"),
        "{}",
        run.stdout_text()
    );
    let tagged = registry::write_entry(
        dir.path(),
        registry::reference().image("127.0.0.1:5000/theory/reference-processor:latest"),
    );
    let run = lane("staging", &tagged, dir.path()).arg("--list").run();
    assert_eq!(run.code, 2, "{}", explain(&run));
}

#[test]
fn the_dev_lane_asks_for_no_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = registry::write_entry(
        dir.path(),
        DocumentEntry::default().url("http://127.0.0.1:9/"),
    );
    let run = lane("dev", &registry, dir.path()).arg("--list").run();
    assert_eq!(run.code, 0, "{}", explain(&run));
    assert!(
        !run.stdout_text().contains("certification::"),
        "{}",
        run.stdout_text()
    );
    let run = lane("staging", &registry, dir.path()).arg("--list").run();
    assert!(
        run.stdout_text().contains(EVIDENCE),
        "{}",
        run.stdout_text()
    );
}

fn sha256(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}
