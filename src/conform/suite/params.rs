//! Each check's typed params, and the closed [`Check`] that carries them.

use serde::Deserialize;
use theory_contract::ErrorCode;

use super::CheckKind;

/// The status an envelope must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `"success"`.
    Success,
    /// `"error"`.
    Error,
}

impl Status {
    /// `success` or `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
        }
    }
}

/// `envelope` params.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeParams {
    /// The status every fixture's envelope must have.
    pub expect_status: Status,
    /// The error code, for `expect_status: error`.
    #[serde(default, deserialize_with = "de_code")]
    pub expect_code: Option<ErrorCode>,
    /// The HTTP status the answer must carry on `http`/`sse` (default 200).
    #[serde(default)]
    pub http_status: Option<u16>,
}

/// One raw HTTP request of an `http_status` case.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSend {
    /// Names the request in messages and goldens (`[a-z0-9_-]+`).
    pub label: String,
    /// The `Content-Type` header; absent sends none.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The body, a template: `{request}` (the standard request for the
    /// fixture, canonical JSON), `{inputs}` (the fixture), `{execution_id}`,
    /// `{prefix}`.
    pub body: String,
    /// Send the body chunked (no `Content-Length`).
    #[serde(default)]
    pub chunked: bool,
}

/// `http_status` params.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStatusParams {
    /// The requests, each answered as expected.
    pub sends: Vec<HttpSend>,
    /// The HTTP status each must get.
    pub expect_status: u16,
    /// The envelope's error code; absent, each must get a success envelope
    /// (a valid request in another spelling or framing, CONTRACT.md §6).
    #[serde(default, deserialize_with = "de_code")]
    pub expect_code: Option<ErrorCode>,
    /// The envelope's `execution_id`, a template (`""`, `{execution_id}`);
    /// not checked when absent.
    #[serde(default)]
    pub expect_execution_id: Option<String>,
}

/// One raw first frame of a `ws_close` case.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsSend {
    /// Names the frame in messages (`[a-z0-9_-]+`).
    pub label: String,
    /// The frame's text, a template like [`HttpSend::body`] (with
    /// `{run_open}`: the standard `RunOpen` frame).
    pub text: String,
    /// Send the text's bytes as a binary frame.
    #[serde(default)]
    pub binary: bool,
}

/// `ws_close` params.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsCloseParams {
    /// The first frames, each on its own connection.
    pub sends: Vec<WsSend>,
    /// The close code each must get.
    pub expect_close: u16,
}

/// `negative_endpoint` params.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NegativeEndpointParams {
    /// A host that never resolves (the url target), e.g. under `.invalid`.
    pub host: String,
    /// An app that does not exist (the modal target).
    pub modal_app: String,
}

/// `determinism` params.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeterminismParams {
    /// Runs per fixture (2 to 10).
    pub runs: u32,
}

/// A check with its typed params.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// See [`CheckKind::Envelope`].
    Envelope(EnvelopeParams),
    /// See [`CheckKind::Artifacts`].
    Artifacts,
    /// See [`CheckKind::HttpStatus`].
    HttpStatus(HttpStatusParams),
    /// See [`CheckKind::WsClose`].
    WsClose(WsCloseParams),
    /// See [`CheckKind::WsSequence`].
    WsSequence,
    /// See [`CheckKind::WsSubprotocol`].
    WsSubprotocol,
    /// See [`CheckKind::SseSequence`].
    SseSequence,
    /// See [`CheckKind::Health`].
    Health,
    /// See [`CheckKind::RunBudget`].
    RunBudget,
    /// See [`CheckKind::ParityTransports`].
    ParityTransports,
    /// See [`CheckKind::ParityTargets`].
    ParityTargets,
    /// See [`CheckKind::NegativeEndpoint`].
    NegativeEndpoint(NegativeEndpointParams),
    /// See [`CheckKind::NegativeImage`].
    NegativeImage,
    /// See [`CheckKind::Determinism`].
    Determinism(DeterminismParams),
    /// See [`CheckKind::Digest`].
    Digest,
    /// See [`CheckKind::ContainerWrites`].
    ContainerWrites,
}

impl Check {
    /// Its kind.
    pub const fn kind(&self) -> CheckKind {
        match self {
            Self::Envelope(_) => CheckKind::Envelope,
            Self::Artifacts => CheckKind::Artifacts,
            Self::HttpStatus(_) => CheckKind::HttpStatus,
            Self::WsClose(_) => CheckKind::WsClose,
            Self::WsSequence => CheckKind::WsSequence,
            Self::WsSubprotocol => CheckKind::WsSubprotocol,
            Self::SseSequence => CheckKind::SseSequence,
            Self::Health => CheckKind::Health,
            Self::RunBudget => CheckKind::RunBudget,
            Self::ParityTransports => CheckKind::ParityTransports,
            Self::ParityTargets => CheckKind::ParityTargets,
            Self::NegativeEndpoint(_) => CheckKind::NegativeEndpoint,
            Self::NegativeImage => CheckKind::NegativeImage,
            Self::Determinism(_) => CheckKind::Determinism,
            Self::Digest => CheckKind::Digest,
            Self::ContainerWrites => CheckKind::ContainerWrites,
        }
    }
}

fn de_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ErrorCode>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    text.map(|t| {
        ErrorCode::parse(&t).ok_or_else(|| {
            serde::de::Error::custom(format!("{t:?} is not an error code of CONTRACT.md §4"))
        })
    })
    .transpose()
}
