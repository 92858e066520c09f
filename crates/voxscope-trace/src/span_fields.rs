//! The fields of the spans a log line happens in (`call.id`, `stream.id`, `provider`,
//! `kind`…), kept for the log formatter.

use serde_json::Value as Json;
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::deferred::DEFERRED_TARGET;
use crate::filter::{ROOT_FIELD, TRACED_TARGET, UNTRACED_TARGET};
use crate::fmt::Fields;

/// A span's recorded fields, in the order they were recorded.
#[derive(Debug, Default)]
pub(crate) struct SpanFields(pub(crate) Vec<(&'static str, Json)>);

impl SpanFields {
    fn set(&mut self, fields: Fields) {
        for (key, value) in fields.pairs {
            if key.starts_with("otel.") || key == ROOT_FIELD {
                continue;
            }
            match self.0.iter_mut().find(|(k, _)| *k == key) {
                Some((_, old)) => *old = value,
                None => self.0.push((key, value)),
            }
        }
    }
}

/// Records [`SpanFields`] on every span but request spans, whose fields (method, route,
/// path) describe the request rather than the work logged inside it, and would cost
/// every request.
#[derive(Debug, Default)]
pub(crate) struct RecordSpanFields;

fn wanted(metadata: &Metadata<'_>) -> bool {
    let target = metadata.target();
    target != TRACED_TARGET && target != UNTRACED_TARGET && target != DEFERRED_TARGET
}

impl<S> Layer<S> for RecordSpanFields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !wanted(attrs.metadata()) || attrs.fields().is_empty() {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            let mut recorded = SpanFields::default();
            recorded.set(fields);
            span.extensions_mut().insert(recorded);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if !wanted(span.metadata()) {
            return;
        }
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanFields>() {
            Some(recorded) => recorded.set(fields),
            None => {
                let mut recorded = SpanFields::default();
                recorded.set(fields);
                extensions.insert(recorded);
            }
        }
    }
}
