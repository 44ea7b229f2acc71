//! The run's folder under `--work-dir` (the parent of every trial's
//! prefix, named by the run id): who owns it, when it goes.
//!
//! - The run id, `conform-<pid namespace>-<pid>-<ms>`, names the process
//!   that owns the folder (and labels its containers).
//! - A passing run removes its folder; a failing one marks it kept, for
//!   inspection.
//! - SIGINT or SIGTERM: the run removes its folder and its containers, then
//!   ends as the signal would; it never marks the folder kept, though its
//!   trials fail as their containers go (testcontainers' watchdog races it for the
//!   containers and may end the process first: a folder that race leaves,
//!   or that a still-running trial re-created, the next start sweeps).
//! - At start, [`sweep`] removes the run folders of dead owners of this pid
//!   namespace that are not marked kept: what a SIGKILL left, or what the
//!   engine re-created for a container started as its run died.
//!
//! **Invariant:** a sweep removes only folders whose name is a run id of
//! this pid namespace naming a dead process, and never a kept one.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use theory_contract::WritePrefix;

use crate::adapter;

/// Present in a folder a failing run kept for inspection.
pub(super) const KEPT_FILE: &str = ".theory-kept";
/// How long an interrupted run spends removing its containers.
const INTERRUPT_BUDGET: Duration = Duration::from_secs(10);
/// Set once SIGINT or SIGTERM arrived: the run's folder is the handler's.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// This run's id: `conform-<pid namespace inode>-<pid>-<ms since epoch>`.
pub(super) fn run_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("conform-{}-{}-{ms}", namespace(), std::process::id())
}

/// The digits of this process's pid namespace (`pid:[4026531836]`), or `0`.
fn namespace() -> String {
    let ns: String = adapter::pid_namespace()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    if ns.is_empty() { "0".to_owned() } else { ns }
}

/// The pid of a run id of this namespace.
fn owner(name: &str, namespace: &str) -> Option<u32> {
    let rest = name.strip_prefix("conform-")?.strip_prefix(namespace)?;
    let (pid, ms) = rest.strip_prefix('-')?.split_once('-')?;
    ms.bytes().all(|b| b.is_ascii_digit()).then_some(())?;
    pid.parse().ok()
}

/// Creates the run's folder.
pub(super) fn claim(mount: &WritePrefix) -> std::io::Result<()> {
    std::fs::create_dir_all(mount.as_str())
}

/// Ends the run's folder: a passing run removes it, a failing one marks it
/// kept (no sweep removes it). An interrupted run does neither: its trials
/// failed because the handler removed their containers, so this waits for
/// the handler to end the process, then removes the folder itself should
/// the handler not have.
pub(super) fn release(mount: &WritePrefix, passed: bool) {
    release_after(
        mount,
        passed,
        INTERRUPTED.load(Ordering::SeqCst),
        INTERRUPT_BUDGET * 2,
    );
}

/// [`release`], told whether the run was interrupted and how long the
/// handler may take.
fn release_after(mount: &WritePrefix, passed: bool, interrupted: bool, handler: Duration) {
    if interrupted {
        std::thread::sleep(handler);
        let _ = std::fs::remove_dir_all(mount.as_str());
    } else if passed {
        let _ = std::fs::remove_dir_all(mount.as_str());
    } else {
        let _ = std::fs::write(Path::new(mount.as_str()).join(KEPT_FILE), b"");
        tracing::info!(event = "conform.kept", folder = %mount, message = "the run's prefixes are kept for inspection");
    }
}

