//! The closed set of checks: one file per [`CheckKind`] (the two parity
//! kinds share `parity`, the two negative kinds `negative`), each a short
//! function over a trial's [`Ctx`] that ends in a [`Verdict`].
//!
//! Contract checks look at the processor's own answer through the
//! adapter's calls (`call`, `http_raw`, `ws_raw`) on the shared endpoint,
//! so each sees exactly its rule before the orchestrator's policy folds a
//! breach into one `ERR_INTERNAL`. Parity, determinism, run budget and
//! supply chain go through the orchestrator (`run_on`, or `run` for the
//! negative cases) as a user's run does.
//!
//! Every helper that can end a trial early returns `Result<_, Verdict>`,
//! so a check reads as its steps joined by `?`; a check itself is a
//! `Checked`, whose `Err` is that early verdict.
//!
//! **Invariant:** checks never print and never decide exit codes; a
//! processor's breach is a failure, an infrastructure problem an error.
//! Checks only use the targets the planner built: they never resolve a
//! registry entry themselves.

mod artifacts;
mod common;
mod container_writes;
mod determinism;
mod digest;
mod doc;
mod envelope;
mod goldens;
mod health;
mod http_status;
mod negative;
mod parity;
mod run_budget;
mod sequence;
mod template;
mod trace;
mod ws_close;
mod ws_subprotocol;

use std::sync::Arc;

use theory_contract::WritePrefix;

use super::golden::Store;
use super::plan::{Input, ProcessorPlan, TrialSpec, Work};
use super::seed::Ids;
use super::suite::{Check, CheckKind};
use super::verdict::Verdict;
use crate::adapter::{AdapterError, Endpoint, HealthReport, Target, Transport};
use crate::artifacts::Source;
use crate::vocab::ArtifactSource;

pub use trace::trace;

/// The run mode every request carries.
pub const MODE: &str = "mock";

/// A check's conclusion; `Err` is a verdict that ended it early.
type Checked = Result<Verdict, Verdict>;

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
    /// Values no envelope or artifact may hold (every registered secret).
    pub secret_values: &'a [String],
    /// The declared secrets and whether each is set.
    pub secrets: &'a [(String, bool)],
    /// The run folder (containers of the negative cases mount it).
    pub mount: &'a WritePrefix,
    /// Labels this run's containers.
    pub run_id: &'a str,
}

impl Ctx<'_> {
    /// The trial target's endpoint, or the verdict that ends the trial.
    fn endpoint(&self) -> Result<Endpoint, Verdict> {
        endpoint_of(self.connected).cloned()
    }

    /// The trial's transport, or the verdict that ends the trial.
    fn transport(&self) -> Result<Transport, Verdict> {
        self.spec
            .via
            .transport()
            .ok_or_else(|| Verdict::error("this check needs a transport, and the trial has none"))
    }

    /// The endpoint and the transport of a check that makes calls (and
    /// the verdict that ends it when its artifacts' store cannot be read).
    fn wire(&self) -> Result<(Endpoint, Transport), Verdict> {
        let endpoint = self.endpoint()?;
        self.source(self.spec.target)?;
        Ok((endpoint, self.transport()?))
    }

    /// Where the trial target's artifacts are read from (its registry
    /// entry's declaration).
    fn artifacts(&self) -> ArtifactSource {
        self.pp.entry.artifacts(self.spec.target)
    }

    /// That source, ready to read, or the verdict (an error) that ends the
    /// trial when the entry's store could not be opened.
    fn source(&self, target: crate::vocab::TargetKind) -> Result<Source, Verdict> {
        self.pp.source(target).map_err(Verdict::error)
    }

    /// The trial's target, as the planner built it.
    fn target(&self) -> Result<Target, Verdict> {
        self.pp
            .targets
            .get(&self.spec.target)
            .cloned()
            .ok_or_else(|| Verdict::error("the target was not planned"))
    }

    /// The trial's first fixture (checks that need one request).
    fn first_input(&self) -> Result<Arc<Input>, Verdict> {
        self.work
            .inputs
            .first()
            .cloned()
            .ok_or_else(|| Verdict::skip("no fixture"))
    }
}

/// A shared endpoint, or the verdict that ends the trial.
fn endpoint_of(connected: Option<&Connected>) -> Result<&Endpoint, Verdict> {
    match connected.map(|c| &c.endpoint) {
        Some(Ok(endpoint)) => Ok(endpoint),
        Some(Err(message)) => Err(Verdict::error(message.clone())),
        None => Err(Verdict::error("no endpoint was resolved for this trial")),
    }
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
        | CheckKind::Digest
        | CheckKind::ContainerWrites => true,
        CheckKind::NegativeEndpoint | CheckKind::NegativeImage => false,
    }
}

/// Runs the trial's check.
pub async fn run(ctx: &mut Ctx<'_>) -> Verdict {
    let check = ctx.spec.case.check.clone();
    let checked = match &check {
        Check::Envelope(p) => envelope::check(ctx, p).await,
        Check::Artifacts => artifacts::check(ctx).await,
        Check::HttpStatus(p) => http_status::check(ctx, p).await,
        Check::WsClose(p) => ws_close::check(ctx, p).await,
        Check::WsSequence => sequence::check(ctx, Transport::Ws).await,
        Check::WsSubprotocol => ws_subprotocol::check(ctx).await,
        Check::SseSequence => sequence::check(ctx, Transport::Sse).await,
        Check::Health => health::check(ctx),
        Check::RunBudget => run_budget::check(ctx).await,
        Check::ParityTransports => parity::transports(ctx).await,
        Check::ParityTargets => parity::targets(ctx).await,
        Check::NegativeEndpoint(p) => negative::endpoint(ctx, p).await,
        Check::NegativeImage => negative::image(ctx).await,
        Check::Determinism(p) => determinism::check(ctx, p).await,
        Check::Digest => digest::check(ctx).await,
        Check::ContainerWrites => container_writes::check(ctx).await,
    };
    checked.unwrap_or_else(|early| early)
}
