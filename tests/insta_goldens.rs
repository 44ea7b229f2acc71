//! The goldens are insta snapshots in fact, not only in name: insta's own
//! parser (`insta::Snapshot::from_file`, what `cargo insta` loads files
//! with) reads every golden exactly as the harness does, and the real
//! `cargo insta accept` / `reject` resolve the pending golden a lane writes,
//! with the harness reading what insta wrote.
//!
//! `cargo-insta` is `THEORY_CARGO_INSTA`, else the one `cargo insta` runs
//! (cargo's bin folder, then `PATH`); `ci/insta-up` installs the pinned
//! version. It works on a Cargo package, so the lanes run against a copy
//! of `golden/` inside a minimal package in a temporary folder; the
//! processor is the native reference processor behind a `url` target (no
//! Docker).
//!
//! insta and the harness differ in one way, which the accept test allows
//! for: `cargo insta accept` re-serializes the header in insta's YAML style
//! (`source:` unquoted; the harness quotes every value), so an accepted
//! golden equals the harness's in header fields and body, not byte for
//! byte. The harness reads only the body, so it never notices.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use insta::internals::TextSnapshotContents;
use insta::{Snapshot, TextSnapshotKind};
use proptest::prelude::*;
use theory_conform::conform::golden::{self, Header};

use support::lanes::{FINGERPRINT, NAME, explain, summary, trials_with, url_registry};
use support::processor::{Options, Processor};
use support::{Cli, Run, fixture};

const SLUG: &str = "theory-reference-0.1.0";
/// The golden the acceptance tests edit.
const BASIC: &str = "contract.envelope__basic.snap";
/// The lane's filter: the envelope trials, one of which compares with it.
const FILTER: &str = "contract::envelope::";

/// Every file under `dir` whose name ends with `suffix`, sorted.
fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a golden folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// What insta's parser makes of the snapshot file at `path`, checked
/// against the harness's reader: the same body, byte for byte (insta's raw
/// contents) and after insta's normalization (what `cargo insta` compares
/// and writes back). Returns the header insta read and the body.
fn read_with_insta(path: &Path) -> (Header, String) {
    let body = golden::read_snapshot(path)
        .unwrap_or_else(|e| panic!("the harness cannot read {}: {e}", path.display()))
        .unwrap_or_else(|| panic!("{} does not exist", path.display()));
    let snapshot = Snapshot::from_file(path)
        .unwrap_or_else(|e| panic!("insta cannot read {}: {e}", path.display()));
    let text = snapshot
        .as_text()
        .unwrap_or_else(|| panic!("insta reads {} as a binary snapshot", path.display()));
    assert!(
        text.matches_fully(&TextSnapshotContents::new(
            body.clone(),
            TextSnapshotKind::File
        )),
        "{}: insta's raw contents differ from the harness's body\ninsta:\n{text}\nharness:\n{body}",
        path.display()
    );
    assert_eq!(
        text.to_string(),
        body,
        "{}: insta's normalized contents differ from the harness's body",
        path.display()
    );
    let metadata = snapshot.metadata();
    let header = Header {
        source: metadata
            .source()
            .unwrap_or_else(|| panic!("{}: insta reads no `source`", path.display()))
            .to_owned(),
        expression: metadata
            .expression()
            .unwrap_or_else(|| panic!("{}: insta reads no `expression`", path.display()))
            .to_owned(),
    };
    (header, body)
}

