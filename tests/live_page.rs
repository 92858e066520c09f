//! The demo's live page in a real browser: Debian's chromium, driven through
//! playwright-core (tests/live-page, `npm ci` there), loads `/live` while the demo
//! carries simulated calls. The page shows the live-call count and provider totals that
//! `/metrics` shows, an alert fired by injected faults appears on it within 15 s of the
//! alert API having it, it reaches its first data within 2 s, and it requests nothing
//! from another origin. A screenshot of each view goes to docs/screenshots/.

mod alert_support;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alert_support::{TempDir, tool};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use voxscope_tests::{Exposition, start_demo, with_local_prometheus};

/// Evaluations every second; the circuit alert without its minute of `for`; the API's
/// write token from `TOKEN_FILE`.
const ALERT_CONFIG: &str = r#"
[engine]
interval_seconds = 1
[api]
token_file = "TOKEN_FILE"
[rules.ProviderCircuitOpen]
for_seconds = 0
"#;

const ENGINE_TOKEN: &str = "engine-write-token-42";

const VIEWS: [&str; 6] = ["operations", "providers", "http", "summary", "alerts", "traces"];

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// playwright-core over chromium, one JSON command per line.
struct Driver {
    child: Child,
    io: Arc<Mutex<(ChildStdin, BufReader<ChildStdout>)>>,
}

