//! The in-process rule evaluator against the real promtool: every promtool fixture of
//! the generated unit tests (firing, quiet, idle, other-job, low-volume and Prometheus 3
//! `le` cases) is fed to `RuleEvaluator` one sample a minute; the alerts IT fires, with
//! their labels and annotations, at every checked time and every third minute, for
//! every alertname, are written as a promtool test file, and `promtool test rules` must
//! pass it against the generated rule file.

mod alert_support;

use alert_support::{run, tool, write_deploy};
use serde_json::{Value, json};
use voxscope::alert::eval::{ActiveAlert, AlertState, Labels, RuleEvaluator, StorageLimits};
use voxscope::alert::prometheus::unit_test_cases;
use voxscope::alert::{Config, RuleCatalog, Series, deploy, yaml};

const MINUTE: i64 = 60_000;

/// `name{k="v",...}` as promtool reads a series selector.
fn parse_series(text: &str) -> Labels {
    let (name, mut rest) = match text.find('{') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let mut labels = Labels::from([("__name__".to_owned(), name.to_owned())]);
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].trim_start_matches(',').trim().to_owned();
        let body = &rest[eq + 2..];
        let close = body.find('"').expect("closing quote");
        labels.insert(key, body[..close].to_owned());
        rest = &body[close + 1..];
    }
    labels
}

/// promtool's expanding notation: `a+bxn` is n+1 values, `_xn` n missing ones.
fn expand(values: &str) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for item in values.split_whitespace() {
        let (head, times) = match item.split_once('x') {
            Some((head, n)) => (head, Some(n.parse::<usize>().expect("repeat count"))),
            None => (item, None),
        };
        if head == "_" {
            out.extend(std::iter::repeat_n(None, times.unwrap_or(1)));
            continue;
        }
        let split = head[1..].find(['+', '-']).map(|i| i + 1);
        let (start, step) = match split {
            Some(i) => {
                (head[..i].parse::<f64>().expect("start"), head[i..].parse::<f64>().expect("step"))
            }
            None => (head.parse::<f64>().expect("value"), 0.0),
        };
        let count = times.map_or(1, |n| n + 1);
        let mut value = start;
        for _ in 0..count {
            out.push(Some(value));
            value += step;
        }
    }
    out
}

/// The firing alerts the evaluator raises at each minute `0..=until` over `input`.
fn evaluate(catalog: &RuleCatalog, input: &[Series], until: i64) -> Vec<Vec<ActiveAlert>> {
    let mut evaluator = RuleEvaluator::new(catalog);
    let mut storage = evaluator.storage(StorageLimits::default());
    let series: Vec<(Labels, Vec<Option<f64>>)> =
        input.iter().map(|s| (parse_series(&s.series), expand(&s.values))).collect();
    let mut out = Vec::new();
    for minute in 0..=until {
        for (labels, values) in &series {
            if let Some(Some(v)) = values.get(minute as usize) {
                storage.append(labels, minute * MINUTE, *v).expect("append");
            }
        }
        let alerts = evaluator.evaluate(&mut storage, minute * MINUTE);
        for rule in evaluator.rules() {
            assert_eq!(rule.last_error, None, "{} at minute {minute}", rule.name);
        }
        out.push(alerts.into_iter().filter(|a| a.state == AlertState::Firing).collect());
    }
    out
}

/// promtool's `exp_alerts` for `alerts` (alertname is implied by the check).
fn expected(alerts: &[&ActiveAlert]) -> Vec<Value> {
    alerts
        .iter()
        .map(|a| {
            let mut labels = a.labels.clone();
            labels.remove("alertname");
            json!({"exp_labels": labels, "exp_annotations": a.annotations})
        })
        .collect()
}

/// A case: name, input, the minutes checked, the alertname it is about.
struct Case {
    name: String,
    input: Vec<Series>,
    minutes: Vec<i64>,
}

