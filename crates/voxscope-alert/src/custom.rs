//! Rules from TOML: overrides of any rule's `for`, severity and labels, or disabling it
//! (`[rules.<AlertName>]`, or `[rules."<AlertName>/<severity>"]` for one variant), and
//! threshold rules on any catalog metric (`[[custom_rules]]`) or application metric
//! (`[[custom_rules]]`, or the `thresholds` of its `[[metrics]]` declaration), validated
//! like the rest.
//!
//! ```
//! let config = voxscope_alert::Config::from_toml(r#"
//!     [rules.HighCPUUsage]
//!     for_seconds = 900
//!     keep_firing_for_seconds = 120
//!     labels = { team = "voice" }
//!     [rules.NegativeSentiment]
//!     disabled = true
//!     [[custom_rules]]
//!     name = "ManyMediaGaps"
//!     metric = "voice_call_media_gaps_total"
//!     by = ["transport"]
//!     above = 2.0
//! "#).unwrap();
//! let catalog = voxscope_alert::RuleCatalog::new(config).unwrap();
//! let cpu = catalog.alerts.iter().find(|a| a.name == "HighCPUUsage").unwrap();
//! assert_eq!((cpu.for_seconds, cpu.labels["team"].as_str()), (900, "voice"));
//! assert_eq!(cpu.keep_firing_for_seconds, 120);
//! assert!(catalog.alerts.iter().all(|a| a.name != "NegativeSentiment"));
//! let gaps = catalog.alerts.iter().find(|a| a.name == "ManyMediaGaps").unwrap();
//! assert!(gaps.expr.starts_with("sum by (job, transport) (rate(voice_call_media_gaps_total"));
//!
//! let err = voxscope_alert::Config::from_toml("[rules.HighCPU]\nfor_seconds = 60").unwrap_err();
//! assert!(err.to_string().starts_with("rules.HighCPU: no rule of that name"));
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use voxscope_core::catalog::{self, MetricKind};

use crate::Error;
use crate::config::{Config, Edge};
use crate::expr::{Expr, Matcher, Scope, Selector, Window, aggregate, quantile, rate, sum_by};
use crate::fixture::{SAMPLES, labels, neighbours, observations_in, selector};
use crate::model::{AlertRule, Category, Fixture, Series, Severity, ValueFormat};
use crate::rules::dash;

/// Changes to one built-in or custom rule.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RuleOverride {
    /// Drop the rule.
    pub disabled: bool,
    /// How long the condition must hold, seconds.
    pub for_seconds: Option<u64>,
    /// How long the alert keeps firing after its condition stopped holding, seconds.
    pub keep_firing_for_seconds: Option<u64>,
    /// `info`, `warning`, `critical` or `emergency`.
    pub severity: Option<String>,
    /// Labels added to the alert (routing, ownership).
    pub labels: BTreeMap<String, String>,
}

/// Which side of the threshold is bad.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Side {
    Above,
    Below,
}

/// A threshold alert on any catalog metric. Counters compare their per-second rate,
/// gauges their value (max per group), histograms a quantile (`above` only, at a bucket
/// bound with one above it). A counter `below` a rate fires once the counter has counted
/// anything: a flow that slowed or stopped pages, a counter still at 0 (no traffic at
/// all since the process started) does not.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    /// The alertname (letters and digits, starting upper case).
    pub name: String,
    /// A catalog metric.
    pub metric: String,
    /// Equality matchers on the metric's labels.
    #[serde(default)]
    pub matchers: BTreeMap<String, String>,
    /// Labels of the metric to alert on separately.
    #[serde(default)]
    pub by: Vec<String>,
    /// Fire above this value.
    pub above: Option<f64>,
    /// Fire below this value.
    pub below: Option<f64>,
    /// Rate or quantile window, seconds.
    #[serde(default = "default_window")]
    pub window_seconds: u64,
    /// The quantile of a histogram.
    #[serde(default = "default_quantile")]
    pub quantile: f64,
    /// How long the condition must hold, seconds.
    #[serde(default = "default_window")]
    pub for_seconds: u64,
    /// `info`, `warning`, `critical` or `emergency`.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// One line for the notification.
    #[serde(default)]
    pub summary: String,
}

fn default_window() -> u64 {
    300
}

