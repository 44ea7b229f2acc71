//! Everything that can fail with exit 2, before any IO on a processor:
//! lanes, registry, known lists, `--last-failed`, the seed, the run folder,
//! the plan, the declared secrets, the replay command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use theory_contract::WritePrefix;

use super::super::certificate::LaneSource;
use super::super::golden::Store;
use super::super::known::{Date, KnownList, ListKind};
use super::super::lanes::{Lane, Lanes};
use super::super::plan::{LanePlan, PlanInputs};
use super::super::seed::Seed;
use super::super::state::LastFailed;
use super::super::suite::ConfigError;
use super::{DEFAULT_GOLDEN_DIR, DEFAULT_WORK_DIR, Known, LaneOptions};
use crate::plan::Environment;
use crate::registry::{ProcessorRef, Registry};
use crate::vocab::TargetKind;

/// What `prepare` found: everything a run needs before any IO on a processor.
pub(super) struct Prepared {
    pub(super) plan: LanePlan,
    pub(super) known: Known,
    pub(super) only: Option<BTreeSet<String>>,
    pub(super) replay: String,
    pub(super) seed: Seed,
    pub(super) mount: WritePrefix,
    pub(super) run_id: String,
    pub(super) store: Store,
    pub(super) secrets: BTreeMap<ProcessorRef, Vec<(String, bool)>>,
    pub(super) lane: Lane,
    pub(super) source: LaneSource,
}

fn config(e: &ConfigError) -> String {
    e.to_string()
}

/// Everything that can fail with exit 2, before any IO on a processor.
pub(super) fn prepare(options: &LaneOptions) -> Result<Prepared, String> {
    check_arguments(&options.args)?;
    check_paths(options)?;
    let lanes = match &options.lanes {
        Some(path) => Lanes::load(path),
        None => Lanes::embedded(),
    }
    .map_err(|e| config(&e))?;
    let lane = &on_targets(lanes.get(&options.lane)?, &options.targets)?;
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
                let (line, column) =
                    super::super::suite::locate_from(&text, &format!("{name}:"), 0);
                return Err(format!(
                    "{}:{line}:{column}: {name}: the {} lane requires `expected_oci` (the digest its image must have)",
                    registry.origin, lane.name
                ));
            }
        }
    }
    for (flag, given) in [
        ("--known-failures", options.known_failures.is_some()),
        ("--known-flaky", options.known_flaky.is_some()),
    ] {
        if given && !lane.allow_known_failures {
            return Err(format!(
                "the {} lane allows no known failures or flaky retries (allow_known_failures: false in {}): drop {flag}",
                lane.name, lanes.origin
            ));
        }
    }
    if options.lanes.is_some() && lane.name == STRICT_LANE {
        check_not_weaker(lane, &lanes)?;
    }
    let load = |path: &Option<PathBuf>, kind| {
        path.as_deref()
            .map(|p| KnownList::load(p, kind))
            .transpose()
            .map_err(|e| config(&e))
    };
    let failures = load(&options.known_failures, ListKind::Failures)?;
    let flaky = load(&options.known_flaky, ListKind::Flaky)?;
    let env = Environment::capture();
    let today = match env.get("THEORY_TODAY") {
        Some(text) => Date::parse(text).map_err(|e| format!("THEORY_TODAY: {e}"))?,
        None => Date::today(),
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
    let run_id = super::workdir::run_id();
    let work_dir = if options.work_dir.is_absolute() {
        options.work_dir.clone()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("--work-dir: {e}"))?
            .join(&options.work_dir)
    };
    let mount = WritePrefix::parse(&format!("{}/{run_id}/", work_dir.display()))
        .map_err(|e| format!("--work-dir: {e}"))?;
    let store = Store {
        dir: options.golden_dir.clone(),
        read_only: options.ci,
    };
    let plan = super::super::plan::plan(&PlanInputs {
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
                .map(|secret| (secret.clone(), env.secret(secret).is_some()))
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
        store,
        secrets,
        source: LaneSource::of(lane, &lanes),
        lane: lane.clone(),
    })
}

/// `lane` run on `targets` instead of its own (`--target`): a lane that
/// certifies (it has `evidence`) keeps its targets, since what it certifies
/// is what they prove.
fn on_targets(lane: &Lane, targets: &[TargetKind]) -> Result<Lane, String> {
    if targets.is_empty() {
        return Ok(lane.clone());
    }
    if lane.evidence.is_some() {
        let own: Vec<&str> = lane.targets.iter().map(|t| t.as_str()).collect();
        return Err(format!(
            "--target: the {} lane certifies on its own targets ({}); drop --target",
            lane.name,
            own.join(", ")
        ));
    }
    let mut chosen = Vec::new();
    for target in targets {
        if !chosen.contains(target) {
            chosen.push(*target);
        }
    }
    Ok(Lane {
        targets: chosen,
        ..lane.clone()
    })
}

/// The lane a certification is read from: a `--lanes` file may redefine
/// it, but not weaker than the embedded one.
const STRICT_LANE: &str = "main";

/// A `--lanes` file's `main` runs at least what the embedded `main` runs,
/// with the same suite files, and relaxes none of its rules.
fn check_not_weaker(lane: &Lane, lanes: &Lanes) -> Result<(), String> {
    let embedded = Lanes::embedded().map_err(|e| config(&e))?;
    let reference = embedded.get(STRICT_LANE)?;
    let mut weaker = lane.weakenings(reference);
    for suite in &reference.suites {
        let cases = |l: &Lanes| l.suites.get(suite).map(|s| s.cases.clone());
        if lane.suites.contains(suite) && cases(lanes) != cases(&embedded) {
            weaker.push(format!("suite {suite} differs from the embedded one"));
        }
    }
    if weaker.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "--lanes {}: the {STRICT_LANE} lane may not be weaker than the embedded one: {}",
            lanes.origin,
            weaker.join("; ")
        ))
    }
}

/// libtest's arguments that make no sense for a lane.
fn check_arguments(args: &libtest_mimic::Arguments) -> Result<(), String> {
    if args.test_threads == Some(0) {
        return Err("--test-threads 0: give at least 1".to_owned());
    }
    if args.bench {
        return Err("--bench: a lane has trials, not benchmarks; drop --bench".to_owned());
    }
    Ok(())
}

/// Every path the run will write, checked before anything runs: the
/// reports' folders, the state, work and goldens' folders.
fn check_paths(options: &LaneOptions) -> Result<(), String> {
    use crate::outputs;
    for (flag, path) in [
        ("--junit", &options.junit),
        ("--json", &options.json),
        ("--summary", &options.summary),
        ("--html", &options.html),
    ] {
        if let Some(path) = path {
            outputs::check_report_file(path).map_err(|m| format!("{flag}: {m}"))?;
        }
    }
    if let Some(dir) = &options.certificate {
        outputs::check_folder_to_write(dir).map_err(|m| format!("--certificate: {m}"))?;
    }
    outputs::check_folder_to_write(&options.state_dir).map_err(|m| format!("--state-dir: {m}"))?;
    outputs::check_folder_to_write(&options.work_dir).map_err(|m| format!("--work-dir: {m}"))?;
    outputs::check_existing_or_child(&options.golden_dir).map_err(|m| format!("--golden-dir: {m}"))
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
    for target in &options.targets {
        words.push("--target".to_owned());
        words.push(target.as_str().to_owned());
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
