//! `theory-conform selftest`: the fault matrix, the harness judging itself.
//!
//! For every fault of the reference processor's catalogue (`--list-faults`)
//! the processor is started natively on loopback with `THEORY_FAULT`, a lane
//! is run against it (url target; no `image`, so local trials skip with their
//! reason) as a subprocess of this executable, and the lane's JSON summary is
//! compared with the catalogue: (a) at least one trial fails, (b) the failing
//! cases (`suite::case`) are exactly the fault's `caught_by`, (c) when the
//! catalogue names a rule, a failing trial's message names it. One more run
//! with no fault must pass every trial that runs. docs/selftest.md explains
//! sensitivity and specificity and how to add a fault.
//!
//! The steps are plain functions on plain data: [`catalogue`] reads the
//! table, `run_one` produces a [`Row`], [`judge`] the columns, [`render`]
//! the one text table; [`run`] wires them with bounded parallelism.
//!
//! **Invariant:** every processor and lane it starts is killed on every path
//! (a guard owns each child), every wait is bounded, and it never writes
//! outside its own temporary folder (the lane runs with `CI=true`, so no
//! golden is written).

mod lane;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::environment::Environment;
use crate::exit::Exit;
use crate::registry::{ProcessorRef, Registry, TagPolicy};
use lane::run_one;

pub use render::render;

/// Faults run at the same time (each is one processor and one lane).
pub const PARALLELISM: usize = 2;
/// The longest one fault's lane may take before it is killed.
pub const LANE_BUDGET: Duration = Duration::from_secs(120);
/// How long a processor may take to print its `listening` line.
const LISTEN_BUDGET: Duration = Duration::from_secs(10);
/// The health budget written into the generated registry: small, so that
/// a health fault costs seconds, and still below `health-slow`'s 30 s.
pub const HEALTH_BUDGET: &str = "3s";
/// The run budget written into the generated registry (`run-hang` waits it out).
pub const RUN_BUDGET: &str = "2s";
/// The processor's binary name, looked up beside this executable.
const PROCESSOR_BINARY: &str = "theory-reference-processor";
/// The seed of every lane run, so that a row replays.
pub const SEED: u64 = 1;
/// The secret the generated registry declares, set for the processor and
/// the lane: `secret-echoed` must be caught leaking its value.
pub const CANARY_NAME: &str = "THEORY_SELFTEST_TOKEN";
/// Its value: a canary, not a credential.
pub const CANARY_VALUE: &str = "selftest-canary-3f9a1c";

/// What `theory-conform selftest` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// The reference processor binary; `None`: `THEORY_REFERENCE_PROCESSOR`,
    /// else `theory-reference-processor` beside this executable.
    pub processor: Option<PathBuf>,
    /// The lane to run (default `staging`).
    pub lane: String,
    /// Only these faults (default: the whole catalogue).
    pub faults: Vec<String>,
    /// Write the matrix as JSON here.
    pub json: Option<PathBuf>,
}

/// One catalogue row, as the processor's `--list-faults` prints it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Catalogued {
    /// `THEORY_FAULT`'s value.
    pub slug: String,
    /// The CONTRACT.md section it breaks.
    pub section: String,
    /// What the processor does wrong.
    pub breaks: String,
    /// The cases (`suite::case`) that must fail, and no others.
    pub caught_by: BTreeSet<String>,
    /// The rule id a failing message must name, when one decides it.
    pub rule: Option<String>,
    /// Where it shows: `url` (the native process), or `local` (only in a
    /// container, the process being its PID 1: its row runs the image).
    #[serde(default = "url_target")]
    pub target: String,
}

fn url_target() -> String {
    "url".to_owned()
}

/// What one lane run against one processor gave.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The lane ran and wrote its summary.
    Ran {
        /// Trials that ran (pass, fail or error; not skipped).
        ran: usize,
        /// Failing cases, `suite::case`.
        failing: BTreeSet<String>,
        /// Trials with an infrastructure error, by full name.
        errored: BTreeSet<String>,
        /// The failing trials' messages, by full name (first line each).
        messages: BTreeMap<String, String>,
    },
    /// The run could not be made: processor or lane did not start, time
    /// ran out, no summary. The text says which.
    Broken {
        /// Why.
        reason: String,
    },
}

/// One line of the matrix: the unfaulted baseline (`fault: None`) or one fault.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The catalogue row, or `None` for the baseline.
    pub fault: Option<Catalogued>,
    /// What happened.
    pub outcome: Outcome,
    /// How long it took, in whole milliseconds.
    pub duration_ms: u64,
}

