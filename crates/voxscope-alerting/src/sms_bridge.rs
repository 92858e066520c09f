//! The webhook-to-SMS bridge: Alertmanager has no Twilio integration, so the generated
//! Alertmanager configuration posts critical and emergency notifications (its webhook
//! payload, version 4) to this router, which texts each one to the numbers of `[sms]`
//! through the same channel, retries and counts as the embedded engine.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let config = voxscope_alert::Config::from_toml("[sms]\n# account_sid, from, to ...").unwrap();
//! let app = voxscope_alerting::sms_bridge::router(voxscope_alerting::sms_bridge::delivery(&config));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9099").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! `POST /alertmanager` answers 200 once the texts are queued, 400 to a payload that is
//! not Alertmanager's version 4 (logged), and 503 when the queue dropped a text, so that
//! Alertmanager retries it.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;
use voxscope_alert::Config;
use voxscope_alert::eval::Labels;

use crate::channel::{self, Channel};
use crate::delivery::Delivery;
use crate::notification::{Notification, NotifiedAlert, Status};
use crate::secret;

/// The receiver name the bridge's notifications carry.
pub const RECEIVER: &str = "sms";

/// The path Alertmanager posts to.
pub const PATH: &str = "/alertmanager";

/// A delivery whose one receiver, [`RECEIVER`], texts the numbers of `config`'s `[sms]`
/// (secrets from the process environment and files); logs a warning for a token it
/// cannot read now.
pub fn delivery(config: &Config) -> Delivery {
    let env = secret::process_env();
    for problem in secret::problems(config, &*env).iter().filter(|p| p.contains(", sms:")) {
        tracing::warn!(target: "voxscope::alert", "{problem}");
    }
    let sms: Vec<Channel> = channel::from_config(config, env)
        .into_values()
        .flatten()
        .filter(|c| matches!(c, Channel::Sms(_)))
        .collect();
    let mut unique: Vec<Channel> = Vec::new();
    // The critical receiver holds each number once; named receivers may repeat it.
    for channel in sms {
        if !unique.iter().any(|u| same_number(u, &channel)) {
            unique.push(channel);
        }
    }
    Delivery::new(&config.delivery, BTreeMap::from([(RECEIVER.to_owned(), unique)]), None)
}

fn same_number(a: &Channel, b: &Channel) -> bool {
    match (a, b) {
        (Channel::Sms(a), Channel::Sms(b)) => a.to() == b.to(),
        _ => false,
    }
}

/// `POST /alertmanager`, handing each notification to `delivery`'s [`RECEIVER`].
pub fn router(delivery: Delivery) -> Router {
    Router::new().route(PATH, post(receive)).with_state(delivery)
}

async fn receive(State(delivery): State<Delivery>, body: Bytes) -> (StatusCode, String) {
    let notification = match notification(&body) {
        Ok(n) => n,
        Err(reason) => {
            tracing::warn!(target: "voxscope::alert", %reason, "SMS bridge: payload rejected");
            return (StatusCode::BAD_REQUEST, reason);
        }
    };
    let enqueued = delivery.notify(notification);
    if enqueued.dropped > 0 {
        return (StatusCode::SERVICE_UNAVAILABLE, "queue full, retry later".to_owned());
    }
    (StatusCode::OK, format!("{} texts queued", enqueued.queued))
}

/// The payload Alertmanager's `webhook_configs` post, version 4.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    version: String,
    status: Status,
    #[serde(default)]
    group_key: String,
    #[serde(default)]
    group_labels: Labels,
    alerts: Vec<Alert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert {
    status: Status,
    labels: Labels,
    #[serde(default)]
    annotations: Labels,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default, rename = "generatorURL")]
    generator_url: String,
    #[serde(default)]
    fingerprint: String,
}

/// The notification of a webhook payload.
///
/// # Errors
/// Not JSON, not version 4, or a field of the wrong type: what is wrong, for the log.
fn notification(body: &[u8]) -> Result<Notification, String> {
    let payload: Payload = serde_json::from_slice(body)
        .map_err(|e| format!("not an Alertmanager webhook payload: {e}"))?;
    if payload.version != "4" {
        return Err(format!("webhook payload version {} (4 expected)", payload.version));
    }
    let alerts = payload
        .alerts
        .into_iter()
        .map(|a| NotifiedAlert {
            fingerprint: a.fingerprint,
            status: a.status,
            labels: a.labels,
            annotations: a.annotations,
            starts_at_ms: unix_ms(&a.starts_at).unwrap_or(0),
            ends_at_ms: unix_ms(&a.ends_at).filter(|ms| *ms > 0),
            generator_url: a.generator_url,
        })
        .collect();
    Ok(Notification {
        receiver: RECEIVER.to_owned(),
        group_key: payload.group_key,
        group_labels: payload.group_labels,
        status: payload.status,
        alerts,
        escalation_step: None,
    })
}

/// An RFC 3339 time as Unix milliseconds; `None` when unreadable or before 1970
/// (Alertmanager's zero time of a firing alert's `endsAt`).
fn unix_ms(text: &str) -> Option<i64> {
    let at = humantime::parse_rfc3339_weak(text).ok()?;
    let since = at.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_that_are_not_version_4_are_refused_with_the_reason() {
        let err = |body: &str| notification(body.as_bytes()).err().unwrap_or_default();
        assert!(err("{").starts_with("not an Alertmanager webhook payload"));
        assert_eq!(
            err(r#"{"version": "3", "status": "firing", "alerts": []}"#),
            "webhook payload version 3 (4 expected)"
        );
        assert!(err(r#"{"version": "4", "status": "burning", "alerts": []}"#).contains("burning"));
    }

    #[test]
    fn alertmanager_times_become_unix_milliseconds() {
        assert_eq!(unix_ms("2026-01-02T03:04:05.678Z"), Some(1_767_323_045_678));
        assert_eq!(unix_ms("2026-01-02T03:04:05.678901234Z"), Some(1_767_323_045_678));
        assert_eq!(unix_ms("0001-01-01T00:00:00Z"), None);
        assert_eq!(unix_ms("yesterday"), None);
    }
}