/// Runs every case through the evaluator, writes its alerts as promtool tests, and has
/// promtool check them against the rule file generated from `catalog`. Returns the
/// evaluator's firing alerts per case and minute.
fn differential(catalog: &RuleCatalog, cases: &[Case]) -> Vec<Vec<Vec<ActiveAlert>>> {
    let names = catalog.alertnames();
    let mut tests = Vec::new();
    let mut results = Vec::new();
    for case in cases {
        let until = case.minutes.iter().copied().max().unwrap_or(0);
        let fired = evaluate(catalog, &case.input, until);
        let checks: Vec<Value> = case
            .minutes
            .iter()
            .flat_map(|minute| {
                let fired = &fired[*minute as usize];
                names.iter().map(move |name| {
                    let of_name: Vec<&ActiveAlert> =
                        fired.iter().filter(|a| a.labels["alertname"] == *name).collect();
                    json!({
                        "eval_time": format!("{minute}m"),
                        "alertname": name,
                        "exp_alerts": expected(&of_name),
                    })
                })
            })
            .collect();
        let input: Vec<Value> =
            case.input.iter().map(|s| json!({"series": s.series, "values": s.values})).collect();
        tests.push(json!({
            "name": case.name,
            "interval": "1m",
            "input_series": input,
            "alert_rule_test": checks,
        }));
        results.push(fired);
    }
    if let Some(promtool) = tool("promtool", "prometheus") {
        let dir = write_deploy(catalog);
        // Without an order promtool sorts the groups unstably: recording rules may run
        // after the alerts that read them. The evaluator runs them first.
        let doc = json!({
            "rule_files": ["voxscope.rules.yml"],
            "evaluation_interval": "1m",
            "group_eval_order": ["voxscope-slo-recordings", "voxscope-alerts"],
            "tests": tests,
        });
        let path = "prometheus/rules/evaluator.test.yml";
        std::fs::write(dir.path().join(path), yaml::to_string(&doc)).expect("write tests");
        let (output, text) = run(&promtool, dir.path(), &["test", "rules", path]);
        assert!(output.status.success(), "promtool disagrees with the evaluator:\n{text}");
    }
    results
}

/// Every generated unit test as a case, checked at its own times and every 3 minutes.
fn generated_cases(catalog: &RuleCatalog) -> Vec<Case> {
    unit_test_cases(catalog)
        .into_iter()
        .map(|test| {
            let last = test.eval_times.iter().copied().max().unwrap_or(0) as i64 / 60;
            let mut minutes: Vec<i64> = test.eval_times.iter().map(|s| *s as i64 / 60).collect();
            minutes.extend((0..=last).step_by(3));
            minutes.sort_unstable();
            minutes.dedup();
            Case { name: test.name, input: test.input, minutes }
        })
        .collect()
}

fn firing_names(alerts: &[ActiveAlert]) -> Vec<&str> {
    alerts.iter().map(|a| a.labels["alertname"].as_str()).collect()
}

/// The evaluator does fire in every "fires" case at its last check, and stays quiet on
/// its alert in every "stays quiet" case: the promtool comparison is not vacuous.
fn assert_fires_and_stays_quiet(
    catalog: &RuleCatalog,
    cases: &[Case],
    fired: &[Vec<Vec<ActiveAlert>>],
) {
    let tests = unit_test_cases(catalog);
    for ((case, test), fired) in cases.iter().zip(&tests).zip(fired) {
        let last = fired.last().expect("evaluated");
        let of_rule = firing_names(last).into_iter().filter(|n| *n == test.alertname).count();
        if case.name.contains(" fires") {
            assert!(of_rule >= 1, "{}: {:?}", case.name, firing_names(last));
        } else {
            for minute in &test.eval_times {
                let at = &fired[*minute as usize / 60];
                assert!(
                    !firing_names(at).contains(&test.alertname.as_str()),
                    "{} fired at {minute} s",
                    case.name
                );
            }
        }
    }
}

#[test]
fn the_evaluator_fires_what_promtool_fires_on_every_generated_fixture() {
    let catalog = RuleCatalog::new(Config::default()).expect("default config");
    let cases = generated_cases(&catalog);
    assert!(cases.len() > 100, "{} cases", cases.len());
    let fired = differential(&catalog, &cases);
    assert_fires_and_stays_quiet(&catalog, &cases, &fired);
}

