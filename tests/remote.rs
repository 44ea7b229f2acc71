//! A remote that shares nothing with the harness but the network
//! (CONTRACT.md §7): the pinned reference image in its own container, with
//! no bind mount, serving TLS on a port published on loopback, entered as
//! the `url` of the entry beside its `image`. Its artifacts are declared
//! nowhere (the default for `url`), so the artifact rules are skipped with
//! their reason instead of judging a folder the harness made itself, and
//! every comparison looks at the processor's own answers.

mod support;

use std::process::Command;
use std::time::Duration;

use support::lanes::{FINGERPRINT, explain, failures, lane, message_of, summary, trials_with};
use support::processor::{
    Options, Processor, digest_of, docker_available, reference_image, tls_files,
};
use support::registry;
use support::storage::{KEY_ID, KEY_ID_ENV, SECRET, SECRET_ENV, Store};
use theory_conform::vocab::{ArtifactSource, TargetKind};

/// The label this file's containers carry, so a failed test leaves none.
const LABEL: &str = "theory-conform.test-remote";

/// A container started with `docker` directly, removed on drop.
struct Remote {
    id: String,
    url: url::Url,
}

impl Drop for Remote {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.id]).output();
    }
}

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().expect("docker");
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// How the remote's network is joined to this machine's.
#[derive(Clone, Copy)]
enum Network {
    /// Its own network, its port published on 127.0.0.1.
    Published,
    /// The host's network (no mount still), listening on a free loopback
    /// port: so it reaches a store on loopback, as a deployment reaches
    /// its storage.
    Host,
}

/// The pinned image in its own container, serving TLS: its certificate
/// and key copied in (no mount of any kind), reachable on 127.0.0.1.
fn remote(dir: &std::path::Path, network: Network) -> (Remote, std::path::PathBuf) {
    let (remote, ca) = container(dir, network, true);
    (remote, ca.expect("a TLS remote has a CA"))
}

/// The pinned image in its own container, with TLS or plain on loopback.
fn container(
    dir: &std::path::Path,
    network: Network,
    tls: bool,
) -> (Remote, Option<std::path::PathBuf>) {
    let files = tls_files(dir);
    let image = reference_image();
    let digest_env = format!("IMAGE_DIGEST={}", digest_of(&image));
    let fingerprint_env = format!("THEORY_ENV_FINGERPRINT={FINGERPRINT}");
    let label = format!("{LABEL}={}", std::process::id());
    let free_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let listen = format!("127.0.0.1:{free_port}");
    let mut args = vec!["create", "--label", &label];
    match network {
        Network::Published => args.extend(["-p", "127.0.0.1::8000"]),
        Network::Host => args.extend(["--network", "host"]),
    }
    args.extend(["-e", &digest_env, "-e", &fingerprint_env, &image]);
    if let Network::Host = network {
        args.extend(["--listen", &listen]);
    }
    if tls {
        args.extend(["--tls-cert", "/tmp/cert.pem", "--tls-key", "/tmp/key.pem"]);
    }
    let id = docker(&args);
    let scheme = if tls { "https" } else { "http" };
    let mut remote = Remote {
        id,
        url: url::Url::parse(&format!("{scheme}://127.0.0.1/")).expect("url"),
    };
    if tls {
        for (file, name) in [(&files.cert, "cert.pem"), (&files.key, "key.pem")] {
            docker(&[
                "cp",
                file.to_str().expect("a UTF-8 path"),
                &format!("{}:/tmp/{name}", remote.id),
            ]);
        }
    }
    docker(&["start", &remote.id]);
    let mounts = docker(&["inspect", "--format", "{{len .Mounts}}", &remote.id]);
    assert_eq!(mounts, "0", "the remote shares no folder with the harness");
    let port = match network {
        Network::Host => free_port,
        Network::Published => {
            let published = docker(&["port", &remote.id, "8000/tcp"]);
            published
                .lines()
                .next()
                .and_then(|l| l.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("no published port in {published:?}"))
        }
    };
    remote.url.set_port(Some(port)).expect("port");
    (remote, tls.then_some(files.ca))
}

