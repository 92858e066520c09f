//! Configuration errors shared by voxscope's builders.

/// A setting that a builder rejected. The message names the field and the bad value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A bucket list was empty.
    #[error("{field}: buckets must not be empty")]
    EmptyBuckets {
        /// The setting.
        field: String,
    },
    /// A bucket bound was NaN or infinite.
    #[error("{field}: bucket bound {value} is not a finite number")]
    NonFiniteBucket {
        /// The setting.
        field: String,
        /// The bad bound.
        value: f64,
    },
    /// Bucket bounds were not strictly increasing.
    #[error("{field}: buckets must be strictly increasing, but {previous} is followed by {next}")]
    UnsortedBuckets {
        /// The setting.
        field: String,
        /// The earlier bound.
        previous: f64,
        /// The bound that is not greater than it.
        next: f64,
    },
    /// A count that must be positive was zero.
    #[error("{field}: must be greater than 0")]
    Zero {
        /// The setting.
        field: String,
    },
    /// A value was not what the field accepts.
    #[error("{field}: {reason} (got {value:?})")]
    Invalid {
        /// The setting.
        field: String,
        /// The bad value.
        value: String,
        /// What the field accepts.
        reason: &'static str,
    },
}

/// Checks that `buckets` is non-empty, finite and strictly increasing.
///
/// ```
/// use voxscope_core::{validate_buckets, ConfigError};
///
/// assert!(validate_buckets("buckets", &[0.1, 0.5, 1.0]).is_ok());
/// let err = validate_buckets("buckets", &[0.5, 0.1]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "buckets: buckets must be strictly increasing, but 0.5 is followed by 0.1"
/// );
/// ```
pub fn validate_buckets(field: &str, buckets: &[f64]) -> Result<(), ConfigError> {
    if buckets.is_empty() {
        return Err(ConfigError::EmptyBuckets { field: field.to_owned() });
    }
    if let Some(&value) = buckets.iter().find(|b| !b.is_finite()) {
        return Err(ConfigError::NonFiniteBucket { field: field.to_owned(), value });
    }
    if let Some(pair) = buckets.windows(2).find(|w| w[0] >= w[1]) {
        return Err(ConfigError::UnsortedBuckets {
            field: field.to_owned(),
            previous: pair[0],
            next: pair[1],
        });
    }
    Ok(())
}

/// Checks that a cap or count is positive.
///
/// ```
/// assert!(voxscope_core::validate_nonzero("max_routes", 0).is_err());
/// ```
pub fn validate_nonzero(field: &str, value: usize) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError::Zero { field: field.to_owned() });
    }
    Ok(())
}