impl Driver {
    /// The driver, or `None` (skipping) when chromium, node or the npm packages are
    /// missing outside CI.
    fn start(dir: &Path) -> Option<Self> {
        let chromium = tool("chromium", "chromium")?;
        let node = tool("node", "nodejs")?;
        if !dir.join("node_modules/playwright-core").is_dir() {
            assert!(std::env::var_os("CI").is_none(), "run `npm ci` in {}", dir.display());
            eprintln!("skipped: no playwright-core in {} (npm ci there)", dir.display());
            return None;
        }
        let mut child = Command::new(node)
            .arg(dir.join("drive.mjs"))
            .current_dir(dir)
            .env("CHROMIUM", chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Some(Self { child, io: Arc::new(Mutex::new((stdin, stdout))) })
    }

    /// Sends `command` and waits for its answer on the blocking pool, so the demo on
    /// this runtime keeps serving the browser meanwhile.
    async fn call(&self, command: Value) -> Value {
        let io = Arc::clone(&self.io);
        let answer = tokio::task::spawn_blocking(move || {
            let mut io = io.lock().unwrap();
            writeln!(io.0, "{command}").expect("driver stdin");
            io.0.flush().unwrap();
            let mut line = String::new();
            io.1.read_line(&mut line).expect("driver stdout");
            serde_json::from_str::<Value>(&line).unwrap_or_else(|_| json!({"error": line}))
        })
        .await
        .unwrap();
        assert!(answer.get("error").is_none(), "driver: {}", answer["error"]);
        answer
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens a Twilio media stream and keeps it alive with a silent frame a second (the
/// demo ends calls idle for 10 s) until the test ends.
async fn keep_call_open(addr: SocketAddr, call_sid: &str) {
    let url = format!("ws://{addr}{}?callSid={call_sid}", voice_agent::media::MEDIA_PATH);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("upgrade");
    let start = format!(
        r#"{{"event":"start","sequenceNumber":"1","streamSid":"MZ{call_sid}","start":{{"callSid":"{call_sid}","mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}}}}"#
    );
    ws.send(Message::text(start)).await.expect("start");
    tokio::spawn(async move {
        let silence = "/".repeat(212) + "/w==";
        for n in 2u64.. {
            let frame = format!(
                r#"{{"event":"media","sequenceNumber":"{n}","media":{{"track":"inbound","chunk":"{n}","timestamp":"{}","payload":"{silence}"}},"streamSid":"MZ"}}"#,
                n * 20
            );
            if ws.send(Message::text(frame)).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// `labels` as `kind provider outcome`-style keys of `names`.
fn key(labels: &Value, names: &[&str]) -> String {
    names.iter().map(|n| labels[*n].as_str().unwrap_or_default()).collect::<Vec<_>>().join(" ")
}

#[test]
fn the_live_page_shows_what_metrics_shows_and_the_alert_in_chromium() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let Some(driver) = Driver::start(&root.join("live-page")) else { return };
    let dir = TempDir::new("live-page");
    let config = dir.0.join("alerts.toml");
    let token_file = dir.0.join("api-token");
    std::fs::write(&token_file, ENGINE_TOKEN).unwrap();
    std::fs::write(&config, ALERT_CONFIG.replace("TOKEN_FILE", token_file.to_str().unwrap()))
        .unwrap();
    let screenshots = root.join("../docs/screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();

    with_local_prometheus(|handle| async move {
        let faults = "--faults=llm.primary=error:rate_limited,tts.primary=latency:150ms";
        let args = [faults, "--alert-config", config.to_str().unwrap()];
        let addr = start_demo(&args, |_| None, &handle).await;
        let base = format!("http://{addr}");
        keep_call_open(addr, "CAlive1").await;
        keep_call_open(addr, "CAlive2").await;

        let opened = driver.call(json!({"cmd": "open", "url": format!("{base}/live")})).await;
        let first_data_ms = opened["first_data_ms"].as_f64().unwrap();
        assert!(
            first_data_ms > 0.0 && first_data_ms < 2000.0,
            "first data after {first_data_ms} ms"
        );

        // Four turns through the failing LLM primary: three failures open its circuit.
        let client = reqwest::Client::new();
        let call: Value =
            client.post(format!("{base}/calls")).send().await.unwrap().json().await.unwrap();
        let id = call["id"].as_str().unwrap().to_owned();
        for _ in 0..4 {
            let turn = client
                .post(format!("{base}/calls/{id}/turn"))
                .body("I need to move my appointment")
                .send()
                .await
                .unwrap();
            assert_eq!(turn.status(), 200);
        }
        let traffic_done_ms = now_ms();

        // When the alert API first has the alert firing.
        let mut api_firing_ms = None;
        for _ in 0..200 {
            let alerts: Value = client
                .get(format!("{base}/api/v1/alerts"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let firing = alerts["data"]["alerts"].as_array().unwrap().iter().any(|a| {
                a["labels"]["alertname"] == "ProviderCircuitOpen" && a["state"] == "firing"
            });
            if firing {
                api_firing_ms = Some(now_ms());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let api_firing_ms = api_firing_ms.expect("ProviderCircuitOpen fires in the alert API");
        let seen = driver
            .call(json!({"cmd": "wait_alert", "name": "ProviderCircuitOpen", "timeout_ms": 15_000}))
            .await;
        let lag = seen["seen_unix_ms"].as_i64().unwrap() - api_firing_ms;
        assert!(lag <= 15_000, "the page showed the alert {lag} ms after the API");

        // Frames computed after the engine scraped the finished traffic (it scrapes
        // every second) show what /metrics shows: nothing moves meanwhile.
        let figures = driver
            .call(json!({"cmd": "figures", "after_ms": traffic_done_ms + 2_000, "timeout_ms": 20_000}))
            .await;
        let text =
            client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        let metrics = Exposition::parse(text);
        assert_eq!(metrics.sum("voice_calls_active", &[]), 2.0);
        assert_eq!(figures["live_calls"].as_f64(), Some(2.0), "{figures}");
        assert_eq!(figures["live_calls_text"], "2");

        let requests = figures["requests"].as_array().unwrap();
        let mut by_key = std::collections::BTreeMap::new();
        for sample in metrics.find("voice_provider_requests_total", &[]) {
            let labels = json!({
                "kind": sample.label("kind"),
                "provider": sample.label("provider"),
                "outcome": sample.label("outcome"),
            });
            *by_key.entry(key(&labels, &["kind", "provider", "outcome"])).or_insert(0.0) +=
                sample.value;
        }
        let expected: Vec<(String, f64)> = by_key.into_iter().collect();
        let mut shown: Vec<(String, f64)> = requests
            .iter()
            .map(|r| {
                (key(&r["labels"], &["kind", "provider", "outcome"]), r["value"].as_f64().unwrap())
            })
            .collect();
        shown.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(shown, expected);
        // Four turns of STT, LLM and TTS; the LLM primary failed three times and its open
        // circuit skipped it once, so openai answered all four.
        let count = |k: &str| shown.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
        assert_eq!(count("llm openai ok"), Some(4.0));
        assert_eq!(count("tts elevenlabs ok"), Some(4.0));

        let fallbacks: Vec<(String, f64)> = figures["fallbacks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (key(&r["labels"], &["kind", "from", "to", "reason"]), r["value"].as_f64().unwrap())
            })
            .collect();
        let fallback = |reason| {
            metrics.sum(
                "voice_provider_fallbacks_total",
                &[("kind", "llm"), ("from", "groq"), ("to", "openai"), ("reason", reason)],
            )
        };
        assert_eq!(fallback("rate_limited"), 3.0);
        assert_eq!(fallback("circuit_open"), 1.0);
        assert!(
            fallbacks.contains(&("llm groq openai rate_limited".to_owned(), 3.0)),
            "{fallbacks:?}"
        );
        assert!(
            fallbacks.contains(&("llm groq openai circuit_open".to_owned(), 1.0)),
            "{fallbacks:?}"
        );
        let circuits = figures["circuits"].as_array().unwrap();
        let groq =
            circuits.iter().find(|r| r["labels"]["provider"] == "groq").expect("groq's circuit");
        assert_eq!(groq["value"], 1.0);
        assert_eq!(metrics.sum("voice_provider_circuit_open", &[("provider", "groq")]), 1.0);

        // Acknowledge and silence from the page, with the engine's token, through the
        // engine's own API.
        for action in ["ack", "silence"] {
            let done = driver
                .call(json!({"cmd": "act", "name": "ProviderCircuitOpen", "action": action,
                    "token": ENGINE_TOKEN, "by": "ops-on-call"}))
                .await;
            assert!(done["result"].as_str().unwrap().starts_with("ProviderCircuitOpen "), "{done}");
        }
        let silences: Value = client
            .get(format!("{base}/alertmanager/api/v2/silences"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let silences = silences.as_array().unwrap();
        assert_eq!(silences.len(), 1, "{silences:?}");
        assert_eq!(silences[0]["createdBy"], "ops-on-call");
        assert_eq!(silences[0]["status"]["state"], "active");
        let alertname = silences[0]["matchers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "alertname")
            .map(|m| m["value"].clone());
        assert_eq!(alertname, Some(json!("ProviderCircuitOpen")));

        for view in VIEWS {
            let path = screenshots.join(format!("live-{view}.png"));
            driver.call(json!({"cmd": "screenshot", "view": view, "path": path})).await;
            let png = std::fs::read(&path).unwrap();
            assert!(
                png.len() > 10_000 && png.starts_with(b"\x89PNG"),
                "{view}: {} bytes",
                png.len()
            );
        }

        let report = driver.call(json!({"cmd": "report"})).await;
        let requests: Vec<&str> =
            report["requests"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(requests.len() >= 6, "the page, its assets and its stream: {requests:?}");
        let foreign: Vec<&&str> =
            requests.iter().filter(|u| !u.starts_with(&format!("{base}/"))).collect();
        assert!(foreign.is_empty(), "requests to another origin: {foreign:?}");
        assert!(requests.contains(&format!("{base}/live/events").as_str()), "{requests:?}");
        let errors = report["console_errors"].as_array().unwrap();
        assert!(errors.is_empty(), "console errors (CSP violations among them): {errors:?}");
        driver.call(json!({"cmd": "close"})).await;
    });
}
