//! The lane runner: loads lanes, suites and registry, plans the trials,
//! runs them through libtest-mimic on one tokio runtime, and writes the
//! reports.
//!
//! One run is three steps, as nextest's runner does it:
//! - `prepare` then `plan`: everything that can fail with exit 2, then
//!   the selection (`--last-failed`, filters, partition), `--list`, the
//!   runtime and the start-up sweep;
//! - `run_trials`: the trials through libtest-mimic, each leaving one
//!   record in the event stream;
//! - `settle`: the [`RunStats`] of those records (and of the reports'
//!   writing) decide the exit code; `--last-failed`'s state is written.
//!
//! Containers are started lazily, once per (processor, target), shared by
//! every trial of that pair, and removed at the end (their guards; the
//! adapter's watchdog on Ctrl-C; `sweep` at start removes what a killed
//! run left). Trials of one processor run at most `max_concurrency` at a
//! time (a semaphore per processor); `--test-threads` caps the rest.
//!
//! **Invariant:** every trial libtest-mimic runs leaves exactly one record
//! in the event stream, and the exit code is decided by [`RunStats`] from
//! those records alone (and the reports' writing): 1 when any failed, else
//! 2 when a report could not be written, else 3 when any errored, else 0.

mod pool;
mod prepare;
mod progress;
mod select;
mod stats;
mod trial;
mod workdir;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use libtest_mimic::{Arguments, Trial};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

use super::certificate::{self, Certificate, LaneSource, evidence_name};
use super::known::{KnownList, Problem};
use super::lanes::Lane;
use super::partition::Partition;
use super::plan::LanePlan;
use super::report::{self, Event, RunInfo, Status};
use super::seed::Seed;
use super::state::LastFailed;
use crate::adapter;
use crate::exit::Exit;
use crate::registry::ProcessorRef;
use crate::vocab::TargetKind;
use pool::Pool;
use prepare::{Prepared, prepare};
use progress::Progress;
use select::{all_names, select, unused_name};
use trial::{Shared, run_trial};

pub use prepare::shell_quote;
pub use stats::RunStats;

/// Where runs write by default (one folder per run below it).
pub const DEFAULT_WORK_DIR: &str = "/tmp/theory-conform";
/// The goldens' folder by default (relative to the current directory).
pub const DEFAULT_GOLDEN_DIR: &str = "golden";

/// The known lists of a run and the pseudo-trials they add.
#[derive(Default)]
struct Known {
    failures: Option<KnownList>,
    flaky: Option<KnownList>,
    problems: Vec<Problem>,
}

/// What a lane run was asked.
#[derive(Clone, Debug)]
pub struct LaneOptions {
    /// The lane's name.
    pub lane: String,
    /// A registry file replacing the embedded one.
    pub registry: Option<PathBuf>,
    /// A lanes file replacing the embedded one.
    pub lanes: Option<PathBuf>,
    /// Where to write the JUnit report.
    pub junit: Option<PathBuf>,
    /// Where to write the JSON summary.
    pub json: Option<PathBuf>,
    /// Where the Markdown job summary goes, if anywhere (`--summary`).
    pub summary: Option<PathBuf>,
    /// Where the HTML report goes, if anywhere (`--html`).
    pub html: Option<PathBuf>,
    /// The folder to write one certificate per processor in.
    pub certificate: Option<PathBuf>,
    /// The seed; from the OS when absent.
    pub seed: Option<u64>,
    /// The goldens' folder.
    pub golden_dir: PathBuf,
    /// The folder runs write under.
    pub work_dir: PathBuf,
    /// `CI=true`: never write goldens.
    pub ci: bool,
    /// Trials expected to fail (`--known-failures FILE`).
    pub known_failures: Option<PathBuf>,
    /// Trials retried when they fail (`--known-flaky FILE`).
    pub known_flaky: Option<PathBuf>,
    /// One shard of the selected trials (`--partition`).
    pub partition: Option<Partition>,
    /// Run only what failed last time (`--last-failed`).
    pub last_failed: bool,
    /// Where the last run's failures are recorded.
    pub state_dir: PathBuf,
    /// The targets to run on instead of the lane's (`--target`; not for a
    /// lane that certifies).
    pub targets: Vec<TargetKind>,
    /// Whether the live progress line may be drawn (not `--no-progress`;
    /// it is drawn only on a terminal and never with `CI=true`).
    pub progress: bool,
    /// libtest's arguments (filter, `--list`, `--exact`, ...).
    pub args: Arguments,
}

