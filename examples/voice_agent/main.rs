//! `cargo run --release -p voxscope-examples --bin voice_agent -- --port 3000`

use voice_agent::{config::Config, telemetry, traced_app};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let traces = telemetry::init_tracing()?;
    let config = Config::from_env_and_args()?;
    let metrics = telemetry::install_metrics()?;
    voice_agent::providers::check_keys(|key| std::env::var(key).ok());
    let app = traced_app(&metrics, &config, traces.pipeline())?;
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
