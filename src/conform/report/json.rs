//! The JSON summary (`--json FILE`): canonical JSON (RFC 8785),
//!
//! ```json
//! {"counts":{"errors":0,"failed":1,"passed":40,"skipped":2,"total":43},
//!  "lane":"staging","seed":42,
//!  "trials":[{"duration_ms":12,"message":"...","name":"contract::...","verdict":"fail"}]}
//! ```
//!
//! Trials are sorted by name; `message` is the full detail (message, diff,
//! trace) and is empty for a pass.
//!
//! **Invariant:** a pure function of the events.

use serde_json::json;

use super::{Event, RunInfo, clean, counts, records};

/// The summary's bytes.
pub fn render(info: &RunInfo, events: &[Event]) -> Vec<u8> {
    let c = counts(events);
    let trials: Vec<serde_json::Value> = records(events)
        .into_iter()
        .map(|r| {
            json!({
                "name": r.name,
                "suite": r.suite,
                "verdict": r.verdict.as_str(),
                "message": clean(&r.verdict.details()),
                "duration_ms": u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
            })
        })
        .collect();
    let doc = json!({
        "lane": info.lane,
        "seed": info.seed.to_string(),
        "counts": {
            "total": c.total,
            "passed": c.passed,
            "failed": c.failed,
            "errors": c.errors,
            "skipped": c.skipped,
        },
        "trials": trials,
    });
    theory_contract::canon::to_canonical_serde(&doc)
        .unwrap_or_else(|_| doc.to_string().into_bytes())
}
