//! Image digests: `sha256:` followed by 64 lowercase hex digits (CONTRACT.md §2, §8).

use serde::{Deserialize, Serialize};

/// A content digest as OCI registries report it.
///
/// ```
/// use theory_contract::Digest;
/// let hex = "a".repeat(64);
/// assert!(Digest::parse(&format!("sha256:{hex}")).is_ok());
/// assert!(Digest::parse(&format!("sha256:{}", hex.to_uppercase())).is_err());
/// assert!(Digest::parse("sha512:abc").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

/// Why a string is not a digest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("digest must be `sha256:` followed by 64 lowercase hex digits, got {0:?}")]
pub struct DigestError(pub String);

impl Digest {
    /// Accepts exactly `sha256:` + 64 lowercase hex digits.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        match s.strip_prefix("sha256:") {
            Some(hex)
                if hex.len() == 64
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
            {
                Ok(Self(s.to_owned()))
            }
            _ => Err(DigestError(s.to_owned())),
        }
    }

    /// The whole digest, `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64 hex digits without the algorithm.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> Self {
        d.0
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
