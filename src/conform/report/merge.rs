//! `theory-conform report merge`: the shards of a partitioned run
//! (`--partition hash:K/N`, the same lane, seed and files) joined into the
//! reports and certificates the unsharded run writes.
//!
//! Each shard is a folder holding what its run wrote: `summary.json`
//! (`--json`) and, for a lane that writes them, `certificates/`
//! (`--certificate`). The merged summary holds every shard's trials, sorted,
//! with the counts recomputed; each processor's certificate adds the
//! shards' counts and skips, and what none ran stays `not_run`. JUnit,
//! Markdown and HTML are rendered from the merged summary, as a run
//! renders them from its own.
//!
//! **Invariant:** shards that are not of one run (another lane, seed,
//! lanes file, image or harness) or that overlap (a trial in two shards)
//! are refused, naming what differs; nothing is written then.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::super::certificate::{Certificate, CertificateVerdict};
use super::super::runner::RunStats;
use super::json::Summary;
use super::{Counts, Destinations, write_all, write_file};
use crate::exit::Exit;
use crate::registry::ProcessorRef;

/// The file a shard's JSON summary is read from.
pub const SUMMARY_FILE: &str = "summary.json";
/// The folder a shard's certificates are read from.
pub const CERTIFICATES_DIR: &str = "certificates";

/// The arguments of `theory-conform report merge`.
#[derive(Clone, Debug, clap::Args)]
pub struct MergeArgs {
    /// The shards' folders, each holding the `summary.json` (`--json`) and
    /// the `certificates/` (`--certificate`) its run wrote.
    #[arg(required = true, value_name = "SHARD")]
    pub shards: Vec<PathBuf>,
    /// Write the merged JSON summary.
    #[arg(long = "json", value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the merged JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the merged Markdown summary.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Write the merged HTML report.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write one merged certificate per processor into DIR.
    #[arg(long, value_name = "DIR")]
    pub certificate: Option<PathBuf>,
}

/// Merges the shards and writes the reports asked for; the exit code a
/// run of every shard's trials at once would have had (2 when the shards
/// are refused or a report cannot be written).
pub fn command(args: &MergeArgs) -> Exit {
    let merged = match merge(&args.shards) {
        Ok(merged) => merged,
        Err(message) => {
            tracing::error!(event = "error.usage", message = %message);
            return Exit::Usage;
        }
    };
    let mut stats = RunStats {
        counts: merged.summary.counts,
        reports_unwritten: 0,
    };
    if let Some(path) = &args.json {
        let bytes = theory_contract::canon::to_canonical_serde(&merged.summary)
            .unwrap_or_else(|_| serde_json::to_vec(&merged.summary).unwrap_or_default());
        if !write_file(path, &bytes) {
            stats.report_unwritten();
        }
    }
    let to = Destinations {
        junit: args.junit.as_deref(),
        markdown: args.summary.as_deref(),
        html: args.html.as_deref(),
    };
    if !write_all(&merged.summary, &to) {
        stats.report_unwritten();
    }
    if let Some(dir) = &args.certificate {
        for (processor, certificate) in &merged.certificates {
            let path = dir.join(Certificate::file_name(processor));
            if !write_file(&path, &certificate.render()) {
                stats.report_unwritten();
            }
        }
    }
    stats.exit()
}

/// The unsharded run's summary and certificates.
#[derive(Debug)]
pub struct Merged {
    /// The summary.
    pub summary: Summary,
    /// One certificate per processor.
    pub certificates: BTreeMap<ProcessorRef, Certificate>,
}

