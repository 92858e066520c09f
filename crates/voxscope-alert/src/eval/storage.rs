//! Every series the engine stores, in three tiers: every sample of the last hour, one
//! step a minute for 7 days, one step an hour for 30 days (each configurable), bounded
//! per series; a series is its label set (`__name__` included).
//!
//! ```
//! use voxscope_alert::eval::{Labels, Storage, StorageLimits};
//!
//! let mut storage = Storage::new(StorageLimits::default());
//! let up = Labels::from([("__name__".to_owned(), "up".to_owned())]);
//! storage.append(&up, 0, 1.0).unwrap();
//! assert_eq!(storage.series_count(), 1);
//! ```
//!
//! A step tier keeps, for each step, the step's last sample (the value a Prometheus
//! range query at that step reads) with the series' running sum of counter resets
//! there, and no timestamp: a step's time is the end of its interval. An increase
//! between any two stored points is therefore exact across resets; only `rate`'s
//! extrapolation at a range's start sees the step's end rather than the sample's time.
//! Reads take each instant from the finest tier that holds it, so a 5-minute window
//! reads raw samples and a 3-day or 30-day one reads steps, transparently. In a step
//! tier an instant read looks back one step (or the 5-minute lookback, if longer): at a
//! time between two step ends it reads the earlier step, as a range query at that step
//! would; a query at the tier's step, aligned to it, reads every step exactly.
//!
//! # Memory
//!
//! A series holds at most [`StorageLimits::max_raw_samples`] raw samples of 32 bytes
//! and [`StepTier::max_steps`] steps of 16 bytes per step tier: with the defaults and
//! the engine's 5-second scrapes, 722 raw samples, 10 082 minute steps and 722 hour
//! steps, 195 KiB; [`StorageLimits::max_bytes_per_series`] computes the bound for any
//! limits (label sets and map entries come on top), and buffers never grow past it.

use std::collections::BTreeMap;

use super::Labels;
pub(crate) use super::series::RangeSummary;
use super::series::Series;
use super::tier::Step;
pub use super::tier::StepTier;

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

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// What a [`Storage`] keeps: the tiers of every series, and how many series.
///
/// ```
/// use voxscope_alert::eval::StorageLimits;
/// let limits = StorageLimits::default();
/// assert_eq!(limits.span_ms(), 30 * 86_400_000);
/// assert_eq!(limits.max_bytes_per_series(), 196_128);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StorageLimits {
    /// The most series held at once; samples of further series are rejected and counted.
    pub max_series: usize,
    /// How long every sample is kept, milliseconds; at least [`LOOKBACK_MS`].
    pub raw_ms: i64,
    /// The most raw samples a series holds (the oldest go first): the raw window over
    /// the scrape interval, plus one. Bounds a series scraped faster than expected.
    pub max_raw_samples: usize,
    /// The first step tier (1-minute steps for 7 days by default).
    pub aggregates: StepTier,
    /// The second step tier (1-hour steps for 30 days by default).
    pub summaries: StepTier,
}

impl Default for StorageLimits {
    /// 100 000 series; every sample of the last hour (722 of them: a 5-second scrape),
    /// 1-minute steps for 7 days, 1-hour steps for 30 days.
    fn default() -> Self {
        Self {
            max_series: 100_000,
            raw_ms: HOUR_MS,
            max_raw_samples: 722,
            aggregates: StepTier { step_ms: 60_000, retention_ms: 7 * DAY_MS },
            summaries: StepTier { step_ms: HOUR_MS, retention_ms: 30 * DAY_MS },
        }
    }
}

impl StorageLimits {
    /// How far back a series is read: the longest tier.
    pub fn span_ms(&self) -> i64 {
        let tiers = [self.aggregates, self.summaries];
        let steps = tiers.iter().filter(|t| t.is_on()).map(|t| t.retention_ms);
        steps.fold(self.raw_ms.max(LOOKBACK_MS), i64::max)
    }

    /// The most bytes of samples one series holds: its raw samples and steps at their
    /// bounds, with the series' own bookkeeping; its label set comes on top.
    pub fn max_bytes_per_series(&self) -> usize {
        size_of::<Series>()
            + self.max_raw_samples.max(1) * size_of::<super::series::Point>()
            + (self.aggregates.max_steps() + self.summaries.max_steps()) * size_of::<Step>()
    }

    /// Reads series back at least `ms` milliseconds plus the lookback: the coarsest tier
    /// that is on reaches that far.
    fn reach(&mut self, ms: i64) {
        let wanted = ms.saturating_add(LOOKBACK_MS);
        if self.span_ms() >= wanted {
            return;
        }
        if self.summaries.is_on() {
            self.summaries.retention_ms = wanted;
        } else if self.aggregates.is_on() {
            self.aggregates.retention_ms = wanted;
        } else {
            self.raw_ms = wanted;
        }
    }
}

