//! End to end: the demo service (HTTP API, `/media` calls, providers with injected
//! failures and fallbacks, its config check) and a real Prometheus on loopback, scraping
//! every second and running the generated rules. Every recording rule and dashboard query
//! whose metrics the service emits must return data through /api/v1/query; those on
//! metrics it does not emit (tracing runs without a subscriber here) are listed as skipped.

mod alert_support;

use std::collections::BTreeSet;
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

/// A Twilio media frame: speech, or mu-law silence (base64 `/`).
fn media_frame(n: u64, silent: bool) -> String {
    let payload = if silent { "/".repeat(214) } else { "AQID".repeat(53) + "AQ" };
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

async fn drive_traffic(base: String) {
    let client = reqwest::Client::new();
    loop {
        if let Ok(response) = client.post(format!("{base}/calls")).send().await
            && let Ok(call) = response.json::<Value>().await
            && let Some(id) = call["id"].as_str()
        {
            let _ = client.get(format!("{base}/calls/{id}")).send().await;
            // A turn through the providers, whose primaries fail now and then.
            let _ = client
                .post(format!("{base}/calls/{id}/turn"))
                .body("move my appointment")
                .send()
                .await;
            let _ = client.post(format!("{base}/calls/{id}/hangup")).send().await;
        }
        let _ = client.get(format!("{base}/calls/nobody")).send().await; // 404
        let _ = client.get(format!("{base}/no/such/path")).send().await; // unmatched 404
        let _ = client.get(format!("{base}/fail")).send().await; // 503
        tokio::time::sleep(Duration::from_millis(50)).await;
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
    let traffic = tokio::spawn(drive_traffic(format!("http://{addr}")));
    let calls = tokio::spawn(drive_calls(addr));

    let catalog = RuleCatalog::new(Config::default()).expect("catalog");
    let mut prom = start_prometheus(&binary, addr, &prometheus::rule_file(&catalog));
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

    let mut exprs: Vec<(String, String)> = catalog
        .recording
        .iter()
        .map(|r| (format!("record {} {:?}", r.record, r.labels), r.expr.clone()))
        .collect();
    for dashboard in grafana::dashboards(&catalog) {
        for panel in &dashboard.panels {
            for (expr, _) in &panel.queries {
                let expr = expr.replace("$__rate_interval", "1m");
                exprs.push((format!("panel {}/{}", dashboard.uid, panel.title), expr));
            }
        }
    }

    let (mut evaluated, mut skipped, mut empty) = (Vec::new(), Vec::new(), Vec::new());
    for (what, expr) in &exprs {
        let missing: Vec<String> =
            raw_metrics(&catalog, expr).into_iter().filter(|m| !emitted.contains(m)).collect();
        if !missing.is_empty() {
            skipped.push(format!("{what}: not emitted yet: {}", missing.join(", ")));
            continue;
        }
        match query(&client, &prom.base, expr).await {
            Ok(result) if !result.is_empty() => evaluated.push(what.clone()),
            Ok(_) => empty.push(format!("{what}: {expr}")),
            Err(e) => empty.push(format!("{what}: error {e}")),
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
    assert!(
        empty.is_empty(),
        "expressions on emitted metrics returned no data:\n{}",
        empty.join("\n")
    );
    // The HTTP SLO's seven windows, and the HTTP dashboard, at the least.
    assert!(evaluated.iter().filter(|w| w.starts_with("record")).count() >= 7, "{evaluated:?}");
    assert!(evaluated.iter().any(|w| w.contains("voxscope-http/5xx share")), "{evaluated:?}");
    assert!(started.elapsed() < BUDGET, "took {:?}", started.elapsed());
}
