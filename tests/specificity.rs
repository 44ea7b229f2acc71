//! Specificity: the harness passes what is right. Each variation of the
//! reference processor (`THEORY_VARIATION`, `--list-variations`) is a
//! harmless deviation the contract allows; the staging lane (url target)
//! must pass the processor with every one of them, and each variation is
//! shown to be really on the wire (otherwise its pass would prove nothing).
//! docs/selftest.md explains the matrix this completes.

mod support;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::lanes::FINGERPRINT;
use support::processor::{Options, Processor, binary};
use support::{Cli, fixture};

const DIGEST: &str = "sha256:5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f";

/// Every variation; `every_variation_has_a_test` keeps it equal to the catalogue.
const VARIATIONS: &[&str] = &[
    "chunked-http",
    "credential-names-logged",
    "error-digest-omitted",
    "error-message-location",
    "escaped-non-ascii",
    "extra-progress",
    "health-slow-ready",
    "http-members-reversed",
    "numbers-noncanonical",
    "pretty-whitespace",
    "progress-wide-integers",
    // Only a container shows it (the process is its PID 1): its test runs
    // the image, `tests/lane.rs`
    // (`a_container_that_writes_in_its_scratch_path_passes_container_writes`).
    "scratch-writes",
    // Container behaviours: `tests/hostile_containers.rs` runs the image with them.
    "sigterm-ignored",
    "sse-comments",
    "sse-content-type-params",
    "stderr-flood",
];

/// A declared secret of the processor, set for it and for the lane: the
/// variations that name credentials must pass without leaking its value.
const CANARY_NAME: &str = "THEORY_CANARY_TOKEN";
const CANARY_VALUE: &str = "specificity-canary-2b7e";

fn start(variation: &str) -> Processor {
    Processor::start(
        Options::plain()
            .env("IMAGE_DIGEST", DIGEST)
            .env("THEORY_ENV_FINGERPRINT", FINGERPRINT)
            .env("THEORY_VARIATION", variation)
            .env(CANARY_NAME, CANARY_VALUE),
    )
}

/// A registry with the native processor as the url target (no image: local
/// trials skip), the default 12 s health budget.
fn registry(dir: &Path, processor: &Processor) -> PathBuf {
    support::registry::write_entry(
        dir,
        support::registry::reference_remote()
            .expected_oci(format!("selftest.invalid/theory/reference@{DIGEST}"))
            .url(processor.http_url())
            .secret(CANARY_NAME)
            .health(Duration::from_secs(12)),
    )
}

/// The staging lane passes the processor with `variation`: exit 0, no
/// failed or errored trial, and the url trials really ran.
fn check(variation: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = start(variation);
    let registry = registry(dir.path(), &processor);
    // The url target alone: what the certification lacks (the local
    // target) is not what a variation is about.
    let run = Cli::new([
        "--lane",
        "staging",
        "--seed",
        "7",
        "--skip",
        "certification::",
    ])
    .arg("--registry")
    .arg(&registry)
    .arg("--json")
    .arg(dir.path().join("summary.json"))
    .arg("--work-dir")
    .arg(dir.path().join("work"))
    .arg("--golden-dir")
    .arg(fixture("golden"))
    .env("CI", "true")
    .env(CANARY_NAME, CANARY_VALUE)
    .timeout(Duration::from_secs(120))
    .run();
    let text = std::fs::read_to_string(dir.path().join("summary.json")).expect("summary.json");
    let summary: serde_json::Value = serde_json::from_str(&text).expect("summary is JSON");
    let trials = summary["trials"].as_array().expect("trials");
    let bad: Vec<String> = trials
        .iter()
        .filter(|t| t["verdict"] != "pass" && t["verdict"] != "skip")
        .map(|t| format!("{} {}: {}", t["verdict"], t["name"], t["message"]))
        .collect();
    assert!(bad.is_empty(), "{variation}: {bad:#?}");
    assert_eq!(run.code, 0, "{variation}: {}", run.stdout_text());
    let passed = trials
        .iter()
        .filter(|t| {
            t["verdict"] == "pass" && t["name"].as_str().is_some_and(|n| n.contains("::url::"))
        })
        .count();
    assert!(passed >= 30, "{variation}: only {passed} url trials passed");
}

#[test]
fn http_members_reversed_passes() {
    check("http-members-reversed");
}

#[test]
fn pretty_whitespace_passes() {
    check("pretty-whitespace");
}

#[test]
fn escaped_non_ascii_passes() {
    check("escaped-non-ascii");
}

#[test]
fn numbers_noncanonical_passes() {
    check("numbers-noncanonical");
}

#[test]
fn extra_progress_passes() {
    check("extra-progress");
}

