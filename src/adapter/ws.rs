//! WebSocket `/run` with the subprotocol `theory.run.v1` (CONTRACT.md §6):
//! connect, send the first frame, read and check the server's frames, wait
//! for the close.
//!
//! Every await is bounded by the call's deadline; after `RunResult` the
//! close may take at most [`CLOSE_GRACE`]. Message and frame sizes are capped
//! by tungstenite while it reads, and the frame count by the recorder.
//!
//! **Invariant:** progress frames are recorded by kind and size only, never
//! parsed beyond their shape; the envelope is the `RunResult` content's
//! bytes as received.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use theory_contract::canon;
use theory_contract::{CLOSE_NORMAL, Frame, FrameKind, RunRequest, SUBPROTOCOL};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError, SubProtocolError};
use tokio_tungstenite::tungstenite::http::header::{
    HeaderName, HeaderValue, SEC_WEBSOCKET_PROTOCOL,
};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, connect_async_tls_with_config};

use super::exchange::{FrameCap, Recorder};
use super::ws_frame::{content_span, frame_shape, parse_frame, server_kind};
use super::{AdapterError, Answer, BreakRule, Close, Endpoint, Exchange, Limits, Transport, net};

/// How long the server may take to close after `RunResult`.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The first message a raw WebSocket exchange sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsMessage {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// Nothing: connect and listen.
    None,
}

/// The normal call: `RunOpen` with `request`, one envelope back.
pub(crate) async fn call(
    endpoint: &Endpoint,
    request: &RunRequest,
    budget: Duration,
    limits: &Limits,
) -> Exchange {
    let first = WsMessage::Text(Frame::run_open(request.clone()).to_text());
    exchange(endpoint, first, true, budget, limits).await
}

/// One WebSocket exchange with an arbitrary first message, offering the
/// subprotocol or not: for the contract suites (1002, 1008, subprotocol).
pub async fn ws_raw(
    endpoint: &Endpoint,
    first: WsMessage,
    offer_subprotocol: bool,
    budget: Duration,
    limits: &Limits,
) -> Exchange {
    exchange(endpoint, first, offer_subprotocol, budget, limits).await
}

/// What the reader has seen of the sequence.
#[derive(Default)]
struct Sequence {
    acked: bool,
    answer: Option<Answer>,
    result_at: Option<Instant>,
}

/// Why the read loop stopped.
enum Stop {
    /// A close frame arrived.
    Closed,
    /// The connection ended without a close frame.
    Dropped(String),
    /// The run budget ran out.
    Budget,
    /// No close within [`CLOSE_GRACE`] after `RunResult`.
    Grace,
    /// A cap or an unreadable frame: nothing more can be read.
    Broken,
}

