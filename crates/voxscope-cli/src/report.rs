//! `voxscope report`: the KPI report of a period, read from a Prometheus server or from
//! the metric history an engine saved in its state directory, in Markdown, JSON or HTML.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use voxscope_alert::RuleCatalog;
pub use voxscope_alert::report::Format;
use voxscope_alert::report::ReportSpec;

use crate::prometheus::PrometheusSource;

/// Where the report's samples come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportSource {
    /// A Prometheus server's base URL.
    Prometheus(String),
    /// An engine's `[engine] state_dir`, holding its saved metric history.
    StateDir(PathBuf),
}

/// Where and over what the report reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRequest {
    /// Where the samples come from.
    pub source: ReportSource,
    /// The period's length, seconds.
    pub since_seconds: u64,
    /// The period's end, unix milliseconds; `None` is now.
    pub end_ms: Option<i64>,
}

impl ReportRequest {
    /// The `since_seconds` up to now, from the Prometheus server at `url`.
    pub fn prometheus(url: &str, since_seconds: u64) -> Self {
        Self { source: ReportSource::Prometheus(url.to_owned()), since_seconds, end_ms: None }
    }
}

/// A period as `--since` takes it: `7d`, `36h`, `1w`.
///
/// ```
/// assert_eq!(voxscope_cli::report::parse_since("7d").unwrap(), 604_800);
/// assert!(voxscope_cli::report::parse_since("0s").is_err());
/// ```
///
/// # Errors
/// Not a duration, or zero.
pub fn parse_since(text: &str) -> Result<u64> {
    let seconds = humantime::parse_duration(text)
        .with_context(|| format!("--since {text:?} is not a duration such as 7d or 36h"))?
        .as_secs();
    if seconds == 0 {
        bail!("--since {text:?} must be at least one second");
    }
    Ok(seconds)
}

/// An end time as `--end` takes it: RFC 3339 (`2026-11-29T00:00:00Z`) or unix seconds.
///
/// ```
/// assert_eq!(voxscope_cli::report::parse_end("1700000000").unwrap(), 1_700_000_000_000);
/// assert_eq!(voxscope_cli::report::parse_end("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000_000);
/// ```
///
/// # Errors
/// Neither form.
pub fn parse_end(text: &str) -> Result<i64> {
    if let Ok(seconds) = text.parse::<f64>() {
        return Ok((seconds * 1000.0).round() as i64);
    }
    let time = humantime::parse_rfc3339_weak(text)
        .with_context(|| format!("--end {text:?} is neither RFC 3339 nor unix seconds"))?;
    Ok(time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
}

/// The report of `catalog` that `request` asks for, rendered in `format`. A state
/// directory's history is read with the tiers of the config's `[history]`.
///
/// # Errors
/// The server cannot be reached or refuses a query; the state directory holds no
/// history, or one that cannot be read.
pub fn run(catalog: &RuleCatalog, request: &ReportRequest, format: Format) -> Result<String> {
    let end_ms = request.end_ms.unwrap_or_else(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    });
    let spec = ReportSpec::new(catalog);
    let report = match &request.source {
        ReportSource::Prometheus(url) => {
            let source = PrometheusSource::new(url)?;
            spec.run(&source, end_ms, request.since_seconds)
                .with_context(|| format!("reading the report from {url}"))?
        }
        ReportSource::StateDir(dir) => {
            let config = &catalog.config;
            let limits = config.history.storage_limits(config.engine.interval_seconds);
            let Some(storage) =
                voxscope_alerting::persist::StateDir::new(dir).load_history(&limits)?
            else {
                bail!("{} holds no saved metric history", dir.display());
            };
            spec.run(&storage, end_ms, request.since_seconds)?
        }
    };
    Ok(format.render(&report))
}
