//! The bad-input corpus: the binary run on bad files, flags and
//! environment, one test per row. Each row asserts the exit code, that
//! the message names the flag or `file:line:col` at fault, that nothing
//! panicked, that the run ended within its bound and that no golden of
//! the repository changed. The next bad input is one more row.
//!
//! In a row, `{dir}` is the row's own temporary folder and `{root}` the
//! repository; `files` are written under `{dir}` first. Rows that expect
//! a usage error point every target at an address where nothing listens
//! (or at a name that cannot resolve), so a row that reached the network
//! would fail with another code or message.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{Cli, fixture};

/// A registry with one processor reachable only at a loopback port where
/// nothing listens, with `extra` lines appended to its entry.
fn registry(extra: &str) -> String {
    format!(
        "version: 1\nprocessors:\n  theory/reference@0.1.0:\n    url: http://127.0.0.1:9/\n{extra}"
    )
}

/// A lanes file whose one lane `x` has `suites`, reading the repository's suites.
fn lanes(suites: &str) -> String {
    format!(
        "version: 1\nsuites_dir: {{root}}/suites\nlanes:\n  x:\n    description: a lane\n    suites: {suites}\n    targets: [url]\n    transports: [ws]\n    tags: allow\n    require_expected_oci: false\n    allow_known_failures: true\n"
    )
}

/// Every file under `dir` with its bytes, sorted: to prove nothing changed.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("read golden folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((
                    path.display().to_string(),
                    std::fs::read(&path).expect("read golden"),
                ));
            }
        }
    }
    out.sort();
    out
}

/// One row of the corpus.
struct Row {
    args: &'static [&'static str],
    files: Vec<(&'static str, Vec<u8>)>,
    env: &'static [(&'static str, &'static str)],
    code: i32,
    /// What the output (stderr, then stdout) must contain.
    names: &'static str,
    within: Duration,
}

impl Row {
    fn new(args: &'static [&'static str], code: i32, names: &'static str) -> Self {
        Self {
            args,
            files: Vec::new(),
            env: &[],
            code,
            names,
            within: Duration::from_secs(10),
        }
    }

    fn file(mut self, name: &'static str, text: impl Into<Vec<u8>>) -> Self {
        self.files.push((name, text.into()));
        self
    }

    /// The repository's lanes file and suites under `{dir}`, with
    /// `determinism` as the determinism suite's text.
    fn repository_lanes(self, determinism: String) -> Self {
        let copy = |name: &str| std::fs::read(fixture(name)).expect("repository file");
        self.file("ci/lanes.yaml", copy("ci/lanes.yaml"))
            .file("suites/contract.yaml", copy("suites/contract.yaml"))
            .file("suites/parity.yaml", copy("suites/parity.yaml"))
            .file("suites/supply_chain.yaml", copy("suites/supply_chain.yaml"))
            .file("suites/determinism.yaml", determinism)
    }

    fn env(mut self, env: &'static [(&'static str, &'static str)]) -> Self {
        self.env = env;
        self
    }

    /// Runs the row and checks it; the run, for extra assertions.
    fn check(self) -> (support::Run, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = support::root();
        let fill = |text: &str| {
            text.replace("{dir}", &dir.path().display().to_string())
                .replace("{root}", &root.display().to_string())
        };
        for (name, bytes) in &self.files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            let bytes = match std::str::from_utf8(bytes) {
                Ok(text) => fill(text).into_bytes(),
                Err(_) => bytes.clone(),
            };
            std::fs::write(&path, bytes).expect("write row file");
        }
        let goldens = snapshot(&fixture("golden"));
        let mut args: Vec<String> = self.args.iter().map(|a| fill(a)).collect();
        // A run row without its own prefix writes under the row's folder,
        // not the default `/tmp/{execution_id}/`.
        if args.first().is_some_and(|a| a == "run") && !args.iter().any(|a| a == "--write-prefix") {
            args.push("--write-prefix".to_owned());
            args.push(format!("{}/{{execution_id}}/", dir.path().display()));
        }
        let mut cli = Cli::new(args)
            .env("CI", "true")
            .env(
                "THEORY_GOLDEN_DIR",
                &dir.path().join("golden").display().to_string(),
            )
            .timeout(self.within + Duration::from_secs(60));
        for (key, value) in self.env {
            cli = cli.env(key, &fill(value));
        }
        let started = Instant::now();
        let run = cli.run();
        let took = started.elapsed();
        // The events' messages unescaped, then the raw streams.
        let messages: Vec<String> = run
            .stderr
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|event| event["message"].as_str().map(str::to_owned))
            .collect();
        let output = format!(
            "{}\n{}\n{}",
            messages.join("\n"),
            run.stderr,
            String::from_utf8_lossy(&run.stdout)
        );
        let context = format!("{:?}: exit {}\n{output}", self.args, run.code);
        assert!(!output.contains("panicked"), "a panic: {context}");
        assert_eq!(run.code, self.code, "{context}");
        if self.code == 2 {
            // A usage error is found before anything runs: stdout, the
            // product's output, stays empty (no seed, no trial, no help).
            assert!(run.stdout.is_empty(), "stdout is not empty: {context}");
        }
        let names = fill(self.names);
        assert!(output.contains(&names), "{names:?} is not named: {context}");
        assert!(
            took <= self.within,
            "took {took:?}, more than {:?}: {context}",
            self.within
        );
        assert_eq!(
            snapshot(&fixture("golden")),
            goldens,
            "a golden changed: {context}"
        );
        (run, dir)
    }
}

