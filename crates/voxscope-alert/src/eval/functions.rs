//! `rate()` and `increase()` as Prometheus computes them: the difference between the
//! first and last sample of the range, counter resets added back, extrapolated towards
//! the range's edges when the samples come near them, never below a counter's zero;
//! `quantile_over_time()` and `abs()`.

use super::storage::RangeSummary;
use crate::expr::RangeFn;

/// `rate` or `increase` of `samples` (time-ordered `(ms, value)`, staleness markers left
/// out) over the range `[end_ms - range_ms, end_ms]`; `None` with fewer than two
/// samples.
///
/// ```
/// use voxscope_alert::eval::extrapolated_rate;
/// use voxscope_alert::expr::RangeFn;
/// // A counter growing 10 a minute, sampled every minute over 5 minutes.
/// let samples: Vec<(i64, f64)> = (0..=5).map(|m| (m * 60_000, m as f64 * 10.0)).collect();
/// assert_eq!(extrapolated_rate(RangeFn::Increase, &samples, 300_000, 300_000), Some(50.0));
/// ```
pub fn extrapolated_rate(
    f: RangeFn,
    samples: &[(i64, f64)],
    end_ms: i64,
    range_ms: i64,
) -> Option<f64> {
    let (&first, &last) = (samples.first()?, samples.last()?);
    let resets = samples.windows(2).filter(|w| w[1].1 < w[0].1).map(|w| w[0].1).sum();
    let summary = RangeSummary { first, last, count: samples.len() as u64, resets };
    summary_rate(f, &summary, end_ms, range_ms)
}

/// [`extrapolated_rate`] of a stored range's summary.
pub(crate) fn summary_rate(
    f: RangeFn,
    s: &RangeSummary,
    end_ms: i64,
    range_ms: i64,
) -> Option<f64> {
    if s.count < 2 {
        return None;
    }
    let ((first_t, first_v), (last_t, last_v)) = (s.first, s.last);
    let start_ms = end_ms - range_ms;
    let mut result = last_v - first_v + s.resets;
    let mut to_start = (first_t - start_ms) as f64 / 1000.0;
    let to_end = (end_ms - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average = sampled / (s.count - 1) as f64;
    if result > 0.0 && first_v >= 0.0 {
        // A counter is never negative: extrapolate no further back than its zero.
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = average * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold { to_start } else { average / 2.0 };
    interval += if to_end < threshold { to_end } else { average / 2.0 };
    result *= interval / sampled;
    Some(match f {
        RangeFn::Rate => result / (range_ms as f64 / 1000.0),
        RangeFn::Increase => result,
        // A regression needs every sample, not a summary: see `predict_linear`.
        RangeFn::PredictLinear(_) | RangeFn::QuantileOverTime(_) | RangeFn::MaxOverTime => {
            return None;
        }
    })
}

/// `quantile_over_time(q, ...)` of a range's sample values as Prometheus computes it:
/// in order, the rank `q * (n - 1)` interpolated between its two neighbours; `-Inf` for
/// `q < 0`, `+Inf` for `q > 1`, NaN for a NaN `q`; `None` without samples.
///
/// ```
/// use voxscope_alert::eval::quantile_over_time;
/// let mut day = vec![5.0, 1.0, 4.0, 2.0, 3.0];
/// assert_eq!(quantile_over_time(0.5, &mut day), Some(3.0));
/// assert_eq!(quantile_over_time(0.9, &mut day), Some(4.6));
/// ```
pub fn quantile_over_time(q: f64, values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    if q.is_nan() {
        return Some(f64::NAN);
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    let rank = q * (values.len() - 1) as f64;
    let lower = rank.floor() as usize;
    let weight = rank - rank.floor();
    // The two ranks by selection, not a full sort: a day of minutes at every evaluation.
    let (_, &mut low, above) = values.select_nth_unstable_by(lower, f64::total_cmp);
    let high = above.iter().copied().min_by(f64::total_cmp).unwrap_or(low);
    Some(low * (1.0 - weight) + high * weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minutes(values: &[f64]) -> Vec<(i64, f64)> {
        values.iter().enumerate().map(|(i, v)| (i as i64 * 60_000, *v)).collect()
    }

    #[test]
    fn a_full_window_is_not_extrapolated() {
        let s = minutes(&[0.0, 60.0, 120.0, 180.0, 240.0, 300.0]);
        assert_eq!(extrapolated_rate(RangeFn::Rate, &s, 300_000, 300_000), Some(1.0));
    }

    #[test]
    fn samples_away_from_the_edges_extrapolate_half_an_interval() {
        // Samples at 2..4 min of the range (0, 6 min]: 2 min before the first and after
        // the last, over 1.1 intervals, so half an interval is added on each side.
        let s = vec![(120_000, 100.0), (180_000, 110.0), (240_000, 120.0)];
        assert_eq!(extrapolated_rate(RangeFn::Increase, &s, 360_000, 360_000), Some(30.0));
    }

    #[test]
    fn extrapolation_stops_at_the_counters_zero() {
        // 5 → 15 over one minute, the range starting 2 minutes before the first sample:
        // the zero lies 30 s back, so 30 s are added there, and half an interval after.
        let s = vec![(120_000, 5.0), (180_000, 15.0)];
        let increase = extrapolated_rate(RangeFn::Increase, &s, 300_000, 300_000).unwrap();
        assert!((increase - 10.0 * 120.0 / 60.0).abs() < 1e-9, "{increase}");
    }

    #[test]
    fn a_counter_reset_adds_the_value_before_it() {
        // 10, 20, reset to 5, 15: 10 + 5 + 10 = 25 over the full window.
        let s = minutes(&[10.0, 20.0, 5.0, 15.0]);
        assert_eq!(extrapolated_rate(RangeFn::Increase, &s, 180_000, 180_000), Some(25.0));
    }

    #[test]
    fn quantiles_interpolate_between_ranks_and_bound_out_of_range_q() {
        // Ranks 0..=3 of 10, 20, 30, 40: the median sits halfway between 20 and 30.
        let mut v = vec![40.0, 10.0, 30.0, 20.0];
        assert_eq!(quantile_over_time(0.5, &mut v), Some(25.0));
        assert_eq!(quantile_over_time(0.0, &mut v), Some(10.0));
        assert_eq!(quantile_over_time(1.0, &mut v), Some(40.0));
        assert_eq!(quantile_over_time(0.25, &mut v), Some(17.5));
        assert_eq!(quantile_over_time(-0.1, &mut v), Some(f64::NEG_INFINITY));
        assert_eq!(quantile_over_time(1.1, &mut v), Some(f64::INFINITY));
        assert!(quantile_over_time(f64::NAN, &mut v).unwrap().is_nan());
        assert_eq!(quantile_over_time(0.5, &mut [7.0]), Some(7.0));
        assert_eq!(quantile_over_time(0.5, &mut []), None);
    }

    #[test]
    fn one_sample_gives_nothing() {
        assert_eq!(extrapolated_rate(RangeFn::Rate, &[(0, 1.0)], 60_000, 60_000), None);
    }
}
