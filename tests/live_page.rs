//! The demo's live page in a real browser: Debian's chromium, driven through
//! playwright-core (tests/live-page, `npm ci` there), loads `/live` while the demo
//! carries simulated calls. The page shows the live-call count and provider totals that
//! `/metrics` shows, an alert fired by injected faults appears on it within 15 s of the
//! alert API having it, it reaches its first data within 2 s, and it requests nothing
//! from another origin. A screenshot of each view is taken and checked; with
//! `VOXSCOPE_BLESS=1` they go to docs/screenshots/, otherwise to a scratch directory,
//! so a test run leaves the tracked files alone.
//!
//! The forecast view over a demo that restores a known history (live_page_support):
//! the projections reach their limits when the capacity alerts the engine fires say
//! (within a minute), the recommendations list exactly what the history calls for,
//! with its figures, on the page and on the event stream, and none on clean data.

mod alert_support;
mod live_page_support;

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
/// Where the screenshots go: docs/screenshots/ with `VOXSCOPE_BLESS=1`, which refreshes
/// the ones README shows, otherwise `scratch`.
fn screenshots(root: &std::path::Path, scratch: &std::path::Path) -> PathBuf {
    let dir = if std::env::var_os("VOXSCOPE_BLESS").is_some() {
        root.join("../docs/screenshots")
    } else {
        scratch.join("screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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
    let screenshots = screenshots(&root, &dir.0);

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

/// The first `forecast` frame on the demo's event stream computed at or after `after_ms`,
/// read as any client reads the stream.
async fn forecast_frame(base: &str, after_ms: i64) -> Value {
    let mut response = reqwest::get(format!("{base}/live/events")).await.expect("event stream");
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("a forecast frame within a minute")
            .expect("stream")
            .expect("the stream goes on");
        text.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let mut lines = event.lines();
            if lines.next() != Some("event: forecast") {
                continue;
            }
            let data: String = lines.filter_map(|l| l.strip_prefix("data: ")).collect();
            let frame: Value = serde_json::from_str(&data).expect("frame JSON");
            if frame["at_ms"].as_i64().unwrap() >= after_ms {
                return frame;
            }
        }
    }
}

/// The firing alert `name` in the alert API, with when it was read.
async fn firing_value(base: &str, name: &str) -> Option<(i64, f64)> {
    let alerts: Value =
        reqwest::get(format!("{base}/api/v1/alerts")).await.ok()?.json().await.ok()?;
    let read_ms = now_ms();
    let alert = alerts["data"]["alerts"]
        .as_array()?
        .iter()
        .find(|a| a["labels"]["alertname"] == name && a["state"] == "firing")?;
    Some((read_ms, alert["value"].as_str()?.parse().ok()?))
}

/// `14:20 UTC on 2026-11-30`, the minute a recommendation names.
fn clock(t_ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis((t_ms.div_euclid(60_000) * 60_000) as u64);
    let text = humantime::format_rfc3339_seconds(at).to_string();
    format!("{} UTC on {}", &text[11..16], &text[..10])
}

fn close(actual: &Value, expected: f64, within: f64) {
    let value = actual.as_f64().unwrap_or(f64::NAN);
    assert!((value - expected).abs() <= within, "{value} is not {expected} ± {within}");
}

#[test]
fn the_forecast_view_projects_the_known_trends_as_the_rules_do_and_lists_what_they_call_for() {
    use live_page_support::*;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let Some(driver) = Driver::start(&root.join("live-page")) else { return };
    let runbooks = "https://example.invalid/voxscope/deploy/runbooks";

    with_local_prometheus(|handle| async move {
        // The history's "now", on a whole minute as the engine's minute steps are.
        let t0 = now_ms().div_euclid(MIN) * MIN;
        let dir = TempDir::new("live-forecast");
        let config_text = alert_config(&dir.0);
        let config = dir.0.join("alerts.toml");
        std::fs::write(&config, &config_text).unwrap();
        write_history(&dir.0, &config_text, t0, true);
        let addr =
            start_demo(&["--alert-config", config.to_str().unwrap()], |_| None, &handle).await;
        let base = format!("http://{addr}");

        // The engine's rules over the restored history: each forecast fires with the
        // value its trend reaches at the horizon, which says when it meets the limit.
        let mut rules = None;
        for _ in 0..100 {
            let calls = firing_value(&base, "CallCapacityForecast").await;
            let quota = firing_value(&base, "ProviderQuotaForecast").await;
            if let (Some(calls), Some(quota)) = (calls, quota) {
                rules = Some((calls, quota));
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let ((calls_read, calls_value), (quota_read, quota_value)) =
            rules.expect("both capacity forecasts fire in the alert API");
        let horizon_ms = HORIZON_S * 1000;
        let rule_calls_at =
            calls_read + horizon_ms - ((calls_value - CAPACITY) / CALLS_SLOPE * 1000.0) as i64;
        let rule_quota_at =
            quota_read + horizon_ms - ((quota_value - BUDGET) / USAGE_SLOPE * 1000.0) as i64;
        // The rules read the history's trends.
        assert!((rule_calls_at - calls_at_capacity(t0)).abs() < 5_000, "{rule_calls_at}");
        assert!((rule_quota_at - usage_at_budget(t0)).abs() < 60_000, "{rule_quota_at}");

        // The event stream, from Rust.
        let frame = forecast_frame(&base, t0).await;
        assert_eq!(frame["errors"], json!([]), "{frame}");
        let projections = frame["projections"].as_array().unwrap();
        // When the forecasts were read (the frame's `at_ms` is when it was sent).
        let at = projections[0]["at_ms"].as_i64().unwrap();
        let ids: Vec<&str> = projections.iter().map(|p| p["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["calls", "tokens-groq"]);
        let calls = &projections[0];
        assert_eq!(calls["within_horizon"], true);
        assert_eq!(calls["limit"], CAPACITY);
        let calls_at = calls["limit_at_ms"].as_i64().unwrap();
        assert!(
            (calls_at - rule_calls_at).abs() < 60_000,
            "{calls_at} vs the rule's {rule_calls_at}"
        );
        close(&calls["line"]["slope"], CALLS_SLOPE, 1e-9);
        assert_eq!(calls["current"], calls_now(t0, at));
        // The trend is drawn from the hour before to the horizon, through the points.
        assert_eq!(calls["projection"][0][0], at - HOUR);
        assert_eq!(calls["projection"][1][0], at + horizon_ms);
        let points = calls["points"].as_array().unwrap();
        assert_eq!(points.len(), 61, "a point a minute over the hour");
        let tokens = &projections[1];
        assert_eq!(tokens["within_horizon"], true);
        let tokens_at = tokens["limit_at_ms"].as_i64().unwrap();
        assert!((tokens_at - rule_quota_at).abs() < 60_000, "{tokens_at} vs {rule_quota_at}");
        // `increase` over whole-minute samples reads the usage at the middle of the
        // minute, within half a minute of now.
        let half_a_minute = USAGE_SLOPE * 30.0 + 1.0;
        close(&tokens["current"], usage(t0, at), half_a_minute);

        let recommendations = frame["recommendations"].as_array().unwrap();
        let keys: Vec<&str> = recommendations.iter().map(|r| r["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["fallbacks", "call_capacity", "provider_quota"]);
        let fallbacks = &recommendations[0];
        assert_eq!(
            fallbacks["text"],
            format!(
                "The tts provider elevenlabs fell back on 10% of its requests over the last 1d \
                 (7,200 of 72,000), most of them rate_limited (80% of the fallbacks): raise its \
                 rate limit with the provider or lower the chain's concurrency towards it. See \
                 {runbooks}/HighFallbackRate.md."
            )
        );
        close(&fallbacks["figures"]["fallback_share"], 0.1, 1e-9);
        close(&fallbacks["figures"]["top_reason_share"], 0.8, 1e-9);
        close(&fallbacks["figures"]["requests"], 72_000.0, 1e-6);
        assert_eq!(fallbacks["runbook"], format!("{runbooks}/HighFallbackRate.md"));
        let capacity = &recommendations[1];
        assert_eq!(
            capacity["text"],
            format!(
                "Calls will reach the capacity of 200 concurrent calls around {} at the trend of \
                 the last 60 minutes ({} now, 15 more an hour): add instances before then. See \
                 {runbooks}/CallCapacityForecast.md.",
                clock(calls_at_capacity(t0)),
                calls_now(t0, at)
            )
        );
        assert_eq!(capacity["figures"]["capacity_at_ms"].as_f64(), Some(calls_at as f64));
        close(&capacity["figures"]["calls_per_hour"], 15.0, 1e-6);
        let quota = &recommendations[2];
        let text = quota["text"].as_str().unwrap();
        assert!(text.starts_with("groq used "), "{text}");
        assert!(
            text.ends_with(&format!(
                "of its daily budget of 1,000,000 (at the trend of the last 60 minutes it passes \
                 the budget around {}): raise the quota or route part of its traffic to the \
                 fallback. See {runbooks}/ProviderQuotaForecast.md.",
                clock(usage_at_budget(t0))
            )),
            "{text}"
        );
        close(&quota["figures"]["used_24h"], usage(t0, at), half_a_minute);
        close(&quota["figures"]["per_hour_growth"], 30_000.0, 1.0);

        // The engine's own report over the same day recommends the same.
        let report: Value = reqwest::get(format!("{base}/api/v1/report?since=1d&format=json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let reported = report["recommendations"].as_array().expect("recommendations");
        let reported_keys: Vec<&str> =
            reported.iter().map(|r| r["key"].as_str().unwrap()).collect();
        assert_eq!(reported_keys, keys, "{report}");
        assert_eq!(reported[0]["text"], fallbacks["text"]);

        // The page draws the same.
        let opened =
            driver.call(json!({"cmd": "open", "url": format!("{base}/live#forecast")})).await;
        assert!(opened["first_data_ms"].as_f64().unwrap() > 0.0);
        let shown =
            driver.call(json!({"cmd": "forecast", "after_ms": t0, "timeout_ms": 20_000})).await;
        let shown_at = shown["at_ms"].as_i64().unwrap();
        let drawn = shown["projections"].as_array().unwrap();
        assert_eq!(drawn.len(), 2, "{shown}");
        assert!(drawn.iter().all(|p| p["drawn"] == true && p["within_horizon"] == true), "{shown}");
        let page_calls_at = drawn[0]["limit_at_ms"].as_i64().unwrap();
        assert!(
            (page_calls_at - rule_calls_at).abs() < 60_000,
            "{page_calls_at} vs {rule_calls_at}"
        );
        let page_tokens_at = drawn[1]["limit_at_ms"].as_i64().unwrap();
        assert!((page_tokens_at - rule_quota_at).abs() < 60_000, "{page_tokens_at}");
        let eta = drawn[0]["text"].as_str().unwrap();
        assert!(
            eta.starts_with(&format!("Reaches 200 calls around {}", clock(page_calls_at))),
            "{eta}"
        );
        let listed = shown["recommendations"].as_array().unwrap();
        let keys: Vec<&str> = listed.iter().map(|r| r["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["fallbacks", "call_capacity", "provider_quota"]);
        assert_eq!(listed[0]["text"], fallbacks["text"]);
        for (name, value) in fallbacks["figures"].as_object().unwrap() {
            close(&listed[0]["figures"][name], value.as_f64().unwrap(), 1e-9);
        }
        assert_eq!(listed[1]["figures"]["calls_now"], calls_now(t0, shown_at));
        assert_eq!(listed[2]["runbook"], format!("{runbooks}/ProviderQuotaForecast.md"));
        assert_eq!(shown["none"], Value::Null);
        let report = driver.call(json!({"cmd": "report"})).await;
        assert_eq!(report["console_errors"], json!([]), "{report}");
        let path = screenshots(&root, &dir.0).join("live-forecast.png");
        driver.call(json!({"cmd": "screenshot", "view": "forecast", "path": path})).await;
        let png = std::fs::read(&path).unwrap();
        assert!(png.len() > 10_000 && png.starts_with(b"\x89PNG"), "{} bytes", png.len());

        // Clean data: nothing to recommend, no limit reached within the horizon, no
        // forecast firing.
        let clean = TempDir::new("live-forecast-clean");
        let clean_text = alert_config(&clean.0);
        let clean_config = clean.0.join("alerts.toml");
        std::fs::write(&clean_config, &clean_text).unwrap();
        write_history(&clean.0, &clean_text, t0, false);
        let addr =
            start_demo(&["--alert-config", clean_config.to_str().unwrap()], |_| None, &handle)
                .await;
        let base = format!("http://{addr}");
        let frame = forecast_frame(&base, t0).await;
        assert_eq!(frame["recommendations"], json!([]), "{frame}");
        let projections = frame["projections"].as_array().unwrap();
        assert_eq!(projections.len(), 2);
        assert!(projections.iter().all(|p| p["within_horizon"] == false), "{frame}");
        assert_eq!(projections[0]["current"], 60.0);
        close(&projections[1]["current"], 300_000.0, 1.0);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(firing_value(&base, "CallCapacityForecast").await.is_none());
        assert!(firing_value(&base, "ProviderQuotaForecast").await.is_none());
        driver.call(json!({"cmd": "open", "url": format!("{base}/live#forecast")})).await;
        let shown =
            driver.call(json!({"cmd": "forecast", "after_ms": t0, "timeout_ms": 20_000})).await;
        assert_eq!(shown["recommendations"], json!([]), "{shown}");
        let none = shown["none"].as_str().unwrap();
        assert!(none.starts_with("Nothing to recommend"), "{none}");
        let drawn = shown["projections"].as_array().unwrap();
        assert!(drawn.iter().all(|p| p["limit_at_ms"].is_null()), "{shown}");
        assert!(
            drawn[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("The trend does not reach 200 calls within"),
            "{shown}"
        );
        driver.call(json!({"cmd": "close"})).await;
    });
}