#[test]
fn the_evaluator_agrees_with_promtool_on_a_custom_config() {
    let config = Config::from_toml(
        r#"
        [service]
        job = "agents"
        [thresholds]
        http_error_ratio = 0.01
        http_latency_p95_seconds = 0.5
        [thresholds.ttfb.llm]
        warning = 0.8
        critical = 1.5
        [slo]
        turn_latency = { objective = 0.99, threshold_seconds = 1.5 }
        [rules.HighCPUUsage]
        for_seconds = 600
        severity = "critical"
        labels = { team = "voice" }
        [[custom_rules]]
        name = "ManyMediaGaps"
        metric = "voice_call_media_gaps_total"
        by = ["transport"]
        above = 0.5
        [[custom_rules]]
        name = "FewProvidersAllowed"
        metric = "voice_provider_concurrency_limit"
        matchers = { kind = "llm" }
        by = ["provider"]
        below = 4
        severity = "info"
        [[custom_rules]]
        name = "SlowCalls"
        metric = "voice_call_duration_seconds"
        by = ["outcome"]
        above = 60
        quantile = 0.9
        "#,
    )
    .expect("valid config");
    let catalog = RuleCatalog::new(config).expect("catalog");
    let cases = generated_cases(&catalog);
    let fired = differential(&catalog, &cases);
    assert_fires_and_stays_quiet(&catalog, &cases, &fired);
}

/// A `below` threshold on an application counter: a rate under it fires, a flow that
/// stopped included, and a counter that never counted (no traffic at all) stays quiet.
/// The generated cases (whose idle case is such a counter) and a stop, a trickle, a
/// steady flow and a counter left at 0 agree with promtool, at every minute.
#[test]
fn counter_below_thresholds_fire_on_a_low_or_stopped_flow_not_without_traffic() {
    let config = Config::from_toml(
        r#"
        [[metrics]]
        name = "orders_total"
        kind = "counter"
        help = "Orders placed, by payment method."
        labels = [{ name = "method", values = ["card", "invoice"] }]
        thresholds = [{ alert = "FewOrders", below = 0.5, by = ["method"], for_seconds = 120 }]
        "#,
    )
    .expect("valid config");
    let mut catalog = RuleCatalog::new(config).expect("catalog");
    catalog.alerts.retain(|a| a.name == "FewOrders");
    let rule = &catalog.alerts[0];
    assert_eq!(
        rule.expr,
        "sum by (job, method) (rate(orders_total{job=\"voice_agent\"}[5m])) < 0.5 \
         and sum by (job, method) (orders_total{job=\"voice_agent\"}) > 0"
    );
    let cases = generated_cases(&catalog);
    assert!(cases.iter().any(|c| c.name == "FewOrders warning stays quiet when idle"));
    let fired = differential(&catalog, &cases);
    assert_fires_and_stays_quiet(&catalog, &cases, &fired);

    let card = "orders_total{job=\"voice_agent\",instance=\"voice-agent:3000\",method=\"card\"}";
    let case = |name: &str, values: &str| Case {
        name: name.to_owned(),
        input: vec![Series { series: card.to_owned(), values: values.to_owned() }],
        minutes: (0..=40).collect(),
    };
    let cases = [
        // One order a second for 10 minutes, then none.
        case("stopped flow", "0+60x10 600+0x30"),
        // 0.2 orders a second throughout.
        case("trickle", "0+12x40"),
        case("steady flow", "0+60x40"),
        // Exported, never incremented.
        case("no traffic", "0+0x40"),
    ];
    let fired = differential(&catalog, &cases);
    let firing =
        |case: usize| -> Vec<usize> { (0..=40).filter(|m| !fired[case][*m].is_empty()).collect() };
    // The 5-minute rate falls under 0.5 at minute 13 (120 orders in the window) and
    // holds for 2 minutes; from minute 15 on it is 0 and keeps firing.
    assert_eq!(firing(0), (15..=40).collect::<Vec<_>>());
    // Counted from minute 1, fired 2 minutes later, at 0.2 orders a second.
    assert_eq!(firing(1), (3..=40).collect::<Vec<_>>());
    let trickle = &fired[1][40][0];
    assert_eq!(trickle.labels["method"], "card");
    assert!((trickle.value - 0.2).abs() < 1e-9, "{}", trickle.value);
    assert!(firing(2).is_empty(), "{:?}", firing(2));
    assert!(firing(3).is_empty(), "{:?}", firing(3));
}

