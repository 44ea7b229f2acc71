//! Adapters: transport only (CONTRACT.md §1). A [`Target`] says where a
//! processor is, a [`Transport`] how we talk to it; an adapter is their
//! combination: [`resolve`] a target into an [`Endpoint`], check its
//! [`health`], then [`call`] it once and get an [`Exchange`] back.
//!
//! - `target` — [`Target`] and its specs, [`Endpoint`], [`resolve`].
//! - `local` — containers (testcontainers + bollard), [`sweep`].
//! - `modal` — the Modal SDK lookup (`modal_resolve.py`).
//! - `health` — `/healthz` with backoff.
//! - `ws`, `http`, `sse` — the transports and their raw forms; `ws_frame`
//!   — the shape of one WebSocket frame.
//! - `exchange` — the plain data a call returns; `error` — [`AdapterError`]
//!   and its one mapping to the taxonomy.
//!
//! **Invariant:** adapters do IO only: no retry, no policy, no pass/fail.
//! Every await is bounded; every failure is an [`AdapterError`] whose
//! [`AdapterError::code`] is the only mapping to an `ErrorCode`.

mod error;
mod exchange;
mod health;
mod http;
mod local;
mod modal;
mod net;
mod sse;
mod target;
mod ws;
mod ws_frame;

use std::time::Duration;

use theory_contract::RunRequest;
use tracing::Instrument as _;

pub use error::{AdapterError, ModalReason};
pub use exchange::{
    Answer, Break, BreakRule, Close, DEFAULT_MAX_FRAMES, DEFAULT_MAX_MESSAGE, Exchange, KIND_MAX,
    Limits, Seen, Transport,
};
pub use health::{HealthBudget, HealthReport, health};
pub use http::http_raw;
pub use local::{
    OWNER_NS_LABEL, OWNER_PID_LABEL, RUN_LABEL, START_LABEL, SWEEP_BUDGET, Sweep, alive,
    pid_namespace, remove_run, sweep,
};
pub(crate) use net::install_tls_provider;
pub use sse::parse_stream as parse_event_stream;
pub use target::{DEFAULT_PORT, Endpoint, LocalSpec, ModalSpec, Target, UrlSpec, resolve};
pub use ws::{CLOSE_GRACE, WsMessage, ws_raw};

/// What a local container changed in its own file system since it started
/// (`docker diff`: `A /path`, `C /path`, `D /path`, sorted); `None` for an
/// endpoint that is not a container the harness started.
pub async fn container_changes(endpoint: &Endpoint) -> Option<Result<Vec<String>, AdapterError>> {
    let container = endpoint.container.as_ref()?;
    Some(container.changes().await)
}

/// The normal exchange: one request, one answer, over `transport`, within
/// `budget`. `outcome` is `Ok` only when exactly one envelope arrived by
/// the book; the exchange carries everything seen either way.
pub async fn call(
    endpoint: &Endpoint,
    transport: Transport,
    request: &RunRequest,
    budget: Duration,
    limits: &Limits,
) -> Exchange {
    let span = tracing::info_span!("adapter.call", execution_id = %request.execution_id, transport = transport.as_str());
    let exchange = async {
        match transport {
            Transport::Ws => ws::call(endpoint, request, budget, limits).await,
            Transport::Http | Transport::Sse => {
                http::call(endpoint, transport, request, budget, limits).await
            }
        }
    };
    exchange.instrument(span).await
}
