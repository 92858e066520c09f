//! [`FallbackChainBuilder`]: the providers of a chain, validated into a [`FallbackChain`].

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use futures_util::{Stream, stream as stream_util};
use voxscope_core::ConfigError;

use super::{
    ChainInner, ClassifyFn, FallbackChain, FallbackReason, ItemStream, Member, OpenFn,
    ProviderSettings, RetryAfterFn, UsageFn, UsefulFn,
};
use crate::call::ProviderMetrics;
use crate::class::ErrorClass;
use crate::kind::ProviderKind;
use crate::registry::ProviderRegistry;
use crate::retry::Retries;
use crate::usage::Usage;

/// Settings of a [`FallbackChain`], validated by [`build`](Self::build).
pub struct FallbackChainBuilder<Req, T, E> {
    kind: ProviderKind,
    members: Vec<(ProviderSettings, OpenFn<Req, T, E>)>,
    fallback_on: [bool; ErrorClass::ALL.len()],
    retry_after_first_item: bool,
    classify: ClassifyFn<E>,
    retry_after: RetryAfterFn<E>,
    usage: Option<UsageFn<T>>,
    useful: Option<UsefulFn<T>>,
    hedge_after: Option<std::time::Duration>,
    registry: ProviderRegistry,
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
            retry_after: Arc::new(|_: &E| None),
            usage: None,
            useful: None,
            hedge_after: None,
            registry: ProviderRegistry::global().clone(),
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
    /// first item is its first byte, unless [`first_byte_when`](Self::first_byte_when)
    /// says otherwise.
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

    /// Reads the `Retry-After` of an error, for providers with a
    /// [`RetryConfig`](crate::RetryConfig); chains from
    /// [`FallbackChain::builder`] ask [`Classify::retry_after`](crate::Classify::retry_after).
    pub fn retry_after_with(
        mut self,
        retry_after: impl Fn(&E) -> Option<std::time::Duration> + Send + Sync + 'static,
    ) -> Self {
        self.retry_after = Arc::new(retry_after);
        self
    }

    /// Reads usage from each item (an LLM's last chunk carries its token counts).
    pub fn usage_with(mut self, usage: impl Fn(&T) -> Usage + Send + Sync + 'static) -> Self {
        self.usage = Some(Arc::new(usage));
        self
    }

    /// Which items count as the first byte: OpenAI's first chunk carries only the role,
    /// Deepgram's first message is metadata, and neither is what the caller waits for.
    ///
    /// Items before the first useful one are held back and reach the caller together
    /// with it, so a provider that fails or ends before a useful item falls back cleanly
    /// (a stream with no useful item fails as `empty`). The first-byte timeout waits for
    /// a useful item; so do TTFB, the breaker's verdict and the chain's TTFB. At most
    /// 1024 items are held: a provider that sends more without a useful one fails as
    /// `empty`.
    ///
    /// ```
    /// use voxscope_provider::{FallbackChain, ProviderKind, ProviderSettings};
    /// # use futures_util::stream;
    ///
    /// struct Chunk { role: Option<&'static str>, content: Option<String> }
    ///
    /// let llm = FallbackChain::builder(ProviderKind::Llm)
    ///     .stream_provider(ProviderSettings::new("openai"), |_prompt: String| async {
    ///         Ok::<_, std::io::Error>(stream::empty::<std::io::Result<Chunk>>())
    ///     })
    ///     .first_byte_when(|chunk: &Chunk| chunk.content.as_deref().is_some_and(|c| !c.is_empty()))
    ///     .build()?;
    /// # Ok::<(), voxscope_core::ConfigError>(())
    /// ```
    pub fn first_byte_when(mut self, useful: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.useful = Some(Arc::new(useful));
        self
    }

    /// Hedges slow providers: when no useful item has arrived `after` the request
    /// started, the next provider that admits a request is sent it too, and the first of
    /// the two to produce a useful item serves the caller; the other is cancelled
    /// (recorded `cancelled`). The hedge counts in `voice_provider_fallbacks_total` with
    /// reason `hedged` when it is sent. One hedge per request; off by default. It trades
    /// provider load for tail latency: set it near the primary's p95 TTFB.
    pub fn hedge_after(mut self, after: std::time::Duration) -> Self {
        self.hedge_after = Some(after);
        self
    }

    /// Shares breakers and concurrency limits through `registry` instead of
    /// [`ProviderRegistry::global`].
    pub fn registry(mut self, registry: &ProviderRegistry) -> Self {
        self.registry = registry.clone();
        self
    }

    /// Validates the settings and builds the chain. Publishes, in the recorder current
    /// now, each provider's circuit state and concurrency limit and every
    /// `voice_provider_fallbacks_total` series the chain can count, at 0, so that
    /// `rate()` sees the first switch; they are published again at the first request for
    /// a chain built before the recorder was installed.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field: no provider, a provider name that is not a label
    /// value or appears twice, a zero or longer than 24 h duration, a first-byte timeout
    /// above the total, a zero concurrency limit, a breaker setting out of range, or a
    /// breaker or limit that differs from another live chain's for the same provider.
    pub fn build(self) -> Result<FallbackChain<Req, T, E>, ConfigError> {
        voxscope_core::validate_nonzero("providers", self.members.len())?;
        if let Some(after) = self.hedge_after {
            crate::duration::validate("hedge_after".to_owned(), after)?;
        }
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
            if let Some(model) = settings.model.clone() {
                metrics = metrics.model(model);
            }
            metrics = metrics.model_label(settings.model_label);
            if let Some(price) = settings.price.clone() {
                metrics = metrics.price(price);
            }
            let metrics = metrics.build()?;
            let shared = self.registry.join(
                metrics.instruments(),
                &settings.breaker,
                settings.concurrency_limit,
            )?;
            members.push(Member {
                metrics,
                open,
                shared,
                retries: settings.retry.map(Retries::new),
                first_byte_timeout: settings.first_byte_timeout,
                timeout: settings.timeout,
            });
        }
        let slots = members.len() * members.len() * FallbackReason::COUNT;
        let inner = ChainInner {
            kind: self.kind,
            members,
            fallback_on: self.fallback_on,
            retry_after_first_item: self.retry_after_first_item,
            classify: self.classify,
            retry_after: self.retry_after,
            usage: self.usage,
            useful: self.useful,
            hedge_after: self.hedge_after,
            fallbacks: (0..slots).map(|_| OnceLock::new()).collect(),
            timing: OnceLock::new(),
            warm: OnceLock::new(),
        };
        inner.publish();
        Ok(FallbackChain::new(inner))
    }
}
