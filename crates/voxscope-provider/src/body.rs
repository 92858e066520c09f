//! [`HttpFuture`] and [`ObservedBody`]: a unary HTTP provider request, observed until
//! its body ends.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project::pin_project;

use crate::call::ProviderCall;
use crate::class::{ClassifyError, ErrorClass};

/// The response future of an HTTP provider request, from
/// [`ProviderMetrics::observe_http`](crate::ProviderMetrics::observe_http) or a
/// [`ProviderLayer::http_body`](crate::ProviderLayer::http_body) service.
///
/// At the response head, a 4xx or 5xx status ends the request with the status's class;
/// otherwise the request moves into the [`ObservedBody`]. Dropped before the head, it
/// records `cancelled`.
#[pin_project]
#[derive(Debug)]
pub struct HttpFuture<F, C> {
    #[pin]
    inner: F,
    call: Option<ProviderCall>,
    classify: C,
}

impl<F, C> HttpFuture<F, C> {
    pub(crate) fn new(inner: F, call: Option<ProviderCall>, classify: C) -> Self {
        Self { inner, call, classify }
    }
}

impl<F, B, E, C> Future for HttpFuture<F, C>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: Body,
    C: ClassifyError<E> + Clone,
{
    type Output = Result<http::Response<ObservedBody<B, C>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(ProviderCall::poll_in_while(this.call, || this.inner.poll(cx)));
        let mut call = this.call.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(mut failed) = call.take_if(|_| response.status().as_u16() >= 400) {
                    let class = ErrorClass::from_status(response.status().as_u16());
                    failed.end_failed(class.unwrap_or(ErrorClass::Other));
                } else if let Some(empty) = call.take_if(|_| response.body().is_end_stream()) {
                    // A body that is over before it starts is never polled.
                    ObservedBody::<B, C>::end(empty);
                }
                let classify = this.classify.clone();
                Ok(response.map(|inner| ObservedBody { inner, call, classify }))
            }
            Err(error) => {
                if let Some(call) = call.as_mut() {
                    call.end_failed(this.classify.classify(&error));
                }
                Err(error)
            }
        })
    }
}

/// A response body under observation: TTFB at the first non-empty data frame, and the
/// request ends when the body does (`ok`), fails (its error's class), ends without a
/// byte (`empty`) or is dropped before its end (`cancelled`).
#[pin_project]
#[derive(Debug)]
pub struct ObservedBody<B, C> {
    #[pin]
    inner: B,
    call: Option<ProviderCall>,
    classify: C,
}

impl<B, C> ObservedBody<B, C> {
    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// Ends `call` at the end of the body.
    fn end(mut call: ProviderCall) {
        if call.saw_first_byte() {
            call.end_ok();
        } else {
            call.end_failed(ErrorClass::Empty);
        }
    }
}

impl<B, C> Body for ObservedBody<B, C>
where
    B: Body,
    C: ClassifyError<B::Error>,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let Some(call) = this.call.as_mut() else {
            return this.inner.poll_frame(cx);
        };
        let mut inner = this.inner;
        let frame = ready!(call.poll_in(|| inner.as_mut().poll_frame(cx)));
        match &frame {
            Some(Ok(frame)) => {
                if frame.data_ref().is_some_and(Buf::has_remaining) {
                    call.first_byte();
                    call.count_item();
                }
                // A reader may stop at the end flag without polling for the `None`.
                if inner.is_end_stream()
                    && let Some(call) = this.call.take()
                {
                    Self::end(call);
                }
            }
            Some(Err(error)) => {
                call.end_failed(this.classify.classify(error));
                this.call.take();
            }
            None => {
                if let Some(call) = this.call.take() {
                    Self::end(call);
                }
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