/// One `#[test]` per row.
macro_rules! corpus {
    ($($name:ident => $row:expr;)*) => {
        $(
            #[test]
            fn $name() {
                $row.check();
            }
        )*
    };
}

macro_rules! run_args {
    ($($arg:expr),* $(,)?) => {
        &["run", "--ref", "theory/reference@0.1.0", "--inputs-json", "{}", $($arg),*]
    };
}

const NOWHERE: &str = "http://127.0.0.1:9/";

corpus! {
    // High.
    run_timeout_of_u64_max_seconds_is_refused => Row::new(
        run_args!("--adapter", "url", "--url", NOWHERE, "--timeout", "18446744073709551615s"), 2, "--timeout");
    run_timeout_of_huge_minutes_is_refused => Row::new(
        run_args!("--adapter", "url", "--url", NOWHERE, "--timeout", "999999999999999999m"), 2, "--timeout");
    registry_run_timeout_beyond_a_day_is_refused => Row::new(
        run_args!("--adapter", "url", "--registry", "{dir}/registry.yaml"),
        2, "{dir}/registry.yaml:5:18")
        .file("registry.yaml", registry("    run_timeout: 18446744073709551615s\n"));
    lane_test_threads_zero_is_refused => Row::new(
        &["--lane", "dev", "--registry", "{dir}/registry.yaml", "--test-threads", "0"], 2, "--test-threads")
        .file("registry.yaml", registry(""));
    golden_accept_refuses_a_malformed_pending_golden => Row::new(
        &["golden", "accept", "--golden-dir", "{dir}/g"], 2, "{dir}/g/p/x.snap.new")
        .file("g/p/x.snap", "---\nsource: \"s\"\nexpression: \"e\"\n---\n{}\n")
        .file("g/p/x.snap.new", &b"garbage\x00\xff"[..]);
    golden_review_reports_a_malformed_pending_golden => Row::new(
        &["golden", "review", "--golden-dir", "{dir}/g"], 2, "{dir}/g/p/x.snap.new")
        .file("g/p/x.snap", "---\nsource: \"s\"\nexpression: \"e\"\n---\n{}\n")
        .file("g/p/x.snap.new", &b"garbage\x00\xff"[..]);
    lane_refuses_a_malformed_golden_before_any_trial => Row::new(
        &["--lane", "dev", "--registry", "{dir}/registry.yaml", "--golden-dir", "{dir}/g"], 2, "{dir}/g/theory-reference-0.1.0/x.snap")
        .file("registry.yaml", registry(""))
        .file("g/theory-reference-0.1.0/x.snap", &b"garbage\x00\xff"[..]);

    // Medium.
    run_plain_url_off_loopback_is_refused_before_io => Row::new(
        run_args!("--adapter", "url", "--url", "http://theory-conform.invalid/"), 2, "--url");
    run_plain_ws_url_off_loopback_is_refused_before_io => Row::new(
        run_args!("--adapter", "url", "--url", "ws://theory-conform.invalid/"), 2, "--url");
    registry_nested_100000_deep_is_refused_quickly => Row::new(
        &["--lane", "dev", "--registry", "{dir}/registry.yaml", "--list"], 2, "{dir}/registry.yaml:1:")
        .file("registry.yaml", format!("x: {}", "[".repeat(100_000)));
    lanes_nested_100000_deep_is_refused_quickly => Row::new(
        &["--lane", "x", "--lanes", "{dir}/lanes.yaml", "--list"], 2, "{dir}/lanes.yaml:1:")
        .file("lanes.yaml", format!("x: {}", "{a: ".repeat(50_000)));
    lane_golden_dir_that_does_not_exist_is_refused => Row::new(
        &["--lane", "dev", "--registry", "{dir}/registry.yaml", "--golden-dir", "{dir}/nonexistent/dir"], 2, "--golden-dir")
        .file("registry.yaml", registry(""));
    golden_review_of_a_missing_folder_is_refused => Row::new(
        &["golden", "review", "--golden-dir", "{dir}/nonexistent"], 2, "--golden-dir");
    golden_accept_of_a_missing_folder_is_refused => Row::new(
        &["golden", "accept", "--golden-dir", "{dir}/nonexistent"], 2, "--golden-dir");
    golden_reject_of_a_missing_folder_is_refused => Row::new(
        &["golden", "reject", "--golden-dir", "{dir}/nonexistent"], 2, "--golden-dir");
    lane_json_report_that_is_a_folder_is_refused_first => Row::new(
        &["--lane", "dev", "--registry", "{dir}/registry.yaml", "--json", "{dir}"], 2, "--json")
        .file("registry.yaml", registry(""));
    lane_junit_report_under_a_file_is_refused_first => Row::new(
        &["--lane", "dev", "--registry", "{dir}/registry.yaml", "--junit", "{dir}/registry.yaml/junit.xml"], 2, "--junit")
        .file("registry.yaml", registry(""));
    lane_junit_report_that_cannot_be_written_is_refused_first => Row::new(
        &["--lane", "dev", "--registry", "{dir}/registry.yaml", "--junit", "/proc/junit.xml"], 2, "--junit")
        .file("registry.yaml", registry(""));
    lane_state_dir_that_cannot_be_made_is_refused_first => Row::new(
        &["--lane", "dev", "--registry", "{dir}/registry.yaml", "--state-dir", "/proc/nope"], 2, "--state-dir")
        .file("registry.yaml", registry(""));
    lane_work_dir_that_cannot_be_made_is_refused_first => Row::new(
        &["--lane", "dev", "--registry", "{dir}/registry.yaml", "--work-dir", "/proc/nope"], 2, "--work-dir")
        .file("registry.yaml", registry(""));
    run_with_nothing_listening_exits_3 => Row::new(
        run_args!("--adapter", "url", "--url", NOWHERE, "--timeout", "2s"), 3, "ERR_ENDPOINT_MISSING");
    run_with_the_engine_unreachable_exits_3 => Row::new(
        run_args!("--adapter", "local"), 3, "ERR_DOCKER")
        .env(&[("DOCKER_HOST", "unix://{dir}/no-engine.sock")]);
    lanes_listing_a_suite_twice_is_refused => Row::new(
        &["--lane", "x", "--lanes", "{dir}/lanes.yaml", "--registry", "{dir}/registry.yaml", "--list"], 2, "{dir}/lanes.yaml:6:24")
        .file("lanes.yaml", lanes("[contract, contract]"))
        .file("registry.yaml", registry(""));
    run_ca_file_that_does_not_exist_is_refused => Row::new(
        run_args!("--adapter", "url", "--url", "https://127.0.0.1:9/", "--ca-file", "/nonexistent.pem"), 2, "--ca-file");
    registry_ca_file_that_does_not_exist_is_refused => Row::new(
        run_args!("--adapter", "url", "--registry", "{dir}/registry.yaml"),
        2, "{dir}/registry.yaml:5:14")
        .file("registry.yaml", registry("    ca_file: /nonexistent.pem\n"));

    // Low.
    run_timeout_of_zero_is_refused => Row::new(
        run_args!("--adapter", "url", "--url", NOWHERE, "--timeout", "0s"), 2, "--timeout");
    run_timeout_beyond_a_day_is_refused => Row::new(
        run_args!("--adapter", "url", "--url", NOWHERE, "--timeout", "25h"), 2, "--timeout");
    registry_run_timeout_of_zero_is_refused => Row::new(
        run_args!("--adapter", "url", "--registry", "{dir}/registry.yaml"),
        2, "{dir}/registry.yaml:5:18")
        .file("registry.yaml", registry("    run_timeout: 0s\n"));
    registry_health_of_zero_is_refused => Row::new(
        run_args!("--adapter", "url", "--registry", "{dir}/registry.yaml"),
        2, "{dir}/registry.yaml:5:13")
        .file("registry.yaml", registry("    health: 0s\n"));
    run_write_prefix_under_proc_self_is_refused => Row::new(
        run_args!("--adapter", "url", "--url", NOWHERE, "--write-prefix", "/proc/self/"), 2, "--write-prefix");
    run_write_prefix_under_proc_with_the_id_is_refused => Row::new(
        run_args!("--adapter", "url", "--url", NOWHERE, "--write-prefix", "/proc/{execution_id}/"), 2, "--write-prefix");
    run_write_prefix_without_the_id_is_warned_of => Row::new(
        run_args!("--adapter", "url", "--url", NOWHERE, "--timeout", "2s", "--write-prefix", "{dir}/shared/"), 3, "--write-prefix");
    run_url_with_a_query_is_refused => Row::new(
        run_args!("--adapter", "url", "--url", "http://127.0.0.1:9/?token=x"), 2, "--url");
    run_url_with_a_fragment_is_refused => Row::new(
        run_args!("--adapter", "url", "--url", "http://127.0.0.1:9/#part"), 2, "--url");
    registry_url_with_a_query_is_refused => Row::new(
        run_args!("--adapter", "url", "--registry", "{dir}/registry.yaml"),
        2, "{dir}/registry.yaml:4:10")
        .file("registry.yaml", "version: 1\nprocessors:\n  theory/reference@0.1.0:\n    url: http://127.0.0.1:9/?a=1\n");
    run_transport_the_entry_does_not_declare_is_refused => Row::new(
        run_args!("--adapter", "url", "--registry", "{dir}/registry.yaml", "--transport", "sse"), 2, "--transport")
        .file("registry.yaml", registry("    transports: [ws, http]\n"));
    list_without_a_lane_is_a_short_usage_error => Row::new(&["--list"], 2, "--lane");
    unknown_command_is_named => Row::new(&["frobnicate"], 2, "unknown command \"frobnicate\"");
    bench_flag_is_refused => Row::new(
        &["--lane", "dev", "--registry", "{dir}/registry.yaml", "--bench"], 2, "--bench")
        .file("registry.yaml", registry(""));
    canon_integer_beyond_2_53_is_refused => Row::new(&["canon", "{dir}/n.json"], 2, "{dir}/n.json:1:2")
        .file("n.json", "[9007199254740993]");
    canon_decimal_integer_beyond_2_53_is_refused_alike => Row::new(&["canon", "{dir}/n.json"], 2, "{dir}/n.json:1:2")
        .file("n.json", "[9007199254740993.0]");
    canon_exponent_notation_beyond_2_53_is_rounded => Row::new(&["canon", "{dir}/n.json"], 0, "[9007199254740992]")
        .file("n.json", "[90071992547409930e-1]");
    suite_unknown_placeholder_is_placed_on_its_line => Row::new(
        &["--lane", "x", "--lanes", "{dir}/lanes.yaml", "--registry", "{dir}/registry.yaml", "--list"], 2, "{dir}/suites/contract.yaml:50:18")
        .file("lanes.yaml", lanes("[contract]").replace("{root}/suites", "{dir}/suites"))
        .file("registry.yaml", registry(""))
        .file("suites/contract.yaml", suite_with_bad_placeholder());
    determinism_with_fewer_than_three_runs_is_refused => Row::new(
        &["--lane", "x", "--lanes", "{dir}/lanes.yaml", "--registry", "{dir}/registry.yaml", "--list"], 2, "{dir}/suites/determinism.yaml:14:7")
        .file("lanes.yaml", lanes("[determinism]").replace("{root}/suites", "{dir}/suites"))
        .file("registry.yaml", registry(""))
        .file("suites/determinism.yaml", suite_with("determinism", 14, "      runs: 3", "      runs: 2"));
    main_refuses_known_flaky_lists => Row::new(
        &["--lane", "main", "--known-flaky", "{dir}/known.yaml", "--list"], 2, "drop --known-flaky")
        .file("known.yaml", "version: 1\nentries:\n  - trial: \"x::*\"\n    reason: r\n");
    a_custom_main_weaker_than_the_embedded_one_is_refused => Row::new(
        &["--lane", "main", "--lanes", "{dir}/lanes.yaml", "--list"], 2, "may not be weaker than the embedded one")
        .file("lanes.yaml", lanes("[contract]").replace("  x:\n", "  main:\n"));
    a_custom_main_with_weaker_suite_files_is_refused => Row::new(
        &["--lane", "main", "--lanes", "{dir}/ci/lanes.yaml", "--list"], 2, "suite determinism differs from the embedded one")
        .repository_lanes(suite_with("determinism", 14, "      runs: 3", "      runs: 4"));
    a_custom_main_as_strict_as_the_embedded_one_is_accepted => Row::new(
        &["--lane", "main", "--lanes", "{dir}/ci/lanes.yaml", "--list"], 0, "contract::envelope::theory/reference@0.1.0::local::ws: test")
        .repository_lanes(std::fs::read_to_string(fixture("suites/determinism.yaml")).expect("suite"));
    known_list_bad_expiry_is_placed_at_its_value => Row::new(
        &["--lane", "dev", "--registry", "{dir}/registry.yaml", "--known-failures", "{dir}/known.yaml", "--list"], 2, "{dir}/known.yaml:5:14")
        .file("registry.yaml", registry(""))
        .file("known.yaml", "version: 1\nentries:\n  - trial: \"x::*\"\n    reason: r\n    expires: 2024-02-30\n");
}

