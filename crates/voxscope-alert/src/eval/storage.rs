//! Bounded sample windows per series, as the rule evaluator reads them: a series is its
//! label set (`__name__` included), its samples are `(unix ms, value)` in time order.
//!
//! ```
//! use voxscope_alert::eval::{Labels, Storage, StorageLimits};
//!
//! let mut storage = Storage::new(StorageLimits::default());
//! let up = Labels::from([("__name__".to_owned(), "up".to_owned())]);
//! storage.append(&up, 0, 1.0).unwrap();
//! assert_eq!(storage.series_count(), 1);
//! ```

use std::collections::{BTreeMap, VecDeque};

use super::Labels;
use super::select::CompiledSelector;

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// How long an instant selector looks back for a sample (Prometheus's default 5 m).
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// The bit pattern of Prometheus's staleness marker: a NaN no computation produces.
const STALE_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker: a series written with it ends there.
pub(crate) fn stale_marker() -> f64 {
    f64::from_bits(STALE_BITS)
}

/// Whether `value` is the staleness marker (not any NaN).
pub(crate) fn is_stale(value: f64) -> bool {
    value.to_bits() == STALE_BITS
}

/// What a [`Storage`] keeps.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageLimits {
    /// How long samples are kept when no rule reads the series over a longer range,
    /// milliseconds; at least [`LOOKBACK_MS`].
    pub retention_ms: i64,
    /// The most series held at once; samples of further series are rejected and counted.
    pub max_series: usize,
    /// How far back every sample is kept, milliseconds; older samples are thinned to
    /// one per [`StorageLimits::thinned_step_ms`]. The windows of threshold alerts (5 m)
    /// read only full-resolution samples; the 6 h to 3 d windows of SLO burn rates read
    /// thinned ones, which keeps a 3-day series at about 5,000 samples instead of 52,000.
    pub full_resolution_ms: i64,
    /// The spacing of thinned samples, milliseconds; 0 keeps every sample. Running
    /// reset sums make a thinned range's increase exact; only `rate`'s extrapolation at
    /// the window's start sees samples up to this far apart.
    pub thinned_step_ms: i64,
}

impl Default for StorageLimits {
    /// The lookback plus a 5-minute margin, 100 000 series; every sample of the last
    /// hour, one a minute before it.
    fn default() -> Self {
        Self {
            retention_ms: 2 * LOOKBACK_MS,
            max_series: 100_000,
            full_resolution_ms: 3_600_000,
            thinned_step_ms: 60_000,
        }
    }
}

/// Why a sample was not stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The label set has no `__name__`.
    #[error("series without a metric name: {0:?}")]
    MissingName(Labels),
    /// The series would exceed [`StorageLimits::max_series`].
    #[error("series limit of {limit} reached; {name} not stored")]
    TooManySeries {
        /// The limit.
        limit: usize,
        /// The metric name of the rejected series.
        name: String,
    },
    /// Not after the series' latest sample.
    #[error("sample of {name} at {t_ms} ms is not after the latest, at {latest_ms} ms")]
    OutOfOrder {
        /// The metric name.
        name: String,
        /// The sample's time.
        t_ms: i64,
        /// The series' latest sample time.
        latest_ms: i64,
    },
}

/// One stored sample with running sums that let a range be summarised without a walk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Point {
    pub(crate) t: i64,
    pub(crate) v: f64,
    /// Sum, from the series' first sample on, of the value before each counter reset
    /// (a value lower than the previous one, staleness markers skipped).
    resets: f64,
    /// Staleness markers from the series' first sample on, this one included.
    stale: u64,
}

/// What `rate()` needs of the samples in a range (staleness markers left out).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RangeSummary {
    pub(crate) first: (i64, f64),
    pub(crate) last: (i64, f64),
    pub(crate) count: u64,
    /// The values before counter resets between `first` and `last`, summed.
    pub(crate) resets: f64,
}

