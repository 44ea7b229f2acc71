//! Golden files: `golden/<processor slug>/<suite>.<case>__<item>.snap`.
//!
//! A golden is an insta snapshot file (a `---` YAML header, a `---` line,
//! then the body), so `cargo insta review` works on it too. Its body is the
//! canonical envelope rendered one member per line ([`render`]): a
//! bijection of canonical JSON (`parse(render(x)) == x`), so equal bodies
//! mean equal canonical bytes. Before rendering, the run's execution id
//! and its write prefix become the placeholders `{execution_id}` and
//! `{prefix}`, and `meta.stderr_tail` (CONTRACT.md §2) and
//! `meta.image_digest` are dropped (the digest is the supply-chain suite's
//! business, and would otherwise change every golden at every re-pin).
//!
//! A mismatch writes `<golden>.new` beside the golden unless `CI=true`;
//! `theory-conform golden review|accept|reject` resolves pending files.
//!
//! **Invariant:** the comparison is byte-exact on the body; nothing here
//! talks to a processor, and nothing is written when `CI=true`.

use std::path::{Path, PathBuf};

use theory_contract::canon::{self, Json};
use theory_contract::comparable_bytes;

/// The placeholder for the run's execution id.
pub const EXECUTION_ID: &str = "{execution_id}";
/// The placeholder for the run's write prefix (without its trailing `/`).
pub const PREFIX: &str = "{prefix}";
/// The extension of a golden file.
pub const EXTENSION: &str = "snap";
/// The suffix of a pending golden.
pub const NEW_SUFFIX: &str = ".new";

/// Renders canonical JSON one object member or array element per line,
/// two-space indentation, every scalar and key exactly as its canonical
/// bytes. Fails only when `canonical` is not JSON.
pub fn render(canonical: &[u8]) -> Result<String, canon::ParseError> {
    let doc = canon::parse(canonical)?;
    let mut out = String::new();
    write_value(&doc, 0, &mut out);
    Ok(out)
}

/// The canonical bytes a rendered body stands for (the inverse of [`render`]).
pub fn parse(body: &str) -> Result<Vec<u8>, canon::ParseError> {
    canon::canonicalize(body.as_bytes())
}

fn write_value(value: &Json, depth: usize, out: &mut String) {
    match value {
        Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_) => {
            out.push_str(&scalar(value));
        }
        Json::Array(items) if items.is_empty() => out.push_str("[]"),
        Json::Object(members) if members.is_empty() => out.push_str("{}"),
        Json::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                indent(depth + 1, out);
                write_value(item, depth + 1, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(depth, out);
            out.push(']');
        }
        Json::Object(members) => {
            out.push_str("{\n");
            for (i, (key, item)) in members.iter().enumerate() {
                indent(depth + 1, out);
                out.push_str(&scalar(&Json::String(key.clone())));
                out.push_str(": ");
                write_value(item, depth + 1, out);
                if i + 1 < members.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(depth, out);
            out.push('}');
        }
    }
}

