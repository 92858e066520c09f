//! [`FallbackChain`] as a tower `Service`: `ServiceBuilder` layers (timeout, load shed,
//! rate limit, buffer) compose around a whole chain.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{self, BoxFuture};
use futures_util::{FutureExt, StreamExt};
use tower::Service;

use super::{ChainInner, FallbackChain, FallbackStream};
use crate::error::FallbackError;

impl<Req, T, E> ChainInner<Req, T, E> {
    /// Whether some provider would take a request now; if none would, a future that
    /// resolves when one may: a concurrency place freed, or a cool-down or probe
    /// deadline passed.
    pub(crate) fn ready(&self) -> Result<(), BoxFuture<'static, ()>> {
        let now = tokio::time::Instant::now();
        let mut waits: Vec<BoxFuture<'static, ()>> = Vec::new();
        for member in &self.members {
            let breaker_at = member.shared.breaker.admits_at().filter(|at| *at > now);
            let full = member.shared.limit.as_ref().filter(|(_, s)| s.available_permits() == 0);
            match (breaker_at, full) {
                (None, None) => return Ok(()),
                (Some(at), _) => waits.push(tokio::time::sleep_until(at).boxed()),
                (None, Some((_, semaphore))) => {
                    let freed = Arc::clone(semaphore).acquire_owned();
                    waits.push(freed.map(drop).boxed());
                }
            }
        }
        Err(future::select_all(waits).map(drop).boxed())
    }
}

/// A chain is a tower `Service` whose response is the answer's stream, once its first
/// useful item has arrived: a `tower::timeout` around it bounds the time to first byte
/// across the whole chain, failovers included.
///
/// `poll_ready` is ready while some provider would take a request now (its circuit
/// admits one and it is below its concurrency limit) and pending otherwise, until a
/// place frees or a cool-down ends; a load-shed layer then rejects requests at once
/// instead of queueing them behind an outage.
///
/// ```
/// use std::time::Duration;
/// use tower::{ServiceBuilder, ServiceExt};
/// use voxscope_provider::{FallbackChain, ProviderKind, ProviderSettings};
/// # use futures_util::StreamExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tower::BoxError> {
/// let llm = FallbackChain::builder(ProviderKind::Llm)
///     .provider(ProviderSettings::new("openai").concurrency_limit(32), |prompt: String| async move {
///         Ok::<_, std::io::Error>(format!("answer to {prompt}"))
///     })
///     .build()?;
/// let llm = ServiceBuilder::new()
///     .load_shed()
///     .timeout(Duration::from_secs(2))
///     .service(llm);
/// let mut answer = llm.oneshot("hello".to_owned()).await?;
/// assert_eq!(answer.next().await.transpose()?.as_deref(), Some("answer to hello"));
/// # Ok(()) }
/// ```
impl<Req, T, E> Service<Req> for FallbackChain<Req, T, E>
where
    Req: Clone + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    type Response = FallbackStream<Req, T, E>;
    type Error = FallbackError<E>;
    type Future = FirstItem<Req, T, E>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let waiting = self.waiting.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if let Some(wait) = waiting.as_mut() {
                if wait.poll_unpin(cx).is_pending() {
                    return Poll::Pending;
                }
                *waiting = None;
            }
            match self.inner.ready() {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(wait) => *waiting = Some(wait),
            }
        }
    }

    fn call(&mut self, request: Req) -> Self::Future {
        FirstItem { stream: Some(self.stream(request)) }
    }
}

/// The response future of a [`FallbackChain`] service: resolves with the answer's
/// stream once its first useful item arrived, or with the chain's error.
pub struct FirstItem<Req, T, E> {
    stream: Option<FallbackStream<Req, T, E>>,
}

impl<Req, T, E> std::fmt::Debug for FirstItem<Req, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstItem").field("stream", &self.stream).finish()
    }
}

impl<Req: Clone, T, E> Future for FirstItem<Req, T, E> {
    type Output = Result<FallbackStream<Req, T, E>, FallbackError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(mut stream) = this.stream.take() else {
            panic!("FirstItem polled after it resolved");
        };
        let Poll::Ready(first) = stream.poll_next_unpin(cx) else {
            this.stream = Some(stream);
            return Poll::Pending;
        };
        Poll::Ready(match first {
            Some(Ok(item)) => {
                stream.unread(item);
                Ok(stream)
            }
            Some(Err(error)) => Err(error),
            None => Err(FallbackError::AllCircuitsOpen { kind: stream.kind() }),
        })
    }
}
