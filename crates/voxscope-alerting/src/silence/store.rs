//! The silences by id, with Alertmanager's rules for creating, updating and expiring
//! them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use voxscope_alert::eval::Labels;

use super::{DEFAULT_MAX_SILENCES, LabelMatcher, Silence, SilenceError, SilenceState};

#[derive(Clone, Debug)]
struct Stored {
    silence: Silence,
    compiled: Vec<LabelMatcher>,
}

fn compile(silence: &Silence) -> Result<Vec<LabelMatcher>, SilenceError> {
    if silence.matchers.is_empty() {
        return Err(SilenceError::NoMatchers);
    }
    let compiled =
        silence.matchers.iter().cloned().map(LabelMatcher::new).collect::<Result<Vec<_>, _>>()?;
    if compiled.iter().all(|m| m.matches_value("")) {
        return Err(SilenceError::MatchesEverything);
    }
    Ok(compiled)
}

/// Every silence, by id. Serializes as the list of its silences, for persistence.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "Vec<Silence>", try_from = "Vec<Silence>")]
pub struct SilenceStore {
    silences: BTreeMap<String, Stored>,
    limit: usize,
}

impl Default for SilenceStore {
    fn default() -> Self {
        Self::new()
    }
}

impl From<SilenceStore> for Vec<Silence> {
    fn from(store: SilenceStore) -> Self {
        store.silences.into_values().map(|s| s.silence).collect()
    }
}

impl TryFrom<Vec<Silence>> for SilenceStore {
    type Error = SilenceError;

    fn try_from(silences: Vec<Silence>) -> Result<Self, SilenceError> {
        let mut store = Self::new();
        for silence in silences {
            let compiled = compile(&silence)?;
            store.silences.insert(silence.id.clone(), Stored { silence, compiled });
        }
        Ok(store)
    }
}

