//! Declarative suites (`suites/*.yaml`) -> typed [`Suite`]s.
//!
//! A suite file is versioned (`version: 1`), names itself (`suite:`, equal
//! to the file stem) and lists cases. Each case names one check of the
//! closed set ([`CheckKind`]), the fixture kinds it draws inputs from, the
//! targets and transports it applies to, whether it compares goldens, and
//! the check's own `params`, parsed strictly into that check's type.
//!
//! **Invariant:** no IO beyond reading the file; a [`Suite`] that loaded is
//! entirely valid (every error names file, line and column), so the planner
//! never re-checks it.

mod load;
mod params;

use std::fmt;

use serde::Deserialize;

use crate::vocab::{TargetKind, Transport};

pub use crate::config_file::ConfigError;
pub(crate) use crate::config_file::locate_from;
pub(crate) use load::is_name;
pub use params::{
    Check, DeterminismParams, EnvelopeParams, HttpSend, HttpStatusParams, NegativeEndpointParams,
    Status, WsCloseParams, WsSend,
};

/// How a case talks: one of the transports, or `none` for a case that is
/// not about a transport (health, image pinning).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// WebSocket.
    Ws,
    /// HTTP `POST /run`.
    Http,
    /// SSE `POST /run-stream`.
    Sse,
    /// Not about a transport.
    None,
}

impl Via {
    /// The transports, in lane order.
    pub const TRANSPORTS: [Self; 3] = [Self::Ws, Self::Http, Self::Sse];

    /// `ws`, `http`, `sse` or `none`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ws => "ws",
            Self::Http => "http",
            Self::Sse => "sse",
            Self::None => "none",
        }
    }

    /// The adapter's transport, unless `none`.
    pub const fn transport(self) -> Option<Transport> {
        match self {
            Self::Ws => Some(Transport::Ws),
            Self::Http => Some(Transport::Http),
            Self::Sse => Some(Transport::Sse),
            Self::None => None,
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of a processor's fixtures a case draws its inputs from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FixtureKind {
    /// `valid/*.json`: must succeed.
    Valid,
    /// `invalid/*.json`: must give `ERR_INPUTS`.
    Invalid,
    /// `crash/*.json`: must crash (HTTP 500, `ERR_INTERNAL`).
    Crash,
}

impl FixtureKind {
    /// `valid`, `invalid` or `crash`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Crash => "crash",
        }
    }
}

/// The closed set of checks; one file per kind under `check/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The processor's own envelope for each fixture: the contract's
    /// shape, value and context rules, the expected status and code.
    Envelope,
    /// The disk rules for each valid fixture's outputs.
    Artifacts,
    /// Raw HTTP requests and the status, code and execution id they must get.
    HttpStatus,
    /// Raw WebSocket first frames and the close code they must get.
    WsClose,
    /// The WebSocket frame sequence of every run, error paths included.
    WsSequence,
    /// The subprotocol: refused when not offered, selected when offered.
    WsSubprotocol,
    /// The SSE event sequence of every run, error paths included.
    SseSequence,
    /// `/healthz` answered `{"ok":true}` within the health budget.
    Health,
    /// A normal run finishes within the registry's run budget.
    RunBudget,
    /// The same request over two transports: byte-identical envelopes.
    ParityTransports,
    /// The same request on two targets: byte-identical envelopes.
    ParityTargets,
    /// A remote endpoint that does not exist: `ERR_ENDPOINT_MISSING`, the
    /// same shape on every transport.
    NegativeEndpoint,
    /// A local image that does not exist: `ERR_IMAGE_NOT_FOUND`, the same
    /// shape on every transport.
    NegativeImage,
    /// N runs with random ids and prefixes: the same envelope up to them,
    /// the same artifact bytes, outputs under the prefix.
    Determinism,
    /// The expected digest is honoured, and a different one is refused
    /// with `ERR_REGISTRY_MISMATCH`.
    Digest,
    /// After its runs, a local container changed nothing outside the
    /// prefix's mount and the entry's scratch paths (`docker diff`).
    ContainerWrites,
}

