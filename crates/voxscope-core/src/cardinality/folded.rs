//! `voxscope_label_overflow_total{metric}`: what it counts, and the handles that count it.
//!
//! One meaning in every voxscope crate: **one per update recorded into a folded series**,
//! that is a series whose label values were replaced by [`OVERFLOW_LABEL_VALUE`]. An
//! update is a counter increment, a gauge change or a histogram observation, whatever its
//! amount; `metric` is the name of the metric that lost its labels. The counter so moves
//! at the rate of the data that lands in overflow, whether the caller keeps its handles
//! or registers on every call:
//!
//! - the [cardinality guard](super::CardinalityGuard) counts every update through a handle
//!   it folded past a metric's cap;
//! - voxscope-http counts every request recorded on the `__overflow__` route past
//!   `max_routes`, once for `http_server_request_duration_seconds` and, when body sizes
//!   are recorded, once for `http_server_response_body_bytes`.
//!
//! A series folded by its recorder (such as voxscope-http's `__overflow__` route) is not
//! counted a second time if the guard folds it again.
//!
//! [`OVERFLOW_LABEL_VALUE`]: super::OVERFLOW_LABEL_VALUE

use std::sync::Arc;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, Label, SharedString,
};

use crate::catalog::VOXSCOPE_LABEL_OVERFLOW_TOTAL;

/// Wraps the handles of folded series so that each of their updates also counts one in
/// `voxscope_label_overflow_total{metric}`.
///
/// ```
/// use metrics_util::debugging::{DebugValue, DebuggingRecorder};
/// use voxscope_core::cardinality::FoldCounter;
///
/// let recorder = DebuggingRecorder::new();
/// let snapshotter = recorder.snapshotter();
/// metrics::with_local_recorder(&recorder, || {
///     let folds = FoldCounter::register("jobs_seconds");
///     let folded = folds.histogram(metrics::histogram!("jobs_seconds", "queue" => "__overflow__"));
///     folded.record(0.5);
///     folded.record(1.5);
/// });
/// let overflow_total = snapshotter.snapshot().into_vec().into_iter().find_map(|(key, _, _, value)| {
///     (key.key().name() == "voxscope_label_overflow_total").then_some(value)
/// });
/// assert_eq!(overflow_total, Some(DebugValue::Counter(2)));
/// ```
#[derive(Clone, Debug)]
pub struct FoldCounter {
    folds: Counter,
}

impl FoldCounter {
    /// Counts into `voxscope_label_overflow_total{metric}` of the current recorder.
    pub fn register(metric: &str) -> Self {
        Self::new(metrics::with_recorder(|recorder| {
            recorder.register_counter(&Self::key(metric), &metadata())
        }))
    }

    /// Counts into `folds`, a handle of [`FoldCounter::key`] registered by the caller
    /// (a recorder layer registers it with the recorder it wraps).
    pub fn new(folds: Counter) -> Self {
        Self { folds }
    }

    /// The key of `voxscope_label_overflow_total{metric}`.
    pub fn key(metric: &str) -> Key {
        Key::from_parts(
            VOXSCOPE_LABEL_OVERFLOW_TOTAL.name,
            vec![Label::new("metric", SharedString::from(metric.to_owned()))],
        )
    }

    /// A counter that updates `inner` and counts each update as a fold.
    pub fn counter(&self, inner: Counter) -> Counter {
        Counter::from_arc(Arc::new(Counted { inner, folds: self.folds.clone() }))
    }

    /// A gauge that updates `inner` and counts each update as a fold.
    pub fn gauge(&self, inner: Gauge) -> Gauge {
        Gauge::from_arc(Arc::new(Counted { inner, folds: self.folds.clone() }))
    }

    /// A histogram that records into `inner` and counts each observation as a fold.
    pub fn histogram(&self, inner: Histogram) -> Histogram {
        Histogram::from_arc(Arc::new(Counted { inner, folds: self.folds.clone() }))
    }
}

fn metadata() -> metrics::Metadata<'static> {
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
}

/// A handle of a folded series and the fold counter of its metric.
struct Counted<H> {
    inner: H,
    folds: Counter,
}

impl CounterFn for Counted<Counter> {
    fn increment(&self, value: u64) {
        self.inner.increment(value);
        self.folds.increment(1);
    }

    fn absolute(&self, value: u64) {
        self.inner.absolute(value);
        self.folds.increment(1);
    }
}

impl GaugeFn for Counted<Gauge> {
    fn increment(&self, value: f64) {
        self.inner.increment(value);
        self.folds.increment(1);
    }

    fn decrement(&self, value: f64) {
        self.inner.decrement(value);
        self.folds.increment(1);
    }

    fn set(&self, value: f64) {
        self.inner.set(value);
        self.folds.increment(1);
    }
}

impl HistogramFn for Counted<Histogram> {
    fn record(&self, value: f64) {
        self.inner.record(value);
        self.folds.increment(1);
    }

    fn record_many(&self, value: f64, count: usize) {
        self.inner.record_many(value, count);
        self.folds.increment(count as u64);
    }
}
