//! A processor the project did not write in Rust: `fixtures/python-processor`
//! (Starlette on uvicorn, pinned and hashed requirements), certified by
//! following docs/processor-authors.md word for word: `init`, the `pr`
//! lane on the url, goldens reviewed and accepted, the lane again.
//!
//! `ci/test` builds its venv (`fixtures/python-processor/setup`) before the
//! tests run; this test fails, saying so, when it is missing.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::lanes::explain;
use support::{Cli, fixture};

/// The Python processor, stopped when dropped.
struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Served {
    let addr_file = dir.join("addr");
    let child = Command::new(fixture("fixtures/python-processor/serve"))
        .args(["--port", "0", "--listen-addr-file"])
        .arg(&addr_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("serve.stderr")).expect("stderr file"))
        .spawn()
        .expect("fixtures/python-processor/serve");
    let mut served = Served {
        child,
        addr: String::new(),
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(text) = std::fs::read_to_string(&addr_file) {
            served.addr = text.trim().to_owned();
            return served;
        }
        if let Ok(Some(status)) = served.child.try_wait() {
            let stderr = std::fs::read_to_string(dir.join("serve.stderr")).unwrap_or_default();
            panic!(
                "the Python processor ended with {status} (run fixtures/python-processor/setup):\n{stderr}"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the Python processor did not listen within 30 s");
}

fn in_dir(dir: &Path, args: &[&str]) -> Cli {
    Cli::new(args)
        .current_dir(dir)
        .env_remove("CI")
        .timeout(Duration::from_secs(180))
}

#[test]
fn init_and_the_guide_certify_the_python_processor_with_no_other_edit() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let served = serve(scratch.path());
    let author: PathBuf = scratch.path().join("my-processor");
    std::fs::create_dir(&author).expect("mkdir");
    let url = format!("http://{}/", served.addr);

    // 2. init
    let init = in_dir(&author, &["init", "acme/hello@0.1.0", "--url", &url]).run();
    assert_eq!(init.code, 0, "{}", explain(&init));
    assert!(
        init.stdout_text().contains("registry.yaml"),
        "{}",
        explain(&init)
    );

    // 3. the pr lane on the url: goldens pending at first
    let lane = [
        "--lane",
        "pr",
        "--registry",
        "registry.yaml",
        "--target",
        "url",
    ];
    let first = in_dir(&author, &lane).run();
    assert_eq!(first.code, 1, "{}", explain(&first));
    assert!(
        first.stdout_text().contains(".snap.new"),
        "{}",
        explain(&first)
    );
    let review = in_dir(&author, &["golden", "review"]).run();
    assert_eq!(review.code, 0, "{}", explain(&review));
    let accept = in_dir(&author, &["golden", "accept"]).run();
    assert_eq!(accept.code, 0, "{}", explain(&accept));
    let again = in_dir(&author, &lane)
        .env("CI", "true")
        .arg("--json")
        .arg("summary.json")
        .run();
    assert_eq!(again.code, 0, "{}", explain(&again));

    // Passing, not vacuous: the contract's cases ran on every transport.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(author.join("summary.json")).expect("summary.json"))
            .expect("JSON");
    let passed = support::lanes::trials_with(&summary, "pass");
    for transport in ["ws", "http", "sse"] {
        for case in [
            "contract::envelope",
            "contract::artifacts",
            "contract::inputs_invalid",
        ] {
            let name = format!("{case}::acme/hello@0.1.0::url::{transport}");
            assert!(passed.contains(&name), "{name} did not pass: {summary}");
        }
    }
    assert!(passed.len() >= 30, "{summary}");
    let skipped = support::lanes::trials_with(&summary, "skip");
    assert!(
        skipped
            .iter()
            .all(|n| n.starts_with("supply_chain::digest::") || n.starts_with("parity::targets::")),
        "{skipped:?}"
    );
}

#[test]
fn the_pr_lane_on_a_url_needs_target_url_and_a_certifying_lane_refuses_it() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let url = "http://127.0.0.1:9/";
    let init = in_dir(scratch.path(), &["init", "acme/hello@0.1.0", "--url", url]).run();
    assert_eq!(init.code, 0, "{}", explain(&init));
    // Without --target url, the pr lane plans only the local target, which
    // the entry does not offer: every trial says why it is ignored.
    let list = in_dir(
        scratch.path(),
        &["--lane", "pr", "--registry", "registry.yaml", "--list"],
    )
    .run();
    assert_eq!(list.code, 0, "{}", explain(&list));
    assert!(
        !list.stdout_text().contains("::url::"),
        "{}",
        explain(&list)
    );
    let on_url = in_dir(
        scratch.path(),
        &[
            "--lane",
            "pr",
            "--registry",
            "registry.yaml",
            "--target",
            "url",
            "--list",
        ],
    )
    .run();
    assert!(
        on_url
            .stdout_text()
            .contains("contract::envelope::acme/hello@0.1.0::url::ws")
    );
    assert!(!on_url.stdout_text().contains("::local::"));
    let refused = in_dir(
        scratch.path(),
        &[
            "--lane",
            "staging",
            "--registry",
            "registry.yaml",
            "--target",
            "url",
            "--list",
        ],
    )
    .run();
    assert_eq!(refused.code, 2, "{}", explain(&refused));
    assert!(
        refused
            .event_message("error.usage")
            .is_some_and(|m| m.contains("--target: the staging lane certifies on its own targets")),
        "{}",
        explain(&refused)
    );
}
