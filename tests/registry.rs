//! Registry loading: strict, checked whole, errors with file:line:column.

use std::path::Path;
use std::time::Duration;

use theory_conform::registry::{Pin, ProcessorRef, Registry, TagPolicy};
use theory_conform::vocab::{ArtifactSource, TargetKind};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn parse(text: &str, policy: TagPolicy) -> Result<Registry, String> {
    Registry::parse(
        text,
        "test.yaml",
        Path::new(env!("CARGO_MANIFEST_DIR")),
        policy,
    )
    .map_err(|e| e.to_string())
}

fn entry(body: &str) -> String {
    format!("version: 1\nprocessors:\n  acme/echo@1.0.0:\n{body}")
}

#[test]
fn embedded_registry_loads_with_the_reference_processor_and_its_fixtures() {
    let registry = Registry::embedded(TagPolicy::RequireDigest).expect("embedded registry");
    let name = ProcessorRef::parse("theory/reference@0.1.0").expect("name");
    let entry = registry.get(&name).expect("reference entry");
    assert!(matches!(
        entry.image.as_ref().map(|i| &i.pin),
        Some(Pin::Digest(_))
    ));
    assert!(entry.expected.is_some());
    assert!(
        !entry.fixtures.valid.is_empty()
            && !entry.fixtures.invalid.is_empty()
            && !entry.fixtures.crash.is_empty()
    );
    for fixture in entry
        .fixtures
        .valid
        .iter()
        .chain(&entry.fixtures.invalid)
        .chain(&entry.fixtures.crash)
    {
        let bytes = std::fs::read(&fixture.path).expect("fixture readable");
        theory_contract::canon::parse(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", fixture.path.display()));
    }
}

#[test]
fn embedded_registry_pins_the_image_the_build_script_pinned() {
    let lock = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/reference-image.lock"),
    )
    .expect("ci/reference-image.lock (written by ci/pin-reference-image)");
    let registry = Registry::embedded(TagPolicy::RequireDigest).expect("embedded registry");
    let entry = registry.processors.values().next().expect("one processor");
    let image = entry.image.as_ref().expect("image").to_string();
    assert_eq!(
        image,
        lock.trim(),
        "registry.yaml and ci/reference-image.lock disagree: run ci/pin-reference-image"
    );
    assert_eq!(
        entry.expected.as_ref().map(ToString::to_string),
        Some(image)
    );
}

#[test]
fn a_minimal_url_entry_gets_the_documented_defaults() {
    let registry = parse(
        &entry("    url: https://echo.example/\n"),
        TagPolicy::RequireDigest,
    )
    .expect("valid");
    let found = registry.processors.values().next().expect("entry");
    assert_eq!(
        (
            found.port,
            found.health,
            found.run_timeout,
            found.max_concurrency
        ),
        (8000, Duration::from_secs(12), Duration::from_secs(60), 4)
    );
    assert!(found.image.is_none() && found.fixtures.valid.is_empty());
    // Where artifacts are read from: declared, else the target's default.
    assert_eq!(found.artifacts(TargetKind::Local), ArtifactSource::Shared);
    assert_eq!(found.artifacts(TargetKind::Url), ArtifactSource::Nowhere);
    assert_eq!(found.artifacts(TargetKind::Modal), ArtifactSource::Nowhere);
    let declared = parse(
        &entry(
            "    url: http://127.0.0.1:8000/
    artifacts: {url: shared}
",
        ),
        TagPolicy::RequireDigest,
    )
    .expect("valid");
    let declared = declared.processors.values().next().expect("entry");
    assert_eq!(declared.artifacts(TargetKind::Url), ArtifactSource::Shared);
    assert_eq!(
        declared.artifacts(TargetKind::Modal),
        ArtifactSource::Nowhere
    );
}

#[test]
fn tags_are_refused_where_a_digest_is_required_and_allowed_in_dev() {
    let text = entry("    image: 127.0.0.1:5000/acme/echo:latest\n");
    let error = parse(&text, TagPolicy::RequireDigest).expect_err("tag refused");
    assert!(
        error.starts_with("test.yaml:4:12: acme/echo@1.0.0: image:"),
        "{error}"
    );
    assert!(error.contains("digest"), "{error}");
    let registry = parse(&text, TagPolicy::AllowTags).expect("dev lane accepts tags");
    let image = registry
        .processors
        .values()
        .next()
        .and_then(|e| e.image.clone())
        .expect("image");
    assert_eq!(image.pin, Pin::Tag("latest".to_owned()));
}

