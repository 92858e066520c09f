//! Metrics an application declares for itself, next to voxscope's built-in catalog.
//!
//! An [`AppCatalog`] lists them with their kind, unit, help, label keys (each with a
//! closed set of values or a cap on distinct values), buckets and threshold alerts. The
//! Prometheus installer gives them their buckets and HELP and folds label values outside
//! the declared sets; the rule catalog turns their thresholds into alerts; the docs list
//! them. Declared in code:
//!
//! ```
//! use voxscope_core::catalog::{AppCatalog, AppMetric, Threshold, Unit};
//!
//! let app = AppCatalog::new()
//!     .metric(
//!         AppMetric::counter("orders_total", "Orders placed, by payment method.")
//!             .label_values("method", ["card", "invoice"])
//!             .label_cap("campaign", 20)
//!             .threshold(Threshold::below("FewOrders", 0.01).severity("critical")),
//!     )
//!     .metric(
//!         AppMetric::histogram("basket_value", "Basket value per order.", &[10.0, 50.0, 100.0])
//!             .unit(Unit::Currency)
//!             .family("shop"),
//!     );
//! app.validate().unwrap();
//! assert_eq!(app.find("orders_total").unwrap().label_keys(), ["method", "campaign"]);
//! ```
//!
//! or in TOML, as `[[metrics]]` of the alerting config (the same fields, deserialized
//! into [`AppMetric`]):
//!
//! ```toml
//! [[metrics]]
//! name = "orders_total"
//! kind = "counter"
//! help = "Orders placed, by payment method."
//! labels = [{ name = "method", values = ["card", "invoice"] }, { name = "campaign", cap = 20 }]
//! thresholds = [{ alert = "FewOrders", below = 0.01, severity = "critical" }]
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{MetricKind, Unit};
use crate::error::{ConfigError, validate_buckets};

/// The family of an application metric that names none.
pub const DEFAULT_FAMILY: &str = "app";

/// One metric of an application: what [`super::MetricDef`] is for voxscope's own.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppMetric {
    /// Prometheus name, in base units; counters end in `_total`.
    pub name: String,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Base unit of the values (default `count`).
    #[serde(default = "default_unit")]
    pub unit: Unit,
    /// The HELP text.
    pub help: String,
    /// The family that switches it on and off (default [`DEFAULT_FAMILY`]).
    #[serde(default = "default_family")]
    pub family: String,
    /// Label keys, each with its allowed values or a cap.
    #[serde(default)]
    pub labels: Vec<AppLabel>,
    /// Bucket upper bounds (histograms only).
    #[serde(default)]
    pub buckets: Vec<f64>,
    /// Threshold alerts on the metric.
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
}

fn default_unit() -> Unit {
    Unit::Count
}

fn default_family() -> String {
    DEFAULT_FAMILY.to_owned()
}

/// One label key of an [`AppMetric`]: a closed set of values, or a cap on how many
/// distinct values it takes. A value outside the set, or past the cap, is folded to
/// `__overflow__` and counted in `voxscope_label_overflow_total{metric}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppLabel {
    /// The label key.
    pub name: String,
    /// The values it may take; empty when it has a cap instead.
    #[serde(default)]
    pub values: Vec<String>,
    /// At most this many distinct values, the first ones seen.
    pub cap: Option<usize>,
}

impl AppLabel {
    /// The most distinct values the label takes, the overflow value aside.
    pub fn max_values(&self) -> usize {
        self.cap.unwrap_or(self.values.len())
    }
}

/// A threshold alert on an application metric: counters compare their per-second rate,
/// gauges their value (max per group), histograms a quantile (`above` only).
///
/// `below` on a counter fires on a rate under the value once the counter has counted
/// anything, a flow that stopped included; a counter still at 0 (no traffic at all
/// since the process started) is idle and stays quiet.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// The alertname (CamelCase).
    pub alert: String,
    /// Fire above this value.
    pub above: Option<f64>,
    /// Fire below this value.
    pub below: Option<f64>,
    /// `info`, `warning`, `critical` or `emergency` (default `warning`).
    #[serde(default = "default_severity")]
    pub severity: String,
    /// Equality matchers on the metric's labels.
    #[serde(default)]
    pub matchers: BTreeMap<String, String>,
    /// Labels to alert on separately.
    #[serde(default)]
    pub by: Vec<String>,
    /// Rate or quantile window, seconds (default 300).
    #[serde(default = "default_seconds")]
    pub window_seconds: u64,
    /// How long the condition must hold, seconds (default 300).
    #[serde(default = "default_seconds")]
    pub for_seconds: u64,
    /// The quantile of a histogram (default 0.95).
    #[serde(default = "default_quantile")]
    pub quantile: f64,
    /// One line for the notification (default: the metric and the threshold).
    #[serde(default)]
    pub summary: String,
}

