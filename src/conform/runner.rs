//! The lane runner: loads lanes, suites and registry, plans the trials,
//! runs them through libtest-mimic on one tokio runtime, and writes the
//! reports.
//!
//! Containers are started lazily, once per (processor, target), shared by
//! every trial of that pair, and removed at the end (their guards; the
//! adapter's watchdog on Ctrl-C; `sweep` at start removes what a killed
//! run left). Trials of one processor run at most `max_concurrency` at a
//! time (a semaphore per processor); `--test-threads` caps the rest.
//!
//! **Invariant:** every trial libtest-mimic runs leaves exactly one record
//! in the event stream, and the exit code is decided from those records
//! alone: 1 when any failed, else 3 when any errored, else 0.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use theory_contract::WritePrefix;
use tokio::sync::{OnceCell, Semaphore};

use super::check::{self, Connected, Ctx};
use super::golden::Store;
use super::known::{Date, KnownList, ListKind, Problem};
use super::lanes::Lanes;
use super::partition::Partition;
use super::plan::{LanePlan, PlanInputs, ProcessorPlan, TrialSpec, Work};
use super::report::{self, Disposition, Event, Record, RunInfo, Status};
use super::seed::{Ids, Seed};
use super::state::LastFailed;
use super::suite::{CheckKind, ConfigError, TargetName};
use super::verdict::{Failure, Verdict};
use crate::adapter::{self, AdapterError, HealthBudget};
use crate::exit::Exit;
use crate::plan::Environment;
use crate::registry::{ProcessorRef, Registry};

/// Where runs write by default (one folder per run below it).
pub const DEFAULT_WORK_DIR: &str = "/tmp/theory-conform";
/// The goldens' folder by default (relative to the current directory).
pub const DEFAULT_GOLDEN_DIR: &str = "golden";
/// Time allowed to sweep leftovers at start.
const SWEEP_BUDGET: Duration = Duration::from_secs(15);
/// Slack added to every trial's safety budget.
const TRIAL_SLACK: Duration = Duration::from_secs(30);
/// Attempts of a listed flaky trial that keeps failing (the first and two retries).
const FLAKY_ATTEMPTS: u32 = 3;
/// What replaces the run's folder in every message, so that two runs report
/// the same bytes.
const RUN_FOLDER: &str = "{run}/";

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
    /// libtest's arguments (filter, `--list`, `--exact`, ...).
    pub args: Arguments,
}

/// Runs a lane; the exit code.
pub fn run(options: LaneOptions) -> Exit {
    match prepare(&options) {
        Ok(prepared) => execute(options, prepared),
        Err(message) => {
            tracing::error!(event = "error.usage", message = %message);
            Exit::Usage
        }
    }
}

struct Prepared {
    plan: LanePlan,
    known: Known,
    only: Option<BTreeSet<String>>,
    replay: String,
    seed: Seed,
    mount: WritePrefix,
    run_id: String,
    env: Environment,
    store: Store,
    secrets: BTreeMap<ProcessorRef, Vec<(String, bool)>>,
}

fn config(e: &ConfigError) -> String {
    e.to_string()
}

