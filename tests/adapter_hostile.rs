//! Hostile peers the reference processor's catalogue does not have: tiny
//! servers on loopback (tokio-tungstenite, or raw TCP) that flood, send
//! giant messages, never close, or break the frame and event rules the
//! catalogue leaves alone. Each is cut off within its budget, with bounded
//! memory, and each break rule is named.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use theory_conform::adapter::{
    self, AdapterError, BreakRule, Endpoint, Exchange, Limits, Target, Transport, UrlSpec,
};
use theory_contract::{ErrorCode, Payload, RunRequest};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const ENVELOPE: &str = r#"{"execution_id":"hostile-1","meta":{"env_fingerprint":"cpu:1"},"outputs":[],"index_path":"/tmp/h/outputs.json","status":"success"}"#;

fn request() -> RunRequest {
    RunRequest {
        execution_id: "hostile-1".to_owned(),
        payload: Payload {
            inputs: serde_json::json!({"schema": "v1", "params": {"text": "x"}}),
            write_prefix: "/tmp/theory-hostile-1/".to_owned(),
            mode: "mock".to_owned(),
            storage: None,
        },
    }
}

fn normal() -> CloseFrame {
    CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }
}

fn frame(kind: &str, content: &str) -> Message {
    Message::text(format!(r#"{{"kind":"{kind}","content":{content}}}"#))
}

/// Serves every connection with `behaviour`; the endpoint that reaches it.
async fn serve_tcp<F, Fut>(behaviour: F) -> Endpoint
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(behaviour(stream));
        }
    });
    let mut url = url::Url::parse("http://127.0.0.1/").unwrap();
    url.set_port(Some(port)).unwrap();
    adapter::resolve(
        &Target::Url(UrlSpec { url, ca_file: None }),
        Duration::from_secs(5),
    )
    .await
    .unwrap()
}

#[expect(
    clippy::result_large_err,
    reason = "tungstenite's handshake callback signature"
)]
/// A WebSocket server: accepts (selecting `theory.run.v1` when offered, or
/// always when `force_subprotocol`), reads the first message, then runs `behaviour`.
async fn serve_ws<F, Fut>(force_subprotocol: bool, behaviour: F) -> Endpoint
where
    F: Fn(WebSocketStream<TcpStream>) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve_tcp(move |stream| async move {
        let callback = |request: &Request, mut response: Response| {
            let offered = request.headers().get("sec-websocket-protocol").is_some();
            if offered || force_subprotocol {
                response.headers_mut().insert(
                    "sec-websocket-protocol",
                    HeaderValue::from_static("theory.run.v1"),
                );
            }
            Ok(response)
        };
        let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
            return;
        };
        let _ = ws.next().await;
        behaviour(ws).await;
    })
    .await
}

/// Writes one raw, unmasked WebSocket frame header announcing `len` bytes.
async fn raw_header(stream: &mut TcpStream, first_byte: u8, len: u64) -> std::io::Result<()> {
    let mut header = vec![first_byte, 127];
    header.extend_from_slice(&len.to_be_bytes());
    stream.write_all(&header).await
}

/// Writes `total` bytes of `b'a'` in 64 KiB chunks, until the peer goes away.
async fn stream_bytes(stream: &mut TcpStream, total: u64) {
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0_u64;
    while sent < total {
        if stream.write_all(&chunk).await.is_err() {
            return;
        }
        sent += chunk.len() as u64;
    }
}

