//! [`FallbackChain`]: providers of one kind in priority order, each behind a circuit
//! breaker, a concurrency limit and timeouts, observed as they are tried.

mod builder;
mod hedge;
mod racer;
mod service;
mod settings;
mod stream;

use crate::log_line::{self, FallbackLine, TraceRef};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};
use metrics::{Counter, Histogram};
use voxscope_core::catalog::{
    VOICE_PROVIDER_CHAIN_DURATION, VOICE_PROVIDER_CHAIN_TTFB, VOICE_PROVIDER_FALLBACKS_TOTAL,
};

use crate::call::ProviderMetrics;
use crate::class::{Classify, ErrorClass};
use crate::error::FallbackError;
use crate::kind::ProviderKind;
use crate::registry::Shared;
use crate::retry::Retries;
use crate::usage::Usage;

pub use builder::FallbackChainBuilder;
pub use service::FirstItem;
pub use settings::{FallbackReason, ProviderSettings};
pub use stream::FallbackStream;

type ItemStream<T, E> = Pin<Box<dyn Stream<Item = Result<T, E>> + Send>>;
type Opening<T, E> = Pin<Box<dyn Future<Output = Result<ItemStream<T, E>, E>> + Send>>;
type OpenFn<Req, T, E> = Arc<dyn Fn(Req) -> Opening<T, E> + Send + Sync>;
type ClassifyFn<E> = Arc<dyn Fn(&E) -> ErrorClass + Send + Sync>;
type UsageFn<T> = Arc<dyn Fn(&T) -> Usage + Send + Sync>;
type UsefulFn<T> = Arc<dyn Fn(&T) -> bool + Send + Sync>;
type RetryAfterFn<E> = Arc<dyn Fn(&E) -> Option<std::time::Duration> + Send + Sync>;

pub(crate) struct Member<Req, T, E> {
    pub(crate) metrics: ProviderMetrics,
    pub(crate) open: OpenFn<Req, T, E>,
    /// Breaker and concurrency limit, shared with other chains naming the provider.
    pub(crate) shared: Arc<Shared>,
    pub(crate) retries: Option<Arc<Retries>>,
    pub(crate) first_byte_timeout: Option<std::time::Duration>,
    pub(crate) timeout: Option<std::time::Duration>,
}

/// What the caller of a chain waited for, whichever providers served it.
pub(crate) struct ChainTiming {
    pub(crate) ttfb: Histogram,
    pub(crate) duration: Histogram,
}

pub(crate) struct ChainInner<Req, T, E> {
    pub(crate) kind: ProviderKind,
    pub(crate) members: Vec<Member<Req, T, E>>,
    pub(crate) fallback_on: [bool; ErrorClass::ALL.len()],
    pub(crate) retry_after_first_item: bool,
    pub(crate) classify: ClassifyFn<E>,
    pub(crate) retry_after: RetryAfterFn<E>,
    pub(crate) usage: Option<UsageFn<T>>,
    pub(crate) useful: Option<UsefulFn<T>>,
    pub(crate) hedge_after: Option<std::time::Duration>,
    /// `voice_provider_fallbacks_total` by (from, to, reason), registered on first use.
    fallbacks: Box<[OnceLock<Counter>]>,
    timing: OnceLock<ChainTiming>,
    warm: OnceLock<()>,
}

impl<Req, T, E> ChainInner<Req, T, E> {
    fn fallback_counter(&self, from: usize, to: usize, reason: FallbackReason) -> Counter {
        metrics::counter!(
            VOICE_PROVIDER_FALLBACKS_TOTAL.name,
            "kind" => self.kind.as_str(),
            "from" => self.members[from].metrics.instruments().provider().clone(),
            "to" => self.members[to].metrics.instruments().provider().clone(),
            "reason" => reason.as_str()
        )
    }

    pub(crate) fn count_fallback(&self, from: usize, to: usize, reason: FallbackReason) {
        let n = self.members.len();
        let slot = (from * n + to) * FallbackReason::COUNT + reason.index();
        let Some(counter) = self.fallbacks.get(slot) else { return };
        counter.get_or_init(|| self.fallback_counter(from, to, reason)).increment(1);
        // While a breaker is open or a provider saturated, every request skips it: one
        // warning per request would flood the logs; the breaker logged the opening once.
        let routine = !matches!(reason, FallbackReason::Error(_));
        let line = FallbackLine {
            kind: self.kind,
            from: self.members[from].metrics.provider(),
            to: self.members[to].metrics.provider(),
            reason: reason.as_str(),
            trace: TraceRef::current(),
        };
        log_line::fallback(line, routine);
    }

    /// The reasons a request can move on from `member`.
    fn reasons(&self, member: &Member<Req, T, E>) -> impl Iterator<Item = FallbackReason> {
        let classes = ErrorClass::ALL
            .into_iter()
            .filter(|class| self.fallback_on[class.index()] || *class == ErrorClass::Timeout)
            .map(FallbackReason::Error);
        let limited = member.shared.limit.is_some().then_some(FallbackReason::ConcurrencyLimited);
        let hedged = self.hedge_after.is_some().then_some(FallbackReason::Hedged);
        classes.chain([FallbackReason::CircuitOpen]).chain(limited).chain(hedged)
    }

