//! The alerts view: the engine's pending and firing alerts with what mutes them and who
//! acknowledged them, and the active silences. Acknowledging and silencing go from the
//! page straight to the engine's own API (`POST /api/v1/alerts/{fingerprint}/ack`,
//! `POST /alertmanager/api/v2/silences`) with the engine's token.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use voxscope_alert::eval::AlertState;
use voxscope_alerting::AlertEngine;
use voxscope_alerting::silence::SilenceState;

/// The alerts view's frame body at the engine's now.
pub(crate) fn frame(engine: &AlertEngine) -> Value {
    let now_ms = engine.clock().now_ms();
    let acks: BTreeMap<String, Value> = engine
        .notifier()
        .alerts()
        .into_iter()
        .filter_map(|status| {
            let ack = status.acknowledged?;
            Some((
                status.alert.fingerprint,
                json!({"by": ack.by, "comment": ack.comment, "at_ms": ack.at_ms}),
            ))
        })
        .collect();
    let mut alerts: Vec<Value> = engine
        .alerts()
        .into_iter()
        .filter(|view| view.alert.state != AlertState::Inactive)
        .map(|view| {
            let alert = &view.alert;
            let label = |name: &str| alert.labels.get(name).cloned().unwrap_or_default();
            json!({
                "fingerprint": view.fingerprint,
                "alertname": label("alertname"),
                "severity": label("severity"),
                "state": if alert.state == AlertState::Firing { "firing" } else { "pending" },
                "summary": alert.annotations.get("summary").cloned().unwrap_or_default(),
                "labels": alert.labels,
                "active_at_ms": alert.active_at_ms,
                "fired_at_ms": alert.fired_at_ms,
                "value": if alert.value.is_finite() { json!(alert.value) } else { Value::Null },
                "silenced_by": engine.silences().silenced_by(&alert.labels, now_ms),
                "inhibited_by": view.inhibited_by,
                "acknowledged": acks.get(&view.fingerprint),
            })
        })
        .collect();
    // Firing before pending, then by severity and name: the order an operator reads.
    alerts.sort_by_key(|a| {
        (
            a["state"] != "firing",
            severity_rank(a["severity"].as_str().unwrap_or_default()),
            a["alertname"].as_str().unwrap_or_default().to_owned(),
            a["fingerprint"].as_str().unwrap_or_default().to_owned(),
        )
    });
    let silences: Vec<Value> = engine
        .silences()
        .lock()
        .iter()
        .filter(|s| s.state(now_ms) != SilenceState::Expired)
        .map(|s| {
            json!({
                "id": s.id,
                "matchers": s.matchers.iter().map(|m| m.render()).collect::<Vec<_>>(),
                "starts_at_ms": s.starts_at_ms,
                "ends_at_ms": s.ends_at_ms,
                "created_by": s.created_by,
                "comment": s.comment,
            })
        })
        .collect();
    json!({"alerts": alerts, "silences": silences})
}

fn severity_rank(severity: &str) -> u8 {
    match severity {
        "emergency" => 0,
        "critical" => 1,
        "warning" => 2,
        "info" => 3,
        _ => 4,
    }
}
