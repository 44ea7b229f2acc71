//! The envelope every run returns (CONTRACT.md §2), success or error.

use serde::{Deserialize, Serialize};

use crate::canon::{self, Json};
use crate::{Digest, EnvFingerprint, ErrorCode};

/// What a run returns, on every transport.
///
/// Success:
/// ```json
/// {"execution_id":"run-1","index_path":"/tmp/run-1/outputs.json",
///  "meta":{"env_fingerprint":"cpu:1;runtime:docker","image_digest":"sha256:…"},
///  "outputs":[{"path":"/tmp/run-1/a.txt"}],"status":"success"}
/// ```
/// Error:
/// ```json
/// {"error":{"code":"ERR_INPUTS","message":"params.n must be an integer"},
///  "execution_id":"run-1","meta":{"env_fingerprint":"cpu:1;runtime:docker"},"status":"error"}
/// ```
/// Deserialization is strict (unknown fields are errors); for untrusted bytes
/// prefer [`crate::check_envelope`], which reports every violation with a rule id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Envelope {
    /// `"status":"success"`.
    Success(Success),
    /// `"status":"error"`.
    Error(Failure),
}

/// The fields of a success envelope besides `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Success {
    /// The request's execution id, echoed unchanged.
    pub execution_id: String,
    /// Every artifact, absolute, under the write prefix, sorted, unique.
    pub outputs: Vec<Output>,
    /// The index file (`{"outputs":[...]}`), under the write prefix.
    pub index_path: String,
    /// Runtime description.
    pub meta: Meta,
}

/// The fields of an error envelope besides `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// The request's execution id, echoed unchanged (`""` when the body was not read).
    pub execution_id: String,
    /// What went wrong.
    pub error: ErrorBody,
    /// Runtime description.
    pub meta: Meta,
}

/// One artifact.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Absolute path under the write prefix.
    pub path: String,
}

/// A code from the closed set and a short human-readable message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// The taxonomy code.
    pub code: ErrorCode,
    /// Short, single-line, no stack trace.
    pub message: String,
}

/// `meta`: the declared runtime, and optionally the image digest and a stderr tail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Declared runtime, `key:value` pairs sorted by key.
    pub env_fingerprint: EnvFingerprint,
    /// The digest of the image the processor runs, when known.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub image_digest: Option<Digest>,
    /// The last bytes of stderr (at most [`STDERR_TAIL_MAX`]); ignored by every comparison.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub stderr_tail: Option<String>,
}

/// An optional field that, when present, must hold a value: `null` is not
/// absence (fail closed, as `check_envelope` and the schema say).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The most bytes `meta.stderr_tail` may hold.
pub const STDERR_TAIL_MAX: usize = 2048;

/// The index file's name by convention; any name under the prefix is allowed.
pub const INDEX_FILE: &str = "outputs.json";

impl Envelope {
    /// An error envelope.
    pub fn error(
        execution_id: impl Into<String>,
        code: ErrorCode,
        message: impl Into<String>,
        meta: Meta,
    ) -> Self {
        Self::Error(Failure {
            execution_id: execution_id.into(),
            error: ErrorBody {
                code,
                message: message.into(),
            },
            meta,
        })
    }

    /// The echoed execution id.
    pub fn execution_id(&self) -> &str {
        match self {
            Self::Success(s) => &s.execution_id,
            Self::Error(e) => &e.execution_id,
        }
    }

    /// The `meta` object.
    pub fn meta(&self) -> &Meta {
        match self {
            Self::Success(s) => &s.meta,
            Self::Error(e) => &e.meta,
        }
    }

    /// Mutable `meta`.
    pub fn meta_mut(&mut self) -> &mut Meta {
        match self {
            Self::Success(s) => &mut s.meta,
            Self::Error(e) => &mut e.meta,
        }
    }

    /// The error code, for an error envelope.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Success(_) => None,
            Self::Error(e) => Some(e.error.code),
        }
    }

    /// The canonical bytes (RFC 8785, `outputs[]` sorted), as compared,
    /// stored and printed.
    pub fn to_canonical(&self) -> Vec<u8> {
        let mut sorted = self.clone();
        if let Self::Success(s) = &mut sorted {
            s.outputs.sort();
        }
        canon::to_canonical_serde(&sorted)
            .expect("an envelope holds only strings, arrays and objects")
    }
}

impl Meta {
    /// Meta with a fingerprint and nothing else.
    pub fn new(env_fingerprint: EnvFingerprint) -> Self {
        Self {
            env_fingerprint,
            image_digest: None,
            stderr_tail: None,
        }
    }
}

/// The index file's content for `outputs`, in canonical JSON:
/// `{"outputs":[{"path":...},...]}` (CONTRACT.md §2).
pub fn index_document(outputs: &[Output]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Index<'a> {
        outputs: &'a [Output],
    }
    canon::to_canonical_serde(&Index { outputs }).expect("an index holds only strings")
}

/// The bytes two envelopes are compared by (CONTRACT.md §3): canonical form
/// of `doc` with `outputs[]` sorted by path and `meta.stderr_tail` removed.
/// Works on any JSON value, so a broken envelope still compares; fails only
/// for a value [`canon::parse`] would not have produced.
pub fn comparable_bytes(doc: &Json) -> Result<Vec<u8>, canon::CanonError> {
    let mut doc = doc.clone();
    if let Json::Object(members) = &mut doc {
        for (key, value) in members.iter_mut() {
            match (key.as_str(), value) {
                ("outputs", Json::Array(items)) => {
                    items.sort_by(|a, b| output_path(a).cmp(&output_path(b)))
                }
                ("meta", Json::Object(meta)) => meta.retain(|(k, _)| k != "stderr_tail"),
                _ => {}
            }
        }
    }
    canon::to_canonical(&doc)
}

fn output_path(item: &Json) -> Option<&str> {
    match item {
        Json::Object(members) => members.iter().find_map(|(k, v)| match (k.as_str(), v) {
            ("path", Json::String(p)) => Some(p.as_str()),
            _ => None,
        }),
        Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_) | Json::Array(_) => None,
    }
}

impl Serialize for EnvFingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EnvFingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}
