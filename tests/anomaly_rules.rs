//! The generated anomaly rules in a real Prometheus (promtool) and in the embedded
//! evaluator, on the same series: a day of steady traffic, then a change. Both fire the
//! alert at the same minute, and neither before it: the turn latency doubling; a
//! provider's error ratio rising from 1 % to about 5 %. A single extra failed request
//! of a quiet provider does not fire. Calls ended halving fire the call-volume alert
//! (counted in units of counting noise) at the same minute in both; a 5 % dip does not.

#[path = "alert_support/mod.rs"]
mod support;

use support::{TempDir, run, tool};
use voxscope::alert::RuleCatalog;
use voxscope::alert::anomaly::{AnomalySettings, anomaly_rules};
use voxscope::alert::eval::{AlertState, Labels, RuleEvaluator};
use voxscope::alert::expr::Scope;

/// Minutes of steady traffic before the change.
const STEADY: i64 = 26 * 60;
const END: i64 = STEADY + 30;

/// One counter: its labels (`job` added) and its value at each minute.
struct Counter {
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
    at: fn(i64) -> f64,
}

impl Counter {
    fn labels(&self) -> Labels {
        let mut labels = Labels::from([
            ("__name__".to_owned(), self.name.to_owned()),
            ("job".to_owned(), "voice_agent".to_owned()),
        ]);
        labels.extend(self.labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        labels
    }

    /// promtool's series notation.
    fn series(&self) -> String {
        let labels: Vec<String> = self
            .labels()
            .into_iter()
            .filter(|(k, _)| k != "__name__")
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// Counters growing by `before` a minute until `STEADY`, by `after` since.
fn piecewise(before: f64, after: f64) -> impl Fn(i64) -> f64 {
    move |minute| {
        if minute <= STEADY {
            before * minute as f64
        } else {
            before * STEADY as f64 + after * (minute - STEADY) as f64
        }
    }
}

fn turn_sum(minute: i64) -> f64 {
    piecewise(30.0, 60.0)(minute)
}
fn turn_count(minute: i64) -> f64 {
    60.0 * minute as f64
}
fn requests_ok(minute: i64) -> f64 {
    100.0 * minute as f64
}
fn requests_failing(minute: i64) -> f64 {
    piecewise(1.0, 5.0)(minute)
}
/// One failed request a minute, and one more in the minute after `STEADY`.
fn requests_one_more(minute: i64) -> f64 {
    minute as f64 + f64::from(u8::from(minute > STEADY))
}

/// Calls ended: 20 a minute, 10 a minute after `STEADY`.
fn calls_halving(minute: i64) -> f64 {
    piecewise(20.0, 10.0)(minute)
}
/// Calls ended: 20 a minute, 19 a minute after `STEADY`.
fn calls_dipping(minute: i64) -> f64 {
    piecewise(20.0, 19.0)(minute)
}

/// The first minute the embedded evaluator has `alertname` firing.
fn embedded_first_firing(
    catalog: &RuleCatalog,
    counters: &[Counter],
    alertname: &str,
) -> Option<i64> {
    let mut evaluator = RuleEvaluator::new(catalog);
    let mut storage = evaluator.storage(Default::default());
    for minute in 0..=END {
        let t = minute * 60_000;
        for counter in counters {
            storage.append(&counter.labels(), t, (counter.at)(minute)).unwrap();
        }
        let alerts = evaluator.evaluate(&mut storage, t);
        if alerts
            .iter()
            .any(|a| a.labels["alertname"] == alertname && a.state == AlertState::Firing)
        {
            return Some(minute);
        }
    }
    None
}

/// The anomaly rules alone, and their rule file.
fn anomaly_catalog() -> (RuleCatalog, String) {
    let mut catalog = RuleCatalog::new(Default::default()).unwrap();
    let scope = Scope::rules(catalog.config.job_matcher(), 300);
    let rules = anomaly_rules(&AnomalySettings::default(), &scope);
    let rule_file = rules.rule_file(&catalog);
    catalog.recording = rules.recording.clone();
    catalog.alerts = rules.alerts.clone();
    (catalog, rule_file)
}

/// promtool checks that `alertname` is quiet at each of `quiet` and fires with the
/// labels `firing` at each of `fires` (minutes). The recordings are evaluated before the
/// alerts at each minute, as the embedded evaluator does: promtool orders groups at
/// random unless told.
fn promtool_agrees(
    name: &str,
    rule_file: &str,
    counters: &[Counter],
    alertname: &str,
    (quiet, fires, firing): (&[i64], &[i64], &str),
) {
    let Some(promtool) = tool("promtool", "prometheus") else { return };
    let dir = TempDir::new(name);
    std::fs::write(dir.path().join("anomaly.rules.yml"), rule_file).unwrap();
    let (out, text) = run(&promtool, dir.path(), &["check", "rules", "anomaly.rules.yml"]);
    assert!(out.status.success(), "{text}");
    let check = |minute: i64, expected: bool| {
        let samples = if expected {
            format!("\n        - labels: '{firing}'\n          value: 1")
        } else {
            " []".to_owned()
        };
        format!(
            "    - expr: 'ALERTS{{alertname=\"{alertname}\",alertstate=\"firing\"}}'\n      eval_time: {minute}m\n      exp_samples:{samples}\n"
        )
    };
    let mut input = String::new();
    for counter in counters {
        let values: Vec<String> = (0..=END).map(|m| (counter.at)(m).to_string()).collect();
        input.push_str(&format!(
            "      - series: '{}'\n        values: '{}'\n",
            counter.series(),
            values.join(" ")
        ));
    }
    let checks: String = quiet
        .iter()
        .map(|m| check(*m, false))
        .chain(fires.iter().map(|m| check(*m, true)))
        .collect();
    let test = format!(
        "rule_files: [anomaly.rules.yml]\nevaluation_interval: 1m\n\
         group_eval_order: [voxscope-anomaly-recordings, voxscope-anomaly-alerts]\ntests:\n  - interval: 1m\n    input_series:\n{input}    promql_expr_test:\n{checks}"
    );
    std::fs::write(dir.path().join("anomaly.test.yml"), test).unwrap();
    let (out, text) = run(&promtool, dir.path(), &["test", "rules", "anomaly.test.yml"]);
    assert!(out.status.success(), "promtool disagrees with the embedded evaluator:\n{text}");
}

#[test]
fn prometheus_and_the_embedded_evaluator_fire_the_same_minute_on_a_latency_shift() {
    let (catalog, rule_file) = anomaly_catalog();
    let twilio: &[(&str, &str)] = &[("transport", "twilio")];
    let counters = [
        Counter { name: "voice_turn_latency_seconds_sum", labels: twilio, at: turn_sum },
        Counter { name: "voice_turn_latency_seconds_count", labels: twilio, at: turn_count },
    ];
    let fired = embedded_first_firing(&catalog, &counters, "AnomalousTurnLatency")
        .expect("the embedded evaluator fires");
    // The 5-minute mean crosses the band the first minute after the shift; `for` is 2m.
    assert!((STEADY + 2..=STEADY + 4).contains(&fired), "fired at minute {fired}");
    let labels = "ALERTS{alertname=\"AnomalousTurnLatency\",alertstate=\"firing\",anomaly=\"turn_latency\",category=\"performance\",job=\"voice_agent\",severity=\"warning\",signal=\"turn_latency\",transport=\"twilio\"}";
    promtool_agrees(
        "anomaly-latency",
        &rule_file,
        &counters,
        "AnomalousTurnLatency",
        (&[STEADY - 60, fired - 1], &[fired], labels),
    );
}

const GROQ_OK: &[(&str, &str)] = &[("kind", "llm"), ("provider", "groq"), ("outcome", "ok")];
const GROQ_ERROR: &[(&str, &str)] = &[("kind", "llm"), ("provider", "groq"), ("outcome", "error")];

#[test]
fn prometheus_and_the_embedded_evaluator_fire_the_same_minute_on_an_error_ratio_rise() {
    let (catalog, rule_file) = anomaly_catalog();
    let counters = [
        Counter { name: "voice_provider_requests_total", labels: GROQ_OK, at: requests_ok },
        Counter { name: "voice_provider_requests_total", labels: GROQ_ERROR, at: requests_failing },
    ];
    let fired = embedded_first_firing(&catalog, &counters, "AnomalousProviderErrorRatio")
        .expect("the embedded evaluator fires");
    // 1 % over 505 requests a window: the limit is 0.5 point, 3 standard errors
    // (sqrt(0.0099 / 505) = 0.44 point each) and 3 requests (0.6 point), 2.4 points over
    // the median. 5 failures a minute pass it with the third minute in the window.
    assert!((STEADY + 4..=STEADY + 6).contains(&fired), "fired at minute {fired}");
    let labels = "ALERTS{alertname=\"AnomalousProviderErrorRatio\",alertstate=\"firing\",anomaly=\"error_ratio\",category=\"performance\",job=\"voice_agent\",kind=\"llm\",provider=\"groq\",severity=\"warning\",signal=\"error_ratio\"}";
    promtool_agrees(
        "anomaly-errors",
        &rule_file,
        &counters,
        "AnomalousProviderErrorRatio",
        (&[STEADY - 60, fired - 1], &[fired], labels),
    );
}

#[test]
fn one_more_failed_request_of_a_steady_provider_does_not_fire() {
    let (catalog, rule_file) = anomaly_catalog();
    let counters = [
        Counter { name: "voice_provider_requests_total", labels: GROQ_OK, at: requests_ok },
        Counter {
            name: "voice_provider_requests_total",
            labels: GROQ_ERROR,
            at: requests_one_more,
        },
    ];
    // The window holds 5 failures instead of 4: 0.2 point over the median, under the
    // 3 requests' and the standard errors' share of the limit.
    assert_eq!(embedded_first_firing(&catalog, &counters, "AnomalousProviderErrorRatio"), None);
    let quiet: Vec<i64> = (STEADY..=END).step_by(2).collect();
    promtool_agrees(
        "anomaly-one-more",
        &rule_file,
        &counters,
        "AnomalousProviderErrorRatio",
        (&quiet, &[], ""),
    );
}

const TWILIO_COMPLETED: &[(&str, &str)] = &[("transport", "twilio"), ("outcome", "completed")];

#[test]
fn prometheus_and_the_embedded_evaluator_fire_the_same_minute_on_calls_halving() {
    let (catalog, rule_file) = anomaly_catalog();
    let counters =
        [Counter { name: "voice_calls_total", labels: TWILIO_COMPLETED, at: calls_halving }];
    let fired = embedded_first_firing(&catalog, &counters, "AnomalousCallVolume")
        .expect("the embedded evaluator fires");
    // In the first week the band is yesterday's hour: steady, so its MAD is 0 and the
    // limit is 10 % of 1/3 call a second; the 5-minute rate passes it within two
    // minutes of the change, then `for` is 2m.
    assert!((STEADY + 2..=STEADY + 5).contains(&fired), "fired at minute {fired}");
    let labels = "ALERTS{alertname=\"AnomalousCallVolume\",alertstate=\"firing\",anomaly=\"call_volume\",category=\"performance\",job=\"voice_agent\",severity=\"warning\",signal=\"call_volume\",transport=\"twilio\"}";
    promtool_agrees(
        "anomaly-calls",
        &rule_file,
        &counters,
        "AnomalousCallVolume",
        (&[STEADY - 60, fired - 1], &[fired], labels),
    );
}

#[test]
fn a_five_percent_dip_in_calls_does_not_fire() {
    let (catalog, rule_file) = anomaly_catalog();
    let counters =
        [Counter { name: "voice_calls_total", labels: TWILIO_COMPLETED, at: calls_dipping }];
    assert_eq!(embedded_first_firing(&catalog, &counters, "AnomalousCallVolume"), None);
    let quiet: Vec<i64> = (STEADY..=END).step_by(2).collect();
    promtool_agrees(
        "anomaly-calls-dip",
        &rule_file,
        &counters,
        "AnomalousCallVolume",
        (&quiet, &[], ""),
    );
}
