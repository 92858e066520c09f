//! The log-line layer [`init`](crate::init) installs: `tracing_subscriber::fmt` with
//! [`VoxFormat`] behind the [`LogFilter`], and no span field formatting.
//!
//! The fmt layer formats the fields of every span it sees into a string when the span is
//! created (and again on every `record`), for formatters that print them. [`VoxFormat`]
//! never reads that string: it prints the fields [`RecordSpanFields`] keeps, and request
//! spans' fields not at all. The layer still sees spans, so a line finds the request or
//! call it happens in, but a span costs it no formatting and no allocation of its own.
//!
//! [`RecordSpanFields`]: crate::span_fields::RecordSpanFields

use std::fmt;

use tracing::Subscriber;
use tracing::span::Record;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::Layer;
use tracing_subscriber::registry::LookupSpan;

use crate::fmt::VoxFormat;
use crate::log_filter::LogFilter;

/// A field formatter that writes nothing: span fields are never formatted.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NoSpanFields;

impl<'writer> FormatFields<'writer> for NoSpanFields {
    fn format_fields<R: RecordFields>(&self, _: Writer<'writer>, _: R) -> fmt::Result {
        Ok(())
    }

    fn add_fields(&self, _: &'writer mut FormattedFields<Self>, _: &Record<'_>) -> fmt::Result {
        Ok(())
    }
}

/// Log lines in `format`, written to `writer`, for the events and spans `filter` lets
/// through.
pub(crate) fn log_layer<S, W>(format: VoxFormat, filter: LogFilter, writer: W) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(NoSpanFields)
        .with_writer(writer)
        .event_format(format)
        .with_filter(filter)
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::io;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;

    use crate::fmt::VoxFormat;
    use crate::log_filter::LogFilter;
    use crate::span_fields::RecordSpanFields;

    /// A span field that counts how often it is formatted.
    struct Counted(Arc<AtomicUsize>);

    impl fmt::Debug for Counted {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.fetch_add(1, Ordering::Relaxed);
            f.write_str("c-1")
        }
    }

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lines").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn spans_fields_are_formatted_once_for_the_line_not_by_the_log_layer() {
        let formatted = Arc::new(AtomicUsize::new(0));
        let lines = Lines::default();
        let writer = {
            let lines = lines.clone();
            move || lines.clone()
        };
        let filter = LogFilter::new(EnvFilter::new("warn"), LevelFilter::INFO);
        let subscriber = tracing_subscriber::registry()
            .with(RecordSpanFields)
            .with(super::log_layer(VoxFormat::new("voice-agent", false), filter, writer));
        tracing::subscriber::with_default(subscriber, || {
            let quiet = tracing::info_span!("call", call.id = ?Counted(Arc::clone(&formatted)));
            quiet.in_scope(|| tracing::info!("not written at warn"));
            drop(quiet);
            // RecordSpanFields formats the field once, for the lines; the log layer not.
            assert_eq!(formatted.load(Ordering::Relaxed), 1);
            let call = tracing::info_span!("call", call.id = ?Counted(Arc::clone(&formatted)));
            call.record("call.id", tracing::field::debug(Counted(Arc::clone(&formatted))));
            call.in_scope(|| tracing::warn!("frame late"));
        });
        assert_eq!(formatted.load(Ordering::Relaxed), 3);
        let written = String::from_utf8(lines.0.lock().expect("lines").clone()).expect("utf-8");
        assert_eq!(written.lines().count(), 1, "{written}");
        assert!(written.contains("[WARN] [voice-agent] [-] frame late call.id=c-1"), "{written}");
    }
}
