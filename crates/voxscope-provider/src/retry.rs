//! [`RetryConfig`]: retries on the same provider, with exponential backoff and jitter,
//! `Retry-After`, and a retry budget, before a chain falls back.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tower::retry::backoff::{Backoff, ExponentialBackoffMaker, MakeBackoff};
use tower::retry::budget::{Budget, TpsBudget};
use tower::util::rng::HasherRng;
use voxscope_core::ConfigError;
use voxscope_core::catalog::VOICE_PROVIDER_RETRIES_TOTAL;

use crate::class::ErrorClass;
use crate::duration;
use crate::handles::Instruments;

/// How a chain retries a provider before falling back to the next one.
///
/// Only failures before the first item reached the caller are retried, and only of the
/// transient classes `rate_limited`, `unavailable` and `timeout`. The delay grows
/// exponentially from `min` to `max` with random jitter (tower's `ExponentialBackoff`);
/// a `Retry-After` the provider sent ([`Classify::retry_after`](crate::Classify::retry_after))
/// lengthens it, and one longer than [`max_retry_after`](Self::max_retry_after) makes the
/// chain fall back at once instead. Retries draw on a budget (tower's `TpsBudget`): a
/// share of recent requests, plus a floor, so an outage cannot multiply the load on a
/// provider. Each retry counts in `voice_provider_retries_total{kind,provider,reason}`.
///
/// ```
/// use std::time::Duration;
/// use voxscope_provider::{ProviderSettings, RetryConfig};
///
/// let openai = ProviderSettings::new("openai").retry(
///     RetryConfig::default()
///         .max_retries(2)
///         .backoff(Duration::from_millis(100), Duration::from_secs(1))
///         .max_retry_after(Duration::from_secs(2)),
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryConfig {
    max_retries: u32,
    min: Duration,
    max: Duration,
    jitter: f64,
    max_retry_after: Duration,
    budget: (Duration, u32, f32),
}

impl Default for RetryConfig {
    /// 2 retries, 100 ms doubling up to 2 s with up to 100 % jitter, `Retry-After` up to
    /// 5 s, and a budget of 20 % of the requests of the last 10 s plus 10 a second.
    fn default() -> Self {
        Self {
            max_retries: 2,
            min: Duration::from_millis(100),
            max: Duration::from_secs(2),
            jitter: 1.0,
            max_retry_after: Duration::from_secs(5),
            budget: (Duration::from_secs(10), 10, 0.2),
        }
    }
}

impl RetryConfig {
    /// Retries per request on this provider, at most.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first delay and the longest one.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min = min;
        self.max = max;
        self
    }

    /// The share of each delay that may be added at random (0 for none, 1 for up to
    /// double).
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// The longest `Retry-After` worth waiting for; a longer one falls back at once.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The retry budget: retries may add `retry_percent` (a share from 0 to 10, e.g.
    /// 0.2 for 20 %) of the requests seen in the last `ttl` (1 to 60 s), plus
    /// `min_per_sec` a second.
    pub fn budget(mut self, ttl: Duration, min_per_sec: u32, retry_percent: f32) -> Self {
        self.budget = (ttl, min_per_sec, retry_percent);
        self
    }

    pub(crate) fn validate(&self, provider: &str) -> Result<(), ConfigError> {
        let field = |name: &str| format!("{provider}.retry.{name}");
        voxscope_core::validate_nonzero(&field("max_retries"), self.max_retries as usize)?;
        duration::validate(field("backoff.min"), self.min)?;
        duration::validate(field("backoff.max"), self.max)?;
        duration::validate(field("max_retry_after"), self.max_retry_after)?;
        let (ttl, min_per_sec, percent) = self.budget;
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&ttl) {
            return Err(ConfigError::Invalid {
                field: field("budget.ttl"),
                value: format!("{ttl:?}"),
                reason: "1 to 60 seconds",
            });
        }
        if min_per_sec >= i32::MAX as u32 {
            return Err(ConfigError::Invalid {
                field: field("budget.min_per_sec"),
                value: min_per_sec.to_string(),
                reason: "below 2^31 - 1",
            });
        }
        if !(0.0..=10.0).contains(&percent) {
            return Err(ConfigError::Invalid {
                field: field("budget.retry_percent"),
                value: percent.to_string(),
                reason: "a share in 0..=10",
            });
        }
        if let Err(error) = self.maker() {
            return Err(ConfigError::Invalid {
                field: field("backoff"),
                value: format!("{:?}..{:?}, jitter {}", self.min, self.max, self.jitter),
                reason: error,
            });
        }
        Ok(())
    }

    fn maker(&self) -> Result<ExponentialBackoffMaker, &'static str> {
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err("jitter must be a share in 0..=1");
        }
        ExponentialBackoffMaker::new(self.min, self.max, self.jitter, HasherRng::default())
            .map_err(|_| "min must be at most max")
    }
}

/// A provider's retry policy in a built chain.
pub(crate) struct Retries {
    config: RetryConfig,
    budget: TpsBudget,
}

impl Retries {
    pub(crate) fn new(config: RetryConfig) -> Arc<Self> {
        let (ttl, min_per_sec, percent) = config.budget;
        Arc::new(Self { budget: TpsBudget::new(ttl, min_per_sec, percent), config })
    }

    /// A first attempt: adds to the budget.
    pub(crate) fn deposit(&self) {
        self.budget.deposit();
    }

    /// When to retry after the `done`-th retry failed with `class`, or `None` to move
    /// on: a permanent class, no retries left, a `Retry-After` too long, or no budget.
    /// A retry granted is counted.
    pub(crate) fn next(
        &self,
        instruments: &Instruments,
        session: &mut Option<tower::retry::backoff::ExponentialBackoff>,
        done: u32,
        class: ErrorClass,
        retry_after: Option<Duration>,
    ) -> Option<Instant> {
        let retryable = matches!(
            class,
            ErrorClass::RateLimited | ErrorClass::Unavailable | ErrorClass::Timeout
        );
        if !retryable || done >= self.config.max_retries {
            return None;
        }
        if retry_after.is_some_and(|after| after > self.config.max_retry_after) {
            tracing::debug!(
                "not retrying {}: Retry-After {retry_after:?} is too long",
                instruments.provider()
            );
            return None;
        }
        if !self.budget.withdraw() {
            tracing::debug!("not retrying {}: retry budget spent", instruments.provider());
            return None;
        }
        // A fresh random source per request: sessions cloned from one would share their
        // jitter, and retries would bunch up again.
        if session.is_none() {
            *session = self.config.maker().ok().map(|mut maker| maker.make_backoff());
        }
        let backoff = session.as_mut()?;
        let now = Instant::now();
        let delay = backoff.next_backoff().deadline().saturating_duration_since(now);
        let delay = delay.max(retry_after.unwrap_or_default());
        metrics::counter!(
            VOICE_PROVIDER_RETRIES_TOTAL.name,
            "kind" => instruments.kind().as_str(),
            "provider" => instruments.provider().clone(),
            "reason" => class.as_str()
        )
        .increment(1);
        tracing::info!("retrying {} in {delay:?}: {class}", instruments.provider());
        Some(duration::deadline(now, delay))
    }
}
