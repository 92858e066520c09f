//! Anomaly detection that does not cry wolf: robust bands around four signals (turn
//! latency, provider TTFB, provider error ratio, call volume), as recording and alerting
//! rules built from typed expressions, for Prometheus and the embedded engine alike.
//!
//! ```
//! use voxscope_alert::anomaly::{AnomalySettings, anomaly_rules};
//! use voxscope_alert::expr::{Matcher, Scope};
//! let rules = anomaly_rules(&AnomalySettings::default(), &Scope::rules(Matcher::eq("job", "voice_agent"), 300));
//! assert!(rules.alerts.iter().any(|a| a.name == "AnomalousTurnLatency"));
//! assert!(rules.recording.iter().any(|r| r.record == "anomaly:signal:mad_1d"));
//! ```
//!
//! Every signal is recorded as `anomaly:signal{signal="..."}` with the events per second
//! behind it as `anomaly:volume`. Three bands are recorded, each a baseline (a median)
//! and a spread (the median absolute deviation from that baseline over a day, MAD), each
//! for the signals that read it:
//!
//! - `1d`: the median of the last day;
//! - `yesterday`: the median of the hour around this time yesterday;
//! - `1w`: the median of the hour around this time last week.
//!
//! A signal is out of a band when `|signal - baseline| > k * MAD + floor` (the floor: a
//! share of the baseline plus an absolute amount, so a flat signal's tiny MAD does not
//! page on noise). A share of counted events (the error ratio) adds its sampling noise:
//! `z` standard errors of the share, `sqrt(baseline / events)`, and a least excess of
//! events, `min_excess / events`, with `events` counted over the rate window, so a
//! quiet hour's one failed request does not page while a busy hour's rise does early.
//! A rate of counted events (call volume) measures its deviations in units of its
//! counting noise, `|signal - baseline| / sqrt(baseline)`, so one day's MAD fits the
//! quiet night and the busy afternoon alike.
//!
//! Steady signals alert when out of the `1d` band and, once a week of data exists, out
//! of the `1w` band too (the week confirms that this time of the week is not always
//! so). Seasonal signals (call volume) are compared with the `1w` band once a week of
//! data exists (Monday morning with last Monday morning), and with the `yesterday` band
//! before. The week band's check is recorded every minute (`anomaly:signal:out_1w`); a
//! week later, an hour whose reference was itself out of its band is not compared, so
//! last week's anomaly does not page again as its echo. Every alert needs a day of
//! history and a minimum volume of events, holds for `for` before firing and keeps
//! firing for `keep_firing_for` after its condition clears.

use std::collections::BTreeMap;

use crate::RuleCatalog;
use crate::expr::{
    Expr, Matcher, Scope, Selector, Window, abs, max_over_time, number, quantile_over_time, rate,
    sqrt, sum_by,
};
use crate::model::{AlertRule, Category, Fixture, RecordingRule, Severity, ValueFormat};
use crate::prometheus::rule_groups;

use super::dash;

/// The recorded signal, one series per label set, with a `signal` label.
pub const SIGNAL: &str = "anomaly:signal";
/// The events per second behind each signal (turns, first bytes, requests, calls).
pub const VOLUME: &str = "anomaly:volume";

const DAY: u64 = 86_400;
const WEEK: u64 = 7 * DAY;
const HOUR: u64 = 3_600;

/// One band: how its baseline is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Band {
    /// The median of the last day.
    Day,
    /// The median of the hour around this time yesterday.
    Yesterday,
    /// The median of the hour around this time last week.
    Week,
}

impl Band {
    /// Every band, in recording order.
    pub const ALL: [Band; 3] = [Band::Day, Band::Yesterday, Band::Week];