/// Reads an HTTP request's head (and whatever body came with it).
async fn read_head(stream: &mut TcpStream) -> String {
    let mut buffer = vec![0_u8; 64 * 1024];
    let mut read = 0;
    while read < buffer.len() {
        match stream.read(&mut buffer[read..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
        if buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&buffer[..read]).into_owned()
}

/// Answers one HTTP request with `head` + `body`, then closes.
async fn respond(mut stream: TcpStream, head: &str, body: &[u8]) {
    let _ = read_head(&mut stream).await;
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

fn sse_head() -> &'static str {
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
}

async fn call(
    endpoint: &Endpoint,
    transport: Transport,
    budget: Duration,
    limits: &Limits,
) -> Exchange {
    adapter::call(endpoint, transport, &request(), budget, limits).await
}

fn assert_break(exchange: &Exchange, rule: BreakRule) {
    assert!(exchange.broke(rule), "expected {rule}: {exchange:#?}");
    assert_eq!(
        exchange.outcome.as_ref().err().map(AdapterError::code),
        Some(ErrorCode::Internal)
    );
}

/// Peak resident memory of this process (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_flood_is_cut_at_the_frame_cap_within_budget() {
    let endpoint = serve_ws(false, |mut ws| async move {
        let _ = ws.send(frame("Ack", "{}")).await;
        while ws.send(frame("Event", r#"{"n":1}"#)).await.is_ok() {}
    })
    .await;
    let limits = Limits {
        max_message: 1024,
        max_frames: 1000,
    };
    let exchange = call(&endpoint, Transport::Ws, Duration::from_secs(10), &limits).await;
    assert_break(&exchange, BreakRule::TooManyFrames);
    assert_eq!(exchange.frames.len(), 1000);
    assert!(
        exchange.elapsed < Duration::from_secs(5),
        "{:?}",
        exchange.elapsed
    );

    // An SSE flood too.
    let endpoint = serve_tcp(|mut stream| async move {
        let _ = read_head(&mut stream).await;
        let _ = stream.write_all(sse_head().as_bytes()).await;
        while stream
            .write_all(b"event: progress\ndata: {}\n\n")
            .await
            .is_ok()
        {}
    })
    .await;
    let exchange = call(&endpoint, Transport::Sse, Duration::from_secs(10), &limits).await;
    assert_break(&exchange, BreakRule::TooManyFrames);
    assert_eq!(exchange.frames.len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabyte_messages_are_refused_while_reading_with_bounded_memory() {
    const HUNDRED_MB: u64 = 100 * 1024 * 1024;
    let limits = Limits::default();
    let budget = Duration::from_secs(15);
    let before = peak_rss();

    // One WS frame announcing 100 MB.
    let endpoint = serve_ws(false, |mut ws| async move {
        let stream = ws.get_mut();
        if raw_header(stream, 0x81, HUNDRED_MB).await.is_ok() {
            stream_bytes(stream, HUNDRED_MB).await;
        }
    })
    .await;
    let exchange = call(&endpoint, Transport::Ws, budget, &limits).await;
    assert_break(&exchange, BreakRule::MessageTooLarge);

    // 100 fragments of 1 MiB: each frame fits, the message does not.
    let endpoint = serve_ws(false, |mut ws| async move {
        let stream = ws.get_mut();
        for i in 0..100_u8 {
            let first_byte = if i == 0 { 0x01 } else { 0x00 };
            if raw_header(stream, first_byte, 1024 * 1024).await.is_err() {
                return;
            }
            stream_bytes(stream, 1024 * 1024).await;
        }
    })
    .await;
    let exchange = call(&endpoint, Transport::Ws, budget, &limits).await;
    assert_break(&exchange, BreakRule::MessageTooLarge);

    // HTTP: announced by Content-Length, and chunked without end.
    let endpoint = serve_tcp(|mut stream| async move {
        let _ = read_head(&mut stream).await;
        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {HUNDRED_MB}\r\n\r\n");
        if stream.write_all(head.as_bytes()).await.is_ok() {
            stream_bytes(&mut stream, HUNDRED_MB).await;
        }
    })
    .await;
    let exchange = call(&endpoint, Transport::Http, budget, &limits).await;
    assert_break(&exchange, BreakRule::MessageTooLarge);

    let endpoint = serve_tcp(|mut stream| async move {
        let _ = read_head(&mut stream).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("10000\r\n{}\r\n", "a".repeat(0x10000));
        for _ in 0..1600 {
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    let exchange = call(&endpoint, Transport::Http, budget, &limits).await;
    assert_break(&exchange, BreakRule::MessageTooLarge);

    // SSE: one endless data line.
    let endpoint = serve_tcp(|mut stream| async move {
        let _ = read_head(&mut stream).await;
        if stream.write_all(sse_head().as_bytes()).await.is_ok()
            && stream.write_all(b"data: ").await.is_ok()
        {
            stream_bytes(&mut stream, HUNDRED_MB).await;
        }
    })
    .await;
    let exchange = call(&endpoint, Transport::Sse, budget, &limits).await;
    assert_break(&exchange, BreakRule::MessageTooLarge);

    let grown = peak_rss().saturating_sub(before);
    assert!(
        grown < 64 * 1024 * 1024,
        "peak memory grew by {} MiB",
        grown / (1024 * 1024)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_closes_after_the_result_is_cut_after_the_close_grace() {
    let endpoint = serve_ws(false, |mut ws| async move {
        let _ = ws.send(frame("Ack", "{}")).await;
        let _ = ws.send(frame("RunResult", ENVELOPE)).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let exchange = call(
        &endpoint,
        Transport::Ws,
        Duration::from_secs(10),
        &Limits::default(),
    )
    .await;
    assert_break(&exchange, BreakRule::WsCloseMissing);
    assert!(exchange.close.is_none());
    assert!(
        exchange.elapsed >= adapter::CLOSE_GRACE
            && exchange.elapsed < adapter::CLOSE_GRACE + Duration::from_secs(1),
        "{:?}",
        exchange.elapsed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_peers_are_err_timeout_at_the_budget() {
    let budget = Duration::from_millis(700);
    let ws = serve_ws(false, |ws| async move {
        let _open = ws;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    // Headers, then one byte every 200 ms, forever (slowloris); an event
    // stream's headers on `/run-stream`, so the SSE side is slow, not wrong.
    let slow = serve_tcp(|mut stream| async move {
        let head = read_head(&mut stream).await;
        let content_type = if head.starts_with("POST /run-stream") {
            "text/event-stream"
        } else {
            "application/json"
        };
        let _ = stream
            .write_all(
                format!("HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: 1000\r\n\r\n")
                    .as_bytes(),
            )
            .await;
        for _ in 0..150 {
            if stream.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    for (endpoint, transport) in [
        (&ws, Transport::Ws),
        (&slow, Transport::Http),
        (&slow, Transport::Sse),
    ] {
        let started = Instant::now();
        let exchange = call(endpoint, transport, budget, &Limits::default()).await;
        assert!(
            matches!(exchange.outcome, Err(AdapterError::Timeout { .. })),
            "{transport}: {exchange:#?}"
        );
        assert!(
            started.elapsed() < budget + Duration::from_millis(400),
            "{transport}: {:?}",
            started.elapsed()
        );
    }
}

/// WebSocket peers that break one rule each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_frame_rules_are_named() {
    let budget = Duration::from_secs(5);
    let limits = Limits::default();

    let binary = serve_ws(false, |mut ws| async move {
        let _ = ws.send(frame("Ack", "{}")).await;
        let _ = ws.send(Message::binary(b"\x00\x01".to_vec())).await;
        let _ = ws.send(frame("RunResult", ENVELOPE)).await;
        let _ = ws.close(None).await;
    })
    .await;
    let exchange = call(&binary, Transport::Ws, budget, &limits).await;
    assert_break(&exchange, BreakRule::WsFrameNotText);
    assert_eq!(exchange.frames[1].kind, "<binary>");

    let not_json = serve_ws(false, |mut ws| async move {
        let _ = ws.send(frame("Ack", "{}")).await;
        let _ = ws.send(Message::text("{oops")).await;
        let _ = ws.close(None).await;
    })
    .await;
    let exchange = call(&not_json, Transport::Ws, budget, &limits).await;
    assert_break(&exchange, BreakRule::WsFrameNotJson);
    assert_eq!(exchange.frames[1].kind, "<not-json>");

    let shape = serve_ws(false, |mut ws| async move {
        let _ = ws.send(Message::text(r#"{"kind":"Ack"}"#)).await;
        let _ = ws.close(None).await;
    })
    .await;
    let exchange = call(&shape, Transport::Ws, budget, &limits).await;
    assert_break(&exchange, BreakRule::WsFrameShape);

    let two_acks = serve_ws(false, |mut ws| async move {
        let _ = ws.send(frame("Ack", "{}")).await;
        let _ = ws.send(frame("Ack", "{}")).await;
        let _ = ws.send(frame("RunResult", ENVELOPE)).await;
        let _ = ws.close(None).await;
    })
    .await;
    let exchange = call(&two_acks, Transport::Ws, budget, &limits).await;
    assert_break(&exchange, BreakRule::WsAckMisplaced);

    // Reserved bits set: not a valid frame.
    let invalid = serve_ws(false, |mut ws| async move {
        let stream = ws.get_mut();
        let _ = stream.write_all(&[0xF1, 2, b'{', b'}']).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
    })
    .await;
    let exchange = call(&invalid, Transport::Ws, budget, &limits).await;
    assert_break(&exchange, BreakRule::WsFrameInvalid);

    // The positive case: the same kind of server, by the book.
    let good = serve_ws(false, |mut ws| async move {
        let _ = ws.send(frame("Ack", "{}")).await;
        let _ = ws.send(frame("Token", r#""t""#)).await;
        let _ = ws.send(Message::Ping(vec![1].into())).await;
        let _ = ws.send(frame("RunResult", ENVELOPE)).await;
        let _ = ws.close(Some(normal())).await;
        while ws.next().await.is_some() {}
    })
    .await;
    let exchange = call(&good, Transport::Ws, budget, &limits).await;
    let answer = exchange.outcome.as_ref().unwrap();
    assert_eq!(
        answer.raw,
        ENVELOPE.as_bytes(),
        "the envelope bytes as received"
    );
    assert_eq!(exchange.frames.len(), 3, "pings are not frames");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_handshake_rules_are_named() {
    let budget = Duration::from_secs(5);
    let limits = Limits::default();

    // Selects the subprotocol although none was offered.
    let pushy = serve_ws(true, |mut ws| async move {
        let _ = ws.close(None).await;
    })
    .await;
    let exchange = adapter::ws_raw(&pushy, adapter::WsMessage::None, false, budget, &limits).await;
    assert_break(&exchange, BreakRule::WsSubprotocolUnexpected);

    // A 101 with a wrong accept key.
    let wrong_key = serve_tcp(|stream| {
        respond(
            stream,
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: wrong\r\nsec-websocket-protocol: theory.run.v1\r\n\r\n",
            b"",
        )
    })
    .await;
    let exchange = call(&wrong_key, Transport::Ws, budget, &limits).await;
    assert_break(&exchange, BreakRule::WsHandshakeInvalid);

    // A plain 200: refused.
    let refusing = serve_tcp(|stream| {
        respond(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n",
            b"no",
        )
    })
    .await;
    let exchange = call(&refusing, Transport::Ws, budget, &limits).await;
    assert_break(&exchange, BreakRule::WsHandshakeRefused);
    assert_eq!(exchange.http_status, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_sse_rules_are_named() {
    let budget = Duration::from_secs(5);
    let limits = Limits::default();
    let json_head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        ENVELOPE.len()
    );

    let http_answer = |head: String, body: &'static [u8]| {
        move |stream: TcpStream| {
            let head = head.clone();
            async move { respond(stream, &head, body).await }
        }
    };
    // By the book (the positive case).
    let good = serve_tcp(http_answer(json_head.clone(), ENVELOPE.as_bytes())).await;
    let exchange = call(&good, Transport::Http, budget, &limits).await;
    assert_eq!(exchange.outcome.unwrap().raw, ENVELOPE.as_bytes());

    let text_plain = serve_tcp(http_answer(
        json_head.replace("application/json", "text/plain"),
        ENVELOPE.as_bytes(),
    ))
    .await;
    assert_break(
        &call(&text_plain, Transport::Http, budget, &limits).await,
        BreakRule::HttpContentType,
    );

    let not_json_head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 8\r\n\r\n".to_owned();
    let not_json = serve_tcp(http_answer(not_json_head, b"not json")).await;
    assert_break(
        &call(&not_json, Transport::Http, budget, &limits).await,
        BreakRule::EnvelopeNotJson,
    );

    // The connection closes without any response.
    let hang_up = serve_tcp(|mut stream| async move {
        let _ = read_head(&mut stream).await;
    })
    .await;
    assert_break(
        &call(&hang_up, Transport::Http, budget, &limits).await,
        BreakRule::HttpResponseBroken,
    );

    let sse = |events: &'static str| {
        move |stream: TcpStream| async move { respond(stream, sse_head(), events.as_bytes()).await }
    };
    let cases = [
        (
            "event: progress\ndata: {}\n\nevent: done\ndata: {}\n\nevent: done\ndata: {}\n\n",
            BreakRule::SseDoneDuplicate,
        ),
        (
            "event: progress\ndata: {}\n\nevent: done\ndata: {}\n\nevent: progress\ndata: {}\n\n",
            BreakRule::SseAfterDone,
        ),
        (
            "event: progress\ndata: {}\n\nevent: tick\ndata: {}\n\nevent: done\ndata: {}\n\n",
            BreakRule::SseEventUnknown,
        ),
        (
            "data: {}\n\nevent: done\ndata: {}\n\n",
            BreakRule::SseEventUnknown,
        ),
        ("event: done\ndata: {nope\n\n", BreakRule::EnvelopeNotJson),
        ("event: progress\ndata: {}\n\n", BreakRule::SseDoneMissing),
    ];
    for (events, rule) in cases {
        let endpoint = serve_tcp(sse(events)).await;
        let exchange = call(&endpoint, Transport::Sse, budget, &limits).await;
        assert_break(&exchange, rule);
        assert!(
            exchange.elapsed < Duration::from_secs(4),
            "{rule}: {:?}",
            exchange.elapsed
        );
    }
    let endpoint = serve_tcp(sse(
        "event: progress\ndata: {\"a\":1}\n\nevent: done\ndata: {}\n\n",
    ))
    .await;
    let exchange = call(&endpoint, Transport::Sse, budget, &limits).await;
    assert_eq!(exchange.outcome.unwrap().raw, b"{}");
}

/// A short raw WebSocket frame (payload under 126 bytes), unmasked.
async fn raw_small_frame(stream: &mut TcpStream, first_byte: u8, payload: &[u8]) {
    let mut frame = vec![first_byte, u8::try_from(payload.len()).unwrap()];
    frame.extend_from_slice(payload);
    let _ = stream.write_all(&frame).await;
}

/// JSON nested `depth` arrays deep.
fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// The rest of issue 17's hostile peers, each with its verdict, time and
/// the test's peak memory printed: invalid UTF-8 in a text frame,
/// 100,000-deep JSON over WebSocket and HTTP, a 1 GiB HTTP body, response
/// headers that never end (slowloris) and an SSE stream that never ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_other_hostile_peer_ends_in_its_verdict_within_budget_with_bounded_memory() {
    const GIB: u64 = 1024 * 1024 * 1024;
    let budget = Duration::from_secs(3);
    let margin = Duration::from_millis(600);
    let before = peak_rss();
    let invalid_utf8 = serve_ws(false, |mut ws| async move {
        let _ = ws.send(frame("Ack", "{}")).await;
        raw_small_frame(ws.get_mut(), 0x81, &[b'{', 0xff, 0xfe, 0xfd, b'}']).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let deep_ws = serve_ws(false, |mut ws| async move {
        let _ = ws.send(frame("Ack", "{}")).await;
        let _ = ws.send(frame("RunResult", &nested(100_000))).await;
        let _ = ws.close(Some(normal())).await;
    })
    .await;
    let deep_http = serve_tcp(|stream| async move {
        let body = nested(100_000);
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        respond(stream, &head, body.as_bytes()).await;
    })
    .await;
    let gib_body = serve_tcp(|mut stream| async move {
        let _ = read_head(&mut stream).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {GIB}\r\n\r\n"
        );
        if stream.write_all(head.as_bytes()).await.is_ok() {
            stream_bytes(&mut stream, GIB).await;
        }
    })
    .await;
    let slowloris = serve_tcp(|mut stream| async move {
        let _ = read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nx-slow: ").await;
        for _ in 0..200 {
            if stream.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let endless_sse = serve_tcp(|mut stream| async move {
        let _ = read_head(&mut stream).await;
        let _ = stream.write_all(sse_head().as_bytes()).await;
        for _ in 0..200 {
            if stream
                .write_all(b"event: progress\ndata: {}\n\n")
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let cases = [
        (
            "invalid UTF-8 text frame",
            &invalid_utf8,
            Transport::Ws,
            ErrorCode::Internal,
        ),
        (
            "100,000-deep JSON (ws)",
            &deep_ws,
            Transport::Ws,
            ErrorCode::Internal,
        ),
        (
            "100,000-deep JSON (http)",
            &deep_http,
            Transport::Http,
            ErrorCode::Internal,
        ),
        (
            "1 GiB HTTP body",
            &gib_body,
            Transport::Http,
            ErrorCode::Internal,
        ),
        (
            "slowloris headers",
            &slowloris,
            Transport::Http,
            ErrorCode::Timeout,
        ),
        (
            "endless SSE",
            &endless_sse,
            Transport::Sse,
            ErrorCode::Timeout,
        ),
    ];
    for (name, endpoint, transport, expected) in cases {
        let started = Instant::now();
        let exchange = call(endpoint, transport, budget, &Limits::default()).await;
        let elapsed = started.elapsed();
        let code = exchange.outcome.as_ref().err().map(AdapterError::code);
        println!(
            "{name}: {} in {} ms (budget {} ms), peak RSS {} MiB",
            code.map_or("success", |c| c.as_str()),
            elapsed.as_millis(),
            budget.as_millis(),
            peak_rss() / (1024 * 1024)
        );
        assert_eq!(code, Some(expected), "{name}: {exchange:#?}");
        assert!(elapsed < budget + margin, "{name}: {elapsed:?}");
    }
    let grown = peak_rss().saturating_sub(before);
    println!("peak RSS grew by {} MiB", grown / (1024 * 1024));
    assert!(
        grown < 64 * 1024 * 1024,
        "peak memory grew by {} MiB",
        grown / (1024 * 1024)
    );
}
