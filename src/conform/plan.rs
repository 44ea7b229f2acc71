//! Suites x registry x lane -> trials.
//!
//! Every trial is named `suite::case::processor::target::transport` (the
//! transport is `none` for a case that is not about one). A trial that
//! cannot apply — the processor offers no such target, has no fixture of
//! the kind the case needs, or parity has nothing to compare with — is
//! still planned, with the reason it is skipped: nothing is dropped
//! silently.
//!
//! **Invariant:** no network and no container: planning reads the
//! registry's fixture files and nothing else, so `--list` is free.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use theory_contract::WritePrefix;

use super::golden::Store;
use super::lanes::{Lane, Lanes};
use super::suite::{Case, Check, FixtureKind, Via};
use super::trial_id::TrialId;
use crate::adapter::Target;
use crate::artifacts::{self, Source};
use crate::plan::{Environment, TargetInputs, build_target};
use crate::registry::{Entry, Fixture, ProcessorRef, Registry};
use crate::vocab::ArtifactSource;
use crate::vocab::TargetKind;

/// One input document of a processor.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// Its kind.
    pub kind: FixtureKind,
    /// Its file stem, e.g. `basic`.
    pub name: String,
    /// The inputs, as JSON.
    pub value: serde_json::Value,
}

/// A planned trial.
#[derive(Clone, Debug)]
pub struct TrialSpec {
    /// `suite::case::processor::target::transport`.
    pub name: String,
    /// The suite's name.
    pub suite: String,
    /// The suite's file, for golden headers.
    pub source: String,
    /// The case.
    pub case: Arc<Case>,
    /// The processor.
    pub processor: ProcessorRef,
    /// The target.
    pub target: TargetKind,
    /// The transport (or `none`).
    pub via: Via,
    /// What to run, or why it is skipped.
    pub work: Result<Work, String>,
}

impl TrialSpec {
    /// Its identity (of which [`TrialSpec::name`] is the text).
    pub fn id(&self) -> TrialId {
        TrialId {
            suite: self.suite.clone(),
            case: self.case.name.clone(),
            processor: self.processor.clone(),
            target: self.target,
            via: self.via,
        }
    }

    /// `suite::case`.
    pub fn case_id(&self) -> String {
        self.id().case_id()
    }
}

/// What an applicable trial runs.
#[derive(Clone, Debug, Default)]
pub struct Work {
    /// The fixtures it runs, in order.
    /// Shared with every trial of the processor: never copied per trial.
    pub inputs: Vec<Arc<Input>>,
    /// The goldens it compares with, by item key.
    pub goldens: BTreeMap<String, PathBuf>,
    /// The transport compared with (parity, negative parity).
    pub peer_via: Option<Via>,
    /// The target compared with (parity across targets).
    pub peer_target: Option<TargetKind>,
    /// How many calls it makes at most (for its safety budget).
    pub calls: u32,
}

/// A processor as the lane sees it.
#[derive(Clone, Debug)]
pub struct ProcessorPlan {
    /// Its registry entry.
    pub entry: Entry,
    /// Its file-system slug (golden folder).
    pub slug: String,
    /// The targets it offers in this lane.
    pub targets: BTreeMap<TargetKind, Target>,
    /// Its store, opened once when a target of the lane reads its
    /// artifacts from storage; `Err`: why it could not be opened.
    pub store: Option<Result<Arc<artifacts::Store>, String>>,
}

impl ProcessorPlan {
    /// Where `target`'s artifacts are read from, ready to read; `Err`: the
    /// entry's store could not be opened.
    pub fn source(&self, target: TargetKind) -> Result<Source, String> {
        match self.entry.artifacts(target) {
            ArtifactSource::Shared => Ok(Source::Shared),
            ArtifactSource::Nowhere => Ok(Source::Nowhere),
            ArtifactSource::Storage => match &self.store {
                Some(Ok(store)) => Ok(Source::Storage(Arc::clone(store))),
                Some(Err(message)) => Err(message.clone()),
                None => Err("the entry's store was not opened".to_owned()),
            },
        }
    }
}

