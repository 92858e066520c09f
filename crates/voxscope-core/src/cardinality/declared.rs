//! Folding of application label values outside their declaration: a value that is not
//! in its label's closed set, or a new value past its label's cap, is recorded as
//! [`OVERFLOW_LABEL_VALUE`] (that label only, the others keep theirs) and each update of
//! the folded series counts in `voxscope_label_overflow_total{metric}` ([`FoldCounter`]).
//!
//! ```
//! use metrics_util::debugging::{DebugValue, DebuggingRecorder};
//! use metrics_util::layers::Layer;
//! use voxscope_core::cardinality::DeclaredLabels;
//! use voxscope_core::catalog::{AppCatalog, AppMetric};
//!
//! let app = AppCatalog::new().metric(
//!     AppMetric::counter("orders_total", "Orders.").label_values("tier", ["free", "pro"]),
//! );
//! let debugging = DebuggingRecorder::new();
//! let snapshotter = debugging.snapshotter();
//! let recorder = DeclaredLabels::new(&app).layer(debugging);
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::counter!("orders_total", "tier" => "pro").increment(1);
//!     metrics::counter!("orders_total", "tier" => "platinum").increment(1);
//! });
//! let seen: Vec<(String, DebugValue)> = snapshotter
//!     .snapshot()
//!     .into_vec()
//!     .into_iter()
//!     .map(|(key, _, _, value)| {
//!         let labels: Vec<_> = key.key().labels().map(|l| l.value().to_owned()).collect();
//!         (format!("{}{{{}}}", key.key().name(), labels.join(",")), value)
//!     })
//!     .collect();
//! assert!(seen.contains(&("orders_total{pro}".into(), DebugValue::Counter(1))));
//! assert!(seen.contains(&("orders_total{__overflow__}".into(), DebugValue::Counter(1))));
//! assert!(seen.contains(&(
//!     "voxscope_label_overflow_total{orders_total}".into(),
//!     DebugValue::Counter(1)
//! )));
//! ```
//!
//! [`OVERFLOW_LABEL_VALUE`]: super::OVERFLOW_LABEL_VALUE

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder};
use metrics_util::layers::Layer;

use super::{FoldCounter, OVERFLOW_LABEL_VALUE};
use crate::catalog::{AppCatalog, AppLabel};

/// What one declared label admits.
#[derive(Debug)]
enum Admits {
    /// Only these values.
    OneOf(Vec<String>),
    /// The first `cap` distinct values seen.
    Capped {
        cap: usize,
        taken: AtomicUsize,
        seen: papaya::HashMap<String, OnceLock<bool>, foldhash::fast::RandomState>,
    },
}

impl Admits {
    fn new(label: &AppLabel) -> Self {
        match label.cap {
            Some(cap) => {
                Admits::Capped { cap, taken: AtomicUsize::new(0), seen: papaya::HashMap::default() }
            }
            None => Admits::OneOf(label.values.clone()),
        }
    }

    fn admits(&self, value: &str) -> bool {
        match self {
            Admits::OneOf(values) => values.iter().any(|v| v == value),
            Admits::Capped { cap, taken, seen } => {
                let seen = seen.pin();
                if let Some(decision) = seen.get(value).and_then(OnceLock::get) {
                    return *decision;
                }
                if taken.load(Ordering::Acquire) >= *cap {
                    return false;
                }
                let decision = seen.get_or_insert_with(value.to_owned(), OnceLock::new);
                let admitted = *decision.get_or_init(|| {
                    taken
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                            (n < *cap).then_some(n + 1)
                        })
                        .is_ok()
                });
                if !admitted {
                    // Full for good: later values are refused without an entry.
                    seen.remove(value);
                }
                admitted
            }
        }
    }
}

/// One application metric's declared labels and its fold counter.
#[derive(Debug)]
struct Declared {
    labels: Vec<(String, Admits)>,
    folds: OnceLock<FoldCounter>,
}

/// A [`Layer`] that folds the label values an [`AppCatalog`] does not admit.
#[derive(Clone, Debug, Default)]
pub struct DeclaredLabels {
    metrics: Arc<HashMap<String, Declared>>,
}

