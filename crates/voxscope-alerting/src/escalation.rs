//! Escalation of unacknowledged alerts: each step of `[escalation]` pages its receiver
//! once, exactly `after_seconds` after the alert started firing, unless the alert was
//! acknowledged or resolved by then. A step that comes due while a silence or an
//! inhibition mutes the alert is passed over, not paged later.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use voxscope_alert::engine::Escalation;

use crate::ack::Acks;
use crate::notification::{Notification, NotifiedAlert, Status};

/// Where one firing alert is in its escalation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalating {
    /// The alert's fingerprint.
    pub fingerprint: String,
    /// When it started firing, unix milliseconds.
    pub fired_at_ms: i64,
    /// The next step to page (0-based); the number of steps when all were.
    pub next_step: usize,
}

/// One step that came due.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The page: the step's receiver, the alert, `escalation_step` set.
    pub notification: Notification,
    /// Whether a silence or an inhibition muted it, so it is not sent.
    pub muted: bool,
}

/// The escalation policy and the alerts it follows.
///
/// ```
/// use voxscope_alerting::ack::Acks;
/// use voxscope_alerting::escalation::Escalator;
/// use voxscope_alerting::notification::{NotifiedAlert, Status};
///
/// let mut escalator = Escalator::new(Default::default());
/// let alert = NotifiedAlert {
///     fingerprint: "f1".into(),
///     status: Status::Firing,
///     labels: [("severity".to_owned(), "critical".to_owned())].into(),
///     annotations: Default::default(),
///     starts_at_ms: 0,
///     ends_at_ms: None,
///     generator_url: String::new(),
/// };
/// escalator.track([&alert].into_iter());
/// assert_eq!(escalator.next_due_ms(&Acks::default()), Some(900_000));
/// let pages = escalator.due(900_000, &Acks::default(), |_| Some((alert.clone(), false)));
/// assert_eq!(pages[0].notification.receiver, "team-lead");
/// ```
#[derive(Clone, Debug)]
pub struct Escalator {
    policy: Escalation,
    tracked: BTreeMap<String, Escalating>,
}

impl Escalator {
    /// An escalator of `policy`.
    pub fn new(policy: Escalation) -> Self {
        Self { policy, tracked: BTreeMap::new() }
    }

    /// Follows the firing alerts of escalating severities from when they started firing,
    /// and forgets every alert no longer among them.
    pub fn track<'a>(&mut self, firing: impl Iterator<Item = &'a NotifiedAlert>) {
        let mut keep = BTreeMap::new();
        for alert in firing {
            let severity = alert.labels.get("severity").map_or("", String::as_str);
            if alert.status != Status::Firing || !self.policy.escalates(severity) {
                continue;
            }
            let entry = self.tracked.remove(&alert.fingerprint).unwrap_or_else(|| Escalating {
                fingerprint: alert.fingerprint.clone(),
                fired_at_ms: alert.starts_at_ms,
                next_step: 0,
            });
            keep.insert(alert.fingerprint.clone(), entry);
        }
        self.tracked = keep;
    }

    fn due_at(&self, entry: &Escalating) -> Option<i64> {
        let step = self.policy.steps.get(entry.next_step)?;
        let after = i64::try_from(step.after_seconds.saturating_mul(1_000)).unwrap_or(i64::MAX);
        Some(entry.fired_at_ms.saturating_add(after))
    }

    /// When the next step of an unacknowledged alert comes due, unix milliseconds.
    pub fn next_due_ms(&self, acks: &Acks) -> Option<i64> {
        self.tracked
            .values()
            .filter(|e| acks.get(&e.fingerprint).is_none())
            .filter_map(|e| self.due_at(e))
            .min()
    }

    /// The steps due at `now_ms` of the unacknowledged alerts, each once; `lookup` gives
    /// an alert's current state and whether it is muted.
    pub fn due(
        &mut self,
        now_ms: i64,
        acks: &Acks,
        lookup: impl Fn(&str) -> Option<(NotifiedAlert, bool)>,
    ) -> Vec<Page> {
        let mut pages = Vec::new();
        let fingerprints: Vec<String> = self.tracked.keys().cloned().collect();
        for fingerprint in fingerprints {
            if acks.get(&fingerprint).is_some() {
                continue;
            }
            let Some((alert, muted)) = lookup(&fingerprint) else { continue };
            while let Some(entry) = self.tracked.get(&fingerprint)
                && self.due_at(entry).is_some_and(|at| at <= now_ms)
            {
                let index = entry.next_step;
                let step = &self.policy.steps[index];
                let mut group_labels = voxscope_alert::eval::Labels::new();
                if let Some(name) = alert.labels.get("alertname") {
                    group_labels.insert("alertname".to_owned(), name.clone());
                }
                pages.push(Page {
                    notification: Notification {
                        receiver: step.receiver.clone(),
                        group_key: format!("escalation:{fingerprint}"),
                        group_labels,
                        status: Status::Firing,
                        alerts: vec![alert.clone()],
                        escalation_step: Some(index),
                    },
                    muted,
                });
                if let Some(entry) = self.tracked.get_mut(&fingerprint) {
                    entry.next_step += 1;
                }
            }
        }
        pages
    }

    /// Where every followed alert is, to persist.
    pub fn state(&self) -> Vec<Escalating> {
        self.tracked.values().cloned().collect()
    }

    /// Brings back the state saved before a restart, so no step pages twice.
    pub fn restore(&mut self, state: Vec<Escalating>) {
        self.tracked = state.into_iter().map(|e| (e.fingerprint.clone(), e)).collect();
    }
}
