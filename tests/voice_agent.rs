//! The demo voice agent, started on port 0 as a user would reach it.

use voice_agent::config::Config;
use voxscope_tests::{Exposition, serve, with_local_prometheus};

#[test]
fn demo_routes_are_measured_by_template_and_metrics_need_the_token() {
    with_local_prometheus(|handle| async move {
        let config = Config::parse(["--metrics-token=t0ken".to_owned()], |_| None).unwrap();
        let addr = serve(voice_agent::app(&handle, &config).unwrap()).await;
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
