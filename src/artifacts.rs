//! The envelope rules that need the write prefix on disk (scope
//! [`Scope::Disk`](theory_contract::Scope)): every listed output and the
//! index exist as regular files, their real paths (symlinks resolved) stay
//! under the prefix, the index file holds exactly the envelope's outputs
//! in canonical JSON, and no output holds a declared secret's value.
//!
//! **Invariant:** reads only below the prefix and never writes.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use theory_contract::canon::{self, Json};
use theory_contract::{Rule, Violation, WritePrefix};

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
                if regular && holds_secret(path, secret_values) {
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
fn holds_secret(path: &str, secret_values: &[String]) -> bool {
    let secrets: Vec<&[u8]> = secret_values
        .iter()
        .filter(|s| s.len() >= theory_contract::SECRET_MIN)
        .map(String::as_bytes)
        .collect();
    if secrets.is_empty() {
        return false;
    }
    let mut bytes = Vec::new();
    if std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SEARCHED).read_to_end(&mut bytes))
        .is_err()
    {
        return false;
    }
    secrets
        .iter()
        .any(|secret| bytes.windows(secret.len()).any(|w| w == *secret))
}

fn check_index(path: &str, outputs: Option<&Json>, out: &mut Vec<Violation>) {
    const AT: &str = "/index_path";
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(MAX_INDEX + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        out.push(Violation::new(
            Rule::IndexMissingFile,
            AT,
            format!("{path:?} cannot be read ({e})"),
        ));
        return;
    }
    if bytes.len() as u64 > MAX_INDEX {
        out.push(Violation::new(
            Rule::IndexNotCanonical,
            AT,
            format!("{path:?} is larger than {MAX_INDEX} bytes"),
        ));
        return;
    }
    let canonical = match canon::canonicalize(&bytes) {
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
