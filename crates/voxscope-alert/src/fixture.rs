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

/// The instance label of fixture series.
pub(crate) const INSTANCE: &str = "voice-agent:3000";

/// Minute at which [`single_step`] series take their one step.
const STEP_AT: u32 = 10;

/// The same series taking their whole per-minute increment once, at minute 11, and
/// flat before and after: one event in an otherwise idle window.
pub(crate) fn single_step(series: &[Series]) -> Vec<Series> {
    series
        .iter()
        .map(|s| {
            let (start, step) = increments(&s.values);
            let after = start + step;
            Series {
                series: s.series.clone(),
                values: format!("{start}+0x{STEP_AT} {after}+0x{}", SAMPLES - STEP_AT - 1),
            }
        })
        .collect()
}

/// `firing` starting `minutes` later: until then each series holds the start value of
/// its `quiet` counterpart (flat), or has no samples when there is none. The condition
/// starts to hold at a known time after the first evaluation.
pub(crate) fn delayed(firing: &[Series], quiet: &[Series], minutes: u64) -> Vec<Series> {
    firing
        .iter()
        .map(|s| {
            let before = match quiet.iter().find(|q| q.series == s.series) {
                Some(q) => format!("{}+0x{}", increments(&q.values).0, minutes.saturating_sub(1)),
                None => format!("_x{minutes}"),
            };
            Series { series: s.series.clone(), values: format!("{before} {}", s.values) }
        })
        .collect()
}

/// The same series with no increment: counters flat, gauges at their value.
pub(crate) fn idle(series: &[Series]) -> Vec<Series> {
    series
        .iter()
        .map(|s| Series::gauge(s.series.clone(), increments(&s.values).0, SAMPLES))
        .collect()
}

/// `(start, increment)` of `start+incrementxN` values.
fn increments(values: &str) -> (f64, f64) {
    let (start, rest) = values.split_once('+').unwrap_or((values, "0x0"));
    let step = rest.split_once('x').map_or(rest, |(step, _)| step);
    (start.parse().unwrap_or(0.0), step.parse().unwrap_or(0.0))
}

/// The series as Prometheus 3 stores them: every `le` bound normalised (`le="1"`
/// becomes `le="1.0"`). `None` when no bound changes.
pub(crate) fn prometheus3(series: &[Series]) -> Option<Vec<Series>> {
    let mut changed = false;
    let out = series
        .iter()
        .map(|s| {
            let mut text = s.series.clone();
            if let Some(start) = text.find("le=\"").map(|i| i + 4)
                && let Some(len) = text[start..].find('"')
            {
                let bound = &text[start..start + len];
                if let Ok(value) = bound.parse::<f64>() {
                    let normalised = crate::expr::prometheus3_float(value);
                    if normalised != bound {
                        changed = true;
                        text.replace_range(start..start + len, &normalised);
                    }
                }
            }
            Series { series: text, values: s.values.clone() }
        })
        .collect();
    changed.then_some(out)
}

/// The series scraped from `job`: a `job` label set (replaced if present) and an
/// `instance` added when missing.
pub(crate) fn in_job(series: &[Series], job: &str) -> Vec<Series> {
    series
        .iter()
        .map(|s| {
            let (name, body) = match s.series.split_once('{') {
                Some((name, body)) => (name, body.trim_end_matches('}')),
                None => (s.series.as_str(), ""),
            };
            let mut labels: Vec<String> = body
                .split(',')
                .filter(|l| !l.is_empty() && !l.starts_with("job="))
                .map(str::to_owned)
                .collect();
            if !labels.iter().any(|l| l.starts_with("instance=")) {
                labels.insert(0, format!("instance=\"{INSTANCE}\""));
            }
            labels.insert(0, format!("job=\"{job}\""));
            Series { series: format!("{name}{{{}}}", labels.join(",")), values: s.values.clone() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_transforms_keep_names_and_rewrite_values_and_labels() {
        let s = [Series::counter("x_bucket{kind=\"llm\",le=\"1\"}", 3.0, SAMPLES)];
        assert_eq!(single_step(&s)[0].values, "0+0x10 3+0x29");
        assert_eq!(idle(&s)[0].values, "0+0x40");
        assert_eq!(prometheus3(&s).unwrap()[0].series, "x_bucket{kind=\"llm\",le=\"1.0\"}");
        let half = [Series::counter("x_bucket{le=\"0.5\"}", 3.0, SAMPLES)];
        assert!(prometheus3(&half).is_none());
        let scoped = in_job(&[Series::gauge("up{job=\"a\",instance=\"i\"}", 1.0, 2)], "b");
        assert_eq!(scoped[0].series, "up{job=\"b\",instance=\"i\"}");
        assert_eq!(
            in_job(&[Series::gauge("up", 1.0, 2)], "b")[0].series,
            format!("up{{job=\"b\",instance=\"{INSTANCE}\"}}")
        );
    }
}
