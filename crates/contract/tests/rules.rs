//! Data-driven tests of `check_envelope` and the constrained strings.
//!
//! The corpus lives in `fixtures/contract/envelopes/` (see the README there):
//! `valid/*.json` must give no violation, `invalid/<rule-id>[--<variant>].json`
//! must break exactly `<rule-id>`. Every file answers the request with
//! execution id `exec-1` and write prefix `/tmp/theory-corpus/exec-1/`, on a
//! host named `corpus-host-7f3a` with the secret `corpus-secret-9d2c`; files named `*.no-id.json` are checked
//! without the execution id expectation (HTTP 415/400 envelopes carry `""`).
//!
//! Tests named `contract_bug_*` assert what CONTRACT.md requires where the
//! contract crate does not (yet): they fail until the crate is fixed. The
//! corpus tests skip the files those bugs affect (see [`SERDE_BUGS`]) and
//! fail as soon as such a file passes, so the entry is removed with the fix. Tests named `questionable_*` pin current behaviour
//! that the contract leaves open; they document a decision to take.
#![expect(
    clippy::unwrap_used,
    reason = "tests: a panic with the file name is the failure report"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use theory_contract::canon::{self, Json};
use theory_contract::{
    Digest, EnvFingerprint, Envelope, ErrorCode, Expect, FingerprintError, PrefixError, Rule,
    Scope, Violation, WritePrefix, check_envelope, comparable_bytes,
};

/// The execution id every corpus envelope answers.
const EXECUTION_ID: &str = "exec-1";
/// The expanded write prefix every corpus envelope answers.
const PREFIX: &str = "/tmp/theory-corpus/exec-1/";
/// The host the corpus envelopes were "produced" on.
const HOST: &str = "corpus-host-7f3a";
/// The value of the secret declared for the corpus processor.
const SECRET: &str = "corpus-secret-9d2c";
/// File-name marker: check without the execution id expectation.
const NO_ID: &str = ".no-id.json";

/// Shape-invalid files that `serde_json::from_slice::<Envelope>` accepts
/// today: none. A file listed here is skipped by the strict-decoding corpus
/// test, which fails as soon as the file is rejected, so entries cannot rot.
const SERDE_BUGS: &[(&str, &str)] = &[];

fn corpus_dir(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/contract/envelopes")
        .join(folder)
}

/// The `*.json` files of a corpus folder, sorted by name.
fn files(folder: &str) -> Vec<PathBuf> {
    let dir = corpus_dir(folder);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{}: no corpus file", dir.display());
    out
}

fn name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

fn parse(path: &Path) -> Json {
    let bytes = std::fs::read(path).unwrap();
    canon::parse(&bytes).unwrap_or_else(|e| panic!("{}: not strict JSON: {e}", name(path)))
}

/// The rule an invalid file is named after: `<rule-id>[--<variant>][.no-id].json`.
fn rule_of(file: &str) -> Option<Rule> {
    let stem = file
        .strip_suffix(NO_ID)
        .or_else(|| file.strip_suffix(".json"))?;
    let id = stem.split_once("--").map_or(stem, |(id, _)| id);
    Rule::ALL.iter().copied().find(|rule| rule.id() == id)
}

/// Runs `check_envelope` on one corpus file with the corpus expectations.
fn check(path: &Path) -> Vec<Violation> {
    let prefix = WritePrefix::parse(PREFIX).unwrap();
    let hosts = [HOST.to_owned()];
    let secrets = [SECRET.to_owned()];
    let expect = Expect {
        execution_id: (!name(path).ends_with(NO_ID)).then_some(EXECUTION_ID),
        prefix: Some(&prefix),
        host_values: &hosts,
        secret_values: &secrets,
    };
    check_envelope(&parse(path), &expect)
}

fn ids(violations: &[Violation]) -> BTreeSet<&'static str> {
    violations.iter().map(|v| v.rule.id()).collect()
}

fn lines(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("\n    {}", v.line()))
        .collect()
}

fn known(list: &[(&str, &str)], file: &str) -> bool {
    list.iter().any(|(known, _)| *known == file)
}

fn fail_with(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} corpus file(s) disagree:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

