//! The conformance runner (`theory-conform --lane <name>`): declarative
//! suites x the registry's processors x the lane's targets and transports
//! -> trials, run through libtest-mimic, each ending in a plain-data
//! verdict that the reporters consume.
//!
//! - `suite` — suite files -> typed suites (the closed set of checks).
//! - `lanes` — `ci/lanes.yaml` -> lanes, with their suites.
//! - `plan` — suites x registry x lane -> named trials (or skip reasons).
//! - `certificate` — what a lane must have seen of each processor
//!   (`certification::evidence`), and the certificate it writes.
//! - `seed` — the run's seed and each trial's ids and prefixes.
//! - `check` — one function per check kind -> [`verdict::Verdict`].
//! - `golden` — golden files: rendering, comparison, review.
//! - `report` — the event stream and the JUnit and JSON reporters.
//! - `known` — known-failure and known-flaky lists: globs, reasons, expiry.
//! - `partition` — `--partition count:K/N` and `hash:K/N`.
//! - `state` — the last run's failures, for `--last-failed`.
//! - `trial_id` — a planned trial's name as a type.
//! - `runner` — libtest-mimic, the runtime, shared endpoints, retries of
//!   flaky trials, replay commands, exit code.
//!
//! **Invariant:** this module only wires; see each module's invariant.

pub mod certificate;
pub mod check;
pub mod golden;
pub mod known;
pub mod lanes;
pub mod partition;
pub mod plan;
pub mod report;
pub mod runner;
pub mod seed;
pub mod selftest;
pub mod state;
pub mod suite;
pub mod trial_id;
pub mod verdict;

pub use runner::{DEFAULT_GOLDEN_DIR, DEFAULT_WORK_DIR, LaneOptions, run};