/// The three columns of a fault row, or the baseline's one.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Judgement {
    /// (a) at least one trial failed (baseline: nothing failed or errored).
    pub caught: bool,
    /// (b) the failing cases are exactly `caught_by`, and nothing errored.
    pub exact: bool,
    /// (c) a failing message names the rule; `None` when no rule is named.
    pub rule_named: Option<bool>,
}

impl Judgement {
    /// Whether every column holds.
    pub fn holds(self) -> bool {
        self.caught && self.exact && self.rule_named.unwrap_or(true)
    }
}

/// Judges one row.
pub fn judge(row: &Row) -> Judgement {
    let Outcome::Ran {
        ran,
        failing,
        errored,
        messages,
    } = &row.outcome
    else {
        return Judgement {
            caught: false,
            exact: false,
            rule_named: row
                .fault
                .as_ref()
                .and_then(|f| f.rule.as_ref())
                .map(|_| false),
        };
    };
    match &row.fault {
        None => {
            let clean = *ran > 0 && failing.is_empty() && errored.is_empty();
            Judgement {
                caught: clean,
                exact: clean,
                rule_named: None,
            }
        }
        Some(fault) => Judgement {
            caught: !failing.is_empty(),
            exact: *failing == fault.caught_by && errored.is_empty(),
            rule_named: fault
                .rule
                .as_ref()
                .map(|rule| messages.values().any(|m| m.contains(rule.as_str()))),
        },
    }
}

/// The whole matrix: the baseline first, then the faults sorted by slug.
#[derive(Clone, Debug, Serialize)]
pub struct Matrix {
    /// The lane every row ran.
    pub lane: String,
    /// The rows.
    pub rows: Vec<Row>,
}

impl Matrix {
    /// (fault rows whose columns all hold, fault rows).
    pub fn sensitivity(&self) -> (usize, usize) {
        let faults = self.rows.iter().filter(|r| r.fault.is_some());
        let total = faults.clone().count();
        (faults.filter(|r| judge(r).holds()).count(), total)
    }

    /// Whether the baseline ran and passed every trial that ran.
    pub fn specificity(&self) -> bool {
        self.rows
            .iter()
            .filter(|r| r.fault.is_none())
            .all(|r| judge(r).holds())
            && self.rows.iter().any(|r| r.fault.is_none())
    }

    /// 0 when sensitivity and specificity are both 100%; 3 when a run
    /// could not be made and nothing else is wrong; 1 otherwise.
    pub fn exit(&self) -> Exit {
        let (held, total) = self.sensitivity();
        if held == total && self.specificity() {
            return Exit::Success;
        }
        let wrong = self
            .rows
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Ran { .. }) && !judge(r).holds());
        if wrong {
            Exit::Failure
        } else {
            Exit::Infrastructure
        }
    }
}

/// Why the selftest could not start at all (usage or infrastructure).
#[derive(Debug, thiserror::Error)]
pub enum SelftestError {
    /// No processor binary was found.
    #[error(
        "no reference processor: give --processor, set THEORY_REFERENCE_PROCESSOR, or build it beside {0} (cargo build -p theory-reference-processor)"
    )]
    ProcessorMissing(String),
    /// `--list-faults` failed or printed something else.
    #[error("{path} --list-faults: {reason}")]
    Catalogue {
        /// The binary.
        path: String,
        /// Why.
        reason: String,
    },
    /// A `--fault` is not in the catalogue.
    #[error("unknown fault {0:?} (see theory-reference-processor --list-faults)")]
    UnknownFault(String),
    /// The embedded registry has no entry to copy fixtures from.
    #[error("embedded registry: {0}")]
    Registry(String),
    /// This executable cannot be located.
    #[error("current executable: {0}")]
    CurrentExe(String),
    /// The temporary folder or a report could not be written.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

impl SelftestError {
    /// The exit code it ends the command with.
    pub fn exit(&self) -> Exit {
        match self {
            Self::UnknownFault(_) => Exit::Usage,
            Self::ProcessorMissing(_)
            | Self::Catalogue { .. }
            | Self::Registry(_)
            | Self::CurrentExe(_)
            | Self::Io { .. } => Exit::Infrastructure,
        }
    }
}

