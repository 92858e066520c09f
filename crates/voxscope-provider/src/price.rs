//! [`Price`]: what a provider charges, turning usage into an estimated cost.

use metrics::SharedString;
use voxscope_core::ConfigError;

use crate::usage::Usage;

/// A provider's list prices, from config: each request's [`Usage`] adds its estimated
/// cost to `voice_provider_cost_total{kind,provider,currency}`.
///
/// An estimate: list prices, without discounts, free tiers, minimum billing increments
/// or cached-token rates, so reconcile with the provider's invoice. The counter counts
/// whole currency units (as the `metrics` counters count integers); the fractions are
/// kept and carried, so the total is exact to within one unit.
///
/// ```
/// use voxscope_provider::{Price, ProviderSettings};
///
/// let openai = ProviderSettings::new("openai")
///     .model("gpt-4o-mini")
///     .price(Price::new("USD").tokens(0.15, 0.60)); // per million input, output tokens
/// let deepgram = ProviderSettings::new("deepgram").price(Price::new("USD").audio_minutes(0.0043));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Price {
    currency: SharedString,
    input_per_million: f64,
    output_per_million: f64,
    per_thousand_characters: f64,
    per_audio_minute: f64,
}

impl Price {
    /// Prices in `currency`, an ISO 4217 code such as `USD` or `EUR`; all zero so far.
    pub fn new(currency: impl Into<SharedString>) -> Self {
        Self {
            currency: currency.into(),
            input_per_million: 0.0,
            output_per_million: 0.0,
            per_thousand_characters: 0.0,
            per_audio_minute: 0.0,
        }
    }

    /// LLM: the price of a million input (prompt) tokens and of a million output tokens.
    pub fn tokens(mut self, input_per_million: f64, output_per_million: f64) -> Self {
        self.input_per_million = input_per_million;
        self.output_per_million = output_per_million;
        self
    }

    /// TTS: the price of a thousand characters.
    pub fn characters(mut self, per_thousand: f64) -> Self {
        self.per_thousand_characters = per_thousand;
        self
    }

    /// STT: the price of a minute of audio.
    pub fn audio_minutes(mut self, per_minute: f64) -> Self {
        self.per_audio_minute = per_minute;
        self
    }

    pub(crate) fn currency(&self) -> &SharedString {
        &self.currency
    }

    /// The estimated cost of `usage`.
    pub(crate) fn cost(&self, usage: &Usage) -> f64 {
        usage.input_tokens as f64 / 1e6 * self.input_per_million
            + usage.output_tokens as f64 / 1e6 * self.output_per_million
            + usage.characters as f64 / 1e3 * self.per_thousand_characters
            + usage.audio_seconds / 60.0 * self.per_audio_minute
    }

    pub(crate) fn validate(&self, provider: &str) -> Result<(), ConfigError> {
        let currency = &*self.currency;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ConfigError::Invalid {
                field: format!("{provider}.price.currency"),
                value: currency.chars().take(16).collect(),
                reason: "an ISO 4217 code such as USD",
            });
        }
        for (name, value) in [
            ("tokens.input_per_million", self.input_per_million),
            ("tokens.output_per_million", self.output_per_million),
            ("characters.per_thousand", self.per_thousand_characters),
            ("audio_minutes.per_minute", self.per_audio_minute),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ConfigError::Invalid {
                    field: format!("{provider}.price.{name}"),
                    value: value.to_string(),
                    reason: "a finite price of 0 or more",
                });
            }
        }
        Ok(())
    }
}
