//! `theory-conform run`: one invocation through the orchestrator, against
//! the real reference processor (native, and in its pinned container).

mod support;

use std::path::PathBuf;

use support::processor::{Options, Processor, digest_of, docker_available, reference_image};
use support::registry::{Document, DocumentEntry};
use support::{Cli, Run};
use theory_contract::canon;

const INPUTS: &str = r#"{"schema":"v1","params":{"text":"hello world","repeat":2}}"#;
const NAME: &str = "test/echo@1.0.0";

/// A run's checked output: exactly one canonical envelope on stdout and
/// nothing else; every stderr line is JSON.
struct Checked {
    run: Run,
    envelope: serde_json::Value,
}

fn check(run: Run) -> Checked {
    let _ = run.stderr_events(); // panics on a line that is not JSON
    let canonical = canon::canonicalize(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {:?}\nstderr: {}",
            run.stdout_text(),
            run.stderr
        )
    });
    assert_eq!(canonical, run.stdout, "stdout is not in canonical form");
    let envelope: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
    // The exit code follows the error code's class (README, "Exit status").
    let expected_exit = match envelope["error"]["code"].as_str() {
        None => 0,
        Some(
            "ERR_DOCKER" | "ERR_IMAGE_NOT_FOUND" | "ERR_ENDPOINT_MISSING" | "ERR_MISSING_SECRET",
        ) => 3,
        Some(_) => 1,
    };
    assert_eq!(
        run.code,
        expected_exit,
        "exit status vs envelope {}\nstderr: {}",
        run.stdout_text(),
        run.stderr
    );
    Checked { run, envelope }
}

impl Checked {
    fn code(&self) -> &str {
        self.envelope["error"]["code"].as_str().unwrap_or("")
    }

    fn message(&self) -> &str {
        self.envelope["error"]["message"].as_str().unwrap_or("")
    }

    fn selected(&self) -> (String, String) {
        let event = self
            .run
            .stderr_events()
            .into_iter()
            .find(|e| e["event"] == "adapter.selected")
            .expect("adapter.selected logged");
        (
            event["adapter"].as_str().expect("adapter").to_owned(),
            event["source"].as_str().expect("source").to_owned(),
        )
    }
}

/// `run` against a native processor at `--url`, with a fresh prefix.
fn url_run(processor: &Processor, id: &str, dir: &tempfile::TempDir) -> Cli {
    Cli::new([
        "run",
        "--ref",
        NAME,
        "--adapter",
        "url",
        "--execution-id",
        id,
    ])
    .arg("--url")
    .arg(processor.http_url().as_str())
    // The native processor writes to this machine's disk.
    .arg("--artifacts")
    .arg("shared")
    .arg("--write-prefix")
    .arg(format!("{}/{{execution_id}}/", dir.path().display()))
}

fn registry_file(dir: &tempfile::TempDir, entry: DocumentEntry) -> PathBuf {
    support::registry::write(dir.path(), &Document::new().processor(NAME, entry))
}

#[test]
fn the_four_input_options_give_identical_envelopes_and_the_deprecated_one_warns() {
    let processor = Processor::start(Options::plain());
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs_file = dir.path().join("inputs.json");
    std::fs::write(&inputs_file, INPUTS).expect("write inputs");
    let by_json = check(
        url_run(&processor, "same", &dir)
            .arg("--inputs-json")
            .arg(INPUTS)
            .run(),
    );
    let by_file = check(
        url_run(&processor, "same", &dir)
            .arg("--inputs-file")
            .arg(&inputs_file)
            .run(),
    );
    let by_stdin = check(
        url_run(&processor, "same", &dir)
            .arg("--inputs")
            .arg("-")
            .stdin(INPUTS)
            .run(),
    );
    let by_old = check(
        url_run(&processor, "same", &dir)
            .arg("--inputs-jsonstr")
            .arg(INPUTS)
            .run(),
    );
    assert_eq!(
        by_json.envelope["status"], "success",
        "{}",
        by_json.run.stderr
    );
    for other in [&by_file, &by_stdin, &by_old] {
        assert_eq!(other.run.stdout, by_json.run.stdout);
    }
    let warned = by_old
        .run
        .stderr_events()
        .into_iter()
        .any(|e| e["event"] == "deprecated.option" && e["option"] == "--inputs-jsonstr");
    assert!(warned, "no deprecation warning: {}", by_old.run.stderr);
    assert!(
        !by_json.run.stderr.contains("deprecated"),
        "a current option warned"
    );
}