/// Removes the run folders of `work_dir` whose owner is a dead process of
/// this pid namespace and that are not kept; how many.
pub(super) fn sweep(work_dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(work_dir) else {
        return 0;
    };
    let namespace = namespace();
    let mut removed = 0;
    for entry in entries.flatten() {
        let folder = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = owner(&name, &namespace) else {
            continue;
        };
        if folder.is_dir()
            && !folder.join(KEPT_FILE).exists()
            && !adapter::alive(pid)
            && std::fs::remove_dir_all(&folder).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// On SIGINT or SIGTERM: removes the run's folder and containers, then
/// ends the process as the signal would have.
pub(super) fn clean_up_on_interrupt(mount: &WritePrefix, run_id: &str) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        tracing::warn!(
            event = "conform.interrupt.unwatched",
            message =
                "no signal handler: an interrupted run's folder is left to the next start's sweep"
        );
        return;
    };
    let (mount, run_id) = (mount.clone(), run_id.to_owned());
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            INTERRUPTED.store(true, Ordering::SeqCst);
            tracing::warn!(event = "conform.interrupted", signal, folder = %mount);
            // The folder first (testcontainers' watchdog may end the process
            // as soon as it has removed the containers), the containers,
            // then the folder again: trials still running may have
            // re-created it. What a lost race leaves, the next start sweeps.
            let _ = std::fs::remove_dir_all(mount.as_str());
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = runtime.block_on(adapter::remove_run(&run_id, INTERRUPT_BUDGET));
            }
            let _ = std::fs::remove_dir_all(mount.as_str());
            let _ = signal_hook::low_level::emulate_default_handler(signal);
        }
    });
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn a_sweep_removes_only_unkept_folders_of_dead_owners_of_this_namespace() {
        let work = crate::environment::Environment::process()
            .temp_dir()
            .join(format!("theory-workdir-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        let folder = |name: String, kept: bool| {
            let path = work.join(name);
            std::fs::create_dir_all(path.join("sub")).unwrap();
            if kept {
                std::fs::write(path.join(KEPT_FILE), b"").unwrap();
            }
            path
        };
        let ns = namespace();
        // A pid above the kernel's maximum is never alive.
        let dead = 4_194_305_u32;
        let gone = folder(format!("conform-{ns}-{dead}-1"), false);
        let kept = folder(format!("conform-{ns}-{dead}-2"), true);
        let live = folder(format!("conform-{ns}-{}-3", std::process::id()), false);
        let other_ns = folder(format!("conform-1{ns}-{dead}-4"), false);
        let odd = folder(format!("conform-{ns}-{dead}-x"), false);
        let foreign = folder(format!("mine-{ns}-{dead}-6"), false);
        assert_eq!(sweep(&work), 1);
        assert!(!gone.exists());
        for path in [&kept, &live, &other_ns, &odd, &foreign] {
            assert!(path.exists(), "{}", path.display());
        }
        // This (live) process's run: not swept.
        let mount = WritePrefix::parse(&format!("{}/{}/", work.display(), run_id())).unwrap();
        claim(&mount).unwrap();
        assert_eq!(sweep(&work), 0);
        let _ = std::fs::remove_dir_all(&work);
    }

    #[test]
    fn an_interrupted_run_never_keeps_its_folder() {
        let work = crate::environment::Environment::process()
            .temp_dir()
            .join(format!("theory-release-test-{}", std::process::id()));
        let mount = |name: &str| {
            let path = work.join(name);
            std::fs::create_dir_all(&path).unwrap();
            (
                WritePrefix::parse(&format!("{}/", path.display())).unwrap(),
                path,
            )
        };
        let (failed, failed_path) = mount("failed");
        release_after(&failed, false, false, Duration::ZERO);
        assert!(failed_path.join(KEPT_FILE).exists());
        let (passed, passed_path) = mount("passed");
        release_after(&passed, true, false, Duration::ZERO);
        assert!(!passed_path.exists());
        // Failed because the handler removed its containers: not kept.
        let (interrupted, interrupted_path) = mount("interrupted");
        release_after(&interrupted, false, true, Duration::ZERO);
        assert!(!interrupted_path.exists());
        let _ = std::fs::remove_dir_all(&work);
    }

    #[test]
    fn a_run_id_names_its_owner() {
        let id = run_id();
        assert_eq!(owner(&id, &namespace()), Some(std::process::id()));
        assert_eq!(owner(&id, "999"), None);
        assert_eq!(owner("conform-1-2", "1"), None);
    }
}
