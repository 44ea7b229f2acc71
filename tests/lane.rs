//! `theory-conform --lane <name>`: the conformance runner, end to end, with
//! the real binary, the real reference processor (native with TLS as the
//! "remote") and its pinned container.

mod support;

use std::path::{Path, PathBuf};

use support::processor::{Options, Processor, digest_of, docker_available, reference_image};
use support::{Run, fixture};

use support::lanes::{FINGERPRINT, NAME, explain, lane, message_of, summary, trials_with};
use support::registry::{self, DocumentEntry};
use theory_conform::vocab::Transport;

/// A native TLS processor that claims the pinned image's digest, as a
/// deployment of that image would.
fn remote(fault: Option<&str>) -> Processor {
    let mut options = Options::tls()
        .env("IMAGE_DIGEST", &digest_of(&reference_image()))
        .env("THEORY_ENV_FINGERPRINT", FINGERPRINT);
    if let Some(fault) = fault {
        options = options.fault(fault);
    }
    Processor::start(options)
}

/// A registry with the reference processor: its pinned image (when
/// `image`), and the remote's url (when given).
fn registry(dir: &Path, image: bool, remote: Option<&Processor>) -> PathBuf {
    let mut entry = registry::reference_remote();
    if image {
        entry = entry.pinned_image(&reference_image());
    }
    if let Some(remote) = remote {
        entry = entry
            .url(remote.http_url())
            .ca_file(remote.ca_file.clone().expect("a TLS processor"));
    }
    registry::write_entry(dir, entry)
}

/// The JUnit counts, read with a real XML parser: (tests, failures, errors, skipped),
/// summed over the suites, and checked against the testcase elements.
fn junit_counts(dir: &Path) -> (usize, usize, usize, usize) {
    use quick_xml::events::Event;
    let xml = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml");
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut declared, mut cases, mut failures, mut errors, mut skipped) =
        ([0usize; 4], 0, 0, 0, 0);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"testsuite" => {
                    for attr in e.attributes() {
                        let attr = attr.expect("attribute");
                        let value: usize = match String::from_utf8_lossy(&attr.value).parse() {
                            Ok(v) => v,
                            Err(_) => continue,
                        };
                        match attr.key.as_ref() {
                            b"tests" => declared[0] += value,
                            b"failures" => declared[1] += value,
                            b"errors" => declared[2] += value,
                            b"skipped" => declared[3] += value,
                            _ => {}
                        }
                    }
                }
                b"testcase" => cases += 1,
                b"failure" => failures += 1,
                b"error" => errors += 1,
                b"skipped" => skipped += 1,
                _ => {}
            },
            Event::End(_)
            | Event::Text(_)
            | Event::CData(_)
            | Event::Comment(_)
            | Event::Decl(_)
            | Event::PI(_)
            | Event::DocType(_)
            | Event::GeneralRef(_) => {}
        }
    }
    assert_eq!(
        declared,
        [cases, failures, errors, skipped],
        "JUnit counts disagree with its elements"
    );
    (cases, failures, errors, skipped)
}

fn events(run: &Run, name: &str) -> Vec<serde_json::Value> {
    run.stderr_events()
        .into_iter()
        .filter(|e| e["event"] == name)
        .collect()
}

#[test]
fn list_prints_every_trial_without_starting_a_container_or_connecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = remote(None);
    let registry = registry(dir.path(), true, Some(&remote));
    let run = lane("staging", &registry, dir.path()).arg("--list").run();
    assert_eq!(run.code, 0, "{}", explain(&run));
    let names: Vec<String> = run
        .stdout_text()
        .lines()
        .map(|l| {
            l.strip_suffix(": test")
                .expect("`name: test` lines")
                .to_owned()
        })
        .collect();
    assert!(names.len() > 60, "{names:?}");
    for name in [
        "contract::envelope::theory/reference@0.1.0::local::ws",
        "contract::http_415::theory/reference@0.1.0::url::http",
        "contract::health::theory/reference@0.1.0::url::none",
        "parity::targets::theory/reference@0.1.0::url::sse",
        "parity::negative_endpoint::theory/reference@0.1.0::url::ws",
        "parity::negative_image::theory/reference@0.1.0::local::http",
        "determinism::random_ids::theory/reference@0.1.0::local::sse",
        "supply_chain::digest::theory/reference@0.1.0::url::ws",
        "certification::evidence::theory/reference@0.1.0",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} not listed");
    }
    assert!(events(&run, "conform.connect").is_empty());
    assert!(events(&run, "adapter.container.start").is_empty());
    assert!(
        !dir.path().join("work").exists(),
        "--list wrote a run folder"
    );
}

