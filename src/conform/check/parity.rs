//! `parity_transports` and `parity_targets`: one request on two
//! transports (or two targets) with the same ids gives the same canonical
//! envelope: the processor's own answers are compared (CONTRACT.md §12),
//! never an envelope the orchestrator wrote.

use theory_contract::Digest;
use theory_contract::canon::Json;

use super::super::golden;
use super::super::plan::Input;
use super::super::seed::RunIds;
use super::super::suite::Via;
use super::super::verdict::{Findings, Verdict};
use super::common::{
    comparable, expected_digest, next_ids, orchestrator_plan, outcome_infrastructure,
    processor_answer, rendered, required, skip_if_unseen,
};
use super::goldens::redactions;
use super::{Checked, Ctx, endpoint_of};
use crate::adapter::{Endpoint, Target, Transport};
use crate::artifacts::Source;
use crate::orchestrator;
use crate::vocab::ArtifactSource;

/// One side of a comparison: where, how, and its name in messages.
struct Side<'a> {
    target: &'a Target,
    endpoint: &'a Endpoint,
    transport: Transport,
    name: String,
    /// Where its artifacts are read from, when their bytes are compared
    /// (across targets: across transports the second run overwrites the
    /// first's files under the same prefix).
    source: Option<Source>,
}

/// This transport against the next of the lane.
pub(super) async fn transports(ctx: &mut Ctx<'_>) -> Checked {
    let (endpoint, transport) = ctx.wire()?;
    let peer = required(
        ctx.work.peer_via.and_then(Via::transport),
        "parity without a peer transport",
    )?;
    let target = ctx.target()?;
    let this = Side {
        target: &target,
        endpoint: &endpoint,
        transport,
        name: transport.to_string(),
        source: None,
    };
    let other = Side {
        transport: peer,
        name: peer.to_string(),
        source: None,
        ..this
    };
    Ok(compare_each(ctx, &this, &other).await)
}

/// This target against the next of the lane.
pub(super) async fn targets(ctx: &mut Ctx<'_>) -> Checked {
    let (endpoint, transport) = ctx.wire()?;
    let peer_endpoint = endpoint_of(ctx.peer)?.clone();
    let (Some(peer_name), Ok(target)) = (ctx.work.peer_target, ctx.target()) else {
        return Err(Verdict::error("parity without a peer target"));
    };
    let peer_target = required(
        ctx.pp.targets.get(&peer_name).cloned(),
        "the peer target was not planned",
    )?;
    let this = Side {
        target: &target,
        endpoint: &endpoint,
        transport,
        name: ctx.spec.target.to_string(),
        source: Some(ctx.source(ctx.spec.target)?),
    };
    let other = Side {
        target: &peer_target,
        endpoint: &peer_endpoint,
        transport,
        name: peer_name.to_string(),
        source: Some(ctx.source(peer_name)?),
    };
    Ok(compare_each(ctx, &this, &other).await)
}

/// [`compare_pair`] for every fixture, each with its own ids.
async fn compare_each(ctx: &mut Ctx<'_>, a: &Side<'_>, b: &Side<'_>) -> Verdict {
    let expected = expected_digest(ctx.pp).filter(|_| ctx.pp.entry.expected.is_some());
    let mut findings = Findings::default();
    let mut unanswered = Vec::new();
    for input in ctx.work.inputs.clone() {
        let run = next_ids(ctx);
        if let Some(neither) =
            compare_pair(ctx, &mut findings, &input, &run, (a, b), expected.as_ref()).await
        {
            unanswered.push(neither);
        }
    }
    skip_if_unseen(findings, &unanswered, ctx.work.inputs.len(), |names| {
        format!("nothing of the processor to compare: {names}")
    })
}