/// Everything that can fail with exit 2, before any IO on a processor.
fn prepare(options: &LaneOptions) -> Result<Prepared, String> {
    let lanes = match &options.lanes {
        Some(path) => Lanes::load(path),
        None => Lanes::embedded(),
    }
    .map_err(|e| config(&e))?;
    let lane = lanes.get(&options.lane)?;
    let registry = match &options.registry {
        Some(path) => Registry::load(path, lane.tags),
        None => Registry::embedded(lane.tags),
    }
    .map_err(|e| e.to_string())?;
    if lane.require_expected_oci {
        let text = match &options.registry {
            Some(path) => std::fs::read_to_string(path).unwrap_or_default(),
            None => crate::registry::EMBEDDED.to_owned(),
        };
        for (name, entry) in &registry.processors {
            if entry.expected.is_none() {
                let (line, column) = super::suite::locate_from(&text, &format!("{name}:"), 0);
                return Err(format!(
                    "{}:{line}:{column}: {name}: the {} lane requires `expected_oci` (the digest its image must have)",
                    registry.origin, lane.name
                ));
            }
        }
    }
    if options.known_failures.is_some() && !lane.allow_known_failures {
        return Err(format!(
            "the {} lane allows no known failures (allow_known_failures: false in {}): drop --known-failures",
            lane.name, lanes.origin
        ));
    }
    let load = |path: &Option<PathBuf>, kind| {
        path.as_deref()
            .map(|p| KnownList::load(p, kind))
            .transpose()
            .map_err(|e| config(&e))
    };
    let failures = load(&options.known_failures, ListKind::Failures)?;
    let flaky = load(&options.known_flaky, ListKind::Flaky)?;
    let today = match std::env::var("THEORY_TODAY") {
        Ok(text) => Date::parse(&text).map_err(|e| format!("THEORY_TODAY: {e}"))?,
        Err(_) => Date::today(),
    };
    let last = if options.last_failed {
        let last = LastFailed::read(&options.state_dir)?;
        if last.lane != lane.name {
            return Err(format!(
                "--last-failed: the recorded failures are of the {} lane, not {}",
                last.lane, lane.name
            ));
        }
        Some(last)
    } else {
        None
    };
    let seed = match (options.seed, &last) {
        (Some(seed), _) => Seed(seed),
        (None, Some(last)) => Seed(last.seed()?),
        (None, None) => Seed::from_os(),
    };
    let run_id = format!(
        "conform-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let work_dir = if options.work_dir.is_absolute() {
        options.work_dir.clone()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("--work-dir: {e}"))?
            .join(&options.work_dir)
    };
    let mount = WritePrefix::parse(&format!("{}/{run_id}/", work_dir.display()))
        .map_err(|e| format!("--work-dir: {e}"))?;
    let env = Environment::capture();
    let store = Store {
        dir: options.golden_dir.clone(),
        read_only: options.ci,
    };
    let plan = super::plan::plan(&PlanInputs {
        lane,
        lanes: &lanes,
        registry: &registry,
        mount: &mount,
        run_id: &run_id,
        env: &env,
        golden: &store,
    })?;
    let secrets = registry
        .processors
        .iter()
        .map(|(name, entry)| {
            let present = entry
                .secrets
                .iter()
                .map(|secret| {
                    let value = std::env::var(secret).ok().filter(|v| !v.is_empty());
                    if let Some(value) = &value {
                        crate::redact::register(value);
                    }
                    (secret.clone(), value.is_some())
                })
                .collect();
            (name.clone(), present)
        })
        .collect();
    let names: Vec<&str> = plan.trials.iter().map(|t| t.name.as_str()).collect();
    let problems = [&failures, &flaky]
        .into_iter()
        .flatten()
        .flat_map(|list| list.problems(&names, today))
        .collect();
    let replay = replay_base(options, seed)?;
    Ok(Prepared {
        plan,
        known: Known {
            failures,
            flaky,
            problems,
        },
        only: last.map(|l| l.failed),
        replay,
        seed,
        mount,
        run_id,
        env,
        store,
        secrets,
    })
}

/// The shared endpoints of a run.
struct Pool {
    cells: BTreeMap<(ProcessorRef, TargetName), OnceCell<Arc<Connected>>>,
}

impl Pool {
    fn new(plan: &LanePlan) -> Self {
        let mut cells = BTreeMap::new();
        for (name, pp) in &plan.processors {
            for target in pp.targets.keys() {
                cells.insert((name.clone(), *target), OnceCell::new());
            }
        }
        Self { cells }
    }

