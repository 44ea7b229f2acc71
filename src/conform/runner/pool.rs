//! The shared endpoints of a run: one per (processor, target), resolved
//! and health-checked once, on first use.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::super::check::Connected;
use super::super::plan::{LanePlan, ProcessorPlan};
use crate::adapter::{self, AdapterError, HealthBudget};
use crate::registry::ProcessorRef;
use crate::vocab::TargetKind;

/// The shared endpoints of a run.
pub(super) struct Pool {
    cells: BTreeMap<(ProcessorRef, TargetKind), OnceCell<Arc<Connected>>>,
}

impl Pool {
    pub(super) fn new(plan: &LanePlan) -> Self {
        let mut cells = BTreeMap::new();
        for (name, pp) in &plan.processors {
            for target in pp.targets.keys() {
                cells.insert((name.clone(), *target), OnceCell::new());
            }
        }
        Self { cells }
    }

    pub(super) async fn get(
        &self,
        processor: &ProcessorRef,
        target: TargetKind,
        pp: &ProcessorPlan,
        secrets: &[(String, bool)],
    ) -> Option<Arc<Connected>> {
        let cell = self.cells.get(&(processor.clone(), target))?;
        let connected = cell
            .get_or_init(|| async { Arc::new(connect(processor, target, pp, secrets).await) })
            .await;
        Some(Arc::clone(connected))
    }

    /// Every endpoint resolved so far, by processor and target (dropping
    /// them removes the containers).
    pub(super) fn drain(self) -> Vec<((ProcessorRef, TargetKind), Arc<Connected>)> {
        self.cells
            .into_iter()
            .filter_map(|(key, cell)| Some((key, cell.into_inner()?)))
            .collect()
    }
}

/// Resolves a target and checks its health once; an infrastructure
/// failure becomes the endpoint's error, a failed health check is kept
/// for `contract::health` (the other trials still run).
async fn connect(
    processor: &ProcessorRef,
    target: TargetKind,
    pp: &ProcessorPlan,
    secrets: &[(String, bool)],
) -> Connected {
    if let Some((name, _)) = secrets.iter().find(|(_, present)| !present) {
        return Connected {
            endpoint: Err(format!(
                "secret {name} is declared for {processor} but not set in the environment (ERR_MISSING_SECRET)"
            )),
            health: None,
        };
    }
    let Some(spec) = pp.targets.get(&target) else {
        return Connected {
            endpoint: Err(format!("{processor} offers no {target} target")),
            health: None,
        };
    };
    tracing::info!(event = "conform.connect", r#ref = %processor, target = target.as_str());
    let endpoint = match adapter::resolve(spec, crate::orchestrator::RESOLVE_BUDGET).await {
        Ok(endpoint) => endpoint,
        Err(e) => {
            return Connected {
                endpoint: Err(format!(
                    "cannot reach {processor} on the {target} target: {e} ({})",
                    e.code().as_str()
                )),
                health: None,
            };
        }
    };
    let health = adapter::health(&endpoint, &HealthBudget::with_total(pp.entry.health)).await;
    match health {
        // A remote that never answered is not there: nothing can be learned.
        Err(e @ AdapterError::Unreachable { .. }) => Connected {
            endpoint: Err(format!(
                "cannot reach {processor} on the {target} target: {e} ({})",
                e.code().as_str()
            )),
            health: Some(Err(e)),
        },
        other => Connected {
            endpoint: Ok(endpoint),
            health: Some(other),
        },
    }
}
