//! The wire trace a failure shows, and whether an exchange broke its
//! streaming protocol.

use crate::adapter::{AdapterError, Exchange, Transport};

/// The wire trace of an exchange, one fact per line, redacted.
pub fn trace(exchange: &Exchange) -> String {
    let mut out = format!("transport: {}\n", exchange.transport);
    if let Some(status) = exchange.http_status {
        out.push_str(&format!("http status: {status}\n"));
    }
    if let Some(sub) = &exchange.subprotocol {
        out.push_str(&format!("subprotocol: {sub}\n"));
    }
    if !exchange.frames.is_empty() {
        let frames: Vec<String> = exchange
            .frames
            .iter()
            .map(|f| format!("#{} {} ({} B)", f.index, f.kind, f.bytes))
            .collect();
        out.push_str(&format!("frames: {}\n", frames.join(", ")));
    }
    for b in &exchange.breaks {
        let at = b.at.map(|i| format!(" at frame {i}")).unwrap_or_default();
        out.push_str(&format!("break: {}{at}: {}\n", b.rule, b.detail));
    }
    if let Some(close) = &exchange.close {
        out.push_str(&format!("close: {} {:?}\n", close.code, close.reason));
    }
    match &exchange.outcome {
        Ok(answer) => out.push_str(&format!("answer: {} B\n", answer.raw.len())),
        Err(e) => out.push_str(&format!("outcome: {} ({})\n", e, e.code().as_str())),
    }
    crate::redact::text(&out)
}

/// Whether the exchange broke the WebSocket or SSE protocol: the sequence
/// checks (`ws_sequence`, `sse_sequence`) own those findings, so a check
/// about the envelope skips rather than repeat them.
pub(super) fn sequence_broken(exchange: &Exchange) -> bool {
    matches!(exchange.transport, Transport::Ws | Transport::Sse)
        && matches!(exchange.outcome, Err(AdapterError::Protocol { .. }))
}