/// Runs a lane; the exit code.
pub fn run(options: LaneOptions) -> Exit {
    let prepared = match prepare(&options) {
        Ok(prepared) => prepared,
        Err(message) => {
            tracing::error!(event = "error.usage", message = %message);
            return Exit::Usage;
        }
    };
    let (lane, source) = (prepared.lane.clone(), prepared.source.clone());
    let planned = match plan(&options, prepared) {
        Ok(planned) => planned,
        Err(exit) => return exit,
    };
    let mount = planned.shared.mount.clone();
    let runtime = planned.runtime;
    let ran = match run_trials(&runtime, planned.shared, planned.trials, &planned.args) {
        Ok(ran) => ran,
        Err(exit) => return exit,
    };
    let exit = settle(&options, &lane, &source, &ran);
    drop(runtime);
    workdir::release(&mount, exit == Exit::Success);
    exit
}

/// A run ready to start: the runtime, the shared state, the selected trials.
struct Planned {
    runtime: Runtime,
    shared: Arc<Shared>,
    trials: Vec<Trial>,
    args: Arguments,
}

/// Selects the trials, answers `--list`, builds the runtime, prints the
/// seed and sweeps; `Err` is the exit code of a run that ends here.
fn plan(options: &LaneOptions, prepared: Prepared) -> Result<Planned, Exit> {
    let mut args = options.args.clone();
    // Unused goldens are known from the plan alone; a partition or
    // `--last-failed` selects among them like any trial.
    let unfiltered = args.filter.is_none() && args.skip.is_empty() && !args.ignored;
    let unused: Vec<String> = if unfiltered {
        prepared
            .plan
            .unused_goldens
            .iter()
            .map(|p| prepared.store.relative(p))
            .collect()
    } else {
        Vec::new()
    };
    let names = all_names(&prepared.plan, &unused, &prepared.known);
    let selected = select(&names, &args, prepared.only.as_ref(), options.partition);
    let json = args.format == Some(libtest_mimic::FormatSetting::Json);
    if args.list {
        let names = names.into_iter().filter(|n| selected.contains(n));
        if json {
            // libtest-mimic lists in plain text whatever the format; with
            // `--format json` every line of stdout is JSON.
            let mut stdout = std::io::stdout().lock();
            for name in names {
                let line = serde_json::json!({"type": "test", "event": "discovered", "name": name});
                let _ = writeln!(stdout, "{line}");
            }
            let _ = stdout.flush();
        } else {
            let trials = names.map(|n| Trial::test(n, || Ok(()))).collect();
            let _ = libtest_mimic::run(&args, trials);
        }
        return Err(Exit::Success);
    }
    if args.test_threads.is_none() {
        let wanted: usize = prepared
            .plan
            .processors
            .values()
            .map(|p| p.entry.max_concurrency)
            .sum();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        args.test_threads = Some(wanted.clamp(1, 16).max(cores));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            tracing::error!(event = "error.runtime", message = %e);
            Exit::Infrastructure
        })?;
    {
        let mut stdout = std::io::stdout().lock();
        if json {
            let line = serde_json::json!({"type": "seed", "seed": prepared.seed.0});
            let _ = writeln!(stdout, "{line}");
        } else {
            let _ = writeln!(stdout, "seed: {}", prepared.seed.0);
        }
        let _ = stdout.flush();
    }
    // The run's folder: what a killed run left goes first, then this one's
    // is claimed, and an interrupt removes it.
    if let Some(work_dir) = Path::new(prepared.mount.as_str()).parent() {
        let removed = workdir::sweep(work_dir);
        if removed > 0 {
            tracing::info!(event = "conform.sweep.folders", removed);
        }
    }
    if let Err(e) = workdir::claim(&prepared.mount) {
        tracing::error!(event = "error.work_dir", folder = %prepared.mount, message = %e);
        return Err(Exit::Usage);
    }
    workdir::clean_up_on_interrupt(&prepared.mount, &prepared.run_id);
    let needs_engine = prepared
        .plan
        .trials
        .iter()
        .any(|t| t.target == TargetKind::Local && t.work.is_ok() && selected.contains(&t.name));
    if needs_engine {
        match runtime.block_on(adapter::sweep(adapter::SWEEP_BUDGET)) {
            Ok(sweep) => tracing::info!(event = "conform.sweep", removed = sweep.removed.len()),
            Err(e) => tracing::warn!(event = "conform.sweep.error", message = %e),
        }
    }
    let progress = if Progress::wanted(options.progress, options.ci) {
        // libtest colours a terminal's lines; stdout is about to be a pipe.
        if args.color.is_none() && std::io::stdout().is_terminal() {
            args.color = Some(libtest_mimic::ColorSetting::Always);
        }
        Progress::start(selected.len())
    } else {
        Progress::off()
    };
    let shared = Arc::new(shared(&runtime, prepared, progress));
    let trials = trials(&shared, &unused, &selected);
    Ok(Planned {
        runtime,
        shared,
        trials,
        args,
    })
}

