//! What the demo's calls are worth: its own metrics, declared in an
//! [`AppCatalog`] beside voxscope's, and recorded when each media-stream call ends.
//!
//! | metric | labels |
//! |---|---|
//! | `conversations_total` | `status` (completed, abandoned, failed), `tier` (free, pro, enterprise, unknown) |
//! | `conversions_total` | `category` (plans, devices, accessories) |
//! | `satisfaction_score` (1–10) | `tier` |
//! | `business_parameters_rejected_total` | `parameter` (satisfaction, converted) |
//!
//! What a caller is comes from the `customParameters` of Twilio's `start` message (the
//! `<Parameter>`s of its `<Stream>`): `tier`, `category`, `converted` (`true` when the
//! caller bought) and `satisfaction` (a post-call rating, 1 to 10). A tier or category
//! outside its set is folded to `__overflow__` by the recorder and counted in
//! `voxscope_label_overflow_total`; a rating or flag that does not parse is logged and
//! counted in `business_parameters_rejected_total`. The simulated callers send a profile
//! drawn from their call id ([`Profile::of`]).
//!
//! A conversation is `completed` when the caller sent `stop`, `failed` when the agent
//! could not answer, and `abandoned` when the line went away without `stop`.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use voxscope::catalog::{AppCatalog, AppMetric, Threshold, Unit};

/// Conversations by how they ended and the caller's tier.
pub const CONVERSATIONS: &str = "conversations_total";
/// Sales, by product category.
pub const CONVERSIONS: &str = "conversions_total";
/// Post-call satisfaction ratings, 1 to 10, by tier.
pub const SATISFACTION: &str = "satisfaction_score";
/// Caller parameters that did not parse.
pub const REJECTED: &str = "business_parameters_rejected_total";

/// The customer tiers; `unknown` for a caller that names none.
pub const TIERS: [&str; 4] = ["free", "pro", "enterprise", "unknown"];
/// The product categories.
pub const CATEGORIES: [&str; 3] = ["plans", "devices", "accessories"];
/// The family that switches the demo's business metrics on and off.
pub const FAMILY: &str = "business";

/// The demo's business metrics, as the installer, the rules and the dashboards see them.
///
/// ```
/// let catalog = voice_agent::business::catalog();
/// catalog.validate().unwrap();
/// assert_eq!(catalog.families(), ["business"]);
/// ```
pub fn catalog() -> AppCatalog {
    AppCatalog::new()
        .metric(
            AppMetric::counter(
                CONVERSATIONS,
                "Conversations, by how they ended and the caller's tier.",
            )
            .family(FAMILY)
            .label_values("status", ["completed", "abandoned", "failed"])
            .label_values("tier", TIERS)
            .threshold(
                Threshold::above("ManyAbandonedConversations", 0.05)
                    .matching("status", "abandoned")
                    .summary(
                        "More than 3 conversations a minute end without the caller saying goodbye",
                    ),
            ),
        )
        .metric(
            AppMetric::counter(CONVERSIONS, "Sales closed on a call, by product category.")
                .family(FAMILY)
                .label_values("category", CATEGORIES),
        )
        .metric(
            AppMetric::histogram(
                SATISFACTION,
                "Post-call satisfaction ratings, 1 to 10, by the caller's tier.",
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
            )
            .unit(Unit::Score)
            .family(FAMILY)
            .label_values("tier", TIERS),
        )
        .metric(
            AppMetric::counter(REJECTED, "Caller parameters that did not parse, by parameter.")
                .family(FAMILY)
                .label_values("parameter", ["satisfaction", "converted"]),
        )
}

/// What a simulated caller tells the agent about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// One of [`TIERS`] but `unknown`.
    pub tier: &'static str,
    /// One of [`CATEGORIES`].
    pub category: &'static str,
    /// Whether the caller buys (one call in four).
    pub converted: bool,
    /// The caller's rating, 1 to 10.
    pub satisfaction: u8,
}

impl Profile {
    /// The profile of the simulated call `sid`, the same every time.
    ///
    /// ```
    /// use voice_agent::business::Profile;
    /// assert_eq!(Profile::of("CAsim1"), Profile::of("CAsim1"));
    /// assert!((1..=10).contains(&Profile::of("CAsim2").satisfaction));
    /// ```
    pub fn of(sid: &str) -> Self {
        let mut hasher = DefaultHasher::new();
        sid.hash(&mut hasher);
        let h = hasher.finish();
        Self {
            tier: TIERS[(h % 3) as usize],
            category: CATEGORIES[(h / 3 % 3) as usize],
            converted: (h / 9).is_multiple_of(4),
            satisfaction: (h / 36 % 10) as u8 + 1,
        }
    }

    /// Its Twilio `customParameters` object.
    pub fn custom_parameters(&self) -> serde_json::Value {
        serde_json::json!({
            "tier": self.tier,
            "category": self.category,
            "converted": self.converted.to_string(),
            "satisfaction": self.satisfaction.to_string(),
        })
    }
}

/// One call's conversation: recorded once, when dropped (however the call ended).
#[derive(Debug, Default)]
pub struct Conversation {
    parameters: HashMap<String, String>,
    status: Option<&'static str>,
}

impl Conversation {
    /// Takes the caller's `customParameters` from Twilio's `start` message.
    pub fn started(&mut self, parameters: HashMap<String, String>) {
        self.parameters = parameters;
    }

    /// The caller sent `stop`.
    pub fn completed(&mut self) {
        self.status.get_or_insert("completed");
    }

    /// The agent could not answer.
    pub fn failed(&mut self) {
        self.status.get_or_insert("failed");
    }

    fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.get(name).map(String::as_str)
    }

    fn rejected(&self, parameter: &'static str, value: &str) {
        tracing::warn!(parameter, value, "a caller parameter that does not parse is left out");
        metrics::counter!(REJECTED, "parameter" => parameter).increment(1);
    }
}

impl Drop for Conversation {
    fn drop(&mut self) {
        let status = self.status.unwrap_or("abandoned");
        let tier = self.parameter("tier").unwrap_or("unknown").to_owned();
        metrics::counter!(CONVERSATIONS, "status" => status, "tier" => tier.clone()).increment(1);
        if status != "completed" {
            return;
        }
        match self.parameter("converted") {
            None | Some("false") => {}
            Some("true") => {
                let category = self.parameter("category").unwrap_or_default().to_owned();
                metrics::counter!(CONVERSIONS, "category" => category).increment(1);
            }
            Some(other) => self.rejected("converted", other),
        }
        if let Some(text) = self.parameter("satisfaction") {
            match text.parse::<u8>() {
                Ok(rating @ 1..=10) => {
                    metrics::histogram!(SATISFACTION, "tier" => tier).record(f64::from(rating));
                }
                _ => self.rejected("satisfaction", text),
            }
        }
    }
}