fn default_severity() -> String {
    "warning".to_owned()
}

fn default_seconds() -> u64 {
    300
}

fn default_quantile() -> f64 {
    0.95
}

impl Threshold {
    fn new(alert: &str, above: Option<f64>, below: Option<f64>) -> Self {
        Self {
            alert: alert.to_owned(),
            above,
            below,
            severity: default_severity(),
            matchers: BTreeMap::new(),
            by: Vec::new(),
            window_seconds: default_seconds(),
            for_seconds: default_seconds(),
            quantile: default_quantile(),
            summary: String::new(),
        }
    }

    /// Fires `alert` while the measure is above `value`.
    pub fn above(alert: &str, value: f64) -> Self {
        Self::new(alert, Some(value), None)
    }

    /// Fires `alert` while the measure is below `value`.
    pub fn below(alert: &str, value: f64) -> Self {
        Self::new(alert, None, Some(value))
    }

    /// Sets the severity: `info`, `warning`, `critical` or `emergency`.
    pub fn severity(mut self, severity: &str) -> Self {
        self.severity = severity.to_owned();
        self
    }

    /// Only the series whose `label` is `value`.
    pub fn matching(mut self, label: &str, value: &str) -> Self {
        self.matchers.insert(label.to_owned(), value.to_owned());
        self
    }

    /// One alert per value of `label`.
    pub fn by(mut self, label: &str) -> Self {
        self.by.push(label.to_owned());
        self
    }

    /// How long the condition must hold.
    pub fn for_seconds(mut self, seconds: u64) -> Self {
        self.for_seconds = seconds;
        self
    }

    /// The rate or quantile window.
    pub fn window_seconds(mut self, seconds: u64) -> Self {
        self.window_seconds = seconds;
        self
    }

    /// The quantile a histogram threshold compares.
    pub fn quantile(mut self, quantile: f64) -> Self {
        self.quantile = quantile;
        self
    }

    /// The notification's one line.
    pub fn summary(mut self, summary: &str) -> Self {
        self.summary = summary.to_owned();
        self
    }
}