    /// The suffix of its recorded series.
    pub const fn suffix(self) -> &'static str {
        match self {
            Band::Day => "1d",
            Band::Yesterday => "yesterday",
            Band::Week => "1w",
        }
    }

    /// `anomaly:signal:<stat>_<suffix>`.
    pub fn record(self, stat: &str) -> String {
        format!("{SIGNAL}:{stat}_{}", self.suffix())
    }

    /// Whether the band is recorded for `signal`: the day band for steady signals, the
    /// yesterday band for seasonal ones (their first week), the week band for every one.
    pub fn watches(self, signal: &Signal) -> bool {
        match self {
            Band::Day => !signal.seasonal,
            Band::Yesterday => signal.seasonal,
            Band::Week => true,
        }
    }

    fn baseline(self, signal: Selector) -> Expr {
        match self {
            Band::Day => quantile_over_time(0.5, signal, Window::Fixed(DAY)),
            Band::Yesterday => {
                quantile_over_time(0.5, signal, Window::Fixed(HOUR)).offset(DAY - HOUR / 2)
            }
            Band::Week => {
                quantile_over_time(0.5, signal, Window::Fixed(HOUR)).offset(WEEK - HOUR / 2)
            }
        }
    }
}

/// How one signal is watched.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    /// The `signal` label value.
    pub name: &'static str,
    /// The alertname.
    pub alert: &'static str,
    /// The signal, by its labels.
    pub expr: Expr,
    /// Events per second behind it, by the same labels.
    pub volume: Expr,
    /// Seasonal (call volume): compared with last week (yesterday in the first week),
    /// not with the day.
    pub seasonal: bool,
    /// How many MADs away from the baseline is out of the band.
    pub k: f64,
    /// The floor's share of the baseline.
    pub relative_floor: f64,
    /// The floor's absolute part, in the signal's unit.
    pub absolute_floor: f64,
    /// The least events per second for an alert.
    pub min_volume: f64,
    /// A rate of counted events (call volume): its deviations are measured in units of
    /// its counting noise, `|signal - baseline| / sqrt(baseline)`, and the limit scales
    /// back by `sqrt(baseline)`. A count's noise grows as the square root of the count,
    /// so one day's MAD of these fits the quiet night and the busy afternoon alike,
    /// where a MAD in events per second is set by the afternoon and is too wide at night.
    pub counted: bool,
    /// For a counted signal: the least change of events over the rate window for an
    /// alert, so an hour that had no events last week does not page on one.
    pub min_change: f64,
    /// For a share of counted events (the error ratio): how many of its standard
    /// errors the limit adds, `sqrt(baseline / events)` with `events` counted over the
    /// rate window; 0 for none. A share read from few events is noisier.
    pub standard_errors: f64,
    /// For a share of counted events: the least excess of events over the rate window
    /// for an alert (the limit adds `min_excess / events`); 0 for none.
    pub min_excess: f64,
    /// The rate window behind the signal and its volume, seconds.
    pub window_seconds: u64,
    /// One line, with `{{ $labels.x }}`.
    pub summary: &'static str,
    /// How the value reads.
    pub value_format: ValueFormat,
    /// The dashboard to open.
    pub dashboard: &'static str,
}

/// The detectors' settings: how long a breach must hold and how long an alert keeps
/// firing after it cleared.
#[derive(Clone, Debug, PartialEq)]
pub struct AnomalySettings {
    /// `for`, seconds.
    pub for_seconds: u64,
    /// `keep_firing_for`, seconds: the clear-down hysteresis.
    pub keep_firing_for_seconds: u64,
    /// The rate window of the signals, seconds.
    pub window_seconds: u64,
}

impl Default for AnomalySettings {
    /// Two minutes to fire, ten to clear, signals over five minutes.
    fn default() -> Self {
        Self { for_seconds: 120, keep_firing_for_seconds: 600, window_seconds: 300 }
    }
}

/// What [`anomaly_rules`] generates.
#[derive(Clone, Debug, PartialEq)]
pub struct AnomalyRules {
    /// Recording rules in dependency order: signals and volumes, then per band the
    /// baseline, the deviation from it and the MAD, then the week band's check of each
    /// seasonal signal (`anomaly:signal:out_1w`), which its alert reads a week later.
    pub recording: Vec<RecordingRule>,
    /// One alert per signal.
    pub alerts: Vec<AlertRule>,
    /// The signals watched.
    pub signals: Vec<Signal>,
}

