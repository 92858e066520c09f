//! The live page served on loopback over a real engine scraping a hand-written
//! exposition: the event stream's frames carry the exposition's figures, clients are
//! bounded and counted, the token is required by header or cookie, and every response
//! carries the Content-Security-Policy.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde_json::Value;
use voxscope_alert::{Config, RuleCatalog};
use voxscope_alerting::AlertEngine;
use voxscope_live::{CONTENT_SECURITY_POLICY, LivePage, View};

/// Text as a Prometheus client library writes it, not as voxscope renders it.
const EXPOSITION: &str = "\
# TYPE voice_calls_active gauge
voice_calls_active{transport=\"twilio\"} 2
voice_calls_active{transport=\"plivo\"} 1
# TYPE voice_calls_capacity gauge
voice_calls_capacity{transport=\"twilio\"} 50
voice_calls_capacity{transport=\"plivo\"} 50
# TYPE voice_provider_requests_total counter
voice_provider_requests_total{kind=\"tts\",provider=\"elevenlabs\",outcome=\"ok\"} 17
voice_provider_requests_total{kind=\"tts\",provider=\"elevenlabs\",outcome=\"error\"} 4
voice_provider_requests_total{kind=\"tts\",provider=\"azure\",outcome=\"ok\"} 4
";

fn run<F: Future<Output = ()>>(test: impl FnOnce(Snapshotter) -> F) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(test(snapshotter)));
}

fn engine(exposition: Arc<Mutex<String>>) -> AlertEngine {
    let mut config = Config::default();
    config.engine.interval_seconds = 1;
    let engine = AlertEngine::builder(RuleCatalog::new(config).unwrap())
        .scrape(move || exposition.lock().unwrap().clone())
        .start()
        .unwrap();
    engine.evaluate_now();
    engine
}

async fn serve(page: &LivePage) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = page.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A client of the event stream that remembers the newest frame of each view.
struct Events {
    response: reqwest::Response,
    buffer: String,
    newest: std::collections::BTreeMap<String, Value>,
}

impl Events {
    fn new(response: reqwest::Response) -> Self {
        Self { response, buffer: String::new(), newest: Default::default() }
    }

    /// The first frame, already received or to come within 10 s, of which `wanted`
    /// returns something.
    async fn wait<T>(&mut self, mut wanted: impl FnMut(&str, &Value) -> Option<T>) -> T {
        for (event, frame) in &self.newest {
            if let Some(found) = wanted(event, frame) {
                return found;
            }
        }
        let read = async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let mut event = "message";
                    let mut data = String::new();
                    for line in block.lines() {
                        if let Some(name) = line.strip_prefix("event:") {
                            event = name.trim();
                        } else if let Some(d) = line.strip_prefix("data:") {
                            data.push_str(d.strip_prefix(' ').unwrap_or(d));
                        }
                    }
                    if data.is_empty() {
                        continue;
                    }
                    let json: Value = serde_json::from_str(&data).expect("frame JSON");
                    let found = wanted(event, &json);
                    self.newest.insert(event.to_owned(), json);
                    if let Some(found) = found {
                        return found;
                    }
                }
                let chunk = self.response.chunk().await.expect("stream").expect("stream open");
                self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("the event came within 10 s")
    }
}

fn panel<'a>(frame: &'a Value, id: &str) -> &'a Value {
    frame["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("{id}"))
}

/// What the recorder saw, summed over snapshots: a snapshot drains counters and gauges
/// alike, so a gauge moved only by increments and decrements sums to its value.
#[derive(Default)]
struct Recorded(std::collections::BTreeMap<(String, Vec<(String, String)>), f64>);

impl Recorded {
    fn read(&mut self, snapshotter: &Snapshotter) {
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let key = key.key();
            let labels = key.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
            let entry = self.0.entry((key.name().to_owned(), labels)).or_default();
            match value {
                DebugValue::Counter(n) => *entry += n as f64,
                DebugValue::Gauge(g) => *entry += g.into_inner(),
                DebugValue::Histogram(_) => {}
            }
        }
    }

    fn get(&mut self, snapshotter: &Snapshotter, name: &str, label: Option<(&str, &str)>) -> f64 {
        self.read(snapshotter);
        self.0
            .iter()
            .filter(|((n, labels), _)| {
                n == name
                    && label.is_none_or(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, v)| v)
            .sum()
    }
}

#[test]
fn frames_carry_the_scraped_figures_and_the_stream_is_bounded() {
    run(|snapshotter| async move {
        let mut recorded = Recorded::default();
        let exposition = Arc::new(Mutex::new(EXPOSITION.to_owned()));
        let engine = engine(Arc::clone(&exposition));
        let page = LivePage::builder(&engine)
            .max_clients(1)
            .refresh(View::Operations, Duration::from_millis(500))
            .build()
            .unwrap();
        let addr = serve(&page).await;
        let url = format!("http://{addr}/live/events");
        let client = reqwest::Client::new();
        let first = client.get(&url).send().await.unwrap();
        assert_eq!(first.status(), 200);
        assert_eq!(first.headers()["content-type"], "text/event-stream");
        assert_eq!(first.headers()["content-security-policy"], CONTENT_SECURITY_POLICY);
        let mut first = Events::new(first);

        let operations =
            first.wait(|event, frame| (event == "operations").then(|| frame.clone())).await;
        assert_eq!(operations["view"], "operations");
        assert_eq!(panel(&operations, "live-calls")["series"][0]["value"], 3.0);
        let share = &panel(&operations, "live-calls-of-capacity")["series"];
        let shares: Vec<(String, f64)> = share
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["labels"]["transport"].as_str().unwrap().to_owned(),
                    s["value"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(shares, [("plivo".to_owned(), 0.02), ("twilio".to_owned(), 0.04)]);

        // The next scrape changes the figures: a later frame shows them.
        *exposition.lock().unwrap() =
            EXPOSITION.replace("{transport=\"plivo\"} 1", "{transport=\"plivo\"} 5");
        engine.evaluate_now();
        let live = first
            .wait(|event, frame| {
                let value = (event == "operations")
                    .then(|| panel(frame, "live-calls")["series"][0]["value"].clone())?;
                (value == 7.0).then_some(value)
            })
            .await;
        assert_eq!(live, 7.0);

        let providers =
            first.wait(|event, frame| (event == "providers").then(|| frame.clone())).await;
        let totals = &panel(&providers, "requests-by-provider-and-outcome-total")["series"];
        let rows: Vec<(String, f64)> = totals
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let l = &s["labels"];
                (
                    format!("{} {} {}", l["kind"], l["provider"], l["outcome"]).replace('"', ""),
                    s["value"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("tts azure ok".to_owned(), 4.0),
                ("tts elevenlabs error".to_owned(), 4.0),
                ("tts elevenlabs ok".to_owned(), 17.0)
            ]
        );

        let alerts = first.wait(|event, frame| (event == "alerts").then(|| frame.clone())).await;
        let watchdog: Vec<&Value> = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["alertname"] == "Watchdog")
            .collect();
        assert_eq!(watchdog.len(), 1);
        assert_eq!(watchdog[0]["state"], "firing");
        assert_eq!(watchdog[0]["fingerprint"].as_str().unwrap().len(), 16);

        // The one slot is taken: a second client gets 503, counted.
        let second = client.get(&url).send().await.unwrap();
        assert_eq!(second.status(), 503);
        assert_eq!(
            recorded.get(&snapshotter, "voxscope_live_rejected_total", Some(("reason", "full"))),
            1.0
        );
        assert_eq!(recorded.get(&snapshotter, "voxscope_live_clients", None), 1.0);

        // The first client goes: its slot is free again.
        drop(first);
        let mut freed = false;
        for _ in 0..100 {
            if recorded.get(&snapshotter, "voxscope_live_clients", None) == 0.0 {
                freed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(freed, "the stream ended with its client");
        let third = client.get(&url).send().await.unwrap();
        assert_eq!(third.status(), 200);
        assert_eq!(recorded.get(&snapshotter, "voxscope_live_rejected_total", None), 1.0);
    });
}

#[test]
fn the_token_is_required_by_header_or_by_the_cookie_the_form_sets() {
    run(|snapshotter| async move {
        let mut recorded = Recorded::default();
        let engine = engine(Arc::new(Mutex::new(EXPOSITION.to_owned())));
        let page =
            LivePage::builder(&engine).path("/ops/live").token("s3cret-token").build().unwrap();
        let addr = serve(&page).await;
        let base = format!("http://{addr}/ops/live");
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

        let anonymous = client.get(&base).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        assert_eq!(anonymous.headers()["content-security-policy"], CONTENT_SECURITY_POLICY);
        assert!(anonymous.text().await.unwrap().contains("action=\"/ops/live/login\""));
        assert_eq!(client.get(format!("{base}/events")).send().await.unwrap().status(), 401);
        assert_eq!(
            recorded.get(
                &snapshotter,
                "voxscope_live_rejected_total",
                Some(("reason", "unauthorized"))
            ),
            1.0
        );

        let page = client.get(&base).bearer_auth("s3cret-token").send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("src=\"/ops/live/assets/live.js\""), "{html}");
        assert!(!html.contains("http://") && !html.contains("https://"), "no other origin: {html}");

        let wrong =
            client.post(format!("{base}/login")).form(&[("token", "guess")]).send().await.unwrap();
        assert_eq!(wrong.status(), 401);
        assert!(wrong.headers().get("set-cookie").is_none());
        let login = client
            .post(format!("{base}/login"))
            .form(&[("token", "s3cret-token")])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 303);
        assert_eq!(login.headers()["location"], "/ops/live");
        let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert_eq!(cookie, "voxscope_live=s3cret-token; Path=/ops/live; HttpOnly; SameSite=Strict");
        let pair = cookie.split(';').next().unwrap();
        let events =
            client.get(format!("{base}/events")).header("cookie", pair).send().await.unwrap();
        assert_eq!(events.status(), 200);

        // Assets are the embedded files, uPlot among them.
        let uplot = client.get(format!("{base}/assets/uPlot.iife.min.js")).send().await.unwrap();
        assert_eq!(uplot.headers()["content-type"], "text/javascript; charset=utf-8");
        assert!(uplot.text().await.unwrap().contains("uPlot"));
        assert_eq!(
            client.get(format!("{base}/assets/nope.js")).send().await.unwrap().status(),
            404
        );
    });
}

#[test]
fn bad_settings_are_clear_errors() {
    run(|_| async move {
        let engine = engine(Arc::new(Mutex::new(String::new())));
        let error = |b: voxscope_live::LivePageBuilder| b.build().unwrap_err().to_string();
        assert_eq!(
            error(LivePage::builder(&engine).path("live")),
            "live.path: must start with / (got \"live\")"
        );
        assert_eq!(
            error(LivePage::builder(&engine).token("a b")),
            "live.token: must be non-empty, without whitespace, control characters, ';' or ','"
        );
        assert_eq!(
            error(LivePage::builder(&engine).max_clients(0)),
            "live.max_clients: must be at least 1"
        );
        assert_eq!(
            error(LivePage::builder(&engine).refresh(View::Http, Duration::ZERO)),
            "live.refresh: refreshes and the chart window must be longer than zero"
        );
    });
}
