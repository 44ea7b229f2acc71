//! `health`: the one health check made when the endpoint was resolved.

use super::super::verdict::{Findings, Verdict};
use super::{Checked, Ctx, endpoint_of};

/// The health check passed.
pub(super) fn check(ctx: &Ctx<'_>) -> Checked {
    endpoint_of(ctx.connected)?;
    match ctx.connected.and_then(|c| c.health.as_ref()) {
        Some(Ok(_)) => Ok(Verdict::Pass),
        Some(Err(e)) => {
            let mut findings = Findings::default();
            findings.fail(format!("{} ({})", e, e.code().as_str()));
            Ok(findings.verdict())
        }
        None => Err(Verdict::error("health was not checked")),
    }
}
