//! Each channel against a loopback receiver: the exact payload its vendor documents,
//! secrets from files or the environment, resolved notices where asked for, and every
//! outcome counted.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::{Receiver, TempDir, answer, notification, run};
use voxscope_alert::Config;
use voxscope_alerting::channel;
use voxscope_alerting::delivery::{Delivery, Enqueued};
use voxscope_alerting::notification::Status;
use voxscope_alerting::secret::Env;

const FLUSH: Duration = Duration::from_secs(30);

fn no_env() -> Env {
    Arc::new(|_: &str| None)
}

fn delivery(config_toml: &str, env: Env) -> Delivery {
    let config = Config::from_toml(config_toml).expect("config");
    Delivery::new(&config.delivery, channel::from_config(&config, env), None)
}

fn labels() -> serde_json::Value {
    json!({
        "alertname": "ServiceDown",
        "category": "availability",
        "job": "voice_agent",
        "severity": "critical",
    })
}

fn annotations() -> serde_json::Value {
    json!({
        "summary": "voice_agent is down",
        "description": "No scrape of voice_agent succeeded for 1m & <nothing> answers.",
        "runbook_url": "https://runbooks.example.org/ServiceDown.md",
        "dashboard": "http://grafana:3000/d/voxscope-overview",
    })
}

#[test]
fn the_webhook_gets_the_alertmanager_v4_payload_with_the_bearer_token_of_its_file() {
    let dir = TempDir::new("webhook");
    let counts = run(false, || async {
        let hook = Receiver::start(answer(200, "")).await;
        let toml = format!(
            "[service]\ngrafana_url = \"http://grafana:3000\"\n\
             [alertmanager]\nwebhook_url = \"{}\"\nwebhook_token_file = \"{}\"\n",
            hook.url("/alertmanager"),
            dir.file("token", "s3cret\n"),
        );
        let delivery = delivery(&toml, no_env());
        assert_eq!(
            delivery.notify(notification("default", Status::Firing)),
            Enqueued { queued: 1, dropped: 0 }
        );
        assert_eq!(delivery.shutdown(FLUSH).await, 0);
        let received = hook.received.lock().unwrap().clone();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].path, "/alertmanager");
        assert_eq!(received[0].headers["authorization"], "Bearer s3cret");
        assert_eq!(received[0].headers["content-type"], "application/json");
        assert_eq!(
            received[0].body,
            json!({
                "version": "4",
                "groupKey": "{}/{severity=~\"critical|emergency\"}:{alertname=\"ServiceDown\"}",
                "truncatedAlerts": 0,
                "status": "firing",
                "receiver": "default",
                "groupLabels": {"alertname": "ServiceDown", "job": "voice_agent"},
                "commonLabels": labels(),
                "commonAnnotations": annotations(),
                "externalURL": "http://grafana:3000",
                "alerts": [{
                    "status": "firing",
                    "labels": labels(),
                    "annotations": annotations(),
                    "startsAt": "2026-01-02T03:04:05.678Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://voice-agent:3000/api/v1/rules",
                    "fingerprint": "5b1c2e0f9d3a7b44",
                }],
            })
        );
    });
    assert_eq!(counts.0, [("webhook".to_owned(), "success".to_owned(), 1)]);
}

#[test]
fn the_environment_wins_over_the_secret_file() {
    let dir = TempDir::new("webhook-env");
    run(false, || async {
        let hook = Receiver::start(answer(200, "")).await;
        let toml = format!(
            "[alertmanager]\nwebhook_url = \"{}\"\nwebhook_token_file = \"{}\"\n",
            hook.url("/hook"),
            dir.file("token", "from-file"),
        );
        let env: Env = Arc::new(|name: &str| {
            (name == "VOXSCOPE_WEBHOOK_TOKEN").then(|| "from-env".to_owned())
        });
        let delivery = delivery(&toml, env);
        delivery.notify(notification("default", Status::Firing));
        delivery.shutdown(FLUSH).await;
        let received = hook.received.lock().unwrap().clone();
        assert_eq!(received[0].headers["authorization"], "Bearer from-env");
    });
}

