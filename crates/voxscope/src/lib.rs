//! Observability for tower/axum voice services, one dependency with a feature per
//! instrument.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Install the Prometheus recorder (catalog buckets, cardinality guard, upkeep).
//! let metrics = voxscope::install()?;
//!
//! let app = Router::new()
//!     .route("/calls/{id}", get(|| async { "call" }))
//!     .merge(metrics.endpoint().into_router())
//!     // Layers after every merge, so requests that match no route are measured too.
//!     .layer(voxscope::HttpMetricsLayer::new());
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! | feature | default | brings |
//! |---|---|---|
//! | `http` | yes | [`http`]: [`HttpMetricsLayer`] |
//! | `call` | no | [`call`]: [`CallLayer`], the `Call` extractor, tracked sockets |
//! | `provider` | no | [`provider`]: provider timing, fallback chains, `check_config` |
//! | `prometheus` | yes | [`install`], [`builder`], the `/metrics` endpoint |
//! | `alert` | no | `alert`: rules, Alertmanager config, dashboards, runbooks from the catalog |
//! | `alerting` | no | `alerting`: the embedded engine (evaluation, notifications, silences, escalation, API) |
//! | `live` | no | `live`: the live page (`/live`) over the engine's store, alerts and kept traces |
//! | `trace` | no | [`trace`]: `TraceLayer`, head and tail sampling, `/traces`, [`init_tracing`] |
//! | `otlp` | no | OTLP http/protobuf export for `trace`: kept traces and log records |
//! | `zipkin` | no | Zipkin v2 JSON export of kept traces for `trace` |
//!
//! The metric catalog ([`catalog`]) is always there: it is the contract between the
//! layers and the rules, dashboards and docs generated from it.
#![deny(missing_docs)]

pub use voxscope_core::{ConfigError, cardinality, catalog, docs, families};

/// The HTTP request-metrics layer (`voxscope-http`).
#[cfg(feature = "http")]
pub mod http {
    pub use voxscope_http::*;
}

#[cfg(feature = "http")]
pub use voxscope_http::HttpMetricsLayer;

/// Alert and SLO rules, Alertmanager config, dashboards and runbooks (`voxscope-alert`).
#[cfg(feature = "alert")]
pub mod alert {
    pub use voxscope_alert::*;
}

/// The embedded alerting engine (`voxscope-alerting`).
#[cfg(feature = "alerting")]
pub mod alerting {
    pub use voxscope_alerting::*;
}

/// The live page (`voxscope-live`).
#[cfg(feature = "live")]
pub mod live {
    pub use voxscope_live::*;
}

/// The WebSocket call-lifecycle layer (`voxscope-call`).
#[cfg(feature = "call")]
pub mod call {
    pub use voxscope_call::*;
}

#[cfg(feature = "call")]
pub use voxscope_call::CallLayer;

/// Provider timing, errors, usage, fallback chains and config checks
/// (`voxscope-provider`).
#[cfg(feature = "provider")]
pub mod provider {
    pub use voxscope_provider::*;
}

/// Sampled request tracing (`voxscope-trace`).
#[cfg(feature = "trace")]
pub mod trace {
    pub use voxscope_trace::*;
}

/// Installs the global tracing subscriber (logs with trace ids, sampling, export) and
/// returns the guard that flushes on drop: [`voxscope_trace::init`].
///
/// ```no_run
/// let tracing = voxscope::init_tracing(voxscope::trace::TraceConfig::new("voice-agent"))?;
/// # Ok::<(), voxscope::trace::TraceError>(())
/// ```
///
/// # Errors
/// See [`voxscope_trace::init`].
#[cfg(feature = "trace")]
pub fn init_tracing(
    config: voxscope_trace::TraceConfig,
) -> Result<voxscope_trace::TraceGuard, voxscope_trace::TraceError> {
    voxscope_trace::init(config)
}

#[cfg(feature = "prometheus")]
pub use voxscope_core::prometheus::{
    InstallError, MetricsEndpoint, MetricsHandle, PrometheusInstaller,
};

/// Installs the Prometheus recorder with voxscope's defaults and returns the handle that
/// renders and serves `/metrics`.
///
/// # Errors
/// [`InstallError::AlreadyInstalled`] when a global `metrics` recorder exists.
#[cfg(feature = "prometheus")]
pub fn install() -> Result<MetricsHandle, InstallError> {
    PrometheusInstaller::new().install()
}

/// A builder for a customised installation: buckets, cardinality caps, upkeep
/// interval, global labels.
///
/// ```no_run
/// let metrics = voxscope::builder().global_label("service", "voice-agent").install()?;
/// # Ok::<(), voxscope::InstallError>(())
/// ```
#[cfg(feature = "prometheus")]
pub fn builder() -> PrometheusInstaller {
    PrometheusInstaller::new()
}
