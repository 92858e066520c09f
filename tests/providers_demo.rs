//! The demo's provider pipeline, started on port 0 with injected faults, as a user
//! would drive it: turns over HTTP, fallbacks and circuit trips in /metrics.

use voice_agent::config::Config;
use voice_agent::providers::check_keys;
use voxscope::trace::{TraceConfig, TracePipeline};
use voxscope_tests::{Exposition, start_demo, with_local_prometheus};

#[test]
fn injected_outages_show_as_fallbacks_and_an_open_circuit() {
    with_local_prometheus(|handle| async move {
        let faults = "--faults=stt.primary=outage,llm.primary=error:rate_limited";
        let addr = start_demo(&[faults], |_| None, &handle).await;
        let client = reqwest::Client::new();
        let base = format!("http://{addr}");
        let call: serde_json::Value =
            client.post(format!("{base}/calls")).send().await.unwrap().json().await.unwrap();
        let id = call["id"].as_str().unwrap().to_owned();

        for turn in 0..4 {
            let reply: serde_json::Value = client
                .post(format!("{base}/calls/{id}/turn"))
                .body("I need to move my appointment")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(reply["transcript"], "I need to move my appointment", "turn {turn}");
            assert_eq!(reply["served_by"]["stt"], "google");
            assert_eq!(reply["served_by"]["llm"], "openai");
            assert_eq!(reply["served_by"]["tts"], "elevenlabs");
            assert!(reply["audio_bytes"].as_u64().unwrap_or(0) > 0);
        }

        let exposition = Exposition::render(&handle);
        let fallbacks = |kind, from, to, reason| {
            exposition.sum(
                "voice_provider_fallbacks_total",
                &[("kind", kind), ("from", from), ("to", to), ("reason", reason)],
            )
        };
        // Three failures open each primary's breaker (threshold 3); the fourth turn skips it.
        assert_eq!(fallbacks("stt", "deepgram", "google", "unavailable"), 3.0);
        assert_eq!(fallbacks("stt", "deepgram", "google", "circuit_open"), 1.0);
        assert_eq!(fallbacks("llm", "groq", "openai", "rate_limited"), 3.0);
        assert_eq!(fallbacks("llm", "groq", "openai", "circuit_open"), 1.0);
        let circuit =
            |provider| exposition.sum("voice_provider_circuit_open", &[("provider", provider)]);
        assert_eq!((circuit("deepgram"), circuit("groq"), circuit("elevenlabs")), (1.0, 1.0, 0.0));
        assert_eq!(
            exposition.sum(
                "voice_provider_requests_total",
                &[("provider", "elevenlabs"), ("outcome", "ok")]
            ),
            4.0
        );
        assert_eq!(
            exposition.count(
                "gen_ai_client_token_usage",
                &[("provider", "openai"), ("token_type", "output")]
            ),
            4
        );
        assert!(exposition.sum("voice_tts_characters_total", &[("provider", "elevenlabs")]) > 0.0);
        assert_eq!(
            exposition.count(
                "http_server_request_duration_seconds",
                &[("route", "/calls/{id}/turn"), ("status", "200")]
            ),
            4
        );
    });
}

#[test]
fn turns_need_a_live_call() {
    with_local_prometheus(|handle| async move {
        let addr = start_demo(&[], |_| None, &handle).await;
        let client = reqwest::Client::new();
        let base = format!("http://{addr}");
        let status = client
            .post(format!("{base}/calls/nobody/turn"))
            .body("hi")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404);
        let call: serde_json::Value =
            client.post(format!("{base}/calls")).send().await.unwrap().json().await.unwrap();
        let id = call["id"].as_str().unwrap();
        client.post(format!("{base}/calls/{id}/hangup")).send().await.unwrap();
        let status = client
            .post(format!("{base}/calls/{id}/turn"))
            .body("hi")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 409);
    });
}

#[test]
fn bad_fault_specs_stop_the_demo_at_startup() {
    with_local_prometheus(|handle| async move {
        let config =
            Config::parse(["voice_agent", "--faults=llm.primary=explode"], |_| None).unwrap();
        let tracing = TracePipeline::new(&TraceConfig::new("voice_agent")).unwrap();
        let err = voice_agent::service(&config, &handle, &tracing).map(|_| ()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "faults: unknown fault \"explode\" (latency, stall, error, outage, drop)"
        );
    });
}

#[test]
fn missing_provider_keys_set_the_config_gauge() {
    let handle = with_local_prometheus(|_| async {
        let env = |key: &str| (key == "VOXSCOPE_DEMO_LLM_KEY").then(|| "gsk-0123456789".to_owned());
        let report = check_keys(env);
        let missing: Vec<_> = report.missing().iter().map(|m| m.field.as_str()).collect();
        assert_eq!(missing, ["VOXSCOPE_DEMO_STT_KEY", "VOXSCOPE_DEMO_TTS_KEY"]);
    });
    let exposition = Exposition::render(&handle);
    let gauge = |field| exposition.sum("voxscope_config_missing", &[("field", field)]);
    assert_eq!(gauge("VOXSCOPE_DEMO_STT_KEY"), 1.0);
    assert_eq!(gauge("VOXSCOPE_DEMO_LLM_KEY"), 0.0);
    assert_eq!(gauge("VOXSCOPE_DEMO_TTS_KEY"), 1.0);
}
