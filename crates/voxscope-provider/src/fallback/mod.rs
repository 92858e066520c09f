//! [`FallbackChain`]: providers of one kind in priority order, each behind a circuit
//! breaker and timeouts, observed as they are tried.

mod stream;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{Stream, StreamExt, stream as stream_util};
use metrics::{Counter, SharedString};
use voxscope_core::ConfigError;
use voxscope_core::catalog::VOICE_PROVIDER_FALLBACKS_TOTAL;

use crate::breaker::{Breaker, BreakerConfig};
use crate::call::{ProviderMetrics, validate_provider_name};
use crate::class::{Classify, ErrorClass};
use crate::error::FallbackError;
use crate::kind::ProviderKind;
use crate::usage::Usage;

pub use stream::FallbackStream;

type ItemStream<T, E> = Pin<Box<dyn Stream<Item = Result<T, E>> + Send>>;
type Opening<T, E> = Pin<Box<dyn Future<Output = Result<ItemStream<T, E>, E>> + Send>>;
type OpenFn<Req, T, E> = Arc<dyn Fn(Req) -> Opening<T, E> + Send + Sync>;
type ClassifyFn<E> = Arc<dyn Fn(&E) -> ErrorClass + Send + Sync>;
type UsageFn<T> = Arc<dyn Fn(&T) -> Usage + Send + Sync>;

/// Why a chain moved on: the `reason` label of `voice_provider_fallbacks_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FallbackReason {
    /// The provider failed with this class (first-byte timeouts are `timeout`).
    Error(ErrorClass),
    /// The provider's circuit breaker was open, so it was skipped.
    CircuitOpen,
}

impl FallbackReason {
    const COUNT: usize = ErrorClass::ALL.len() + 1;

    /// The label value: an error class, or `circuit_open`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FallbackReason::Error(class) => class.as_str(),
            FallbackReason::CircuitOpen => "circuit_open",
        }
    }

    fn index(self) -> usize {
        match self {
            FallbackReason::Error(class) => class.index(),
            FallbackReason::CircuitOpen => ErrorClass::ALL.len(),
        }
    }
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One provider of a chain: its name (the `provider` label) and its limits.
///
/// ```
/// use std::time::Duration;
/// use voxscope_provider::{BreakerConfig, ProviderSettings};
///
/// let deepgram = ProviderSettings::new("deepgram")
///     .first_byte_timeout(Duration::from_millis(800))
///     .timeout(Duration::from_secs(10))
///     .breaker(BreakerConfig::default().consecutive_failures(3));
/// ```
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    name: SharedString,
    first_byte_timeout: Option<Duration>,
    timeout: Option<Duration>,
    breaker: BreakerConfig,
    concurrency_limit: Option<usize>,
}

impl ProviderSettings {
    /// Settings for the provider `name`: no timeouts, the default breaker.
    pub fn new(name: impl Into<SharedString>) -> Self {
        Self {
            name: name.into(),
            first_byte_timeout: None,
            timeout: None,
            breaker: BreakerConfig::default(),
            concurrency_limit: None,
        }
    }

    /// Moves on when no first chunk, token or result arrived within `timeout` of the
    /// request. Timeouts run on tokio's timer: poll the chain inside a tokio runtime with
    /// time enabled, as axum's is.
    pub fn first_byte_timeout(mut self, timeout: Duration) -> Self {
        self.first_byte_timeout = Some(timeout);
        self
    }

    /// Fails the request when the response has not ended within `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The provider's circuit breaker.
    pub fn breaker(mut self, breaker: BreakerConfig) -> Self {
        self.breaker = breaker;
        self
    }

    /// Publishes the provider's concurrency limit in `voice_provider_concurrency_limit`.
    pub fn concurrency_limit(mut self, limit: usize) -> Self {
        self.concurrency_limit = Some(limit);
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        validate_provider_name(&self.name)?;
        let name = &self.name;
        for (field, value) in
            [("first_byte_timeout", self.first_byte_timeout), ("timeout", self.timeout)]
        {
            if value.is_some_and(|d| d.is_zero()) {
                return Err(ConfigError::Zero { field: format!("{name}.{field}") });
            }
        }
        if let (Some(first), Some(total)) = (self.first_byte_timeout, self.timeout)
            && first > total
        {
            return Err(ConfigError::Invalid {
                field: format!("{name}.first_byte_timeout"),
                value: format!("{first:?}"),
                reason: "at most the total timeout",
            });
        }
        self.breaker.validate(name)
    }
}