impl AppMetric {
    fn new(name: &str, kind: MetricKind, help: &str, buckets: &[f64]) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            unit: Unit::Count,
            help: help.to_owned(),
            family: default_family(),
            labels: Vec::new(),
            buckets: buckets.to_vec(),
            thresholds: Vec::new(),
        }
    }

    /// A counter (its name ends in `_total`).
    pub fn counter(name: &str, help: &str) -> Self {
        Self::new(name, MetricKind::Counter, help, &[])
    }

    /// A gauge.
    pub fn gauge(name: &str, help: &str) -> Self {
        Self::new(name, MetricKind::Gauge, help, &[])
    }

    /// A histogram with its bucket upper bounds.
    pub fn histogram(name: &str, help: &str, buckets: &[f64]) -> Self {
        Self::new(name, MetricKind::Histogram, help, buckets)
    }

    /// Sets the unit (default count).
    pub fn unit(mut self, unit: Unit) -> Self {
        self.unit = unit;
        self
    }

    /// Puts it in `family` (default [`DEFAULT_FAMILY`]).
    pub fn family(mut self, family: &str) -> Self {
        self.family = family.to_owned();
        self
    }

    /// Adds a label key that takes only `values`.
    pub fn label_values<I, S>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values = values.into_iter().map(Into::into).collect();
        self.labels.push(AppLabel { name: key.to_owned(), values, cap: None });
        self
    }

    /// Adds a label key that takes at most `cap` distinct values.
    pub fn label_cap(mut self, key: &str, cap: usize) -> Self {
        self.labels.push(AppLabel { name: key.to_owned(), values: Vec::new(), cap: Some(cap) });
        self
    }

    /// Adds a threshold alert.
    pub fn threshold(mut self, threshold: Threshold) -> Self {
        self.thresholds.push(threshold);
        self
    }

    /// The label keys, in declaration order.
    pub fn label_keys(&self) -> Vec<&str> {
        self.labels.iter().map(|l| l.name.as_str()).collect()
    }

    /// The label declaration of `key`.
    pub fn label(&self, key: &str) -> Option<&AppLabel> {
        self.labels.iter().find(|l| l.name == key)
    }

    /// How many label-value combinations it can have, folded ones included.
    pub fn max_series(&self) -> usize {
        self.labels.iter().fold(1_usize, |n, l| n.saturating_mul(l.max_values() + 1))
    }

    /// Checks the declaration; `field` prefixes the error (`metrics[0]`).
    ///
    /// # Errors
    /// [`ConfigError`] naming the field: a name that is not snake_case or lacks the
    /// counter's `_total`, a built-in name, empty help, bad buckets, a label without
    /// values or cap (or with both), a threshold on an undeclared label.
    pub fn validate(&self, field: &str) -> Result<(), ConfigError> {
        let invalid = |what: &str, value: &str, reason| {
            Err(ConfigError::Invalid {
                field: format!("{field}.{what}"),
                value: value.into(),
                reason,
            })
        };
        if !snake_case(&self.name) {
            return invalid("name", &self.name, "a snake_case Prometheus name");
        }
        if super::find(&self.name).is_some() {
            return invalid("name", &self.name, "already a voxscope metric");
        }
        if (self.kind == MetricKind::Counter) != self.name.ends_with("_total") {
            return invalid("name", &self.name, "counters, and only counters, end in _total");
        }
        if self.help.trim().is_empty() {
            return invalid("help", &self.help, "a non-empty description");
        }
        if !family_name(&self.family) {
            return invalid("family", &self.family, "lower case letters, digits and _");
        }
        if crate::families::BUILT_IN.contains(&self.family.as_str()) {
            return invalid("family", &self.family, "a built-in family");
        }
        match self.kind {
            MetricKind::Histogram => validate_buckets(&format!("{field}.buckets"), &self.buckets)?,
            _ if !self.buckets.is_empty() => {
                return invalid("buckets", &self.name, "only histograms have buckets");
            }
            _ => {}
        }
        for (i, label) in self.labels.iter().enumerate() {
            let at = format!("labels[{i}]");
            if !snake_case(&label.name) || label.name.starts_with("__") {
                return invalid(&at, &label.name, "a Prometheus label name");
            }
            if ["le", "quantile", "job", "instance"].contains(&label.name.as_str())
                || self.labels[..i].iter().any(|l| l.name == label.name)
            {
                return invalid(&at, &label.name, "a label key of its own, once");
            }
            match (label.values.is_empty(), label.cap) {
                (false, None) => {}
                (true, Some(cap)) if cap > 0 => {}
                _ => {
                    return invalid(&at, &label.name, "either values (non-empty) or a cap above 0");
                }
            }
            for (j, value) in label.values.iter().enumerate() {
                if value.is_empty()
                    || value == crate::cardinality::OVERFLOW_LABEL_VALUE
                    || label.values[..j].contains(value)
                {
                    return invalid(&format!("{at}.values"), value, "distinct, non-empty values");
                }
            }
        }
        for (i, t) in self.thresholds.iter().enumerate() {
            let at = format!("thresholds[{i}]");
            for key in t.matchers.keys().chain(&t.by) {
                if self.label(key).is_none() {
                    return invalid(&at, key, "a label key the metric declares");
                }
            }
            for (key, value) in &t.matchers {
                let closed = self.label(key).is_some_and(|l| !l.values.is_empty());
                if closed && !self.label(key).is_some_and(|l| l.values.contains(value)) {
                    return invalid(&format!("{at}.matchers"), value, "a declared value");
                }
            }
        }
        Ok(())
    }
}

fn snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn family_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The metrics an application declares: a runtime catalog beside [`super::ALL`].
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct AppCatalog {
    metrics: Vec<AppMetric>,
}

