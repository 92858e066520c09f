//! The Alertmanager webhook payload, version 4: what a receiver written for
//! Alertmanager's `webhook_configs` already reads.

use serde_json::{Value, json};
use voxscope_alert::receiver::Secret;

use super::text::{ZERO_TIME, rfc3339};
use super::{SendError, http};
use crate::notification::{Notification, NotifiedAlert};
use crate::secret::{Env, resolve};

/// POSTs the webhook payload, with the bearer token when one is configured.
#[derive(Clone)]
pub struct WebhookChannel {
    pub(super) client: reqwest::Client,
    pub(super) env: Env,
    pub(super) url: String,
    pub(super) token: Option<Secret>,
    pub(super) send_resolved: bool,
    pub(super) external_url: String,
}

impl WebhookChannel {
    pub(super) async fn send(&self, n: &Notification) -> Result<(), SendError> {
        let token = match &self.token {
            Some(secret) => resolve(secret, &*self.env).map_err(SendError::Refused)?,
            None => None,
        };
        http::post_json(&self.client, &self.url, &payload(n, &self.external_url), token.as_deref())
            .await
            .map(drop)
    }
}

/// The version 4 payload of `n`.
///
/// ```
/// # use voxscope_alerting::notification::*;
/// let n = Notification {
///     receiver: "default".into(),
///     group_key: "{}:{alertname=\"X\"}".into(),
///     group_labels: Default::default(),
///     status: Status::Firing,
///     alerts: vec![],
///     escalation_step: None,
/// };
/// let body = voxscope_alerting::channel::webhook_payload(&n, "http://grafana:3000");
/// assert_eq!(body["version"], "4");
/// assert_eq!(body["status"], "firing");
/// ```
pub fn payload(n: &Notification, external_url: &str) -> Value {
    json!({
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": 0,
        "status": n.status,
        "receiver": n.receiver,
        "groupLabels": n.group_labels,
        "commonLabels": n.common_labels(),
        "commonAnnotations": n.common_annotations(),
        "externalURL": external_url,
        "alerts": n.alerts.iter().map(alert).collect::<Vec<_>>(),
    })
}

fn alert(a: &NotifiedAlert) -> Value {
    json!({
        "status": a.status,
        "labels": a.labels,
        "annotations": a.annotations,
        "startsAt": rfc3339(a.starts_at_ms),
        "endsAt": a.ends_at_ms.map_or_else(|| ZERO_TIME.to_owned(), rfc3339),
        "generatorURL": a.generator_url,
        "fingerprint": a.fingerprint,
    })
}
