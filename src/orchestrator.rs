//! The orchestrator: all the policy of one invocation (CONTRACT.md §1, the
//! seed's `run_processor`). Tests and the conformance runner go through it;
//! nothing else starts adapters for a run.
//!
//! One invocation: the configuration is resolved once ([`Plan`]) and logged
//! once (`orchestrator.config`); declared secrets are checked before any IO;
//! the target is resolved and health-checked once; the call is retried only
//! for failures that are safe to retry ([`adapter::AdapterError::is_retry_safe`]), always with the
//! same execution id; the answer is checked against the contract (schema,
//! paths, files, digest drift) and any breach becomes an error envelope;
//! the canonical envelope is persisted as `<prefix>/.theory/envelope.json`
//! (CONTRACT.md §7: a folder the contract reserves, so it never overwrites
//! a processor's output).
//!
//! **Invariant:** whatever happens after planning, [`run`] returns exactly
//! one envelope; it never panics on a processor's answer.

use std::time::{Duration, Instant};

use theory_contract::canon::{self, Json};
use theory_contract::text;
use theory_contract::{
    Digest, EnvFingerprint, Envelope, ErrorCode, Expect, Meta, Payload, RunRequest,
    STDERR_TAIL_MAX, Violation, WritePrefix, check_envelope,
};

use crate::adapter::{self, Endpoint, Exchange, HealthBudget, Limits, Target, Transport};
use crate::artifacts;
use crate::registry::ProcessorRef;

/// Attempts of one call at most (the first and two retries).
pub const MAX_ATTEMPTS: u32 = 3;
/// The pause before the first retry; doubled before each next one.
pub const RETRY_BACKOFF: Duration = Duration::from_millis(250);
/// Time allowed to resolve a target (container start, SDK lookup, DNS).
pub const RESOLVE_BUDGET: Duration = Duration::from_secs(60);
/// The file the canonical envelope is persisted to, under the prefix.
pub const ENVELOPE_FILE: &str = ".theory/envelope.json";

/// Where the target choice came from (logged with `adapter.selected`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetSource {
    /// `--adapter`.
    Flag,
    /// `RUN_TARGET`.
    RunTarget,
    /// Inferred from `MODAL_ENVIRONMENT`.
    ModalEnvironment,
    /// Nothing said anything: `local`.
    Default,
}

impl TargetSource {
    /// The name logged.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Flag => "flag",
            Self::RunTarget => "RUN_TARGET",
            Self::ModalEnvironment => "MODAL_ENVIRONMENT",
            Self::Default => "default",
        }
    }
}

/// One invocation, fully resolved: nothing in it is read again.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The processor, for logs and reports.
    pub processor: ProcessorRef,
    /// Where it runs.
    pub target: Target,
    /// Why that target.
    pub target_source: TargetSource,
    /// How we talk to it.
    pub transport: Transport,
    /// The execution id: the caller's, or generated once.
    pub execution_id: String,
    /// The expanded write prefix (created by the planner).
    pub prefix: WritePrefix,
    /// The request sent (identical on every attempt).
    pub request: RunRequest,
    /// Run budget for the calls, all attempts together.
    pub run_timeout: Duration,
    /// Health budget.
    pub health: HealthBudget,
    /// The digest the processor's image must have, if one is expected.
    pub expected: Option<Digest>,
    /// Declared secrets: name and whether it is set (values are never kept here).
    pub secrets: Vec<(String, bool)>,
    /// Values that must not appear in an envelope (host names).
    pub host_values: Vec<String>,
    /// Message and frame caps.
    pub limits: Limits,
    /// Where the target's artifacts are read from (CONTRACT.md §7): the
    /// artifact rules are judged through it, and a storage source hands
    /// the processor its upload URLs (`payload.storage`).
    pub artifacts: artifacts::Source,
}

impl Plan {
    /// The request for `inputs`, `prefix`, `mode` (CONTRACT.md §5).
    pub fn request(
        execution_id: &str,
        inputs: serde_json::Value,
        prefix: &WritePrefix,
        mode: &str,
    ) -> RunRequest {
        RunRequest {
            execution_id: execution_id.to_owned(),
            payload: Payload {
                inputs,
                write_prefix: prefix.as_str().to_owned(),
                mode: mode.to_owned(),
                storage: None,
            },
        }
    }

