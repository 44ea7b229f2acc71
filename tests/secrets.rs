//! The canary: a secret declared in the registry and set in the
//! environment, a Modal credential, and a presigned URL no one declared, all
//! echoed by a processor (`secret-echoed`) into its stderr, `stderr_tail`,
//! error messages and artifacts, on both targets. After a whole staging lane
//! with failures, none of them is in anything the harness wrote: stdout,
//! stderr, JUnit, JSON, certificates, goldens and pending goldens, state.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::lanes::{FINGERPRINT, explain};
use support::processor::{Options, Processor, digest_of, docker_available, reference_image};
use support::registry;
use support::{Cli, fixture};

/// The declared secret's value.
const CANARY: &str = "canary-3e9d51-declared";
/// A Modal credential in the harness's environment.
const MODAL: &str = "canary-7a2c40-modal";
/// A presigned URL's signature, declared nowhere.
const SIGNATURE: &str = "canarysig4f0e82";

fn signed_url() -> String {
    format!("https://s3.local/bucket/key?X-Amz-Signature={SIGNATURE}&X-Amz-Date=20261201")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Every file below `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn no_secret_a_processor_echoes_reaches_anything_the_harness_writes() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let golden = dir.path().join("golden");
    copy_tree(&fixture("golden"), &golden);
    let remote = Processor::start(
        Options::tls()
            .env("IMAGE_DIGEST", &digest_of(&reference_image()))
            .env("THEORY_ENV_FINGERPRINT", FINGERPRINT)
            .env("CANARY_TOKEN", CANARY)
            .env("THEORY_MODAL_PROXY_SECRET", MODAL)
            .env("UPLOAD_URL_SECRET", &signed_url())
            .fault("secret-echoed"),
    );
    let entry = registry::reference_remote()
        .pinned_image(&reference_image())
        .url(remote.http_url())
        .ca_file(remote.ca_file.clone().expect("a TLS processor"))
        .secret("CANARY_TOKEN")
        .env("THEORY_FAULT", "secret-echoed")
        .env("UPLOAD_URL_SECRET", signed_url());
    let registry = registry::write_entry(dir.path(), entry);
    let out = dir.path().join("out");
    let run = Cli::new(["--lane", "staging", "--seed", "5"])
        .arg("--registry")
        .arg(&registry)
        .arg("--junit")
        .arg(out.join("junit.xml"))
        .arg("--json")
        .arg(out.join("summary.json"))
        .arg("--summary")
        .arg(out.join("summary.md"))
        .arg("--html")
        .arg(out.join("report.html"))
        .arg("--certificate")
        .arg(out.join("certificates"))
        .arg("--golden-dir")
        .arg(&golden)
        .arg("--work-dir")
        .arg(dir.path().join("work"))
        .arg("--state-dir")
        .arg(out.join("state"))
        // Not CI: mismatching goldens are written as `.snap.new`.
        .env("CI", "false")
        .env("CANARY_TOKEN", CANARY)
        .env("THEORY_MODAL_PROXY_SECRET", MODAL)
        .timeout(Duration::from_secs(120))
        .run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    let summary = std::fs::read_to_string(out.join("summary.json")).expect("summary");
    // The canary was really echoed: the leak is caught, by rule.
    assert!(summary.contains("envelope.secret_value"), "{summary}");
    assert!(
        summary.contains("envelope.outputs.secret_value"),
        "{summary}"
    );
    for report in ["summary.md", "report.html"] {
        assert!(out.join(report).is_file(), "no {report} was written");
    }
    let pending: Vec<PathBuf> = files(&golden)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".snap.new"))
        .collect();
    assert!(!pending.is_empty(), "no pending golden was written");
    let mut texts = vec![
        ("stdout".to_owned(), run.stdout_text()),
        ("stderr".to_owned(), run.stderr.clone()),
    ];
    for path in files(&out).into_iter().chain(files(&golden)) {
        let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
        texts.push((path.display().to_string(), text));
    }
    let mut found = Vec::new();
    for canary in [CANARY, MODAL, SIGNATURE] {
        for (name, text) in &texts {
            let n = text.matches(canary).count();
            if n > 0 {
                found.push(format!("{canary}: {n} in {name}"));
            }
        }
    }
    println!(
        "canary search: {} outputs, {} pending goldens; found {} times",
        texts.len(),
        pending.len(),
        found.len()
    );
    assert!(found.is_empty(), "{found:#?}");
}
