//! Certification: what a lane must have seen of each processor before its
//! green means anything, and the certificate a lane run writes for each.
//!
//! - **Evidence.** A lane's `evidence` (`ci/lanes.yaml`) names the fixture
//!   kinds, transports and targets a certification needs. For each
//!   processor, [`missing`] lists what the plan lacks of them: a fixture
//!   kind with no fixture, a transport the entry does not declare, a
//!   target it does not offer, and every case the plan could not place on
//!   a required target and a required or declared transport. The runner turns that list into the
//!   trial `certification::evidence::<processor>`, which fails naming it.
//! - **Certificate.** [`Certificate::of`] states, per processor, what was
//!   certified and how: the image digest as the engine saw it, the lane
//!   and the digests of the files that defined it, the seed, the
//!   harness's version, targets, transports, counts, every skipped trial
//!   with its reason, and the verdict. It is canonical JSON with no clock,
//!   host or run folder in it, so the same inputs give the same bytes.
//!
//! **Invariant:** pure functions of the lane, the plan and the records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lanes::{Evidence, Lane, Lanes};
use super::plan::{LanePlan, fixtures_of, offer};
use super::report::{Counts, Record};
use super::suite::Via;
use crate::registry::ProcessorRef;

/// The suite (JUnit's test suite) of the evidence trials.
pub const SUITE: &str = "certification";
/// What a certificate says it is.
pub const FORMAT: &str = "theory-conform.certificate.v1";
/// How many trial names a missing item lists before `and N more`.
const NAMES_SHOWN: usize = 5;

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The evidence trial of a processor.
pub fn evidence_name(processor: &ProcessorRef) -> String {
    format!("{SUITE}::evidence::{processor}")
}

/// What `evidence` lacks for `processor` in `plan`, one line per item;
/// empty when the certification saw everything it needs.
pub fn missing(evidence: &Evidence, plan: &LanePlan, processor: &ProcessorRef) -> Vec<String> {
    let Some(pp) = plan.processors.get(processor) else {
        return vec![format!("{processor} is not in the plan")];
    };
    let entry = &pp.entry;
    let mut out = Vec::new();
    let kinds_missing: Vec<_> = evidence
        .fixtures
        .iter()
        .copied()
        .filter(|kind| fixtures_of(entry, *kind).is_empty())
        .collect();
    for kind in &kinds_missing {
        out.push(format!(
            "no {kind} fixture (`{kind}/*.json` in the entry's fixtures folder)",
            kind = kind.as_str()
        ));
    }
    let declared = |via: Via| {
        via.transport()
            .is_none_or(|t| entry.transports.contains(&t))
    };
    for via in evidence
        .transports
        .iter()
        .copied()
        .filter(|v| !declared(*v))
    {
        out.push(format!(
            "transport {} is not declared (the entry's transports: {})",
            via.as_str(),
            entry
                .transports
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for target in &evidence.targets {
        if let Err(reason) = offer(entry, *target) {
            out.push(format!("target {}: {reason}", target.as_str()));
        }
    }
    // Every case on every required transport and target, unless an item
    // above already explains why it could not be placed.
    let mut unplaced: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for trial in plan.trials.iter().filter(|t| &t.processor == processor) {
        // A transport is required when the evidence names it or the entry
        // declares it (an optional SSE, once declared, is held to it).
        let required = evidence.targets.contains(&trial.target)
            && (evidence.transports.contains(&trial.via) || declared(trial.via));
        let explained = offer(entry, trial.target).is_err()
            || !declared(trial.via)
            || (!trial.case.fixtures.is_empty()
                && trial
                    .case
                    .fixtures
                    .iter()
                    .all(|k| kinds_missing.contains(k)));
        if let (true, false, Err(reason)) = (required, explained, &trial.work) {
            unplaced
                .entry(reason.as_str())
                .or_default()
                .push(trial.name.as_str());
        }
    }
    for (reason, names) in unplaced {
        let shown: Vec<&str> = names.iter().take(NAMES_SHOWN).copied().collect();
        let more = names.len().saturating_sub(NAMES_SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        out.push(format!(
            "{} case(s) not planned: {reason} ({}{more})",
            names.len(),
            shown.join(", ")
        ));
    }
    out
}

/// One processor's certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// [`FORMAT`].
    pub format: String,
    /// The processor, `ns/name@version`.
    pub processor: String,
    /// Its image, when it has one.
    pub image: Option<Image>,
    /// The lane and the files that defined it.
    pub lane: LaneSource,
    /// The seed (a string: JSON numbers lose integers above 2^53).
    pub seed: String,
    /// `theory-conform <version>`.
    pub harness: String,
    /// The targets it was run on.
    pub targets: Vec<String>,
    /// The transports it was talked to over.
    pub transports: Vec<String>,
    /// Its trials by status.
    pub counts: Counts,
    /// Every skipped trial, with its reason, by name.
    pub skipped: Vec<Skipped>,
    /// Planned trials this run did not select (a filter, a partition,
    /// `--last-failed`): a certificate with any is `incomplete`.
    pub not_run: usize,
    /// `certified`, `not_certified` or `incomplete`.
    pub verdict: CertificateVerdict,
}

/// A certified image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// The registry's reference.
    pub reference: String,
    /// The digest the engine reported for the image it ran (none when no
    /// local trial started it).
    pub engine_digest: Option<String>,
}

/// Where a lane came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaneSource {
    /// The lane's name.
    pub name: String,
    /// The lanes file (or the embedded one).
    pub file: String,
    /// Its SHA-256.
    pub file_digest: String,
    /// The lane's suites and each suite file's SHA-256.
    pub suites: BTreeMap<String, String>,
}

impl LaneSource {
    /// The source of `lane` in `lanes`.
    pub fn of(lane: &Lane, lanes: &Lanes) -> Self {
        Self {
            name: lane.name.clone(),
            file: lanes.origin.clone(),
            file_digest: lanes.digest.clone(),
            suites: lane
                .suites
                .iter()
                .filter_map(|s| Some((s.clone(), lanes.suites.get(s)?.digest.clone())))
                .collect(),
        }
    }
}

/// A skipped trial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skipped {
    /// The trial.
    pub trial: String,
    /// Why it did not apply.
    pub reason: String,
}