/// One series' samples.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub(crate) samples: VecDeque<Point>,
    retention_ms: i64,
    /// The latest value that is not a staleness marker.
    last_value: Option<f64>,
    /// Samples before this time are thinned already.
    thinned_to: i64,
}

impl Series {
    fn push(&mut self, t: i64, v: f64) {
        let (resets, stale) = self.samples.back().map_or((0.0, 0), |p| (p.resets, p.stale));
        let point = if is_stale(v) {
            Point { t, v, resets, stale: stale + 1 }
        } else {
            let reset = self.last_value.filter(|previous| v < *previous).unwrap_or(0.0);
            self.last_value = Some(v);
            Point { t, v, resets: resets + reset, stale }
        };
        self.samples.push_back(point);
    }

    /// Thins the samples between the last thinning and `before` to one per `step` ms.
    /// Staleness markers and the samples next to them stay, so a series' ends do; the
    /// running sums of the samples that stay keep every reset and marker counted.
    fn thin(&mut self, before: i64, step: i64) {
        if step <= 0 || before <= self.thinned_to {
            return;
        }
        let start = self.samples.partition_point(|p| p.t < self.thinned_to);
        let mut end = self.samples.partition_point(|p| p.t < before);
        let mut last_kept = start.checked_sub(1).map(|i| self.samples[i].t);
        let mut i = start;
        while i < end {
            let p = self.samples[i];
            let near_marker = is_stale(p.v)
                || i.checked_sub(1).is_some_and(|j| is_stale(self.samples[j].v))
                || self.samples.get(i + 1).is_some_and(|n| is_stale(n.v));
            if !near_marker && last_kept.is_some_and(|kept| p.t - kept < step) {
                self.samples.remove(i);
                end -= 1;
            } else {
                last_kept = Some(p.t);
                i += 1;
            }
        }
        self.thinned_to = before;
    }

    /// The latest sample at or before `t_ms`, within the lookback, unless stale.
    pub(crate) fn instant(&self, t_ms: i64) -> Option<f64> {
        let end = self.samples.partition_point(|p| p.t <= t_ms);
        let p = self.samples.get(end.checked_sub(1)?)?;
        (p.t >= t_ms - LOOKBACK_MS && !is_stale(p.v)).then_some(p.v)
    }

    /// The samples in `[from_ms, to_ms]`, staleness markers left out, summarised.
    pub(crate) fn range(&self, from_ms: i64, to_ms: i64) -> Option<RangeSummary> {
        let mut lo = self.samples.partition_point(|p| p.t < from_ms);
        let mut hi = self.samples.partition_point(|p| p.t <= to_ms);
        while lo < hi && is_stale(self.samples[lo].v) {
            lo += 1;
        }
        while hi > lo && is_stale(self.samples[hi - 1].v) {
            hi -= 1;
        }
        let (first, last) = (self.samples.get(lo)?, self.samples.get(hi.checked_sub(1)?)?);
        if lo >= hi {
            return None;
        }
        Some(RangeSummary {
            first: (first.t, first.v),
            last: (last.t, last.v),
            count: (hi - lo) as u64 - (last.stale - first.stale),
            resets: last.resets - first.resets,
        })
    }
}

/// Bounded per-series sample windows: what the rule evaluator reads.
///
/// Each series keeps its samples for the longest range a rule reads it over plus the
/// lookback (a storage from [`RuleEvaluator::storage`](super::RuleEvaluator::storage)
/// knows the rules), or [`StorageLimits::retention_ms`]; series
/// beyond [`StorageLimits::max_series`] are rejected and counted in
/// [`Storage::rejected`].
#[derive(Clone, Debug)]
pub struct Storage {
    /// Series by metric name, then by their labels (`__name__` included; sorted, as
    /// Prometheus reads them).
    pub(crate) metrics: BTreeMap<String, BTreeMap<Labels, Series>>,
    limits: StorageLimits,
    series: usize,
    rejected: u64,
    /// `(selector, ms)`: series it matches are kept at least `ms`.
    keep: Vec<(CompiledSelector, i64)>,
    /// The series of each scrape target's previous scrape, for staleness.
    pub(crate) scraped: BTreeMap<Labels, Vec<Labels>>,
}

