//! `ws_subprotocol`: refused when not offered, selected when offered.

use theory_contract::{Frame, SUBPROTOCOL};

use super::super::verdict::Findings;
use super::common::{next_ids, request, run_timeout, status_text};
use super::trace::trace;
use super::{Checked, Ctx};
use crate::adapter::{self, BreakRule, Endpoint, Exchange, Limits, WsMessage};

/// A handshake without the subprotocol is refused; one offering it gets it.
pub(super) async fn check(ctx: &mut Ctx<'_>) -> Checked {
    let endpoint = ctx.endpoint()?;
    let input = ctx.first_input()?;
    let mut findings = Findings::default();
    let unoffered = open(ctx, &endpoint, &input.value, false).await;
    match &unoffered.outcome {
        Err(e) if e.is_infrastructure() => findings.error(e.to_string()),
        Err(_) | Ok(_) => {
            if !unoffered.broke(BreakRule::WsHandshakeRefused) {
                findings.fail_traced(
                    format!(
                        "a handshake that does not offer {SUBPROTOCOL} was accepted (status {}); it must be refused",
                        status_text(unoffered.http_status)
                    ),
                    trace(&unoffered),
                );
            }
        }
    }
    let offered = open(ctx, &endpoint, &input.value, true).await;
    match &offered.outcome {
        Err(e) if e.is_infrastructure() => findings.error(e.to_string()),
        Err(_) | Ok(_) => {
            let broken = [
                BreakRule::WsSubprotocolNotSelected,
                BreakRule::WsSubprotocolUnexpected,
                BreakRule::WsHandshakeRefused,
            ]
            .into_iter()
            .find(|r| offered.broke(*r));
            if let Some(rule) = broken {
                findings.fail_traced(
                    format!(
                        "a handshake offering {SUBPROTOCOL}: {rule} ({})",
                        rule.requirement()
                    ),
                    trace(&offered),
                );
            } else if offered.subprotocol.as_deref() != Some(SUBPROTOCOL) {
                findings.fail_traced(
                    format!(
                        "a handshake offering {SUBPROTOCOL} selected {:?}",
                        offered.subprotocol
                    ),
                    trace(&offered),
                );
            }
        }
    }
    Ok(findings.verdict())
}

/// One `RunOpen` with fresh ids, the subprotocol offered or not.
async fn open(
    ctx: &mut Ctx<'_>,
    endpoint: &Endpoint,
    inputs: &serde_json::Value,
    offer: bool,
) -> Exchange {
    let run = next_ids(ctx);
    let open = Frame::run_open(request(&run, inputs)).to_text();
    adapter::ws_raw(
        endpoint,
        WsMessage::Text(open),
        offer,
        run_timeout(ctx),
        &Limits::default(),
    )
    .await
}
