//! The artifact seam (CONTRACT.md §7): where a run's artifacts are read
//! from ([`Source`], declared per registry entry and target, never
//! guessed), and the rules that need them. The orchestrator's policy,
//! `contract::artifacts`, determinism's and parity's byte comparisons all
//! read through it.
//!
//! - [`Source::Shared`]: the prefix is on this machine; the disk rules
//!   (scope [`Scope::Disk`](theory_contract::Scope)): every listed output and
//!   the index exist as regular files, their real paths (symlinks resolved)
//!   stay under the prefix, the index file holds exactly the envelope's
//!   outputs in canonical JSON, and no output holds a declared secret's value.
//! - [`Source::Storage`]: the processor uploaded to the storage the request
//!   handed over; the storage rules ([`storage`]) and the same content rules.
//! - [`Source::Nowhere`]: nothing can be read; nothing is judged.
//!
//! **Invariant:** reads only below the prefix (or its keys) and never writes.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use theory_contract::canon::{self, Json};
use theory_contract::{Rule, Violation, WritePrefix};

use crate::vocab::ArtifactSource;

pub mod server;
pub mod storage;

pub use storage::Store;

/// Where one target's artifacts are read from, ready to read.
#[derive(Clone, Debug)]
pub enum Source {
    /// This machine's disk.
    Shared,
    /// The entry's store, through the storage hand-over.
    Storage(Arc<Store>),
    /// Nowhere.
    Nowhere,
}

impl Source {
    /// Which kind of source, as the registry names it.
    pub fn kind(&self) -> ArtifactSource {
        match self {
            Self::Shared => ArtifactSource::Shared,
            Self::Storage(_) => ArtifactSource::Storage,
            Self::Nowhere => ArtifactSource::Nowhere,
        }
    }

    /// The storage hand-over of a run under `prefix`, when its artifacts go
    /// to storage; valid for `expires`.
    pub async fn hand_over(
        &self,
        prefix: &WritePrefix,
        expires: std::time::Duration,
    ) -> Result<Option<theory_contract::Storage>, String> {
        match self {
            Self::Storage(store) => store.hand_over(prefix, expires).await.map(Some),
            Self::Shared | Self::Nowhere => Ok(None),
        }
    }

    /// The rules that need the artifacts of `doc`; nothing when they can be
    /// read nowhere. `Err`: the store could not be read.
    pub async fn check(
        &self,
        doc: &Json,
        prefix: &WritePrefix,
        secret_values: &[String],
    ) -> Result<Vec<Violation>, String> {
        match self {
            Self::Shared => Ok(check(doc, prefix, secret_values)),
            Self::Storage(store) => store.check(doc, prefix, secret_values).await,
            Self::Nowhere => Ok(Vec::new()),
        }
    }

    /// The bytes of the artifact at `path` (under `prefix`), at most
    /// [`READ_MAX`] of them; `None` when it cannot be read (or nothing can).
    pub async fn read(&self, prefix: &WritePrefix, path: &str) -> Option<Vec<u8>> {
        match self {
            Self::Shared => {
                let file = std::fs::File::open(path).ok()?;
                let mut bytes = Vec::new();
                file.take(READ_MAX).read_to_end(&mut bytes).ok()?;
                Some(bytes)
            }
            Self::Storage(store) => {
                let relative = path.strip_prefix(prefix.as_str())?;
                store.get(prefix, relative).await.ok().flatten()
            }
            Self::Nowhere => None,
        }
    }
}

/// The paths an envelope names, with where: every output's, then the index's.
pub fn named_paths(doc: &Json) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(Json::Array(items)) = doc.get("outputs") {
        for (i, item) in items.iter().enumerate() {
            if let Some(Json::String(path)) = item.get("path") {
                out.push((format!("/outputs/{i}/path"), path.clone()));
            }
        }
    }
    if let Some(Json::String(path)) = doc.get("index_path") {
        out.push(("/index_path".to_owned(), path.clone()));
    }
    out
}

/// The most bytes of one artifact [`Source::read`] returns (for the byte
/// comparisons of determinism and parity).
pub const READ_MAX: u64 = 16 * 1024 * 1024;
/// The largest index file read; a bigger one is reported, not loaded.
const MAX_INDEX: u64 = 16 * 1024 * 1024;
/// How much of each output is searched for secret values.
const MAX_SEARCHED: u64 = 64 * 1024 * 1024;

