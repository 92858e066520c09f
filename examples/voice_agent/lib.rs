//! The voxscope demo voice agent, as a library so that tests can start it on port 0.
//!
//! Modules follow the concerns of a voice service: [`config`] (flags and environment),
//! [`calls`] (the call registry the routes work on), [`routes`] (the HTTP API),
//! [`media`] (the Twilio media-stream WebSocket), [`providers`] (simulated STT/LLM/TTS
//! with fallbacks and fault injection), [`agent`] (which answers media-stream callers
//! through the providers) and [`telemetry`] (metrics and logs).

pub mod agent;
pub mod calls;
pub mod config;
pub mod media;
pub mod providers;
pub mod routes;
pub mod telemetry;

use axum::Router;
use voxscope::MetricsHandle;

/// The whole service: API routes and `/metrics`, under the HTTP metrics layer (which
/// also sees requests that match no route).
pub fn app(metrics: &MetricsHandle, config: &config::Config) -> anyhow::Result<Router> {
    let mut endpoint = metrics.endpoint();
    if let Some(token) = &config.metrics_token {
        endpoint = endpoint.require_bearer_token(token);
    }
    let calls = calls::CallRegistry::default();
    let faults = providers::Faults::parse(config.faults.as_deref().unwrap_or_default())?;
    let pipeline = providers::Pipeline::new(&faults)?;
    let responder = std::sync::Arc::new(agent::PipelineResponder::new(pipeline.clone()));
    Ok(routes::router(calls.clone())
        .merge(providers::router(calls, pipeline))
        .merge(media::router(responder)?)
        .merge(endpoint.into_router())
        .layer(telemetry::http_layer()?))
}

/// [`app`] with a span per request (sampled by the pipeline's policy) and `GET /traces`.
pub fn traced_app(
    metrics: &MetricsHandle,
    config: &config::Config,
    tracing: &voxscope::trace::TracePipeline,
) -> anyhow::Result<Router> {
    Ok(app(metrics, config)?.layer(tracing.trace_layer()).merge(tracing.traces_router()))
}
