//! `artifacts`: the disk or storage rules for each valid fixture's
//! outputs, read through the artifact seam.

use super::super::verdict::Findings;
use super::common::{answered, skip_if_unseen, unreadable, violation_lines};
use super::doc::{answer_doc, string_at};
use super::{Checked, Ctx};

/// Every success envelope's outputs exist, under the prefix, as listed.
pub(super) async fn check(ctx: &mut Ctx<'_>) -> Checked {
    let (endpoint, transport) = ctx.wire()?;
    unreadable(ctx)?;
    let source = ctx.source(ctx.spec.target)?;
    let mut skipped = Vec::new();
    let mut findings = Findings::default();
    for called in answered(ctx, &endpoint, transport, &mut findings).await {
        let name = called.input.name.clone();
        let Ok(doc) = answer_doc(&called.exchange) else {
            skipped.push(name);
            continue;
        };
        if string_at(&doc, &["status"]) != Some("success") {
            skipped.push(name);
            continue;
        }
        match source
            .check(&doc, &called.run.prefix, ctx.secret_values)
            .await
        {
            Ok(violations) => {
                for line in violation_lines(&name, &violations) {
                    findings.fail(line);
                }
            }
            Err(message) => findings.error(format!("{name}: {message}")),
        }
    }
    Ok(skip_if_unseen(
        findings,
        &skipped,
        ctx.work.inputs.len(),
        |names| {
            format!(
                "no success envelope for {names}: nothing on disk to check (contract::envelope reports why)"
            )
        },
    ))
}
