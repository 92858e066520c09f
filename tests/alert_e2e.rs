//! End to end: the demo service (HTTP API, `/media` calls, providers with injected
//! failures and fallbacks, its config check) and a real Prometheus on loopback, scraping
//! every second and running the generated rules. Every recording rule and dashboard query
//! whose metrics the service emits must return finite values in its range through
//! /api/v1/query (those on metrics it does not emit, tracing without a subscriber here,
//! are listed as skipped), and the injected faults must drive exactly their alerts to
//! `firing` in /api/v1/alerts.

mod alert_support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alert_support::{Daemon, TempDir, free_port, tool};
use axum::http::StatusCode;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use voxscope::alert::{Config, RuleCatalog, grafana, prometheus, promql};
use voxscope_tests::{Exposition, serve};

/// The whole test's budget, startup included.
const BUDGET: Duration = Duration::from_secs(90);

/// Prometheus, killed on drop.
struct Prometheus {
    daemon: Daemon,
    base: String,
}

fn start_prometheus(binary: &std::path::Path, target: SocketAddr, rules: &str) -> Prometheus {
    let dir = TempDir::new("prometheus");
    // The production group evaluates every 30 s; here every second, to see results soon.
    let rules = rules.replace("interval: \"30s\"", "interval: \"1s\"");
    std::fs::write(dir.path().join("rules.yml"), rules).expect("write rules");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n\
         scrape_configs:\n  - job_name: voice_agent\n    static_configs:\n      - targets: [\"{target}\"]\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).expect("write config");
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    Prometheus { daemon: Daemon::new(child, dir), base: format!("http://127.0.0.1:{port}") }
}

async fn query(client: &reqwest::Client, base: &str, expr: &str) -> Result<Vec<Value>, String> {
    let response = client
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if body["status"] != "success" {
        return Err(format!("{expr}: {body}"));
    }
    Ok(body["data"]["result"].as_array().cloned().unwrap_or_default())
}

/// The catalog metric behind a series name (`_bucket`/`_sum`/`_count` stripped).
fn base_name(name: &str) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && voxscope::catalog::find(base).is_some()
        {
            return base.to_owned();
        }
    }
    name.to_owned()
}

/// The raw metrics an expression depends on, recorded series resolved through the
/// recording rules that produce them.
fn raw_metrics(catalog: &RuleCatalog, expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for selector in promql::references(expr).selectors {
        if selector.metric.contains(':') {
            for rule in &catalog.recording {
                let slo = rule.labels.get("slo").cloned().unwrap_or_default();
                if expr.contains(&format!("{}{{slo=\"{slo}\"}}", rule.record)) {
                    out.extend(raw_metrics(catalog, &rule.expr));
                }
            }
        } else {
            out.insert(base_name(&selector.metric));
        }
    }
    out
}

/// A Twilio media frame: speech, or mu-law silence (160 bytes of 0xFF, canonical base64).
fn media_frame(n: u64, silent: bool) -> String {
    let payload = if silent { "/".repeat(212) + "/w" } else { "AQID".repeat(53) + "AQ" };
    format!(
        r#"{{"event":"media","sequenceNumber":"{n}","media":{{"track":"inbound","chunk":"{n}","timestamp":"{}","payload":"{payload}=="}},"streamSid":"MZe2e"}}"#,
        n * 20
    )
}

/// One caller on `/media`: a second of speech, silence until the agent answers, then a
/// graceful stop (`completed`) or, when `hang_up_abruptly`, a close without it (`dropped`).
async fn media_call(addr: SocketAddr, n: u64, hang_up_abruptly: bool) {
    let url = format!("ws://{addr}/media?callSid=CAe2e{n}");
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else { return };
    let start = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZe2e","start":{"callSid":"CAe2e","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#;
    if ws.send(Message::text(start)).await.is_err() {
        return;
    }
    for frame in 2..500 {
        if ws.send(Message::text(media_frame(frame, frame >= 52))).await.is_err() {
            return;
        }
        let reply = tokio::time::timeout(Duration::from_millis(20), ws.next()).await;
        if matches!(reply, Ok(Some(Ok(Message::Text(_))))) {
            break;
        }
    }
    if !hang_up_abruptly {
        let stop = r#"{"event":"stop","sequenceNumber":"999","stop":{"callSid":"CAe2e"}}"#;
        let _ = ws.send(Message::text(stop)).await;
    }
    let _ = ws.close(None).await;
}