    /// Logs the resolved configuration, once: names and budgets, never secret values.
    fn log(&self) {
        let secrets: Vec<&str> = self.secrets.iter().map(|(name, _)| name.as_str()).collect();
        tracing::info!(
            event = "orchestrator.config",
            r#ref = %self.processor,
            adapter = self.target.kind().as_str(),
            adapter_source = self.target_source.as_str(),
            transport = self.transport.as_str(),
            execution_id = %self.execution_id,
            write_prefix = %self.prefix,
            run_timeout_ms = duration_ms(self.run_timeout),
            health_budget_ms = duration_ms(self.health.total),
            expected_digest = self.expected.as_ref().map(Digest::as_str).unwrap_or(""),
            secrets = %secrets.join(","),
        );
        tracing::info!(
            event = "adapter.selected",
            adapter = self.target.kind().as_str(),
            source = self.target_source.as_str(),
            transport = self.transport.as_str(),
        );
    }
}

/// What one invocation produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The final envelope.
    pub envelope: Envelope,
    /// Its canonical bytes (what stdout and `envelope.json` carry).
    pub canonical: Vec<u8>,
    /// How many times the call was sent.
    pub attempts: u32,
    /// The processor's own answer, when it gave one that is JSON (even if
    /// the orchestrator replaced it): what comparisons look at
    /// (CONTRACT.md §12), so they never compare envelopes the orchestrator
    /// wrote.
    pub answer: Option<Json>,
}

/// Runs `plan` and returns exactly one envelope: resolves its target,
/// checks health, then [`run_on`] the endpoint.
pub async fn run(plan: &Plan) -> Outcome {
    let span =
        tracing::info_span!("run", r#ref = %plan.processor, execution_id = %plan.execution_id);
    let _entered = span.enter();
    plan.log();
    let started = Instant::now();
    let (judged, attempts) = match connect(plan).await {
        Ok(endpoint) => attempt(plan, &endpoint).await,
        Err(envelope) => ((envelope, None), 0),
    };
    settle(plan, judged, attempts, started).await
}

/// Runs `plan` on an endpoint that is already resolved and healthy (the
/// conformance runner shares one container among the trials of a
/// processor and target). The plan's target must be the one the endpoint
/// was resolved from: it decides the digest checks.
pub async fn run_on(plan: &Plan, endpoint: &Endpoint) -> Outcome {
    let span =
        tracing::info_span!("run", r#ref = %plan.processor, execution_id = %plan.execution_id);
    let _entered = span.enter();
    plan.log();
    let started = Instant::now();
    let (judged, attempts) = attempt(plan, endpoint).await;
    settle(plan, judged, attempts, started).await
}

/// Checks the secrets, resolves the target and waits for health; an error
/// envelope when any of it fails.
pub async fn connect(plan: &Plan) -> Result<Endpoint, Envelope> {
    if let Some((name, _)) = plan.secrets.iter().find(|(_, present)| !present) {
        tracing::warn!(event = "error.secret", secret = %name);
        return Err(own_error(
            plan,
            ErrorCode::MissingSecret,
            format!(
                "secret {name} is declared for {} but not set in the environment",
                plan.processor
            ),
            None,
        ));
    }
    if let Target::Local(_) = &plan.target {
        // Containers left by a harness that died (SIGKILL) go first; an
        // engine that does not answer is reported by resolve below.
        match adapter::sweep(adapter::SWEEP_BUDGET).await {
            Ok(sweep) if !sweep.removed.is_empty() => {
                tracing::info!(event = "adapter.sweep", removed = sweep.removed.len());
            }
            Ok(_) | Err(_) => {}
        }
    }
    let endpoint = adapter::resolve(&plan.target, RESOLVE_BUDGET)
        .await
        .map_err(|e| own_error(plan, e.code(), e.to_string(), None))?;
    if let Err(e) = adapter::health(&endpoint, &plan.health).await {
        let tail = endpoint.stderr_tail().await;
        return Err(own_error(plan, e.code(), e.to_string(), tail));
    }
    Ok(endpoint)
}

async fn settle(
    plan: &Plan,
    (envelope, answer): Judged,
    attempts: u32,
    started: Instant,
) -> Outcome {
    let canonical = envelope.to_canonical();
    persist(plan, &canonical).await;
    match &envelope {
        Envelope::Success(_) => tracing::info!(
            event = "orchestrator.settle",
            status = "success",
            attempts,
            elapsed_ms = duration_ms(started.elapsed())
        ),
        Envelope::Error(e) => tracing::warn!(
            event = "orchestrator.settle",
            status = "error",
            code = e.error.code.as_str(),
            message = %e.error.message,
            attempts,
            elapsed_ms = duration_ms(started.elapsed()),
        ),
    }
    Outcome {
        envelope,
        canonical,
        attempts,
        answer,
    }
}

/// The plan's request, with the storage hand-over when the target's
/// artifacts go to storage: presigned once, the same on every attempt, and
/// valid for the run budget.
async fn with_hand_over(plan: &Plan) -> Result<RunRequest, String> {
    let mut request = plan.request.clone();
    request.payload.storage = plan
        .artifacts
        .hand_over(&plan.prefix, plan.run_timeout)
        .await?;
    Ok(request)
}

/// The final envelope and the processor's own answer, when it gave one.
type Judged = (Envelope, Option<Json>);

async fn attempt(plan: &Plan, endpoint: &Endpoint) -> (Judged, u32) {
    let request = match with_hand_over(plan).await {
        Ok(request) => request,
        Err(message) => {
            return (
                (own_error(plan, ErrorCode::Internal, message, None), None),
                0,
            );
        }
    };
    let deadline = Instant::now() + plan.run_timeout;
    let mut attempts = 0;
    let exchange = loop {
        attempts += 1;
        // The first attempt has the whole budget, as configured (and as
        // its timeout message says); a retry has what is left.
        let budget = if attempts == 1 {
            plan.run_timeout
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        let exchange =
            adapter::call(endpoint, plan.transport, &request, budget, &plan.limits).await;
        match &exchange.outcome {
            Err(e)
                if attempts < MAX_ATTEMPTS
                    && e.is_retry_safe(&exchange)
                    && Instant::now() < deadline =>
            {
                let pause = RETRY_BACKOFF * 2u32.pow(attempts - 1);
                tracing::warn!(event = "orchestrator.retry", attempt = attempts, code = e.code().as_str(), message = %e, pause_ms = duration_ms(pause));
                tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now())))
                    .await;
            }
            Ok(_) | Err(_) => break exchange,
        }
    };
    (judge(plan, endpoint, exchange).await, attempts)
}

