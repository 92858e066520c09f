//! `[delivery]`: how the embedded engine sends notifications: a bounded queue, a timeout
//! per send, retries with exponential backoff, and an optional push of the alerts to a
//! real Alertmanager.
//!
//! ```
//! let config = voxscope_alert::Config::from_toml("[delivery]\nmax_attempts = 3\n").unwrap();
//! assert_eq!(config.delivery.max_attempts, 3);
//! assert_eq!(config.delivery.queue_capacity, 1024);
//! ```

use serde::Deserialize;

use crate::Error;
use crate::receiver::http_url;

/// `[delivery]` settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// Sends waiting or under way at most; one more is dropped, counted and logged.
    pub queue_capacity: usize,
    /// Limit of one send attempt, seconds.
    pub timeout_seconds: u64,
    /// Attempts of one send, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt, milliseconds; it doubles at each attempt, plus a
    /// random jitter of up to as much again.
    pub backoff_initial_ms: u64,
    /// Longest wait between attempts, seconds; also the most of a receiver's
    /// `Retry-After` that is honoured.
    pub backoff_max_seconds: u64,
    /// Base URL of an Alertmanager the alerts are pushed to (`POST <url>/api/v2/alerts`),
    /// e.g. `http://alertmanager:9093`; empty for none.
    pub alertmanager_url: String,
    /// The PagerDuty Events API v2 endpoint.
    pub pagerduty_url: String,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            queue_capacity: 1024,
            timeout_seconds: 10,
            max_attempts: 5,
            backoff_initial_ms: 500,
            backoff_max_seconds: 60,
            alertmanager_url: String::new(),
            pagerduty_url: "https://events.pagerduty.com/v2/enqueue".to_owned(),
        }
    }
}

/// Checks every `[delivery]` setting.
pub(crate) fn validate(delivery: &Delivery) -> Result<(), Error> {
    let positive = |field: &str, value: u64| {
        if value == 0 {
            Err(Error::invalid(field, value, "must be greater than 0"))
        } else {
            Ok(())
        }
    };
    if !(1..=1_000_000).contains(&delivery.queue_capacity) {
        return Err(Error::invalid(
            "delivery.queue_capacity",
            delivery.queue_capacity,
            "between 1 and 1000000",
        ));
    }
    positive("delivery.timeout_seconds", delivery.timeout_seconds)?;
    if !(1..=20).contains(&delivery.max_attempts) {
        return Err(Error::invalid(
            "delivery.max_attempts",
            delivery.max_attempts,
            "between 1 and 20",
        ));
    }
    positive("delivery.backoff_initial_ms", delivery.backoff_initial_ms)?;
    positive("delivery.backoff_max_seconds", delivery.backoff_max_seconds)?;
    if delivery.backoff_max_seconds.saturating_mul(1000) < delivery.backoff_initial_ms {
        return Err(Error::invalid(
            "delivery.backoff_max_seconds",
            delivery.backoff_max_seconds,
            "must not be shorter than delivery.backoff_initial_ms",
        ));
    }
    if !delivery.alertmanager_url.is_empty() {
        http_url("delivery.alertmanager_url", &delivery.alertmanager_url)?;
    }
    http_url("delivery.pagerduty_url", &delivery.pagerduty_url)?;
    Ok(())
}
