//! `theory-conform` as a library: the layers behind the binary, exposed so
//! that integration tests drive them directly. The command line
//! (`src/main.rs`) is the product's interface; this API is not stable.
//!
//! See ARCHITECTURE.md for the code map.

pub mod adapter;
pub mod artifacts;
pub mod cli;
pub mod config_file;
pub mod conform;
pub mod environment;
pub mod exit;
pub mod image;
pub mod input;
pub mod log;
pub mod orchestrator;
pub mod outputs;
pub mod plan;
pub mod readiness;
pub mod redact;
pub mod registry;
pub mod vocab;