/// The capacity forecasts: `predict_linear` over a gauge and over a recorded series,
/// fitted in process, fire and stay quiet where promtool's do.
#[test]
fn the_evaluator_agrees_with_promtool_on_capacity_forecasts() {
    let config = Config::from_toml(
        r#"
        [capacity]
        max_concurrent_calls = 120
        horizon_hours = 3
        [capacity.daily_tokens]
        openai = 1000000
        groq = 300000
        [capacity.daily_characters]
        elevenlabs = 200000
        "#,
    )
    .expect("valid config");
    let mut catalog = RuleCatalog::new(config).expect("catalog");
    catalog.alerts.retain(|a| a.name.ends_with("Forecast"));
    assert_eq!(catalog.alertnames(), ["CallCapacityForecast", "ProviderQuotaForecast"]);
    let cases = generated_cases(&catalog);
    let fired = differential(&catalog, &cases);
    assert_fires_and_stays_quiet(&catalog, &cases, &fired);
}

#[test]
fn keep_firing_for_holds_an_alert_as_promtool_does_and_a_return_resets_it() {
    let config = Config::from_toml("[rules.ServiceDown]\nkeep_firing_for_seconds = 300\n")
        .expect("valid config");
    let catalog = RuleCatalog::new(config).expect("catalog");
    let rules =
        std::fs::read_to_string(write_deploy(&catalog).path().join(deploy::RULES)).expect("rules");
    assert!(rules.contains("keep_firing_for: \"5m\""), "not rendered");
    let up = "up{job=\"voice_agent\",instance=\"voice-agent:3000\"}";
    let case = |name: &str, values: &str| Case {
        name: name.to_owned(),
        input: vec![Series { series: up.to_owned(), values: values.to_owned() }],
        minutes: (0..=25).collect(),
    };
    let cases = [
        // Down for minutes 0..=9, up from 10: fires from 1, kept until 15.
        case("down then up", "0+0x9 1+0x20"),
        // Up again at 10, down again at 13 inside the keep window: it never resolves,
        // and the keep window restarts from the next recovery (16), ending at 21.
        case("down, up, down, up", "0+0x9 1+0x2 0+0x2 1+0x12"),
    ];
    let fired = differential(&catalog, &cases);
    let down_at = |case: usize, minute: usize| {
        fired[case][minute]
            .iter()
            .any(|a| a.labels["alertname"] == "ServiceDown" && !a.labels.contains_key("cause"))
    };
    let firing: Vec<usize> = (0..=25).filter(|m| down_at(0, *m)).collect();
    assert_eq!(firing, (1..=14).collect::<Vec<_>>());
    let firing: Vec<usize> = (0..=25).filter(|m| down_at(1, *m)).collect();
    assert_eq!(firing, (1..=20).collect::<Vec<_>>());
}

/// The same inputs, restored from the alerts of a first evaluator: a firing alert keeps
/// firing with its `active_at`, not pending again.
#[test]
fn restored_alerts_come_back_firing_with_their_start() {
    let catalog = RuleCatalog::new(Config::default()).expect("catalog");
    let up = Labels::from([
        ("__name__".to_owned(), "up".to_owned()),
        ("job".to_owned(), "voice_agent".to_owned()),
        ("instance".to_owned(), "a:3000".to_owned()),
    ]);
    let mut before = RuleEvaluator::new(&catalog);
    let mut storage = before.storage(StorageLimits::default());
    let mut saved = Vec::new();
    for minute in 0..=3 {
        storage.append(&up, minute * MINUTE, 0.0).expect("append");
        saved = before.evaluate(&mut storage, minute * MINUTE);
    }
    let down = |alerts: &[ActiveAlert]| -> Option<(AlertState, i64)> {
        alerts
            .iter()
            .find(|a| a.labels["alertname"] == "ServiceDown")
            .map(|a| (a.state, a.active_at_ms))
    };
    assert_eq!(down(&saved), Some((AlertState::Firing, 0)));
    let mut after = RuleEvaluator::new(&catalog);
    assert_eq!(after.restore(saved.clone()), saved.len());
    storage.append(&up, 4 * MINUTE, 0.0).expect("append");
    let alerts = after.evaluate(&mut storage, 4 * MINUTE);
    assert_eq!(down(&alerts), Some((AlertState::Firing, 0)));
    // A fresh evaluator over the same storage would start it pending.
    let mut fresh = RuleEvaluator::new(&catalog);
    let alerts = fresh.evaluate(&mut storage, 4 * MINUTE);
    assert_eq!(down(&alerts), Some((AlertState::Pending, 4 * MINUTE)));
}

