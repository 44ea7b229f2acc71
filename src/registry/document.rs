//! The registry file as typed values: [`Document`], the first of the
//! registry's two stages (raw document -> resolved [`super::Registry`]).
//!
//! The loader deserializes a [`Document`]; `theory-conform registry
//! render`, the self-test and the tests build one with the setters below
//! and serialize it with [`Document::to_yaml`], so no registry is ever
//! written with string formatting.
//!
//! **Invariant:** a document is data only; every check lives in the
//! resolving stage, so a document that serializes is not yet a valid
//! registry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config_file::{ConfigError, VERSION};
use crate::vocab::{ArtifactSource, TargetKind, Transport};

/// A registry file: `version` and the processors by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// The format version (1).
    pub version: u32,
    /// Processors by `ns/name@version`.
    pub processors: BTreeMap<String, DocumentEntry>,
}

/// One processor as written in the file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentEntry {
    /// `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `expected_oci`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_oci: Option<String>,
    /// `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `ca_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// `modal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modal: Option<DocumentModal>,
    /// `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `env`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `secrets`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// `health`, e.g. `12s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// `run_timeout`, e.g. `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_timeout: Option<String>,
    /// `max_concurrency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<usize>,
    /// `transports`, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
    /// `fixtures`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixtures: Option<PathBuf>,
    /// `scratch`: paths a local container may write outside the prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scratch: Option<Vec<String>>,
    /// `artifacts`: where each target's artifacts are read from, by target
    /// name (`local`, `url`, `modal`): `shared`, `storage` or `none`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub artifacts: BTreeMap<String, String>,
    /// `storage`: the S3-compatible store of the targets declared `storage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<DocumentStorage>,
}

/// The `storage` section of an entry (CONTRACT.md §7: the hand-over).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentStorage {
    /// The S3 endpoint, e.g. `http://127.0.0.1:9000/` (plain only on loopback).
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// The region the URLs are signed for (default `us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The environment variable holding the access key id.
    pub access_key_env: String,
    /// The environment variable holding the secret access key.
    pub secret_key_env: String,
    /// The artifact paths (and the index), relative to the write prefix,
    /// each handed over with its own presigned `PUT` URL.
    pub paths: Vec<String>,
    /// The most bytes one upload may hold (default 16 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

/// The `modal` section of an entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentModal {
    /// Modal app name.
    pub app: String,
    /// Function name within the app.
    pub function: String,
    /// Modal environment, when not the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

impl Default for Document {
    fn default() -> Self {
        Self::new()
    }
}

impl Document {
    /// An empty document of the current version.
    pub fn new() -> Self {
        Self {
            version: VERSION,
            processors: BTreeMap::new(),
        }
    }

    /// This document with `entry` for `name`.
    pub fn processor(mut self, name: impl Into<String>, entry: DocumentEntry) -> Self {
        self.processors.insert(name.into(), entry);
        self
    }

    /// Parses registry text (the version is checked; nothing else is).
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        crate::config_file::from_yaml(text, origin, |d: &Self| d.version)
    }

    /// Reads and parses a registry file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let (text, origin) = crate::config_file::read(path)?;
        Self::parse(&text, &origin)
    }

    /// The document as YAML.
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self)
            .expect("a registry document (strings, numbers, maps) always serializes")
    }
}

impl DocumentEntry {
    /// `image` (and nothing else).
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// `expected_oci`.
    pub fn expected_oci(mut self, image: impl Into<String>) -> Self {
        self.expected_oci = Some(image.into());
        self
    }

    /// `image` and `expected_oci`, both `image`.
    pub fn pinned_image(self, image: &str) -> Self {
        self.image(image).expected_oci(image)
    }

    /// `url`.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// `ca_file`.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// `modal`: `function` of `app`, in the default environment.
    pub fn modal(mut self, app: impl Into<String>, function: impl Into<String>) -> Self {
        self.modal = Some(DocumentModal {
            app: app.into(),
            function: function.into(),
            environment: None,
        });
        self
    }

    /// One `env` variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// One declared secret.
    pub fn secret(mut self, name: impl Into<String>) -> Self {
        self.secrets.push(name.into());
        self
    }

    /// `health`.
    pub fn health(mut self, budget: Duration) -> Self {
        self.health = Some(duration_text(budget));
        self
    }

    /// `run_timeout`.
    pub fn run_timeout(mut self, budget: Duration) -> Self {
        self.run_timeout = Some(duration_text(budget));
        self
    }

    /// `max_concurrency`.
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = Some(n);
        self
    }

    /// `transports`.
    pub fn transports(mut self, transports: &[Transport]) -> Self {
        self.transports = Some(transports.iter().map(|t| t.as_str().to_owned()).collect());
        self
    }

    /// `artifacts`: `target` reads its artifacts from `source`.
    pub fn artifacts(mut self, target: TargetKind, source: ArtifactSource) -> Self {
        self.artifacts
            .insert(target.as_str().to_owned(), source.as_str().to_owned());
        self
    }

    /// `storage`.
    pub fn storage(mut self, storage: DocumentStorage) -> Self {
        self.storage = Some(storage);
        self
    }

    /// `scratch`.
    pub fn scratch(mut self, paths: &[&str]) -> Self {
        self.scratch = Some(paths.iter().map(|p| (*p).to_owned()).collect());
        self
    }

    /// `fixtures`.
    pub fn fixtures(mut self, dir: impl Into<PathBuf>) -> Self {
        self.fixtures = Some(dir.into());
        self
    }
}

/// A duration as the registry writes it: whole seconds as `12s`, else `250ms`.
pub fn duration_text(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Registry, TagPolicy};

    const IMAGE: &str = "127.0.0.1:5000/theory/r@sha256:0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn a_built_document_loads_as_the_registry_it_describes() {
        let doc = Document::new().processor(
            "theory/r@0.1.0",
            DocumentEntry::default()
                .pinned_image(IMAGE)
                .url("https://127.0.0.1:8443/")
                .env("A", "needs: quoting # really")
                .health(Duration::from_millis(1500))
                .run_timeout(Duration::from_secs(20))
                .transports(&[Transport::Ws, Transport::Http, Transport::Sse]),
        );
        let text = doc.to_yaml();
        assert_eq!(Document::parse(&text, "t").expect("parses"), doc);
        let registry = Registry::parse(&text, "t", Path::new("/"), TagPolicy::RequireDigest)
            .expect("a valid registry");
        let entry = registry.processors.values().next().expect("one entry");
        assert_eq!(entry.env["A"], "needs: quoting # really");
        assert_eq!(entry.health, Duration::from_millis(1500));
        assert_eq!(entry.run_timeout, Duration::from_secs(20));
        assert_eq!(entry.transports, Transport::ALL);
    }

    #[test]
    fn a_document_that_serializes_can_still_be_refused_when_resolved() {
        let text = Document::new()
            .processor("theory/r@0.1.0", DocumentEntry::default().image("r:latest"))
            .to_yaml();
        let err = Registry::parse(&text, "t", Path::new("/"), TagPolicy::RequireDigest)
            .expect_err("a tag is refused");
        assert!(err.to_string().contains("pinned by tag"), "{err}");
        assert!(Document::parse("version: 2\nprocessors: {}\n", "t").is_err());
    }

    #[test]
    fn the_embedded_registry_round_trips() {
        let doc = Document::parse(crate::registry::EMBEDDED, "embedded").expect("parses");
        assert_eq!(
            Document::parse(&doc.to_yaml(), "again").expect("parses"),
            doc
        );
    }
}
