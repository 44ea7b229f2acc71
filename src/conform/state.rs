//! The state a lane run leaves for the next one: the names of the trials
//! that failed or errored, the lane and the seed
//! (`<state dir>/last-failed.json`, canonical JSON), read by
//! `--last-failed`.
//!
//! **Invariant:** only this module reads or writes the state folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The default state folder, relative to the current directory.
pub const DEFAULT_STATE_DIR: &str = "target/theory-conform";

/// What the last run recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastFailed {
    /// The lane it ran.
    pub lane: String,
    /// Its seed, as a decimal string (JSON numbers stop at 2^53).
    pub seed: String,
    /// The trials that failed or errored, sorted.
    pub failed: BTreeSet<String>,
}

/// The state file in `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("last-failed.json")
}

impl LastFailed {
    /// Reads the state of `dir`.
    pub fn read(dir: &Path) -> Result<Self, String> {
        let file = path(dir);
        let bytes = std::fs::read(&file).map_err(|e| {
            format!(
                "--last-failed: cannot read {}: {e} (run the lane once first)",
                file.display()
            )
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| format!("--last-failed: {}: {e}", file.display()))
    }

    /// The recorded seed.
    pub fn seed(&self) -> Result<u64, String> {
        self.seed.parse().map_err(|_| {
            format!(
                "--last-failed: the recorded seed {:?} is not a number",
                self.seed
            )
        })
    }

    /// Writes the state into `dir` (created when missing).
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let file = path(dir);
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let bytes = theory_contract::canon::to_canonical_serde(self)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let temporary = dir.join("last-failed.json.tmp");
        std::fs::write(&temporary, bytes)
            .and_then(|()| std::fs::rename(&temporary, &file))
            .map_err(|e| format!("{}: {e}", file.display()))
    }
}
