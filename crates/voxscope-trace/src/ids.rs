//! Trace and span ids of a request, kept in the tracing registry so that every log
//! line inside the request can carry them, traced or not.

use std::cell::Cell;
use std::sync::OnceLock;

use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{Extensions, LookupSpan, SpanRef};

use crate::deferred::{DEFERRED_TARGET, DeferredRoot};
use crate::filter::{TRACED_TARGET, UNTRACED_TARGET};

thread_local! {
    /// The trace id that the next new root started on this thread gets.
    static NEXT_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
    /// The span id that the next span started on this thread gets.
    static NEXT_SPAN_ID: Cell<Option<SpanId>> = const { Cell::new(None) };
}

/// A new random trace id (never all zeros).
pub(crate) fn new_trace_id() -> TraceId {
    RandomIdGenerator::default().new_trace_id()
}

/// A new random span id (never all zeros).
pub(crate) fn new_span_id() -> SpanId {
    RandomIdGenerator::default().new_span_id()
}

/// Runs `start` (which starts an OpenTelemetry span) so that a new root gets
/// `trace_id`: the id the head decision was made on.
pub(crate) fn with_trace_id<T>(trace_id: TraceId, start: impl FnOnce() -> T) -> T {
    NEXT_TRACE_ID.with(|next| next.set(Some(trace_id)));
    let out = start();
    NEXT_TRACE_ID.with(|next| next.set(None));
    out
}

/// Runs `start` (which starts an OpenTelemetry root span) so that the span gets `ids`:
/// those a deferred request gave out before its span was built.
pub(crate) fn with_ids<T>(ids: RequestIds, start: impl FnOnce() -> T) -> T {
    NEXT_SPAN_ID.with(|next| next.set(Some(ids.span_id)));
    let out = with_trace_id(ids.trace_id, start);
    NEXT_SPAN_ID.with(|next| next.set(None));
    out
}

/// The SDK's random ids, except for a request root whose trace id was chosen before
/// its span existed (see [`with_trace_id`]) and a deferred request's span (see
/// [`with_ids`]).
#[derive(Debug, Default)]
pub(crate) struct VoxIdGenerator(RandomIdGenerator);

impl IdGenerator for VoxIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        NEXT_TRACE_ID.with(Cell::take).unwrap_or_else(|| self.0.new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        NEXT_SPAN_ID.with(Cell::take).unwrap_or_else(|| self.0.new_span_id())
    }
}

/// The ids of one request span.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestIds {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
}

/// Stores `ids` on `span` when the subscriber is built on tracing-subscriber's
/// `Registry`; other subscribers get no ids in their logs.
pub(crate) fn attach(span: &tracing::Span, ids: RequestIds) {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(span) = dispatch.downcast_ref::<Registry>().and_then(|r| r.span(id)) {
            span.extensions_mut().replace(ids);
        }
    });
}

/// The ids a span carries: those the layer gave a request or a local root, or those of
/// a deferred request (kept with the rest of its deferred state, one extension fewer).
pub(crate) fn in_extensions(extensions: &Extensions<'_>) -> Option<RequestIds> {
    extensions
        .get::<RequestIds>()
        .copied()
        .or_else(|| extensions.get::<DeferredRoot>().map(DeferredRoot::ids))
}

/// The ids of the request that `span` belongs to.
pub(crate) fn of_scope<'a, R: LookupSpan<'a>>(span: &SpanRef<'a, R>) -> Option<RequestIds> {
    span.scope().find_map(|s| in_extensions(&s.extensions()))
}

/// The trace id of the request being handled on this thread, as 32 lowercase hex
/// digits; `None` outside a request of [`TraceLayer`](crate::TraceLayer) or when the
/// subscriber is not built on tracing-subscriber's `Registry`.
///
/// ```
/// assert_eq!(voxscope_trace::current_trace_id(), None);
/// ```
pub fn current_trace_id() -> Option<String> {
    let current = tracing::Span::current();
    let mut found = None;
    current.with_subscriber(|(id, dispatch)| {
        if let Some(span) = dispatch.downcast_ref::<Registry>().and_then(|r| r.span(id)) {
            found = of_scope(&span).map(|ids| ids.trace_id.to_string());
        }
    });
    found
}

/// Gives every other local root (a call span, a background task's span) the ids of its
/// OpenTelemetry span, so that log lines inside it carry its trace id.
#[derive(Debug, Default)]
pub(crate) struct RootIds {
    dispatch: OnceLock<WeakDispatch>,
}

impl<S> Layer<S> for RootIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let target = attrs.metadata().target();
        if target == TRACED_TARGET || target == UNTRACED_TARGET || target == DEFERRED_TARGET {
            return; // Request spans get their ids from the layer.
        }
        let Some(span) = ctx.span(id) else { return };
        if span.parent().is_some() {
            return;
        }
        drop(span);
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else { return };
        let Some(cx) = tracing_opentelemetry::get_otel_context(id, &dispatch) else { return };
        let otel = cx.span().span_context().clone();
        if otel.is_valid()
            && let Some(span) = ctx.span(id)
        {
            let ids = RequestIds { trace_id: otel.trace_id(), span_id: otel.span_id() };
            span.extensions_mut().replace(ids);
        }
    }
}
