//! Silences: label matchers and a time window that mute the alerts they match, kept as
//! Alertmanager keeps them (pending, active, expired; updates that would rewrite history
//! replace the silence instead).
//!
//! ```
//! use voxscope_alert::expr::Matcher;
//! use voxscope_alerting::silence::{Silence, SilenceState, SilenceStore};
//!
//! let mut store = SilenceStore::new();
//! let id = store
//!     .set(Silence::new(vec![Matcher::eq("alertname", "HighErrorRate")], 1_000, 61_000), 0)
//!     .unwrap();
//! let labels = [("alertname", "HighErrorRate"), ("job", "voice_agent")]
//!     .map(|(k, v)| (k.to_owned(), v.to_owned()))
//!     .into();
//! assert!(store.silenced_by(&labels, 500).is_empty()); // pending
//! assert_eq!(store.silenced_by(&labels, 1_000), vec![id.clone()]);
//! store.expire(&id, 2_000).unwrap();
//! assert_eq!(store.get(&id).unwrap().state(2_000), SilenceState::Expired);
//! assert!(store.silenced_by(&labels, 2_000).is_empty());
//! ```

mod matcher;
mod shared;
mod store;

use serde::{Deserialize, Serialize};
use voxscope_alert::expr::Matcher;

pub use matcher::{LabelMatcher, MatcherJson};
pub use shared::Silences;
pub use store::SilenceStore;

/// How long an expired silence stays queryable before [`SilenceStore::gc`] drops it:
/// Alertmanager's default `--data.retention` (120 h).
pub const DEFAULT_RETENTION_MS: i64 = 120 * 3_600_000;

/// How many pending and active silences a store holds before it refuses new ones
/// (expired ones stay until [`SilenceStore::gc`] drops them).
pub const DEFAULT_MAX_SILENCES: usize = 10_000;

/// Why a silence was refused or not found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    /// A silence needs at least one matcher.
    #[error("at least one matcher required")]
    NoMatchers,
    /// Every matcher matches the empty string, so the silence would mute everything.
    #[error("at least one matcher must not match the empty string")]
    MatchesEverything,
    /// A label name that is not `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label name {0:?}")]
    LabelName(String),
    /// A regex that does not compile.
    #[error("invalid regex {regex:?} for label {label:?}: {reason}")]
    Regex {
        /// The label of the matcher.
        label: String,
        /// The regex as given.
        regex: String,
        /// What the regex engine says.
        reason: String,
    },
    /// `endsAt` is not after `startsAt`.
    #[error("start time must be before end time")]
    StartNotBeforeEnd,
    /// `endsAt` already passed.
    #[error("end time can't be in the past")]
    EndInPast,
    /// No silence has this id.
    #[error("silence {0} not found")]
    NotFound(String),
    /// The store holds its maximum number of pending and active silences.
    #[error("too many silences (limit {0}); expire some first")]
    Full(usize),
}

/// Where a silence is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// Its window has not started.
    Pending,
    /// It mutes the alerts it matches.
    Active,
    /// Its window ended (or it was expired by hand).
    Expired,
}

/// A silence: every matcher must hold for an alert to be muted, between `starts_at_ms`
/// (inclusive) and `ends_at_ms` (exclusive). Times are unix milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    /// A UUID, given by the store; empty for a silence not stored yet.
    pub id: String,
    /// The matchers, all of which must hold.
    #[serde(with = "matcher::matchers_serde")]
    pub matchers: Vec<Matcher>,
    /// When it starts muting.
    pub starts_at_ms: i64,
    /// When it stops muting.
    pub ends_at_ms: i64,
    /// When the store last changed it.
    pub updated_at_ms: i64,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

impl Silence {
    /// A silence not stored yet, with no author and no comment.
    pub fn new(matchers: Vec<Matcher>, starts_at_ms: i64, ends_at_ms: i64) -> Self {
        Self {
            id: String::new(),
            matchers,
            starts_at_ms,
            ends_at_ms,
            updated_at_ms: 0,
            created_by: String::new(),
            comment: String::new(),
        }
    }

    /// Pending before its start, active until its end, expired from then on.
    pub fn state(&self, now_ms: i64) -> SilenceState {
        if now_ms < self.starts_at_ms {
            SilenceState::Pending
        } else if now_ms < self.ends_at_ms {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }
}
