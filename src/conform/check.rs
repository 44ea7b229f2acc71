//! The closed set of checks: one function per [`CheckKind`], each taking a
//! trial's context and returning a [`Verdict`].
//!
//! Contract checks look at the processor's own answer through the
//! adapter's calls (`call`, `http_raw`, `ws_raw`) on the shared endpoint,
//! so each sees exactly its rule before the orchestrator's policy folds a
//! breach into one `ERR_INTERNAL`. Parity, determinism, run budget and
//! supply chain go through the orchestrator (`run_on`, or `run` for the
//! negative cases) as a user's run does.
//!
//! **Invariant:** checks never print and never decide exit codes; a
//! processor's breach is a failure, an infrastructure problem an error.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use theory_contract::canon::{self, Json};
use theory_contract::{
    Digest, ErrorCode, Expect, Frame, RunRequest, SUBPROTOCOL, Violation, WritePrefix,
    check_envelope, comparable_bytes,
};

use super::golden::{self, Compared, Header, Redactions, Store};
use super::plan::{Input, ProcessorPlan, TrialSpec, Work, golden_key, item_labels};
use super::seed::{Ids, RunIds};
use super::suite::{
    Check, CheckKind, DeterminismParams, EnvelopeParams, HttpStatusParams, NegativeEndpointParams,
    Status, TargetName, Via, WsCloseParams,
};
use super::verdict::{Findings, Verdict};
use crate::adapter::{
    self, AdapterError, BreakRule, Endpoint, Exchange, HealthBudget, HealthReport, Limits,
    LocalSpec, Target, Transport, WsMessage,
};
use crate::orchestrator::{self, Outcome, Plan, TargetSource};
use crate::plan::{Environment, TargetInputs, build_target};

/// The run mode every request carries.
pub const MODE: &str = "mock";
/// The largest artifact read when comparing bytes.
const ARTIFACT_MAX: u64 = 16 * 1024 * 1024;

/// A shared endpoint of one (processor, target), resolved once per run.
#[derive(Debug)]
pub struct Connected {
    /// The endpoint, or why it could not be reached (an infrastructure error).
    pub endpoint: Result<Endpoint, String>,
    /// The one health check made when it was resolved.
    pub health: Option<Result<HealthReport, AdapterError>>,
}

/// Everything a check needs.
pub struct Ctx<'a> {
    /// The trial.
    pub spec: &'a TrialSpec,
    /// What it runs.
    pub work: &'a Work,
    /// Its processor.
    pub pp: &'a ProcessorPlan,
    /// The trial target's shared endpoint (for checks that use one).
    pub connected: Option<&'a Connected>,
    /// The peer target's shared endpoint (parity across targets).
    pub peer: Option<&'a Connected>,
    /// The trial's ids and prefixes.
    pub ids: Ids,
    /// The goldens.
    pub golden: &'a Store,
    /// Values no envelope may carry (host names).
    pub host_values: &'a [String],
    /// The declared secrets and whether each is set.
    pub secrets: &'a [(String, bool)],
    /// The environment, read once (Modal's interpreter for negative parity).
    pub env: &'a Environment,
    /// The run folder (containers of the negative cases mount it).
    pub mount: &'a WritePrefix,
    /// Labels this run's containers.
    pub run_id: &'a str,
}

/// Whether a check uses the trial target's shared endpoint.
pub const fn uses_endpoint(kind: CheckKind) -> bool {
    match kind {
        CheckKind::Envelope
        | CheckKind::Artifacts
        | CheckKind::HttpStatus
        | CheckKind::WsClose
        | CheckKind::WsSequence
        | CheckKind::WsSubprotocol
        | CheckKind::SseSequence
        | CheckKind::Health
        | CheckKind::RunBudget
        | CheckKind::ParityTransports
        | CheckKind::ParityTargets
        | CheckKind::Determinism
        | CheckKind::Digest => true,
        CheckKind::NegativeEndpoint | CheckKind::NegativeImage | CheckKind::ImagePinned => false,
    }
}

/// Runs the trial's check.
pub async fn run(ctx: &mut Ctx<'_>) -> Verdict {
    let check = ctx.spec.case.check.clone();
    match &check {
        Check::Envelope(p) => envelope(ctx, p).await,
        Check::Artifacts => artifacts(ctx).await,
        Check::HttpStatus(p) => http_status(ctx, p).await,
        Check::WsClose(p) => ws_close(ctx, p).await,
        Check::WsSequence => sequence(ctx, Transport::Ws).await,
        Check::WsSubprotocol => ws_subprotocol(ctx).await,
        Check::SseSequence => sequence(ctx, Transport::Sse).await,
        Check::Health => health(ctx),
        Check::RunBudget => run_budget(ctx).await,
        Check::ParityTransports => parity_transports(ctx).await,
        Check::ParityTargets => parity_targets(ctx).await,
        Check::NegativeEndpoint(p) => negative_endpoint(ctx, p).await,
        Check::NegativeImage => negative_image(ctx).await,
        Check::Determinism(p) => determinism(ctx, p).await,
        Check::Digest => digest(ctx).await,
        Check::ImagePinned => image_pinned(ctx),
    }
}

// ---------------------------------------------------------------- helpers

/// The trial's endpoint, or the verdict that ends the trial.
fn endpoint_of(connected: Option<&Connected>) -> Result<&Endpoint, Verdict> {
    match connected.map(|c| &c.endpoint) {
        Some(Ok(endpoint)) => Ok(endpoint),
        Some(Err(message)) => Err(Verdict::Error {
            message: message.clone(),
        }),
        None => Err(Verdict::Error {
            message: "no endpoint was resolved for this trial".to_owned(),
        }),
    }
}

