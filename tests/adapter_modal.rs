//! The Modal target through the stand-in SDK (`tests/modal-standin/`, see
//! its README for what this does not prove): URL resolution through the
//! embedded resolver, every resolver failure as `ERR_ENDPOINT_MISSING`, the
//! proxy-auth headers sent and never logged, and the NDJSON events.

#![expect(clippy::unwrap_used, reason = "tests")]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use support::processor::{Options, Processor, request};
use theory_conform::adapter::{
    self, AdapterError, HealthBudget, Limits, ModalReason, ModalSpec, Target, Transport, UrlSpec,
};
use theory_contract::{ErrorCode, canon};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const BUDGET: Duration = Duration::from_secs(10);
const KEY: &str = "wk-standin-key-7f3a9c";
const SECRET: &str = "ws-standin-secret-b81e42";

/// A Python interpreter with the stand-in on its path (or without, for
/// `sdk_missing`); `-S` keeps any real `modal` in site-packages out.
fn python(dir: &Path, table: Option<&Path>) -> PathBuf {
    let standin = support::root().join("tests/modal-standin");
    let mut script = String::from("#!/bin/sh\n");
    if let Some(table) = table {
        script.push_str(&format!("export PYTHONPATH='{}'\n", standin.display()));
        script.push_str(&format!(
            "export THEORY_MODAL_STANDIN='{}'\n",
            table.display()
        ));
    }
    script.push_str("exec python3 -S \"$@\"\n");
    let path = dir.join(if table.is_some() {
        "python-standin"
    } else {
        "python-bare"
    });
    std::fs::write(&path, script).unwrap();
    let status = Command::new("chmod")
        .arg("755")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    path
}

/// A table mapping `theory/run` (environment `main`) to `url`, plus extras.
fn table(dir: &Path, url: Option<&str>, auth: &str) -> PathBuf {
    let path = dir.join("modal-standin.json");
    let doc = serde_json::json!({
        "auth": auth,
        "functions": [
            {"app": "theory", "function": "run", "environment": "main", "url": url},
            {"app": "theory", "function": "batch", "environment": "main", "url": null},
        ],
    });
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    path
}

fn spec(
    python: PathBuf,
    function: &str,
    environment: Option<&str>,
    ca_file: Option<PathBuf>,
) -> ModalSpec {
    ModalSpec {
        app: "theory".to_owned(),
        function: function.to_owned(),
        environment: environment.map(str::to_owned),
        python,
        proxy_auth: Some((KEY.to_owned(), SECRET.to_owned())),
        ca_file,
    }
}

