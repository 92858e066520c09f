//! A recorder layer that caps the label-value combinations of each metric.
//!
//! A label bug (a raw path, a call id, an error message as a label value) creates a new
//! series per request until the process or Prometheus runs out of memory. The guard keeps
//! at most a cap of combinations per metric name; every further combination is folded
//! into one series whose label values are all [`OVERFLOW_LABEL_VALUE`], and every update
//! of a folded series counts one in `voxscope_label_overflow_total{metric}` (see
//! [`FoldCounter`] for that counter's one meaning across voxscope).
//!
//! ```
//! use metrics::Recorder;
//! use metrics_util::debugging::DebuggingRecorder;
//! use metrics_util::layers::Layer;
//! use voxscope_core::cardinality::{CardinalityLimit, OVERFLOW_LABEL_VALUE};
//!
//! let debugging = DebuggingRecorder::new();
//! let snapshotter = debugging.snapshotter();
//! let guarded = CardinalityLimit::new(2).unwrap().layer(debugging);
//!
//! metrics::with_local_recorder(&guarded, || {
//!     for user in ["a", "b", "c", "d"] {
//!         metrics::counter!("logins_total", "user" => user).increment(1);
//!     }
//! });
//!
//! let series: Vec<_> = snapshotter
//!     .snapshot()
//!     .into_vec()
//!     .into_iter()
//!     .filter(|(key, ..)| key.key().name() == "logins_total")
//!     .map(|(key, ..)| key.key().labels().next().unwrap().value().to_owned())
//!     .collect();
//! assert_eq!(series.len(), 3); // "a", "b" and the overflow series
//! assert!(series.contains(&OVERFLOW_LABEL_VALUE.to_owned()));
//! ```

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder};
use metrics_util::KeyHasher;
use metrics_util::layers::Layer;

use crate::error::{ConfigError, validate_nonzero};

mod declared;
mod folded;

pub use declared::{DeclaredLabels, DeclaredLabelsRecorder};
pub use folded::FoldCounter;

/// The label value that replaces every value of a folded combination.
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";

/// Per-metric caps on label-value combinations; a [`Layer`] over any recorder.
#[derive(Clone, Debug)]
pub struct CardinalityLimit {
    default_cap: usize,
    per_metric: HashMap<String, usize>,
}

impl CardinalityLimit {
    /// A limit of `default_cap` combinations for every metric.
    ///
    /// # Errors
    /// [`ConfigError::Zero`] when the cap is 0.
    pub fn new(default_cap: usize) -> Result<Self, ConfigError> {
        validate_nonzero("cardinality.default_cap", default_cap)?;
        Ok(Self { default_cap, per_metric: HashMap::new() })
    }

    /// Overrides the cap for one metric name.
    ///
    /// # Errors
    /// [`ConfigError::Zero`] when the cap is 0.
    pub fn with_cap_for(mut self, metric: &str, cap: usize) -> Result<Self, ConfigError> {
        validate_nonzero(&format!("cardinality.{metric}"), cap)?;
        self.per_metric.insert(metric.to_owned(), cap);
        Ok(self)
    }

    /// The cap that applies to `metric`.
    pub fn cap_for(&self, metric: &str) -> usize {
        self.per_metric.get(metric).copied().unwrap_or(self.default_cap)
    }
}

impl Default for CardinalityLimit {
    /// 2,000 combinations per metric: room for every route × method × status of a large
    /// service, far below what hurts Prometheus.
    fn default() -> Self {
        Self { default_cap: 2_000, per_metric: HashMap::new() }
    }
}

impl<R> Layer<R> for CardinalityLimit {
    type Output = CardinalityGuard<R>;

    fn layer(&self, inner: R) -> Self::Output {
        CardinalityGuard {
            inner,
            limit: Arc::new(self.clone()),
            combos: papaya::HashMap::default(),
            names: papaya::HashMap::default(),
        }
    }
}