    /// Publishes, in the recorder current now, each provider's circuit state and limit
    /// and every fallback series the chain can count, at 0: alerts take `rate()` of them,
    /// and a series born at 1 hides its first switch.
    fn publish(&self) {
        // Chain requests are the denominator of the fallback share: their count exists
        // from the start too.
        drop(self.register_timing());
        for (from, member) in self.members.iter().enumerate() {
            member.shared.breaker.publish();
            member.metrics.instruments().publish_limit();
            for to in from + 1..self.members.len() {
                for reason in self.reasons(member) {
                    self.fallback_counter(from, to, reason).increment(0);
                }
            }
        }
    }

    /// Publishes again at the first request, for a chain built before the recorder was
    /// installed.
    fn warm(&self) {
        self.warm.get_or_init(|| self.publish());
    }

    pub(crate) fn timing(&self) -> &ChainTiming {
        self.timing.get_or_init(|| self.register_timing())
    }

    fn register_timing(&self) -> ChainTiming {
        ChainTiming {
            ttfb: metrics::histogram!(VOICE_PROVIDER_CHAIN_TTFB.name, "kind" => self.kind.as_str()),
            duration: metrics::histogram!(
                VOICE_PROVIDER_CHAIN_DURATION.name, "kind" => self.kind.as_str()
            ),
        }
    }
}

/// Providers of one kind in priority order. A request goes to the first provider whose
/// circuit is closed and which is below its concurrency limit; on a failure of a
/// fallback class, an empty answer, or no first byte within the first-byte timeout, it
/// moves to the next, counts `voice_provider_fallbacks_total` and logs
/// `[LLM fallback] groq -> openai reason=rate_limited trace=<id>` (see
/// [`log_line`](crate::log_line); every provider request also has its own line). Every
/// attempt is recorded under the provider that
/// made it, as with [`ProviderMetrics`]; what the caller waited for, failovers included,
/// goes to `voice_provider_chain_ttfb_seconds` and `voice_provider_chain_duration_seconds`.
///
/// Before moving on, a provider with a [`RetryConfig`](crate::RetryConfig) is retried
/// for transient failures; with [`hedge_after`](FallbackChainBuilder::hedge_after), a
/// provider slow to answer is raced by the next one. Once the first item has reached the
/// caller, a failure is not retried elsewhere by default (the caller would hear audio
/// twice or read text twice); see
/// [`retry_after_first_item`](FallbackChainBuilder::retry_after_first_item).
///
/// ```
/// use std::time::Duration;
/// use http::StatusCode;
/// use voxscope_provider::{FallbackChain, ProviderKind, ProviderSettings};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let llm = FallbackChain::builder(ProviderKind::Llm)
///     .provider(ProviderSettings::new("groq").first_byte_timeout(Duration::from_secs(1)),
///         |_prompt: String| async move { Err::<String, _>(StatusCode::SERVICE_UNAVAILABLE) })
///     .provider(ProviderSettings::new("openai"),
///         |prompt: String| async move { Ok::<_, StatusCode>(format!("answer to {prompt}")) })
///     .build()
///     .expect("valid chain");
/// let answer = llm.call("hello".to_owned()).await.expect("openai answers");
/// assert_eq!(answer, "answer to hello"); // groq failed, openai answered
/// # }
/// ```
pub struct FallbackChain<Req, T, E> {
    inner: Arc<ChainInner<Req, T, E>>,
    /// The service's wait for a provider to become available, from `poll_ready`.
    waiting: Mutex<Option<BoxFuture<'static, ()>>>,
}

impl<Req, T, E> FallbackChain<Req, T, E> {
    fn new(inner: ChainInner<Req, T, E>) -> Self {
        Self { inner: Arc::new(inner), waiting: Mutex::new(None) }
    }
}

impl<Req, T, E> Clone for FallbackChain<Req, T, E> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner), waiting: Mutex::new(None) }
    }
}

impl<Req, T, E> fmt::Debug for FallbackChain<Req, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.inner.members.iter().map(|m| m.metrics.provider()).collect();
        f.debug_struct("FallbackChain")
            .field("kind", &self.inner.kind)
            .field("providers", &names)
            .finish()
    }
}

impl<Req, T, E> FallbackChain<Req, T, E>
where
    E: Classify + 'static,
{
    /// A builder for a chain whose errors classify themselves (and tell their
    /// `Retry-After`).
    pub fn builder(kind: ProviderKind) -> FallbackChainBuilder<Req, T, E> {
        FallbackChainBuilder::with_classifier(kind, |error: &E| error.error_class())
            .retry_after_with(|error: &E| error.retry_after())
    }
}

impl<Req, T, E> FallbackChain<Req, T, E>
where
    Req: Clone + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    /// Streams the answer of the first provider that delivers a first useful item; the
    /// stream yields `Err` once and ends when no provider could answer or the serving
    /// one failed.
    pub fn stream(&self, request: Req) -> FallbackStream<Req, T, E> {
        self.inner.warm();
        FallbackStream::new(Arc::clone(&self.inner), request)
    }

    /// The answer of a request/response chain: the first item, after the provider's
    /// stream has ended (a one-item stream for providers added with
    /// [`provider`](FallbackChainBuilder::provider)).
    ///
    /// # Errors
    /// The last provider's error when none answered.
    pub async fn call(&self, request: Req) -> Result<T, FallbackError<E>> {
        let mut stream = self.stream(request);
        let first = stream.next().await;
        // Drained so that a one-item answer ends `ok`; a longer stream's rest is unused.
        while stream.next().await.is_some() {}
        match first {
            Some(result) => result,
            None => Err(FallbackError::AllCircuitsOpen { kind: self.inner.kind }),
        }
    }

    /// The names of the providers, in priority order.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.inner.members.iter().map(|m| m.metrics.provider())
    }
}
