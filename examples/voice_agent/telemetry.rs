//! Metrics and logs for the demo.

use voxscope::{HttpMetricsLayer, MetricsHandle, PrometheusInstaller};

use crate::instrumentation::Instrumentation;

/// The demo's Prometheus recorder: the `service` label and the demo's business metrics,
/// every family on ([`crate::families::installer`] applies the config's).
pub fn installer() -> PrometheusInstaller {
    voxscope::builder()
        .global_label("service", "voice_agent")
        .app_metrics(&crate::business::catalog())
}

/// Installs the global Prometheus recorder, with the demo's business metrics.
pub fn install_metrics() -> anyhow::Result<MetricsHandle> {
    Ok(installer().install()?)
}

/// The HTTP layer. `/health` and `/metrics` are polled by machines and would drown the
/// traffic that callers make.
pub fn http_layer() -> anyhow::Result<HttpMetricsLayer> {
    Ok(HttpMetricsLayer::builder().exclude_path("/health").exclude_path("/metrics").build()?)
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// Logs with trace ids and sampled traces (`/traces`), configured from the standard
/// `OTEL_*` variables; `/health` is never traced, hanging up always is. Replaces
/// [`init_logs`]; the guard flushes kept traces on drop. With
/// [`Instrumentation::Alternative`] the sampling is head only, as the usual
/// tracing-opentelemetry set-up's ratio sampler is, so that tower-http's spans are
/// compared under the sampling they usually get.
pub fn init_tracing(
    instrumentation: Instrumentation,
) -> anyhow::Result<voxscope::trace::TraceGuard> {
    use voxscope::trace::{SamplingMode, SamplingPolicy, TraceConfig};
    let mut policy = SamplingPolicy::default()
        .route_ratio("/health", 0.0)
        .route_ratio("/metrics", 0.0)
        .route_ratio("/calls/{id}/hangup", 1.0);
    if instrumentation == Instrumentation::Alternative {
        policy = policy.mode(SamplingMode::HeadOnly);
    }
    let config = TraceConfig::new("voice_agent").policy(policy).with_env()?;
    Ok(voxscope::init_tracing(config)?)
}