    async fn get(
        &self,
        processor: &ProcessorRef,
        target: TargetName,
        pp: &ProcessorPlan,
        secrets: &[(String, bool)],
    ) -> Option<Arc<Connected>> {
        let cell = self.cells.get(&(processor.clone(), target))?;
        let connected = cell
            .get_or_init(|| async { Arc::new(connect(processor, target, pp, secrets).await) })
            .await;
        Some(Arc::clone(connected))
    }

    /// Every endpoint resolved so far (dropping them removes the containers).
    fn drain(self) -> Vec<Arc<Connected>> {
        self.cells
            .into_values()
            .filter_map(OnceCell::into_inner)
            .collect()
    }
}

/// Resolves a target and checks its health once; an infrastructure
/// failure becomes the endpoint's error, a failed health check is kept
/// for `contract::health` (the other trials still run).
async fn connect(
    processor: &ProcessorRef,
    target: TargetName,
    pp: &ProcessorPlan,
    secrets: &[(String, bool)],
) -> Connected {
    if let Some((name, _)) = secrets.iter().find(|(_, present)| !present) {
        return Connected {
            endpoint: Err(format!(
                "secret {name} is declared for {processor} but not set in the environment (ERR_MISSING_SECRET)"
            )),
            health: None,
        };
    }
    let Some(spec) = pp.targets.get(&target) else {
        return Connected {
            endpoint: Err(format!("{processor} offers no {target} target")),
            health: None,
        };
    };
    tracing::info!(event = "conform.connect", r#ref = %processor, target = target.as_str());
    let endpoint = match adapter::resolve(spec, crate::orchestrator::RESOLVE_BUDGET).await {
        Ok(endpoint) => endpoint,
        Err(e) => {
            return Connected {
                endpoint: Err(format!(
                    "cannot reach {processor} on the {target} target: {e} ({})",
                    e.code().as_str()
                )),
                health: None,
            };
        }
    };
    let health = adapter::health(&endpoint, &HealthBudget::with_total(pp.entry.health)).await;
    match health {
        // A remote that never answered is not there: nothing can be learned.
        Err(e @ AdapterError::Unreachable { .. }) => Connected {
            endpoint: Err(format!(
                "cannot reach {processor} on the {target} target: {e} ({})",
                e.code().as_str()
            )),
            health: Some(Err(e)),
        },
        other => Connected {
            endpoint: Ok(endpoint),
            health: Some(other),
        },
    }
}

/// What every trial closure shares.
struct Shared {
    handle: tokio::runtime::Handle,
    plan: LanePlan,
    pool: Pool,
    semaphores: BTreeMap<ProcessorRef, Arc<Semaphore>>,
    events: Mutex<Vec<Event>>,
    store: Store,
    seed: Seed,
    mount: WritePrefix,
    run_id: String,
    env: Environment,
    host_values: Vec<String>,
    secrets: BTreeMap<ProcessorRef, Vec<(String, bool)>>,
    known: Known,
    replay: String,
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
        let replay = (replayable && matches!(verdict, Verdict::Fail(_) | Verdict::Error { .. }))
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
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Event::Finished(record));
        outcome
    }
}

/// Every trial name of a run (planned trials, unused goldens, the known
/// lists' problems), in plan order.
fn all_names(plan: &LanePlan, unused: &[String], known: &Known) -> Vec<String> {
    plan.trials
        .iter()
        .map(|t| t.name.clone())
        .chain(unused.iter().map(|u| unused_name(u)))
        .chain(known.problems.iter().map(|p| p.name.clone()))
        .collect()
}

/// The names that run: `--last-failed`'s, then libtest's filters, then the
/// partition. Names outside it are neither run nor listed.
fn select(
    names: &[String],
    args: &Arguments,
    only: Option<&BTreeSet<String>>,
    partition: Option<Partition>,
) -> BTreeSet<String> {
    let filtered: Vec<&str> = names
        .iter()
        .filter(|n| only.is_none_or(|only| only.contains(*n)))
        .filter(|n| !args.is_filtered_out(&Trial::test((*n).clone(), || Ok(()))))
        .map(String::as_str)
        .collect();
    let kept = match partition {
        Some(partition) => partition.select(&filtered),
        None => filtered,
    };
    kept.into_iter().map(str::to_owned).collect()
}

