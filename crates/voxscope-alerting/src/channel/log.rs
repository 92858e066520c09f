//! The log receiver: one `tracing` event per notification and one per alert in it, at
//! `warn` while firing and `info` once resolved, under the target `voxscope::alert`.
//! A heartbeat (every alert of severity `none`, such as `Watchdog`) goes at `debug`: it
//! repeats every minute by design and only means something to a dead man's switch
//! outside the process. The demo delivers every receiver here.

use crate::notification::{Notification, Status};

/// Writes notifications to the log.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogChannel;

impl LogChannel {
    pub(super) fn send(&self, n: &Notification) {
        let title = super::text::title(n);
        let step = n.escalation_step.map(|s| s + 1);
        if is_heartbeat(n) {
            tracing::debug!(target: "voxscope::alert", receiver = %n.receiver, "{title}");
            return;
        }
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

/// Whether every alert of `n` is a heartbeat (severity `none`).
fn is_heartbeat(n: &Notification) -> bool {
    !n.alerts.is_empty()
        && n.alerts.iter().all(|a| a.labels.get("severity").is_some_and(|s| s == "none"))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::{Context, SubscriberExt};

    use super::*;
    use crate::notification::NotifiedAlert;

    /// Records the level of every event.
    #[derive(Clone, Default)]
    struct Levels(Arc<Mutex<Vec<tracing::Level>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Levels {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(*event.metadata().level());
        }
    }

    fn notification(severities: &[&str]) -> Notification {
        let alert = |severity: &str| NotifiedAlert {
            fingerprint: severity.to_owned(),
            status: Status::Firing,
            labels: [("alertname", "A"), ("severity", severity)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            annotations: Default::default(),
            starts_at_ms: 0,
            ends_at_ms: None,
            generator_url: String::new(),
        };
        Notification {
            receiver: "r".to_owned(),
            group_key: "{}".to_owned(),
            group_labels: Default::default(),
            status: Status::Firing,
            alerts: severities.iter().map(|s| alert(s)).collect(),
            escalation_step: None,
        }
    }

    fn levels(n: &Notification) -> Vec<tracing::Level> {
        let levels = Levels::default();
        let subscriber = tracing_subscriber::registry().with(levels.clone());
        tracing::subscriber::with_default(subscriber, || LogChannel.send(n));
        levels.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    #[test]
    fn a_heartbeat_is_one_debug_line_a_page_warns() {
        assert_eq!(levels(&notification(&["none"])), [tracing::Level::DEBUG]);
        let page = levels(&notification(&["critical", "none"]));
        assert_eq!(page, [tracing::Level::WARN, tracing::Level::INFO, tracing::Level::INFO]);
    }
}
