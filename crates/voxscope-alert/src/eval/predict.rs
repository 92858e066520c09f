//! `predict_linear()` as Prometheus computes it: the least-squares line through the
//! range's samples, times taken relative to the evaluation, read `seconds` ahead.

use super::series::Series;
use super::storage::is_stale;

/// The value the line through `samples` (time-ordered `(ms, value)`) reaches `seconds`
/// after `at_ms`; `None` with fewer than two samples. A range of one value is flat.
///
/// ```
/// use voxscope_alert::eval::predict_linear;
/// // A disk losing 2 GB a minute, 100 GB free now: empty 50 minutes from now.
/// let free: Vec<(i64, f64)> = (0..=10).map(|m| (m * 60_000, 120e9 - m as f64 * 2e9)).collect();
/// assert_eq!(predict_linear(&free, 600_000, 3000.0), Some(0.0));
/// ```
pub fn predict_linear(samples: &[(i64, f64)], at_ms: i64, seconds: f64) -> Option<f64> {
    fit(samples, at_ms).map(|line| line.ahead(seconds))
}

/// The least-squares line `predict_linear` and `deriv` read, times relative to the
/// evaluation: the value it stands at then, and its slope per second.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Line {
    /// Where the line stands at the evaluation time.
    pub value: f64,
    /// Its change per second.
    pub slope: f64,
}

impl Line {
    /// The line's value `seconds` after the evaluation.
    pub fn ahead(self, seconds: f64) -> f64 {
        self.slope * seconds + self.value
    }

    /// Seconds after the evaluation at which the line rises to `limit`: `Some(0.0)` when
    /// it stands at or over it already, `None` when it never rises to it (flat or
    /// falling).
    ///
    /// ```
    /// use voxscope_alert::eval::fit;
    /// // 10 more calls an hour, 150 now: 200 in five hours.
    /// let calls: Vec<(i64, f64)> = (0..=60).map(|m| (m * 60_000, 140.0 + m as f64 / 6.0)).collect();
    /// let line = fit(&calls, 3_600_000).unwrap();
    /// assert!((line.reaches(200.0).unwrap() - 5.0 * 3600.0).abs() < 1e-6);
    /// assert_eq!(line.reaches(100.0), Some(0.0));
    /// ```
    pub fn reaches(self, limit: f64) -> Option<f64> {
        if self.value >= limit {
            return Some(0.0);
        }
        (self.slope > 0.0).then(|| (limit - self.value) / self.slope)
    }
}

/// The least-squares line through `samples` (time-ordered `(ms, value)`), times taken
/// relative to `at_ms`, as Prometheus fits it; `None` with fewer than two samples or a
/// range of one non-finite value. A range of one value is flat.
pub fn fit(samples: &[(i64, f64)], at_ms: i64) -> Option<Line> {
    if samples.len() < 2 {
        return None;
    }
    let first = samples[0].1;
    if samples.iter().all(|(_, v)| *v == first) {
        return first.is_finite().then_some(Line { value: first, slope: 0.0 });
    }
    let n = samples.len() as f64;
    let (mut sum_x, mut sum_y, mut sum_xy, mut sum_x2) = (0.0, 0.0, 0.0, 0.0);
    for (t, v) in samples {
        let x = (t - at_ms) as f64 / 1000.0;
        sum_x += x;
        sum_y += v;
        sum_xy += x * v;
        sum_x2 += x * x;
    }
    let covariance = sum_xy - sum_x * sum_y / n;
    let variance = sum_x2 - sum_x * sum_x / n;
    let slope = covariance / variance;
    let value = sum_y / n - slope * sum_x / n;
    Some(Line { value, slope })
}

/// [`predict_linear`] over the raw samples of `series` in `[from_ms, to_ms]`, staleness
/// markers left out, evaluated at `to_ms` (a range reaching past the raw tier regresses
/// the raw samples it holds).
pub(crate) fn predict_series(
    series: &Series,
    from_ms: i64,
    to_ms: i64,
    seconds: f64,
) -> Option<f64> {
    let samples: Vec<(i64, f64)> = series
        .raw
        .iter()
        .filter(|p| p.t >= from_ms && p.t <= to_ms && !is_stale(p.v))
        .map(|p| (p.t, p.v))
        .collect();
    predict_linear(&samples, to_ms, seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noisy_samples_follow_the_least_squares_line() {
        // (0, 1), (60, 3), (120, 2), (180, 6), by hand: mean time 90 s and value 3,
        // covariance 420, variance 18000 s²: slope 7/300 a second; at 180 s the line
        // stands at 3 + 90 x 7/300 = 5.1, an hour later 84 higher.
        let samples = [(0, 1.0), (60_000, 3.0), (120_000, 2.0), (180_000, 6.0)];
        let now = predict_linear(&samples, 180_000, 0.0).unwrap();
        let hour = predict_linear(&samples, 180_000, 3600.0).unwrap();
        assert!((now - 5.1).abs() < 1e-9, "{now}");
        assert!((hour - 89.1).abs() < 1e-9, "{hour}");
    }

    #[test]
    fn flat_and_single_sample_ranges() {
        assert_eq!(predict_linear(&[(0, 7.0), (60_000, 7.0)], 60_000, 1e6), Some(7.0));
        assert_eq!(predict_linear(&[(0, 7.0)], 0, 60.0), None);
        assert_eq!(predict_linear(&[(0, f64::INFINITY), (1, f64::INFINITY)], 1, 60.0), None);
    }
}
