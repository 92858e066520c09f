//! The push of alerts to a real Alertmanager, as Prometheus sends them:
//! `POST <url>/api/v2/alerts` with labels, annotations, `startsAt`, `endsAt` once
//! resolved, and `generatorURL`. Alertmanager then groups, routes and notifies itself.

use serde_json::{Value, json};

use super::text::rfc3339;
use super::{SendError, http};
use crate::notification::NotifiedAlert;

/// POSTs alerts to one Alertmanager.
#[derive(Clone)]
pub struct AlertmanagerPush {
    client: reqwest::Client,
    endpoint: String,
}

impl AlertmanagerPush {
    pub(super) fn new(client: reqwest::Client, base_url: &str) -> Self {
        Self { client, endpoint: format!("{}/api/v2/alerts", base_url.trim_end_matches('/')) }
    }

    pub(super) async fn send(&self, alerts: &[NotifiedAlert]) -> Result<(), SendError> {
        http::post_json(&self.client, &self.endpoint, &body(alerts), None).await.map(drop)
    }
}

/// The `postableAlerts` body of Alertmanager's API v2. A firing alert carries no
/// `endsAt`: Alertmanager keeps it for its `resolve_timeout` after the last push, so
/// the engine pushes every active alert at each evaluation, as Prometheus does.
///
/// ```
/// # use voxscope_alerting::notification::*;
/// let alert = NotifiedAlert {
///     fingerprint: "f".into(),
///     status: Status::Resolved,
///     labels: [("alertname".to_owned(), "X".to_owned())].into(),
///     annotations: Default::default(),
///     starts_at_ms: 0,
///     ends_at_ms: Some(60_000),
///     generator_url: "http://svc/rules".into(),
/// };
/// let body = voxscope_alerting::channel::alertmanager_body(&[alert]);
/// assert_eq!(body[0]["endsAt"], "1970-01-01T00:01:00.000Z");
/// ```
pub fn body(alerts: &[NotifiedAlert]) -> Value {
    Value::Array(
        alerts
            .iter()
            .map(|a| {
                let mut alert = json!({
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": rfc3339(a.starts_at_ms),
                    "generatorURL": a.generator_url,
                });
                if let Some(ends) = a.ends_at_ms {
                    alert["endsAt"] = json!(rfc3339(ends));
                }
                alert
            })
            .collect(),
    )
}