impl AnomalyRules {
    /// The Prometheus rule file: the recording rules in one group evaluated every
    /// minute in order (each reads the one before it at the same evaluation), then the
    /// alerts; annotations as `catalog`'s configuration writes them.
    ///
    /// ```
    /// use voxscope_alert::anomaly::{AnomalySettings, anomaly_rules};
    /// let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
    /// let scope = voxscope_alert::expr::Scope::rules(catalog.config.job_matcher(), 300);
    /// let file = anomaly_rules(&AnomalySettings::default(), &scope).rule_file(&catalog);
    /// assert!(file.contains("keep_firing_for: \"10m\""));
    /// ```
    pub fn rule_file(&self, catalog: &RuleCatalog) -> String {
        rule_groups(
            catalog,
            ("voxscope-anomaly-recordings", Some("1m"), &self.recording),
            ("voxscope-anomaly-alerts", Some("1m"), &self.alerts),
        )
    }
}

fn mean(histogram: &str, by: &[&str], window: Window) -> (Expr, Expr) {
    let h = Selector::new(histogram);
    let count = sum_by(by, rate(h.suffixed("_count"), window));
    (sum_by(by, rate(h.suffixed("_sum"), window)) / count.clone(), count)
}

/// The four signals of the demo's catalog metrics.
pub fn signals(settings: &AnomalySettings) -> Vec<Signal> {
    let w = Window::Fixed(settings.window_seconds);
    let (turn, turns) = mean("voice_turn_latency_seconds", &["transport"], w);
    let (ttfb, first_bytes) = mean("voice_provider_ttfb_seconds", &["kind", "provider"], w);
    let requests = Selector::new("voice_provider_requests_total");
    let failed = requests.clone().with(Matcher::re("outcome", "error|timeout"));
    let all = sum_by(&["kind", "provider"], rate(requests, w));
    let errors = sum_by(&["kind", "provider"], rate(failed, w)) / all.clone();
    let calls = sum_by(&["transport"], rate(Selector::new("voice_calls_total"), w));
    vec![
        Signal {
            name: "turn_latency",
            alert: "AnomalousTurnLatency",
            expr: turn,
            volume: turns,
            seasonal: false,
            k: 4.0,
            relative_floor: 0.05,
            absolute_floor: 0.0,
            min_volume: 0.2,
            counted: false,
            min_change: 0.0,
            standard_errors: 0.0,
            min_excess: 0.0,
            window_seconds: settings.window_seconds,
            summary: "Turn latency on {{ $labels.transport }} calls left its usual band",
            value_format: ValueFormat::Duration,
            dashboard: dash::CALLS,
        },
        Signal {
            name: "ttfb",
            alert: "AnomalousProviderTTFB",
            expr: ttfb,
            volume: first_bytes,
            seasonal: false,
            k: 4.0,
            relative_floor: 0.05,
            absolute_floor: 0.0,
            min_volume: 0.2,
            counted: false,
            min_change: 0.0,
            standard_errors: 0.0,
            min_excess: 0.0,
            window_seconds: settings.window_seconds,
            summary: "Time to first byte of {{ $labels.kind }} provider {{ $labels.provider }} left its usual band",
            value_format: ValueFormat::Duration,
            dashboard: dash::PROVIDERS,
        },
        Signal {
            name: "error_ratio",
            alert: "AnomalousProviderErrorRatio",
            expr: errors,
            volume: all,
            seasonal: false,
            k: 4.0,
            relative_floor: 0.0,
            absolute_floor: 0.005,
            min_volume: 0.2,
            counted: false,
            min_change: 0.0,
            standard_errors: 3.0,
            min_excess: 3.0,
            window_seconds: settings.window_seconds,
            summary: "Errors of {{ $labels.kind }} provider {{ $labels.provider }} left their usual band",
            value_format: ValueFormat::Percent,
            dashboard: dash::PROVIDERS,
        },
        Signal {
            name: "call_volume",
            alert: "AnomalousCallVolume",
            expr: calls.clone(),
            volume: calls,
            seasonal: true,
            k: 4.0,
            relative_floor: 0.1,
            absolute_floor: 0.0,
            min_volume: 0.0,
            counted: true,
            min_change: 3.0,
            standard_errors: 0.0,
            min_excess: 0.0,
            window_seconds: settings.window_seconds,
            summary: "Call volume on {{ $labels.transport }} left its usual band for this time of the week",
            value_format: ValueFormat::Plain,
            dashboard: dash::CALLS,
        },
    ]
}

