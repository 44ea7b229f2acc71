//! Comparing an envelope with its golden file.

use std::path::Path;

use theory_contract::canon::Json;

use super::super::golden::{self, Compared, Header, Redactions, Store};
use super::super::seed::RunIds;
use super::super::verdict::Findings;
use super::Ctx;

/// Compares an envelope with its golden; records a failure on a difference.
pub(super) fn compare_golden(
    ctx: &Ctx<'_>,
    findings: &mut Findings,
    key: &str,
    doc: &Json,
    redactions: &Redactions<'_>,
) {
    let Some(path) = ctx.work.goldens.get(key) else {
        return;
    };
    let bytes = golden::redacted_bytes(doc, redactions);
    let Ok(body) = golden::render(&bytes) else {
        findings.fail(format!(
            "{key}: the envelope cannot be rendered for its golden"
        ));
        return;
    };
    let item = key.split_once("__").map_or(key, |(_, item)| item);
    let header = Header {
        source: format!("suites/{}.yaml", ctx.spec.suite),
        expression: format!("{} {item} ({})", ctx.spec.case_id(), ctx.spec.processor),
    };
    let shown = ctx.golden.relative(path);
    match ctx.golden.compare(path, &header, &body) {
        Compared::Equal => {}
        Compared::Differs { diff, pending } => {
            findings.fail(format!(
                "golden {shown} differs{}",
                pending_note(ctx.golden, pending.as_deref())
            ));
            findings.diff(&format!("golden {shown}:"), diff);
        }
        Compared::Missing { pending } => findings.fail(format!(
            "golden {shown} is missing{}",
            pending_note(ctx.golden, pending.as_deref())
        )),
        Compared::Io(message) => findings.error(format!("golden {shown}: {message}")),
    }
}

fn pending_note(store: &Store, pending: Option<&Path>) -> String {
    match pending {
        Some(p) => format!(
            "; wrote {} (review with `theory-conform golden review`, accept with `golden accept`)",
            store.relative(p)
        ),
        None => "; nothing written (CI=true)".to_owned(),
    }
}

/// What a golden hides of one run: its execution id and its prefix.
pub(super) fn redactions(run: &RunIds) -> Redactions<'_> {
    Redactions {
        execution_id: &run.execution_id,
        prefix: run.prefix.as_str(),
    }
}
