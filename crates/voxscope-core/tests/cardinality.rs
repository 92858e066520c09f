//! The cardinality guard, through its public API over a `DebuggingRecorder`.

use std::sync::Barrier;

use metrics::{Key, Label, Recorder};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::layers::Layer;
use voxscope_core::cardinality::{CardinalityLimit, FoldCounter, OVERFLOW_LABEL_VALUE};

const OVERFLOW_TOTAL: &str = "voxscope_label_overflow_total";

type Labels = Vec<(String, String)>;

/// One snapshot (taking it resets the debugging recorder's values), flattened.
struct Series(Vec<(String, Labels, DebugValue)>);

impl Series {
    fn take(snapshotter: &Snapshotter) -> Self {
        Self(
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .map(|(key, _, _, value)| {
                    let mut labels: Labels = key
                        .key()
                        .labels()
                        .map(|l| (l.key().to_owned(), l.value().to_owned()))
                        .collect();
                    labels.sort();
                    (key.key().name().to_owned(), labels, value)
                })
                .collect(),
        )
    }

    /// (labels, value) of every series of `name`, sorted by labels.
    fn of(&self, name: &str) -> Vec<(Labels, DebugValue)> {
        let mut out: Vec<_> = self
            .0
            .iter()
            .filter(|(n, ..)| n == name)
            .map(|(_, labels, value)| (labels.clone(), copy(value)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn overflow_total(&self, metric: &str) -> u64 {
        self.of(OVERFLOW_TOTAL)
            .into_iter()
            .find(|(labels, _)| labels == &[("metric".to_owned(), metric.to_owned())])
            .map_or(0, |(_, value)| match value {
                DebugValue::Counter(v) => v,
                other => panic!("not a counter: {other:?}"),
            })
    }
}

fn copy(value: &DebugValue) -> DebugValue {
    match value {
        DebugValue::Counter(v) => DebugValue::Counter(*v),
        DebugValue::Gauge(v) => DebugValue::Gauge(*v),
        DebugValue::Histogram(v) => DebugValue::Histogram(v.clone()),
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
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
    let series = Series::take(&snapshotter);
    assert_eq!(
        series.of("paths_total"),
        vec![
            (labels(&[("m", "GET"), ("path", "/p/0")]), DebugValue::Counter(2)),
            (labels(&[("m", "GET"), ("path", "/p/1")]), DebugValue::Counter(1)),
            (labels(&[("m", "GET"), ("path", "/p/2")]), DebugValue::Counter(1)),
            (
                labels(&[("m", OVERFLOW_LABEL_VALUE), ("path", OVERFLOW_LABEL_VALUE)]),
                DebugValue::Counter(97)
            ),
        ]
    );
    assert_eq!(series.overflow_total("paths_total"), 97);
    assert_eq!(series.of(OVERFLOW_TOTAL).len(), 1);
}

#[test]
fn every_update_through_a_kept_folded_handle_is_counted() {
    let debugging = DebuggingRecorder::new();
    let snapshotter = debugging.snapshotter();
    let guarded = CardinalityLimit::new(1).unwrap().layer(debugging);
    metrics::with_local_recorder(&guarded, || {
        metrics::counter!("jobs_total", "queue" => "a").increment(1);
        let folded = metrics::counter!("jobs_total", "queue" => "b");
        for _ in 0..5 {
            folded.increment(3);
        }
        metrics::gauge!("depth", "queue" => "a").set(1.0);
        let folded = metrics::gauge!("depth", "queue" => "b");
        folded.set(4.0);
        folded.increment(2.0);
        folded.decrement(1.0);
        metrics::histogram!("wait_seconds", "queue" => "a").record(1.0);
        let folded = metrics::histogram!("wait_seconds", "queue" => "b");
        folded.record(0.5);
        folded.record_many(0.25, 3);
    });
    let series = Series::take(&snapshotter);
    assert_eq!(
        series.of("jobs_total"),
        vec![
            (labels(&[("queue", OVERFLOW_LABEL_VALUE)]), DebugValue::Counter(15)),
            (labels(&[("queue", "a")]), DebugValue::Counter(1)),
        ]
    );
    assert_eq!(series.overflow_total("jobs_total"), 5, "one per update, not per unit");
    let depth = series.of("depth");
    assert_eq!(
        depth[0],
        (labels(&[("queue", OVERFLOW_LABEL_VALUE)]), DebugValue::Gauge(5.0.into()))
    );
    assert_eq!(series.overflow_total("depth"), 3);
    let waits = series.of("wait_seconds");
    let DebugValue::Histogram(folded) = &waits[0].1 else { panic!("{waits:?}") };
    assert_eq!(folded.len(), 4);
    assert_eq!(series.overflow_total("wait_seconds"), 4);
}

#[test]
fn labelless_metrics_pass_through_and_take_no_slot() {
    let debugging = DebuggingRecorder::new();
    let snapshotter = debugging.snapshotter();
    let guarded = CardinalityLimit::new(1).unwrap().layer(debugging);
    metrics::with_local_recorder(&guarded, || {
        for _ in 0..10 {
            metrics::counter!("uptime_ticks_total").increment(2);
            metrics::gauge!("workers").increment(1.0);
        }
        // The labelless series took no slot: one labelled combination still fits.
        metrics::counter!("uptime_ticks_total", "kind" => "a").increment(1);
        metrics::counter!("uptime_ticks_total", "kind" => "b").increment(1);
    });
    let series = Series::take(&snapshotter);
    assert_eq!(
        series.of("uptime_ticks_total"),
        vec![
            (vec![], DebugValue::Counter(20)),
            (labels(&[("kind", OVERFLOW_LABEL_VALUE)]), DebugValue::Counter(1)),
            (labels(&[("kind", "a")]), DebugValue::Counter(1)),
        ]
    );
    assert_eq!(series.of("workers"), vec![(vec![], DebugValue::Gauge(10.0.into()))]);
    assert_eq!(series.overflow_total("uptime_ticks_total"), 1);
    assert_eq!(series.overflow_total("workers"), 0);
}

#[test]
fn series_folded_by_their_recorder_are_not_counted_twice() {
    let debugging = DebuggingRecorder::new();
    let snapshotter = debugging.snapshotter();
    let guarded = CardinalityLimit::new(1).unwrap().layer(debugging);
    metrics::with_local_recorder(&guarded, || {
        metrics::histogram!("req_seconds", "route" => "/a").record(1.0);
        // Folded upstream (as voxscope-http's route cap does) and counted there.
        let upstream = FoldCounter::register("req_seconds");
        upstream
            .histogram(metrics::histogram!("req_seconds", "route" => OVERFLOW_LABEL_VALUE))
            .record(2.0);
        metrics::histogram!("req_seconds", "route" => "/b").record(3.0);
    });
    let series = Series::take(&snapshotter);
    let requests = series.of("req_seconds");
    assert_eq!(requests.len(), 2, "{requests:?}");
    let DebugValue::Histogram(folded) = &requests[1].1 else { panic!("{requests:?}") };
    assert_eq!(folded.len(), 2);
    assert_eq!(series.overflow_total("req_seconds"), 2, "/b by the guard, the other upstream");
}

/// 16 threads register the same 64 combinations at once, twice each, against a cap of
/// 40: exactly 40 get their own series, and no combination is split between its own
/// series and the overflow one.
#[test]
fn concurrent_first_registrations_are_decided_once() {
    const THREADS: usize = 16;
    const COMBOS: usize = 64;
    const CAP: usize = 40;
    let debugging = DebuggingRecorder::new();
    let snapshotter = debugging.snapshotter();
    let guarded = CardinalityLimit::new(CAP).unwrap().layer(debugging);
    let keys: Vec<Key> = (0..COMBOS)
        .map(|i| Key::from_parts("sessions_total", vec![Label::new("id", i.to_string())]))
        .collect();
    let metadata = metrics::Metadata::new(module_path!(), metrics::Level::INFO, None);
    let start = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (guarded, keys, metadata, start) = (&guarded, &keys, &metadata, &start);
            scope.spawn(move || {
                start.wait();
                for round in 0..2 {
                    // Threads walk the keys from different offsets, to race on each.
                    for i in 0..COMBOS {
                        let key = &keys[(i + thread * 4 + round) % COMBOS];
                        guarded.register_counter(key, metadata).increment(1);
                    }
                }
            });
        }
    });
    let series = Series::take(&snapshotter);
    let sessions = series.of("sessions_total");
    let (own, overflow): (Vec<_>, Vec<_>) =
        sessions.iter().partition(|(labels, _)| labels[0].1 != OVERFLOW_LABEL_VALUE);
    assert_eq!(own.len(), CAP);
    for (labels, value) in &own {
        assert_eq!(*value, DebugValue::Counter(2 * THREADS as u64), "{labels:?}");
    }
    let folded = 2 * THREADS * (COMBOS - CAP);
    assert_eq!(
        overflow,
        vec![&(labels(&[("id", OVERFLOW_LABEL_VALUE)]), DebugValue::Counter(folded as u64))]
    );
    assert_eq!(series.overflow_total("sessions_total"), folded as u64);
}

#[test]
fn zero_caps_are_rejected_with_the_field_named() {
    let err = CardinalityLimit::new(0).unwrap_err();
    assert_eq!(err.to_string(), "cardinality.default_cap: must be greater than 0");
    let err = CardinalityLimit::default().with_cap_for("x_total", 0).unwrap_err();
    assert_eq!(err.to_string(), "cardinality.x_total: must be greater than 0");
}