fn scalar(value: &Json) -> String {
    // A scalar always canonicalizes; the fallback is unreachable in practice.
    canon::to_canonical(value)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

fn indent(depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// What a run's envelope is compared by: the run's own values replaced by
/// placeholders, then [`comparable_bytes`] (outputs sorted, `stderr_tail`
/// dropped).
#[derive(Clone, Copy, Debug)]
pub struct Redactions<'a> {
    /// The run's execution id.
    pub execution_id: &'a str,
    /// The run's write prefix.
    pub prefix: &'a str,
}

/// The shortest execution id also replaced inside longer strings (shorter
/// ones are replaced only where they are a whole value).
const ID_SUBSTRING_MIN: usize = 8;

/// `doc` with the run's values replaced by placeholders, as comparable bytes.
pub fn redacted_bytes(doc: &Json, redactions: &Redactions<'_>) -> Vec<u8> {
    let mut doc = doc.clone();
    redact_value(&mut doc, redactions, &mut Vec::new());
    comparable_bytes(&doc).unwrap_or_default()
}

fn redact_value(value: &mut Json, r: &Redactions<'_>, path: &mut Vec<String>) {
    match value {
        Json::String(s) => {
            // No secret, credential or signed query reaches a golden or a
            // pending one, whatever the processor echoed.
            *s = crate::redact::text(s);
            if s == r.execution_id {
                *s = EXECUTION_ID.to_owned();
                return;
            }
            let prefix = r.prefix.trim_end_matches('/');
            if !prefix.is_empty() && s.contains(prefix) {
                *s = s.replace(prefix, PREFIX);
            }
            if r.execution_id.len() >= ID_SUBSTRING_MIN && s.contains(r.execution_id) {
                *s = s.replace(r.execution_id, EXECUTION_ID);
            }
        }
        Json::Array(items) => {
            for item in items {
                path.push("[]".to_owned());
                redact_value(item, r, path);
                path.pop();
            }
        }
        Json::Object(members) => {
            if path.len() == 1 && path[0] == "meta" {
                members.retain(|(key, _)| key != "image_digest");
            }
            for (key, item) in members {
                path.push(key.clone());
                redact_value(item, r, path);
                path.pop();
            }
        }
        Json::Null | Json::Bool(_) | Json::Number(_) => {}
    }
}

/// A unified diff of two bodies, `a` and `b` naming them.
pub fn diff(a_name: &str, a: &str, b_name: &str, b: &str) -> String {
    let line = |s: &str| {
        if s.is_empty() {
            String::new()
        } else {
            format!("{s}\n")
        }
    };
    let (a, b) = (line(a), line(b));
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(a_name, b_name)
        .to_string()
}

/// The header of a golden file: insta's `source` and `expression`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The suite file the case is in.
    pub source: String,
    /// The case, processor and item, e.g. `contract::envelope basic (theory/reference@0.1.0)`.
    pub expression: String,
}

/// A snapshot file's text: header, `---`, body and a final newline.
pub fn snapshot_text(header: &Header, body: &str) -> String {
    format!(
        "---\nsource: {}\nexpression: {}\n---\n{body}\n",
        yaml_string(&header.source),
        yaml_string(&header.expression)
    )
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn yaml_string(s: &str) -> String {
    let mut out = Vec::new();
    canon::write_canonical_string(&mut out, s);
    String::from_utf8_lossy(&out).into_owned()
}

/// The body of a snapshot file: what follows the header's closing `---`
/// line, without the final newline. `None` when the file is not a snapshot.
pub fn snapshot_body(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    let body = &rest[end + "\n---\n".len()..];
    Some(body.strip_suffix('\n').unwrap_or(body))
}

/// How a comparison with a golden ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compared {
    /// The body equals the golden's.
    Equal,
    /// The body differs: the diff, and where the pending file was written.
    Differs {
        /// `golden` vs `actual`, unified.
        diff: String,
        /// The `.snap.new` written, or `None` under `CI=true`.
        pending: Option<PathBuf>,
    },
    /// No golden yet: where the pending file was written.
    Missing {
        /// The `.snap.new` written, or `None` under `CI=true`.
        pending: Option<PathBuf>,
    },
    /// The golden could not be read or written.
    Io(String),
}

/// Where goldens live and whether they may be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Store {
    /// The folder holding one sub-folder per processor slug.
    pub dir: PathBuf,
    /// `CI=true`: never write.
    pub read_only: bool,
}

impl Store {
    /// The golden for a processor slug and a key (`<suite>.<case>__<item>`).
    pub fn path(&self, slug: &str, key: &str) -> PathBuf {
        self.dir.join(slug).join(format!("{key}.{EXTENSION}"))
    }

    /// Compares `body` with the golden at `path`; on a difference (or no
    /// golden) writes `<path>.new` unless read-only. A pending file left
    /// from an earlier run is removed when the body now matches.
    pub fn compare(&self, path: &Path, header: &Header, body: &str) -> Compared {
        let pending = pending_path(path);
        let expected_body = match read_snapshot(path) {
            Ok(body) => body,
            Err(e) => return Compared::Io(e),
        };
        if expected_body.as_deref() == Some(body) {
            if !self.read_only && pending.exists() {
                let _ = std::fs::remove_file(&pending);
            }
            return Compared::Equal;
        }
        let written = if self.read_only {
            Ok(None)
        } else {
            write_atomic(&pending, &snapshot_text(header, body)).map(|()| Some(pending))
        };
        let pending = match written {
            Ok(pending) => pending,
            Err(e) => return Compared::Io(e),
        };
        match expected_body {
            Some(old) => Compared::Differs {
                diff: diff("golden", &old, "actual", body),
                pending,
            },
            None => Compared::Missing { pending },
        }
    }

