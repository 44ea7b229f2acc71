//! HTTP `POST /run` and SSE `POST /run-stream` (CONTRACT.md §6), and the
//! raw form of both for the contract suites (415, 400, 500).
//!
//! Bodies are read chunk by chunk, each read bounded by the call's deadline
//! and the size cap checked before a chunk is kept; SSE events are parsed
//! incrementally by [`super::sse`] under the same cap.
//!
//! **Invariant:** a non-2xx answer with an envelope body is still an
//! answer; only the transport's own rules make breaks.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use theory_contract::{RunRequest, canon};
use tokio::time::Instant;

use super::exchange::{FrameCap, Recorder};
use super::sse::{Event, Parser};
use super::ws::CLOSE_GRACE;
use super::{AdapterError, Answer, BreakRule, Endpoint, Exchange, Limits, Transport, net};

/// How much later than the deadline reqwest's own timeout fires.
const BACKSTOP: Duration = Duration::from_secs(1);

/// The normal call over HTTP or SSE: the canonical request as `application/json`.
pub(crate) async fn call(
    endpoint: &Endpoint,
    transport: Transport,
    request: &RunRequest,
    budget: Duration,
    limits: &Limits,
) -> Exchange {
    // A request holds only JSON; serde_json is the fallback for an integer
    // beyond 2^53 in the caller's inputs, which canonical JSON refuses.
    let body = canon::to_canonical_serde(request)
        .or_else(|_| serde_json::to_vec(request))
        .unwrap_or_default();
    let path = if transport == Transport::Sse {
        "run-stream"
    } else {
        "run"
    };
    post(
        endpoint,
        transport,
        path,
        Some("application/json"),
        body,
        false,
        budget,
        limits,
    )
    .await
}

/// One raw `POST` to `path` (`run` or `run-stream`): any content type (or
/// none), any body, optionally chunked (no `Content-Length`).
pub async fn http_raw(
    endpoint: &Endpoint,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    chunked: bool,
    budget: Duration,
    limits: &Limits,
) -> Exchange {
    let transport = if path.trim_matches('/') == "run-stream" {
        Transport::Sse
    } else {
        Transport::Http
    };
    post(
        endpoint,
        transport,
        path,
        content_type,
        body,
        chunked,
        budget,
        limits,
    )
    .await
}

