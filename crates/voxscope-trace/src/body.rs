//! The response body: the request span lasts until the body has been sent or dropped.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project::pin_project;

/// Response body of [`Trace`](crate::Trace): ends the request span when the body ends,
/// fails (status error) or is dropped.
#[pin_project]
#[derive(Debug)]
pub struct ResponseBody<B> {
    #[pin]
    inner: B,
    span: Option<tracing::Span>,
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, span: tracing::Span) -> Self {
        Self { inner, span: Some(span) }
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = this.inner.as_mut().poll_frame(cx);
        match &frame {
            Poll::Ready(None) => {
                this.span.take();
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(span) = this.span.take() {
                    span.record("otel.status_code", "error");
                    span.record("error.type", "body");
                }
            }
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => {
                this.span.take();
            }
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