    /// Every golden (`*.snap`) in the folders of `slugs`.
    pub fn goldens(&self, slugs: &[String]) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for slug in slugs {
            out.extend(files_with(&self.dir.join(slug), &format!(".{EXTENSION}")));
        }
        out.sort();
        out
    }

    /// Every pending golden (`*.snap.new`) under the folder, whose path
    /// relative to it contains `filter`.
    pub fn pending(&self, filter: Option<&str>) -> Vec<PathBuf> {
        let suffix = format!(".{EXTENSION}{NEW_SUFFIX}");
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return out;
        };
        for entry in entries.flatten() {
            out.extend(files_with(&entry.path(), &suffix));
        }
        out.retain(|p| filter.is_none_or(|f| self.relative(p).contains(f)));
        out.sort();
        out
    }

    /// `path` relative to the folder, for display and filters.
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// The body of the snapshot file at `path` (`None` when there is none),
/// checked: UTF-8, the `---` header, and a body that parses back to
/// canonical JSON. A file that is not one is an error naming it, never an
/// empty or partial body.
pub fn read_snapshot(path: &Path) -> Result<Option<String>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{}: not a snapshot file: not UTF-8", path.display()))?;
    let body = snapshot_body(&text).ok_or_else(|| {
        format!(
            "{}: not a snapshot file (`---` header, `---`, body)",
            path.display()
        )
    })?;
    parse(body).map_err(|e| format!("{}: not a snapshot body: {e}", path.display()))?;
    Ok(Some(body.to_owned()))
}

/// `<golden>.new`.
pub fn pending_path(golden: &Path) -> PathBuf {
    let mut name = golden.as_os_str().to_owned();
    name.push(NEW_SUFFIX);
    PathBuf::from(name)
}

/// The golden a pending file would replace.
pub fn golden_of(pending: &Path) -> PathBuf {
    let text = pending.as_os_str().to_string_lossy();
    PathBuf::from(text.strip_suffix(NEW_SUFFIX).unwrap_or(&text).to_owned())
}

fn files_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
        .collect()
}

fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `golden review`: every pending golden with its diff; how many there are.
pub fn review(
    store: &Store,
    filter: Option<&str>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<usize> {
    let pending = store.pending(filter);
    let mut shown_pending = Vec::new();
    for path in &pending {
        let golden = golden_of(path);
        // Checked before anything is shown: a malformed file is an error
        // naming it (exit 2), never an empty diff.
        let new_body = read_snapshot(path)
            .map_err(std::io::Error::other)?
            .unwrap_or_default();
        let old = read_snapshot(&golden).map_err(std::io::Error::other)?;
        shown_pending.push((golden, new_body, old));
    }
    for (golden, new_body, old) in &shown_pending {
        let (new_body, old_body) = (new_body.as_str(), old.as_deref().unwrap_or_default());
        let shown = store.relative(golden);
        match old {
            Some(_) => writeln!(out, "pending: {shown} (changed)")?,
            None => writeln!(out, "pending: {shown} (new)")?,
        }
        write!(
            out,
            "{}",
            diff(&shown, old_body, &format!("{shown}.new"), new_body)
        )?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "{} pending golden(s){}",
        pending.len(),
        if pending.is_empty() {
            ""
        } else {
            "; `theory-conform golden accept [FILTER]` or `golden reject [FILTER]`"
        }
    )?;
    Ok(pending.len())
}

/// `golden accept`: moves every pending golden over its golden; the ones moved.
/// Every pending file is checked first: one malformed file moves nothing.
pub fn accept(store: &Store, filter: Option<&str>) -> Result<Vec<PathBuf>, String> {
    let pending = store.pending(filter);
    for path in &pending {
        read_snapshot(path)?;
    }
    let mut done = Vec::new();
    for path in pending {
        let golden = golden_of(&path);
        std::fs::rename(&path, &golden).map_err(|e| format!("{}: {e}", path.display()))?;
        done.push(golden);
    }
    Ok(done)
}

/// `golden reject`: deletes every pending golden; the ones deleted.
pub fn reject(store: &Store, filter: Option<&str>) -> Result<Vec<PathBuf>, String> {
    let mut done = Vec::new();
    for path in store.pending(filter) {
        std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        done.push(path);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use proptest::prelude::*;

    use super::*;

    fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i32>().prop_map(|n| serde_json::json!(n)),
            (-1.0e6f64..1.0e6).prop_map(|f| serde_json::json!(f)),
            "\\PC{0,8}".prop_map(serde_json::Value::String),
            "[\\x00-\\x1f\"\\\\/{}\\[\\],: \n]{0,6}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("\\PC{0,6}", inner, 0..5)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn canonical(value: &serde_json::Value) -> Vec<u8> {
        canon::canonicalize(serde_json::to_string(value).unwrap().as_bytes()).unwrap()
    }

    proptest! {
        #[test]
        fn render_is_the_inverse_of_parse(value in json()) {
            let bytes = canonical(&value);
            let body = render(&bytes).unwrap();
            prop_assert_eq!(parse(&body).unwrap(), bytes);
        }

        #[test]
        fn render_is_injective(a in json(), b in json()) {
            let (a, b) = (canonical(&a), canonical(&b));
            prop_assert_eq!(a == b, render(&a).unwrap() == render(&b).unwrap());
        }

        #[test]
        fn every_rendered_line_is_one_member_or_element(value in json()) {
            let body = render(&canonical(&value)).unwrap();
            for line in body.lines() {
                prop_assert!(!line.contains('\r'));
            }
            prop_assert!(!body.ends_with('\n'));
        }
    }

    #[test]
    fn an_envelope_renders_one_member_per_line() {
        let bytes = br#"{"execution_id":"e","meta":{"env_fingerprint":"a:1"},"outputs":[{"path":"/p/a"}],"status":"success"}"#;
        assert_eq!(
            render(bytes).unwrap(),
            "{\n  \"execution_id\": \"e\",\n  \"meta\": {\n    \"env_fingerprint\": \"a:1\"\n  },\n  \"outputs\": [\n    {\n      \"path\": \"/p/a\"\n    }\n  ],\n  \"status\": \"success\"\n}"
        );
    }

    #[test]
    fn redaction_replaces_the_run_values_only() {
        let doc = canon::parse(
            br#"{"execution_id":"exec-12345678","index_path":"/tmp/r/x/exec-12345678/outputs.json","meta":{"env_fingerprint":"a:1","image_digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","stderr_tail":"t"},"note":"exec-12345678 ran","other":"exec"}"#,
        )
        .unwrap();
        let bytes = redacted_bytes(
            &doc,
            &Redactions {
                execution_id: "exec-12345678",
                prefix: "/tmp/r/x/exec-12345678/",
            },
        );
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"execution_id":"{execution_id}","index_path":"{prefix}/outputs.json","meta":{"env_fingerprint":"a:1"},"note":"{execution_id} ran","other":"exec"}"#
        );
    }

    #[test]
    fn snapshot_files_round_trip() {
        let header = Header {
            source: "suites/contract.yaml".to_owned(),
            expression: "contract::envelope basic".to_owned(),
        };
        let text = snapshot_text(&header, "{\n  \"a\": 1\n}");
        assert_eq!(snapshot_body(&text), Some("{\n  \"a\": 1\n}"));
        assert!(text.starts_with("---\nsource: \"suites/contract.yaml\"\n"));
        assert_eq!(snapshot_body("no header"), None);
    }

    #[test]
    fn a_mismatch_writes_a_pending_file_unless_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let header = Header {
            source: "s".to_owned(),
            expression: "e".to_owned(),
        };
        let store = Store {
            dir: dir.path().to_owned(),
            read_only: false,
        };
        let path = store.path("p", "contract.envelope__basic");
        assert!(matches!(
            store.compare(&path, &header, "{}"),
            Compared::Missing { pending: Some(_) }
        ));
        std::fs::rename(pending_path(&path), &path).unwrap();
        assert_eq!(store.compare(&path, &header, "{}"), Compared::Equal);
        let Compared::Differs { diff, pending } = store.compare(&path, &header, "[]") else {
            panic!("expected a difference");
        };
        assert!(diff.contains("-{}\n+[]"), "{diff}");
        assert_eq!(pending, Some(pending_path(&path)));
        assert_eq!(store.pending(None), vec![pending_path(&path)]);
        std::fs::remove_file(pending_path(&path)).unwrap();
        let ci = Store {
            read_only: true,
            ..store
        };
        assert!(matches!(
            ci.compare(&path, &header, "[]"),
            Compared::Differs { pending: None, .. }
        ));
        assert!(ci.pending(None).is_empty());
    }
}
