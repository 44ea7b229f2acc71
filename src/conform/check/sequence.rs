//! `ws_sequence` and `sse_sequence`: a run breaks no protocol rule, on the
//! error paths (invalid inputs, a crash) as on the valid one.

use super::super::verdict::Findings;
use super::common::{call_each, record};
use super::trace::trace;
use super::{Checked, Ctx};
use crate::adapter::Transport;

/// Every fixture's exchange over `transport` follows its protocol.
pub(super) async fn check(ctx: &mut Ctx<'_>, transport: Transport) -> Checked {
    let endpoint = ctx.endpoint()?;
    let mut findings = Findings::default();
    for called in call_each(ctx, &endpoint, transport).await {
        let (name, exchange) = (&called.input.name, &called.exchange);
        if exchange.breaks.is_empty() {
            match &exchange.outcome {
                Ok(_) => {}
                Err(e) if e.is_infrastructure() => findings.error(format!("{name}: {e}")),
                Err(e) => findings.fail_traced(format!("{name}: {e}"), trace(exchange)),
            }
            continue;
        }
        let lines: Vec<String> = exchange
            .breaks
            .iter()
            .map(|b| {
                let at = b.at.map(|i| format!(" at frame {i}")).unwrap_or_default();
                format!(
                    "{name}: {}{at}: {} ({})",
                    b.rule,
                    b.detail,
                    b.rule.requirement()
                )
            })
            .collect();
        record(&mut findings, lines, exchange);
    }
    Ok(findings.verdict())
}