impl CheckKind {
    /// The spelling in suite files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Envelope => "envelope",
            Self::Artifacts => "artifacts",
            Self::HttpStatus => "http_status",
            Self::WsClose => "ws_close",
            Self::WsSequence => "ws_sequence",
            Self::WsSubprotocol => "ws_subprotocol",
            Self::SseSequence => "sse_sequence",
            Self::Health => "health",
            Self::RunBudget => "run_budget",
            Self::ParityTransports => "parity_transports",
            Self::ParityTargets => "parity_targets",
            Self::NegativeEndpoint => "negative_endpoint",
            Self::NegativeImage => "negative_image",
            Self::Determinism => "determinism",
            Self::Digest => "digest",
            Self::ContainerWrites => "container_writes",
        }
    }

    /// The ways a case of this check may talk.
    pub const fn allowed_vias(self) -> &'static [Via] {
        match self {
            Self::Envelope
            | Self::Artifacts
            | Self::RunBudget
            | Self::ParityTransports
            | Self::ParityTargets
            | Self::NegativeEndpoint
            | Self::NegativeImage
            | Self::Determinism
            | Self::Digest
            | Self::ContainerWrites => &[Via::Ws, Via::Http, Via::Sse],
            Self::HttpStatus => &[Via::Http, Via::Sse],
            Self::WsClose | Self::WsSequence | Self::WsSubprotocol => &[Via::Ws],
            Self::SseSequence => &[Via::Sse],
            Self::Health => &[Via::None],
        }
    }

    /// The targets a case of this check may name.
    pub const fn allowed_targets(self) -> &'static [TargetKind] {
        match self {
            Self::NegativeEndpoint => &[TargetKind::Url, TargetKind::Modal],
            Self::NegativeImage | Self::ContainerWrites => &[TargetKind::Local],
            Self::Envelope
            | Self::Artifacts
            | Self::HttpStatus
            | Self::WsClose
            | Self::WsSequence
            | Self::WsSubprotocol
            | Self::SseSequence
            | Self::Health
            | Self::RunBudget
            | Self::ParityTransports
            | Self::ParityTargets
            | Self::Determinism
            | Self::Digest => &TargetKind::ALL,
        }
    }

    /// Whether the check needs at least one fixture kind.
    const fn needs_fixtures(self) -> bool {
        match self {
            Self::Envelope
            | Self::Artifacts
            | Self::WsSequence
            | Self::WsSubprotocol
            | Self::SseSequence
            | Self::RunBudget
            | Self::ParityTransports
            | Self::ParityTargets
            | Self::Determinism
            | Self::Digest
            | Self::ContainerWrites => true,
            Self::HttpStatus
            | Self::WsClose
            | Self::Health
            | Self::NegativeEndpoint
            | Self::NegativeImage => false,
        }
    }

    /// Whether the check yields one envelope per item to compare with a golden.
    const fn can_golden(self) -> bool {
        match self {
            Self::Envelope | Self::HttpStatus => true,
            Self::Artifacts
            | Self::WsClose
            | Self::WsSequence
            | Self::WsSubprotocol
            | Self::SseSequence
            | Self::Health
            | Self::RunBudget
            | Self::ParityTransports
            | Self::ParityTargets
            | Self::NegativeEndpoint
            | Self::NegativeImage
            | Self::Determinism
            | Self::Digest
            | Self::ContainerWrites => false,
        }
    }
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One case of a suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// `[a-z0-9_]+`, unique in its suite.
    pub name: String,
    /// Which CONTRACT.md section and rule it checks.
    pub description: String,
    /// The check and its params.
    pub check: Check,
    /// The fixture kinds it draws inputs from (empty: none).
    pub fixtures: Vec<FixtureKind>,
    /// At most this many fixtures per trial (all when absent).
    pub max_fixtures: Option<usize>,
    /// The targets it applies to.
    pub targets: Vec<TargetKind>,
    /// The transports it applies to (`[none]` for transport-free cases).
    pub vias: Vec<Via>,
    /// Whether its envelopes are compared with goldens.
    pub golden: bool,
}

/// A loaded suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suite {
    /// The suite's name (its file stem).
    pub name: String,
    /// Where it came from (for messages).
    pub origin: String,
    /// The SHA-256 of its text (`sha256:<hex>`), for certificates.
    pub digest: String,
    /// What it covers.
    pub description: String,
    /// Its cases, in file order.
    pub cases: Vec<Case>,
}
