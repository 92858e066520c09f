//! The response body wrapper: the request ends when its body does.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project::{pin_project, pinned_drop};

use crate::guard::RequestGuard;

/// Response body of [`HttpMetrics`](crate::HttpMetrics).
///
/// The request is recorded exactly once: when the last frame has been handed to the
/// server, when the body fails (`error_type="body_error"`), or when it is dropped before
/// its end (`error_type="aborted"`: the client went away mid-stream).
#[pin_project(PinnedDrop)]
#[derive(Debug)]
pub struct ResponseBody<B> {
    #[pin]
    inner: B,
    guard: Option<RequestGuard>,
}

impl<B: Body> ResponseBody<B> {
    /// A body that is already at its end (an empty body, which servers drop unread) ends
    /// the request now.
    pub(crate) fn new(inner: B, guard: Option<RequestGuard>) -> Self {
        let guard = guard.filter(|_| !inner.is_end_stream());
        Self { inner, guard }
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
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let (Some(guard), Some(data)) = (this.guard.as_mut(), frame.data_ref()) {
                    guard.add_body_bytes(data.remaining());
                }
                if this.inner.is_end_stream() {
                    this.guard.take();
                }
            }
            Some(Err(_)) => {
                if let Some(mut guard) = this.guard.take() {
                    guard.body_failed();
                }
            }
            None => {
                this.guard.take();
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[pinned_drop]
impl<B> PinnedDrop for ResponseBody<B> {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        if let Some(guard) = this.guard.as_mut() {
            guard.body_dropped();
        }
    }
}
