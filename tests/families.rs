//! Metric families from config: a disabled family has no series on a real `/metrics`
//! (the HTTP layer recording every request on loopback), and no rules or panels in the
//! generated files; the rules of application metrics pass promtool's check and the
//! unit tests generated for their alerts, disabled families included. The demo, started
//! through `voice_agent::start` with its recorder built from its alert config's
//! `enabled_metrics`, records and runs rules for those families only.

mod alert_support;

use std::time::Duration;

use alert_support::{TempDir, get_json, run, tool, write_deploy};
use axum::Router;
use axum::routing::get;
use serde_json::Value;
use voice_agent::simulator::{Plan, Script};
use voxscope::alert::{Config, RuleCatalog, deploy, grafana, prometheus};
use voxscope::catalog::AppCatalog;
use voxscope::families::Families;
use voxscope::{HttpMetricsLayer, PrometheusInstaller};
use voxscope_tests::{Exposition, serve, start_demo};

/// Serves `/hello` under the HTTP layer and `/metrics` from a recorder with only
/// `families` on; makes `requests` requests and records one calls gauge and one LLM and
/// one TTS provider counter; returns the scraped exposition.
fn scrape_with(families: Families, requests: usize) -> Exposition {
    let (recorder, handle) = PrometheusInstaller::new().families(families).build().expect("build");
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let layer =
                HttpMetricsLayer::builder().exclude_path("/metrics").build().expect("layer");
            let app = Router::new()
                .route("/hello", get(|| async { "hi" }))
                .merge(handle.endpoint().into_router())
                .layer(layer);
            let addr = serve(app).await;
            let client = reqwest::Client::new();
            for _ in 0..requests {
                let response = client.get(format!("http://{addr}/hello")).send().await;
                assert_eq!(response.expect("hello").status(), 200);
            }
            metrics::gauge!("voice_calls_active", "transport" => "twilio").set(2.0);
            for kind in ["llm", "tts"] {
                metrics::counter!("voice_provider_requests_total",
                    "kind" => kind, "provider" => "p", "outcome" => "ok")
                .increment(3);
            }
            // The layer records when the response body ends, after the client has it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            handle.run_upkeep();
            let text = client
                .get(format!("http://{addr}/metrics"))
                .send()
                .await
                .expect("scrape")
                .text()
                .await
                .expect("body");
            Exposition::parse(text)
        })
    })
}

#[test]
fn a_disabled_family_has_no_series_on_metrics_and_the_enabled_ones_keep_exact_values() {
    let all = scrape_with(Families::all(), 5);
    let on = |e: &Exposition, name: &str| e.samples.iter().any(|s| s.name.starts_with(name));
    assert_eq!(all.count("http_server_request_duration_seconds", &[("route", "/hello")]), 5);
    assert_eq!(all.sum("voice_provider_requests_total", &[("kind", "tts")]), 3.0);

    let app = AppCatalog::new();
    let some = scrape_with(Families::only(["calls", "providers.llm"], &app).expect("families"), 5);
    assert!(!on(&some, "http_server_"), "{}", some.text);
    assert!(!some.text.contains("# HELP http_server_"), "{}", some.text);
    assert_eq!(some.sum("voice_calls_active", &[("transport", "twilio")]), 2.0);
    assert_eq!(some.sum("voice_provider_requests_total", &[("kind", "llm")]), 3.0);
    assert_eq!(some.find("voice_provider_requests_total", &[("kind", "tts")]).count(), 0);
    assert!(!some.text.contains("# HELP process_"), "{}", some.text);
}

const APP: &str = r#"
    [[metrics]]
    name = "orders_total"
    kind = "counter"
    help = "Orders placed, by tier."
    family = "shop"
    labels = [{ name = "tier", values = ["free", "pro"] }]
    thresholds = [{ alert = "ProOrderSurge", above = 5, matchers = { tier = "pro" }, severity = "critical" }]

    [[metrics]]
    name = "csat_score"
    kind = "histogram"
    unit = "score"
    help = "Satisfaction, 1 to 10."
    family = "feedback"
    buckets = [2, 4, 6, 8, 10]
    labels = [{ name = "segment", cap = 10 }]
    thresholds = [{ alert = "SlowCsatRise", above = 8, quantile = 0.5, by = ["segment"] }]
