//! The history: alert state changes, notifications, pages, drops and acknowledgements,
//! kept for a retention and at most a number of entries, the oldest going first.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use voxscope_alert::eval::{AlertState, Labels};

use crate::notification::Status;

/// What happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// An alert changed state; `from` is `None` for an alert seen for the first time.
    StateChanged {
        /// The alert's fingerprint.
        fingerprint: String,
        /// Its labels.
        labels: Labels,
        /// The state before.
        from: Option<AlertState>,
        /// The state now.
        to: AlertState,
    },
    /// A notification went to the sink.
    Notified {
        /// Its receiver.
        receiver: String,
        /// Its group.
        group_key: String,
        /// Firing or resolved.
        status: Status,
        /// The alerts it carried.
        fingerprints: Vec<String>,
        /// The escalation step, for a page.
        escalation_step: Option<usize>,
    },
    /// An escalation step came due while the alert was muted, so nobody was paged.
    PageMuted {
        /// The alert's fingerprint.
        fingerprint: String,
        /// The step (0-based).
        escalation_step: usize,
    },
    /// The sink was full or closed: the notification was dropped.
    Dropped {
        /// Its receiver.
        receiver: String,
        /// Its group.
        group_key: String,
    },
    /// Someone acknowledged an alert.
    Acknowledged {
        /// The alert's fingerprint.
        fingerprint: String,
        /// Who.
        by: String,
        /// Their comment.
        comment: String,
    },
}

/// One entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When, unix milliseconds.
    pub at_ms: i64,
    /// What.
    #[serde(flatten)]
    pub event: Event,
}

/// Entries in time order, bounded by age and count.
///
/// ```
/// use voxscope_alerting::history::{Event, History};
/// let mut history = History::new(1, 2);
/// for at_ms in [0, 1, 2] {
///     history.push(at_ms, Event::Dropped { receiver: "r".into(), group_key: "g".into() });
/// }
/// assert_eq!(history.entries().map(|e| e.at_ms).collect::<Vec<_>>(), [1, 2]);
/// history.prune(86_400_000 + 2);
/// assert_eq!(history.entries().count(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct History {
    entries: VecDeque<Entry>,
    retention_ms: i64,
    max_entries: usize,
}

impl History {
    /// A history keeping entries `retention_days`, at most `max_entries` of them.
    pub fn new(retention_days: u64, max_entries: usize) -> Self {
        let retention_ms =
            i64::try_from(retention_days.saturating_mul(86_400_000)).unwrap_or(i64::MAX);
        Self { entries: VecDeque::new(), retention_ms, max_entries: max_entries.max(1) }
    }

    /// Appends an entry, dropping the oldest past the bound.
    pub fn push(&mut self, at_ms: i64, event: Event) {
        self.entries.push_back(Entry { at_ms, event });
        while self.entries.len() > self.max_entries {
            self.entries.pop_front();
        }
    }

    /// Drops the entries older than the retention at `now_ms`.
    pub fn prune(&mut self, now_ms: i64) {
        let oldest = now_ms.saturating_sub(self.retention_ms);
        while self.entries.front().is_some_and(|e| e.at_ms <= oldest) {
            self.entries.pop_front();
        }
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// Replaces the entries with those saved before a restart, within the bounds.
    pub fn restore(&mut self, entries: Vec<Entry>, now_ms: i64) {
        self.entries.clear();
        for entry in entries {
            self.push(entry.at_ms, entry.event);
        }
        self.prune(now_ms);
    }
}
