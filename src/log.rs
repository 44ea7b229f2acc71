//! Diagnostics on stderr, through `tracing` (CONTRACT.md §10).
//!
//! Two formats of the same events:
//! - [`LogFormat::Json`]: one NDJSON object per line with `ts`, `level`,
//!   `target`, the event's fields (by convention an `event` name such as
//!   `adapter.selected`), the fields of the spans it is inside (`ref`,
//!   `execution_id`, `trial`, ...) and `elapsed_ms` since the process
//!   started. `run` always writes this, as the contract says.
//! - [`LogFormat::Human`]: one line a person reads, as cargo writes them:
//!   `warning[error.container.remove]: <message> container=abc`, the level
//!   coloured on a terminal.
//!
//! Inside a lane's trial, what the processor and the call do is the
//! trial's evidence: its verdict on stdout judges it. A warning raised
//! inside a `trial` span is therefore logged at `info` (with `"was":"warn"`),
//! never as a warning; errors stay errors. Stdout never carries
//! diagnostics.
//!
//! **Invariant:** every string written passes through [`crate::redact`].

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Instant;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// The span a lane runs each trial attempt in; warnings inside it are the
/// trial's evidence (see the module's documentation).
pub const TRIAL_SPAN: &str = "trial";

/// How diagnostics are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// NDJSON, one object per line (CONTRACT.md §10).
    Json,
    /// One line a person reads.
    Human,
}

/// What [`init`] installs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// The format.
    pub format: LogFormat,
    /// The level when `THEORY_LOG` is not set (an `EnvFilter` directive).
    pub default_level: &'static str,
    /// Whether the human format colours its levels.
    pub color: bool,
}

impl LogSettings {
    /// `run`'s and the tools' diagnostics: NDJSON at `info`.
    pub const NDJSON: Self = Self {
        format: LogFormat::Json,
        default_level: "info",
        color: false,
    };
}

/// Installs the diagnostics layer for the whole process. The level comes
/// from `THEORY_LOG` (an `EnvFilter` directive), else the settings'
/// default; an unparsable `THEORY_LOG` falls back to the default and says
/// so.
pub fn init(settings: LogSettings) {
    let directive = crate::environment::Environment::process()
        .get("THEORY_LOG")
        .filter(|d| !d.trim().is_empty());
    let (filter, refused) = match directive.map(EnvFilter::try_new) {
        Some(Ok(filter)) => (filter, None),
        Some(Err(e)) => (EnvFilter::new(settings.default_level), Some(e.to_string())),
        None => (EnvFilter::new(settings.default_level), None),
    };
    let info_shown = filter
        .max_level_hint()
        .is_none_or(|hint| hint >= LevelFilter::INFO);
    // A second init (tests in one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(
            Diagnostics {
                started: Instant::now(),
                settings,
                info_shown,
            }
            .with_filter(filter),
        )
        .try_init();
    if let Some(message) = refused {
        tracing::warn!(event = "log.filter", message = %format!("THEORY_LOG is not a filter ({message}); using {}", settings.default_level));
    }
}

struct Diagnostics {
    started: Instant,
    settings: LogSettings,
    /// Whether the filter lets `info` through (a demoted warning is shown
    /// only then).
    info_shown: bool,
}

/// The fields a span was created with, kept in its extensions.
struct SpanFields(Map<String, Value>);

impl<S> Layer<S> for Diagnostics
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut JsonVisitor(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        let mut in_trial = false;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                in_trial |= span.name() == TRIAL_SPAN;
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    line.extend(fields.0.clone());
                }
            }
        }
        event.record(&mut JsonVisitor(&mut line));
        let mut level = *event.metadata().level();
        if level == Level::WARN && in_trial {
            if !self.info_shown {
                return;
            }
            level = Level::INFO;
            line.insert("was".into(), "warn".into());
        }
        let mut bytes = match self.settings.format {
            LogFormat::Json => {
                let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
                let mut head = Map::new();
                let mut ts = String::new();
                if SystemTime.format_time(&mut Writer::new(&mut ts)).is_ok() {
                    head.insert("ts".into(), Value::String(ts));
                }
                head.insert("level".into(), level.as_str().to_ascii_lowercase().into());
                head.insert("target".into(), event.metadata().target().into());
                head.append(&mut line);
                head.insert("elapsed_ms".into(), elapsed.into());
                serde_json::to_vec(&Value::Object(head)).unwrap_or_default()
            }
            LogFormat::Human => human(level, line, self.settings.color).into_bytes(),
        };
        bytes.push(b'\n');
        // A closed stderr must not take the run down with it.
        let _ = std::io::stderr().lock().write_all(&bytes);
    }
}

/// One event as a person reads it: `level[event]: message key=value ...`.
fn human(level: Level, mut fields: Map<String, Value>, color: bool) -> String {
    let (word, paint) = match level {
        Level::ERROR => ("error", "\x1b[1;31m"),
        Level::WARN => ("warning", "\x1b[1;33m"),
        Level::INFO => ("info", "\x1b[1;32m"),
        Level::DEBUG => ("debug", "\x1b[1;34m"),
        Level::TRACE => ("trace", "\x1b[1;35m"),
    };
    let mut out = String::new();
    if color {
        let _ = write!(out, "{paint}{word}\x1b[0m");
    } else {
        out.push_str(word);
    }
    if let Some(Value::String(event)) = fields.remove("event") {
        let _ = write!(out, "[{event}]");
    }
    out.push(':');
    if let Some(message) = fields.remove("message") {
        let _ = write!(out, " {}", plain(&message));
    }
    for (key, value) in &fields {
        let _ = write!(out, " {key}={}", plain(value));
    }
    // One event, one line: a message's own line breaks are shown escaped.
    out.replace('\n', "\\n").replace('\r', "\\r")
}

/// A field's value without JSON's quotes around a string.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_) => {
            value.to_string()
        }
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), crate::redact::text(value).into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_str(field, &value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn a_human_line_names_level_event_message_then_fields() {
        let line = human(
            Level::WARN,
            fields(&[
                ("event", "error.container.remove".into()),
                ("message", "no such container".into()),
                ("container", "abc".into()),
                ("attempts", 2.into()),
            ]),
            false,
        );
        assert_eq!(
            line,
            "warning[error.container.remove]: no such container attempts=2 container=abc"
        );
    }

    #[test]
    fn a_human_line_is_one_line_and_coloured_only_when_asked() {
        let line = human(
            Level::ERROR,
            fields(&[("message", "two\nlines".into())]),
            true,
        );
        assert_eq!(line, "\x1b[1;31merror\x1b[0m: two\\nlines");
        assert!(!human(Level::INFO, Map::new(), false).contains('\x1b'));
    }
}
