//! The `canon` and `envelope check` commands, run as a user runs them.

mod support;

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use support::{Cli, Run, fixture};

fn canon(input: &[u8]) -> Run {
    Cli::new(["canon"]).stdin(input).run()
}

fn files(dir: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(fixture(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{dir} holds no .json file");
    files
}

#[test]
fn canon_reproduces_every_rfc8785_vector_byte_for_byte() {
    for input in files("fixtures/contract/canon/input") {
        let name = input.file_name().expect("name").to_owned();
        let expected =
            fs::read(fixture("fixtures/contract/canon/output").join(&name)).expect("output vector");
        let run = Cli::new(["canon"]).arg(&input).run();
        assert_eq!(run.code, 0, "{name:?}: {}", run.stderr);
        assert_eq!(run.stdout, expected, "{name:?}");
    }
}

#[test]
fn canon_output_is_a_fixed_point_and_has_no_trailing_newline() {
    for input in files("fixtures/contract/canon/input")
        .into_iter()
        .chain(files("fixtures/contract/envelopes/valid"))
    {
        let once = Cli::new(["canon"]).arg(&input).run();
        assert_eq!(once.code, 0, "{}: {}", input.display(), once.stderr);
        assert_ne!(once.stdout.last(), Some(&b'\n'));
        let twice = canon(&once.stdout);
        assert_eq!(twice.code, 0, "{}: {}", input.display(), twice.stderr);
        assert_eq!(twice.stdout, once.stdout, "{}", input.display());
    }
}

#[test]
fn canon_reads_stdin_with_dash() {
    let run = Cli::new(["canon", "-"])
        .stdin(*br#"{ "b" : 2 , "a" : "\u00e9" }"#)
        .run();
    assert_eq!(
        (run.code, run.stdout_text()),
        (0, r#"{"a":"é","b":2}"#.to_owned())
    );
}

#[test]
fn canon_rejects_malformed_json_with_line_and_column() {
    let run = canon(b"{\n  \"a\": [1,\n  }");
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    let message = run
        .event_message("error.usage")
        .expect("an error.usage event");
    assert_eq!(message, "<stdin>:3:3: expected a value");
}

#[test]
fn canon_rejects_values_it_cannot_represent_exactly() {
    for (input, reason) in [
        (&b"[9007199254740993]"[..], "2^53"),
        (b"[1e400]", "infinity"),
        (br#"["\ud800"]"#, "surrogate"),
        (br#"{"a":1,"a":2}"#, "duplicate"),
    ] {
        let run = canon(input);
        assert_eq!(run.code, 2, "{}", String::from_utf8_lossy(input));
        let message = run
            .event_message("error.usage")
            .expect("an error.usage event");
        assert!(message.contains(reason), "{message}");
        assert!(message.starts_with("<stdin>:1:"), "{message}");
    }
}

#[test]
fn canon_names_a_missing_file_and_exits_2() {
    let run = Cli::new(["canon", "/nonexistent/theory.json"]).run();
    assert_eq!(run.code, 2);
    let message = run
        .event_message("error.usage")
        .expect("an error.usage event");
    assert!(
        message.starts_with("/nonexistent/theory.json: cannot read"),
        "{message}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any bytes: exit 0 with canonical output, or exit 2 with a positioned
    /// message; never a panic (101) or a signal.
    #[test]
    fn canon_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let run = canon(&bytes);
        prop_assert!(run.code == 0 || run.code == 2, "exit {}: {}", run.code, run.stderr);
        if run.code == 2 {
            let message = run.event_message("error.usage").expect("an error.usage event");
            prop_assert!(message.starts_with("<stdin>:"), "{}", message);
        }
    }
}

// ---- envelope check -------------------------------------------------------

const CORPUS_ID: &str = "exec-1";
const CORPUS_PREFIX: &str = "/tmp/theory-corpus/exec-1/";
const CORPUS_SECRET: &str = "corpus-secret-9d2c";

fn check_corpus_file(path: &Path) -> Run {
    let name = path
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let mut cli = Cli::new([
        "envelope",
        "check",
        "--prefix",
        CORPUS_PREFIX,
        "--host-value",
        "corpus-host-7f3a",
        "--secret-env",
        "CORPUS_TOKEN",
    ])
    .env("CORPUS_TOKEN", CORPUS_SECRET);
    if !name.contains(".no-id.") {
        cli = cli.arg("--execution-id").arg(CORPUS_ID);
    }
    cli.arg(path).run()
}

#[test]
fn envelope_check_refuses_a_secret_env_that_is_not_set() {
    let path = fixture("fixtures/contract/envelopes/invalid/envelope.secret_value.json");
    let run = Cli::new(["envelope", "check", "--secret-env", "THEORY_UNSET_TOKEN_X"])
        .arg(&path)
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("THEORY_UNSET_TOKEN_X"),
        "{}",
        run.stderr
    );
    // Set, its value is found, and never printed.
    let run = Cli::new(["envelope", "check", "--secret-env", "SOME_TOKEN"])
        .env("SOME_TOKEN", CORPUS_SECRET)
        .arg(&path)
        .run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout_text().starts_with("envelope.secret_value\t"));
    assert!(!run.stdout_text().contains(CORPUS_SECRET));
    assert!(!run.stderr.contains(CORPUS_SECRET));
}

#[test]
fn envelope_check_accepts_every_valid_corpus_document() {
    for path in files("fixtures/contract/envelopes/valid") {
        let run = check_corpus_file(&path);
        assert_eq!(
            run.code,
            0,
            "{}: {}{}",
            path.display(),
            run.stdout_text(),
            run.stderr
        );
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn envelope_check_rejects_every_invalid_corpus_document_with_its_rule() {
    for path in files("fixtures/contract/envelopes/invalid") {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let rule = name
            .split("--")
            .next()
            .expect("rule")
            .trim_end_matches(".json")
            .trim_end_matches(".no-id");
        let run = check_corpus_file(&path);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        let stdout = run.stdout_text();
        let mut rules: Vec<&str> = stdout
            .lines()
            .map(|l| l.split('\t').next().expect("rule id"))
            .collect();
        rules.dedup();
        assert_eq!(rules, [rule], "{name}: {stdout}");
        for line in stdout.lines() {
            assert_eq!(line.split('\t').count(), 3, "{name}: {line}");
        }
    }
}

#[test]
fn envelope_check_output_is_sorted_and_tab_separated() {
    let doc = r#"{"status":"success","execution_id":"x","outputs":[{"path":"/p/b"},{"path":"/p/a"},{"path":"rel"}],
        "index_path":"/p/outputs.json","meta":{"env_fingerprint":"runtime:docker;cpu:1","junk":1},"extra":true}"#;
    let run = Cli::new(["envelope", "check", "--execution-id", "y", "-"])
        .stdin(doc)
        .run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    let stdout = run.stdout_text();
    let lines: Vec<&str> = stdout.lines().collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted);
    assert_eq!(
        lines
            .iter()
            .map(|l| l.split('\t').take(2).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>(),
        [
            "envelope.execution_id.mismatch /execution_id",
            "envelope.meta.env_fingerprint.unsorted /meta/env_fingerprint",
            "envelope.meta.unknown_field /meta/junk",
            "envelope.outputs.not_absolute /outputs/2/path",
            "envelope.outputs.unsorted /outputs/1/path",
            "envelope.unknown_field /extra",
        ]
    );
}

#[test]
fn envelope_check_exits_2_on_unreadable_or_non_json_input() {
    let run = Cli::new(["envelope", "check", "-"])
        .stdin(*b"{\"status\":")
        .run();
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    assert_eq!(
        run.event_message("error.usage").as_deref(),
        Some("<stdin>:1:11: unexpected end of input")
    );
    let run = Cli::new(["envelope", "check", "/nonexistent/envelope.json"]).run();
    assert_eq!(run.code, 2);
    let run = Cli::new(["envelope", "check", "--prefix", "relative/", "-"])
        .stdin(*b"{}")
        .run();
    assert_eq!(run.code, 2, "a relative prefix is a usage error");
}

/// A success envelope over real files under a fresh prefix.
struct Disk {
    _dir: tempfile::TempDir,
    prefix: String,
}

impl Disk {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let prefix = format!(
            "{}/",
            dir.path().canonicalize().expect("real tempdir").display()
        );
        fs::create_dir_all(format!("{prefix}sub")).expect("mkdir");
        fs::write(format!("{prefix}a.txt"), "a").expect("write");
        fs::write(format!("{prefix}sub/b.txt"), "b").expect("write");
        Self { _dir: dir, prefix }
    }

    fn path(&self, relative: &str) -> String {
        format!("{}{relative}", self.prefix)
    }

    fn envelope(&self, outputs: &[&str]) -> String {
        let outputs: Vec<_> = outputs
            .iter()
            .map(|o| serde_json::json!({"path": self.path(o)}))
            .collect();
        serde_json::json!({"status":"success","execution_id":"run-1","outputs":outputs,
            "index_path": self.path("outputs.json"),"meta":{"env_fingerprint":"runtime:docker"}})
        .to_string()
    }

    fn write_index(&self, outputs: &[&str]) {
        let outputs: Vec<_> = outputs
            .iter()
            .map(|o| serde_json::json!({"path": self.path(o)}))
            .collect();
        let index = Cli::new(["canon"])
            .stdin(serde_json::json!({"outputs": outputs}).to_string())
            .run();
        fs::write(self.path("outputs.json"), index.stdout).expect("write index");
    }

    fn check(&self, envelope: &str) -> Vec<String> {
        let run = Cli::new([
            "envelope",
            "check",
            "--execution-id",
            "run-1",
            "--prefix",
            &self.prefix,
            "-",
        ])
        .stdin(envelope)
        .run();
        assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
        let rules: Vec<String> = run
            .stdout_text()
            .lines()
            .map(|l| l.split('\t').next().expect("id").to_owned())
            .collect();
        assert_eq!(run.code == 0, rules.is_empty());
        rules
    }
}

#[test]
fn disk_rules_pass_when_files_and_index_agree() {
    let disk = Disk::new();
    disk.write_index(&["a.txt", "sub/b.txt"]);
    assert_eq!(
        disk.check(&disk.envelope(&["a.txt", "sub/b.txt"])),
        Vec::<String>::new()
    );
}

#[test]
fn disk_rules_catch_a_listed_file_that_was_not_written() {
    let disk = Disk::new();
    disk.write_index(&["a.txt", "c.txt"]);
    assert_eq!(
        disk.check(&disk.envelope(&["a.txt", "c.txt"])),
        ["envelope.outputs.missing_file"]
    );
}

#[test]
fn disk_rules_catch_a_symlink_escaping_the_prefix() {
    let disk = Disk::new();
    let outside = tempfile::NamedTempFile::new().expect("outside file");
    std::os::unix::fs::symlink(outside.path(), disk.path("link.txt")).expect("symlink");
    disk.write_index(&["a.txt", "link.txt"]);
    assert_eq!(
        disk.check(&disk.envelope(&["a.txt", "link.txt"])),
        ["envelope.outputs.escapes_prefix"]
    );
}

#[test]
fn disk_rules_accept_a_symlink_that_stays_under_the_prefix() {
    let disk = Disk::new();
    std::os::unix::fs::symlink(disk.path("a.txt"), disk.path("z.txt")).expect("symlink");
    disk.write_index(&["a.txt", "z.txt"]);
    assert_eq!(
        disk.check(&disk.envelope(&["a.txt", "z.txt"])),
        Vec::<String>::new()
    );
}

#[test]
fn disk_rules_catch_a_directory_listed_as_an_output() {
    let disk = Disk::new();
    disk.write_index(&["sub"]);
    assert_eq!(
        disk.check(&disk.envelope(&["sub"])),
        ["envelope.outputs.missing_file"]
    );
}

#[test]
fn disk_rules_catch_an_index_that_disagrees_with_the_envelope() {
    let disk = Disk::new();
    disk.write_index(&["a.txt"]);
    assert_eq!(
        disk.check(&disk.envelope(&["a.txt", "sub/b.txt"])),
        ["envelope.index.mismatch"]
    );
}

#[test]
fn disk_rules_catch_an_index_that_is_not_canonical() {
    let disk = Disk::new();
    let pretty = serde_json::to_string_pretty(
        &serde_json::json!({"outputs":[{"path": disk.path("a.txt")}]}),
    )
    .expect("json");
    fs::write(disk.path("outputs.json"), pretty).expect("write");
    assert_eq!(
        disk.check(&disk.envelope(&["a.txt"])),
        ["envelope.index.not_canonical"]
    );
}

#[test]
fn disk_rules_catch_a_missing_index_file() {
    let disk = Disk::new();
    assert_eq!(
        disk.check(&disk.envelope(&["a.txt"])),
        ["envelope.index_path.missing_file"]
    );
}

#[test]
fn disk_rules_are_skipped_when_the_prefix_is_not_on_this_machine() {
    let doc = r#"{"status":"success","execution_id":"run-1","outputs":[{"path":"/nonexistent-theory/p/a"}],
        "index_path":"/nonexistent-theory/p/outputs.json","meta":{"env_fingerprint":"runtime:docker"}}"#;
    let run = Cli::new([
        "envelope",
        "check",
        "--prefix",
        "/nonexistent-theory/p/",
        "-",
    ])
    .stdin(doc)
    .run();
    assert_eq!(
        (run.code, run.stdout_text()),
        (0, String::new()),
        "{}",
        run.stderr
    );
}
