//! The command line: parsed once into typed commands, each run by one
//! function that returns an [`Exit`].
//!
//! **Invariant:** only the product's output goes to stdout; diagnostics go
//! through `tracing` (NDJSON on stderr).

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use theory_contract::{Expect, Violation, WritePrefix, canon, check_envelope};

use crate::exit::Exit;
use crate::input::Source;
use crate::log::{LogFormat, LogSettings};

mod run;

use run::{RunArgs, run_command};

/// Conformance and parity harness for `theory.run.v1` processors.
///
/// `theory-conform --lane <dev|pr|staging|main> [FILTER]` runs a lane's
/// conformance suites against every processor of the registry.
#[derive(Debug, Parser)]
#[command(
    name = "theory-conform",
    version,
    about,
    max_term_width = 100,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    lane: Box<LaneArgs>,
}

/// The top-level lane mode (`--lane NAME` and libtest's arguments).
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Lane")]
pub struct LaneArgs {
    /// Run the lane's suites (dev, pr, staging, main): libtest-style report on stdout.
    #[arg(long, value_name = "NAME")]
    lane: Option<String>,
    /// A registry file replacing the embedded one.
    #[arg(long, env = "THEORY_REGISTRY", value_name = "FILE")]
    registry: Option<PathBuf>,
    /// A lanes file replacing the embedded ci/lanes.yaml (its suites come from its `suites_dir`).
    #[arg(long, value_name = "FILE")]
    lanes: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a JSON summary.
    #[arg(long = "json", value_name = "FILE")]
    json_report: Option<PathBuf>,
    /// Write a Markdown summary for a CI job's summary page.
    #[arg(long, value_name = "FILE")]
    summary: Option<PathBuf>,
    /// Write an HTML report: one self-contained page, filterable.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Write one canonical JSON certificate per processor into DIR (`<processor slug>.json`).
    #[arg(long, value_name = "DIR")]
    certificate: Option<PathBuf>,
    /// The seed of the random execution ids and prefixes (printed as `seed: N`).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// The goldens' folder.
    #[arg(
        long,
        env = "THEORY_GOLDEN_DIR",
        default_value = crate::conform::DEFAULT_GOLDEN_DIR,
        value_name = "DIR"
    )]
    golden_dir: PathBuf,
    /// The folder each run writes its prefixes under.
    #[arg(long, env = "THEORY_WORK_DIR", default_value = crate::conform::DEFAULT_WORK_DIR, value_name = "DIR")]
    work_dir: PathBuf,
    /// Trials expected to fail, with reasons and expiry dates (docs/known-failures.md).
    #[arg(long, value_name = "FILE")]
    known_failures: Option<PathBuf>,
    /// Trials retried (twice at most) when they fail (docs/known-failures.md).
    #[arg(long, value_name = "FILE")]
    known_flaky: Option<PathBuf>,
    /// Run one shard of the selected trials: count:K/N or hash:K/N (K from 1).
    #[arg(long, value_name = "SCHEME:K/N", value_parser = clap::value_parser!(crate::conform::partition::Partition))]
    partition: Option<crate::conform::partition::Partition>,
    /// Run only the trials that failed or errored in the last run (with its seed unless --seed).
    #[arg(long)]
    last_failed: bool,
    /// Run on this target instead of the lane's own (repeatable; dev and pr
    /// only: a lane that certifies keeps its targets), e.g. `--lane pr
    /// --target url` for a processor you started yourself.
    #[arg(long = "target", value_name = "TARGET", value_enum)]
    targets: Vec<crate::vocab::TargetKind>,
    /// Where each run records its failures, for --last-failed.
    #[arg(long, default_value = crate::conform::state::DEFAULT_STATE_DIR, value_name = "DIR")]
    state_dir: PathBuf,
    /// How diagnostics on stderr are written: `human` lines (the default)
    /// or `json` (NDJSON). `THEORY_LOG` sets the level (default: warnings
    /// and errors).
    #[arg(long, env = "THEORY_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    /// No live progress line on stderr (it is drawn only when stderr is a
    /// terminal, and never with CI=true).
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    test: libtest_mimic::Arguments,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the canonical form (RFC 8785) of a JSON document, with no
    /// trailing newline. Exit 2 when the input is not strict JSON.
    Canon {
        /// The document; `-` or nothing reads stdin.
        file: Option<PathBuf>,
    },
    /// Tools for envelopes.
    #[command(subcommand)]
    Envelope(EnvelopeCommand),
    /// Run one processor invocation through the orchestrator: exactly one
    /// canonical envelope on stdout, NDJSON diagnostics on stderr. Exit 0
    /// for a success envelope; 1 for an error envelope of the processor's
    /// (ERR_INPUTS, ERR_INTERNAL, ERR_TIMEOUT, ERR_HEALTH,
    /// ERR_REGISTRY_MISMATCH); 2 for a usage or configuration error (no
    /// envelope); 3 for an infrastructure error envelope (ERR_DOCKER,
    /// ERR_IMAGE_NOT_FOUND, ERR_ENDPOINT_MISSING, ERR_MISSING_SECRET).
    Run(Box<RunArgs>),
    /// Review and resolve pending goldens (`<golden>.snap.new`).
    #[command(subcommand)]
    Golden(GoldenCommand),
    /// The fault matrix: run a lane against the reference processor once
    /// per catalogued fault and once without, and print which cases fail.
    /// Exit 0 only when every fault fails exactly its catalogued cases and
    /// the unfaulted processor passes every trial (docs/selftest.md).
    Selftest(SelftestArgs),
    /// Registry files for scripts, from typed values (docs/registry.md).
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Start a processor's certification: write `registry.yaml` with one
    /// entry and `fixtures/<name>/` with a valid, an invalid and a crash
    /// example, to edit (docs/processor-authors.md). Prints what it wrote;
    /// exit 2, writing nothing, when a file exists or the entry would not
    /// load.
    Init(crate::registry::init::Init),
    /// Reports of runs already made.
    #[command(subcommand)]
    Report(ReportCommand),
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Join the shards of a partitioned run (`--partition hash:K/N`, one
    /// lane, one seed) into the reports and certificates the unsharded run
    /// writes. Exit as that run would: 1 when a trial failed, 3 when one
    /// errored, 2 when the shards are not of one run or overlap.
    Merge(crate::conform::report::merge::MergeArgs),
}