const LONG_ID: &str = concat!(
    "x",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
);

/// The repository's contract suite with line 44's `{request}` made `{requets}`.
fn suite_with_bad_placeholder() -> String {
    suite_with(
        "contract",
        50,
        "          body: \"{request}\"",
        "          body: \"{requets}\"",
    )
}

/// The repository's suite `name` with line `line` (1-based), which must be
/// `was`, replaced by `now`.
fn suite_with(name: &str, line: usize, was: &str, now: &str) -> String {
    let text = std::fs::read_to_string(fixture(&format!("suites/{name}.yaml"))).expect("suite");
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[line - 1],
        was,
        "line {line} of suites/{name}.yaml moved"
    );
    lines[line - 1] = now;
    lines.join("\n") + "\n"
}

#[test]
fn a_yaml_error_names_its_position_once() {
    let (run, _dir) = Row::new(
        &[
            "--lane",
            "dev",
            "--registry",
            "{dir}/registry.yaml",
            "--list",
        ],
        2,
        "{dir}/registry.yaml:5:5",
    )
    .file("registry.yaml", registry("    bogus: 1\n"))
    .check();
    assert!(!run.stderr.contains(" at line "), "{}", run.stderr);
}

/// A 10 kB execution id is refused, naming the flag, and not echoed.
#[test]
fn a_long_execution_id_is_not_echoed_in_full() {
    let (run, _dir) = Row::new(
        run_args!(
            "--adapter",
            "url",
            "--url",
            NOWHERE,
            "--execution-id",
            LONG_ID
        ),
        2,
        "--execution-id",
    )
    .check();
    assert!(!run.stderr.contains(LONG_ID), "{}", run.stderr);
}

