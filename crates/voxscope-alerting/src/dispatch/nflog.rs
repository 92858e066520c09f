//! The notification log the dedup stage reads, as Alertmanager's `nflog` and
//! `DedupStage.needsUpdate`: what each group last told each receiver, and whether a
//! flush has anything new to say.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// What one group last told one receiver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The group's key.
    pub group_key: String,
    /// The receiver.
    pub receiver: String,
    /// Fingerprints notified firing.
    pub firing: BTreeSet<String>,
    /// Fingerprints notified resolved.
    pub resolved: BTreeSet<String>,
    /// When, unix milliseconds.
    pub at_ms: i64,
}

/// Why a flush notifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    First,
    NewAlerts,
    AllResolved,
    NewResolved,
    RepeatElapsed,
}

/// How long an entry is kept after it was written: Alertmanager's default retention.
const RETENTION_MS: i64 = 120 * 3_600 * 1_000;

/// Every group's last notification, by group key and receiver.
#[derive(Debug, Default)]
pub(crate) struct NotifyLog {
    entries: BTreeMap<(String, String), LogEntry>,
}

impl NotifyLog {
    pub fn restore(entries: Vec<LogEntry>) -> Self {
        let entries =
            entries.into_iter().map(|e| ((e.group_key.clone(), e.receiver.clone()), e)).collect();
        Self { entries }
    }

    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries.values().cloned().collect()
    }

    /// Whether a flush with these `firing` and `resolved` fingerprints notifies.
    ///
    /// Alertmanager repeats when the last notification is strictly older than
    /// `now - repeat`, against a log timestamp written after the send, so a repeat
    /// interval equal to the group interval lands on every other flush there; here the
    /// repeat is due once exactly `repeat_ms` passed, so it lands on the flush it names.
    pub fn needs_update(
        &self,
        group_key: &str,
        receiver: &str,
        firing: &BTreeSet<String>,
        resolved: &BTreeSet<String>,
        repeat_ms: i64,
        now_ms: i64,
    ) -> Option<Reason> {
        let Some(entry) = self.entries.get(&(group_key.to_owned(), receiver.to_owned())) else {
            return (!firing.is_empty()).then_some(Reason::First);
        };
        if !firing.is_subset(&entry.firing) {
            return Some(if entry.firing.is_empty() { Reason::First } else { Reason::NewAlerts });
        }
        if firing.is_empty() {
            return (!entry.firing.is_empty()).then_some(Reason::AllResolved);
        }
        if !resolved.is_subset(&entry.resolved) {
            return Some(Reason::NewResolved);
        }
        (now_ms - entry.at_ms >= repeat_ms).then_some(Reason::RepeatElapsed)
    }

    pub fn record(
        &mut self,
        group_key: &str,
        receiver: &str,
        firing: BTreeSet<String>,
        resolved: BTreeSet<String>,
        now_ms: i64,
    ) {
        let entry = LogEntry {
            group_key: group_key.to_owned(),
            receiver: receiver.to_owned(),
            firing,
            resolved,
            at_ms: now_ms,
        };
        self.entries.insert((group_key.to_owned(), receiver.to_owned()), entry);
    }

    /// Forgets entries past the retention.
    pub fn prune(&mut self, now_ms: i64) {
        self.entries.retain(|_, e| now_ms - e.at_ms < RETENTION_MS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn follows_alertmanagers_dedup_reasons() {
        let mut log = NotifyLog::default();
        let need = |log: &NotifyLog, firing: &[&str], resolved: &[&str], now| {
            log.needs_update("g", "r", &set(firing), &set(resolved), 60_000, now)
        };
        assert_eq!(need(&log, &[], &["a"], 0), None);
        assert_eq!(need(&log, &["a"], &[], 0), Some(Reason::First));
        log.record("g", "r", set(&["a"]), set(&[]), 0);
        assert_eq!(need(&log, &["a"], &[], 59_999), None);
        assert_eq!(need(&log, &["a"], &[], 60_000), Some(Reason::RepeatElapsed));
        assert_eq!(need(&log, &["a", "b"], &[], 1), Some(Reason::NewAlerts));
        assert_eq!(need(&log, &["b"], &["a"], 1), Some(Reason::NewAlerts));
        assert_eq!(need(&log, &[], &["a"], 1), Some(Reason::AllResolved));
        log.record("g", "r", set(&["a", "b"]), set(&[]), 0);
        assert_eq!(need(&log, &["b"], &["a"], 1), Some(Reason::NewResolved));
        log.record("g", "r", set(&[]), set(&["a", "b"]), 2);
        assert_eq!(need(&log, &[], &["a"], 3), None);
        assert_eq!(need(&log, &["a"], &[], 3), Some(Reason::First));
        // A different receiver of the same group has its own entry.
        assert_eq!(
            log.needs_update("g", "other", &set(&["a"]), &set(&[]), 0, 3),
            Some(Reason::First)
        );
    }
}