#[test]
fn slack_gets_an_incoming_webhook_message_coloured_by_severity() {
    let dir = TempDir::new("slack");
    let counts = run(false, || async {
        let slack = Receiver::start(answer(200, "ok")).await;
        let toml = format!(
            "[alertmanager]\nslack_api_url_file = \"{}\"\nslack_warning_channel = \"#voice-alerts\"\n",
            dir.file("slack", &slack.url("/services/T000/B000/XXXX")),
        );
        let delivery = delivery(&toml, no_env());
        delivery.notify(notification("warning", Status::Firing));
        delivery.notify(notification("warning", Status::Resolved));
        delivery.shutdown(FLUSH).await;
        let received = slack.received.lock().unwrap().clone();
        assert_eq!(received.len(), 2);
        assert!(received.iter().all(|r| r.path == "/services/T000/B000/XXXX"));
        let mut bodies: Vec<_> = received.into_iter().map(|r| r.body).collect();
        bodies
            .sort_by_key(|b| b["attachments"][0]["title"].as_str().unwrap_or_default().to_owned());
        let text = "*voice_agent is down*\n\
                    No scrape of voice_agent succeeded for 1m &amp; &lt;nothing&gt; answers.\n\
                    <https://runbooks.example.org/ServiceDown.md|Runbook> | \
                    <http://grafana:3000/d/voxscope-overview|Dashboard>";
        let message = |title: &str, color: &str| {
            json!({
                "channel": "#voice-alerts",
                "username": "voxscope",
                "attachments": [{
                    "fallback": title,
                    "color": color,
                    "title": title,
                    "text": text,
                    "mrkdwn_in": ["text"],
                }],
            })
        };
        assert_eq!(
            bodies,
            [
                message("[FIRING:1] ServiceDown (critical, availability)", "#d63232"),
                message("[RESOLVED] ServiceDown (critical, availability)", "#2eb886"),
            ]
        );
    });
    assert_eq!(counts.0, [("slack".to_owned(), "success".to_owned(), 2)]);
}

#[test]
fn pagerduty_triggers_then_resolves_the_same_dedup_key() {
    let dir = TempDir::new("pagerduty");
    let counts = run(false, || async {
        let pd = Receiver::start(answer(
            202,
            r#"{"status":"success","message":"Event processed","dedup_key":"x"}"#,
        ))
        .await;
        let toml = format!(
            "[alertmanager]\npagerduty_routing_key_file = \"{}\"\n\
             [delivery]\npagerduty_url = \"{}\"\n\
             [receivers.director]\npagerduty = true\n",
            dir.file("key", "R0UTINGKEY00000000000000000000000\n"),
            pd.url("/v2/enqueue"),
        );
        let delivery = delivery(&toml, no_env());
        delivery.notify(notification("director", Status::Firing));
        delivery.shutdown(FLUSH).await;
        let delivery = delivery_again(&toml);
        delivery.notify(notification("director", Status::Resolved));
        delivery.shutdown(FLUSH).await;
        let bodies = pd.bodies();
        assert_eq!(bodies.len(), 2);
        let dedup_key = bodies[0]["dedup_key"].as_str().expect("dedup_key").to_owned();
        assert!(dedup_key.len() <= 255);
        assert_eq!(
            bodies[0],
            json!({
                "routing_key": "R0UTINGKEY00000000000000000000000",
                "event_action": "trigger",
                "dedup_key": dedup_key,
                "payload": {
                    "summary": "[FIRING:1] ServiceDown (critical, availability)",
                    "source": "voice_agent",
                    "severity": "error",
                    "timestamp": "2026-01-02T03:04:05.678Z",
                    "group": "availability",
                    "class": "ServiceDown",
                    "custom_details": {
                        "firing": "voice_agent is down",
                        "num_firing": 1,
                        "num_resolved": 0,
                        "labels": labels(),
                    },
                },
                "client": "voxscope",
                "client_url": "http://voice-agent:3000/api/v1/rules",
                "links": [
                    {"href": "https://runbooks.example.org/ServiceDown.md", "text": "Runbook"},
                    {"href": "http://grafana:3000/d/voxscope-overview", "text": "Dashboard"},
                ],
            })
        );
        assert_eq!(
            bodies[1],
            json!({
                "routing_key": "R0UTINGKEY00000000000000000000000",
                "event_action": "resolve",
                "dedup_key": dedup_key,
            })
        );
    });
    assert_eq!(counts.0, [("pagerduty".to_owned(), "success".to_owned(), 2)]);
}

