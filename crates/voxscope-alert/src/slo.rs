//! Service level objectives and their multi-window, multi-burn-rate alerts (Google SRE
//! workbook, chapter 5; the shape Sloth and autometrics generate), 30-day period.
//!
//! Recording rules carry every SLI error ratio per window; the alerts only compare them.

use std::collections::BTreeMap;

use crate::config::{Config, TTFB, TURN_LATENCY};
use crate::fixture::{SAMPLES, labels, selector};
use crate::model::{AlertRule, Category, Fixture, RecordingRule, Series, Severity, ValueFormat};
use crate::rules::dash;

/// The windows the recording rules compute, shortest first.
pub const WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// `(burn rate, long window, short window)` pairs: page on the first two, ticket on the
/// last two. 14.4x over 1h spends 2 % of a 30-day budget; 1x over 3d spends 10 %.
pub const PAGE: [(f64, &str, &str); 2] = [(14.4, "1h", "5m"), (6.0, "6h", "30m")];
/// See [`PAGE`].
pub const TICKET: [(f64, &str, &str); 2] = [(3.0, "1d", "2h"), (1.0, "3d", "6h")];

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
    /// Every event, as a PromQL rate over `{window}`.
    all: String,
    /// Good events, as a PromQL rate over `{window}`.
    good_expr: String,
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
    /// The error ratio over `window`: 1 − good/all, and 1 while no event is good (an
    /// outage with no good event at all must not read as "no data").
    ///
    /// ```
    /// let slos = voxscope_alert::slo::slos(&voxscope_alert::Config::default());
    /// assert!(slos[0].error_ratio("5m").contains("or vector(0)"));
    /// ```
    pub fn error_ratio(&self, window: &str) -> String {
        let all = self.all.replace("{window}", window);
        let good = self.good_expr.replace("{window}", window);
        format!("({all} - ({good} or vector(0))) / {all}")
    }

    /// The recorded error ratio series of `window`.
    pub fn recorded(&self, window: &str) -> String {
        format!("slo:sli_error:ratio_rate{window}{{slo=\"{}\"}}", self.name)
    }
}

/// The objectives of `config`.
pub fn slos(config: &Config) -> Vec<Slo> {
    let turn = config.slo.turn_latency;
    let mut out = vec![
        Slo {
            name: "call-availability".to_owned(),
            alertname: "CallAvailabilityBudgetBurn",
            objective: config.slo.call_availability,
            good: "calls that end completed".to_owned(),
            all: "sum(rate(voice_calls_total[{window}]))".to_owned(),
            good_expr: "sum(rate(voice_calls_total{outcome=\"completed\"}[{window}]))".to_owned(),
            category: Category::Availability,
            dashboard: dash::SLO,
            source: Source::Calls,
        },
        Slo {
            name: "http-availability".to_owned(),
            alertname: "HTTPAvailabilityBudgetBurn",
            objective: config.slo.http_availability,
            good: "HTTP responses that are not 5xx".to_owned(),
            all: "sum(rate(http_server_request_duration_seconds_count[{window}]))".to_owned(),
            good_expr:
                "sum(rate(http_server_request_duration_seconds_count{status!~\"5..\"}[{window}]))"
                    .to_owned(),
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
            dash::SLO,
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
            dash::SLO,
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
    dashboard: &'static str,
) -> Slo {
    let kind_filter = if kind.is_empty() { String::new() } else { format!("kind=\"{kind}\",") };
    let count_filter = if kind.is_empty() { String::new() } else { format!("{{kind=\"{kind}\"}}") };
    Slo {
        name: name.to_owned(),
        alertname,
        objective,
        good,
        all: format!("sum(rate({metric}_count{count_filter}[{{window}}]))"),
        good_expr: format!(
            "sum(rate({metric}_bucket{{{kind_filter}le=\"{threshold}\"}}[{{window}}]))"
        ),
        category: Category::Performance,
        dashboard,
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
                record: format!("slo:sli_error:ratio_rate{window}"),
                expr: slo.error_ratio(window),
                labels: BTreeMap::from([("slo".to_owned(), slo.name.clone())]),
            });
        }
    }
    out
}

/// The page (critical) and ticket (warning) alerts of every SLO.
pub fn burn_alerts(slos: &[Slo]) -> Vec<AlertRule> {
    let mut out = Vec::new();
    for slo in slos {
        for (severity, pairs, burn) in
            [(Severity::Critical, PAGE, 20.0), (Severity::Warning, TICKET, 2.0)]
        {
            let budget = format!("(1 - {})", slo.objective);
            let expr = pairs
                .iter()
                .map(|(rate, long, short)| {
                    format!(
                        "({} > ({rate} * {budget}) and {} > ({rate} * {budget}))",
                        slo.recorded(short),
                        slo.recorded(long)
                    )
                })
                .collect::<Vec<_>>()
                .join(" or ");
            let windows = pairs
                .iter()
                .map(|(rate, long, short)| format!("{rate}x over {short} and {long}"))
                .collect::<Vec<_>>()
                .join(", or ");
            let pace = match severity {
                Severity::Critical => "fast enough to exhaust it within days: act now",
                _ => "faster than the 30-day period allows: plan a fix",
            };
            out.push(AlertRule {
                name: slo.alertname.to_owned(),
                expr,
                for_seconds: 0,
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
                fixture: slo_fixture(slo, burn),
            });
        }
    }
    out
}

/// Firing at `burn` times the budget; quiet at half of it.
fn slo_fixture(slo: &Slo, burn: f64) -> Fixture {
    let budget = 1.0 - slo.objective;
    let bad = (budget * burn * EVENTS).round();
    let quiet_bad = (budget * 0.5 * EVENTS).round();
    Fixture {
        firing: slo.source.series(bad, EVENTS - bad),
        quiet: slo.source.series(quiet_bad, EVENTS - quiet_bad),
        labels: labels(&[("slo", &slo.name)]),
        value: bad / EVENTS,
    }
}
