//! `negative_endpoint` and `negative_image`: a whole invocation against a
//! processor that is not there gives the contract's error code, in the
//! same shape on this transport and its peer.

use theory_contract::{Digest, ErrorCode};

use super::super::golden;
use super::super::suite::{NegativeEndpointParams, Via};
use super::super::verdict::{Findings, Verdict};
use super::common::{
    comparable, next_ids, orchestrator_plan, outcome_doc, rendered, run_violations, violation_lines,
};
use super::doc::{shape, string_at};
use super::{Checked, Ctx};
use crate::adapter::{LocalSpec, Target, Transport};
use crate::orchestrator;
use crate::vocab::TargetKind;

/// A remote that does not exist: the planned target, pointed elsewhere.
pub(super) async fn endpoint(ctx: &mut Ctx<'_>, p: &NegativeEndpointParams) -> Checked {
    if ctx.spec.target == TargetKind::Local {
        return Err(Verdict::error(
            "negative_endpoint applies to remote targets",
        ));
    }
    let target = elsewhere(ctx.target()?, p)?;
    negative(ctx, &target, ErrorCode::EndpointMissing).await
}

/// `target` with its address replaced by one that does not exist.
fn elsewhere(target: Target, p: &NegativeEndpointParams) -> Result<Target, Verdict> {
    match target {
        Target::Url(mut spec) => {
            let mut missing = url::Url::parse("https://missing.invalid/")
                .map_err(|e| Verdict::error(e.to_string()))?;
            missing
                .set_host(Some(&p.host))
                .map_err(|e| Verdict::error(format!("host {:?}: {e}", p.host)))?;
            spec.url = missing;
            Ok(Target::Url(spec))
        }
        Target::Modal(mut spec) => {
            spec.app.clone_from(&p.modal_app);
            Ok(Target::Modal(spec))
        }
        Target::Local(_) => Err(Verdict::error(
            "negative_endpoint applies to remote targets",
        )),
    }
}

/// A local image that does not exist.
pub(super) async fn image(ctx: &mut Ctx<'_>) -> Checked {
    let Some(image) = ctx.pp.entry.image.as_ref() else {
        return Err(Verdict::skip("no image in the registry entry"));
    };
    // One missing digest per trial: the engine serializes concurrent pulls
    // of one reference behind a lock and retries them, which cost seconds
    // when the trials of every transport asked for the same one at once.
    let shift = match ctx.spec.via {
        Via::None => 1,
        Via::Ws => 2,
        Via::Http => 3,
        Via::Sse => 4,
    };
    let missing = missing_digest_by(image.digest(), shift);
    let mut spec = LocalSpec::new(
        format!("{}@{}", image.repository, missing.as_str()),
        ctx.run_id.to_owned(),
    );
    spec.port = ctx.pp.entry.port;
    spec.env = ctx.pp.entry.env.clone();
    spec.mount = Some(ctx.mount.clone());
    spec.image_digest = Some(missing);
    negative(ctx, &Target::Local(spec), ErrorCode::ImageNotFound).await
}

/// Runs a whole invocation (connect included) on `target` over this
/// transport and the peer; both must give `code`, in the same shape.
async fn negative(ctx: &mut Ctx<'_>, target: &Target, code: ErrorCode) -> Checked {
    let transport = ctx.transport()?;
    let mut sides = vec![transport];
    if let Some(peer) = ctx.work.peer_via.and_then(Via::transport) {
        sides.push(peer);
    }
    let run = next_ids(ctx);
    let inputs = ctx
        .work
        .inputs
        .first()
        .map_or_else(|| serde_json::json!({}), |i| i.value.clone());
    let mut findings = Findings::default();
    let mut shapes: Vec<(Transport, Vec<String>, String)> = Vec::new();
    for side in sides {
        let plan = orchestrator_plan(ctx, target, side, &run, &inputs, None);
        let outcome = orchestrator::run(&plan).await;
        let doc = outcome_doc(&outcome);
        let message = string_at(&doc, &["error", "message"]).unwrap_or_default();
        match outcome.envelope.error_code() {
            Some(got) if got == code => {}
            Some(ErrorCode::Docker) => {
                findings.error(format!("{side}: {message}"));
                continue;
            }
            Some(other) => findings.fail(format!(
                "{side}: expected {}, got {} ({message})",
                code.as_str(),
                other.as_str(),
            )),
            None => findings.fail(format!(
                "{side}: expected {}, got a success envelope",
                code.as_str()
            )),
        }
        for line in violation_lines(side.as_str(), &run_violations(ctx, &doc, &run)) {
            findings.fail(line);
        }
        shapes.push((side, shape(&doc), rendered(&comparable(&doc))));
    }
    if let [(a, shape_a, body_a), (b, shape_b, body_b)] = shapes.as_slice()
        && shape_a != shape_b
    {
        findings.fail(format!("{a} and {b} give envelopes of different shapes"));
        findings.diff(
            &format!("{a} vs {b}:"),
            golden::diff(a.as_str(), body_a, b.as_str(), body_b),
        );
    }
    Ok(findings.verdict())
}

/// A digest that differs from `of` in every hex digit (all `1` without one).
pub(super) fn missing_digest(of: Option<&Digest>) -> Digest {
    missing_digest_by(of, 1)
}

/// A digest whose every hex digit is `of`'s plus `shift` (1 to 15, mod 16),
/// so it differs from `of` in every digit; all `1` without one.
fn missing_digest_by(of: Option<&Digest>, shift: u32) -> Digest {
    let hex: String = match of {
        Some(digest) => digest
            .hex()
            .chars()
            .map(|c| {
                c.to_digit(16)
                    .and_then(|d| char::from_digit((d + shift) % 16, 16))
                    .unwrap_or('1')
            })
            .collect(),
        None => "1".repeat(64),
    };
    // 64 lowercase hex digits always parse; the fallback keeps this total.
    Digest::parse(&format!("sha256:{hex}"))
        .unwrap_or_else(|_| of.cloned().unwrap_or_else(one_digest))
}

#[expect(clippy::expect_used, reason = "a literal that parses")]
fn one_digest() -> Digest {
    Digest::parse(&format!("sha256:{}", "1".repeat(64))).expect("64 hex digits")
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn a_missing_digest_differs_in_every_digit() {
        let d = Digest::parse(&format!("sha256:{}", "0f".repeat(32))).unwrap();
        assert_eq!(missing_digest(Some(&d)).hex(), "10".repeat(32));
        assert_eq!(missing_digest_by(Some(&d), 3).hex(), "32".repeat(32));
        let shifted: std::collections::BTreeSet<String> = (1..=4)
            .map(|shift| missing_digest_by(Some(&d), shift).hex().to_owned())
            .collect();
        assert_eq!(shifted.len(), 4, "one digest per shift");
    }
}