/// Callers on `/media`, one after another, every fourth hanging up abruptly.
async fn drive_calls(addr: SocketAddr) {
    for n in 0.. {
        media_call(addr, n, n % 4 == 3).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_and_panel_on_emitted_metrics_returns_data_from_a_real_prometheus() {
    let Some(binary) = tool("prometheus", "prometheus") else { return };
    let started = Instant::now();
    let metrics = voxscope::PrometheusInstaller::new().install().expect("install recorder");
    // The whole demo (HTTP API, /media calls, providers whose primaries fail now and then,
    // its startup key check), plus a route that fails, since the demo has none.
    let faults = "stt.primary=error:unavailable@0.3,llm.primary=error:rate_limited@0.3";
    let config = voice_agent::config::Config::parse(
        ["voice_agent".to_owned(), format!("--faults={faults}")],
        |_| None,
    )
    .expect("config");
    let tracing =
        voxscope::trace::TracePipeline::new(&voxscope::trace::TraceConfig::new("voice_agent"))
            .expect("trace pipeline");
    let failing = axum::Router::new()
        .route("/fail", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down for the test\n") }))
        .layer(voice_agent::telemetry::http_layer().expect("layer"));
    let app = voice_agent::service(&config, &metrics, &tracing).expect("demo").merge(failing);
    let addr = serve(app).await;
    let traffic = tokio::spawn(alert_support::drive_traffic(format!("http://{addr}")));
    let calls = tokio::spawn(drive_calls(addr));

    let catalog = RuleCatalog::new(Config::default()).expect("catalog");
    // The production `for` durations would outlast the test: the conditions are what is
    // under test here; promtool's unit tests prove each `for`.
    let mut quick = catalog.clone();
    for alert in &mut quick.alerts {
        alert.for_seconds = 0;
    }
    let mut prom = start_prometheus(&binary, addr, &prometheus::rule_file(&quick));
    let client = reqwest::Client::new();

    // Ready once the HTTP SLO's recorded ratio exists: scrapes and rule evaluation both ran.
    let probe = "slo:sli_error:ratio_rate5m{slo=\"http-availability\"}";
    loop {
        let ready = query(&client, &prom.base, "count_over_time(up{job=\"voice_agent\"}[1m]) >= 5")
            .await
            .is_ok_and(|r| !r.is_empty())
            && query(&client, &prom.base, probe).await.is_ok_and(|r| !r.is_empty());
        if ready {
            break;
        }
        if let Ok(Some(status)) = prom.daemon.child.try_wait() {
            panic!("Prometheus exited early ({status}): is its port taken?");
        }
        assert!(started.elapsed() < BUDGET / 2, "Prometheus did not scrape and evaluate in time");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The faults' alerts fire; wait for them (or the budget) before judging every state.
    let mut states = alert_states(&client, &prom.base).await;
    while !EXPECTED_FIRING
        .iter()
        .all(|name| states.get(*name).map(String::as_str) == Some("firing"))
        && started.elapsed() < BUDGET * 2 / 3
    {
        tokio::time::sleep(Duration::from_millis(500)).await;
        states = alert_states(&client, &prom.base).await;
    }

    let text = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    let mut emitted: BTreeSet<String> =
        Exposition::parse(text).samples.iter().map(|s| base_name(&s.name)).collect();
    emitted.insert("up".to_owned());

    // (what, expr, lowest, highest); the anomaly signals and bands (not ratios, and a
    // day of history before a band) are scored over a labelled month instead.
    let judged: Vec<_> =
        catalog.recording.iter().filter(|r| !r.record.starts_with("anomaly:")).collect();
    let mut exprs: Vec<(String, String, f64, f64)> = judged
        .iter()
        .map(|r| (format!("record {} {:?}", r.record, r.labels), r.expr.clone(), 0.0, 1.0))
        .collect();
    // The service's dashboards; the host's reads the node exporter (tests/alert_host.rs).
    let service = &catalog.config.service.job;
    for dashboard in grafana::dashboards(&catalog).iter().filter(|d| d.job == *service) {
        for panel in &dashboard.panels {
            for (expr, _) in &panel.queries {
                let expr = expr
                    .replace("$__rate_interval", "1m")
                    .replace("$job", "voice_agent")
                    .replace("$instance", ".*");
                let what = format!("panel {}/{}", dashboard.uid, panel.title);
                exprs.push((what, expr, panel.range.0, panel.range.1));
            }
        }
    }

    let (mut evaluated, mut skipped, mut wrong) = (Vec::new(), Vec::new(), Vec::new());
    for (what, expr, low, high) in &exprs {
        let missing: Vec<String> =
            raw_metrics(&catalog, expr).into_iter().filter(|m| !emitted.contains(m)).collect();
        if !missing.is_empty() {
            skipped.push(format!("{what}: not emitted yet: {}", missing.join(", ")));
            continue;
        }
        match query(&client, &prom.base, expr).await {
            Ok(result) if result.is_empty() => {
                // No data is right only where nothing was observed (the demo reports no
                // sentiment): a guarded quantile of a histogram that never moved.
                let mut idle = Vec::new();
                for metric in raw_metrics(&catalog, expr) {
                    let moved = format!("rate({{__name__=~\"{metric}|{metric}_count\"}}[1m]) > 0");
                    if query(&client, &prom.base, &moved).await.is_ok_and(|r| r.is_empty()) {
                        idle.push(metric);
                    }
                }
                if idle.is_empty() {
                    wrong.push(format!("{what}: no data: {expr}"));
                } else {
                    skipped.push(format!("{what}: nothing observed: {}", idle.join(", ")));
                }
            }
            Ok(result) => {
                let values: Vec<f64> = result.iter().map(sample_value).collect();
                let bad: Vec<&f64> = values
                    .iter()
                    .filter(|v| !(v.is_finite() && *low <= **v && **v <= *high))
                    .collect();
                if bad.is_empty() {
                    evaluated.push(what.clone());
                } else {
                    wrong.push(format!("{what}: {bad:?} outside [{low}, {high}]: {expr}"));
                }
            }
            Err(e) => wrong.push(format!("{what}: error {e}")),
        }
    }
    traffic.abort();
    calls.abort();

    // Prometheus itself ran every generated rule without an evaluation error.
    let rules: Value = client
        .get(format!("{}/api/v1/rules", prom.base))
        .send()
        .await
        .expect("rules API")
        .json()
        .await
        .expect("rules JSON");
    let groups = rules["data"]["groups"].as_array().cloned().unwrap_or_default();
    let loaded: Vec<Value> =
        groups.iter().flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default()).collect();
    assert_eq!(
        loaded.len(),
        catalog.recording.len() + catalog.alerts.len(),
        "rules not all loaded"
    );
    let unhealthy: Vec<String> = loaded
        .iter()
        .filter(|r| r["health"] == "err")
        .map(|r| format!("{}: {}", r["name"], r["lastError"]))
        .collect();
    assert!(unhealthy.is_empty(), "{}", unhealthy.join("\n"));
    eprintln!("evaluated {} expressions; skipped {}:", evaluated.len(), skipped.len());
    for line in &skipped {
        eprintln!("  skipped {line}");
    }
    eprintln!("alert states: {states:?}");
    assert!(wrong.is_empty(), "expressions on emitted metrics went wrong:\n{}", wrong.join("\n"));
    // Every recording rule (the service emits every SLI), and most panels.
    let recorded = evaluated.iter().filter(|w| w.starts_with("record")).count();
    assert_eq!(recorded, judged.len(), "{skipped:?}");
    let panels = evaluated.len() - recorded;
    assert!(
        panels * 10 >= (exprs.len() - recorded) * 8,
        "only {panels} panel queries: {skipped:?}"
    );

    for name in catalog.alertnames() {
        let state = states.get(name).map_or("inactive", String::as_str);
        if EXPECTED_FIRING.contains(&name) {
            assert_eq!(state, "firing", "{name} did not fire under the injected faults");
        } else if !UNJUDGED.contains(&name) {
            assert_eq!(state, "inactive", "{name} is {state} though nothing injected it");
        }
    }
    assert!(started.elapsed() < BUDGET, "took {:?}", started.elapsed());
}

/// Alerts the injected faults must fire: missing keys, provider errors and fallbacks of
/// the failing primaries, the route that always fails and the callers who hang up.
const EXPECTED_FIRING: &[&str] = &[
    // The heartbeat, always.
    "Watchdog",
    "ConfigMissing",
    "ProviderErrors",
    "HighFallbackRate",
    "HighHTTPErrorRate",
    "HighCallErrorRate",
    "CallAvailabilityBudgetBurn",
    "HTTPAvailabilityBudgetBurn",
    // The STT fallback answers its first byte in 200 ms, over the 0.2 s warning.
    "HighProviderTTFB",
    // Turns through the slower fallbacks take about 1.5 s, over the 0.8 s objective.
    "HighCallLatency",
    "TurnLatencyBudgetBurn",
];

/// Alerts left unjudged: CPU depends on how loaded the test machine is, and whether a
/// primary's circuit is open at the moment of evaluation on the random run of failures
/// (three in a row open it for 15 s).
const UNJUDGED: &[&str] = &["HighCPUUsage", "ProviderCircuitOpen"];

/// `alertname` → the most severe state among its alerts in /api/v1/alerts.
async fn alert_states(client: &reqwest::Client, base: &str) -> BTreeMap<String, String> {
    let mut states = BTreeMap::new();
    let Ok(response) = client.get(format!("{base}/api/v1/alerts")).send().await else {
        return states;
    };
    let body: Value = response.json().await.unwrap_or_default();
    for alert in body["data"]["alerts"].as_array().cloned().unwrap_or_default() {
        let name = alert["labels"]["alertname"].as_str().unwrap_or_default().to_owned();
        let state = alert["state"].as_str().unwrap_or_default().to_owned();
        let entry = states.entry(name).or_insert_with(|| state.clone());
        if state == "firing" {
            *entry = state;
        }
    }
    states
}

/// The value of one instant-query sample (`"NaN"`, `"+Inf"` parse too).
fn sample_value(sample: &Value) -> f64 {
    sample["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}