fn execute(options: LaneOptions, prepared: Prepared) -> Exit {
    let Prepared {
        plan,
        known,
        only,
        replay,
        seed,
        mount,
        run_id,
        env,
        store,
        secrets,
    } = prepared;
    let mut args = options.args.clone();
    // Unused goldens are known from the plan alone; a partition or
    // `--last-failed` selects among them like any trial.
    let unfiltered = args.filter.is_none() && args.skip.is_empty() && !args.ignored;
    let unused: Vec<String> = if unfiltered {
        plan.unused_goldens
            .iter()
            .map(|p| store.relative(p))
            .collect()
    } else {
        Vec::new()
    };
    let selected = select(
        &all_names(&plan, &unused, &known),
        &args,
        only.as_ref(),
        options.partition,
    );
    if args.list {
        let trials = all_names(&plan, &unused, &known)
            .into_iter()
            .filter(|n| selected.contains(n))
            .map(|n| Trial::test(n, || Ok(())))
            .collect();
        let _ = libtest_mimic::run(&args, trials);
        return Exit::Success;
    }
    if args.test_threads.is_none() {
        let wanted: usize = plan
            .processors
            .values()
            .map(|p| p.entry.max_concurrency)
            .sum();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        args.test_threads = Some(wanted.clamp(1, 16).max(cores));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(event = "error.runtime", message = %e);
            return Exit::Infrastructure;
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "seed: {}", seed.0);
        let _ = stdout.flush();
    }
    let needs_engine = plan
        .trials
        .iter()
        .any(|t| t.target == TargetName::Local && t.work.is_ok() && selected.contains(&t.name));
    if needs_engine {
        match runtime.block_on(adapter::sweep(SWEEP_BUDGET)) {
            Ok(sweep) => tracing::info!(event = "conform.sweep", removed = sweep.removed.len()),
            Err(e) => tracing::warn!(event = "conform.sweep.error", message = %e),
        }
    }
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(event = "panic", message = %info);
    }));
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
    let shared = Arc::new(Shared {
        handle: runtime.handle().clone(),
        pool: Pool::new(&plan),
        plan,
        semaphores,
        events: Mutex::new(Vec::new()),
        store,
        seed,
        mount: mount.clone(),
        run_id,
        env,
        host_values: host_name().into_iter().collect(),
        secrets,
        known,
        replay,
    });
    let mut trials: Vec<Trial> = (0..shared.plan.trials.len())
        .filter(|index| selected.contains(&shared.plan.trials[*index].name))
        .map(|index| {
            let shared = Arc::clone(&shared);
            let name = shared.plan.trials[index].name.clone();
            Trial::ignorable_test(name, move || run_trial(&shared, index))
        })
        .collect();
    for relative in unused {
        let shared = Arc::clone(&shared);
        let name = unused_name(&relative);
        if !selected.contains(&name) {
            continue;
        }
        trials.push(Trial::ignorable_test(name.clone(), move || {
            let started = Instant::now();
            let verdict = Verdict::Fail(Failure {
                message: format!(
                    "golden {relative} is used by no trial of this lane: delete it, or restore the case that compared with it"
                ),
                diff: None,
                trace: None,
            });
            shared.record(&name, "golden", verdict, Disposition::Plain, started, false)
        }));
    }
    for index in 0..shared.known.problems.len() {
        let problem = &shared.known.problems[index];
        if !selected.contains(&problem.name) {
            continue;
        }
        let shared = Arc::clone(&shared);
        let name = problem.name.clone();
        trials.push(Trial::ignorable_test(name, move || {
            let started = Instant::now();
            let problem = &shared.known.problems[index];
            let verdict = Verdict::Fail(Failure {
                message: problem.message.clone(),
                diff: None,
                trace: None,
            });
            shared.record(
                &problem.name,
                problem.suite,
                verdict,
                Disposition::Plain,
                started,
                false,
            )
        }));
    }
    let _ = libtest_mimic::run(&args, trials);
    std::panic::set_hook(previous_hook);

    let Some(shared) = Arc::into_inner(shared) else {
        tracing::error!(event = "error.runner", message = "a trial outlived the run");
        return Exit::Infrastructure;
    };
    let Shared {
        pool, events, seed, ..
    } = shared;
    let endpoints = pool.drain();
    // Containers are removed by their guards, which need the runtime.
    let _ = runtime.block_on(async move { tokio::spawn(async move { drop(endpoints) }).await });
    let events = events.into_inner().unwrap_or_else(PoisonError::into_inner);
    let info = RunInfo {
        lane: options.lane.clone(),
        seed: seed.0,
    };
    let mut exit = exit_of(&events);
    let state = LastFailed {
        lane: options.lane.clone(),
        seed: seed.0.to_string(),
        failed: report::records(&events)
            .into_iter()
            .filter(|r| matches!(r.status(), Status::Fail | Status::Error))
            .map(|r| r.name.clone())
            .collect(),
    };
    if let Err(message) = state.write(&options.state_dir) {
        tracing::warn!(event = "conform.state.error", message = %message);
    }
    if let Some(path) = &options.junit {
        match report::junit::render(&info, &events) {
            Ok(xml) => exit = worst(exit, write_report(path, xml.as_bytes())),
            Err(e) => {
                tracing::error!(event = "error.report", path = %path.display(), message = %e);
                exit = worst(exit, Exit::Usage);
            }
        }
    }
    if let Some(path) = &options.json {
        exit = worst(
            exit,
            write_report(path, &report::json::render(&info, &events)),
        );
    }
    drop(runtime);
    if exit == Exit::Success {
        let _ = std::fs::remove_dir_all(mount.as_str());
    } else {
        tracing::info!(event = "conform.kept", folder = %mount, message = "the run's prefixes are kept for inspection");
    }
    exit
}

