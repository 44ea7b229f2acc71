//! One row of the matrix: the processor started natively on loopback
//! (faulted or not), a generated registry that points at it, the lane run
//! as a subprocess of this executable, and its JSON summary read back.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::artifacts::server::{BUCKET, LocalS3};
use crate::readiness::WaitFor;
use crate::registry::{Document, DocumentEntry, DocumentStorage};
use crate::vocab::{ArtifactSource, TargetKind};

use super::super::report::Status;
use super::super::report::json::Summary;
use super::super::trial_id::TrialId;
use super::{
    CANARY_NAME, CANARY_VALUE, Catalogued, HEALTH_BUDGET, LANE_BUDGET, LISTEN_BUDGET, Outcome,
    RUN_BUDGET, Row, SEED, Setup,
};

/// A child process killed and reaped when dropped, on every path.
pub(super) struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The local store of a storage row: its credentials (in the lane's
/// environment only), the reference processor's artifacts and index, and
/// the largest upload.
const STORE_KEY_ID_ENV: &str = "THEORY_SELFTEST_S3_KEY_ID";
const STORE_SECRET_ENV: &str = "THEORY_SELFTEST_S3_SECRET";
const STORE_KEY_ID: &str = "AKIATHEORYSELFTEST01";
const STORE_SECRET: &str = "theory-selftest-s3-secret";
const STORE_PATHS: [&str; 4] = [
    "outputs.json",
    "parts/upper.txt",
    "stats.json",
    "summary.txt",
];
const STORE_MAX_BYTES: u64 = 64 * 1024;

/// One lane run against one processor (faulted or not).
pub(super) fn run_one(setup: &Setup, fault: Option<Catalogued>) -> Row {
    let started = Instant::now();
    let slug = fault.as_ref().map_or("none", |f| f.slug.as_str());
    let target = fault.as_ref().map_or("url", |f| f.target.as_str());
    let outcome = lane_outcome(setup, slug, fault.is_some(), target)
        .unwrap_or_else(|reason| Outcome::Broken { reason });
    Row {
        fault,
        outcome,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// One lane run: against the native processor on loopback (url target);
/// for a fault only a container shows, against the pinned image with the
/// fault in its environment (local target; `::local::` trials only); for
/// a fault only a storage hand-over shows, against the native processor
/// whose url target uploads to a local S3 server (`storage` target).
fn lane_outcome(setup: &Setup, slug: &str, faulted: bool, target: &str) -> Result<Outcome, String> {
    let dir = setup.root.join(slug);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let registry = dir.join("registry.yaml");
    let local = target == "local";
    let store = (target == "storage")
        .then(|| {
            let binary = crate::environment::Environment::process().s3s_fs();
            LocalS3::start(&binary, &dir.join("store"), STORE_KEY_ID, STORE_SECRET)
        })
        .transpose()?;
    let (_processor, document) = if local {
        (None, local_registry_document(setup, slug)?)
    } else {
        let (processor, addr) = start_processor(setup, faulted.then_some(slug))?;
        (
            Some(processor),
            registry_document(setup, addr, store.as_ref())?,
        )
    };
    std::fs::write(&registry, document).map_err(|e| format!("{}: {e}", registry.display()))?;
    let summary = dir.join("summary.json");
    let stderr_path = dir.join("lane.stderr");
    let stderr = std::fs::File::create(&stderr_path)
        .map_err(|e| format!("{}: {e}", stderr_path.display()))?;
    let child = Command::new(&setup.exe)
        .args(["--lane", &setup.lane, "--seed", &SEED.to_string()])
        // The processor runs on one target alone: what a certification
        // lacks is not what a fault breaks.
        .args(["--skip", "certification::"])
        .args(if local { &["::local::"][..] } else { &[][..] })
        .arg("--registry")
        .arg(&registry)
        .arg("--json")
        .arg(&summary)
        .arg("--work-dir")
        .arg(dir.join("work"))
        .arg("--golden-dir")
        .arg(&setup.golden)
        .env("CI", "true")
        .env(CANARY_NAME, CANARY_VALUE)
        .env(STORE_KEY_ID_ENV, STORE_KEY_ID)
        .env(STORE_SECRET_ENV, STORE_SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("start the lane: {e}"))?;
    let mut lane = Guard(child);
    let deadline = Instant::now() + LANE_BUDGET;
    let status = loop {
        match lane.0.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                return Err(format!(
                    "the lane did not finish within {} s",
                    LANE_BUDGET.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("wait for the lane: {e}")),
        }
    };
    let expected = if faulted { [0, 1] } else { [0, 0] };
    if !status
        .code()
        .is_some_and(|c| expected.contains(&c) || c == 3)
    {
        let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(3).collect();
        return Err(format!(
            "the lane ended with {status}: {}",
            tail.join(" / ")
        ));
    }
    read_summary(&summary)
}

/// Starts the processor on loopback; returns its guard and address.
fn start_processor(setup: &Setup, fault: Option<&str>) -> Result<(Guard, SocketAddr), String> {
    let mut command = Command::new(&setup.processor);
    command
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("THEORY_FAULT")
        .env_remove("THEORY_VARIATION")
        .env("IMAGE_DIGEST", &setup.digest)
        .env(CANARY_NAME, CANARY_VALUE)
        .envs(&setup.env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(fault) = fault {
        command.env("THEORY_FAULT", fault);
    }
    let mut guard = Guard(
        command
            .spawn()
            .map_err(|e| format!("start {}: {e}", setup.processor.display()))?,
    );
    let stderr = guard
        .0
        .stderr
        .take()
        .ok_or_else(|| "the processor's stderr".to_owned())?;
    let addr = WaitFor::LISTENING
        .watch(stderr)
        .wait(LISTEN_BUDGET)
        .map_err(|e| format!("the processor is not ready: {e}"))?;
    let addr = addr
        .parse::<SocketAddr>()
        .map_err(|e| format!("the processor's listening address {addr:?}: {e}"))?;
    Ok((guard, addr))
}

/// The generated registry's text: the native processor as the url
/// target, its artifacts on this machine's disk, or in `store`.
fn registry_document(
    setup: &Setup,
    addr: SocketAddr,
    store: Option<&LocalS3>,
) -> Result<String, String> {
    let mut url = url::Url::parse("http://127.0.0.1/").map_err(|e| e.to_string())?;
    url.set_ip_host(addr.ip())
        .map_err(|()| "url host".to_owned())?;
    url.set_port(Some(addr.port()))
        .map_err(|()| "url port".to_owned())?;
    let entry = DocumentEntry {
        expected_oci: Some(setup.expected_oci.clone()),
        url: Some(url.to_string()),
        // The native processor writes to this machine's disk, or uploads.
        artifacts: BTreeMap::from([(
            TargetKind::Url.as_str().to_owned(),
            if store.is_some() {
                ArtifactSource::Storage
            } else {
                ArtifactSource::Shared
            }
            .as_str()
            .to_owned(),
        )]),
        storage: store.map(|store| DocumentStorage {
            endpoint: store.endpoint.to_string(),
            bucket: BUCKET.to_owned(),
            region: None,
            access_key_env: STORE_KEY_ID_ENV.to_owned(),
            secret_key_env: STORE_SECRET_ENV.to_owned(),
            paths: STORE_PATHS.iter().map(|p| (*p).to_owned()).collect(),
            max_bytes: Some(STORE_MAX_BYTES),
        }),
        health: Some(HEALTH_BUDGET.to_owned()),
        run_timeout: Some(RUN_BUDGET.to_owned()),
        transports: Some(setup.transports.clone()),
        fixtures: Some(setup.fixtures.clone()),
        env: setup.env.clone(),
        secrets: vec![CANARY_NAME.to_owned()],
        ..DocumentEntry::default()
    };
    Ok(Document::new()
        .processor(setup.name.to_string(), entry)
        .to_yaml())
}

/// The generated registry of a local row: the embedded entry's pinned image
/// with `THEORY_FAULT` in the container's environment.
fn local_registry_document(setup: &Setup, slug: &str) -> Result<String, String> {
    let image = setup.image.clone().ok_or_else(|| {
        format!("{slug} shows only in a container, and the embedded entry has no image")
    })?;
    let mut env = setup.env.clone();
    env.insert("THEORY_FAULT".to_owned(), slug.to_owned());
    let entry = DocumentEntry {
        image: Some(image),
        expected_oci: Some(setup.expected_oci.clone()),
        health: Some(HEALTH_BUDGET.to_owned()),
        run_timeout: Some(RUN_BUDGET.to_owned()),
        transports: Some(setup.transports.clone()),
        fixtures: Some(setup.fixtures.clone()),
        env,
        secrets: vec![CANARY_NAME.to_owned()],
        ..DocumentEntry::default()
    };
    Ok(Document::new()
        .processor(setup.name.to_string(), entry)
        .to_yaml())
}

fn read_summary(path: &Path) -> Result<Outcome, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let summary = Summary::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(outcome_of(&summary))
}

/// What a lane's summary says about the processor: a known failure is a
/// failure (the lane caught something, a list explains it), a flaky pass
/// is a pass, a skip did not run.
fn outcome_of(summary: &Summary) -> Outcome {
    let mut ran = 0;
    let mut failing = BTreeSet::new();
    let mut errored = BTreeSet::new();
    let mut messages = BTreeMap::new();
    for trial in &summary.trials {
        match trial.verdict {
            Status::Pass | Status::Flaky => ran += 1,
            Status::Fail | Status::KnownFailure => {
                ran += 1;
                failing.insert(case_of(&trial.name));
                messages.insert(trial.name.clone(), trial.message.clone());
            }
            Status::Error => {
                ran += 1;
                errored.insert(trial.name.clone());
            }
            Status::Skip => {}
        }
    }
    Outcome::Ran {
        ran,
        failing,
        errored,
        messages,
    }
}

/// `suite::case` of a planned trial; a pseudo-trial (an unused golden, a
/// known list's problem) by its whole name.
pub(super) fn case_of(trial: &str) -> String {
    TrialId::parse(trial).map_or_else(|_| trial.to_owned(), |id| id.case_id())
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use std::time::Duration;

    use super::*;
    use crate::conform::report::json::render;
    use crate::conform::report::{Disposition, Event, Record, RunInfo};
    use crate::conform::verdict::Verdict;

    fn event(name: &str, verdict: Verdict, disposition: Disposition) -> Event {
        Event::Finished(Record {
            name: name.to_owned(),
            suite: "contract".to_owned(),
            verdict,
            disposition,
            replay: None,
            duration: Duration::ZERO,
        })
    }

    #[test]
    fn known_failures_and_flaky_passes_are_not_errors() {
        let events = [
            event(
                "contract::envelope::a/b@1::url::ws",
                Verdict::Pass,
                Disposition::Plain,
            ),
            event(
                "contract::http_415::a/b@1::url::http",
                Verdict::fail("m"),
                Disposition::KnownFailure {
                    reason: "r".to_owned(),
                },
            ),
            event(
                "contract::health::a/b@1::url::none",
                Verdict::Pass,
                Disposition::Flaky {
                    failures: vec!["f".to_owned()],
                },
            ),
            event(
                "contract::ws_close::a/b@1::url::ws",
                Verdict::error("down"),
                Disposition::Plain,
            ),
            event(
                "contract::digest::a/b@1::url::ws",
                Verdict::skip("n/a"),
                Disposition::Plain,
            ),
        ];
        let info = RunInfo {
            lane: "staging".to_owned(),
            seed: 1,
            ..RunInfo::default()
        };
        let summary = Summary::parse(&render(&info, &events)).unwrap();
        let Outcome::Ran {
            ran,
            failing,
            errored,
            messages,
        } = outcome_of(&summary)
        else {
            panic!("a summary always gives a ran outcome");
        };
        assert_eq!(ran, 4);
        assert_eq!(failing, BTreeSet::from(["contract::http_415".to_owned()]));
        assert_eq!(
            errored,
            BTreeSet::from(["contract::ws_close::a/b@1::url::ws".to_owned()])
        );
        assert_eq!(messages.len(), 1);
    }

    #[test]
    fn case_of_keeps_suite_and_case() {
        assert_eq!(
            case_of("contract::http_415::theory/reference@0.1.0::url::http"),
            "contract::http_415"
        );
        assert_eq!(
            case_of("golden::unused::p/contract.x.snap"),
            "golden::unused::p/contract.x.snap"
        );
    }

    #[test]
    fn the_generated_registry_loads() {
        let dir = crate::environment::Environment::process()
            .temp_dir()
            .join(format!("theory-selftest-doc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let setup = Setup {
            processor: dir.join("p"),
            exe: dir.join("e"),
            lane: "staging".to_owned(),
            name: crate::registry::ProcessorRef::parse("theory/reference@0.1.0").unwrap(),
            expected_oci: format!("127.0.0.1:5000/theory/ref@sha256:{}", "a".repeat(64)),
            digest: format!("sha256:{}", "a".repeat(64)),
            env: BTreeMap::from([("K: \"x".to_owned(), "v\n'y'".to_owned())]),
            image: None,
            transports: vec!["ws".to_owned(), "http".to_owned()],
            fixtures: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/reference-processor/inputs"),
            golden: dir.join("g"),
            root: dir.clone(),
        };
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let path = dir.join("registry.yaml");
        std::fs::write(&path, registry_document(&setup, addr, None).unwrap()).unwrap();
        let registry =
            crate::registry::Registry::load(&path, crate::registry::TagPolicy::RequireDigest)
                .unwrap();
        let entry = &registry.processors[&setup.name];
        assert_eq!(
            entry.url.as_ref().map(url::Url::as_str),
            Some("http://127.0.0.1:4321/")
        );
        assert_eq!(entry.env, setup.env);
        assert_eq!(entry.run_timeout, Duration::from_secs(2));
        assert!(entry.image.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
