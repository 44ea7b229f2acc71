//! Runs that end badly leave nothing behind: SIGINT and SIGTERM remove the
//! run's folder and containers; what a SIGKILL leaves, the next start
//! sweeps; the engine going away mid-lane is exit 3 with a clear message.
//! (`ci/kill-runs` does the same 50 times at random moments.)

mod support;

use std::io::{Read as _, Write as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::processor::docker_available;
use support::{Cli, fixture};

/// The pr lane on the embedded registry, its runs under `dir/runs`.
fn start(dir: &Path, docker_host: Option<&str>) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_theory-conform"));
    command
        .args(["--lane", "pr", "--work-dir"])
        .arg(dir.join("runs"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--json")
        .arg(dir.join("summary.json"))
        .arg("--golden-dir")
        .arg(fixture("golden"))
        .env("CI", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("stderr file"));
    if let Some(host) = docker_host {
        command.env("DOCKER_HOST", host);
    }
    command.spawn().expect("start the lane")
}

/// The containers whose owner is `pid`.
fn containers_of(pid: u32) -> Vec<String> {
    let output = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=theory-conform.owner-pid={pid}"))
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The run folders under `dir/runs`.
fn folders(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("runs"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the run has a container (so it is mid-lane), at most 20 s.
fn wait_for_a_container(child: &Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while containers_of(child.id()).is_empty() {
        assert!(Instant::now() < deadline, "the run started no container");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args(["-s", name, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits for the child, at most 30 s.
fn reap(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run outlived its signal by 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigint_and_sigterm_remove_the_runs_folder_and_containers() {
    if !docker_available() {
        return;
    }
    for name in ["INT", "TERM"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = start(dir.path(), None);
        wait_for_a_container(&child);
        assert_eq!(folders(dir.path()).len(), 1);
        let started = Instant::now();
        signal(&child, name);
        reap(&mut child);
        let left = folders(dir.path());
        println!(
            "SIG{name}: the run ended {:?} after the signal; {} folder(s) left",
            started.elapsed(),
            left.len()
        );
        assert_eq!(containers_of(child.id()), Vec::<String>::new(), "SIG{name}");
        // The run removes its folder unless testcontainers' watchdog ended
        // the process first; then the next start does.
        if !left.is_empty() {
            next_start(dir.path());
            assert_eq!(folders(dir.path()), Vec::<String>::new(), "SIG{name}");
        }
    }
}

/// A short run on the same work dir: its start sweeps what dead runs left.
fn next_start(dir: &Path) {
    let run = Cli::new(["--lane", "pr", "contract::health", "--work-dir"])
        .arg(dir.join("runs"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--golden-dir")
        .arg(fixture("golden"))
        .env("CI", "true")
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn what_a_sigkill_leaves_the_next_start_sweeps() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = start(dir.path(), None);
    wait_for_a_container(&child);
    signal(&child, "KILL");
    reap(&mut child);
    assert_eq!(folders(dir.path()).len(), 1, "a SIGKILL leaves the folder");
    assert!(!containers_of(child.id()).is_empty(), "and the container");
    next_start(dir.path());
    assert_eq!(folders(dir.path()), Vec::<String>::new());
    assert_eq!(containers_of(child.id()), Vec::<String>::new());
}

/// A unix socket that forwards to the engine's until `cut` is set, then
/// drops every connection and refuses new ones.
fn engine_proxy(path: &Path, cut: Arc<AtomicBool>) {
    let listener = UnixListener::bind(path).expect("bind the proxy");
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            if cut.load(Ordering::SeqCst) {
                return;
            }
            let Ok(engine) = UnixStream::connect("/var/run/docker.sock") else {
                return;
            };
            for (mut from, mut to) in [
                (
                    client.try_clone().expect("clone"),
                    engine.try_clone().expect("clone"),
                ),
                (engine, client),
            ] {
                let cut = Arc::clone(&cut);
                std::thread::spawn(move || {
                    let mut buffer = [0_u8; 16 * 1024];
                    while !cut.load(Ordering::SeqCst) {
                        match from.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if to.write_all(&buffer[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                    let _ = from.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
}

#[test]
fn the_engine_going_away_mid_lane_is_exit_3_with_a_clear_message() {
    if !docker_available() || !Path::new("/var/run/docker.sock").exists() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("engine.sock");
    let cut = Arc::new(AtomicBool::new(false));
    engine_proxy(&socket, Arc::clone(&cut));
    let host = format!("unix://{}", socket.display());
    let mut child = start(dir.path(), Some(&host));
    wait_for_a_container(&child);
    cut.store(true, Ordering::SeqCst);
    // Wake the accept loop so it sees the cut.
    let _ = UnixStream::connect(&socket);
    let started = Instant::now();
    reap(&mut child);
    println!(
        "the lane ended {:?} after the engine went away",
        started.elapsed()
    );
    let status = child.wait().expect("status");
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert_eq!(status.code(), Some(3), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).expect("summary"))
            .expect("JSON");
    assert_eq!(summary["counts"]["failed"], 0, "{summary}");
    let errored: Vec<&str> = summary["trials"]
        .as_array()
        .expect("trials")
        .iter()
        .filter(|t| t["verdict"] == "error")
        .filter_map(|t| t["message"].as_str())
        .collect();
    assert!(!errored.is_empty(), "{summary}");
    assert!(
        errored
            .iter()
            .any(|m| m.contains("ERR_DOCKER") || m.contains("engine")),
        "{errored:?}"
    );
    // What the lost engine could not remove, the next start sweeps.
    next_start(dir.path());
    assert_eq!(containers_of(child.id()), Vec::<String>::new());
}
