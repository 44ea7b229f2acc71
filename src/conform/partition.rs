//! `--partition count:K/N` and `--partition hash:K/N`: sharding a lane
//! across CI jobs, after filters (docs/known-failures.md).
//!
//! - `count:K/N` sorts the selected trials by name and keeps every Nth,
//!   starting with the Kth (K is 1-based, as in nextest).
//! - `hash:K/N` keeps the trials whose name's FNV-1a 64 hash is `K-1`
//!   modulo N: a trial stays in its shard whatever else the lane holds.
//!
//! **Invariant:** a pure function of the names: for K in 1..=N the shards
//! are disjoint and their union is the whole selection.

use std::str::FromStr;

/// How trials are dealt out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// By position in name order.
    Count,
    /// By a stable hash of the name.
    Hash,
}

/// One shard of N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// How.
    pub scheme: Scheme,
    /// This shard, 1-based.
    pub shard: u64,
    /// How many shards.
    pub total: u64,
}

impl FromStr for Partition {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || format!("{text:?}: expected count:K/N or hash:K/N with 1 <= K <= N");
        let (scheme, rest) = text.split_once(':').ok_or_else(usage)?;
        let scheme = match scheme {
            "count" => Scheme::Count,
            "hash" => Scheme::Hash,
            _ => return Err(usage()),
        };
        let (shard, total) = rest.split_once('/').ok_or_else(usage)?;
        let shard: u64 = shard.parse().map_err(|_| usage())?;
        let total: u64 = total.parse().map_err(|_| usage())?;
        if shard == 0 || total == 0 || shard > total {
            return Err(usage());
        }
        Ok(Self {
            scheme,
            shard,
            total,
        })
    }
}

impl Partition {
    /// The names of `names` in this shard.
    pub fn select<'a>(&self, names: &[&'a str]) -> Vec<&'a str> {
        match self.scheme {
            Scheme::Count => {
                let mut sorted = names.to_vec();
                sorted.sort_unstable();
                sorted.dedup();
                sorted
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        u64::try_from(*i).is_ok_and(|i| i % self.total == self.shard - 1)
                    })
                    .map(|(_, name)| name)
                    .collect()
            }
            Scheme::Hash => names
                .iter()
                .copied()
                .filter(|name| fnv1a(name) % self.total == self.shard - 1)
                .collect(),
        }
    }
}

/// FNV-1a, 64 bits: stable across runs, platforms and releases.
pub fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_parse_strictly() {
        let p: Partition = "count:2/3".parse().expect("valid");
        assert_eq!((p.scheme, p.shard, p.total), (Scheme::Count, 2, 3));
        for bad in [
            "count:0/3",
            "count:4/3",
            "hash:1/0",
            "slice:1/2",
            "count:1",
            "hash:a/2",
        ] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_hash_is_fnv1a_64() {
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn shards_are_disjoint_and_cover_everything() {
        let names: Vec<String> = (0..50).map(|i| format!("s::c{i}::p::local::ws")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for scheme in ["count", "hash"] {
            let mut all: Vec<&str> = Vec::new();
            for k in 1..=4 {
                let p: Partition = format!("{scheme}:{k}/4").parse().expect("valid");
                all.extend(p.select(&names));
            }
            all.sort_unstable();
            let mut expected = names.clone();
            expected.sort_unstable();
            assert_eq!(all, expected, "{scheme}");
        }
    }
}
