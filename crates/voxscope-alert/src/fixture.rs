//! Builders of the synthetic series in [`Fixture`](crate::Fixture)s. Samples are one
//! minute apart; every series runs long enough for the slowest `for` plus its window.

use std::collections::BTreeMap;

use crate::model::Series;

/// Samples per input series: covers `for` (at most 10 m), a 10 m window and margin.
pub(crate) const SAMPLES: u32 = 40;

/// Observations per minute in histogram fixtures; ratios are taken out of it.
pub(crate) const PER_MINUTE: f64 = 1000.0;

/// `name{k="v",...}` with labels in the given order.
pub(crate) fn selector(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let body: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", body.join(","))
}

/// A label map for [`Fixture::labels`](crate::Fixture).
pub(crate) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Histogram series with every observation in the bucket `(lower, upper]`, and the
/// value `histogram_quantile(q, ...)` returns for them.
pub(crate) fn observations_in(
    metric: &str,
    labels: &[(&str, &str)],
    lower: Option<f64>,
    upper: f64,
    q: f64,
) -> (Vec<Series>, f64) {
    let bucket = format!("{metric}_bucket");
    let with_le = |le: String| {
        let mut all: Vec<(&str, &str)> = labels.to_vec();
        all.push(("le", &le));
        selector(&bucket, &all)
    };
    let mut series = Vec::new();
    if let Some(lower) = lower {
        series.push(Series::counter(with_le(lower.to_string()), 0.0, SAMPLES));
    }
    series.push(Series::counter(with_le(upper.to_string()), PER_MINUTE, SAMPLES));
    series.push(Series::counter(with_le("+Inf".to_owned()), PER_MINUTE, SAMPLES));
    series.push(Series::counter(selector(&format!("{metric}_count"), labels), PER_MINUTE, SAMPLES));
    // Prometheus takes 0 as the lower edge of a first bucket with a positive bound.
    let from = lower.unwrap_or(0.0);
    (series, from + (upper - from) * q)
}

/// The bound before and after `value` in `bounds`.
pub(crate) fn neighbours(bounds: &[f64], value: f64) -> (Option<f64>, Option<f64>) {
    let i = bounds.iter().position(|b| *b == value);
    match i {
        Some(i) => (i.checked_sub(1).map(|j| bounds[j]), bounds.get(i + 1).copied()),
        None => (None, None),
    }
}

/// Counts per minute of bad and good events whose bad share is about `ratio`, and that
/// share exactly as Prometheus computes it.
pub(crate) fn split(ratio: f64) -> (f64, f64, f64) {
    let bad = (ratio.clamp(0.0, 1.0) * PER_MINUTE).round();
    (bad, PER_MINUTE - bad, bad / PER_MINUTE)
}