/// Runs one request on both sides with the same ids, and compares the
/// processor's two answers; when neither side answered, what the
/// orchestrator wrote instead (nothing was compared).
async fn compare_pair(
    ctx: &Ctx<'_>,
    findings: &mut Findings,
    input: &Input,
    run: &RunIds,
    (a, b): (&Side<'_>, &Side<'_>),
    expected: Option<&Digest>,
) -> Option<String> {
    let plan_a = orchestrator_plan(
        ctx,
        a.target,
        a.transport,
        run,
        &input.value,
        expected.cloned(),
    );
    let outcome_a = orchestrator::run_on(&plan_a, a.endpoint).await;
    let plan_b = orchestrator_plan(
        ctx,
        b.target,
        b.transport,
        run,
        &input.value,
        expected.cloned(),
    );
    let outcome_b = orchestrator::run_on(&plan_b, b.endpoint).await;
    for outcome in [&outcome_a, &outcome_b] {
        if let Some(message) = outcome_infrastructure(outcome) {
            findings.error(format!("{}: {message}", input.name));
            return None;
        }
    }
    let (na, nb) = (&a.name, &b.name);
    // The processor's own answers (§12); the orchestrator's policy has its
    // own checks, and what it wrote is never compared.
    let (doc_a, doc_b) = match (processor_answer(&outcome_a), processor_answer(&outcome_b)) {
        (Ok(doc_a), Ok(doc_b)) => (doc_a, doc_b),
        (Err(message), Err(_)) => return Some(format!("{} ({message})", input.name)),
        (Ok(_), Err(message)) | (Err(message), Ok(_)) => {
            let (answered, silent) = if outcome_a.answer.is_some() {
                (na, nb)
            } else {
                (nb, na)
            };
            findings.fail(format!(
                "{}: the processor answered on {answered}, not on {silent}: {message}",
                input.name
            ));
            return None;
        }
    };
    if comparable(doc_a) == comparable(doc_b) {
        if let (Some(source_a), Some(source_b)) = (&a.source, &b.source) {
            compare_artifacts(findings, input, run, doc_a, (na, source_a), (nb, source_b)).await;
        }
        return None;
    }
    findings.fail(format!(
        "{}: {na} and {nb} give different canonical envelopes",
        input.name
    ));
    let show = |doc: &Json| rendered(&golden::redacted_bytes(doc, &redactions(run)));
    findings.diff(
        &format!("{}: {na} vs {nb}:", input.name),
        golden::diff(na, &show(doc_a), nb, &show(doc_b)),
    );
    None
}

/// The artifact bytes of two equal envelopes, side by side, by path
/// relative to the prefix; nothing when a side's artifacts are read from
/// nowhere.
async fn compare_artifacts(
    findings: &mut Findings,
    input: &Input,
    run: &RunIds,
    doc: &Json,
    (na, a): (&str, &Source),
    (nb, b): (&str, &Source),
) {
    if a.kind() == ArtifactSource::Nowhere || b.kind() == ArtifactSource::Nowhere {
        return;
    }
    for (_, path) in crate::artifacts::named_paths(doc) {
        let Some(relative) = path.strip_prefix(run.prefix.as_str()) else {
            continue; // outside the prefix: an envelope rule
        };
        let bytes_a = a.read(&run.prefix, &path).await;
        let bytes_b = b.read(&run.prefix, &path).await;
        match (&bytes_a, &bytes_b) {
            (Some(x), Some(y)) if x == y => {}
            (None, None) => {} // unreadable on both: the artifact rules say why
            (Some(x), Some(y)) => {
                findings.fail(format!(
                    "{}: artifact {relative} differs between {na} and {nb}",
                    input.name
                ));
                findings.diff(
                    &format!("{}: {relative}, {na} vs {nb}:", input.name),
                    golden::diff(
                        na,
                        &String::from_utf8_lossy(x),
                        nb,
                        &String::from_utf8_lossy(y),
                    ),
                );
            }
            (Some(_), None) | (None, Some(_)) => {
                let (has, lacks) = if bytes_a.is_some() {
                    (na, nb)
                } else {
                    (nb, na)
                };
                findings.fail(format!(
                    "{}: artifact {relative} can be read on {has}, not on {lacks}",
                    input.name
                ));
            }
        }
    }
}