/// Checks the disk rules for `doc` (any JSON; non-conforming parts are left
/// to [`theory_contract::check_envelope`]); every output is searched for
/// `secret_values`. Returns nothing when the prefix does not exist on this
/// machine: the rules are then undecidable here.
pub fn check(doc: &Json, prefix: &WritePrefix, secret_values: &[String]) -> Vec<Violation> {
    let Ok(real_prefix) = std::fs::canonicalize(prefix.as_str()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(Json::Array(items)) = doc.get("outputs") {
        for (i, item) in items.iter().enumerate() {
            if let Some(Json::String(path)) = item.get("path") {
                let at = format!("/outputs/{i}/path");
                let regular = check_file(
                    path,
                    &real_prefix,
                    &at,
                    [Rule::OutputsMissingFile, Rule::OutputsEscapesPrefix],
                    &mut out,
                );
                if regular && file_holds_secret(path, secret_values) {
                    out.push(Violation::new(
                        Rule::OutputsSecretValue,
                        at,
                        format!("{path:?} holds the value of a declared secret (not shown)"),
                    ));
                }
            }
        }
    }
    if let Some(Json::String(path)) = doc.get("index_path")
        && check_file(
            path,
            &real_prefix,
            "/index_path",
            [Rule::IndexMissingFile, Rule::IndexEscapesPrefix],
            &mut out,
        )
    {
        check_index(path, doc.get("outputs"), &mut out);
    }
    Violation::sort(&mut out);
    out
}

/// Records a violation when `path` is not a regular file under the real
/// prefix; returns whether it is one.
fn check_file(
    path: &str,
    real_prefix: &Path,
    at: &str,
    [missing, escapes]: [Rule; 2],
    out: &mut Vec<Violation>,
) -> bool {
    if !path.starts_with('/') {
        return false; // relative: reported by check_envelope, and undecidable on disk
    }
    let real: PathBuf = match std::fs::canonicalize(path) {
        Ok(real) => real,
        Err(e) => {
            out.push(Violation::new(
                missing,
                at,
                format!("{path:?} does not exist ({e})"),
            ));
            return false;
        }
    };
    if !real.starts_with(real_prefix) || real == real_prefix {
        out.push(Violation::new(
            escapes,
            at,
            format!(
                "{path:?} resolves to {:?}, outside {:?}",
                real.display().to_string(),
                real_prefix.display().to_string()
            ),
        ));
        return false;
    }
    match std::fs::metadata(&real) {
        Ok(meta) if meta.is_file() => true,
        Ok(_) => {
            out.push(Violation::new(
                missing,
                at,
                format!("{path:?} is not a regular file"),
            ));
            false
        }
        Err(e) => {
            out.push(Violation::new(
                missing,
                at,
                format!("{path:?} cannot be read ({e})"),
            ));
            false
        }
    }
}

/// Whether the file's first [`MAX_SEARCHED`] bytes hold a secret value.
fn file_holds_secret(path: &str, secret_values: &[String]) -> bool {
    if secret_values.is_empty() {
        return false;
    }
    let mut bytes = Vec::new();
    if std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SEARCHED).read_to_end(&mut bytes))
        .is_err()
    {
        return false;
    }
    holds_secret(&bytes, secret_values)
}

/// Whether `bytes` hold the value of a secret (of at least
/// [`SECRET_MIN`](theory_contract::SECRET_MIN) bytes).
fn holds_secret(bytes: &[u8], secret_values: &[String]) -> bool {
    secret_values
        .iter()
        .filter(|s| s.len() >= theory_contract::SECRET_MIN)
        .map(String::as_bytes)
        .any(|secret| bytes.windows(secret.len()).any(|w| w == secret))
}

fn check_index(path: &str, outputs: Option<&Json>, out: &mut Vec<Violation>) {
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(MAX_INDEX + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        out.push(Violation::new(
            Rule::IndexMissingFile,
            "/index_path",
            format!("{path:?} cannot be read ({e})"),
        ));
        return;
    }
    check_index_bytes(path, &bytes, outputs, out);
}

/// The index rules on the index's bytes, wherever they were read from.
fn check_index_bytes(path: &str, bytes: &[u8], outputs: Option<&Json>, out: &mut Vec<Violation>) {
    const AT: &str = "/index_path";
    if bytes.len() as u64 > MAX_INDEX {
        out.push(Violation::new(
            Rule::IndexNotCanonical,
            AT,
            format!("{path:?} is larger than {MAX_INDEX} bytes"),
        ));
        return;
    }
    let canonical = match canon::canonicalize(bytes) {
        Ok(canonical) => canonical,
        Err(e) => {
            out.push(Violation::new(
                Rule::IndexNotCanonical,
                AT,
                format!("{path:?} is not JSON: {e}"),
            ));
            return;
        }
    };
    if canonical != bytes {
        out.push(Violation::new(
            Rule::IndexNotCanonical,
            AT,
            format!("{path:?} is JSON but not in canonical form (RFC 8785)"),
        ));
    }
    let Some(outputs) = outputs else { return };
    let expected =
        canon::to_canonical(&Json::Object(vec![("outputs".to_owned(), outputs.clone())]));
    if expected.as_deref().ok() != Some(canonical.as_slice()) {
        out.push(Violation::new(
            Rule::IndexMismatch,
            AT,
            format!(
                "{path:?} holds {}, the envelope lists {}",
                lossy(&canonical),
                expected.map(|e| lossy(&e)).unwrap_or_default()
            ),
        ));
    }
}

/// At most 200 bytes of `bytes`, for a message.
fn lossy(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}
