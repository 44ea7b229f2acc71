//! Adapters against the real reference processor run natively, plain and
//! with TLS (a CA made at test time): parity across transports, the
//! contract's raw exchanges, the fault catalogue's transport faults as named
//! breaks, and the adapter error codes a live endpoint can produce.

#![expect(clippy::unwrap_used, reason = "tests")]

mod support;

use std::time::Duration;

use serde_json::json;
use support::processor::{Options, Processor, request, request_with};
use theory_conform::adapter::{
    self, AdapterError, BreakRule, Endpoint, Exchange, HealthBudget, Limits, Target, Transport,
    UrlSpec, WsMessage,
};
use theory_contract::{
    CLOSE_INVALID_PAYLOAD, CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, ErrorCode, Frame, canon,
};

const BUDGET: Duration = Duration::from_secs(10);

fn url_target(processor: &Processor, ws_scheme: bool) -> Target {
    let url = if ws_scheme {
        processor.ws_url()
    } else {
        processor.http_url()
    };
    Target::Url(UrlSpec {
        url,
        ca_file: processor.ca_file.clone(),
    })
}

async fn endpoint(processor: &Processor) -> Endpoint {
    adapter::resolve(&url_target(processor, false), BUDGET)
        .await
        .unwrap()
}

/// The bytes envelopes are compared by (canonical, `stderr_tail` dropped).
fn comparable(exchange: &Exchange) -> Vec<u8> {
    let answer = exchange
        .outcome
        .as_ref()
        .unwrap_or_else(|e| panic!("{} failed: {e}\n{exchange:#?}", exchange.transport));
    let doc = canon::parse(&answer.raw).unwrap();
    theory_contract::comparable_bytes(&doc).unwrap()
}