fn comparable(raw: &[u8]) -> Vec<u8> {
    theory_contract::comparable_bytes(&canon::parse(raw).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standin_resolves_to_the_tls_processor_and_answers_like_the_pinned_url() {
    let processor = Processor::start(Options::tls());
    let dir = tempfile::tempdir().unwrap();
    let table = table(dir.path(), Some(processor.ws_url().as_str()), "ok");
    let python = python(dir.path(), Some(&table));
    let target = Target::Modal(spec(python, "run", Some("main"), processor.ca_file.clone()));
    let modal = adapter::resolve(&target, BUDGET).await.unwrap();
    assert_eq!(modal.base.scheme(), "https");
    assert_eq!(modal.base.port(), Some(processor.addr.port()));
    adapter::health(&modal, &HealthBudget::default())
        .await
        .unwrap();

    let pinned = Target::Url(UrlSpec {
        url: processor.http_url(),
        ca_file: processor.ca_file.clone(),
    });
    let pinned = adapter::resolve(&pinned, BUDGET).await.unwrap();
    let prefix = tempfile::tempdir().unwrap();
    let request = request("modal-1", &format!("{}/", prefix.path().display()));
    for transport in Transport::ALL {
        let via_modal =
            adapter::call(&modal, transport, &request, BUDGET, &Limits::default()).await;
        let via_url = adapter::call(&pinned, transport, &request, BUDGET, &Limits::default()).await;
        let (a, b) = (via_modal.outcome.unwrap(), via_url.outcome.unwrap());
        assert_eq!(comparable(&a.raw), comparable(&b.raw), "{transport}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resolver_failure_is_err_endpoint_missing_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ok_table = table(dir.path(), Some("wss://127.0.0.1:9/"), "ok");
    let standin = python(dir.path(), Some(&ok_table));
    let bare = python(dir.path(), None);
    let no_token_dir = tempfile::tempdir().unwrap();
    let no_token_table = table(no_token_dir.path(), Some("wss://127.0.0.1:9/"), "missing");
    let no_token = python(no_token_dir.path(), Some(&no_token_table));

    let cases = [
        (
            spec(standin.clone(), "absent", None, None),
            ModalReason::NotFound,
            "Lookup failed",
        ),
        (
            spec(standin.clone(), "run", Some("staging"), None),
            ModalReason::NotFound,
            "staging",
        ),
        (
            spec(standin, "batch", None, None),
            ModalReason::NoWebUrl,
            "not a web endpoint",
        ),
        (
            spec(bare, "run", None, None),
            ModalReason::SdkMissing,
            "pip install modal",
        ),
        (
            spec(no_token, "run", None, None),
            ModalReason::NoToken,
            "modal token new",
        ),
        (
            spec("/nonexistent/python3".into(), "run", None, None),
            ModalReason::Interpreter,
            "cannot run /nonexistent/python3",
        ),
    ];
    for (spec, expected, hint) in cases {
        let shown = format!(
            "{}/{} {:?} with {}",
            spec.app,
            spec.function,
            spec.environment,
            spec.python.display()
        );
        let error = adapter::resolve(&Target::Modal(spec), BUDGET)
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::EndpointMissing, "{shown}: {error}");
        assert!(
            matches!(&error, AdapterError::ModalResolve { reason, .. } if *reason == expected),
            "{shown}: {error:?}"
        );
        assert!(error.to_string().contains(hint), "{shown}: {error}");
        assert!(!error.to_string().contains(SECRET), "{shown}");
    }

    // The positive case: the same stand-in resolves a known function.
    let target = Target::Modal(spec(python(dir.path(), Some(&ok_table)), "run", None, None));
    let endpoint = adapter::resolve(&target, BUDGET).await.unwrap();
    assert_eq!(endpoint.base.as_str(), "https://127.0.0.1:9/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::result_large_err,
    reason = "tungstenite's handshake callback signature"
)]
async fn proxy_auth_headers_are_sent_on_http_and_websocket() {
    // An HTTP peer that records request heads and answers health.
    let heads = Arc::new(Mutex::new(Vec::<String>::new()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_port = listener.local_addr().unwrap().port();
    let kept = Arc::clone(&heads);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let mut buffer = vec![0_u8; 8192];
                let n = stream.read(&mut buffer).await.unwrap_or(0);
                kept.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buffer[..n]).to_ascii_lowercase());
                let body = br#"{"ok":true}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body).await;
            });
        }
    });
    // A WebSocket peer that records the upgrade request's headers.
    let ws_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_port = ws_listener.local_addr().unwrap().port();
    let kept = Arc::clone(&heads);
    tokio::spawn(async move {
        while let Ok((stream, _)) = ws_listener.accept().await {
            let kept = Arc::clone(&kept);
            let callback = move |request: &tokio_tungstenite::tungstenite::handshake::server::Request,
                                 mut response: tokio_tungstenite::tungstenite::handshake::server::Response| {
                let head: String = request
                    .headers()
                    .iter()
                    .map(|(k, v)| format!("{}: {}\n", k.as_str(), String::from_utf8_lossy(v.as_bytes())))
                    .collect();
                kept.lock().unwrap().push(head.to_ascii_lowercase());
                response.headers_mut().insert("sec-websocket-protocol", "theory.run.v1".parse().unwrap());
                Ok(response)
            };
            if let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await {
                let _ = ws.next().await;
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    for (port, transport) in [(http_port, Transport::Http), (ws_port, Transport::Ws)] {
        let table = table(dir.path(), Some(&format!("http://127.0.0.1:{port}/")), "ok");
        let target = Target::Modal(spec(python(dir.path(), Some(&table)), "run", None, None));
        let endpoint = adapter::resolve(&target, BUDGET).await.unwrap();
        if transport == Transport::Http {
            adapter::health(&endpoint, &HealthBudget::default())
                .await
                .unwrap();
        }
        let _ = adapter::call(
            &endpoint,
            transport,
            &request("auth-1", "/tmp/theory-auth-1/"),
            Duration::from_secs(2),
            &Limits::default(),
        )
        .await;
    }
    let heads = heads.lock().unwrap().clone();
    assert!(heads.len() >= 3, "{heads:?}");
    for head in &heads {
        assert!(head.contains(&format!("modal-key: {KEY}")), "{head}");
        assert!(head.contains(&format!("modal-secret: {SECRET}")), "{head}");
    }
}

/// The child half of [`events_are_logged_and_secrets_never`]: logs NDJSON
/// on stderr while it resolves, checks health and calls every transport.
async fn log_a_session() {
    theory_conform::log::init(theory_conform::log::LogSettings::NDJSON);
    let python = PathBuf::from(std::env::var("THEORY_TEST_PYTHON").unwrap());
    let ca_file = PathBuf::from(std::env::var("THEORY_TEST_CA").unwrap());
    let prefix = std::env::var("THEORY_TEST_PREFIX").unwrap();
    let endpoint = adapter::resolve(
        &Target::Modal(spec(python.clone(), "run", None, Some(ca_file))),
        BUDGET,
    )
    .await
    .unwrap();
    adapter::health(&endpoint, &HealthBudget::default())
        .await
        .unwrap();
    for transport in Transport::ALL {
        let exchange = adapter::call(
            &endpoint,
            transport,
            &request("events-1", &prefix),
            BUDGET,
            &Limits::default(),
        )
        .await;
        assert!(exchange.outcome.is_ok(), "{exchange:#?}");
    }
    let error = adapter::resolve(&Target::Modal(spec(python, "absent", None, None)), BUDGET)
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::EndpointMissing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_logged_and_secrets_never() {
    if std::env::var_os("THEORY_ADAPTER_CHILD").is_some() {
        return log_a_session().await;
    }
    let processor = Processor::start(Options::tls());
    let dir = tempfile::tempdir().unwrap();
    let table = table(dir.path(), Some(processor.ws_url().as_str()), "ok");
    let python = python(dir.path(), Some(&table));
    let prefix = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "events_are_logged_and_secrets_never",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("THEORY_ADAPTER_CHILD", "1")
        .env("THEORY_TEST_PYTHON", &python)
        .env("THEORY_TEST_CA", processor.ca_file.as_ref().unwrap())
        .env(
            "THEORY_TEST_PREFIX",
            format!("{}/", prefix.path().display()),
        )
        .env("THEORY_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the child did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child failed:\n{stderr}\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        !stderr.contains(SECRET) && !stderr.contains(KEY),
        "a secret leaked:\n{stderr}"
    );
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    for event in &events {
        assert!(
            event["ts"].is_string() && event["level"].is_string(),
            "{event}"
        );
    }
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    for expected in [
        "adapter.url.resolve",
        "adapter.health.ok",
        "ws.connect.start",
        "ws.connect.ok",
        "ws.run.start",
        "ws.run.settle",
        "http.run.start",
        "http.run.settle",
        "error.modal",
    ] {
        assert!(names.contains(&expected), "no {expected} in {names:?}");
    }
    let settle = events
        .iter()
        .find(|e| e["event"] == "ws.run.settle")
        .unwrap();
    assert_eq!(
        settle["execution_id"], "events-1",
        "span fields are merged: {settle}"
    );
    assert_eq!(settle["outcome"], "ok");
}
