//! The voxscope demo voice agent, as a library so that tests can start it on port 0.
//!
//! Modules follow the concerns of a voice service: [`config`] (flags and environment),
//! [`calls`] (the call registry the routes work on), [`routes`] (the HTTP API),
//! [`media`] (the Twilio media-stream WebSocket), [`providers`] (simulated STT/LLM/TTS
//! with fallbacks) and [`faults`] (what is injected into them, swappable at runtime),
//! [`stt_server`] and [`stt_client`] (a loopback streaming STT over WebSocket, used
//! through the live STT chain), [`agent`] (which answers media-stream callers through
//! the providers), [`telemetry`] (metrics and logs), [`alerting`] (the embedded
//! alerting engine over the demo's own metrics), [`business`] (the demo's own business
//! metrics, recorded as calls end), [`families`] (the metric families the alert config's
//! `enabled_metrics` switches on, for the recorder and the rules alike), [`admin`] (the production profile: the operator
//! routes on a listener of their own), and the story the demo tells:
//! [`simulator`] (simulated Twilio callers, shared with the `call_simulator` binary),
//! [`callers`] (the built-in callers) and [`timeline`] (the scripted incident).

pub mod admin;
pub mod agent;
pub mod alerting;
pub mod business;
pub mod callers;
pub mod calls;
pub mod config;
pub mod endpointing;
pub mod families;
pub mod faults;
pub mod instrumentation;
pub mod media;
pub mod providers;
pub mod routes;
pub mod simulator;
pub mod stt_client;
pub mod stt_server;
pub mod telemetry;
pub mod timeline;

use std::net::SocketAddr;

use axum::Router;
use voxscope::MetricsHandle;
use voxscope::trace::TracePipeline;

use crate::faults::{Faults, LiveFaults};

/// Where the live page is served.
pub const LIVE_PATH: &str = "/live";

/// The whole demo service, exactly as `main` serves it: the HTTP API, `/media` calls,
/// the provider turns, `/metrics` and `/traces`, the alert API, the live page at `/live`
/// (behind the metrics token when one is set), under the trace and
/// HTTP metrics layers (none with `--instrumentation off`, see [`instrumentation`]). It also runs the startup check of the provider keys
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
    let faults = LiveFaults::new(base_faults(config)?);
    service_with(config, metrics, tracing, &faults)
}

/// The faults of `--faults`, which the timeline's steps add to.
fn base_faults(config: &config::Config) -> anyhow::Result<Faults> {
    Faults::parse(config.faults.as_deref().unwrap_or_default())
}

/// [`service`] with its providers reading the faults in force from `faults`, which the
/// caller may swap while it runs (the incident timeline does). With `--admin-bind` this
/// is the main listener's router only: [`routers_with`] has the operator routes too.
///
/// # Errors
/// A bad metrics token, alert config or engine setting.
pub fn service_with(
    config: &config::Config,
    metrics: &MetricsHandle,
    tracing: &TracePipeline,
    faults: &LiveFaults,
) -> anyhow::Result<Router> {
    Ok(routers_with(config, metrics, tracing, faults)?.public)
}

/// The routers [`run`] serves: the main listener's, and the admin listener's when
/// `config.admin_addr` is set (see [`admin`]). Both under the trace and HTTP metrics
/// layers.
///
/// # Errors
/// As [`service_with`].
pub fn routers_with(
    config: &config::Config,
    metrics: &MetricsHandle,
    tracing: &TracePipeline,
    faults: &LiveFaults,
) -> anyhow::Result<admin::Routers> {
    providers::check_keys(|key| config.provider_keys.get(key).cloned());
    let mut endpoint = metrics.endpoint();
    if let Some(token) = &config.metrics_token {
        endpoint = endpoint.require_bearer_token(token)?;
    }
    let calls = calls::CallRegistry::default();
    let pipeline =
        providers::Pipeline::new(faults, providers::BREAKER_COOL_DOWN / config.speed.max(1))?;
    let responder = std::sync::Arc::new(agent::PipelineResponder::new(pipeline.clone()));
    let alerts = alerting::start(config, metrics)?;
    let mut live = voxscope::live::LivePage::builder(&alerts).traces(tracing.store());
    if let Some(token) = &config.metrics_token {
        live = live.token(token);
    }
    let public = routes::router(calls.clone())
        .merge(providers::router(calls, pipeline))
        .merge(config.instrumentation.media_router(responder, config.max_calls)?);
    let operator = endpoint
        .into_router()
        .merge(tracing.traces_router())
        .merge(alerts.router())
        .merge(live.build()?.router());
    admin::Routers::split(public, operator, config.admin_addr.is_some())
        .wrapped(|routes| config.instrumentation.layers(routes, tracing))
}

