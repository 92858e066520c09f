//! The threshold alerts of the catalog, built from a validated [`Config`].

pub mod anomaly;
mod calls;
mod capacity;
mod errors;
mod hosts;
mod probes;
mod resources;

pub(crate) use errors::{fallback_share, fallback_share_by, http_error_share};

use std::ops::Div;

use crate::config::{Config, LLM_DURATION, TTFB, TURN_LATENCY};
use crate::expr::{Expr, Matcher, Scope, Selector, Window, quantile, rate, sum_by};
use crate::fixture::{SAMPLES, labels, neighbours, observations_in, selector, single_step, split};
use crate::model::{AlertRule, Category, Fixture, Series, Severity, ValueFormat};

/// Dashboard uids, shared with the dashboard generator.
pub(crate) mod dash {
    pub const CALLS: &str = "voxscope-calls";
    pub const PROVIDERS: &str = "voxscope-providers";
    pub const HTTP: &str = "voxscope-http";
    pub const SLO: &str = "voxscope-slo";
    pub const SERVICE: &str = "voxscope-service";
    pub const HOST: &str = "voxscope-host";
}

struct Spec {
    name: &'static str,
    /// Static labels that tell rules of one alertname apart (promtool flags duplicates).
    labels: Vec<(&'static str, &'static str)>,
    severity: Severity,
    category: Category,
    for_minutes: u64,
    dashboard: &'static str,
    /// The value the alert compares (a panel shows it).
    measure: Expr,
    /// The whole condition, `measure` compared and guarded.
    condition: Expr,
    summary: &'static str,
    /// `{value}` marks where the value template goes.
    description: String,
    value_format: ValueFormat,
    fixture: Fixture,
}

impl Spec {
    fn build(self, scope: &Scope) -> AlertRule {
        AlertRule {
            name: self.name.to_owned(),
            expr: self.condition.render(scope),
            condition: self.condition.bind(WINDOW),
            measure: self.measure,
            for_seconds: self.for_minutes * 60,
            keep_firing_for_seconds: 0,
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

/// The rate window of threshold alerts, seconds.
pub(crate) const WINDOW: u64 = 300;

/// p95 of `histogram{matchers}` by `by` over the alert window.
fn p95(metric: &str, by: &[&str], matchers: Vec<Matcher>) -> Expr {
    let histogram = Selector { metric: metric.to_owned(), matchers };
    quantile(0.95, by, histogram, Window::Fixed(WINDOW))
}

/// An error ratio by `by`: rate of `bad` over rate of `all`, over `window` seconds.
pub(crate) struct Ratio {
    pub bad: Expr,
    pub all: Expr,
}

impl Ratio {
    /// `sum by (by) (rate(bad)) / sum by (by) (rate(all))`.
    pub(crate) fn of(bad: Selector, all: Selector, by: &[&str], window: Window) -> Self {
        Self { bad: sum_by(by, rate(bad, window)), all: sum_by(by, rate(all, window)) }
    }

    /// bad / all.
    pub(crate) fn measure(&self) -> Expr {
        self.bad.clone().div(self.all.clone())
    }

    /// Over `threshold` with at least `min_events` events in the window.
    pub(crate) fn above(&self, threshold: f64, min_events: u64) -> Expr {
        self.measure().gt(threshold).and(self.all.increase().ge(min_events as f64))
    }
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
    Fixture { firing, quiet, also_quiet: Vec::new(), labels: labels(labels_), value }
}

/// Counter pairs for a `bad / all > ratio` alert: firing at twice the ratio, quiet at
/// half; a single bad event and a steady trickle of bad events under `min_events` per
/// window of `window_minutes` stay quiet too.
fn ratio_fixture(
    bad: impl Fn(f64) -> Vec<Series>,
    good: impl Fn(f64) -> Vec<Series>,
    (ratio, lowest): (f64, f64),
    (min_events, window_minutes): (u64, u64),
    labels_: &[(&str, &str)],
) -> Fixture {
    let (b, g, value) = split(ratio * 2.0);
    let firing = [bad(b), good(g)].concat();
    let (b, g, _) = split(lowest / 2.0);
    let quiet = [bad(b), good(g)].concat();
    let mixed = |b: f64, g: f64| [bad(b), good(g)].concat();
    let also_quiet = low_volume(&mixed, min_events, window_minutes);
    Fixture { firing, quiet, also_quiet, labels: labels(labels_), value }
}

/// The cases a minimum of events keeps quiet: one bad event, and only bad events but
/// half the minimum per window.
/// `series(bad, good)` writes bad and good events per minute.
pub(crate) fn low_volume(
    series: &impl Fn(f64, f64) -> Vec<Series>,
    min_events: u64,
    window_minutes: u64,
) -> Vec<(String, Vec<Series>)> {
    let trickle = min_events as f64 / 2.0 / window_minutes.clamp(1, u64::from(SAMPLES)) as f64;
    vec![
        ("one failed event".to_owned(), single_step(&series(1.0, 0.0))),
        (format!("all of {} events failing", min_events / 2), series(trickle, 0.0)),
    ]
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
    let llm_duration = p95(LLM_DURATION, &["kind", "provider"], vec![Matcher::eq("kind", "llm")]);
    let mut specs = vec![
        Spec {
            name: "HighCallLatency",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Performance,
            for_minutes: 5,
            dashboard: dash::CALLS,
            measure: p95(TURN_LATENCY, &["transport"], Vec::new()),
            condition: p95(TURN_LATENCY, &["transport"], Vec::new()).gt(turn),
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
            measure: llm_duration.clone(),
            condition: llm_duration.gt(t.llm_duration_p95_seconds),
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
            let ttfb = p95(TTFB, &["kind", "provider"], vec![Matcher::eq("kind", kind)]);
            specs.push(Spec {
                name: "HighProviderTTFB",
                labels: vec![("kind", kind)],
                severity,
                category: Category::Performance,
                for_minutes: 5,
                dashboard: dash::PROVIDERS,
                measure: ttfb.clone(),
                condition: ttfb.gt(threshold),
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
    specs.extend(probes::probe_alerts(config));
    specs.extend(hosts::host_alerts(config));
    specs.extend(capacity::capacity_alerts(config));
    let scope = Scope::rules(config.job_matcher(), WINDOW);
    specs.into_iter().map(|spec| spec.build(&scope)).collect()
}