#[test]
fn the_reference_processor_passes_every_trial_of_every_lane() {
    if !docker_available() {
        return;
    }
    let remote = remote(None);
    let mut staging_certificate = Vec::new();
    for name in ["dev", "pr", "staging", "main", "staging"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = registry(dir.path(), true, Some(&remote));
        let run = lane(name, &registry, dir.path())
            .arg("--seed")
            .arg("11")
            .arg("--certificate")
            .arg(dir.path().join("cert"))
            .run();
        assert_eq!(run.code, 0, "lane {name}: {}", explain(&run));
        let bytes = std::fs::read(dir.path().join("cert/theory-reference-0.1.0.json"))
            .expect("certificate");
        let certificate: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(
            certificate["verdict"], "certified",
            "lane {name}: {certificate}"
        );
        assert_eq!(certificate["not_run"], 0, "lane {name}");
        // The engine ran the pinned image.
        assert_eq!(
            certificate["image"]["engine_digest"],
            digest_of(&reference_image()),
            "lane {name}"
        );
        if name == "staging" {
            // The same inputs and seed: the same bytes.
            if staging_certificate.is_empty() {
                staging_certificate = bytes;
            } else {
                assert_eq!(
                    String::from_utf8_lossy(&staging_certificate),
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
        assert!(run.stdout_text().starts_with("seed: "));
        let summary = summary(dir.path());
        let (tests, failures, errors, skipped) = junit_counts(dir.path());
        assert_eq!((failures, errors), (0, 0), "lane {name}");
        assert_eq!(
            tests,
            summary["counts"]["total"].as_u64().expect("total") as usize
        );
        assert_eq!(
            skipped,
            summary["counts"]["skipped"].as_u64().expect("skipped") as usize
        );
        // Both targets ran: nothing of the url target was skipped.
        let skipped = trials_with(&summary, "skip");
        assert!(
            skipped.iter().all(|n| !n.contains("::url::")),
            "lane {name} skipped url trials: {skipped:?}"
        );
        assert!(
            !dir.path()
                .join("work")
                .read_dir()
                .map(|mut d| d.next().is_some())
                .unwrap_or(false),
            "a passing run removes its prefixes"
        );
    }
}

#[test]
fn a_filter_runs_a_subset_and_the_seed_replays_the_same_ids() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = registry(dir.path(), true, None);
    let filter = "determinism::random_ids::theory/reference@0.1.0::local::ws";
    let ids = |seed: &str| {
        let run = lane("pr", &registry, dir.path())
            .arg("--seed")
            .arg(seed)
            .arg("--exact")
            .arg(filter)
            .run();
        assert_eq!(run.code, 0, "{}", explain(&run));
        assert_eq!(
            run.stdout_text().lines().next(),
            Some(format!("seed: {seed}").as_str())
        );
        assert!(
            run.stdout_text().contains("running 1 test"),
            "{}",
            run.stdout_text()
        );
        assert_eq!(summary(dir.path())["counts"]["total"], 1);
        events(&run, "orchestrator.config")
            .iter()
            .map(|e| {
                let id = e["execution_id"].as_str().expect("id").to_owned();
                let prefix = e["write_prefix"].as_str().expect("prefix");
                // The prefix below the run folder replays too.
                let below = prefix.split_once("/conform-").expect("run folder").1;
                (id, below.split_once('/').expect("below").1.to_owned())
            })
            .collect::<Vec<_>>()
    };
    let first = ids("42");
    assert_eq!(first.len(), 9, "3 fixtures x 3 runs");
    assert_eq!(first, ids("42"));
    assert_ne!(first, ids("43"));
}

#[test]
fn a_faulty_processor_fails_its_named_trial_naming_the_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = remote(Some("outputs-unsorted"));
    let registry = registry(dir.path(), false, Some(&remote));
    let run = lane("dev", &registry, dir.path()).run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    let summary = summary(dir.path());
    let failed = trials_with(&summary, "fail");
    for transport in ["ws", "http"] {
        let name = format!("contract::envelope::{NAME}::url::{transport}");
        assert!(failed.contains(&name), "{name} did not fail: {failed:?}");
        let message = message_of(&summary, &name);
        assert!(message.contains("envelope.outputs.unsorted"), "{message}");
    }
    // The local target is not in this registry entry: skipped, with the reason.
    let skipped = trials_with(&summary, "skip");
    assert!(skipped.contains(&format!("contract::envelope::{NAME}::local::ws")));
    assert!(
        run.stdout_text()
            .contains("ignored (no image in the registry entry)"),
        "{}",
        run.stdout_text()
    );
    let (_, failures, errors, _) = junit_counts(dir.path());
    assert_eq!((failures, errors), (failed.len(), 0));
}

#[test]
fn the_sequence_rules_hold_on_the_error_paths_too() {
    // A processor that answers valid runs right, and sends its result twice
    // when a run ends in an error: the sequence trials name the error paths.
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = remote(Some("error-result-twice"));
    let registry = registry(dir.path(), false, Some(&remote));
    let run = lane("staging", &registry, dir.path())
        .arg("_sequence::")
        .run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    let summary = summary(dir.path());
    let failed = trials_with(&summary, "fail");
    let expected: std::collections::BTreeSet<String> = [
        format!("contract::ws_sequence::{NAME}::url::ws"),
        format!("contract::sse_sequence::{NAME}::url::sse"),
    ]
    .into();
    assert_eq!(failed, expected);
    for name in &expected {
        let message = message_of(&summary, name);
        // An invalid and the crash fixture, never a valid one.
        assert!(message.contains("unknown-param: "), "{message}");
        assert!(message.contains("panic: "), "{message}");
        assert!(!message.contains("basic: "), "{message}");
    }
}

/// The pinned image with `KEY=value` in its environment, on the pr lane's
/// `contract::container_writes` trials.
fn container_writes(key: &str, value: &str, dir: &Path) -> (Run, serde_json::Value) {
    let entry = registry::reference_remote()
        .pinned_image(&reference_image())
        .env(key, value);
    let path = registry::write_entry(dir, entry);
    let run = lane("pr", &path, dir)
        .arg("contract::container_writes")
        .run();
    let summary = summary(dir);
    (run, summary)
}

#[test]
fn a_container_that_writes_outside_its_prefix_and_scratch_fails_container_writes() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, summary) = container_writes("THEORY_FAULT", "write-outside-prefix", dir.path());
    assert_eq!(run.code, 1, "{}", explain(&run));
    let failed = trials_with(&summary, "fail");
    assert_eq!(failed.len(), 3, "{failed:?}");
    for trial in summary["trials"].as_array().expect("trials") {
        let message = trial["message"].as_str().expect("message");
        assert!(message.contains("A /var/theory-leak"), "{message}");
        assert!(
            !message.contains("A /tmp") && !message.contains("C /tmp"),
            "the scratch path is allowed: {message}"
        );
    }
}

