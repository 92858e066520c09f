//! The log layer's own filter: `RUST_LOG` decides which events are written, never which
//! spans exist, so that sampling and trace ids work at any log level.

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

/// Events by an `EnvFilter`; spans up to the traced span level, whatever the
/// `EnvFilter` says, so that a log line finds the request or call it belongs to.
pub(crate) struct LogFilter {
    events: EnvFilter,
    spans: LevelFilter,
}

impl LogFilter {
    pub(crate) fn new(events: EnvFilter, spans: LevelFilter) -> Self {
        Self { events, spans }
    }
}

impl<S> Filter<S> for LogFilter
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, metadata: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        if metadata.is_span() {
            self.spans >= *metadata.level()
        } else {
            Filter::enabled(&self.events, metadata, cx)
        }
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.is_span() {
            if self.spans >= *metadata.level() { Interest::always() } else { Interest::never() }
        } else {
            Filter::<S>::callsite_enabled(&self.events, metadata)
        }
    }

    fn event_enabled(&self, event: &Event<'_>, cx: &Context<'_, S>) -> bool {
        Filter::event_enabled(&self.events, event, cx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let events = Filter::<S>::max_level_hint(&self.events).unwrap_or(LevelFilter::TRACE);
        Some(events.max(self.spans))
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, cx: Context<'_, S>) {
        Filter::on_new_span(&self.events, attrs, id, cx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, cx: Context<'_, S>) {
        Filter::on_record(&self.events, id, values, cx);
    }

    fn on_enter(&self, id: &Id, cx: Context<'_, S>) {
        Filter::on_enter(&self.events, id, cx);
    }

    fn on_exit(&self, id: &Id, cx: Context<'_, S>) {
        Filter::on_exit(&self.events, id, cx);
    }

    fn on_close(&self, id: Id, cx: Context<'_, S>) {
        Filter::on_close(&self.events, id, cx);
    }
}
