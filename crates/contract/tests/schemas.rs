//! The JSON Schemas in `schemas/` agree with the Rust contract.
//!
//! - Every schema is a valid draft 2020-12 schema, with `$id`, `title` and
//!   `description` where processor authors will look for them.
//! - On the corpora of `fixtures/contract/` (see the README there), a
//!   document is schema-valid exactly when the Rust side accepts it:
//!   envelopes: no violation of scope `Shape` from `check_envelope`;
//!   requests: `RunRequest::from_value` is `Ok`; frames: `Frame::from_text`
//!   is `Ok` and a `RunOpen` content passes `decode::<RunOpen>` and request
//!   validation, a `RunResult` content has no `Shape` violation. The request
//!   schema encodes the semantic request checks too (non-empty id, non-null
//!   inputs, write prefix rules), so there is no exception to list.
//! - Generate-and-diff guards: the schemas' enums and property sets equal
//!   what the Rust types define and serialize.
#![expect(
    clippy::unwrap_used,
    reason = "tests: a panic with the file name is the failure report"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jsonschema::{Registry, Validator};
use proptest::prelude::*;
use serde_json::{Value, json};
use theory_contract::canon;
use theory_contract::{
    Digest, EnvFingerprint, Envelope, ErrorCode, Expect, FingerprintError, Frame, FrameKind, Meta,
    Output, Payload, PrefixError, RequestError, Role, RunOpen, RunRequest, Scope, Storage, Success,
    check_envelope, decode,
};