#[test]
fn a_remote_without_shared_storage_passes_staging_with_its_artifact_rules_skipped() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (remote, ca) = remote(dir.path(), Network::Published);
    let entry = registry::reference()
        .run_timeout(Duration::from_secs(20))
        .pinned_image(&reference_image())
        .url(remote.url.as_str())
        .ca_file(ca);
    // Declared nowhere by default: the entry says nothing.
    assert!(entry.artifacts.is_empty());
    let registry = registry::write_entry(dir.path(), entry);
    let run = lane("staging", &registry, dir.path())
        .arg("--seed")
        .arg("13")
        .timeout(Duration::from_secs(300))
        .run();
    let summary = summary(dir.path());
    let failed = failures(&summary);
    assert!(failed.is_empty(), "{failed:#?}\n{}", explain(&run));
    assert_eq!(run.code, 0, "{}", explain(&run));
    let skipped = trials_with(&summary, "skip");
    for transport in ["ws", "http", "sse"] {
        let name = format!("contract::artifacts::theory/reference@0.1.0::url::{transport}");
        assert!(skipped.contains(&name), "{name} was not skipped");
        let reason = message_of(&summary, &name);
        assert!(reason.contains("url: none"), "{name}: {reason}");
    }
    let passed = trials_with(&summary, "pass");
    let url_passed = passed.iter().filter(|n| n.contains("::url::")).count();
    assert!(url_passed >= 30, "only {url_passed} url trials passed");
    // No answer was replaced for a breach (as every success was, when the
    // orchestrator judged a folder it made itself): what passed, passed on
    // the processor's own answers. (`error.digest` is expected: the digest
    // trial runs once against another digest on purpose.)
    for event in run.stderr_events() {
        assert_ne!(event["event"], "error.contract", "{event}");
    }
    // Declared `shared` by mistake, the remote's outputs are missing from
    // this disk: the orchestrator replaces each success (`error.contract`),
    // contract::artifacts fails, and determinism still judges the
    // processor's own answers (which agree), not the envelopes it wrote.
    let wrong = dir.path().join("wrong");
    std::fs::create_dir_all(&wrong).expect("mkdir");
    let registry = registry::write_entry(
        &wrong,
        registry::reference()
            .run_timeout(Duration::from_secs(20))
            .url(remote.url.as_str())
            .ca_file(dir.path().join("ca.pem"))
            .artifacts(TargetKind::Url, ArtifactSource::Shared),
    );
    for (name, verdict) in [
        (
            "determinism::random_ids::theory/reference@0.1.0::url::ws",
            "pass",
        ),
        (
            "contract::artifacts::theory/reference@0.1.0::url::ws",
            "fail",
        ),
    ] {
        let run = lane("staging", &registry, &wrong)
            .arg("--exact")
            .arg(name)
            .run();
        let summary = support::lanes::summary(&wrong);
        assert_eq!(
            trials_with(&summary, verdict),
            [name.to_owned()].into(),
            "{}",
            explain(&run)
        );
        if verdict == "pass" {
            assert!(
                run.stderr_events()
                    .iter()
                    .any(|e| e["event"] == "error.contract"),
                "the orchestrator replaced no answer: {}",
                explain(&run)
            );
        }
    }
    for name in [
        "contract::artifacts::theory/reference@0.1.0::local::ws",
        "parity::targets::theory/reference@0.1.0::local::ws",
        "parity::transports::theory/reference@0.1.0::url::ws",
        "determinism::random_ids::theory/reference@0.1.0::url::ws",
        "certification::evidence::theory/reference@0.1.0",
    ] {
        assert!(passed.contains(name), "{name} did not pass: {passed:#?}");
    }
}

/// The same remote uploading through the storage hand-over to a real S3
/// server on loopback: every trial runs and passes, the url target's
/// artifact rules and parity's byte comparison across targets included.
#[test]
fn a_remote_uploading_to_storage_passes_staging_with_every_artifact_rule() {
    uploading_remote_passes_staging(true);
}

