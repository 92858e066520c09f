//! The demo voice agent, started on port 0 as a user would reach it.

use std::time::Duration;

use voxscope_tests::{Exposition, eventually, start_demo, with_local_prometheus};

#[test]
fn demo_routes_are_measured_by_template_and_metrics_need_the_token() {
    with_local_prometheus(|handle| async move {
        let addr = start_demo(&["--metrics-token=t0ken"], |_| None, &handle).await;
        let client = reqwest::Client::new();
        let base = format!("http://{addr}");

        let call: serde_json::Value =
            client.post(format!("{base}/calls")).send().await.unwrap().json().await.unwrap();
        let id = call["id"].as_str().unwrap().to_owned();
        assert_eq!(client.get(format!("{base}/calls/{id}")).send().await.unwrap().status(), 200);
        assert_eq!(client.get(format!("{base}/calls/nobody")).send().await.unwrap().status(), 404);
        assert_eq!(
            client.post(format!("{base}/calls/{id}/hangup")).send().await.unwrap().status(),
            200
        );
        assert_eq!(
            client.get(format!("{base}/health")).send().await.unwrap().text().await.unwrap(),
            "ok"
        );
        assert_eq!(client.get(format!("{base}/.env")).send().await.unwrap().status(), 404);

        assert_eq!(client.get(format!("{base}/metrics")).send().await.unwrap().status(), 401);
        let text = client
            .get(format!("{base}/metrics"))
            .bearer_auth("t0ken")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let exposition = Exposition::parse(text);
        let count = |route: &str, method: &str, status: &str| {
            exposition.count(
                "http_server_request_duration_seconds",
                &[("route", route), ("method", method), ("status", status)],
            )
        };
        assert_eq!(count("/calls", "POST", "201"), 1);
        assert_eq!(count("/calls/{id}", "GET", "200"), 1);
        assert_eq!(count("/calls/{id}", "GET", "404"), 1);
        assert_eq!(count("/calls/{id}/hangup", "POST", "200"), 1);
        assert_eq!(count("unmatched", "GET", "404"), 1);
        let routes = exposition.label_values("http_server_request_duration_seconds_count", "route");
        assert!(!routes.iter().any(|r| r == "/health" || r == "/metrics"), "{routes:?}");
    });
}

/// What `main` serves, under a request mix that matches no route as often as it does:
/// every request is counted exactly once, the unmatched ones under `route="unmatched"`,
/// and clients that hang up mid-turn as `cancelled`.
#[test]
fn every_request_to_the_demo_is_counted_exactly_once() {
    let handle = with_local_prometheus(|handle| async move {
        let addr = start_demo(&[], |_| None, &handle).await;
        let base = format!("http://{addr}");
        let client = reqwest::Client::new();
        let call: serde_json::Value =
            client.post(format!("{base}/calls")).send().await.unwrap().json().await.unwrap();
        let id = call["id"].as_str().unwrap().to_owned();

        let odd = ["PUT", "DELETE", "PROPFIND", "PATCH", "OPTIONS"];
        let requests = (0..500).flat_map(|i| {
            let odd = reqwest::Method::from_bytes(odd[i % odd.len()].as_bytes()).unwrap();
            [
                client.get(format!("{base}/calls/42")),
                client.request(odd, format!("{base}/calls/42")),
                client.get(format!("{base}/wp-admin/{i}.php")),
                client.post(format!("{base}/api/v{i}/upload")).body("x"),
            ]
        });
        let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
        let requests: Vec<_> = requests.collect();
        for chunk in requests.chunks(50) {
            let sent = chunk.iter().map(|r| r.try_clone().unwrap().send());
            for response in futures_util::future::join_all(sent).await {
                *statuses.entry(response.unwrap().status().as_u16()).or_default() += 1;
            }
        }
        assert_eq!(statuses, [(404, 1500), (405, 500)].into_iter().collect());

        // 50 callers hang up while their turn is still running through the providers.
        let hang_ups = (0..50).map(|_| {
            client
                .post(format!("{base}/calls/{id}/turn"))
                .body("move my appointment")
                .timeout(Duration::from_millis(20))
                .send()
        });
        for result in futures_util::future::join_all(hang_ups).await {
            assert!(result.unwrap_err().is_timeout());
        }
        let settled = eventually(Duration::from_secs(20), || {
            Exposition::render(&handle).sum("http_server_active_requests", &[]) == 0.0
        })
        .await;
        assert!(settled, "requests still in flight");
    });
    let exposition = Exposition::render(&handle);
    let count =
        |wanted: &[(&str, &str)]| exposition.count("http_server_request_duration_seconds", wanted);
    assert_eq!(count(&[]), 1 + 2000 + 50);
    assert_eq!(count(&[("route", "/calls/{id}"), ("status", "404")]), 500);
    assert_eq!(count(&[("route", "/calls/{id}"), ("status", "405")]), 500);
    assert_eq!(count(&[("route", "/calls/{id}"), ("method", "_OTHER")]), 100);
    assert_eq!(count(&[("route", "unmatched"), ("method", "GET"), ("status", "404")]), 500);
    assert_eq!(count(&[("route", "unmatched"), ("method", "POST"), ("status", "404")]), 500);
    assert_eq!(count(&[("route", "/calls/{id}/turn"), ("status", "cancelled")]), 50);
}

/// A scrape right after startup, before any call, already shows the call capacity and
/// the provider keys that are missing: alerts on them need no first call.
#[test]
fn startup_publishes_capacity_and_missing_keys_before_any_traffic() {
    let handle = with_local_prometheus(|handle| async move {
        let env = |key: &str| (key == "VOXSCOPE_DEMO_TTS_KEY").then(|| "el-0123456789".to_owned());
        start_demo(&[], env, &handle).await;
    });
    let exposition = Exposition::render(&handle);
    let capacity = exposition.sum("voice_calls_capacity", &[("transport", "twilio")]);
    assert_eq!(capacity, voice_agent::media::MAX_CALLS as f64);
    let missing = |field: &str| exposition.sum("voxscope_config_missing", &[("field", field)]);
    assert_eq!(missing("VOXSCOPE_DEMO_STT_KEY"), 1.0);
    assert_eq!(missing("VOXSCOPE_DEMO_LLM_KEY"), 1.0);
    assert_eq!(missing("VOXSCOPE_DEMO_TTS_KEY"), 0.0);
}
