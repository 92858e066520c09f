//! Trace and span ids of a request, kept in the tracing registry so that every log
//! line inside the request can carry them, traced or not.

use opentelemetry::trace::{SpanId, TraceId};
use tracing_subscriber::Registry;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

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

/// The ids of the request that `span` belongs to.
pub(crate) fn of_scope<'a, R: LookupSpan<'a>>(span: &SpanRef<'a, R>) -> Option<RequestIds> {
    span.scope().find_map(|s| s.extensions().get::<RequestIds>().copied())
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
