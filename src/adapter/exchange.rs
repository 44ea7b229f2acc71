//! The plain data one call produces: [`Exchange`] and its parts, the closed
//! set of protocol breaks ([`BreakRule`]) and the size caps ([`Limits`]).
//!
//! **Invariant:** data only; nothing here does IO or decides pass/fail. A
//! break records what the peer did against CONTRACT.md §6, with where; the
//! runner turns it into a verdict.

use std::fmt;
use std::time::{Duration, Instant};

use theory_contract::text::head;

use super::AdapterError;

pub use crate::vocab::Transport;

/// The largest message (WS message, HTTP body, SSE event) read by default: 2 MiB,
/// Modal's own cap.
pub const DEFAULT_MAX_MESSAGE: usize = 2 * 1024 * 1024;
/// The most frames or events read by default.
pub const DEFAULT_MAX_FRAMES: usize = 10_000;

/// Caps enforced while reading, never after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest single message, HTTP body or SSE event, in bytes.
    pub max_message: usize,
    /// The most WS frames or SSE events in one exchange.
    pub max_frames: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message: DEFAULT_MAX_MESSAGE,
            max_frames: DEFAULT_MAX_FRAMES,
        }
    }
}

/// The envelope one exchange delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The envelope's bytes as received: the HTTP body, the `done` event's
    /// data, or the `content` of the `RunResult` frame, byte for byte.
    pub raw: Vec<u8>,
    /// `canon::canonicalize(raw)` when `raw` parses strictly.
    pub canonical: Option<Vec<u8>>,
}

/// One frame or event, as seen (contents are never kept: CONTRACT.md §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Position among the frames (or events) of the exchange, from 0.
    pub index: usize,
    /// The frame's `kind`, the SSE event name, or `<binary>`,
    /// `<not-json>`, `<not-frame>`. At most [`KIND_MAX`] bytes.
    pub kind: String,
    /// Its size in bytes.
    pub bytes: usize,
}

impl Seen {
    /// The frame's kind, when it is one of the contract's.
    pub fn frame_kind(&self) -> Option<theory_contract::FrameKind> {
        theory_contract::FrameKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == self.kind)
    }
}

/// The longest `kind` kept in a [`Seen`]; longer ones are cut.
pub const KIND_MAX: usize = 64;

/// A protocol break: which rule, at which frame, and what was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    /// The rule broken.
    pub rule: BreakRule,
    /// The frame (or event) index, when the break is about one.
    pub at: Option<usize>,
    /// Short, redacted description of what was seen.
    pub detail: String,
}

/// A WebSocket close frame as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Close {
    /// The close code (1005 when the frame carried none).
    pub code: u16,
    /// The close reason.
    pub reason: String,
}

/// Everything one call saw, as plain data.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// How the call talked.
    pub transport: Transport,
    /// `Ok` only when exactly one envelope arrived by the book.
    pub outcome: Result<Answer, AdapterError>,
    /// Frames (WS) or events (SSE) in arrival order; empty for HTTP.
    pub frames: Vec<Seen>,
    /// Protocol breaks, in the order they were seen.
    pub breaks: Vec<Break>,
    /// The HTTP status (101 for an accepted WebSocket handshake).
    pub http_status: Option<u16>,
    /// The close frame; `None` when none came (dropped, or open at the budget).
    pub close: Option<Close>,
    /// The subprotocol the server selected.
    pub subprotocol: Option<String>,
    /// From the start of the call to its end.
    pub elapsed: Duration,
}

impl Exchange {
    /// Whether `rule` was broken.
    pub fn broke(&self, rule: BreakRule) -> bool {
        self.breaks.iter().any(|b| b.rule == rule)
    }
}