#[test]
fn valid_envelopes_have_no_violation() {
    let mut problems = Vec::new();
    for path in files("valid") {
        let violations = check(&path);
        if !violations.is_empty() {
            problems.push(format!(
                "{}: expected no violation, got{}",
                name(&path),
                lines(&violations)
            ));
        }
    }
    fail_with(&problems);
}

#[test]
fn invalid_envelopes_break_exactly_their_rule() {
    let mut problems = Vec::new();
    for path in files("invalid") {
        let file = name(&path);
        let Some(rule) = rule_of(file) else {
            problems.push(format!("{file}: names no rule"));
            continue;
        };
        let violations = check(&path);
        if ids(&violations) != BTreeSet::from([rule.id()]) {
            problems.push(format!(
                "{file}: expected exactly {{{}}}, got{}",
                rule.id(),
                lines(&violations)
            ));
        }
    }
    fail_with(&problems);
}

#[test]
fn every_checkable_rule_has_an_invalid_case() {
    let covered: BTreeSet<Rule> = files("invalid")
        .iter()
        .filter_map(|path| rule_of(name(path)))
        .collect();
    let uncovered: Vec<&str> = Rule::ALL
        .iter()
        .filter(|rule| !rule.needs_artifacts() && !covered.contains(rule))
        .map(|rule| rule.id())
        .collect();
    assert!(
        uncovered.is_empty(),
        "rules without an invalid corpus file: {uncovered:?}"
    );
}

#[test]
fn invalid_file_names_name_known_checkable_rules() {
    let mut problems = Vec::new();
    for path in files("invalid") {
        let file = name(&path);
        match rule_of(file) {
            None => problems.push(format!("{file}: no rule has this id")),
            Some(rule) if rule.needs_artifacts() => {
                problems.push(format!(
                    "{file}: {} needs the artifacts (disk or storage); it has no place here",
                    rule.id()
                ));
            }
            Some(_) => {}
        }
        if file.matches("--").count() > 1 || file.contains("--.") {
            problems.push(format!("{file}: expected <rule-id>[--<variant>].json"));
        }
    }
    for path in files("valid") {
        if let Some(rule) = rule_of(name(&path)) {
            problems.push(format!(
                "{}: a valid file named after rule {}",
                name(&path),
                rule.id()
            ));
        }
    }
    fail_with(&problems);
}

#[test]
fn strict_deserialization_accepts_every_valid_file() {
    let mut problems = Vec::new();
    for path in files("valid") {
        let bytes = std::fs::read(&path).unwrap();
        if let Err(e) = serde_json::from_slice::<Envelope>(&bytes) {
            problems.push(format!("{}: rejected: {e}", name(&path)));
        }
    }
    fail_with(&problems);
}

#[test]
fn strict_deserialization_rejects_every_shape_invalid_file() {
    let mut problems = Vec::new();
    for path in files("invalid") {
        let file = name(&path);
        if rule_of(file).is_none_or(|rule| rule.scope() != Scope::Shape) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let rejected = serde_json::from_slice::<Envelope>(&bytes).is_err();
        match (rejected, known(SERDE_BUGS, file)) {
            (true, false) | (false, true) => {}
            (false, false) => problems.push(format!(
                "{file}: accepted by serde, but it breaks a Shape rule"
            )),
            (true, true) => {
                problems.push(format!("{file}: now rejected; remove it from SERDE_BUGS"))
            }
        }
    }
    fail_with(&problems);
}

/// `Envelope::to_canonical` of the decoded value is the canonical form of the
/// document itself (valid files are sorted, so nothing moves), and the
/// comparable bytes (without `stderr_tail`) agree too.
#[test]
fn canonical_round_trip_of_valid_files() {
    let mut problems = Vec::new();
    for path in files("valid") {
        let file = name(&path);
        let doc = parse(&path);
        let envelope: Envelope = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let typed = envelope.to_canonical();
        let direct = canon::to_canonical(&doc).unwrap();
        if typed != direct {
            problems.push(format!(
                "{file}: Envelope::to_canonical\n    {}\n  differs from the document's canonical form\n    {}",
                String::from_utf8_lossy(&typed),
                String::from_utf8_lossy(&direct)
            ));
        }
        let reparsed = canon::parse(&typed).unwrap();
        if comparable_bytes(&reparsed).unwrap() != comparable_bytes(&doc).unwrap() {
            problems.push(format!(
                "{file}: comparable bytes differ after a round trip"
            ));
        }
    }
    fail_with(&problems);
}

