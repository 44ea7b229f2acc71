//! The request and the WebSocket frames (CONTRACT.md §5, §6).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Envelope, PrefixError, WritePrefix};

/// The WebSocket subprotocol a processor must select.
pub const SUBPROTOCOL: &str = "theory.run.v1";
/// Close code after the `RunResult` frame.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code for a frame that is not JSON, not `{kind, content}`, or a first frame that is not `RunOpen`.
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// Close code for a `RunOpen` whose content fails request validation.
pub const CLOSE_INVALID_PAYLOAD: u16 = 1008;

/// One request shape for every transport.
///
/// ```json
/// {"execution_id":"run-1",
///  "payload":{"inputs":{"schema":"v1","params":{}},"mode":"mock","write_prefix":"/tmp/run-1/"}}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The caller's id, or one the orchestrator generated once for the invocation.
    pub execution_id: String,
    /// What to run.
    pub payload: Payload,
}

/// The request's payload: the caller's inputs and the orchestrator's prefix and mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// The caller's JSON, untouched.
    pub inputs: Value,
    /// The expanded write prefix: absolute, ending in `/`.
    pub write_prefix: String,
    /// Run mode (the orchestrator sends `mock` unless told otherwise).
    pub mode: String,
    /// The storage hand-over, when the caller cannot read the processor's
    /// disk (CONTRACT.md §7): upload there instead of writing locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
}

/// The storage hand-over (CONTRACT.md §7, decided in §14): one presigned
/// `PUT` URL per artifact path the processor's registry entry declares,
/// and its index, by path relative to the write prefix.
///
/// ```json
/// {"max_bytes":16777216,
///  "uploads":{"outputs.json":"http://127.0.0.1:9000/b/tmp/run-1/outputs.json?X-Amz-...",
///             "summary.txt":"http://127.0.0.1:9000/b/tmp/run-1/summary.txt?X-Amz-..."}}
/// ```
///
/// A processor that receives it uploads each artifact and the index to the
/// URL of its path (the body is the file's bytes) before it answers, and
/// writes nothing it lists to its own disk; its envelope is unchanged: it
/// still names the paths under the write prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// The most bytes one upload may hold.
    pub max_bytes: u64,
    /// Upload URL by path relative to the write prefix (normal: no leading
    /// `/`, no empty, `.` or `..` segment).
    pub uploads: std::collections::BTreeMap<String, String>,
}

impl Storage {
    /// The checks serde cannot express: every key a normal relative path,
    /// every URL `http://` or `https://`, at least one upload and one byte.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_bytes == 0 {
            return Err("max_bytes: must be at least 1".to_owned());
        }
        if self.uploads.is_empty() {
            return Err("uploads: must name at least one path".to_owned());
        }
        for (path, url) in &self.uploads {
            if !crate::is_normal_path(&format!("/{path}")) {
                return Err(format!(
                    "uploads: {path:?} is not a normal path relative to the prefix"
                ));
            }
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "uploads/{}: not an http(s) URL",
                    crate::pointer_token(path)
                ));
            }
        }
        Ok(())
    }
}

/// `RunOpen` content: `{"role":"client"}` plus the request's fields.
///
/// ```json
/// {"kind":"RunOpen","content":{"role":"client","execution_id":"run-1","payload":{…}}}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunOpen {
    /// Always `client`.
    pub role: Role,
    /// The request's execution id.
    pub execution_id: String,
    /// The request's payload.
    pub payload: Payload,
}

/// Who opened the run; only the client does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The harness side.
    Client,
}

/// The closed set of WebSocket frame kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FrameKind {
    /// Client's first frame; strict content.
    RunOpen,
    /// Server's first frame; free-form content.
    Ack,
    /// Progress; free-form content.
    Token,
    /// Progress; free-form content.
    Frame,
    /// Progress; free-form content.
    Log,
    /// Progress; free-form content.
    Event,
    /// Server's last frame; content is the envelope.
    RunResult,
}

impl FrameKind {
    /// Every kind, in the order of CONTRACT.md §6.
    pub const ALL: [Self; 7] = [
        Self::RunOpen,
        Self::Ack,
        Self::Token,
        Self::Frame,
        Self::Log,
        Self::Event,
        Self::RunResult,
    ];

    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RunOpen => "RunOpen",
            Self::Ack => "Ack",
            Self::Token => "Token",
            Self::Frame => "Frame",
            Self::Log => "Log",
            Self::Event => "Event",
            Self::RunResult => "RunResult",
        }
    }

    /// Whether its content is free-form progress data (recorded, never compared).
    pub const fn is_progress(self) -> bool {
        matches!(self, Self::Token | Self::Frame | Self::Log | Self::Event)
    }
}

