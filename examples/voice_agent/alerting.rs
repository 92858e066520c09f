//! The embedded alerting engine, as the demo runs it: the catalog's rules evaluated
//! every 5 s over the demo's own metrics, notifications to the log (or, with
//! `--notify receivers`, to the alert config's email, Slack, PagerDuty and webhooks),
//! and the alert API on the demo's port: `/api/v1/alerts`, `/api/v1/rules` and the
//! Alertmanager-compatible `/alertmanager/api/v2/...` that `amtool` talks to.

use voxscope::MetricsHandle;
use voxscope::alert::RuleCatalog;
use voxscope::alerting::delivery::Delivery;
use voxscope::alerting::{AlertEngine, Clock, channel};

use crate::config::{Config, Notify};

/// Reads and validates the alert config (or takes the defaults) and starts the engine
/// on the current tokio runtime, its clock running `config.speed` times faster than the
/// wall clock (see [`Clock::scaled`]).
///
/// # Errors
/// An unreadable or invalid alert config, naming the file and the field; an engine
/// that cannot start (an unreadable API token file, a corrupt saved state).
pub fn start(config: &Config, metrics: &MetricsHandle) -> anyhow::Result<AlertEngine> {
    let rules = crate::families::alert_config(config)?;
    let delivery = match config.notify {
        Notify::Log => Delivery::new(
            &rules.delivery,
            channel::log_only(&rules),
            channel::alertmanager_from_config(&rules),
        ),
        Notify::Receivers => Delivery::from_config(&rules),
    };
    let render = metrics.clone();
    let engine = AlertEngine::builder(RuleCatalog::new(rules)?)
        .scrape(move || render.render())
        .instance(config.addr.to_string())
        .clock(Clock::system().scaled(config.speed))
        .delivery(delivery)
        .start()?;
    Ok(engine)
}