fn default_quantile() -> f64 {
    0.95
}

fn default_severity() -> String {
    "warning".to_owned()
}

/// What a threshold rule needs of its metric, a built-in or an application's.
struct Described<'a> {
    name: &'a str,
    kind: MetricKind,
    labels: Vec<&'a str>,
    app: bool,
}

fn describe<'a>(config: &'a Config, metric: &str) -> Option<Described<'a>> {
    if let Some(def) = catalog::find(metric) {
        return Some(Described {
            name: def.name,
            kind: def.kind,
            labels: def.labels.to_vec(),
            app: false,
        });
    }
    let m = config.metrics.find(metric)?;
    Some(Described { name: &m.name, kind: m.kind, labels: m.label_keys(), app: true })
}

/// Every threshold rule of `config` with the field it is reported under:
/// `[[custom_rules]]`, then the thresholds of each `[[metrics]]` declaration.
fn threshold_rules(config: &Config) -> Vec<(String, CustomRule)> {
    let custom = config
        .custom_rules
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("custom_rules[{i}]"), r.clone()));
    let declared = config.metrics.metrics().iter().enumerate().flat_map(|(i, m)| {
        m.thresholds.iter().enumerate().map(move |(j, t)| {
            let rule = CustomRule {
                name: t.alert.clone(),
                metric: m.name.clone(),
                matchers: t.matchers.clone(),
                by: t.by.clone(),
                above: t.above,
                below: t.below,
                window_seconds: t.window_seconds,
                quantile: t.quantile,
                for_seconds: t.for_seconds,
                severity: t.severity.clone(),
                summary: t.summary.clone(),
            };
            (format!("metrics[{i}].thresholds[{j}]"), rule)
        })
    });
    custom.chain(declared).collect()
}

fn severity(field: &str, text: &str) -> Result<Severity, Error> {
    [Severity::Info, Severity::Warning, Severity::Critical, Severity::Emergency]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| Error::invalid(field, text, "one of info, warning, critical, emergency"))
}

fn label_name(field: &str, name: &str) -> Result<(), Error> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid || name.starts_with("__") {
        return Err(Error::invalid(field, name, "a Prometheus label name"));
    }
    if ["alertname", "severity", "category"].contains(&name) {
        return Err(Error::invalid(field, name, "set by voxscope; use another label"));
    }
    Ok(())
}

impl CustomRule {
    fn side(&self, field: &str) -> Result<(Side, f64), Error> {
        match (self.above, self.below) {
            (Some(v), None) if v.is_finite() => Ok((Side::Above, v)),
            (None, Some(v)) if v.is_finite() => Ok((Side::Below, v)),
            _ => Err(Error::invalid(field, &self.name, "set exactly one of above or below")),
        }
    }

    /// Checks the rule against the metric catalog and `config`'s buckets.
    pub(crate) fn validate(&self, config: &Config, field: &str) -> Result<(), Error> {
        let name_ok = self.name.starts_with(|c: char| c.is_ascii_uppercase())
            && self.name.chars().all(|c| c.is_ascii_alphanumeric());
        if !name_ok {
            return Err(Error::invalid(
                &format!("{field}.name"),
                &self.name,
                "a CamelCase alertname",
            ));
        }
        let Some(def) = describe(config, &self.metric) else {
            return Err(Error::invalid(
                &format!("{field}.metric"),
                &self.metric,
                "not a catalog metric",
            ));
        };
        for label in self.matchers.keys().chain(&self.by) {
            if !def.labels.contains(&label.as_str()) {
                let reason = format!("{} has labels {:?}", def.name, def.labels);
                return Err(Error::invalid(&format!("{field}.by"), label, reason));
            }
        }
        let (side, threshold) = self.side(field)?;
        severity(&format!("{field}.severity"), &self.severity)?;
        if self.window_seconds < 60 {
            return Err(Error::invalid(
                &format!("{field}.window_seconds"),
                self.window_seconds,
                "at least 60",
            ));
        }
        match def.kind {
            MetricKind::Counter if threshold < 0.0 || (side == Side::Below && threshold == 0.0) => {
                Err(Error::invalid(field, threshold, "a rate threshold must be positive"))
            }
            MetricKind::Histogram if side == Side::Below => {
                Err(Error::invalid(field, threshold, "histogram rules fire above a quantile"))
            }
            MetricKind::Histogram if !(self.quantile > 0.0 && self.quantile < 1.0) => {
                Err(Error::invalid(&format!("{field}.quantile"), self.quantile, "between 0 and 1"))
            }
            MetricKind::Histogram => {
                config.bound(&format!("{field}.above"), threshold, def.name, Edge::NeedsBoundAbove)
            }
            _ => Ok(()),
        }
    }

