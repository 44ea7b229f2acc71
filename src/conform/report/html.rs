//! The HTML report (`--html FILE`): one self-contained page a reviewer
//! opens (no network asset: its style and script are inline).
//!
//! It shows the lane's outcome and counts, each processor's certificate,
//! a matrix per processor (the cases down, each target × transport
//! across, every cell a trial's status and a link to it), then every
//! trial in a list a person filters by name and status; a failing trial
//! unfolds to its rule, message, diff and wire trace, and its replay
//! command. The counts of what the filter shows are computed on the page
//! from its rows, so what a browser shows is what the report holds; a
//! link chooses the filter (`report.html#status=fail&status=error&q=ws`).
//!
//! **Invariant:** a pure function of the [`Summary`] `--json` writes (the
//! same seed gives the same bytes, durations aside); every text from the
//! run is escaped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::json::{Summary, TrialSummary};
use super::{Status, html_escape};

/// Every status, in the order the page lists them, with its word.
const STATUSES: [(Status, &str); 6] = [
    (Status::Pass, "passed"),
    (Status::Fail, "failed"),
    (Status::Error, "errors"),
    (Status::Skip, "skipped"),
    (Status::KnownFailure, "known failures"),
    (Status::Flaky, "flaky"),
];

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1f2328}
h1 code,h3 code{font-size:inherit}
code,pre{font-family:ui-monospace,monospace;font-size:12px}
pre{background:#f6f8fa;padding:.6em;overflow:auto;white-space:pre-wrap}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #d0d7de;padding:2px 6px;text-align:left}
.pass{background:#dafbe1}.flaky{background:#fff8c5}.fail,.error{background:#ffebe9}
.skip,.known_failure{background:#eaeef2}
td.cell{text-align:center}td.cell a{color:inherit;text-decoration:none;display:block}
#filters{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #d0d7de}
";

const SCRIPT: &str = "
const rows=[...document.querySelectorAll('#trials tr.trial')];
const text=document.getElementById('filter');
const boxes=[...document.querySelectorAll('#filters input[type=checkbox]')];
function apply(){
  const words=text.value.toLowerCase();
  const on=new Set(boxes.filter(b=>b.checked).map(b=>b.value));
  const shown={};let total=0;
  for(const row of rows){
    const visible=on.has(row.dataset.status)&&row.dataset.name.toLowerCase().includes(words);
    row.hidden=!visible;
    const detail=document.getElementById('detail-'+row.id);
    if(detail){detail.hidden=!visible;}
    if(visible){total++;shown[row.dataset.status]=(shown[row.dataset.status]||0)+1;}
  }
  document.getElementById('shown-total').textContent=total;
  for(const span of document.querySelectorAll('[data-shown]')){
    span.textContent=shown[span.dataset.shown]||0;
  }
}
// A link may choose the filter: report.html#status=fail&status=error&q=ws
const wanted=new URLSearchParams(location.hash.slice(1));
if(wanted.has('status')){const on=new Set(wanted.getAll('status'));for(const b of boxes){b.checked=on.has(b.value);}}
if(wanted.has('q')){text.value=wanted.get('q');}
text.addEventListener('input',apply);
for(const box of boxes){box.addEventListener('change',apply);}
apply();
";

/// The report's page.
pub fn render(summary: &Summary) -> String {
    let c = &summary.counts;
    let outcome = if c.failed + c.errors > 0 {
        "failed"
    } else {
        "passed"
    };
    let lane = html_escape(&summary.lane);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>theory-conform: lane {lane} {outcome}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>theory-conform: lane <code>{lane}</code> {outcome}</h1>\n"
    );
    let _ = write!(
        out,
        "<p id=\"counts\">Seed <code>{}</code>: <span data-count=\"total\">{}</span> trials",
        summary.seed, c.total
    );
    for (status, word) in STATUSES {
        let _ = write!(
            out,
            ", <span data-count=\"{}\">{}</span> {word}",
            status.as_str(),
            count(summary, status)
        );
    }
    out.push_str(".</p>\n");
    certificates(&mut out, summary);
    matrix(&mut out, summary);
    trials(&mut out, summary);
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

fn count(summary: &Summary, status: Status) -> usize {
    let c = &summary.counts;
    match status {
        Status::Pass => c.passed,
        Status::Flaky => c.flaky,
        Status::Fail => c.failed,
        Status::KnownFailure => c.known_failures,
        Status::Error => c.errors,
        Status::Skip => c.skipped,
    }
}

fn certificates(out: &mut String, summary: &Summary) {
    if summary.certificates.is_empty() {
        return;
    }
    out.push_str("<h2>Certificates</h2>\n<table><tr><th>processor</th><th>certificate</th></tr>\n");
    for (processor, verdict) in &summary.certificates {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            html_escape(processor),
            verdict.as_str()
        );
    }
    out.push_str("</table>\n");
}

/// A planned trial's name, split: `suite::case`, processor, `target · transport`.
fn cell_of(name: &str) -> Option<(String, &str, String)> {
    let parts: Vec<&str> = name.split("::").collect();
    match parts.as_slice() {
        [suite, case, processor, target, transport] => Some((
            format!("{suite}::{case}"),
            processor,
            format!("{target} · {transport}"),
        )),
        _ => None,
    }
}

/// One table per processor: the cases down, targets × transports across.
fn matrix(out: &mut String, summary: &Summary) {
    type Cells<'a> = BTreeMap<String, BTreeMap<String, (usize, &'a TrialSummary)>>;
    let mut by_processor: BTreeMap<&str, (BTreeSet<String>, Cells<'_>)> = BTreeMap::new();
    for (index, trial) in summary.trials.iter().enumerate() {
        if let Some((case, processor, column)) = cell_of(&trial.name) {
            let (columns, rows) = by_processor.entry(processor).or_default();
            columns.insert(column.clone());
            rows.entry(case).or_default().insert(column, (index, trial));
        }
    }
    if by_processor.is_empty() {
        return;
    }
    out.push_str("<h2>Matrix</h2>\n");
    for (processor, (columns, rows)) in &by_processor {
        let _ = write!(
            out,
            "<h3><code>{}</code></h3>\n<table class=\"matrix\"><tr><th>case</th>",
            html_escape(processor)
        );
        for column in columns {
            let _ = write!(out, "<th>{}</th>", html_escape(column));
        }
        out.push_str("</tr>\n");
        for (case, cells) in rows {
            let _ = write!(out, "<tr><td><code>{}</code></td>", html_escape(case));
            for column in columns {
                match cells.get(column) {
                    Some((index, trial)) => {
                        let status = trial.verdict.as_str();
                        let _ = write!(
                            out,
                            "<td class=\"cell {status}\" title=\"{}\"><a href=\"#t{index}\">{status}</a></td>",
                            html_escape(&trial.name)
                        );
                    }
                    None => out.push_str("<td class=\"cell\"></td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }
}

/// Every trial, filterable; a failure unfolds to its detail.
fn trials(out: &mut String, summary: &Summary) {
    out.push_str(
        "<h2>Trials</h2>\n<div id=\"filters\"><label>Filter <input id=\"filter\" type=\"search\" \
         placeholder=\"name contains\"></label>",
    );
    for (status, word) in STATUSES {
        let _ = write!(
            out,
            " <label><input type=\"checkbox\" value=\"{}\" checked> {word}</label>",
            status.as_str()
        );
    }
    out.push_str("<p>Showing <span id=\"shown-total\"></span> trials");
    for (status, word) in STATUSES {
        let _ = write!(
            out,
            ", <span data-shown=\"{}\"></span> {word}",
            status.as_str()
        );
    }
    out.push_str(
        ".</p></div>\n<table id=\"trials\"><tr><th>status</th><th>trial</th><th>ms</th></tr>\n",
    );
    for (index, trial) in summary.trials.iter().enumerate() {
        let status = trial.verdict.as_str();
        let name = html_escape(&trial.name);
        let _ = writeln!(
            out,
            "<tr class=\"trial {status}\" id=\"t{index}\" data-status=\"{status}\" data-name=\"{name}\">\
             <td>{status}</td><td><code>{name}</code></td><td>{}</td></tr>",
            trial.duration_ms
        );
        if !trial.message.is_empty() {
            detail(out, index, trial);
        }
    }
    out.push_str("</table>\n");
}

/// A trial's detail row: its rule (the case), message with diff and wire
/// trace, and replay command.
fn detail(out: &mut String, index: usize, trial: &TrialSummary) {
    let (body, replay) = match trial.message.rsplit_once("\n\nreplay: ") {
        Some((body, replay)) => (body, Some(replay)),
        None => (trial.message.as_str(), None),
    };
    let rule = cell_of(&trial.name).map_or_else(|| trial.suite.clone(), |(case, _, _)| case);
    let open = if matches!(trial.verdict, Status::Fail | Status::Error) {
        " open"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<tr id=\"detail-t{index}\"><td></td><td colspan=\"2\"><details{open}><summary>rule <code>{}</code></summary><pre>{}</pre>",
        html_escape(&rule),
        html_escape(body.trim_end())
    );
    if let Some(reason) = &trial.reason {
        let _ = write!(out, "<p>known failure: {}</p>", html_escape(reason));
    }
    if let Some(replay) = replay {
        let _ = write!(
            out,
            "<p>replay: <code class=\"replay\">{}</code></p>",
            html_escape(replay.trim_end())
        );
    }
    out.push_str("</details></td></tr>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conform::report::Counts;

    fn trial(name: &str, verdict: Status, message: &str) -> TrialSummary {
        TrialSummary {
            name: name.to_owned(),
            suite: name.split("::").next().unwrap_or_default().to_owned(),
            verdict,
            message: message.to_owned(),
            duration_ms: 3,
            reason: None,
            attempts: None,
            failed_attempts: None,
        }
    }

    fn summary(trials: Vec<TrialSummary>) -> Summary {
        let mut counts = Counts::default();
        for t in &trials {
            counts.add(t.verdict);
        }
        Summary {
            certificates: BTreeMap::new(),
            lane: "pr".to_owned(),
            lane_source: None,
            seed: 7,
            counts,
            trials,
        }
    }

    #[test]
    fn the_page_is_self_contained_and_escapes_what_the_run_wrote() {
        let page = render(&summary(vec![trial(
            "contract::envelope::a/b@1::local::ws",
            Status::Fail,
            "<script>alert(1)</script> & more\n\nreplay: theory-conform --exact 'x'",
        )]));
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
        assert!(page.contains("<code class=\"replay\">theory-conform --exact &#39;x&#39;</code>"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "{page}"
        );
        assert!(!page.contains(" src="), "{page}");
    }

    #[test]
    fn the_matrix_places_each_trial_in_its_case_row_and_transport_column() {
        let page = render(&summary(vec![
            trial("contract::envelope::a/b@1::local::ws", Status::Pass, ""),
            trial("contract::envelope::a/b@1::local::http", Status::Fail, "no"),
            trial("certification::evidence::a/b@1", Status::Pass, ""),
        ]));
        assert!(
            page.contains("<th>local · http</th><th>local · ws</th>"),
            "{page}"
        );
        assert!(page.contains(
            "<td class=\"cell fail\" title=\"contract::envelope::a/b@1::local::http\"><a href=\"#t1\">fail</a></td>\
             <td class=\"cell pass\" title=\"contract::envelope::a/b@1::local::ws\"><a href=\"#t0\">pass</a></td>"
        ), "{page}");
        assert!(page.contains("data-count=\"fail\">1</span> failed"));
        assert!(page.contains("theory-conform: lane <code>pr</code> failed"));
    }

    #[test]
    fn a_passing_run_says_so_and_opens_no_detail() {
        let page = render(&summary(vec![trial(
            "contract::health::a/b@1::local::none",
            Status::Skip,
            "no url",
        )]));
        assert!(page.contains("lane <code>pr</code> passed"));
        assert!(page.contains("<details><summary>"));
        assert!(!page.contains("<details open>"));
    }
}
