//! Per-exchange overhead: the same WebSocket, HTTP and SSE exchanges with
//! the native reference processor on loopback, through a bare client
//! (tokio-tungstenite, hyper) and through the harness's whole trial path
//! (adapter, orchestrator, canonicalization, validation, golden comparison,
//! a report record). Prints microseconds per exchange (median and mean)
//! and the ratio. `ci/bench` builds the processor and runs this; alone:
//! `THEORY_REFERENCE_PROCESSOR=target/release/theory-reference-processor
//! cargo bench --bench exchange`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use theory_conform::conform::golden::{self, Header, Store};
use theory_conform::conform::report::{self, Disposition, Event, Record, RunInfo};
use theory_conform::conform::verdict::Verdict;
use theory_conform::plan::{Environment, Inputs, Request, plan};
use theory_conform::vocab::{ArtifactSource, TargetKind, Transport};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

/// Exchanges per transport and client, after as many to warm up.
const EXCHANGES: usize = 300;

struct Processor(Child);

impl Drop for Processor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_processor(dir: &Path) -> (Processor, SocketAddr) {
    let binary = std::env::var_os("THEORY_REFERENCE_PROCESSOR").map_or_else(
        || PathBuf::from("target/release/theory-reference-processor"),
        PathBuf::from,
    );
    let addr_file = dir.join("addr");
    let child = Command::new(&binary)
        .args(["--listen", "127.0.0.1:0", "--listen-addr-file"])
        .arg(&addr_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (set THEORY_REFERENCE_PROCESSOR)", binary.display()));
    let processor = Processor(child);
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&addr_file) {
            return (processor, text.trim().parse().expect("an address"));
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the processor did not listen"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn request_text(execution_id: &str, prefix: &str, inputs: &str) -> String {
    format!(
        r#"{{"execution_id":"{execution_id}","payload":{{"inputs":{inputs},"write_prefix":"{prefix}","mode":"mock"}}}}"#
    )
}

async fn bare_ws(addr: SocketAddr, request: &str) {
    let mut open = format!("ws://{addr}/run")
        .into_client_request()
        .expect("request");
    open.headers_mut().insert(
        "sec-websocket-protocol",
        "theory.run.v1".parse().expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(open, None, true)
        .await
        .expect("connect");
    let first = format!(
        r#"{{"kind":"RunOpen","content":{{"role":"client",{}}}"#,
        &request[1..]
    );
    ws.send(Message::text(first)).await.expect("send");
    while let Some(message) = ws.next().await {
        if let Message::Close(_) = message.expect("frame") {
            break;
        }
    }
}

async fn bare_http(addr: SocketAddr, path: &str, request: &str) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    let connection = tokio::spawn(connection);
    let post = hyper::Request::post(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(request.to_owned())))
        .expect("request");
    let response = sender.send_request(post).await.expect("response");
    assert_eq!(response.status(), 200);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert!(!body.is_empty());
    drop(sender);
    let _ = connection.await;
}