/// The same, the remote serving plain HTTP on loopback.
#[test]
fn a_plain_remote_uploading_to_storage_passes_staging_too() {
    uploading_remote_passes_staging(false);
}

fn uploading_remote_passes_staging(tls: bool) {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::start();
    let (remote, ca) = container(dir.path(), Network::Host, tls);
    let mut entry = registry::reference()
        .run_timeout(Duration::from_secs(20))
        .pinned_image(&reference_image())
        .url(remote.url.as_str())
        .artifacts(TargetKind::Url, ArtifactSource::Storage)
        .storage(store.section(None));
    if let Some(ca) = ca {
        entry = entry.ca_file(ca);
    }
    let registry = registry::write_entry(dir.path(), entry);
    let run = lane("staging", &registry, dir.path())
        .arg("--seed")
        .arg("17")
        .env(KEY_ID_ENV, KEY_ID)
        .env(SECRET_ENV, SECRET)
        .timeout(Duration::from_secs(300))
        .run();
    let summary = summary(dir.path());
    let failed = failures(&summary);
    assert!(failed.is_empty(), "{failed:#?}\n{}", explain(&run));
    assert_eq!(run.code, 0, "{}", explain(&run));
    assert!(trials_with(&summary, "skip").is_empty(), "every trial ran");
    let passed = trials_with(&summary, "pass");
    for transport in ["ws", "http", "sse"] {
        for name in [
            format!("contract::artifacts::theory/reference@0.1.0::url::{transport}"),
            format!("parity::targets::theory/reference@0.1.0::local::{transport}"),
        ] {
            assert!(passed.contains(&name), "{name} did not pass");
        }
    }
    assert!(store.objects() >= 4, "only {} objects", store.objects());
}

#[test]
fn comparisons_of_envelopes_the_orchestrator_wrote_never_pass() {
    // A processor that never answers: every envelope of the run is the
    // orchestrator's ERR_TIMEOUT, the same on both transports and on every
    // run. Parity and determinism have nothing of the processor to compare:
    // they say so (a skip with the reason), where they used to pass.
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = Processor::start(Options::plain().fault("run-hang"));
    let registry = registry::write_entry(
        dir.path(),
        registry::reference()
            .url(processor.http_url())
            .artifacts(TargetKind::Url, ArtifactSource::Shared)
            .run_timeout(Duration::from_millis(500)),
    );
    for name in [
        "parity::transports::theory/reference@0.1.0::url::ws",
        "determinism::random_ids::theory/reference@0.1.0::url::http",
    ] {
        let run = lane("staging", &registry, dir.path())
            .arg("--exact")
            .arg(name)
            .run();
        let summary = summary(dir.path());
        assert_eq!(
            trials_with(&summary, "skip"),
            [name.to_owned()].into(),
            "{}",
            explain(&run)
        );
        assert!(
            trials_with(&summary, "pass").is_empty(),
            "{}",
            explain(&run)
        );
        let message = message_of(&summary, name);
        assert!(
            message.contains("nothing of the processor to compare")
                && message.contains("ERR_TIMEOUT"),
            "{name}: {message}"
        );
    }
}

#[test]
fn a_transport_that_does_not_answer_where_the_other_does_fails_parity() {
    // Over WebSocket the processor never sends its result; over HTTP it
    // answers: one answer against an envelope the orchestrator wrote is a
    // difference, never a pass and never a skip.
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = Processor::start(Options::plain().fault("ws-no-result"));
    let registry = registry::write_entry(
        dir.path(),
        registry::reference()
            .url(processor.http_url())
            .artifacts(TargetKind::Url, ArtifactSource::Shared),
    );
    let name = "parity::transports::theory/reference@0.1.0::url::ws";
    let run = lane("staging", &registry, dir.path())
        .arg("--exact")
        .arg(name)
        .run();
    let summary = summary(dir.path());
    assert_eq!(run.code, 1, "{}", explain(&run));
    let message = message_of(&summary, name);
    assert!(
        message.contains("the processor answered on http, not on ws"),
        "{message}"
    );
}