fn of(signal: &Signal, name: &str) -> Expr {
    Expr::vector(Selector::new(name).with(Matcher::eq("signal", signal.name)))
}

/// `|signal - baseline| > k * mad + relative_floor * baseline + absolute_floor`, and
/// for a share of counted events `+ z * sqrt(baseline / events) + min_excess / events`,
/// `events` being the volume over the rate window. For a counted signal the MAD is in
/// units of its counting noise, so the limit reads `k * mad * sqrt(baseline)`, and the
/// gap must also exceed `min_change` events over the window.
fn out_of(signal: &Signal, band: Band) -> Expr {
    let baseline = || of(signal, &band.record("median"));
    let mut spread = of(signal, &band.record("mad"));
    if signal.counted {
        spread = spread * sqrt(baseline());
    }
    let mut limit = (number(signal.k) * spread)
        .plus(number(signal.relative_floor) * baseline())
        .plus(number(signal.absolute_floor));
    if signal.standard_errors > 0.0 || signal.min_excess > 0.0 {
        let events = || of(signal, VOLUME) * number(signal.window_seconds as f64);
        limit = limit
            .plus(number(signal.standard_errors) * sqrt(baseline() / events()))
            .plus(number(signal.min_excess) / events());
    }
    let gap = || abs(of(signal, SIGNAL) - baseline());
    let out = gap().above(limit);
    if signal.min_change > 0.0 {
        out.and(gap().above(number(signal.min_change / signal.window_seconds as f64)))
    } else {
        out
    }
}

/// The week band's check of a seasonal signal, recorded every minute so that a week
/// later the comparison knows its reference hour was itself out of the usual.
pub fn week_check(signal: &Signal) -> Expr {
    out_of(signal, Band::Week)
}

/// The whole condition of `signal`'s alert. It needs a day of history (the signal was
/// recorded a day ago): before that the day's band is minutes wide and would page on
/// any change.
///
/// A steady signal is out when out of the day band and, once a week of data exists,
/// out of the week band too. A seasonal signal is compared with the hour around this
/// time last week, unless that hour was itself out of its band (recorded by
/// [`week_check`]): last week's anomaly would otherwise page again a week later, as
/// its echo. In the first week it is compared with the hour around this time yesterday.
pub fn condition(signal: &Signal) -> Expr {
    let week = of(signal, &Band::Week.record("mad"));
    let checked = if signal.seasonal {
        let checks =
            Selector::new(&Band::Week.record("out")).with(Matcher::eq("signal", signal.name));
        let echo = max_over_time(checks, Window::Fixed(HOUR)).offset(WEEK - HOUR / 2);
        let first_week = out_of(signal, Band::Yesterday).unless_on(&[], week);
        week_check(signal).unless(echo).or(first_week)
    } else {
        let confirmed = out_of(signal, Band::Day).and(out_of(signal, Band::Week));
        confirmed.or(out_of(signal, Band::Day).unless_on(&[], week))
    };
    checked.and(of(signal, VOLUME).ge(signal.min_volume)).and(of(signal, SIGNAL).offset(DAY))
}

fn recording(record: &str, query: Expr, labels: &[(&str, &str)], scope: &Scope) -> RecordingRule {
    RecordingRule {
        record: record.to_owned(),
        expr: query.render(scope),
        query,
        labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    }
}

