//! The one way tests run the real `theory-conform` binary.

#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod lanes;
pub mod processor;
pub mod registry;
pub mod storage;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under the repository root.
pub fn fixture(relative: &str) -> PathBuf {
    root().join(relative)
}

/// A command line for the binary under test.
pub struct Cli {
    args: Vec<String>,
    stdin: Vec<u8>,
    env: Vec<(String, String)>,
    removed: Vec<String>,
    dir: Option<PathBuf>,
    timeout: Duration,
}

/// What a finished run left behind.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Cli {
    pub fn new<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            stdin: Vec::new(),
            env: Vec::new(),
            removed: Vec::new(),
            dir: None,
            timeout: Duration::from_secs(180),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<Path>) -> Self {
        self.args.push(arg.as_ref().display().to_string());
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = bytes.into();
        self
    }

    /// Sets `key` (the last of `env` and `env_remove` for a key wins).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.removed.retain(|k| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs without `key` in the environment (the test support's own
    /// defaults included; the last of `env` and `env_remove` for a key
    /// wins).
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.removed.push(key.to_owned());
        self
    }

    /// Runs in `dir` (the repository's folder by default).
    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// Runs to completion (killed after the timeout, which fails the test).
    /// stdout and stderr are drained while it runs, so a chatty command
    /// never blocks on a full pipe.
    pub fn run(self) -> Run {
        use std::io::Read as _;
        let mut command = Command::new(env!("CARGO_BIN_EXE_theory-conform"));
        // Tests read every diagnostic as NDJSON (a lane's default is human
        // lines with warnings and errors only; tests/terminal.rs checks it).
        command
            .env("THEORY_LOG", "info")
            .env("THEORY_LOG_FORMAT", "json")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        for key in &self.removed {
            command.env_remove(key);
        }
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let mut child = command
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn theory-conform");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = self.stdin;
        let writer = std::thread::spawn(move || {
            // The binary may exit before reading everything; that is its right.
            let _ = stdin.write_all(&input);
        });
        let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                bytes
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
        let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "theory-conform {:?} did not finish within {:?}",
                    self.args, self.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let _ = writer.join();
        Run {
            code: status.code().expect("exited, not killed by a signal"),
            stdout: stdout.join().expect("stdout reader"),
            stderr: String::from_utf8(stderr.join().expect("stderr reader"))
                .expect("stderr is UTF-8"),
        }
    }

    /// A longer timeout, for whole lanes.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl Run {
    pub fn stdout_text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    /// Every stderr line as JSON; panics (failing the test) on a line that is not.
    pub fn stderr_events(&self) -> Vec<serde_json::Value> {
        self.stderr
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {line}"))
            })
            .collect()
    }

    /// The `message` of the first event named `event`.
    pub fn event_message(&self, event: &str) -> Option<String> {
        self.stderr_events()
            .into_iter()
            .find(|e| e["event"] == event)
            .and_then(|e| e["message"].as_str().map(str::to_owned))
    }
}
