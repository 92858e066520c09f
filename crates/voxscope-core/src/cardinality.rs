//! A recorder layer that caps the label-value combinations of each metric.
//!
//! A label bug (a raw path, a call id, an error message as a label value) creates a new
//! series per request until the process or Prometheus runs out of memory. The guard keeps
//! at most a cap of combinations per metric name; every further combination is folded
//! into one series whose label values are all [`OVERFLOW_LABEL_VALUE`], and each fold is
//! counted in `voxscope_label_overflow_total{metric}`.
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

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString, Unit,
};
use metrics_util::layers::Layer;

use crate::catalog::VOXSCOPE_LABEL_OVERFLOW_TOTAL;
use crate::error::{ConfigError, validate_nonzero};

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
        CardinalityGuard { inner, limit: Arc::new(self.clone()), seen: Mutex::new(HashMap::new()) }
    }
}

/// The recorder that [`CardinalityLimit`] wraps around another.
///
/// Registration (once per series for callers that hold handles, once per call for
/// `counter!`-style callers) takes one lock and one set lookup; recording through a
/// handle is untouched.
#[derive(Debug)]
pub struct CardinalityGuard<R> {
    inner: R,
    limit: Arc<CardinalityLimit>,
    seen: Mutex<HashMap<String, HashSet<u64>>>,
}

impl<R> CardinalityGuard<R> {
    /// The wrapped recorder.
    pub fn inner(&self) -> &R {
        &self.inner
    }
}

impl<R: Recorder> CardinalityGuard<R> {
    /// Returns the key to register: `key` itself, or its folded form past the cap.
    fn admit(&self, key: &Key, metadata: &Metadata<'_>) -> Option<Key> {
        if key.labels().len() == 0 {
            return None;
        }
        let name = key.name();
        let hash = key.get_hash();
        let admitted = {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            let combos = match seen.get_mut(name) {
                Some(combos) => combos,
                None => seen.entry(name.to_owned()).or_default(),
            };
            if combos.contains(&hash) {
                true
            } else if combos.len() < self.limit.cap_for(name) {
                combos.insert(hash);
                true
            } else {
                false
            }
        };
        if admitted {
            return None;
        }
        let overflow_key = Key::from_parts(
            VOXSCOPE_LABEL_OVERFLOW_TOTAL.name,
            vec![Label::new("metric", name.to_owned())],
        );
        self.inner.register_counter(&overflow_key, metadata).increment(1);
        let folded = key
            .labels()
            .map(|label| Label::new(label.key().to_owned(), OVERFLOW_LABEL_VALUE))
            .collect::<Vec<_>>();
        Some(Key::from_parts(name.to_owned(), folded))
    }
}

impl<R: Recorder> Recorder for CardinalityGuard<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        match self.admit(key, metadata) {
            Some(folded) => self.inner.register_counter(&folded, metadata),
            None => self.inner.register_counter(key, metadata),
        }
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        match self.admit(key, metadata) {
            Some(folded) => self.inner.register_gauge(&folded, metadata),
            None => self.inner.register_gauge(key, metadata),
        }
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        match self.admit(key, metadata) {
            Some(folded) => self.inner.register_histogram(&folded, metadata),
            None => self.inner.register_histogram(key, metadata),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    fn counter_values(
        snapshot: &[(metrics_util::CompositeKey, Option<Unit>, Option<SharedString>, DebugValue)],
        name: &str,
    ) -> Vec<(Vec<(String, String)>, u64)> {
        let mut out: Vec<_> = snapshot
            .iter()
            .filter(|(key, ..)| key.key().name() == name)
            .map(|(key, _, _, value)| {
                let labels = key
                    .key()
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                let DebugValue::Counter(v) = value else { panic!("not a counter") };
                (labels, *v)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn combinations_past_the_cap_fold_into_one_counted_series() {
        let debugging = DebuggingRecorder::new();
        let snapshotter = debugging.snapshotter();
        let limit = CardinalityLimit::new(10).unwrap().with_cap_for("paths_total", 3).unwrap();
        let guarded = limit.layer(debugging);
        metrics::with_local_recorder(&guarded, || {
            for i in 0..100 {
                metrics::counter!("paths_total", "path" => format!("/p/{i}"), "m" => "GET")
                    .increment(1);
            }
            // Already admitted combinations keep their own series.
            metrics::counter!("paths_total", "path" => "/p/0", "m" => "GET").increment(1);
        });
        let snapshot = snapshotter.snapshot().into_vec();
        let paths = counter_values(&snapshot, "paths_total");
        assert_eq!(paths.len(), 4, "{paths:?}");
        let overflow = paths
            .iter()
            .find(|(labels, _)| labels.iter().all(|(_, v)| v == OVERFLOW_LABEL_VALUE))
            .expect("overflow series");
        assert_eq!(overflow.1, 97);
        let first = paths.iter().find(|(labels, _)| labels[0].1 == "/p/0").unwrap();
        assert_eq!(first.1, 2);
        let folds = counter_values(&snapshot, VOXSCOPE_LABEL_OVERFLOW_TOTAL.name);
        assert_eq!(folds, vec![(vec![("metric".into(), "paths_total".into())], 97)]);
    }

    #[test]
    fn metrics_without_labels_and_other_kinds_pass_through() {
        let debugging = DebuggingRecorder::new();
        let snapshotter = debugging.snapshotter();
        let guarded = CardinalityLimit::new(1).unwrap().layer(debugging);
        metrics::with_local_recorder(&guarded, || {
            metrics::gauge!("plain").set(3.0);
            metrics::histogram!("h", "k" => "1").record(1.0);
            metrics::histogram!("h", "k" => "2").record(2.0);
        });
        let snapshot = snapshotter.snapshot().into_vec();
        let h: Vec<_> = snapshot
            .iter()
            .filter(|(k, ..)| k.key().name() == "h")
            .map(|(k, ..)| k.key().labels().next().unwrap().value().to_owned())
            .collect();
        assert_eq!(h.len(), 2);
        assert!(h.contains(&"1".to_owned()) && h.contains(&OVERFLOW_LABEL_VALUE.to_owned()));
        assert!(snapshot.iter().any(|(k, ..)| k.key().name() == "plain"));
    }

    #[test]
    fn zero_caps_are_rejected_with_the_field_named() {
        let err = CardinalityLimit::new(0).unwrap_err();
        assert_eq!(err.to_string(), "cardinality.default_cap: must be greater than 0");
        let err = CardinalityLimit::default().with_cap_for("x_total", 0).unwrap_err();
        assert_eq!(err.to_string(), "cardinality.x_total: must be greater than 0");
    }
}