#[derive(Debug, Subcommand)]
enum RegistryCommand {
    /// Print a registry holding one processor's entry with the given
    /// fields replaced and relative paths made absolute. Exit 2 when the
    /// result would not load.
    Render(crate::registry::render::Render),
    /// Print the value of one `env` variable of a processor's entry.
    Env {
        #[command(flatten)]
        entry: EntryArgs,
        /// The variable.
        key: String,
    },
}

/// One processor's entry in a registry file.
#[derive(Debug, clap::Args)]
struct EntryArgs {
    /// The source registry [default: the embedded one].
    #[arg(long, value_name = "FILE")]
    registry: Option<PathBuf>,
    /// The processor, `ns/name@version`.
    #[arg(long, value_name = "NS/NAME@VER")]
    processor: String,
}

/// `theory-conform selftest`.
#[derive(Debug, clap::Args)]
struct SelftestArgs {
    /// The reference processor binary [default: THEORY_REFERENCE_PROCESSOR,
    /// else theory-reference-processor beside this executable].
    #[arg(long, value_name = "PATH")]
    processor: Option<PathBuf>,
    /// The lane to run against it (url target).
    #[arg(long, default_value = "staging", value_name = "NAME")]
    lane: String,
    /// Only this fault (repeatable); default: the whole catalogue.
    #[arg(long = "fault", value_name = "SLUG")]
    faults: Vec<String>,
    /// Also write the matrix as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum GoldenCommand {
    /// List every pending golden with its diff.
    Review(GoldenArgs),
    /// Move pending goldens over their goldens.
    Accept(GoldenArgs),
    /// Delete pending goldens.
    Reject(GoldenArgs),
}

#[derive(Debug, clap::Args)]
struct GoldenArgs {
    /// Only the goldens whose path (relative to the folder) contains this.
    filter: Option<String>,
    /// The goldens' folder.
    #[arg(
        long,
        env = "THEORY_GOLDEN_DIR",
        default_value = "golden",
        value_name = "DIR"
    )]
    golden_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
