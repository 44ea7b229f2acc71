//! The one configuration resolver for `run`: command line + environment +
//! registry -> a [`Plan`]. Every usage and configuration error is found
//! here, before any IO on the processor's behalf.
//!
//! **Invariant:** the environment comes from one [`Environment`], read once;
//! the first IO on the processor's behalf happens after [`plan`] returns.

use std::path::{Path, PathBuf};

use theory_contract::{Digest, WritePrefix};

use crate::adapter::{HealthBudget, Limits, LocalSpec, ModalSpec, Target, UrlSpec};
use crate::artifacts;
use crate::input::Source;
use crate::orchestrator::{Plan, TargetSource};
use crate::registry::{Entry, ImageRef, ProcessorRef, Registry, TagPolicy};
use crate::vocab::{ArtifactSource, Transport};

pub use crate::vocab::TargetKind;

pub use crate::environment::Environment;

/// Target selection (CONTRACT.md §11): the flag, then `RUN_TARGET`, then
/// `modal` when `MODAL_ENVIRONMENT` is set, then `local`.
pub fn select_target(
    flag: Option<TargetKind>,
    env: &Environment,
) -> Result<(TargetKind, TargetSource), String> {
    if let Some(kind) = flag {
        return Ok((kind, TargetSource::Flag));
    }
    if let Some(value) = env.get("RUN_TARGET") {
        return TargetKind::from_name(value)
            .map(|kind| (kind, TargetSource::RunTarget))
            .ok_or_else(|| format!("RUN_TARGET={value:?} is not one of local, modal, url"));
    }
    if env.get("MODAL_ENVIRONMENT").is_some() {
        return Ok((TargetKind::Modal, TargetSource::ModalEnvironment));
    }
    Ok((TargetKind::Local, TargetSource::Default))
}

/// Where the inputs come from: exactly one of the four options.
#[derive(Clone, Debug)]
pub enum Inputs {
    /// `--inputs-json JSON` (or the deprecated `--inputs-jsonstr`).
    Inline(String),
    /// `--inputs-file PATH` or `--inputs -`.
    Source(Source),
}

/// What `run` was asked, as parsed from the command line.
#[derive(Clone, Debug)]
pub struct Request {
    /// `--ref`.
    pub processor: String,
    /// `--adapter`.
    pub adapter: Option<TargetKind>,
    /// `--url`.
    pub url: Option<String>,
    /// `--ca-file`.
    pub ca_file: Option<PathBuf>,
    /// `--artifacts`.
    pub artifacts: Option<ArtifactSource>,
    /// `--transport`.
    pub transport: Transport,
    /// `--mode`.
    pub mode: String,
    /// `--write-prefix`.
    pub write_prefix: String,
    /// `--execution-id`.
    pub execution_id: Option<String>,
    /// `--timeout`.
    pub timeout: Option<String>,
    /// `--expected-oci`.
    pub expected_oci: Option<String>,
    /// `--registry` (or `THEORY_REGISTRY`).
    pub registry: Option<PathBuf>,
    /// The inputs.
    pub inputs: Inputs,
}

