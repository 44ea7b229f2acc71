//! Envelope validation: every violation of CONTRACT.md §2 and §7 that can be
//! decided without touching a disk, each with a stable [`Rule`].

use crate::canon::Json;
use crate::fingerprint::{EnvFingerprint, FingerprintError};
use crate::prefix::{WritePrefix, is_normal_path};
use crate::{Digest, ErrorCode, Rule, STDERR_TAIL_MAX, Violation, pointer_token};

/// The folder under every write prefix that the contract reserves for the
/// orchestrator (CONTRACT.md §7): it persists the envelope there, so no
/// processor output may be in it.
pub const RESERVED_FOLDER: &str = ".theory";

/// The most bytes `error.message` may hold.
pub const MESSAGE_MAX: usize = 1024;

/// What the caller knows about the run the envelope answers. Every field is
/// optional; the rules that need one are skipped without it.
#[derive(Clone, Debug, Default)]
pub struct Expect<'a> {
    /// The execution id the request carried.
    pub execution_id: Option<&'a str>,
    /// The expanded write prefix the request carried.
    pub prefix: Option<&'a WritePrefix>,
    /// Values that name the host or container (host names, container ids):
    /// none may appear in the envelope outside `stderr_tail`.
    pub host_values: &'a [String],
    /// The values of the secrets declared for the processor: none may
    /// appear anywhere in the envelope, `stderr_tail` and member names
    /// included. The violation never quotes the value.
    pub secret_values: &'a [String],
}

/// Checks an envelope and returns every violation, sorted as
/// [`Violation::sort`] says. An empty list means valid.
///
/// ```
/// use theory_contract::{canon, check_envelope, Expect};
/// let doc = canon::parse(br#"{"status":"error","execution_id":"a",
///   "error":{"code":"ERR_NOPE","message":"x"},"meta":{"env_fingerprint":"runtime:docker"}}"#).unwrap();
/// let violations = check_envelope(&doc, &Expect::default());
/// assert_eq!(violations[0].rule.id(), "envelope.error.code.unknown");
/// assert_eq!(violations[0].pointer, "/error/code");
/// ```
pub fn check_envelope(doc: &Json, expect: &Expect<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    check(doc, expect, &mut out);
    // A message may quote the processor's value (a malformed fingerprint,
    // a path): never a secret's.
    for violation in &mut out {
        for secret in expect
            .secret_values
            .iter()
            .filter(|s| s.len() >= SECRET_MIN)
        {
            if violation.message.contains(secret.as_str()) {
                violation.message = violation.message.replace(secret.as_str(), SECRET_MASK);
            }
        }
    }
    Violation::sort(&mut out);
    out
}

/// What replaces a secret's value in a violation's message.
pub const SECRET_MASK: &str = "[redacted]";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Success,
    Error,
    Unknown,
}

fn check(doc: &Json, expect: &Expect<'_>, out: &mut Vec<Violation>) {
    let Json::Object(members) = doc else {
        out.push(Violation::new(
            Rule::NotObject,
            "",
            format!("expected an object, found {}", kind(doc)),
        ));
        return;
    };
    let status = match get(members, "status") {
        None => {
            out.push(Violation::new(
                Rule::StatusMissing,
                "",
                "missing field `status`",
            ));
            Status::Unknown
        }
        Some(Json::String(s)) if s == "success" => Status::Success,
        Some(Json::String(s)) if s == "error" => Status::Error,
        Some(other) => {
            out.push(Violation::new(
                Rule::StatusInvalid,
                "/status",
                format!(
                    "expected \"success\" or \"error\", found {}",
                    describe(other)
                ),
            ));
            Status::Unknown
        }
    };
    let allowed: &[&str] = match status {
        Status::Success => &["status", "execution_id", "outputs", "index_path", "meta"],
        Status::Error => &["status", "execution_id", "error", "meta"],
        Status::Unknown => &[
            "status",
            "execution_id",
            "outputs",
            "index_path",
            "error",
            "meta",
        ],
    };
    unknown_fields(members, allowed, "", Rule::UnknownField, out);

    match get(members, "execution_id") {
        None => out.push(Violation::new(
            Rule::ExecutionIdMissing,
            "",
            "missing field `execution_id`",
        )),
        Some(Json::String(id)) => {
            if let Some(want) = expect.execution_id.filter(|want| want != id) {
                out.push(Violation::new(
                    Rule::ExecutionIdMismatch,
                    "/execution_id",
                    format!("expected {want:?}, found {id:?}"),
                ));
            }
        }
        Some(other) => out.push(type_error(
            Rule::ExecutionIdType,
            "/execution_id",
            "a string",
            other,
        )),
    }

    match status {
        Status::Success => check_success(members, expect, out),
        Status::Error => check_error(members, out),
        Status::Unknown => {}
    }
    check_meta(get(members, "meta"), out);
    check_volatile(doc, "", expect, out);
    check_secrets(doc, "", expect.secret_values, out);
}