#[test]
fn the_fixture_notation_expands_as_promtool_documents_it() {
    assert_eq!(expand("1+2x2 _x2 5"), [Some(1.0), Some(3.0), Some(5.0), None, None, Some(5.0)]);
    assert_eq!(expand("-1-1x1"), [Some(-1.0), Some(-2.0)]);
    let labels = parse_series("x{route=\"/calls/{id}\",le=\"+Inf\"}");
    assert_eq!((labels["route"].as_str(), labels["le"].as_str()), ("/calls/{id}", "+Inf"));
}

/// The evaluator scrapes the exposition voxscope's own Prometheus recorder renders (an
/// encoder it does not share code with) and computes the ratio the rule states.
#[test]
fn the_evaluator_scrapes_voxscopes_own_exposition_and_computes_the_error_ratio() {
    let catalog = RuleCatalog::new(Config::default()).expect("catalog");
    let mut evaluator = RuleEvaluator::new(&catalog);
    let mut storage = evaluator.storage(StorageLimits::default());
    let (recorder, handle) = voxscope::PrometheusInstaller::new().build().expect("recorder");
    let target = Labels::from([
        ("job".to_owned(), "voice_agent".to_owned()),
        ("instance".to_owned(), "127.0.0.1:3000".to_owned()),
    ]);
    let requests = |ok: usize, failed: usize| {
        metrics::with_local_recorder(&recorder, || {
            for (status, n) in [("200", ok), ("503", failed)] {
                let labels = [("method", "GET"), ("route", "/calls/{id}"), ("status", status)];
                let h = metrics::histogram!("http_server_request_duration_seconds", &labels);
                for _ in 0..n {
                    h.record(0.1);
                }
            }
        });
    };
    requests(1, 1);
    let first = storage.ingest_exposition(&handle.render(), 0, &target).expect("scrape");
    assert!(first.samples > 10 && first.rejected == 0, "{first:?}");
    evaluator.evaluate(&mut storage, 0);
    requests(89, 9);
    storage.ingest_exposition(&handle.render(), MINUTE, &target).expect("scrape");
    let alerts = evaluator.evaluate(&mut storage, MINUTE);
    let errors: Vec<&ActiveAlert> =
        alerts.iter().filter(|a| a.labels["alertname"] == "HighHTTPErrorRate").collect();
    assert_eq!(errors.len(), 1, "{alerts:#?}");
    let alert = errors[0];
    // 10 of 100 requests failed: extrapolated increases of 10 and 90.
    assert!((alert.value - 0.1).abs() < 1e-12, "{}", alert.value);
    assert_eq!((alert.state, alert.active_at_ms), (AlertState::Pending, MINUTE));
    assert_eq!(alert.labels["route"], "/calls/{id}");
    assert_eq!(alert.labels["job"], "voice_agent");
    assert!(alert.annotations["description"].starts_with("10% of requests to /calls/{id}"));
    assert!(alerts.iter().all(|a| a.labels["alertname"] != "ServiceDown"), "up is 1");
}

#[test]
fn rules_show_what_prometheus_api_v1_rules_shows() {
    use voxscope::alert::eval::{RuleHealth, RuleKind};
    let catalog = RuleCatalog::new(Config::default()).expect("catalog");
    let mut evaluator = RuleEvaluator::new(&catalog);
    let before = evaluator.rules();
    assert!(
        before.iter().all(|r| r.health == RuleHealth::Unknown && r.last_evaluation_ms.is_none())
    );
    let mut storage = evaluator.storage(StorageLimits::default());
    evaluator.evaluate(&mut storage, 7 * MINUTE);
    let rules = evaluator.rules();
    assert_eq!(rules.len(), catalog.recording.len() + catalog.alerts.len());
    for rule in &rules {
        assert_eq!(
            (rule.health, rule.last_error.as_deref()),
            (RuleHealth::Ok, None),
            "{}",
            rule.name
        );
        assert_eq!(rule.last_evaluation_ms, Some(7 * MINUTE));
        assert!(rule.evaluation_time_seconds >= 0.0 && rule.evaluation_time_seconds < 1.0);
    }
    let recording = rules.iter().filter(|r| r.kind == RuleKind::Recording).count();
    assert_eq!(recording, catalog.recording.len());
    let cpu = catalog.alerts.iter().find(|a| a.name == "HighCPUUsage").expect("cpu");
    let status = rules.iter().find(|r| r.name == "HighCPUUsage").expect("status");
    assert_eq!(status.query, cpu.expr);
    assert_eq!((status.duration_seconds, status.keep_firing_for_seconds), (300, 0));
    assert_eq!(status.labels["severity"], "warning");
    assert_eq!(status.annotations["summary"], cpu.summary);
    assert_eq!(status.state, Some(AlertState::Inactive));
    let watchdog = rules.iter().find(|r| r.name == "Watchdog").expect("watchdog");
    assert_eq!(watchdog.state, Some(AlertState::Firing));
    assert_eq!(watchdog.alerts.len(), 1);
}