/// `x.escaped.json` holds the same envelope as `x.json` / `x.literal.json`,
/// written with `\u` escapes: escapes are insignificant.
#[test]
fn escaped_twins_have_the_same_canonical_form() {
    let valid = files("valid");
    let mut twins = 0;
    for path in &valid {
        let Some(stem) = name(path).strip_suffix(".escaped.json") else {
            continue;
        };
        let twin = [format!("{stem}.json"), format!("{stem}.literal.json")]
            .into_iter()
            .map(|n| corpus_dir("valid").join(n))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{}: no literal twin", name(path)));
        let escaped_bytes = std::fs::read(path).unwrap();
        assert!(escaped_bytes.is_ascii(), "{}: not pure ASCII", name(path));
        assert_ne!(
            escaped_bytes,
            std::fs::read(&twin).unwrap(),
            "{}: twins are byte-identical",
            name(path)
        );
        assert_eq!(
            canon::to_canonical(&parse(path)).unwrap(),
            canon::to_canonical(&parse(&twin)).unwrap(),
            "{} and {}",
            name(path),
            name(&twin)
        );
        twins += 1;
    }
    assert!(twins >= 2, "expected escaped twins in the valid corpus");
}

/// The corpus covers the cases CONTRACT.md §2/§4/§6 call out, so that a
/// careless edit of the corpus is noticed.
#[test]
fn valid_corpus_covers_the_contract() {
    let docs: Vec<(String, Envelope)> = files("valid")
        .iter()
        .map(|p| {
            (
                name(p).to_owned(),
                serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap(),
            )
        })
        .collect();
    let codes: BTreeSet<ErrorCode> = docs.iter().filter_map(|(_, e)| e.error_code()).collect();
    assert_eq!(
        codes,
        ErrorCode::ALL.into_iter().collect(),
        "every code has a valid envelope"
    );
    let output_counts: BTreeSet<usize> = docs
        .iter()
        .filter_map(|(_, e)| match e {
            Envelope::Success(s) => Some(s.outputs.len().min(2)),
            Envelope::Error(_) => None,
        })
        .collect();
    assert_eq!(
        output_counts,
        BTreeSet::from([0, 1, 2]),
        "0, 1 and many outputs"
    );
    let tails: Vec<usize> = docs
        .iter()
        .filter_map(|(_, e)| e.meta().stderr_tail.as_ref().map(String::len))
        .collect();
    assert!(
        tails.contains(&theory_contract::STDERR_TAIL_MAX),
        "a tail of exactly 2048 bytes"
    );
    assert!(docs.iter().any(|(_, e)| e.meta().image_digest.is_some()));
    assert!(
        docs.iter()
            .any(|(_, e)| e.meta().image_digest.is_none() && e.meta().stderr_tail.is_none())
    );
    assert!(
        docs.iter()
            .any(|(n, e)| n.ends_with(NO_ID) && e.execution_id().is_empty()),
        "an ERR_INPUTS envelope with execution_id \"\""
    );
}

// ---------------------------------------------------------------- contract bugs

/// Regression: `image_digest` and `stderr_tail` are optional, but `null` is
/// not absence; strict deserialization refuses it as `check_envelope` and
/// the schema do.
#[test]
fn strict_deserialization_refuses_null_meta_fields() {
    for file in [
        "envelope.meta.image_digest.type--null.json",
        "envelope.meta.stderr_tail.type--null.json",
    ] {
        let bytes = std::fs::read(corpus_dir("invalid").join(file)).unwrap();
        assert!(
            serde_json::from_slice::<Envelope>(&bytes).is_err(),
            "{file}"
        );
    }
}

// ---------------------------------------------------------------- questionable

