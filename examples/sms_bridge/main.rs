//! `cargo run --release -p voxscope-examples --bin sms_bridge -- --config voxscope.toml --bind 0.0.0.0:9099`
//!
//! The webhook-to-SMS bridge of deploy/: Alertmanager posts critical and emergency
//! notifications to `/alertmanager`, and each is texted through Twilio to the numbers
//! of the config's `[sms]` (auth token from `VOXSCOPE_TWILIO_AUTH_TOKEN` or
//! `auth_token_file`), with the `[delivery]` retries.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Arg, Command, value_parser};
use voxscope::alert::Config;
use voxscope::alerting::sms_bridge;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let args = Command::new("sms_bridge")
        .about("Texts Alertmanager's webhook notifications through Twilio")
        .arg(
            Arg::new("config")
                .long("config")
                .required(true)
                .value_name("FILE")
                .value_parser(value_parser!(PathBuf))
                .help("voxscope TOML config with the [sms] section"),
        )
        .arg(
            Arg::new("bind")
                .long("bind")
                .default_value("127.0.0.1:9099")
                .value_parser(value_parser!(SocketAddr))
                .help("Address to listen on"),
        )
        .get_matches();
    let path = args.get_one::<PathBuf>("config").context("--config")?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    let config = Config::from_toml(&text).with_context(|| format!("in {}", path.display()))?;
    if !config.sms.enabled() {
        bail!("{}: [sms] to lists no number: nothing to text", path.display());
    }
    let delivery = sms_bridge::delivery(&config);
    let addr = *args.get_one::<SocketAddr>("bind").context("--bind")?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(
        "sms_bridge listening on http://{}{} for {} numbers",
        listener.local_addr()?,
        sms_bridge::PATH,
        config.sms.to.len()
    );
    axum::serve(listener, sms_bridge::router(delivery.clone()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    let abandoned = delivery.shutdown(Duration::from_secs(10)).await;
    tracing::info!(abandoned, "sms_bridge stopped");
    Ok(())
}