/// The whole lane, planned.
#[derive(Clone, Debug)]
pub struct LanePlan {
    /// The trials, in suite, case, processor, target, transport order.
    pub trials: Vec<TrialSpec>,
    /// The processors by name.
    pub processors: BTreeMap<ProcessorRef, ProcessorPlan>,
    /// Goldens of the lane's processors that no applicable trial uses.
    pub unused_goldens: Vec<PathBuf>,
    /// What each processor's certification lacks (every processor, when
    /// the lane asks for evidence; none when it does not).
    pub evidence: BTreeMap<ProcessorRef, Vec<String>>,
}

/// What [`plan`] needs.
pub struct PlanInputs<'a> {
    /// The lane.
    pub lane: &'a Lane,
    /// Its file (with the suites).
    pub lanes: &'a Lanes,
    /// The processors.
    pub registry: &'a Registry,
    /// The folder above every trial's prefix (bind-mounted into containers).
    pub mount: &'a WritePrefix,
    /// Labels this run's containers.
    pub run_id: &'a str,
    /// The environment, read once.
    pub env: &'a Environment,
    /// The goldens.
    pub golden: &'a Store,
}

/// The golden key of one item: `<suite>.<case>__<fixture>[.<label>]`, the
/// label only when the case sends more than one request.
pub fn golden_key(suite: &str, case: &str, fixture: Option<&str>, label: Option<&str>) -> String {
    let item = match (fixture, label) {
        (Some(f), Some(l)) => format!("{f}.{l}"),
        (Some(f), None) => f.to_owned(),
        (None, Some(l)) => l.to_owned(),
        (None, None) => "default".to_owned(),
    };
    format!("{suite}.{case}__{item}")
}

/// The labels of a case's requests that name a golden item (none when it
/// sends at most one).
pub fn item_labels(case: &Case) -> Vec<Option<String>> {
    let labels: Vec<String> = match &case.check {
        Check::HttpStatus(p) => p.sends.iter().map(|s| s.label.clone()).collect(),
        Check::WsClose(p) => p.sends.iter().map(|s| s.label.clone()).collect(),
        Check::Envelope(_)
        | Check::Artifacts
        | Check::WsSequence
        | Check::WsSubprotocol
        | Check::SseSequence
        | Check::Health
        | Check::RunBudget
        | Check::ParityTransports
        | Check::ParityTargets
        | Check::NegativeEndpoint(_)
        | Check::NegativeImage
        | Check::Determinism(_)
        | Check::Digest
        | Check::ContainerWrites => Vec::new(),
    };
    if labels.len() <= 1 {
        vec![None]
    } else {
        labels.into_iter().map(Some).collect()
    }
}