#[test]
fn insta_reads_every_golden_of_the_repository_as_the_harness_does() {
    let goldens = files_under(&fixture("golden"), ".snap");
    assert!(!goldens.is_empty(), "no golden under golden/");
    for path in &goldens {
        let text = std::fs::read_to_string(path).expect("golden");
        let (header, body) = read_with_insta(path);
        // insta's header, written back by the harness, is the file itself:
        // insta reads the same `source` and `expression` the harness wrote,
        // and nothing else is in the file.
        assert_eq!(
            golden::snapshot_text(&header, &body),
            text,
            "{}: insta's reading of the header does not reproduce the file",
            path.display()
        );
        // insta's naming (`<module>__<name>.snap`) is the harness's key
        // (`<suite>.<case>__<item>`), and the header names the same suite,
        // case and item.
        let snapshot = Snapshot::from_file(path).expect("insta reads it");
        let stem = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".snap"))
            .expect("a .snap file name");
        let (module, name) = (
            snapshot.module_name(),
            snapshot.snapshot_name().expect("insta names the snapshot"),
        );
        assert_eq!(format!("{module}__{name}"), stem, "{}", path.display());
        let (suite, case) = module.split_once('.').expect("<suite>.<case>");
        assert_eq!(
            header.source,
            format!("suites/{suite}.yaml"),
            "{}",
            path.display()
        );
        assert!(
            header
                .expression
                .starts_with(&format!("{suite}::{case} {name} (")),
            "{}: the expression {:?} does not name {suite}::{case} {name}",
            path.display(),
            header.expression
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the strings, the file the harness writes (`snapshot_text`)
    /// is read back by insta with the same header and body.
    #[test]
    fn insta_reads_any_snapshot_the_harness_writes(
        source in any::<String>(),
        expression in any::<String>(),
        value in any::<String>(),
        number in any::<i32>(),
    ) {
        let doc = serde_json::json!({"a": [value.clone(), number, {}], "b": {"c": value}, "d": []});
        let body = golden::render(serde_json::to_string(&doc).expect("JSON").as_bytes())
            .expect("render");
        let header = Header { source, expression };
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("suite.case__item.snap");
        std::fs::write(&path, golden::snapshot_text(&header, &body)).expect("write");
        let (read_header, read_body) = read_with_insta(&path);
        prop_assert_eq!(read_header, header);
        prop_assert_eq!(read_body, body);
    }
}

/// `cargo-insta`: `THEORY_CARGO_INSTA`, else the one `cargo insta` runs
/// (cargo's bin folder, then `PATH`), as `ci/insta-up` prints it.
fn cargo_insta() -> PathBuf {
    if let Some(path) = std::env::var_os("THEORY_CARGO_INSTA") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "THEORY_CARGO_INSTA={} is not a file; run ci/insta-up",
            path.display()
        );
        return path;
    }
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin"));
    let path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    cargo_bin
        .into_iter()
        .chain(path)
        .map(|dir| dir.join("cargo-insta"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "cargo-insta is not installed (not in THEORY_CARGO_INSTA, cargo's bin folder or PATH): run ci/insta-up, which installs the pinned version and prints its path"
            )
        })
}

/// What a `cargo-insta` run left behind.
struct InstaRun {
    success: bool,
    stdout: String,
    stderr: String,
}

impl InstaRun {
    fn explain(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

/// A minimal Cargo package holding a copy of the repository's goldens:
/// what `cargo insta` needs to find snapshots (`cargo metadata` on a
/// package, whose folder it walks for `*.snap.new`).
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"goldens\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\npath = \"lib.rs\"\n\n[workspace]\n",
        )
        .expect("Cargo.toml");
        std::fs::write(dir.path().join("lib.rs"), "").expect("lib.rs");
        let from = fixture("golden");
        for path in files_under(&from, ".snap") {
            let to = dir
                .path()
                .join("golden")
                .join(path.strip_prefix(&from).expect("under golden/"));
            std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            std::fs::copy(&path, &to).expect("copy a golden");
        }
        Self { dir }
    }

    fn goldens(&self) -> PathBuf {
        self.dir.path().join("golden")
    }

    fn golden(&self) -> PathBuf {
        self.goldens().join(SLUG).join(BASIC)
    }

    fn pending(&self) -> Vec<PathBuf> {
        files_under(&self.goldens(), ".snap.new")
    }

    /// `cargo-insta <command> --manifest-path <package> <args>`, with no
    /// standard input, no colour and none of insta's redirections; killed
    /// (failing the test) after a minute.
    fn insta(&self, command: &str, args: &[&str]) -> InstaRun {
        let out = tempfile::tempdir().expect("tempdir");
        let (stdout_path, stderr_path) = (out.path().join("stdout"), out.path().join("stderr"));
        let mut child = Command::new(cargo_insta())
            .arg(command)
            .arg("--manifest-path")
            .arg(self.dir.path().join("Cargo.toml"))
            .args(args)
            .current_dir(self.dir.path())
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("INSTA_PENDING_DIR")
            .env_remove("INSTA_WORKSPACE_ROOT")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .expect("spawn cargo-insta");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("cargo-insta {command} {args:?} did not finish within a minute");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        InstaRun {
            success: status.success(),
            stdout: std::fs::read_to_string(&stdout_path).expect("stdout"),
            stderr: std::fs::read_to_string(&stderr_path).expect("stderr"),
        }
    }

    /// The snapshot files `cargo insta pending-snapshots` lists.
    fn insta_pending(&self) -> Vec<PathBuf> {
        let run = self.insta("pending-snapshots", &["--as-json"]);
        assert!(run.success, "{}", run.explain());
        let mut out: Vec<PathBuf> = run
            .stdout
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let entry: serde_json::Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                assert_eq!(entry["type"], "file_snapshot", "{line}");
                let path = PathBuf::from(entry["path"].as_str().expect("path"));
                path.canonicalize().unwrap_or(path)
            })
            .collect();
        out.sort();
        out
    }

    /// Changes one value of the golden's body; returns the text it had.
    fn edit_golden(&self) -> String {
        let golden = self.golden();
        let original = std::fs::read_to_string(&golden).expect("golden");
        let edited = original.replacen("\"success\"", "\"sucess\"", 1);
        assert_ne!(edited, original, "{BASIC} has no \"success\" to edit");
        std::fs::write(&golden, edited).expect("edit the golden");
        original
    }
}