async fn exchange(
    endpoint: &Endpoint,
    first: WsMessage,
    offer: bool,
    budget: Duration,
    limits: &Limits,
) -> Exchange {
    let started = Instant::now();
    let deadline = started + budget;
    let mut rec = Recorder::new(Transport::Ws, limits, started.into_std());
    let timeout = |stage: &str| AdapterError::Timeout {
        transport: Transport::Ws,
        budget_ms: net::millis(budget),
        stage: stage.to_owned(),
    };
    let url = match net::endpoint_url(&endpoint.base, "run", Transport::Ws) {
        Ok(url) => url,
        Err(e) => return settle(rec, None, Some(e)),
    };
    let shown = net::loggable(&url);
    tracing::info!(event = "ws.connect.start", url = %shown, subprotocol_offered = offer);
    let mut request = match url.as_str().into_client_request() {
        Ok(request) => request,
        Err(e) => {
            let error = AdapterError::InvalidUrl {
                url: shown,
                reason: e.to_string(),
            };
            return settle(rec, None, Some(error));
        }
    };
    if offer {
        request.headers_mut().insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(SUBPROTOCOL),
        );
    }
    for (name, value) in endpoint.headers.iter() {
        if let (Ok(name), Ok(mut value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            value.set_sensitive(true);
            request.headers_mut().insert(name, value);
        }
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_message))
        .max_frame_size(Some(limits.max_message));
    let connector = Connector::Rustls(endpoint.tls.clone());
    let connecting = connect_async_tls_with_config(request, Some(config), true, Some(connector));
    let (mut socket, response) = match tokio::time::timeout_at(deadline, connecting).await {
        Err(_) => {
            tracing::warn!(event = "ws.connect.error", url = %shown, error = "budget spent while connecting");
            return settle(rec, None, Some(timeout("connecting")));
        }
        Ok(Err(e)) => {
            let failure = handshake_failure(&mut rec, &shown, e);
            tracing::warn!(
                event = "ws.connect.error",
                url = %shown,
                status = rec.http_status,
                error = %failure.as_ref().map_or_else(|| rec.breaks.first().map(|b| b.detail.clone()).unwrap_or_default(), ToString::to_string),
            );
            return settle(rec, None, failure);
        }
        Ok(Ok(connected)) => connected,
    };
    rec.http_status = Some(response.status().as_u16());
    rec.subprotocol = response
        .headers()
        .get(SEC_WEBSOCKET_PROTOCOL)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    tracing::info!(event = "ws.connect.ok", url = %shown, subprotocol = rec.subprotocol.as_deref());

    let message = match first {
        WsMessage::Text(text) => Some(Message::text(text)),
        WsMessage::Binary(bytes) => Some(Message::binary(bytes)),
        WsMessage::None => None,
    };
    tracing::info!(event = "ws.run.start", url = %shown);
    let mut stop = None;
    if let Some(message) = message {
        match tokio::time::timeout_at(deadline, socket.send(message)).await {
            Err(_) => stop = Some(Stop::Budget),
            Ok(Err(e)) => stop = Some(read_error(&mut rec, e)),
            Ok(Ok(())) => {}
        }
    }

    let mut seq = Sequence::default();
    let stop = match stop {
        Some(stop) => stop,
        None => loop {
            let until = seq
                .result_at
                .map_or(deadline, |at| deadline.min(at + CLOSE_GRACE));
            let next = tokio::time::timeout_at(until, socket.next()).await;
            match next {
                Err(_) if seq.result_at.is_some() && until < deadline => break Stop::Grace,
                Err(_) => break Stop::Budget,
                Ok(None) => break Stop::Dropped("connection ended".to_owned()),
                Ok(Some(Err(e))) => break read_error(&mut rec, e),
                Ok(Some(Ok(Message::Text(text)))) => {
                    if on_text(&mut rec, &mut seq, text.as_bytes()).is_err() {
                        break Stop::Broken;
                    }
                }
                Ok(Some(Ok(Message::Binary(bytes)))) => match rec.seen("<binary>", bytes.len()) {
                    Ok(index) => rec.broke(
                        BreakRule::WsFrameNotText,
                        Some(index),
                        format!("binary frame of {} bytes", bytes.len()),
                    ),
                    Err(FrameCap) => break Stop::Broken,
                },
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)))) => {}
                Ok(Some(Ok(Message::Close(frame)))) => {
                    rec.close = Some(match frame {
                        Some(frame) => Close {
                            code: u16::from(frame.code),
                            reason: frame.reason.as_str().to_owned(),
                        },
                        None => Close {
                            code: 1005,
                            reason: String::new(),
                        },
                    });
                    break Stop::Closed;
                }
            }
        },
    };

    // Let tungstenite answer the close and the server end the connection.
    if matches!(stop, Stop::Closed) {
        let until = deadline.min(Instant::now() + CLOSE_GRACE);
        let drain = async { while let Some(Ok(_)) = socket.next().await {} };
        let _ = tokio::time::timeout_at(until, drain).await;
    }
    drop(socket);

    let mut failure = None;
    match stop {
        Stop::Closed => {
            if let (Some(close), Some(_)) = (&rec.close, &seq.answer)
                && close.code != CLOSE_NORMAL
            {
                let detail = format!(
                    "closed with {} {:?} after RunResult",
                    close.code, close.reason
                );
                rec.broke(BreakRule::WsCloseCode, None, detail);
            }
            if seq.answer.is_none() {
                let detail = match &rec.close {
                    Some(close) => format!(
                        "closed with {} {:?} before any RunResult",
                        close.code, close.reason
                    ),
                    None => "closed before any RunResult".to_owned(),
                };
                rec.broke(BreakRule::WsResultMissing, None, detail);
            }
        }
        Stop::Dropped(how) => {
            if seq.answer.is_none() {
                rec.broke(
                    BreakRule::WsResultMissing,
                    None,
                    format!("{how} before any RunResult"),
                );
            }
            rec.broke(
                BreakRule::WsCloseMissing,
                None,
                format!("{how} without a close frame"),
            );
        }
        Stop::Grace => {
            let detail = format!(
                "no close frame within {} ms after RunResult",
                net::millis(CLOSE_GRACE)
            );
            rec.broke(BreakRule::WsCloseMissing, None, detail);
        }
        Stop::Budget if seq.answer.is_some() => {
            rec.broke(
                BreakRule::WsCloseMissing,
                None,
                "no close frame before the budget ran out",
            );
        }
        Stop::Budget => {
            let stage = if rec.frames.is_empty() {
                "waiting for Ack"
            } else {
                "waiting for RunResult"
            };
            failure = Some(timeout(stage));
        }
        Stop::Broken => {}
    }
    settle(rec, seq.answer, failure)
}

