//! One series in its three tiers: raw samples, then aggregate and summary steps, each
//! filled as samples arrive; a read takes each instant from the finest tier that still
//! holds it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::storage::{LOOKBACK_MS, StorageLimits, is_stale};
use super::tier::{Part, Steps, push_bounded};

/// One raw sample with the series' running sums there.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "(i64, u64, u64, u64)", into = "(i64, u64, u64, u64)")]
pub(crate) struct Point {
    pub(crate) t: i64,
    pub(crate) v: f64,
    /// Sum, from the series' first sample on, of the value before each counter reset
    /// (a value lower than the previous one, staleness markers skipped).
    resets: f64,
    /// Staleness markers from the series' first sample on, this one included.
    stale: u64,
}

impl From<(i64, u64, u64, u64)> for Point {
    fn from((t, v, resets, stale): (i64, u64, u64, u64)) -> Self {
        Self { t, v: f64::from_bits(v), resets: f64::from_bits(resets), stale }
    }
}

impl From<Point> for (i64, u64, u64, u64) {
    fn from(p: Point) -> Self {
        (p.t, p.v.to_bits(), p.resets.to_bits(), p.stale)
    }
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

/// One series' samples, in tiers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Series {
    /// Every sample of the last [`StorageLimits::raw_ms`].
    pub(crate) raw: VecDeque<Point>,
    /// One step per [`StorageLimits::aggregates`] step.
    pub(crate) aggregates: Steps,
    /// One step per [`StorageLimits::summaries`] step.
    pub(crate) summaries: Steps,
    /// The latest value that is not a staleness marker.
    last_value: Option<f64>,
    /// The latest sample's time.
    pub(crate) latest: Option<i64>,
    /// The running sums at the latest sample.
    resets: f64,
    stale: u64,
}

impl Series {
    /// Stores the sample `(t, v)`, later than the latest, in every tier.
    pub(crate) fn push(&mut self, limits: &StorageLimits, t: i64, v: f64) {
        let point = if is_stale(v) {
            self.stale += 1;
            Point { t, v, resets: self.resets, stale: self.stale }
        } else {
            self.resets += self.last_value.filter(|previous| v < *previous).unwrap_or(0.0);
            self.last_value = Some(v);
            Point { t, v, resets: self.resets, stale: self.stale }
        };
        self.latest = Some(t);
        push_bounded(&mut self.raw, point, limits.max_raw_samples.max(1));
        self.aggregates.record(&limits.aggregates, t, v, self.resets);
        self.summaries.record(&limits.summaries, t, v, self.resets);
        self.evict_raw(limits, t);
    }

    fn evict_raw(&mut self, limits: &StorageLimits, now_ms: i64) {
        let oldest = now_ms.saturating_sub(limits.raw_ms.max(LOOKBACK_MS));
        while self.raw.front().is_some_and(|p| p.t < oldest) {
            self.raw.pop_front();
        }
        while self.raw.len() > limits.max_raw_samples.max(1) {
            self.raw.pop_front();
        }
    }

    /// Drops what each tier no longer keeps at `now_ms`; whether anything is left.
    pub(crate) fn evict(&mut self, limits: &StorageLimits, now_ms: i64) -> bool {
        self.evict_raw(limits, now_ms);
        if self.raw.is_empty() {
            self.raw = VecDeque::new();
        }
        self.aggregates.evict(&limits.aggregates, now_ms);
        self.summaries.evict(&limits.summaries, now_ms);
        !(self.raw.is_empty() && self.aggregates.is_empty() && self.summaries.is_empty())
    }

    /// Bytes of sample buffers held (the series' bookkeeping and labels aside).
    pub(crate) fn bytes(&self) -> usize {
        self.raw.capacity() * size_of::<Point>() + self.aggregates.bytes() + self.summaries.bytes()
    }

    /// Where the raw samples begin and where the aggregates begin: each tier is read
    /// before the finer one begins.
    fn bounds(&self) -> (i64, i64) {
        let raw = self.raw.front().map_or(i64::MAX, |p| p.t);
        let aggregates = self.aggregates.first_end().map_or(raw, |end| end.min(raw));
        (raw, aggregates)
    }