#[test]
fn a_refused_pending_golden_leaves_the_golden_and_the_pending_file() {
    let (_run, dir) = Row::new(
        &["golden", "accept", "--golden-dir", "{dir}/g"],
        2,
        ".snap.new",
    )
    .file(
        "g/p/x.snap",
        "---\nsource: \"s\"\nexpression: \"e\"\n---\n{}\n",
    )
    .file("g/p/x.snap.new", &b"garbage\x00\xff"[..])
    .check();
    let golden = std::fs::read(dir.path().join("g/p/x.snap")).expect("golden");
    assert_eq!(golden, b"---\nsource: \"s\"\nexpression: \"e\"\n---\n{}\n");
    assert!(dir.path().join("g/p/x.snap.new").exists());
}

#[test]
fn a_refused_golden_dir_is_not_created() {
    let (_run, dir) = Row::new(
        &[
            "--lane",
            "dev",
            "--registry",
            "{dir}/registry.yaml",
            "--golden-dir",
            "{dir}/nonexistent/dir",
        ],
        2,
        "--golden-dir",
    )
    .file("registry.yaml", registry(""))
    .check();
    assert!(!dir.path().join("nonexistent").exists());
}

#[test]
fn output_paths_are_refused_before_any_trial_runs() {
    let (run, _dir) = Row::new(
        &[
            "--lane",
            "dev",
            "--registry",
            "{dir}/registry.yaml",
            "--json",
            "{dir}",
        ],
        2,
        "--json",
    )
    .file("registry.yaml", registry(""))
    .check();
    assert!(run.stdout.is_empty(), "{}", run.stdout_text());
}

#[test]
fn a_list_in_json_format_is_only_json() {
    let (run, _dir) = Row::new(
        &[
            "--lane",
            "dev",
            "--registry",
            "{dir}/registry.yaml",
            "--list",
            "--format",
            "json",
            "-Z",
            "unstable-options",
        ],
        0,
        "",
    )
    .file("registry.yaml", registry(""))
    .check();
    for line in run.stdout_text().lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
}

#[test]
fn run_help_states_the_exit_codes() {
    let run = Cli::new(["run", "--help"]).run();
    assert_eq!(run.code, 0);
    let help = run.stdout_text();
    for line in ["0", "1", "2", "3"] {
        assert!(help.contains(&format!("{line} ")), "{help}");
    }
    assert!(help.contains("3 for an infrastructure"), "{help}");
}
