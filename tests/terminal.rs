//! What a person sees: the `pr` lane driven under a pseudo-terminal
//! (`script` from util-linux gives the binary a terminal for stdin, stdout
//! and stderr), the bytes rendered as a terminal would show them.
//!
//! On a terminal the lane reads like `cargo nextest run`: libtest lines, a
//! live progress line redrawn in place and gone at the end, no JSON, and
//! no warning for what a trial provoked on purpose. With `CI=true` the
//! output is plain (no escape sequence, no progress) and stable.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::lanes::lane;
use theory_conform::conform::runner::shell_quote;

/// The lane's command line, run under a pseudo-terminal; its exit code and
/// every byte the terminal received.
fn on_a_terminal(args: &[String], env: &[(&str, &str)]) -> (i32, Vec<u8>) {
    let line: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_theory-conform").to_owned())
        .chain(args.iter().cloned())
        .map(|a| shell_quote(&a))
        .collect();
    let mut command = Command::new("timeout");
    command
        .args([
            "120",
            "script",
            "--quiet",
            "--return",
            "--flush",
            "--command",
        ])
        .arg(line.join(" "))
        .arg("/dev/null")
        .env_remove("CI")
        .env_remove("THEORY_LOG")
        .env_remove("THEORY_LOG_FORMAT")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("script (util-linux)");
    (output.status.code().unwrap_or(-1), output.stdout)
}

/// The screen after `bytes`: carriage returns move to the line's start,
/// `ESC [ K` clears to its end, other escape sequences (colours) show
/// nothing.
fn screen(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = Vec::new();
    for raw in text.split('\n') {
        let mut line: Vec<char> = Vec::new();
        let mut column = 0;
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => column = 0,
                '\u{1b}' => {
                    let mut sequence = String::new();
                    if chars.next_if_eq(&'[').is_some() {
                        for next in chars.by_ref() {
                            sequence.push(next);
                            if next.is_ascii_alphabetic() {
                                break;
                            }
                        }
                    }
                    if sequence == "K" {
                        line.truncate(column);
                    }
                }
                c => {
                    if column < line.len() {
                        line[column] = c;
                    } else {
                        line.push(c);
                    }
                    column += 1;
                }
            }
        }
        lines.push(line.into_iter().collect::<String>());
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// The repository's registry: the reference processor's pinned image.
fn repository_registry() -> std::path::PathBuf {
    support::fixture("registry.yaml")
}

/// The `pr` lane on the local image, as a person would run it: no
/// `CI=true` default of the test support, the repository's goldens.
fn pr_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let registry = repository_registry();
    let mut args: Vec<String> = [
        "--lane",
        "pr",
        "--seed",
        "11",
        "--registry",
        registry.to_str().expect("utf-8"),
        "--work-dir",
        dir.join("work").to_str().expect("utf-8"),
        "--state-dir",
        dir.join("state").to_str().expect("utf-8"),
        "--golden-dir",
        support::fixture("golden").to_str().expect("utf-8"),
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

fn result_lines(screen: &[String]) -> Vec<&String> {
    screen
        .iter()
        .filter(|l| l.starts_with("test ") && !l.starts_with("test result:"))
        .collect()
}

#[test]
fn a_pr_lane_on_a_terminal_shows_libtest_lines_and_a_live_progress_line_and_no_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, bytes) = on_a_terminal(&pr_args(dir.path(), &[]), &[]);
    let shown = screen(&bytes);
    let all = shown.join("\n");
    assert_eq!(code, 0, "{all}");
    // The progress line was drawn while the lane ran...
    let raw = String::from_utf8_lossy(&bytes);
    assert!(
        raw.contains("    Running ["),
        "no progress line was drawn:\n{raw}"
    );
    let total = shown
        .iter()
        .find_map(|l| l.strip_prefix("running ")?.strip_suffix(" tests"))
        .unwrap_or_else(|| panic!("no `running N tests`:\n{all}"));
    assert!(raw.contains(&format!("/{total}")), "{raw}");
    // ...and is gone from the screen at the end.
    assert!(
        !shown.iter().any(|l| l.contains("Running [")),
        "the progress line stayed:\n{all}"
    );
    // No JSON, no warning for what the trials provoked on purpose.
    assert!(
        !shown.iter().any(|l| l.trim_start().starts_with('{')),
        "{all}"
    );
    assert!(!all.contains("warning"), "{all}");
    // libtest's lines, whole: each result line ends in its outcome.
    let results = result_lines(&shown);
    assert!(results.len() > 30, "{all}");
    for line in &results {
        assert!(
            line.ends_with("... ok") || line.contains("... ignored"),
            "a result line was broken: {line:?}\n{all}"
        );
    }
    assert!(
        shown.iter().any(|l| l.starts_with("test result: ok.")),
        "{all}"
    );
    // libtest colours a terminal's lines, through the relay too.
    assert!(raw.contains("\u{1b}[32mok"), "no colour:\n{raw}");
}