/// Logs `ws.run.settle` and builds the exchange.
fn settle(rec: Recorder, answer: Option<Answer>, failure: Option<AdapterError>) -> Exchange {
    let exchange = rec.finish(answer, failure);
    let code = exchange.outcome.as_ref().err().map(|e| e.code().as_str());
    tracing::info!(
        event = "ws.run.settle",
        outcome = code.unwrap_or("ok"),
        frames = exchange.frames.len(),
        breaks = exchange.breaks.len(),
        close = exchange.close.as_ref().map(|c| c.code),
        duration_ms = net::millis(exchange.elapsed),
    );
    if let Err(e) = &exchange.outcome {
        e.log();
    }
    exchange
}

/// A handshake that did not give a socket: a failure (nothing reachable) or
/// a recorded break (the server answered, wrongly).
fn handshake_failure(rec: &mut Recorder, shown: &str, error: WsError) -> Option<AdapterError> {
    match error {
        WsError::Http(response) => {
            let status = response.status().as_u16();
            rec.http_status = Some(status);
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(super::exchange::cut_bytes(b, 200)).into_owned());
            rec.broke(
                BreakRule::WsHandshakeRefused,
                None,
                format!("status {status}: {}", body.unwrap_or_default()),
            );
            None
        }
        WsError::Protocol(ProtocolError::SecWebSocketSubProtocolError(sub)) => {
            let rule = match sub {
                SubProtocolError::ServerSentSubProtocolNoneRequested => {
                    BreakRule::WsSubprotocolUnexpected
                }
                SubProtocolError::NoSubProtocol | SubProtocolError::InvalidSubProtocol => {
                    BreakRule::WsSubprotocolNotSelected
                }
            };
            rec.http_status = Some(101);
            rec.broke(rule, None, sub.to_string());
            None
        }
        WsError::Io(e) if net::is_tls(&e) => Some(AdapterError::Tls {
            url: shown.to_owned(),
            detail: net::chain(&e),
        }),
        WsError::Io(e) => Some(AdapterError::Unreachable {
            url: shown.to_owned(),
            detail: net::chain(&e),
        }),
        WsError::Tls(e) => Some(AdapterError::Tls {
            url: shown.to_owned(),
            detail: net::chain(&e),
        }),
        WsError::Url(e) => Some(AdapterError::InvalidUrl {
            url: shown.to_owned(),
            reason: e.to_string(),
        }),
        WsError::ConnectionClosed | WsError::AlreadyClosed => Some(AdapterError::Unreachable {
            url: shown.to_owned(),
            detail: "connection closed during the handshake".to_owned(),
        }),
        e @ (WsError::Protocol(_)
        | WsError::Capacity(_)
        | WsError::WriteBufferFull(_)
        | WsError::Utf8(_)
        | WsError::AttackAttempt
        | WsError::HttpFormat(_)) => {
            rec.broke(BreakRule::WsHandshakeInvalid, None, e.to_string());
            None
        }
    }
}

