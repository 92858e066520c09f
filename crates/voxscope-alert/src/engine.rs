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

#[cfg(test)]
mod tests {
    use crate::Config;

    fn error(toml: &str) -> String {
        Config::from_toml(toml).expect_err(toml).to_string()
    }

    #[test]
    fn defaults_are_the_operators_policy() {
        let config = Config::default();
        let steps: Vec<(u64, &str)> = config
            .escalation
            .steps
            .iter()
            .map(|s| (s.after_seconds, s.receiver.as_str()))
            .collect();
        assert_eq!(steps, [(900, "team-lead"), (1_800, "manager"), (3_600, "director")]);
        assert_eq!(config.escalation.severities, ["critical", "emergency"]);
        assert_eq!(config.engine.history_retention_days, 7);
        assert_eq!(config.engine.history_max_entries, 50_000);
        let c = config.cooldowns;
        assert_eq!((c.info, c.warning, c.critical, c.emergency), (14_400, 300, 60, 0));
    }

    #[test]
    fn bad_settings_name_the_field_and_the_value() {
        for (toml, want) in [
            (
                "[engine]\ninterval_seconds = 0",
                "engine.interval_seconds: between 1 and 3600 seconds (got 0)",
            ),
            (
                "[engine]\nhistory_retention_days = 0",
                "engine.history_retention_days: between 1 and 366 days (got 0)",
            ),
            (
                "[engine]\nhistory_max_entries = 0",
                "engine.history_max_entries: between 1 and 10000000 (got 0)",
            ),
            (
                "[escalation]\nseverities = [\"page\"]",
                "escalation.severities[0]: one of info, warning, critical, emergency (got page)",
            ),
            (
                "[[escalation.steps]]\nafter_seconds = 600\nreceiver = \"a\"\n[[escalation.steps]]\nafter_seconds = 600\nreceiver = \"b\"",
                "escalation.steps[1].after_seconds: must be greater than the previous step's (got 600)",
            ),
            (
                "[[escalation.steps]]\nafter_seconds = 0\nreceiver = \"a\"",
                "escalation.steps[0].after_seconds: must be greater than 0 (got 0)",
            ),
            (
                "[[escalation.steps]]\nafter_seconds = 60\nreceiver = \"a b\"",
                "escalation.steps[0].receiver: a receiver name (letters, digits, '-', '_', '.') (got a b)",
            ),
            (
                "[[inhibit_rules]]\nsource_matchers = ['a=\"b\"']\ntarget_matchers = []",
                "inhibit_rules[0].target_matchers: at least one matcher, or it mutes everything (got [])",
            ),
            (
                "[[inhibit_rules]]\nsource_matchers = ['a=b']\ntarget_matchers = ['a=\"b\"']",
                "inhibit_rules[0].source_matchers[0]: expected a double-quoted value without quotes or backslashes inside (got a=b)",
            ),
            (
                "[[inhibit_rules]]\nsource_matchers = []\ntarget_matchers = ['a=\"b\"']\nequal = [\"no-dash\"]",
                "inhibit_rules[0].equal[0]: a label name (got no-dash)",
            ),
            (
                "[cooldowns]\nwarning = 9999999",
                "cooldowns.warning: at most 30 days (2592000 seconds) (got 9999999)",
            ),
        ] {
            assert_eq!(error(toml), want);
        }
        assert!(error("[engine]\nintervall_seconds = 5").contains("unknown field"));
        assert!(error("[cooldowns]\nwarning = -1").contains("invalid"));
    }

    #[test]
    fn steps_and_cooldowns_come_from_toml() {
        let config = Config::from_toml(
            "[cooldowns]\nemergency = 30\n[escalation]\nseverities = [\"emergency\"]\n\
             [receivers.oncall-2]\nemail = [\"second@example.org\"]\n\
             [[escalation.steps]]\nafter_seconds = 300\nreceiver = \"oncall-2\"",
        )
        .unwrap();
        assert_eq!(config.cooldowns.emergency, 30);
        assert!(!config.escalation.escalates("critical"));
        assert_eq!(config.escalation.steps.len(), 1);
        assert_eq!(config.escalation.steps[0].receiver, "oncall-2");
    }
}