/// Progress content is free-form JSON (CONTRACT.md §6): an integer beyond
/// 2^53 in a `Log` frame is no protocol break.
#[test]
fn progress_wide_integers_passes() {
    check("progress-wide-integers");
}

#[test]
fn health_slow_ready_passes() {
    check("health-slow-ready");
}

#[test]
fn chunked_http_passes() {
    check("chunked-http");
}

#[test]
fn sse_comments_passes() {
    check("sse-comments");
}

#[test]
fn sse_content_type_params_passes() {
    check("sse-content-type-params");
}

#[test]
fn error_message_location_passes() {
    check("error-message-location");
}

#[test]
fn credential_names_logged_passes() {
    check("credential-names-logged");
}

/// Under `expected_oci`, error envelopes without a digest keep their code
/// (CONTRACT.md §8): the staging lane still passes.
#[test]
fn error_digest_omitted_passes() {
    check("error-digest-omitted");
}

#[test]
fn every_variation_has_a_test() {
    let output = std::process::Command::new(binary())
        .arg("--list-variations")
        .output()
        .expect("--list-variations");
    assert!(output.status.success());
    let listed: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("a JSON array");
    let slugs: Vec<&str> = listed
        .iter()
        .map(|v| v["slug"].as_str().expect("slug"))
        .collect();
    assert_eq!(slugs, VARIATIONS);
}

// --- each variation is really on the wire ---------------------------------

/// One plain HTTP/1.1 exchange on loopback: (head, body with any chunked
/// framing removed).
fn raw_http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (String, String) {
    let (head, raw) = raw_exchange(addr, method, path, body);
    if !head.contains("transfer-encoding: chunked") {
        return (head, raw);
    }
    let mut rest = raw.as_str();
    let mut body = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        body.push_str(&tail[..size]);
        rest = &tail[size + 2..];
    }
    (head, body)
}

/// One plain HTTP/1.1 exchange on loopback: (head, body as sent).
fn raw_exchange(addr: SocketAddr, method: &str, path: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read");
    let text = String::from_utf8(bytes).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    (head.to_ascii_lowercase(), body.to_owned())
}

fn run_request(dir: &Path) -> String {
    let prefix = format!("{}/exec-1/", dir.display());
    serde_json::json!({
        "execution_id": "exec-1",
        "payload": {
            "inputs": {"schema": "v1", "params": {"text": "café", "repeat": 1}},
            "write_prefix": prefix,
            "mode": "mock",
        }
    })
    .to_string()
}

fn http_body(variation: &str) -> (String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = start(variation);
    raw_http(processor.addr, "POST", "/run", &run_request(dir.path()))
}

fn sse_text(variation: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = start(variation);
    raw_http(
        processor.addr,
        "POST",
        "/run-stream",
        &run_request(dir.path()),
    )
    .1
}

/// Every text frame of one WebSocket run.
fn ws_frames(variation: &str) -> Vec<String> {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = start(variation);
    let request: serde_json::Value =
        serde_json::from_str(&run_request(dir.path())).expect("request");
    let mut open = request.as_object().expect("object").clone();
    open.insert("role".to_owned(), "client".into());
    let open = serde_json::json!({"kind": "RunOpen", "content": open}).to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut request = processor
            .ws_url()
            .join("run")
            .expect("url")
            .as_str()
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "theory.run.v1".parse().expect("header"),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("handshake");
        socket.send(Message::text(open)).await.expect("RunOpen");
        let mut frames = Vec::new();
        let read = async {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    frames.push(text.to_string());
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .expect("the run ends");
        frames
    })
}