/// A second delivery of the same config: a restart keeps the dedup key.
fn delivery_again(toml: &str) -> Delivery {
    delivery(toml, no_env())
}

#[test]
fn resolved_notices_skip_integrations_without_send_resolved() {
    let counts = run(false, || async {
        let hook = Receiver::start(answer(200, "")).await;
        let toml = format!("[alertmanager]\nwatchdog_url = \"{}\"\n", hook.url("/watchdog"));
        let delivery = delivery(&toml, no_env());
        let resolved = delivery.notify(notification("watchdog", Status::Resolved));
        assert_eq!(resolved, Enqueued { queued: 0, dropped: 0 });
        delivery.notify(notification("watchdog", Status::Firing));
        delivery.shutdown(FLUSH).await;
        assert_eq!(hook.count(), 1);
        assert!(!hook.received.lock().unwrap()[0].headers.contains_key("authorization"));
    });
    assert_eq!(counts.0, [("webhook".to_owned(), "success".to_owned(), 1)]);
}

#[test]
fn a_missing_secret_fails_at_once_and_an_unknown_receiver_is_dropped() {
    let counts = run(true, || async {
        let toml = "[alertmanager]\nslack_api_url_file = \"/nonexistent/voxscope/slack_api_url\"\n";
        let delivery = delivery(toml, no_env());
        assert_eq!(delivery.notify(notification("warning", Status::Firing)).queued, 1);
        assert_eq!(
            delivery.notify(notification("nobody", Status::Firing)),
            Enqueued { queued: 0, dropped: 1 }
        );
        delivery.shutdown(FLUSH).await;
    });
    assert_eq!(
        counts.0,
        [
            ("none".to_owned(), "dropped".to_owned(), 1),
            ("slack".to_owned(), "failed".to_owned(), 1)
        ]
    );
}

#[test]
fn named_receivers_deliver_to_each_of_their_integrations() {
    let counts = run(false, || async {
        let a = Receiver::start(answer(200, "")).await;
        let b = Receiver::start(answer(204, "")).await;
        let toml = format!(
            "[alertmanager]\nwebhook_token_file = \"\"\n\
             [receivers.sre]\nwebhook_urls = [\"{}\", \"{}\"]\nsend_resolved = false\n",
            a.url("/a"),
            b.url("/b"),
        );
        let delivery = delivery(&toml, no_env());
        assert_eq!(delivery.notify(notification("sre", Status::Firing)).queued, 2);
        assert_eq!(delivery.notify(notification("sre", Status::Resolved)).queued, 0);
        delivery.shutdown(FLUSH).await;
        assert_eq!((a.count(), b.count()), (1, 1));
        assert_eq!(a.bodies()[0]["receiver"], "sre");
    });
    assert_eq!(counts.0, [("webhook".to_owned(), "success".to_owned(), 2)]);
}

#[test]
fn the_log_receiver_takes_every_receiver_of_the_config() {
    let config = Config::default();
    let receivers = channel::log_only(&config);
    let names: Vec<&str> = receivers.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "critical",
            "default",
            "director",
            "manager",
            "quality",
            "team-lead",
            "warning",
            "watchdog"
        ]
    );
    let counts = run(true, || async {
        let delivery = Delivery::new(&config.delivery, receivers, None);
        let mut by_name = BTreeMap::new();
        for name in ["critical", "team-lead"] {
            by_name.insert(name, delivery.notify(notification(name, Status::Firing)).queued);
        }
        delivery.shutdown(FLUSH).await;
        assert_eq!(by_name, BTreeMap::from([("critical", 1), ("team-lead", 1)]));
    });
    assert_eq!(counts.0, [("log".to_owned(), "success".to_owned(), 2)]);
}