impl DeclaredLabels {
    /// The declarations of `app`'s labelled metrics.
    pub fn new(app: &AppCatalog) -> Self {
        let metrics = app
            .metrics()
            .iter()
            .filter(|m| !m.labels.is_empty())
            .map(|m| {
                let labels = m.labels.iter().map(|l| (l.name.clone(), Admits::new(l))).collect();
                (m.name.clone(), Declared { labels, folds: OnceLock::new() })
            })
            .collect();
        Self { metrics: Arc::new(metrics) }
    }
}

impl<R> Layer<R> for DeclaredLabels {
    type Output = DeclaredLabelsRecorder<R>;

    fn layer(&self, inner: R) -> Self::Output {
        DeclaredLabelsRecorder { inner, declared: self.clone() }
    }
}

/// The recorder that [`DeclaredLabels`] wraps around another.
#[derive(Debug)]
pub struct DeclaredLabelsRecorder<R> {
    inner: R,
    declared: DeclaredLabels,
}

impl<R> DeclaredLabelsRecorder<R> {
    /// The wrapped recorder.
    pub fn inner(&self) -> &R {
        &self.inner
    }
}

impl<R: Recorder> DeclaredLabelsRecorder<R> {
    fn register<H>(
        &self,
        key: &Key,
        metadata: &Metadata<'_>,
        register: impl Fn(&R, &Key, &Metadata<'_>) -> H,
        count: impl FnOnce(&FoldCounter, H) -> H,
    ) -> H {
        let Some(declared) = self.declared.metrics.get(key.name()) else {
            return register(&self.inner, key, metadata);
        };
        let mut folded = false;
        let labels: Vec<Label> = key
            .labels()
            .map(|label| {
                let refused = declared
                    .labels
                    .iter()
                    .find(|(name, _)| name == label.key())
                    .is_some_and(|(_, admits)| !admits.admits(label.value()));
                folded |= refused;
                match refused {
                    true => Label::new(label.key().to_owned(), OVERFLOW_LABEL_VALUE),
                    false => label.clone(),
                }
            })
            .collect();
        if !folded {
            return register(&self.inner, key, metadata);
        }
        let handle =
            register(&self.inner, &Key::from_parts(key.name().to_owned(), labels), metadata);
        let folds = declared.folds.get_or_init(|| {
            FoldCounter::new(self.inner.register_counter(&FoldCounter::key(key.name()), metadata))
        });
        count(folds, handle)
    }
}

impl<R: Recorder> Recorder for DeclaredLabelsRecorder<R> {
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

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;
    use crate::catalog::AppMetric;

    #[test]
    fn a_capped_label_keeps_its_first_values_and_counts_every_later_update() {
        let app = AppCatalog::new().metric(
            AppMetric::counter("visits_total", "Visits.")
                .label_cap("segment", 2)
                .label_values("tier", ["free"]),
        );
        let debugging = DebuggingRecorder::new();
        let snapshotter = debugging.snapshotter();
        let recorder = DeclaredLabels::new(&app).layer(debugging);
        metrics::with_local_recorder(&recorder, || {
            for segment in ["a", "b", "c", "a", "d", "b"] {
                metrics::counter!("visits_total", "segment" => segment, "tier" => "free")
                    .increment(2);
            }
        });
        let mut values: HashMap<String, DebugValue> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let labels: Vec<String> =
                    key.key().labels().map(|l| l.value().to_owned()).collect();
                (format!("{}{labels:?}", key.key().name()), value)
            })
            .collect();
        assert_eq!(values.remove(r#"visits_total["a", "free"]"#), Some(DebugValue::Counter(4)));
        assert_eq!(values.remove(r#"visits_total["b", "free"]"#), Some(DebugValue::Counter(4)));
        assert_eq!(
            values.remove(r#"visits_total["__overflow__", "free"]"#),
            Some(DebugValue::Counter(4))
        );
        assert_eq!(
            values.remove(r#"voxscope_label_overflow_total["visits_total"]"#),
            Some(DebugValue::Counter(2))
        );
        assert!(values.is_empty(), "{values:?}");
    }
}
