//! The one error type of voxscope-trace.

use voxscope_core::ConfigError;

/// Why a layer, pipeline or [`init`](crate::init) could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// A setting was rejected; the message names the field and the value.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A global tracing subscriber was already installed.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInitialised,
    /// The OTLP exporter could not be built.
    #[error("otlp_endpoint: could not build the exporter for {endpoint:?}: {reason}")]
    Exporter {
        /// The endpoint.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The export thread could not be started.
    #[error("could not start the export thread: {0}")]
    Thread(#[from] std::io::Error),
}