/// Turns an exchange into the final envelope: the processor's, when it
/// honours the contract and its digest is the expected one; an error
/// envelope naming the breach otherwise. Beside it, the processor's answer
/// when it was JSON.
async fn judge(plan: &Plan, endpoint: &Endpoint, exchange: Exchange) -> Judged {
    let answer = match &exchange.outcome {
        Ok(answer) => answer,
        Err(e) => {
            let envelope = own_error(
                plan,
                e.code(),
                e.envelope_message(),
                endpoint.stderr_tail().await,
            );
            return (envelope, None);
        }
    };
    let Some(doc) = answer
        .canonical
        .as_deref()
        .and_then(|c| canon::parse(c).ok())
    else {
        let reason = canon::parse(&answer.raw)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let envelope = own_error(
            plan,
            ErrorCode::Internal,
            format!("processor answer is not JSON: {reason}"),
            endpoint.stderr_tail().await,
        );
        return (envelope, None);
    };
    let envelope = decide(plan, endpoint, &exchange, answer, &doc).await;
    (envelope, Some(doc))
}

/// The final envelope of an answer that is JSON (`doc`).
async fn decide(
    plan: &Plan,
    endpoint: &Endpoint,
    exchange: &Exchange,
    answer: &adapter::Answer,
    doc: &Json,
) -> Envelope {
    let mut violations = check_envelope(
        doc,
        &Expect {
            execution_id: Some(&plan.execution_id),
            prefix: Some(&plan.prefix),
            host_values: &plan.host_values,
            secret_values: &[],
        },
    );
    match plan.artifacts.check(doc, &plan.prefix, &[]).await {
        Ok(found) => violations.extend(found),
        Err(message) => return own_error(plan, ErrorCode::Internal, message, None),
    }
    Violation::sort(&mut violations);
    if let Some(first) = violations.first() {
        for violation in &violations {
            tracing::warn!(
                event = "error.contract",
                rule = violation.rule.id(),
                pointer = %violation.pointer,
                message = %violation.message,
            );
        }
        // The envelope names the rule and where; the details (paths, file
        // contents) go to the log, so the message is the same on every
        // transport and for every execution id and prefix.
        let more = violations.len() - 1;
        let message = format!(
            "processor broke the contract: {} at {:?}{}",
            first.rule,
            first.pointer,
            if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            }
        );
        return own_error(
            plan,
            ErrorCode::Internal,
            message,
            endpoint.stderr_tail().await,
        );
    }
    let envelope: Envelope =
        match serde_json::from_slice(answer.canonical.as_deref().unwrap_or_default()) {
            Ok(envelope) => envelope,
            Err(e) => {
                return own_error(
                    plan,
                    ErrorCode::Internal,
                    format!("processor answer does not decode: {e}"),
                    None,
                );
            }
        };
    let http = matches!(exchange.transport, Transport::Http | Transport::Sse);
    if let Some(status) = exchange
        .http_status
        .filter(|s| http && *s != 200 && envelope.error_code().is_none())
    {
        return own_error(
            plan,
            ErrorCode::Internal,
            format!("http status {status} with a success envelope"),
            None,
        );
    }
    match drift(plan, endpoint, &envelope) {
        Some(message) => {
            tracing::warn!(event = "error.digest", message = %message);
            let meta = envelope.meta().clone();
            Envelope::error(
                &plan.execution_id,
                ErrorCode::RegistryMismatch,
                message,
                meta,
            )
        }
        None => envelope,
    }
}