"#;

fn catalog(enabled: &str) -> RuleCatalog {
    RuleCatalog::new(Config::from_toml(&format!("{enabled}\n{APP}")).expect("config"))
        .expect("catalog")
}

fn generated(catalog: &RuleCatalog) -> String {
    let boards = grafana::dashboards(catalog);
    let panels = boards.iter().flat_map(|d| &d.panels).flat_map(|p| &p.queries);
    let queries: Vec<&str> = panels.map(|(q, _)| q.as_str()).collect();
    format!("{}\n{}", prometheus::rule_file(catalog), queries.join("\n"))
}

#[test]
fn a_disabled_family_has_no_rules_or_panels_in_the_generated_files() {
    let all = generated(&catalog(""));
    for read in ["http_server_", "process_", r#"kind="tts""#, "orders_total", "csat_score"] {
        assert!(all.contains(read), "{read} is generated with every family on");
    }
    let some = catalog(r#"enabled_metrics = ["calls", "providers.llm", "shop"]"#);
    let text = generated(&some);
    for left_out in ["http_server_", "process_", r#"kind="tts""#, r#"kind="stt""#, "csat_score"] {
        assert!(!text.contains(left_out), "{left_out} is generated while its family is off");
    }
    for kept in ["voice_calls_", r#"kind="llm""#, "orders_total", "ProOrderSurge"] {
        assert!(text.contains(kept), "{kept} is missing");
    }
    assert!(some.alerts.iter().all(|a| a.name != "SlowCsatRise"));
    assert!(some.slos.iter().all(|s| !s.name.starts_with("http")), "{:?}", some.slos);
    let uids: Vec<&str> = grafana::dashboards(&some).iter().map(|d| d.uid).collect();
    assert!(uids.contains(&grafana::BUSINESS) && !uids.contains(&"voxscope-http"), "{uids:?}");
}

#[test]
fn promtool_checks_and_unit_tests_the_rules_of_application_metrics() {
    let Some(promtool) = tool("promtool", "prometheus") else { return };
    for enabled in ["", r#"enabled_metrics = ["calls", "providers", "shop", "feedback"]"#] {
        let catalog = catalog(enabled);
        assert!(catalog.alerts.iter().any(|a| a.name == "ProOrderSurge"));
        assert!(catalog.alerts.iter().any(|a| a.name == "SlowCsatRise"));
        let dir = write_deploy(&catalog);
        let (output, text) = run(&promtool, dir.path(), &["check", "rules", deploy::RULES]);
        assert!(output.status.success() && !text.contains("FAILED"), "{text}");
        // The unit tests of the application's alerts, against the whole rule file.
        let mut only = catalog.clone();
        only.alerts.retain(|a| ["ProOrderSurge", "SlowCsatRise"].contains(&a.name.as_str()));
        let tests = prometheus::unit_tests(&only, "voxscope.rules.yml");
        assert!(tests.contains("ProOrderSurge critical fires"), "no unit test of ProOrderSurge");
        let path = "prometheus/rules/app.test.yml";
        std::fs::write(dir.path().join(path), tests).expect("write");
        let (output, text) = run(&promtool, dir.path(), &["test", "rules", path]);
        assert!(output.status.success(), "{text}");
    }
}

/// One completed simulated call on a demo whose alert config enables `enabled`; returns
/// its `/metrics` once every metric of `recorded` counts the call (and 500 ms more), the
/// rules its engine runs, and the application tables of its engine's report once it
/// counts `report_total` conversations (or after 30 s).
fn demo_with(enabled: &str, recorded: &[&str], report_total: f64) -> (Exposition, String, Value) {
    let dir = TempDir::new("demo-families");
    let path = dir.path().join("alerts.toml");
    std::fs::write(&path, format!("enabled_metrics = {enabled}\n")).expect("write");
    let path = path.to_str().expect("utf-8").to_owned();
    let args = ["voice_agent", "--alert-config", &path];
    let config = voice_agent::config::Config::parse(args, |_| None).expect("config");
    let installer = voice_agent::families::installer(&config).expect("installer");
    let (recorder, handle) = installer.build().expect("recorder");
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let addr = start_demo(&["--alert-config", &path], |_| None, &handle).await;
            let url = voice_agent::callers::media_url(addr);
            let script = Script { plan: Plan::Complete, turns: 1, stop_at: 0, gap_ms: 0 };
            let outcome = voice_agent::simulator::call(&url, "CAfamily1", script).await;
            assert_eq!(outcome.ended, "completed");
            let client = reqwest::Client::new();
            let scrape = || async {
                let response = client.get(format!("http://{addr}/metrics")).send().await;
                Exposition::parse(response.expect("scrape").text().await.expect("body"))
            };
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            loop {
                let e = scrape().await;
                let done = recorded.iter().all(|name| e.sum(name, &[]) >= 1.0);
                if done || std::time::Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let scraped = scrape().await;
            let rules = get_json(&client, &format!("http://{addr}/api/v1/rules")).await;
            let report_url = format!("http://{addr}/api/v1/report?since=10m&format=json");
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            let tables = loop {
                let tables = get_json(&client, &report_url).await["app_metrics"].clone();
                let conversations = tables
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|t| t["metric"] == "conversations_total")
                    .flat_map(|t| t["rows"].as_array().cloned().unwrap_or_default())
                    .filter_map(|r| r["figures"]["total"].as_f64())
                    .sum::<f64>();
                if conversations >= report_total || std::time::Instant::now() > deadline {
                    break tables;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            };
            (scraped, rules.to_string(), tables)
        })
    })
}