    /// The alert, with a fixture that crosses the threshold and one that stays clear.
    pub(crate) fn build(&self, config: &Config, scope: &Scope) -> Option<AlertRule> {
        let def = describe(config, &self.metric)?;
        let (side, threshold) = self.side("").ok()?;
        let by: Vec<&str> = self.by.iter().map(String::as_str).collect();
        let mut metric = Selector::new(def.name);
        for (label, value) in &self.matchers {
            metric = metric.with(Matcher::eq(label, value));
        }
        let counted = metric.clone();
        let window = Window::Fixed(self.window_seconds);
        let mut series_labels: Vec<(&str, &str)> =
            self.matchers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        series_labels.extend(by.iter().map(|b| (*b, "fixture")));
        let grouped = labels(&by.iter().map(|b| (*b, "fixture")).collect::<Vec<_>>());
        let delta = threshold.abs().max(1.0);
        let (measure, fixture, format) = match def.kind {
            MetricKind::Counter => {
                let per_second = |v: f64| {
                    vec![Series::counter(selector(def.name, &series_labels), v * 60.0, SAMPLES)]
                };
                let (bad, good) = match side {
                    Side::Above => (threshold * 2.0, threshold / 2.0),
                    Side::Below => (threshold / 2.0, threshold * 2.0),
                };
                let fixture = Fixture {
                    firing: per_second(bad),
                    quiet: per_second(good),
                    also_quiet: Vec::new(),
                    labels: grouped,
                    value: bad * 60.0 / 60.0,
                };
                (sum_by(&by, rate(metric, window)), fixture, ValueFormat::Plain)
            }
            MetricKind::Gauge => {
                let at =
                    |v: f64| vec![Series::gauge(selector(def.name, &series_labels), v, SAMPLES)];
                let (bad, good) = match side {
                    Side::Above => (threshold + delta, threshold - delta),
                    Side::Below => (threshold - delta, threshold + delta),
                };
                let fixture = Fixture {
                    firing: at(bad),
                    quiet: at(good),
                    also_quiet: Vec::new(),
                    labels: grouped,
                    value: bad,
                };
                (aggregate("max", &by, Expr::vector(metric)), fixture, ValueFormat::Plain)
            }
            MetricKind::Histogram => {
                let bounds = config.buckets_of(def.name);
                let (below, above) = neighbours(bounds, threshold);
                let upper = above.unwrap_or(threshold * 2.0);
                let (firing, value) = observations_in(
                    def.name,
                    &series_labels,
                    Some(threshold),
                    upper,
                    self.quantile,
                );
                let (quiet, _) =
                    observations_in(def.name, &series_labels, below, threshold, self.quantile);
                let fixture =
                    Fixture { firing, quiet, also_quiet: Vec::new(), labels: grouped, value };
                (quantile(self.quantile, &by, metric, window), fixture, ValueFormat::Plain)
            }
        };
        let condition = match (side, def.kind) {
            (Side::Above, _) => measure.clone().gt(threshold),
            // A counter still at 0 has seen no traffic at all: idle, not below. Once it
            // has counted, a rate under the threshold fires, a stopped flow included.
            (Side::Below, MetricKind::Counter) => {
                measure.clone().lt(threshold).and(sum_by(&by, Expr::vector(counted)).gt(0.0))
            }
            (Side::Below, _) => measure.clone().lt(threshold),
        };
        let word = if side == Side::Above { "above" } else { "below" };
        let summary = if self.summary.is_empty() {
            format!("{} is {word} {threshold}", def.name)
        } else {
            self.summary.clone()
        };
        Some(AlertRule {
            name: self.name.clone(),
            expr: condition.render(&scope.with_window(self.window_seconds)),
            condition: condition.bind(self.window_seconds),
            measure,
            for_seconds: self.for_seconds,
            keep_firing_for_seconds: 0,
            severity: severity("", &self.severity).ok()?,
            category: Category::Performance,
            labels: BTreeMap::new(),
            summary,
            description: format!("{} is {} ({word} {threshold}).", def.name, format.template()),
            value_format: format,
            dashboard: if def.app { crate::grafana::BUSINESS } else { dash::SERVICE },
            fixture,
        })
    }
}