    /// The latest sample at or before `t_ms`, within the lookback, unless stale; in a
    /// step tier, the latest step within the lookback or one step.
    pub(crate) fn instant(&self, limits: &StorageLimits, t_ms: i64) -> Option<f64> {
        let (raw, aggregates) = self.bounds();
        if t_ms >= raw {
            let end = self.raw.partition_point(|p| p.t <= t_ms);
            let p = self.raw.get(end.checked_sub(1)?)?;
            return (p.t >= t_ms.saturating_sub(LOOKBACK_MS) && !is_stale(p.v)).then_some(p.v);
        }
        if t_ms >= aggregates {
            return self.aggregates.instant(&limits.aggregates, t_ms);
        }
        self.summaries.instant(&limits.summaries, t_ms)
    }

    /// The samples in `[from_ms, to_ms]`, staleness markers left out, summarised; older
    /// parts of the range read the step tiers.
    pub(crate) fn range(
        &self,
        limits: &StorageLimits,
        from_ms: i64,
        to_ms: i64,
    ) -> Option<RangeSummary> {
        let (raw, aggregates) = self.bounds();
        let parts = [
            self.summaries.part(&limits.summaries, from_ms, to_ms, aggregates),
            self.aggregates.part(&limits.aggregates, from_ms, to_ms, raw),
            self.raw_part(from_ms, to_ms),
        ];
        let mut parts = parts.into_iter().flatten();
        let first = parts.next()?;
        let (last, count) =
            parts.fold((first.last, first.count), |(_, n), p| (p.last, n + p.count));
        Some(RangeSummary {
            first: (first.first.0, first.first.1),
            last: (last.0, last.1),
            count,
            resets: last.2 - first.first.2,
        })
    }

    /// The values of the samples in `[from_ms, to_ms]`, staleness markers left out, in
    /// time order; older parts of the range read one value a step of the step tiers.
    pub(crate) fn values(&self, limits: &StorageLimits, from_ms: i64, to_ms: i64) -> Vec<f64> {
        let (raw, aggregates) = self.bounds();
        let mut out = Vec::new();
        self.summaries.values(&limits.summaries, from_ms, to_ms, aggregates, &mut out);
        self.aggregates.values(&limits.aggregates, from_ms, to_ms, raw, &mut out);
        let lo = self.raw.partition_point(|p| p.t < from_ms);
        let hi = self.raw.partition_point(|p| p.t <= to_ms);
        out.extend(self.raw.range(lo..hi).map(|p| p.v).filter(|v| !is_stale(*v)));
        out
    }

    fn raw_part(&self, from_ms: i64, to_ms: i64) -> Option<Part> {
        let samples = &self.raw;
        let mut lo = samples.partition_point(|p| p.t < from_ms);
        let mut hi = samples.partition_point(|p| p.t <= to_ms);
        while lo < hi && is_stale(samples[lo].v) {
            lo += 1;
        }
        while hi > lo && is_stale(samples[hi - 1].v) {
            hi -= 1;
        }
        if lo >= hi {
            return None;
        }
        let (first, last) = (samples[lo], samples[hi - 1]);
        Some(Part {
            first: (first.t, first.v, first.resets),
            last: (last.t, last.v, last.resets),
            count: (hi - lo) as u64 - (last.stale - first.stale),
        })
    }

    /// Whether a series read from a file holds together: raw samples in time order up
    /// to the latest, times a clock can give.
    pub(crate) fn is_consistent(&self) -> bool {
        let ordered = self.raw.iter().zip(self.raw.iter().skip(1)).all(|(a, b)| a.t < b.t);
        let latest = self.raw.back().is_none_or(|p| Some(p.t) == self.latest);
        let times = self.raw.iter().map(|p| p.t).chain(self.latest);
        ordered
            && latest
            && times.into_iter().all(sane_time)
            && self.aggregates.is_sane()
            && self.summaries.is_sane()
    }
}

/// Whether `t_ms` is a time within a few thousand years of 1970, so that step
/// arithmetic on it cannot overflow.
pub(crate) fn sane_time(t_ms: i64) -> bool {
    t_ms.unsigned_abs() < 1 << 50
}
