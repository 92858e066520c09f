//! The one error type of voxscope-alert: every variant names the field and the value.

/// A rejected configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not TOML or has an unknown or mistyped key.
    #[error("invalid config: {0}")]
    Toml(#[from] toml::de::Error),
    /// A value outside what the field accepts.
    #[error("{field}: {reason} (got {value})")]
    Invalid {
        /// The dotted TOML path of the setting.
        field: String,
        /// The bad value.
        value: String,
        /// What the field accepts.
        reason: String,
    },
    /// A latency threshold that is not a bucket bound of its histogram, so a quantile
    /// or a good-event count at it would be interpolated rather than exact.
    #[error(
        "{field}: {value} is not a bucket bound of {metric} (buckets: {buckets}); \
         add {value} to [buckets] {metric} and to the buckets the service installs"
    )]
    NotABucketBound {
        /// The dotted TOML path of the setting.
        field: String,
        /// The threshold.
        value: f64,
        /// The histogram it is judged against.
        metric: String,
        /// The bounds in effect.
        buckets: String,
    },
    /// A bucket override that the core's validation rejects.
    #[error(transparent)]
    Buckets(#[from] voxscope_core::ConfigError),
}

impl Error {
    pub(crate) fn invalid(field: &str, value: impl ToString, reason: impl Into<String>) -> Self {
        Error::Invalid { field: field.to_owned(), value: value.to_string(), reason: reason.into() }
    }
}
