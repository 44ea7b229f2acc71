//! `ws_close`: raw first frames and the close code each must get.

use theory_contract::FrameKind;

use super::super::suite::WsCloseParams;
use super::super::verdict::Findings;
use super::common::{infrastructure_of, items, next_ids, run_timeout};
use super::template::fill;
use super::trace::trace;
use super::{Checked, Ctx};
use crate::adapter::{self, Limits, WsMessage};

/// Every raw first frame is answered with the expected close code.
pub(super) async fn check(ctx: &mut Ctx<'_>, p: &WsCloseParams) -> Checked {
    let endpoint = ctx.endpoint()?;
    let mut findings = Findings::default();
    let inputs = ctx.work.inputs.clone();
    for input in items(&inputs) {
        for send in &p.sends {
            let run = next_ids(ctx);
            let text = fill(&send.text, &run, input);
            let first = if send.binary {
                WsMessage::Binary(text.into_bytes())
            } else {
                WsMessage::Text(text)
            };
            let exchange =
                adapter::ws_raw(&endpoint, first, true, run_timeout(ctx), &Limits::default()).await;
            if let Some(message) = infrastructure_of(&send.label, &exchange) {
                findings.error(message);
                continue;
            }
            let got = match (&exchange.close, &exchange.outcome) {
                (Some(close), _) if close.code == p.expect_close => continue,
                (Some(close), _) => format!("close {} {:?}", close.code, close.reason),
                (None, Err(e)) => format!("no close frame ({e})"),
                (None, Ok(_)) => "a RunResult and no close frame".to_owned(),
            };
            let result = if exchange
                .frames
                .iter()
                .any(|f| f.frame_kind() == Some(FrameKind::RunResult))
            {
                " after a RunResult"
            } else {
                ""
            };
            findings.fail_traced(
                format!(
                    "{}: expected close {}, got {got}{result}",
                    send.label, p.expect_close
                ),
                trace(&exchange),
            );
        }
    }
    Ok(findings.verdict())
}
