//! Hostile containers, run through the orchestrator as `theory-conform run`
//! runs them: one that exits at once, one that ignores SIGTERM, one that
//! floods stderr. Each ends in its verdict within its budget plus a small
//! margin, with the harness's peak memory bounded, and leaves no container;
//! the figures are printed (`--no-capture`). The pinned reference image
//! plays each part (`THEORY_FAULT`/`THEORY_VARIATION` in its environment).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::processor::{containers_labelled, docker_available, reference_image};
use theory_conform::adapter::{HealthBudget, Limits, LocalSpec, RUN_LABEL, Target, Transport};
use theory_conform::artifacts::Source;
use theory_conform::orchestrator::{self, Outcome, Plan, TargetSource};
use theory_conform::registry::ProcessorRef;
use theory_contract::{Envelope, ErrorCode, WritePrefix};

const HEALTH: Duration = Duration::from_secs(5);
const RUN: Duration = Duration::from_secs(3);
/// What a verdict may take beyond its budgets (engine start and removal).
const MARGIN: Duration = Duration::from_secs(10);

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .expect("kB")
        .parse()
        .expect("number");
    kb / 1024
}

/// One run of the pinned image with `env`, through the orchestrator.
async fn run(name: &str, env: &[(&str, &str)], prefix_dir: &std::path::Path) -> (Outcome, String) {
    let run_id = format!("hostile-{name}-{}", std::process::id());
    let prefix = WritePrefix::parse(&format!("{}/{name}/", prefix_dir.display())).expect("prefix");
    let mut spec = LocalSpec::new(reference_image(), &run_id);
    spec.env = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .chain([(
            "THEORY_ENV_FINGERPRINT".to_owned(),
            support::lanes::FINGERPRINT.to_owned(),
        )])
        .collect::<BTreeMap<_, _>>();
    spec.mount = Some(WritePrefix::parse(&format!("{}/", prefix_dir.display())).expect("mount"));
    let inputs = serde_json::json!({"schema": "v1", "params": {"text": "hello", "repeat": 1}});
    let plan = Plan {
        processor: ProcessorRef::parse("theory/reference@0.1.0").expect("ref"),
        target: Target::Local(spec),
        target_source: TargetSource::Flag,
        transport: Transport::Http,
        execution_id: format!("{name}-1"),
        prefix: prefix.clone(),
        request: Plan::request(&format!("{name}-1"), inputs, &prefix, "mock"),
        run_timeout: RUN,
        health: HealthBudget::with_total(HEALTH),
        expected: None,
        secrets: Vec::new(),
        host_values: Vec::new(),
        limits: Limits::default(),
        artifacts: Source::Shared,
    };
    (orchestrator::run(&plan).await, run_id)
}

/// A hostile container: its name, its environment, the verdict it must get
/// (an error code, or `None` for a success) and the budget that bounds it.
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Option<ErrorCode>,
    Duration,
);

fn code(outcome: &Outcome) -> Option<ErrorCode> {
    match &outcome.envelope {
        Envelope::Error(e) => Some(e.error.code),
        Envelope::Success(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_containers_end_with_their_verdict_within_budget_and_leave_nothing() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let before = peak_rss_mib();
    // (name, environment, expected error code or success, what bounds it)
    let cases: [Case; 3] = [
        // An unknown fault: the processor refuses its configuration and exits.
        (
            "exits-at-once",
            &[("THEORY_FAULT", "no-such-fault")],
            Some(ErrorCode::Health),
            HEALTH,
        ),
        (
            "ignores-sigterm",
            &[("THEORY_VARIATION", "sigterm-ignored")],
            None,
            RUN,
        ),
        (
            // A flood of stderr, and a run that never ends: the run
            // budget's ERR_TIMEOUT carries a bounded tail of that stderr.
            "stderr-flood",
            &[
                ("THEORY_VARIATION", "stderr-flood"),
                ("THEORY_FAULT", "run-hang"),
            ],
            Some(ErrorCode::Timeout),
            RUN,
        ),
    ];
    for (name, env, expected, budget) in cases {
        let started = Instant::now();
        let (outcome, run_id) = run(name, env, dir.path()).await;
        let elapsed = started.elapsed();
        let tail = match &outcome.envelope {
            Envelope::Error(e) => e.meta.stderr_tail.clone().unwrap_or_default(),
            Envelope::Success(s) => s.meta.stderr_tail.clone().unwrap_or_default(),
        };
        println!(
            "{name}: {:?} in {} ms (budget {} ms), stderr_tail {} B, peak RSS {} MiB",
            code(&outcome).map(ErrorCode::as_str),
            elapsed.as_millis(),
            budget.as_millis(),
            tail.len(),
            peak_rss_mib()
        );
        assert_eq!(
            code(&outcome),
            expected,
            "{name}: {}",
            String::from_utf8_lossy(&outcome.canonical)
        );
        assert!(elapsed < budget + MARGIN, "{name}: {elapsed:?}");
        assert!(tail.len() <= theory_contract::STDERR_TAIL_MAX, "{name}");
        if name == "stderr-flood" {
            assert!(
                tail.contains("flood: "),
                "{name}: the tail is the stderr's: {tail:?}"
            );
        }
        assert_eq!(
            containers_labelled(RUN_LABEL, &run_id),
            Vec::<String>::new(),
            "{name} left its container"
        );
    }
    let grown = peak_rss_mib().saturating_sub(before);
    println!("peak RSS grew by {grown} MiB");
    assert!(grown < 64, "peak memory grew by {grown} MiB");
}
