//! `cargo run --release -p voxscope-examples --bin voice_agent -- --bind 127.0.0.1:3000`

use voice_agent::{config::Config, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env_and_args()?;
    let traces = telemetry::init_tracing(config.instrumentation)?;
    let metrics = voice_agent::families::installer(&config)?.install()?;
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    voice_agent::run(&config, &metrics, traces.pipeline(), listener, shutdown_signal()).await?;
    tracing::info!("voice_agent stopped");
    Ok(())
}

async fn shutdown_signal() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
