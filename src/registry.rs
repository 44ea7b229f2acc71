//! The processor registry (`registry.yaml`): which processors exist, where
//! they run and what inputs they accept (DESIGN.md §4).
//!
//! Loaded in two typed stages: the raw [`Document`] (strict: unknown keys
//! are errors, with file, line and column), then the resolved [`Registry`], in
//! which every reference, URL, duration and fixture folder has been checked.
//! The embedded default (the reference processor) is `registry.yaml` at the
//! repository root; `--registry FILE` or `THEORY_REGISTRY` replaces it.
//!
//! **Invariant:** a [`Registry`] that loaded is entirely valid; nothing
//! downstream re-checks it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::config_file::ConfigError;
pub use crate::image::{ImageRef, Pin};
pub use crate::vocab::DEFAULT_PORT;
use crate::vocab::{ArtifactSource, TargetKind, Transport};
pub use document::{Document, DocumentEntry, DocumentModal, DocumentStorage, duration_text};

mod document;
pub mod init;
pub mod render;
mod storage;
pub use storage::{DEFAULT_MAX_BYTES, StorageConfig};

/// The embedded default registry.
pub const EMBEDDED: &str = include_str!("../registry.yaml");

/// The name messages use for the embedded registry.
pub const EMBEDDED_NAME: &str = "<embedded registry.yaml>";

/// Health budget when the entry sets none (CONTRACT.md §9: 10-15 s).
pub const DEFAULT_HEALTH: Duration = Duration::from_secs(12);
/// Run budget when the entry sets none.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Parallel trials per processor when the entry sets none.
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;
/// The transports every processor serves (CONTRACT.md §6); SSE is optional.
pub const DEFAULT_TRANSPORTS: [Transport; 2] = [Transport::Ws, Transport::Http];
/// The paths a local container may change outside its prefix by default.
pub const DEFAULT_SCRATCH: [&str; 1] = ["/tmp"];

/// A processor's name: `ns/name@version`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessorRef {
    text: String,
}

impl ProcessorRef {
    /// Accepts `ns/name@version` with `[a-z0-9._-]` segments.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok_segment = |seg: &str| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        let shape = s.split_once('/').and_then(|(ns, rest)| {
            let (name, version) = rest.split_once('@')?;
            (ok_segment(ns) && ok_segment(name) && ok_segment(version)).then_some(())
        });
        match shape {
            Some(()) => Ok(Self { text: s.to_owned() }),
            None => Err(format!(
                "{s:?} is not `ns/name@version` (lowercase letters, digits, `._-`)"
            )),
        }
    }

    /// `ns/name`, without the version.
    pub fn name(&self) -> &str {
        self.text.split('@').next().unwrap_or(&self.text)
    }

    /// A file-system-safe slug: `ns-name-version`.
    pub fn slug(&self) -> String {
        self.text.replace(['/', '@'], "-")
    }
}

impl std::fmt::Display for ProcessorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Where Modal serves a processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModalTarget {
    /// Modal app name.
    pub app: String,
    /// Function name within the app.
    pub function: String,
    /// Modal environment, when not the default.
    pub environment: Option<String>,
}

/// One processor, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The local image, if it runs locally.
    pub image: Option<ImageRef>,
    /// The digest its image must have (`expected_oci`), if declared.
    pub expected: Option<ImageRef>,
    /// A pinned endpoint (https/wss, or plain on loopback), if any.
    pub url: Option<Url>,
    /// A PEM CA file for `url` or Modal, if the endpoint uses a private CA.
    pub ca_file: Option<PathBuf>,
    /// Where Modal serves it, if deployed there.
    pub modal: Option<ModalTarget>,
    /// The container port it listens on.
    pub port: u16,
    /// Environment given to the container.
    pub env: BTreeMap<String, String>,
    /// Names of environment variables that must be present (values never read into logs).
    pub secrets: Vec<String>,
    /// Health budget.
    pub health: Duration,
    /// Run budget.
    pub run_timeout: Duration,
    /// Parallel trials at most.
    pub max_concurrency: usize,
    /// The transports it serves. WebSocket and HTTP are the contract's;
    /// SSE (`POST /run-stream`) is optional, so it is tested only when
    /// declared. Default: `[ws, http]`.
    pub transports: Vec<Transport>,
    /// The inputs it accepts and rejects.
    pub fixtures: Fixtures,
    /// Absolute paths a local container may change outside the prefix's
    /// mount (`docker diff`), each with everything below it. Default `[/tmp]`.
    pub scratch: Vec<String>,
    /// Where each target's artifacts are read from, as declared (targets
    /// not named take [`ArtifactSource::default_for`]).
    pub artifacts: BTreeMap<TargetKind, ArtifactSource>,
    /// The store of the targets declared `storage`.
    pub storage: Option<StorageConfig>,
}