#[test]
fn inputs_from_a_heredoc_on_stdin() {
    let processor = Processor::start(Options::plain());
    let dir = tempfile::tempdir().expect("tempdir");
    let script = format!(
        "{bin} run --ref {NAME} --adapter url --url {url} --execution-id heredoc --write-prefix '{prefix}/{{execution_id}}/' --inputs - <<'EOF'\n{INPUTS}\nEOF\n",
        bin = env!("CARGO_BIN_EXE_theory-conform"),
        url = processor.http_url(),
        prefix = dir.path().display(),
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("sh");
    let run = Run {
        code: out.status.code().expect("exit"),
        stdout: out.stdout,
        stderr: String::from_utf8(out.stderr).expect("utf8"),
    };
    let checked = check(run);
    assert_eq!(
        checked.envelope["status"], "success",
        "{}",
        checked.run.stderr
    );
    assert_eq!(checked.envelope["execution_id"], "heredoc");
}

#[test]
fn two_input_sources_or_none_is_a_usage_error_naming_the_options() {
    let two = Cli::new([
        "run",
        "--ref",
        NAME,
        "--inputs-json",
        "{}",
        "--inputs-file",
        "x.json",
    ])
    .run();
    assert_eq!(two.code, 2);
    assert!(two.stdout.is_empty());
    assert!(
        two.stderr.contains("--inputs-json") && two.stderr.contains("--inputs-file"),
        "{}",
        two.stderr
    );
    let none = Cli::new(["run", "--ref", NAME]).run();
    assert_eq!(none.code, 2);
    assert!(
        none.stderr.contains("--inputs-json") && none.stderr.contains("--inputs"),
        "{}",
        none.stderr
    );
}

#[test]
fn inputs_that_are_not_json_are_a_usage_error_with_line_and_column() {
    let run = Cli::new([
        "run",
        "--ref",
        NAME,
        "--adapter",
        "url",
        "--url",
        "http://127.0.0.1:9/",
        "--inputs",
        "-",
    ])
    .stdin("{\n  \"schema\": v1\n}")
    .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert_eq!(
        run.event_message("error.usage").as_deref(),
        Some("<stdin>:2:13: invalid literal, expected 'true', 'false' or 'null'")
    );
}

#[test]
fn a_relative_or_dotdot_write_prefix_is_refused_before_any_io() {
    for template in ["tmp/{execution_id}/", "/tmp/../{execution_id}/"] {
        let run = Cli::new([
            "run",
            "--ref",
            NAME,
            "--adapter",
            "url",
            "--url",
            "http://127.0.0.1:9/",
            "--inputs-json",
            INPUTS,
            "--write-prefix",
            template,
        ])
        .run();
        assert_eq!(run.code, 2, "{template}: {}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(
            run.event_message("error.usage")
                .is_some_and(|m| m.contains("--write-prefix")),
            "{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("adapter.selected"),
            "IO started before the refusal"
        );
    }
}

/// Flag > RUN_TARGET > MODAL_ENVIRONMENT > local, read from `adapter.selected`.
#[test]
fn target_selection_follows_flag_then_run_target_then_modal_environment() {
    let processor = Processor::start(Options::plain());
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = registry_file(
        &dir,
        DocumentEntry::default()
            .url(processor.http_url())
            .modal("echo", "run"),
    );
    let run = |env: &[(&str, &str)], flag: Option<&str>| {
        let mut cli = Cli::new([
            "run",
            "--ref",
            NAME,
            "--inputs-json",
            INPUTS,
            "--timeout",
            "5s",
        ])
        .arg("--registry")
        .arg(&registry)
        .arg("--write-prefix")
        .arg(format!("{}/{{execution_id}}/", dir.path().display()))
        .env("RUN_TARGET", "")
        .env("MODAL_ENVIRONMENT", "")
        // No Modal SDK: a modal selection ends in ERR_ENDPOINT_MISSING, after the event.
        .env("THEORY_PYTHON", "/nonexistent/python3");
        for (k, v) in env {
            cli = cli.env(k, v);
        }
        if let Some(flag) = flag {
            cli = cli.arg("--adapter").arg(flag);
        }
        cli.run()
    };
    let pairs = |r: Run| check(r).selected();
    // Nothing set: local, which this url-only entry cannot serve.
    let default = run(&[], None);
    assert_eq!(default.code, 2);
    assert!(
        default
            .event_message("error.usage")
            .is_some_and(|m| m.contains("local target")),
        "{}",
        default.stderr
    );
    assert_eq!(
        pairs(run(&[("RUN_TARGET", "url")], None)),
        ("url".into(), "RUN_TARGET".into())
    );
    let modal = check(run(&[("MODAL_ENVIRONMENT", "staging")], None));
    assert_eq!(
        modal.selected(),
        ("modal".into(), "MODAL_ENVIRONMENT".into())
    );
    assert_eq!(modal.code(), "ERR_ENDPOINT_MISSING", "{}", modal.run.stderr);
    assert_eq!(
        pairs(run(
            &[("MODAL_ENVIRONMENT", "staging"), ("RUN_TARGET", "url")],
            None
        )),
        ("url".into(), "RUN_TARGET".into())
    );
    let flagged = check(run(
        &[("MODAL_ENVIRONMENT", "staging"), ("RUN_TARGET", "modal")],
        Some("url"),
    ));
    assert_eq!(flagged.selected(), ("url".into(), "flag".into()));
    assert_eq!(
        flagged.envelope["status"], "success",
        "{}",
        flagged.run.stderr
    );
}

#[test]
fn an_unknown_run_target_is_a_usage_error() {
    let run = Cli::new(["run", "--ref", NAME, "--inputs-json", INPUTS])
        .env("RUN_TARGET", "cloud")
        .run();
    assert_eq!(run.code, 2);
    assert!(
        run.event_message("error.usage")
            .is_some_and(|m| m.contains("RUN_TARGET")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_declared_secret_that_is_absent_gives_err_missing_secret_and_a_present_one_is_never_logged() {
    let processor = Processor::start(Options::plain());
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = registry_file(
        &dir,
        DocumentEntry::default()
            .url(processor.http_url())
            .secret("THEORY_TEST_TOKEN"),
    );
    let base = || {
        Cli::new([
            "run",
            "--ref",
            NAME,
            "--adapter",
            "url",
            "--inputs-json",
            INPUTS,
        ])
        .arg("--registry")
        .arg(&registry)
        .arg("--write-prefix")
        .arg(format!("{}/{{execution_id}}/", dir.path().display()))
    };
    let missing = check(base().env("THEORY_TEST_TOKEN", "").run());
    assert_eq!(
        missing.code(),
        "ERR_MISSING_SECRET",
        "{}",
        missing.run.stdout_text()
    );
    assert!(missing.message().contains("THEORY_TEST_TOKEN"));
    assert!(
        !missing.run.stderr.contains("adapter.health"),
        "IO happened before the secrets check"
    );
    let present = check(base().env("THEORY_TEST_TOKEN", "tok-9f8e7d6c5b4a").run());
    assert_eq!(
        present.envelope["status"], "success",
        "{}",
        present.run.stderr
    );
    assert!(
        present.run.stderr.contains("THEORY_TEST_TOKEN"),
        "the secret's name is logged with the configuration"
    );
    assert!(
        !present.run.stderr.contains("tok-9f8e7d6c5b4a")
            && !present.run.stdout_text().contains("tok-9f8e7d6c5b4a")
    );
}

#[test]
fn an_envelope_digest_that_differs_from_the_expected_one_gives_err_registry_mismatch() {
    let reported = format!("sha256:{}", "a".repeat(64));
    let processor = Processor::start(Options::plain().env("IMAGE_DIGEST", &reported));
    let dir = tempfile::tempdir().expect("tempdir");
    let same = check(
        url_run(&processor, "d1", &dir)
            .arg("--inputs-json")
            .arg(INPUTS)
            .arg("--expected-oci")
            .arg(&reported)
            .run(),
    );
    assert_eq!(
        same.envelope["status"],
        "success",
        "{}",
        same.run.stdout_text()
    );
    let other = format!("sha256:{}", "b".repeat(64));
    let drifted = check(
        url_run(&processor, "d2", &dir)
            .arg("--inputs-json")
            .arg(INPUTS)
            .arg("--expected-oci")
            .arg(&other)
            .run(),
    );
    assert_eq!(
        drifted.code(),
        "ERR_REGISTRY_MISMATCH",
        "{}",
        drifted.run.stdout_text()
    );
    assert!(
        drifted.message().contains(&other) && drifted.message().contains(&reported),
        "{}",
        drifted.message()
    );
    let plain = Processor::start(Options::plain());
    let missing = check(
        url_run(&plain, "d3", &dir)
            .arg("--inputs-json")
            .arg(INPUTS)
            .arg("--expected-oci")
            .arg(&other)
            .run(),
    );
    assert_eq!(missing.code(), "ERR_REGISTRY_MISMATCH");
    assert!(
        missing.message().contains("missing"),
        "{}",
        missing.message()
    );
}

/// CONTRACT.md §8: under an expected digest, an error envelope without
/// `meta.image_digest` keeps its code; one with a differing digest does not.
#[test]
fn an_error_envelope_without_a_digest_keeps_its_code_under_an_expected_digest() {
    let expected = format!("sha256:{}", "b".repeat(64));
    let invalid = r#"{"schema":"v1","params":{"repeat":2}}"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = Processor::start(Options::plain());
    let kept = check(
        url_run(&plain, "e1", &dir)
            .arg("--inputs-json")
            .arg(invalid)
            .arg("--expected-oci")
            .arg(&expected)
            .run(),
    );
    assert_eq!(kept.code(), "ERR_INPUTS", "{}", kept.run.stdout_text());
    let reported = format!("sha256:{}", "a".repeat(64));
    let claiming = Processor::start(Options::plain().env("IMAGE_DIGEST", &reported));
    let replaced = check(
        url_run(&claiming, "e2", &dir)
            .arg("--inputs-json")
            .arg(invalid)
            .arg("--expected-oci")
            .arg(&expected)
            .run(),
    );
    assert_eq!(
        replaced.code(),
        "ERR_REGISTRY_MISMATCH",
        "{}",
        replaced.run.stdout_text()
    );
}

#[test]
fn a_spent_run_budget_gives_err_timeout() {
    let processor = Processor::start(Options::plain().fault("run-hang"));
    let dir = tempfile::tempdir().expect("tempdir");
    let hung = check(
        url_run(&processor, "slow", &dir)
            .arg("--inputs-json")
            .arg(INPUTS)
            .arg("--timeout")
            .arg("1s")
            .run(),
    );
    assert_eq!(hung.code(), "ERR_TIMEOUT", "{}", hung.run.stdout_text());
    assert!(
        hung.message().contains("1000 ms"),
        "the message names the budget as given: {}",
        hung.message()
    );
}

#[test]
fn an_explicit_run_budget_bounds_the_wait_for_health_too() {
    // A listener that accepts and never answers: health cannot pass.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(64).collect();
        drop(held);
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let started = std::time::Instant::now();
    let silent = check(
        Cli::new([
            "run",
            "--ref",
            NAME,
            "--adapter",
            "url",
            "--inputs-json",
            INPUTS,
        ])
        .arg("--url")
        .arg(&url)
        .arg("--timeout")
        .arg("1s")
        .arg("--write-prefix")
        .arg(format!("{}/{{execution_id}}/", dir.path().display()))
        .run(),
    );
    assert_eq!(silent.code(), "ERR_HEALTH", "{}", silent.run.stdout_text());
    // The embedded entry's health budget is 12 s; --timeout 1s ends it first.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn an_answer_that_breaks_the_contract_gives_err_internal_naming_the_rule() {
    let processor = Processor::start(Options::plain().fault("outputs-unsorted"));
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = check(
        url_run(&processor, "bad", &dir)
            .arg("--inputs-json")
            .arg(INPUTS)
            .run(),
    );
    assert_eq!(broken.code(), "ERR_INTERNAL");
    assert!(
        broken.message().contains("envelope.outputs.unsorted"),
        "{}",
        broken.message()
    );
    let escaping = Processor::start(Options::plain().fault("output-symlink-escape"));
    let escaped = check(
        url_run(&escaping, "esc", &dir)
            .arg("--inputs-json")
            .arg(INPUTS)
            .run(),
    );
    assert!(
        escaped
            .message()
            .contains("envelope.outputs.escapes_prefix"),
        "{}",
        escaped.message()
    );
    // Declared nowhere (the default for a url): the disk rules are not
    // judged on a folder this machine holds, and the answer stands.
    let undeclared = Cli::new(["run", "--ref", NAME, "--adapter", "url"])
        .arg("--url")
        .arg(escaping.http_url().as_str())
        .arg("--write-prefix")
        .arg(format!("{}/{{execution_id}}/", dir.path().display()))
        .arg("--inputs-json")
        .arg(INPUTS)
        .run();
    let envelope: serde_json::Value = serde_json::from_slice(&undeclared.stdout).expect("json");
    assert_eq!(
        envelope["status"],
        "success",
        "{}",
        undeclared.stdout_text()
    );
}

#[test]
fn a_dropped_connection_is_retried_with_the_same_execution_id() {
    let processor = Processor::start(Options::plain().fault("ws-drop-after-ack"));
    let dir = tempfile::tempdir().expect("tempdir");
    let dropped = check(
        url_run(&processor, "flaky-1", &dir)
            .arg("--inputs-json")
            .arg(INPUTS)
            .run(),
    );
    assert_eq!(
        dropped.code(),
        "ERR_INTERNAL",
        "{}",
        dropped.run.stdout_text()
    );
    let seen: Vec<String> = processor
        .stderr()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "ws.run.dropped")
        .map(|e| e["execution_id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        seen,
        ["flaky-1", "flaky-1", "flaky-1"],
        "attempts the processor saw"
    );
    let retries = dropped
        .run
        .stderr_events()
        .into_iter()
        .filter(|e| e["event"] == "orchestrator.retry")
        .count();
    assert_eq!(retries, 2);
}

#[test]
fn an_answer_is_not_retried() {
    let processor = Processor::start(Options::plain().fault("outputs-unsorted"));
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = check(
        url_run(&processor, "once", &dir)
            .arg("--inputs-json")
            .arg(INPUTS)
            .run(),
    );
    assert!(!broken.run.stderr.contains("orchestrator.retry"));
}

#[test]
fn the_envelope_is_persisted_under_the_prefix() {
    let processor = Processor::start(Options::plain());
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = check(
        url_run(&processor, "kept", &dir)
            .arg("--inputs-json")
            .arg(INPUTS)
            .run(),
    );
    let stored =
        std::fs::read(dir.path().join("kept/.theory/envelope.json")).expect("envelope.json");
    assert_eq!(stored, ok.run.stdout);
    // CONTRACT.md §7: in the reserved folder, never beside the artifacts.
    assert!(!dir.path().join("kept/envelope.json").exists());
}

#[test]
fn a_link_planted_in_the_reserved_folder_is_never_written_through() {
    let processor = Processor::start(Options::plain());
    let dir = tempfile::tempdir().expect("tempdir");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    // What a processor sharing the disk could plant before the answer:
    // the reserved folder as a link to a folder outside the prefix.
    let prefix = dir.path().join("planted");
    std::fs::create_dir(&prefix).expect("prefix");
    std::os::unix::fs::symlink(elsewhere.path(), prefix.join(".theory")).expect("symlink");
    let ok = check(
        url_run(&processor, "planted", &dir)
            .arg("--inputs-json")
            .arg(INPUTS)
            .run(),
    );
    // The answer stands; nothing is written where the link points, and
    // the warning says why the envelope was not persisted.
    let envelope: serde_json::Value = serde_json::from_slice(&ok.run.stdout).expect("json");
    assert_eq!(envelope["status"], "success", "{}", ok.run.stderr);
    assert_eq!(std::fs::read_dir(elsewhere.path()).expect("dir").count(), 0);
    let warned = ok
        .run
        .stderr_events()
        .into_iter()
        .find(|e| e["event"] == "error.persist")
        .expect("error.persist logged");
    assert!(
        warned["message"]
            .as_str()
            .is_some_and(|m| m.contains(".theory is a link")),
        "{warned}"
    );
}

/// The engine's view: the processor (fault `digest-wrong`) claims the
/// expected digest, but the engine runs the pinned one.
#[test]
fn a_container_whose_engine_digest_differs_gives_err_registry_mismatch() {
    if !docker_available() {
        return;
    }
    let image = reference_image();
    let digest = digest_of(&image);
    let mut claimed = digest.clone();
    let last = if claimed.ends_with('0') { '1' } else { '0' };
    claimed.pop();
    claimed.push(last);
    let repo = image.split_once('@').expect("pinned").0;
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = support::root().join("fixtures/reference-processor/inputs");
    let honest = registry_file(
        &dir,
        DocumentEntry::default()
            .pinned_image(&image)
            .fixtures(fixtures),
    );
    let run = |registry: &PathBuf, id: &str| {
        check(
            Cli::new([
                "run",
                "--ref",
                NAME,
                "--adapter",
                "local",
                "--inputs-json",
                INPUTS,
                "--execution-id",
                id,
            ])
            .arg("--registry")
            .arg(registry)
            .arg("--write-prefix")
            .arg(format!("{}/p/{{execution_id}}/", dir.path().display()))
            .run(),
        )
    };
    let ok = run(&honest, "local-ok");
    assert_eq!(
        ok.envelope["status"],
        "success",
        "{}\n{}",
        ok.run.stdout_text(),
        ok.run.stderr
    );
    assert_eq!(ok.envelope["meta"]["image_digest"], digest.as_str());
    let lying = support::registry::write_as(
        &dir.path().join("lying.yaml"),
        &Document::new().processor(
            NAME,
            DocumentEntry::default()
                .image(&image)
                .expected_oci(format!("{repo}@{claimed}"))
                .env("THEORY_FAULT", "digest-wrong"),
        ),
    );
    let drifted = run(&lying, "local-drift");
    assert_eq!(
        drifted.code(),
        "ERR_REGISTRY_MISMATCH",
        "{}",
        drifted.run.stdout_text()
    );
    assert!(
        drifted.message().contains("engine runs"),
        "{}",
        drifted.message()
    );
}
