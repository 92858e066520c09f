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

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use regex::Regex;
use serde::{Deserialize, Serialize};
use voxscope_alert::eval::Labels;
use voxscope_alert::expr::{MatchOp, Matcher};

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

/// One matcher, compiled: `=` and `!=` compare the value, `=~` and `!~` match a regex
/// anchored at both ends (`^(?:regex)$`), and a missing label is the empty string, as in
/// PromQL and Alertmanager.
///
/// ```
/// use voxscope_alert::expr::Matcher;
/// use voxscope_alerting::silence::LabelMatcher;
///
/// let m = LabelMatcher::new(Matcher::re("job", "voice|agent")).unwrap();
/// let labels = |job: &str| [("job".to_owned(), job.to_owned())].into();
/// assert!(m.matches(&labels("voice")));
/// assert!(!m.matches(&labels("voice_agent"))); // anchored
/// assert!(LabelMatcher::new(Matcher::re("job", "(")).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct LabelMatcher {
    matcher: Matcher,
    regex: Option<Regex>,
}

impl LabelMatcher {
    /// Checks the label name and compiles the regex of `=~` and `!~`.
    ///
    /// # Errors
    /// [`SilenceError::LabelName`] or [`SilenceError::Regex`].
    pub fn new(matcher: Matcher) -> Result<Self, SilenceError> {
        if !valid_label_name(&matcher.label) {
            return Err(SilenceError::LabelName(matcher.label));
        }
        let regex = match matcher.op {
            MatchOp::Eq | MatchOp::Ne => None,
            MatchOp::Re | MatchOp::NotRe => {
                Some(Regex::new(&format!("^(?:{})$", matcher.value)).map_err(|e| {
                    SilenceError::Regex {
                        label: matcher.label.clone(),
                        regex: matcher.value.clone(),
                        reason: e.to_string(),
                    }
                })?)
            }
        };
        Ok(Self { matcher, regex })
    }

    /// The matcher as given.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Whether `value` satisfies the matcher.
    pub fn matches_value(&self, value: &str) -> bool {
        match (self.matcher.op, &self.regex) {
            (MatchOp::Eq, _) => value == self.matcher.value,
            (MatchOp::Ne, _) => value != self.matcher.value,
            (MatchOp::Re, Some(re)) => re.is_match(value),
            (MatchOp::NotRe, Some(re)) => !re.is_match(value),
            // `new` compiles a regex for every regex operator.
            (MatchOp::Re | MatchOp::NotRe, None) => false,
        }
    }

    /// Whether the label set satisfies the matcher; a missing label is `""`.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.matcher.label).map_or("", String::as_str))
    }
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A silence: every matcher must hold for an alert to be muted, between `starts_at_ms`
/// (inclusive) and `ends_at_ms` (exclusive). Times are unix milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    /// A UUID, given by the store; empty for a silence not stored yet.
    pub id: String,
    /// The matchers, all of which must hold.
    #[serde(with = "matchers_serde")]
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

/// A [`SilenceStore`] shared between the HTTP API that edits it and the dispatcher that
/// asks it which alerts are muted.
///
/// ```
/// use voxscope_alerting::silence::Silences;
/// let silences = Silences::default();
/// let shared = silences.clone();
/// assert!(shared.lock().is_empty());
/// assert!(silences.silenced_by(&Default::default(), 0).is_empty());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Silences(Arc<Mutex<SilenceStore>>);

impl Silences {
    /// Shares `store`.
    pub fn new(store: SilenceStore) -> Self {
        Self(Arc::new(Mutex::new(store)))
    }

    /// The store, locked. A panic while it was held leaves it usable: every change is
    /// one insert or one field write.
    pub fn lock(&self) -> MutexGuard<'_, SilenceStore> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// [`SilenceStore::silenced_by`] on the shared store.
    pub fn silenced_by(&self, labels: &Labels, now_ms: i64) -> Vec<String> {
        self.lock().silenced_by(labels, now_ms)
    }
}

/// A matcher as Alertmanager's API and this store's persisted state write it.
///
/// ```
/// use voxscope_alert::expr::{MatchOp, Matcher};
/// use voxscope_alerting::silence::MatcherJson;
///
/// let json: MatcherJson = serde_json::from_str(r#"{"name":"job","value":"a.*","isRegex":true}"#)
///     .unwrap();
/// let m = Matcher::from(json); // `isEqual` defaults to true
/// assert_eq!((m.label.as_str(), m.op, m.value.as_str()), ("job", MatchOp::Re, "a.*"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatcherJson {
    /// The label name.
    pub name: String,
    /// The value or regex.
    pub value: String,
    /// `=~` or `!~`.
    pub is_regex: bool,
    /// `=` or `=~`.
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl From<&Matcher> for MatcherJson {
    fn from(m: &Matcher) -> Self {
        Self {
            name: m.label.clone(),
            value: m.value.clone(),
            is_regex: matches!(m.op, MatchOp::Re | MatchOp::NotRe),
            is_equal: matches!(m.op, MatchOp::Eq | MatchOp::Re),
        }
    }
}

impl From<MatcherJson> for Matcher {
    fn from(m: MatcherJson) -> Self {
        let op = match (m.is_regex, m.is_equal) {
            (false, true) => MatchOp::Eq,
            (false, false) => MatchOp::Ne,
            (true, true) => MatchOp::Re,
            (true, false) => MatchOp::NotRe,
        };
        Matcher { label: m.name, op, value: m.value }
    }
}

mod matchers_serde {
    //! `Vec<Matcher>` through [`MatcherJson`].

    use serde::{Deserialize, Deserializer, Serializer};
    use voxscope_alert::expr::Matcher;

    use super::MatcherJson;

    pub fn serialize<S: Serializer>(matchers: &[Matcher], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(matchers.iter().map(MatcherJson::from))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Matcher>, D::Error> {
        Ok(Vec::<MatcherJson>::deserialize(d)?.into_iter().map(Matcher::from).collect())
    }
}
