//! Which trials run: every name of the run, then `--last-failed`,
//! libtest's filters and the partition.

use std::collections::BTreeSet;

use libtest_mimic::{Arguments, Trial};

use super::super::certificate::evidence_name;
use super::super::partition::Partition;
use super::super::plan::LanePlan;
use super::Known;

/// Every trial name of a run (planned trials, evidence, unused goldens,
/// the known lists' problems), in plan order.
pub(super) fn all_names(plan: &LanePlan, unused: &[String], known: &Known) -> Vec<String> {
    plan.trials
        .iter()
        .map(|t| t.name.clone())
        .chain(plan.evidence.keys().map(evidence_name))
        .chain(unused.iter().map(|u| unused_name(u)))
        .chain(known.problems.iter().map(|p| p.name.clone()))
        .collect()
}

/// The names that run: `--last-failed`'s, then libtest's filters, then the
/// partition. Names outside it are neither run nor listed.
pub(super) fn select(
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

/// The pseudo-trial of a golden no trial uses.
pub(super) fn unused_name(relative: &str) -> String {
    format!("golden::unused::{relative}")
}