macro_rules! rules {
    ($($rule:ident $id:literal $doc:literal;)*) => {
        /// The closed set of protocol breaks an adapter records, each with a
        /// stable id (reports and known-failure lists name them).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum BreakRule {
            $(#[doc = $doc] $rule,)*
        }

        impl BreakRule {
            /// Every rule, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$rule,)*];

            /// The stable id, e.g. `ws.ack.missing`.
            pub const fn id(self) -> &'static str {
                match self {
                    $(Self::$rule => $id,)*
                }
            }

            /// The one-line requirement it breaks.
            pub const fn requirement(self) -> &'static str {
                match self {
                    $(Self::$rule => $doc,)*
                }
            }
        }
    };
}

rules! {
    WsHandshakeRefused "ws.handshake.refused" "The WebSocket handshake is accepted (101).";
    WsHandshakeInvalid "ws.handshake.invalid" "The WebSocket handshake response is valid (RFC 6455).";
    WsSubprotocolNotSelected "ws.subprotocol.not_selected" "A handshake offering `theory.run.v1` selects it.";
    WsSubprotocolUnexpected "ws.subprotocol.unexpected" "A handshake offering no subprotocol selects none.";
    WsFrameNotText "ws.frame.not_text" "Every server frame is a text frame.";
    WsFrameInvalid "ws.frame.invalid" "Every WebSocket frame is valid (RFC 6455: unmasked, UTF-8 text, known opcode).";
    WsFrameNotJson "ws.frame.not_json" "Every server frame is strict JSON.";
    WsFrameShape "ws.frame.shape" "Every server frame is an object with exactly `kind` (a string) and `content`.";
    WsFrameUnknownKind "ws.frame.unknown_kind" "Every server frame's kind is Ack, Token, Frame, Log, Event or RunResult.";
    WsAckMissing "ws.ack.missing" "The server's first frame is `Ack`.";
    WsAckMisplaced "ws.ack.misplaced" "`Ack` comes once, first.";
    WsResultMissing "ws.result.missing" "A `RunResult` frame arrives before the connection ends.";
    WsResultDuplicate "ws.result.duplicate" "Exactly one `RunResult` frame arrives.";
    WsFrameAfterResult "ws.frame.after_result" "No frame follows `RunResult`.";
    WsCloseCode "ws.close.code" "The server closes with 1000 after `RunResult`.";
    WsCloseMissing "ws.close.missing" "The server sends a close frame (within 2 s of `RunResult`).";
    MessageTooLarge "transport.message.too_large" "No message, body or event exceeds the size cap.";
    TooManyFrames "transport.frames.too_many" "No exchange exceeds the frame (event) cap.";
    HttpContentType "http.content_type" "An HTTP answer is `application/json` (SSE: `text/event-stream`).";
    HttpResponseBroken "http.response.broken" "An HTTP response arrives whole (status, headers, body).";
    SseDoneMissing "sse.done.missing" "The SSE stream carries a `done` event before it ends.";
    SseDoneDuplicate "sse.done.duplicate" "The SSE stream carries exactly one `done` event.";
    SseEventUnknown "sse.event.unknown" "Every SSE event is `progress` or `done`.";
    SseAfterDone "sse.event.after_done" "No SSE event follows `done`.";
    EnvelopeNotJson "envelope.not_json" "The envelope is strict JSON.";
}

impl fmt::Display for BreakRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The longest break detail kept.
const DETAIL_MAX: usize = 240;

/// `b` cut to at most `max` bytes.
pub(crate) fn cut_bytes(b: &[u8], max: usize) -> &[u8] {
    &b[..b.len().min(max)]
}

/// Builds an [`Exchange`] while a transport reads.
pub(crate) struct Recorder {
    transport: Transport,
    started: Instant,
    max_frames: usize,
    pub(crate) frames: Vec<Seen>,
    pub(crate) breaks: Vec<Break>,
    pub(crate) http_status: Option<u16>,
    pub(crate) close: Option<Close>,
    pub(crate) subprotocol: Option<String>,
}

