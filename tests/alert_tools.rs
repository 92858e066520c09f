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
    for rule in &catalog.alerts {
        for outcome in ["fires", "stays quiet"] {
            let name = format!("name: \"{} {} {outcome}\"", rule.name, rule.severity);
            assert!(tests.contains(&name), "no unit test {name}");
        }
    }
    let (output, text) = run(&promtool, dir.path(), &["test", "rules", deploy::RULE_TESTS]);
    assert!(output.status.success(), "{text}");
}

#[test]
fn promtool_unit_tests_fail_when_a_threshold_drifts_from_its_fixture() {
    let Some(promtool) = tool("promtool", "prometheus") else { return };
    let catalog = default_catalog();
    let dir = write_deploy(&catalog);
    // Only HighHTTPErrorRate's tests, against the full (drifted) rule file: quick.
    let mut only_http = catalog.clone();
    only_http.alerts.retain(|a| a.name == "HighHTTPErrorRate");
    let tests = dir.path().join("prometheus/rules/http.test.yml");
    std::fs::write(&tests, prometheus::unit_tests(&only_http, "voxscope.rules.yml"))
        .expect("write");
    let tests = "prometheus/rules/http.test.yml";
    let (output, text) = run(&promtool, dir.path(), &["test", "rules", tests]);
    assert!(output.status.success(), "{text}");

    let rules = dir.path().join(deploy::RULES);
    let text = std::fs::read_to_string(&rules).expect("read");
    // Raise HighHTTPErrorRate's 5 % threshold to 50 % behind the tests' back.
    let shape = "/ sum by (route) (rate(http_server_request_duration_seconds_count[5m]))";
    let drifted = text.replacen(&format!("{shape} > 0.05"), &format!("{shape} > 0.5"), 1);
    assert_ne!(drifted, text, "the HighHTTPErrorRate expression changed shape");
    std::fs::write(&rules, drifted).expect("write");
    let (output, text) = run(&promtool, dir.path(), &["test", "rules", tests]);
    assert!(!output.status.success(), "a drifted threshold went unnoticed:\n{text}");
    assert!(text.contains("HighHTTPErrorRate critical fires"), "{text}");
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
        "#,
    )
    .expect("valid config");
    let dir = write_deploy(&RuleCatalog::new(config).expect("catalog"));
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
