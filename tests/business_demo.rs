//! The demo's business metrics, end to end: the demo started through `voice_agent::start`
//! with the recorder `main` installs, simulated Twilio callers whose `start` carries their
//! profile, one hand-written Twilio call with parameters the demo does not know, then
//! `/metrics` holds exactly what those calls were, and a real Prometheus scraping the demo
//! (with the generated rules, threshold alerts included) answers every business-board query
//! with finite values.

mod alert_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use alert_support::{Stack, free_port, get_json, tool, write_deploy};
use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use voice_agent::business::{self, Profile};
use voice_agent::simulator::{Plan, Script};
use voxscope::alert::{Config, RuleCatalog, grafana};
use voxscope_tests::{Exposition, start_stoppable_demo};

/// Simulated calls that end with `stop`.
const COMPLETED: usize = 6;

/// `COMPLETED` call ids, at least one of them a buyer.
fn completed_sids() -> Vec<String> {
    let mut sids: Vec<String> = (0..).map(|i| format!("CAbiz{i}")).take(COMPLETED).collect();
    let buyer = (COMPLETED..).map(|i| format!("CAbiz{i}")).find(|s| Profile::of(s).converted);
    if !sids.iter().any(|s| Profile::of(s).converted) {
        sids[0] = buyer.expect("a buyer");
    }
    sids
}

/// A Twilio call written by hand: `connected`, `start` with `customParameters`, `stop`.
async fn twilio_call(url: &str, parameters: Value) {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{url}?callSid=CAhand1")).await.expect("dial");
    let start = serde_json::json!({
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "accountSid": "AC0123456789abcdef0123456789abcdef",
            "streamSid": "MZhand1",
            "callSid": "CAhand1",
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": parameters,
        },
        "streamSid": "MZhand1",
    });
    let stop = r#"{"event":"stop","sequenceNumber":"2","streamSid":"MZhand1","stop":{"accountSid":"AC0123456789abcdef0123456789abcdef","callSid":"CAhand1"}}"#;
    let connected = r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#;
    for frame in [connected.to_owned(), start.to_string(), stop.to_owned()] {
        ws.send(Message::text(frame)).await.expect("send");
    }
    let _ = ws.close(None).await;
}