#[test]
fn a_container_that_writes_in_its_scratch_path_passes_container_writes() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, summary) = container_writes("THEORY_VARIATION", "scratch-writes", dir.path());
    assert_eq!(run.code, 0, "{}", explain(&run));
    assert_eq!(trials_with(&summary, "pass").len(), 3, "{summary}");
    // With no scratch path, the same writes are outside.
    let dir = tempfile::tempdir().expect("tempdir");
    let entry = registry::reference_remote()
        .pinned_image(&reference_image())
        .env("THEORY_VARIATION", "scratch-writes")
        .scratch(&["/var/cache/none"]);
    let path = registry::write_entry(dir.path(), entry);
    let run = lane("pr", &path, dir.path())
        .arg("contract::container_writes::theory/reference@0.1.0::local::http")
        .run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    let message = summary_message(dir.path());
    assert!(message.contains("A /tmp/theory-scratch"), "{message}");
}

fn summary_message(dir: &Path) -> String {
    summary(dir)["trials"][0]["message"]
        .as_str()
        .expect("message")
        .to_owned()
}

#[test]
fn with_the_engine_stopped_the_lane_exits_3_with_errors_not_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = registry(dir.path(), true, None);
    let run = lane("pr", &registry, dir.path())
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .run();
    assert_eq!(run.code, 3, "{}", explain(&run));
    let (tests, failures, errors, _) = junit_counts(dir.path());
    assert_eq!(failures, 0);
    assert!(errors > 30 && errors < tests, "{errors} errors of {tests}");
    let summary = summary(dir.path());
    let message = summary["trials"]
        .as_array()
        .expect("trials")
        .iter()
        .find(|t| t["verdict"] == "error")
        .and_then(|t| t["message"].as_str())
        .expect("an error");
    assert!(message.contains("ERR_DOCKER"), "{message}");
}

