//! `run_budget`: a valid run settles within the registry's run budget.

use theory_contract::ErrorCode;

use super::super::verdict::Findings;
use super::common::{next_ids, orchestrator_plan, outcome_infrastructure};
use super::{Checked, Ctx};
use crate::orchestrator;

/// No fixture's run ends in `ERR_TIMEOUT`.
pub(super) async fn check(ctx: &mut Ctx<'_>) -> Checked {
    let (endpoint, transport) = ctx.wire()?;
    let target = ctx.target()?;
    let mut findings = Findings::default();
    for input in ctx.work.inputs.clone() {
        let run = next_ids(ctx);
        let plan = orchestrator_plan(ctx, &target, transport, &run, &input.value, None);
        let outcome = orchestrator::run_on(&plan, &endpoint).await;
        if let Some(message) = outcome_infrastructure(&outcome) {
            findings.error(message);
        } else if outcome.envelope.error_code() == Some(ErrorCode::Timeout) {
            findings.fail(format!(
                "{}: the run did not settle within the run budget of {} ms (ERR_TIMEOUT)",
                input.name,
                ctx.pp.entry.run_timeout.as_millis()
            ));
        }
    }
    Ok(findings.verdict())
}
