//! The response future: hands the guard to the body once the response exists.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project::pin_project;

use crate::body::ResponseBody;
use crate::guard::RequestGuard;

/// Response future of [`HttpMetrics`](crate::HttpMetrics).
///
/// Dropped before the inner future produced a response (the client went away, a
/// timeout layer gave up), it records `status="cancelled"`.
#[pin_project]
#[derive(Debug)]
pub struct ResponseFuture<F> {
    #[pin]
    pub(crate) inner: F,
    pub(crate) guard: Option<RequestGuard>,
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(guard) = this.guard.as_mut() {
            guard.set_polling(true);
        }
        let result = this.inner.poll(cx);
        if let Some(guard) = this.guard.as_mut() {
            guard.set_polling(false);
        }
        let result = ready!(result);
        let mut guard = this.guard.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(guard) = guard.as_mut() {
                    guard.responded(response.status());
                }
                Ok(response.map(|body| ResponseBody::new(body, guard)))
            }
            Err(error) => {
                if let Some(guard) = guard.as_mut() {
                    guard.failed();
                }
                Err(error)
            }
        })
    }
}