pub(crate) struct Member<Req, T, E> {
    pub(crate) metrics: ProviderMetrics,
    pub(crate) open: OpenFn<Req, T, E>,
    pub(crate) breaker: Arc<Breaker>,
    pub(crate) first_byte_timeout: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
}

pub(crate) struct ChainInner<Req, T, E> {
    pub(crate) kind: ProviderKind,
    pub(crate) members: Vec<Member<Req, T, E>>,
    pub(crate) fallback_on: [bool; ErrorClass::ALL.len()],
    pub(crate) retry_after_first_item: bool,
    pub(crate) classify: ClassifyFn<E>,
    pub(crate) usage: Option<UsageFn<T>>,
    /// `voice_provider_fallbacks_total` by (from, to, reason), registered on first use.
    fallbacks: Box<[OnceLock<Counter>]>,
    warm: OnceLock<()>,
}

impl<Req, T, E> ChainInner<Req, T, E> {
    pub(crate) fn count_fallback(&self, from: usize, to: usize, reason: FallbackReason) {
        let n = self.members.len();
        let slot = (from * n + to) * FallbackReason::COUNT + reason.index();
        let Some(counter) = self.fallbacks.get(slot) else { return };
        counter
            .get_or_init(|| {
                metrics::counter!(
                    VOICE_PROVIDER_FALLBACKS_TOTAL.name,
                    "kind" => self.kind.as_str(),
                    "from" => self.members[from].metrics.instruments().provider().clone(),
                    "to" => self.members[to].metrics.instruments().provider().clone(),
                    "reason" => reason.as_str()
                )
            })
            .increment(1);
        let (from, to) =
            (self.members[from].metrics.provider(), self.members[to].metrics.provider());
        match reason {
            // While a breaker is open every request skips it: one warning per request
            // would flood the logs; the breaker logged the opening once.
            FallbackReason::CircuitOpen => {
                tracing::debug!("switching from {from} to {to}: {reason}")
            }
            FallbackReason::Error(_) => tracing::warn!("switching from {from} to {to}: {reason}"),
        }
    }

    /// The circuit gauges exist (at 0) from the first request, so that a dashboard shows
    /// every provider of the chain, not only those that have tripped.
    fn warm(&self) {
        self.warm.get_or_init(|| {
            for member in &self.members {
                member.metrics.instruments().circuit();
            }
        });
    }
}

/// Providers of one kind in priority order. A request goes to the first provider whose
/// circuit is closed; on a failure of a fallback class, or no first byte within the
/// first-byte timeout, it moves to the next, counts `voice_provider_fallbacks_total` and
/// logs `switching from X to Y: reason`. Every attempt is recorded under the provider
/// that made it, as with [`ProviderMetrics`].
///
/// Once the first item has reached the caller, a failure is not retried elsewhere by
/// default (the caller would hear audio twice or read text twice); see
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
}

impl<Req, T, E> Clone for FallbackChain<Req, T, E> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
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
    /// A builder for a chain whose errors classify themselves.
    pub fn builder(kind: ProviderKind) -> FallbackChainBuilder<Req, T, E> {
        FallbackChainBuilder::with_classifier(kind, |error: &E| error.error_class())
    }
}

impl<Req, T, E> FallbackChain<Req, T, E>
where
    Req: Clone + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    /// Streams the answer of the first provider that delivers a first item; the stream
    /// yields `Err` once and ends when no provider could answer or the serving one failed.
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

/// Settings of a [`FallbackChain`], validated by [`build`](Self::build).
pub struct FallbackChainBuilder<Req, T, E> {
    kind: ProviderKind,
    members: Vec<(ProviderSettings, OpenFn<Req, T, E>)>,
    fallback_on: [bool; ErrorClass::ALL.len()],
    retry_after_first_item: bool,
    classify: ClassifyFn<E>,
    usage: Option<UsageFn<T>>,
}

impl<Req, T, E> fmt::Debug for FallbackChainBuilder<Req, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings: Vec<&ProviderSettings> = self.members.iter().map(|(s, _)| s).collect();
        f.debug_struct("FallbackChainBuilder")
            .field("kind", &self.kind)
            .field("providers", &settings)
            .field("fallback_on", &self.fallback_on)
            .field("retry_after_first_item", &self.retry_after_first_item)
            .finish_non_exhaustive()
    }
}