/// Where the schemas are published; each `$id` is this plus the file name.
const BASE: &str = "https://theory-conform.dev/schemas/theory.run.v1/";
const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";
const SCHEMA_FILES: [&str; 4] = [
    "envelope.schema.json",
    "request.schema.json",
    "run-open.schema.json",
    "frame.schema.json",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema(file: &str) -> Value {
    let path = repo().join("schemas").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Every schema by `$id`, so that `$ref`s between them resolve offline.
fn registry() -> Registry<'static> {
    Registry::new()
        .extend(SCHEMA_FILES.map(|file| (format!("{BASE}{file}"), schema(file))))
        .unwrap()
        .prepare()
        .unwrap()
}

fn validator(file: &str) -> Validator {
    let registry = registry();
    jsonschema::draft202012::options()
        .with_registry(&registry)
        .build(&schema(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// `Ok` or every schema error, one per line.
fn schema_verdict(validator: &Validator, doc: Option<&Value>) -> Result<(), String> {
    let Some(doc) = doc else {
        return Err("not JSON".to_owned());
    };
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{:?}: {e}", e.instance_path().as_str()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn corpus(kind: &str, folder: &str) -> Vec<PathBuf> {
    let dir = repo().join("fixtures/contract").join(kind).join(folder);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{}: no corpus file", dir.display());
    out
}

fn both(kind: &str) -> Vec<PathBuf> {
    let mut all = corpus(kind, "valid");
    all.extend(corpus(kind, "invalid"));
    all
}

fn name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

/// `valid/x.json` -> `valid/x.json`, for messages.
fn label(path: &Path) -> String {
    let folder = path
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    format!("{folder}/{}", name(path))
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn fail_with(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} corpus file(s) disagree:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// Compares the schema verdict with the Rust verdict on every file.
fn agree(validator: &Validator, files: &[PathBuf], rust: impl Fn(&str) -> Result<(), String>) {
    let mut problems = Vec::new();
    for path in files {
        let text = text(path);
        let doc: Option<Value> = serde_json::from_str(&text).ok();
        let by_schema = schema_verdict(validator, doc.as_ref());
        let by_rust = rust(&text);
        if by_schema.is_ok() != by_rust.is_ok() {
            problems.push(format!(
                "{}:\n    schema: {}\n    rust:   {}",
                label(path),
                verdict(&by_schema),
                verdict(&by_rust)
            ));
        }
    }
    fail_with(&problems);
}

fn verdict(v: &Result<(), String>) -> String {
    match v {
        Ok(()) => "valid".to_owned(),
        Err(why) => format!("invalid ({why})"),
    }
}

// ---------------------------------------------------------------- Rust verdicts

/// No violation of scope `Shape` (the ones the envelope schema enforces).
fn envelope_shape(text: &str) -> Result<(), String> {
    let doc = canon::parse(text.as_bytes()).map_err(|e| format!("not strict JSON: {e}"))?;
    let shape: Vec<String> = check_envelope(&doc, &Expect::default())
        .into_iter()
        .filter(|v| v.rule.scope() == Scope::Shape)
        .map(|v| v.line())
        .collect();
    if shape.is_empty() {
        Ok(())
    } else {
        Err(shape.join("; "))
    }
}

fn request(text: &str) -> Result<(), RequestError> {
    let value: Value = serde_json::from_str(text).unwrap();
    RunRequest::from_value(value).map(|_| ())
}

/// Why a frame is refused, by the consequence CONTRACT.md §6 gives it.
enum FrameFault {
    /// Close 1002: not JSON, not `{kind, content}`, unknown kind.
    Protocol(String),
    /// Close 1008: a `RunOpen` whose content fails request validation.
    Payload(String),
    /// A `RunResult` whose content is not a valid envelope.
    Envelope(String),
}

impl std::fmt::Display for FrameFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Protocol(why) => write!(f, "close 1002: {why}"),
            Self::Payload(why) => write!(f, "close 1008: {why}"),
            Self::Envelope(why) => write!(f, "bad envelope: {why}"),
        }
    }
}

/// `shape_only`: judge a `RunResult` by its `Shape` violations (what the
/// schema sees) rather than by every rule.
fn frame(text: &str, shape_only: bool) -> Result<(), FrameFault> {
    let frame = Frame::from_text(text).map_err(|e| FrameFault::Protocol(e.to_string()))?;
    match frame.kind {
        FrameKind::RunOpen => {
            let open: RunOpen =
                decode(frame.content).map_err(|e| FrameFault::Payload(e.to_string()))?;
            open.into_request()
                .validate()
                .map(|_| ())
                .map_err(|e| FrameFault::Payload(e.to_string()))
        }
        FrameKind::RunResult => {
            let bytes = serde_json::to_vec(&frame.content).unwrap();
            let doc = canon::parse(&bytes).map_err(|e| FrameFault::Envelope(e.to_string()))?;
            let broken: Vec<String> = check_envelope(&doc, &Expect::default())
                .into_iter()
                .filter(|v| !shape_only || v.rule.scope() == Scope::Shape)
                .map(|v| v.line())
                .collect();
            if broken.is_empty() {
                Ok(())
            } else {
                Err(FrameFault::Envelope(broken.join("; ")))
            }
        }
        FrameKind::Ack
        | FrameKind::Token
        | FrameKind::Frame
        | FrameKind::Log
        | FrameKind::Event => Ok(()),
    }
}

// ---------------------------------------------------------------- the schemas themselves

#[test]
fn schemas_are_valid_draft_2020_12_with_ids() {
    for file in SCHEMA_FILES {
        let doc = schema(file);
        if let Err(e) = jsonschema::draft202012::meta::validate(&doc) {
            panic!("{file}: not a valid draft 2020-12 schema: {e}");
        }
        assert_eq!(doc["$schema"], DRAFT, "{file}: $schema");
        assert_eq!(doc["$id"], format!("{BASE}{file}"), "{file}: $id");
        for key in ["title", "description"] {
            assert!(
                doc[key].as_str().is_some_and(|s| !s.is_empty()),
                "{file}: no {key}"
            );
        }
        validator(file);
    }
}

/// Resolves a `$ref` of `file`, local (`#/...`) or to a sibling schema.
fn resolve(file: &str, reference: &str) -> Value {
    let (target, pointer) = reference.split_once('#').unwrap_or((reference, ""));
    let doc = schema(if target.is_empty() { file } else { target });
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("{file}: dangling $ref {reference:?}"))
        .clone()
}

/// Every declared property, wherever it is declared, has a title and a
/// description (directly, or on the definition it `$ref`s). Conditions
/// (`if`) only select a branch and are not declarations.
#[test]
fn every_property_has_a_title_and_a_description() {
    fn walk(file: &str, at: &str, node: &Value, problems: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::Object(properties)) = map.get("properties") {
                    for (property, sub) in properties {
                        let target = match sub.get("$ref").and_then(Value::as_str) {
                            Some(reference) => resolve(file, reference),
                            None => sub.clone(),
                        };
                        for key in ["title", "description"] {
                            if target
                                .get(key)
                                .and_then(Value::as_str)
                                .is_none_or(str::is_empty)
                            {
                                problems.push(format!(
                                    "{file}: {at}/properties/{property} has no {key}"
                                ));
                            }
                        }
                    }
                }
                for (key, child) in map {
                    if key != "if" {
                        walk(file, &format!("{at}/{key}"), child, problems);
                    }
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(file, &format!("{at}/{i}"), child, problems);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }
    let mut problems = Vec::new();
    for file in SCHEMA_FILES {
        walk(file, "", &schema(file), &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Strict objects stay strict: every object schema that declares
/// properties closes them, except the root of the envelope schema and the
/// `then` branches of the frame schema, which only dispatch to closed ones.
#[test]
fn every_object_with_properties_is_closed() {
    fn walk(file: &str, at: &str, node: &Value, problems: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                let exempt = at.ends_with("/if")
                    || (file == "envelope.schema.json" && at.is_empty())
                    || (file == "frame.schema.json" && at.ends_with("/then"));
                if map.contains_key("properties")
                    && !exempt
                    && map.get("additionalProperties") != Some(&Value::Bool(false))
                {
                    problems.push(format!("{file}: {at:?} is not closed"));
                }
                for (key, child) in map {
                    walk(file, &format!("{at}/{key}"), child, problems);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(file, &format!("{at}/{i}"), child, problems);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }
    let mut problems = Vec::new();
    for file in SCHEMA_FILES {
        walk(file, "", &schema(file), &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------- corpus agreement

#[test]
fn envelope_schema_valid_iff_no_shape_violation() {
    agree(
        &validator("envelope.schema.json"),
        &both("envelopes"),
        envelope_shape,
    );
}

#[test]
fn request_schema_valid_iff_run_request_from_value_ok() {
    agree(
        &validator("request.schema.json"),
        &both("requests"),
        |text| request(text).map_err(|e| e.to_string()),
    );
}

#[test]
fn frame_schema_valid_iff_frame_decodes_strictly() {
    agree(&validator("frame.schema.json"), &both("frames"), |text| {
        frame(text, true).map_err(|e| e.to_string())
    });
}

/// The run-open schema, on the `RunOpen` frames' contents.
#[test]
fn run_open_schema_valid_iff_run_open_decodes_and_validates() {
    let validator = validator("run-open.schema.json");
    let mut seen = 0;
    let mut problems = Vec::new();
    for path in both("frames") {
        let Ok(value) = serde_json::from_str::<Value>(&text(&path)) else {
            continue;
        };
        if value.get("kind") != Some(&json!("RunOpen")) {
            continue;
        }
        let Some(content) = value.get("content") else {
            continue;
        };
        seen += 1;
        let by_schema = schema_verdict(&validator, Some(content));
        let by_rust = decode::<RunOpen>(content.clone())
            .map_err(|e| e.to_string())
            .and_then(|open| {
                open.into_request()
                    .validate()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
        if by_schema.is_ok() != by_rust.is_ok() {
            problems.push(format!(
                "{}:\n    schema: {}\n    rust:   {}",
                label(&path),
                verdict(&by_schema),
                verdict(&by_rust)
            ));
        }
    }
    assert!(seen >= 5, "too few RunOpen frames in the corpus");
    fail_with(&problems);
}

// ---------------------------------------------------------------- request and frame corpora

/// What an invalid request's name says is wrong with it.
fn request_reason(error: &RequestError) -> &'static str {
    match error {
        RequestError::Shape(_) => "shape",
        RequestError::EmptyExecutionId => "execution_id.empty",
        RequestError::NullInputs => "inputs.null",
        RequestError::Prefix(PrefixError::Relative(_)) => "write_prefix.relative",
        RequestError::Prefix(PrefixError::DotDot(_)) => "write_prefix.dotdot",
        RequestError::Prefix(PrefixError::ControlChar(_)) => "write_prefix.control_char",
        RequestError::Prefix(PrefixError::Root(_)) => "write_prefix.root",
        RequestError::Prefix(PrefixError::UnknownPlaceholder(_)) => {
            "write_prefix.unknown_placeholder"
        }
        RequestError::Prefix(PrefixError::EmptyExecutionId) => "write_prefix.empty_execution_id",
        RequestError::Prefix(PrefixError::ExecutionIdSegment(_)) => {
            "write_prefix.execution_id_segment"
        }
        RequestError::Storage(_) => "storage",
    }
}

/// `request.<reason>[--<variant>].json`: the semantic reasons are named
/// exactly; every other name is a shape error (missing, unknown or
/// mistyped field).
fn expected_request_reason(file: &str) -> String {
    let stem = file
        .strip_suffix(".json")
        .unwrap()
        .strip_prefix("request.")
        .unwrap();
    let reason = stem.split_once("--").map_or(stem, |(reason, _)| reason);
    let semantic = [
        "execution_id.empty",
        "inputs.null",
        "write_prefix.relative",
        "write_prefix.dotdot",
        "write_prefix.control_char",
        "write_prefix.root",
        "write_prefix.unknown_placeholder",
        "storage",
    ];
    if semantic.contains(&reason) {
        reason.to_owned()
    } else {
        "shape".to_owned()
    }
}

#[test]
fn request_corpus_verdicts_match_folders_and_names() {
    let mut problems = Vec::new();
    for path in corpus("requests", "valid") {
        if let Err(e) = request(&text(&path)) {
            problems.push(format!("{}: refused: {e}", label(&path)));
        }
    }
    for path in corpus("requests", "invalid") {
        let want = expected_request_reason(name(&path));
        match request(&text(&path)) {
            Ok(()) => problems.push(format!("{}: accepted", label(&path))),
            Err(e) if request_reason(&e) != want => problems.push(format!(
                "{}: refused as {}, the name says {want}: {e}",
                label(&path),
                request_reason(&e)
            )),
            Err(_) => {}
        }
    }
    fail_with(&problems);
}

#[test]
fn frame_corpus_verdicts_match_folders_and_names() {
    let mut problems = Vec::new();
    for path in corpus("frames", "valid") {
        if let Err(e) = frame(&text(&path), false) {
            problems.push(format!("{}: refused: {e}", label(&path)));
        }
    }
    for path in corpus("frames", "invalid") {
        let file = name(&path);
        let result = frame(&text(&path), false);
        let fits = match &result {
            Ok(()) => false,
            Err(FrameFault::Payload(_)) => file.starts_with("frame.run_open."),
            Err(FrameFault::Envelope(_)) => file.starts_with("frame.run_result."),
            Err(FrameFault::Protocol(_)) => {
                !file.starts_with("frame.run_open.") && !file.starts_with("frame.run_result.")
            }
        };
        if !fits {
            let got = result.map_or_else(|e| e.to_string(), |()| "accepted".to_owned());
            problems.push(format!(
                "{}: {got}; frame.run_open.* must close 1008, frame.run_result.* must carry a bad envelope, the rest must close 1002",
                label(&path)
            ));
        }
    }
    fail_with(&problems);
}

/// Each valid request survives `RunOpen` framing: the frame built from it is
/// a valid frame for both the schema and the Rust side.
#[test]
fn valid_requests_make_valid_run_open_frames() {
    let validator = validator("frame.schema.json");
    for path in corpus("requests", "valid") {
        let value: Value = serde_json::from_str(&text(&path)).unwrap();
        let (request, _) = RunRequest::from_value(value).unwrap();
        let text = Frame::run_open(request).to_text();
        assert!(frame(&text, false).is_ok(), "{}: {text}", label(&path));
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            schema_verdict(&validator, Some(&doc)),
            Ok(()),
            "{}",
            label(&path)
        );
    }
}

/// Regression: frames are strict JSON like every other document: a
/// duplicate member name (two `content`s, two `status`es) closes with 1002.
#[test]
fn frame_from_text_refuses_duplicate_members() {
    let envelope = r#"{"status":"error","status":"success","execution_id":"exec-1","outputs":[],
        "index_path":"/tmp/exec-1/outputs.json","meta":{"env_fingerprint":"runtime:docker"}}"#;
    assert!(canon::parse(envelope.as_bytes()).is_err());
    let text =
        format!(r#"{{"kind":"RunResult","content":{{"status":"bogus"}},"content":{envelope}}}"#);
    assert!(frame(&text, false).is_err());
}

// ---------------------------------------------------------------- generate-and-diff guards

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, found {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("expected an object, found {value}"))
        .keys()
        .cloned()
        .collect()
}

#[test]
fn schema_code_enum_is_error_code_all() {
    let schema = schema("envelope.schema.json");
    let in_schema = strings(&schema["$defs"]["error_code"]["enum"]);
    let in_rust: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(in_schema, in_rust);
    assert_eq!(in_schema.len(), 9);
}

/// Every `FrameKind`, by position. Adding a variant breaks the `match`
/// below, so the list cannot silently fall behind the enum.
const FRAME_KINDS: [FrameKind; 7] = [
    FrameKind::RunOpen,
    FrameKind::Ack,
    FrameKind::Token,
    FrameKind::Frame,
    FrameKind::Log,
    FrameKind::Event,
    FrameKind::RunResult,
];

const fn frame_kind_position(kind: FrameKind) -> usize {
    match kind {
        FrameKind::RunOpen => 0,
        FrameKind::Ack => 1,
        FrameKind::Token => 2,
        FrameKind::Frame => 3,
        FrameKind::Log => 4,
        FrameKind::Event => 5,
        FrameKind::RunResult => 6,
    }
}

#[test]
fn schema_kind_enum_is_frame_kinds() {
    for (i, kind) in FRAME_KINDS.iter().enumerate() {
        assert_eq!(
            frame_kind_position(*kind),
            i,
            "FRAME_KINDS out of step with FrameKind"
        );
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
    }
    let schema = schema("frame.schema.json");
    let in_schema = strings(&schema["properties"]["kind"]["enum"]);
    let in_rust: BTreeSet<String> = FRAME_KINDS.iter().map(|k| k.as_str().to_owned()).collect();
    assert_eq!(in_schema, in_rust);
    for kind in &in_schema {
        let decoded: FrameKind = serde_json::from_value(json!(kind)).unwrap();
        assert_eq!(decoded.as_str(), kind);
    }
}

fn fingerprint() -> EnvFingerprint {
    EnvFingerprint::parse("cpu:1;runtime:docker").unwrap()
}

fn full_meta() -> Meta {
    Meta {
        env_fingerprint: fingerprint(),
        image_digest: Some(Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap()),
        stderr_tail: Some("tail".to_owned()),
    }
}

fn success(meta: Meta) -> Envelope {
    Envelope::Success(Success {
        execution_id: "exec-1".to_owned(),
        outputs: vec![Output {
            path: "/tmp/exec-1/a.txt".to_owned(),
        }],
        index_path: "/tmp/exec-1/outputs.json".to_owned(),
        meta,
    })
}

fn failure(meta: Meta) -> Envelope {
    Envelope::error("exec-1", ErrorCode::Internal, "boom", meta)
}

/// The property names and required names of a schema object vs the keys
/// a maximal and a minimal Rust value serialize.
fn assert_fields(what: &str, object_schema: &Value, maximal: &Value, minimal: &Value) {
    assert_eq!(
        keys(&object_schema["properties"]),
        keys(maximal),
        "{what}: properties vs serialized fields"
    );
    assert_eq!(
        strings(&object_schema["required"]),
        keys(minimal),
        "{what}: required vs always-serialized fields"
    );
    assert_eq!(
        object_schema["additionalProperties"],
        json!(false),
        "{what}: not closed"
    );
}

#[test]
fn envelope_schema_fields_are_the_serialized_fields() {
    let schema = schema("envelope.schema.json");
    let defs = &schema["$defs"];
    let minimal_meta = Meta::new(fingerprint());
    for (status, def, maximal, minimal) in [
        (
            "success",
            "success",
            success(full_meta()),
            success(minimal_meta.clone()),
        ),
        (
            "error",
            "error",
            failure(full_meta()),
            failure(minimal_meta.clone()),
        ),
    ] {
        let maximal = serde_json::to_value(&maximal).unwrap();
        let minimal = serde_json::to_value(&minimal).unwrap();
        assert_eq!(maximal["status"], json!(status));
        assert_eq!(defs[def]["properties"]["status"]["const"], json!(status));
        assert_fields(def, &defs[def], &maximal, &minimal);
        assert_fields("meta", &defs["meta"], &maximal["meta"], &minimal["meta"]);
        if status == "success" {
            assert_fields(
                "output",
                &defs["output"],
                &maximal["outputs"][0],
                &minimal["outputs"][0],
            );
        } else {
            assert_fields(
                "error_body",
                &defs["error_body"],
                &maximal["error"],
                &minimal["error"],
            );
        }
    }
    assert_eq!(
        strings(&schema["properties"]["status"]["enum"]),
        BTreeSet::from(["error".to_owned(), "success".to_owned()])
    );
}

fn sample_request() -> RunRequest {
    RunRequest {
        execution_id: "exec-1".to_owned(),
        payload: Payload {
            inputs: json!({"schema": "v1"}),
            write_prefix: "/tmp/exec-1/".to_owned(),
            mode: "mock".to_owned(),
            storage: None,
        },
    }
}

#[test]
fn request_frame_and_run_open_schema_fields_are_the_serialized_fields() {
    let request_schema = schema("request.schema.json");
    let request = serde_json::to_value(sample_request()).unwrap();
    assert_fields("request", &request_schema, &request, &request);
    let mut handed_over = sample_request();
    handed_over.payload.storage = Some(Storage {
        max_bytes: 1,
        uploads: [("a.txt".to_owned(), "http://s/b/a.txt".to_owned())].into(),
    });
    let maximal = serde_json::to_value(handed_over).unwrap();
    assert_fields(
        "payload",
        &request_schema["$defs"]["payload"],
        &maximal["payload"],
        &request["payload"],
    );
    assert_fields(
        "storage",
        &request_schema["$defs"]["storage"],
        &maximal["payload"]["storage"],
        &maximal["payload"]["storage"],
    );

    let run_open_schema = schema("run-open.schema.json");
    let run_open = serde_json::to_value(RunOpen::new(sample_request())).unwrap();
    assert_fields("RunOpen content", &run_open_schema, &run_open, &run_open);
    assert_eq!(
        run_open_schema["properties"]["role"]["const"],
        serde_json::to_value(Role::Client).unwrap()
    );

    let frame_schema = schema("frame.schema.json");
    let frame = serde_json::to_value(Frame::run_open(sample_request())).unwrap();
    assert_fields("frame", &frame_schema, &frame, &frame);
}

// ---------------------------------------------------------------- constrained strings

/// A standalone validator for one `$defs` entry of the envelope schema.
fn def_validator(def: &str) -> Validator {
    jsonschema::draft202012::new(&schema("envelope.schema.json")["$defs"][def]).unwrap()
}

fn fingerprint_is_well_formed(s: &str) -> bool {
    !matches!(
        EnvFingerprint::parse(s),
        Err(FingerprintError::Empty | FingerprintError::Malformed { .. })
    )
}

proptest! {
    /// The schema's fingerprint pattern accepts exactly what
    /// `EnvFingerprint::parse` does not call empty or malformed.
    #[test]
    fn fingerprint_pattern_is_the_rust_grammar(
        raw in "[a-zA-Z0-9:;._/+@= é!\t-]{0,24}",
        pairs in prop::collection::vec(("[a-z_.0-9-]{1,6}", "[A-Za-z0-9._/+@:;=é-]{0,6}"), 1..4),
    ) {
        let validator = def_validator("env_fingerprint");
        let joined = pairs.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(";");
        for s in [raw, joined] {
            prop_assert_eq!(validator.is_valid(&json!(s)), fingerprint_is_well_formed(&s), "{:?}", s);
        }
    }

    /// The schema's digest pattern accepts exactly what `Digest::parse` does:
    /// a valid digest, the same under another algorithm spelling, and with
    /// noise spliced in anywhere.
    #[test]
    fn digest_pattern_is_the_rust_grammar(
        algorithm in "sha256|sha512|SHA256|sha256 |",
        hex in "[0-9a-f]{64}",
        noise in "[0-9a-fA-Fg\n:]{0,2}",
        at in 0usize..72,
        cut in 0usize..3,
    ) {
        let validator = def_validator("image_digest");
        let valid = format!("sha256:{hex}");
        let mut spliced = valid.clone();
        spliced.insert_str(at.min(spliced.len()), &noise);
        let short = valid[..valid.len() - cut].to_owned();
        for s in [valid, format!("{algorithm}:{hex}"), spliced, short] {
            prop_assert_eq!(validator.is_valid(&json!(s)), Digest::parse(&s).is_ok(), "{:?}", s);
        }
    }
}

/// The same, on the hand-picked strings of the invalid corpus and a few
/// edge cases a regex dialect could get wrong (`$` before a final newline).
#[test]
fn fingerprint_and_digest_patterns_on_edge_cases() {
    let fp = def_validator("env_fingerprint");
    for s in [
        "cpu:1\n",
        "cpu:1;runtime:docker\n",
        "a:b",
        "a:b:c",
        "a:-",
        "a-:1",
        "a:1;;b:2",
        "\ncpu:1",
    ] {
        assert_eq!(
            fp.is_valid(&json!(s)),
            fingerprint_is_well_formed(s),
            "{s:?}"
        );
    }
    let digest = def_validator("image_digest");
    let hex = "ab".repeat(32);
    for s in [
        format!("sha256:{hex}"),
        format!("sha256:{hex}\n"),
        format!("\nsha256:{hex}"),
    ] {
        assert_eq!(
            digest.is_valid(&json!(s)),
            Digest::parse(&s).is_ok(),
            "{s:?}"
        );
    }
}

/// Documents, by rule, what the schema agreement relies on: the envelope
/// corpus breaks every Shape rule at least once, so the agreement test is
/// not vacuous for any of them.
#[test]
fn envelope_corpus_breaks_every_shape_rule() {
    let mut broken: BTreeMap<&str, usize> = BTreeMap::new();
    for path in corpus("envelopes", "invalid") {
        let doc = canon::parse(text(&path).as_bytes()).unwrap();
        for v in check_envelope(&doc, &Expect::default()) {
            if v.rule.scope() == Scope::Shape {
                *broken.entry(v.rule.id()).or_default() += 1;
            }
        }
    }
    let missing: Vec<&str> = theory_contract::Rule::ALL
        .iter()
        .filter(|r| r.scope() == Scope::Shape && !broken.contains_key(r.id()))
        .map(|r| r.id())
        .collect();
    assert!(
        missing.is_empty(),
        "Shape rules no corpus file breaks: {missing:?}"
    );
}
