//! Slack incoming webhooks: one message with an attachment coloured by severity, its
//! text the summary, description and links of each alert, as the generated
//! Alertmanager templates write it.

use serde_json::{Value, json};
use voxscope_alert::receiver::Secret;

use super::text::{self, colour, severity, title};
use super::{SendError, http};
use crate::notification::Notification;
use crate::secret::{Env, required};

/// POSTs to the incoming-webhook URL (itself the secret).
#[derive(Clone)]
pub struct SlackChannel {
    pub(super) client: reqwest::Client,
    pub(super) env: Env,
    pub(super) channel: String,
    pub(super) api_url: Secret,
    pub(super) send_resolved: bool,
}

impl SlackChannel {
    pub(super) async fn send(&self, n: &Notification) -> Result<(), SendError> {
        let url = required(&self.api_url, &*self.env).map_err(SendError::Refused)?;
        http::post_json(&self.client, &url, &payload(n, &self.channel), None).await.map(drop)
    }
}

/// The incoming-webhook message of `n` for `channel`.
///
/// ```
/// # use voxscope_alerting::notification::*;
/// let n = Notification {
///     receiver: "warning".into(),
///     group_key: "k".into(),
///     group_labels: Default::default(),
///     status: Status::Resolved,
///     alerts: vec![],
///     escalation_step: None,
/// };
/// let message = voxscope_alerting::channel::slack_payload(&n, "#voice-alerts");
/// assert_eq!(message["channel"], "#voice-alerts");
/// assert_eq!(message["attachments"][0]["color"], "#2eb886");
/// ```
pub fn payload(n: &Notification, channel: &str) -> Value {
    let title = title(n);
    let mut body = String::new();
    for alert in &n.alerts {
        let get =
            |key: &str| alert.annotations.get(key).map(|v| text::slack(v)).unwrap_or_default();
        body.push_str(&format!(
            "*{}*\n{}\n<{}|Runbook> | <{}|Dashboard>\n",
            get("summary"),
            get("description"),
            get("runbook_url"),
            get("dashboard"),
        ));
    }
    json!({
        "channel": channel,
        "username": "voxscope",
        "attachments": [{
            "fallback": text::slack(&title),
            "color": colour(severity(n), n.status),
            "title": text::slack(&title),
            "text": body.trim_end(),
            "mrkdwn_in": ["text"],
        }],
    })
}
