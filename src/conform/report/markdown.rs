//! The Markdown job summary (`--summary FILE`), for a CI job's summary page
//! (GitHub's `$GITHUB_STEP_SUMMARY`, GitLab's or Buildkite's annotations):
//! a heading with the lane and the outcome, the counts, each processor's
//! certificate verdict, then every trial that failed or errored with its
//! message and its replay command, folded.
//!
//! **Invariant:** a pure function of the [`Summary`] `--json` writes, so
//! the two reports never disagree; the same seed gives the same bytes.

use std::fmt::Write as _;

use super::json::Summary;
use super::{Status, html_escape};

/// The summary as Markdown.
pub fn render(summary: &Summary) -> String {
    let c = &summary.counts;
    let failed = c.failed + c.errors > 0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## theory-conform: lane `{}` {}\n",
        summary.lane,
        if failed { "failed" } else { "passed" }
    );
    let _ = writeln!(
        out,
        "Seed `{}`: {} trials, {} passed, {} failed, {} errors, {} skipped, {} known failures, {} flaky.\n",
        summary.seed, c.total, c.passed, c.failed, c.errors, c.skipped, c.known_failures, c.flaky
    );
    if !summary.certificates.is_empty() {
        out.push_str("| processor | certificate |\n|---|---|\n");
        for (processor, verdict) in &summary.certificates {
            let _ = writeln!(out, "| `{processor}` | {} |", verdict.as_str());
        }
        out.push('\n');
    }
    let bad: Vec<_> = summary
        .trials
        .iter()
        .filter(|t| matches!(t.verdict, Status::Fail | Status::Error))
        .collect();
    if !bad.is_empty() {
        out.push_str("### Failures\n\n");
        for trial in bad {
            let what = if trial.verdict == Status::Fail {
                "failed"
            } else {
                "error"
            };
            let fence = fence_for(&trial.message);
            let _ = writeln!(
                out,
                "<details><summary><code>{}</code>: {what}</summary>\n\n{fence}text\n{}\n{fence}\n\n</details>\n",
                html_escape(&trial.name),
                trial.message.trim_end()
            );
        }
    }
    out
}

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_outlasts_every_backtick_run() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }
}