/// Resolves a [`Request`] into a [`Plan`]; `Err` is a usage or
/// configuration error (exit 2) with its message.
pub fn plan(req: &Request, env: &Environment) -> Result<Plan, String> {
    let processor = ProcessorRef::parse(&req.processor).map_err(|m| format!("--ref: {m}"))?;
    let (kind, target_source) = select_target(req.adapter, env)?;
    let registry = match &req.registry {
        Some(path) => Registry::load(path, TagPolicy::RequireDigest),
        None => Registry::embedded(TagPolicy::RequireDigest),
    }
    .map_err(|e| e.to_string())?;
    let entry = registry.get(&processor);
    // A processor already running at --url needs no registry entry.
    let entry: Option<&Entry> = match (kind, entry, &req.url) {
        (_, Ok(entry), _) => Some(entry),
        (TargetKind::Url, Err(_), Some(_)) => None,
        (TargetKind::Local | TargetKind::Modal | TargetKind::Url, Err(message), _) => {
            return Err(message);
        }
    };
    if let Some(entry) = entry
        && !entry.transports.contains(&req.transport)
    {
        return Err(format!(
            "--transport {}: {processor} declares only {} in {}",
            req.transport.as_str(),
            entry
                .transports
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            registry.origin
        ));
    }
    let execution_id = match &req.execution_id {
        Some(id) => check_execution_id(id)?,
        None => generate_execution_id()?,
    };
    let prefix = WritePrefix::expand(&req.write_prefix, &execution_id)
        .map_err(|e| format!("--write-prefix: {e}"))?;
    if !req.write_prefix.contains("{execution_id}") {
        tracing::warn!(
            event = "usage.write_prefix",
            message = %format!(
                "--write-prefix {:?} has no {{execution_id}}: every run writes to the same folder",
                req.write_prefix
            ),
        );
    }
    let inputs = read_inputs(&req.inputs)?;
    let run_timeout = match &req.timeout {
        Some(t) => crate::registry::parse_duration(t).map_err(|m| format!("--timeout: {m}"))?,
        None => entry.map_or(crate::registry::DEFAULT_RUN_TIMEOUT, |e| e.run_timeout),
    };
    if let Some(ca_file) = &req.ca_file {
        crate::registry::check_ca_file(ca_file).map_err(|m| format!("--ca-file: {m}"))?;
    }
    let expected = match &req.expected_oci {
        Some(s) => Some(expected_digest(s).map_err(|m| format!("--expected-oci: {m}"))?),
        None => entry
            .and_then(|e| e.expected.as_ref())
            .and_then(|r| r.digest().cloned()),
    };
    let run_id = format!("theory-conform-{}", std::process::id());
    let target = build_target(&TargetInputs {
        kind,
        processor: &processor,
        entry,
        url: req.url.as_deref(),
        ca_file: req.ca_file.clone(),
        mount: prefix.clone(),
        run_id,
        env,
    })?;
    let secrets = entry
        .map(|e| {
            e.secrets
                .iter()
                .map(|name| (name.clone(), env.secret(name).is_some()))
                .collect()
        })
        .unwrap_or_default();
    let artifacts = source(req, entry, kind, env)?;
    // Made here whatever the source: the envelope is persisted under it.
    crate::outputs::create_writable(Path::new(prefix.as_str()))
        .map_err(|m| format!("--write-prefix: {m}"))?;
    // An explicit --timeout bounds the whole invocation, the wait for health too.
    let health_budget = entry.map_or(crate::registry::DEFAULT_HEALTH, |e| e.health);
    let health = HealthBudget {
        total: match req.timeout {
            Some(_) => health_budget.min(run_timeout),
            None => health_budget,
        },
        ..HealthBudget::default()
    };
    Ok(Plan {
        request: Plan::request(&execution_id, inputs, &prefix, &req.mode),
        processor,
        target,
        target_source,
        transport: req.transport,
        execution_id,
        prefix,
        run_timeout,
        health,
        expected,
        secrets,
        host_values: host_name().into_iter().collect(),
        limits: Limits::default(),
        artifacts,
    })
}

/// Where the target's artifacts are read from: `--artifacts`, else the
/// entry's declaration, else the target's default; a store is opened here.
fn source(
    req: &Request,
    entry: Option<&Entry>,
    kind: TargetKind,
    env: &Environment,
) -> Result<artifacts::Source, String> {
    let declared = req
        .artifacts
        .unwrap_or_else(|| entry.map_or(ArtifactSource::default_for(kind), |e| e.artifacts(kind)));
    Ok(match declared {
        ArtifactSource::Shared => artifacts::Source::Shared,
        ArtifactSource::Nowhere => artifacts::Source::Nowhere,
        ArtifactSource::Storage => {
            let config = entry.and_then(|e| e.storage.as_ref()).ok_or_else(|| {
                "--artifacts storage: the registry entry has no `storage` section".to_owned()
            })?;
            artifacts::Source::Storage(std::sync::Arc::new(artifacts::Store::open(config, env)?))
        }
    })
}

/// What [`build_target`] needs.
#[derive(Clone, Debug)]
pub struct TargetInputs<'a> {
    /// Which kind.
    pub kind: TargetKind,
    /// The processor (for messages).
    pub processor: &'a ProcessorRef,
    /// Its registry entry, if it has one.
    pub entry: Option<&'a Entry>,
    /// An explicit URL (`--url`), overriding the entry's.
    pub url: Option<&'a str>,
    /// An explicit CA file, overriding the entry's.
    pub ca_file: Option<PathBuf>,
    /// The folder bind-mounted into a local container at the same path:
    /// the write prefix, or a folder above every prefix that shares it.
    pub mount: WritePrefix,
    /// Labels the containers of this process.
    pub run_id: String,
    /// The environment, read once.
    pub env: &'a Environment,
}