/// What a [`Storage`] holds, per tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StorageStats {
    /// Series held.
    pub series: usize,
    /// Raw samples, over every series.
    pub raw_samples: usize,
    /// Steps of the first step tier, over every series.
    pub aggregate_steps: usize,
    /// Steps of the second step tier, over every series.
    pub summary_steps: usize,
    /// Bytes of sample buffers (label sets aside).
    pub bytes: usize,
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
    /// A time no clock gives (more than a few thousand years from 1970).
    #[error("sample of {name} at {t_ms} ms: not a time a clock gives")]
    BadTime {
        /// The metric name.
        name: String,
        /// The sample's time.
        t_ms: i64,
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

/// Every series in tiers: what the rule evaluator, the range queries and the history
/// read.
///
/// Each series keeps its raw samples, aggregate steps and summary steps as
/// [`StorageLimits`] says (a storage from
/// [`RuleEvaluator::storage`](super::RuleEvaluator::storage) reaches back at least as
/// far as its rules read); series beyond [`StorageLimits::max_series`] are rejected and
/// counted in [`Storage::rejected`].
#[derive(Clone, Debug)]
pub struct Storage {
    /// Series by metric name, then by their labels (`__name__` included; sorted, as
    /// Prometheus reads them).
    pub(crate) metrics: BTreeMap<String, BTreeMap<Labels, Series>>,
    pub(crate) limits: StorageLimits,
    pub(crate) series: usize,
    pub(crate) rejected: u64,
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
        Self { metrics: BTreeMap::new(), limits, series: 0, rejected: 0, scraped: BTreeMap::new() }
    }

    /// Keeps every series at least `ms` milliseconds plus the lookback: the range a rule
    /// reads. The rule evaluator sets this.
    pub(crate) fn keep_for(&mut self, ms: i64) {
        self.limits.reach(ms);
    }

    /// A copy holding only the series of the metrics named: what a reader copies under
    /// a lock to query outside it.
    ///
    /// ```
    /// use voxscope_alert::eval::{Labels, Storage};
    /// let mut storage = Storage::new(Default::default());
    /// for name in ["up", "x_total"] {
    ///     storage.append(&Labels::from([("__name__".into(), name.into())]), 0, 1.0).unwrap();
    /// }
    /// assert_eq!(storage.with_metrics(&["up".to_owned()]).series_count(), 1);
    /// ```
    pub fn with_metrics(&self, names: &[String]) -> Storage {
        let metrics: BTreeMap<String, BTreeMap<Labels, Series>> = names
            .iter()
            .filter_map(|name| self.metrics.get(name).map(|m| (name.clone(), m.clone())))
            .collect();
        let series = metrics.values().map(BTreeMap::len).sum();
        Storage { metrics, series, scraped: BTreeMap::new(), ..Storage::new(self.limits.clone()) }
    }

    /// What the storage keeps.
    pub fn limits(&self) -> &StorageLimits {
        &self.limits
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
    /// No metric name, the series limit reached, a time no clock gives, or a sample not
    /// after the latest; each counted in [`Storage::rejected`].
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
        if !super::series::sane_time(t_ms) {
            return Err(AppendError::BadTime { name: name.clone(), t_ms });
        }
        let at_limit = self.series >= self.limits.max_series;
        let too_many =
            || AppendError::TooManySeries { limit: self.limits.max_series, name: name.clone() };
        let metric = match self.metrics.get_mut(name.as_str()) {
            Some(metric) => metric,
            None if at_limit => return Err(too_many()),
            None => self.metrics.entry(name.clone()).or_default(),
        };
        let series = match metric.get_mut(labels) {
            Some(series) => series,
            None if at_limit => return Err(too_many()),
            None => {
                self.series += 1;
                metric.entry(labels.clone()).or_default()
            }
        };
        if let Some(latest) = series.latest
            && t_ms <= latest
        {
            return Err(AppendError::OutOfOrder { name: name.clone(), t_ms, latest_ms: latest });
        }
        series.push(&self.limits, t_ms, value);
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
            .and_then(|s| s.raw.back())
            .is_some_and(|p| p.t < t_ms && !is_stale(p.v));
        if live {
            let _ = self.append(labels, t_ms, stale_marker());
        }
    }

    /// Drops what each tier no longer keeps at `now_ms`, and series left empty.
    pub fn compact(&mut self, now_ms: i64) {
        let mut removed = 0;
        let limits = &self.limits;
        for series in self.metrics.values_mut() {
            series.retain(|_, s| {
                let keep = s.evict(limits, now_ms);
                removed += usize::from(!keep);
                keep
            });
        }
        self.metrics.retain(|_, m| !m.is_empty());
        self.series -= removed;
    }

    /// How far back the series `labels` is read, milliseconds (every series alike:
    /// [`StorageLimits::span_ms`]); `None` when it is not held.
    ///
    /// ```
    /// use voxscope_alert::eval::{Labels, RuleEvaluator, StorageLimits};
    /// let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
    /// let mut storage = RuleEvaluator::new(&catalog).storage(Default::default());
    /// let calls = Labels::from([
    ///     ("__name__".to_owned(), "voice_calls_total".to_owned()),
    ///     ("job".to_owned(), "voice_agent".to_owned()),
    /// ]);
    /// storage.append(&calls, 0, 1.0).unwrap();
    /// // The 3-day SLO window is within the 30 days of the summary tier.
    /// assert_eq!(storage.retention_ms(&calls), Some(30 * 86_400_000));
    /// ```
    pub fn retention_ms(&self, labels: &Labels) -> Option<i64> {
        let name = labels.get(METRIC_NAME)?;
        self.metrics.get(name.as_str())?.get(labels).map(|_| self.limits.span_ms())
    }

    /// Series held.
    pub fn series_count(&self) -> usize {
        self.series
    }

    /// Raw samples and steps held, over every series.
    pub fn sample_count(&self) -> usize {
        let stats = self.stats();
        stats.raw_samples + stats.aggregate_steps + stats.summary_steps
    }

    /// What is held, per tier, and the bytes of sample buffers.
    ///
    /// ```
    /// use voxscope_alert::eval::{Labels, Storage};
    /// let mut storage = Storage::new(Default::default());
    /// let x = Labels::from([("__name__".to_owned(), "x".to_owned())]);
    /// storage.append(&x, 1_000, 1.0).unwrap();
    /// let stats = storage.stats();
    /// assert_eq!((stats.raw_samples, stats.aggregate_steps, stats.summary_steps), (1, 1, 1));
    /// ```
    pub fn stats(&self) -> StorageStats {
        let mut stats = StorageStats { series: self.series, ..StorageStats::default() };
        for s in self.metrics.values().flat_map(BTreeMap::values) {
            stats.raw_samples += s.raw.len();
            stats.aggregate_steps += s.aggregates.len();
            stats.summary_steps += s.summaries.len();
            stats.bytes += s.bytes();
        }
        stats
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

    fn raw_only(raw_ms: i64) -> StorageLimits {
        StorageLimits {
            raw_ms,
            aggregates: StepTier::OFF,
            summaries: StepTier::OFF,
            ..StorageLimits::default()
        }
    }

    #[test]
    fn the_series_limit_rejects_new_series_and_counts_them() {
        let mut storage = Storage::new(StorageLimits { max_series: 2, ..StorageLimits::default() });
        for i in 0..3 {
            let result = storage.append(&labels("x", &[("i", &i.to_string())]), 0, 1.0);
            assert_eq!(result.is_ok(), i < 2, "series {i}");
        }
        // A new metric at the limit is refused too, and leaves no empty metric behind.
        let y = storage.append(&labels("y", &[]), 0, 1.0);
        assert!(matches!(y, Err(AppendError::TooManySeries { limit: 2, .. })), "{y:?}");
        assert!(!storage.metrics.contains_key("y"));
        // Known series still take samples.
        storage.append(&labels("x", &[("i", "0")]), 1_000, 2.0).unwrap();
        assert_eq!((storage.series_count(), storage.rejected()), (2, 2));
        // Times no clock gives are refused, not a panic in the step arithmetic.
        for t in [i64::MIN, i64::MAX] {
            let result = storage.append(&labels("x", &[("i", "0")]), t, 1.0);
            assert!(matches!(result, Err(AppendError::BadTime { .. })), "{t}");
        }
        assert_eq!(storage.rejected(), 4);
    }

    #[test]
    fn samples_older_than_the_retention_are_dropped_and_empty_series_removed() {
        let mut storage = Storage::new(raw_only(0));
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
        let limits = storage.limits.clone();
        let series = |s: &Storage| s.metrics["x"][&x].clone();
        assert_eq!(series(&storage).instant(&limits, LOOKBACK_MS), Some(3.0));
        assert_eq!(series(&storage).instant(&limits, LOOKBACK_MS + 1), None);
        storage.mark_stale(&x, 1_000);
        assert_eq!(series(&storage).instant(&limits, 2_000), None);
        let one = RangeSummary { first: (0, 3.0), last: (0, 3.0), count: 1, resets: 0.0 };
        assert_eq!(series(&storage).range(&limits, 0, 2_000), Some(one));
    }

    #[test]
    fn range_summaries_count_resets_and_skip_staleness_markers() {
        let mut storage = Storage::new(StorageLimits::default());
        let x = labels("x", &[]);
        // 5, 10, reset to 2, stale, 1 (a reset from 2), 4.
        for (t, v) in [(0, 5.0), (1, 10.0), (2, 2.0), (3, stale_marker()), (4, 1.0), (5, 4.0)] {
            storage.append(&x, t * 1_000, v).unwrap();
        }
        let (series, limits) = (&storage.metrics["x"][&x], &storage.limits);
        let all = series.range(limits, 0, 5_000).unwrap();
        assert_eq!((all.first, all.last, all.count, all.resets), ((0, 5.0), (5_000, 4.0), 5, 12.0));
        // From the reset on: 2, 1, 4: only the second reset is inside.
        let tail = series.range(limits, 2_000, 5_000).unwrap();
        assert_eq!((tail.first, tail.count, tail.resets), ((2_000, 2.0), 3, 2.0));
        assert_eq!(series.range(limits, 3_000, 3_500), None);
    }

    /// 31 days of a counter scraped every 5 s, reset once (a restart), compacted every
    /// minute as the engine does: each tier holds exactly its window, the buffers stay
    /// within the documented bound, and an increase over any window is exact.
    #[test]
    fn thirty_one_days_fill_each_tier_to_its_bound_and_increases_stay_exact() {
        const DAY: i64 = 86_400_000;
        const SCRAPE: i64 = 5_000;
        let limits = StorageLimits::default();
        let mut storage = Storage::new(limits.clone());
        let x = labels("x_total", &[]);
        let end = 31 * DAY;
        // The counter's true total at every scrape, resets or not.
        let mut total = Vec::with_capacity((end / SCRAPE + 1) as usize);
        let (mut value, mut sum) = (0.0, 0.0);
        let mut t = 0;
        while t <= end {
            let step = 1.5 + (t / SCRAPE % 7) as f64;
            sum += step;
            value = if t == 10 * DAY { step } else { value + step };
            total.push(sum);
            storage.append(&x, t, value).unwrap();
            if t % 60_000 == 0 {
                storage.compact(t);
            }
            t += SCRAPE;
        }
        let stats = storage.stats();
        // Every sample of the last hour, both ends in; a minute step ending at every
        // minute of the last 7 days and an hour step at every hour of the last 30, both
        // ends in.
        assert_eq!(stats.raw_samples, 721);
        assert_eq!(stats.aggregate_steps, 7 * 1_440 + 1);
        assert_eq!(stats.summary_steps, 30 * 24 + 1);
        let bound = limits.max_bytes_per_series();
        assert!(stats.bytes + size_of::<Series>() <= bound, "{} > {bound}", stats.bytes);
        assert_eq!(bound, 196_128);
        assert!(stats.bytes > bound * 9 / 10, "{} bytes: far under the bound", stats.bytes);

        let series = &storage.metrics["x_total"][&x];
        let total_at = |t: i64| total[(t / SCRAPE) as usize];
        for window in [30 * DAY, 21 * DAY, 7 * DAY, DAY, 6 * 3_600_000, 3_600_000, 300_000] {
            let r = series.range(&limits, end - window, end).unwrap();
            assert_eq!(r.first.0, end - window, "window {window}: steps end on scrapes");
            assert_eq!(r.last, (end, value), "window {window}");
            let increase = r.last.1 - r.first.1 + r.resets;
            let exact = total_at(end) - total_at(end - window);
            assert!((increase - exact).abs() < 1e-6, "window {window}: {increase} vs {exact}");
        }
        // An instant read in each tier gives the sample at that step's end.
        for back in [30 * 60_000, 3 * DAY + 60_000, 20 * DAY + 3_600_000] {
            let at = end - back;
            let expected = if at < 10 * DAY {
                total_at(at)
            } else {
                total_at(at) - total_at(10 * DAY - SCRAPE)
            };
            assert_eq!(series.instant(&limits, at), Some(expected), "{back} ms back");
        }
        // Beyond 30 days nothing is left.
        assert_eq!(series.instant(&limits, end - 30 * DAY - 3_600_000), None);

        // A month of hourly increases through the query engine, as a report reads it:
        // hour steps, then minute steps, then raw samples, each hour exact.
        use crate::expr::{Matcher, Scope, Selector, Window, increase};
        let scope = Scope::rules(Matcher::re("job", ".*"), 60);
        let hourly = increase(Selector::new("x_total"), Window::Fixed(3_600));
        let query = super::super::Query::new(&hourly, &scope).unwrap();
        let start = end - 30 * DAY + 3_600_000;
        let result = query.range(&storage, start, end, 3_600_000).unwrap();
        assert_eq!(result.len(), 1);
        assert_eq!(result[0].points.len(), 30 * 24);
        for &(t, v) in &result[0].points {
            let exact = total_at(t) - total_at(t - 3_600_000);
            assert!((v - exact).abs() < 1e-6, "hour ending {t}: {v} vs {exact}");
        }
    }
}
