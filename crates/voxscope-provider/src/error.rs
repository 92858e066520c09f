//! [`FallbackError`], what a fallback chain answers when no provider could.

use std::time::Duration;

use metrics::SharedString;

use crate::class::ErrorClass;
use crate::kind::ProviderKind;

/// Why a [`FallbackChain`](crate::FallbackChain) request failed: the last provider's
/// error, after every provider the chain was allowed to try. Names the provider, never
/// a key or a payload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FallbackError<E> {
    /// The provider answered with an error.
    #[error("{kind} provider {provider} failed: {class}")]
    Provider {
        /// The provider's kind.
        kind: ProviderKind,
        /// The provider that failed.
        provider: SharedString,
        /// Its class.
        class: ErrorClass,
        /// The provider's error.
        #[source]
        source: E,
    },
    /// The provider's stream ended before its first useful item.
    #[error("{kind} provider {provider} answered nothing useful")]
    Empty {
        /// The provider's kind.
        kind: ProviderKind,
        /// The provider that answered nothing.
        provider: SharedString,
    },
    /// No first chunk, token or result within the provider's first-byte timeout.
    #[error("{kind} provider {provider} sent nothing within {after:?}")]
    FirstByteTimeout {
        /// The provider's kind.
        kind: ProviderKind,
        /// The provider that stalled.
        provider: SharedString,
        /// The first-byte timeout.
        after: Duration,
    },
    /// The response had not ended within the provider's total timeout.
    #[error("{kind} provider {provider} did not finish within {after:?}")]
    Timeout {
        /// The provider's kind.
        kind: ProviderKind,
        /// The provider that was too slow.
        provider: SharedString,
        /// The total timeout.
        after: Duration,
    },
    /// Every provider's circuit breaker was open.
    #[error("every {kind} provider is skipped: circuits open")]
    AllCircuitsOpen {
        /// The chain's kind.
        kind: ProviderKind,
    },
    /// Every provider was skipped, the last one for being at its concurrency limit.
    #[error("every {kind} provider is skipped: at their concurrency limits")]
    Saturated {
        /// The chain's kind.
        kind: ProviderKind,
    },
}

impl<E> FallbackError<E> {
    /// The error class: a provider error's class, `empty` for an empty answer,
    /// `timeout` for timeouts, `unavailable` when every circuit was open, `rate_limited`
    /// when the providers were at their concurrency limits.
    pub fn class(&self) -> ErrorClass {
        match self {
            FallbackError::Provider { class, .. } => *class,
            FallbackError::Empty { .. } => ErrorClass::Empty,
            FallbackError::Saturated { .. } => ErrorClass::RateLimited,
            FallbackError::FirstByteTimeout { .. } | FallbackError::Timeout { .. } => {
                ErrorClass::Timeout
            }
            FallbackError::AllCircuitsOpen { .. } => ErrorClass::Unavailable,
        }
    }

    /// The provider that failed last, if one was tried.
    pub fn provider(&self) -> Option<&str> {
        match self {
            FallbackError::Provider { provider, .. }
            | FallbackError::Empty { provider, .. }
            | FallbackError::FirstByteTimeout { provider, .. }
            | FallbackError::Timeout { provider, .. } => Some(provider),
            FallbackError::AllCircuitsOpen { .. } | FallbackError::Saturated { .. } => None,
        }
    }
}