#[test]
fn malformed_suite_and_lanes_files_exit_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = registry(dir.path(), true, None);
    let suites = dir.path().join("suites");
    std::fs::create_dir(&suites).expect("mkdir");
    for name in ["contract", "determinism", "parity", "supply_chain"] {
        std::fs::copy(
            fixture(&format!("suites/{name}.yaml")),
            suites.join(format!("{name}.yaml")),
        )
        .expect("copy suite");
    }
    let lanes = dir.path().join("lanes.yaml");
    let good = std::fs::read_to_string(fixture("ci/lanes.yaml"))
        .expect("lanes")
        .replace("suites_dir: ../suites", "suites_dir: suites");
    std::fs::write(&lanes, &good).expect("write lanes");
    let run = lane("pr", &registry, dir.path())
        .arg("--lanes")
        .arg(&lanes)
        .arg("--list")
        .run();
    assert_eq!(run.code, 0, "{}", explain(&run));

    // A suite whose case names a check outside the closed set.
    let contract = suites.join("contract.yaml");
    let text = std::fs::read_to_string(&contract).expect("suite");
    let broken = text.replacen("check: artifacts", "check: artefacts", 1);
    std::fs::write(&contract, &broken).expect("write suite");
    let line = broken
        .lines()
        .position(|l| l.contains("artefacts"))
        .expect("line")
        + 1;
    let run = lane("pr", &registry, dir.path())
        .arg("--lanes")
        .arg(&lanes)
        .run();
    assert_eq!(run.code, 2, "{}", explain(&run));
    let at = format!("{}:{line}:12:", contract.display());
    assert!(run.stderr.contains(&at), "{at} not in {}", run.stderr);
    std::fs::write(&contract, &text).expect("restore suite");

    // A lanes file with an unknown key.
    let broken = good.replacen(
        "    allow_known_failures: true\n",
        "    allow_known_failures: true\n    colour: red\n",
        1,
    );
    std::fs::write(&lanes, &broken).expect("write lanes");
    let run = lane("pr", &registry, dir.path())
        .arg("--lanes")
        .arg(&lanes)
        .run();
    assert_eq!(run.code, 2, "{}", explain(&run));
    let shown = lanes.display().to_string();
    let message = run.event_message("error.usage").expect("error.usage");
    assert!(message.starts_with(&format!("{shown}:")), "{message}");
    let position: Vec<&str> = message[shown.len() + 1..].splitn(3, ':').collect();
    assert!(
        position[0].parse::<usize>().is_ok() && position[1].parse::<usize>().is_ok(),
        "{message}"
    );
    assert!(message.contains("colour"), "{message}");
}

#[test]
fn a_tag_where_a_digest_is_required_fails_the_lane_at_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tagged = "127.0.0.1:5000/theory/reference-processor:latest";
    let path = registry::write_entry(
        dir.path(),
        DocumentEntry::default()
            .image(tagged)
            .transports(&Transport::ALL)
            .fixtures(fixture("fixtures/reference-processor/inputs")),
    );
    let run = lane("staging", &path, dir.path()).arg("--list").run();
    assert_eq!(run.code, 2, "{}", explain(&run));
    let message = run.event_message("error.usage").expect("error.usage");
    let (line, column) = registry::position_of(&path, tagged);
    assert!(
        message.starts_with(&format!("{}:{line}:{column}:", path.display())),
        "{message}"
    );
    assert!(message.contains("pinned by tag"), "{message}");
    // The dev lane accepts tags.
    let run = lane("dev", &path, dir.path()).arg("--list").run();
    assert_eq!(run.code, 0, "{}", explain(&run));
}

#[test]
fn the_main_lane_requires_expected_oci() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = registry::write_entry(
        dir.path(),
        DocumentEntry::default().image(reference_image()),
    );
    let run = lane("main", &path, dir.path()).arg("--list").run();
    assert_eq!(run.code, 2, "{}", explain(&run));
    let message = run.event_message("error.usage").expect("error.usage");
    let (line, column) = registry::position_of(&path, NAME);
    assert!(
        message.starts_with(&format!("{}:{line}:{column}:", path.display())),
        "{message}"
    );
    assert!(message.contains("expected_oci"), "{message}");
    let run = lane("nope", &path, dir.path()).arg("--list").run();
    assert_eq!(run.code, 2);
    assert!(
        run.event_message("error.usage")
            .expect("usage")
            .contains("known: dev, main, pr, staging")
    );
}

/// SSE is optional in the contract: an entry that does not declare it gets
/// its SSE trials skipped with the reason, and a processor that has no
/// `/run-stream` still passes.
#[test]
fn sse_trials_are_skipped_when_the_entry_does_not_declare_sse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = remote(Some("sse-no-done"));
    let declared = registry::reference_remote()
        .url(remote.http_url())
        .ca_file(remote.ca_file.clone().expect("a TLS processor"));
    let mut undeclared = declared.clone();
    undeclared.transports = None;
    let path = registry::write_entry(dir.path(), undeclared);
    let text = std::fs::read_to_string(&path).expect("registry");
    assert!(!text.contains("- sse"), "{text}");
    let run = lane("staging", &path, dir.path()).arg("sse").run();
    assert_eq!(run.code, 0, "{}", explain(&run));
    let stdout = run.stdout_text();
    assert!(
        stdout.contains("contract::sse_sequence::theory/reference@0.1.0::url::sse"),
        "{stdout}"
    );
    assert!(stdout.contains("does not declare sse"), "{stdout}");
    assert!(!stdout.contains("... ok"), "an sse trial ran: {stdout}");
    // Declared, the same faulty processor fails its SSE sequence.
    let path = registry::write_entry(dir.path(), declared);
    let declared = lane("staging", &path, dir.path())
        .arg("contract::sse_sequence")
        .run();
    assert_eq!(declared.code, 1, "{}", explain(&declared));
}
