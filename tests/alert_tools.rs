//! The generated rules and Alertmanager config, proven with the real tools: promtool
//! (lint and unit tests for every alert) and amtool (config check and routing).

mod alert_support;

use alert_support::{run, tool, write_deploy};
use voxscope::alert::{Config, RuleCatalog, Severity, deploy, prometheus};

fn default_catalog() -> RuleCatalog {
    RuleCatalog::new(Config::default()).expect("default config is valid")
}

#[test]
fn promtool_check_rules_passes_with_lint() {
    let Some(promtool) = tool("promtool", "prometheus") else { return };
    let dir = write_deploy(&default_catalog());
    let (output, text) = run(&promtool, dir.path(), &["check", "rules", deploy::RULES]);
    // promtool reports lint findings as FAILED but still exits 0.
    assert!(output.status.success() && !text.contains("FAILED"), "{text}");
    assert!(text.contains("SUCCESS"), "{text}");
}

#[test]
fn promtool_accepts_prometheus_yml_with_the_generated_rules() {
    let Some(promtool) = tool("promtool", "prometheus") else { return };
    let dir = write_deploy(&default_catalog());
    let (output, text) =
        run(&promtool, dir.path(), &["check", "config", "prometheus/prometheus.yml"]);
    assert!(output.status.success() && !text.contains("FAILED"), "{text}");
    assert!(text.contains("SUCCESS: 1 rule files found"), "rules not picked up: {text}");
}

#[test]
fn promtool_unit_tests_prove_every_alert_fires_after_for_and_stays_quiet_under() {
    let Some(promtool) = tool("promtool", "prometheus") else { return };
    let catalog = default_catalog();
    let dir = write_deploy(&catalog);
    let tests = std::fs::read_to_string(dir.path().join(deploy::RULE_TESTS)).expect("read");
    // The anomaly alerts read a day of history: tests/anomaly_rules.rs runs promtool on
    // them, tests/anomaly_score.rs scores them over a labelled month.
    let fixtured =
        catalog.alerts.iter().filter(|a| a.severity == Severity::None || !a.fixture.is_empty());
    for rule in fixtured {
        let outcomes: &[&str] =
            if rule.severity == Severity::None { &["fires"] } else { &["fires", "stays quiet"] };
        for outcome in outcomes {
            let name = format!("name: \"{} {} {outcome}\"", rule.name, rule.severity);
            assert!(tests.contains(&name), "no unit test {name}");
        }
    }
    let (output, text) = run(&promtool, dir.path(), &["test", "rules", deploy::RULE_TESTS]);
    assert!(output.status.success(), "{text}");
}

/// Runs the unit tests of `alertname` against the generated rule file after replacing
/// `from` with `to` in it (YAML-escaped text); returns promtool's output, asserting
/// that the tests pass before the change and fail after it.
fn mutated(alertname: &str, from: &str, to: &str) -> Option<String> {
    let promtool = tool("promtool", "prometheus")?;
    let catalog = default_catalog();
    let dir = write_deploy(&catalog);
    let mut only = catalog.clone();
    only.alerts.retain(|a| a.name == alertname);
    let tests = "prometheus/rules/only.test.yml";
    std::fs::write(dir.path().join(tests), prometheus::unit_tests(&only, "voxscope.rules.yml"))
        .expect("write");
    let (output, text) = run(&promtool, dir.path(), &["test", "rules", tests]);
    assert!(output.status.success(), "{text}");

    let rules = dir.path().join(deploy::RULES);
    let text = std::fs::read_to_string(&rules).expect("read");
    let changed = text.replace(from, to);
    assert_ne!(changed, text, "{from} is not in the rule file");
    std::fs::write(&rules, changed).expect("write");
    let (output, text) = run(&promtool, dir.path(), &["test", "rules", tests]);
    assert!(!output.status.success(), "the change went unnoticed:\n{text}");
    Some(text)
}

#[test]
fn promtool_unit_tests_fail_when_a_threshold_drifts_from_its_fixture() {
    // Raise HighHTTPErrorRate's 5 % threshold to 50 % behind the tests' back.
    let shape = r#"/ sum by (job, route) (rate(http_server_request_duration_seconds_count{job=\"voice_agent\"}[5m]))"#;
    let Some(text) =
        mutated("HighHTTPErrorRate", &format!("{shape} > 0.05"), &format!("{shape} > 0.5"))
    else {
        return;
    };
    assert!(text.contains("HighHTTPErrorRate critical fires"), "{text}");
}

