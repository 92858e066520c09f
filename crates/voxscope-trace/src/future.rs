//! The response future: runs the inner future inside the request span and records the
//! outcome on it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Response};
use opentelemetry::trace::TraceId;
use pin_project::{pin_project, pinned_drop};

use crate::body::ResponseBody;
use crate::layer::LayerState;

/// Response future of [`Trace`](crate::Trace).
#[pin_project(PinnedDrop)]
#[derive(Debug)]
pub struct ResponseFuture<F> {
    #[pin]
    inner: F,
    span: Option<tracing::Span>,
    trace_id: TraceId,
    /// A skipped request's context, current while the handler runs so that outgoing
    /// requests carry its trace id.
    downstream: Option<opentelemetry::Context>,
    state: Arc<LayerState>,
    polling: bool,
    kind: SpanKind,
}

/// What the request span is, which decides how its outcome is noted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpanKind {
    /// Built with an OpenTelemetry span: the outcome is recorded on the span, for
    /// tracing-opentelemetry.
    Traced,
    /// Its OpenTelemetry span is deferred: the outcome and the end time go straight to
    /// its [`DeferredRoot`](crate::deferred::DeferredRoot), in one lookup, without a
    /// record that every layer would be offered.
    Deferred,
    /// Skipped at the head: no OpenTelemetry span is ever built, so nothing reads the
    /// outcome and none is recorded.
    Untraced,
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        span: tracing::Span,
        trace_id: TraceId,
        downstream: Option<opentelemetry::Context>,
        state: Arc<LayerState>,
    ) -> Self {
        Self {
            inner,
            span: Some(span),
            trace_id,
            downstream,
            state,
            polling: false,
            kind: SpanKind::Traced,
        }
    }

    pub(crate) fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        *this.polling = true;
        let _attached = this.downstream.clone().map(opentelemetry::Context::attach);
        // The span stays in `self` while polling: a panic leaves it there for the drop.
        let result = match this.span.as_ref() {
            Some(span) => span.in_scope(|| this.inner.poll(cx)),
            None => this.inner.poll(cx),
        };
        *this.polling = false;
        let Poll::Ready(result) = result else { return Poll::Pending };
        let span = this.span.take().unwrap_or_else(tracing::Span::none);
        // The outcome, decided once for both kinds of span that note it: the status
        // code, and the error type of a 5xx or a service error (a 4xx is no error).
        let status = result.as_ref().ok().map(Response::status);
        let code = status.map(|status| i64::from(status.as_u16()));
        let error = match &status {
            Some(status) => status.is_server_error().then(|| status.as_str()),
            None => Some(std::any::type_name::<E>()),
        };
        match *this.kind {
            SpanKind::Traced => {
                if let Some(code) = code {
                    span.record("http.response.status_code", code);
                }
                if let Some(error) = error {
                    span.record("otel.status_code", "error");
                    span.record("error.type", error);
                }
            }
            SpanKind::Deferred => crate::deferred::response_ready(&span, code, error),
            SpanKind::Untraced => {}
        }
        Poll::Ready(match result {
            Ok(mut response) => {
                if let Some(name) = &this.state.header
                    && let Ok(value) = HeaderValue::from_bytes(&hex32(*this.trace_id))
                {
                    response.headers_mut().insert(name.clone(), value);
                }
                Ok(response.map(|body| ResponseBody::new(body, span)))
            }
            Err(error) => Err(error),
        })
    }
}

#[pinned_drop]
impl<F> PinnedDrop for ResponseFuture<F> {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        // Dropped while being polled: the handler panicked.
        if (*this.polling || std::thread::panicking())
            && let Some(span) = this.span.as_ref()
        {
            span.record("otel.status_code", "error");
            span.record("error.type", "panic");
        }
    }
}

/// The trace id as 32 lowercase hex digits, without the formatting machinery.
fn hex32(trace_id: TraceId) -> [u8; 32] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, byte) in trace_id.to_bytes().iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(byte >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(byte & 0xf)];
    }
    out
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceId;

    #[test]
    fn hex_matches_the_display_form() {
        let id = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128);
        assert_eq!(super::hex32(id).as_slice(), id.to_string().as_bytes());
    }
}