enum EnvelopeCommand {
    /// Check an envelope against CONTRACT.md §2 and §7. Prints one violation
    /// per line (`rule-id<TAB>json-pointer<TAB>message`, sorted); exit 0
    /// when valid, 1 when not, 2 when the input is unreadable or not JSON.
    Check {
        /// The expanded write prefix of the request; enables the prefix
        /// rules, and the disk rules when it exists on this machine.
        #[arg(long, value_name = "PREFIX")]
        prefix: Option<String>,
        /// The execution id of the request; enables the echo rule.
        #[arg(long, value_name = "ID")]
        execution_id: Option<String>,
        /// A host name or container id that must not appear in the envelope
        /// (repeatable).
        #[arg(long = "host-value", value_name = "VALUE")]
        host_values: Vec<String>,
        /// The name of an environment variable holding a secret whose value
        /// must not appear in the envelope or its outputs (repeatable; the
        /// value is read from the environment, never from the command line).
        #[arg(long = "secret-env", value_name = "NAME")]
        secret_envs: Vec<String>,
        /// The envelope; `-` or nothing reads stdin.
        file: Option<PathBuf>,
    },
}

impl Cli {
    /// How this command writes its diagnostics: a lane writes human lines
    /// with warnings and errors only, unless asked otherwise; `run` and the
    /// tools write NDJSON at `info` (CONTRACT.md §10).
    pub fn log_settings(&self) -> LogSettings {
        if self.command.is_some() {
            return LogSettings::NDJSON;
        }
        let terminal = std::io::stderr().is_terminal();
        LogSettings {
            format: self.lane.log_format.unwrap_or(LogFormat::Human),
            default_level: "warn",
            color: terminal
                && crate::environment::Environment::process()
                    .get("NO_COLOR")
                    .is_none(),
        }
    }

    /// Runs the command.
    pub fn run(self) -> Exit {
        let Some(command) = self.command else {
            return lane_command(*self.lane);
        };
        match command {
            Command::Golden(golden) => golden_command(golden),
            Command::Selftest(args) => {
                crate::conform::selftest::run(&crate::conform::selftest::Options {
                    processor: args.processor,
                    lane: args.lane,
                    faults: args.faults,
                    json: args.json,
                })
            }
            Command::Registry(command) => registry_command(command),
            Command::Report(ReportCommand::Merge(args)) => {
                crate::conform::report::merge::command(&args)
            }
            Command::Init(init) => match crate::registry::init::init(&init) {
                Ok(written) => write_stdout(written.as_bytes()),
                Err(message) => {
                    tracing::error!(event = "error.usage", message = %message);
                    Exit::Usage
                }
            },
            Command::Canon { file } => canon_command(&Source::from_arg(file)),
            Command::Run(args) => run_command(*args),
            Command::Envelope(EnvelopeCommand::Check {
                prefix,
                execution_id,
                host_values,
                secret_envs,
                file,
            }) => check_command(
                &Source::from_arg(file),
                prefix.as_deref(),
                execution_id.as_deref(),
                &host_values,
                &secret_envs,
            ),
        }
    }
}

fn registry_command(command: RegistryCommand) -> Exit {
    let output = match command {
        RegistryCommand::Render(render) => crate::registry::render::render(&render),
        RegistryCommand::Env {
            entry: EntryArgs {
                registry,
                processor,
            },
            key,
        } => crate::registry::render::env_value(registry.as_deref(), &processor, &key)
            .map(|value| format!("{value}\n")),
    };
    match output {
        Ok(text) => write_stdout(text.as_bytes()),
        Err(message) => {
            tracing::error!(event = "error.usage", message = %message);
            Exit::Usage
        }
    }
}

fn lane_command(args: LaneArgs) -> Exit {
    let Some(lane) = args.lane else {
        // A word where a command belongs is parsed as libtest's filter.
        let message = match &args.test.filter {
            Some(word) => format!(
                "unknown command {word:?}: give --lane NAME or a command (theory-conform --help)"
            ),
            None => "give --lane NAME or a command (theory-conform --help)".to_owned(),
        };
        tracing::error!(event = "error.usage", message = %message);
        return Exit::Usage;
    };
    crate::conform::run(crate::conform::LaneOptions {
        lane,
        registry: args.registry,
        lanes: args.lanes,
        junit: args.junit,
        json: args.json_report,
        summary: args.summary,
        html: args.html,
        certificate: args.certificate,
        seed: args.seed,
        golden_dir: args.golden_dir,
        work_dir: args.work_dir,
        ci: crate::environment::Environment::process().ci(),
        known_failures: args.known_failures,
        known_flaky: args.known_flaky,
        partition: args.partition,
        last_failed: args.last_failed,
        state_dir: args.state_dir,
        targets: args.targets,
        progress: !args.no_progress,
        args: args.test,
    })
}

