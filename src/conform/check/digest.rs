//! `digest`: the processor's own `meta.image_digest` is the expected
//! digest; through the orchestrator, a different expected digest is never
//! a success.

use theory_contract::Digest;
use theory_contract::canon::{self, Json};

use super::super::verdict::{Findings, Verdict};
use super::common::{
    expected_digest, next_ids, orchestrator_plan, outcome_infrastructure, request, run_timeout,
};
use super::doc::{answer_doc, member};
use super::negative::missing_digest;
use super::trace::trace;
use super::{Checked, Ctx};
use crate::adapter::{self, Limits};
use crate::orchestrator;

/// The answer names the expected digest; another expected digest fails the run.
pub(super) async fn check(ctx: &mut Ctx<'_>) -> Checked {
    let (endpoint, transport) = ctx.wire()?;
    let Some(expected) = expected_digest(ctx.pp) else {
        return Err(Verdict::skip(
            "no expected digest: the registry entry has neither expected_oci nor a digest-pinned image",
        ));
    };
    let target = ctx.target()?;
    let input = ctx.first_input()?;
    let mut findings = Findings::default();
    let run = next_ids(ctx);
    let exchange = adapter::call(
        &endpoint,
        transport,
        &request(&run, &input.value),
        run_timeout(ctx),
        &Limits::default(),
    )
    .await;
    match (&exchange.outcome, answer_doc(&exchange)) {
        (Err(e), _) if e.is_infrastructure() => findings.error(e.to_string()),
        (_, Err(why)) => {
            return Err(Verdict::skip(format!(
                "no envelope to read the digest from ({why}); other cases report why"
            )));
        }
        (_, Ok(doc)) => {
            if let Some(problem) = digest_problem(&doc, &expected) {
                findings.fail_traced(problem, trace(&exchange));
            }
        }
    }
    let other = missing_digest(Some(&expected));
    let run = next_ids(ctx);
    let plan = orchestrator_plan(
        ctx,
        &target,
        transport,
        &run,
        &input.value,
        Some(other.clone()),
    );
    let outcome = orchestrator::run_on(&plan, &endpoint).await;
    if let Some(message) = outcome_infrastructure(&outcome) {
        findings.error(message);
    } else if outcome.envelope.error_code().is_none() {
        // Another error (a breach found first) is another case's finding;
        // what must never happen is a success against a different digest.
        findings.fail(format!(
            "with a different expected digest ({other}), the run succeeded instead of giving ERR_REGISTRY_MISMATCH"
        ));
    }
    Ok(findings.verdict())
}

/// What is wrong with the answer's `meta.image_digest`, if anything.
fn digest_problem(doc: &Json, expected: &Digest) -> Option<String> {
    match member(doc, &["meta", "image_digest"]) {
        Some(Json::String(seen)) if seen == expected.as_str() => None,
        Some(seen) => Some(format!(
            "meta.image_digest is {}, expected {expected} (CONTRACT.md §8)",
            String::from_utf8_lossy(&canon::to_canonical(seen).unwrap_or_default())
        )),
        None => Some(format!(
            "meta.image_digest is missing; expected {expected} (CONTRACT.md §8)"
        )),
    }
}
