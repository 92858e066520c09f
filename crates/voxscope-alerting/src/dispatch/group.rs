//! An aggregation group: the alerts of one route that share the values of its `group_by`
//! labels, and the time of its next flush.

use std::collections::BTreeMap;

use voxscope_alert::eval::Labels;

use crate::notification::{NotifiedAlert, Status};

#[derive(Debug)]
pub(crate) struct Group {
    pub route: usize,
    pub key: String,
    pub labels: Labels,
    pub alerts: BTreeMap<String, NotifiedAlert>,
    pub next_flush_ms: i64,
}

impl Group {
    /// A group whose first flush comes `group_wait_ms` after now, or now when its first
    /// alert started firing longer than that ago (Alertmanager's "old enough for an
    /// immediate flush").
    pub fn new(
        route: usize,
        key: String,
        labels: Labels,
        first: &NotifiedAlert,
        group_wait_ms: i64,
        now_ms: i64,
    ) -> Self {
        let next_flush_ms = if first.starts_at_ms + group_wait_ms < now_ms {
            now_ms
        } else {
            now_ms + group_wait_ms
        };
        let mut group = Self { route, key, labels, alerts: BTreeMap::new(), next_flush_ms };
        group.upsert(first);
        group
    }

    pub fn upsert(&mut self, alert: &NotifiedAlert) {
        self.alerts.insert(alert.fingerprint.clone(), alert.clone());
    }

    /// The alerts, firing first, each part sorted by labels.
    pub fn sorted(&self) -> Vec<&NotifiedAlert> {
        let mut alerts: Vec<&NotifiedAlert> = self.alerts.values().collect();
        alerts.sort_by(|a, b| {
            (a.status == Status::Resolved, &a.labels)
                .cmp(&(b.status == Status::Resolved, &b.labels))
        });
        alerts
    }

    /// Drops the resolved alerts after a flush told about them.
    pub fn remove_resolved(&mut self) {
        self.alerts.retain(|_, a| a.status == Status::Firing);
    }
}