fn check_success(members: &[(String, Json)], expect: &Expect<'_>, out: &mut Vec<Violation>) {
    let index_path = match get(members, "index_path") {
        None => {
            out.push(Violation::new(
                Rule::IndexPathMissing,
                "",
                "missing field `index_path`",
            ));
            None
        }
        Some(Json::String(path)) => {
            check_path(
                path,
                "/index_path",
                [
                    Rule::IndexPathNotAbsolute,
                    Rule::IndexPathNotNormalized,
                    Rule::IndexPathOutsidePrefix,
                    Rule::IndexPathReserved,
                ],
                expect,
                out,
            );
            Some(path.as_str())
        }
        Some(other) => {
            out.push(type_error(
                Rule::IndexPathType,
                "/index_path",
                "a string",
                other,
            ));
            None
        }
    };
    let items = match get(members, "outputs") {
        None => {
            out.push(Violation::new(
                Rule::OutputsMissing,
                "",
                "missing field `outputs`",
            ));
            return;
        }
        Some(Json::Array(items)) => items,
        Some(other) => {
            out.push(type_error(Rule::OutputsType, "/outputs", "an array", other));
            return;
        }
    };
    let mut paths: Vec<(usize, &str)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("/outputs/{i}");
        let Json::Object(fields) = item else {
            out.push(type_error(Rule::OutputsType, &at, "an object", item));
            continue;
        };
        unknown_fields(fields, &["path"], &at, Rule::OutputsUnknownField, out);
        match get(fields, "path") {
            None => out.push(Violation::new(
                Rule::OutputsPathMissing,
                &at,
                "missing field `path`",
            )),
            Some(Json::String(path)) => {
                let at = format!("{at}/path");
                check_path(
                    path,
                    &at,
                    [
                        Rule::OutputsNotAbsolute,
                        Rule::OutputsNotNormalized,
                        Rule::OutputsOutsidePrefix,
                        Rule::OutputsReserved,
                    ],
                    expect,
                    out,
                );
                if index_path == Some(path.as_str()) {
                    out.push(Violation::new(
                        Rule::OutputsListsIndex,
                        &at,
                        format!("{path:?} is the index file"),
                    ));
                }
                paths.push((i, path));
            }
            Some(other) => out.push(type_error(
                Rule::OutputsPathType,
                &format!("{at}/path"),
                "a string",
                other,
            )),
        }
    }
    for pair in paths.windows(2) {
        let [(_, before), (i, after)] = pair else {
            continue;
        };
        if after < before {
            out.push(Violation::new(
                Rule::OutputsUnsorted,
                format!("/outputs/{i}/path"),
                format!("{after:?} sorts before {before:?}"),
            ));
        }
    }
    let mut seen: Vec<(&str, usize)> = paths.iter().map(|&(i, p)| (p, i)).collect();
    seen.sort();
    for pair in seen.windows(2) {
        let [(first, _), (second, i)] = pair else {
            continue;
        };
        if first == second {
            out.push(Violation::new(
                Rule::OutputsDuplicate,
                format!("/outputs/{i}/path"),
                format!("{second:?} is listed more than once"),
            ));
        }
    }
}

