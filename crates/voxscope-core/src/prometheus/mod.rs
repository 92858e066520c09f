//! The Prometheus exporter: recorder installation and the `/metrics` endpoint
//! (feature `prometheus`).
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let metrics = voxscope_core::prometheus::PrometheusInstaller::new().install()?;
//! let app = axum::Router::new()
//!     .route("/health", axum::routing::get(|| async { "ok" }))
//!     .merge(metrics.endpoint().into_router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

mod endpoint;
mod gate;
mod install;

pub use endpoint::{CONTENT_TYPE, MetricsEndpoint};
pub use gate::Gated;
pub use install::{InstallError, MetricsHandle, PrometheusInstaller, VoxscopeRecorder};