/// Plans the lane; `Err` is a configuration error (a fixture that is not
/// JSON, an entry that cannot be made a target).
pub fn plan(inputs: &PlanInputs<'_>) -> Result<LanePlan, String> {
    let lane = inputs.lane;
    let mut processors = BTreeMap::new();
    let mut fixtures: BTreeMap<ProcessorRef, Vec<Arc<Input>>> = BTreeMap::new();
    for (name, entry) in &inputs.registry.processors {
        let mut targets = BTreeMap::new();
        for &target in &lane.targets {
            if offer(entry, target).is_ok() {
                let built = build_target(&TargetInputs {
                    kind: target,
                    processor: name,
                    entry: Some(entry),
                    url: None,
                    ca_file: None,
                    mount: inputs.mount.clone(),
                    run_id: inputs.run_id.to_owned(),
                    env: inputs.env,
                })
                .map_err(|m| format!("{}: {name}: {m}", inputs.registry.origin))?;
                targets.insert(target, built);
            }
        }
        fixtures.insert(name.clone(), load_inputs(entry)?);
        let reads_storage = targets
            .keys()
            .any(|&t| entry.artifacts(t) == ArtifactSource::Storage);
        let store = entry
            .storage
            .as_ref()
            .filter(|_| reads_storage)
            .map(|config| artifacts::Store::open(config, inputs.env).map(Arc::new));
        processors.insert(
            name.clone(),
            ProcessorPlan {
                entry: entry.clone(),
                slug: name.slug(),
                targets,
                store,
            },
        );
    }
    let mut trials = Vec::new();
    for suite_name in &lane.suites {
        let Some(suite) = inputs.lanes.suites.get(suite_name) else {
            return Err(format!(
                "{}: suite {suite_name} did not load",
                inputs.lanes.origin
            ));
        };
        for case in &suite.cases {
            let case = Arc::new(case.clone());
            let targets: Vec<TargetKind> = lane
                .targets
                .iter()
                .copied()
                .filter(|t| case.targets.contains(t))
                .collect();
            let vias: Vec<Via> = if case.vias == [Via::None] {
                vec![Via::None]
            } else {
                lane.transports
                    .iter()
                    .copied()
                    .filter(|v| case.vias.contains(v))
                    .collect()
            };
            for (processor, pp) in &processors {
                let own = fixtures
                    .get(processor)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for &target in &targets {
                    for &via in &vias {
                        let name = TrialId {
                            suite: suite.name.clone(),
                            case: case.name.clone(),
                            processor: processor.clone(),
                            target,
                            via,
                        }
                        .to_string();
                        let work = work(
                            &case,
                            &suite.name,
                            inputs.golden,
                            pp,
                            own,
                            target,
                            via,
                            &targets,
                            &vias,
                        );
                        trials.push(TrialSpec {
                            name,
                            suite: suite.name.clone(),
                            source: suite.origin.clone(),
                            case: Arc::clone(&case),
                            processor: processor.clone(),
                            target,
                            via,
                            work,
                        });
                    }
                }
            }
        }
    }
    let used: BTreeSet<&PathBuf> = trials
        .iter()
        .filter_map(|t| t.work.as_ref().ok())
        .flat_map(|w| w.goldens.values())
        .collect();
    let slugs: Vec<String> = processors.values().map(|p| p.slug.clone()).collect();
    let goldens = inputs.golden.goldens(&slugs);
    // A golden that is not a snapshot is a configuration error now, not a
    // trial that errors later.
    for golden in &goldens {
        super::golden::read_snapshot(golden)?;
    }
    let unused_goldens = goldens.into_iter().filter(|g| !used.contains(g)).collect();
    let mut plan = LanePlan {
        trials,
        processors,
        unused_goldens,
        evidence: BTreeMap::new(),
    };
    if let Some(evidence) = &lane.evidence {
        plan.evidence = plan
            .processors
            .keys()
            .map(|name| {
                (
                    name.clone(),
                    super::certificate::missing(evidence, &plan, name),
                )
            })
            .collect();
    }
    Ok(plan)
}

