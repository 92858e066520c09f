//! A step tier of one series: one value per step and no timestamps (a step's time is
//! the end of its interval, known from its position), for history older than the raw
//! samples.
//!
//! Step `k` covers the samples in `((k - 1) * step, k * step]` and holds the last of
//! them, with the series' running reset sum at that sample: the value a Prometheus range
//! query at that step reads, and an increase between two steps that stays exact across
//! counter resets. A step without samples holds the absent marker; one whose last sample
//! is a staleness marker holds that.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::storage::{LOOKBACK_MS, is_stale};

/// The bit pattern of a step without samples: a NaN that no computation produces and
/// that is not the staleness marker.
const ABSENT_BITS: u64 = 0x7ff0_0000_0000_0003;

/// Whether `value` is a sample's value (neither absent nor a staleness marker).
pub(crate) fn is_present(value: f64) -> bool {
    value.to_bits() != ABSENT_BITS && !is_stale(value)
}

/// How one step tier is laid out.
///
/// ```
/// use voxscope_alert::eval::StepTier;
/// let minutes = StepTier { step_ms: 60_000, retention_ms: 7 * 86_400_000 };
/// assert_eq!(minutes.max_steps(), 10_082);
/// assert_eq!(StepTier::OFF.max_steps(), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepTier {
    /// The step, milliseconds; 0 turns the tier off.
    pub step_ms: i64,
    /// How far back the tier reaches, milliseconds; 0 turns the tier off.
    pub retention_ms: i64,
}

impl StepTier {
    /// A tier that keeps nothing.
    pub const OFF: Self = Self { step_ms: 0, retention_ms: 0 };

    /// Whether the tier keeps steps: a step and a retention above 0, a step of at most
    /// about 35 years.
    pub fn is_on(&self) -> bool {
        (1..=1 << 40).contains(&self.step_ms) && self.retention_ms > 0
    }

    /// The most steps a series holds in the tier: those that end within the retention,
    /// the step still filling and the one at the retention's edge.
    pub fn max_steps(&self) -> usize {
        if self.is_on() {
            usize::try_from(self.retention_ms / self.step_ms + 2).unwrap_or(0)
        } else {
            0
        }
    }

    /// How far back an instant read looks for a step: the lookback, or one step when a
    /// step is longer, so every instant of the tier reads the step before it.
    fn lookback_ms(&self) -> i64 {
        LOOKBACK_MS.max(self.step_ms)
    }

    /// The end of the step `t_ms` falls in.
    fn end_of(&self, t_ms: i64) -> i64 {
        ((t_ms - 1).div_euclid(self.step_ms) + 1) * self.step_ms
    }
}

/// One step: the value of its last sample and the running reset sum there.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "(u64, u64)", into = "(u64, u64)")]
pub(crate) struct Step {
    pub(crate) v: f64,
    pub(crate) resets: f64,
}

impl From<(u64, u64)> for Step {
    fn from((v, resets): (u64, u64)) -> Self {
        Self { v: f64::from_bits(v), resets: f64::from_bits(resets) }
    }
}

impl From<Step> for (u64, u64) {
    fn from(step: Step) -> Self {
        (step.v.to_bits(), step.resets.to_bits())
    }
}

/// A range's first and last sample, with their running reset sums, and how many
/// samples it holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Part {
    pub(crate) first: (i64, f64, f64),
    pub(crate) last: (i64, f64, f64),
    pub(crate) count: u64,
}

/// One series' steps in one tier.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Steps {
    /// The end of the first step held.
    first_end: i64,
    steps: VecDeque<Step>,
}

/// Pushes `item`, first dropping the oldest when `max` are held; grows the buffer by
/// doubling but never past `max`, so its capacity stays within the bound.
pub(crate) fn push_bounded<T>(deque: &mut VecDeque<T>, item: T, max: usize) -> bool {
    let full = deque.len() >= max;
    if full {
        deque.pop_front();
    }
    if deque.len() == deque.capacity() {
        let target = (deque.capacity() * 2).max(8).min(max.max(1));
        deque.reserve_exact(target.saturating_sub(deque.len()).max(1));
    }
    deque.push_back(item);
    full
}

