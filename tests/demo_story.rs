//! The demo's story, sped up ten times: `voice_agent::run` (what `main` runs) with its
//! built-in callers and incident timeline. Each event shows in `/metrics`, the alerts
//! API, the live page's stream and the log, in the story's order: live calls, a TTS stall answered by the
//! fallback, an LLM rate-limit storm that opens groq's circuit, `ProviderCircuitOpen`
//! pending, firing and notified, then the recovery that closes the circuit and
//! resolves the alert.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use voxscope_tests::{Exposition, with_local_prometheus};

/// Story seconds per wall second.
const SPEED: u32 = 10;
/// The whole story to the resolved notification takes about 28 s of wall time.
const BUDGET: Duration = Duration::from_secs(55);

/// The log, as the terminal would show it.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

/// Wall time of the story's time `minutes:seconds`.
fn story(minutes: u64, seconds: u64) -> Duration {
    Duration::from_secs(minutes * 60 + seconds) / SPEED
}

/// When each event was first seen, from the start.
#[derive(Debug, Default)]
struct Seen {
    live_calls: Option<Duration>,
    tts_fallback: Option<Duration>,
    tts_answered_by_fallback: Option<Duration>,
    llm_circuit_open: Option<Duration>,
    pending: Option<Duration>,
    firing: Option<Duration>,
    firing_notified: Option<Duration>,
    circuit_closed: Option<Duration>,
    resolved: Option<Duration>,
    resolved_notified: Option<Duration>,
}

fn see(slot: &mut Option<Duration>, at: Duration) -> bool {
    let first = slot.is_none();
    slot.get_or_insert(at);
    first
}

/// The alerts API's `ProviderCircuitOpen` alerts of `provider`: (state, activeAt).
fn circuit_alerts(body: &Value, provider: &str) -> Vec<(String, String)> {
    body["data"]["alerts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|a| {
            a["labels"]["alertname"] == "ProviderCircuitOpen" && a["labels"]["provider"] == provider
        })
        .map(|a| (a["state"].as_str().unwrap_or("").to_owned(), a["activeAt"].to_string()))
        .collect()
}

/// The live page's stream (`/live/events`): each distinct state of groq's
/// `ProviderCircuitOpen` in its `alerts` frames (`absent` once gone after showing),
/// with when it was first read.
async fn follow_page(url: String, started: Instant, states: Arc<Mutex<Vec<(Duration, String)>>>) {
    let Ok(mut response) = reqwest::Client::new().get(url).send().await else { return };
    let mut buffer = String::new();
    let mut event = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            let line = line.trim_end();
            if let Some(name) = line.strip_prefix("event:") {
                event = name.trim().to_owned();
            } else if let (Some(data), "alerts") = (line.strip_prefix("data:"), event.as_str()) {
                let frame: Value = serde_json::from_str(data.trim()).unwrap_or_default();
                let state = frame["alerts"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .find(|a| {
                        a["alertname"] == "ProviderCircuitOpen" && a["labels"]["provider"] == "groq"
                    })
                    .map_or("absent", |a| a["state"].as_str().unwrap_or("absent"))
                    .to_owned();
                let mut states = states.lock().unwrap_or_else(PoisonError::into_inner);
                let changed = states.last().is_none_or(|(_, last)| *last != state);
                if changed && (state != "absent" || !states.is_empty()) {
                    states.push((started.elapsed(), state));
                }
            }
        }
    }
}