#[test]
fn promtool_unit_tests_fail_when_an_le_matcher_misses_prometheus_3s_form() {
    // The LLM TTFB objective at 2 s, matched as the exposition writes it only.
    let Some(text) = mutated("ProviderTTFBBudgetBurn", r#"le=~\"2(\\\\.0)?\""#, r#"le=\"2\""#)
    else {
        return;
    };
    assert!(text.contains("with le as Prometheus 3 writes it"), "{text}");
}

#[test]
fn promtool_unit_tests_fail_when_a_rule_reads_another_job() {
    let from = r#"process_resident_memory_bytes{job=\"voice_agent\"}"#;
    let Some(text) = mutated("HighMemoryUsage", from, "process_resident_memory_bytes") else {
        return;
    };
    assert!(text.contains("stays quiet when only job prometheus crosses"), "{text}");
}

#[test]
fn promtool_unit_tests_fail_when_a_ratio_alert_has_no_minimum_of_events() {
    let guard = r#" and sum by (job, route) (increase(http_server_request_duration_seconds_count{job=\"voice_agent\"}[5m])) >= 10"#;
    let Some(text) = mutated("HighHTTPErrorRate", guard, "") else { return };
    assert!(text.contains("stays quiet with all of 5 events failing"), "{text}");
}

#[test]
fn promtool_unit_tests_fail_when_a_burn_rate_alert_has_no_minimum_of_events() {
    let guard = r#" and on (job) sum by (job) (increase(voice_calls_total{job=\"voice_agent\"}[5m])) >= 10"#;
    let Some(text) = mutated("CallAvailabilityBudgetBurn", guard, "") else { return };
    assert!(text.contains("CallAvailabilityBudgetBurn critical stays quiet with"), "{text}");
}

#[test]
fn promtool_unit_tests_fail_when_fallbacks_are_divided_by_all_provider_requests() {
    // Fallbacks over every provider request, the fallbacks' own requests included.
    let turns = r#"rate(voice_provider_chain_duration_seconds_count{job=\"voice_agent\"}[5m])) >"#;
    let requests = r#"rate(voice_provider_requests_total{job=\"voice_agent\"}[5m])) >"#;
    let Some(text) = mutated("HighFallbackRate", turns, requests) else {
        return;
    };
    assert!(text.contains("HighFallbackRate warning fires"), "{text}");
}

#[test]
fn a_custom_config_gets_rules_and_unit_tests_that_agree() {
    let Some(promtool) = tool("promtool", "prometheus") else { return };
    let config = Config::from_toml(
        r#"
        [service]
        job = "agents"
        [thresholds]
        http_error_ratio = 0.01
        http_latency_p95_seconds = 0.5
        fallback_ratio_warning = 0.2
        fallback_ratio_critical = 0.3
        memory_bytes = 536870912
        [thresholds.ttfb.llm]
        warning = 0.8
        critical = 1.5
        [slo]
        http_availability = 0.9999
        turn_latency = { objective = 0.99, threshold_seconds = 1.5 }
        [rules.HighCPUUsage]
        for_seconds = 600
        severity = "critical"
        labels = { team = "voice" }
        [rules."HighFallbackRate/warning"]
        disabled = true
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
    let names = catalog.alertnames();
    for custom in ["ManyMediaGaps", "FewProvidersAllowed", "SlowCalls"] {
        assert!(names.contains(&custom), "{custom} missing");
    }
    let cpu = catalog.alerts.iter().find(|a| a.name == "HighCPUUsage").expect("cpu");
    assert_eq!((cpu.for_seconds, cpu.severity), (600, Severity::Critical));
    let fallbacks: Vec<Severity> = catalog
        .alerts
        .iter()
        .filter(|a| a.name == "HighFallbackRate")
        .map(|a| a.severity)
        .collect();
    assert_eq!(fallbacks, [Severity::Critical]);
    let dir = write_deploy(&catalog);
    let tests = std::fs::read_to_string(dir.path().join(deploy::RULE_TESTS)).expect("read");
    assert!(tests.contains("team: \"voice\""), "the override's label is not under test");
    let (output, text) = run(&promtool, dir.path(), &["test", "rules", deploy::RULE_TESTS]);
    assert!(output.status.success(), "{text}");
}

#[test]
fn amtool_accepts_the_alertmanager_config_and_its_templates() {
    let Some(amtool) = tool("amtool", "prometheus-alertmanager") else { return };
    let dir = write_deploy(&default_catalog());
    let (output, text) = run(&amtool, dir.path(), &["check-config", deploy::ALERTMANAGER]);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 templates"), "templates were not loaded: {text}");
}

#[test]
fn amtool_routes_every_alert_to_the_receivers_of_its_severity_and_category() {
    let Some(amtool) = tool("amtool", "prometheus-alertmanager") else { return };
    let catalog = default_catalog();
    let dir = write_deploy(&catalog);
    let config = format!("--config.file={}", deploy::ALERTMANAGER);
    let mut routed = Vec::new();
    for rule in &catalog.alerts {
        let expected = match (rule.severity, rule.category.as_str()) {
            (Severity::Critical | Severity::Emergency, _) => "critical",
            (Severity::Warning, "quality") => "quality",
            (Severity::Warning, _) => "warning",
            (Severity::Info, _) => "default",
            (Severity::None, _) => "watchdog",
        };
        let labels = [
            format!("alertname={}", rule.name),
            format!("severity={}", rule.severity),
            format!("category={}", rule.category),
        ];
        let verify = format!("--verify.receivers={expected}");
        let mut args = vec!["config", "routes", "test", config.as_str(), verify.as_str()];
        args.extend(labels.iter().map(String::as_str));
        let (output, text) = run(&amtool, dir.path(), &args);
        assert!(output.status.success(), "{} {}: {text}", rule.name, rule.severity);
        routed.push(expected);
    }
    // A warning must not also reach the critical receivers (no `continue` leaks).
    let args = [
        "config",
        "routes",
        "test",
        config.as_str(),
        "--verify.receivers=critical",
        "severity=warning",
        "category=errors",
        "alertname=HighFallbackRate",
    ];
    let (output, _) = run(&amtool, dir.path(), &args);
    assert!(!output.status.success(), "a warning reached the critical receivers");
    for receiver in ["critical", "warning", "quality"] {
        assert!(routed.contains(&receiver), "no alert routes to {receiver}");
    }
}

#[test]
fn dashboards_type_check_against_grafana_schema() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana-schema");
    if !dir.join("node_modules/@grafana/schema").is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but @grafana/schema is not installed: run tests/grafana-schema/check.sh"
        );
        eprintln!("skipped: run tests/grafana-schema/check.sh to install @grafana/schema and tsc");
        return;
    }
    let Some(node) = tool("node", "nodejs") else { return };
    let (output, text) = run(&node, &dir, &["check.mjs"]);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("dashboards match @grafana/schema's Dashboard type"), "{text}");
}