impl<Req, T, E> FallbackChainBuilder<Req, T, E> {
    /// A builder for errors classified by `classify`.
    pub fn with_classifier(
        kind: ProviderKind,
        classify: impl Fn(&E) -> ErrorClass + Send + Sync + 'static,
    ) -> Self {
        // A bad request would be as bad on the next provider: it is the caller's to fix.
        let fallback_on = ErrorClass::ALL.map(|class| class != ErrorClass::BadRequest);
        Self {
            kind,
            members: Vec::new(),
            fallback_on,
            retry_after_first_item: false,
            classify: Arc::new(classify),
            usage: None,
        }
    }

    /// Adds a provider that answers with one value, after those added before.
    pub fn provider<F, Fut>(self, settings: ProviderSettings, call: F) -> Self
    where
        F: Fn(Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        self.stream_provider(settings, move |request| {
            let answer = call(request);
            async move {
                let item = answer.await?;
                Ok(stream_util::iter([Ok::<T, E>(item)]))
            }
        })
    }

    /// Adds a provider that answers with a stream, after those added before. The stream's
    /// first item is its first byte.
    pub fn stream_provider<F, Fut, S>(mut self, settings: ProviderSettings, call: F) -> Self
    where
        F: Fn(Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, E>> + Send + 'static,
        S: Stream<Item = Result<T, E>> + Send + 'static,
    {
        let open: OpenFn<Req, T, E> = Arc::new(move |request| {
            let opening = call(request);
            Box::pin(async move {
                let stream: ItemStream<T, E> = Box::pin(opening.await?);
                Ok(stream)
            })
        });
        self.members.push((settings, open));
        self
    }

    /// The error classes that move a request on to the next provider; the default is
    /// every class but `bad_request`. Timeouts and open circuits always move on.
    pub fn fallback_on(mut self, classes: &[ErrorClass]) -> Self {
        self.fallback_on = ErrorClass::ALL.map(|class| classes.contains(&class));
        self
    }

    /// Retries on the next provider even after the first item reached the caller (the
    /// caller then sees the next provider's answer from its start). Off by default.
    pub fn retry_after_first_item(mut self, enabled: bool) -> Self {
        self.retry_after_first_item = enabled;
        self
    }

    /// Reads usage from each item (an LLM's last chunk carries its token counts).
    pub fn usage_with(mut self, usage: impl Fn(&T) -> Usage + Send + Sync + 'static) -> Self {
        self.usage = Some(Arc::new(usage));
        self
    }

    /// Validates the settings and builds the chain.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field: no provider, a provider name that is not a label
    /// value or appears twice, a zero timeout, a first-byte timeout above the total, or
    /// a breaker setting out of range.
    pub fn build(self) -> Result<FallbackChain<Req, T, E>, ConfigError> {
        voxscope_core::validate_nonzero("providers", self.members.len())?;
        let mut members = Vec::with_capacity(self.members.len());
        for (index, (settings, open)) in self.members.into_iter().enumerate() {
            settings.validate()?;
            if members.iter().any(|m: &Member<Req, T, E>| m.metrics.provider() == &*settings.name) {
                return Err(ConfigError::Invalid {
                    field: format!("providers[{index}]"),
                    value: settings.name.to_string(),
                    reason: "a name not used by an earlier provider of the chain",
                });
            }
            let mut metrics = ProviderMetrics::builder(self.kind, settings.name.clone());
            if let Some(limit) = settings.concurrency_limit {
                metrics = metrics.concurrency_limit(limit);
            }
            let metrics = metrics.build()?;
            let breaker =
                Arc::new(Breaker::new(settings.breaker.clone(), Arc::clone(metrics.instruments())));
            members.push(Member {
                metrics,
                open,
                breaker,
                first_byte_timeout: settings.first_byte_timeout,
                timeout: settings.timeout,
            });
        }
        let slots = members.len() * members.len() * FallbackReason::COUNT;
        Ok(FallbackChain {
            inner: Arc::new(ChainInner {
                kind: self.kind,
                members,
                fallback_on: self.fallback_on,
                retry_after_first_item: self.retry_after_first_item,
                classify: self.classify,
                usage: self.usage,
                fallbacks: (0..slots).map(|_| OnceLock::new()).collect(),
                warm: OnceLock::new(),
            }),
        })
    }
}
