//! Which metric families the demo records: the `enabled_metrics` of its alert config
//! (`--alert-config`, or `VOXSCOPE_ALERT_CONFIG`), which may name the demo's own
//! `business` family beside voxscope's. One setting drives both halves: the recorder
//! [`installer`] leaves a disabled family's series out of `/metrics`, and the rules the
//! embedded engine runs ([`alert_config`]) leave out what reads it.
//!
//! ```toml
//! enabled_metrics = ["http", "calls", "providers"]   # no business metrics
//! ```

use anyhow::Context;
use voxscope::PrometheusInstaller;
use voxscope::alert::Config as AlertConfig;

use crate::config::Config;

/// The alert config the demo runs: the file's (or the defaults), with the demo's
/// business metrics declared unless the file declares them itself, then validated, so
/// its `enabled_metrics` may name `business`.
///
/// ```
/// let config = voice_agent::config::Config::parse(["voice_agent"], |_| None).unwrap();
/// let alerts = voice_agent::families::alert_config(&config).unwrap();
/// assert!(alerts.metrics.find("conversations_total").is_some());
/// assert!(alerts.families().is_enabled("business"));
/// ```
///
/// # Errors
/// An unreadable or invalid file, naming it and the field.
pub fn alert_config(config: &Config) -> anyhow::Result<AlertConfig> {
    let (mut alerts, source) = match &config.alert_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("alert config {}", path.display()))?;
            let parsed: AlertConfig =
                toml::from_str(&text)
                    .map_err(voxscope::alert::Error::from)
                    .with_context(|| format!("alert config {}", path.display()))?;
            (parsed, path.display().to_string())
        }
        None => (AlertConfig::default(), "built-in".to_owned()),
    };
    for metric in crate::business::catalog().metrics() {
        // The config may declare them too, with its own thresholds.
        if alerts.metrics.find(&metric.name).is_none() {
            alerts.metrics = alerts.metrics.clone().metric(metric.clone());
        }
    }
    alerts.validate().with_context(|| format!("alert config {source}"))?;
    Ok(alerts)
}

/// The demo's recorder (see [`crate::telemetry::installer`]) with only the families of
/// its alert config's `enabled_metrics` on.
///
/// ```
/// let config = voice_agent::config::Config::parse(["voice_agent"], |_| None).unwrap();
/// let (_recorder, handle) = voice_agent::families::installer(&config).unwrap().build().unwrap();
/// # drop(handle);
/// ```
///
/// # Errors
/// As [`alert_config`].
pub fn installer(config: &Config) -> anyhow::Result<PrometheusInstaller> {
    let families = alert_config(config)?.families();
    Ok(crate::telemetry::installer().families(families))
}