fn transport_of(via: Via) -> Result<Transport, Verdict> {
    via.transport().ok_or_else(|| Verdict::Error {
        message: "this check needs a transport, and the trial has none".to_owned(),
    })
}

fn run_timeout(ctx: &Ctx<'_>) -> Duration {
    ctx.pp.entry.run_timeout
}

/// Draws the next ids and creates the prefix folder (as the orchestrator does).
fn next_ids(ids: &mut Ids) -> RunIds {
    let run = ids.draw_next();
    // The processor creates the prefix too; a failure here shows in its answer.
    let _ = std::fs::create_dir_all(run.prefix.as_str());
    run
}

fn request(run: &RunIds, inputs: &serde_json::Value) -> RunRequest {
    Plan::request(&run.execution_id, inputs.clone(), &run.prefix, MODE)
}

/// Whether an adapter failure is the harness's environment rather than the processor.
fn infrastructure(error: &AdapterError) -> bool {
    match error {
        AdapterError::Engine { .. }
        | AdapterError::ImageNotFound { .. }
        | AdapterError::ContainerStart { .. }
        | AdapterError::ModalResolve { .. }
        | AdapterError::InvalidUrl { .. }
        | AdapterError::CaFile { .. } => true,
        AdapterError::Unresolvable { .. }
        | AdapterError::Unreachable { .. }
        | AdapterError::Tls { .. }
        | AdapterError::Health { .. }
        | AdapterError::Timeout { .. }
        | AdapterError::Protocol { .. } => false,
    }
}

/// The wire trace of an exchange, one fact per line, redacted.
pub fn trace(exchange: &Exchange) -> String {
    let mut out = format!("transport: {}\n", exchange.transport);
    if let Some(status) = exchange.http_status {
        out.push_str(&format!("http status: {status}\n"));
    }
    if let Some(sub) = &exchange.subprotocol {
        out.push_str(&format!("subprotocol: {sub}\n"));
    }
    if !exchange.frames.is_empty() {
        let frames: Vec<String> = exchange
            .frames
            .iter()
            .map(|f| format!("#{} {} ({} B)", f.index, f.kind, f.bytes))
            .collect();
        out.push_str(&format!("frames: {}\n", frames.join(", ")));
    }
    for b in &exchange.breaks {
        let at = b.at.map(|i| format!(" at frame {i}")).unwrap_or_default();
        out.push_str(&format!("break: {}{at}: {}\n", b.rule, b.detail));
    }
    if let Some(close) = &exchange.close {
        out.push_str(&format!("close: {} {:?}\n", close.code, close.reason));
    }
    match &exchange.outcome {
        Ok(answer) => out.push_str(&format!("answer: {} B\n", answer.raw.len())),
        Err(e) => out.push_str(&format!("outcome: {} ({})\n", e, e.code().as_str())),
    }
    crate::redact::text(&out)
}

/// Whether the exchange broke the WebSocket or SSE protocol: the sequence
/// checks (`ws_sequence`, `sse_sequence`) own those findings, so a check
/// about the envelope skips rather than repeat them.
fn sequence_broken(exchange: &Exchange) -> bool {
    matches!(exchange.transport, Transport::Ws | Transport::Sse)
        && matches!(exchange.outcome, Err(AdapterError::Protocol { .. }))
}

/// The answer's JSON, or why there is none.
fn answer_doc(exchange: &Exchange) -> Result<Json, String> {
    match &exchange.outcome {
        Ok(answer) => answer
            .canonical
            .as_deref()
            .and_then(|c| canon::parse(c).ok())
            .ok_or_else(|| "the answer is not strict JSON (envelope.not_json)".to_owned()),
        Err(e) => Err(format!("no envelope: {e}")),
    }
}

fn violation_lines(item: &str, violations: &[Violation]) -> Vec<String> {
    violations
        .iter()
        .map(|v| format!("{item}: {} at {:?}: {}", v.rule, v.pointer, v.message))
        .collect()
}

fn member<'a>(doc: &'a Json, path: &[&str]) -> Option<&'a Json> {
    path.iter().try_fold(doc, |value, key| match value {
        Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_) | Json::Array(_) => None,
    })
}

fn string_at<'a>(doc: &'a Json, path: &[&str]) -> Option<&'a str> {
    match member(doc, path) {
        Some(Json::String(s)) => Some(s),
        Some(Json::Null | Json::Bool(_) | Json::Number(_) | Json::Array(_) | Json::Object(_))
        | None => None,
    }
}

/// `status`, and `error.code` for an error envelope, as one phrase.
fn status_phrase(doc: &Json) -> String {
    match (
        string_at(doc, &["status"]),
        string_at(doc, &["error", "code"]),
    ) {
        (Some("error"), Some(code)) => format!("an error envelope {code}"),
        (Some(status), _) => format!("a {status:?} envelope"),
        (None, _) => "an envelope without status".to_owned(),
    }
}

