//! The Modal target: the web URL comes from Modal's own Python SDK,
//! `modal.Function.from_name(app, function, environment_name=...).get_web_url()`,
//! run by the configured interpreter (`modal_resolve.py`, embedded).
//!
//! **Invariant:** the URL is never built from names; every failure is
//! [`AdapterError::ModalResolve`] (`ERR_ENDPOINT_MISSING`).

use std::process::Stdio;

use serde::Deserialize;
use tokio::io::AsyncReadExt as _;
use tokio::process::Command;
use tokio::time::Instant;
use url::Url;

use super::{AdapterError, ModalReason, ModalSpec};

/// The resolver, run as `python -c SCRIPT app function environment`.
const SCRIPT: &str = include_str!("modal_resolve.py");
/// The most bytes read from the interpreter's stdout and stderr each.
const OUTPUT_MAX: u64 = 64 * 1024;

/// The script's one line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    url: Option<String>,
    error: Option<String>,
    message: Option<String>,
}

/// The endpoint's web URL, per Modal's SDK.
pub(crate) async fn web_url(spec: &ModalSpec, deadline: Instant) -> Result<Url, AdapterError> {
    let fail = |reason: ModalReason, message: String| AdapterError::ModalResolve {
        reason,
        app: spec.app.clone(),
        function: spec.function.clone(),
        environment: spec.environment.clone(),
        message: crate::redact::text(&message),
    };
    let python = spec.python.display().to_string();
    let mut child = Command::new(&spec.python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&spec.app)
        .arg(&spec.function)
        .arg(spec.environment.as_deref().unwrap_or(""))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(ModalReason::Interpreter, format!("cannot run {python}: {e}; set the Python interpreter that has the modal package")))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(fail(
            ModalReason::Interpreter,
            format!("{python} gave no output pipes"),
        ));
    };
    let run = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (mut stdout, mut stderr) = (stdout.take(OUTPUT_MAX), stderr.take(OUTPUT_MAX));
        let (o, e) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        let status = child.wait().await;
        (o.and(e).and(status), out, err)
    };
    let (status, out, err) = match tokio::time::timeout_at(deadline, run).await {
        Ok(done) => done,
        Err(_) => {
            return Err(fail(
                ModalReason::Timeout,
                format!("{python} did not answer within the budget"),
            ));
        }
    };
    let status = status.map_err(|e| fail(ModalReason::Interpreter, format!("{python}: {e}")))?;
    let out = String::from_utf8_lossy(&out);
    let answer = out
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<Answer>(line.trim()).ok());
    let Some(answer) = answer else {
        let err = String::from_utf8_lossy(&err);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        return Err(fail(
            ModalReason::Interpreter,
            format!(
                "{python} exited with {status} without an answer: {}",
                theory_contract::text::head(last, 300)
            ),
        ));
    };
    match (answer.url, answer.error) {
        (Some(url), None) => {
            let parsed = Url::parse(&url).map_err(|e| {
                fail(
                    ModalReason::NoWebUrl,
                    format!("the SDK gave an invalid url: {e}"),
                )
            })?;
            Ok(parsed)
        }
        (_, Some(error)) => Err(fail(
            ModalReason::from_script(&error),
            answer.message.unwrap_or_default(),
        )),
        (None, None) => Err(fail(
            ModalReason::Other,
            "the resolver answered neither url nor error".to_owned(),
        )),
    }
}
