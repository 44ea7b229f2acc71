//! Randomness: one seed per lane run, and per trial a proptest
//! [`TestRunner`] seeded from it and the trial's name, which draws the
//! execution ids and write prefixes of that trial.
//!
//! **Invariant:** the ids and prefixes of a trial depend only on the seed
//! and the trial's name (and the run folder they live under), so one trial
//! replays alone with `--seed N` and `FILTER`.

use proptest::strategy::{Strategy as _, ValueTree as _};
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRunner};
use theory_contract::WritePrefix;

/// A lane run's seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seed(pub u64);

impl Seed {
    /// A seed from the OS's randomness (through std's hasher keys).
    pub fn from_os() -> Self {
        use std::hash::{BuildHasher as _, RandomState};
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self(RandomState::new().hash_one(now))
    }

    /// The seed of one trial: the run's seed mixed with the trial's name.
    pub fn for_trial(self, name: &str) -> u64 {
        // FNV-1a over the name, then splitmix64 of the mix: stable across
        // platforms and releases, unlike std's hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in name.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        splitmix64(self.0 ^ hash)
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Draws the execution ids and write prefixes of one trial.
pub struct Ids {
    runner: TestRunner,
    mount: WritePrefix,
}

/// One run's execution id and its expanded write prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunIds {
    /// `[A-Za-z0-9][A-Za-z0-9._-]{7,31}`.
    pub execution_id: String,
    /// `<mount><random>/<execution id>/`.
    pub prefix: WritePrefix,
}

const ID_PATTERN: &str = "[A-Za-z0-9][A-Za-z0-9._-]{7,31}";
const SEGMENT_PATTERN: &str = "[a-z0-9][a-z0-9_-]{3,11}";

impl Ids {
    /// The ids of the trial `name` under `mount` (the run folder).
    pub fn new(seed: Seed, name: &str, mount: WritePrefix) -> Self {
        let config = Config {
            rng_algorithm: RngAlgorithm::ChaCha,
            rng_seed: RngSeed::Fixed(seed.for_trial(name)),
            failure_persistence: None,
            ..Config::default()
        };
        Self {
            runner: TestRunner::new(config),
            mount,
        }
    }

    /// The next id and prefix.
    pub fn draw_next(&mut self) -> RunIds {
        let execution_id = self.draw(ID_PATTERN, "exec-00000000");
        let segment = self.draw(SEGMENT_PATTERN, "run0");
        let prefix = WritePrefix::parse(&self.mount.join(&format!("{segment}/{execution_id}/")))
            .unwrap_or_else(|_| self.mount.clone());
        RunIds {
            execution_id,
            prefix,
        }
    }

    fn draw(&mut self, pattern: &str, fallback: &str) -> String {
        pattern
            .new_tree(&mut self.runner)
            .map(|tree| tree.current())
            .ok()
            .filter(|s| s != "." && s != "..")
            .unwrap_or_else(|| fallback.to_owned())
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn the_same_seed_and_name_replay_the_same_ids() {
        let mount = WritePrefix::parse("/tmp/theory-conform/r/").unwrap();
        let draw = |seed, name| {
            let mut ids = Ids::new(Seed(seed), name, mount.clone());
            (0..3).map(|_| ids.draw_next()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7, "a::b"), draw(7, "a::b"));
        assert_ne!(draw(7, "a::b"), draw(8, "a::b"));
        assert_ne!(draw(7, "a::b"), draw(7, "a::c"));
        for run in draw(7, "a::b") {
            assert!(crate::plan::check_execution_id(&run.execution_id).is_ok());
            assert!(run.prefix.as_str().starts_with("/tmp/theory-conform/r/"));
            assert!(
                run.prefix
                    .as_str()
                    .ends_with(&format!("/{}/", run.execution_id))
            );
        }
    }
}
