//! `[capacity]` forecasts proven with the real promtool: the generated rules lint clean,
//! their unit tests (a rising trend fires after `for` with the forecast value in the
//! description, a flat or slow one stays quiet) pass, and they fail when the rule's
//! budget drifts from the configured one.

mod alert_support;

use alert_support::{run, tool, write_deploy};
use voxscope::alert::{Config, RuleCatalog, deploy, prometheus};

const CAPACITY: &str = r#"
[capacity]
max_concurrent_calls = 200
horizon_hours = 6
trend_minutes = 90
[capacity.daily_tokens]
openai = 2000000
groq = 500000
[capacity.daily_characters]
elevenlabs = 300000
"#;

fn catalog() -> RuleCatalog {
    RuleCatalog::new(Config::from_toml(CAPACITY).expect("valid config")).expect("catalog")
}

#[test]
fn capacity_rules_read_the_trend_of_calls_and_of_recorded_daily_usage() {
    let catalog = catalog();
    let calls = catalog.alerts.iter().find(|a| a.name == "CallCapacityForecast").expect("calls");
    assert_eq!(
        calls.expr,
        "sum by (job) (predict_linear(voice_calls_active{job=\"voice_agent\"}[1h30m], 21600)) >= 200"
    );
    let tokens: Vec<_> =
        catalog.alerts.iter().filter(|a| a.name == "ProviderQuotaForecast").collect();
    assert_eq!(tokens.len(), 2, "one rule per quota");
    assert_eq!(
        tokens[0].expr,
        "predict_linear(provider:gen_ai_client_token_usage:increase1d{provider=\"groq\"}[1h30m], 21600) > 500000 \
         or predict_linear(provider:gen_ai_client_token_usage:increase1d{provider=\"openai\"}[1h30m], 21600) > 2000000"
    );
    let records: Vec<(&str, &str)> =
        catalog.recording.iter().map(|r| (r.record.as_str(), r.expr.as_str())).collect();
    assert!(records.contains(&(
        "provider:voice_tts_characters:increase1d",
        "sum by (job, provider) (increase(voice_tts_characters_total{job=\"voice_agent\"}[1d]))"
    )));
    // Without `[capacity]` nothing is forecast.
    let plain = RuleCatalog::new(Config::default()).expect("default");
    assert!(plain.alerts.iter().all(|a| !a.name.ends_with("Forecast")));
    assert!(plain.recording.iter().all(|r| !r.record.starts_with("provider:")));
}

#[test]
fn promtool_lints_and_unit_tests_the_capacity_forecasts() {
    let Some(promtool) = tool("promtool", "prometheus") else { return };
    let catalog = catalog();
    let dir = write_deploy(&catalog);
    let (output, text) = run(&promtool, dir.path(), &["check", "rules", deploy::RULES]);
    assert!(output.status.success() && !text.contains("FAILED"), "{text}");
    let mut only = catalog.clone();
    only.alerts.retain(|a| a.name.ends_with("Forecast"));
    let path = "prometheus/rules/forecast.test.yml";
    let tests = prometheus::unit_tests(&only, "voxscope.rules.yml");
    std::fs::write(dir.path().join(path), &tests).expect("write");
    for name in [
        "CallCapacityForecast warning fires",
        "CallCapacityForecast warning stays quiet",
        "ProviderQuotaForecast warning fires",
        "ProviderQuotaForecast warning stays quiet",
    ] {
        assert!(tests.contains(&format!("name: \"{name}\"")), "no unit test {name}");
    }
    let (output, text) = run(&promtool, dir.path(), &["test", "rules", path]);
    assert!(output.status.success(), "{text}");
}

/// The unit tests catch a rule whose budget or capacity is not the configured one.
#[test]
fn promtool_unit_tests_fail_when_a_forecast_limit_drifts() {
    let Some(promtool) = tool("promtool", "prometheus") else { return };
    let catalog = catalog();
    for (alertname, from, to) in [
        ("CallCapacityForecast", ">= 200", ">= 2000"),
        ("ProviderQuotaForecast", "> 500000", "> 50000000"),
    ] {
        let dir = write_deploy(&catalog);
        let mut only = catalog.clone();
        only.alerts.retain(|a| a.name == alertname);
        let tests = "prometheus/rules/only.test.yml";
        let path = dir.path().join(tests);
        std::fs::write(&path, prometheus::unit_tests(&only, "voxscope.rules.yml")).expect("write");
        let (output, text) = run(&promtool, dir.path(), &["test", "rules", tests]);
        assert!(output.status.success(), "{alertname} before the change: {text}");
        let rules = dir.path().join(deploy::RULES);
        let text = std::fs::read_to_string(&rules).expect("rules");
        assert!(text.contains(from), "{alertname}: {from} not in the rules");
        std::fs::write(&rules, text.replace(from, to)).expect("write");
        let (output, text) = run(&promtool, dir.path(), &["test", "rules", tests]);
        assert!(!output.status.success(), "{alertname} still passes with {to}: {text}");
    }
}
