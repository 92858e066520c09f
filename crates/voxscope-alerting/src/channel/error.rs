//! Why one send failed, and whether another attempt may succeed.

use std::time::Duration;

/// A failed send.
///
/// ```
/// use std::time::Duration;
/// use voxscope_alerting::channel::SendError;
/// let limited = SendError::Status {
///     status: 429,
///     body: "rate_limited".into(),
///     retry_after: Some(Duration::from_secs(30)),
/// };
/// assert!(limited.is_retryable());
/// assert_eq!(limited.retry_after(), Some(Duration::from_secs(30)));
/// assert!(!SendError::Refused("invalid_payload".into()).is_retryable());
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SendError {
    /// No answer: connection refused or reset, DNS, TLS, a body cut short.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// No answer within the delivery's timeout.
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    /// An HTTP status other than success: retried when 408, 429 or 5xx.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the body, for the log.
        body: String,
        /// The `Retry-After` the receiver asked for.
        retry_after: Option<Duration>,
    },
    /// A failure another attempt may fix (an SMTP 4xx reply).
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// A failure no retry fixes: a missing secret, a bad address, a refused payload.
    #[error("{0}")]
    Refused(String),
}

impl SendError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            SendError::Unreachable(_) | SendError::TimedOut(_) | SendError::Temporary(_) => true,
            SendError::Status { status, .. } => {
                matches!(status, 408 | 429) || (500..600).contains(status)
            }
            SendError::Refused(_) => false,
        }
    }

    /// The wait the receiver asked for before the next attempt.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SendError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
