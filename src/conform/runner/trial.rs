//! One trial: its attempts (a listed flaky trial is retried), the known
//! lists' bearing on its verdict, its record in the event stream.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use libtest_mimic::{Completion, Failed};
use theory_contract::WritePrefix;
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use super::super::certificate;
use super::super::check::{self, Ctx};
use super::super::golden::Store;
use super::super::plan::{LanePlan, TrialSpec, Work};
use super::super::report::{self, Disposition, Event, Record, Status};
use super::super::seed::{Ids, Seed};
use super::super::verdict::{Failure, Verdict};
use super::Known;
use super::pool::Pool;
use super::prepare::shell_quote;
use super::progress::Progress;
use crate::registry::ProcessorRef;

/// Slack added to every trial's safety budget.
const TRIAL_SLACK: Duration = Duration::from_secs(30);
/// Attempts of a listed flaky trial that keeps failing (the first and two retries).
const FLAKY_ATTEMPTS: u32 = 3;
/// What replaces the run's folder in every message, so that two runs report
/// the same bytes.
const RUN_FOLDER: &str = "{run}/";

/// What every trial closure shares.
pub(super) struct Shared {
    pub(super) handle: tokio::runtime::Handle,
    pub(super) plan: LanePlan,
    pub(super) pool: Pool,
    pub(super) semaphores: BTreeMap<ProcessorRef, Arc<Semaphore>>,
    pub(super) events: Mutex<Vec<Event>>,
    pub(super) store: Store,
    pub(super) seed: Seed,
    pub(super) mount: WritePrefix,
    pub(super) run_id: String,
    pub(super) host_values: Vec<String>,
    /// Every registered secret value (declared secrets, proxy tokens).
    pub(super) secret_values: Vec<String>,
    pub(super) secrets: BTreeMap<ProcessorRef, Vec<(String, bool)>>,
    pub(super) known: Known,
    pub(super) replay: String,
    /// The live progress line (inert unless on a terminal).
    pub(super) progress: Progress,
}

impl Shared {
    /// Records a verdict (scrubbed of the run's folder) and returns what
    /// libtest-mimic reports.
    fn record(
        &self,
        name: &str,
        suite: &str,
        verdict: Verdict,
        disposition: Disposition,
        started: Instant,
        replayable: bool,
    ) -> Result<Completion, Failed> {
        let verdict = scrub(verdict, &self.mount, &self.run_id);
        let replay = (replayable && verdict.is_failure())
            .then(|| format!("{} {}", self.replay, shell_quote(name)));
        let record = Record {
            name: name.to_owned(),
            suite: suite.to_owned(),
            verdict,
            disposition,
            replay,
            duration: started.elapsed(),
        };
        let outcome = outcome(&record);
        self.progress.finished(record.status());
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Event::Finished(record));
        outcome
    }

    /// The pseudo-trial of a golden that no trial of the lane uses.
    pub(super) fn unused_golden(&self, name: &str, relative: &str) -> Result<Completion, Failed> {
        let started = Instant::now();
        let verdict = Verdict::fail(format!(
            "golden {relative} is used by no trial of this lane: delete it, or restore the case that compared with it"
        ));
        self.record(name, "golden", verdict, Disposition::Plain, started, false)
    }

    /// The evidence trial of one processor: what its certification lacks.
    pub(super) fn evidence(&self, processor: &ProcessorRef) -> Result<Completion, Failed> {
        let started = Instant::now();
        let missing = self
            .plan
            .evidence
            .get(processor)
            .cloned()
            .unwrap_or_default();
        let verdict = if missing.is_empty() {
            Verdict::Pass
        } else {
            Verdict::fail(format!(
                "the lane's certification needs evidence {processor} does not give: {}",
                missing.join("; ")
            ))
        };
        let name = certificate::evidence_name(processor);
        self.record(
            &name,
            certificate::SUITE,
            verdict,
            Disposition::Plain,
            started,
            false,
        )
    }

    /// The pseudo-trial of one problem of the known lists.
    pub(super) fn known_problem(&self, index: usize) -> Result<Completion, Failed> {
        let started = Instant::now();
        let problem = &self.known.problems[index];
        let verdict = Verdict::fail(problem.message.clone());
        self.record(
            &problem.name,
            problem.suite,
            verdict,
            Disposition::Plain,
            started,
            false,
        )
    }
}

/// Replaces the run's folder (and id) with placeholders, so that messages
/// are the same in every run with the same seed.
fn scrub(verdict: Verdict, mount: &WritePrefix, run_id: &str) -> Verdict {
    let fix = |text: String| {
        text.replace(mount.as_str(), RUN_FOLDER)
            .replace(
                mount.as_str().trim_end_matches('/'),
                RUN_FOLDER.trim_end_matches('/'),
            )
            .replace(run_id, "{run_id}")
    };
    match verdict {
        Verdict::Pass => Verdict::Pass,
        Verdict::Skip { reason } => Verdict::skip(fix(reason)),
        Verdict::Error { message } => Verdict::error(fix(message)),
        Verdict::Fail(failure) => Verdict::Fail(Failure {
            message: fix(failure.message),
            diff: failure.diff.map(fix),
            trace: failure.trace.map(fix),
        }),
    }
}