impl Entry {
    /// Where `target`'s artifacts are read from (CONTRACT.md §7).
    pub fn artifacts(&self, target: TargetKind) -> ArtifactSource {
        self.artifacts
            .get(&target)
            .copied()
            .unwrap_or(ArtifactSource::default_for(target))
    }
}

/// A processor's inputs, from `<fixtures>/{valid,invalid,crash}/*.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fixtures {
    /// Inputs that must succeed (with goldens).
    pub valid: Vec<Fixture>,
    /// Inputs that must give `ERR_INPUTS`.
    pub invalid: Vec<Fixture>,
    /// Inputs that must crash the processor (HTTP 500, `ERR_INTERNAL`).
    pub crash: Vec<Fixture>,
}

/// One input document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fixture {
    /// File stem, e.g. `basic`.
    pub name: String,
    /// Absolute path of the JSON file.
    pub path: PathBuf,
}

/// A loaded, checked registry.
#[derive(Clone, Debug, PartialEq)]
pub struct Registry {
    /// The file it came from, or [`EMBEDDED_NAME`].
    pub origin: String,
    /// Processors by name, sorted.
    pub processors: BTreeMap<ProcessorRef, Entry>,
}

/// Whether tags are acceptable where an image is referenced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagPolicy {
    /// Tags are errors (every lane but dev, and `run`).
    RequireDigest,
    /// Tags are accepted (the dev lane).
    AllowTags,
}

/// Why a registry did not load; every case is a configuration error (exit 2).
pub type RegistryError = ConfigError;

impl Registry {
    /// The embedded registry; relative paths resolve against the repository root.
    pub fn embedded(policy: TagPolicy) -> Result<Self, RegistryError> {
        Self::parse(
            EMBEDDED,
            EMBEDDED_NAME,
            Path::new(env!("CARGO_MANIFEST_DIR")),
            policy,
        )
    }

    /// A registry file; relative paths resolve against its folder.
    pub fn load(path: &Path, policy: TagPolicy) -> Result<Self, RegistryError> {
        let (text, origin) = crate::config_file::read(path)?;
        let base = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Self::parse(&text, &origin, &base, policy)
    }

    /// Parses and checks registry text.
    pub fn parse(
        text: &str,
        origin: &str,
        base: &Path,
        policy: TagPolicy,
    ) -> Result<Self, RegistryError> {
        let raw = Document::parse(text, origin)?;
        let mut processors = BTreeMap::new();
        for (name, entry) in raw.processors {
            let entry_at = text.find(&format!("{name}:")).unwrap_or(0);
            let invalid = |path: &[&str], message: String| {
                let (line, column) = crate::config_file::locate_path(text, entry_at, path);
                ConfigError::Invalid {
                    origin: origin.to_owned(),
                    line,
                    column,
                    message,
                }
            };
            let key = ProcessorRef::parse(&name).map_err(|m| invalid(&[], m))?;
            let entry = resolve_entry(entry, base, policy).map_err(|(path, m)| {
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                invalid(&path, format!("{name}: {m}"))
            })?;
            processors.insert(key, entry);
        }
        Ok(Self {
            origin: origin.to_owned(),
            processors,
        })
    }

    /// The entry for `name`, or a message listing the known names.
    pub fn get(&self, name: &ProcessorRef) -> Result<&Entry, String> {
        self.processors.get(name).ok_or_else(|| {
            let known: Vec<String> = self.processors.keys().map(ToString::to_string).collect();
            format!(
                "{name} is not in {} (known: {})",
                self.origin,
                known.join(", ")
            )
        })
    }
}

/// An error while resolving an entry: where to point (the texts to find in
/// turn from the entry's name, e.g. a field then its value; none: the name)
/// and why.
type EntryError = (Vec<String>, String);

/// The place of `field`'s value `value`.
fn at_value(field: &str, value: &str) -> Vec<String> {
    vec![format!("{field}:"), value.to_owned()]
}

