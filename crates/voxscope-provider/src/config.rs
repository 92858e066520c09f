//! Startup checks of required settings (API keys, endpoints, model names).
//!
//! A missing key shows up as `voxscope_config_missing{field} 1`, a gauge: the alert
//! fires even when the warning was logged before Prometheus first scraped the process,
//! which an `increase()` over a counter would miss. Values are never logged, labelled or
//! put on spans: only the field name is.

use std::fmt;

use voxscope_core::catalog::{VOXSCOPE_CONFIG_MISSING, VOXSCOPE_CONFIG_WARNINGS_TOTAL};

/// Values that people leave in config files instead of a real setting; compared
/// case-insensitively after trimming.
pub const DEFAULT_PLACEHOLDERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "todo",
    "xxx",
    "xxxx",
    "your-api-key",
    "your_api_key",
    "<api-key>",
    "none",
    "null",
];

/// Checks required settings with the defaults (placeholders of
/// [`DEFAULT_PLACEHOLDERS`], no minimum length beyond non-empty); see [`ConfigCheck`].
///
/// ```
/// let report = voxscope_provider::check_config([
///     ("DEEPGRAM_API_KEY", Some("changeme")),
///     ("OPENAI_MODEL", Some("gpt-4o-mini")),
/// ]);
/// assert_eq!(report.missing().len(), 1);
/// assert_eq!(report.missing()[0].field, "DEEPGRAM_API_KEY");
/// ```
pub fn check_config<'a>(
    fields: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> ConfigReport {
    let mut check = ConfigCheck::new();
    for (field, value) in fields {
        check = check.require(field, value);
    }
    check.run()
}

/// Required settings to verify once, at startup.
///
/// ```
/// use voxscope_provider::ConfigCheck;
///
/// let report = ConfigCheck::new()
///     .min_len(16)
///     .require_env("VOXSCOPE_DOC_EXAMPLE_STT_KEY")
///     .require("tts.voice", Some("alloy"))
///     .run();
/// assert!(!report.is_complete()); // the variable is not set in this doctest
/// ```
#[derive(Clone, Debug)]
pub struct ConfigCheck {
    min_len: usize,
    placeholders: Vec<String>,
    fields: Vec<(String, Option<String>, usize)>,
}

impl Default for ConfigCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigCheck {
    /// No fields yet, the default placeholders, and a minimum length of 1.
    pub fn new() -> Self {
        Self {
            min_len: 1,
            placeholders: DEFAULT_PLACEHOLDERS.iter().map(|p| (*p).to_owned()).collect(),
            fields: Vec::new(),
        }
    }

    /// Values shorter than `min_len` characters (after trimming) count as missing: a
    /// truncated key is as useless as none, and fails only at the first call.
    /// Applies to the fields required after this call.
    pub fn min_len(mut self, min_len: usize) -> Self {
        self.min_len = min_len.max(1);
        self
    }

    /// One more value that counts as a placeholder.
    pub fn placeholder(mut self, value: impl Into<String>) -> Self {
        self.placeholders.push(value.into().trim().to_ascii_lowercase());
        self
    }

    /// Requires `field` to have a real value; `None` means absent.
    pub fn require(mut self, field: impl Into<String>, value: Option<&str>) -> Self {
        self.fields.push((field.into(), value.map(str::to_owned), self.min_len));
        self
    }

    /// Requires the environment variable `name`.
    pub fn require_env(self, name: &str) -> Self {
        let value = std::env::var(name).ok();
        self.require(name, value.as_deref())
    }

    /// Checks every field: logs `[Config] NAME is not set` once per missing field, sets
    /// `voxscope_config_missing{field}` to 1 for it (0 for a present one) and counts
    /// `voxscope_config_warnings_total{field}` (published at 0 for a present one).
    pub fn run(self) -> ConfigReport {
        let mut missing = Vec::new();
        for (field, value, min_len) in &self.fields {
            let reason = self.verdict(value.as_deref(), *min_len);
            let gauge = metrics::gauge!(VOXSCOPE_CONFIG_MISSING.name, "field" => field.clone());
            // Every known field's counter exists, at 0 while it is fine: `rate()` and
            // `increase()` then count a field's first warning too.
            let warnings =
                metrics::counter!(VOXSCOPE_CONFIG_WARNINGS_TOTAL.name, "field" => field.clone());
            let Some(reason) = reason else {
                gauge.set(0.0);
                warnings.increment(0);
                continue;
            };
            gauge.set(1.0);
            warnings.increment(1);
            match reason {
                MissingReason::Absent => tracing::warn!("[Config] {field} is not set"),
                other => tracing::warn!("[Config] {field} is not set ({other})"),
            }
            missing.push(MissingSetting { field: field.clone(), reason });
        }
        ConfigReport { missing }
    }

    fn verdict(&self, value: Option<&str>, min_len: usize) -> Option<MissingReason> {
        let value = match value.map(str::trim) {
            None | Some("") => return Some(MissingReason::Absent),
            Some(value) => value,
        };
        let lower = value.to_ascii_lowercase();
        if self.placeholders.contains(&lower) {
            return Some(MissingReason::Placeholder);
        }
        let len = value.chars().count();
        (len < min_len).then_some(MissingReason::TooShort { min_len })
    }
}

/// Why a setting counts as missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingReason {
    /// Not set, or empty.
    Absent,
    /// A known placeholder such as `changeme`.
    Placeholder,
    /// Shorter than the configured minimum.
    TooShort {
        /// The minimum, in characters.
        min_len: usize,
    },
}

impl fmt::Display for MissingReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissingReason::Absent => f.write_str("absent"),
            MissingReason::Placeholder => f.write_str("placeholder value"),
            MissingReason::TooShort { min_len } => write!(f, "shorter than {min_len} characters"),
        }
    }
}

/// One missing setting: its name and why, never its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingSetting {
    /// The field or environment variable.
    pub field: String,
    /// Why it counts as missing.
    pub reason: MissingReason,
}

/// What [`ConfigCheck::run`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigReport {
    missing: Vec<MissingSetting>,
}

impl ConfigReport {
    /// The missing settings, in the order they were required.
    pub fn missing(&self) -> &[MissingSetting] {
        &self.missing
    }

    /// Whether every required setting is present.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_short_values_count_as_missing() {
        let check = ConfigCheck::new();
        assert_eq!(check.verdict(None, 8), Some(MissingReason::Absent));
        assert_eq!(check.verdict(Some("  "), 8), Some(MissingReason::Absent));
        assert_eq!(check.verdict(Some("ChangeMe"), 8), Some(MissingReason::Placeholder));
        assert_eq!(check.verdict(Some("abc"), 8), Some(MissingReason::TooShort { min_len: 8 }));
        assert_eq!(check.verdict(Some("sk-live-0123456789"), 8), None);
    }
}