/// Two instances down under a rule label that overwrites `instance`: two alerts with
/// one label set, which Prometheus refuses; the rule reports it and raises nothing.
#[test]
fn a_rule_whose_alerts_collide_reports_the_error_in_its_health() {
    use voxscope::alert::eval::RuleHealth;
    let config = Config::from_toml("[rules.ServiceDown]\nlabels = { instance = \"all\" }\n")
        .expect("valid config");
    let catalog = RuleCatalog::new(config).expect("catalog");
    let mut evaluator = RuleEvaluator::new(&catalog);
    let mut storage = evaluator.storage(StorageLimits::default());
    for instance in ["a:1", "b:1"] {
        let up = Labels::from([
            ("__name__".to_owned(), "up".to_owned()),
            ("job".to_owned(), "voice_agent".to_owned()),
            ("instance".to_owned(), instance.to_owned()),
        ]);
        storage.append(&up, 0, 0.0).expect("append");
    }
    let alerts = evaluator.evaluate(&mut storage, 0);
    assert!(alerts.iter().all(|a| a.labels["alertname"] != "ServiceDown"));
    let down = evaluator.rules().into_iter().find(|r| r.name == "ServiceDown").expect("rule");
    assert_eq!(down.health, RuleHealth::Err);
    assert_eq!(
        down.last_error.as_deref(),
        Some("vector contains metrics with the same labelset after applying alert labels")
    );
}

/// Every series is kept in the history's tiers, whether a rule reads it or not; a
/// history shorter than a rule's window reaches back as far as the rule reads.
#[test]
fn every_series_is_kept_the_history_and_at_least_as_long_as_a_rule_reads() {
    let catalog = RuleCatalog::new(Config::default()).expect("catalog");
    let lookback = voxscope::alert::eval::LOOKBACK_MS;
    let series = |name: &str, pairs: &[(&str, &str)]| {
        let mut labels: Labels =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        labels.insert("__name__".to_owned(), name.to_owned());
        labels
    };
    let cases = [
        // Read over the 3-day SLO window (and, recorded as the call volume, a week back).
        series("voice_calls_total", &[("job", "voice_agent")]),
        // Read by an instant selector only.
        series("process_resident_memory_bytes", &[("job", "voice_agent")]),
        // Another job's series: no rule reads it.
        series("voice_calls_total", &[("job", "prometheus")]),
    ];
    let mut storage = RuleEvaluator::new(&catalog).storage(StorageLimits::default());
    for labels in &cases {
        storage.append(labels, 0, 1.0).expect("append");
        assert_eq!(storage.retention_ms(labels), Some(30 * 86_400_000), "{labels:?}");
    }
    let day = voxscope::alert::eval::StepTier { step_ms: 60_000, retention_ms: 86_400_000 };
    let short = StorageLimits {
        aggregates: day,
        summaries: voxscope::alert::eval::StepTier::OFF,
        ..StorageLimits::default()
    };
    let mut storage = RuleEvaluator::new(&catalog).storage(short);
    for labels in &cases {
        storage.append(labels, 0, 1.0).expect("append");
        // The anomaly rules' week band reads the hour around this time a week ago.
        let week_band = 7 * 86_400_000 + 1_800_000;
        assert_eq!(storage.retention_ms(labels), Some(week_band + lookback), "{labels:?}");
    }
}