#[test]
fn no_progress_line_is_drawn_when_refused_or_under_ci() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (extra, env) in [
        (&["--no-progress"][..], &[][..]),
        (&[][..], &[("CI", "true")][..]),
    ] {
        let args = pr_args(dir.path(), &[&["contract::health"][..], extra].concat());
        let (code, bytes) = on_a_terminal(&args, env);
        let raw = String::from_utf8_lossy(&bytes);
        assert_eq!(code, 0, "{raw}");
        assert!(
            screen(&bytes)
                .iter()
                .any(|l| l.starts_with("test result: ok. 1 passed")),
            "{raw}"
        );
        assert!(!raw.contains("Running ["), "{extra:?} {env:?}:\n{raw}");
    }
}

#[test]
fn under_ci_the_output_is_plain_and_stable() {
    let runs: Vec<(i32, String)> = (0..2)
        .map(|_| {
            let dir = tempfile::tempdir().expect("tempdir");
            let run = lane("pr", &repository_registry(), dir.path())
                .arg("--seed")
                .arg("11")
                .env_remove("THEORY_LOG")
                .env_remove("THEORY_LOG_FORMAT")
                .run();
            let mut text = run.stdout_text();
            text.push_str(&run.stderr);
            (run.code, text)
        })
        .collect();
    let stable = |text: &str| {
        // libtest prints results in the order trials finish, and the time.
        let mut lines: Vec<String> = text
            .lines()
            .map(|l| match l.find("; finished in ") {
                Some(at) => l[..at].to_owned(),
                None => l.to_owned(),
            })
            .collect();
        lines.sort();
        lines
    };
    for (code, text) in &runs {
        assert_eq!(*code, 0, "{text}");
        assert!(
            !text.contains('\u{1b}'),
            "an escape sequence under CI:\n{text}"
        );
        assert!(!text.contains('\r'), "{text}");
        assert!(!text.lines().any(|l| l.starts_with('{')), "{text}");
        assert!(!text.contains("Running ["), "{text}");
    }
    assert_eq!(stable(&runs[0].1), stable(&runs[1].1));
}

#[test]
fn real_warnings_are_still_shown_and_json_is_there_when_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A warning outside any trial: THEORY_LOG that is not a filter.
    let args = pr_args(dir.path(), &["contract::health"]);
    let (code, bytes) = on_a_terminal(&args, &[("THEORY_LOG", "theory_conform=[[")]);
    let all = screen(&bytes).join("\n");
    assert_eq!(code, 0, "{all}");
    assert!(
        all.contains("warning[log.filter]: THEORY_LOG is not a filter"),
        "{all}"
    );
    // --log-format json: every diagnostic line is NDJSON, expected
    // warnings at info, marked, and inside their trial.
    let run = lane("pr", &repository_registry(), dir.path())
        .arg("parity::negative_image")
        .env("THEORY_LOG", "info")
        .env_remove("THEORY_LOG_FORMAT")
        .arg("--log-format")
        .arg("json")
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events = run.stderr_events();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e["level"] != "warn"),
        "{}",
        run.stderr
    );
    let demoted: Vec<_> = events.iter().filter(|e| e["was"] == "warn").collect();
    assert!(
        demoted
            .iter()
            .any(|e| e["event"] == "error.image" && e["level"] == "info"),
        "{}",
        run.stderr
    );
    assert!(
        demoted.iter().all(|e| e["trial"]
            .as_str()
            .is_some_and(|t| t.starts_with("parity::negative_image::"))),
        "{}",
        run.stderr
    );
}

#[test]
fn the_screen_renders_carriage_returns_and_line_clears() {
    assert_eq!(
        screen(b"abc\r\x1b[Kxy\n\x1b[32mok\x1b[0m\nlong line\rab\n\n"),
        ["xy", "ok", "abng line"]
    );
}
