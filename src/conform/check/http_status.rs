//! `http_status`: raw requests and the status, code (or success) and id
//! they must get.

use theory_contract::canon::Json;
use theory_contract::{Expect, check_envelope};

use super::super::plan::{Input, golden_key, item_labels};
use super::super::seed::RunIds;
use super::super::suite::HttpStatusParams;
use super::super::verdict::Findings;
use super::common::{
    infrastructure_of, items, next_ids, record, run_timeout, status_text, violation_lines,
};
use super::doc::{answer_doc, status_phrase, string_at};
use super::goldens::{compare_golden, redactions};
use super::template::fill;
use super::{Checked, Ctx};
use crate::adapter::{self, Limits, Transport};

/// Every raw request gets the expected status, an error envelope with the
/// expected code or, without one, a success envelope (and the id), obeys
/// every rule of `check_envelope`, and equals its golden.
pub(super) async fn check(ctx: &mut Ctx<'_>, p: &HttpStatusParams) -> Checked {
    let (endpoint, transport) = ctx.wire()?;
    let path = match transport {
        Transport::Sse => "run-stream",
        Transport::Http | Transport::Ws => "run",
    };
    let labelled = item_labels(&ctx.spec.case).iter().any(Option::is_some);
    let mut findings = Findings::default();
    let inputs = ctx.work.inputs.clone();
    for input in items(&inputs) {
        for send in &p.sends {
            let run = next_ids(ctx);
            let item = match input {
                Some(i) => format!("{}/{}", i.name, send.label),
                None => send.label.clone(),
            };
            let exchange = adapter::http_raw(
                &endpoint,
                path,
                send.content_type.as_deref(),
                fill(&send.body, &run, input).into_bytes(),
                send.chunked,
                run_timeout(ctx),
                &Limits::default(),
            )
            .await;
            if let Some(message) = infrastructure_of(&item, &exchange) {
                findings.error(message);
                continue;
            }
            let mut problems = Vec::new();
            if exchange.http_status != Some(p.expect_status) {
                problems.push(format!(
                    "{item}: http status {}, expected {}",
                    status_text(exchange.http_status),
                    p.expect_status
                ));
            }
            match answer_doc(&exchange) {
                Err(why) => problems.push(format!("{item}: {why}")),
                Ok(doc) => {
                    let sent = Sent {
                        item: &item,
                        input,
                        run: &run,
                    };
                    problems.extend(answer_problems(ctx, p, &sent, &doc));
                    let key = golden_key(
                        &ctx.spec.suite,
                        &ctx.spec.case.name,
                        input.map(|i| i.name.as_str()),
                        labelled.then_some(send.label.as_str()),
                    );
                    compare_golden(ctx, &mut findings, &key, &doc, &redactions(&run));
                }
            }
            record(&mut findings, problems, &exchange);
        }
    }
    Ok(findings.verdict())
}

/// One raw request as sent.
struct Sent<'a> {
    item: &'a str,
    input: Option<&'a Input>,
    run: &'a RunIds,
}

/// What is wrong with the envelope a raw request got.
fn answer_problems(
    ctx: &Ctx<'_>,
    p: &HttpStatusParams,
    sent: &Sent<'_>,
    doc: &Json,
) -> Vec<String> {
    let item = sent.item;
    let mut problems = Vec::new();
    let expected_id = p
        .expect_execution_id
        .as_ref()
        .map(|t| fill(t, sent.run, sent.input));
    if let Some(expected_id) = &expected_id
        && string_at(doc, &["execution_id"]) != Some(expected_id.as_str())
    {
        problems.push(format!(
            "{item}: execution_id is {:?}, expected {expected_id:?}",
            string_at(doc, &["execution_id"]).unwrap_or_default()
        ));
    }
    // A refused answer is an envelope like any other: every rule that
    // needs no prefix applies to it too; a success is judged as a run's
    // answer, with its id and prefix.
    let ran = p.expect_code.is_none();
    let violations = check_envelope(
        doc,
        &Expect {
            execution_id: ran.then_some(sent.run.execution_id.as_str()),
            prefix: ran.then_some(&sent.run.prefix),
            host_values: ctx.host_values,
            secret_values: ctx.secret_values,
        },
    );
    problems.extend(violation_lines(item, &violations));
    let status = string_at(doc, &["status"]);
    let code = string_at(doc, &["error", "code"]);
    let (expected, right) = match p.expect_code {
        Some(want) => (
            format!("an error envelope {}", want.as_str()),
            status == Some("error") && code == Some(want.as_str()),
        ),
        None => ("a success envelope".to_owned(), status == Some("success")),
    };
    if !right {
        problems.push(format!(
            "{item}: expected {expected}, got {}",
            status_phrase(doc)
        ));
    }
    problems
}
