//! The placeholders of a raw request or frame (`{request}`, `{inputs}`,
//! `{execution_id}`, `{prefix}`, `{run_open}`), filled in one pass.

use theory_contract::Frame;
use theory_contract::canon;

use super::super::plan::Input;
use super::super::seed::RunIds;
use super::common::request;

/// Fills a template's placeholders.
pub(super) fn fill(template: &str, run: &RunIds, input: Option<&Input>) -> String {
    let inputs = input.map(|i| {
        canon::to_canonical_serde(&i.value)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|_| i.value.to_string())
    });
    let req = input.map(|i| request(run, &i.value));
    let request_text = req.as_ref().map(|r| {
        canon::to_canonical_serde(r)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    });
    let run_open = req.map(|r| Frame::run_open(r).to_text());
    // One pass, left to right: a substituted value is never expanded again.
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        let value = [
            ("{request}", request_text.as_deref()),
            ("{inputs}", inputs.as_deref()),
            ("{execution_id}", Some(run.execution_id.as_str())),
            ("{prefix}", Some(run.prefix.as_str())),
            ("{run_open}", run_open.as_deref()),
        ]
        .into_iter()
        .find(|(p, _)| tail.starts_with(p));
        match value {
            Some((placeholder, value)) => {
                out.push_str(value.unwrap_or_default());
                rest = &tail[placeholder.len()..];
            }
            None => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use theory_contract::WritePrefix;

    use super::*;

    #[test]
    fn templates_are_filled_once_left_to_right() {
        let run = RunIds {
            execution_id: "id-{prefix}".to_owned(),
            prefix: WritePrefix::parse("/tmp/p/").unwrap(),
        };
        assert_eq!(
            fill("{execution_id}|{prefix}|{x}", &run, None),
            "id-{prefix}|/tmp/p/|{x}"
        );
    }
}