/// The digest-drift rule (CONTRACT.md §8): with an expected digest, the
/// envelope's `meta.image_digest` (when it has one; a success envelope must)
/// and the engine's view must both equal it; without one, the engine must
/// run the digest the image was pinned by.
fn drift(plan: &Plan, endpoint: &Endpoint, envelope: &Envelope) -> Option<String> {
    let pinned = match &plan.target {
        Target::Local(spec) => spec.image_digest.clone(),
        Target::Modal(_) | Target::Url(_) => None,
    };
    if let Some(expected) = &plan.expected {
        match &envelope.meta().image_digest {
            // §8: an error envelope without a digest keeps its own code:
            // nothing it produced needs vouching for, and replacing it would
            // hide the processor's answer (and what parity compares).
            None if envelope.error_code().is_some() => {}
            None => {
                return Some(format!(
                    "expected image digest {expected}, but meta.image_digest is missing"
                ));
            }
            Some(seen) if seen != expected => {
                return Some(format!(
                    "expected image digest {expected}, but meta.image_digest is {seen}"
                ));
            }
            Some(_) => {}
        }
    }
    let want = plan.expected.as_ref().or(pinned.as_ref())?;
    match &endpoint.engine_digest {
        Some(engine) if engine != want => Some(format!(
            "expected image digest {want}, but the engine runs {engine}"
        )),
        Some(_) => None,
        None if endpoint.is_local() => Some(format!(
            "expected image digest {want}, but the engine reports none"
        )),
        None => None,
    }
}

/// An error envelope the orchestrator itself writes: its fingerprint names
/// the target kind, the only runtime the orchestrator can vouch for.
fn own_error(
    plan: &Plan,
    code: ErrorCode,
    message: String,
    stderr_tail: Option<String>,
) -> Envelope {
    let fingerprint = EnvFingerprint::from_pairs([("runtime", plan.target.kind().as_str())])
        .expect("a target kind is a valid fingerprint value");
    let mut meta = Meta::new(fingerprint);
    meta.stderr_tail = stderr_tail.map(|t| cut_tail(&t));
    Envelope::error(&plan.execution_id, code, short(&message), meta)
}

/// At most `MESSAGE_MAX` bytes on one line, cut on a character boundary.
fn short(message: &str) -> String {
    let line = message.replace(['\n', '\r'], " ");
    text::head(&line, theory_contract::MESSAGE_MAX).to_owned()
}

/// The last `STDERR_TAIL_MAX` bytes, cut on a character boundary.
fn cut_tail(tail: &str) -> String {
    text::tail(tail, STDERR_TAIL_MAX).to_owned()
}

/// Persists the canonical envelope beside the artifacts (CONTRACT.md §7):
/// in the store for a storage target, else under the prefix on this
/// machine (the harness's own record when the artifacts are nowhere).
async fn persist(plan: &Plan, canonical: &[u8]) {
    if let artifacts::Source::Storage(store) = &plan.artifacts {
        if let Err(message) = store.put(&plan.prefix, ENVELOPE_FILE, canonical).await {
            tracing::warn!(event = "error.persist", path = ENVELOPE_FILE, message = %message);
        }
        return;
    }
    let (reserved, name) = ENVELOPE_FILE
        .split_once('/')
        .expect("ENVELOPE_FILE is <folder>/<name>");
    let folder = std::path::Path::new(plan.prefix.as_str());
    if let Err(e) = crate::outputs::write_reserved(folder, reserved, name, canonical) {
        let path = plan.prefix.join(ENVELOPE_FILE);
        tracing::warn!(event = "error.persist", path = %path, message = %e);
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