/// The command that replays one trial, up to its name: the lane, the
/// files that shape the plan (absolute), the seed, `--exact`.
fn replay_base(options: &LaneOptions, seed: Seed) -> Result<String, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    let absolute = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        }
    };
    let mut words = vec![
        "theory-conform".to_owned(),
        "--lane".to_owned(),
        options.lane.clone(),
    ];
    let mut path = |flag: &str, p: &Path| {
        words.push(flag.to_owned());
        words.push(absolute(p).display().to_string());
    };
    if let Some(registry) = &options.registry {
        path("--registry", registry);
    }
    if let Some(lanes) = &options.lanes {
        path("--lanes", lanes);
    }
    if options.golden_dir != Path::new(DEFAULT_GOLDEN_DIR) {
        path("--golden-dir", &options.golden_dir);
    }
    if options.work_dir != Path::new(DEFAULT_WORK_DIR) {
        path("--work-dir", &options.work_dir);
    }
    words.push("--seed".to_owned());
    words.push(seed.0.to_string());
    words.push("--exact".to_owned());
    Ok(words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" "))
}

/// A word for a POSIX shell: as is when it is made of safe characters,
/// else in single quotes (a quote inside becomes `'\''`).
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
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
        Verdict::Skip { reason } => Verdict::Skip {
            reason: fix(reason),
        },
        Verdict::Error { message } => Verdict::Error {
            message: fix(message),
        },
        Verdict::Fail(failure) => Verdict::Fail(Failure {
            message: fix(failure.message),
            diff: failure.diff.map(fix),
            trace: failure.trace.map(fix),
        }),
    }
}

