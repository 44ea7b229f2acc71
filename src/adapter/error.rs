//! Adapter failures and every classification of them: the mapping to the
//! taxonomy ([`AdapterError::code`]), whether the harness's environment is
//! at fault ([`AdapterError::is_infrastructure`]), whether a retry is safe
//! ([`AdapterError::is_retry_safe`]), the envelope message
//! ([`AdapterError::envelope_message`]) and the log event
//! ([`AdapterError::event`]).
//!
//! One variant per failing operation; messages are short lowercase
//! fragments with the actionable detail, already redacted (they reach logs,
//! envelopes and reports).
//!
//! **Invariant:** these methods are the only places an adapter failure is
//! classified, and each matches every variant by name (no `_` arm).

use std::fmt;

use theory_contract::ErrorCode;

use super::{BreakRule, Exchange, Transport};

/// Why resolving a Modal endpoint failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModalReason {
    /// `modal.exception.NotFoundError`: no such app, function or environment.
    NotFound,
    /// `import modal` failed in the configured interpreter.
    SdkMissing,
    /// The SDK found no credentials (`AuthError`).
    NoToken,
    /// The function exists but is not a web endpoint.
    NoWebUrl,
    /// The interpreter could not be run, or printed no answer.
    Interpreter,
    /// The resolver did not finish within the budget.
    Timeout,
    /// Anything else the SDK raised.
    Other,
}

impl ModalReason {
    /// The resolver script's spelling (`not_found`, `sdk_missing`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::SdkMissing => "sdk_missing",
            Self::NoToken => "no_token",
            Self::NoWebUrl => "no_web_url",
            Self::Interpreter => "interpreter",
            Self::Timeout => "timeout",
            Self::Other => "other",
        }
    }

    /// The reason the resolver script names `s`; unknown names are [`ModalReason::Other`].
    pub(crate) fn from_script(s: &str) -> Self {
        [
            Self::NotFound,
            Self::SdkMissing,
            Self::NoToken,
            Self::NoWebUrl,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .unwrap_or(Self::Other)
    }
}

impl fmt::Display for ModalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything an adapter operation can fail with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The container engine does not answer (socket missing, daemon down).
    #[error(
        "docker engine unreachable at {host}: {detail}; start it (ci/engine-up) or fix DOCKER_HOST"
    )]
    Engine { host: String, detail: String },
    /// The image is not present locally and the pull failed.
    #[error("image {image} is not present and cannot be pulled: {detail}")]
    ImageNotFound { image: String, detail: String },
    /// The engine refused to create or start the container, or it never ran.
    #[error("container for {image} did not start: {detail}")]
    ContainerStart { image: String, detail: String },
    /// Modal's SDK did not give a web URL.
    #[error("modal endpoint {app}/{function}{} not resolved ({reason}): {message}", environment.as_deref().map(|e| format!(" in environment {e}")).unwrap_or_default())]
    ModalResolve {
        reason: ModalReason,
        app: String,
        function: String,
        environment: Option<String>,
        message: String,
    },
    /// The URL cannot be an endpoint (scheme, host, join).
    #[error("invalid endpoint url {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The CA file could not be read or holds no certificate.
    #[error("cannot use ca file {path}: {detail}")]
    CaFile { path: String, detail: String },
    /// DNS has no address for the host.
    #[error("host {host} does not resolve: {detail}")]
    Unresolvable { host: String, detail: String },
    /// Nothing answers at the address (refused, reset before any response).
    #[error("{url} is unreachable: {detail}")]
    Unreachable { url: String, detail: String },
    /// The TLS handshake failed (unknown issuer, wrong name, ...).
    #[error("tls handshake with {url} failed: {detail}; pass the server's CA with a ca file")]
    Tls { url: String, detail: String },
    /// `/healthz` did not answer `{"ok":true}` within the health budget.
    #[error("{url} not healthy after {attempts} probes in {elapsed_ms} ms: {last}")]
    Health {
        url: String,
        attempts: u32,
        elapsed_ms: u64,
        last: String,
    },
    /// The run budget ran out.
    #[error("{transport} run exceeded its budget of {budget_ms} ms while {stage}")]
    Timeout {
        transport: Transport,
        budget_ms: u64,
        stage: String,
    },
    /// The processor broke the transport protocol (the exchange's first break).
    #[error("protocol broken ({rule}{}): {detail}", at.map(|i| format!(" at frame {i}")).unwrap_or_default())]
    Protocol {
        rule: BreakRule,
        at: Option<usize>,
        detail: String,
    },
}