/// One WebSocket text frame: `{"kind": ..., "content": ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frame {
    /// Which of the closed set.
    pub kind: FrameKind,
    /// Kind-specific content.
    pub content: Value,
}

/// A document that does not have the expected shape, with where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct ShapeError {
    /// RFC 6901 JSON pointer to the offending value (`""` for the root).
    pub pointer: String,
    /// Short reason.
    pub message: String,
}

/// Why a request is refused (CONTRACT.md §6: WS close 1008, HTTP 200 `ERR_INPUTS`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Wrong shape: missing or unknown field, wrong type.
    #[error("invalid request: {0}")]
    Shape(#[from] ShapeError),
    /// `execution_id` is empty.
    #[error("invalid request: /execution_id: must not be empty")]
    EmptyExecutionId,
    /// `payload.inputs` is `null`.
    #[error("invalid request: /payload/inputs: must not be null")]
    NullInputs,
    /// `payload.write_prefix` is relative, has a `..` segment, …
    #[error("invalid request: /payload/write_prefix: {0}")]
    Prefix(#[from] PrefixError),
    /// `payload.storage` names a path that is not relative and normal, a
    /// URL that is not http(s), no upload, or a zero `max_bytes`.
    #[error("invalid request: /payload/storage/{0}")]
    Storage(String),
}

/// Decodes `T` strictly from a JSON value, naming where it failed.
pub fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ShapeError> {
    serde_path_to_error::deserialize(value).map_err(|e| ShapeError {
        pointer: path_to_pointer(e.path()),
        message: e.inner().to_string(),
    })
}

fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        out.push('/');
        match segment {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push_str(&crate::pointer_token(key));
            }
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

impl RunRequest {
    /// Decodes and validates a request: the checks whose failure closes a
    /// WebSocket with 1008 and gives `ERR_INPUTS` over HTTP. Returns the
    /// request and its parsed write prefix.
    pub fn from_value(value: Value) -> Result<(Self, WritePrefix), RequestError> {
        let request: Self = decode(value)?;
        let prefix = request.validate()?;
        Ok((request, prefix))
    }

    /// The semantic checks serde cannot express.
    pub fn validate(&self) -> Result<WritePrefix, RequestError> {
        if self.execution_id.is_empty() {
            return Err(RequestError::EmptyExecutionId);
        }
        if self.payload.inputs.is_null() {
            return Err(RequestError::NullInputs);
        }
        let prefix = WritePrefix::parse(&self.payload.write_prefix)?;
        if let Some(storage) = &self.payload.storage {
            storage.validate().map_err(RequestError::Storage)?;
        }
        Ok(prefix)
    }
}

impl RunOpen {
    /// The `RunOpen` content for a request.
    pub fn new(request: RunRequest) -> Self {
        Self {
            role: Role::Client,
            execution_id: request.execution_id,
            payload: request.payload,
        }
    }

    /// The request it carries.
    pub fn into_request(self) -> RunRequest {
        RunRequest {
            execution_id: self.execution_id,
            payload: self.payload,
        }
    }
}

impl Frame {
    /// The client's first frame.
    pub fn run_open(request: RunRequest) -> Self {
        Self {
            kind: FrameKind::RunOpen,
            content: serde_json::to_value(RunOpen::new(request))
                .expect("a request holds only JSON values"),
        }
    }

    /// The server's last frame.
    pub fn run_result(envelope: &Envelope) -> Self {
        Self {
            kind: FrameKind::RunResult,
            content: serde_json::to_value(envelope).expect("an envelope holds only JSON values"),
        }
    }

    /// A progress or `Ack` frame.
    pub fn progress(kind: FrameKind, content: Value) -> Self {
        Self { kind, content }
    }

    /// Decodes a text frame: the checks whose failure closes with 1002.
    /// The text must be strict JSON ([`crate::canon::parse`]: no duplicate
    /// member names, no lone surrogates).
    pub fn from_text(text: &str) -> Result<Self, ShapeError> {
        crate::canon::parse(text.as_bytes()).map_err(|e| ShapeError {
            pointer: String::new(),
            message: format!("not strict JSON: {e}"),
        })?;
        let value: Value = serde_json::from_str(text).map_err(|e| ShapeError {
            pointer: String::new(),
            message: format!("not JSON: {e}"),
        })?;
        decode(value)
    }

    /// The frame as a compact JSON text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("a frame holds only JSON values")
    }
}