/// A read or write error after the handshake: records what it means.
fn read_error(rec: &mut Recorder, error: WsError) -> Stop {
    match error {
        WsError::Capacity(e) => {
            let at = rec.frames.len();
            rec.broke(BreakRule::MessageTooLarge, Some(at), e.to_string());
            Stop::Broken
        }
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            Stop::Dropped("connection closed".to_owned())
        }
        WsError::Io(e) => Stop::Dropped(format!("connection lost ({e})")),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            Stop::Dropped("connection reset".to_owned())
        }
        WsError::Tls(e) => Stop::Dropped(format!("tls failure ({e})")),
        e @ (WsError::Protocol(_)
        | WsError::Utf8(_)
        | WsError::AttackAttempt
        | WsError::WriteBufferFull(_)
        | WsError::Url(_)
        | WsError::Http(_)
        | WsError::HttpFormat(_)) => {
            let at = rec.frames.len();
            rec.broke(BreakRule::WsFrameInvalid, Some(at), e.to_string());
            Stop::Broken
        }
    }
}

/// Checks one text frame against the sequence. `Err` when the frame cap is hit.
fn on_text(rec: &mut Recorder, seq: &mut Sequence, text: &[u8]) -> Result<(), FrameCap> {
    let value = match parse_frame(text) {
        Ok(value) => value,
        Err(e) => {
            let index = rec.seen("<not-json>", text.len())?;
            rec.broke(BreakRule::WsFrameNotJson, Some(index), e.to_string());
            return Ok(());
        }
    };
    let (kind_name, shape) = frame_shape(&value);
    let index = rec.seen(kind_name.unwrap_or("<not-frame>"), text.len())?;
    if let Err(problem) = shape {
        rec.broke(BreakRule::WsFrameShape, Some(index), problem);
        return Ok(());
    }
    let kind_name = kind_name.unwrap_or_default();
    let Some(kind) = server_kind(kind_name) else {
        rec.broke(
            BreakRule::WsFrameUnknownKind,
            Some(index),
            format!("kind {:?}", theory_contract::text::head(kind_name, 64)),
        );
        return Ok(());
    };
    if index == 0 && kind != FrameKind::Ack {
        rec.broke(
            BreakRule::WsAckMissing,
            Some(index),
            format!("the first frame is {}", kind.as_str()),
        );
    }
    if seq.answer.is_some() {
        if kind == FrameKind::RunResult {
            rec.broke(
                BreakRule::WsResultDuplicate,
                Some(index),
                "a second RunResult",
            );
        } else {
            rec.broke(
                BreakRule::WsFrameAfterResult,
                Some(index),
                format!("{} after RunResult", kind.as_str()),
            );
        }
        return Ok(());
    }
    match kind {
        FrameKind::Ack if index == 0 => seq.acked = true,
        FrameKind::Ack => {
            let detail = if seq.acked {
                "a second Ack"
            } else {
                "Ack after other frames"
            };
            rec.broke(BreakRule::WsAckMisplaced, Some(index), detail);
        }
        FrameKind::RunResult => {
            let raw = content_span(text).map_or_else(Vec::new, |span| text[span].to_vec());
            let canonical = canon::canonicalize(&raw).ok();
            seq.answer = Some(Answer { raw, canonical });
            seq.result_at = Some(Instant::now());
        }
        FrameKind::Token
        | FrameKind::Frame
        | FrameKind::Log
        | FrameKind::Event
        | FrameKind::RunOpen => {}
    }
    Ok(())
}
