//! Where a processor is: [`Target`], and what resolving one yields, an
//! [`Endpoint`].
//!
//! **Invariant:** resolution does no retry and no policy: one container
//! start, one SDK lookup, one DNS check.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use theory_contract::{Digest, WritePrefix};
use tokio::time::Instant;
use url::Url;

use crate::vocab::TargetKind;

use super::local::{self, ContainerGuard};
use super::{AdapterError, modal, net};

/// Where a processor runs.
#[derive(Clone, Debug)]
pub enum Target {
    /// An image started in a local container.
    Local(LocalSpec),
    /// A Modal web endpoint, found through Modal's SDK.
    Modal(ModalSpec),
    /// A pinned base URL.
    Url(UrlSpec),
}

impl Target {
    /// Which kind of target this is.
    pub const fn kind(&self) -> TargetKind {
        match self {
            Self::Local(_) => TargetKind::Local,
            Self::Modal(_) => TargetKind::Modal,
            Self::Url(_) => TargetKind::Url,
        }
    }
}

pub use crate::vocab::DEFAULT_PORT;

/// A local container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalSpec {
    /// `repo@sha256:<hex>` (pinned) or `repo:tag` (dev lane).
    pub image: String,
    /// The port the processor listens on inside the container.
    pub port: u16,
    /// Environment given to the container.
    pub env: BTreeMap<String, String>,
    /// `os/arch` for a foreign architecture (e.g. `linux/arm64`).
    pub platform: Option<String>,
    /// Bind-mounted at the same absolute path (the host directory is created).
    pub mount: Option<WritePrefix>,
    /// Given to the container as `IMAGE_DIGEST`; the pinned reference's digest when absent.
    pub image_digest: Option<Digest>,
    /// Labels the container `theory-conform.run=<run_id>`.
    pub run_id: String,
}

impl LocalSpec {
    /// A spec with the default port and nothing else set.
    pub fn new(image: impl Into<String>, run_id: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            port: DEFAULT_PORT,
            env: BTreeMap::new(),
            platform: None,
            mount: None,
            image_digest: None,
            run_id: run_id.into(),
        }
    }
}

/// A Modal web endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct ModalSpec {
    /// The deployed app's name.
    pub app: String,
    /// The function's name in the app.
    pub function: String,
    /// The Modal environment; the SDK's default when absent.
    pub environment: Option<String>,
    /// The Python interpreter that has the `modal` package.
    pub python: PathBuf,
    /// `Modal-Key` and `Modal-Secret`, sent with every request and redacted everywhere.
    pub proxy_auth: Option<(String, String)>,
    /// A CA file (PEM) trusted besides the public roots.
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for ModalSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModalSpec")
            .field("app", &self.app)
            .field("function", &self.function)
            .field("environment", &self.environment)
            .field("python", &self.python)
            .field(
                "proxy_auth",
                &self.proxy_auth.as_ref().map(|_| crate::redact::MASK),
            )
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// A pinned base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlSpec {
    /// `http`, `https`, `ws` or `wss`; paths `run`, `run-stream` and `healthz` are joined to it.
    pub url: Url,
    /// A CA file (PEM) trusted besides the public roots.
    pub ca_file: Option<PathBuf>,
}

/// A resolved processor: where to send requests, and what owns it.
///
/// A local endpoint owns its container: dropping the last clone removes it.
#[derive(Clone)]
pub struct Endpoint {
    /// `http(s)://host:port/...`, ending in `/`.
    pub base: Url,
    /// The digest the engine reports for the container's image (local only).
    pub engine_digest: Option<Digest>,
    pub(crate) tls: Arc<ClientConfig>,
    /// Extra headers for every request (Modal proxy auth).
    pub(crate) headers: Arc<Vec<(String, String)>>,
    pub(crate) http: reqwest::Client,
    pub(crate) container: Option<Arc<ContainerGuard>>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("base", &net::loggable(&self.base))
            .field("engine_digest", &self.engine_digest)
            .field("headers", &self.headers.len())
            .field(
                "container",
                &self.container.as_ref().map(|c| c.id().to_owned()),
            )
            .finish()
    }
}

impl Endpoint {
    /// An endpoint for `base` (any of http, https, ws, wss).
    pub(crate) fn new(
        base: &Url,
        ca_file: Option<&std::path::Path>,
        headers: Vec<(String, String)>,
    ) -> Result<Self, AdapterError> {
        let base = net::base_url(base)?;
        let (tls, http) = net::clients(ca_file).map_err(|e| match e {
            net::ClientsError::Adapter(e) => e,
            net::ClientsError::Http(reason) => AdapterError::InvalidUrl {
                url: net::loggable(&base),
                reason,
            },
        })?;
        Ok(Self {
            base,
            engine_digest: None,
            tls,
            headers: Arc::new(headers),
            http,
            container: None,
        })
    }

    /// Whether the endpoint is a container this process started.
    pub fn is_local(&self) -> bool {
        self.container.is_some()
    }

    /// The last 2 KiB of the container's stderr, cut on a UTF-8 boundary and
    /// redacted; `None` for a remote endpoint or when the engine gives nothing.
    pub async fn stderr_tail(&self) -> Option<String> {
        self.container.as_ref()?.stderr_tail().await
    }
}

/// Resolves `target` within `budget`: starts the container (local), asks
/// Modal's SDK (modal), checks the URL and its DNS (url).
pub async fn resolve(target: &Target, budget: Duration) -> Result<Endpoint, AdapterError> {
    let deadline = Instant::now() + budget;
    let resolved = match target {
        Target::Local(spec) => local::start(spec, deadline).await,
        Target::Modal(spec) => resolve_modal(spec, deadline).await,
        Target::Url(spec) => {
            resolve_url(
                &spec.url,
                spec.ca_file.as_deref(),
                Vec::new(),
                "url",
                deadline,
            )
            .await
        }
    };
    if let Err(e) = &resolved {
        e.log();
    }
    resolved
}

async fn resolve_modal(spec: &ModalSpec, deadline: Instant) -> Result<Endpoint, AdapterError> {
    let mut headers = Vec::new();
    if let Some((key, secret)) = &spec.proxy_auth {
        crate::redact::register(key);
        crate::redact::register(secret);
        headers.push(("Modal-Key".to_owned(), key.clone()));
        headers.push(("Modal-Secret".to_owned(), secret.clone()));
    }
    let url = modal::web_url(spec, deadline).await?;
    resolve_url(&url, spec.ca_file.as_deref(), headers, "modal", deadline).await
}

async fn resolve_url(
    url: &Url,
    ca_file: Option<&std::path::Path>,
    headers: Vec<(String, String)>,
    target: &'static str,
    deadline: Instant,
) -> Result<Endpoint, AdapterError> {
    let started = Instant::now();
    let endpoint = Endpoint::new(url, ca_file, headers)?;
    net::check_resolves(&endpoint.base, deadline).await?;
    tracing::info!(
        event = "adapter.url.resolve",
        target,
        url = %net::loggable(&endpoint.base),
        duration_ms = net::millis(started.elapsed()),
    );
    Ok(endpoint)
}
