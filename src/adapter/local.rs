//! The local target: the image started through the Docker engine with
//! testcontainers, inspected with bollard.
//!
//! - A pinned reference `repo@sha256:<hex>` becomes the image name
//!   `repo@sha256` with the tag `<hex>` (testcontainers writes `name:tag`).
//! - The container port is published on 127.0.0.1 only, on a port the engine picks.
//! - The write prefix is bind-mounted at the same absolute path.
//! - Every container is labelled with the run id, the owner's pid and pid
//!   namespace, and a start id; it is removed when its [`ContainerGuard`]
//!   drops, when starting fails, and on SIGINT/SIGTERM/SIGQUIT
//!   (testcontainers' `watchdog`). [`sweep`] removes what a dead owner left.
//! - The engine, not the reference, says which image runs: the container's
//!   image is inspected for the `RepoDigests` entry of its repository.
//!
//! **Invariant:** a container this module created is either owned by a
//! guard or being removed; nothing is left on an error path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::PortBinding;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt as _;
use testcontainers::core::error::ClientError;
use testcontainers::core::{IntoContainerPort as _, Mount};
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, GenericImage, ImageExt as _, TestcontainersError};
use theory_contract::{Digest, STDERR_TAIL_MAX};
use tokio::time::Instant;
use url::Url;

use super::{AdapterError, Endpoint, LocalSpec, net};
use crate::image::ImageRef;

/// `theory-conform.run=<run id>`.
pub const RUN_LABEL: &str = "theory-conform.run";
/// `theory-conform.owner-pid=<pid of the harness that started it>`.
pub const OWNER_PID_LABEL: &str = "theory-conform.owner-pid";
/// `theory-conform.owner-ns=<that process's pid namespace>`: pids compare only within one.
pub const OWNER_NS_LABEL: &str = "theory-conform.owner-ns";
/// `theory-conform.start=<unique id of one start>`.
pub const START_LABEL: &str = "theory-conform.start";

/// How long engine housekeeping (inspect, logs, removal) may take.
const ENGINE_STEP: Duration = Duration::from_secs(5);

/// Owns a started container; dropping it removes the container.
pub(crate) struct ContainerGuard {
    container: Option<ContainerAsync<GenericImage>>,
    docker: Docker,
    id: String,
}