/// Runs one planned trial (a listed flaky trial up to [`FLAKY_ATTEMPTS`]
/// times) and records its verdict.
pub(super) fn run_trial(shared: &Shared, index: usize) -> Result<Completion, Failed> {
    let started = Instant::now();
    let spec = &shared.plan.trials[index];
    let attempts = match &shared.known.flaky {
        Some(list) if list.find(&spec.name).is_some() => FLAKY_ATTEMPTS,
        Some(_) | None => 1,
    };
    let mut failures = Vec::new();
    let mut verdict = attempt(shared, spec, 1);
    for number in 2..=attempts {
        if !verdict.is_failure() {
            break;
        }
        tracing::info!(event = "conform.retry", trial = %spec.name, attempt = number);
        failures.push(scrub(verdict, &shared.mount, &shared.run_id).details());
        verdict = attempt(shared, spec, number);
    }
    let known = shared
        .known
        .failures
        .as_ref()
        .and_then(|list| Some((list, list.find(&spec.name)?)));
    let disposition = match (&verdict, known) {
        (Verdict::Fail(_), Some((_, entry))) => Disposition::KnownFailure {
            reason: entry.reason.clone(),
        },
        (Verdict::Pass, Some((list, entry))) => {
            verdict = Verdict::fail(format!(
                "known failure now passes: {}; remove it from {} (entry `{}` at {})",
                spec.name,
                list.origin,
                entry.trial.as_str(),
                entry.at
            ));
            Disposition::Plain
        }
        (Verdict::Pass, None) if !failures.is_empty() => Disposition::Flaky { failures },
        (Verdict::Pass | Verdict::Fail(_) | Verdict::Error { .. } | Verdict::Skip { .. }, _) => {
            Disposition::Plain
        }
    };
    shared.record(&spec.name, &spec.suite, verdict, disposition, started, true)
}

/// One attempt of a planned trial; attempts after the first draw their
/// own ids (the trial's name with `#<attempt>`).
fn attempt(shared: &Shared, spec: &TrialSpec, number: u32) -> Verdict {
    match &spec.work {
        Err(reason) => Verdict::skip(reason.clone()),
        Ok(work) => {
            // Warnings inside the span are this trial's evidence (crate::log).
            let span = tracing::error_span!(crate::log::TRIAL_SPAN, trial = %spec.name);
            let run = AssertUnwindSafe(|| {
                shared
                    .handle
                    .block_on(trial(shared, spec, work, number).instrument(span))
            });
            std::panic::catch_unwind(run).unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                Verdict::error(format!("the check panicked (a harness bug): {message}"))
            })
        }
    }
}

fn outcome(record: &Record) -> Result<Completion, Failed> {
    match record.status() {
        Status::Pass | Status::Flaky => Ok(Completion::Completed),
        Status::Skip => Ok(Completion::ignored_with(record.verdict.message())),
        Status::KnownFailure => {
            let reason = match &record.disposition {
                Disposition::KnownFailure { reason } => reason.as_str(),
                Disposition::Plain | Disposition::Flaky { .. } => "",
            };
            Ok(Completion::ignored_with(report::clean(&format!(
                "known failure: {reason}"
            ))))
        }
        Status::Fail | Status::Error => Err(Failed::from(report::clean(&record.details()))),
    }
}

async fn trial(shared: &Shared, spec: &TrialSpec, work: &Work, number: u32) -> Verdict {
    let Some(pp) = shared.plan.processors.get(&spec.processor) else {
        return Verdict::error("the processor was not planned");
    };
    let kind = spec.case.check.kind();
    let _permit = match shared.semaphores.get(&spec.processor) {
        Some(semaphore) => Arc::clone(semaphore).acquire_owned().await.ok(),
        None => None,
    };
    let secrets = shared
        .secrets
        .get(&spec.processor)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let connected = if check::uses_endpoint(kind) {
        shared
            .pool
            .get(&spec.processor, spec.target, pp, secrets)
            .await
    } else {
        None
    };
    let peer = match work.peer_target {
        Some(peer) => shared.pool.get(&spec.processor, peer, pp, secrets).await,
        None => None,
    };
    let mut ctx = Ctx {
        spec,
        work,
        pp,
        connected: connected.as_deref(),
        peer: peer.as_deref(),
        ids: if number > 1 {
            Ids::new(
                shared.seed,
                &format!("{}#{number}", spec.name),
                shared.mount.clone(),
            )
        } else {
            Ids::new(shared.seed, &spec.name, shared.mount.clone())
        },
        golden: &shared.store,
        host_values: &shared.host_values,
        secret_values: &shared.secret_values,
        secrets,
        mount: &shared.mount,
        run_id: &shared.run_id,
    };
    let budget = crate::orchestrator::RESOLVE_BUDGET
        + pp.entry.health
        + pp.entry.run_timeout.saturating_mul(work.calls.max(1))
        + TRIAL_SLACK;
    match tokio::time::timeout(budget, check::run(&mut ctx)).await {
        Ok(verdict) => verdict,
        Err(_) => Verdict::error(format!(
            "the trial did not finish within its safety budget of {} s (a harness bug: every call has its own budget)",
            budget.as_secs()
        )),
    }
}
