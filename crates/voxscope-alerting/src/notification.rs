//! What the dispatcher hands to delivery: one message for one receiver.

use serde::{Deserialize, Serialize};
use voxscope_alert::eval::{ActiveAlert, Labels};

/// Whether an alert (or a group) is firing or resolved, as Alertmanager says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// At least one alert fires.
    Firing,
    /// Every alert resolved.
    Resolved,
}

/// One alert inside a notification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotifiedAlert {
    /// A stable hash of the labels, hex (Alertmanager's fingerprint).
    pub fingerprint: String,
    /// Firing or resolved.
    pub status: Status,
    /// The alert's labels.
    pub labels: Labels,
    /// Summary, description, runbook and dashboard links.
    pub annotations: Labels,
    /// When it started firing, unix milliseconds.
    pub starts_at_ms: i64,
    /// When it resolved, unix milliseconds; `None` while firing.
    pub ends_at_ms: Option<i64>,
    /// A link back to the rule that produced it.
    pub generator_url: String,
}

impl NotifiedAlert {
    /// The evaluator's `alert` as a notification carries it; `ends_at_ms` is `None`
    /// while it fires.
    ///
    /// ```
    /// use voxscope_alert::eval::{ActiveAlert, AlertState};
    /// use voxscope_alerting::notification::{NotifiedAlert, Status};
    /// let active = ActiveAlert {
    ///     labels: [("alertname".to_owned(), "X".to_owned())].into(),
    ///     annotations: Default::default(),
    ///     state: AlertState::Firing,
    ///     active_at_ms: 0,
    ///     fired_at_ms: Some(60_000),
    ///     resolved_at_ms: None,
    ///     keep_firing_since_ms: None,
    ///     value: 1.0,
    /// };
    /// let n = NotifiedAlert::of(&active, Status::Firing, 60_000, None, String::new());
    /// assert_eq!(n.fingerprint, voxscope_alerting::fingerprint(&active.labels));
    /// ```
    pub fn of(
        alert: &ActiveAlert,
        status: Status,
        starts_at_ms: i64,
        ends_at_ms: Option<i64>,
        generator_url: String,
    ) -> Self {
        Self {
            fingerprint: crate::fingerprint(&alert.labels),
            status,
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at_ms,
            ends_at_ms,
            generator_url,
        }
    }
}

/// One message for one receiver: a group's alerts at a flush, or an escalation step of
/// an alert nobody acknowledged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The receiver name, as the route tree or the escalation step names it.
    pub receiver: String,
    /// The group's key: the route and the values of its `group_by` labels.
    pub group_key: String,
    /// The values of the route's `group_by` labels.
    pub group_labels: Labels,
    /// Firing when any alert fires.
    pub status: Status,
    /// The group's alerts, firing first.
    pub alerts: Vec<NotifiedAlert>,
    /// The escalation step (0-based) this page is, or `None` for a routed notification.
    pub escalation_step: Option<usize>,
}

impl Notification {
    /// Labels every alert shares.
    ///
    /// ```
    /// use voxscope_alerting::notification::{Notification, NotifiedAlert, Status};
    /// let alert = |job: &str| NotifiedAlert {
    ///     fingerprint: job.to_owned(),
    ///     status: Status::Firing,
    ///     labels: [("alertname", "X"), ("job", job)]
    ///         .map(|(k, v)| (k.to_owned(), v.to_owned()))
    ///         .into(),
    ///     annotations: Default::default(),
    ///     starts_at_ms: 0,
    ///     ends_at_ms: None,
    ///     generator_url: String::new(),
    /// };
    /// let n = Notification {
    ///     receiver: "warning".into(),
    ///     group_key: "k".into(),
    ///     group_labels: Default::default(),
    ///     status: Status::Firing,
    ///     alerts: vec![alert("a"), alert("b")],
    ///     escalation_step: None,
    /// };
    /// assert_eq!(n.common_labels().len(), 1);
    /// assert_eq!(n.common_labels()["alertname"], "X");
    /// ```
    pub fn common_labels(&self) -> Labels {
        common(self.alerts.iter().map(|a| &a.labels))
    }

    /// Annotations every alert shares.
    pub fn common_annotations(&self) -> Labels {
        common(self.alerts.iter().map(|a| &a.annotations))
    }
}

fn common<'a>(mut sets: impl Iterator<Item = &'a Labels>) -> Labels {
    let Some(first) = sets.next() else { return Labels::new() };
    let mut out = first.clone();
    for set in sets {
        out.retain(|k, v| set.get(k) == Some(v));
    }
    out
}