#[test]
fn http_members_reversed_is_on_the_wire() {
    let (_, body) = http_body("http-members-reversed");
    assert!(body.starts_with(r#"{"status":"success""#), "{body}");
    let canonical = theory_contract::canon::canonicalize(body.as_bytes()).expect("JSON");
    assert_ne!(canonical, body.as_bytes());
}

#[test]
fn pretty_whitespace_is_on_the_wire() {
    let (_, body) = http_body("pretty-whitespace");
    assert!(body.contains("{\n  \""), "{body}");
    let sse = sse_text("pretty-whitespace");
    let done = sse.split("event: done").nth(1).expect("a done event");
    assert!(
        done.lines().filter(|l| l.starts_with("data:")).count() > 5,
        "{sse}"
    );
}

#[test]
fn escaped_non_ascii_is_on_the_wire() {
    let (_, body) = http_body("escaped-non-ascii");
    assert!(body.contains(r"\u0065") && body.contains(r"\/"), "{body}");
    assert!(body.is_ascii());
}

#[test]
fn numbers_noncanonical_are_on_the_wire() {
    let frames = ws_frames("numbers-noncanonical");
    assert!(
        frames[0].contains(r#""kind":"Ack""#) && frames[0].contains("1.0e2"),
        "{frames:?}"
    );
    assert!(
        frames.iter().skip(1).any(|f| f.contains("100.00")),
        "{frames:?}"
    );
    assert!(sse_text("numbers-noncanonical").contains("1.5E+1"));
}

#[test]
fn progress_wide_integers_are_on_the_wire() {
    let frames = ws_frames("progress-wide-integers");
    assert!(
        frames
            .iter()
            .any(|f| f.contains(r#""kind":"Log""#) && f.contains("1733230123456789012")),
        "{frames:?}"
    );
    assert!(sse_text("progress-wide-integers").contains("1733230123456789012"));
}

#[test]
fn extra_progress_is_on_the_wire() {
    let frames = ws_frames("extra-progress");
    assert!(frames.len() > 300, "{}", frames.len());
    for kind in ["Token", "Log", "Event"] {
        assert!(
            frames
                .iter()
                .any(|f| f.contains(&format!(r#""kind":"{kind}""#)))
        );
    }
    let sse = sse_text("extra-progress");
    assert!(sse.matches("event: progress").count() > 300);
}

#[test]
fn health_slow_ready_is_on_the_wire() {
    let processor = start("health-slow-ready");
    let (head, body) = raw_http(processor.addr, "GET", "/healthz", "");
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert_eq!(body, r#"{"ok":false}"#);
    std::thread::sleep(Duration::from_millis(3200));
    let (head, body) = raw_http(processor.addr, "GET", "/healthz", "");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, r#"{"ok":true}"#);
}

#[test]
fn chunked_http_is_on_the_wire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = start("chunked-http");
    let (head, body) = raw_exchange(processor.addr, "POST", "/run", &run_request(dir.path()));
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    assert!(body.starts_with("10\r\n"), "16-byte chunks: {body}");
}

#[test]
fn sse_comments_are_on_the_wire() {
    let sse = sse_text("sse-comments");
    assert!(
        sse.lines()
            .any(|l| l.starts_with(':') && l.contains("keep-alive")),
        "{sse}"
    );
    assert!(sse.lines().any(|l| l.starts_with("retry:")), "{sse}");
}

/// The body of `POST /run` with a well-formed request that fails
/// validation (null inputs): an `ERR_INPUTS` envelope.
fn invalid_request_body(variation: &str) -> String {
    let processor = start(variation);
    let request =
        r#"{"execution_id":"x","payload":{"inputs":null,"write_prefix":"/tmp/x/","mode":"mock"}}"#;
    raw_http(processor.addr, "POST", "/run", request).1
}

#[test]
fn error_message_location_is_on_the_wire() {
    let body = invalid_request_body("error-message-location");
    assert!(body.contains("ERR_INPUTS"), "{body}");
    assert!(body.contains("config.py, line 12"), "{body}");
}

#[test]
fn credential_names_logged_is_on_the_wire() {
    let body = invalid_request_body("credential-names-logged");
    assert!(body.contains(CANARY_NAME), "{body}");
    assert!(!body.contains(CANARY_VALUE), "{body}");
}

#[test]
fn error_digest_omitted_is_on_the_wire() {
    let body = invalid_request_body("error-digest-omitted");
    assert!(body.contains("ERR_INPUTS"), "{body}");
    assert!(!body.contains("image_digest"), "{body}");
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = start("error-digest-omitted");
    let success = raw_http(processor.addr, "POST", "/run", &run_request(dir.path())).1;
    assert!(success.contains(DIGEST), "{success}");
}

#[test]
fn the_default_processor_writes_none_of_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = Processor::start(Options::plain().env("IMAGE_DIGEST", DIGEST));
    let (head, body) = raw_http(processor.addr, "POST", "/run", &run_request(dir.path()));
    assert!(head.contains("content-length"), "{head}");
    let canonical = theory_contract::canon::canonicalize(body.as_bytes()).expect("JSON");
    assert_eq!(canonical, body.as_bytes());
    let sse = raw_http(
        processor.addr,
        "POST",
        "/run-stream",
        &run_request(dir.path()),
    )
    .1;
    assert!(
        !sse.lines()
            .any(|l| l.starts_with(':') || l.starts_with("retry:")),
        "{sse}"
    );
    assert!(sse.matches("event: progress").count() < 5);
    let invalid =
        r#"{"execution_id":"x","payload":{"inputs":null,"write_prefix":"/tmp/x/","mode":"mock"}}"#;
    let body = raw_http(processor.addr, "POST", "/run", invalid).1;
    assert!(body.contains("ERR_INPUTS"), "{body}");
    assert!(
        !body.contains("line 12") && !body.contains("credentials"),
        "{body}"
    );
}
