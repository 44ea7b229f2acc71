//! `envelope`: the processor's own envelope for each fixture.

use theory_contract::canon::Json;

use super::super::plan::golden_key;
use super::super::suite::{EnvelopeParams, Status};
use super::super::verdict::Findings;
use super::common::{
    Called, answered, record, run_violations, skip_if_unseen, status_text, violation_lines,
};
use super::doc::{answer_doc, status_phrase, string_at};
use super::goldens::{compare_golden, redactions};
use super::trace::{sequence_broken, trace};
use super::{Checked, Ctx};
use crate::adapter::Transport;

/// Each fixture's envelope obeys every rule, has the expected status (and
/// code), arrives with the expected HTTP status, and equals its golden.
pub(super) async fn check(ctx: &mut Ctx<'_>, p: &EnvelopeParams) -> Checked {
    let (endpoint, transport) = ctx.wire()?;
    let mut skipped = Vec::new();
    let mut findings = Findings::default();
    for called in answered(ctx, &endpoint, transport, &mut findings).await {
        let Called {
            input,
            run,
            exchange,
        } = called;
        if sequence_broken(&exchange) {
            skipped.push(input.name.clone());
            continue;
        }
        let doc = match answer_doc(&exchange) {
            Ok(doc) => doc,
            Err(why) => {
                findings.fail_traced(format!("{}: {why}", input.name), trace(&exchange));
                continue;
            }
        };
        let mut problems = violation_lines(&input.name, &run_violations(ctx, &doc, &run));
        let want_http = p.http_status.unwrap_or(200);
        if matches!(transport, Transport::Http | Transport::Sse)
            && exchange.http_status != Some(want_http)
        {
            problems.push(format!(
                "{}: http status {}, expected {want_http}",
                input.name,
                status_text(exchange.http_status)
            ));
        }
        problems.extend(status_problem(p, &input.name, &doc));
        record(&mut findings, problems, &exchange);
        let key = golden_key(
            &ctx.spec.suite,
            &ctx.spec.case.name,
            Some(&input.name),
            None,
        );
        compare_golden(ctx, &mut findings, &key, &doc, &redactions(&run));
    }
    Ok(skip_if_unseen(
        findings,
        &skipped,
        ctx.work.inputs.len(),
        |names| {
            format!(
                "no envelope arrived by the book for {names}; the sequence case reports the protocol break"
            )
        },
    ))
}

/// The problem with the envelope's status (and code), if any.
fn status_problem(p: &EnvelopeParams, item: &str, doc: &Json) -> Option<String> {
    let status = string_at(doc, &["status"]);
    let code = string_at(doc, &["error", "code"]);
    let ok = match (p.expect_status, p.expect_code) {
        (Status::Success, _) => status == Some("success"),
        (Status::Error, Some(want)) => status == Some("error") && code == Some(want.as_str()),
        (Status::Error, None) => status == Some("error"),
    };
    if ok {
        return None;
    }
    let want = match p.expect_code {
        Some(code) => format!("an error envelope {}", code.as_str()),
        None => format!("a {:?} envelope", p.expect_status.as_str()),
    };
    let message = string_at(doc, &["error", "message"])
        .map(|m| format!(" ({m:?})"))
        .unwrap_or_default();
    Some(format!(
        "{item}: expected {want}, got {}{message}",
        status_phrase(doc)
    ))
}
