//! Keeps untraced requests away from the OpenTelemetry layer, children included.
//!
//! tracing-opentelemetry builds an OpenTelemetry span for every tracing span it sees,
//! about 1.5 µs even when the sampler then drops it. This per-layer filter hides a
//! request the head sampler skipped, and every span and event created inside it, from
//! that layer: they still reach the registry and the log formatter (with their trace
//! id), but no OpenTelemetry span is built.

use tracing::Metadata;
use tracing::subscriber::Interest;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

use crate::deferred::DEFERRED_TARGET;

/// The target of a request span that is traced.
pub(crate) const TRACED_TARGET: &str = "voxscope_trace::request";
/// The target of a request span that the head sampler skipped.
pub(crate) const UNTRACED_TARGET: &str = "voxscope_trace::untraced";
/// The field a span declares to start a trace of its own (see [`HeadDropFilter`]).
pub(crate) const ROOT_FIELD: &str = "trace.root";

/// The filter that [`TracePipeline::otel_layer`](crate::TracePipeline::otel_layer)
/// puts on tracing-opentelemetry's layer.
///
/// Children are recognised through tracing's current span: a span or event created
/// while an untraced request is entered is untraced too. A span given an explicit
/// `parent:` outside that scope is not recognised and becomes its own root.
///
/// A span that declares the field `trace.root` (left empty) and `parent: None` starts a
/// trace of its own even inside an untraced request, sampled by the trace-id ratio:
/// voxscope-call's `voice_call` span does, so that a call is traced by its own
/// decision, not by the decision on the upgrade request it came with.
///
/// ```
/// let call = tracing::info_span!(parent: None, "voice_call", trace.root = tracing::field::Empty);
/// call.follows_from(tracing::Span::current());
/// ```
///
/// ```
/// use tracing_subscriber::{Layer, prelude::*};
/// use voxscope_trace::HeadDropFilter;
///
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
/// let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "app");
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_opentelemetry::layer().with_tracer(tracer).with_filter(HeadDropFilter));
/// # drop(subscriber);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HeadDropFilter;

impl<S> Filter<S> for HeadDropFilter
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, metadata: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        if hidden(metadata) {
            return false;
        }
        if metadata.is_span() && metadata.fields().field(ROOT_FIELD).is_some() {
            return true; // A trace of its own, whatever the request around it.
        }
        // `cx` is filtered: a current span that it cannot see is one this filter hid,
        // unless it is a request whose OpenTelemetry span is only deferred: what happens
        // inside that one is traced, under the request's ids.
        let current = cx.current_span();
        match current.id() {
            Some(id) => {
                cx.span(id).is_some()
                    || current.metadata().is_some_and(|m| m.target() == DEFERRED_TARGET)
            }
            None => true,
        }
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if hidden(metadata) { Interest::never() } else { Interest::sometimes() }
    }
}

/// Request spans that tracing-opentelemetry never sees: skipped ones, and deferred ones
/// (whose OpenTelemetry span voxscope builds itself when the tail may keep it).
fn hidden(metadata: &Metadata<'_>) -> bool {
    let target = metadata.target();
    target == UNTRACED_TARGET || target == DEFERRED_TARGET
}

/// A layer that does nothing but want untraced request spans, so that they exist in
/// the registry (with their trace ids) even when no other layer asks for them: a span
/// that every per-layer filter disables is not created at all, and its children would
/// then find no hidden parent and become roots of their own.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KeepUntraced;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for KeepUntraced {}

/// The filter of [`KeepUntraced`]: untraced request spans only.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct UntracedOnly;

impl<S> Filter<S> for UntracedOnly {
    fn enabled(&self, metadata: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        hidden(metadata)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if hidden(metadata) { Interest::always() } else { Interest::never() }
    }
}