fn resolve_entry(raw: DocumentEntry, base: &Path, policy: TagPolicy) -> Result<Entry, EntryError> {
    let image = raw
        .image
        .as_deref()
        .map(|s| {
            let image = ImageRef::parse(s).map_err(|m| (at_value("image", s), format!("image: {m}")))?;
            match (&image.pin, policy) {
                (Pin::Tag(_), TagPolicy::RequireDigest) => Err((
                    at_value("image", s),
                    format!("image: {s:?} is pinned by tag; a digest (`repo@sha256:<hex>`) is required outside the dev lane"),
                )),
                (Pin::Tag(_), TagPolicy::AllowTags) | (Pin::Digest(_), _) => Ok(image),
            }
        })
        .transpose()?;
    let expected = raw
        .expected_oci
        .as_deref()
        .map(|s| match ImageRef::parse(s) {
            Ok(r) if r.digest().is_some() => Ok(r),
            Ok(_) => Err((
                at_value("expected_oci", s),
                format!("expected_oci: {s:?} must be pinned by digest"),
            )),
            Err(m) => Err((at_value("expected_oci", s), format!("expected_oci: {m}"))),
        })
        .transpose()?;
    let url = raw
        .url
        .as_deref()
        .map(|s| endpoint_url(s).map_err(|m| (at_value("url", s), format!("url: {m}"))))
        .transpose()?;
    if image.is_none() && url.is_none() && raw.modal.is_none() {
        return Err((
            Vec::new(),
            "names no target: give `image`, `url` or `modal`".to_owned(),
        ));
    }
    let duration = |field: &str, value: Option<&str>, default: Duration| {
        value.map_or(Ok(default), |s| {
            parse_duration(s).map_err(|m| (at_value(field, s), format!("{field}: {m}")))
        })
    };
    let health = duration("health", raw.health.as_deref(), DEFAULT_HEALTH)?;
    let run_timeout = duration(
        "run_timeout",
        raw.run_timeout.as_deref(),
        DEFAULT_RUN_TIMEOUT,
    )?;
    for secret in &raw.secrets {
        let ok = !secret.is_empty()
            && secret
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err((
                vec!["secrets:".to_owned(), secret.clone()],
                format!("secrets: {secret:?} is not an environment variable name"),
            ));
        }
    }
    let transports = match &raw.transports {
        None => DEFAULT_TRANSPORTS.to_vec(),
        Some(names) => {
            let mut transports = Vec::new();
            for name in names {
                let transport = Transport::from_name(name).ok_or_else(|| {
                    (
                        vec!["transports:".to_owned(), name.clone()],
                        format!("transports: {name:?} is not ws, http or sse"),
                    )
                })?;
                if !transports.contains(&transport) {
                    transports.push(transport);
                }
            }
            // The contract requires ws and http (§6); a lane that certifies
            // asks for them as evidence (`certification::evidence`), so an
            // entry in progress still runs what it serves in `dev`.
            if transports.is_empty() {
                return Err((
                    vec!["transports:".to_owned()],
                    "transports: list at least one of ws, http, sse".to_owned(),
                ));
            }
            transports.sort_by_key(|t| Transport::ALL.iter().position(|a| a == t));
            transports
        }
    };
    let ca_file = raw
        .ca_file
        .as_deref()
        .map(|p| {
            let path = base.join(p);
            check_ca_file(&path).map(|()| path).map_err(|m| {
                (
                    at_value("ca_file", &p.display().to_string()),
                    format!("ca_file: {m}"),
                )
            })
        })
        .transpose()?;
    let scratch = match &raw.scratch {
        None => DEFAULT_SCRATCH.iter().map(|p| (*p).to_owned()).collect(),
        Some(paths) => {
            for path in paths {
                if !theory_contract::is_normal_path(path) {
                    return Err((
                        at_value("scratch", path),
                        format!(
                            "scratch: {path:?} is not an absolute, normal path below `/` (no `.`, `..`, empty segment or trailing `/`)"
                        ),
                    ));
                }
            }
            paths.clone()
        }
    };
    let mut artifacts = BTreeMap::new();
    for (target, source) in &raw.artifacts {
        let kind = TargetKind::from_name(target).ok_or_else(|| {
            (
                vec!["artifacts:".to_owned(), format!("{target}:")],
                format!("artifacts: {target:?} is not local, url or modal"),
            )
        })?;
        let source = ArtifactSource::from_name(source).ok_or_else(|| {
            (
                vec!["artifacts:".to_owned(), format!("{target}:")],
                format!("artifacts: {target}: {source:?} is not shared, storage or none"),
            )
        })?;
        artifacts.insert(kind, source);
    }
    let storage = raw.storage.as_ref().map(storage::resolve).transpose()?;
    if storage.is_none() && artifacts.values().any(|s| *s == ArtifactSource::Storage) {
        return Err((
            vec!["artifacts:".to_owned()],
            "artifacts: a target reads from storage, but the entry has no `storage` section"
                .to_owned(),
        ));
    }
    let max_concurrency = raw.max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY);
    if max_concurrency == 0 {
        return Err((
            vec!["max_concurrency:".to_owned()],
            "max_concurrency must be at least 1".to_owned(),
        ));
    }
    let fixtures = match &raw.fixtures {
        Some(dir) => load_fixtures(&base.join(dir)).map_err(|m| {
            (
                at_value("fixtures", &dir.display().to_string()),
                format!("fixtures: {m}"),
            )
        })?,
        None => Fixtures::default(),
    };
    Ok(Entry {
        image,
        expected,
        url,
        ca_file,
        modal: raw.modal.map(|m| ModalTarget {
            app: m.app,
            function: m.function,
            environment: m.environment,
        }),
        port: raw.port.unwrap_or(DEFAULT_PORT),
        env: raw.env,
        secrets: raw.secrets,
        health,
        run_timeout,
        max_concurrency,
        transports,
        fixtures,
        scratch,
        artifacts,
        storage,
    })
}

