//! Service level objectives and their multi-window, multi-burn-rate alerts (Google SRE
//! workbook, chapter 5; the shape Sloth and autometrics generate), 30-day period.
//!
//! Recording rules carry every SLI error ratio per window; the alerts compare them, and
//! need a minimum of events in the short window so that a quiet hour does not page.

use std::ops::{Div, Mul, Sub};

use std::collections::BTreeMap;

use crate::config::{Config, TTFB, TURN_LATENCY};
use crate::expr::{Expr, Matcher, Scope, Selector, Window, number, rate, sum_by};
use crate::fixture::{SAMPLES, labels, selector};
use crate::model::{
    AlertRule, Category, Fixture, RecordingRule, Series, Severity, ValueFormat, duration,
};
use crate::rules::{dash, low_volume};

/// The windows the recording rules compute, shortest first, in seconds.
pub const WINDOWS: [u64; 7] = [300, 1_800, 3_600, 7_200, 21_600, 86_400, 259_200];

/// `(burn rate, long window, short window)` pairs, windows in seconds: page on the first
/// two, ticket on the last two. 14.4x over 1h spends 2 % of a 30-day budget; 1x over 3d
/// spends 10 %.
pub const PAGE: [(f64, u64, u64); 2] = [(14.4, 3_600, 300), (6.0, 21_600, 1_800)];
/// See [`PAGE`].
pub const TICKET: [(f64, u64, u64); 2] = [(3.0, 86_400, 7_200), (1.0, 259_200, 21_600)];

/// How long a page's and a ticket's condition must hold, seconds.
const PAGE_FOR: u64 = 120;
const TICKET_FOR: u64 = 600;

/// Events per minute in SLO fixtures: fine enough for a 99.99 % objective.
const EVENTS: f64 = 100_000.0;

/// One objective over a 30-day period.
#[derive(Clone, Debug, PartialEq)]
pub struct Slo {
    /// The `slo` label value, e.g. `http-availability`.
    pub name: String,
    /// The alertname of its burn-rate alerts.
    pub alertname: &'static str,
    /// Share of good events, in (0, 1).
    pub objective: f64,
    /// What a good event is, for humans.
    pub good: String,
    /// Every event, as a rate over the free window.
    all: Expr,
    /// Good events, as a rate over the free window.
    good_expr: Expr,
    /// The job scope of the rules.
    scope: Scope,
    category: Category,
    dashboard: &'static str,
    source: Source,
}

/// Where an SLO's events come from; the fixtures write these series.
#[derive(Clone, Debug, PartialEq)]
enum Source {
    Calls,
    Http,
    Histogram { metric: &'static str, kind: Option<String>, threshold: f64 },
}

impl Source {
    /// Raw series with `bad` and `good` events per minute.
    fn series(&self, bad: f64, good: f64) -> Vec<Series> {
        match self {
            Source::Calls => {
                let calls = |outcome, n| {
                    let labels = [("transport", "twilio"), ("outcome", outcome)];
                    Series::counter(selector("voice_calls_total", &labels), n, SAMPLES)
                };
                vec![calls("failed", bad), calls("completed", good)]
            }
            Source::Http => {
                let requests = |status, n| {
                    let labels = [("method", "POST"), ("route", "/calls"), ("status", status)];
                    let name = "http_server_request_duration_seconds_count";
                    Series::counter(selector(name, &labels), n, SAMPLES)
                };
                vec![requests("500", bad), requests("201", good)]
            }
            Source::Histogram { metric, kind, threshold } => {
                let base: Vec<(&str, &str)> = match kind {
                    Some(kind) => vec![("kind", kind), ("provider", "acme")],
                    None => vec![("transport", "twilio")],
                };
                let bucket = |le: &str| {
                    let mut labels = base.clone();
                    labels.push(("le", le));
                    selector(&format!("{metric}_bucket"), &labels)
                };
                vec![
                    Series::counter(bucket(&threshold.to_string()), good, SAMPLES),
                    Series::counter(bucket("+Inf"), good + bad, SAMPLES),
                    Series::counter(
                        selector(&format!("{metric}_count"), &base),
                        good + bad,
                        SAMPLES,
                    ),
                ]
            }
        }
    }
}

impl Slo {
    /// The error ratio over `window` seconds: 1 − good/all, and 1 while no event is
    /// good (an outage with no good event at all must not read as "no data").
    ///
    /// ```
    /// let slos = voxscope_alert::slo::slos(&voxscope_alert::Config::default());
    /// assert!(slos[0].error_ratio(300).contains(" or sum by (job) ("));
    /// ```
    pub fn error_ratio(&self, window: u64) -> String {
        self.error_ratio_expr().bind(window).render(&self.scope)
    }