/// Runs the selftest and prints the matrix on stdout.
pub fn run(options: &Options) -> Exit {
    match matrix(options) {
        Ok(matrix) => {
            let text = render(&matrix);
            let written = options.json.as_ref().map(|path| {
                serde_json::to_vec_pretty(&matrix)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| std::fs::write(path, bytes).map_err(|e| e.to_string()))
                    .map_err(|reason| SelftestError::Io {
                        path: path.display().to_string(),
                        reason,
                    })
            });
            print!("{text}");
            if let Some(Err(e)) = written {
                tracing::error!(event = "error.selftest", message = %e);
                return e.exit();
            }
            matrix.exit()
        }
        Err(e) => {
            tracing::error!(event = "error.selftest", message = %e);
            e.exit()
        }
    }
}

/// Everything the runs share.
pub(super) struct Setup {
    pub(super) processor: PathBuf,
    pub(super) exe: PathBuf,
    pub(super) lane: String,
    pub(super) name: ProcessorRef,
    pub(super) expected_oci: String,
    pub(super) digest: String,
    pub(super) env: BTreeMap<String, String>,
    pub(super) image: Option<String>,
    pub(super) transports: Vec<String>,
    pub(super) fixtures: PathBuf,
    pub(super) golden: PathBuf,
    pub(super) root: PathBuf,
}