/// The median and the mean of `times`.
fn summary(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let median = times[times.len() / 2].as_secs_f64() * 1e6;
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1e6 / times.len() as f64;
    (median, mean)
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_processor, addr) = start_processor(dir.path());
    let inputs = std::fs::read_to_string("fixtures/reference-processor/inputs/valid/basic.json")
        .expect("a valid fixture (run from the repository root)");
    let inputs = inputs.trim().to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let env = Environment::process();
    let info = RunInfo {
        lane: "bench".to_owned(),
        seed: 0,
        ..RunInfo::default()
    };
    println!(
        "{:<6} {:<7} {:>11} {:>11}   (us per exchange, {EXCHANGES} exchanges)",
        "via", "client", "median", "mean"
    );
    for transport in [Transport::Ws, Transport::Http, Transport::Sse] {
        let prefix_template = format!("{}/{{execution_id}}/", dir.path().display());
        let mut planned = plan(
            &Request {
                processor: "theory/reference@0.1.0".to_owned(),
                adapter: Some(TargetKind::Url),
                url: Some(format!("http://{addr}/")),
                ca_file: None,
                artifacts: Some(ArtifactSource::Shared),
                transport,
                mode: "mock".to_owned(),
                write_prefix: prefix_template,
                execution_id: Some(format!("bench-{}", transport.as_str())),
                timeout: Some("10s".to_owned()),
                expected_oci: None,
                registry: None,
                inputs: Inputs::Inline(inputs.clone()),
            },
            env,
        )
        .expect("a plan");
        // The native processor runs in no image: the embedded entry's
        // expected digest is for containers.
        planned.expected = None;
        let request = request_text(&planned.execution_id, planned.prefix.as_str(), &inputs);
        let store = Store {
            dir: dir.path().join("golden"),
            read_only: false,
        };
        let golden_path = store.path("bench", transport.as_str());
        let header = Header {
            source: "bench".to_owned(),
            expression: "bench".to_owned(),
        };
        let (bare, full, disk) = runtime.block_on(async {
            let endpoint =
                theory_conform::adapter::resolve(&planned.target, Duration::from_secs(10))
                    .await
                    .expect("resolve");
            let bare_once = || async {
                match transport {
                    Transport::Ws => bare_ws(addr, &request).await,
                    Transport::Http => bare_http(addr, "/run", &request).await,
                    Transport::Sse => bare_http(addr, "/run-stream", &request).await,
                }
            };
            let full_once = || async {
                let started = Instant::now();
                let outcome = theory_conform::orchestrator::run_on(&planned, &endpoint).await;
                assert!(
                    outcome.envelope.error_code().is_none(),
                    "{:?}",
                    outcome.envelope
                );
                let body = golden::render(&outcome.canonical).expect("renders");
                let compared = store.compare(&golden_path, &header, &body);
                let record = Record {
                    name: format!("bench::{}", transport.as_str()),
                    suite: "bench".to_owned(),
                    verdict: Verdict::Pass,
                    disposition: Disposition::Plain,
                    replay: None,
                    duration: started.elapsed(),
                };
                std::hint::black_box((
                    compared,
                    report::json::render(&info, &[Event::Finished(record)]),
                ));
            };
            // Warm up, and write the golden the full path compares with.
            for _ in 0..EXCHANGES / 10 {
                bare_once().await;
                full_once().await;
            }
            let pending = golden::pending_path(&golden_path);
            if pending.exists() {
                std::fs::rename(&pending, &golden_path).expect("accept the bench golden");
            }
            // Interleaved, so both see the same machine.
            let (mut bare, mut full) = (Vec::new(), Vec::new());
            for _ in 0..EXCHANGES {
                let started = Instant::now();
                bare_once().await;
                bare.push(started.elapsed());
                let started = Instant::now();
                full_once().await;
                full.push(started.elapsed());
            }
            // What the whole path adds that a bare client does not do: the
            // disk rules (every output and the index read back) and the
            // persisted envelope, timed alone.
            let last = theory_conform::orchestrator::run_on(&planned, &endpoint).await;
            let doc = theory_contract::canon::parse(&last.canonical).expect("canonical");
            let mut disk = Vec::new();
            for _ in 0..EXCHANGES {
                let started = Instant::now();
                std::hint::black_box(theory_conform::artifacts::check(&doc, &planned.prefix, &[]));
                std::fs::write(planned.prefix.join("bench-envelope.json"), &last.canonical)
                    .expect("persist");
                disk.push(started.elapsed());
            }
            (summary(bare), summary(full), summary(disk))
        });
        println!(
            "{:<6} {:<7} {:>11.0} {:>11.0}",
            transport.as_str(),
            "bare",
            bare.0,
            bare.1
        );
        println!(
            "{:<6} {:<7} {:>11.0} {:>11.0}",
            transport.as_str(),
            "harness",
            full.0,
            full.1
        );
        println!(
            "{:<6} {:<7} {:>10.2}x {:>10.2}x   (overhead {:.0} us)",
            transport.as_str(),
            "ratio",
            full.0 / bare.0,
            full.1 / bare.1,
            full.0 - bare.0
        );
        println!(
            "{:<6} {:<7} {:>11.0} {:>11.0}   (of the overhead: disk rules and the persisted envelope)",
            transport.as_str(),
            "disk",
            disk.0,
            disk.1
        );
    }
}