fn check_path(
    path: &str,
    at: &str,
    [absolute, normal, under, reserved]: [Rule; 4],
    expect: &Expect<'_>,
    out: &mut Vec<Violation>,
) {
    if !path.starts_with('/') {
        out.push(Violation::new(
            absolute,
            at,
            format!("{path:?} is relative"),
        ));
        return;
    }
    if !is_normal_path(path) {
        out.push(Violation::new(
            normal,
            at,
            format!("{path:?} has an empty, `.` or `..` segment or a trailing `/`"),
        ));
    }
    if let Some(prefix) = expect.prefix {
        if !prefix.contains(path) {
            out.push(Violation::new(
                under,
                at,
                format!("{path:?} is not under {:?}", prefix.as_str()),
            ));
        } else if path[prefix.as_str().len()..]
            .split('/')
            .next()
            .is_some_and(|first| first == RESERVED_FOLDER)
        {
            out.push(Violation::new(
                reserved,
                at,
                format!("{path:?} is in the reserved folder {RESERVED_FOLDER}/"),
            ));
        }
    }
}

fn check_error(members: &[(String, Json)], out: &mut Vec<Violation>) {
    let fields = match get(members, "error") {
        None => {
            out.push(Violation::new(
                Rule::ErrorMissing,
                "",
                "missing field `error`",
            ));
            return;
        }
        Some(Json::Object(fields)) => fields,
        Some(other) => {
            out.push(type_error(Rule::ErrorType, "/error", "an object", other));
            return;
        }
    };
    unknown_fields(
        fields,
        &["code", "message"],
        "/error",
        Rule::ErrorUnknownField,
        out,
    );
    match get(fields, "code") {
        None => out.push(Violation::new(
            Rule::ErrorCodeMissing,
            "/error",
            "missing field `code`",
        )),
        Some(Json::String(code)) if ErrorCode::parse(code).is_some() => {}
        Some(other) => out.push(Violation::new(
            Rule::ErrorCodeUnknown,
            "/error/code",
            format!("{} is not a code of the closed set", describe(other)),
        )),
    }
    match get(fields, "message") {
        None => out.push(Violation::new(
            Rule::ErrorMessageMissing,
            "/error",
            "missing field `message`",
        )),
        Some(Json::String(message)) => {
            if message.trim().is_empty() {
                out.push(Violation::new(
                    Rule::ErrorMessageEmpty,
                    "/error/message",
                    "the message is empty",
                ));
            }
            if message.len() > MESSAGE_MAX {
                out.push(Violation::new(
                    Rule::ErrorMessageTooLong,
                    "/error/message",
                    format!("{} bytes, more than {MESSAGE_MAX}", message.len()),
                ));
            }
            if let Some(signature) = crate::stack_trace::find(message) {
                out.push(Violation::new(
                    Rule::ErrorMessageStackTrace,
                    "/error/message",
                    format!(
                        "looks like a {} stack trace (a line of the shape {:?})",
                        signature.runtime, signature.pattern
                    ),
                ));
            }
        }
        Some(other) => out.push(type_error(
            Rule::ErrorMessageType,
            "/error/message",
            "a string",
            other,
        )),
    }
}