/// What a certificate concludes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateVerdict {
    /// Every planned trial ran; none failed or errored.
    Certified,
    /// A trial failed (listed as a known failure or not) or errored.
    NotCertified,
    /// Nothing failed, but not every planned trial ran.
    Incomplete,
}

impl CertificateVerdict {
    /// `certified`, `not_certified` or `incomplete`, as the JSON spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Certified => "certified",
            Self::NotCertified => "not_certified",
            Self::Incomplete => "incomplete",
        }
    }

    /// The verdict of a processor's trials: `counts` of those that ran,
    /// `not_run` planned ones that did not.
    pub const fn of(counts: &Counts, not_run: usize) -> Self {
        if counts.failed + counts.known_failures + counts.errors > 0 {
            Self::NotCertified
        } else if not_run > 0 {
            Self::Incomplete
        } else {
            Self::Certified
        }
    }
}

/// What [`Certificate::of`] reads.
pub struct Inputs<'a> {
    /// The lane and where it came from.
    pub source: &'a LaneSource,
    /// The lane.
    pub lane: &'a Lane,
    /// The plan.
    pub plan: &'a LanePlan,
    /// The run's seed.
    pub seed: u64,
    /// Every record of the run, sorted by name.
    pub records: &'a [&'a Record],
    /// The digest the engine reported, by processor.
    pub engine_digests: &'a BTreeMap<ProcessorRef, String>,
}

impl Certificate {
    /// The certificate of `processor`.
    pub fn of(inputs: &Inputs<'_>, processor: &ProcessorRef) -> Self {
        let plan = inputs.plan;
        let pp = plan.processors.get(processor);
        let mut own: Vec<&str> = plan
            .trials
            .iter()
            .filter(|t| &t.processor == processor)
            .map(|t| t.name.as_str())
            .collect();
        let evidence = evidence_name(processor);
        if inputs.lane.evidence.is_some() {
            own.push(&evidence);
        }
        let mut counts = Counts::default();
        let mut skipped = Vec::new();
        let mut ran = 0;
        for record in inputs
            .records
            .iter()
            .filter(|r| own.contains(&r.name.as_str()))
        {
            ran += 1;
            counts.add(record.status());
            if let super::verdict::Verdict::Skip { reason } = &record.verdict {
                skipped.push(Skipped {
                    trial: record.name.clone(),
                    reason: super::report::clean(reason),
                });
            }
        }
        let not_run = own.len().saturating_sub(ran);
        let verdict = CertificateVerdict::of(&counts, not_run);
        let transports = inputs
            .lane
            .transports
            .iter()
            .filter(|v| {
                v.transport()
                    .is_some_and(|t| pp.is_some_and(|pp| pp.entry.transports.contains(&t)))
            })
            .map(|v| v.as_str().to_owned())
            .collect();
        Self {
            format: FORMAT.to_owned(),
            processor: processor.to_string(),
            image: pp
                .and_then(|pp| pp.entry.image.as_ref())
                .map(|image| Image {
                    reference: image.to_string(),
                    engine_digest: inputs.engine_digests.get(processor).cloned(),
                }),
            lane: inputs.source.clone(),
            seed: inputs.seed.to_string(),
            harness: format!("theory-conform {}", env!("CARGO_PKG_VERSION")),
            targets: pp
                .map(|pp| pp.targets.keys().map(|t| t.as_str().to_owned()).collect())
                .unwrap_or_default(),
            transports,
            counts,
            skipped,
            not_run,
            verdict,
        }
    }

    /// Its canonical JSON bytes.
    pub fn render(&self) -> Vec<u8> {
        theory_contract::canon::to_canonical_serde(self)
            .unwrap_or_else(|_| serde_json::to_vec(self).unwrap_or_default())
    }

    /// The file name it is written under in `--certificate DIR`.
    pub fn file_name(processor: &ProcessorRef) -> String {
        format!("{}.json", processor.slug())
    }
}
