//! Settings of the embedded alerting engine: its evaluation interval, where it keeps
//! its state and how much history (`[engine]`), and who is paged when nobody
//! acknowledges an alert (`[escalation]`).
//!
//! ```
//! let config = voxscope_alert::Config::from_toml("[engine]\nstate_dir = \"/var/lib/voxscope\"")
//!     .unwrap();
//! assert_eq!(config.engine.interval_seconds, 5);
//! assert_eq!(config.escalation.steps[0].receiver, "team-lead");
//! ```

use serde::Deserialize;

use crate::{Error, Severity};

/// The embedded engine (`[engine]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Engine {
    /// Seconds between two evaluations of the rules.
    pub interval_seconds: u64,
    /// Directory the active alerts, acknowledgements, silences and history are kept
    /// in across restarts; empty keeps nothing.
    pub state_dir: String,
    /// Days the history keeps an entry.
    pub history_retention_days: u64,
    /// Entries the history keeps at most; the oldest go first.
    pub history_max_entries: usize,
}

impl Default for Engine {
    fn default() -> Self {
        Self {
            interval_seconds: 5,
            state_dir: String::new(),
            history_retention_days: 7,
            history_max_entries: 50_000,
        }
    }
}

impl Engine {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.interval_seconds == 0 || self.interval_seconds > 3_600 {
            return Err(Error::invalid(
                "engine.interval_seconds",
                self.interval_seconds,
                "between 1 and 3600 seconds",
            ));
        }
        if self.history_retention_days == 0 || self.history_retention_days > 366 {
            return Err(Error::invalid(
                "engine.history_retention_days",
                self.history_retention_days,
                "between 1 and 366 days",
            ));
        }
        if self.history_max_entries == 0 || self.history_max_entries > 10_000_000 {
            return Err(Error::invalid(
                "engine.history_max_entries",
                self.history_max_entries,
                "between 1 and 10000000",
            ));
        }
        if self.state_dir.contains('\0') {
            return Err(Error::invalid("engine.state_dir", &self.state_dir, "a path"));
        }
        Ok(())
    }
}

/// One escalation step: who is paged when an alert still fires unacknowledged
/// `after_seconds` after it started firing.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    /// Seconds since the alert started firing.
    pub after_seconds: u64,
    /// The receiver paged.
    pub receiver: String,
}

/// Escalation of unacknowledged alerts (`[escalation]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Escalation {
    /// Severities that escalate, as their label values.
    pub severities: Vec<String>,
    /// Steps in order of `after_seconds`, each fired once.
    pub steps: Vec<EscalationStep>,
}

impl Default for Escalation {
    fn default() -> Self {
        let step = |after_seconds, receiver: &str| EscalationStep {
            after_seconds,
            receiver: receiver.to_owned(),
        };
        Self {
            severities: vec!["critical".to_owned(), "emergency".to_owned()],
            steps: vec![step(900, "team-lead"), step(1_800, "manager"), step(3_600, "director")],
        }
    }
}

impl Escalation {
    /// Whether alerts of `severity` (a `severity` label value) escalate.
    ///
    /// ```
    /// let escalation = voxscope_alert::engine::Escalation::default();
    /// assert!(escalation.escalates("critical"));
    /// assert!(!escalation.escalates("warning"));
    /// ```
    pub fn escalates(&self, severity: &str) -> bool {
        self.severities.iter().any(|s| s == severity)
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        const KNOWN: [Severity; 4] =
            [Severity::Info, Severity::Warning, Severity::Critical, Severity::Emergency];
        for (i, severity) in self.severities.iter().enumerate() {
            if !KNOWN.iter().any(|k| k.as_str() == severity) {
                return Err(Error::invalid(
                    &format!("escalation.severities[{i}]"),
                    severity,
                    "one of info, warning, critical, emergency",
                ));
            }
        }
        let mut previous = 0;
        for (i, step) in self.steps.iter().enumerate() {
            if step.after_seconds <= previous {
                let reason = if i == 0 {
                    "must be greater than 0"
                } else {
                    "must be greater than the previous step's"
                };
                return Err(Error::invalid(
                    &format!("escalation.steps[{i}].after_seconds"),
                    step.after_seconds,
                    reason,
                ));
            }
            previous = step.after_seconds;
            let name_ok = !step.receiver.is_empty()
                && step.receiver.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !name_ok {
                return Err(Error::invalid(
                    &format!("escalation.steps[{i}].receiver"),
                    &step.receiver,
                    "a receiver name (letters, digits, '-', '_', '.')",
                ));
            }
        }
        Ok(())
    }
}
