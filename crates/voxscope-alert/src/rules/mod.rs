//! The threshold alerts of the catalog, built from a validated [`Config`].

mod calls;
mod errors;
mod resources;

use crate::config::{Config, LLM_DURATION, TTFB, TURN_LATENCY};
use crate::fixture::{SAMPLES, labels, neighbours, observations_in, selector, split};
use crate::model::{AlertRule, Category, Fixture, Series, Severity, ValueFormat};

/// Dashboard uids, shared with the dashboard generator.
pub(crate) mod dash {
    pub const CALLS: &str = "voxscope-calls";
    pub const PROVIDERS: &str = "voxscope-providers";
    pub const HTTP: &str = "voxscope-http";
    pub const SLO: &str = "voxscope-slo";
    pub const SERVICE: &str = "voxscope-service";
}

struct Spec {
    name: &'static str,
    /// Static labels that tell rules of one alertname apart (promtool flags duplicates).
    labels: Vec<(&'static str, &'static str)>,
    severity: Severity,
    category: Category,
    for_minutes: u64,
    dashboard: &'static str,
    expr: String,
    summary: &'static str,
    /// `{value}` marks where the value template goes.
    description: String,
    value_format: ValueFormat,
    fixture: Fixture,
}

impl Spec {
    fn build(self) -> AlertRule {
        AlertRule {
            name: self.name.to_owned(),
            expr: self.expr,
            for_seconds: self.for_minutes * 60,
            severity: self.severity,
            category: self.category,
            labels: self.labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            summary: self.summary.to_owned(),
            description: self.description.replace("{value}", self.value_format.template()),
            value_format: self.value_format,
            dashboard: self.dashboard,
            fixture: self.fixture,
        }
    }
}

fn p95(metric: &str, by: &str, filter: &str, window: &str) -> String {
    format!("histogram_quantile(0.95, sum by (le, {by}) (rate({metric}_bucket{filter}[{window}])))")
}

/// A p95 alert's fixture: firing puts every observation just above `threshold`, quiet
/// just under `lowest` (the family's lowest threshold).
fn p95_fixture(
    config: &Config,
    metric: &str,
    labels_: &[(&str, &str)],
    threshold: f64,
    lowest: f64,
) -> Fixture {
    let bounds = config.buckets_of(metric);
    let (_, above) = neighbours(bounds, threshold);
    // Validation guarantees a bound above every quantile threshold.
    let upper = above.unwrap_or(threshold * 2.0);
    let (firing, value) = observations_in(metric, labels_, Some(threshold), upper, 0.95);
    let (below, _) = neighbours(bounds, lowest);
    let (quiet, _) = observations_in(metric, labels_, below, lowest, 0.95);
    Fixture { firing, quiet, labels: labels(labels_), value }
}

/// Counter pairs for a `bad / all > ratio` alert: firing at twice the ratio, quiet at half.
fn ratio_fixture(
    bad: impl Fn(f64) -> Vec<Series>,
    good: impl Fn(f64) -> Vec<Series>,
    ratio: f64,
    lowest: f64,
    labels_: &[(&str, &str)],
) -> Fixture {
    let (b, g, value) = split(ratio * 2.0);
    let firing = [bad(b), good(g)].concat();
    let (b, g, _) = split(lowest / 2.0);
    let quiet = [bad(b), good(g)].concat();
    Fixture { firing, quiet, labels: labels(labels_), value }
}

fn counter(name: &str, labels_: &[(&str, &str)], per_minute: f64) -> Vec<Series> {
    vec![Series::counter(selector(name, labels_), per_minute, SAMPLES)]
}

fn gauge(name: &str, labels_: &[(&str, &str)], value: f64) -> Vec<Series> {
    vec![Series::gauge(selector(name, labels_), value, SAMPLES)]
}

const TWILIO: (&str, &str) = ("transport", "twilio");

/// Every threshold alert, in catalog order.
pub(crate) fn threshold_alerts(config: &Config) -> Vec<AlertRule> {
    let t = &config.thresholds;
    let turn = config.slo.turn_latency.threshold_seconds;
    let mut specs = vec![
        Spec {
            name: "HighCallLatency",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Performance,
            for_minutes: 5,
            dashboard: dash::CALLS,
            expr: format!("{} > {turn}", p95(TURN_LATENCY, "transport", "", "5m")),
            summary: "Slow turns on {{ $labels.transport }} calls",
            description: format!(
                "p95 voice-to-voice turn latency on {{{{ $labels.transport }}}} is {{value}}, \
                 over the {turn} s objective threshold."
            ),
            value_format: ValueFormat::Duration,
            fixture: p95_fixture(config, TURN_LATENCY, &[TWILIO], turn, turn),
        },
        Spec {
            name: "HighAIResponseTime",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Performance,
            for_minutes: 5,
            dashboard: dash::PROVIDERS,
            expr: format!(
                "{} > {}",
                p95(LLM_DURATION, "kind, provider", "{kind=\"llm\"}", "5m"),
                t.llm_duration_p95_seconds
            ),
            summary: "Slow LLM responses from {{ $labels.provider }}",
            description: format!(
                "p95 LLM request duration of {{{{ $labels.provider }}}} is {{value}}, over {} s.",
                t.llm_duration_p95_seconds
            ),
            value_format: ValueFormat::Duration,
            fixture: p95_fixture(
                config,
                LLM_DURATION,
                &[("kind", "llm"), ("provider", "openai")],
                t.llm_duration_p95_seconds,
                t.llm_duration_p95_seconds,
            ),
        },
    ];
    for (kind, limits) in t.ttfb.by_kind() {
        for (severity, threshold) in
            [(Severity::Warning, limits.warning), (Severity::Critical, limits.critical)]
        {
            let filter = format!("{{kind=\"{kind}\"}}");
            specs.push(Spec {
                name: "HighProviderTTFB",
                labels: vec![("kind", kind)],
                severity,
                category: Category::Performance,
                for_minutes: 5,
                dashboard: dash::PROVIDERS,
                expr: format!("{} > {threshold}", p95(TTFB, "kind, provider", &filter, "5m")),
                summary: "Slow first bytes from {{ $labels.kind }} provider {{ $labels.provider }}",
                description: format!(
                    "p95 time to first byte of {{{{ $labels.kind }}}} provider \
                     {{{{ $labels.provider }}}} is {{value}}, over {threshold} s."
                ),
                value_format: ValueFormat::Duration,
                fixture: p95_fixture(
                    config,
                    TTFB,
                    &[("kind", kind), ("provider", "acme")],
                    threshold,
                    limits.warning,
                ),
            });
        }
    }
    specs.extend(calls::call_alerts(config));
    specs.extend(errors::http_and_provider_alerts(config));
    specs.extend(resources::resource_alerts(config));
    specs.into_iter().map(Spec::build).collect()
}