/// What every trial shares, from what `prepare` found.
fn shared(runtime: &Runtime, prepared: Prepared, progress: Progress) -> Shared {
    let Prepared {
        plan,
        known,
        replay,
        seed,
        mount,
        run_id,
        store,
        secrets,
        ..
    } = prepared;
    let semaphores = plan
        .processors
        .iter()
        .map(|(name, pp)| {
            (
                name.clone(),
                Arc::new(Semaphore::new(pp.entry.max_concurrency)),
            )
        })
        .collect();
    Shared {
        handle: runtime.handle().clone(),
        pool: Pool::new(&plan),
        plan,
        semaphores,
        events: Mutex::new(Vec::new()),
        store,
        seed,
        mount,
        run_id,
        host_values: crate::plan::host_name().into_iter().collect(),
        // `prepare` looked every declared secret up, which registered it.
        secret_values: crate::redact::registered(),
        secrets,
        known,
        replay,
        progress,
    }
}

/// The selected trials: planned ones, unused goldens, the known lists'
/// problems.
fn trials(shared: &Arc<Shared>, unused: &[String], selected: &BTreeSet<String>) -> Vec<Trial> {
    let mut trials: Vec<Trial> = (0..shared.plan.trials.len())
        .filter(|index| selected.contains(&shared.plan.trials[*index].name))
        .map(|index| {
            let shared = Arc::clone(shared);
            let name = shared.plan.trials[index].name.clone();
            Trial::ignorable_test(name, move || run_trial(&shared, index))
        })
        .collect();
    for processor in shared.plan.evidence.keys() {
        let name = evidence_name(processor);
        if !selected.contains(&name) {
            continue;
        }
        let shared = Arc::clone(shared);
        let processor = processor.clone();
        trials.push(Trial::ignorable_test(name, move || {
            shared.evidence(&processor)
        }));
    }
    for relative in unused {
        let name = unused_name(relative);
        if !selected.contains(&name) {
            continue;
        }
        let shared = Arc::clone(shared);
        let relative = relative.clone();
        trials.push(Trial::ignorable_test(name.clone(), move || {
            shared.unused_golden(&name, &relative)
        }));
    }
    for index in 0..shared.known.problems.len() {
        if !selected.contains(&shared.known.problems[index].name) {
            continue;
        }
        let shared = Arc::clone(shared);
        let name = shared.known.problems[index].name.clone();
        trials.push(Trial::ignorable_test(name, move || {
            shared.known_problem(index)
        }));
    }
    trials
}

