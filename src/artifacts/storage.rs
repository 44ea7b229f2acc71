//! The storage side of the artifact seam (CONTRACT.md §7): an
//! S3-compatible store a processor uploads to through presigned `PUT`
//! URLs the orchestrator hands over, and the storage rules judged on what
//! arrived.
//!
//! Objects live under the key `<prefix without its leading slash><path>`,
//! so every run (its prefix is unique) has its own keys, and the envelope's
//! paths map to keys without a table.
//!
//! **Invariant:** every call is bounded ([`CALL_BUDGET`]); credentials and
//! signatures are registered for redaction and never logged.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::signer::Signer as _;
use object_store::{ClientOptions, ObjectStore as _, ObjectStoreExt as _, RetryConfig};
use theory_contract::canon::Json;
use theory_contract::{Rule, Violation, WritePrefix};

use crate::environment::Environment;
use crate::registry::StorageConfig;

/// The longest one call to the store may take.
pub const CALL_BUDGET: Duration = Duration::from_secs(10);
/// How long after the answer an upload that was missing is waited for, to
/// tell a late upload (`storage.late`) from a missing one.
pub const LATE_GRACE: Duration = Duration::from_millis(1500);
/// The most objects one listing reads.
const MAX_LISTED: usize = 10_000;

/// An entry's store, opened with its credentials.
#[derive(Debug)]
pub struct Store {
    s3: AmazonS3,
    config: StorageConfig,
}

