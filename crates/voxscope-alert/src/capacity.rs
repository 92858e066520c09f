//! `[capacity]`: how many concurrent calls the service takes and how much each provider
//! may use a day, and the linear forecasts that say when the trend runs out of either.
//! The alerts (`CallCapacityForecast`, `ProviderQuotaForecast`), the report's
//! recommendations and the live page read the expressions below, so a rule, a figure
//! and a projection line come from one fit.
//!
//! ```
//! let config = voxscope_alert::Config::from_toml(
//!     "[capacity]\nmax_concurrent_calls = 200\n[capacity.daily_tokens]\nopenai = 2000000\n",
//! )
//! .unwrap();
//! assert_eq!(config.capacity.max_concurrent_calls, 200);
//! assert_eq!(config.capacity.budgets()[0].provider, "openai");
//! ```
//!
//! Usage is a day's worth on a sliding window (`increase(...[1d])`, recorded once per
//! evaluation): daily seasonality cancels out of its trend, so a busy morning does not
//! read as a quota about to run out, while usage that grows day over day does.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Error;
use crate::expr::{Expr, Matcher, Selector, Window, increase, predict_linear, sum_by};
use crate::model::RecordingRule;

/// `[capacity]` settings. Without `max_concurrent_calls` and budgets nothing is
/// forecast.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Capacity {
    /// Concurrent calls the service takes (all instances of the job together); 0
    /// leaves calls out of the forecast.
    pub max_concurrent_calls: u64,
    /// Alert when the trend reaches a limit within this many hours.
    pub horizon_hours: u64,
    /// The trend is the least-squares line through this many minutes of samples.
    pub trend_minutes: u64,
    /// LLM tokens (input and output) each provider may use in 24 hours, by provider.
    pub daily_tokens: BTreeMap<String, u64>,
    /// Text-to-speech characters each provider may synthesise in 24 hours, by provider.
    pub daily_characters: BTreeMap<String, u64>,
    /// The report recommends acting on a budget once the last 24 hours used this share
    /// of it, whatever the trend.
    pub budget_warning_ratio: f64,
}

impl Default for Capacity {
    fn default() -> Self {
        Self {
            max_concurrent_calls: 0,
            horizon_hours: 4,
            trend_minutes: 60,
            daily_tokens: BTreeMap::new(),
            daily_characters: BTreeMap::new(),
            budget_warning_ratio: 0.85,
        }
    }
}

/// What a daily budget counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quota {
    /// LLM tokens, `gen_ai_client_token_usage` summed.
    Tokens,
    /// TTS characters, `voice_tts_characters_total`.
    Characters,
}

impl Quota {
    /// The counter that counts it.
    pub const fn counter(self) -> &'static str {
        match self {
            Quota::Tokens => "gen_ai_client_token_usage_sum",
            Quota::Characters => "voice_tts_characters_total",
        }
    }

    /// The series recording its last 24 hours by provider.
    pub const fn recorded(self) -> &'static str {
        match self {
            Quota::Tokens => "provider:gen_ai_client_token_usage:increase1d",
            Quota::Characters => "provider:voice_tts_characters:increase1d",
        }
    }

    /// `tokens`, `characters`.
    pub const fn unit(self) -> &'static str {
        match self {
            Quota::Tokens => "tokens",
            Quota::Characters => "characters",
        }
    }

    /// The provider kind it meters.
    pub const fn kind(self) -> &'static str {
        match self {
            Quota::Tokens => "llm",
            Quota::Characters => "tts",
        }
    }
}

/// One provider's daily budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The `provider` label value.
    pub provider: String,
    /// What it counts.
    pub quota: Quota,
    /// How many a day.
    pub per_day: u64,
}

/// A day, seconds: the usage window of a daily budget.
const DAY: u64 = 86_400;

impl Capacity {
    /// Every configured budget, tokens first, providers in name order.
    pub fn budgets(&self) -> Vec<Budget> {
        let of = |quota: Quota, map: &BTreeMap<String, u64>| {
            map.iter()
                .map(|(provider, per_day)| Budget {
                    provider: provider.clone(),
                    quota,
                    per_day: *per_day,
                })
                .collect::<Vec<_>>()
        };
        [of(Quota::Tokens, &self.daily_tokens), of(Quota::Characters, &self.daily_characters)]
            .concat()
    }

    /// The horizon, seconds.
    pub fn horizon_seconds(&self) -> u64 {
        self.horizon_hours * 3600
    }

    fn trend(&self) -> Window {
        Window::Fixed(self.trend_minutes * 60)
    }

