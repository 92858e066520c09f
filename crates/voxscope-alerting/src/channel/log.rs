//! The log receiver: one `tracing` event per notification and one per alert in it, at
//! `warn` while firing and `info` once resolved, under the target `voxscope::alert`.
//! The demo delivers every receiver here.

use crate::notification::{Notification, Status};

/// Writes notifications to the log.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogChannel;

impl LogChannel {
    pub(super) fn send(&self, n: &Notification) {
        let title = super::text::title(n);
        let step = n.escalation_step.map(|s| s + 1);
        match n.status {
            Status::Firing => tracing::warn!(
                target: "voxscope::alert",
                receiver = %n.receiver, alerts = n.alerts.len(), escalation_step = ?step,
                "{title}"
            ),
            Status::Resolved => tracing::info!(
                target: "voxscope::alert",
                receiver = %n.receiver, alerts = n.alerts.len(), "{title}"
            ),
        }
        for alert in &n.alerts {
            let get = |key: &str| alert.annotations.get(key).map(String::as_str).unwrap_or("");
            tracing::info!(
                target: "voxscope::alert",
                receiver = %n.receiver,
                status = ?alert.status,
                labels = ?alert.labels,
                runbook = get("runbook_url"),
                "{}", get("summary"),
            );
        }
    }
}