/// The recording and alerting rules of every signal under `scope`.
pub fn anomaly_rules(settings: &AnomalySettings, scope: &Scope) -> AnomalyRules {
    let signals = signals(settings);
    let mut rules = Vec::new();
    for signal in &signals {
        let labels = [("signal", signal.name)];
        rules.push(recording(SIGNAL, signal.expr.clone(), &labels, scope));
        rules.push(recording(VOLUME, signal.volume.clone(), &labels, scope));
    }
    for band in Band::ALL {
        let watched: Vec<&str> =
            signals.iter().filter(|s| band.watches(s)).map(|s| s.name).collect();
        let mut signal = Selector::new(SIGNAL);
        if watched.len() < signals.len() {
            signal = signal.with(Matcher::re("signal", &watched.join("|")));
        }
        rules.push(recording(&band.record("median"), band.baseline(signal), &[], scope));
        // Counted signals' deviations are in units of their counting noise. One rule
        // per record name (promtool's lint refuses two alike), the groups joined by `or`.
        let (counted, plain): (Vec<&Signal>, Vec<&Signal>) =
            signals.iter().filter(|s| band.watches(s)).partition(|s| s.counted);
        let mut deviations: Option<Expr> = None;
        for group in [plain, counted] {
            if group.is_empty() {
                continue;
            }
            let pick = |name: &str| {
                let selector = Selector::new(name);
                Expr::vector(if group.len() < watched.len() {
                    let names: Vec<&str> = group.iter().map(|s| s.name).collect();
                    selector.with(Matcher::re("signal", &names.join("|")))
                } else {
                    selector
                })
            };
            let median = || pick(&band.record("median"));
            let mut deviation = abs(pick(SIGNAL) - median());
            if group[0].counted {
                deviation = deviation / sqrt(median()).gt(0.0);
            }
            deviations = Some(match deviations {
                Some(before) => before.or(deviation),
                None => deviation,
            });
        }
        if let Some(deviation) = deviations {
            rules.push(recording(&band.record("deviation"), deviation, &[], scope));
        }
        let deviations = Selector::new(&band.record("deviation"));
        let mad = quantile_over_time(0.5, deviations, Window::Fixed(DAY));
        rules.push(recording(&band.record("mad"), mad, &[], scope));
    }
    for signal in signals.iter().filter(|s| s.seasonal) {
        rules.push(recording(&Band::Week.record("out"), week_check(signal), &[], scope));
    }
    let alerts = signals
        .iter()
        .map(|signal| {
            let condition = condition(signal);
            AlertRule {
                name: signal.alert.to_owned(),
                expr: condition.render(scope),
                condition: condition.clone(),
                measure: of(signal, SIGNAL),
                for_seconds: settings.for_seconds,
                keep_firing_for_seconds: settings.keep_firing_for_seconds,
                severity: Severity::Warning,
                category: Category::Performance,
                labels: BTreeMap::from([("anomaly".to_owned(), signal.name.to_owned())]),
                summary: signal.summary.to_owned(),
                description: format!(
                    "{} is {} away from its baseline, outside the band its history sets \
                     (median ± {} × MAD and a floor).",
                    signal.name,
                    signal.value_format.template(),
                    signal.k
                ),
                value_format: signal.value_format,
                dashboard: signal.dashboard,
                // Proven over a labelled month by the scoring harness: a day of
                // history does not fit a fixture.
                fixture: Fixture {
                    firing: Vec::new(),
                    quiet: Vec::new(),
                    also_quiet: Vec::new(),
                    labels: BTreeMap::new(),
                    value: 0.0,
                },
            }
        })
        .collect();
    AnomalyRules { recording: rules, alerts, signals }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_ratio_limit_adds_its_standard_errors_and_least_excess() {
        let scope = Scope::rules(Matcher::eq("job", "voice_agent"), 300);
        let rules = anomaly_rules(&AnomalySettings::default(), &scope);
        let errors = rules.signals.iter().find(|s| s.name == "error_ratio").unwrap();
        let near = out_of(errors, Band::Day).render(&scope);
        let (m, v) = (
            "anomaly:signal:median_1d{signal=\"error_ratio\"}",
            "anomaly:volume{signal=\"error_ratio\"}",
        );
        assert_eq!(
            near,
            format!(
                "abs(anomaly:signal{{signal=\"error_ratio\"}} - {m}) \
                 > 4 * anomaly:signal:mad_1d{{signal=\"error_ratio\"}} + 0 * {m} + 0.005 \
                 + 3 * sqrt({m} / ({v} * 300)) + 3 / ({v} * 300)"
            )
        );
    }

    #[test]
    fn the_conditions_read_every_band_and_the_volume() {
        let scope = Scope::rules(Matcher::eq("job", "voice_agent"), 300);
        let rules = anomaly_rules(&AnomalySettings::default(), &scope);
        let volume = rules.alerts.iter().find(|a| a.name == "AnomalousCallVolume").unwrap();
        let (sig, w, y) = (
            "anomaly:signal{signal=\"call_volume\"}",
            "anomaly:signal:median_1w{signal=\"call_volume\"}",
            "anomaly:signal:median_yesterday{signal=\"call_volume\"}",
        );
        assert_eq!(
            volume.expr,
            format!(
                "(abs({sig} - {w}) \
                 > 4 * (anomaly:signal:mad_1w{{signal=\"call_volume\"}} * sqrt({w})) + 0.1 * {w} + 0 \
                 and abs({sig} - {w}) > 0.01 \
                 unless max_over_time(anomaly:signal:out_1w{{signal=\"call_volume\"}}[1h] offset 6d23h30m) \
                 or abs({sig} - {y}) \
                 > 4 * (anomaly:signal:mad_yesterday{{signal=\"call_volume\"}} * sqrt({y})) + 0.1 * {y} + 0 \
                 and abs({sig} - {y}) > 0.01 \
                 unless on () anomaly:signal:mad_1w{{signal=\"call_volume\"}}) \
                 and anomaly:volume{{signal=\"call_volume\"}} >= 0 \
                 and {sig} offset 1d"
            )
        );
        // Counted deviations are in units of counting noise, in the same one rule
        // (promtool's lint refuses two rules recording the same name and labels).
        let deviations: Vec<&str> = rules
            .recording
            .iter()
            .filter(|r| r.record == "anomaly:signal:deviation_1w")
            .map(|r| r.expr.as_str())
            .collect();
        assert_eq!(
            deviations,
            ["abs(anomaly:signal{signal=~\"turn_latency|ttfb|error_ratio\"} \
                 - anomaly:signal:median_1w{signal=~\"turn_latency|ttfb|error_ratio\"}) \
                 or abs(anomaly:signal{signal=~\"call_volume\"} - anomaly:signal:median_1w{signal=~\"call_volume\"}) \
                 / (sqrt(anomaly:signal:median_1w{signal=~\"call_volume\"}) > 0)",]
        );
        let mut records: Vec<&str> = rules
            .recording
            .iter()
            .filter(|r| r.labels.is_empty())
            .map(|r| r.record.as_str())
            .collect();
        let all = records.len();
        records.sort_unstable();
        records.dedup();
        assert_eq!(records.len(), all, "one unlabelled rule per record name");
        let out = rules.recording.iter().position(|r| r.record == "anomaly:signal:out_1w").unwrap();
        let mad = rules.recording.iter().position(|r| r.record == "anomaly:signal:mad_1w").unwrap();
        assert!(out > mad, "the week check reads the week band");
        let week = rules.recording.iter().find(|r| r.record == "anomaly:signal:median_1w").unwrap();
        assert_eq!(week.expr, "quantile_over_time(0.5, anomaly:signal[1h] offset 6d23h30m)");
        let day = rules.recording.iter().find(|r| r.record == "anomaly:signal:median_1d").unwrap();
        assert_eq!(
            day.expr,
            "quantile_over_time(0.5, anomaly:signal{signal=~\"turn_latency|ttfb|error_ratio\"}[1d])"
        );
        let turn = rules
            .recording
            .iter()
            .find(|r| r.labels.get("signal").is_some_and(|s| s == "turn_latency"))
            .unwrap();
        assert_eq!(
            turn.expr,
            "sum by (job, transport) (rate(voice_turn_latency_seconds_sum{job=\"voice_agent\"}[5m])) \
             / sum by (job, transport) (rate(voice_turn_latency_seconds_count{job=\"voice_agent\"}[5m]))"
        );
    }
}
