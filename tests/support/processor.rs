//! The reference processor for tests: run natively (plain or TLS, with an
//! optional `THEORY_FAULT`), or its pinned image for containers.
//!
//! The native binary is `target/<profile>/theory-reference-processor`,
//! beside the test binaries; it is built once (`cargo build -p
//! theory-reference-processor`) when missing or older than its sources.
//! `THEORY_REFERENCE_PROCESSOR` names another binary.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use theory_conform::readiness::{WaitFor, Watch};
use theory_contract::{Payload, RunRequest};

/// How long a processor may take to print its `listening` line.
pub const LISTEN_BUDGET: Duration = Duration::from_secs(10);

/// How a native processor is started.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Serve TLS with a certificate from a CA made for this process.
    pub tls: bool,
    /// `THEORY_FAULT`.
    pub fault: Option<String>,
    /// More environment (e.g. `IMAGE_DIGEST`).
    pub env: Vec<(String, String)>,
}

impl Options {
    pub fn plain() -> Self {
        Self::default()
    }

    pub fn tls() -> Self {
        Self {
            tls: true,
            ..Self::default()
        }
    }

    pub fn fault(mut self, slug: &str) -> Self {
        self.fault = Some(slug.to_owned());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// A running native processor, killed on drop.
pub struct Processor {
    child: Child,
    /// The address it listens on (loopback).
    pub addr: SocketAddr,
    /// The CA file that signed its certificate, when it serves TLS.
    pub ca_file: Option<PathBuf>,
    stderr: Watch,
    _dir: tempfile::TempDir,
}

impl Processor {
    /// Starts one and waits (at most [`LISTEN_BUDGET`]) for its `listening` line.
    pub fn start(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut command = Command::new(binary());
        command
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("THEORY_FAULT")
            .env_remove("IMAGE_DIGEST")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let ca_file = options.tls.then(|| {
            let files = tls_files(dir.path());
            command
                .arg("--tls-cert")
                .arg(&files.cert)
                .arg("--tls-key")
                .arg(&files.key);
            files.ca
        });
        if let Some(fault) = &options.fault {
            command.env("THEORY_FAULT", fault);
        }
        command.envs(options.env.iter().map(|(k, v)| (k, v)));
        let mut child = command.spawn().expect("spawn the reference processor");
        let stderr = child.stderr.take().expect("stderr");
        let watch = WaitFor::LISTENING.watch(stderr);
        let addr = match watch.wait(LISTEN_BUDGET) {
            Ok(addr) => addr
                .parse()
                .expect("a socket address in the listening line"),
            Err(not_ready) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the reference processor did not start: {not_ready}");
            }
        };
        Self {
            child,
            addr,
            ca_file,
            stderr: watch,
            _dir: dir,
        }
    }

    /// `http://` or `https://` base URL.
    pub fn http_url(&self) -> url::Url {
        self.url(if self.ca_file.is_some() {
            "https"
        } else {
            "http"
        })
    }

    /// `ws://` or `wss://` base URL.
    pub fn ws_url(&self) -> url::Url {
        self.url(if self.ca_file.is_some() { "wss" } else { "ws" })
    }

    fn url(&self, scheme: &str) -> url::Url {
        let mut url = url::Url::parse("http://127.0.0.1/").expect("url");
        url.set_scheme(scheme).expect("scheme");
        url.set_port(Some(self.addr.port())).expect("port");
        url
    }

    /// Its stderr lines so far (the last few hundred).
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lines()
    }
}

impl Drop for Processor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The files of a test PKI.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A CA and a server certificate for `localhost` and `127.0.0.1`, in `dir`.
pub fn tls_files(dir: &Path) -> TlsFiles {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "theory-conform test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().expect("ca key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf cert");
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.ca, ca_cert.pem()).expect("write ca");
    std::fs::write(&files.cert, leaf_cert.pem()).expect("write cert");
    std::fs::write(&files.key, leaf_key.serialize_pem()).expect("write key");
    files
}

/// The native binary, built once per test process when missing or stale.
pub fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("THEORY_REFERENCE_PROCESSOR") {
                return PathBuf::from(path);
            }
            // target/<profile>/deps/<test binary> -> target/<profile>/
            let exe = std::env::current_exe().expect("current exe");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>");
            let binary = profile_dir.join("theory-reference-processor");
            if !fresh(&binary) {
                build();
            }
            assert!(
                binary.exists(),
                "{} missing after cargo build",
                binary.display()
            );
            binary
        })
        .clone()
}

/// Whether `binary` exists and is newer than every source it is built from.
fn fresh(binary: &Path) -> bool {
    let Ok(built) = binary.metadata().and_then(|m| m.modified()) else {
        return false;
    };
    let root = super::root();
    let sources = [
        root.join("fixtures/reference-processor/src"),
        root.join("fixtures/reference-processor/Cargo.toml"),
        root.join("crates/contract/src"),
        root.join("crates/contract/Cargo.toml"),
    ];
    sources.iter().all(|path| newest(path) <= built)
}

fn newest(path: &Path) -> SystemTime {
    let own = path
        .metadata()
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    match std::fs::read_dir(path) {
        Ok(entries) => entries
            .flatten()
            .map(|e| newest(&e.path()))
            .fold(own, SystemTime::max),
        Err(_) => own,
    }
}

fn build() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "-p", "theory-reference-processor"])
        .current_dir(super::root())
        .output()
        .expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build -p theory-reference-processor failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The pinned reference image: `THEORY_REFERENCE_IMAGE`, else the line in
/// `ci/reference-image.lock` (written by `ci/pin-reference-image`).
pub fn reference_image() -> String {
    if let Ok(image) = std::env::var("THEORY_REFERENCE_IMAGE") {
        return image;
    }
    let lock = super::root().join("ci/reference-image.lock");
    let text = std::fs::read_to_string(&lock).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run ci/pin-reference-image (ci/test provisions it in CI)",
            lock.display()
        )
    });
    text.lines()
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .expect("a reference in the lock file")
        .to_owned()
}

/// The digest of a pinned reference.
pub fn digest_of(image: &str) -> String {
    image
        .split_once('@')
        .map(|(_, d)| d.to_owned())
        .expect("a pinned reference repo@sha256:...")
}

/// Whether a Docker engine answers. Container tests skip, loudly, only when it does not.
pub fn docker_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let available = Command::new("docker")
            .args(["version", "--format", "{{.Server.APIVersion}}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !available {
            eprintln!("\n!!! SKIPPED: no Docker engine answers; container tests did not run (ci/engine-up starts one) !!!\n");
        }
        available
    })
}

/// The containers (all states) carrying `label=value`, by id.
pub fn containers_labelled(label: &str, value: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args(["ps", "-a", "-q", "--no-trunc", "--filter"])
        .arg(format!("label={label}={value}"))
        .output()
        .expect("docker ps");
    assert!(
        output.status.success(),
        "docker ps failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The standard valid request for the reference processor.
pub fn request(execution_id: &str, prefix: &str) -> RunRequest {
    RunRequest {
        execution_id: execution_id.to_owned(),
        payload: Payload {
            inputs: serde_json::json!({"schema": "v1", "params": {"text": "hello world", "repeat": 2}}),
            write_prefix: prefix.to_owned(),
            mode: "mock".to_owned(),
            storage: None,
        },
    }
}

/// A request with other inputs.
pub fn request_with(execution_id: &str, prefix: &str, inputs: serde_json::Value) -> RunRequest {
    let mut request = request(execution_id, prefix);
    request.payload.inputs = inputs;
    request
}
