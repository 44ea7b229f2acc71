//! `--known-failures` and `--known-flaky`: lists that cannot rot (a stale,
//! expired or passing entry fails the lane by name), with the real binary
//! and the real reference processor (native, as the lane's url target).

mod support;

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::processor::{Options, Processor, reference_image};

use support::lanes::{
    FINGERPRINT, NAME, explain, lane, message_of, summary, trials_with, url_registry,
};
use support::registry::{Document, DocumentEntry};

fn remote(fault: Option<&str>) -> Processor {
    let mut options = Options::plain().env("THEORY_ENV_FINGERPRINT", FINGERPRINT);
    if let Some(fault) = fault {
        options = options.fault(fault);
    }
    Processor::start(options)
}

fn list(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("version: 1\nentries:\n{body}")).expect("write list");
    path
}

const ENVELOPE_URL: &str = "  - trial: 'contract::envelope::*::url::*'\n    reason: outputs come unsorted (upstream issue 7)\n";

#[test]
fn a_known_failure_that_fails_keeps_the_lane_green_and_is_reported_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = remote(Some("outputs-unsorted"));
    let registry = url_registry(dir.path(), remote.http_url().as_str());
    let known = list(dir.path(), "known.yaml", ENVELOPE_URL);
    let run = lane("dev", &registry, dir.path())
        .arg("--known-failures")
        .arg(&known)
        .arg("contract::envelope::")
        .run();
    assert_eq!(run.code, 0, "{}", explain(&run));
    let summary = summary(dir.path());
    let known_failures = trials_with(&summary, "known_failure");
    let expected: BTreeSet<String> = ["ws", "http"]
        .iter()
        .map(|t| format!("contract::envelope::{NAME}::url::{t}"))
        .collect();
    assert_eq!(known_failures, expected);
    assert_eq!(summary["counts"]["known_failures"], 2);
    assert_eq!(summary["counts"]["failed"], 0);
    let trial = summary["trials"]
        .as_array()
        .expect("trials")
        .iter()
        .find(|t| t["verdict"] == "known_failure")
        .expect("a known failure");
    assert_eq!(trial["reason"], "outputs come unsorted (upstream issue 7)");
    assert!(
        trial["message"]
            .as_str()
            .expect("message")
            .contains("envelope.outputs.unsorted")
    );
    assert!(
        run.stdout_text()
            .contains("known failure: outputs come unsorted (upstream issue 7)"),
        "{}",
        run.stdout_text()
    );
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit");
    assert_eq!(xml.matches("type=\"known_failure\"").count(), 2, "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
}

#[test]
fn a_known_failure_that_passes_fails_the_lane_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = remote(None);
    let registry = url_registry(dir.path(), remote.http_url().as_str());
    let known = list(dir.path(), "known.yaml", ENVELOPE_URL);
    let run = lane("dev", &registry, dir.path())
        .arg("--known-failures")
        .arg(&known)
        .arg("contract::envelope::")
        .run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    let summary = summary(dir.path());
    for transport in ["ws", "http"] {
        let name = format!("contract::envelope::{NAME}::url::{transport}");
        let wanted = format!(
            "known failure now passes: {name}; remove it from {}",
            known.display()
        );
        assert!(message_of(&summary, &name).starts_with(&wanted));
        assert!(run.stdout_text().contains(&wanted), "{}", run.stdout_text());
    }
}

