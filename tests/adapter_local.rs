//! The local target against the pinned reference image (ci/reference-image.lock):
//! parity with the native TLS processor and the Modal stand-in, the engine's
//! digest and stderr tail, the engine and image error codes, and cleanup:
//! on drop, on SIGTERM mid-call (testcontainers' watchdog), and by the sweep.
//!
//! Every test skips, loudly, only when no Docker engine answers.

#![expect(clippy::unwrap_used, reason = "tests")]

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::processor::{
    Options, Processor, containers_labelled, digest_of, docker_available, reference_image, request,
};
use theory_conform::adapter::{
    self, AdapterError, HealthBudget, Limits, LocalSpec, ModalSpec, OWNER_NS_LABEL,
    OWNER_PID_LABEL, RUN_LABEL, Target, Transport, UrlSpec,
};
use theory_contract::{ErrorCode, WritePrefix, canon};

const BUDGET: Duration = Duration::from_secs(15);

fn run_id(test: &str) -> String {
    format!("adapter-{test}-{}", std::process::id())
}

/// Runs this very test again in a child process, with `THEORY_ADAPTER_CHILD` set.
fn child(test: &str, env: &[(&str, &str)]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env("THEORY_ADAPTER_CHILD", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn is_child() -> bool {
    std::env::var_os("THEORY_ADAPTER_CHILD").is_some()
}

/// Waits for `child` at most `limit`; kills it and fails after that.
fn wait(mut child: Child, limit: Duration) -> std::process::Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "the child did not finish within {limit:?}: {:?}",
                child.wait_with_output()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn comparable(raw: &[u8]) -> Vec<u8> {
    theory_contract::comparable_bytes(&canon::parse(raw).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_request_gives_byte_identical_envelopes_on_every_target_and_transport() {
    if !docker_available() {
        return;
    }
    let image = reference_image();
    let digest = digest_of(&image);
    let prefix_dir = tempfile::tempdir().unwrap();
    let prefix = WritePrefix::parse(&format!("{}/parity/", prefix_dir.path().display())).unwrap();
    let request = request("parity-local-1", prefix.as_str());

    // Local container, the prefix bind-mounted at the same path.
    let mut spec = LocalSpec::new(image.clone(), run_id("parity"));
    spec.mount = Some(prefix.clone());
    let local = adapter::resolve(&Target::Local(spec), BUDGET)
        .await
        .unwrap();
    assert_eq!(local.base.host_str(), Some("127.0.0.1"));
    assert_eq!(
        local.engine_digest.as_ref().map(|d| d.as_str()),
        Some(digest.as_str()),
        "the engine's digest"
    );
    adapter::health(&local, &HealthBudget::default())
        .await
        .unwrap();

    // The native processor with TLS, as a pinned URL and through the Modal stand-in.
    let native = Processor::start(Options::tls().env("IMAGE_DIGEST", &digest));
    let url = adapter::resolve(
        &Target::Url(UrlSpec {
            url: native.ws_url(),
            ca_file: native.ca_file.clone(),
        }),
        BUDGET,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("modal.json");
    let doc = serde_json::json!({"functions": [{"app": "theory", "function": "run", "url": native.ws_url().as_str()}]});
    std::fs::write(&table, serde_json::to_vec(&doc).unwrap()).unwrap();
    let python = dir.path().join("python");
    let script = format!(
        "#!/bin/sh\nexport PYTHONPATH='{}'\nexport THEORY_MODAL_STANDIN='{}'\nexec python3 -S \"$@\"\n",
        support::root().join("tests/modal-standin").display(),
        table.display()
    );
    std::fs::write(&python, script).unwrap();
    assert!(
        Command::new("chmod")
            .arg("755")
            .arg(&python)
            .status()
            .unwrap()
            .success()
    );
    let modal = ModalSpec {
        app: "theory".to_owned(),
        function: "run".to_owned(),
        environment: None,
        python,
        proxy_auth: None,
        ca_file: native.ca_file.clone(),
    };
    let modal = adapter::resolve(&Target::Modal(modal), BUDGET)
        .await
        .unwrap();

    let mut seen: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, endpoint) in [
        ("container", &local),
        ("native-tls", &url),
        ("modal-standin", &modal),
    ] {
        for transport in Transport::ALL {
            let exchange =
                adapter::call(endpoint, transport, &request, BUDGET, &Limits::default()).await;
            let answer = exchange
                .outcome
                .as_ref()
                .unwrap_or_else(|e| panic!("{name} {transport}: {e}\n{exchange:#?}"));
            seen.push((format!("{name} {transport}"), comparable(&answer.raw)));
        }
    }
    let (first_name, first) = &seen[0];
    let text = String::from_utf8_lossy(first);
    assert!(text.contains(r#""status":"success""#), "{text}");
    assert!(
        text.contains(&digest),
        "meta.image_digest is the pinned digest: {text}"
    );
    assert!(
        text.contains(prefix.as_str()),
        "paths are under the same prefix: {text}"
    );
    for (name, bytes) in &seen {
        assert_eq!(
            bytes,
            first,
            "{name} differs from {first_name}:\n{}\n{}",
            String::from_utf8_lossy(bytes),
            text
        );
    }
    assert!(
        std::path::Path::new(&prefix.join("summary.txt")).is_file(),
        "the container wrote through the mount"
    );

    let tail = local
        .stderr_tail()
        .await
        .expect("the container logs on stderr");
    assert!(
        !tail.is_empty() && tail.len() <= theory_contract::STDERR_TAIL_MAX,
        "{}",
        tail.len()
    );
    assert!(tail.contains("listening"), "{tail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_endpoint_removes_its_container() {
    if !docker_available() {
        return;
    }
    let run = run_id("drop");
    let mut spec = LocalSpec::new(reference_image(), run.clone());
    // The platform flag (the native one here: no emulator on this machine).
    spec.platform = Some("linux/amd64".to_owned());
    let endpoint = adapter::resolve(&Target::Local(spec), BUDGET)
        .await
        .unwrap();
    assert!(endpoint.is_local());
    assert_eq!(containers_labelled(RUN_LABEL, &run).len(), 1);
    let copy = endpoint.clone();
    drop(endpoint);
    assert_eq!(
        containers_labelled(RUN_LABEL, &run).len(),
        1,
        "a clone still owns it"
    );
    drop(copy);
    assert!(
        containers_labelled(RUN_LABEL, &run).is_empty(),
        "left behind after drop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_does_not_exist_is_err_image_not_found_and_leaves_nothing() {
    if !docker_available() {
        return;
    }
    let run = run_id("absent");
    let absent = format!("127.0.0.1:1/theory/absent@sha256:{}", "0".repeat(64));
    let started = Instant::now();
    let error = adapter::resolve(&Target::Local(LocalSpec::new(absent, run.clone())), BUDGET)
        .await
        .unwrap_err();
    assert!(
        matches!(error, AdapterError::ImageNotFound { .. }),
        "{error:?}"
    );
    assert_eq!(error.code(), ErrorCode::ImageNotFound);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(containers_labelled(RUN_LABEL, &run).is_empty());

    let malformed = adapter::resolve(
        &Target::Local(LocalSpec::new("repo@sha256:short", run)),
        BUDGET,
    )
    .await
    .unwrap_err();
    assert_eq!(malformed.code(), ErrorCode::ImageNotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_socket_pointing_nowhere_is_err_docker() {
    if is_child() {
        let image = std::env::var("THEORY_TEST_IMAGE").unwrap();
        let error = adapter::resolve(&Target::Local(LocalSpec::new(image, "nowhere")), BUDGET)
            .await
            .unwrap_err();
        assert!(matches!(error, AdapterError::Engine { .. }), "{error:?}");
        println!("RESOLVE {}", error.code());
        let error = adapter::sweep(Duration::from_secs(5)).await.unwrap_err();
        println!("SWEEP {}", error.code());
        return;
    }
    // No engine needed: the point is that there is none.
    let image = format!(
        "127.0.0.1:5000/theory/reference-processor@sha256:{}",
        "a".repeat(64)
    );
    let output = wait(
        child(
            "an_engine_socket_pointing_nowhere_is_err_docker",
            &[
                ("DOCKER_HOST", "unix:///nonexistent.sock"),
                ("THEORY_TEST_IMAGE", &image),
            ],
        ),
        Duration::from_secs(15),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("RESOLVE ERR_DOCKER"), "{stdout}");
    assert!(stdout.contains("SWEEP ERR_DOCKER"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_call_leaves_no_container() {
    if is_child() {
        let run = std::env::var("THEORY_TEST_RUN").unwrap();
        let mut spec = LocalSpec::new(reference_image(), run);
        spec.env
            .insert("THEORY_FAULT".to_owned(), "run-hang".to_owned());
        let endpoint = adapter::resolve(&Target::Local(spec), BUDGET)
            .await
            .unwrap();
        adapter::health(&endpoint, &HealthBudget::default())
            .await
            .unwrap();
        println!("READY");
        let exchange = adapter::call(
            &endpoint,
            Transport::Ws,
            &request("sigterm-1", "/tmp/theory-sigterm-1/"),
            Duration::from_secs(60),
            &Limits::default(),
        )
        .await;
        panic!("the hung call ended: {exchange:?}");
    }
    if !docker_available() {
        return;
    }
    let run = run_id("sigterm");
    let mut child = child(
        "sigterm_mid_call_leaves_no_container",
        &[("THEORY_TEST_RUN", &run)],
    );
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.trim_end().ends_with("READY") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(15)).is_err() {
        let _ = child.kill();
        panic!("the child never got ready: {:?}", child.wait_with_output());
    }
    assert_eq!(
        containers_labelled(RUN_LABEL, &run).len(),
        1,
        "the child's container runs"
    );
    tokio::time::sleep(Duration::from_millis(300)).await; // mid-call
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = wait(child, Duration::from_secs(15));
    assert!(!output.status.success(), "the child was terminated");
    let left = containers_labelled(RUN_LABEL, &run);
    if !left.is_empty() {
        let _ = Command::new("docker")
            .arg("rm")
            .arg("-f")
            .args(&left)
            .status();
        panic!(
            "SIGTERM left {left:?} behind; child stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_removes_containers_of_dead_owners_only() {
    if !docker_available() {
        return;
    }
    let image = reference_image();
    let run = run_id("sweep");
    let dead = {
        let mut gone = Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        gone.id()
    };
    let namespace = std::fs::read_link("/proc/self/ns/pid")
        .map(|p: PathBuf| p.display().to_string())
        .unwrap();
    let create = |owner: u32| {
        let output = Command::new("docker")
            .arg("create")
            .args(["--label", &format!("{RUN_LABEL}={run}")])
            .args(["--label", &format!("{OWNER_PID_LABEL}={owner}")])
            .args(["--label", &format!("{OWNER_NS_LABEL}={namespace}")])
            .arg(&image)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let orphan = create(dead);
    let owned = create(std::process::id());
    let sweep = adapter::sweep(Duration::from_secs(10)).await.unwrap();
    let left = containers_labelled(RUN_LABEL, &run);
    let _ = Command::new("docker").args(["rm", "-f", &owned]).status();
    assert!(sweep.removed.contains(&orphan), "{sweep:?}");
    assert!(!sweep.removed.contains(&owned), "{sweep:?}");
    assert_eq!(left, vec![owned]);
}
