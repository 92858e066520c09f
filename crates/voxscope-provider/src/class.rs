//! Error classes: why a provider failed, as a bounded label.
//!
//! A class is what an operator acts on: `auth` means a key to rotate, `rate_limited` a
//! quota to raise, `unavailable` an outage to wait out on the fallback. Permanent classes
//! ([`ErrorClass::is_permanent`]) will not go away by retrying the same request.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;
use std::io;

use http::StatusCode;

/// Why a provider request failed: the `error` label of `voice_provider_errors_total`.
///
/// ```
/// use http::StatusCode;
/// use voxscope_provider::{Classify, ErrorClass};
///
/// assert_eq!(StatusCode::TOO_MANY_REQUESTS.error_class(), ErrorClass::RateLimited);
/// assert!(StatusCode::UNAUTHORIZED.error_class().is_permanent());
/// assert!(!StatusCode::BAD_GATEWAY.error_class().is_permanent());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// 401/403: a missing, wrong or revoked key. Permanent.
    Auth,
    /// 429: quota or rate limit. Transient.
    RateLimited,
    /// 408 or a client-side timeout. Transient.
    Timeout,
    /// 5xx, refused or reset connections: the provider is down. Transient.
    Unavailable,
    /// Other 4xx: the request itself is wrong. Permanent.
    BadRequest,
    /// The provider answered nothing useful: a stream that ended before its first
    /// useful item, or an empty HTTP body. Transient: the next provider may answer.
    Empty,
    /// Anything else. Transient, since nothing says otherwise.
    Other,
}

impl ErrorClass {
    /// Every class, in label order.
    pub const ALL: [ErrorClass; 7] = [
        ErrorClass::Auth,
        ErrorClass::RateLimited,
        ErrorClass::Timeout,
        ErrorClass::Unavailable,
        ErrorClass::BadRequest,
        ErrorClass::Empty,
        ErrorClass::Other,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Auth => "auth",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Unavailable => "unavailable",
            ErrorClass::BadRequest => "bad_request",
            ErrorClass::Empty => "empty",
            ErrorClass::Other => "other",
        }
    }

    /// Whether retrying the same request on the same provider cannot help.
    pub const fn is_permanent(self) -> bool {
        matches!(self, ErrorClass::Auth | ErrorClass::BadRequest)
    }

    /// The class of an HTTP status; `None` for 1xx-3xx, which are not failures.
    ///
    /// ```
    /// use voxscope_provider::ErrorClass;
    ///
    /// assert_eq!(ErrorClass::from_status(403), Some(ErrorClass::Auth));
    /// assert_eq!(ErrorClass::from_status(408), Some(ErrorClass::Timeout));
    /// assert_eq!(ErrorClass::from_status(422), Some(ErrorClass::BadRequest));
    /// assert_eq!(ErrorClass::from_status(503), Some(ErrorClass::Unavailable));
    /// assert_eq!(ErrorClass::from_status(200), None);
    /// ```
    pub const fn from_status(status: u16) -> Option<ErrorClass> {
        Some(match status {
            401 | 403 => ErrorClass::Auth,
            408 => ErrorClass::Timeout,
            429 => ErrorClass::RateLimited,
            400..=499 => ErrorClass::BadRequest,
            500..=599 => ErrorClass::Unavailable,
            _ => return None,
        })
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that knows its class. Implement it for your provider client's error type.
///
/// ```
/// use voxscope_provider::{Classify, ErrorClass};
///
/// enum TtsError { BadVoice, Overloaded }
///
/// impl Classify for TtsError {
///     fn error_class(&self) -> ErrorClass {
///         match self {
///             TtsError::BadVoice => ErrorClass::BadRequest,
///             TtsError::Overloaded => ErrorClass::Unavailable,
///         }
///     }
/// }
/// assert_eq!(TtsError::Overloaded.error_class(), ErrorClass::Unavailable);
/// ```
pub trait Classify {
    /// The class of this error.
    fn error_class(&self) -> ErrorClass;

    /// How long the provider asked to wait before a retry (HTTP `Retry-After`), if it
    /// said; a chain's [`RetryConfig`](crate::RetryConfig) honours it.
    fn retry_after(&self) -> Option<std::time::Duration> {
        None
    }
}

impl Classify for ErrorClass {
    fn error_class(&self) -> ErrorClass {
        *self
    }
}

/// A success status is not a provider error; a service that returns it as one is
/// misusing the type, so it counts as `other`.
impl Classify for StatusCode {
    fn error_class(&self) -> ErrorClass {
        ErrorClass::from_status(self.as_u16()).unwrap_or(ErrorClass::Other)
    }
}

impl Classify for io::Error {
    fn error_class(&self) -> ErrorClass {
        use io::ErrorKind::*;
        match self.kind() {
            TimedOut => ErrorClass::Timeout,
            ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected
            | AddrNotAvailable | BrokenPipe | UnexpectedEof | HostUnreachable
            | NetworkUnreachable => ErrorClass::Unavailable,
            PermissionDenied => ErrorClass::Auth,
            InvalidInput | InvalidData => ErrorClass::BadRequest,
            _ => ErrorClass::Other,
        }
    }
}

impl Classify for tokio::time::error::Elapsed {
    fn error_class(&self) -> ErrorClass {
        ErrorClass::Timeout
    }
}

impl Classify for Infallible {
    fn error_class(&self) -> ErrorClass {
        match *self {}
    }
}

/// tower's `BoxError`: the first error in the source chain that voxscope knows decides.
impl Classify for Box<dyn StdError + Send + Sync> {
    fn error_class(&self) -> ErrorClass {
        classify_dyn(self.as_ref())
    }
}

/// Walks `error` and its sources for a type that voxscope classifies: an `ErrorClass`,
/// `io::Error`, tokio or tower timeouts, and with the features, reqwest and hyper errors.
///
/// ```
/// use voxscope_provider::{ErrorClass, classify_dyn};
///
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// assert_eq!(classify_dyn(&refused), ErrorClass::Unavailable);
/// ```
pub fn classify_dyn(error: &(dyn StdError + 'static)) -> ErrorClass {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(class) = known_class(error) {
            return class;
        }
        next = error.source();
    }
    ErrorClass::Other
}

