//! The JSON summary (`--json FILE`): canonical JSON (RFC 8785),
//!
//! ```json
//! {"counts":{"errors":0,"failed":1,"flaky":0,"known_failures":0,"passed":40,"skipped":2,"total":43},
//!  "lane":"staging","seed":42,
//!  "trials":[{"duration_ms":12,"message":"...","name":"contract::...","verdict":"fail"}]}
//! ```
//!
//! Trials are sorted by name; `verdict` is the record's status (`pass`,
//! `flaky`, `fail`, `known_failure`, `error`, `skip`); `message` is the
//! full detail (message, diff, trace, then `replay: <command>` for a
//! failing trial) and is empty for a pass. A known failure adds its
//! `reason`; a flaky pass adds `attempts` and `failed_attempts`. Nothing
//! but `duration_ms` changes between two runs with the same seed.
//!
//! **Invariant:** a pure function of the events.

use serde_json::json;

use super::{Disposition, Event, RunInfo, clean, counts, records};

/// The summary's bytes.
pub fn render(info: &RunInfo, events: &[Event]) -> Vec<u8> {
    let c = counts(events);
    let trials: Vec<serde_json::Value> = records(events)
        .into_iter()
        .map(|r| {
            let mut trial = json!({
                "name": r.name,
                "suite": r.suite,
                "verdict": r.status().as_str(),
                "message": clean(&r.details()),
                "duration_ms": u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
            });
            match &r.disposition {
                Disposition::Plain => {}
                Disposition::KnownFailure { reason } => {
                    trial["reason"] = json!(clean(reason));
                }
                Disposition::Flaky { failures } => {
                    let failures: Vec<String> = failures.iter().map(|f| clean(f)).collect();
                    trial["attempts"] = json!(failures.len() + 1);
                    trial["failed_attempts"] = json!(failures);
                }
            }
            trial
        })
        .collect();
    let doc = json!({
        "lane": info.lane,
        "seed": info.seed.to_string(),
        "counts": {
            "total": c.total,
            "passed": c.passed,
            "flaky": c.flaky,
            "failed": c.failed,
            "known_failures": c.known_failures,
            "errors": c.errors,
            "skipped": c.skipped,
        },
        "trials": trials,
    });
    theory_contract::canon::to_canonical_serde(&doc)
        .unwrap_or_else(|_| doc.to_string().into_bytes())
}