/// The adapter target for a kind and a registry entry; `Err` names what
/// the entry lacks.
pub fn build_target(inputs: &TargetInputs<'_>) -> Result<Target, String> {
    let TargetInputs {
        kind,
        processor,
        entry,
        url,
        ca_file,
        mount,
        run_id,
        env,
    } = inputs;
    let processor = *processor;
    let target = match *kind {
        TargetKind::Local => {
            let entry = entry.ok_or("local target needs a registry entry")?;
            let image = entry
                .image
                .as_ref()
                .ok_or_else(|| format!("{processor} has no `image` for the local target"))?;
            // The container gets its declared secrets (those set; a missing
            // one is ERR_MISSING_SECRET before anything starts).
            let mut container_env = entry.env.clone();
            for name in &entry.secrets {
                if let Some(value) = env.secret(name) {
                    container_env.insert(name.clone(), value.to_owned());
                }
            }
            Target::Local(LocalSpec {
                image: image.to_string(),
                port: entry.port,
                env: container_env,
                platform: None,
                mount: Some(mount.clone()),
                image_digest: image.digest().cloned(),
                run_id: run_id.clone(),
            })
        }
        TargetKind::Modal => {
            let entry = entry.ok_or("modal target needs a registry entry")?;
            let modal = entry.modal.as_ref().ok_or_else(|| {
                format!("{processor} has no `modal` section for the modal target")
            })?;
            let proxy_auth = env
                .get("THEORY_MODAL_PROXY_KEY")
                .zip(env.secret("THEORY_MODAL_PROXY_SECRET"))
                .map(|(key, secret)| (key.to_owned(), secret.to_owned()));
            Target::Modal(ModalSpec {
                app: modal.app.clone(),
                function: modal.function.clone(),
                environment: modal
                    .environment
                    .clone()
                    .or_else(|| env.get("MODAL_ENVIRONMENT").map(str::to_owned)),
                python: PathBuf::from(env.get("THEORY_PYTHON").unwrap_or("python3")),
                proxy_auth,
                ca_file: ca_file.clone().or_else(|| entry.ca_file.clone()),
            })
        }
        TargetKind::Url => {
            let url = match (url, entry.and_then(|e| e.url.as_ref())) {
                (Some(url), _) => {
                    crate::registry::endpoint_url(url).map_err(|m| format!("--url: {m}"))?
                }
                (None, Some(url)) => url.clone(),
                (None, None) => {
                    return Err(format!(
                        "the url target needs --url, or a `url` for {processor} in the registry"
                    ));
                }
            };
            Target::Url(UrlSpec {
                url,
                ca_file: ca_file
                    .clone()
                    .or_else(|| entry.and_then(|e| e.ca_file.clone())),
            })
        }
    };
    Ok(target)
}

fn read_inputs(inputs: &Inputs) -> Result<serde_json::Value, String> {
    let (name, bytes) = match inputs {
        Inputs::Inline(text) => ("--inputs-json".to_owned(), text.as_bytes().to_vec()),
        Inputs::Source(source) => (source.name(), source.read().map_err(|e| e.to_string())?),
    };
    theory_contract::canon::parse(&bytes).map_err(|e| format!("{name}:{e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{name}: {e}"))
}

/// An execution id names a folder: 1-128 characters from `[A-Za-z0-9._-]`,
/// not `.` or `..`.
pub fn check_execution_id(id: &str) -> Result<String, String> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(id.to_owned())
    } else {
        let shown = theory_contract::text::head(id, 64);
        let more = if shown.len() < id.len() {
            format!("... ({} bytes)", id.len())
        } else {
            String::new()
        };
        Err(format!(
            "--execution-id: {shown:?}{more} must be 1-128 characters from [A-Za-z0-9._-]"
        ))
    }
}

/// `exec-` and 16 random hex digits, from the OS.
fn generate_execution_id() -> Result<String, String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot generate an execution id: /dev/urandom: {e}"))?;
    Ok(format!(
        "exec-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

fn expected_digest(s: &str) -> Result<Digest, String> {
    if let Ok(digest) = Digest::parse(s) {
        return Ok(digest);
    }
    let image = ImageRef::parse(s)?;
    image
        .digest()
        .cloned()
        .ok_or_else(|| format!("{s:?} must be pinned by digest"))
}

/// This machine's host name, when it is long enough to be told apart from
/// a word (3 bytes): a value no envelope may name (CONTRACT.md §2).
pub(crate) fn host_name() -> Option<String> {
    let name = std::fs::read_to_string(Path::new("/proc/sys/kernel/hostname")).ok()?;
    Some(name.trim().to_owned()).filter(|n| n.len() >= 3)
}