fn code(exchange: &Exchange) -> ErrorCode {
    exchange
        .outcome
        .as_ref()
        .err()
        .map(AdapterError::code)
        .unwrap_or_else(|| panic!("expected a failure: {exchange:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_plain_and_tls_gives_the_same_canonical_envelope() {
    let prefix = tempfile::tempdir().unwrap();
    let prefix = format!("{}/", prefix.path().display());
    let request = request("parity-1", &prefix);
    let mut seen = Vec::new();
    for options in [Options::plain(), Options::tls()] {
        let tls = options.tls;
        let processor = Processor::start(options);
        // A ws/wss base URL works as well as http/https.
        let endpoint = adapter::resolve(&url_target(&processor, tls), BUDGET)
            .await
            .unwrap();
        assert_eq!(endpoint.base.scheme(), if tls { "https" } else { "http" });
        adapter::health(&endpoint, &HealthBudget::default())
            .await
            .unwrap();
        for transport in Transport::ALL {
            let exchange =
                adapter::call(&endpoint, transport, &request, BUDGET, &Limits::default()).await;
            let answer = exchange.outcome.as_ref().unwrap();
            assert_eq!(
                answer.canonical.as_deref(),
                Some(canon::canonicalize(&answer.raw).unwrap().as_slice())
            );
            assert!(exchange.breaks.is_empty(), "{exchange:#?}");
            match transport {
                Transport::Ws => {
                    assert_eq!(exchange.http_status, Some(101));
                    assert_eq!(exchange.subprotocol.as_deref(), Some("theory.run.v1"));
                    assert_eq!(exchange.close.as_ref().map(|c| c.code), Some(CLOSE_NORMAL));
                    assert_eq!(
                        exchange.frames.first().map(|f| f.kind.as_str()),
                        Some("Ack")
                    );
                    assert_eq!(
                        exchange.frames.last().map(|f| f.kind.as_str()),
                        Some("RunResult")
                    );
                }
                Transport::Sse => {
                    assert_eq!(exchange.http_status, Some(200));
                    assert_eq!(
                        exchange.frames.last().map(|f| f.kind.as_str()),
                        Some("done")
                    );
                    assert!(exchange.frames.iter().any(|f| f.kind == "progress"));
                }
                Transport::Http => {
                    assert_eq!(exchange.http_status, Some(200));
                    assert!(exchange.frames.is_empty());
                }
            }
            seen.push((format!("{transport} tls={tls}"), comparable(&exchange)));
        }
        assert!(
            endpoint.stderr_tail().await.is_none(),
            "a remote endpoint has no stderr tail"
        );
    }
    let (first_name, first) = &seen[0];
    assert!(String::from_utf8_lossy(first).contains(r#""status":"success""#));
    for (name, bytes) in &seen {
        assert_eq!(bytes, first, "{name} differs from {first_name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_ok_and_a_processor_that_never_becomes_healthy_is_err_health() {
    let healthy = Processor::start(Options::plain());
    let report = adapter::health(&endpoint(&healthy).await, &HealthBudget::default())
        .await
        .unwrap();
    assert_eq!(report.attempts, 1);

    let budget = HealthBudget::with_total(Duration::from_millis(1500));
    for fault in ["health-not-ok", "health-slow"] {
        let sick = Processor::start(Options::plain().fault(fault));
        let started = std::time::Instant::now();
        let error = adapter::health(&endpoint(&sick).await, &budget)
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::Health, "{fault}: {error}");
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{fault}: took {:?}",
            started.elapsed()
        );
        if fault == "health-not-ok" {
            assert!(error.to_string().contains(r#"{\"ok\":false}"#), "{error}");
            assert!(
                matches!(error, AdapterError::Health { attempts, .. } if attempts >= 3),
                "{error:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processor_that_never_answers_is_err_timeout_on_every_transport_within_budget() {
    let processor = Processor::start(Options::plain().fault("run-hang"));
    let endpoint = endpoint(&processor).await;
    let prefix = tempfile::tempdir().unwrap();
    let request = request("hang-1", &format!("{}/", prefix.path().display()));
    let budget = Duration::from_millis(800);
    for transport in Transport::ALL {
        let exchange =
            adapter::call(&endpoint, transport, &request, budget, &Limits::default()).await;
        assert_eq!(
            code(&exchange),
            ErrorCode::Timeout,
            "{transport}: {exchange:#?}"
        );
        assert!(exchange.breaks.is_empty(), "{transport}: {exchange:#?}");
        assert!(
            exchange.elapsed >= budget && exchange.elapsed < budget + Duration::from_millis(500),
            "{transport}: {:?}",
            exchange.elapsed
        );
        assert!(exchange.close.is_none());
    }
}

/// One test per transport fault of the catalogue: the fault, the transport
/// it shows on, and the break that must name it.
macro_rules! fault_is_a_named_break {
    ($($name:ident: $fault:literal, $transport:ident, $rule:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let processor = Processor::start(Options::plain().fault($fault));
            let endpoint = endpoint(&processor).await;
            let prefix = tempfile::tempdir().unwrap();
            let request = request("fault-1", &format!("{}/", prefix.path().display()));
            let exchange = adapter::call(&endpoint, Transport::$transport, &request, BUDGET, &Limits::default()).await;
            assert!(exchange.broke(BreakRule::$rule), "{}: {exchange:#?}", $fault);
            assert_eq!(code(&exchange), ErrorCode::Internal);
            assert!(matches!(exchange.outcome, Err(AdapterError::Protocol { .. })));
            assert!(exchange.elapsed < Duration::from_secs(5), "{:?}", exchange.elapsed);
        }
    )*};
}

fault_is_a_named_break! {
    ws_no_ack_is_ack_missing: "ws-no-ack", Ws, WsAckMissing;
    ws_no_result_is_result_missing: "ws-no-result", Ws, WsResultMissing;
    ws_result_twice_is_result_duplicate: "ws-result-twice", Ws, WsResultDuplicate;
    ws_frame_after_result_is_named: "ws-frame-after-result", Ws, WsFrameAfterResult;
    ws_unknown_kind_is_named: "ws-unknown-kind", Ws, WsFrameUnknownKind;
    ws_close_1011_after_result_is_close_code: "ws-close-1011-after-result", Ws, WsCloseCode;
    ws_drop_after_ack_is_close_missing: "ws-drop-after-ack", Ws, WsCloseMissing;
    ws_subprotocol_not_selected_is_named: "ws-subprotocol-not-selected", Ws, WsSubprotocolNotSelected;
    sse_no_done_is_done_missing: "sse-no-done", Sse, SseDoneMissing;
    sse_cut_before_done_is_done_missing: "sse-cut-before-done", Sse, SseDoneMissing;
    sse_json_body_is_content_type: "sse-json-body", Sse, HttpContentType;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_websocket_exchanges_record_refusals_and_close_codes() {
    let processor = Processor::start(Options::plain());
    let endpoint = endpoint(&processor).await;
    let limits = Limits::default();
    let budget = Duration::from_secs(5);

    // Not offering the subprotocol: the handshake is refused.
    let valid = Frame::run_open(request("raw-1", "/tmp/theory-raw-1/")).to_text();
    let refused = adapter::ws_raw(
        &endpoint,
        WsMessage::Text(valid.clone()),
        false,
        budget,
        &limits,
    )
    .await;
    assert!(refused.broke(BreakRule::WsHandshakeRefused), "{refused:#?}");
    assert_eq!(refused.http_status, Some(400));
    assert_eq!(code(&refused), ErrorCode::Internal);

    // Offering it, a valid RunOpen: a normal run.
    let ok = adapter::ws_raw(&endpoint, WsMessage::Text(valid), true, budget, &limits).await;
    assert!(ok.outcome.is_ok(), "{ok:#?}");

    // Not JSON and binary frames close with 1002; a relative prefix with 1008.
    let cases = [
        (WsMessage::Text("not json".to_owned()), CLOSE_PROTOCOL_ERROR),
        (WsMessage::Binary(b"{}".to_vec()), CLOSE_PROTOCOL_ERROR),
        (
            WsMessage::Text(r#"{"kind":"Ack","content":{}}"#.to_owned()),
            CLOSE_PROTOCOL_ERROR,
        ),
        (
            WsMessage::Text(Frame::run_open(request("raw-2", "relative/prefix/")).to_text()),
            CLOSE_INVALID_PAYLOAD,
        ),
    ];
    for (first, expected) in cases {
        let shown = format!("{first:?}");
        let exchange = adapter::ws_raw(&endpoint, first, true, budget, &limits).await;
        assert_eq!(
            exchange.close.as_ref().map(|c| c.code),
            Some(expected),
            "{shown}: {exchange:#?}"
        );
        assert!(exchange.broke(BreakRule::WsResultMissing), "{shown}");
        assert!(exchange.frames.is_empty(), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_http_exchanges_keep_non_2xx_envelopes_as_answers() {
    let processor = Processor::start(Options::plain());
    let endpoint = endpoint(&processor).await;
    let limits = Limits::default();
    let budget = Duration::from_secs(5);
    let prefix = tempfile::tempdir().unwrap();
    let prefix = format!("{}/", prefix.path().display());
    let body = serde_json::to_vec(&request("raw-http-1", &prefix)).unwrap();
    let crash = serde_json::to_vec(&request_with(
        "raw-http-2",
        &prefix,
        json!({"schema": "v1", "params": {"text": "__crash__"}}),
    ))
    .unwrap();

    // (path, content type, body, chunked, expected status, expected in the envelope)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, bool, u16, &'a str);
    let cases: [Case<'_>; 6] = [
        (
            "run",
            Some("application/json; charset=utf-8"),
            body.clone(),
            true,
            200,
            "success",
        ),
        (
            "run",
            Some("text/plain"),
            body.clone(),
            false,
            415,
            "ERR_INPUTS",
        ),
        ("run", None, body.clone(), false, 415, "ERR_INPUTS"),
        (
            "run",
            Some("application/json"),
            b"{not json".to_vec(),
            false,
            400,
            "ERR_INPUTS",
        ),
        (
            "run",
            Some("application/json"),
            crash,
            false,
            500,
            "ERR_INTERNAL",
        ),
        (
            "run-stream",
            Some("text/plain"),
            body,
            false,
            415,
            "ERR_INPUTS",
        ),
    ];
    for (path, content_type, body, chunked, status, expected) in cases {
        let exchange = adapter::http_raw(
            &endpoint,
            path,
            content_type,
            body,
            chunked,
            budget,
            &limits,
        )
        .await;
        let shown = format!("{path} {content_type:?} chunked={chunked}");
        assert_eq!(exchange.http_status, Some(status), "{shown}: {exchange:#?}");
        let answer = exchange
            .outcome
            .as_ref()
            .unwrap_or_else(|e| panic!("{shown}: {e}"));
        let text = String::from_utf8_lossy(&answer.raw);
        assert!(text.contains(expected), "{shown}: {text}");
        assert_eq!(
            exchange.transport,
            if path == "run" {
                Transport::Http
            } else {
                Transport::Sse
            }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolvable_host_is_err_endpoint_missing() {
    let target = Target::Url(UrlSpec {
        url: "https://theory-conform.invalid/".parse().unwrap(),
        ca_file: None,
    });
    let error = adapter::resolve(&target, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(error, AdapterError::Unresolvable { .. }),
        "{error:?}"
    );
    assert_eq!(error.code(), ErrorCode::EndpointMissing);

    let target = Target::Url(UrlSpec {
        url: "ftp://127.0.0.1/".parse().unwrap(),
        ca_file: None,
    });
    let error = adapter::resolve(&target, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(error, AdapterError::InvalidUrl { .. }),
        "{error:?}"
    );
    assert_eq!(error.code(), ErrorCode::EndpointMissing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_err_endpoint_missing_on_every_transport_and_for_health() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut url = url::Url::parse("http://127.0.0.1/").unwrap();
    url.set_port(Some(port)).unwrap();
    let endpoint = adapter::resolve(&Target::Url(UrlSpec { url, ca_file: None }), BUDGET)
        .await
        .unwrap();
    let request = request("refused-1", "/tmp/theory-refused-1/");
    for transport in Transport::ALL {
        let exchange =
            adapter::call(&endpoint, transport, &request, BUDGET, &Limits::default()).await;
        assert!(
            matches!(exchange.outcome, Err(AdapterError::Unreachable { .. })),
            "{transport}: {exchange:#?}"
        );
        assert_eq!(code(&exchange), ErrorCode::EndpointMissing);
    }
    let error = adapter::health(
        &endpoint,
        &HealthBudget::with_total(Duration::from_millis(600)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, AdapterError::Unreachable { .. }),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_the_servers_ca_is_err_endpoint_missing() {
    let processor = Processor::start(Options::tls());
    let untrusted = Target::Url(UrlSpec {
        url: processor.http_url(),
        ca_file: None,
    });
    let endpoint = adapter::resolve(&untrusted, BUDGET).await.unwrap();
    let request = request("tls-1", "/tmp/theory-tls-1/");
    for transport in Transport::ALL {
        let exchange =
            adapter::call(&endpoint, transport, &request, BUDGET, &Limits::default()).await;
        assert!(
            matches!(exchange.outcome, Err(AdapterError::Tls { .. })),
            "{transport}: {exchange:#?}"
        );
        assert_eq!(code(&exchange), ErrorCode::EndpointMissing);
    }
    // With the CA, the same endpoint answers (the positive case).
    let trusted = adapter::resolve(&url_target(&processor, false), BUDGET)
        .await
        .unwrap();
    adapter::health(&trusted, &HealthBudget::default())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_ca_file_is_err_endpoint_missing() {
    let target = Target::Url(UrlSpec {
        url: "https://127.0.0.1:9/".parse().unwrap(),
        ca_file: Some("/nonexistent/ca.pem".into()),
    });
    let error = adapter::resolve(&target, BUDGET).await.unwrap_err();
    assert!(matches!(error, AdapterError::CaFile { .. }), "{error:?}");
    assert_eq!(error.code(), ErrorCode::EndpointMissing);
}
