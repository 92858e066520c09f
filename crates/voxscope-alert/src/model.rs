//! The typed vocabulary of the rule catalog: severities, categories, alerting and
//! recording rules, and the synthetic series that prove each alert.

use std::collections::BTreeMap;
use std::fmt;

use crate::expr::Expr;

/// How urgent an alert is; Alertmanager routes on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A heartbeat for dead-man's-switch receivers: always firing, never a problem.
    None,
    /// Worth knowing; no action expected.
    Info,
    /// Needs attention in working hours (an SLO "ticket").
    Warning,
    /// Needs someone now (an SLO "page").
    Critical,
    /// Customer-visible outage in progress.
    Emergency,
}

impl Severity {
    /// The `severity` label value.
    ///
    /// ```
    /// assert_eq!(voxscope_alert::Severity::Critical.as_str(), "critical");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
            Severity::Emergency => "emergency",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an alert is about; Alertmanager groups and routes on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Latency and throughput.
    Performance,
    /// What callers hear and feel: audio quality, sentiment.
    Quality,
    /// Failures of calls, requests and providers.
    Errors,
    /// CPU, memory, capacity.
    Resources,
    /// Up/down and SLO error budgets.
    Availability,
    /// Missing or invalid settings.
    Config,
}

impl Category {
    /// The `category` label value.
    ///
    /// ```
    /// assert_eq!(voxscope_alert::Category::Config.as_str(), "config");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Performance => "performance",
            Category::Quality => "quality",
            Category::Errors => "errors",
            Category::Resources => "resources",
            Category::Availability => "availability",
            Category::Config => "config",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an alert's description shows `$value`; the promtool tests render the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueFormat {
    /// A 0..1 share, as `humanizePercentage`.
    Percent,
    /// Seconds, as `humanizeDuration`.
    Duration,
    /// Bytes, as `humanize1024`.
    Bytes,
    /// A plain number, as `humanize`.
    Plain,
    /// A score with two decimals (`printf "%.2f"`), where SI prefixes would confuse.
    Score,
    /// The alert's text does not show its value.
    Hidden,
}

impl ValueFormat {
    /// The Go template that renders `$value`, or "" for [`ValueFormat::Hidden`].
    ///
    /// ```
    /// use voxscope_alert::ValueFormat;
    /// assert_eq!(ValueFormat::Percent.template(), "{{ $value | humanizePercentage }}");
    /// ```
    pub const fn template(self) -> &'static str {
        match self {
            ValueFormat::Percent => "{{ $value | humanizePercentage }}",
            ValueFormat::Duration => "{{ $value | humanizeDuration }}",
            ValueFormat::Bytes => "{{ $value | humanize1024 }}",
            ValueFormat::Plain => "{{ $value | humanize }}",
            ValueFormat::Score => "{{ $value | printf \"%.2f\" }}",
            ValueFormat::Hidden => "",
        }
    }
}

/// One input series of a promtool unit test, in promtool's expanding notation.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The series selector, e.g. `voice_calls_total{outcome="failed"}`.
    pub series: String,
    /// Values, e.g. `0+10x30`.
    pub values: String,
}

impl Series {
    /// A counter growing by `per_minute` every sample (samples are one minute apart).
    ///
    /// ```
    /// let s = voxscope_alert::Series::counter("x_total", 2.5, 10);
    /// assert_eq!(s.values, "0+2.5x10");
    /// ```
    pub fn counter(series: impl Into<String>, per_minute: f64, samples: u32) -> Self {
        Self { series: series.into(), values: format!("0+{per_minute}x{samples}") }
    }

    /// A gauge that holds `value`.
    ///
    /// ```
    /// let s = voxscope_alert::Series::gauge("up", 0.0, 5);
    /// assert_eq!(s.values, "0+0x5");
    /// ```
    pub fn gauge(series: impl Into<String>, value: f64, samples: u32) -> Self {
        Self { series: series.into(), values: format!("{value}+0x{samples}") }
    }
}

/// Synthetic series that prove an alert: `firing` crosses the threshold and must fire
/// after `for`, `quiet` stays on the good side of every rule of the alert's family.
#[derive(Clone, Debug, PartialEq)]
pub struct Fixture {
    /// Series over the threshold.
    pub firing: Vec<Series>,
    /// Series under the family's lowest threshold.
    pub quiet: Vec<Series>,
    /// Further named cases that must stay quiet, e.g. a single event or a volume under
    /// the minimum of events (idle, other-job and Prometheus 3 `le` cases are derived).
    pub also_quiet: Vec<(String, Vec<Series>)>,
    /// Labels the firing alert carries from its expression.
    pub labels: BTreeMap<String, String>,
    /// The alert's `$value` under `firing`.
    pub value: f64,
}

impl Fixture {
    /// No series at all: the alert is proven elsewhere, not by a generated unit test
    /// (the anomaly alerts need a day of history; a heartbeat needs no series).
    pub fn is_empty(&self) -> bool {
        self.firing.is_empty() && self.quiet.is_empty() && self.also_quiet.is_empty()
    }
}

/// An alerting rule with everything every output needs.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRule {
    /// The alertname; warning and critical variants share it.
    pub name: String,
    /// The PromQL condition, rendered in the job scope.
    pub expr: String,
    /// The same condition as typed data, its free windows bound to the rule's window and
    /// without the job scope: [`crate::eval`] evaluates it, adding the scope itself.
    pub condition: Expr,
    /// What the condition compares, unscoped: the panel that shows this alert's value
    /// renders it with the dashboard's scope.
    pub measure: Expr,
    /// How long the condition must hold, in seconds.
    pub for_seconds: u64,
    /// How long the alert keeps firing after its condition stopped holding, in seconds
    /// (Prometheus's `keep_firing_for`; 0: it resolves at once).
    pub keep_firing_for_seconds: u64,
    /// The `severity` label.
    pub severity: Severity,
    /// The `category` label.
    pub category: Category,
    /// Further static labels (e.g. the SLO a burn-rate alert watches).
    pub labels: BTreeMap<String, String>,
    /// One line; may use `{{ $labels.x }}`.
    pub summary: String,
    /// What is wrong, with the value; may use `{{ $labels.x }}` and the value template.
    pub description: String,
    /// How `description` shows `$value`.
    pub value_format: ValueFormat,
    /// The uid of the Grafana dashboard to open.
    pub dashboard: &'static str,
    /// Series that prove it.
    pub fixture: Fixture,
}

/// A recording rule: an expensive expression evaluated once per interval.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordingRule {
    /// The recorded series name (`level:metric:operations`).
    pub record: String,
    /// The PromQL expression, rendered in the job scope.
    pub expr: String,
    /// The same expression as typed data, windows bound, without the job scope.
    pub query: Expr,
    /// Static labels added to the result.
    pub labels: BTreeMap<String, String>,
}

/// Formats seconds as a Prometheus duration (`90` → `1m30s`, `0` → `0s`).
///
/// ```
/// assert_eq!(voxscope_alert::model::duration(5400), "1h30m");
/// assert_eq!(voxscope_alert::model::duration(259200), "3d");
/// ```
pub fn duration(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = seconds;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}