fn check_meta(meta: Option<&Json>, out: &mut Vec<Violation>) {
    let fields = match meta {
        None => {
            out.push(Violation::new(
                Rule::MetaMissing,
                "",
                "missing field `meta`",
            ));
            return;
        }
        Some(Json::Object(fields)) => fields,
        Some(other) => {
            out.push(type_error(Rule::MetaType, "/meta", "an object", other));
            return;
        }
    };
    unknown_fields(
        fields,
        &["env_fingerprint", "image_digest", "stderr_tail"],
        "/meta",
        Rule::MetaUnknownField,
        out,
    );
    const FP: &str = "/meta/env_fingerprint";
    match get(fields, "env_fingerprint") {
        None => out.push(Violation::new(
            Rule::FingerprintMissing,
            "/meta",
            "missing field `env_fingerprint`",
        )),
        Some(Json::String(fp)) => match EnvFingerprint::parse(fp) {
            Ok(parsed) => {
                for key in parsed.host_keys() {
                    out.push(Violation::new(
                        Rule::FingerprintHostData,
                        FP,
                        format!("key {key:?} describes the host"),
                    ));
                }
            }
            Err(e @ (FingerprintError::Empty | FingerprintError::Malformed { .. })) => {
                out.push(Violation::new(
                    Rule::FingerprintMalformed,
                    FP,
                    e.to_string(),
                ));
            }
            Err(e @ FingerprintError::Unsorted { .. }) => {
                out.push(Violation::new(Rule::FingerprintUnsorted, FP, e.to_string()));
            }
            Err(e @ FingerprintError::DuplicateKey(_)) => {
                out.push(Violation::new(
                    Rule::FingerprintDuplicateKey,
                    FP,
                    e.to_string(),
                ));
            }
        },
        Some(other) => out.push(type_error(Rule::FingerprintType, FP, "a string", other)),
    }
    match get(fields, "image_digest") {
        None => {}
        Some(Json::String(d)) => {
            if let Err(e) = Digest::parse(d) {
                out.push(Violation::new(
                    Rule::DigestMalformed,
                    "/meta/image_digest",
                    e.to_string(),
                ));
            }
        }
        Some(other) => out.push(type_error(
            Rule::DigestType,
            "/meta/image_digest",
            "a string",
            other,
        )),
    }
    match get(fields, "stderr_tail") {
        None => {}
        Some(Json::String(tail)) => {
            if tail.len() > STDERR_TAIL_MAX {
                out.push(Violation::new(
                    Rule::StderrTailTooLong,
                    "/meta/stderr_tail",
                    format!("{} bytes, more than {STDERR_TAIL_MAX}", tail.len()),
                ));
            }
            if tail.starts_with('\u{FFFD}') {
                out.push(Violation::new(
                    Rule::StderrTailSplitChar,
                    "/meta/stderr_tail",
                    "starts with U+FFFD: the tail was cut inside a character",
                ));
            }
        }
        Some(other) => out.push(type_error(
            Rule::StderrTailType,
            "/meta/stderr_tail",
            "a string",
            other,
        )),
    }
}

/// The shortest secret value searched for: a shorter one would match
/// ordinary text (the same floor as log redaction).
pub const SECRET_MIN: usize = 4;

/// Scans every string of the envelope, member names included, for a
/// secret's value.
fn check_secrets(value: &Json, at: &str, secrets: &[String], out: &mut Vec<Violation>) {
    let leaks = |text: &str| {
        secrets
            .iter()
            .any(|s| s.len() >= SECRET_MIN && text.contains(s.as_str()))
    };
    match value {
        Json::Object(members) => {
            for (key, v) in members {
                let child = format!("{at}/{}", pointer_token(key));
                if leaks(key) {
                    out.push(Violation::new(
                        Rule::SecretValue,
                        child.clone(),
                        "a member name holds the value of a declared secret (not shown)",
                    ));
                }
                check_secrets(v, &child, secrets, out);
            }
        }
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_secrets(v, &format!("{at}/{i}"), secrets, out);
            }
        }
        Json::String(text) if leaks(text) => out.push(Violation::new(
            Rule::SecretValue,
            at,
            "holds the value of a declared secret (not shown)",
        )),
        Json::String(_) | Json::Null | Json::Bool(_) | Json::Number(_) => {}
    }
}

/// Scans every string outside `stderr_tail`, `execution_id` and
/// `image_digest` for clock, process and host data. The request's own
/// execution id and prefix are removed first: they are the caller's.
fn check_volatile(value: &Json, at: &str, expect: &Expect<'_>, out: &mut Vec<Violation>) {
    match value {
        Json::Object(members) => {
            for (key, v) in members {
                let child = format!("{at}/{}", pointer_token(key));
                if !matches!(
                    child.as_str(),
                    "/meta/stderr_tail" | "/execution_id" | "/meta/image_digest"
                ) {
                    check_volatile(v, &child, expect, out);
                }
            }
        }
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_volatile(v, &format!("{at}/{i}"), expect, out);
            }
        }
        Json::String(s) => {
            let mut text = s.clone();
            if let Some(prefix) = expect.prefix {
                text = text.replace(prefix.as_str(), "/");
            }
            if let Some(id) = expect.execution_id.filter(|id| !id.is_empty()) {
                text = text.replace(id, "");
            }
            if let Some(found) = find_timestamp(&text) {
                out.push(Violation::new(
                    Rule::VolatileTimestamp,
                    at,
                    format!("{found:?} looks like a date and time"),
                ));
            }
            if let Some(found) = find_pid(&text) {
                out.push(Violation::new(
                    Rule::VolatilePid,
                    at,
                    format!("{found:?} looks like a process id"),
                ));
            }
            if let Some(host) = expect
                .host_values
                .iter()
                .find(|h| h.len() >= 3 && names_host(&text, h))
            {
                out.push(Violation::new(
                    Rule::VolatileHost,
                    at,
                    format!("names the host {host:?}"),
                ));
            }
        }
        Json::Null | Json::Bool(_) | Json::Number(_) => {}
    }
}