impl Storage {
    /// An empty storage.
    ///
    /// ```
    /// let storage = voxscope_alert::eval::Storage::new(Default::default());
    /// assert_eq!(storage.series_count(), 0);
    /// ```
    pub fn new(limits: StorageLimits) -> Self {
        Self {
            metrics: BTreeMap::new(),
            limits,
            series: 0,
            rejected: 0,
            keep: Vec::new(),
            scraped: BTreeMap::new(),
        }
    }

    /// Keeps series that `selector` matches at least `ms` milliseconds plus the
    /// lookback: the range a rule reads them over. The rule evaluator sets these.
    pub(crate) fn keep_for(&mut self, selector: CompiledSelector, ms: i64) {
        self.keep.push((selector, ms));
    }

    /// Stores one sample of the series `labels` (which must hold `__name__`).
    ///
    /// ```
    /// use voxscope_alert::eval::{AppendError, Labels, Storage};
    /// let mut storage = Storage::new(Default::default());
    /// let x = Labels::from([("__name__".to_owned(), "x_total".to_owned())]);
    /// storage.append(&x, 1_000, 1.0).unwrap();
    /// assert!(matches!(storage.append(&x, 1_000, 2.0), Err(AppendError::OutOfOrder { .. })));
    /// assert_eq!(storage.rejected(), 1);
    /// ```
    ///
    /// # Errors
    /// No metric name, the series limit reached, or a sample not after the latest; each
    /// counted in [`Storage::rejected`].
    pub fn append(&mut self, labels: &Labels, t_ms: i64, value: f64) -> Result<(), AppendError> {
        let result = self.try_append(labels, t_ms, value);
        if result.is_err() {
            self.rejected += 1;
        }
        result
    }

    fn try_append(&mut self, labels: &Labels, t_ms: i64, value: f64) -> Result<(), AppendError> {
        let Some(name) = labels.get(METRIC_NAME) else {
            return Err(AppendError::MissingName(labels.clone()));
        };
        let known = self.metrics.get(name.as_str()).is_some_and(|m| m.contains_key(labels));
        if !known {
            if self.series >= self.limits.max_series {
                return Err(AppendError::TooManySeries {
                    limit: self.limits.max_series,
                    name: name.clone(),
                });
            }
            let retention = self
                .keep
                .iter()
                .filter(|(selector, _)| selector.matches(name, labels))
                .map(|(_, ms)| ms + LOOKBACK_MS)
                .fold(self.limits.retention_ms.max(LOOKBACK_MS), i64::max);
            let series = Series {
                samples: VecDeque::new(),
                retention_ms: retention,
                last_value: None,
                thinned_to: i64::MIN,
            };
            self.metrics.entry(name.clone()).or_default().insert(labels.clone(), series);
            self.series += 1;
        }
        let series = self
            .metrics
            .get_mut(name.as_str())
            .and_then(|m| m.get_mut(labels))
            .expect("inserted above");
        if let Some(latest) = series.samples.back().map(|p| p.t)
            && t_ms <= latest
        {
            return Err(AppendError::OutOfOrder { name: name.clone(), t_ms, latest_ms: latest });
        }
        series.push(t_ms, value);
        let oldest = t_ms - series.retention_ms;
        while series.samples.front().is_some_and(|p| p.t < oldest) {
            series.samples.pop_front();
        }
        Ok(())
    }

    /// Ends the series `labels` at `t_ms` with a staleness marker, as Prometheus does
    /// for a series missing from a scrape or a rule's result. A series that does not
    /// exist, or already ended, is left alone.
    pub fn mark_stale(&mut self, labels: &Labels, t_ms: i64) {
        let Some(name) = labels.get(METRIC_NAME) else { return };
        let live = self
            .metrics
            .get(name.as_str())
            .and_then(|m| m.get(labels))
            .and_then(|s| s.samples.back())
            .is_some_and(|p| p.t < t_ms && !is_stale(p.v));
        if live {
            let _ = self.append(labels, t_ms, stale_marker());
        }
    }