#[test]
fn stale_and_expired_entries_fail_the_lane_as_named_trials() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing is contacted: only the lists' pseudo-trials run.
    let registry = url_registry(dir.path(), "http://127.0.0.1:9/");
    let known = list(
        dir.path(),
        "known.yaml",
        "  - trial: 'contract::nothing_like_this::*'\n    reason: r\n\
         \x20 - trial: 'contract::health::*'\n    reason: r\n    expires: 2024-05-31\n\
         \x20 - trial: 'contract::http_415::*'\n    reason: r\n    expires: 2024-06-01\n\
         \x20 - trial: 'contract::envelope::*'\n    reason: r\n",
    );
    let flaky = list(
        dir.path(),
        "flaky.yaml",
        "  - trial: 'nope::*'\n    reason: r\n",
    );
    let run = lane("dev", &registry, dir.path())
        .arg("--known-failures")
        .arg(&known)
        .arg("--known-flaky")
        .arg(&flaky)
        .arg("known_")
        .env("THEORY_TODAY", "2024-06-01")
        .run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    let summary = summary(dir.path());
    let failed = trials_with(&summary, "fail");
    let expected: BTreeSet<String> = [
        "known_failures::stale::contract::nothing_like_this::*",
        "known_failures::expired::contract::health::*",
        "known_flaky::stale::nope::*",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(failed, expected, "{}", explain(&run));
    assert_eq!(summary["counts"]["total"], 3);
    let stale = message_of(
        &summary,
        "known_failures::stale::contract::nothing_like_this::*",
    );
    assert!(
        stale.contains(&format!("{}:3:12", known.display())) && stale.contains("matches no trial"),
        "{stale}"
    );
    let expired = message_of(&summary, "known_failures::expired::contract::health::*");
    assert!(expired.contains("expired on 2024-05-31"), "{expired}");
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit");
    assert_eq!(xml.matches("<failure").count(), 3, "{xml}");
    // The same lists a day earlier: nothing expired, one stale entry each.
    let run = lane("dev", &registry, dir.path())
        .arg("--known-failures")
        .arg(&known)
        .arg("known_failures::expired")
        .env("THEORY_TODAY", "2024-05-31")
        .run();
    assert_eq!(run.code, 0, "{}", explain(&run));
    assert!(run.stdout_text().contains("running 0 tests"));
}

#[test]
fn malformed_lists_and_the_main_lane_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = url_registry(dir.path(), "http://127.0.0.1:9/");
    let bad = list(
        dir.path(),
        "bad.yaml",
        "  - trial: 'contract::*'\n    reason: ''\n",
    );
    let run = lane("dev", &registry, dir.path())
        .arg("--known-failures")
        .arg(&bad)
        .arg("--list")
        .run();
    assert_eq!(run.code, 2, "{}", explain(&run));
    let message = run.event_message("error.usage").expect("error.usage");
    assert!(
        message.starts_with(&format!("{}:3:12: ", bad.display())) && message.contains("reason"),
        "{message}"
    );
    let run = lane("dev", &registry, dir.path())
        .arg("--known-flaky")
        .arg(&bad)
        .arg("--list")
        .run();
    assert_eq!(run.code, 2, "{}", explain(&run));

    let path = support::registry::write_as(
        &dir.path().join("main.yaml"),
        &Document::new().processor(
            NAME,
            DocumentEntry::default().pinned_image(&reference_image()),
        ),
    );
    let known = list(dir.path(), "known.yaml", ENVELOPE_URL);
    let run = lane("main", &path, dir.path())
        .arg("--known-failures")
        .arg(&known)
        .arg("--list")
        .run();
    assert_eq!(run.code, 2, "{}", explain(&run));
    let message = run.event_message("error.usage").expect("error.usage");
    assert!(
        message.contains("the main lane allows no known failures"),
        "{message}"
    );
    let run = lane("main", &path, dir.path()).arg("--list").run();
    assert_eq!(run.code, 0, "{}", explain(&run));
}