/// Compares an envelope with its golden; records a failure on a difference.
fn compare_golden(
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

/// The orchestrator plan of one run on `target`.
fn orchestrator_plan(
    ctx: &Ctx<'_>,
    target: &Target,
    transport: Transport,
    run: &RunIds,
    inputs: &serde_json::Value,
    expected: Option<Digest>,
) -> Plan {
    Plan {
        processor: ctx.spec.processor.clone(),
        target: target.clone(),
        target_source: TargetSource::Flag,
        transport,
        execution_id: run.execution_id.clone(),
        prefix: run.prefix.clone(),
        request: request(run, inputs),
        run_timeout: ctx.pp.entry.run_timeout,
        health: HealthBudget::with_total(ctx.pp.entry.health),
        expected,
        secrets: ctx.secrets.to_vec(),
        host_values: ctx.host_values.to_vec(),
        limits: Limits::default(),
    }
}

/// The expected digest for the processor: `expected_oci`, else the image's pin.
fn expected_digest(pp: &ProcessorPlan) -> Option<Digest> {
    pp.entry
        .expected
        .as_ref()
        .and_then(|r| r.digest().cloned())
        .or_else(|| pp.entry.image.as_ref().and_then(|i| i.digest().cloned()))
}

/// An outcome's JSON (an orchestrator envelope always canonicalizes).
fn outcome_doc(outcome: &Outcome) -> Json {
    canon::parse(&outcome.canonical).unwrap_or(Json::Null)
}

fn comparable(doc: &Json) -> Vec<u8> {
    comparable_bytes(doc).unwrap_or_default()
}

fn rendered(bytes: &[u8]) -> String {
    golden::render(bytes).unwrap_or_else(|_| String::from_utf8_lossy(bytes).into_owned())
}

/// Whether an orchestrator outcome is an infrastructure problem.
fn outcome_infrastructure(outcome: &Outcome) -> Option<String> {
    match &outcome.envelope {
        theory_contract::Envelope::Error(e) if e.error.code == ErrorCode::Docker => {
            Some(format!("{}: {}", e.error.code.as_str(), e.error.message))
        }
        theory_contract::Envelope::Error(_) | theory_contract::Envelope::Success(_) => None,
    }
}

fn prefix_reachable(target: TargetName, endpoint: &Endpoint) -> bool {
    let loopback = match endpoint.base.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match target {
        TargetName::Local => true,
        TargetName::Url | TargetName::Modal => loopback,
    }
}

/// Fills a template's placeholders.
fn fill(template: &str, run: &RunIds, input: Option<&Input>) -> String {
    let inputs = input.map(|i| {
        canon::to_canonical_serde(&i.value)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|_| i.value.to_string())
    });
    let req = input.map(|i| request(run, &i.value));
    let request_text = req.as_ref().map(|r| {
        canon::to_canonical_serde(r)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    });
    let run_open = req.map(|r| Frame::run_open(r).to_text());
    // One pass, left to right: a substituted value is never expanded again.
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        let value = [
            ("{request}", request_text.as_deref()),
            ("{inputs}", inputs.as_deref()),
            ("{execution_id}", Some(run.execution_id.as_str())),
            ("{prefix}", Some(run.prefix.as_str())),
            ("{run_open}", run_open.as_deref()),
        ]
        .into_iter()
        .find(|(p, _)| tail.starts_with(p));
        match value {
            Some((placeholder, value)) => {
                out.push_str(value.unwrap_or_default());
                rest = &tail[placeholder.len()..];
            }
            None => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The fixtures of a trial, or one `None` when it takes none.
fn items(inputs: &[Input]) -> Vec<Option<&Input>> {
    if inputs.is_empty() {
        vec![None]
    } else {
        inputs.iter().map(Some).collect()
    }
}

// ----------------------------------------------------------------- checks

/// `envelope`: the processor's own envelope for each fixture.
async fn envelope(ctx: &mut Ctx<'_>, p: &EnvelopeParams) -> Verdict {
    let (endpoint, transport) = match (endpoint_of(ctx.connected), transport_of(ctx.spec.via)) {
        (Ok(e), Ok(t)) => (e.clone(), t),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    let mut skipped = Vec::new();
    let mut findings = Findings::default();
    let inputs = ctx.work.inputs.clone();
    for input in &inputs {
        let run = next_ids(&mut ctx.ids);
        let req = request(&run, &input.value);
        let exchange = adapter::call(
            &endpoint,
            transport,
            &req,
            run_timeout(ctx),
            &Limits::default(),
        )
        .await;
        if let Err(e) = &exchange.outcome
            && infrastructure(e)
        {
            findings.error(format!("{}: {e}", input.name));
            continue;
        }
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
        let violations = check_envelope(
            &doc,
            &Expect {
                execution_id: Some(&run.execution_id),
                prefix: Some(&run.prefix),
                host_values: ctx.host_values,
            },
        );
        let mut problems = violation_lines(&input.name, &violations);
        let want_http = p.http_status.unwrap_or(200);
        if matches!(transport, Transport::Http | Transport::Sse)
            && exchange.http_status != Some(want_http)
        {
            problems.push(format!(
                "{}: http status {}, expected {want_http}",
                input.name,
                exchange
                    .http_status
                    .map_or("none".to_owned(), |s| s.to_string())
            ));
        }
        let status = string_at(&doc, &["status"]);
        let code = string_at(&doc, &["error", "code"]);
        let ok = match (p.expect_status, p.expect_code) {
            (Status::Success, _) => status == Some("success"),
            (Status::Error, Some(want)) => status == Some("error") && code == Some(want.as_str()),
            (Status::Error, None) => status == Some("error"),
        };
        if !ok {
            let want = match p.expect_code {
                Some(code) => format!("an error envelope {}", code.as_str()),
                None => format!("a {:?} envelope", p.expect_status.as_str()),
            };
            let message = string_at(&doc, &["error", "message"])
                .map(|m| format!(" ({m:?})"))
                .unwrap_or_default();
            problems.push(format!(
                "{}: expected {want}, got {}{message}",
                input.name,
                status_phrase(&doc)
            ));
        }
        record(&mut findings, problems, &exchange);
        let key = golden_key(
            &ctx.spec.suite,
            &ctx.spec.case.name,
            Some(&input.name),
            None,
        );
        compare_golden(
            ctx,
            &mut findings,
            &key,
            &doc,
            &Redactions {
                execution_id: &run.execution_id,
                prefix: run.prefix.as_str(),
            },
        );
    }
    skip_if_unseen(findings, &skipped, ctx.work.inputs.len())
}

/// The verdict, or a skip when no fixture's envelope could be seen (the
/// sequence check reports why).
fn skip_if_unseen(findings: Findings, skipped: &[String], total: usize) -> Verdict {
    if !skipped.is_empty() && skipped.len() == total && findings.is_clean() {
        return Verdict::Skip {
            reason: format!(
                "no envelope arrived by the book for {}; the sequence case reports the protocol break",
                skipped.join(", ")
            ),
        };
    }
    findings.verdict()
}

/// Records `problems` (the first with the exchange's trace).
fn record(findings: &mut Findings, problems: Vec<String>, exchange: &Exchange) {
    let mut problems = problems.into_iter();
    if let Some(first) = problems.next() {
        findings.fail_traced(first, trace(exchange));
    }
    for problem in problems {
        findings.fail(problem);
    }
}

/// `artifacts`: the disk rules for each valid fixture's outputs.
async fn artifacts(ctx: &mut Ctx<'_>) -> Verdict {
    let (endpoint, transport) = match (endpoint_of(ctx.connected), transport_of(ctx.spec.via)) {
        (Ok(e), Ok(t)) => (e.clone(), t),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    if !prefix_reachable(ctx.spec.target, &endpoint) {
        return Verdict::Skip {
            reason: "the write prefix of a remote target is not on this machine".to_owned(),
        };
    }
    let mut skipped = Vec::new();
    let mut findings = Findings::default();
    let inputs = ctx.work.inputs.clone();
    for input in &inputs {
        let run = next_ids(&mut ctx.ids);
        let req = request(&run, &input.value);
        let exchange = adapter::call(
            &endpoint,
            transport,
            &req,
            run_timeout(ctx),
            &Limits::default(),
        )
        .await;
        if let Err(e) = &exchange.outcome
            && infrastructure(e)
        {
            findings.error(format!("{}: {e}", input.name));
            continue;
        }
        let Ok(doc) = answer_doc(&exchange) else {
            skipped.push(input.name.clone());
            continue;
        };
        if string_at(&doc, &["status"]) != Some("success") {
            skipped.push(input.name.clone());
            continue;
        }
        let violations = crate::artifacts::check(&doc, &run.prefix);
        for line in violation_lines(&input.name, &violations) {
            findings.fail(line);
        }
    }
    if !skipped.is_empty() && skipped.len() == inputs.len() && findings.is_clean() {
        return Verdict::Skip {
            reason: format!(
                "no success envelope for {}: nothing on disk to check (contract::envelope reports why)",
                skipped.join(", ")
            ),
        };
    }
    findings.verdict()
}

/// `http_status`: raw requests and the status, code and id they must get.
async fn http_status(ctx: &mut Ctx<'_>, p: &HttpStatusParams) -> Verdict {
    let (endpoint, transport) = match (endpoint_of(ctx.connected), transport_of(ctx.spec.via)) {
        (Ok(e), Ok(t)) => (e.clone(), t),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    let path = match transport {
        Transport::Sse => "run-stream",
        Transport::Http | Transport::Ws => "run",
    };
    let labelled = item_labels(&ctx.spec.case).iter().any(Option::is_some);
    let mut findings = Findings::default();
    let inputs = ctx.work.inputs.clone();
    for input in items(&inputs) {
        for send in &p.sends {
            let run = next_ids(&mut ctx.ids);
            let item = match input {
                Some(i) => format!("{}/{}", i.name, send.label),
                None => send.label.clone(),
            };
            let body = fill(&send.body, &run, input);
            let exchange = adapter::http_raw(
                &endpoint,
                path,
                send.content_type.as_deref(),
                body.into_bytes(),
                send.chunked,
                run_timeout(ctx),
                &Limits::default(),
            )
            .await;
            if let Err(e) = &exchange.outcome
                && infrastructure(e)
            {
                findings.error(format!("{item}: {e}"));
                continue;
            }
            let mut problems = Vec::new();
            if exchange.http_status != Some(p.expect_status) {
                problems.push(format!(
                    "{item}: http status {}, expected {}",
                    exchange
                        .http_status
                        .map_or("none".to_owned(), |s| s.to_string()),
                    p.expect_status
                ));
            }
            let expected_id = p.expect_execution_id.as_ref().map(|t| fill(t, &run, input));
            match answer_doc(&exchange) {
                Err(why) => problems.push(format!("{item}: {why}")),
                Ok(doc) => {
                    if let Some(expected_id) = &expected_id
                        && string_at(&doc, &["execution_id"]) != Some(expected_id.as_str())
                    {
                        problems.push(format!(
                            "{item}: execution_id is {:?}, expected {expected_id:?}",
                            string_at(&doc, &["execution_id"]).unwrap_or_default()
                        ));
                    }
                    // A refused answer is an envelope like any other: every
                    // rule that needs no prefix applies to it too.
                    let violations = check_envelope(
                        &doc,
                        &Expect {
                            execution_id: None,
                            prefix: None,
                            host_values: ctx.host_values,
                        },
                    );
                    problems.extend(violation_lines(&item, &violations));
                    let code = string_at(&doc, &["error", "code"]);
                    if string_at(&doc, &["status"]) != Some("error")
                        || code != Some(p.expect_code.as_str())
                    {
                        problems.push(format!(
                            "{item}: expected an error envelope {}, got {}",
                            p.expect_code.as_str(),
                            status_phrase(&doc)
                        ));
                    }
                    let key = golden_key(
                        &ctx.spec.suite,
                        &ctx.spec.case.name,
                        input.map(|i| i.name.as_str()),
                        labelled.then_some(send.label.as_str()),
                    );
                    compare_golden(
                        ctx,
                        &mut findings,
                        &key,
                        &doc,
                        &Redactions {
                            execution_id: &run.execution_id,
                            prefix: run.prefix.as_str(),
                        },
                    );
                }
            }
            record(&mut findings, problems, &exchange);
        }
    }
    findings.verdict()
}

/// `ws_close`: raw first frames and the close code each must get.
async fn ws_close(ctx: &mut Ctx<'_>, p: &WsCloseParams) -> Verdict {
    let endpoint = match endpoint_of(ctx.connected) {
        Ok(e) => e.clone(),
        Err(v) => return v,
    };
    let mut findings = Findings::default();
    let inputs = ctx.work.inputs.clone();
    for input in items(&inputs) {
        for send in &p.sends {
            let run = next_ids(&mut ctx.ids);
            let text = fill(&send.text, &run, input);
            let first = if send.binary {
                WsMessage::Binary(text.into_bytes())
            } else {
                WsMessage::Text(text)
            };
            let exchange =
                adapter::ws_raw(&endpoint, first, true, run_timeout(ctx), &Limits::default()).await;
            if let Err(e) = &exchange.outcome
                && infrastructure(e)
            {
                findings.error(format!("{}: {e}", send.label));
                continue;
            }
            let got = match (&exchange.close, &exchange.outcome) {
                (Some(close), _) if close.code == p.expect_close => continue,
                (Some(close), _) => format!("close {} {:?}", close.code, close.reason),
                (None, Err(e)) => format!("no close frame ({e})"),
                (None, Ok(_)) => "a RunResult and no close frame".to_owned(),
            };
            let result = if exchange.frames.iter().any(|f| f.kind == "RunResult") {
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
    findings.verdict()
}

/// `ws_sequence` and `sse_sequence`: a normal run breaks no protocol rule.
async fn sequence(ctx: &mut Ctx<'_>, transport: Transport) -> Verdict {
    let endpoint = match endpoint_of(ctx.connected) {
        Ok(e) => e.clone(),
        Err(v) => return v,
    };
    let mut findings = Findings::default();
    let inputs = ctx.work.inputs.clone();
    for input in &inputs {
        let run = next_ids(&mut ctx.ids);
        let req = request(&run, &input.value);
        let exchange = adapter::call(
            &endpoint,
            transport,
            &req,
            run_timeout(ctx),
            &Limits::default(),
        )
        .await;
        if exchange.breaks.is_empty() {
            match &exchange.outcome {
                Ok(_) => {}
                Err(e) if infrastructure(e) => findings.error(format!("{}: {e}", input.name)),
                Err(e) => findings.fail_traced(format!("{}: {e}", input.name), trace(&exchange)),
            }
            continue;
        }
        let lines: Vec<String> = exchange
            .breaks
            .iter()
            .map(|b| {
                let at = b.at.map(|i| format!(" at frame {i}")).unwrap_or_default();
                format!(
                    "{}: {}{at}: {} ({})",
                    input.name,
                    b.rule,
                    b.detail,
                    b.rule.requirement()
                )
            })
            .collect();
        record(&mut findings, lines, &exchange);
    }
    findings.verdict()
}

/// `ws_subprotocol`: refused when not offered, selected when offered.
async fn ws_subprotocol(ctx: &mut Ctx<'_>) -> Verdict {
    let endpoint = match endpoint_of(ctx.connected) {
        Ok(e) => e.clone(),
        Err(v) => return v,
    };
    let Some(input) = ctx.work.inputs.first().cloned() else {
        return Verdict::Skip {
            reason: "no fixture".to_owned(),
        };
    };
    let mut findings = Findings::default();
    let run = next_ids(&mut ctx.ids);
    let open = Frame::run_open(request(&run, &input.value)).to_text();
    let unoffered = adapter::ws_raw(
        &endpoint,
        WsMessage::Text(open.clone()),
        false,
        run_timeout(ctx),
        &Limits::default(),
    )
    .await;
    match &unoffered.outcome {
        Err(e) if infrastructure(e) => findings.error(e.to_string()),
        Err(_) | Ok(_) => {
            if !unoffered.broke(BreakRule::WsHandshakeRefused) {
                findings.fail_traced(
                    format!(
                        "a handshake that does not offer {SUBPROTOCOL} was accepted (status {}); it must be refused",
                        unoffered.http_status.map_or("none".to_owned(), |s| s.to_string())
                    ),
                    trace(&unoffered),
                );
            }
        }
    }
    let run = next_ids(&mut ctx.ids);
    let open = Frame::run_open(request(&run, &input.value)).to_text();
    let offered = adapter::ws_raw(
        &endpoint,
        WsMessage::Text(open),
        true,
        run_timeout(ctx),
        &Limits::default(),
    )
    .await;
    match &offered.outcome {
        Err(e) if infrastructure(e) => findings.error(e.to_string()),
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
    findings.verdict()
}

/// `health`: the one health check made when the endpoint was resolved.
fn health(ctx: &Ctx<'_>) -> Verdict {
    let Some(connected) = ctx.connected else {
        return Verdict::Error {
            message: "no endpoint was resolved for this trial".to_owned(),
        };
    };
    if let Err(message) = &connected.endpoint {
        return Verdict::Error {
            message: message.clone(),
        };
    }
    match &connected.health {
        Some(Ok(_)) => Verdict::Pass,
        Some(Err(e)) => {
            let mut findings = Findings::default();
            findings.fail(format!("{} ({})", e, e.code().as_str()));
            findings.verdict()
        }
        None => Verdict::Error {
            message: "health was not checked".to_owned(),
        },
    }
}

/// `run_budget`: a valid run settles within the registry's run budget.
async fn run_budget(ctx: &mut Ctx<'_>) -> Verdict {
    let (endpoint, transport) = match (endpoint_of(ctx.connected), transport_of(ctx.spec.via)) {
        (Ok(e), Ok(t)) => (e.clone(), t),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    let Some(target) = ctx.pp.targets.get(&ctx.spec.target).cloned() else {
        return Verdict::Error {
            message: "the target was not planned".to_owned(),
        };
    };
    let mut findings = Findings::default();
    let inputs = ctx.work.inputs.clone();
    for input in &inputs {
        let run = next_ids(&mut ctx.ids);
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
    findings.verdict()
}

/// Runs one request twice (on two endpoints or transports) with the same
/// ids, and compares the two canonical envelopes.
async fn compare_pair(
    ctx: &Ctx<'_>,
    findings: &mut Findings,
    input: &Input,
    run: &RunIds,
    a: (&Target, &Endpoint, Transport, String),
    b: (&Target, &Endpoint, Transport, String),
    expected: Option<&Digest>,
) {
    let (ta, ea, xa, na) = a;
    let (tb, eb, xb, nb) = b;
    let plan_a = orchestrator_plan(ctx, ta, xa, run, &input.value, expected.cloned());
    let outcome_a = orchestrator::run_on(&plan_a, ea).await;
    let plan_b = orchestrator_plan(ctx, tb, xb, run, &input.value, expected.cloned());
    let outcome_b = orchestrator::run_on(&plan_b, eb).await;
    for outcome in [&outcome_a, &outcome_b] {
        if let Some(message) = outcome_infrastructure(outcome) {
            findings.error(format!("{}: {message}", input.name));
            return;
        }
    }
    let bytes_a = comparable(&outcome_doc(&outcome_a));
    let bytes_b = comparable(&outcome_doc(&outcome_b));
    if bytes_a != bytes_b {
        findings.fail(format!(
            "{}: {na} and {nb} give different canonical envelopes",
            input.name
        ));
        let redactions = Redactions {
            execution_id: &run.execution_id,
            prefix: run.prefix.as_str(),
        };
        let show = |outcome: &Outcome| {
            rendered(&golden::redacted_bytes(&outcome_doc(outcome), &redactions))
        };
        findings.diff(
            &format!("{}: {na} vs {nb}:", input.name),
            golden::diff(&na, &show(&outcome_a), &nb, &show(&outcome_b)),
        );
    }
}

/// `parity_transports`: this transport against the next of the lane.
async fn parity_transports(ctx: &mut Ctx<'_>) -> Verdict {
    let (endpoint, transport) = match (endpoint_of(ctx.connected), transport_of(ctx.spec.via)) {
        (Ok(e), Ok(t)) => (e.clone(), t),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    let Some(peer) = ctx.work.peer_via.and_then(Via::transport) else {
        return Verdict::Error {
            message: "parity without a peer transport".to_owned(),
        };
    };
    let Some(target) = ctx.pp.targets.get(&ctx.spec.target).cloned() else {
        return Verdict::Error {
            message: "the target was not planned".to_owned(),
        };
    };
    let expected = expected_digest(ctx.pp).filter(|_| ctx.pp.entry.expected.is_some());
    let mut findings = Findings::default();
    let inputs = ctx.work.inputs.clone();
    for input in &inputs {
        let run = next_ids(&mut ctx.ids);
        compare_pair(
            ctx,
            &mut findings,
            input,
            &run,
            (&target, &endpoint, transport, transport.to_string()),
            (&target, &endpoint, peer, peer.to_string()),
            expected.as_ref(),
        )
        .await;
    }
    findings.verdict()
}

/// `parity_targets`: this target against the next of the lane.
async fn parity_targets(ctx: &mut Ctx<'_>) -> Verdict {
    let (endpoint, transport) = match (endpoint_of(ctx.connected), transport_of(ctx.spec.via)) {
        (Ok(e), Ok(t)) => (e.clone(), t),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    let peer_endpoint = match endpoint_of(ctx.peer) {
        Ok(e) => e.clone(),
        Err(v) => return v,
    };
    let (Some(peer_name), Some(target)) = (
        ctx.work.peer_target,
        ctx.pp.targets.get(&ctx.spec.target).cloned(),
    ) else {
        return Verdict::Error {
            message: "parity without a peer target".to_owned(),
        };
    };
    let Some(peer_target) = ctx.pp.targets.get(&peer_name).cloned() else {
        return Verdict::Error {
            message: "the peer target was not planned".to_owned(),
        };
    };
    let expected = expected_digest(ctx.pp).filter(|_| ctx.pp.entry.expected.is_some());
    let mut findings = Findings::default();
    let inputs = ctx.work.inputs.clone();
    for input in &inputs {
        let run = next_ids(&mut ctx.ids);
        compare_pair(
            ctx,
            &mut findings,
            input,
            &run,
            (&target, &endpoint, transport, ctx.spec.target.to_string()),
            (
                &peer_target,
                &peer_endpoint,
                transport,
                peer_name.to_string(),
            ),
            expected.as_ref(),
        )
        .await;
    }
    findings.verdict()
}

/// The JSON pointers of every member and element (the envelope's shape),
/// without `meta.stderr_tail`.
fn shape(doc: &Json) -> Vec<String> {
    fn walk(value: &Json, at: &str, out: &mut Vec<String>) {
        match value {
            Json::Object(members) => {
                for (key, item) in members {
                    let here = format!("{at}/{}", theory_contract::pointer_token(key));
                    if here == "/meta/stderr_tail" {
                        continue;
                    }
                    out.push(here.clone());
                    walk(item, &here, out);
                }
            }
            Json::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let here = format!("{at}/{i}");
                    out.push(here.clone());
                    walk(item, &here, out);
                }
            }
            Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_) => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, "", &mut out);
    out.sort();
    out
}

/// Runs a whole invocation (connect included) on `target` over this
/// transport and the peer; both must give `code`, in the same shape.
async fn negative(ctx: &mut Ctx<'_>, target: &Target, code: ErrorCode) -> Verdict {
    let transport = match transport_of(ctx.spec.via) {
        Ok(t) => t,
        Err(v) => return v,
    };
    let mut sides = vec![transport];
    if let Some(peer) = ctx.work.peer_via.and_then(Via::transport) {
        sides.push(peer);
    }
    let run = next_ids(&mut ctx.ids);
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
        match outcome.envelope.error_code() {
            Some(got) if got == code => {}
            Some(ErrorCode::Docker) => {
                findings.error(format!(
                    "{side}: {}",
                    string_at(&doc, &["error", "message"]).unwrap_or_default()
                ));
                continue;
            }
            Some(other) => findings.fail(format!(
                "{side}: expected {}, got {} ({})",
                code.as_str(),
                other.as_str(),
                string_at(&doc, &["error", "message"]).unwrap_or_default()
            )),
            None => findings.fail(format!(
                "{side}: expected {}, got a success envelope",
                code.as_str()
            )),
        }
        let violations = check_envelope(
            &doc,
            &Expect {
                execution_id: Some(&run.execution_id),
                prefix: Some(&run.prefix),
                host_values: ctx.host_values,
            },
        );
        for line in violation_lines(side.as_str(), &violations) {
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
    findings.verdict()
}

/// `negative_endpoint`: a remote that does not exist.
async fn negative_endpoint(ctx: &mut Ctx<'_>, p: &NegativeEndpointParams) -> Verdict {
    let mut entry = ctx.pp.entry.clone();
    let mut url = None;
    match ctx.spec.target {
        TargetName::Url => {
            let mut missing = match url::Url::parse("https://missing.invalid/") {
                Ok(u) => u,
                Err(e) => {
                    return Verdict::Error {
                        message: e.to_string(),
                    };
                }
            };
            if let Err(e) = missing.set_host(Some(&p.host)) {
                return Verdict::Error {
                    message: format!("host {:?}: {e}", p.host),
                };
            }
            url = Some(missing.to_string());
        }
        TargetName::Modal => {
            if let Some(modal) = entry.modal.as_mut() {
                modal.app = p.modal_app.clone();
            }
        }
        TargetName::Local => {
            return Verdict::Error {
                message: "negative_endpoint applies to remote targets".to_owned(),
            };
        }
    }
    let target = match build_target(&TargetInputs {
        kind: ctx.spec.target.kind(),
        processor: &ctx.spec.processor,
        entry: Some(&entry),
        url: url.as_deref(),
        ca_file: None,
        mount: ctx.mount.clone(),
        run_id: ctx.run_id.to_owned(),
        env: ctx.env,
    }) {
        Ok(t) => t,
        Err(message) => return Verdict::Error { message },
    };
    negative(ctx, &target, ErrorCode::EndpointMissing).await
}

/// `negative_image`: a local image that does not exist.
async fn negative_image(ctx: &mut Ctx<'_>) -> Verdict {
    let Some(image) = ctx.pp.entry.image.as_ref() else {
        return Verdict::Skip {
            reason: "no image in the registry entry".to_owned(),
        };
    };
    let missing = missing_digest(image.digest());
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

/// A digest that differs from `of` in every hex digit (all `1` without one).
fn missing_digest(of: Option<&Digest>) -> Digest {
    let hex: String = match of {
        Some(digest) => digest
            .hex()
            .chars()
            .map(|c| {
                c.to_digit(16)
                    .and_then(|d| char::from_digit((d + 1) % 16, 16))
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

/// `determinism`: N runs with random ids and prefixes.
async fn determinism(ctx: &mut Ctx<'_>, p: &DeterminismParams) -> Verdict {
    let (endpoint, transport) = match (endpoint_of(ctx.connected), transport_of(ctx.spec.via)) {
        (Ok(e), Ok(t)) => (e.clone(), t),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    let Some(target) = ctx.pp.targets.get(&ctx.spec.target).cloned() else {
        return Verdict::Error {
            message: "the target was not planned".to_owned(),
        };
    };
    let reachable = prefix_reachable(ctx.spec.target, &endpoint);
    let mut findings = Findings::default();
    let inputs = ctx.work.inputs.clone();
    for input in &inputs {
        let mut first: Option<(String, Artifacts)> = None;
        for n in 1..=p.runs {
            let run = next_ids(&mut ctx.ids);
            let plan = orchestrator_plan(ctx, &target, transport, &run, &input.value, None);
            let outcome = orchestrator::run_on(&plan, &endpoint).await;
            if let Some(message) = outcome_infrastructure(&outcome) {
                findings.error(message);
                break;
            }
            let doc = outcome_doc(&outcome);
            let body = rendered(&golden::redacted_bytes(
                &doc,
                &Redactions {
                    execution_id: &run.execution_id,
                    prefix: run.prefix.as_str(),
                },
            ));
            let mut files = BTreeMap::new();
            if let Some(Json::Array(outputs)) = member(&doc, &["outputs"]) {
                for output in outputs {
                    let Some(path) = string_at(output, &["path"]) else {
                        continue;
                    };
                    if !run.prefix.contains(path) {
                        findings.fail(format!(
                            "{} run {n}: output {path} is not under the prefix {}",
                            input.name, run.prefix
                        ));
                        continue;
                    }
                    if reachable {
                        let relative = path[run.prefix.as_str().len()..].to_owned();
                        files.insert(relative, read_bounded(Path::new(path)));
                    }
                }
            }
            match &first {
                None => first = Some((body, files)),
                Some((first_body, first_files)) => {
                    if *first_body != body {
                        findings.fail(format!(
                            "{}: run {n} gives another envelope than run 1 (beyond the execution id and the prefix)",
                            input.name
                        ));
                        findings.diff(
                            &format!("{}: run 1 vs run {n}:", input.name),
                            golden::diff("run 1", first_body, &format!("run {n}"), &body),
                        );
                    }
                    for (relative, bytes) in &files {
                        if first_files.get(relative) != Some(bytes) || bytes.is_none() {
                            findings.fail(format!(
                                "{}: artifact {relative} of run {n} differs from run 1's",
                                input.name
                            ));
                            if let Some(Some(a)) = first_files.get(relative)
                                && let Some(b) = bytes
                            {
                                findings.diff(
                                    &format!("{}: {relative}, run 1 vs run {n}:", input.name),
                                    golden::diff(
                                        "run 1",
                                        &String::from_utf8_lossy(a),
                                        &format!("run {n}"),
                                        &String::from_utf8_lossy(b),
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    findings.verdict()
}

/// Artifact bytes by path relative to the prefix (`None`: unreadable).
type Artifacts = BTreeMap<String, Option<Vec<u8>>>;

fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(ARTIFACT_MAX).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// `digest`: the processor's own `meta.image_digest` is the expected
/// digest; through the orchestrator, a different expected digest is never
/// a success.
async fn digest(ctx: &mut Ctx<'_>) -> Verdict {
    let (endpoint, transport) = match (endpoint_of(ctx.connected), transport_of(ctx.spec.via)) {
        (Ok(e), Ok(t)) => (e.clone(), t),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    let Some(expected) = expected_digest(ctx.pp) else {
        return Verdict::Skip {
            reason: "no expected digest: the registry entry has neither expected_oci nor a digest-pinned image".to_owned(),
        };
    };
    let Some(target) = ctx.pp.targets.get(&ctx.spec.target).cloned() else {
        return Verdict::Error {
            message: "the target was not planned".to_owned(),
        };
    };
    let Some(input) = ctx.work.inputs.first().cloned() else {
        return Verdict::Skip {
            reason: "no fixture".to_owned(),
        };
    };
    let mut findings = Findings::default();
    let run = next_ids(&mut ctx.ids);
    let plan = orchestrator_plan(
        ctx,
        &target,
        transport,
        &run,
        &input.value,
        Some(expected.clone()),
    );
    let exchange = adapter::call(
        &endpoint,
        transport,
        &plan.request,
        run_timeout(ctx),
        &Limits::default(),
    )
    .await;
    match (&exchange.outcome, answer_doc(&exchange)) {
        (Err(e), _) if infrastructure(e) => findings.error(e.to_string()),
        (_, Err(why)) => {
            return Verdict::Skip {
                reason: format!(
                    "no envelope to read the digest from ({why}); other cases report why"
                ),
            };
        }
        (_, Ok(doc)) => match member(&doc, &["meta", "image_digest"]) {
            Some(Json::String(seen)) if seen == expected.as_str() => {}
            Some(seen) => findings.fail_traced(
                format!(
                    "meta.image_digest is {}, expected {expected} (CONTRACT.md §8)",
                    String::from_utf8_lossy(&canon::to_canonical(seen).unwrap_or_default())
                ),
                trace(&exchange),
            ),
            None => findings.fail_traced(
                format!("meta.image_digest is missing; expected {expected} (CONTRACT.md §8)"),
                trace(&exchange),
            ),
        },
    }
    let other = missing_digest(Some(&expected));
    let run = next_ids(&mut ctx.ids);
    let plan = orchestrator_plan(
        ctx,
        &target,
        transport,
        &run,
        &input.value,
        Some(other.clone()),
    );
    let outcome = orchestrator::run_on(&plan, &endpoint).await;
    if let Some(message) = outcome_infrastructure(&outcome) {
        findings.error(message);
    } else if outcome.envelope.error_code().is_none() {
        // Another error (a breach found first) is another case's finding;
        // what must never happen is a success against a different digest.
        findings.fail(format!(
            "with a different expected digest ({other}), the run succeeded instead of giving ERR_REGISTRY_MISMATCH"
        ));
    }
    findings.verdict()
}

/// `image_pinned`: the image is pinned by digest.
fn image_pinned(ctx: &Ctx<'_>) -> Verdict {
    match ctx.pp.entry.image.as_ref() {
        None => Verdict::Skip {
            reason: "no image in the registry entry".to_owned(),
        },
        Some(image) if image.digest().is_some() => Verdict::Pass,
        Some(image) => {
            let mut findings = Findings::default();
            findings.fail(format!(
                "image {image} is pinned by tag; pin it by digest (`repo@sha256:<hex>`, CONTRACT.md §8)"
            ));
            findings.verdict()
        }
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn templates_are_filled_once_left_to_right() {
        let run = RunIds {
            execution_id: "id-{prefix}".to_owned(),
            prefix: WritePrefix::parse("/tmp/p/").unwrap(),
        };
        assert_eq!(
            fill("{execution_id}|{prefix}|{x}", &run, None),
            "id-{prefix}|/tmp/p/|{x}"
        );
    }

    #[test]
    fn a_missing_digest_differs_in_every_digit() {
        let d = Digest::parse(&format!("sha256:{}", "0f".repeat(32))).unwrap();
        assert_eq!(missing_digest(Some(&d)).hex(), "10".repeat(32));
    }

    #[test]
    fn shape_ignores_values_and_stderr_tail() {
        let a =
            canon::parse(br#"{"a":{"b":1,"stderr_tail":"x"},"meta":{"stderr_tail":"y","z":1}}"#)
                .unwrap();
        let b = canon::parse(br#"{"a":{"b":2,"stderr_tail":"q"},"meta":{"z":3}}"#).unwrap();
        assert_eq!(shape(&a), shape(&b));
    }
}