/// A run whose trials all finished: its events, seed and plan, and the
/// digest the engine reported for each processor's image.
struct Ran {
    events: Vec<Event>,
    seed: Seed,
    plan: LanePlan,
    engine_digests: BTreeMap<ProcessorRef, String>,
}

/// Runs the trials, then removes every container; `Err` is the exit code
/// of a run that cannot be settled.
fn run_trials(
    runtime: &Runtime,
    shared: Arc<Shared>,
    trials: Vec<Trial>,
    args: &Arguments,
) -> Result<Ran, Exit> {
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(event = "panic", message = %info);
    }));
    let _ = libtest_mimic::run(args, trials);
    std::panic::set_hook(previous_hook);
    let Some(shared) = Arc::into_inner(shared) else {
        tracing::error!(event = "error.runner", message = "a trial outlived the run");
        return Err(Exit::Infrastructure);
    };
    let Shared {
        pool,
        events,
        seed,
        plan,
        mut progress,
        ..
    } = shared;
    progress.end();
    let endpoints = pool.drain();
    let engine_digests = endpoints
        .iter()
        .filter_map(|((processor, _), connected)| {
            let digest = connected.endpoint.as_ref().ok()?.engine_digest.as_ref()?;
            Some((processor.clone(), digest.to_string()))
        })
        .collect();
    // Containers are removed by their guards, which need the runtime.
    let _ = runtime.block_on(async move { tokio::spawn(async move { drop(endpoints) }).await });
    Ok(Ran {
        events: events.into_inner().unwrap_or_else(PoisonError::into_inner),
        seed,
        plan,
        engine_digests,
    })
}

/// Writes the state, the certificates and the reports; the
/// [`RunStats`]' exit code.
fn settle(options: &LaneOptions, lane: &Lane, source: &LaneSource, ran: &Ran) -> Exit {
    let mut stats = RunStats::of(&ran.events);
    let records = report::records(&ran.events);
    let inputs = certificate::Inputs {
        source,
        lane,
        plan: &ran.plan,
        seed: ran.seed.0,
        records: &records,
        engine_digests: &ran.engine_digests,
    };
    let certificates: Vec<(&ProcessorRef, Certificate)> = ran
        .plan
        .processors
        .keys()
        .map(|processor| (processor, Certificate::of(&inputs, processor)))
        .collect();
    if let Some(dir) = &options.certificate {
        for (processor, certificate) in &certificates {
            let path = dir.join(Certificate::file_name(processor));
            if !report::write_file(&path, &certificate.render()) {
                stats.report_unwritten();
            }
        }
    }
    let info = RunInfo {
        lane: options.lane.clone(),
        seed: ran.seed.0,
        source: Some(source.clone()),
        certificates: certificates
            .iter()
            .map(|(_, c)| (c.processor.clone(), c.verdict))
            .collect(),
    };
    let state = LastFailed {
        lane: options.lane.clone(),
        seed: ran.seed.0.to_string(),
        failed: report::records(&ran.events)
            .into_iter()
            .filter(|r| matches!(r.status(), Status::Fail | Status::Error))
            .map(|r| r.name.clone())
            .collect(),
    };
    if let Err(message) = state.write(&options.state_dir) {
        tracing::warn!(event = "conform.state.error", message = %message);
    }
    if let Some(path) = &options.json
        && !report::write_file(path, &report::json::render(&info, &ran.events))
    {
        stats.report_unwritten();
    }
    if options.junit.is_some() || options.summary.is_some() || options.html.is_some() {
        let summary = report::json::Summary::of(&info, &ran.events);
        let to = report::Destinations {
            junit: options.junit.as_deref(),
            markdown: options.summary.as_deref(),
            html: options.html.as_deref(),
        };
        if !report::write_all(&summary, &to) {
            stats.report_unwritten();
        }
    }
    stats.exit()
}