/// Runs the demo as `main` does, on `listener`, until `shutdown` completes: [`start`],
/// then serves.
///
/// ```no_run
/// # async fn run() -> anyhow::Result<()> {
/// let tracing = voxscope::trace::TracePipeline::new(&voxscope::trace::TraceConfig::new("demo"))?;
/// let metrics = voice_agent::telemetry::install_metrics()?;
/// let config = voice_agent::config::Config::parse(["voice_agent", "--speed", "10"], |_| None)?;
/// let listener = tokio::net::TcpListener::bind(config.addr).await?;
/// voice_agent::run(&config, &metrics, &tracing, listener, std::future::pending()).await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// What [`start`] or serving returns.
pub async fn run(
    config: &config::Config,
    metrics: &MetricsHandle,
    tracing: &TracePipeline,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    start(config, metrics, tracing, listener, shutdown)?.await
}

/// Everything [`run`] does before it serves, done by the time it returns: binds the
/// admin listener when `config.admin_addr` is set, says first where the live page is,
/// builds [`routers_with`] (the startup checks have published their gauges), starts
/// serving the admin listener, starts the story (the built-in [`callers`] and the incident
/// [`timeline`], as `config` says). The future it returns serves on `listener` until
/// `shutdown` completes (the admin listener too), then stops the story. Call it inside
/// a tokio runtime.
///
/// ```no_run
/// # async fn run() -> anyhow::Result<()> {
/// let tracing = voxscope::trace::TracePipeline::new(&voxscope::trace::TraceConfig::new("demo"))?;
/// let metrics = voice_agent::telemetry::install_metrics()?;
/// let config = voice_agent::config::Config::parse(["voice_agent", "--callers", "0"], |_| None)?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let serving = voice_agent::start(&config, &metrics, &tracing, listener, std::future::pending())?;
/// tokio::spawn(serving);
/// # Ok(()) }
/// ```
///
/// # Errors
/// A listener without an address, an admin address that cannot be bound, a bad
/// `--faults` spec, or what [`service_with`] returns.
pub fn start(
    config: &config::Config,
    metrics: &MetricsHandle,
    tracing: &TracePipeline,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static> {
    use futures_util::FutureExt;
    let addr = listener.local_addr()?;
    let admin_listener = admin::bind(config)?;
    let operator = match &admin_listener {
        Some(admin) => admin.local_addr()?,
        None => addr,
    };
    ::tracing::info!(
        "live page at {} | voice_agent listening on http://{addr} (metrics at http://{operator}/metrics{}, traces at /traces)",
        page_url(operator),
        if config.metrics_token.is_some() { ", bearer token required" } else { "" }
    );
    let base = base_faults(config)?;
    let faults = LiveFaults::new(base.clone());
    let routers = routers_with(config, metrics, tracing, &faults)?;
    let shutdown = shutdown.shared();
    let admin = admin_listener
        .zip(routers.admin)
        .map(|(listener, router)| admin::serve(listener, router, shutdown.clone()));
    let callers = callers::start(callers::media_url(addr), config.callers, 7);
    let story = match config.timeline {
        true => Some(timeline::start(&timeline::STORY, base, faults, config.speed)?),
        false => None,
    };
    let serving = axum::serve(listener, routers.public).with_graceful_shutdown(shutdown);
    Ok(async move {
        serving.await?;
        drop((callers, story));
        if let Some(task) = admin {
            task.await??;
        }
        Ok(())
    })
}

/// The live page's URL for a demo listening on `addr`, as a browser on this machine
/// opens it (an unspecified bind address is reached on loopback).
///
/// ```
/// let addr = "0.0.0.0:3000".parse().unwrap();
/// assert_eq!(voice_agent::page_url(addr), "http://127.0.0.1:3000/live");
/// ```
pub fn page_url(addr: SocketAddr) -> String {
    let media = callers::media_url(addr);
    let host = media.trim_start_matches("ws://").trim_end_matches(media::MEDIA_PATH);
    format!("http://{host}{LIVE_PATH}")
}
