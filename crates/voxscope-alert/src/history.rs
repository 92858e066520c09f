//! The `[history]` section: how the embedded engine keeps its own metrics (every series
//! it scrapes and records), in three tiers, and whether it saves them in the state
//! directory so a restart keeps them.
//!
//! ```
//! let config = voxscope_alert::Config::from_toml("[history]\naggregate_days = 14\n").unwrap();
//! let limits = config.history.storage_limits(config.engine.interval_seconds);
//! assert_eq!(limits.aggregates.retention_ms, 14 * 86_400_000);
//! // Every 5-second scrape of the last hour, both ends, and one spare.
//! assert_eq!(limits.max_raw_samples, 722);
//!
//! let err = voxscope_alert::Config::from_toml("[history]\nraw_minutes = 1\n").unwrap_err();
//! assert!(err.to_string().contains("history.raw_minutes"), "{err}");
//! ```

use serde::Deserialize;

use crate::Error;
use crate::eval::{StepTier, StorageLimits};

/// The tiers of the engine's metric history and its persistence.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct History {
    /// Minutes every sample is kept (at least the 5-minute lookback).
    pub raw_minutes: u64,
    /// Seconds of one aggregate step.
    pub aggregate_step_seconds: u64,
    /// Days of aggregate steps; 0 keeps none.
    pub aggregate_days: u64,
    /// Seconds of one summary step (at least an aggregate step).
    pub summary_step_seconds: u64,
    /// Days of summary steps; 0 keeps none.
    pub summary_days: u64,
    /// The most series kept; samples of further series are rejected and counted.
    pub max_series: usize,
    /// Whether the history is saved in `[engine] state_dir` (when that is set) and
    /// read back at start.
    pub persist: bool,
    /// Seconds between two saves while the engine runs; it also saves at shutdown.
    pub save_interval_seconds: u64,
}

impl Default for History {
    /// Raw samples for an hour, 1-minute steps for 7 days, 1-hour steps for 30 days,
    /// 100 000 series, saved every 5 minutes.
    fn default() -> Self {
        Self {
            raw_minutes: 60,
            aggregate_step_seconds: 60,
            aggregate_days: 7,
            summary_step_seconds: 3_600,
            summary_days: 30,
            max_series: 100_000,
            persist: true,
            save_interval_seconds: 300,
        }
    }
}

const DAY_MS: i64 = 86_400_000;

impl History {
    /// The storage limits of these tiers for an engine scraping every
    /// `scrape_interval_seconds`: the raw tier holds every scrape of its window.
    pub fn storage_limits(&self, scrape_interval_seconds: u64) -> StorageLimits {
        let ms = |seconds: u64| i64::try_from(seconds.saturating_mul(1_000)).unwrap_or(i64::MAX);
        let raw_seconds = self.raw_minutes.saturating_mul(60);
        let per_window = raw_seconds / scrape_interval_seconds.max(1);
        let tier = |step: u64, days: u64| {
            if days == 0 {
                StepTier::OFF
            } else {
                StepTier { step_ms: ms(step), retention_ms: (days as i64).saturating_mul(DAY_MS) }
            }
        };
        StorageLimits {
            max_series: self.max_series,
            raw_ms: ms(raw_seconds),
            max_raw_samples: usize::try_from(per_window + 2).unwrap_or(usize::MAX),
            aggregates: tier(self.aggregate_step_seconds, self.aggregate_days),
            summaries: tier(self.summary_step_seconds, self.summary_days),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let range = |field: &str, value: u64, low: u64, high: u64, what: &str| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(Error::invalid(&format!("history.{field}"), value, what))
            }
        };
        range(
            "raw_minutes",
            self.raw_minutes,
            5,
            1_440,
            "between 5 minutes (the lookback) and 1440 (a day)",
        )?;
        range(
            "aggregate_step_seconds",
            self.aggregate_step_seconds,
            1,
            3_600,
            "between 1 and 3600 seconds",
        )?;
        range("aggregate_days", self.aggregate_days, 0, 366, "between 0 (none) and 366 days")?;
        range(
            "summary_step_seconds",
            self.summary_step_seconds,
            self.aggregate_step_seconds,
            86_400,
            &format!(
                "between the aggregate step ({} s) and 86400 seconds",
                self.aggregate_step_seconds
            ),
        )?;
        range("summary_days", self.summary_days, 0, 366, "between 0 (none) and 366 days")?;
        if self.summary_days != 0 && self.summary_days < self.aggregate_days {
            return Err(Error::invalid(
                "history.summary_days",
                self.summary_days,
                format!("0 (none) or at least aggregate_days ({})", self.aggregate_days),
            ));
        }
        range("max_series", self.max_series as u64, 1, 10_000_000, "between 1 and 10000000")?;
        range(
            "save_interval_seconds",
            self.save_interval_seconds,
            10,
            86_400,
            "between 10 and 86400 seconds",
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn the_defaults_are_the_storage_defaults() {
        let config = Config::default();
        let limits = config.history.storage_limits(config.engine.interval_seconds);
        assert_eq!(limits, crate::eval::StorageLimits::default());
    }

    #[test]
    fn each_bad_setting_is_an_error_naming_it() {
        for (toml, field) in [
            ("raw_minutes = 4", "history.raw_minutes"),
            ("aggregate_step_seconds = 0", "history.aggregate_step_seconds"),
            ("aggregate_days = 400", "history.aggregate_days"),
            ("summary_step_seconds = 30", "history.summary_step_seconds"),
            ("summary_days = 3", "history.summary_days"),
            ("max_series = 0", "history.max_series"),
            ("save_interval_seconds = 1", "history.save_interval_seconds"),
        ] {
            let err = Config::from_toml(&format!("[history]\n{toml}\n")).unwrap_err();
            assert!(err.to_string().contains(field), "{toml}: {err}");
        }
        let off = Config::from_toml("[history]\naggregate_days = 0\nsummary_days = 0\n").unwrap();
        let limits = off.history.storage_limits(5);
        assert!(!limits.aggregates.is_on() && !limits.summaries.is_on());
        assert_eq!(limits.span_ms(), 3_600_000);
    }
}