/// Whether `text` names `host` as a whole name, not as a part of a longer
/// word: a host called `app` is named by "app-7 failed" or "on app.", not
/// by "application/json". A host name is letters, digits, `-` and `_`.
fn names_host(text: &str, host: &str) -> bool {
    let part =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    text.match_indices(host).any(|(at, _)| {
        !part(text[..at].chars().next_back()) && !part(text[at + host.len()..].chars().next())
    })
}

/// A clock reading: ISO 8601 (`YYYY-MM-DD` then `T` or a space then
/// `HH:MM`), an HTTP date (`Thu, 03 Dec 2026 13:27:14`) or a log date
/// (`03/Dec/2026:13:27:14`).
fn find_timestamp(s: &str) -> Option<&str> {
    // `d` a digit, `a` a letter, `?` `T` or a space, anything else itself.
    const SHAPES: &[&[u8]] = &[
        b"dddd-dd-dd?dd:dd",
        b"aaa, dd aaa dddd dd:dd:dd",
        b"dd/aaa/dddd:dd:dd:dd",
    ];
    let bytes = s.as_bytes();
    (0..bytes.len()).find_map(|start| {
        SHAPES.iter().find_map(|shape| {
            let window = bytes.get(start..start + shape.len())?;
            let fits = window.iter().zip(*shape).all(|(&b, &want)| match want {
                b'd' => b.is_ascii_digit(),
                b'a' => b.is_ascii_alphabetic(),
                b'?' => b == b'T' || b == b' ',
                _ => b == want,
            });
            fits.then(|| &s[start..start + shape.len()])
        })
    })
}

/// `pid` as a word, then optionally spaces, one of `=:#` and spaces, then digits.
fn find_pid(s: &str) -> Option<&str> {
    let lower = s.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    lower.match_indices("pid").find_map(|(start, _)| {
        let word_start = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let mut end = start + 3;
        let skip_spaces = |mut at: usize| {
            while bytes.get(at) == Some(&b' ') {
                at += 1;
            }
            at
        };
        end = skip_spaces(end);
        if matches!(bytes.get(end), Some(b'=' | b':' | b'#')) {
            end = skip_spaces(end + 1);
        }
        let digits = bytes[end..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        (word_start && digits > 0).then(|| &s[start..end + digits])
    })
}

fn unknown_fields(
    members: &[(String, Json)],
    allowed: &[&str],
    at: &str,
    rule: Rule,
    out: &mut Vec<Violation>,
) {
    for (key, _) in members {
        if !allowed.contains(&key.as_str()) {
            out.push(Violation::new(
                rule,
                format!("{at}/{}", pointer_token(key)),
                format!("unknown field {key:?}"),
            ));
        }
    }
}

fn get<'a>(members: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn type_error(rule: Rule, at: &str, expected: &str, found: &Json) -> Violation {
    Violation::new(
        rule,
        at,
        format!("expected {expected}, found {}", kind(found)),
    )
}

fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn describe(value: &Json) -> String {
    match value {
        Json::String(s) => format!("{s:?}"),
        other @ (Json::Null
        | Json::Bool(_)
        | Json::Number(_)
        | Json::Array(_)
        | Json::Object(_)) => kind(other).to_owned(),
    }
}