impl ContainerGuard {
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The paths the container changed in its own file system since it
    /// started (`docker diff`), as `A /path`, `C /path` or `D /path`,
    /// sorted. Bind mounts are not part of it.
    pub(crate) async fn changes(&self) -> Result<Vec<String>, AdapterError> {
        let failed = |detail: String| AdapterError::Engine {
            host: engine_host(),
            detail,
        };
        let changes = tokio::time::timeout(ENGINE_STEP, self.docker.container_changes(&self.id))
            .await
            .map_err(|_| failed("docker diff did not answer within the budget".to_owned()))?
            .map_err(|e| failed(net::chain(&e)))?;
        let mut out: Vec<String> = changes
            .unwrap_or_default()
            .into_iter()
            .map(|change| {
                let kind = match change.kind {
                    bollard::models::ChangeType::_0 => 'C',
                    bollard::models::ChangeType::_1 => 'A',
                    bollard::models::ChangeType::_2 => 'D',
                };
                format!("{kind} {}", change.path)
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// The last [`STDERR_TAIL_MAX`] bytes of stderr, redacted, cut on a UTF-8 boundary.
    pub(crate) async fn stderr_tail(&self) -> Option<String> {
        let options = LogsOptionsBuilder::new()
            .stdout(false)
            .stderr(true)
            .tail("200")
            .build();
        let mut logs = self.docker.logs(&self.id, Some(options));
        let mut buffer: Vec<u8> = Vec::new();
        let collect = async {
            while let Some(Ok(output)) = logs.next().await {
                if let LogOutput::StdErr { message } = output {
                    buffer.extend_from_slice(&message);
                    // Keep a bounded window; the tail is all that matters.
                    if buffer.len() > 4 * STDERR_TAIL_MAX {
                        buffer.drain(..buffer.len() - 2 * STDERR_TAIL_MAX);
                    }
                }
            }
        };
        let _ = tokio::time::timeout(ENGINE_STEP, collect).await;
        if buffer.is_empty() {
            return None;
        }
        let text = crate::redact::text(&String::from_utf8_lossy(&buffer));
        Some(theory_contract::text::tail(&text, STDERR_TAIL_MAX).to_owned())
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let Some(container) = self.container.take() else {
            return;
        };
        tracing::info!(event = "adapter.container.remove", container = %short(&self.id));
        // testcontainers removes in its own Drop, which needs a runtime.
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(container);
        } else if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            runtime.block_on(async move { drop(container) });
        } else {
            tracing::warn!(event = "error.container.leak", container = %short(&self.id), message = "no runtime to remove the container; the next sweep will");
            std::mem::forget(container);
        }
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// This process's pid namespace, e.g. `pid:[4026531836]`: pids compare
/// only within one.
pub fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map_or_else(|_| "unknown".to_owned(), |p| p.display().to_string())
}

/// Whether `pid` names a live process of this pid namespace.
pub fn alive(pid: u32) -> bool {
    // Without /proc nothing can be told: never sweep.
    if !std::path::Path::new("/proc/self").exists() {
        return true;
    }
    std::path::Path::new("/proc").join(pid.to_string()).exists()
}

/// Where the engine is, for messages (redacted: a `DOCKER_HOST` URL may carry credentials).
fn engine_host() -> String {
    crate::redact::text(crate::environment::Environment::process().docker_host())
}

/// A docker client with a negotiated API version, or [`AdapterError::Engine`].
async fn engine(deadline: Instant) -> Result<Docker, AdapterError> {
    let host = engine_host();
    let unavailable = |detail: String| AdapterError::Engine {
        host: host.clone(),
        detail,
    };
    let docker = testcontainers::core::client::docker_client_instance()
        .await
        .map_err(|e| unavailable(net::chain(&e)))?;
    match tokio::time::timeout_at(deadline, docker.negotiate_version()).await {
        Err(_) => Err(unavailable("no answer within the budget".to_owned())),
        Ok(Err(e)) => Err(unavailable(net::chain(&e))),
        Ok(Ok(docker)) => Ok(docker),
    }
}

/// A unique id for one start (pid, counter, time).
fn start_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{n}-{nanos}", std::process::id())
}

/// Starts the container and returns its endpoint.
pub(crate) async fn start(spec: &LocalSpec, deadline: Instant) -> Result<Endpoint, AdapterError> {
    let started = Instant::now();
    let image = ImageRef::parse(&spec.image).map_err(|detail| AdapterError::ImageNotFound {
        image: spec.image.clone(),
        detail,
    })?;
    let (name, tag) = image.name_and_tag();
    let docker = engine(deadline).await?;
    let failed = |detail: String| AdapterError::ContainerStart {
        image: spec.image.clone(),
        detail,
    };

    let start = start_id();
    let port = spec.port;
    let mut request = GenericImage::new(name, tag)
        .with_exposed_port(port.tcp())
        .with_label(RUN_LABEL, spec.run_id.clone())
        .with_label(OWNER_PID_LABEL, std::process::id().to_string())
        .with_label(OWNER_NS_LABEL, pid_namespace())
        .with_label(START_LABEL, start.clone())
        .with_startup_timeout(deadline.saturating_duration_since(Instant::now()))
        .with_host_config_modifier(move |host| {
            // Loopback only, on a port the engine picks.
            host.publish_all_ports = Some(false);
            host.port_bindings = Some(HashMap::from([(
                format!("{port}/tcp"),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".to_owned()),
                    host_port: Some(String::new()),
                }]),
            )]));
        });
    for (key, value) in &spec.env {
        request = request.with_env_var(key.clone(), value.clone());
    }
    if let Some(digest) = spec.image_digest.as_ref().or(image.digest()) {
        request = request.with_env_var("IMAGE_DIGEST", digest.as_str());
    }
    if let Some(platform) = &spec.platform {
        request = request.with_platform(platform.clone());
    }
    if let Some(prefix) = &spec.mount {
        std::fs::create_dir_all(prefix.as_str())
            .map_err(|e| failed(format!("cannot create the write prefix {prefix}: {e}")))?;
        let path = prefix.as_str().trim_end_matches('/');
        request = request.with_mount(Mount::bind_mount(path, path));
    }

    let container = match tokio::time::timeout_at(deadline, request.start()).await {
        Ok(Ok(container)) => container,
        Ok(Err(e)) => {
            remove_start(&docker, &start).await;
            return Err(classify(&spec.image, &e));
        }
        Err(_) => {
            remove_start(&docker, &start).await;
            return Err(failed(
                "the engine did not start it within the budget".to_owned(),
            ));
        }
    };
    let id = container.id().to_owned();
    let guard = ContainerGuard {
        container: Some(container),
        docker: docker.clone(),
        id: id.clone(),
    };
    let host_port = match guard.container.as_ref() {
        Some(container) => {
            match tokio::time::timeout_at(deadline, container.get_host_port_ipv4(port.tcp())).await
            {
                Ok(Ok(host_port)) => host_port,
                Ok(Err(e)) => {
                    // A processor that exits at once publishes no port: that
                    // is its health, not the engine's.
                    if let Some(code) = exit_code(&docker, &id).await {
                        let tail = guard.stderr_tail().await.unwrap_or_default();
                        return Err(AdapterError::Health {
                            url: format!("container {}", short(&id)),
                            attempts: 0,
                            elapsed_ms: 0,
                            last: format!(
                                "the container exited with code {code} before it answered /healthz; stderr: {}",
                                theory_contract::text::tail(tail.trim(), 512)
                            ),
                        });
                    }
                    return Err(failed(format!(
                        "port {port} not published: {}",
                        net::chain(&e)
                    )));
                }
                Err(_) => {
                    return Err(failed(
                        "the engine did not report the port within the budget".to_owned(),
                    ));
                }
            }
        }
        None => return Err(failed("container vanished".to_owned())),
    };
    let engine_digest = engine_digest(&docker, &id, &image.repository).await;
    tracing::info!(
        event = "adapter.container.start",
        image = %spec.image,
        container = %short(&id),
        port = host_port,
        engine_digest = engine_digest.as_ref().map(Digest::as_str),
        mount = spec.mount.as_ref().map(|p| p.as_str()),
        duration_ms = net::millis(started.elapsed()),
    );
    let mut base = Url::parse("http://127.0.0.1/").map_err(|e| failed(e.to_string()))?;
    base.set_port(Some(host_port))
        .map_err(|()| failed("cannot set the port".to_owned()))?;
    let mut endpoint = Endpoint::new(&base, None, Vec::new())?;
    endpoint.engine_digest = engine_digest;
    endpoint.container = Some(std::sync::Arc::new(guard));
    Ok(endpoint)
}