impl SilenceStore {
    /// An empty store holding at most [`DEFAULT_MAX_SILENCES`] pending and active
    /// silences.
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_SILENCES)
    }

    /// An empty store holding at most `limit` pending and active silences.
    pub fn with_limit(limit: usize) -> Self {
        Self { silences: BTreeMap::new(), limit }
    }

    /// Creates a silence (empty `id`) or updates one, as Alertmanager does: an update
    /// that keeps the matchers and leaves the past alone (an active silence keeps its
    /// start and ends in the future; a pending one starts in the future) changes the
    /// silence in place; any other expires the old one and stores a new silence with a
    /// new id. A start in the past becomes `now_ms`. Returns the id.
    ///
    /// ```
    /// use voxscope_alert::expr::Matcher;
    /// use voxscope_alerting::silence::{Silence, SilenceError, SilenceStore};
    ///
    /// let mut store = SilenceStore::new();
    /// let mut silence = Silence::new(vec![Matcher::eq("severity", "warning")], 0, 60_000);
    /// let id = store.set(silence.clone(), 10_000).unwrap();
    /// assert_eq!(store.get(&id).unwrap().starts_at_ms, 10_000);
    ///
    /// silence.id = id.clone();
    /// silence.starts_at_ms = 10_000;
    /// silence.ends_at_ms = 120_000; // extend: same id
    /// assert_eq!(store.set(silence.clone(), 20_000).unwrap(), id);
    ///
    /// silence.matchers = vec![Matcher::eq("severity", "info")]; // new matchers: new id
    /// let replaced = store.set(silence, 30_000).unwrap();
    /// assert_ne!(replaced, id);
    /// assert_eq!(store.get(&id).unwrap().ends_at_ms, 30_000);
    ///
    /// let everything = Silence::new(vec![Matcher::re("job", ".*")], 0, 60_000);
    /// assert_eq!(store.set(everything, 0), Err(SilenceError::MatchesEverything));
    /// ```
    ///
    /// # Errors
    /// A matcher or time window Alertmanager would refuse, an unknown `id`, or a full
    /// store.
    pub fn set(&mut self, mut silence: Silence, now_ms: i64) -> Result<String, SilenceError> {
        let compiled = compile(&silence)?;
        if silence.ends_at_ms <= silence.starts_at_ms {
            return Err(SilenceError::StartNotBeforeEnd);
        }
        if silence.ends_at_ms < now_ms {
            return Err(SilenceError::EndInPast);
        }
        silence.updated_at_ms = now_ms;
        if !silence.id.is_empty() {
            let previous = self
                .silences
                .get(&silence.id)
                .ok_or_else(|| SilenceError::NotFound(silence.id.clone()))?;
            if can_update(&previous.silence, &silence, now_ms) {
                let id = silence.id.clone();
                self.silences.insert(id.clone(), Stored { silence, compiled });
                return Ok(id);
            }
        }
        // The silence this one replaces stops counting: it is expired below.
        let live = self
            .silences
            .values()
            .filter(|s| {
                s.silence.id != silence.id && s.silence.state(now_ms) != SilenceState::Expired
            })
            .count();
        if live >= self.limit {
            return Err(SilenceError::Full(self.limit));
        }
        if !silence.id.is_empty() {
            self.expire(&silence.id, now_ms)?;
        }
        silence.id = uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string();
        silence.starts_at_ms = silence.starts_at_ms.max(now_ms);
        let id = silence.id.clone();
        self.silences.insert(id.clone(), Stored { silence, compiled });
        Ok(id)
    }

    /// Ends a silence now: an active one ends at `now_ms`, a pending one starts and ends
    /// at `now_ms`, an expired one stays as it is.
    ///
    /// # Errors
    /// [`SilenceError::NotFound`].
    pub fn expire(&mut self, id: &str, now_ms: i64) -> Result<(), SilenceError> {
        let stored =
            self.silences.get_mut(id).ok_or_else(|| SilenceError::NotFound(id.to_owned()))?;
        let silence = &mut stored.silence;
        match silence.state(now_ms) {
            SilenceState::Expired => return Ok(()),
            SilenceState::Active => silence.ends_at_ms = now_ms,
            SilenceState::Pending => {
                silence.starts_at_ms = now_ms;
                silence.ends_at_ms = now_ms;
            }
        }
        silence.updated_at_ms = now_ms;
        Ok(())
    }

    /// The silence with this id.
    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.silences.get(id).map(|s| &s.silence)
    }

    /// Every silence, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Silence> {
        self.silences.values().map(|s| &s.silence)
    }

    /// How many silences the store holds, expired ones included.
    pub fn len(&self) -> usize {
        self.silences.len()
    }

    /// Whether the store holds no silence.
    pub fn is_empty(&self) -> bool {
        self.silences.is_empty()
    }

    /// The ids of the active silences that match `labels` at `now_ms`, sorted; empty
    /// when the alert is not silenced.
    pub fn silenced_by(&self, labels: &Labels, now_ms: i64) -> Vec<String> {
        self.silences
            .values()
            .filter(|s| s.silence.state(now_ms) == SilenceState::Active)
            .filter(|s| s.compiled.iter().all(|m| m.matches(labels)))
            .map(|s| s.silence.id.clone())
            .collect()
    }

    /// Drops silences that expired more than `retention_ms` before `now_ms`; returns how
    /// many.
    pub fn gc(&mut self, now_ms: i64, retention_ms: i64) -> usize {
        let before = self.silences.len();
        self.silences.retain(|_, s| {
            s.silence.state(now_ms) != SilenceState::Expired
                || s.silence.ends_at_ms.saturating_add(retention_ms) > now_ms
        });
        before - self.silences.len()
    }
}

fn can_update(previous: &Silence, next: &Silence, now_ms: i64) -> bool {
    if previous.matchers != next.matchers {
        return false;
    }
    match previous.state(now_ms) {
        SilenceState::Active => {
            next.starts_at_ms.div_euclid(1_000) == previous.starts_at_ms.div_euclid(1_000)
                && next.ends_at_ms >= now_ms
        }
        SilenceState::Pending => next.starts_at_ms >= now_ms,
        SilenceState::Expired => false,
    }
}
