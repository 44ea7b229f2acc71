//! `determinism`: N runs with random ids and prefixes give the same
//! envelope and the same artifacts.

use std::collections::BTreeMap;

use theory_contract::canon::Json;

use super::super::golden;
use super::super::plan::Input;
use super::super::seed::RunIds;
use super::super::suite::DeterminismParams;
use super::super::verdict::Findings;
use super::common::{
    next_ids, orchestrator_plan, outcome_infrastructure, processor_answer, rendered, skip_if_unseen,
};
use super::doc::{member, string_at};
use super::goldens::redactions;
use super::{Checked, Ctx};
use crate::artifacts::Source;
use crate::orchestrator;
use crate::vocab::ArtifactSource;

/// Artifact bytes by path relative to the prefix (`None`: unreadable).
type Artifacts = BTreeMap<String, Option<Vec<u8>>>;

/// One run's envelope (redacted, rendered), `meta.image_digest` (which
/// the redaction drops) and artifacts.
type Seen = (String, Option<String>, Artifacts);

/// Every run of a fixture gives what its first run gave.
pub(super) async fn check(ctx: &mut Ctx<'_>, p: &DeterminismParams) -> Checked {
    let (endpoint, transport) = ctx.wire()?;
    let target = ctx.target()?;
    let source = ctx.source(ctx.spec.target)?;
    let mut findings = Findings::default();
    let mut unanswered = Vec::new();
    for input in ctx.work.inputs.clone() {
        // Run 1's answer; `Err`: run 1 gave none (what the orchestrator wrote).
        let mut first: Option<Result<Seen, String>> = None;
        for n in 1..=p.runs {
            let run = next_ids(ctx);
            let plan = orchestrator_plan(ctx, &target, transport, &run, &input.value, None);
            let outcome = orchestrator::run_on(&plan, &endpoint).await;
            if let Some(message) = outcome_infrastructure(&outcome) {
                findings.error(message);
                break;
            }
            let this = match processor_answer(&outcome) {
                Ok(doc) => {
                    let body = rendered(&golden::redacted_bytes(doc, &redactions(&run)));
                    let digest = string_at(doc, &["meta", "image_digest"]).map(str::to_owned);
                    Ok((
                        body,
                        digest,
                        artifacts(&mut findings, &input, &run, n, doc, &source).await,
                    ))
                }
                Err(message) => Err(message),
            };
            match (&first, this) {
                (None, this) => first = Some(this),
                (Some(Ok(first)), Ok(this)) => compare(&mut findings, &input, n, first, &this),
                (Some(Err(_)), Err(_)) => {}
                (Some(Ok(_)), Err(message)) => findings.fail(format!(
                    "{} run {n}: {message}, though run 1 answered",
                    input.name
                )),
                (Some(Err(message)), Ok(_)) => findings.fail(format!(
                    "{} run {n} answered, though run 1 did not: {message}",
                    input.name
                )),
            }
        }
        if let Some(Err(message)) = first {
            unanswered.push(format!("{} ({message})", input.name));
        }
    }
    Ok(skip_if_unseen(
        findings,
        &unanswered,
        ctx.work.inputs.len(),
        |names| format!("nothing of the processor to compare: {names}"),
    ))
}

/// The run's outputs by relative path, read through the artifact seam
/// (none where the target's artifacts are read from nowhere); an output
/// outside the prefix is a failure.
async fn artifacts(
    findings: &mut Findings,
    input: &Input,
    run: &RunIds,
    n: u32,
    doc: &Json,
    source: &Source,
) -> Artifacts {
    let mut files = BTreeMap::new();
    let Some(Json::Array(outputs)) = member(doc, &["outputs"]) else {
        return files;
    };
    for output in outputs {
        let Some(path) = string_at(output, &["path"]) else {
            continue;
        };
        if !run.prefix.contains(path) {
            findings.fail(format!(
                "{} run {n}: output {path} is not under the prefix {}",
                input.name, run.prefix
            ));
            continue;
        }
        if source.kind() != ArtifactSource::Nowhere {
            let relative = path[run.prefix.as_str().len()..].to_owned();
            files.insert(relative, source.read(&run.prefix, path).await);
        }
    }
    files
}

/// Compares run `n` with run 1.
fn compare(findings: &mut Findings, input: &Input, n: u32, first: &Seen, this: &Seen) {
    let ((first_body, first_digest, first_files), (body, digest, files)) = (first, this);
    if first_body != body {
        findings.fail(format!(
            "{}: run {n} gives another envelope than run 1 (beyond the execution id and the prefix)",
            input.name
        ));
        findings.diff(
            &format!("{}: run 1 vs run {n}:", input.name),
            golden::diff("run 1", first_body, &format!("run {n}"), body),
        );
    }
    // The image does not change between runs (goldens leave the digest to
    // the supply-chain suite, which compares it with one expected value
    // only where there is one).
    if first_digest != digest {
        findings.fail(format!(
            "{}: run {n}'s meta.image_digest {} differs from run 1's {}",
            input.name,
            digest.as_deref().unwrap_or("(none)"),
            first_digest.as_deref().unwrap_or("(none)")
        ));
    }
    for (relative, bytes) in files {
        // Unreadable on every run is no difference: `contract::artifacts`
        // judges a missing file.
        if first_files.get(relative) == Some(bytes) {
            continue;
        }
        findings.fail(format!(
            "{}: artifact {relative} of run {n} differs from run 1's",
            input.name
        ));
        if let Some(Some(a)) = first_files.get(relative)
            && let Some(b) = bytes
        {
            findings.diff(
                &format!("{}: {relative}, run 1 vs run {n}:", input.name),
                golden::diff(
                    "run 1",
                    &String::from_utf8_lossy(a),
                    &format!("run {n}"),
                    &String::from_utf8_lossy(b),
                ),
            );
        }
    }
}
