//! [`ProviderSettings`], one provider of a chain, and [`FallbackReason`], why a chain
//! moved past one.

use std::fmt;
use std::time::Duration;

use metrics::SharedString;
use voxscope_core::ConfigError;

use crate::breaker::BreakerConfig;
use crate::call::validate_provider_name;
use crate::class::ErrorClass;
use crate::duration;
use crate::price::Price;
use crate::retry::RetryConfig;

/// Why a chain moved on: the `reason` label of `voice_provider_fallbacks_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FallbackReason {
    /// The provider failed with this class (first-byte timeouts are `timeout`, streams
    /// that ended before a useful item `empty`).
    Error(ErrorClass),
    /// The provider's circuit breaker was open, so it was skipped.
    CircuitOpen,
    /// The provider had its concurrency limit of requests in flight, so it was skipped.
    ConcurrencyLimited,
    /// The provider had sent nothing useful within the chain's `hedge_after`, so the next
    /// one was sent the request too (counted when the hedge is sent, whoever wins).
    Hedged,
}

impl FallbackReason {
    pub(crate) const COUNT: usize = ErrorClass::ALL.len() + 3;

    /// The label value: an error class, `circuit_open`, `concurrency_limited` or
    /// `hedged`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FallbackReason::Error(class) => class.as_str(),
            FallbackReason::CircuitOpen => "circuit_open",
            FallbackReason::ConcurrencyLimited => "concurrency_limited",
            FallbackReason::Hedged => "hedged",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            FallbackReason::Error(class) => class.index(),
            FallbackReason::CircuitOpen => ErrorClass::ALL.len(),
            FallbackReason::ConcurrencyLimited => ErrorClass::ALL.len() + 1,
            FallbackReason::Hedged => ErrorClass::ALL.len() + 2,
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
///     .concurrency_limit(50)
///     .breaker(BreakerConfig::default().consecutive_failures(3));
/// ```
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    pub(crate) name: SharedString,
    pub(crate) first_byte_timeout: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) breaker: BreakerConfig,
    pub(crate) concurrency_limit: Option<usize>,
    pub(crate) retry: Option<RetryConfig>,
    pub(crate) model: Option<SharedString>,
    pub(crate) model_label: bool,
    pub(crate) price: Option<Price>,
}

impl ProviderSettings {
    /// Settings for the provider `name`: no timeouts, the default breaker, no limit.
    pub fn new(name: impl Into<SharedString>) -> Self {
        Self {
            name: name.into(),
            first_byte_timeout: None,
            timeout: None,
            breaker: BreakerConfig::default(),
            concurrency_limit: None,
            retry: None,
            model: None,
            model_label: false,
            price: None,
        }
    }

    /// Moves on when no first useful chunk, token or result arrived within `timeout` of
    /// the request (at most 24 hours). Timeouts run on tokio's timer: poll the chain
    /// inside a tokio runtime with time enabled, as axum's is.
    pub fn first_byte_timeout(mut self, timeout: Duration) -> Self {
        self.first_byte_timeout = Some(timeout);
        self
    }

    /// Fails the request when the response has not ended within `timeout` (at most 24
    /// hours).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The provider's circuit breaker.
    pub fn breaker(mut self, breaker: BreakerConfig) -> Self {
        self.breaker = breaker;
        self
    }

    /// At most `limit` requests in flight to this provider, across every chain that
    /// names it. A request that finds the provider at its limit does not wait: it skips
    /// to the next provider (fallback reason `concurrency_limited`), since a voice turn
    /// is better served by a free fallback now than by the primary later. The limit is
    /// published in `voice_provider_concurrency_limit` when the chain is built.
    pub fn concurrency_limit(mut self, limit: usize) -> Self {
        self.concurrency_limit = Some(limit);
        self
    }

    /// The model requested from this provider: `gen_ai.request.model` on its spans.
    pub fn model(mut self, model: impl Into<SharedString>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Labels the provider's `gen_ai_client_token_usage` with its [`model`](Self::model);
    /// see [`ProviderMetricsBuilder::model_label`](crate::ProviderMetricsBuilder::model_label).
    pub fn model_label(mut self, enabled: bool) -> Self {
        self.model_label = enabled;
        self
    }

    /// The provider's list prices, for `voice_provider_cost_total`; see [`Price`].
    pub fn price(mut self, price: Price) -> Self {
        self.price = Some(price);
        self
    }

    /// Retries transient failures on this provider before falling back; none by default.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        validate_provider_name(&self.name)?;
        let name = &self.name;
        for (field, value) in
            [("first_byte_timeout", self.first_byte_timeout), ("timeout", self.timeout)]
        {
            if let Some(value) = value {
                duration::validate(format!("{name}.{field}"), value)?;
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
        if let Some(limit) = self.concurrency_limit {
            voxscope_core::validate_nonzero(&format!("{name}.concurrency_limit"), limit)?;
            if limit > tokio::sync::Semaphore::MAX_PERMITS {
                return Err(ConfigError::Invalid {
                    field: format!("{name}.concurrency_limit"),
                    value: limit.to_string(),
                    reason: "at most tokio's Semaphore::MAX_PERMITS",
                });
            }
        }
        if let Some(retry) = &self.retry {
            retry.validate(name)?;
        }
        self.breaker.validate(name)
    }
}