    /// Concurrent calls of the job `seconds` from now on the trend.
    ///
    /// ```
    /// use voxscope_alert::capacity::Capacity;
    /// use voxscope_alert::expr::{Matcher, Scope};
    /// let scope = Scope::rules(Matcher::eq("job", "voice_agent"), 300);
    /// assert_eq!(
    ///     Capacity::default().calls_ahead(14_400).render(&scope),
    ///     "sum by (job) (predict_linear(voice_calls_active{job=\"voice_agent\"}[1h], 14400))"
    /// );
    /// ```
    pub fn calls_ahead(&self, seconds: u64) -> Expr {
        sum_by(&[], predict_linear(Selector::new(CALLS), self.trend(), seconds))
    }

    /// Concurrent calls of the job now.
    pub fn calls_now() -> Expr {
        sum_by(&[], Expr::vector(Selector::new(CALLS)))
    }

    /// `quota`'s usage over the last 24 hours by provider, as its recording rule
    /// computes it (counter resets handled by `increase`).
    pub fn usage_day(quota: Quota) -> Expr {
        sum_by(&["provider"], increase(Selector::new(quota.counter()), Window::Fixed(DAY)))
    }

    /// `budget`'s provider's usage over 24 hours, `seconds` from now on the trend of its
    /// recorded usage.
    pub fn usage_ahead(&self, budget: &Budget, seconds: u64) -> Expr {
        let recorded =
            Selector::new(budget.quota.recorded()).with(Matcher::eq("provider", &budget.provider));
        predict_linear(recorded, self.trend(), seconds)
    }

    /// The recording rules of the budgets' usage, one per quota in use.
    pub(crate) fn recording_rules(&self, scope: &crate::expr::Scope) -> Vec<RecordingRule> {
        let budgets = self.budgets();
        [Quota::Tokens, Quota::Characters]
            .into_iter()
            .filter(|quota| budgets.iter().any(|b| b.quota == *quota))
            .map(|quota| RecordingRule {
                record: quota.recorded().to_owned(),
                expr: Self::usage_day(quota).render(scope),
                query: Self::usage_day(quota),
                labels: BTreeMap::new(),
            })
            .collect()
    }
}

/// The live calls gauge.
const CALLS: &str = "voice_calls_active";

/// Checks `[capacity]`: a horizon of 1 hour to 7 days, a trend of 5 minutes to a day,
/// budgets of at least one, provider names that are label values.
pub(crate) fn validate(capacity: &Capacity) -> Result<(), Error> {
    if !(1..=24 * 7).contains(&capacity.horizon_hours) {
        return Err(Error::invalid(
            "capacity.horizon_hours",
            capacity.horizon_hours,
            "between 1 and 168",
        ));
    }
    if !(5..=24 * 60).contains(&capacity.trend_minutes) {
        return Err(Error::invalid(
            "capacity.trend_minutes",
            capacity.trend_minutes,
            "between 5 and 1440",
        ));
    }
    let ratio = capacity.budget_warning_ratio;
    if !(ratio.is_finite() && ratio > 0.0 && ratio <= 1.0) {
        return Err(Error::invalid("capacity.budget_warning_ratio", ratio, "a share in (0, 1]"));
    }
    for budget in capacity.budgets() {
        let table = match budget.quota {
            Quota::Tokens => "capacity.daily_tokens",
            Quota::Characters => "capacity.daily_characters",
        };
        let field = format!("{table}.{}", budget.provider);
        let plain = !budget.provider.is_empty()
            && budget.provider.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !plain {
            return Err(Error::invalid(&field, &budget.provider, "a provider name"));
        }
        if budget.per_day == 0 {
            return Err(Error::invalid(&field, 0, "at least 1"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn bad_capacity_settings_are_rejected_with_their_field() {
        for (toml, field) in [
            ("[capacity]\nhorizon_hours = 0\n", "capacity.horizon_hours"),
            ("[capacity]\ntrend_minutes = 2\n", "capacity.trend_minutes"),
            ("[capacity]\nbudget_warning_ratio = 1.5\n", "capacity.budget_warning_ratio"),
            ("[capacity.daily_tokens]\nopenai = 0\n", "capacity.daily_tokens.openai"),
            ("[capacity.daily_characters]\n\"a b\" = 5\n", "capacity.daily_characters.a b"),
        ] {
            let error = Config::from_toml(toml).and_then(|c| c.validate()).unwrap_err();
            assert!(error.to_string().contains(field), "{toml}: {error}");
        }
        assert!(Config::from_toml("[capacity]\nmax_calls = 3\n").is_err());
    }
}
