//! The `[report]` section: the weekly report's targets and resolution.

use serde::Deserialize;

use crate::Error;

/// Targets of the KPI report (`[report]`); each is overridable.
///
/// ```
/// let config = voxscope_alert::Config::from_toml("[report]\nfallback_rate = 0.08\n").unwrap();
/// assert_eq!(config.report.fallback_rate, 0.08);
/// assert_eq!(config.report.uptime, 0.99);
///
/// let err = voxscope_alert::Config::from_toml("[report]\nuptime = 1.5\n").unwrap_err();
/// assert!(err.to_string().contains("report.uptime"), "{err}");
/// ```
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Targets {
    /// Most settings missing or left as placeholders at any time of the period.
    pub config_warnings: u64,
    /// Highest share of fallback-chain turns that switched to a fallback provider.
    pub fallback_rate: f64,
    /// Highest 95th percentile of text-to-speech time to first byte, seconds.
    pub tts_ttfb_p95_seconds: f64,
    /// Highest share of HTTP responses that are 5xx.
    pub error_rate: f64,
    /// Lowest share of the period's steps at which every scraped target was up.
    pub uptime: f64,
    /// Seconds between the samples uptime and config warnings are read at.
    pub step_seconds: u64,
    /// Seconds each point of a trend chart covers.
    pub trend_step_seconds: u64,
}

impl Default for Targets {
    /// Config warnings 0, fallback rate 5 %, TTS TTFB p95 500 ms, error rate 1 %,
    /// uptime 99 %; uptime read every 5 minutes, trends by the hour.
    fn default() -> Self {
        Self {
            config_warnings: 0,
            fallback_rate: 0.05,
            tts_ttfb_p95_seconds: 0.5,
            error_rate: 0.01,
            uptime: 0.99,
            step_seconds: 300,
            trend_step_seconds: 3_600,
        }
    }
}

impl Targets {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        for (field, value) in [
            ("report.fallback_rate", self.fallback_rate),
            ("report.error_rate", self.error_rate),
            ("report.uptime", self.uptime),
        ] {
            if !(value.is_finite() && value > 0.0 && value < 1.0) {
                return Err(Error::invalid(field, value, "a share between 0 and 1, exclusive"));
            }
        }
        let ttfb = self.tts_ttfb_p95_seconds;
        if !(ttfb.is_finite() && ttfb > 0.0) {
            return Err(Error::invalid(
                "report.tts_ttfb_p95_seconds",
                ttfb,
                "must be a positive number of seconds",
            ));
        }
        for (field, value) in [
            ("report.step_seconds", self.step_seconds),
            ("report.trend_step_seconds", self.trend_step_seconds),
        ] {
            if value == 0 || value > 86_400 {
                return Err(Error::invalid(field, value, "between 1 and 86400 seconds"));
            }
        }
        if self.trend_step_seconds < self.step_seconds {
            return Err(Error::invalid(
                "report.trend_step_seconds",
                self.trend_step_seconds,
                "must be at least report.step_seconds",
            ));
        }
        Ok(())
    }
}
