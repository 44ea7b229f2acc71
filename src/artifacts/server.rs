//! A real S3-protocol server on loopback: `s3s-fs` (from the Rust package
//! registry; `ci/storage-up` installs it) serving a folder, one bucket, one
//! pair of credentials. The self-test's storage rows and the tests start
//! one; a user's lane points its registry `storage` at any S3-compatible
//! store instead.
//!
//! **Invariant:** the process is killed and reaped on drop; its start is
//! bounded by [`START_BUDGET`].

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use url::Url;

/// The bucket a local store serves.
pub const BUCKET: &str = "theory";
/// How long the server may take to say where it listens.
pub const START_BUDGET: Duration = Duration::from_secs(20);

/// A running local store, killed on drop.
#[derive(Debug)]
pub struct LocalS3 {
    child: Child,
    /// Its endpoint, `http://127.0.0.1:<port>/`.
    pub endpoint: Url,
}

impl LocalS3 {
    /// Starts `binary` on a free loopback port, storing under `root` (the
    /// bucket is a folder of it), accepting only `key_id` and `secret`.
    pub fn start(binary: &Path, root: &Path, key_id: &str, secret: &str) -> Result<Self, String> {
        std::fs::create_dir_all(root.join(BUCKET))
            .map_err(|e| format!("{}: {e}", root.display()))?;
        let mut child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--access-key", key_id, "--secret-key", secret])
            .arg(root)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "start {}: {e} (ci/storage-up installs s3s-fs; THEORY_S3S_FS names another binary)",
                    binary.display()
                )
            })?;
        let (sender, receiver) = mpsc::channel();
        // s3s-fs logs to stdout or stderr depending on its version: read both.
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(at) = line.find("server is running at ") {
                        let _ = sender
                            .send(line[at + "server is running at ".len()..].trim().to_owned());
                    }
                }
            });
        }
        let mut server = Self {
            child,
            endpoint: Url::parse("http://127.0.0.1/").map_err(|e| e.to_string())?,
        };
        let address = receiver.recv_timeout(START_BUDGET).map_err(|_| {
            format!(
                "{} did not say where it listens within {} s",
                binary.display(),
                START_BUDGET.as_secs()
            )
        })?;
        server.endpoint =
            Url::parse(&address).map_err(|e| format!("the store's address {address:?}: {e}"))?;
        Ok(server)
    }
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
