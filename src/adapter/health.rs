//! `GET /healthz` until it answers 200 `{"ok":true}`: exponential backoff
//! with jitter, every probe bounded by what is left of the budget
//! (CONTRACT.md §9).
//!
//! **Invariant:** one health check per call; the backoff is the protocol's,
//! not a retry policy.

use std::hash::{BuildHasher as _, RandomState};
use std::time::Duration;

use theory_contract::canon;
use tokio::time::Instant;

use super::{AdapterError, Endpoint, Transport, net};

/// The most bytes read from a `/healthz` answer.
const BODY_MAX: usize = 4096;

/// How long health may take, and its backoff steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthBudget {
    /// The whole check (default 12 s).
    pub total: Duration,
    /// The first wait between probes (default 100 ms).
    pub first_step: Duration,
    /// The longest wait between probes (default 1.6 s).
    pub max_step: Duration,
}

impl Default for HealthBudget {
    fn default() -> Self {
        Self {
            total: Duration::from_secs(12),
            first_step: Duration::from_millis(100),
            max_step: Duration::from_millis(1600),
        }
    }
}

impl HealthBudget {
    /// The default steps with another total.
    pub fn with_total(total: Duration) -> Self {
        Self {
            total,
            ..Self::default()
        }
    }
}

/// A successful health check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthReport {
    /// Probes sent, the successful one included.
    pub attempts: u32,
    /// From the first probe to the healthy answer.
    pub elapsed: Duration,
}

/// What one probe saw.
enum Probe {
    Healthy,
    /// A connection, but no 200 `{"ok":true}` on it.
    Answered(String),
    /// No connection at all (refused, unreachable, TLS).
    Silent(String),
}

/// Probes `/healthz` until healthy or `budget.total` is spent.
///
/// A remote endpoint that never gave any HTTP answer is
/// [`AdapterError::Unreachable`] (`ERR_ENDPOINT_MISSING`); otherwise a spent
/// budget is [`AdapterError::Health`] (`ERR_HEALTH`).
pub async fn health(
    endpoint: &Endpoint,
    budget: &HealthBudget,
) -> Result<HealthReport, AdapterError> {
    let started = Instant::now();
    let deadline = started + budget.total;
    let url = match net::endpoint_url(&endpoint.base, "healthz", Transport::Http) {
        Ok(url) => url,
        Err(e) => {
            e.log();
            return Err(e);
        }
    };
    let shown = net::loggable(&url);
    let mut step = budget.first_step;
    let mut attempts = 0_u32;
    let mut answered = false;
    let mut last;
    loop {
        attempts += 1;
        match probe(endpoint, &url, deadline).await {
            Probe::Healthy => {
                let report = HealthReport {
                    attempts,
                    elapsed: started.elapsed(),
                };
                tracing::info!(event = "adapter.health.ok", url = %shown, attempts, duration_ms = net::millis(report.elapsed));
                return Ok(report);
            }
            Probe::Answered(seen) => {
                answered = true;
                last = seen;
            }
            Probe::Silent(seen) => last = seen,
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let pause = jittered(step).min(deadline - now);
        tokio::time::sleep(pause).await;
        step = (step * 2).min(budget.max_step);
        if Instant::now() >= deadline {
            break;
        }
    }
    let elapsed_ms = net::millis(started.elapsed());
    let error = if !answered && !endpoint.is_local() {
        AdapterError::Unreachable {
            url: shown.clone(),
            detail: format!("no answer to {attempts} health probes in {elapsed_ms} ms: {last}"),
        }
    } else {
        AdapterError::Health {
            url: shown.clone(),
            attempts,
            elapsed_ms,
            last,
        }
    };
    tracing::warn!(event = "adapter.health.error", url = %shown, attempts, duration_ms = elapsed_ms, code = error.code().as_str(), message = %error);
    error.log();
    Err(error)
}

/// Half the step plus a random part of the other half ("equal jitter").
fn jittered(step: Duration) -> Duration {
    let random = RandomState::new().hash_one(Instant::now());
    let half = step / 2;
    let extra = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(if extra == 0 { 0 } else { random % extra })
}

async fn probe(endpoint: &Endpoint, url: &url::Url, deadline: Instant) -> Probe {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Probe::Silent("budget spent".to_owned());
    }
    let mut request = endpoint.http.get(url.clone()).timeout(left);
    for (name, value) in endpoint.headers.iter() {
        request = request.header(name, value);
    }
    let mut response = match tokio::time::timeout_at(deadline, request.send()).await {
        Err(_) => return Probe::Answered("probe timed out".to_owned()),
        // Connected but no answer: the endpoint exists, it is not healthy.
        Ok(Err(e)) if !e.is_connect() && !net::is_tls(&e) => {
            return Probe::Answered(net::chain(&e));
        }
        Ok(Err(e)) => return Probe::Silent(net::chain(&e)),
        Ok(Ok(response)) => response,
    };
    let status = response.status().as_u16();
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_) => {
                return Probe::Answered(format!("status {status}, body not finished in time"));
            }
            Ok(Err(e)) => {
                return Probe::Answered(format!(
                    "status {status}, body broken: {}",
                    net::chain(&e)
                ));
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > BODY_MAX {
                    return Probe::Answered(format!("status {status}, body over {BODY_MAX} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
    let canonical = canon::canonicalize(&body).ok();
    if status == 200 && canonical.as_deref() == Some(br#"{"ok":true}"#.as_slice()) {
        return Probe::Healthy;
    }
    let shown = String::from_utf8_lossy(super::exchange::cut_bytes(&body, 120)).into_owned();
    Probe::Answered(format!("status {status}, body {shown:?}"))
}