/// The frame cap was reached: the frame was not recorded, and the break was.
pub(crate) struct FrameCap;

impl Recorder {
    pub(crate) fn new(transport: Transport, limits: &Limits, started: Instant) -> Self {
        Self {
            transport,
            started,
            max_frames: limits.max_frames,
            frames: Vec::new(),
            breaks: Vec::new(),
            http_status: None,
            close: None,
            subprotocol: None,
        }
    }

    /// Records a frame; its index, or [`FrameCap`] (with the break recorded).
    pub(crate) fn seen(&mut self, kind: &str, bytes: usize) -> Result<usize, FrameCap> {
        let index = self.frames.len();
        if index >= self.max_frames {
            self.broke(
                BreakRule::TooManyFrames,
                Some(index),
                format!("more than {} frames", self.max_frames),
            );
            return Err(FrameCap);
        }
        self.frames.push(Seen {
            index,
            kind: head(kind, KIND_MAX).to_owned(),
            bytes,
        });
        Ok(index)
    }

    /// Records a break (its detail redacted and bounded).
    pub(crate) fn broke(&mut self, rule: BreakRule, at: Option<usize>, detail: impl AsRef<str>) {
        let detail = crate::redact::text(head(detail.as_ref(), DETAIL_MAX));
        self.breaks.push(Break { rule, at, detail });
    }

    /// The exchange. A break wins over `failure`, which wins over `answer`:
    /// the outcome is `Ok` only for an answer with no break and no failure.
    pub(crate) fn finish(self, answer: Option<Answer>, failure: Option<AdapterError>) -> Exchange {
        let outcome = match (self.breaks.first(), failure, answer) {
            (Some(first), _, _) => Err(AdapterError::Protocol {
                rule: first.rule,
                at: first.at,
                detail: first.detail.clone(),
            }),
            (None, Some(failure), _) => Err(failure),
            (None, None, Some(answer)) => Ok(answer),
            (None, None, None) => Err(AdapterError::Protocol {
                rule: match self.transport {
                    Transport::Ws => BreakRule::WsResultMissing,
                    Transport::Sse => BreakRule::SseDoneMissing,
                    Transport::Http => BreakRule::HttpResponseBroken,
                },
                at: None,
                detail: "no envelope".to_owned(),
            }),
        };
        Exchange {
            transport: self.transport,
            outcome,
            frames: self.frames,
            breaks: self.breaks,
            http_status: self.http_status,
            close: self.close,
            subprotocol: self.subprotocol,
            elapsed: self.started.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_dotted() {
        let mut ids: Vec<&str> = BreakRule::ALL.iter().map(|r| r.id()).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate rule id");
        for id in ids {
            assert!(
                id.contains('.')
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'),
                "{id}"
            );
        }
    }

    #[test]
    fn frame_cap_records_the_break_once_and_refuses_the_frame() {
        let limits = Limits {
            max_message: 10,
            max_frames: 1,
        };
        let mut rec = Recorder::new(Transport::Ws, &limits, Instant::now());
        assert!(matches!(rec.seen("Ack", 3), Ok(0)));
        assert!(rec.seen("Event", 3).is_err());
        let exchange = rec.finish(None, None);
        assert_eq!(exchange.frames.len(), 1);
        assert!(exchange.broke(BreakRule::TooManyFrames));
        assert!(matches!(
            exchange.outcome,
            Err(AdapterError::Protocol {
                rule: BreakRule::TooManyFrames,
                at: Some(1),
                ..
            })
        ));
    }

    #[test]
    fn an_answer_without_break_or_failure_is_ok() {
        let mut rec = Recorder::new(Transport::Http, &Limits::default(), Instant::now());
        rec.http_status = Some(200);
        let answer = Answer {
            raw: b"{}".to_vec(),
            canonical: Some(b"{}".to_vec()),
        };
        assert!(rec.finish(Some(answer), None).outcome.is_ok());
    }
}