impl AdapterError {
    /// The one mapping to the taxonomy (CONTRACT.md §4).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Engine { .. } | Self::ContainerStart { .. } => ErrorCode::Docker,
            Self::ImageNotFound { .. } => ErrorCode::ImageNotFound,
            Self::ModalResolve { .. }
            | Self::InvalidUrl { .. }
            | Self::CaFile { .. }
            | Self::Unresolvable { .. }
            | Self::Unreachable { .. }
            | Self::Tls { .. } => ErrorCode::EndpointMissing,
            Self::Health { .. } => ErrorCode::Health,
            Self::Timeout { .. } => ErrorCode::Timeout,
            Self::Protocol { .. } => ErrorCode::Internal,
        }
    }

    /// Whether the failure is the harness's environment (engine, image,
    /// Modal SDK, configuration) rather than the processor's behaviour: an
    /// infrastructure error, never a conformance failure.
    pub fn is_infrastructure(&self) -> bool {
        match self {
            Self::Engine { .. }
            | Self::ImageNotFound { .. }
            | Self::ContainerStart { .. }
            | Self::ModalResolve { .. }
            | Self::InvalidUrl { .. }
            | Self::CaFile { .. } => true,
            Self::Unresolvable { .. }
            | Self::Unreachable { .. }
            | Self::Tls { .. }
            | Self::Health { .. }
            | Self::Timeout { .. }
            | Self::Protocol { .. } => false,
        }
    }

    /// Whether the request may be sent again with the same execution id:
    /// only when the processor gave no answer at all (nothing listened, or
    /// the connection dropped before any `RunResult` frame). A run is
    /// idempotent by its execution id and prefix, so a repeat cannot write
    /// different artifacts. Timeouts, answers and protocol breaks with a
    /// result are never retried.
    pub fn is_retry_safe(&self, exchange: &Exchange) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Protocol {
                rule: BreakRule::WsCloseMissing | BreakRule::WsResultMissing,
                ..
            } => !exchange
                .frames
                .iter()
                .any(|f| f.frame_kind() == Some(theory_contract::FrameKind::RunResult)),
            Self::Engine { .. }
            | Self::ImageNotFound { .. }
            | Self::ContainerStart { .. }
            | Self::ModalResolve { .. }
            | Self::InvalidUrl { .. }
            | Self::CaFile { .. }
            | Self::Unresolvable { .. }
            | Self::Tls { .. }
            | Self::Health { .. }
            | Self::Timeout { .. }
            | Self::Protocol { .. } => false,
        }
    }

    /// The `error.message` of the envelope the harness writes for this
    /// failure (before the contract's length cut). A spent budget reads the
    /// same on every transport (CONTRACT.md §4: one `ERR_TIMEOUT` for all of
    /// them), so negative parity holds; the full story is in the
    /// `error.timeout` event.
    pub fn envelope_message(&self) -> String {
        match self {
            Self::Timeout { budget_ms, .. } => format!("run budget of {budget_ms} ms spent"),
            Self::Engine { .. }
            | Self::ImageNotFound { .. }
            | Self::ContainerStart { .. }
            | Self::ModalResolve { .. }
            | Self::InvalidUrl { .. }
            | Self::CaFile { .. }
            | Self::Unresolvable { .. }
            | Self::Unreachable { .. }
            | Self::Tls { .. }
            | Self::Health { .. }
            | Self::Protocol { .. } => self.to_string(),
        }
    }

    /// The `error.*` event name logged when this failure happens.
    pub fn event(&self) -> &'static str {
        match self {
            Self::Engine { .. } => "error.engine",
            Self::ImageNotFound { .. } => "error.image",
            Self::ContainerStart { .. } => "error.container",
            Self::ModalResolve { .. } => "error.modal",
            Self::InvalidUrl { .. } | Self::CaFile { .. } => "error.endpoint.config",
            Self::Unresolvable { .. } | Self::Unreachable { .. } | Self::Tls { .. } => {
                "error.endpoint"
            }
            Self::Health { .. } => "error.health",
            Self::Timeout { .. } => "error.timeout",
            Self::Protocol { .. } => "error.protocol",
        }
    }

    /// Logs the failure as its `error.*` event (the message is redacted by the log layer).
    pub(crate) fn log(&self) {
        tracing::warn!(event = self.event(), code = self.code().as_str(), message = %self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_an_adapter_code() {
        let errors = [
            AdapterError::Engine {
                host: "h".into(),
                detail: "d".into(),
            },
            AdapterError::ImageNotFound {
                image: "i".into(),
                detail: "d".into(),
            },
            AdapterError::ContainerStart {
                image: "i".into(),
                detail: "d".into(),
            },
            AdapterError::ModalResolve {
                reason: ModalReason::NotFound,
                app: "a".into(),
                function: "f".into(),
                environment: Some("e".into()),
                message: "m".into(),
            },
            AdapterError::Unresolvable {
                host: "h".into(),
                detail: "d".into(),
            },
            AdapterError::Health {
                url: "u".into(),
                attempts: 1,
                elapsed_ms: 1,
                last: "l".into(),
            },
            AdapterError::Timeout {
                transport: Transport::Ws,
                budget_ms: 1,
                stage: "s".into(),
            },
            AdapterError::Protocol {
                rule: BreakRule::WsAckMissing,
                at: Some(0),
                detail: "d".into(),
            },
        ];
        let codes: Vec<ErrorCode> = errors.iter().map(AdapterError::code).collect();
        assert_eq!(
            codes,
            [
                ErrorCode::Docker,
                ErrorCode::ImageNotFound,
                ErrorCode::Docker,
                ErrorCode::EndpointMissing,
                ErrorCode::EndpointMissing,
                ErrorCode::Health,
                ErrorCode::Timeout,
                ErrorCode::Internal,
            ]
        );
    }

    /// One of every variant, in declaration order.
    fn one_of_each() -> Vec<AdapterError> {
        let s = String::from;
        vec![
            AdapterError::Engine {
                host: s("h"),
                detail: s("d"),
            },
            AdapterError::ImageNotFound {
                image: s("i"),
                detail: s("d"),
            },
            AdapterError::ContainerStart {
                image: s("i"),
                detail: s("d"),
            },
            AdapterError::ModalResolve {
                reason: ModalReason::NotFound,
                app: s("a"),
                function: s("f"),
                environment: None,
                message: s("m"),
            },
            AdapterError::InvalidUrl {
                url: s("u"),
                reason: s("r"),
            },
            AdapterError::CaFile {
                path: s("p"),
                detail: s("d"),
            },
            AdapterError::Unresolvable {
                host: s("h"),
                detail: s("d"),
            },
            AdapterError::Unreachable {
                url: s("u"),
                detail: s("d"),
            },
            AdapterError::Tls {
                url: s("u"),
                detail: s("d"),
            },
            AdapterError::Health {
                url: s("u"),
                attempts: 1,
                elapsed_ms: 1,
                last: s("l"),
            },
            AdapterError::Timeout {
                transport: Transport::Http,
                budget_ms: 7,
                stage: s("s"),
            },
            AdapterError::Protocol {
                rule: BreakRule::WsResultMissing,
                at: None,
                detail: s("d"),
            },
        ]
    }

    fn exchange(frames: &[&str]) -> Exchange {
        Exchange {
            transport: Transport::Ws,
            outcome: Err(AdapterError::Unreachable {
                url: "u".into(),
                detail: "d".into(),
            }),
            frames: frames
                .iter()
                .enumerate()
                .map(|(index, kind)| super::super::Seen {
                    index,
                    kind: (*kind).to_owned(),
                    bytes: 1,
                })
                .collect(),
            breaks: Vec::new(),
            http_status: None,
            close: None,
            subprotocol: None,
            elapsed: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn every_classification_is_decided_here_for_every_variant() {
        let errors = one_of_each();
        let infrastructure: Vec<bool> =
            errors.iter().map(AdapterError::is_infrastructure).collect();
        assert_eq!(
            infrastructure,
            [
                true, true, true, true, true, true, false, false, false, false, false, false
            ]
        );
        let nothing_answered = exchange(&["RunOpenAck"]);
        let retry: Vec<bool> = errors
            .iter()
            .map(|e| e.is_retry_safe(&nothing_answered))
            .collect();
        assert_eq!(
            retry,
            [
                false, false, false, false, false, false, false, true, false, false, false, true
            ]
        );
        let messages: Vec<String> = errors.iter().map(AdapterError::envelope_message).collect();
        assert_eq!(messages[10], "run budget of 7 ms spent");
        for (error, message) in errors
            .iter()
            .zip(&messages)
            .filter(|(e, _)| !matches!(e, AdapterError::Timeout { .. }))
        {
            assert_eq!(*message, error.to_string());
        }
    }

    #[test]
    fn a_dropped_socket_after_a_result_is_not_retried() {
        let dropped = AdapterError::Protocol {
            rule: BreakRule::WsCloseMissing,
            at: None,
            detail: "d".into(),
        };
        assert!(dropped.is_retry_safe(&exchange(&["RunOpenAck"])));
        assert!(!dropped.is_retry_safe(&exchange(&["RunOpenAck", "RunResult"])));
        let other_break = AdapterError::Protocol {
            rule: BreakRule::WsAckMissing,
            at: Some(0),
            detail: "d".into(),
        };
        assert!(!other_break.is_retry_safe(&exchange(&[])));
    }

    #[test]
    fn messages_are_short_lowercase_fragments() {
        let e = AdapterError::ModalResolve {
            reason: ModalReason::SdkMissing,
            app: "a".into(),
            function: "f".into(),
            environment: Some("dev".into()),
            message: "pip install modal".into(),
        };
        assert_eq!(
            e.to_string(),
            "modal endpoint a/f in environment dev not resolved (sdk_missing): pip install modal"
        );
        let p = AdapterError::Protocol {
            rule: BreakRule::WsAckMissing,
            at: Some(0),
            detail: "first frame is Event".into(),
        };
        assert_eq!(
            p.to_string(),
            "protocol broken (ws.ack.missing at frame 0): first frame is Event"
        );
    }
}