/// Checks every override and custom rule of `config` against `alerts`, the rules it
/// builds.
pub(crate) fn validate(config: &Config, alerts: &[AlertRule]) -> Result<(), Error> {
    let rules = threshold_rules(config);
    for (i, (field, rule)) in rules.iter().enumerate() {
        rule.validate(config, field)?;
        let clashes = alerts.iter().any(|a| a.name == rule.name)
            || rules[..i].iter().any(|(_, r)| r.name == rule.name);
        if clashes {
            return Err(Error::invalid(&format!("{field}.name"), &rule.name, "already a rule"));
        }
    }
    for (key, change) in &config.rules {
        let field = format!("rules.{key}");
        let (name, only) = match key.split_once('/') {
            Some((name, sev)) => (name, Some(severity(&field, sev)?)),
            None => (key.as_str(), None),
        };
        if !alerts.iter().any(|a| a.name == name && only.is_none_or(|s| a.severity == s)) {
            return Err(Error::invalid(&field, key, "no rule of that name (and severity)"));
        }
        if let Some(sev) = &change.severity {
            severity(&format!("{field}.severity"), sev)?;
        }
        for label in change.labels.keys() {
            label_name(&format!("{field}.labels"), label)?;
        }
    }
    // Alertmanager tells alerts apart by their labels: two enabled rules of one name
    // left with the same severity and labels (a warning variant raised to critical
    // beside the critical one) would merge into one alert that flaps between them.
    let mut seen = std::collections::HashMap::new();
    for alert in alerts {
        let variant = format!("{}/{}", alert.name, alert.severity);
        let (key, change) = match config.rules.get(&variant) {
            Some(change) => (variant, Some(change)),
            None => (alert.name.clone(), config.rules.get(&alert.name)),
        };
        if change.is_some_and(|c| c.disabled) {
            continue;
        }
        let sev = match change.and_then(|c| c.severity.as_deref()) {
            Some(text) => severity(&format!("rules.{key}.severity"), text)?,
            None => alert.severity,
        };
        let mut labels = alert.labels.clone();
        labels.extend(change.map(|c| c.labels.clone()).unwrap_or_default());
        let raised = change.is_some_and(|c| c.severity.is_some());
        if let Some((earlier, earlier_raised)) =
            seen.insert((alert.name.as_str(), sev, labels), (key.clone(), raised))
        {
            // Name the variant whose severity the config changed.
            let key = if raised || !earlier_raised { key } else { earlier };
            return Err(Error::invalid(
                &format!("rules.{key}.severity"),
                sev.as_str(),
                "another variant of this rule already has that severity and these labels",
            ));
        }
    }
    Ok(())
}

/// `alerts` with `config`'s custom rules added and its overrides applied.
pub(crate) fn apply(config: &Config, scope: &Scope, mut alerts: Vec<AlertRule>) -> Vec<AlertRule> {
    alerts.extend(threshold_rules(config).iter().filter_map(|(_, r)| r.build(config, scope)));
    let change_of = |rule: &AlertRule| {
        let variant = format!("{}/{}", rule.name, rule.severity);
        config.rules.get(&variant).or_else(|| config.rules.get(&rule.name))
    };
    alerts.retain(|rule| !change_of(rule).is_some_and(|c| c.disabled));
    for rule in &mut alerts {
        let Some(change) = change_of(rule).cloned() else { continue };
        if let Some(seconds) = change.for_seconds {
            rule.for_seconds = seconds;
        }
        if let Some(seconds) = change.keep_firing_for_seconds {
            rule.keep_firing_for_seconds = seconds;
        }
        if let Some(sev) = change.severity.as_deref().and_then(|s| severity("", s).ok()) {
            rule.severity = sev;
        }
        rule.labels.extend(change.labels);
    }
    alerts
}