#[expect(
    clippy::too_many_arguments,
    reason = "one private entry point for the two public forms"
)]
async fn post(
    endpoint: &Endpoint,
    transport: Transport,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    chunked: bool,
    budget: Duration,
    limits: &Limits,
) -> Exchange {
    let started = Instant::now();
    let deadline = started + budget;
    let mut rec = Recorder::new(transport, limits, started.into_std());
    let timeout = |stage: &str| AdapterError::Timeout {
        transport,
        budget_ms: net::millis(budget),
        stage: stage.to_owned(),
    };
    let url = match net::endpoint_url(&endpoint.base, path, Transport::Http) {
        Ok(url) => url,
        Err(e) => return settle(rec, None, Some(e)),
    };
    let shown = net::loggable(&url);
    tracing::info!(event = "http.run.start", transport = transport.as_str(), url = %shown, chunked);
    // Our own deadline fires first; reqwest's is the backstop.
    let mut request = endpoint.http.post(url).timeout(budget + BACKSTOP);
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    if transport == Transport::Sse {
        request = request.header(ACCEPT, "text/event-stream");
    }
    for (name, value) in endpoint.headers.iter() {
        request = request.header(name, value);
    }
    request = if chunked {
        let middle = body.len() / 2;
        let (head, tail) = body.split_at(middle);
        let parts = vec![Ok::<_, std::io::Error>(head.to_vec()), Ok(tail.to_vec())];
        request.body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            parts,
        )))
    } else {
        request.body(body)
    };
    let mut response = match tokio::time::timeout_at(deadline, request.send()).await {
        Err(_) => return settle(rec, None, Some(timeout("waiting for the response"))),
        Ok(Err(e)) => {
            let failure =
                send_failure(&mut rec, &shown, &e, || timeout("waiting for the response"));
            return settle(rec, None, failure);
        }
        Ok(Ok(response)) => response,
    };
    rec.http_status = Some(response.status().as_u16());
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if transport == Transport::Sse && essence == "text/event-stream" {
        return read_events(rec, &mut response, deadline, limits, timeout).await;
    }
    if transport == Transport::Sse && response.status().is_success() {
        // §6: a refusal (415, 400) or a crash (500) on `/run-stream` may be
        // a plain JSON envelope; an answer (200) is an event stream.
        rec.broke(
            BreakRule::HttpContentType,
            None,
            format!("content type {content_type:?} with status 200 on /run-stream, expected text/event-stream"),
        );
    } else if essence != "application/json" {
        let expected = if transport == Transport::Sse {
            "text/event-stream or application/json"
        } else {
            "application/json"
        };
        rec.broke(
            BreakRule::HttpContentType,
            None,
            format!("content type {content_type:?}, expected {expected}"),
        );
    }
    if let Some(length) = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && length > limits.max_message as u64
    {
        rec.broke(
            BreakRule::MessageTooLarge,
            None,
            format!("content length {length} over {} bytes", limits.max_message),
        );
        return settle(rec, None, None);
    }
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_) => return settle(rec, None, Some(timeout("reading the body"))),
            Ok(Err(e)) if e.is_timeout() => {
                return settle(rec, None, Some(timeout("reading the body")));
            }
            Ok(Err(e)) => {
                rec.broke(
                    BreakRule::HttpResponseBroken,
                    None,
                    format!("body cut: {}", net::chain(&e)),
                );
                return settle(rec, None, None);
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > limits.max_message {
                    rec.broke(
                        BreakRule::MessageTooLarge,
                        None,
                        format!("body over {} bytes", limits.max_message),
                    );
                    return settle(rec, None, None);
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
    let answer = envelope(&mut rec, body, None);
    settle(rec, Some(answer), None)
}

/// The answer for envelope bytes; a break when they are not strict JSON.
fn envelope(rec: &mut Recorder, raw: Vec<u8>, at: Option<usize>) -> Answer {
    let canonical = match canon::canonicalize(&raw) {
        Ok(canonical) => Some(canonical),
        Err(e) => {
            rec.broke(BreakRule::EnvelopeNotJson, at, e.to_string());
            None
        }
    };
    Answer { raw, canonical }
}

/// A `send` error: unreachable, TLS, budget, or a response that broke off.
fn send_failure(
    rec: &mut Recorder,
    shown: &str,
    error: &reqwest::Error,
    timeout: impl FnOnce() -> AdapterError,
) -> Option<AdapterError> {
    let detail = net::chain(error);
    if net::is_tls(error) {
        Some(AdapterError::Tls {
            url: shown.to_owned(),
            detail,
        })
    } else if error.is_timeout() {
        Some(timeout())
    } else if error.is_connect() {
        Some(AdapterError::Unreachable {
            url: shown.to_owned(),
            detail,
        })
    } else {
        rec.broke(BreakRule::HttpResponseBroken, None, detail);
        None
    }
}

/// Reads the SSE stream: `progress` events, then exactly one `done`.
async fn read_events(
    mut rec: Recorder,
    response: &mut reqwest::Response,
    deadline: Instant,
    limits: &Limits,
    timeout: impl Fn(&str) -> AdapterError,
) -> Exchange {
    let mut parser = Parser::new(limits.max_message);
    let mut answer = None;
    let mut done_at: Option<Instant> = None;
    let mut events = Vec::new();
    let ended = loop {
        let until = done_at.map_or(deadline, |at| deadline.min(at + CLOSE_GRACE));
        let chunk = match tokio::time::timeout_at(until, response.chunk()).await {
            // After `done`, a stream left open is simply not read further.
            Err(_) if done_at.is_some() => break Ok(()),
            Err(_) => break Err(timeout("waiting for the done event")),
            Ok(Err(e)) if e.is_timeout() && done_at.is_none() => {
                break Err(timeout("waiting for the done event"));
            }
            Ok(Err(e)) => {
                if answer.is_none() {
                    rec.broke(
                        BreakRule::SseDoneMissing,
                        None,
                        format!("stream aborted before done: {}", net::chain(&e)),
                    );
                }
                break Ok(());
            }
            Ok(Ok(None)) => {
                if answer.is_none() {
                    rec.broke(
                        BreakRule::SseDoneMissing,
                        None,
                        "stream ended without a done event",
                    );
                }
                break Ok(());
            }
            Ok(Ok(Some(chunk))) => chunk,
        };
        if let Err(too_large) = parser.push(&chunk, &mut events) {
            let at = rec.frames.len();
            rec.broke(BreakRule::MessageTooLarge, Some(at), too_large.to_string());
            break Ok(());
        }
        for event in events.drain(..) {
            if on_event(&mut rec, &mut answer, event).is_err() {
                return settle(rec, answer, None);
            }
            if answer.is_some() && done_at.is_none() {
                done_at = Some(Instant::now());
            }
        }
    };
    settle(rec, answer, ended.err())
}

/// Checks one event against the sequence. `Err` when the frame cap is hit.
fn on_event(rec: &mut Recorder, answer: &mut Option<Answer>, event: Event) -> Result<(), FrameCap> {
    let index = rec.seen(&event.name, event.data.len())?;
    match (event.name.as_str(), answer.is_some()) {
        ("done", false) => *answer = Some(envelope(rec, event.data, Some(index))),
        ("done", true) => rec.broke(
            BreakRule::SseDoneDuplicate,
            Some(index),
            "a second done event",
        ),
        ("progress", false) => {}
        ("progress", true) => {
            rec.broke(BreakRule::SseAfterDone, Some(index), "progress after done")
        }
        (name, after) => {
            let name = theory_contract::text::head(name, 64);
            rec.broke(
                BreakRule::SseEventUnknown,
                Some(index),
                format!("event {name:?}"),
            );
            if after {
                rec.broke(
                    BreakRule::SseAfterDone,
                    Some(index),
                    format!("event {name:?} after done"),
                );
            }
        }
    }
    Ok(())
}

/// Logs `http.run.settle` and builds the exchange.
fn settle(rec: Recorder, answer: Option<Answer>, failure: Option<AdapterError>) -> Exchange {
    let exchange = rec.finish(answer, failure);
    let code = exchange.outcome.as_ref().err().map(|e| e.code().as_str());
    tracing::info!(
        event = "http.run.settle",
        transport = exchange.transport.as_str(),
        outcome = code.unwrap_or("ok"),
        status = exchange.http_status,
        events = exchange.frames.len(),
        breaks = exchange.breaks.len(),
        duration_ms = net::millis(exchange.elapsed),
    );
    if let Err(e) = &exchange.outcome {
        e.log();
    }
    exchange
}
