//! `theory-conform run`: one processor invocation through the
//! orchestrator, its arguments and its exit status.

use std::path::PathBuf;

use super::write_stdout;
use crate::exit::Exit;
use crate::input::Source;

/// `theory-conform run`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input_source").required(true).multiple(false)))]
pub struct RunArgs {
    /// The processor, `ns/name@version` (names it in logs when `--adapter url`).
    #[arg(long = "ref", value_name = "NS/NAME@VER")]
    processor: String,
    /// Where it runs; default from RUN_TARGET, then MODAL_ENVIRONMENT (modal), then local.
    #[arg(long, value_enum)]
    adapter: Option<crate::vocab::TargetKind>,
    /// The base URL of a processor already running (`--adapter url`).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// A PEM CA file for a TLS endpoint with a private CA.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Where the target's artifacts are read from: `shared` (the prefix is
    /// this machine's) or `none`; default the registry entry's declaration,
    /// else `shared` for local and `none` for url and modal.
    #[arg(long, value_enum, value_name = "SOURCE")]
    artifacts: Option<crate::vocab::ArtifactSource>,
    /// How to talk to it.
    #[arg(long, default_value = "ws", value_parser = ["ws", "http", "sse"])]
    transport: String,
    /// The run mode sent in the payload.
    #[arg(long, default_value = "mock")]
    mode: String,
    /// The write prefix template; `{execution_id}` is substituted once.
    #[arg(long, default_value = "/tmp/{execution_id}/", value_name = "TEMPLATE")]
    write_prefix: String,
    /// The execution id; generated once when absent, and reused for every retry.
    #[arg(long, value_name = "ID")]
    execution_id: Option<String>,
    /// The run budget, e.g. `30s`, overriding the registry's `run_timeout`.
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// The digest the image must run (`repo@sha256:<hex>` or `sha256:<hex>`).
    #[arg(long, value_name = "REF")]
    expected_oci: Option<String>,
    /// A registry file replacing the embedded one.
    #[arg(long, env = "THEORY_REGISTRY", value_name = "FILE")]
    registry: Option<PathBuf>,
    /// Accepted for compatibility: stdout is always the canonical JSON envelope.
    #[arg(long)]
    json: bool,
    /// The inputs as a JSON text.
    #[arg(long, group = "input_source", value_name = "JSON")]
    inputs_json: Option<String>,
    /// The inputs from a JSON file.
    #[arg(long, group = "input_source", value_name = "PATH")]
    inputs_file: Option<PathBuf>,
    /// The inputs from stdin: `--inputs -`.
    #[arg(long, group = "input_source", value_name = "-", value_parser = ["-"])]
    inputs: Option<String>,
    /// Deprecated: use --inputs-json.
    #[arg(long, group = "input_source", value_name = "JSON", hide = true)]
    inputs_jsonstr: Option<String>,
}

pub(super) fn run_command(args: RunArgs) -> Exit {
    use crate::plan::{Inputs, Request};
    let inputs = match (
        args.inputs_json,
        args.inputs_file,
        args.inputs,
        args.inputs_jsonstr,
    ) {
        (Some(json), None, None, None) => Inputs::Inline(json),
        (None, Some(path), None, None) => Inputs::Source(Source::File(path)),
        (None, None, Some(_), None) => Inputs::Source(Source::Stdin),
        (None, None, None, Some(json)) => {
            tracing::warn!(
                event = "deprecated.option",
                option = "--inputs-jsonstr",
                message = "--inputs-jsonstr is deprecated and will be removed; use --inputs-json",
            );
            Inputs::Inline(json)
        }
        _ => unreachable!("clap admits exactly one input source"),
    };
    let Some(transport) = crate::vocab::Transport::from_name(&args.transport) else {
        tracing::error!(event = "error.usage", message = %format!("--transport {:?} is not ws, http or sse", args.transport));
        return Exit::Usage;
    };
    let request = Request {
        processor: args.processor,
        adapter: args.adapter,
        url: args.url,
        ca_file: args.ca_file,
        artifacts: args.artifacts,
        transport,
        mode: args.mode,
        write_prefix: args.write_prefix,
        execution_id: args.execution_id,
        timeout: args.timeout,
        expected_oci: args.expected_oci,
        registry: args.registry,
        inputs,
    };
    let plan = match crate::plan::plan(&request, crate::environment::Environment::process()) {
        Ok(plan) => plan,
        Err(message) => {
            tracing::error!(event = "error.usage", message = %message);
            return Exit::Usage;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(event = "error.runtime", message = %e);
            return Exit::Infrastructure;
        }
    };
    let outcome = runtime.block_on(crate::orchestrator::run(&plan));
    match write_stdout(&outcome.canonical) {
        Exit::Success => Exit::of_envelope(outcome.envelope.error_code()),
        failed @ (Exit::Failure | Exit::Usage | Exit::Infrastructure) => failed,
    }
}