/// Regression: the common log spellings of a process id are volatile.
#[test]
fn pid_spellings_with_spaces_are_volatile() {
    for message in [
        "worker PID: 4242 exited",
        "worker pid = 4242 exited",
        "pid#7",
    ] {
        let doc = canon::parse(
            format!(
                r#"{{"status":"error","execution_id":"exec-1","error":{{"code":"ERR_INTERNAL","message":"{message}"}},"meta":{{"env_fingerprint":"runtime:docker"}}}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            ids(&check_envelope(&doc, &Expect::default())),
            BTreeSet::from(["envelope.volatile.pid"]),
            "{message}"
        );
    }
    for message in ["rapid 4242 exits", "pid unknown"] {
        let doc = canon::parse(
            format!(
                r#"{{"status":"error","execution_id":"exec-1","error":{{"code":"ERR_INTERNAL","message":"{message}"}},"meta":{{"env_fingerprint":"runtime:docker"}}}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            check_envelope(&doc, &Expect::default()),
            Vec::new(),
            "{message}"
        );
    }
}

/// Regression: an HTTP date and a log date are clock readings too; a time
/// of day alone or a date alone is not.
#[test]
fn http_and_log_dates_are_volatile() {
    let flagged = |message: &str| {
        let doc = canon::parse(
            format!(
                r#"{{"status":"error","execution_id":"exec-1","error":{{"code":"ERR_INPUTS","message":"{message}"}},"meta":{{"env_fingerprint":"runtime:docker"}}}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        ids(&check_envelope(&doc, &Expect::default())).contains("envelope.volatile.timestamp")
    };
    for message in [
        "refused by worker on Thu, 03 Dec 2026 13:27:14 GMT",
        "[03/Dec/2026:13:27:14 +0000] bad body",
        "at 2026-12-03T13:27",
    ] {
        assert!(flagged(message), "{message}");
    }
    for message in [
        "invalid time 10:30:45",
        "the date 2026-12-03 is not a weekday",
        "Thu, 03 Dec is a holiday",
        "ratio 16:9:1",
    ] {
        assert!(!flagged(message), "{message}");
    }
    let fp = EnvFingerprint::parse("cpu:1;kernel:6.1.0-18-amd64;runtime:docker;uname:box").unwrap();
    assert_eq!(fp.host_keys().collect::<Vec<_>>(), ["kernel", "uname"]);
}

/// Regression: a host is named by a whole name, not by a word that
/// contains it (a host called `app` and "content type must be
/// application/json").
#[test]
fn the_host_is_named_by_a_whole_name_only() {
    let flagged = |host: &str, message: &str| {
        let doc = canon::parse(
            format!(
                r#"{{"status":"error","execution_id":"exec-1","error":{{"code":"ERR_INPUTS","message":"{message}"}},"meta":{{"env_fingerprint":"runtime:native"}}}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        let hosts = [host.to_owned()];
        let expect = Expect {
            host_values: &hosts,
            ..Expect::default()
        };
        ids(&check_envelope(&doc, &expect)).contains("envelope.volatile.host")
    };
    for (host, message) in [
        ("app", "content type must be application/json"),
        ("python", "bad input"),
        ("ci-7", "runner ci-72 is not this one"),
        ("box", "inbox_full"),
    ] {
        assert!(!flagged(host, message), "{host}: {message}");
    }
    for (host, message) in [
        ("app", "app failed"),
        ("ci-runner-7", "failed on ci-runner-7.internal"),
        ("box", "worker@box: out of memory"),
        ("python", "python"),
    ] {
        assert!(flagged(host, message), "{host}: {message}");
    }
}

/// Regression: an output path with a control character (NUL, newline) is
/// not normalised, as a write prefix with one is refused.
#[test]
fn output_path_with_control_char_is_not_normalized() {
    let doc = canon::parse(
        br#"{"status":"success","execution_id":"exec-1","outputs":[{"path":"/tmp/theory-corpus/exec-1/a\u0000b\nc"}],
            "index_path":"/tmp/theory-corpus/exec-1/outputs.json","meta":{"env_fingerprint":"runtime:docker"}}"#,
    )
    .unwrap();
    let prefix = WritePrefix::parse(PREFIX).unwrap();
    let expect = Expect {
        execution_id: Some(EXECUTION_ID),
        prefix: Some(&prefix),
        host_values: &[],
        secret_values: &[],
    };
    assert_eq!(
        ids(&check_envelope(&doc, &expect)),
        BTreeSet::from(["envelope.outputs.not_normalized"])
    );
    assert!(matches!(
        WritePrefix::parse("/tmp/a\u{0}b/"),
        Err(PrefixError::ControlChar(_))
    ));
}

/// Regression: an execution id must be one path segment, so no two runs
/// can share a prefix (`.` would expand `/tmp/{execution_id}/` to `/tmp/`).
#[test]
fn expand_refuses_an_id_that_is_not_one_segment() {
    for id in [".", "./.", "./", "..", "a/b"] {
        assert!(
            WritePrefix::expand("/tmp/{execution_id}/", id).is_err(),
            "id {id:?}"
        );
    }
}

/// Regression: plain words are not stack traces; real traces are.
#[test]
fn stack_trace_markers_do_not_flag_plain_messages() {
    let check = |message: &str| {
        let doc = canon::parse(
            format!(
                r#"{{"status":"error","execution_id":"exec-1","error":{{"code":"ERR_INTERNAL","message":{}}},"meta":{{"env_fingerprint":"runtime:docker"}}}}"#,
                serde_json::to_string(message).unwrap()
            )
            .as_bytes(),
        )
        .unwrap();
        ids(&check_envelope(&doc, &Expect::default()))
    };
    for message in ["goroutine pool exhausted", "worker panicked at startup"] {
        assert_eq!(check(message), BTreeSet::new(), "{message}");
    }
    for message in [
        "thread 'main' panicked at src/main.rs:2:5:",
        "Traceback (most recent call last):\n  File \"x.py\"",
        "goroutine 1 [running]:",
    ] {
        assert_eq!(
            check(message),
            BTreeSet::from(["envelope.error.message.stack_trace"]),
            "{message}"
        );
    }
}

/// Regression: a received prefix that still holds the template's
/// placeholder was never expanded and is refused; a missing trailing `/`
/// is normalised.
#[test]
fn parse_refuses_an_unexpanded_template() {
    assert!(WritePrefix::parse("/tmp/{execution_id}/").is_err());
    assert_eq!(WritePrefix::parse("/tmp/x").unwrap().as_str(), "/tmp/x/");
}

/// NOTE (validate.rs, `WritePrefix::contains`): a `..` segment in an output
/// path breaks two rules at once, `not_normalized` and `outside_prefix`,
/// even when it resolves under the prefix. Deliberate (containment is
/// decided on the string), so no single-rule corpus file can hold it.
#[test]
fn dotdot_output_breaks_normalisation_and_containment() {
    let doc = canon::parse(
        br#"{"status":"success","execution_id":"exec-1","outputs":[{"path":"/tmp/theory-corpus/exec-1/sub/../a.txt"}],
            "index_path":"/tmp/theory-corpus/exec-1/outputs.json","meta":{"env_fingerprint":"runtime:docker"}}"#,
    )
    .unwrap();
    let prefix = WritePrefix::parse(PREFIX).unwrap();
    let expect = Expect {
        execution_id: None,
        prefix: Some(&prefix),
        host_values: &[],
        secret_values: &[],
    };
    assert_eq!(
        ids(&check_envelope(&doc, &expect)),
        BTreeSet::from([
            "envelope.outputs.not_normalized",
            "envelope.outputs.outside_prefix"
        ])
    );
}

// ---------------------------------------------------------------- WritePrefix

fn expand(template: &str, id: &str) -> Result<String, PrefixError> {
    WritePrefix::expand(template, id).map(|p| p.as_str().to_owned())
}

#[test]
fn expand_substitutes_the_placeholder() {
    assert_eq!(
        expand("/tmp/{execution_id}/", "run-1").unwrap(),
        "/tmp/run-1/"
    );
    assert_eq!(
        expand("/tmp/{execution_id}", "run-1").unwrap(),
        "/tmp/run-1/"
    );
    assert_eq!(
        expand("/data/{execution_id}/out/", "r").unwrap(),
        "/data/r/out/"
    );
    assert_eq!(
        expand("/tmp/{execution_id}-{execution_id}/", "r").unwrap(),
        "/tmp/r-r/"
    );
    assert_eq!(
        expand("/tmp/fixed/", "r").unwrap(),
        "/tmp/fixed/",
        "no placeholder is allowed"
    );
    assert_eq!(
        expand("/tmp/{execution_id}/", "a/b"),
        Err(PrefixError::ExecutionIdSegment("a/b".to_owned())),
        "an id is one segment: it may not nest"
    );
    assert_eq!(
        expand("/tmp/{execution_id}/", "exécution").unwrap(),
        "/tmp/exécution/"
    );
}

#[test]
fn expand_substitutes_once() {
    // An id holding the placeholder is not expanded again: it is substituted
    // once, literally, and the braces it leaves are then refused as an
    // unexpanded template.
    for id in ["{execution_id}", "x{execution_id}y"] {
        assert!(
            matches!(
                expand("/tmp/{execution_id}/", id),
                Err(PrefixError::UnknownPlaceholder(p)) if p == format!("/tmp/{id}/")
            ),
            "{id:?}"
        );
    }
    assert_eq!(
        expand("/a/{execution_id}/b/{execution_id}/", "r").unwrap(),
        "/a/r/b/r/",
        "every occurrence, in one pass"
    );
}

#[test]
fn expand_normalises_slashes_and_dots() {
    assert_eq!(
        expand("/tmp/{execution_id}///", "r").unwrap(),
        "/tmp/r/",
        "exactly one trailing slash"
    );
    assert_eq!(expand("//tmp//{execution_id}", "r").unwrap(), "/tmp/r/");
    assert_eq!(expand("/tmp/./{execution_id}/.", "r").unwrap(), "/tmp/r/");
    assert_eq!(
        expand("/tmp/..hidden/{execution_id}/", "r").unwrap(),
        "/tmp/..hidden/r/"
    );
    assert_eq!(expand("/tmp/{execution_id}/", "r..").unwrap(), "/tmp/r../");
}

#[test]
fn expand_refuses_relative_templates() {
    for template in [
        "tmp/{execution_id}/",
        "./{execution_id}/",
        "~/{execution_id}/",
        "",
        " /tmp/{execution_id}/",
    ] {
        assert!(
            matches!(expand(template, "r"), Err(PrefixError::Relative(_))),
            "{template:?}: {:?}",
            expand(template, "r")
        );
    }
}

#[test]
fn expand_refuses_dotdot_before_and_after_substitution() {
    for template in [
        "/tmp/../{execution_id}/",
        "/tmp/{execution_id}/..",
        "/../{execution_id}",
    ] {
        assert!(
            matches!(expand(template, "r"), Err(PrefixError::DotDot(_))),
            "{template:?}"
        );
    }
    for id in ["..", "../etc", "a/../b", "a/.."] {
        assert!(
            matches!(
                expand("/tmp/{execution_id}/", id),
                Err(PrefixError::ExecutionIdSegment(_))
            ),
            "id {id:?}: {:?}",
            expand("/tmp/{execution_id}/", id)
        );
    }
}

#[test]
fn expand_refuses_unknown_placeholders() {
    for template in [
        "/tmp/{run_id}/",
        "/tmp/{EXECUTION_ID}/",
        "/tmp/{execution_id}}/",
        "/tmp/{{execution_id}/",
        "/tmp/{/",
        "/tmp/}/",
        "/tmp/{ execution_id }/",
    ] {
        assert!(
            matches!(
                expand(template, "r"),
                Err(PrefixError::UnknownPlaceholder(_))
            ),
            "{template:?}: {:?}",
            expand(template, "r")
        );
    }
}

#[test]
fn expand_refuses_control_characters() {
    for template in [
        "/tmp/\0/{execution_id}",
        "/tmp/a\nb/{execution_id}",
        "/tmp/\u{7f}/{execution_id}",
        "/tmp/\u{85}/{execution_id}",
    ] {
        assert!(
            matches!(expand(template, "r"), Err(PrefixError::ControlChar(_))),
            "{template:?}"
        );
    }
    for id in ["a\0b", "a\tb", "r\n"] {
        assert!(
            matches!(
                expand("/tmp/{execution_id}/", id),
                Err(PrefixError::ControlChar(_))
            ),
            "id {id:?}"
        );
    }
}

#[test]
fn expand_refuses_the_root_and_an_empty_id() {
    for template in ["/", "//", "/./", "/."] {
        assert!(
            matches!(expand(template, "r"), Err(PrefixError::Root(_))),
            "{template:?}"
        );
    }
    assert!(matches!(
        expand("/{execution_id}", "."),
        Err(PrefixError::ExecutionIdSegment(_))
    ));
    assert_eq!(
        expand("/tmp/{execution_id}/", ""),
        Err(PrefixError::EmptyExecutionId)
    );
}

#[test]
fn write_prefix_contains_only_paths_strictly_below() {
    let prefix = WritePrefix::parse(PREFIX).unwrap();
    assert!(prefix.contains("/tmp/theory-corpus/exec-1/a.txt"));
    assert!(prefix.contains("/tmp/theory-corpus/exec-1/a/b/c.txt"));
    assert!(
        !prefix.contains("/tmp/theory-corpus/exec-1/"),
        "the prefix itself"
    );
    assert!(!prefix.contains("/tmp/theory-corpus/exec-1"));
    assert!(
        !prefix.contains("/tmp/theory-corpus/exec-10/a.txt"),
        "a sibling with the same start"
    );
    assert!(!prefix.contains("/tmp/theory-corpus/exec-1/../exec-2/a.txt"));
    assert_eq!(prefix.join("/a.txt"), "/tmp/theory-corpus/exec-1/a.txt");
}

// ---------------------------------------------------------------- EnvFingerprint

#[test]
fn fingerprint_accepts_sorted_pairs() {
    for fp in [
        "runtime:docker",
        "cpu:1;memory:2Gi;platform:amd64;runtime:docker",
        "platform:linux/amd64",
        "image:ghcr.io/acme/proc@sha256:00",
        "a-b:1;a.b:2;a0:3;a_b:4;ab:5",
        "v:AZaz09._/+@:-",
    ] {
        let parsed = EnvFingerprint::parse(fp).unwrap_or_else(|e| panic!("{fp:?}: {e}"));
        assert_eq!(parsed.to_string(), fp, "renders as parsed");
    }
}

#[test]
fn fingerprint_refuses_malformed_pairs() {
    assert_eq!(EnvFingerprint::parse(""), Err(FingerprintError::Empty));
    for fp in [
        ";",
        "cpu:1;",
        ";cpu:1",
        "cpu",
        "cpu:",
        ":1",
        "CPU:1",
        "1cpu:1",
        "_cpu:1",
        "cpu:1; runtime:docker",
        "cpu:a b",
        "cpu:é",
        "cpu:1\n",
        "cpu=1",
        "c pu:1",
        "x:!~",
        "memory:2Gi(limit)",
        "runtime:\"docker\"",
        "k:a,b",
    ] {
        assert!(
            matches!(
                EnvFingerprint::parse(fp),
                Err(FingerprintError::Malformed { .. })
            ),
            "{fp:?}: {:?}",
            EnvFingerprint::parse(fp)
        );
    }
}

/// Regression: form is checked before order, so a malformed pair is
/// reported (scope Shape, as the schema does) even after an unsorted or
/// duplicate one (corpus: `envelope.meta.env_fingerprint.malformed--after-*`).
#[test]
fn fingerprint_form_is_checked_before_order() {
    for fp in ["runtime:docker;cpu:1;gpu", "cpu:1;cpu:1;gpu"] {
        assert!(
            matches!(
                EnvFingerprint::parse(fp),
                Err(FingerprintError::Malformed { index: 2, .. })
            ),
            "{fp:?}: {:?}",
            EnvFingerprint::parse(fp)
        );
    }
}

#[test]
fn fingerprint_refuses_unsorted_and_duplicate_keys() {
    for fp in [
        "runtime:docker;cpu:1",
        "cpus:1;cpu:1",
        "cpu_a:1;cpu-a:1",
        "b:1;a:1;c:1",
    ] {
        assert!(
            matches!(
                EnvFingerprint::parse(fp),
                Err(FingerprintError::Unsorted { .. })
            ),
            "{fp:?}"
        );
    }
    assert_eq!(
        EnvFingerprint::parse("cpu:1;cpu:2"),
        Err(FingerprintError::DuplicateKey("cpu".to_owned()))
    );
}

#[test]
fn fingerprint_from_pairs_sorts_and_validates() {
    let fp = EnvFingerprint::from_pairs([("runtime", "docker"), ("cpu", "1")]).unwrap();
    assert_eq!(fp.to_string(), "cpu:1;runtime:docker");
    assert_eq!(
        EnvFingerprint::from_pairs([("cpu", "1"), ("cpu", "2")]),
        Err(FingerprintError::DuplicateKey("cpu".to_owned()))
    );
    assert_eq!(
        EnvFingerprint::from_pairs::<&str, &str>([]),
        Err(FingerprintError::Empty)
    );
    for (k, v) in [
        ("cpu", "1;runtime:docker"),
        ("cpu:x", "1"),
        ("cpu", ""),
        ("Cpu", "1"),
        ("cpu", "a b"),
    ] {
        assert!(
            matches!(
                EnvFingerprint::from_pairs([(k, v)]),
                Err(FingerprintError::Malformed { .. })
            ),
            "({k:?}, {v:?})"
        );
    }
}

#[test]
fn fingerprint_reports_host_keys() {
    let fp = EnvFingerprint::parse("cpu:1;hostname:box;pid:1;runtime:docker").unwrap();
    assert_eq!(fp.host_keys().collect::<Vec<_>>(), ["hostname", "pid"]);
    let clean = EnvFingerprint::parse("cpu:1;host_arch:amd64;runtime:docker").unwrap();
    assert_eq!(
        clean.host_keys().count(),
        0,
        "only exact keys are host keys"
    );
}

// ---------------------------------------------------------------- Digest, ErrorCode

#[test]
fn digest_accepts_sha256_lowercase_hex() {
    let hex = "0123456789abcdef".repeat(4);
    let digest = Digest::parse(&format!("sha256:{hex}")).unwrap();
    assert_eq!(digest.hex(), hex);
    assert_eq!(digest.as_str(), format!("sha256:{hex}"));
}

#[test]
fn digest_refuses_everything_else() {
    let hex = "0123456789abcdef".repeat(4);
    for bad in [
        String::new(),
        hex.clone(),
        format!("sha256:{}", hex.to_uppercase()),
        format!("sha256:{}", &hex[1..]),
        format!("sha256:{hex}0"),
        format!("sha512:{hex}"),
        format!("SHA256:{hex}"),
        format!("sha256: {}", &hex[1..]),
        format!("sha256:{hex}\n"),
        format!("repo@sha256:{hex}"),
        format!("sha256:{}g", &hex[1..]),
        format!("sha256:{}é", &hex[2..]),
    ] {
        assert!(Digest::parse(&bad).is_err(), "{bad:?}");
    }
}

#[test]
fn error_code_parse_knows_exactly_the_nine_codes() {
    for code in ErrorCode::ALL {
        assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            serde_json::json!(code.as_str())
        );
        assert_eq!(code.to_string(), code.as_str());
    }
    for bad in [
        "",
        "ERR_WS_TIMEOUT",
        "err_inputs",
        "ERR_INPUT",
        "ERR_INPUTS ",
        " ERR_INPUTS",
        "Inputs",
        "ERR_UNKNOWN",
    ] {
        assert_eq!(ErrorCode::parse(bad), None, "{bad:?}");
    }
    let distinct: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(distinct.len(), ErrorCode::ALL.len());
}

/// Found by the `envelope` fuzz target: a malformed fingerprint's message
/// quoted its value, and with it a secret's.
#[test]
fn no_violation_message_quotes_a_secret() {
    let doc = canon::parse(
        br#"{"status":"success","execution_id":"exec-1","index_path":"/envelope.unknown_fielc-1/outputs.json","meta":{"env_fingerprint":"cpu:1;memor*******fuzz-secret*******y:2Gi"}}"#,
    )
    .unwrap();
    let secrets = ["fuzz-secret".to_owned()];
    let violations = check_envelope(
        &doc,
        &Expect {
            execution_id: Some(EXECUTION_ID),
            prefix: None,
            host_values: &[],
            secret_values: &secrets,
        },
    );
    assert!(
        violations
            .iter()
            .any(|v| v.rule == Rule::FingerprintMalformed && v.message.contains("[redacted]")),
        "{violations:?}"
    );
    for violation in &violations {
        assert!(!violation.message.contains("fuzz-secret"), "{violation:?}");
    }
}
