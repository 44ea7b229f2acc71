//! The closed error taxonomy of CONTRACT.md §4.

use serde::{Deserialize, Serialize};

/// Every error an envelope may carry. The set is closed: an unknown code is a
/// contract violation, never a guess.
///
/// On the wire each code is its `ERR_*` string:
/// ```
/// use theory_contract::ErrorCode;
/// assert_eq!(serde_json::to_string(&ErrorCode::Timeout).unwrap(), r#""ERR_TIMEOUT""#);
/// assert_eq!(ErrorCode::parse("ERR_HEALTH"), Some(ErrorCode::Health));
/// assert_eq!(ErrorCode::parse("ERR_WS_TIMEOUT"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// Invalid or missing inputs; wrong content type; malformed JSON.
    #[serde(rename = "ERR_INPUTS")]
    Inputs,
    /// A secret the registry declares for the processor is absent.
    #[serde(rename = "ERR_MISSING_SECRET")]
    MissingSecret,
    /// Remote endpoint not resolvable or not reachable.
    #[serde(rename = "ERR_ENDPOINT_MISSING")]
    EndpointMissing,
    /// The local image is absent and cannot be pulled.
    #[serde(rename = "ERR_IMAGE_NOT_FOUND")]
    ImageNotFound,
    /// `/healthz` did not answer `{"ok":true}` within the health budget.
    #[serde(rename = "ERR_HEALTH")]
    Health,
    /// Runtime digest differs from the expected one, or is unknown while one is expected.
    #[serde(rename = "ERR_REGISTRY_MISMATCH")]
    RegistryMismatch,
    /// The local container runtime is unavailable or misconfigured.
    #[serde(rename = "ERR_DOCKER")]
    Docker,
    /// The run budget ran out (one code for every transport).
    #[serde(rename = "ERR_TIMEOUT")]
    Timeout,
    /// Last resort: the processor crashed or broke the protocol.
    #[serde(rename = "ERR_INTERNAL")]
    Internal,
}

impl ErrorCode {
    /// Every code, in the order of CONTRACT.md §4.
    pub const ALL: [Self; 9] = [
        Self::Inputs,
        Self::MissingSecret,
        Self::EndpointMissing,
        Self::ImageNotFound,
        Self::Health,
        Self::RegistryMismatch,
        Self::Docker,
        Self::Timeout,
        Self::Internal,
    ];

    /// The wire spelling, `ERR_*`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Inputs => "ERR_INPUTS",
            Self::MissingSecret => "ERR_MISSING_SECRET",
            Self::EndpointMissing => "ERR_ENDPOINT_MISSING",
            Self::ImageNotFound => "ERR_IMAGE_NOT_FOUND",
            Self::Health => "ERR_HEALTH",
            Self::RegistryMismatch => "ERR_REGISTRY_MISMATCH",
            Self::Docker => "ERR_DOCKER",
            Self::Timeout => "ERR_TIMEOUT",
            Self::Internal => "ERR_INTERNAL",
        }
    }

    /// The code spelled `s` on the wire, if it is one of the nine.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == s)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
