//! Diagnostics: one NDJSON object per line on stderr (CONTRACT.md §10).
//!
//! Each line carries `ts`, `level`, `target`, the event's fields (by
//! convention an `event` name such as `adapter.selected`), the fields of the
//! spans it is inside (`ref`, `execution_id`, ...) and `elapsed_ms` since the
//! process started. Stdout never carries diagnostics.
//!
//! **Invariant:** every string written passes through [`crate::redact`].

use std::io::Write as _;
use std::time::Instant;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// Installs the NDJSON layer for the whole process. The level comes from
/// `THEORY_LOG` (an `EnvFilter` directive), `info` by default.
pub fn init() {
    let filter = EnvFilter::try_from_env("THEORY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests in one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(
            NdjsonLayer {
                started: Instant::now(),
            }
            .with_filter(filter),
        )
        .try_init();
}

struct NdjsonLayer {
    started: Instant,
}

/// The fields a span was created with, kept in its extensions.
struct SpanFields(Map<String, Value>);

impl<S> Layer<S> for NdjsonLayer
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
        let mut ts = String::new();
        if SystemTime.format_time(&mut Writer::new(&mut ts)).is_ok() {
            line.insert("ts".into(), Value::String(ts));
        }
        line.insert(
            "level".into(),
            event
                .metadata()
                .level()
                .as_str()
                .to_ascii_lowercase()
                .into(),
        );
        line.insert("target".into(), event.metadata().target().into());
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    line.extend(fields.0.clone());
                }
            }
        }
        event.record(&mut JsonVisitor(&mut line));
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        line.insert("elapsed_ms".into(), elapsed.into());
        let mut bytes = serde_json::to_vec(&Value::Object(line)).unwrap_or_default();
        bytes.push(b'\n');
        // A closed stderr must not take the run down with it.
        let _ = std::io::stderr().lock().write_all(&bytes);
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
