//! No label value in the demo's `/metrics` carries a caller's number or a call id.
//!
//! The demo, started through `voice_agent::start`, serves while simulated Twilio callers
//! with SIDs and numbers as Twilio issues them (`CA`/`MZ` and 32 hex digits, E.164 numbers
//! in the stream URL and the `start` message's custom parameters) call `/media`, and HTTP
//! clients use the API with server-assigned ids and probe it with paths full of SIDs, UUIDs
//! and numbers. Then the whole exposition is scanned: every label value that is digit-heavy
//! (phone-number-like) or id-shaped (Twilio SIDs, UUIDs, long hex) is a leak.

use std::time::Duration;

use futures_util::StreamExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use voice_agent::simulator::{self, Identity, Plan, Script};
use voxscope_tests::{Exposition, start_stoppable_demo, with_local_prometheus};

/// Why `value` could identify a caller or a call, if it could.
fn leak(value: &str) -> Option<&'static str> {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if digits >= 7 {
        return Some("seven or more digits (a phone number?)");
    }
    if value.len() >= 6 && digits * 2 > value.len() {
        return Some("mostly digits");
    }
    let longest_hex_run =
        value.split(|c: char| !c.is_ascii_hexdigit()).map(str::len).max().unwrap_or_default();
    if longest_hex_run >= 16 {
        return Some("a long hex run (a SID or a hash?)");
    }
    let dashed: Vec<usize> = value.split('-').map(str::len).collect();
    if dashed.windows(5).any(|w| w == [8, 4, 4, 4, 12]) {
        return Some("UUID-shaped");
    }
    None
}

/// Label keys whose values are numbers by design: bucket bounds and quantiles.
const NUMERIC_KEYS: [&str; 2] = ["le", "quantile"];

#[test]
fn the_classifier_flags_numbers_and_ids_and_passes_the_catalog_values() {
    for bad in [
        "+14155550123",
        "4155550123",
        "CA0123456789abcdef0123456789abcdef",
        "MZ0123456789abcdef0123456789abcdef",
        "6f1c2a9e-1d2b-4c3d-8e4f-5a6b7c8d9e0f",
        "/calls/0123456789abcdef",
        "call-123456",
    ] {
        assert!(leak(bad).is_some(), "{bad} passed");
    }
    for good in [
        "/calls/{id}/hangup",
        "200",
        "503",
        "twilio",
        "rate_limited",
        "voice_agent",
        "inbound",
        "__overflow__",
        "deadbeef",
        "gpt-4o-mini",
        "ProviderCircuitOpen",
    ] {
        assert_eq!(leak(good), None, "{good} flagged");
    }
}

#[test]
fn after_a_simulator_run_no_label_value_is_a_number_or_an_id() {
    let handle = with_local_prometheus(|handle| async move {
        let demo = start_stoppable_demo(&["--faults", FAULTS], |_| None, &handle).await;
        let addr = demo.addr;

        let mut rng = StdRng::seed_from_u64(17);
        let callers: Vec<(Identity, Script)> = (0..CALLS)
            .map(|n| {
                let plan = [Plan::Complete, Plan::HangUp, Plan::Disconnect, Plan::Garbage][n % 4];
                (Identity::realistic(&mut rng), Script { plan, turns: 2, stop_at: 1, gap_ms: 0 })
            })
            .collect();
        let url = voice_agent::callers::media_url(addr);
        let calls = futures_util::stream::iter(callers.iter())
            .map(|(who, script)| simulator::call_as(&url, who, *script))
            .buffer_unordered(CALLS)
            .collect::<Vec<_>>();
        let outcomes = tokio::time::timeout(Duration::from_secs(60), calls)
            .await
            .expect("the calls end within a minute");
        assert!(
            outcomes.iter().all(|o| o.ended != "connect failed" && o.ended != "error"),
            "{:?}",
            outcomes.iter().map(|o| o.ended).collect::<Vec<_>>()
        );

        let base = format!("http://{addr}");
        let client = reqwest::Client::new();
        let mut probes = Vec::new();
        for _ in 0..4 {
            let created: serde_json::Value = client
                .post(format!("{base}/calls"))
                .send()
                .await
                .expect("POST /calls")
                .json()
                .await
                .expect("a call");
            let id = created["id"].as_str().expect("an id").to_owned();
            probes.push(("GET", format!("/calls/{id}")));
            probes.push(("POST", format!("/calls/{id}/turn")));
            probes.push(("POST", format!("/calls/{id}/hangup")));
        }
        for (who, _) in &callers[..4] {
            let (call, from) = (&who.call_sid, &who.from);
            probes.push(("GET", format!("/calls/{call}")));
            probes.push(("POST", format!("/calls/{call}/hangup")));
            probes.push(("POST", format!("/calls/{from}/turn")));
            probes.push(("POST", format!("/twilio/status/{call}?From={from}")));
            probes.push(("GET", format!("/recordings/{}.wav", who.stream_sid)));
            probes.push(("GET", "/sessions/6f1c2a9e-1d2b-4c3d-8e4f-5a6b7c8d9e0f".to_owned()));
            probes.push(("GET", format!("/media?callSid={call}&From={from}")));
        }
        for (method, path) in &probes {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let response = client
                .request(method, format!("{base}{path}"))
                .body("my number is +1 415 555 0123")
                .send()
                .await
                .expect("a response");
            let _ = response.bytes().await;
        }

        let text = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("/metrics")
            .text()
            .await
            .expect("exposition");
        let exposition = Exposition::parse(text);
        let mut leaks = Vec::new();
        for sample in &exposition.samples {
            for (key, value) in &sample.labels {
                if NUMERIC_KEYS.contains(&key.as_str()) {
                    continue;
                }
                let known = callers.iter().any(|(who, _)| {
                    [&who.call_sid, &who.stream_sid, &who.from, &who.to]
                        .iter()
                        .any(|id| value.contains(id.trim_start_matches('+')))
                });
                let why =
                    if known { Some("a simulated caller's SID or number") } else { leak(value) };
                if let Some(why) = why {
                    leaks.push(format!("{}{{{key}={value:?}}}: {why}", sample.name));
                }
            }
        }
        leaks.sort();
        leaks.dedup();
        assert!(
            leaks.is_empty(),
            "label values that identify callers or calls:\n{}",
            leaks.join("\n")
        );

        // The scan saw the traffic: every call and every probe is in the exposition.
        let ended: f64 = exposition.sum("voice_calls_total", &[]);
        // A `/media` GET that is no WebSocket upgrade is answered, not a call.
        assert_eq!(ended, CALLS as f64, "every simulated call ended, and only those");
        let http: u64 = exposition.count("http_server_request_duration_seconds", &[]);
        let requests = CALLS + 4 + probes.len();
        assert_eq!(http, requests as u64, "the calls' upgrades, POST /calls and the probes");

        demo.stop().await;
    });
    drop(handle);
}

/// Simulated calls, all at once.
const CALLS: usize = 24;
/// Faults that send some turns down the fallback chains, so their labels show too.
const FAULTS: &str = "stt.primary=error:unavailable@0.3,llm.primary=error:rate_limited@0.3,tts.primary=error:timeout@0.3";
