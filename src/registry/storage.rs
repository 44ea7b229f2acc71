//! The `storage` section of a registry entry (CONTRACT.md §7): the
//! S3-compatible store a target declared `artifacts: {<target>: storage}`
//! uploads its artifacts to, through presigned URLs the harness hands over.

use url::Url;

use super::{DocumentStorage, EntryError, at_value, endpoint_url};

/// The S3-compatible store of an entry, resolved (credentials are named,
/// never held here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageConfig {
    /// The endpoint.
    pub endpoint: Url,
    /// The bucket.
    pub bucket: String,
    /// The region URLs are signed for.
    pub region: String,
    /// The environment variable holding the access key id.
    pub access_key_env: String,
    /// The environment variable holding the secret access key.
    pub secret_key_env: String,
    /// The declared paths, relative to the prefix, sorted.
    pub paths: Vec<String>,
    /// The most bytes one upload may hold.
    pub max_bytes: u64,
}

/// The largest upload when the entry sets none.
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

pub(super) fn resolve(raw: &DocumentStorage) -> Result<StorageConfig, EntryError> {
    let endpoint = endpoint_url(&raw.endpoint).map_err(|m| {
        (
            at_value("endpoint", &raw.endpoint),
            format!("storage: endpoint: {m}"),
        )
    })?;
    if !matches!(endpoint.scheme(), "http" | "https") {
        return Err((
            at_value("endpoint", &raw.endpoint),
            "storage: endpoint: must be http(s)".to_owned(),
        ));
    }
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-".contains(&b))
    };
    if !name_ok(&raw.bucket) {
        return Err((
            at_value("bucket", &raw.bucket),
            format!(
                "storage: bucket: {:?} is not a bucket name (lowercase letters, digits, `.-`)",
                raw.bucket
            ),
        ));
    }
    for (field, name) in [
        ("access_key_env", &raw.access_key_env),
        ("secret_key_env", &raw.secret_key_env),
    ] {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err((
                at_value(field, name),
                format!("storage: {field}: {name:?} is not an environment variable name"),
            ));
        }
    }
    let mut paths = raw.paths.clone();
    for path in &paths {
        if !theory_contract::is_normal_path(&format!("/{path}")) {
            return Err((
                at_value("paths", path),
                format!("storage: paths: {path:?} is not a normal path relative to the prefix"),
            ));
        }
    }
    if paths.is_empty() {
        return Err((
            vec!["paths:".to_owned()],
            "storage: paths: declare at least one artifact path".to_owned(),
        ));
    }
    paths.sort();
    paths.dedup();
    let max_bytes = raw.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    if max_bytes == 0 {
        return Err((
            vec!["max_bytes:".to_owned()],
            "storage: max_bytes must be at least 1".to_owned(),
        ));
    }
    Ok(StorageConfig {
        endpoint,
        bucket: raw.bucket.clone(),
        region: raw.region.clone().unwrap_or_else(|| "us-east-1".to_owned()),
        access_key_env: raw.access_key_env.clone(),
        secret_key_env: raw.secret_key_env.clone(),
        paths,
        max_bytes,
    })
}
