//! What several checks share: ids and requests, the adapter's and the
//! orchestrator's calls, and how their failures are classified.

use std::sync::Arc;
use std::time::Duration;

use theory_contract::canon::{self, Json};
use theory_contract::{
    Digest, ErrorCode, Expect, RunRequest, Violation, check_envelope, comparable_bytes,
};

use super::super::golden;
use super::super::plan::{Input, ProcessorPlan};
use super::super::seed::RunIds;
use super::super::verdict::{Findings, Verdict};
use super::{Ctx, MODE, trace};
use crate::adapter::{self, Endpoint, Exchange, HealthBudget, Limits, Target, Transport};
use crate::artifacts::Source;
use crate::orchestrator::{Outcome, Plan, TargetSource};
use crate::vocab::ArtifactSource;

/// The run budget of one call.
pub(super) fn run_timeout(ctx: &Ctx<'_>) -> Duration {
    ctx.pp.entry.run_timeout
}

/// Draws the next ids; creates the prefix folder when the target's prefix
/// is this machine's (as the orchestrator's planner does).
pub(super) fn next_ids(ctx: &mut Ctx<'_>) -> RunIds {
    let run = ctx.ids.draw_next();
    if ctx.artifacts() == ArtifactSource::Shared {
        // The processor creates the prefix too; a failure here shows in its answer.
        let _ = std::fs::create_dir_all(run.prefix.as_str());
    }
    run
}

/// The request of one run.
pub(super) fn request(run: &RunIds, inputs: &serde_json::Value) -> RunRequest {
    Plan::request(&run.execution_id, inputs.clone(), &run.prefix, MODE)
}

/// An exchange's infrastructure failure, as a finding's text.
pub(super) fn infrastructure_of(item: &str, exchange: &Exchange) -> Option<String> {
    match &exchange.outcome {
        Err(e) if e.is_infrastructure() => Some(format!("{item}: {e}")),
        Err(_) | Ok(_) => None,
    }
}

/// One call of a fixture through the adapter.
pub(super) struct Called {
    /// The fixture.
    pub input: Arc<Input>,
    /// Its ids.
    pub run: RunIds,
    /// What the processor did.
    pub exchange: Exchange,
}

/// Calls the endpoint once per fixture of the trial, in order.
pub(super) async fn call_each(
    ctx: &mut Ctx<'_>,
    endpoint: &Endpoint,
    transport: Transport,
) -> Vec<Called> {
    let mut called = Vec::with_capacity(ctx.work.inputs.len());
    for input in ctx.work.inputs.clone() {
        let run = next_ids(ctx);
        let request = handed_over(ctx, &run, &input.value).await;
        let exchange = adapter::call(
            endpoint,
            transport,
            &request,
            run_timeout(ctx),
            &Limits::default(),
        )
        .await;
        called.push(Called {
            input,
            run,
            exchange,
        });
    }
    called
}

/// [`call_each`], with every infrastructure failure recorded as an error
/// and left out.
pub(super) async fn answered(
    ctx: &mut Ctx<'_>,
    endpoint: &Endpoint,
    transport: Transport,
    findings: &mut Findings,
) -> Vec<Called> {
    let mut kept = Vec::new();
    for called in call_each(ctx, endpoint, transport).await {
        match infrastructure_of(&called.input.name, &called.exchange) {
            Some(message) => findings.error(message),
            None => kept.push(called),
        }
    }
    kept
}

/// The verdict, or a skip (its reason from the skipped fixtures' names)
/// when no fixture could be judged.
pub(super) fn skip_if_unseen(
    findings: Findings,
    skipped: &[String],
    total: usize,
    reason: impl FnOnce(&str) -> String,
) -> Verdict {
    if !skipped.is_empty() && skipped.len() == total && findings.is_clean() {
        return Verdict::skip(reason(&skipped.join(", ")));
    }
    findings.verdict()
}

/// Records `problems` (the first with the exchange's trace).
pub(super) fn record(findings: &mut Findings, problems: Vec<String>, exchange: &Exchange) {
    let mut problems = problems.into_iter();
    if let Some(first) = problems.next() {
        findings.fail_traced(first, trace(exchange));
    }
    for problem in problems {
        findings.fail(problem);
    }
}

/// One line per violation, prefixed with the item.
pub(super) fn violation_lines(item: &str, violations: &[Violation]) -> Vec<String> {
    violations
        .iter()
        .map(|v| format!("{item}: {} at {:?}: {}", v.rule, v.pointer, v.message))
        .collect()
}

/// The envelope rules for one run's answer (ids and prefix known).
pub(super) fn run_violations(ctx: &Ctx<'_>, doc: &Json, run: &RunIds) -> Vec<Violation> {
    check_envelope(
        doc,
        &Expect {
            execution_id: Some(&run.execution_id),
            prefix: Some(&run.prefix),
            host_values: ctx.host_values,
            secret_values: ctx.secret_values,
        },
    )
}

