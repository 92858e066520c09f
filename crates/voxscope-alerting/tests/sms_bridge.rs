//! The webhook-to-SMS recipe end to end: Debian's prometheus-alertmanager runs the
//! generated configuration with `[sms]` on, an alert posted to its API comes out of its
//! critical route as a webhook to the SMS bridge, and the bridge texts it to a loopback
//! server that checks the request as Twilio documents it.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use support::{Alertmanager, Receiver, TempDir, run};
use voxscope_alert::{Config, alertmanager};
use voxscope_alerting::sms_bridge;

const INSTALL: &str = "apt-get install prometheus-alertmanager";
const SID: &str = "AC0123456789abcdef0123456789abcdef";

#[test]
fn a_critical_alert_through_a_real_alertmanager_and_the_bridge_becomes_one_text_per_number() {
    let Some(binary) = support::tool("prometheus-alertmanager", INSTALL) else { return };
    let dir = TempDir::new("sms-bridge");
    let counts = run(false, || async {
        let created = r#"{"sid": "SM1234567890abcdef1234567890abcdef", "status": "queued"}"#;
        let twilio =
            Receiver::start(Arc::new(move |_| (StatusCode::CREATED, created).into_response()))
                .await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let bridge_url = format!("http://{}{}", listener.local_addr().unwrap(), sms_bridge::PATH);
        // Every other integration of the critical receiver fails fast on loopback.
        let secret = |name: &str, value: &str| dir.file(name, value);
        let toml = format!(
            "[alertmanager]\ngroup_wait_seconds = 1\nsmtp_smarthost = \"127.0.0.1:1\"\n\
             smtp_auth_password_file = \"{}\"\nslack_api_url_file = \"{}\"\n\
             pagerduty_routing_key_file = \"{}\"\nwebhook_token_file = \"{}\"\n\
             [sms]\naccount_sid = \"{SID}\"\nauth_token_file = \"{}\"\nfrom = \"VoxScope\"\n\
             to = [\"+14155550100\", \"+442071838750\"]\napi_url = \"{}\"\n\
             alertmanager_webhook_url = \"{bridge_url}\"\n",
            secret("smtp", "pw"),
            secret("slack", "http://127.0.0.1:1/slack"),
            secret("pd", "key"),
            secret("hook", "token"),
            secret("twilio", "tw1l10-t0ken"),
            twilio.url(""),
        );
        let config = Config::from_toml(&toml).expect("config");
        let bridge_config = config.clone();
        tokio::spawn(async move {
            let app = sms_bridge::router(sms_bridge::delivery(&bridge_config));
            axum::serve(listener, app).await.expect("bridge");
        });
        let config_file = dir.file("alertmanager.yml", &alertmanager::config(&config));
        let alertmanager = Alertmanager::start(&binary, &config_file, dir.path()).await;
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{}", alertmanager.port);
        let alert = json!([{
            "labels": {
                "alertname": "EndpointDown",
                "severity": "critical",
                "category": "availability",
                "job": "voice_agent_probe",
                "instance": "http://voice-agent:3000/health",
            },
            "annotations": {
                "summary": "http://voice-agent:3000/health does not answer",
                "dashboard": "http://localhost:3001/d/voxscope-service",
            },
            "generatorURL": "http://prometheus:9090/graph",
        }]);
        let posted = client.post(format!("{base}/api/v2/alerts")).json(&alert).send().await;
        assert_eq!(posted.expect("post alert").status(), 200);
        let started = Instant::now();
        while twilio.count() < 2 {
            assert!(started.elapsed() < Duration::from_secs(30), "no text within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Repeats come a group interval later at the earliest: exactly one text each.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut received = twilio.received.lock().unwrap().clone();
        received.sort_by(|a, b| a.raw.cmp(&b.raw));
        assert_eq!(received.len(), 2);
        let body = "Body=FIRING+critical+EndpointDown%3A+http%3A%2F%2Fvoice-agent%3A3000%2Fhealth+\
                    does+not+answer+http%3A%2F%2Flocalhost%3A3001%2Fd%2Fvoxscope-service";
        for (request, to) in received.iter().zip(["%2B14155550100", "%2B442071838750"]) {
            assert_eq!(request.path, format!("/2010-04-01/Accounts/{SID}/Messages.json"));
            assert_eq!(request.raw, format!("To={to}&From=VoxScope&{body}"));
        }
    });
    assert_eq!(counts.get("sms", "success"), 2);
    assert_eq!(counts.get("sms", "failed"), 0);
}