fn load_fixtures(dir: &Path) -> Result<Fixtures, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a folder", dir.display()));
    }
    let list = |kind: &str| -> Result<Vec<Fixture>, String> {
        let sub = dir.join(kind);
        if !sub.exists() {
            return Ok(Vec::new());
        }
        let mut fixtures = Vec::new();
        for entry in std::fs::read_dir(&sub).map_err(|e| format!("{}: {e}", sub.display()))? {
            let path = entry.map_err(|e| format!("{}: {e}", sub.display()))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                fixtures.push(Fixture { name, path });
            }
        }
        fixtures.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(fixtures)
    };
    Ok(Fixtures {
        valid: list("valid")?,
        invalid: list("invalid")?,
        crash: list("crash")?,
    })
}

/// The shortest budget a duration may set.
pub const MIN_BUDGET: Duration = Duration::from_millis(1);
/// The longest budget a duration may set.
pub const MAX_BUDGET: Duration = Duration::from_secs(24 * 3600);

/// `250ms`, `12s`, `2m`, `1h`: a whole number and a unit, from
/// [`MIN_BUDGET`] to [`MAX_BUDGET`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration like 250ms, 12s, 2m or 1h");
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = s.split_at(digits);
    let scale: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(bad()),
    };
    let out_of_range = || {
        format!(
            "{s:?} is outside the budgets a duration may set ({} to {})",
            duration_text(MIN_BUDGET),
            duration_text(MAX_BUDGET)
        )
    };
    if number.is_empty() {
        return Err(bad());
    }
    let millis = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(out_of_range)?;
    let duration = Duration::from_millis(millis);
    if (MIN_BUDGET..=MAX_BUDGET).contains(&duration) {
        Ok(duration)
    } else {
        Err(out_of_range())
    }
}

/// A processor's base URL: absolute, `https`/`wss` (plain `http`/`ws` only
/// on loopback), with no query, fragment or credentials (they would be
/// dropped or leak).
pub fn endpoint_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("{s:?}: {e}"))?;
    let loopback = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || url.host_str() == Some("localhost");
    match url.scheme() {
        "https" | "wss" => {}
        "http" | "ws" if loopback => {}
        other => {
            return Err(format!(
                "scheme {other:?} is not allowed; use https or wss (plain http/ws only on loopback)"
            ));
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{s:?}: a base URL has no query or fragment (they would be dropped)"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a base URL carries no credentials".to_owned());
    }
    Ok(url)
}

/// A CA file must be a readable file; its PEM is read when the endpoint is.
pub fn check_ca_file(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(format!("{} is not a file", path.display())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}