fn unused_name(relative: &str) -> String {
    format!("golden::unused::{relative}")
}

/// Runs one planned trial (a listed flaky trial up to [`FLAKY_ATTEMPTS`]
/// times) and records its verdict.
fn run_trial(shared: &Shared, index: usize) -> Result<Completion, Failed> {
    let started = Instant::now();
    let spec = &shared.plan.trials[index];
    let attempts = match &shared.known.flaky {
        Some(list) if list.find(&spec.name).is_some() => FLAKY_ATTEMPTS,
        Some(_) | None => 1,
    };
    let mut failures = Vec::new();
    let mut verdict = attempt(shared, spec, 1);
    for number in 2..=attempts {
        if !matches!(verdict, Verdict::Fail(_) | Verdict::Error { .. }) {
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
            verdict = Verdict::Fail(Failure {
                message: format!(
                    "known failure now passes: {}; remove it from {} (entry `{}` at {})",
                    spec.name,
                    list.origin,
                    entry.trial.as_str(),
                    entry.at
                ),
                diff: None,
                trace: None,
            });
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
        Err(reason) => Verdict::Skip {
            reason: reason.clone(),
        },
        Ok(work) => {
            let run =
                AssertUnwindSafe(|| shared.handle.block_on(trial(shared, spec, work, number)));
            std::panic::catch_unwind(run).unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                Verdict::Error {
                    message: format!("the check panicked (a harness bug): {message}"),
                }
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
        return Verdict::Error {
            message: "the processor was not planned".to_owned(),
        };
    };
    let kind = spec.case.check.kind();
    let _permit = match shared.semaphores.get(&spec.processor) {
        Some(semaphore) if !matches!(kind, CheckKind::ImagePinned) => {
            Arc::clone(semaphore).acquire_owned().await.ok()
        }
        Some(_) | None => None,
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
        secrets,
        env: &shared.env,
        mount: &shared.mount,
        run_id: &shared.run_id,
    };
    let budget = crate::orchestrator::RESOLVE_BUDGET
        + pp.entry.health
        + pp.entry.run_timeout.saturating_mul(work.calls.max(1))
        + TRIAL_SLACK;
    match tokio::time::timeout(budget, check::run(&mut ctx)).await {
        Ok(verdict) => verdict,
        Err(_) => Verdict::Error {
            message: format!(
                "the trial did not finish within its safety budget of {} s (a harness bug: every call has its own budget)",
                budget.as_secs()
            ),
        },
    }
}

/// 1 when any trial failed, else 3 when any errored, else 0.
fn exit_of(events: &[Event]) -> Exit {
    let counts = report::counts(events);
    if counts.failed > 0 {
        Exit::Failure
    } else if counts.errors > 0 {
        Exit::Infrastructure
    } else {
        Exit::Success
    }
}

/// The more serious of two exits (a report that cannot be written is a usage error).
fn worst(a: Exit, b: Exit) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Success => 0,
        Exit::Infrastructure => 1,
        Exit::Usage => 2,
        Exit::Failure => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}

fn write_report(path: &Path, bytes: &[u8]) -> Exit {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(parent);
    }
    match std::fs::write(path, bytes) {
        Ok(()) => Exit::Success,
        Err(e) => {
            tracing::error!(event = "error.report", path = %path.display(), message = %e);
            Exit::Usage
        }
    }
}

fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    Some(name.trim().to_owned()).filter(|n| n.len() >= 3)
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_quote_keeps_safe_words_and_quotes_the_rest() {
        assert_eq!(
            shell_quote("contract::envelope::theory/reference@0.1.0::url::ws"),
            "contract::envelope::theory/reference@0.1.0::url::ws"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(
            shell_quote("known_failures::stale::x::*"),
            "'known_failures::stale::x::*'"
        );
        assert_eq!(shell_quote(""), "''");
    }
}
