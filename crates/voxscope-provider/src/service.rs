//! [`Provider`], the middleware service, and its streaming response future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project::pin_project;
use tower::Service;

use crate::body::HttpFuture;
use crate::call::ProviderCall;
use crate::class::ClassifyError;
use crate::layer::{HttpBody, ProviderLayer, Streaming, Unary};
use crate::observe::{Observed, ObservedStream};
use crate::usage::UsageOf;

/// Middleware that records provider metrics; built by [`ProviderLayer`].
#[derive(Debug)]
pub struct Provider<S, M, C, U> {
    inner: S,
    layer: ProviderLayer<M, C, U>,
}

impl<S: Clone, M, C: Clone, U: Clone> Clone for Provider<S, M, C, U> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), layer: self.layer.clone() }
    }
}

impl<S, M, C, U> Provider<S, M, C, U> {
    pub(crate) fn new(inner: S, layer: ProviderLayer<M, C, U>) -> Self {
        Self { inner, layer }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Starts the request and calls the inner service inside its span, so that whatever
    /// the client does synchronously is already attributed to the provider.
    fn start<Req>(&mut self, request: Req) -> (ProviderCall, S::Future)
    where
        S: Service<Req>,
    {
        let mut call = self.layer.metrics.start();
        let future = call.poll_in(|| self.inner.call(request));
        (call, future)
    }
}

impl<S, Req, C, U> Service<Req> for Provider<S, Unary, C, U>
where
    S: Service<Req>,
    C: ClassifyError<S::Error> + Clone,
    U: UsageOf<S::Response> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Observed<S::Future, C, U>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let (call, future) = self.start(request);
        Observed::new(future, call, self.layer.classify.clone(), self.layer.usage.clone())
    }
}

impl<S, Req, C, U> Service<Req> for Provider<S, Streaming, C, U>
where
    S: Service<Req>,
    C: ClassifyError<S::Error> + Clone,
    U: Clone,
{
    type Response = ObservedStream<S::Response, C, U>;
    type Error = S::Error;
    type Future = StreamingFuture<S::Future, C, U>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let (call, future) = self.start(request);
        StreamingFuture {
            inner: future,
            call: Some(call),
            classify: self.layer.classify.clone(),
            usage: self.layer.usage.clone(),
        }
    }
}

impl<S, Req, B, C, U> Service<Req> for Provider<S, HttpBody, C, U>
where
    S: Service<Req, Response = http::Response<B>>,
    B: http_body::Body,
    C: ClassifyError<S::Error> + ClassifyError<B::Error> + Clone,
{
    type Response = http::Response<crate::body::ObservedBody<B, C>>;
    type Error = S::Error;
    type Future = HttpFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let (call, future) = self.start(request);
        HttpFuture::new(future, Some(call), self.layer.classify.clone())
    }
}

/// Response future of a streaming [`Provider`]: hands the request to the response
/// stream, which ends it. Dropped before the stream exists, it records `cancelled`.
#[pin_project]
#[derive(Debug)]
pub struct StreamingFuture<F, C, U> {
    #[pin]
    inner: F,
    call: Option<ProviderCall>,
    classify: C,
    usage: U,
}

impl<F, R, E, C, U> Future for StreamingFuture<F, C, U>
where
    F: Future<Output = Result<R, E>>,
    C: ClassifyError<E> + Clone,
    U: Clone,
{
    type Output = Result<ObservedStream<R, C, U>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(ProviderCall::poll_in_while(this.call, || this.inner.poll(cx)));
        let mut call = this.call.take();
        Poll::Ready(match result {
            Ok(stream) => Ok(ObservedStream::with_call(
                stream,
                call,
                this.classify.clone(),
                this.usage.clone(),
            )),
            Err(error) => {
                if let Some(call) = call.as_mut() {
                    call.end_failed(this.classify.classify(&error));
                }
                Err(error)
            }
        })
    }
}