#[test]
fn a_flaky_trial_that_keeps_failing_fails_after_three_attempts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = remote(Some("outputs-unsorted"));
    let registry = url_registry(dir.path(), remote.http_url().as_str());
    let name = format!("contract::envelope::{NAME}::url::ws");
    let flaky = list(
        dir.path(),
        "flaky.yaml",
        "  - trial: 'contract::envelope::*'\n    reason: r\n",
    );
    let run = lane("dev", &registry, dir.path())
        .arg("--known-flaky")
        .arg(&flaky)
        .arg("--exact")
        .arg(&name)
        .run();
    assert_eq!(run.code, 1, "{}", explain(&run));
    let retries = run
        .stderr_events()
        .into_iter()
        .filter(|e| e["event"] == "conform.retry")
        .count();
    assert_eq!(retries, 2, "{}", explain(&run));
    let summary = summary(dir.path());
    assert_eq!(
        trials_with(&summary, "fail"),
        BTreeSet::from([name.clone()])
    );
    assert_eq!(summary["counts"]["flaky"], 0);
}

/// A TCP proxy in front of a plain processor that closes the first
/// WebSocket upgrade it sees (and forwards everything else): the first
/// attempt of a WS trial breaks, the retry reaches the processor.
struct DropFirstUpgrade {
    addr: std::net::SocketAddr,
    dropped: Arc<AtomicUsize>,
}

impl DropFirstUpgrade {
    fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let dropped = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&dropped);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let count = Arc::clone(&count);
                std::thread::spawn(move || {
                    let mut head = vec![0u8; 8192];
                    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
                    let n = client.read(&mut head).unwrap_or(0);
                    head.truncate(n);
                    let upgrade = String::from_utf8_lossy(&head)
                        .to_ascii_lowercase()
                        .contains("upgrade: websocket");
                    if upgrade && count.fetch_add(1, Ordering::SeqCst) == 0 {
                        let _ = client.shutdown(Shutdown::Both);
                        return;
                    }
                    let _ = client.set_read_timeout(None);
                    let Ok(mut server) = TcpStream::connect(upstream) else {
                        return;
                    };
                    let _ = server.write_all(&head);
                    let (Ok(mut client2), Ok(mut server2)) =
                        (client.try_clone(), server.try_clone())
                    else {
                        return;
                    };
                    let up = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut client2, &mut server2);
                        let _ = server2.shutdown(Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut server, &mut client);
                    let _ = client.shutdown(Shutdown::Write);
                    let _ = up.join();
                });
            }
        });
        Self { addr, dropped }
    }
}

#[test]
fn a_flaky_trial_that_passes_on_a_retry_is_reported_flaky() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = remote(None);
    let proxy = DropFirstUpgrade::start(remote.addr);
    let registry = url_registry(dir.path(), &format!("http://{}/", proxy.addr));
    let name = format!("contract::ws_sequence::{NAME}::url::ws");
    let flaky = list(
        dir.path(),
        "flaky.yaml",
        "  - trial: 'contract::ws_sequence::*'\n    reason: the proxy drops one upgrade\n",
    );
    let run = lane("dev", &registry, dir.path())
        .arg("--known-flaky")
        .arg(&flaky)
        .arg("--exact")
        .arg(&name)
        .run();
    assert_eq!(run.code, 0, "{}", explain(&run));
    assert!(
        proxy.dropped.load(Ordering::SeqCst) >= 2,
        "no upgrade was dropped"
    );
    let summary = summary(dir.path());
    assert_eq!(
        trials_with(&summary, "flaky"),
        BTreeSet::from([name.clone()])
    );
    assert_eq!(summary["counts"]["flaky"], 1);
    let trial = &summary["trials"][0];
    assert_eq!(trial["attempts"], 2);
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit");
    assert!(xml.contains("<flakyFailure"), "{xml}");
    // Without the list, the same drop fails the trial.
    let proxy = DropFirstUpgrade::start(remote.addr);
    let again = dir.path().join("again");
    std::fs::create_dir(&again).expect("mkdir");
    let again = url_registry(&again, &format!("http://{}/", proxy.addr));
    let run = lane("dev", &again, dir.path())
        .arg("--exact")
        .arg(&name)
        .run();
    assert_ne!(run.code, 0, "{}", explain(&run));
}
