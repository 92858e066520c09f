//! `cargo run --release -p voxscope-examples --bin voice_agent -- --bind 127.0.0.1:3000`

use voice_agent::{config::Config, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env_and_args()?;
    let traces = telemetry::init_tracing()?;
    let metrics = telemetry::install_metrics()?;
    let app = voice_agent::service(&config, &metrics, traces.pipeline())?;
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    tracing::info!(
        "voice_agent listening on http://{addr} (metrics at /metrics{}, traces at /traces)",
        if config.metrics_token.is_some() { ", bearer token required" } else { "" }
    );
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    tracing::info!("voice_agent stopped");
    Ok(())
}

async fn shutdown_signal() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