/// The recorder that [`CardinalityLimit`] wraps around another.
///
/// Registrations share no lock. A combination seen before (the common case for
/// `counter!`-style callers, which register on every call) costs one lock-free lookup
/// keyed by the hash that [`Key`] carries; a new one also reserves a slot of its
/// metric's cap with one atomic operation. Recording through a handle is untouched,
/// except for folded series, whose updates are also counted (see [`FoldCounter`]).
///
/// A metric without labels has a single series: it passes through without a lookup and
/// is never folded. Each combination is decided once: concurrent first registrations of
/// the same combination all get its own series, or all get the folded one.
#[derive(Debug)]
pub struct CardinalityGuard<R> {
    inner: R,
    limit: Arc<CardinalityLimit>,
    /// Every labelled combination registered, by its key; admitted or not, decided once.
    /// Refused combinations are removed again, so the map holds at most the caps.
    combos: papaya::HashMap<Key, OnceLock<bool>, BuildHasherDefault<KeyHasher>>,
    /// Per metric name: the slots taken and the fold counter.
    names: papaya::HashMap<Box<str>, NameState, foldhash::fast::RandomState>,
}

/// One metric name's share of the guard.
#[derive(Debug)]
struct NameState {
    admitted: AtomicUsize,
    cap: usize,
    folds: OnceLock<FoldCounter>,
}

impl NameState {
    /// Takes a slot if one is left. Slots are never given back, so once a name is full
    /// it stays full and every later decision for it is a refusal.
    fn reserve(&self) -> bool {
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.cap).then_some(n + 1))
            .is_ok()
    }

    fn is_full(&self) -> bool {
        self.admitted.load(Ordering::Acquire) >= self.cap
    }
}

impl<R> CardinalityGuard<R> {
    /// The wrapped recorder.
    pub fn inner(&self) -> &R {
        &self.inner
    }
}

impl<R: Recorder> CardinalityGuard<R> {
    /// Registers `key` through `register`, or its folded form (through `count`) past the
    /// cap of its metric.
    fn register<H>(
        &self,
        key: &Key,
        metadata: &Metadata<'_>,
        register: impl Fn(&R, &Key, &Metadata<'_>) -> H,
        count: impl FnOnce(&FoldCounter, H) -> H,
    ) -> H {
        if key.labels().len() == 0 {
            return register(&self.inner, key, metadata);
        }
        let combos = self.combos.pin();
        if let Some(true) = combos.get(key).and_then(|decision| decision.get()) {
            return register(&self.inner, key, metadata);
        }
        let names = self.names.pin();
        let name = key.name();
        let state = match names.get(name) {
            Some(state) => state,
            None => names.get_or_insert_with(name.into(), || NameState {
                admitted: AtomicUsize::new(0),
                cap: self.limit.cap_for(name),
                folds: OnceLock::new(),
            }),
        };
        let decision = match combos.get(key) {
            Some(decision) => decision,
            None if state.is_full() => return self.fold(key, metadata, state, register, count),
            None => combos.get_or_insert_with(key.clone(), OnceLock::new),
        };
        if *decision.get_or_init(|| state.reserve()) {
            return register(&self.inner, key, metadata);
        }
        // A refused combination can never be admitted later (its name is full for good),
        // so its entry is dropped: the map stays bounded by the caps.
        combos.remove(key);
        self.fold(key, metadata, state, register, count)
    }

    fn fold<H>(
        &self,
        key: &Key,
        metadata: &Metadata<'_>,
        state: &NameState,
        register: impl Fn(&R, &Key, &Metadata<'_>) -> H,
        count: impl FnOnce(&FoldCounter, H) -> H,
    ) -> H {
        let mut already_folded = false;
        let labels = key
            .labels()
            .map(|label| {
                already_folded |= label.value() == OVERFLOW_LABEL_VALUE;
                Label::new(label.key().to_owned(), OVERFLOW_LABEL_VALUE)
            })
            .collect::<Vec<_>>();
        let handle =
            register(&self.inner, &Key::from_parts(key.name().to_owned(), labels), metadata);
        if already_folded {
            // Its recorder folded it and counts its updates already.
            return handle;
        }
        let folds = state.folds.get_or_init(|| {
            FoldCounter::new(self.inner.register_counter(&FoldCounter::key(key.name()), metadata))
        });
        count(folds, handle)
    }
}

impl<R: Recorder> Recorder for CardinalityGuard<R> {
    forward_describes!();

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.register(key, metadata, R::register_counter, |folds, h| folds.counter(h))
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.register(key, metadata, R::register_gauge, |folds, h| folds.gauge(h))
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.register(key, metadata, R::register_histogram, |folds, h| folds.histogram(h))
    }
}