    /// Drops samples older than each series' retention at `now_ms`, and series left
    /// without samples; thins samples older than [`StorageLimits::full_resolution_ms`].
    pub fn compact(&mut self, now_ms: i64) {
        let mut removed = 0;
        let (full, step) = (self.limits.full_resolution_ms, self.limits.thinned_step_ms);
        for series in self.metrics.values_mut() {
            series.retain(|_, s| {
                let oldest = now_ms - s.retention_ms;
                while s.samples.front().is_some_and(|p| p.t < oldest) {
                    s.samples.pop_front();
                }
                s.thin(now_ms.saturating_sub(full), step);
                let keep = !s.samples.is_empty();
                removed += usize::from(!keep);
                keep
            });
        }
        self.metrics.retain(|_, m| !m.is_empty());
        self.series -= removed;
    }

    /// How long the series `labels` keeps its samples, milliseconds; `None` when it is
    /// not held.
    ///
    /// ```
    /// use voxscope_alert::eval::{Labels, RuleEvaluator, LOOKBACK_MS};
    /// let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
    /// let mut storage = RuleEvaluator::new(&catalog).storage(Default::default());
    /// let calls = Labels::from([
    ///     ("__name__".to_owned(), "voice_calls_total".to_owned()),
    ///     ("job".to_owned(), "voice_agent".to_owned()),
    /// ]);
    /// storage.append(&calls, 0, 1.0).unwrap();
    /// // The 3-day SLO window reads it, and the lookback comes on top.
    /// assert_eq!(storage.retention_ms(&calls), Some(3 * 86_400_000 + LOOKBACK_MS));
    /// ```
    pub fn retention_ms(&self, labels: &Labels) -> Option<i64> {
        let name = labels.get(METRIC_NAME)?;
        self.metrics.get(name.as_str())?.get(labels).map(|s| s.retention_ms)
    }

    /// Series held.
    pub fn series_count(&self) -> usize {
        self.series
    }

    /// Samples held, over every series.
    pub fn sample_count(&self) -> usize {
        self.metrics.values().flat_map(BTreeMap::values).map(|s| s.samples.len()).sum()
    }

