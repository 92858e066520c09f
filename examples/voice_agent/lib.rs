//! The voxscope demo voice agent, as a library so that tests can start it on port 0.
//!
//! Modules follow the concerns of a voice service: [`config`] (flags and environment),
//! [`calls`] (the call registry the routes work on), [`routes`] (the HTTP API),
//! [`media`] (the Twilio media-stream WebSocket), [`providers`] (simulated STT/LLM/TTS
//! with fallbacks and fault injection), [`stt_server`] and [`stt_client`] (a loopback
//! streaming STT over WebSocket, used through the live STT chain), [`agent`] (which
//! answers media-stream callers through the providers), [`telemetry`] (metrics and
//! logs) and [`alerting`] (the embedded alerting engine over the demo's own metrics).

pub mod agent;
pub mod alerting;
pub mod calls;
pub mod config;
pub mod endpointing;
pub mod media;
pub mod providers;
pub mod routes;
pub mod stt_client;
pub mod stt_server;
pub mod telemetry;

use axum::Router;
use voxscope::MetricsHandle;
use voxscope::trace::TracePipeline;

/// The whole demo service, exactly as `main` serves it: the HTTP API, `/media` calls,
/// the provider turns, `/metrics` and `/traces`, the alert API, the live page at `/live`
/// (behind the metrics token when one is set), under the trace and
/// HTTP metrics layers. It also runs the startup check of the provider keys
/// (`voxscope_config_missing`) and starts the embedded alerting engine, which evaluates
/// the rules over the demo's own metrics and notifies the log.
///
/// The layers go on last, after every `merge`: `Router::layer` wraps the routes and the
/// fallback that exist when it is called, so a router merged afterwards would bring
/// an unwrapped fallback and requests that match no route would go unmeasured.
///
/// ```no_run
/// # async fn run() -> anyhow::Result<()> {
/// let tracing = voxscope::trace::TracePipeline::new(&voxscope::trace::TraceConfig::new("demo"))?;
/// let metrics = voice_agent::telemetry::install_metrics()?;
/// let config = voice_agent::config::Config::parse(["voice_agent"], |_| None)?;
/// let app = voice_agent::service(&config, &metrics, &tracing)?;
/// axum::serve(tokio::net::TcpListener::bind(config.addr).await?, app).await?;
/// # Ok(()) }
/// ```
pub fn service(
    config: &config::Config,
    metrics: &MetricsHandle,
    tracing: &TracePipeline,
) -> anyhow::Result<Router> {
    providers::check_keys(|key| config.provider_keys.get(key).cloned());
    let mut endpoint = metrics.endpoint();
    if let Some(token) = &config.metrics_token {
        endpoint = endpoint.require_bearer_token(token)?;
    }
    let calls = calls::CallRegistry::default();
    let faults = providers::Faults::parse(config.faults.as_deref().unwrap_or_default())?;
    let pipeline = providers::Pipeline::new(&faults)?;
    let responder = std::sync::Arc::new(agent::PipelineResponder::new(pipeline.clone()));
    let alerts = alerting::start(config, metrics)?;
    let mut live = voxscope::live::LivePage::builder(&alerts).traces(tracing.store());
    if let Some(token) = &config.metrics_token {
        live = live.token(token);
    }
    Ok(routes::router(calls.clone())
        .merge(providers::router(calls, pipeline))
        .merge(media::router(responder)?)
        .merge(endpoint.into_router())
        .merge(tracing.traces_router())
        .merge(alerts.router())
        .merge(live.build()?.router())
        .layer(telemetry::http_layer()?)
        .layer(tracing.trace_layer()))
}
