//! deploy/scale-out end to end: two demo instances, each `voice_agent::run` (what
//! `main` runs) with its own recorder, scraped by Debian's Prometheus with the
//! generated scale-out config and rules. The rules sum both instances under the job
//! (exactly: 3 + 2 live calls), the per-instance rules and the dashboards' queries
//! with `$instance` set split them, and the rules of deploy/prometheus load beside the
//! variant's own.

mod alert_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alert_support::{Daemon, TempDir, free_port, get_json, tool, write_deploy};
use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use voxscope::alert::{Config, RuleCatalog, scaleout};

/// One demo instance on its own thread: a current-thread runtime whose local recorder
/// is its own, as two processes would have. Stopped and joined on drop.
struct Instance {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Instance {
    fn start() -> Self {
        let (bound, addr) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let (recorder, metrics) = voxscope::PrometheusInstaller::new().build().unwrap();
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            metrics::with_local_recorder(&recorder, || {
                runtime.block_on(async move {
                    let args = ["voice_agent", "--callers=0", "--timeline=off"];
                    let config = voice_agent::config::Config::parse(args, |_| None).unwrap();
                    let tracing = voxscope::trace::TracePipeline::new(
                        &voxscope::trace::TraceConfig::new("voice_agent"),
                    )
                    .unwrap();
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    bound.send(listener.local_addr().unwrap()).unwrap();
                    let shutdown = async move {
                        let _ = stopped.await;
                    };
                    voice_agent::run(&config, &metrics, &tracing, listener, shutdown)
                        .await
                        .expect("the demo runs");
                });
            });
        });
        let addr = addr.recv_timeout(Duration::from_secs(10)).expect("the demo binds");
        Self { addr, stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A Twilio media stream that starts and stays live, as Twilio's Media Streams
/// documentation writes its messages: `connected`, `start`, then a `media` frame of
/// 20 ms of μ-law silence every 200 ms (within the demo's idle timeout), until aborted.
async fn open_call(addr: SocketAddr, n: usize) -> tokio::task::JoinHandle<()> {
    let url = format!("ws://{addr}/media");
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("upgrade");
    let stream = format!("MZ0000000000000000000000000000000{n}");
    let connected = r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#;
    let start = format!(
        r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"AC00000000000000000000000000000000","streamSid":"{stream}","callSid":"CA0000000000000000000000000000000{n}","tracks":["inbound"],"customParameters":{{}},"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}},"streamSid":"{stream}"}}"#
    );
    ws.send(Message::text(connected)).await.unwrap();
    ws.send(Message::text(start)).await.unwrap();
    // 160 bytes of 0xFF (μ-law silence), canonical base64.
    let silence = format!("{}/w==", "////".repeat(53));
    tokio::spawn(async move {
        for sequence in 2_u64.. {
            let media = format!(
                r#"{{"event":"media","sequenceNumber":"{sequence}","media":{{"track":"inbound","chunk":"{sequence}","timestamp":"{}","payload":"{silence}"}},"streamSid":"{stream}"}}"#,
                sequence * 20
            );
            if ws.send(Message::text(media)).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// The demo's own count of live calls, from its `/metrics`.
async fn live_calls(client: &reqwest::Client, addr: SocketAddr) -> f64 {
    let text = client.get(format!("http://{addr}/metrics")).send().await.unwrap();
    let e = voxscope_tests::Exposition::parse(text.text().await.unwrap());
    e.sum("voice_calls_active", &[])
}

/// `query` on Prometheus: value by the label `by` (empty string when absent).
async fn query(
    client: &reqwest::Client,
    prometheus: &str,
    query: &str,
    by: &str,
) -> BTreeMap<String, f64> {
    let url = reqwest::Url::parse_with_params(&format!("{prometheus}/query"), [("query", query)])
        .expect("url");
    let body = get_json(client, url.as_str()).await;
    body["data"]["result"]
        .as_array()
        .map(|series| {
            series
                .iter()
                .map(|s| {
                    let key = s["metric"][by].as_str().unwrap_or_default().to_owned();
                    let value = s["value"][1].as_str().and_then(|v| v.parse().ok());
                    (key, value.unwrap_or(f64::NAN))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `query` until it answers `want` or 30 s pass; returns the last answer.
async fn until(
    client: &reqwest::Client,
    prometheus: &str,
    q: &str,
    by: &str,
    want: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    let started = Instant::now();
    loop {
        let got = query(client, prometheus, q, by).await;
        if &got == want || started.elapsed() > Duration::from_secs(30) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn map(entries: &[(&str, f64)]) -> BTreeMap<String, f64> {
    entries.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sums_two_instances_by_job_and_splits_them_by_instance() {
    let Some(prometheus_bin) = tool("prometheus", "prometheus") else { return };
    let (a, b) = (Instance::start(), Instance::start());
    let (ia, ib) = (a.addr.to_string(), b.addr.to_string());

    // Three live calls on one instance, two on the other, as each counts them.
    let client = reqwest::Client::new();
    let mut calls = Vec::new();
    for n in 0..3 {
        calls.push(open_call(a.addr, n).await);
    }
    for n in 3..5 {
        calls.push(open_call(b.addr, n).await);
    }
    let started = Instant::now();
    while (live_calls(&client, a.addr).await, live_calls(&client, b.addr).await) != (3.0, 2.0) {
        assert!(started.elapsed() < Duration::from_secs(10), "the demos count their calls");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The generated scale-out variant, its instances these two, at test intervals.
    let toml = format!(
        "[deploy]\nscrape_interval_seconds = 1\nevaluation_interval_seconds = 1\n\
         instances = [\"{ia}\", \"{ib}\"]\n"
    );
    let catalog = RuleCatalog::new(Config::from_toml(&toml).unwrap()).unwrap();
    let deploy = write_deploy(&catalog);
    let port = free_port();
    let data = TempDir::new("scale-out-data");
    let child = Command::new(&prometheus_bin)
        .arg(format!("--config.file={}", deploy.path().join(scaleout::PROMETHEUS).display()))
        .arg(format!("--storage.tsdb.path={}", data.path().display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let _prometheus = Daemon::new(child, data);
    let api = format!("http://127.0.0.1:{port}/api/v1");

    // Both instances are targets of the one job.
    let both_up = map(&[(&ia, 1.0), (&ib, 1.0)]);
    let up = until(&client, &api, "up{job=\"voice_agent\"}", "instance", &both_up).await;
    assert_eq!(up, both_up);

    // The variant's rules and those of deploy/prometheus, all loaded.
    let rules = get_json(&client, &format!("{api}/rules")).await;
    let mut groups: Vec<&str> = rules["data"]["groups"]
        .as_array()
        .expect("rule groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    groups.sort_unstable();
    assert_eq!(groups, ["voxscope-alerts", "voxscope-instances", "voxscope-slo-recordings"]);

    // The job's sums are exact; the per-instance rules split them.
    let five = map(&[("voice_agent", 5.0)]);
    let job = until(&client, &api, "job:voice_calls_active:sum", "job", &five).await;
    assert_eq!(job, five);
    let split = map(&[(&ia, 3.0), (&ib, 2.0)]);
    let by_instance = until(&client, &api, "instance:voice_calls_active:sum", "instance", &split);
    assert_eq!(by_instance.await, split);
    let two = map(&[("voice_agent", 2.0)]);
    assert_eq!(until(&client, &api, "job:up:sum", "job", &two).await, two);

    // The dashboards' queries, as Grafana sends them: all instances, then each one.
    let board =
        std::fs::read_to_string(deploy.path().join("grafana/dashboards/voxscope-calls.json"))
            .unwrap();
    let board: Value = serde_json::from_str(&board).unwrap();
    let live = board["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "Live calls vs capacity")
        .and_then(|p| p["targets"][0]["expr"].as_str())
        .expect("the calls dashboard's live calls query")
        .to_owned();
    for (instance, want) in [(".*", 5.0), (ia.as_str(), 3.0), (ib.as_str(), 2.0)] {
        // An address as a regex matches itself, and no other port.
        let q = live.replace("$job", "voice_agent").replace("$instance", instance);
        let got = query(&client, &api, &q, "transport").await;
        assert_eq!(got.values().sum::<f64>(), want, "{q}: {got:?}");
    }
    for call in calls {
        call.abort();
    }
}
