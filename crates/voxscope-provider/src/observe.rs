//! [`Observed`] and [`ObservedStream`]: a provider request as a future or a stream.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::Stream;
use pin_project::pin_project;

use crate::call::ProviderCall;
use crate::class::ClassifyError;
use crate::usage::UsageOf;

/// A request/response future under observation, from
/// [`ProviderMetrics::observe`](crate::ProviderMetrics::observe). TTFB and duration end
/// when it resolves; dropped before that, it records `cancelled`.
#[pin_project]
#[derive(Debug)]
pub struct Observed<F, C, U> {
    #[pin]
    inner: F,
    call: Option<ProviderCall>,
    classify: C,
    usage: U,
}

impl<F, C, U> Observed<F, C, U> {
    pub(crate) fn new(inner: F, call: ProviderCall, classify: C, usage: U) -> Self {
        Self { inner, call: Some(call), classify, usage }
    }
}

impl<F, T, E, C, U> Future for Observed<F, C, U>
where
    F: Future<Output = Result<T, E>>,
    C: ClassifyError<E>,
    U: UsageOf<T>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(ProviderCall::poll_in_while(this.call, || this.inner.poll(cx)));
        if let Some(mut call) = this.call.take() {
            match &result {
                Ok(response) => {
                    call.first_byte();
                    call.count_item();
                    call.add_usage(this.usage.usage_of(response));
                    call.end_ok();
                }
                Err(error) => call.end_failed(this.classify.classify(error)),
            }
        }
        Poll::Ready(result)
    }
}

/// A response stream under observation, from
/// [`ProviderMetrics::observe_stream`](crate::ProviderMetrics::observe_stream).
///
/// TTFB is recorded at the first item. The request ends `ok` when the stream ends, with
/// the class of the first `Err` item, or `cancelled` when the stream is dropped before
/// its end, exactly once; later items pass through unrecorded. Per item it costs no
/// allocation and no lookup.
#[pin_project]
#[derive(Debug)]
pub struct ObservedStream<S, C, U> {
    #[pin]
    inner: S,
    call: Option<ProviderCall>,
    classify: C,
    usage: U,
}

impl<S, C, U> ObservedStream<S, C, U> {
    pub(crate) fn new(inner: S, call: ProviderCall, classify: C, usage: U) -> Self {
        Self::with_call(inner, Some(call), classify, usage)
    }

    pub(crate) fn with_call(inner: S, call: Option<ProviderCall>, classify: C, usage: U) -> Self {
        Self { inner, call, classify, usage }
    }

    /// The request, while it has not ended: to mark the end of speech and the final
    /// transcript of an STT turn, or to report usage the items do not carry.
    pub fn call_mut(self: Pin<&mut Self>) -> Option<&mut ProviderCall> {
        self.project().call.as_mut()
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, T, E, C, U> Stream for ObservedStream<S, C, U>
where
    S: Stream<Item = Result<T, E>>,
    C: ClassifyError<E>,
    U: UsageOf<T>,
{
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let Some(call) = this.call.as_mut() else {
            return this.inner.poll_next(cx);
        };
        let item = call.poll_in(|| this.inner.poll_next(cx));
        match ready!(item) {
            Some(Ok(item)) => {
                call.first_byte();
                call.count_item();
                let usage = this.usage.usage_of(&item);
                if !usage.is_empty() {
                    call.add_usage(usage);
                }
                Poll::Ready(Some(Ok(item)))
            }
            Some(Err(error)) => {
                call.end_failed(this.classify.classify(&error));
                this.call.take();
                Poll::Ready(Some(Err(error)))
            }
            None => {
                call.end_ok();
                this.call.take();
                Poll::Ready(None)
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
