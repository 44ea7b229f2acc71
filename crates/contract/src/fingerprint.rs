//! `env_fingerprint`: `key:value` pairs sorted by key, joined by `;` (CONTRACT.md §2).
//!
//! It describes the *declared* runtime (`cpu:1;memory:2Gi;platform:amd64;runtime:docker`),
//! never the host a processor happens to run on.

use std::collections::BTreeMap;

/// A parsed fingerprint. Built from pairs it always renders sorted.
///
/// ```
/// use theory_contract::EnvFingerprint;
/// let fp = EnvFingerprint::from_pairs([("runtime", "docker"), ("cpu", "1")]).unwrap();
/// assert_eq!(fp.to_string(), "cpu:1;runtime:docker");
/// assert!(EnvFingerprint::parse("runtime:docker;cpu:1").is_err()); // unsorted
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvFingerprint(BTreeMap<String, String>);

/// What is wrong with a fingerprint string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    /// The string is empty.
    #[error("fingerprint is empty")]
    Empty,
    /// A pair is not `key:value` with a lowercase key and a non-empty value.
    #[error(
        "pair {index} ({pair:?}) is not `key:value` (key `[a-z][a-z0-9_.-]*`, value `[A-Za-z0-9._/+@:-]+`)"
    )]
    Malformed {
        /// 0-based position of the pair.
        index: usize,
        /// The offending text.
        pair: String,
    },
    /// Keys are not in ascending byte order.
    #[error("key {key:?} comes after {previous:?}; pairs must be sorted by key")]
    Unsorted {
        /// The key out of place.
        key: String,
        /// The key before it.
        previous: String,
    },
    /// A key appears twice.
    #[error("key {0:?} appears more than once")]
    DuplicateKey(String),
}

/// Keys that describe a host rather than a declared runtime.
pub const HOST_KEYS: &[&str] = &[
    "boot_id",
    "container",
    "container_id",
    "date",
    "host",
    "hostname",
    "instance_id",
    "ip",
    "kernel",
    "mac",
    "machine_id",
    "node",
    "nodename",
    "pid",
    "time",
    "timestamp",
    "ts",
    "uname",
    "uptime",
];

impl EnvFingerprint {
    /// Parses the wire form, rejecting unsorted, duplicate and malformed pairs.
    pub fn parse(s: &str) -> Result<Self, FingerprintError> {
        if s.is_empty() {
            return Err(FingerprintError::Empty);
        }
        // Form first, order second: a malformed pair is a shape error (the
        // schema rejects it too) wherever it stands.
        let pairs = s
            .split(';')
            .enumerate()
            .map(|(index, pair)| {
                split_pair(pair).ok_or_else(|| FingerprintError::Malformed {
                    index,
                    pair: pair.to_owned(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for window in pairs.windows(2) {
            let [(previous, _), (key, _)] = window else {
                continue;
            };
            if key == previous {
                return Err(FingerprintError::DuplicateKey((*key).to_owned()));
            }
            if key < previous {
                return Err(FingerprintError::Unsorted {
                    key: (*key).to_owned(),
                    previous: (*previous).to_owned(),
                });
            }
        }
        Ok(Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        ))
    }

    /// Builds a fingerprint from pairs in any order.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, FingerprintError> {
        let mut map = BTreeMap::new();
        for (index, (k, v)) in pairs.into_iter().enumerate() {
            let (k, v) = (k.into(), v.into());
            let pair = format!("{k}:{v}");
            if split_pair(&pair) != Some((k.as_str(), v.as_str())) {
                return Err(FingerprintError::Malformed { index, pair });
            }
            if map.insert(k.clone(), v).is_some() {
                return Err(FingerprintError::DuplicateKey(k));
            }
        }
        if map.is_empty() {
            return Err(FingerprintError::Empty);
        }
        Ok(Self(map))
    }

    /// The pairs, sorted by key.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Keys that name host data (see [`HOST_KEYS`]).
    pub fn host_keys(&self) -> impl Iterator<Item = &str> {
        self.0
            .keys()
            .map(String::as_str)
            .filter(|k| HOST_KEYS.contains(k))
    }
}

fn split_pair(pair: &str) -> Option<(&str, &str)> {
    let (key, value) = pair.split_once(':')?;
    let mut key_bytes = key.bytes();
    let key_ok = key_bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && key_bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    let value_ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/+@:-".contains(&b));
    (key_ok && value_ok).then_some((key, value))
}

impl std::fmt::Display for EnvFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{k}:{v}")?;
        }
        Ok(())
    }
}