/// Builds the matrix: the baseline and every selected fault.
pub fn matrix(options: &Options) -> Result<Matrix, SelftestError> {
    let exe = std::env::current_exe().map_err(|e| SelftestError::CurrentExe(e.to_string()))?;
    let processor = locate_processor(options.processor.as_deref(), &exe)?;
    let mut faults = catalogue(&processor)?;
    if !options.faults.is_empty() {
        if let Some(unknown) = options
            .faults
            .iter()
            .find(|slug| !faults.iter().any(|f| &f.slug == *slug))
        {
            return Err(SelftestError::UnknownFault(unknown.clone()));
        }
        faults.retain(|f| options.faults.contains(&f.slug));
    }
    let registry = Registry::embedded(TagPolicy::RequireDigest)
        .map_err(|e| SelftestError::Registry(e.to_string()))?;
    let (name, entry) = registry
        .processors
        .iter()
        .next()
        .ok_or_else(|| SelftestError::Registry("no processor".to_owned()))?;
    let expected = entry
        .expected
        .as_ref()
        .or(entry.image.as_ref())
        .ok_or_else(|| SelftestError::Registry(format!("{name}: no expected_oci")))?;
    let digest = expected
        .digest()
        .ok_or_else(|| SelftestError::Registry(format!("{name}: expected_oci has no digest")))?
        .to_string();
    let fixtures = entry
        .fixtures
        .valid
        .first()
        .and_then(|f| f.path.parent())
        .and_then(Path::parent)
        .ok_or_else(|| SelftestError::Registry(format!("{name}: no valid fixture")))?
        .to_path_buf();
    let root = Environment::process()
        .temp_dir()
        .join(format!("theory-selftest-{}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| SelftestError::Io {
        path: root.display().to_string(),
        reason: e.to_string(),
    })?;
    let setup = Setup {
        processor,
        exe,
        lane: options.lane.clone(),
        name: name.clone(),
        expected_oci: expected.to_string(),
        digest,
        env: entry.env.clone(),
        image: entry.image.as_ref().map(ToString::to_string),
        transports: entry
            .transports
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
        fixtures,
        golden: Path::new(env!("CARGO_MANIFEST_DIR")).join("golden"),
        root: root.clone(),
    };
    // The slow rows (a hang waits out the run budget on every trial, a
    // health fault the health budget) start first, so the rest overlap them.
    faults.sort_by_key(|f| !is_slow(f));
    let subjects: Vec<Option<Catalogued>> = std::iter::once(None)
        .chain(faults.into_iter().map(Some))
        .collect();
    let next = AtomicUsize::new(0);
    let rows = Mutex::new(Vec::with_capacity(subjects.len()));
    std::thread::scope(|scope| {
        for _ in 0..PARALLELISM {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(subject) = subjects.get(i) else {
                        break;
                    };
                    let row = run_one(&setup, subject.clone());
                    tracing::info!(
                        event = "selftest.row",
                        fault = subject.as_ref().map_or("(none)", |f| f.slug.as_str()),
                        holds = judge(&row).holds(),
                        duration_ms = row.duration_ms,
                    );
                    if let Ok(mut rows) = rows.lock() {
                        rows.push(row);
                    }
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&root);
    let mut rows = rows
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    rows.sort_by(|a, b| {
        let key = |r: &Row| r.fault.as_ref().map(|f| f.slug.clone());
        key(a).cmp(&key(b))
    });
    Ok(Matrix {
        lane: options.lane.clone(),
        rows,
    })
}

/// Whether a fault waits out a budget (scheduled first).
fn is_slow(fault: &Catalogued) -> bool {
    ["contract::run_budget", "contract::health"]
        .iter()
        .any(|case| fault.caught_by.contains(*case))
}

/// `--processor`, else `THEORY_REFERENCE_PROCESSOR`, else the binary beside `exe`.
fn locate_processor(given: Option<&Path>, exe: &Path) -> Result<PathBuf, SelftestError> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = Environment::process().get("THEORY_REFERENCE_PROCESSOR") {
        return Ok(PathBuf::from(path));
    }
    let beside = exe.with_file_name(PROCESSOR_BINARY);
    if beside.is_file() {
        return Ok(beside);
    }
    Err(SelftestError::ProcessorMissing(exe.display().to_string()))
}

/// The processor's fault catalogue.
pub fn catalogue(processor: &Path) -> Result<Vec<Catalogued>, SelftestError> {
    let error = |reason: String| SelftestError::Catalogue {
        path: processor.display().to_string(),
        reason,
    };
    let output = Command::new(processor)
        .arg("--list-faults")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| error(e.to_string()))?;
    if !output.status.success() {
        return Err(error(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::lane::case_of;
    use super::*;

    fn fault(caught_by: &[&str], rule: Option<&str>) -> Catalogued {
        Catalogued {
            slug: "x".to_owned(),
            section: "§2".to_owned(),
            breaks: "b".to_owned(),
            caught_by: caught_by.iter().map(|s| (*s).to_owned()).collect(),
            rule: rule.map(str::to_owned),
            target: url_target(),
        }
    }

    fn ran(failing: &[(&str, &str)]) -> Outcome {
        Outcome::Ran {
            ran: 10,
            failing: failing.iter().map(|(n, _)| case_of(n)).collect(),
            errored: BTreeSet::new(),
            messages: failing
                .iter()
                .map(|(n, m)| ((*n).to_owned(), (*m).to_owned()))
                .collect(),
        }
    }

    fn check(fault: Option<Catalogued>, outcome: Outcome, expected: (bool, bool, Option<bool>)) {
        let row = Row {
            fault,
            outcome,
            duration_ms: 0,
        };
        let j = judge(&row);
        assert_eq!((j.caught, j.exact, j.rule_named), expected, "{row:?}");
    }

    #[test]
    fn judgement_columns() {
        let env = "contract::envelope::t/p@1.0.0::url::ws";
        check(
            Some(fault(&["contract::envelope"], Some("unknown-field"))),
            ran(&[(env, "unknown-field at /x")]),
            (true, true, Some(true)),
        );
        check(
            Some(fault(&["contract::envelope"], Some("unknown-field"))),
            ran(&[(env, "status")]),
            (true, true, Some(false)),
        );
        check(
            Some(fault(&["contract::envelope"], None)),
            ran(&[]),
            (false, false, None),
        );
        check(
            Some(fault(&["contract::envelope"], None)),
            ran(&[(env, "m"), ("parity::transports::t/p@1.0.0::url::ws", "m")]),
            (true, false, None),
        );
        check(None, ran(&[]), (true, true, None));
        check(None, ran(&[(env, "m")]), (false, false, None));
        check(
            Some(fault(&["contract::envelope"], Some("r"))),
            Outcome::Broken {
                reason: "x".to_owned(),
            },
            (false, false, Some(false)),
        );
    }

    #[test]
    fn a_matrix_passes_only_with_a_clean_baseline_and_every_fault_exact() {
        let env = "contract::envelope::t/p@1.0.0::url::ws";
        let good = Row {
            fault: Some(fault(&["contract::envelope"], None)),
            outcome: ran(&[(env, "m")]),
            duration_ms: 0,
        };
        let baseline = Row {
            fault: None,
            outcome: ran(&[]),
            duration_ms: 0,
        };
        let matrix = Matrix {
            lane: "staging".to_owned(),
            rows: vec![baseline.clone(), good.clone()],
        };
        assert_eq!(matrix.exit(), Exit::Success);
        assert!(render(&matrix).contains("(100%)"));
        let no_baseline = Matrix {
            lane: "staging".to_owned(),
            rows: vec![good],
        };
        assert_eq!(no_baseline.exit(), Exit::Infrastructure);
        let missed = Row {
            fault: Some(fault(&["contract::envelope"], None)),
            outcome: ran(&[]),
            duration_ms: 0,
        };
        let matrix = Matrix {
            lane: "staging".to_owned(),
            rows: vec![baseline, missed],
        };
        assert_eq!(matrix.exit(), Exit::Failure);
        assert!(render(&matrix).contains("not failing, catalogued: contract::envelope"));
    }
}