impl AppCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a metric (checked by [`validate`](Self::validate)).
    pub fn metric(mut self, metric: AppMetric) -> Self {
        self.metrics.push(metric);
        self
    }

    /// Adds every metric of `other`.
    pub fn extend(&mut self, other: &AppCatalog) {
        self.metrics.extend(other.metrics.iter().cloned());
    }

    /// Every declared metric, in declaration order.
    pub fn metrics(&self) -> &[AppMetric] {
        &self.metrics
    }

    /// Whether nothing is declared.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// Looks a metric up by name.
    pub fn find(&self, name: &str) -> Option<&AppMetric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// The families of the declared metrics, each once, in declaration order.
    pub fn families(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for metric in &self.metrics {
            if !out.contains(&metric.family.as_str()) {
                out.push(&metric.family);
            }
        }
        out
    }

    /// Checks every metric, and that no name is declared twice.
    ///
    /// ```
    /// use voxscope_core::catalog::{AppCatalog, AppMetric};
    ///
    /// let twice = AppCatalog::new()
    ///     .metric(AppMetric::gauge("queue_depth", "Waiting jobs."))
    ///     .metric(AppMetric::gauge("queue_depth", "Waiting jobs."));
    /// assert_eq!(
    ///     twice.validate().unwrap_err().to_string(),
    ///     "metrics[1].name: declared twice (got \"queue_depth\")"
    /// );
    /// let counter = AppCatalog::new().metric(AppMetric::counter("orders", "Orders."));
    /// assert!(counter.validate().unwrap_err().to_string().contains("_total"));
    /// ```
    ///
    /// # Errors
    /// The first invalid declaration, as [`AppMetric::validate`] reports it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, metric) in self.metrics.iter().enumerate() {
            let field = format!("metrics[{i}]");
            metric.validate(&field)?;
            if self.metrics[..i].iter().any(|m| m.name == metric.name) {
                return Err(ConfigError::Invalid {
                    field: format!("{field}.name"),
                    value: metric.name.clone(),
                    reason: "declared twice",
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_declarations_match_the_builder() {
        #[derive(Deserialize)]
        struct File {
            metrics: AppCatalog,
        }
        let file: File = toml::from_str(
            r#"
            [[metrics]]
            name = "conversations_total"
            kind = "counter"
            help = "Conversations by status."
            family = "business"
            labels = [{ name = "status", values = ["won", "lost"] }, { name = "segment", cap = 5 }]
            thresholds = [{ alert = "ManyLost", above = 0.5, matchers = { status = "lost" } }]

            [[metrics]]
            name = "satisfaction_score"
            kind = "histogram"
            unit = "score"
            help = "Satisfaction, 1 to 10."
            buckets = [1, 5, 10]
            "#,
        )
        .unwrap();
        let built = AppCatalog::new()
            .metric(
                AppMetric::counter("conversations_total", "Conversations by status.")
                    .family("business")
                    .label_values("status", ["won", "lost"])
                    .label_cap("segment", 5)
                    .threshold(Threshold::above("ManyLost", 0.5).matching("status", "lost")),
            )
            .metric(
                AppMetric::histogram(
                    "satisfaction_score",
                    "Satisfaction, 1 to 10.",
                    &[1.0, 5.0, 10.0],
                )
                .unit(Unit::Score),
            );
        assert_eq!(file.metrics, built);
        built.validate().unwrap();
        assert_eq!(built.families(), ["business", DEFAULT_FAMILY]);
        assert_eq!(built.find("conversations_total").unwrap().max_series(), 3 * 6);
    }

    #[test]
    fn bad_declarations_name_their_field() {
        let cases = [
            (AppMetric::gauge("voice_calls_active", "x"), "metrics[0].name"),
            (AppMetric::gauge("Queue", "x"), "metrics[0].name"),
            (AppMetric::gauge("queue", " "), "metrics[0].help"),
            (AppMetric::gauge("queue", "x").family("http"), "metrics[0].family"),
            (AppMetric::histogram("h", "x", &[2.0, 1.0]), "metrics[0].buckets"),
            (AppMetric::gauge("queue", "x").label_values("a", Vec::<String>::new()), "labels[0]"),
            (AppMetric::gauge("queue", "x").label_cap("a", 0), "labels[0]"),
            (AppMetric::gauge("queue", "x").label_cap("le", 3), "labels[0]"),
            (AppMetric::gauge("queue", "x").label_values("a", ["b", "b"]), "labels[0].values"),
            (
                AppMetric::gauge("queue", "x").threshold(Threshold::above("Q", 1.0).by("tier")),
                "thresholds[0]",
            ),
            (
                AppMetric::gauge("queue", "x")
                    .label_values("tier", ["free"])
                    .threshold(Threshold::above("Q", 1.0).matching("tier", "gold")),
                "thresholds[0].matchers",
            ),
        ];
        for (metric, field) in cases {
            let err = AppCatalog::new().metric(metric.clone()).validate().unwrap_err();
            assert!(err.to_string().contains(field), "{metric:?}: {err}");
        }
    }
}