fn known_class(error: &(dyn StdError + 'static)) -> Option<ErrorClass> {
    if let Some(io) = error.downcast_ref::<io::Error>() {
        return Some(io.error_class());
    }
    if error.is::<tokio::time::error::Elapsed>() || error.is::<tower::timeout::error::Elapsed>() {
        return Some(ErrorClass::Timeout);
    }
    #[cfg(feature = "reqwest")]
    if let Some(e) = error.downcast_ref::<reqwest::Error>() {
        return Some(e.error_class());
    }
    #[cfg(feature = "hyper")]
    if let Some(e) = error.downcast_ref::<hyper::Error>() {
        return Some(e.error_class());
    }
    None
}

#[cfg(feature = "reqwest")]
impl Classify for reqwest::Error {
    fn error_class(&self) -> ErrorClass {
        if self.is_timeout() {
            ErrorClass::Timeout
        } else if self.is_connect() {
            ErrorClass::Unavailable
        } else if let Some(status) = self.status() {
            status.error_class()
        } else if self.is_builder() {
            ErrorClass::BadRequest
        } else {
            // Body, decode and redirect errors: the provider's reply was unusable.
            self.source().map_or(ErrorClass::Other, classify_dyn)
        }
    }
}

#[cfg(feature = "hyper")]
impl Classify for hyper::Error {
    fn error_class(&self) -> ErrorClass {
        if self.is_timeout() {
            ErrorClass::Timeout
        } else if self.is_closed() || self.is_incomplete_message() || self.is_canceled() {
            ErrorClass::Unavailable
        } else {
            self.source().map_or(ErrorClass::Other, classify_dyn)
        }
    }
}

/// Turns errors of type `E` into classes; [`DefaultClassifier`] asks [`Classify`], and
/// any `Fn(&E) -> ErrorClass` plugs in your own rule.
///
/// ```
/// use voxscope_provider::{ClassifyError, ErrorClass};
///
/// let rule = |e: &String| if e.contains("quota") { ErrorClass::RateLimited } else { ErrorClass::Other };
/// assert_eq!(rule.classify(&"quota exceeded".to_owned()), ErrorClass::RateLimited);
/// ```
pub trait ClassifyError<E> {
    /// The class of `error`.
    fn classify(&self, error: &E) -> ErrorClass;
}

/// Classifies through the error's own [`Classify`] impl.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultClassifier;

impl<E: Classify> ClassifyError<E> for DefaultClassifier {
    fn classify(&self, error: &E) -> ErrorClass {
        error.error_class()
    }
}

impl<E, F: Fn(&E) -> ErrorClass> ClassifyError<E> for F {
    fn classify(&self, error: &E) -> ErrorClass {
        self(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_documented_table() {
        for (status, class) in [
            (401, ErrorClass::Auth),
            (403, ErrorClass::Auth),
            (429, ErrorClass::RateLimited),
            (408, ErrorClass::Timeout),
            (400, ErrorClass::BadRequest),
            (404, ErrorClass::BadRequest),
            (500, ErrorClass::Unavailable),
            (503, ErrorClass::Unavailable),
        ] {
            assert_eq!(ErrorClass::from_status(status), Some(class), "{status}");
        }
        assert_eq!(ErrorClass::from_status(302), None);
    }

    #[test]
    fn boxed_errors_are_classified_through_their_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("tts request failed")]
        struct Wrapper(#[source] io::Error);
        let boxed: Box<dyn StdError + Send + Sync> =
            Box::new(Wrapper(io::Error::from(io::ErrorKind::TimedOut)));
        assert_eq!(boxed.error_class(), ErrorClass::Timeout);
        let unknown: Box<dyn StdError + Send + Sync> = "something".into();
        assert_eq!(unknown.error_class(), ErrorClass::Other);
    }

    #[test]
    fn only_auth_and_bad_request_are_permanent() {
        let permanent: Vec<_> = ErrorClass::ALL.into_iter().filter(|c| c.is_permanent()).collect();
        assert_eq!(permanent, [ErrorClass::Auth, ErrorClass::BadRequest]);
    }
}