/// Maps a testcontainers failure: pull -> image, client setup -> engine, else start.
fn classify(image: &str, error: &TestcontainersError) -> AdapterError {
    let detail = net::chain(error);
    if let TestcontainersError::Client(ClientError::PullImage { .. }) = error {
        return AdapterError::ImageNotFound {
            image: image.to_owned(),
            detail,
        };
    }
    if let TestcontainersError::Client(
        ClientError::Init(_) | ClientError::Configuration(_) | ClientError::InvalidDockerHost(_),
    ) = error
    {
        let host = engine_host();
        return AdapterError::Engine { host, detail };
    }
    AdapterError::ContainerStart {
        image: image.to_owned(),
        detail,
    }
}

/// Removes whatever one start created (after a failure or a timeout).
async fn remove_start(docker: &Docker, start: &str) {
    let label = format!("{START_LABEL}={start}");
    let _ = tokio::time::timeout(ENGINE_STEP, remove_labelled(docker, &label, |_| true)).await;
}

/// Removes the containers carrying `label` for which `doomed` holds; their ids.
async fn remove_labelled(
    docker: &Docker,
    label: &str,
    doomed: impl Fn(&HashMap<String, String>) -> bool,
) -> Result<Vec<String>, bollard::errors::Error> {
    let filters = HashMap::from([("label", vec![label])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let mut removed = Vec::new();
    for summary in docker.list_containers(Some(options)).await? {
        let (Some(id), labels) = (summary.id, summary.labels.unwrap_or_default()) else {
            continue;
        };
        if !doomed(&labels) {
            continue;
        }
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(&id, Some(options)).await {
            Ok(()) => removed.push(id),
            Err(e) => {
                tracing::warn!(event = "error.container.remove", container = %short(&id), message = %net::chain(&e))
            }
        }
    }
    Ok(removed)
}

/// What [`sweep`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Containers removed (their owner is dead).
    pub removed: Vec<String>,
}

/// Time allowed to remove the containers left by dead runs.
pub const SWEEP_BUDGET: Duration = Duration::from_secs(15);

/// Removes the containers whose owner (a harness process of this pid
/// namespace) is dead. Run once at the start of a run.
pub async fn sweep(budget: Duration) -> Result<Sweep, AdapterError> {
    let namespace = pid_namespace();
    let doomed = |labels: &HashMap<String, String>| {
        labels.get(OWNER_NS_LABEL) == Some(&namespace)
            && labels
                .get(OWNER_PID_LABEL)
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !alive(pid))
    };
    let removed = remove_within(budget, OWNER_PID_LABEL, doomed).await?;
    tracing::info!(event = "adapter.container.sweep", removed = removed.len());
    Ok(Sweep { removed })
}

