//! PagerDuty Events API v2: a `trigger` while the group fires, a `resolve` with the same
//! `dedup_key` once it resolves, so PagerDuty keeps one incident per group.

use std::sync::Arc;

use serde_json::{Value, json};
use voxscope_alert::receiver::Secret;

use super::text::{rfc3339, severity, title};
use super::{SendError, http};
use crate::notification::{Notification, Status};
use crate::secret::{Env, required};

/// PagerDuty's documented endpoint.
pub const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// The most characters PagerDuty takes in `payload.summary`.
const SUMMARY_MAX: usize = 1024;

/// POSTs events with the routing key.
#[derive(Clone)]
pub struct PagerDutyChannel {
    pub(super) client: reqwest::Client,
    pub(super) env: Env,
    pub(super) url: Arc<str>,
    pub(super) routing_key: Secret,
    pub(super) send_resolved: bool,
}

impl PagerDutyChannel {
    pub(super) async fn send(&self, n: &Notification) -> Result<(), SendError> {
        let key = required(&self.routing_key, &*self.env).map_err(SendError::Refused)?;
        http::post_json(&self.client, &self.url, &event(n, &key), None).await.map(drop)
    }
}

/// The event of `n`: a trigger with summary, source, severity, timestamp, group, class,
/// details and links while firing; a resolve of the same `dedup_key` once resolved.
///
/// ```
/// # use voxscope_alerting::notification::*;
/// let mut n = Notification {
///     receiver: "critical".into(),
///     group_key: "{}/{severity=~\"critical|emergency\"}:{alertname=\"ServiceDown\"}".into(),
///     group_labels: Default::default(),
///     status: Status::Firing,
///     alerts: vec![],
///     escalation_step: None,
/// };
/// let trigger = voxscope_alerting::channel::pagerduty_event(&n, "key");
/// n.status = Status::Resolved;
/// let resolve = voxscope_alerting::channel::pagerduty_event(&n, "key");
/// assert_eq!(trigger["event_action"], "trigger");
/// assert_eq!(resolve["event_action"], "resolve");
/// assert_eq!(trigger["dedup_key"], resolve["dedup_key"]);
/// // No alert to take a start time or a link from: those fields are left out.
/// assert!(trigger["payload"].get("timestamp").is_none());
/// assert!(trigger.get("client_url").is_none());
/// ```
pub fn event(n: &Notification, routing_key: &str) -> Value {
    let dedup_key = dedup_key(n);
    if n.status == Status::Resolved {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        });
    }
    let common = n.common_labels();
    let first = n.alerts.iter().find(|a| a.status == Status::Firing).or(n.alerts.first());
    let annotation = |key: &str| first.and_then(|a| a.annotations.get(key)).cloned();
    let mut links = Vec::new();
    for (key, text) in [("runbook_url", "Runbook"), ("dashboard", "Dashboard")] {
        if let Some(href) = annotation(key).filter(|h| !h.is_empty()) {
            links.push(json!({"href": href, "text": text}));
        }
    }
    let summaries: Vec<&str> =
        n.alerts.iter().filter_map(|a| a.annotations.get("summary").map(String::as_str)).collect();
    let firing = n.alerts.iter().filter(|a| a.status == Status::Firing).count();
    without_nulls(json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": truncate(&title(n), SUMMARY_MAX),
            "source": common.get("job").map_or("voxscope", String::as_str),
            "severity": pagerduty_severity(severity(n)),
            "timestamp": first.map(|a| rfc3339(a.starts_at_ms)),
            "group": common.get("category"),
            "class": common.get("alertname"),
            "custom_details": {
                "firing": summaries.join("\n"),
                "num_firing": firing,
                "num_resolved": n.alerts.len() - firing,
                "labels": common,
            },
        },
        "client": "voxscope",
        "client_url": first.map(|a| a.generator_url.as_str()).filter(|u| !u.is_empty()),
        "links": links,
    }))
}

/// The event without the optional fields it has no value for: PagerDuty documents
/// them as absent, not null.
fn without_nulls(mut event: Value) -> Value {
    if let Some(object) = event.as_object_mut() {
        object.retain(|_, v| !v.is_null());
        if let Some(payload) = object.get_mut("payload").and_then(Value::as_object_mut) {
            payload.retain(|_, v| !v.is_null());
        }
    }
    event
}

/// emergency is PagerDuty's `critical`, critical its `error`, as the generated
/// Alertmanager configuration maps them.
fn pagerduty_severity(severity: &str) -> &'static str {
    match severity {
        "emergency" => "critical",
        "warning" => "warning",
        "info" => "info",
        _ => "error",
    }
}

/// A stable key of the receiver and group (FNV-1a, 64 bits, hex): the same group maps
/// to the same incident across restarts, within PagerDuty's 255 characters.
fn dedup_key(n: &Notification) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in n.receiver.bytes().chain([0]).chain(n.group_key.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("voxscope-{hash:016x}")
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}