    /// Samples rejected so far (see [`Storage::append`]).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(name: &str, pairs: &[(&str, &str)]) -> Labels {
        let mut l: Labels = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        l.insert(METRIC_NAME.to_owned(), name.to_owned());
        l
    }

    #[test]
    fn the_series_limit_rejects_new_series_and_counts_them() {
        let mut storage = Storage::new(StorageLimits {
            retention_ms: 60_000,
            max_series: 2,
            ..StorageLimits::default()
        });
        for i in 0..3 {
            let result = storage.append(&labels("x", &[("i", &i.to_string())]), 0, 1.0);
            assert_eq!(result.is_ok(), i < 2, "series {i}");
        }
        // Known series still take samples.
        storage.append(&labels("x", &[("i", "0")]), 1_000, 2.0).unwrap();
        assert_eq!((storage.series_count(), storage.rejected()), (2, 1));
    }

    #[test]
    fn samples_older_than_the_retention_are_dropped_and_empty_series_removed() {
        let mut storage = Storage::new(StorageLimits {
            retention_ms: 0,
            max_series: 10,
            ..StorageLimits::default()
        });
        let x = labels("x", &[]);
        for minute in 0..=20 {
            storage.append(&x, minute * 60_000, 1.0).unwrap();
        }
        // The lookback is the floor: 5 minutes back from minute 20, both ends in.
        assert_eq!(storage.sample_count(), 6);
        storage.compact(26 * 60_000);
        assert_eq!(storage.sample_count(), 0);
        assert_eq!(storage.series_count(), 0);
    }

    #[test]
    fn a_stale_marker_hides_the_series_from_instant_reads() {
        let mut storage = Storage::new(StorageLimits::default());
        let x = labels("x", &[]);
        storage.append(&x, 0, 3.0).unwrap();
        let series = |s: &Storage| s.metrics["x"][&x].clone();
        assert_eq!(series(&storage).instant(LOOKBACK_MS), Some(3.0));
        assert_eq!(series(&storage).instant(LOOKBACK_MS + 1), None);
        storage.mark_stale(&x, 1_000);
        assert_eq!(series(&storage).instant(2_000), None);
        let one = RangeSummary { first: (0, 3.0), last: (0, 3.0), count: 1, resets: 0.0 };
        assert_eq!(series(&storage).range(0, 2_000), Some(one));
    }

    #[test]
    fn range_summaries_count_resets_and_skip_staleness_markers() {
        let mut storage = Storage::new(StorageLimits::default());
        let x = labels("x", &[]);
        // 5, 10, reset to 2, stale, 1 (a reset from 2), 4.
        for (t, v) in [(0, 5.0), (1, 10.0), (2, 2.0), (3, stale_marker()), (4, 1.0), (5, 4.0)] {
            storage.append(&x, t * 1_000, v).unwrap();
        }
        let series = &storage.metrics["x"][&x];
        let all = series.range(0, 5_000).unwrap();
        assert_eq!((all.first, all.last, all.count, all.resets), ((0, 5.0), (5_000, 4.0), 5, 12.0));
        // From the reset on: 2, 1, 4: only the second reset is inside.
        let tail = series.range(2_000, 5_000).unwrap();
        assert_eq!((tail.first, tail.count, tail.resets), ((2_000, 2.0), 3, 2.0));
        assert_eq!(series.range(3_000, 3_500), None);
    }

    #[test]
    fn samples_older_than_an_hour_are_thinned_and_a_three_day_increase_stays_exact() {
        const DAY: i64 = 86_400_000;
        let full =
            StorageLimits { retention_ms: 3 * DAY, thinned_step_ms: 0, ..Default::default() };
        let thin = StorageLimits { retention_ms: 3 * DAY, ..Default::default() };
        let (mut full, mut thin) = (Storage::new(full), Storage::new(thin));
        let x = labels("x_total", &[]);
        // 3 days of a counter scraped every 5 s, reset once (a restart) after a day.
        let mut value = 0.0;
        let mut t = 0;
        while t <= 3 * DAY {
            value = if t == DAY { 2.0 } else { value + 1.5 + (t % 7) as f64 };
            for storage in [&mut full, &mut thin] {
                storage.append(&x, t, value).unwrap();
                if t % 5_000 == 0 && (t / 5_000) % 12 == 0 {
                    storage.compact(t);
                }
            }
            t += 5_000;
        }
        let end = 3 * DAY;
        // The bound: every sample of the last hour, one a minute before it.
        assert_eq!(full.sample_count(), 51_841);
        let expected = 720 + 1 + (3 * 24 - 1) * 60;
        assert!(
            (expected..=expected + 2).contains(&thin.sample_count()),
            "{} samples",
            thin.sample_count()
        );
        let summary = |s: &Storage, from: i64| s.metrics["x_total"][&x].range(from, end).unwrap();
        for window in [3 * DAY, DAY, 6 * 3_600_000, 3_600_000, 300_000] {
            let (a, b) = (summary(&full, end - window), summary(&thin, end - window));
            // Same first and last sample within a thinning step, same resets: the
            // increase over the window is the same to the first sample's step.
            let increase = |r: RangeSummary| r.last.1 - r.first.1 + r.resets;
            assert_eq!(a.last, b.last, "window {window}");
            assert_eq!(a.resets, b.resets, "window {window}");
            assert!(b.first.0 - a.first.0 < 60_000, "window {window}");
            let (ia, ib) = (increase(a), increase(b));
            assert!((ia - ib).abs() / ia < 1e-3, "window {window}: {ia} vs {ib}");
        }
    }
}