impl Store {
    /// Opens the store of `config` with the credentials its environment
    /// variables hold (registered for redaction).
    pub fn open(config: &StorageConfig, env: &Environment) -> Result<Self, String> {
        let credential = |name: &str| {
            env.secret(name).map(str::to_owned).ok_or_else(|| {
                format!("storage: the environment variable {name} (a credential of the store) is not set")
            })
        };
        let key_id = credential(&config.access_key_env)?;
        let secret = credential(&config.secret_key_env)?;
        crate::adapter::install_tls_provider();
        let s3 = AmazonS3Builder::new()
            .with_endpoint(config.endpoint.as_str().trim_end_matches('/'))
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(key_id)
            .with_secret_access_key(secret)
            .with_virtual_hosted_style_request(false)
            .with_retry(RetryConfig {
                max_retries: 0,
                retry_timeout: CALL_BUDGET,
                ..RetryConfig::default()
            })
            // The client options carry `allow_http` too: set them once.
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(config.endpoint.scheme() == "http")
                    .with_timeout(CALL_BUDGET)
                    .with_connect_timeout(CALL_BUDGET),
            )
            .build()
            .map_err(|e| format!("storage: {}", crate::redact::text(&e.to_string())))?;
        Ok(Self {
            s3,
            config: config.clone(),
        })
    }

    /// The most bytes one upload may hold.
    pub fn max_bytes(&self) -> u64 {
        self.config.max_bytes
    }

    fn key(prefix: &WritePrefix, relative: &str) -> Key {
        Key::from(format!(
            "{}{relative}",
            prefix.as_str().trim_start_matches('/')
        ))
    }

    /// The prefix's own key and, with a trailing `/`, what starts the keys
    /// of every path under it (as the store spells them).
    fn root(prefix: &WritePrefix) -> (Key, String) {
        let key = Key::from(prefix.as_str().trim_matches('/'));
        let start = format!("{}/", key.as_ref());
        (key, start)
    }

    /// The hand-over of one run: a presigned `PUT` URL per declared path,
    /// valid for `expires` (the run budget). Each URL is registered for
    /// redaction.
    pub async fn hand_over(
        &self,
        prefix: &WritePrefix,
        expires: Duration,
    ) -> Result<theory_contract::Storage, String> {
        let mut uploads = BTreeMap::new();
        for path in &self.config.paths {
            let url = bounded(self.s3.signed_url(
                http::Method::PUT,
                &Self::key(prefix, path),
                expires,
            ))
            .await?;
            // Its signed query is masked wherever it would be shown
            // (`redact::text`'s presigned-URL rule).
            uploads.insert(path.clone(), url.to_string());
        }
        Ok(theory_contract::Storage {
            max_bytes: self.config.max_bytes,
            uploads,
        })
    }

    /// Stores `bytes` as `relative` under `prefix` (the orchestrator's
    /// record: the persisted envelope).
    pub async fn put(
        &self,
        prefix: &WritePrefix,
        relative: &str,
        bytes: &[u8],
    ) -> Result<(), String> {
        let payload = object_store::PutPayload::from(bytes.to_vec());
        bounded(self.s3.put(&Self::key(prefix, relative), payload))
            .await
            .map(|_| ())
    }

    /// The objects uploaded under `prefix`: size by path relative to it.
    pub async fn list(&self, prefix: &WritePrefix) -> Result<BTreeMap<String, u64>, String> {
        let (key, root) = Self::root(prefix);
        let listing = self
            .s3
            .list(Some(&key))
            .take(MAX_LISTED)
            .collect::<Vec<_>>();
        let mut out = BTreeMap::new();
        for meta in tokio::time::timeout(CALL_BUDGET, listing)
            .await
            .map_err(|_| timed_out())?
        {
            let meta =
                meta.map_err(|e| format!("storage: {}", crate::redact::text(&e.to_string())))?;
            if let Some(relative) = meta.location.as_ref().strip_prefix(root.as_str()) {
                out.insert(relative.to_owned(), meta.size);
            }
        }
        Ok(out)
    }

    /// The bytes uploaded for `relative` under `prefix` (`None`: no such
    /// object, or one larger than `max_bytes`, which is not read).
    pub async fn get(
        &self,
        prefix: &WritePrefix,
        relative: &str,
    ) -> Result<Option<Vec<u8>>, String> {
        let key = Self::key(prefix, relative);
        let result = match tokio::time::timeout(CALL_BUDGET, self.s3.get(&key)).await {
            Ok(Ok(result)) => result,
            Ok(Err(object_store::Error::NotFound { .. })) => return Ok(None),
            Ok(Err(e)) => return Err(format!("storage: {}", crate::redact::text(&e.to_string()))),
            Err(_) => return Err(timed_out()),
        };
        if result.meta.size > self.config.max_bytes {
            return Ok(None);
        }
        let bytes = bounded(result.bytes()).await?;
        Ok(Some(bytes.to_vec()))
    }

    /// The storage rules for `doc`, an envelope answered under `prefix`
    /// with this store's hand-over: every output and the index declared,
    /// uploaded (in time) and within `max_bytes`; then the index's and the
    /// outputs' contents, as on disk. `Err`: the store could not be read.
    pub async fn check(
        &self,
        doc: &Json,
        prefix: &WritePrefix,
        secret_values: &[String],
    ) -> Result<Vec<Violation>, String> {
        let named = super::named_paths(doc);
        let mut out = Vec::new();
        let mut wanted = Vec::new();
        for (at, path) in &named {
            let Some(relative) = prefix
                .contains(path)
                .then(|| &path[prefix.as_str().len()..])
            else {
                continue; // outside the prefix: an envelope rule
            };
            if self
                .config
                .paths
                .binary_search_by(|p| p.as_str().cmp(relative))
                .is_err()
            {
                out.push(Violation::new(
                    Rule::StorageUndeclared,
                    at.clone(),
                    format!("{path:?}: the hand-over gave no upload URL for {relative:?}, so it cannot have been uploaded"),
                ));
                continue;
            }
            wanted.push((at.clone(), path.clone(), relative.to_owned()));
        }
        let uploaded = self.list(prefix).await?;
        if wanted.iter().any(|(_, _, r)| !uploaded.contains_key(r)) {
            tokio::time::sleep(LATE_GRACE).await;
            let later = self.list(prefix).await?;
            for (at, path, relative) in &wanted {
                if uploaded.contains_key(relative) {
                    continue;
                }
                let (rule, message) = if later.contains_key(relative) {
                    (
                        Rule::StorageLate,
                        format!("{path:?} was uploaded after the run answered"),
                    )
                } else {
                    (Rule::StorageMissing, format!("{path:?} was not uploaded"))
                };
                out.push(Violation::new(rule, at.clone(), message));
            }
        }
        for (at, path, relative) in &wanted {
            let Some(size) = uploaded.get(relative) else {
                continue;
            };
            if *size > self.config.max_bytes {
                out.push(Violation::new(
                    Rule::StorageSize,
                    at.clone(),
                    format!(
                        "{path:?}: the upload holds {size} bytes, more than the hand-over's max_bytes {}",
                        self.config.max_bytes
                    ),
                ));
                continue;
            }
            let Some(bytes) = self.get(prefix, relative).await? else {
                continue;
            };
            if at == "/index_path" {
                super::check_index_bytes(path, &bytes, doc.get("outputs"), &mut out);
            } else if super::holds_secret(&bytes, secret_values) {
                out.push(Violation::new(
                    Rule::OutputsSecretValue,
                    at.clone(),
                    format!("{path:?} holds the value of a declared secret (not shown)"),
                ));
            }
        }
        Violation::sort(&mut out);
        Ok(out)
    }
}

fn timed_out() -> String {
    format!("storage: no answer within {} s", CALL_BUDGET.as_secs())
}

/// `future`, bounded by [`CALL_BUDGET`], its error as redacted text.
async fn bounded<T>(future: impl Future<Output = object_store::Result<T>>) -> Result<T, String> {
    match tokio::time::timeout(CALL_BUDGET, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("storage: {}", crate::redact::text(&e.to_string()))),
        Err(_) => Err(timed_out()),
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn every_key_starts_with_the_root_the_store_lists_under() {
        for prefix in ["/tmp/run-1/", "/tmp/x y/é%25/a.b/", "/w/a~b=c/"] {
            let prefix = WritePrefix::parse(prefix).unwrap();
            let (_, root) = Store::root(&prefix);
            for relative in ["summary.txt", "parts/upper.txt", ".theory/envelope.json"] {
                let key = Store::key(&prefix, relative);
                assert_eq!(
                    key.as_ref().strip_prefix(root.as_str()),
                    Some(relative),
                    "{prefix} {relative}"
                );
            }
        }
    }
}
