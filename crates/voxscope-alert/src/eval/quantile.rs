//! `histogram_quantile()` over classic buckets as Prometheus computes it: buckets sorted
//! by bound, equal bounds merged (`le="1"` and `le="1.0"`), counts made monotonic, linear
//! interpolation inside the bucket that holds the rank, the lowest bucket starting at 0
//! when its bound is positive, the highest finite bound when the rank falls in `+Inf`.

use std::collections::HashMap;

use super::Labels;
use super::query::Sample;
use super::storage::METRIC_NAME;

/// The `q` quantile of `buckets`, `(upper bound, cumulative count)` in any order.
///
/// NaN without a `+Inf` bucket, with fewer than two buckets, or with no observation;
/// `-Inf` for `q < 0` and `+Inf` for `q > 1`.
///
/// ```
/// use voxscope_alert::eval::bucket_quantile;
/// let buckets = [(0.5, 50.0), (1.0, 100.0), (f64::INFINITY, 100.0)];
/// assert_eq!(bucket_quantile(0.75, &buckets), 0.75);
/// assert!(bucket_quantile(0.5, &[(1.0, 10.0)]).is_nan());
/// ```
pub fn bucket_quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut sorted = buckets.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    if sorted.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(sorted.len());
    for (bound, count) in sorted {
        match merged.last_mut() {
            Some(last) if last.0 == bound => last.1 += count,
            _ => merged.push((bound, count)),
        }
    }
    let mut max = f64::NEG_INFINITY;
    for bucket in &mut merged {
        if bucket.1 > max {
            max = bucket.1;
        } else if bucket.1 < max {
            bucket.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let last = merged.len() - 1;
    let b = merged[..last].partition_point(|bucket| bucket.1 < rank);
    if b == last {
        return merged[last - 1].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let (mut start, end, mut count) = (0.0, merged[b].0, merged[b].1);
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// `histogram_quantile(q, samples)`: buckets grouped by their labels but `le` and the
/// name; a sample without a numeric `le` is left out.
pub(crate) fn histogram_quantile(q: f64, samples: Vec<Sample>) -> Vec<Sample> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    for mut sample in samples {
        let Some(bound) = sample.labels.remove("le").and_then(|le| le.parse::<f64>().ok()) else {
            continue;
        };
        sample.labels.remove(METRIC_NAME);
        let i = *index.entry(sample.labels.clone()).or_insert_with(|| {
            groups.push((sample.labels, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((bound, sample.value));
    }
    groups
        .into_iter()
        .map(|(labels, buckets)| Sample { labels, value: bucket_quantile(q, &buckets) })
        .collect()
}

/// `(value, keep)` of `l op r`; comparisons keep `l` when true.
#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    #[test]
    fn the_rank_in_the_inf_bucket_gives_the_highest_finite_bound() {
        assert_eq!(bucket_quantile(0.99, &[(1.0, 10.0), (2.0, 20.0), (INF, 100.0)]), 2.0);
    }

    #[test]
    fn the_first_bucket_starts_at_zero_or_is_its_bound_when_not_positive() {
        assert_eq!(bucket_quantile(0.5, &[(4.0, 10.0), (INF, 10.0)]), 2.0);
        assert_eq!(bucket_quantile(0.5, &[(-1.0, 10.0), (INF, 10.0)]), -1.0);
    }

    #[test]
    fn nan_without_inf_without_observations_or_with_one_bucket() {
        assert!(bucket_quantile(0.5, &[(1.0, 1.0), (2.0, 2.0)]).is_nan());
        assert!(bucket_quantile(0.5, &[(1.0, 0.0), (INF, 0.0)]).is_nan());
        assert!(bucket_quantile(0.5, &[(INF, 5.0)]).is_nan());
        assert!(bucket_quantile(f64::NAN, &[(1.0, 1.0), (INF, 1.0)]).is_nan());
        assert_eq!(bucket_quantile(-0.1, &[(1.0, 1.0), (INF, 1.0)]), f64::NEG_INFINITY);
        assert_eq!(bucket_quantile(1.1, &[(1.0, 1.0), (INF, 1.0)]), INF);
    }

    #[test]
    fn non_monotonic_counts_are_raised_and_equal_bounds_merged() {
        // The 2.0 bucket reads lower than the 1.0 one (rates of separately scraped
        // buckets): it is taken as 60, so the median falls in the first bucket.
        let buckets = [(1.0, 60.0), (2.0, 50.0), (INF, 100.0)];
        assert_eq!(bucket_quantile(0.5, &buckets), 50.0 / 60.0);
        // `le="1"` and `le="1.0"` are one bucket.
        let split = [(1.0, 30.0), (1.0, 30.0), (INF, 100.0)];
        assert_eq!(bucket_quantile(0.3, &split), 0.5);
    }
}