/// Each malformed registry is refused with `test.yaml:line:column: ...`.
#[test]
fn malformed_registries_name_file_line_and_column() {
    let cases = [
        (
            entry("    url: https://e/\n    colour: red\n"),
            "test.yaml:5:5:",
            "unknown field `colour`",
        ),
        (
            "version: 2\nprocessors: {}\n".to_owned(),
            "test.yaml:1:1:",
            "version 2",
        ),
        (
            "version: 1\nprocessors:\n  Acme/Echo:\n    url: https://e/\n".to_owned(),
            "test.yaml:3:3:",
            "ns/name@version",
        ),
        (
            entry(&format!(
                "    image: repo@{DIGEST}\n    expected_oci: repo:v1\n"
            )),
            "test.yaml:5:19:",
            "must be pinned by digest",
        ),
        (
            entry("    image: repo@sha256:ABC\n"),
            "test.yaml:4:12:",
            "64 lowercase hex",
        ),
        (
            entry("    image: repo\n"),
            "test.yaml:4:12:",
            "no tag or digest",
        ),
        (
            entry("    url: http://example.com/\n"),
            "test.yaml:4:10:",
            "plain http/ws only on loopback",
        ),
        (
            entry("    url: https://e/\n    run_timeout: soon\n"),
            "test.yaml:5:18:",
            "not a duration",
        ),
        (
            entry("    url: https://e/\n    secrets: [api-key]\n"),
            "test.yaml:5:15:",
            "not an environment variable name",
        ),
        (
            entry("    url: https://e/\n    fixtures: no/such/dir\n"),
            "test.yaml:5:15:",
            "is not a folder",
        ),
        (
            entry("    port: 8000\n"),
            "test.yaml:3:3:",
            "names no target",
        ),
        (
            entry("    url: https://e/\n    port: 99999\n"),
            "test.yaml:5:11:",
            "invalid value",
        ),
        (
            entry("    url: https://e/\n    artifacts: {url: s3}\n"),
            "test.yaml:5:",
            "\"s3\" is not shared, storage or none",
        ),
        (
            entry("    url: https://e/\n    artifacts: {docker: shared}\n"),
            "test.yaml:5:",
            "\"docker\" is not local, url or modal",
        ),
        ("version: 1\nprocessors: [\n".to_owned(), "test.yaml:", ""),
    ];
    for (text, position, reason) in cases {
        let error = parse(&text, TagPolicy::AllowTags).expect_err(&text);
        assert!(error.starts_with(position), "{text}\n=> {error}");
        assert!(error.contains(reason), "{text}\n=> {error}");
    }
}

#[test]
fn plain_urls_are_accepted_on_loopback() {
    for url in [
        "http://127.0.0.1:8000/",
        "ws://localhost:9/",
        "http://[::1]:80/",
    ] {
        parse(
            &entry(&format!("    url: {url}\n")),
            TagPolicy::RequireDigest,
        )
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    }
}

#[test]
fn a_registry_file_is_read_relative_to_its_folder_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("inputs/valid")).expect("mkdir");
    std::fs::write(dir.path().join("inputs/valid/a.json"), "{}").expect("write");
    let file = dir.path().join("registry.yaml");
    std::fs::write(&file, entry("    url: https://e/\n    fixtures: inputs\n")).expect("write");
    let registry = Registry::load(&file, TagPolicy::RequireDigest).expect("loads");
    let fixtures = &registry.processors.values().next().expect("entry").fixtures;
    assert_eq!(
        fixtures
            .valid
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
    let missing = Registry::load(&dir.path().join("nope.yaml"), TagPolicy::RequireDigest)
        .expect_err("missing");
    assert!(
        missing.to_string().contains("nope.yaml: cannot read"),
        "{missing}"
    );
}

#[test]
fn processor_refs_parse_strictly() {
    assert_eq!(
        ProcessorRef::parse("theory/reference@0.1.0").map(|r| r.slug()),
        Ok("theory-reference-0.1.0".to_owned())
    );
    for bad in [
        "reference@1",
        "theory/reference",
        "Theory/ref@1",
        "a/b@",
        "/b@1",
    ] {
        assert!(ProcessorRef::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn sse_is_tested_only_when_declared() {
    use theory_conform::adapter::Transport;
    let plain = parse(&entry("    url: https://e/\n"), TagPolicy::RequireDigest).expect("valid");
    assert_eq!(
        plain.processors.values().next().expect("entry").transports,
        [Transport::Ws, Transport::Http]
    );
    let all = parse(
        &entry("    url: https://e/\n    transports: [sse, http, ws, sse]\n"),
        TagPolicy::RequireDigest,
    )
    .expect("valid");
    assert_eq!(
        all.processors.values().next().expect("entry").transports,
        [Transport::Ws, Transport::Http, Transport::Sse]
    );
}