/// Whether the entry offers a target; the skip reason when not.
pub fn offer(entry: &Entry, target: TargetKind) -> Result<(), String> {
    let offered = match target {
        TargetKind::Local => entry.image.is_some(),
        TargetKind::Url => entry.url.is_some(),
        TargetKind::Modal => entry.modal.is_some(),
    };
    if offered {
        Ok(())
    } else {
        Err(match target {
            TargetKind::Local => "no image in the registry entry".to_owned(),
            TargetKind::Url => "no url in the registry entry".to_owned(),
            TargetKind::Modal => "no modal section in the registry entry".to_owned(),
        })
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one planning step, all of its context"
)]
fn work(
    case: &Case,
    suite: &str,
    store: &Store,
    pp: &ProcessorPlan,
    own: &[Arc<Input>],
    target: TargetKind,
    via: Via,
    targets: &[TargetKind],
    vias: &[Via],
) -> Result<Work, String> {
    offer(&pp.entry, target)?;
    if let Some(transport) = via.transport().filter(|t| !pp.entry.transports.contains(t)) {
        return Err(format!(
            "the registry entry does not declare {transport} (SSE is optional; list it in `transports` to test it)"
        ));
    }
    // Parity and its kin pair transports the processor serves.
    let vias: Vec<Via> = vias
        .iter()
        .copied()
        .filter(|v| {
            v.transport()
                .is_none_or(|t| pp.entry.transports.contains(&t))
        })
        .collect();
    let vias = vias.as_slice();
    let mut inputs: Vec<Arc<Input>> = case
        .fixtures
        .iter()
        .flat_map(|kind| own.iter().filter(move |i| i.kind == *kind))
        .cloned()
        .collect();
    if let Some(max) = case.max_fixtures {
        inputs.truncate(max);
    }
    if !case.fixtures.is_empty() && inputs.is_empty() {
        let kinds: Vec<&str> = case.fixtures.iter().map(|k| k.as_str()).collect();
        return Err(format!(
            "no {} fixture in the registry entry",
            kinds.join(" or ")
        ));
    }
    let next_via = || {
        let at = vias.iter().position(|v| *v == via)?;
        (vias.len() > 1).then(|| vias[(at + 1) % vias.len()])
    };
    let mut work = Work {
        calls: u32::try_from(inputs.len().max(1)).unwrap_or(u32::MAX),
        ..Work::default()
    };
    let labels = item_labels(case);
    work.calls = work
        .calls
        .saturating_mul(u32::try_from(labels.len()).unwrap_or(u32::MAX));
    match &case.check {
        Check::ParityTransports => {
            work.peer_via = Some(next_via().ok_or_else(|| {
                format!("parity across transports needs two; the lane gives only {via}")
            })?);
            work.calls = work.calls.saturating_mul(2);
        }
        Check::ParityTargets => {
            let offered: Vec<TargetKind> = targets
                .iter()
                .copied()
                .filter(|t| pp.targets.contains_key(t))
                .collect();
            let at = offered.iter().position(|t| *t == target).unwrap_or(0);
            if offered.len() < 2 {
                return Err(format!(
                    "parity across targets needs two; {target} is the only one the lane and the registry entry share"
                ));
            }
            work.peer_target = Some(offered[(at + 1) % offered.len()]);
            work.calls = work.calls.saturating_mul(2);
        }
        Check::NegativeEndpoint(_) | Check::NegativeImage | Check::Digest => {
            work.peer_via = next_via();
            work.calls = work.calls.saturating_mul(2);
        }
        Check::Determinism(p) => work.calls = work.calls.saturating_mul(p.runs),
        Check::WsSubprotocol => work.calls = work.calls.saturating_mul(2),
        Check::Envelope(_)
        | Check::Artifacts
        | Check::HttpStatus(_)
        | Check::WsClose(_)
        | Check::WsSequence
        | Check::SseSequence
        | Check::Health
        | Check::RunBudget
        | Check::ContainerWrites => {}
    }
    if case.golden && vias.first() == Some(&via) {
        let fixtures: Vec<Option<&str>> = if inputs.is_empty() {
            vec![None]
        } else {
            inputs.iter().map(|i| Some(i.name.as_str())).collect()
        };
        for fixture in fixtures {
            for label in &labels {
                let key = golden_key(suite, &case.name, fixture, label.as_deref());
                let path = store.path(&pp.slug, &key);
                work.goldens.insert(key, path);
            }
        }
    }
    work.inputs = inputs;
    Ok(work)
}

/// The entry's fixtures of one kind.
pub fn fixtures_of(entry: &Entry, kind: FixtureKind) -> &[Fixture] {
    match kind {
        FixtureKind::Valid => &entry.fixtures.valid,
        FixtureKind::Invalid => &entry.fixtures.invalid,
        FixtureKind::Crash => &entry.fixtures.crash,
    }
}

fn load_inputs(entry: &Entry) -> Result<Vec<Arc<Input>>, String> {
    let mut out = Vec::new();
    for kind in [FixtureKind::Valid, FixtureKind::Invalid, FixtureKind::Crash] {
        for fixture in fixtures_of(entry, kind) {
            let bytes = std::fs::read(&fixture.path)
                .map_err(|e| format!("{}: cannot read: {e}", fixture.path.display()))?;
            theory_contract::canon::parse(&bytes)
                .map_err(|e| format!("{}:{e}", fixture.path.display()))?;
            let value = serde_json::from_slice(&bytes)
                .map_err(|e| format!("{}: {e}", fixture.path.display()))?;
            out.push(Arc::new(Input {
                kind,
                name: fixture.name.clone(),
                value,
            }));
        }
    }
    Ok(out)
}