fn golden_command(command: GoldenCommand) -> Exit {
    use crate::conform::golden;
    let (args, action) = match command {
        GoldenCommand::Review(args) => (args, "review"),
        GoldenCommand::Accept(args) => (args, "accept"),
        GoldenCommand::Reject(args) => (args, "reject"),
    };
    if !args.golden_dir.is_dir() {
        tracing::error!(event = "error.usage", message = %format!(
            "--golden-dir: {} is not a folder", args.golden_dir.display()
        ));
        return Exit::Usage;
    }
    let store = golden::Store {
        dir: args.golden_dir,
        read_only: false,
    };
    let filter = args.filter.as_deref();
    let done = match action {
        "review" => {
            let mut stdout = std::io::stdout().lock();
            return match golden::review(&store, filter, &mut stdout) {
                Ok(_) => Exit::Success,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Success,
                Err(e) => usage_error(&e),
            };
        }
        "accept" => golden::accept(&store, filter),
        _ => golden::reject(&store, filter),
    };
    match done {
        Ok(paths) => {
            let mut report = String::new();
            for path in &paths {
                report.push_str(&format!("{action}ed: {}\n", store.relative(path)));
            }
            report.push_str(&format!("{} golden(s) {action}ed\n", paths.len()));
            write_stdout(report.as_bytes())
        }
        Err(message) => {
            tracing::error!(event = "error.golden", message = %message);
            Exit::Usage
        }
    }
}

fn canon_command(source: &Source) -> Exit {
    let bytes = match source.read() {
        Ok(bytes) => bytes,
        Err(e) => return usage_error(&e),
    };
    match canon::canonicalize(&bytes) {
        Ok(canonical) => write_stdout(&canonical),
        Err(e) => usage_error(&crate::input::InputError::Invalid {
            name: source.name(),
            error: e,
        }),
    }
}

fn check_command(
    source: &Source,
    prefix: Option<&str>,
    execution_id: Option<&str>,
    host_values: &[String],
    secret_envs: &[String],
) -> Exit {
    let env = crate::environment::Environment::process();
    let mut secret_values = Vec::new();
    for name in secret_envs {
        match env.secret(name) {
            Some(value) => secret_values.push(value.to_owned()),
            None => {
                let message =
                    format!("--secret-env {name}: the variable is not set in the environment");
                tracing::error!(event = "error.usage", message = %message);
                return Exit::Usage;
            }
        }
    }
    let prefix = match prefix.map(WritePrefix::parse).transpose() {
        Ok(prefix) => prefix,
        Err(e) => return usage_error(&e),
    };
    let doc = match source.parse() {
        Ok((_, doc)) => doc,
        Err(e) => return usage_error(&e),
    };
    let expect = Expect {
        execution_id,
        prefix: prefix.as_ref(),
        host_values,
        secret_values: &secret_values,
    };
    let mut violations = check_envelope(&doc, &expect);
    if let Some(prefix) = &prefix {
        violations.extend(crate::artifacts::check(&doc, prefix, &secret_values));
    }
    Violation::sort(&mut violations);
    let mut report = String::new();
    for violation in &violations {
        report.push_str(&crate::redact::text(&violation.line()));
        report.push('\n');
    }
    match write_stdout(report.as_bytes()) {
        Exit::Success if violations.is_empty() => Exit::Success,
        Exit::Success => Exit::Failure,
        failed @ (Exit::Failure | Exit::Usage | Exit::Infrastructure) => failed,
    }
}

fn usage_error(error: &dyn std::error::Error) -> Exit {
    tracing::error!(event = "error.usage", message = %error);
    Exit::Usage
}

fn write_stdout(bytes: &[u8]) -> Exit {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Exit::Success,
        // A closed pipe (`| head`) is the reader's choice, not our failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Success,
        Err(e) => {
            tracing::error!(event = "error.stdout", message = %e);
            Exit::Usage
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
