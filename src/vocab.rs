//! The shared vocabulary of the harness: how it talks to a processor
//! ([`Transport`]) and where a processor runs ([`TargetKind`]), with the
//! defaults every layer agrees on.
//!
//! The registry, the suites, the `run` planner, the adapters and the checks
//! all name transports and targets with these types; their lowercase names
//! (`ws`, `http`, `sse`; `local`, `url`, `modal`) are the ones CONTRACT.md,
//! the registry and the suite files use.
//!
//! **Invariant:** a leaf: it imports nothing from this crate, so every
//! module may depend on it and it depends on none of them.

use std::fmt;

use serde::Deserialize;

/// How the harness talks to a processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// WebSocket `/run`, subprotocol `theory.run.v1`.
    Ws,
    /// `POST /run`.
    Http,
    /// `POST /run-stream` (server-sent events).
    Sse,
}

impl Transport {
    /// Every transport.
    pub const ALL: [Self; 3] = [Self::Ws, Self::Http, Self::Sse];

    /// `ws`, `http` or `sse`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ws => "ws",
            Self::Http => "http",
            Self::Sse => "sse",
        }
    }

    /// The transport named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a processor runs: the one target-kind type.
///
/// The variant order is the report order (`Ord`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The registry's image in a local container.
    Local,
    /// A processor already running at a URL (`--url`, or the registry's `url`).
    Url,
    /// The registry's Modal function, located through Modal's SDK.
    Modal,
}

impl TargetKind {
    /// Every target kind, in report order.
    pub const ALL: [Self; 3] = [Self::Local, Self::Url, Self::Modal];

    /// `local`, `url` or `modal`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Url => "url",
            Self::Modal => "modal",
        }
    }

    /// The target kind named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a target's artifacts are read from (CONTRACT.md §7): declared per
/// registry entry and target, never guessed from a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum ArtifactSource {
    /// The prefix is on this machine: a local container's bind mount, or a
    /// process that shares this disk.
    Shared,
    /// An S3-compatible store: the request hands over one presigned `PUT`
    /// URL per declared path (`payload.storage`), and the harness reads
    /// what was uploaded.
    Storage,
    /// Nowhere the harness can read: the artifact rules are skipped with a
    /// reason, never judged on a folder the harness made itself.
    #[value(name = "none")]
    Nowhere,
}

impl ArtifactSource {
    /// Every source.
    pub const ALL: [Self; 3] = [Self::Shared, Self::Storage, Self::Nowhere];

    /// `shared`, `storage` or `none`, as the registry names it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Storage => "storage",
            Self::Nowhere => "none",
        }
    }

    /// The source named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The source of a target whose registry entry declares none: a local
    /// container's prefix is bind-mounted; a url or Modal target shares
    /// nothing but the network until its entry says otherwise.
    pub const fn default_for(target: TargetKind) -> Self {
        match target {
            TargetKind::Local => Self::Shared,
            TargetKind::Url | TargetKind::Modal => Self::Nowhere,
        }
    }
}

impl fmt::Display for ArtifactSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The container port processors listen on unless the registry says otherwise.
pub const DEFAULT_PORT: u16 = 8000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for t in Transport::ALL {
            assert_eq!(Transport::from_name(t.as_str()), Some(t));
        }
        for k in TargetKind::ALL {
            assert_eq!(TargetKind::from_name(k.as_str()), Some(k));
            assert_eq!(k.to_string(), k.as_str());
        }
        for s in ArtifactSource::ALL {
            assert_eq!(ArtifactSource::from_name(s.as_str()), Some(s));
        }
        assert_eq!(ArtifactSource::from_name("nowhere"), None);
        assert_eq!(
            ArtifactSource::default_for(TargetKind::Local),
            ArtifactSource::Shared
        );
        assert_eq!(
            ArtifactSource::default_for(TargetKind::Url),
            ArtifactSource::Nowhere
        );
        assert_eq!(Transport::from_name("WS"), None);
        assert_eq!(TargetKind::from_name("docker"), None);
    }

    #[test]
    fn target_kinds_sort_in_report_order() {
        let mut kinds = vec![TargetKind::Modal, TargetKind::Url, TargetKind::Local];
        kinds.sort();
        assert_eq!(kinds, TargetKind::ALL);
    }
}