impl Steps {
    pub(crate) fn len(&self) -> usize {
        self.steps.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Bytes of step buffer held.
    pub(crate) fn bytes(&self) -> usize {
        self.steps.capacity() * size_of::<Step>()
    }

    /// The end of the first step held, if any.
    pub(crate) fn first_end(&self) -> Option<i64> {
        (!self.steps.is_empty()).then_some(self.first_end)
    }

    fn end(&self, tier: &StepTier, index: usize) -> i64 {
        self.first_end + index as i64 * tier.step_ms
    }

    /// Records the sample `(t_ms, v)` with the series' running reset sum `resets`: it
    /// becomes its step's value; steps skipped since the last sample are absent.
    pub(crate) fn record(&mut self, tier: &StepTier, t_ms: i64, v: f64, resets: f64) {
        if !tier.is_on() {
            return;
        }
        let end = tier.end_of(t_ms);
        let step = Step { v, resets };
        let max = tier.max_steps();
        let Some(last) = self.steps.len().checked_sub(1).map(|i| self.end(tier, i)) else {
            self.first_end = end;
            push_bounded(&mut self.steps, step, max);
            return;
        };
        if end <= last {
            // The sample is in the step still filling (samples only move forward).
            if let Some(back) = self.steps.back_mut() {
                *back = step;
            }
            return;
        }
        let skipped = (end - last) / tier.step_ms - 1;
        if skipped >= max as i64 {
            // Everything held is past the retention: start over at this step.
            self.steps.clear();
            self.first_end = end;
            push_bounded(&mut self.steps, step, max);
            return;
        }
        let carry = self.steps.back().map_or(0.0, |s| s.resets);
        let absent = Step { v: f64::from_bits(ABSENT_BITS), resets: carry };
        for _ in 0..skipped {
            if push_bounded(&mut self.steps, absent, max) {
                self.first_end += tier.step_ms;
            }
        }
        if push_bounded(&mut self.steps, step, max) {
            self.first_end += tier.step_ms;
        }
    }

    /// Drops the steps that end before `now_ms` minus the tier's retention, and every
    /// step past the tier's size (after the limits shrank).
    pub(crate) fn evict(&mut self, tier: &StepTier, now_ms: i64) {
        if !tier.is_on() {
            self.steps = VecDeque::new();
            return;
        }
        let oldest = now_ms.saturating_sub(tier.retention_ms);
        while !self.steps.is_empty()
            && (self.first_end < oldest || self.steps.len() > tier.max_steps())
        {
            self.steps.pop_front();
            self.first_end += tier.step_ms;
        }
        if self.steps.is_empty() {
            self.steps = VecDeque::new();
        }
    }

    /// The value at `t_ms` as an instant selector reads it: the latest step ending at or
    /// before it within the tier's lookback, absent steps skipped, `None` when that is
    /// a staleness marker.
    pub(crate) fn instant(&self, tier: &StepTier, t_ms: i64) -> Option<f64> {
        if self.steps.is_empty() || t_ms < self.first_end {
            return None;
        }
        let last = usize::try_from(t_ms.saturating_sub(self.first_end) / tier.step_ms).ok()?;
        let oldest = t_ms.saturating_sub(tier.lookback_ms());
        let mut i = last.min(self.steps.len() - 1);
        loop {
            if self.end(tier, i) < oldest {
                return None;
            }
            let v = self.steps[i].v;
            if v.to_bits() != ABSENT_BITS {
                return (!is_stale(v)).then_some(v);
            }
            i = i.checked_sub(1)?;
        }
    }

    /// The steps ending in `[from_ms, to_ms]` and before `before_ms`, absent steps and
    /// staleness markers at the ends left out. The count is the steps spanned, as a
    /// range read at the tier's resolution sees one sample a step.
    pub(crate) fn part(
        &self,
        tier: &StepTier,
        from_ms: i64,
        to_ms: i64,
        before_ms: i64,
    ) -> Option<Part> {
        if self.steps.is_empty() {
            return None;
        }
        let to_ms = to_ms.min(before_ms.saturating_sub(1));
        let step = tier.step_ms;
        // Steps whose end is at or after `from_ms`, and at or before `to_ms`.
        let from = from_ms.saturating_sub(self.first_end).saturating_add(step - 1);
        let lo = usize::try_from(from.div_euclid(step).max(0)).ok()?;
        let hi = usize::try_from(to_ms.saturating_sub(self.first_end).div_euclid(step)).ok()?;
        let hi = hi.min(self.steps.len() - 1);
        let (mut lo, mut hi) = (lo, hi);
        while lo <= hi && !is_present(self.steps[lo].v) {
            lo += 1;
        }
        while hi > lo && !is_present(self.steps[hi].v) {
            hi -= 1;
        }
        if lo > hi || !is_present(self.steps[hi].v) {
            return None;
        }
        let at = |i: usize| (self.end(tier, i), self.steps[i].v, self.steps[i].resets);
        Some(Part { first: at(lo), last: at(hi), count: (hi - lo) as u64 + 1 })
    }

    /// Appends to `out` the values of the steps ending in `[from_ms, to_ms]` and before
    /// `before_ms`, absent steps and staleness markers left out: a range read at the
    /// tier's resolution, one sample a step.
    pub(crate) fn values(
        &self,
        tier: &StepTier,
        from_ms: i64,
        to_ms: i64,
        before_ms: i64,
        out: &mut Vec<f64>,
    ) {
        if !tier.is_on() {
            return;
        }
        let to_ms = to_ms.min(before_ms.saturating_sub(1));
        let skip = from_ms.saturating_sub(self.first_end).saturating_add(tier.step_ms - 1);
        let lo = usize::try_from(skip.div_euclid(tier.step_ms).max(0)).unwrap_or(usize::MAX);
        let held = self.steps.iter().enumerate().skip(lo);
        let within = held.take_while(|(i, _)| self.end(tier, *i) <= to_ms);
        out.extend(within.map(|(_, step)| step.v).filter(|v| is_present(*v)));
    }

    /// Whether steps read from a file can be read: their times within a few thousand
    /// years of 1970.
    pub(crate) fn is_sane(&self) -> bool {
        super::series::sane_time(self.first_end) && self.steps.len() < 1 << 24
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::storage::stale_marker;

    const MINUTE: StepTier = StepTier { step_ms: 60_000, retention_ms: 600_000 };

    #[test]
    fn a_step_holds_its_last_sample_at_its_end_and_gaps_are_absent() {
        let mut steps = Steps::default();
        for (t, v) in [(1_000, 1.0), (59_000, 2.0), (60_000, 3.0), (60_001, 4.0), (200_000, 5.0)] {
            steps.record(&MINUTE, t, v, 0.0);
        }
        // Steps ending at 60 s (its samples at 1, 59 and 60 s), 120 s, 180 s (absent), 240 s.
        assert_eq!(steps.first_end(), Some(60_000));
        assert_eq!(steps.len(), 4);
        assert_eq!(steps.instant(&MINUTE, 60_000), Some(3.0));
        assert_eq!(steps.instant(&MINUTE, 119_999), Some(3.0));
        assert_eq!(steps.instant(&MINUTE, 120_000), Some(4.0));
        // The absent step reads the one before it, within the lookback.
        assert_eq!(steps.instant(&MINUTE, 180_000), Some(4.0));
        assert_eq!(steps.instant(&MINUTE, 240_000), Some(5.0));
        assert_eq!(steps.instant(&MINUTE, 59_999), None);
        let part = steps.part(&MINUTE, 0, 240_000, i64::MAX).unwrap();
        assert_eq!((part.first.0, part.last.0, part.count), (60_000, 240_000, 4));
        let mut values = Vec::new();
        steps.values(&MINUTE, 60_001, 240_000, i64::MAX, &mut values);
        assert_eq!(values, [4.0, 5.0], "the absent step is left out");
        values.clear();
        steps.values(&MINUTE, 0, 240_000, 180_000, &mut values);
        assert_eq!(values, [3.0, 4.0], "steps from the finer tier's start on are not read");
    }

    #[test]
    fn a_stale_step_ends_the_series_and_old_steps_go() {
        let mut steps = Steps::default();
        steps.record(&MINUTE, 60_000, 1.0, 0.0);
        steps.record(&MINUTE, 120_000, stale_marker(), 0.0);
        assert_eq!(steps.instant(&MINUTE, 150_000), None);
        assert_eq!(steps.part(&MINUTE, 0, 200_000, i64::MAX).unwrap().count, 1);
        steps.evict(&MINUTE, 120_000 + 600_000);
        assert_eq!(steps.first_end(), Some(120_000));
        // A sample after a gap longer than the tier starts it over.
        steps.record(&MINUTE, 10 * 600_000, 2.0, 0.0);
        assert_eq!((steps.len(), steps.first_end()), (1, Some(10 * 600_000)));
    }

    #[test]
    fn the_buffer_never_grows_past_the_tier() {
        let mut steps = Steps::default();
        for minute in 0..100 {
            steps.record(&MINUTE, minute * 60_000, 1.0, 0.0);
        }
        assert_eq!(steps.len(), MINUTE.max_steps());
        assert!(steps.bytes() <= MINUTE.max_steps() * size_of::<Step>());
    }
}