/// Removes every container of the run `run_id` (an interrupted run's own
/// clean-up, racing the watchdog; whichever is first does it).
pub async fn remove_run(run_id: &str, budget: Duration) -> Result<usize, AdapterError> {
    let mine = |labels: &HashMap<String, String>| {
        labels.get(RUN_LABEL).map(String::as_str) == Some(run_id)
    };
    Ok(remove_within(budget, RUN_LABEL, mine).await?.len())
}

/// [`remove_labelled`] on a fresh engine client, all of it within `budget`.
async fn remove_within(
    budget: Duration,
    label: &str,
    doomed: impl Fn(&HashMap<String, String>) -> bool,
) -> Result<Vec<String>, AdapterError> {
    let deadline = Instant::now() + budget;
    let docker = engine(deadline).await?;
    let failed = |detail: String| AdapterError::Engine {
        host: engine_host(),
        detail,
    };
    match tokio::time::timeout_at(deadline, remove_labelled(&docker, label, doomed)).await {
        Ok(Ok(removed)) => Ok(removed),
        Ok(Err(e)) => Err(failed(net::chain(&e))),
        Err(_) => Err(failed(
            "removal did not finish within the budget".to_owned(),
        )),
    }
}

/// The exit code of a container that is no longer running, if it is not.
async fn exit_code(docker: &Docker, id: &str) -> Option<i64> {
    let inspect = tokio::time::timeout(ENGINE_STEP, docker.inspect_container(id, None))
        .await
        .ok()?
        .ok()?;
    let state = inspect.state?;
    if state.running == Some(true) {
        return None;
    }
    state.exit_code
}

/// The digest the engine reports for the container's image in `repo`.
async fn engine_digest(docker: &Docker, id: &str, repo: &str) -> Option<Digest> {
    let inspect = async {
        let container = docker.inspect_container(id, None).await.ok()?;
        let image = docker.inspect_image(&container.image?).await.ok()?;
        image.repo_digests?.iter().find_map(|entry| {
            let (entry_repo, digest) = entry.split_once('@')?;
            (entry_repo == repo)
                .then(|| Digest::parse(digest).ok())
                .flatten()
        })
    };
    tokio::time::timeout(ENGINE_STEP, inspect)
        .await
        .ok()
        .flatten()
}