#[test]
fn the_sped_up_story_shows_each_event_in_metrics_the_alerts_api_and_the_log_in_order() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    with_local_prometheus(|handle| async move {
        let speed = SPEED.to_string();
        let args = ["voice_agent", "--speed", &speed, "--callers", "12"];
        // The keys are set: no ConfigMissing, the story's alert is the only page.
        let key = |name: &str| {
            voice_agent::providers::KEY_VARS.contains(&name).then(|| "a-long-enough-key".to_owned())
        };
        let config = voice_agent::config::Config::parse(args, key).expect("config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let tracing =
            voxscope::trace::TracePipeline::new(&voxscope::trace::TraceConfig::new("voice_agent"))
                .expect("trace pipeline");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let metrics = handle.clone();
        let demo = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            voice_agent::run(&config, &metrics, &tracing, listener, shutdown).await
        });
        let started = Instant::now();
        let client = reqwest::Client::new();
        let alerts_url = format!("http://{addr}/api/v1/alerts");
        let mut seen = Seen::default();
        let mut active_at = None;
        let mut max_live = 0.0_f64;
        let page_states: Arc<Mutex<Vec<(Duration, String)>>> = Arc::default();
        let page = tokio::spawn(follow_page(
            format!("http://{addr}/live/events"),
            started,
            Arc::clone(&page_states),
        ));

        let page_resolved = || {
            let states = page_states.lock().unwrap_or_else(PoisonError::into_inner);
            states.last().is_some_and(|(_, state)| state == "absent")
        };
        while (seen.resolved_notified.is_none() || !page_resolved()) && started.elapsed() < BUDGET {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = started.elapsed();
            let e = Exposition::render(&handle);
            let body: Value = match client.get(&alerts_url).send().await {
                Ok(response) => response.json().await.unwrap_or_default(),
                Err(_) => Value::Null,
            };
            let text = log.text();

            let live = e.sum("voice_calls_active", &[("transport", "twilio")]);
            max_live = max_live.max(live);
            if live >= 1.0 {
                see(&mut seen.live_calls, now);
            }
            let fallbacks = |kind: &str, from: &str, reason: &str| {
                e.sum(
                    "voice_provider_fallbacks_total",
                    &[("kind", kind), ("from", from), ("reason", reason)],
                )
            };
            if fallbacks("tts", "elevenlabs", "timeout") >= 1.0 && see(&mut seen.tts_fallback, now)
            {
                assert!(now >= story(0, 30), "a TTS fallback before the stall, at {now:?}");
            }
            let azure = [("kind", "tts"), ("provider", "azure"), ("outcome", "ok")];
            if e.sum("voice_provider_requests_total", &azure) >= 1.0 {
                see(&mut seen.tts_answered_by_fallback, now);
            }
            let groq = [("kind", "llm"), ("provider", "groq")];
            let open = e.sum("voice_provider_circuit_open", &groq);
            if open == 1.0 && see(&mut seen.llm_circuit_open, now) {
                assert!(now >= story(1, 15), "groq's circuit opened before the storm, at {now:?}");
                // Three rate-limited answers in a row opened it, each answered by openai.
                assert!(fallbacks("llm", "groq", "rate_limited") >= 3.0, "{}", e.text);
                let errors = [("provider", "groq"), ("error", "rate_limited")];
                assert!(e.sum("voice_provider_errors_total", &errors) >= 3.0);
            }
            if seen.firing.is_some() && open == 0.0 {
                see(&mut seen.circuit_closed, now);
            }

            assert!(
                !circuit_alerts(&body, "elevenlabs").iter().any(|(state, _)| state == "firing"),
                "the TTS stall is too short to page: {body}"
            );
            match circuit_alerts(&body, "groq").as_slice() {
                [(state, at)] => {
                    assert!(seen.resolved.is_none(), "the alert came back after resolving");
                    assert_eq!(active_at.get_or_insert_with(|| at.clone()), at, "one activation");
                    if state == "pending" {
                        assert!(seen.firing.is_none(), "firing went back to pending");
                        see(&mut seen.pending, now);
                    } else {
                        assert_eq!(state, "firing");
                        if see(&mut seen.firing, now) {
                            let pending = seen.pending.expect("pending before firing");
                            // `for: 1m` is 6 s at ten times the speed; polls see a change
                            // at most 0.6 s late.
                            assert!(now - pending >= Duration::from_secs(5), "{seen:?} at {now:?}");
                            let gauge = [("alertname", "ProviderCircuitOpen")];
                            assert_eq!(e.sum("voxscope_alerts_firing", &gauge), 1.0);
                        }
                    }
                }
                [] if seen.firing.is_some() => {
                    if see(&mut seen.resolved, now) {
                        let gauge = [("alertname", "ProviderCircuitOpen")];
                        assert_eq!(e.sum("voxscope_alerts_firing", &gauge), 0.0);
                    }
                }
                [] => {}
                more => panic!("one groq circuit alert at most: {more:?}"),
            }
            if text.contains("[FIRING:1] ProviderCircuitOpen (critical, errors)") {
                see(&mut seen.firing_notified, now);
            }
            if text.contains("[RESOLVED] ProviderCircuitOpen (critical, errors)") {
                see(&mut seen.resolved_notified, now);
            }
        }
        // The built-in callers complete their calls (or hang up): none is dropped.
        let e = Exposition::render(&handle);
        assert!(e.sum("voice_calls_total", &[("outcome", "completed")]) >= 1.0, "{}", e.text);
        let lost = ["dropped", "failed", "rejected"]
            .map(|o| e.sum("voice_calls_total", &[("outcome", o)]));
        assert_eq!(lost, [0.0; 3], "dropped, failed, rejected");
        page.abort();
        let _ = stop.send(());
        demo.await.expect("demo task").expect("demo ran");

        let text = log.text();
        let at = |slot: Option<Duration>, what: &str| {
            slot.unwrap_or_else(|| panic!("never saw {what}: {seen:?}\n{text}"))
        };
        let order = [
            at(seen.live_calls, "live calls"),
            at(seen.tts_fallback, "a TTS fallback"),
            at(seen.tts_answered_by_fallback, "azure answering TTS"),
            at(seen.llm_circuit_open, "groq's circuit open"),
            at(seen.pending, "ProviderCircuitOpen pending"),
            at(seen.firing, "ProviderCircuitOpen firing"),
            at(seen.firing_notified, "the firing notification"),
            at(seen.circuit_closed, "groq's circuit closed"),
            at(seen.resolved, "ProviderCircuitOpen resolved"),
            at(seen.resolved_notified, "the resolved notification"),
        ];
        assert!(order.is_sorted(), "events out of order: {seen:?}");
        assert!(seen.circuit_closed.unwrap() >= story(3, 15), "{seen:?}");
        // The page's stream showed the same alert pending, firing, then gone, each within
        // 15 s of the alerts API.
        let page_states = page_states.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let names: Vec<&str> = page_states.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(names, ["pending", "firing", "absent"], "{page_states:?}");
        for ((at, state), api) in page_states.iter().zip([seen.pending, seen.firing, seen.resolved])
        {
            let api = api.unwrap();
            assert!(
                at.abs_diff(api) <= Duration::from_secs(15),
                "{state} on the page at {at:?}, API {api:?}"
            );
        }
        assert!(
            (1.0..=12.0).contains(&max_live),
            "live calls stay within the 12 callers: {max_live}"
        );
        // The log told the story first, step by step, and no caller went unanswered.
        let first = text.lines().next().unwrap_or_default();
        assert!(first.contains(&format!("live page at http://{addr}/live")), "{first}");
        let steps =
            ["[Story 0:00]", "[Story 0:30]", "[Story 1:00]", "[Story 1:15]", "[Story 3:15]"];
        let positions: Vec<usize> =
            steps.iter().map(|s| text.find(s).unwrap_or_else(|| panic!("{s}:\n{text}"))).collect();
        assert!(positions.is_sorted(), "{text}");
        assert!(text.contains("[TTS fallback] elevenlabs -> azure reason=timeout"), "{text}");
        assert!(!text.contains("no provider could answer"), "{text}");
    });
}
