//! The storage hand-over (CONTRACT.md §7) against a real S3 server on
//! loopback (`s3s-fs`): a processor whose url target declares
//! `artifacts: {url: storage}` gets one presigned `PUT` URL per declared
//! path, uploads there, and is judged on what arrived. Each storage fault
//! of the reference processor fails its named rule; the presigned
//! signatures and the store's secret appear in no output.

mod support;

use std::time::Duration;

use support::lanes::{explain, failures, lane, message_of, summary, trials_with};
use support::processor::{Options, Processor};
use support::registry;
use support::storage::{KEY_ID, KEY_ID_ENV, SECRET, SECRET_ENV, Store};
use theory_conform::vocab::{ArtifactSource, TargetKind};

/// The native processor (`fault`, if any) as the url target, its
/// artifacts declared in `store`.
fn registry_for(dir: &std::path::Path, processor: &Processor, store: &Store) -> std::path::PathBuf {
    registry::write_entry(
        dir,
        registry::reference()
            .url(processor.http_url())
            .run_timeout(Duration::from_secs(20))
            .artifacts(TargetKind::Url, ArtifactSource::Storage)
            .storage(store.section(Some(64 * 1024))),
    )
}

fn with_credentials(cli: support::Cli) -> support::Cli {
    cli.env(KEY_ID_ENV, KEY_ID).env(SECRET_ENV, SECRET)
}

#[test]
fn a_processor_that_uploads_through_the_hand_over_passes_staging() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::start();
    let processor = Processor::start(Options::plain());
    let registry = registry_for(dir.path(), &processor, &store);
    let run = with_credentials(lane("staging", &registry, dir.path()))
        .arg("--seed")
        .arg("21")
        .arg("--skip")
        .arg("certification::")
        .arg("--certificate")
        .arg(dir.path().join("certificates"))
        .run();
    let summary = summary(dir.path());
    let bad = failures(&summary);
    assert!(bad.is_empty(), "{bad:#?}\n{}", explain(&run));
    assert_eq!(run.code, 0, "{}", explain(&run));
    let passed = trials_with(&summary, "pass");
    for transport in ["ws", "http", "sse"] {
        let name = format!("contract::artifacts::theory/reference@0.1.0::url::{transport}");
        assert!(passed.contains(&name), "{name} did not pass");
    }
    assert!(
        passed.contains("determinism::random_ids::theory/reference@0.1.0::url::ws"),
        "{passed:#?}"
    );
    assert!(
        store.objects() >= 4,
        "only {} objects were uploaded",
        store.objects()
    );
    // Nothing of the processor's went to this machine's disk.
    let work = dir.path().join("work");
    let files = walk(&work);
    assert!(
        files.iter().all(|f| f.contains("/.theory/")),
        "files under the work dir: {files:#?}"
    );
    // Canary: the store's secret and every presigned signature are masked.
    let mut outputs = vec![run.stdout_text(), run.stderr.clone()];
    for file in [
        "junit.xml",
        "summary.json",
        "certificates/theory-reference-0.1.0.json",
    ] {
        outputs.push(std::fs::read_to_string(dir.path().join(file)).expect(file));
    }
    for text in &outputs {
        assert!(!text.contains(SECRET), "the store's secret leaked");
        assert_eq!(signatures(text), 0, "a presigned signature leaked");
    }
}

/// Each storage fault of the reference processor fails
/// `contract::artifacts` with its own rule.
#[test]
fn each_storage_fault_fails_its_named_rule() {
    let store = Store::start();
    for (fault, rule) in [
        ("upload-missing", "storage.missing"),
        ("upload-oversize", "storage.size"),
        ("upload-late", "storage.late"),
        ("upload-undeclared", "storage.undeclared"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let processor = Processor::start(Options::plain().fault(fault));
        let registry = registry_for(dir.path(), &processor, &store);
        let name = "contract::artifacts::theory/reference@0.1.0::url::http";
        let run = with_credentials(lane("staging", &registry, dir.path()))
            .arg("--exact")
            .arg(name)
            .run();
        let summary = summary(dir.path());
        assert_eq!(
            trials_with(&summary, "fail"),
            [name.to_owned()].into(),
            "{fault}: {}",
            explain(&run)
        );
        let message = message_of(&summary, name);
        assert!(message.contains(rule), "{fault}: {message}");
        // Failures carry wire traces: still no signature, no secret.
        let json = std::fs::read_to_string(dir.path().join("summary.json")).expect("json");
        for text in [&run.stdout_text(), &run.stderr, &json] {
            assert_eq!(signatures(text), 0, "{fault}: a presigned signature leaked");
            assert!(!text.contains(SECRET), "{fault}: the store's secret leaked");
        }
    }
}

/// Without the store's credentials the storage trials end in an error
/// that says which variable is missing, never a pass.
#[test]
fn a_store_without_credentials_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::start();
    let processor = Processor::start(Options::plain());
    let registry = registry_for(dir.path(), &processor, &store);
    let name = "contract::artifacts::theory/reference@0.1.0::url::ws";
    let run = lane("staging", &registry, dir.path())
        .arg("--exact")
        .arg(name)
        .run();
    let summary = summary(dir.path());
    assert_eq!(
        trials_with(&summary, "error"),
        [name.to_owned()].into(),
        "{}",
        explain(&run)
    );
    let message = message_of(&summary, name);
    assert!(message.contains(KEY_ID_ENV), "{message}");
}

/// Every file below `dir`, as text paths.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    out
}

#[test]
fn the_signature_canary_finds_an_unmasked_signature() {
    let hex = "0123456789abcdef".repeat(4);
    assert_eq!(
        signatures(&format!("PUT http://s/b/k?X-Amz-Signature={hex}&x=1")),
        1
    );
    assert_eq!(signatures("PUT http://s/b/k?X-Amz-Signature=[redacted]"), 0);
}

/// How many unmasked SigV4 signatures `text` holds.
fn signatures(text: &str) -> usize {
    text.match_indices("X-Amz-Signature=")
        .filter(|(at, key)| {
            let value = &text[at + key.len()..];
            value.len() >= 64 && value[..64].bytes().all(|b| b.is_ascii_hexdigit())
        })
        .count()
}
