//! Log records over OTLP (feature `otlp`): OpenTelemetry's tracing bridge turns each
//! event into a log record, which carries the trace and span ids of the span it happens
//! in, and the SDK's batch processor sends them from a thread of its own.
//!
//! The bridge takes the ids from OpenTelemetry's current context, which
//! tracing-opentelemetry sets while a traced span is entered. A request the head sampler
//! skipped has no OpenTelemetry span: for the events inside it, even in a task spawned
//! with its span, [`OtlpLogLayer`] sets the ids voxscope gave it (those of its response
//! header and its log lines) for the bridge, so that every record of a request can be
//! found by the same trace and span ids as its log lines. So it does for a traced
//! request's events that happen outside its OpenTelemetry context.

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::error::TraceError;
use crate::filter::UNTRACED_TARGET;
use crate::ids;
use crate::otlp::{Target, log_exporter};

/// The logger provider that batches records to `target`.
pub(crate) fn provider(
    target: Target<'_>,
    resource: Resource,
) -> Result<SdkLoggerProvider, TraceError> {
    Ok(SdkLoggerProvider::builder()
        .with_resource(resource)
        .with_batch_exporter(log_exporter(target)?)
        .build())
}

/// OpenTelemetry's tracing bridge, with the ids of a skipped request supplied.
pub(crate) struct OtlpLogLayer {
    bridge: OpenTelemetryTracingBridge<SdkLoggerProvider, SdkLogger>,
}

impl OtlpLogLayer {
    pub(crate) fn new(provider: &SdkLoggerProvider) -> Self {
        Self { bridge: OpenTelemetryTracingBridge::new(provider) }
    }
}

impl<S> Layer<S> for OtlpLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        // The ids of the nearest request (or call) around the event, and whether it is a
        // request the head skipped.
        let request = ctx.event_span(event).and_then(|span| {
            span.scope().find_map(|s| {
                let ids = ids::in_extensions(&s.extensions())?;
                Some((ids, s.metadata().target() == UNTRACED_TARGET))
            })
        });
        let current = Context::map_current(|cx| {
            cx.has_active_span().then(|| cx.span().span_context().trace_id())
        });
        match request {
            // A skipped request's ids are its own, not those of the caller's context that
            // it passes on; a traced one's are in the current context unless the event
            // happens outside it.
            Some((ids, untraced)) if untraced || current != Some(ids.trace_id) => {
                let untraced = SpanContext::new(
                    ids.trace_id,
                    ids.span_id,
                    TraceFlags::default(),
                    false,
                    TraceState::default(),
                );
                let _active = Context::current().with_remote_span_context(untraced).attach();
                Layer::<S>::on_event(&self.bridge, event, ctx);
            }
            _ => Layer::<S>::on_event(&self.bridge, event, ctx),
        }
    }
}