/// A native reference processor and a registry naming it, in `dir`.
fn processor(dir: &Path) -> (Processor, PathBuf) {
    let processor = Processor::start(Options::plain().env("THEORY_ENV_FINGERPRINT", FINGERPRINT));
    let registry = url_registry(dir, processor.http_url().as_str());
    (processor, registry)
}

/// The `dev` lane's envelope trials against `registry`, comparing with the
/// goldens in `goldens`; reports, work and state in `dir`. The caller
/// sets `CI` or removes it.
fn lane(dir: &Path, registry: &Path, goldens: &Path) -> Cli {
    Cli::new(["--lane", "dev"])
        .arg("--registry")
        .arg(registry)
        .arg("--json")
        .arg(dir.join("summary.json"))
        .arg("--work-dir")
        .arg(dir.join("work"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--golden-dir")
        .arg(goldens)
        .arg(FILTER)
        .timeout(Duration::from_secs(120))
}

/// The trial that compares with the goldens: the lane compares a case's
/// envelopes once per target, on its first transport.
fn golden_trial() -> String {
    format!("{FILTER}{NAME}::url::ws")
}

/// `run` failed on the trial comparing with the goldens, and on it alone.
fn only_the_golden_trial_failed(run: &Run, dir: &Path) {
    assert_eq!(run.code, 1, "{}", explain(run));
    let (_, failed) = verdicts(dir);
    assert_eq!(failed, BTreeSet::from([golden_trial()]), "{}", explain(run));
}

/// The trials of the last run in `dir` that passed, and those that failed.
fn verdicts(dir: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let summary = summary(dir);
    (trials_with(&summary, "pass"), trials_with(&summary, "fail"))
}

/// A local run (no `CI`) against the edited golden: the trial comparing
/// with it fails, alone, and the harness writes exactly one pending golden, whose text is
/// what the harness wrote into the repository's golden, and which insta
/// reads as the harness does.
fn lane_writes_the_pending_golden(ws: &Workspace, dir: &Path, registry: &Path, original: &str) {
    let run = lane(dir, registry, &ws.goldens()).env_remove("CI").run();
    only_the_golden_trial_failed(&run, dir);
    assert!(
        run.stdout_text().contains(&format!(
            "golden {SLUG}/{BASIC} differs; wrote {SLUG}/{BASIC}.new"
        )),
        "{}",
        explain(&run)
    );
    let pending = golden::pending_path(&ws.golden());
    assert_eq!(ws.pending(), vec![pending.clone()]);
    assert_eq!(
        std::fs::read_to_string(&pending).expect("pending golden"),
        original,
        "the pending golden is not the envelope the repository's golden holds"
    );
    let (header, _) = read_with_insta(&pending);
    assert_eq!(header.source, "suites/contract.yaml");
    assert_eq!(
        header.expression,
        format!("contract::envelope basic ({NAME})")
    );
    // cargo insta finds it as a pending file snapshot of that golden.
    assert_eq!(
        ws.insta_pending(),
        vec![ws.golden().canonicalize().expect("golden path")]
    );
}

fn ci_lane(dir: &Path, registry: &Path, ws: &Workspace) -> Run {
    let run = lane(dir, registry, &ws.goldens()).env("CI", "true").run();
    assert!(ws.pending().is_empty(), "CI=true wrote {:?}", ws.pending());
    run
}

#[test]
fn cargo_insta_accept_takes_the_pending_golden_of_a_lane_and_the_harness_reads_it() {
    cargo_insta();
    let ws = Workspace::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_processor, registry) = processor(dir.path());
    let original = ws.edit_golden();
    lane_writes_the_pending_golden(&ws, dir.path(), &registry, &original);

    let key = format!("golden/{SLUG}/{BASIC}");
    let accept = ws.insta("accept", &["--snapshot", &key]);
    assert!(accept.success, "{}", accept.explain());
    assert!(
        ws.pending().is_empty(),
        "cargo insta accept left {:?}\n{}",
        ws.pending(),
        accept.explain()
    );
    assert!(ws.insta_pending().is_empty());

    // The golden holds the harness's envelope again. insta rewrites the
    // header in its own YAML style (`source:` unquoted, where the harness
    // quotes every value), so the file is equal to the harness's as insta
    // and the harness read it, not byte for byte.
    let golden = ws.golden();
    let (header, body) = read_with_insta(&golden);
    let (expected_header, expected_body) =
        read_with_insta(&fixture("golden").join(SLUG).join(BASIC));
    assert_eq!(header, expected_header);
    assert_eq!(body, expected_body);
    let accepted = std::fs::read_to_string(&golden).expect("golden");
    assert_eq!(
        golden::snapshot_body(&accepted),
        golden::snapshot_body(&original)
    );

    // The harness's own review sees nothing pending, and CI=true passes on
    // the file insta wrote.
    let review = Cli::new(["golden", "review", "--golden-dir"])
        .arg(ws.goldens())
        .run();
    assert_eq!(review.code, 0, "{}", explain(&review));
    assert!(
        review.stdout_text().contains("0 pending golden(s)"),
        "{}",
        review.stdout_text()
    );
    let run = ci_lane(dir.path(), &registry, &ws);
    assert_eq!(run.code, 0, "{}", explain(&run));
    let (passed, failed) = verdicts(dir.path());
    assert!(passed.contains(&golden_trial()), "{passed:?}");
    assert!(failed.is_empty(), "{failed:?}");
    // A local run finds it equal too: it writes nothing, and leaves insta's
    // header alone.
    let run = lane(dir.path(), &registry, &ws.goldens())
        .env_remove("CI")
        .run();
    assert_eq!(run.code, 0, "{}", explain(&run));
    assert!(ws.pending().is_empty(), "{:?}", ws.pending());
    assert_eq!(std::fs::read_to_string(&golden).expect("golden"), accepted);
}

#[test]
fn cargo_insta_reject_drops_the_pending_golden_and_the_edited_golden_still_fails() {
    cargo_insta();
    let ws = Workspace::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_processor, registry) = processor(dir.path());
    let original = ws.edit_golden();
    let edited = std::fs::read_to_string(ws.golden()).expect("golden");
    lane_writes_the_pending_golden(&ws, dir.path(), &registry, &original);

    let reject = ws.insta("reject", &["--snapshot", BASIC]);
    assert!(reject.success, "{}", reject.explain());
    assert!(
        ws.pending().is_empty(),
        "cargo insta reject left {:?}\n{}",
        ws.pending(),
        reject.explain()
    );
    assert_eq!(
        std::fs::read_to_string(ws.golden()).expect("golden"),
        edited,
        "cargo insta reject touched the golden"
    );

    let run = ci_lane(dir.path(), &registry, &ws);
    only_the_golden_trial_failed(&run, dir.path());
    assert!(
        run.stdout_text().contains(&format!(
            "golden {SLUG}/{BASIC} differs; nothing written (CI=true)"
        )),
        "{}",
        explain(&run)
    );
}