async fn render(client: &reqwest::Client, url: &str) -> Exposition {
    let text = match client.get(url).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    Exposition::parse(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_records_each_conversation_once_and_prometheus_answers_the_business_board() {
    let Some(_) = tool("prometheus", "prometheus") else { return };
    let Some(_) = tool("prometheus-alertmanager", "prometheus-alertmanager") else { return };
    let Some(sh) = tool("sh", "dash") else { return };
    let started = Instant::now();
    let metrics = voice_agent::telemetry::install_metrics().expect("install recorder");
    let demo = start_stoppable_demo(&[], |_| None, &metrics).await;
    let addr = demo.addr;

    // Prometheus and Alertmanager of the generated deploy/, scraping the demo every
    // second, with the demo's business metrics declared.
    let mut config = Config::from_toml(
        "[deploy]\nscrape_interval_seconds = 1\nevaluation_interval_seconds = 1\n",
    )
    .expect("config");
    config.metrics = business::catalog();
    let catalog = RuleCatalog::new(config).expect("catalog");
    assert!(catalog.alerts.iter().any(|a| a.name == "ManyAbandonedConversations"));
    let dir = write_deploy(&catalog);
    let (prom_port, am_port) = (free_port(), free_port());
    let _stack = Stack::start(
        &sh,
        dir.path(),
        &[
            ("VOXSCOPE_TARGET", addr.to_string()),
            ("PROMETHEUS_PORT", prom_port.to_string()),
            ("ALERTMANAGER_PORT", am_port.to_string()),
            ("VOXSCOPE_WEBHOOK_URL", "http://127.0.0.1:9/default".to_owned()),
            ("VOXSCOPE_WATCHDOG_URL", "http://127.0.0.1:9/watchdog".to_owned()),
        ],
    );
    let client = reqwest::Client::new();
    let prometheus = format!("http://127.0.0.1:{prom_port}/api/v1");
    loop {
        let targets = get_json(&client, &format!("{prometheus}/targets")).await;
        let up = targets["data"]["activeTargets"].as_array().is_some_and(|targets| {
            targets.iter().any(|t| t["labels"]["job"] == "voice_agent" && t["health"] == "up")
        });
        if up {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "demo target not up: {targets}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let rules = get_json(&client, &format!("{prometheus}/rules")).await;
    assert!(rules.to_string().contains("ManyAbandonedConversations"), "{rules}");

    // The calls: completed ones with their profiles, one cut off, one by hand.
    let url = voice_agent::callers::media_url(addr);
    let sids = completed_sids();
    for sid in &sids {
        let script = Script { plan: Plan::Complete, turns: 1, stop_at: 0, gap_ms: 0 };
        let outcome = voice_agent::simulator::call(&url, sid, script).await;
        assert_eq!(outcome.ended, "completed", "{sid}");
    }
    let script = Script { plan: Plan::Disconnect, turns: 1, stop_at: 0, gap_ms: 0 };
    let gone = voice_agent::simulator::call(&url, "CAbizgone", script).await;
    assert_eq!(gone.ended, "disconnected");
    let odd = serde_json::json!({
        "tier": "platinum", "category": "devices", "converted": "yes", "satisfaction": "11",
    });
    twilio_call(&url, odd).await;

    // /metrics: exactly those conversations.
    let metrics_url = format!("http://{addr}/metrics");
    let total = COMPLETED as f64 + 2.0;
    let deadline = Instant::now() + Duration::from_secs(20);
    let e = loop {
        let e = render(&client, &metrics_url).await;
        if e.sum(business::CONVERSATIONS, &[]) >= total || Instant::now() > deadline {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut expected: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    let mut conversions: BTreeMap<&str, f64> = BTreeMap::new();
    let mut ratings: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
    for sid in &sids {
        let p = Profile::of(sid);
        *expected.entry(("completed", p.tier)).or_default() += 1.0;
        if p.converted {
            *conversions.entry(p.category).or_default() += 1.0;
        }
        let r = ratings.entry(p.tier).or_default();
        *r = (r.0 + 1, r.1 + f64::from(p.satisfaction));
    }
    *expected.entry(("abandoned", Profile::of("CAbizgone").tier)).or_default() += 1.0;
    *expected.entry(("completed", "__overflow__")).or_default() += 1.0;
    assert_eq!(e.sum(business::CONVERSATIONS, &[]), total, "{}", e.text);
    for ((status, tier), count) in &expected {
        let got = e.sum(business::CONVERSATIONS, &[("status", status), ("tier", tier)]);
        assert_eq!(got, *count, "{status} {tier}: {}", e.text);
    }
    for (category, count) in &conversions {
        assert_eq!(e.sum(business::CONVERSIONS, &[("category", category)]), *count);
    }
    assert_eq!(e.sum(business::CONVERSIONS, &[]), conversions.values().sum::<f64>());
    for (tier, (count, sum)) in &ratings {
        let tier = [("tier", *tier)];
        assert_eq!(e.count(business::SATISFACTION, &tier), *count, "{tier:?}");
        assert_eq!(e.sum(&format!("{}_sum", business::SATISFACTION), &tier), *sum, "{tier:?}");
        let all = e.sum(&format!("{}_bucket", business::SATISFACTION), &[tier[0], ("le", "+Inf")]);
        assert_eq!(all, *count as f64, "buckets, not a summary: {tier:?}");
    }
    assert!(e.text.contains("# HELP satisfaction_score Post-call satisfaction ratings"));
    assert_eq!(e.sum(business::REJECTED, &[("parameter", "satisfaction")]), 1.0);
    assert_eq!(e.sum(business::REJECTED, &[("parameter", "converted")]), 1.0);
    assert_eq!(
        e.sum("voxscope_label_overflow_total", &[("metric", business::CONVERSATIONS)]),
        1.0,
        "the platinum tier folded and counted once"
    );

    // Two more scrapes, then every business-board query over the last minute.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let boards = grafana::dashboards(&catalog);
    let board = boards.iter().find(|d| d.uid == grafana::BUSINESS).expect("business board");
    assert_eq!(board.panels.len(), business::catalog().metrics().len());
    for panel in &board.panels {
        for (query, legend) in &panel.queries {
            let promql = query
                .replace("$__rate_interval", "1m")
                .replace("$job", "voice_agent")
                .replace("$instance", ".*");
            let answer = client
                .get(format!("{prometheus}/query"))
                .query(&[("query", promql.as_str())])
                .send()
                .await
                .expect("query")
                .json::<Value>()
                .await
                .expect("json");
            let result = answer["data"]["result"].as_array().cloned().unwrap_or_default();
            assert!(!result.is_empty(), "{} / {legend}: {promql} → {answer}", panel.title);
            for sample in result {
                let value: f64 = sample["value"][1].as_str().unwrap_or("NaN").parse().unwrap();
                assert!(value.is_finite() && value >= 0.0, "{promql}: {sample}");
            }
        }
    }
    demo.stop().await;
}