/// The orchestrator plan of one run on `target`.
pub(super) fn orchestrator_plan(
    ctx: &Ctx<'_>,
    target: &Target,
    transport: Transport,
    run: &RunIds,
    inputs: &serde_json::Value,
    expected: Option<Digest>,
) -> Plan {
    Plan {
        processor: ctx.spec.processor.clone(),
        target: target.clone(),
        target_source: TargetSource::Flag,
        transport,
        execution_id: run.execution_id.clone(),
        prefix: run.prefix.clone(),
        request: request(run, inputs),
        run_timeout: ctx.pp.entry.run_timeout,
        health: HealthBudget::with_total(ctx.pp.entry.health),
        expected,
        secrets: ctx.secrets.to_vec(),
        host_values: ctx.host_values.to_vec(),
        limits: Limits::default(),
        // `Ctx::wire` ended the trial when the store could not be opened.
        artifacts: ctx.pp.source(target.kind()).unwrap_or(Source::Nowhere),
    }
}

/// The request of one run through the adapter, with the storage hand-over
/// when the trial target's artifacts go to storage (as the orchestrator
/// sends it).
pub(super) async fn handed_over(
    ctx: &Ctx<'_>,
    run: &RunIds,
    inputs: &serde_json::Value,
) -> RunRequest {
    let mut request = request(run, inputs);
    if let Ok(source) = ctx.pp.source(ctx.spec.target) {
        match source.hand_over(&run.prefix, run_timeout(ctx)).await {
            Ok(storage) => request.payload.storage = storage,
            Err(message) => tracing::error!(event = "error.storage", message = %message),
        }
    }
    request
}

/// The expected digest for the processor: `expected_oci`, else the image's pin.
pub(super) fn expected_digest(pp: &ProcessorPlan) -> Option<Digest> {
    pp.entry
        .expected
        .as_ref()
        .and_then(|r| r.digest().cloned())
        .or_else(|| pp.entry.image.as_ref().and_then(|i| i.digest().cloned()))
}

/// An outcome's JSON (an orchestrator envelope always canonicalizes).
pub(super) fn outcome_doc(outcome: &Outcome) -> Json {
    canon::parse(&outcome.canonical).unwrap_or(Json::Null)
}

/// The bytes two envelopes are compared by.
pub(super) fn comparable(doc: &Json) -> Vec<u8> {
    comparable_bytes(doc).unwrap_or_default()
}

/// Canonical bytes as a golden renders them (or as text when they are not JSON).
pub(super) fn rendered(bytes: &[u8]) -> String {
    golden::render(bytes).unwrap_or_else(|_| String::from_utf8_lossy(bytes).into_owned())
}

/// Whether an orchestrator outcome is an infrastructure problem.
pub(super) fn outcome_infrastructure(outcome: &Outcome) -> Option<String> {
    match &outcome.envelope {
        theory_contract::Envelope::Error(e) if e.error.code == ErrorCode::Docker => {
            Some(format!("{}: {}", e.error.code.as_str(), e.error.message))
        }
        theory_contract::Envelope::Error(_) | theory_contract::Envelope::Success(_) => None,
    }
}

/// A skip, with its reason, when the trial target's artifacts can be read
/// from nowhere (its registry entry declares `none`).
pub(super) fn unreadable(ctx: &Ctx<'_>) -> Result<(), Verdict> {
    match ctx.artifacts() {
        ArtifactSource::Shared | ArtifactSource::Storage => Ok(()),
        ArtifactSource::Nowhere => Err(Verdict::skip(format!(
            "{} declares no place to read its {} target's artifacts from (registry `artifacts: {{{}: none}}`, the default for a remote): its files cannot be judged",
            ctx.spec.processor, ctx.spec.target, ctx.spec.target
        ))),
    }
}

/// The processor's own answer in an orchestrator outcome; without one,
/// what the orchestrator wrote instead, as a finding's text: a comparison
/// of envelopes the orchestrator wrote is never a pass.
pub(super) fn processor_answer(outcome: &Outcome) -> Result<&Json, String> {
    outcome
        .answer
        .as_ref()
        .ok_or_else(|| match &outcome.envelope {
            theory_contract::Envelope::Error(e) => format!(
                "the processor gave no answer to compare (the orchestrator wrote {}: {})",
                e.error.code.as_str(),
                e.error.message
            ),
            theory_contract::Envelope::Success(_) => {
                "the processor gave no answer to compare".to_owned()
            }
        })
}

/// The fixtures of a trial, or one `None` when it takes none.
pub(super) fn items(inputs: &[Arc<Input>]) -> Vec<Option<&Input>> {
    if inputs.is_empty() {
        vec![None]
    } else {
        inputs.iter().map(|i| Some(&**i)).collect()
    }
}

/// An HTTP status as a message shows it (`none` when there was none).
pub(super) fn status_text(status: Option<u16>) -> String {
    status.map_or("none".to_owned(), |s| s.to_string())
}

/// An early verdict unless the planner gave a value.
pub(super) fn required<T>(value: Option<T>, message: &str) -> Result<T, Verdict> {
    value.ok_or_else(|| Verdict::error(message))
}