#[test]
fn the_demo_records_and_alerts_on_only_the_families_its_alert_config_enables() {
    let profile = voice_agent::business::Profile::of("CAfamily1");
    let (off, rules, tables) =
        demo_with(r#"["http", "calls", "providers"]"#, &["voice_calls_total"], 0.0);
    assert_eq!(off.sum("voice_calls_total", &[("outcome", "completed")]), 1.0, "{}", off.text);
    assert!(!off.text.contains("conversations_total"), "{}", off.text);
    assert!(!off.text.contains("satisfaction_score"), "{}", off.text);
    assert!(rules.contains("HighCallErrorRate"), "{rules}");
    assert!(!rules.contains("ManyAbandonedConversations"), "{rules}");
    assert_eq!(tables, serde_json::json!([]), "the report has tables of a disabled family");

    // `business` is a family the alert config may name though it declares no metric.
    let recorded = ["voice_calls_total", "conversations_total"];
    let (on, rules, tables) = demo_with(r#"["calls", "business"]"#, &recorded, 1.0);
    assert_eq!(on.sum("voice_calls_total", &[("outcome", "completed")]), 1.0, "{}", on.text);
    let tier = [("status", "completed"), ("tier", profile.tier)];
    assert_eq!(on.sum("conversations_total", &tier), 1.0, "{}", on.text);
    assert_eq!(on.sum("conversations_total", &[]), 1.0, "{}", on.text);
    assert!(!on.text.contains("http_server_"), "{}", on.text);
    assert!(rules.contains("ManyAbandonedConversations"), "{rules}");
    assert!(!rules.contains("HighHTTPErrorRate"), "{rules}");
    // The engine's weekly report counts the conversation, born in its period, once.
    let conversations = tables
        .as_array()
        .and_then(|t| t.iter().find(|t| t["metric"] == "conversations_total"))
        .unwrap_or_else(|| panic!("no conversations table in {tables}"));
    let expected = serde_json::json!([{
        "labels": {"status": "completed", "tier": profile.tier},
        "figures": {"total": 1.0},
    }]);
    assert_eq!(conversations["rows"], expected, "{tables}");
}
