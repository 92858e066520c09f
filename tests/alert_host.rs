//! The host dashboard and alerts against the real tools: `run-local.sh` starts Debian's
//! node exporter beside Prometheus; every panel query of the host dashboard returns
//! finite data within the panel's range, and Prometheus evaluates the host alerts
//! without an error.

mod alert_support;

use std::time::{Duration, Instant};

use alert_support::{Stack, free_port, get_json, tool, write_deploy};
use voxscope::alert::{Config, RuleCatalog, grafana};

/// Every series of the instant query `expr`, as (labels, value).
async fn query(client: &reqwest::Client, prometheus: &str, expr: &str) -> Vec<(String, f64)> {
    let answer = client.get(format!("{prometheus}/query")).query(&[("query", expr)]).send().await;
    let Ok(answer) = answer else { return Vec::new() };
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    assert_ne!(body["status"], "error", "{expr}: {body}");
    body["data"]["result"]
        .as_array()
        .map(|samples| {
            samples
                .iter()
                .map(|s| {
                    let value = s["value"][1].as_str().and_then(|v| v.parse().ok());
                    (s["metric"].to_string(), value.unwrap_or(f64::NAN))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_host_panel_shows_finite_data_from_a_real_node_exporter() {
    let Some(_) = tool("prometheus", "prometheus") else { return };
    let Some(_) = tool("prometheus-alertmanager", "prometheus-alertmanager") else { return };
    let Some(_) = tool("prometheus-blackbox-exporter", "prometheus-blackbox-exporter") else {
        return;
    };
    let Some(_) = tool("prometheus-node-exporter", "prometheus-node-exporter") else { return };
    let Some(sh) = tool("sh", "dash") else { return };
    let started = Instant::now();

    let toml = "[deploy]\nscrape_interval_seconds = 1\nevaluation_interval_seconds = 1\n";
    let catalog = RuleCatalog::new(Config::from_toml(toml).expect("config")).expect("catalog");
    let dir = write_deploy(&catalog);
    let prom_port = free_port();
    let _stack = Stack::start(
        &sh,
        dir.path(),
        &[
            // No service: the host is what this test watches.
            ("VOXSCOPE_TARGET", format!("127.0.0.1:{}", free_port())),
            ("PROMETHEUS_PORT", prom_port.to_string()),
            ("ALERTMANAGER_PORT", free_port().to_string()),
            ("BLACKBOX_PORT", free_port().to_string()),
            ("NODE_EXPORTER_PORT", free_port().to_string()),
        ],
    );
    let client = reqwest::Client::new();
    let prometheus = format!("http://127.0.0.1:{prom_port}/api/v1");

    let host = grafana::dashboards(&catalog)
        .into_iter()
        .find(|d| d.uid == "voxscope-host")
        .expect("host dashboard");
    assert_eq!(host.job, "node");
    // Grafana's variables as the dashboard opens: its job, every instance, and a rate
    // window of a few of this test's 1 s scrapes.
    let queries: Vec<(String, String, (f64, f64))> = host
        .panels
        .iter()
        .flat_map(|panel| {
            panel.queries.iter().map(|(expr, _)| {
                let expr = expr
                    .replace("$__rate_interval", "5s")
                    .replace("$job", &host.job)
                    .replace("$instance", ".*");
                (panel.title.clone(), expr, panel.range)
            })
        })
        .collect();
    assert!(queries.len() >= 12, "{} queries", queries.len());
    let titles: Vec<&str> = host.panels.iter().map(|p| p.title.as_str()).collect();
    for needed in ["CPU busy per core", "Memory", "Disk I/O", "Network throughput"] {
        assert!(titles.contains(&needed), "no panel {needed}: {titles:?}");
    }

    // Every query answers once the exporter has been scraped a few times.
    let mut empty: Vec<String> = Vec::new();
    loop {
        empty.clear();
        for (title, expr, _) in &queries {
            if query(&client, &prometheus, expr).await.is_empty() {
                empty.push(format!("{title}: {expr}"));
            }
        }
        if empty.is_empty() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no data:\n{}", empty.join("\n"));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut wrong = Vec::new();
    for (title, expr, (low, high)) in &queries {
        for (labels, value) in query(&client, &prometheus, expr).await {
            if !(value.is_finite() && *low <= value && value <= *high) {
                wrong.push(format!("{title}: {labels} = {value} outside [{low}, {high}]"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // One series per core in the per-core panel.
    let per_core = &queries.iter().find(|(t, ..)| t == "CPU busy per core").expect("panel").1;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(query(&client, &prometheus, per_core).await.len() >= cores);

    // Prometheus evaluates every host alert without an error.
    let rules = get_json(&client, &format!("{prometheus}/rules")).await;
    let host_rules: Vec<(String, String)> = rules["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["name"].as_str().is_some_and(|n| n.starts_with("Host")))
        .map(|r| (r["name"].as_str().unwrap_or_default().to_owned(), r["health"].to_string()))
        .collect();
    assert_eq!(host_rules.len(), 3, "{host_rules:?}");
    assert!(host_rules.iter().all(|(_, health)| health == "\"ok\""), "{host_rules:?}");
}