    /// The error ratio over `window` seconds, unscoped.
    pub fn error_ratio_over(&self, window: u64) -> Expr {
        self.error_ratio_expr().bind(window)
    }

    fn error_ratio_expr(&self) -> Expr {
        // `all * 0` rather than `vector(0)`: it keeps the job label of `all`.
        let none_good = self.all.clone() * number(0.0);
        (self.all.clone() - self.good_expr.clone().or(none_good)) / self.all.clone()
    }

    /// The events the SLI counted in `window` seconds.
    fn events(&self, window: u64) -> Expr {
        self.all.increase().bind(window)
    }

    /// The recorded error ratio series of `window` seconds.
    pub fn recorded(&self, window: u64) -> Expr {
        let name = format!("slo:sli_error:ratio_rate{}", duration(window));
        Expr::vector(Selector::new(&name).with(Matcher::eq("slo", &self.name)))
    }

    /// Its recorded error ratio over `window` as a multiple of the error budget.
    pub fn burn_rate(&self, window: u64) -> Expr {
        self.recorded(window).div(number(1.0).sub(number(self.objective)))
    }
}

/// The objectives of `config`.
pub fn slos(config: &Config) -> Vec<Slo> {
    let turn = config.slo.turn_latency;
    let scope = Scope::rules(config.job_matcher(), WINDOWS[0]);
    let calls = Selector::new("voice_calls_total");
    let requests = Selector::new("http_server_request_duration_seconds_count");
    let mut out = vec![
        Slo {
            name: "call-availability".to_owned(),
            alertname: "CallAvailabilityBudgetBurn",
            objective: config.slo.call_availability,
            good: "calls that end completed".to_owned(),
            all: sum_by(&[], rate(calls.clone(), Window::Free)),
            good_expr: sum_by(
                &[],
                rate(calls.with(Matcher::eq("outcome", "completed")), Window::Free),
            ),
            scope: scope.clone(),
            category: Category::Availability,
            dashboard: dash::SLO,
            source: Source::Calls,
        },
        Slo {
            name: "http-availability".to_owned(),
            alertname: "HTTPAvailabilityBudgetBurn",
            objective: config.slo.http_availability,
            good: "HTTP responses that are not 5xx".to_owned(),
            all: sum_by(&[], rate(requests.clone(), Window::Free)),
            good_expr: sum_by(
                &[],
                rate(requests.with(Matcher::not_re("status", "5..")), Window::Free),
            ),
            scope: scope.clone(),
            category: Category::Availability,
            dashboard: dash::SLO,
            source: Source::Http,
        },
        latency_slo(
            "turn-latency",
            "TurnLatencyBudgetBurn",
            turn.objective,
            TURN_LATENCY,
            "",
            turn.threshold_seconds,
            format!("turns answered within {} s", turn.threshold_seconds),
            &scope,
        ),
    ];
    for (kind, limits) in config.thresholds.ttfb.by_kind() {
        out.push(latency_slo(
            &format!("provider-ttfb-{kind}"),
            "ProviderTTFBBudgetBurn",
            config.slo.provider_ttfb_objective,
            TTFB,
            kind,
            limits.critical,
            format!("{kind} first bytes within {} s", limits.critical),
            &scope,
        ));
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn latency_slo(
    name: &str,
    alertname: &'static str,
    objective: f64,
    metric: &'static str,
    kind: &str,
    threshold: f64,
    good: String,
    scope: &Scope,
) -> Slo {
    let mut histogram = Selector::new(metric);
    if !kind.is_empty() {
        histogram = histogram.with(Matcher::eq("kind", kind));
    }
    Slo {
        name: name.to_owned(),
        alertname,
        objective,
        good,
        all: sum_by(&[], rate(histogram.suffixed("_count"), Window::Free)),
        good_expr: sum_by(&[], rate(histogram.bucket(Some(threshold)), Window::Free)),
        scope: scope.clone(),
        category: Category::Performance,
        dashboard: dash::SLO,
        source: Source::Histogram {
            metric,
            kind: (!kind.is_empty()).then(|| kind.to_owned()),
            threshold,
        },
    }
}

/// Recording rules: the error ratio of every SLO over every window.
pub fn recording_rules(slos: &[Slo]) -> Vec<RecordingRule> {
    let mut out = Vec::new();
    for slo in slos {
        for window in WINDOWS {
            out.push(RecordingRule {
                record: format!("slo:sli_error:ratio_rate{}", duration(window)),
                expr: slo.error_ratio(window),
                query: slo.error_ratio_over(window),
                labels: BTreeMap::from([("slo".to_owned(), slo.name.clone())]),
            });
        }
    }
    out
}

/// The page (critical) and ticket (warning) alerts of every SLO: each pair of windows
/// burns over its rate and saw at least `min_events` events in its short window.
pub fn burn_alerts(slos: &[Slo], min_events: u64) -> Vec<AlertRule> {
    let mut out = Vec::new();
    for slo in slos {
        for (severity, pairs, burn, for_seconds) in [
            (Severity::Critical, PAGE, 20.0, PAGE_FOR),
            (Severity::Warning, TICKET, 2.0, TICKET_FOR),
        ] {
            let budget = || number(1.0).sub(number(slo.objective));
            let condition = pairs
                .iter()
                .map(|&(rate, long, short)| {
                    let over = || number(rate).mul(budget());
                    slo.recorded(short)
                        .above(over())
                        .and(slo.recorded(long).above(over()))
                        .and_on(&["job"], slo.events(short).ge(min_events as f64))
                })
                .reduce(Expr::or)
                .unwrap_or_else(|| number(0.0));
            let windows = pairs
                .iter()
                .map(|(rate, long, short)| {
                    format!("{rate}x over {} and {}", duration(*short), duration(*long))
                })
                .collect::<Vec<_>>()
                .join(", or ");
            let pace = match severity {
                Severity::Critical => "fast enough to exhaust it within days: act now",
                _ => "faster than the 30-day period allows: plan a fix",
            };
            let guard_minutes = pairs.iter().map(|p| p.2 / 60).max().unwrap_or(5);
            let source = |bad: f64, good: f64| slo.source.series(bad, good);
            out.push(AlertRule {
                name: slo.alertname.to_owned(),
                expr: condition.render(&slo.scope),
                condition,
                measure: slo.recorded(pairs[0].2),
                for_seconds,
                keep_firing_for_seconds: 0,
                severity,
                category: slo.category,
                labels: BTreeMap::from([("slo".to_owned(), slo.name.clone())]),
                summary: "SLO {{ $labels.slo }} is burning its error budget".to_owned(),
                description: format!(
                    "{} of events miss the objective ({} of {}), burning the error budget \
                     {windows}; {pace}.",
                    ValueFormat::Percent.template(),
                    slo.objective,
                    slo.good
                ),
                value_format: ValueFormat::Percent,
                dashboard: slo.dashboard,
                fixture: slo_fixture(slo, burn, low_volume(&source, min_events, guard_minutes)),
            });
        }
    }
    out
}

/// Firing at `burn` times the budget; quiet at half of it.
fn slo_fixture(slo: &Slo, burn: f64, also_quiet: Vec<(String, Vec<Series>)>) -> Fixture {
    let budget = 1.0 - slo.objective;
    let bad = (budget * burn * EVENTS).round();
    let quiet_bad = (budget * 0.5 * EVENTS).round();
    Fixture {
        firing: slo.source.series(bad, EVENTS - bad),
        quiet: slo.source.series(quiet_bad, EVENTS - quiet_bad),
        also_quiet,
        labels: labels(&[("slo", &slo.name)]),
        value: bad / EVENTS,
    }
}
