//! The matrix as one text table, then the two totals.

use super::{Matrix, Outcome, SEED, judge};

/// The one renderer: the matrix as a text table, then the two totals.
pub fn render(matrix: &Matrix) -> String {
    let mark = |b: bool| if b { "✓" } else { "✗" };
    let width = matrix
        .rows
        .iter()
        .map(|r| r.fault.as_ref().map_or(8, |f| f.slug.len()))
        .max()
        .unwrap_or(8);
    let mut out = format!(
        "selftest: lane {} (url target), seed {SEED}\n\n{:<width$}  a b c  failing cases\n",
        matrix.lane, "fault"
    );
    for row in &matrix.rows {
        let judgement = judge(row);
        let name = row.fault.as_ref().map_or("(none)", |f| f.slug.as_str());
        let c = judgement.rule_named.map_or("·", mark);
        let (b, a) = (mark(judgement.exact), mark(judgement.caught));
        let cases = match &row.outcome {
            Outcome::Ran { failing, ran, .. } if failing.is_empty() => {
                format!("— ({ran} trials ran)")
            }
            Outcome::Ran { failing, .. } => failing.iter().cloned().collect::<Vec<_>>().join(", "),
            Outcome::Broken { reason } => format!("BROKEN: {reason}"),
        };
        out.push_str(&format!("{name:<width$}  {a} {b} {c}  {cases}\n"));
        if let (
            Some(fault),
            Outcome::Ran {
                failing, errored, ..
            },
        ) = (&row.fault, &row.outcome)
        {
            let missing: Vec<&str> = fault
                .caught_by
                .difference(failing)
                .map(String::as_str)
                .collect();
            let extra: Vec<&str> = failing
                .difference(&fault.caught_by)
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                out.push_str(&format!(
                    "{:width$}         not failing, catalogued: {}\n",
                    "",
                    missing.join(", ")
                ));
            }
            if !extra.is_empty() {
                out.push_str(&format!(
                    "{:width$}         failing, not catalogued: {}\n",
                    "",
                    extra.join(", ")
                ));
            }
            if !errored.is_empty() {
                let errored: Vec<&str> = errored.iter().map(String::as_str).collect();
                out.push_str(&format!(
                    "{:width$}         errored: {}\n",
                    "",
                    errored.join(", ")
                ));
            }
            if judgement.rule_named == Some(false) {
                out.push_str(&format!(
                    "{:width$}         no failing message names rule {}\n",
                    "",
                    fault.rule.as_deref().unwrap_or_default()
                ));
            }
        }
        if let (
            None,
            Outcome::Ran {
                errored, messages, ..
            },
        ) = (&row.fault, &row.outcome)
        {
            for (name, message) in messages {
                out.push_str(&format!(
                    "{:width$}         failed: {name}: {message}\n",
                    ""
                ));
            }
            for name in errored {
                out.push_str(&format!("{:width$}         errored: {name}\n", ""));
            }
        }
    }
    let (held, total) = matrix.sensitivity();
    let percent = (held * 100).checked_div(total).unwrap_or(100);
    out.push_str(&format!(
        "\nsensitivity: {held}/{total} faults caught exactly as catalogued ({percent}%)\n"
    ));
    out.push_str(&format!(
        "specificity: {}\n",
        if matrix.specificity() {
            "the unfaulted processor passes every trial (100%)"
        } else {
            "the unfaulted processor does NOT pass every trial"
        }
    ));
    out.push_str("columns: a = some trial fails, b = failing cases == caught_by, c = a message names the rule (· none named)\n");
    out
}
