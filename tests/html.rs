//! `--html FILE`: the report a reviewer opens, rendered by a real browser
//! (headless Chromium, Debian's `chromium`; `ci/chromium-up` installs it
//! and `ci/test` exports `THEORY_CHROMIUM`). The counts the page shows are
//! computed on the page from its rows; they must be the JSON summary's.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::lanes::{explain, lane, summary};
use support::processor::{Options, Processor};

/// A count of the JSON summary.
fn count(value: &serde_json::Value) -> usize {
    usize::try_from(value.as_u64().expect("a count")).expect("a count fits")
}

fn chromium() -> String {
    std::env::var("THEORY_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

/// Headless Chromium with its own profile (two at once never share one),
/// bounded at 60 s.
fn browser(profile: &Path) -> Command {
    let mut command = Command::new("timeout");
    command
        .arg("60")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// The DOM after the page's script ran, as Chromium rendered `url`.
fn rendered(url: &str) -> String {
    let profile = tempfile::tempdir().expect("tempdir");
    let output = browser(profile.path())
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("{} (run ci/chromium-up): {e}", chromium()));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 DOM")
}

/// The number inside the first element whose opening tag holds `attribute`.
fn number_after(dom: &str, attribute: &str) -> usize {
    let at = dom
        .find(attribute)
        .unwrap_or_else(|| panic!("no {attribute} in the page"));
    let rest = &dom[at..];
    let start = rest.find('>').expect("tag end") + 1;
    let end = rest[start..].find('<').expect("text end") + start;
    rest[start..end]
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{attribute}: {:?} is not a number", &rest[start..end]))
}

fn lane_with_html(fault: Option<&str>, dir: &Path) -> (PathBuf, serde_json::Value) {
    let options = fault.map_or_else(Options::plain, |f| Options::plain().fault(f));
    let processor = Processor::start(options);
    let registry = support::lanes::url_registry(dir, processor.http_url().as_str());
    let html = dir.join("report/index.html");
    let run = lane("staging", &registry, dir)
        .arg("--seed")
        .arg("5")
        // One target: what a certification lacks is not what is shown here.
        .arg("--skip")
        .arg("certification::")
        .arg("--html")
        .arg(&html)
        .run();
    assert!(html.is_file(), "{}", explain(&run));
    (html, summary(dir))
}

#[test]
fn chromium_shows_the_counts_of_the_json_summary_and_filters_by_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (html, summary) = lane_with_html(Some("index-mismatch"), dir.path());
    let counts = &summary["counts"];
    assert!(count(&counts["failed"]) > 0, "{summary}");
    let url = format!("file://{}", html.display());
    let dom = rendered(&url);
    assert_eq!(
        number_after(&dom, "id=\"shown-total\""),
        count(&counts["total"])
    );
    for (status, key) in [
        ("pass", "passed"),
        ("fail", "failed"),
        ("error", "errors"),
        ("skip", "skipped"),
        ("known_failure", "known_failures"),
        ("flaky", "flaky"),
    ] {
        let expected = count(&counts[key]);
        assert_eq!(
            number_after(&dom, &format!("data-shown=\"{status}\"")),
            expected,
            "{status}"
        );
        assert_eq!(
            number_after(&dom, &format!("data-count=\"{status}\"")),
            expected,
            "{status}"
        );
    }
    // A link that shows only the failures.
    let failed = rendered(&format!("{url}#status=fail"));
    assert_eq!(
        number_after(&failed, "id=\"shown-total\""),
        count(&counts["failed"])
    );
    assert_eq!(number_after(&failed, "data-shown=\"pass\""), 0);
    // Each failure carries its replay command.
    assert!(dom.contains("class=\"replay\">"), "no replay command");
    // For the notes: what a reviewer sees.
    let shot = dir.path().join("report.png");
    let profile = tempfile::tempdir().expect("tempdir");
    let status = browser(profile.path())
        .arg("--window-size=1280,1600")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("chromium");
    assert!(status.status.success());
    assert!(std::fs::metadata(&shot).expect("screenshot").len() > 10_000);
    if let Ok(keep) = std::env::var("THEORY_HTML_SCREENSHOT") {
        std::fs::copy(&shot, keep).expect("keep the screenshot");
    }
}

#[test]
fn a_passing_lane_shows_no_failure_and_needs_nothing_from_the_network() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (html, summary) = lane_with_html(None, dir.path());
    let page = std::fs::read_to_string(&html).expect("page");
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert!(!page.contains(" src=") && !page.contains("<link"));
    let dom = rendered(&format!("file://{}", html.display()));
    assert_eq!(number_after(&dom, "data-shown=\"fail\""), 0);
    assert_eq!(
        number_after(&dom, "data-shown=\"pass\""),
        count(&summary["counts"]["passed"])
    );
}

#[test]
fn an_unwritable_html_path_is_refused_before_the_lane_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = support::lanes::url_registry(dir.path(), "http://127.0.0.1:9/");
    let run = lane("staging", &registry, dir.path())
        .arg("--html")
        .arg(dir.path())
        .run();
    assert_eq!(run.code, 2, "{}", explain(&run));
    assert!(run.stdout.is_empty());
    assert!(
        run.event_message("error.usage")
            .unwrap_or_default()
            .contains("--html")
    );
}