/// Reads and joins the shards in `folders`; `Err` names the shard and what
/// is wrong with it.
pub fn merge(folders: &[PathBuf]) -> Result<Merged, String> {
    let mut shards = Vec::new();
    for folder in folders {
        let path = folder.join(SUMMARY_FILE);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let summary = Summary::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let certificates = read_certificates(&folder.join(CERTIFICATES_DIR))?;
        shards.push((folder, summary, certificates));
    }
    let Some((first_folder, first, _)) = shards.first() else {
        return Err("give the shards' folders (each holds summary.json)".to_owned());
    };
    let mut trials = BTreeMap::new();
    let mut per_processor: BTreeMap<ProcessorRef, Vec<Certificate>> = BTreeMap::new();
    for (folder, summary, certificates) in &shards {
        let differs = |what: &str| {
            format!(
                "{}: another run's shard than {} (its {what} differs)",
                folder.display(),
                first_folder.display()
            )
        };
        if summary.lane != first.lane {
            return Err(differs("lane"));
        }
        if summary.seed != first.seed {
            return Err(differs("seed"));
        }
        if summary.lane_source != first.lane_source {
            return Err(differs("lanes file or suites"));
        }
        if summary.certificates.keys().ne(first.certificates.keys()) {
            return Err(differs("processors"));
        }
        for name in summary.certificates.keys() {
            let processor =
                ProcessorRef::parse(name).map_err(|e| format!("{}: {e}", folder.display()))?;
            let certificate = certificates.get(&processor).ok_or_else(|| {
                format!(
                    "{}: no certificate of {processor} in {CERTIFICATES_DIR}/ (run the shard with --certificate)",
                    folder.display()
                )
            })?;
            per_processor
                .entry(processor)
                .or_default()
                .push(certificate.clone());
        }
        for trial in &summary.trials {
            if trials.insert(trial.name.clone(), trial.clone()).is_some() {
                return Err(format!(
                    "{}: the trial {} is in another shard too (shards of one partition never overlap)",
                    folder.display(),
                    trial.name
                ));
            }
        }
    }
    let mut counts = Counts::default();
    for trial in trials.values() {
        counts.add(trial.verdict);
    }
    let mut certificates = BTreeMap::new();
    for (processor, shards) in per_processor {
        certificates.insert(processor, join(&shards)?);
    }
    Ok(Merged {
        summary: Summary {
            certificates: certificates
                .iter()
                .map(|(p, c)| (p.to_string(), c.verdict))
                .collect(),
            lane: first.lane.clone(),
            lane_source: first.lane_source.clone(),
            seed: first.seed,
            counts,
            trials: trials.into_values().collect(),
        },
        certificates,
    })
}

/// The certificates in `dir`, by processor; none when it does not exist.
fn read_certificates(dir: &Path) -> Result<BTreeMap<ProcessorRef, Certificate>, String> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let certificate: Certificate = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not a certificate: {e}", path.display()))?;
        let processor = ProcessorRef::parse(&certificate.processor)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        out.insert(processor, certificate);
    }
    Ok(out)
}

/// One processor's certificates of every shard, joined.
fn join(shards: &[Certificate]) -> Result<Certificate, String> {
    let Some(first) = shards.first() else {
        return Err("no certificate to join".to_owned());
    };
    let planned = |c: &Certificate| c.counts.total + c.not_run;
    let mut joined = first.clone();
    joined.counts = Counts::default();
    joined.skipped.clear();
    let mut engine_digest = None;
    for shard in shards {
        let same = Certificate {
            counts: first.counts,
            skipped: first.skipped.clone(),
            not_run: first.not_run,
            verdict: first.verdict,
            image: first.image.clone(),
            ..shard.clone()
        };
        if same != *first
            || planned(shard) != planned(first)
            || shard.image.as_ref().map(|i| &i.reference)
                != first.image.as_ref().map(|i| &i.reference)
        {
            return Err(format!(
                "{}: the shards' certificates are not of one run (lane, seed, harness, image, targets, transports or plan differ)",
                first.processor
            ));
        }
        if let Some(digest) = shard.image.as_ref().and_then(|i| i.engine_digest.as_ref()) {
            if engine_digest.is_some_and(|seen| seen != digest) {
                return Err(format!(
                    "{}: the shards ran different images ({} and {digest})",
                    first.processor,
                    engine_digest.map_or("", String::as_str)
                ));
            }
            engine_digest = Some(digest);
        }
        add(&mut joined.counts, &shard.counts);
        joined.skipped.extend(shard.skipped.iter().cloned());
    }
    joined.skipped.sort_by(|a, b| a.trial.cmp(&b.trial));
    if let Some(image) = &mut joined.image {
        image.engine_digest = engine_digest.cloned();
    }
    joined.not_run = planned(first).saturating_sub(joined.counts.total);
    joined.verdict = CertificateVerdict::of(&joined.counts, joined.not_run);
    Ok(joined)
}

const fn add(total: &mut Counts, more: &Counts) {
    total.total += more.total;
    total.passed += more.passed;
    total.flaky += more.flaky;
    total.failed += more.failed;
    total.known_failures += more.known_failures;
    total.errors += more.errors;
    total.skipped += more.skipped;
}
