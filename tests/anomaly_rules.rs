//! The generated anomaly rules in a real Prometheus (promtool) and in the embedded
//! evaluator, on the same series: a day of steady turns, then the turn latency doubles.
//! Both fire `AnomalousTurnLatency` at the same minute, and neither before it.

#[path = "alert_support/mod.rs"]
mod support;

use support::{TempDir, run, tool};
use voxscope::alert::RuleCatalog;
use voxscope::alert::anomaly::{AnomalySettings, anomaly_rules};
use voxscope::alert::eval::{AlertState, Labels, RuleEvaluator};
use voxscope::alert::expr::Scope;

/// Minutes of steady turns (60 a minute at 0.5 s) before the latency doubles.
const STEADY: i64 = 26 * 60;
const END: i64 = STEADY + 30;

fn sum_at(minute: i64) -> f64 {
    if minute <= STEADY {
        30.0 * minute as f64
    } else {
        30.0 * STEADY as f64 + 60.0 * (minute - STEADY) as f64
    }
}

fn series(name: &str) -> Labels {
    Labels::from([
        ("__name__".to_owned(), name.to_owned()),
        ("job".to_owned(), "voice_agent".to_owned()),
        ("transport".to_owned(), "twilio".to_owned()),
    ])
}

/// The first minute the embedded evaluator has the alert firing.
fn embedded_first_firing(catalog: &RuleCatalog) -> Option<i64> {
    let mut evaluator = RuleEvaluator::new(catalog);
    let mut storage = evaluator.storage(Default::default());
    for minute in 0..=END {
        let t = minute * 60_000;
        storage.append(&series("voice_turn_latency_seconds_sum"), t, sum_at(minute)).unwrap();
        storage
            .append(&series("voice_turn_latency_seconds_count"), t, 60.0 * minute as f64)
            .unwrap();
        let alerts = evaluator.evaluate(&mut storage, t);
        if alerts.iter().any(|a| {
            a.labels["alertname"] == "AnomalousTurnLatency" && a.state == AlertState::Firing
        }) {
            return Some(minute);
        }
    }
    None
}

#[test]
fn prometheus_and_the_embedded_evaluator_fire_the_same_minute_on_a_latency_shift() {
    let mut catalog = RuleCatalog::new(Default::default()).unwrap();
    let scope = Scope::rules(catalog.config.job_matcher(), 300);
    let rules = anomaly_rules(&AnomalySettings::default(), &scope);
    let rule_file = rules.rule_file(&catalog);
    catalog.recording = rules.recording.clone();
    catalog.alerts = rules.alerts.clone();
    let fired = embedded_first_firing(&catalog).expect("the embedded evaluator fires");
    // The 5-minute mean crosses the band the first minute after the shift; `for` is 2m.
    assert!((STEADY + 2..=STEADY + 4).contains(&fired), "fired at minute {fired}");

    let Some(promtool) = tool("promtool", "prometheus") else { return };
    let dir = TempDir::new("anomaly-rules");
    std::fs::write(dir.path().join("anomaly.rules.yml"), &rule_file).unwrap();
    let (out, text) = run(&promtool, dir.path(), &["check", "rules", "anomaly.rules.yml"]);
    assert!(out.status.success(), "{text}");
    let sums: Vec<String> = (0..=END).map(|m| sum_at(m).to_string()).collect();
    let firing = |minute: i64, expected: bool| {
        let samples = if expected {
            "\n        - labels: 'ALERTS{alertname=\"AnomalousTurnLatency\",alertstate=\"firing\",anomaly=\"turn_latency\",category=\"performance\",job=\"voice_agent\",severity=\"warning\",signal=\"turn_latency\",transport=\"twilio\"}'\n          value: 1"
        } else {
            " []"
        };
        format!(
            "    - expr: 'ALERTS{{alertname=\"AnomalousTurnLatency\",alertstate=\"firing\"}}'\n      eval_time: {minute}m\n      exp_samples:{samples}\n"
        )
    };
    let test = format!(
        "rule_files: [anomaly.rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n      \
         - series: 'voice_turn_latency_seconds_sum{{job=\"voice_agent\",transport=\"twilio\"}}'\n        values: '{}'\n      \
         - series: 'voice_turn_latency_seconds_count{{job=\"voice_agent\",transport=\"twilio\"}}'\n        values: '0+60x{END}'\n    \
         promql_expr_test:\n{}{}{}",
        sums.join(" "),
        firing(STEADY - 60, false),
        firing(fired - 1, false),
        firing(fired, true),
    );
    std::fs::write(dir.path().join("anomaly.test.yml"), test).unwrap();
    let (out, text) = run(&promtool, dir.path(), &["test", "rules", "anomaly.test.yml"]);
    assert!(
        out.status.success(),
        "promtool disagrees with the embedded evaluator (minute {fired}):\n{text}"
    );
}
