//! The report's tables of the application's own metrics (`[[metrics]]`): one per metric,
//! one row per combination of its label values.
//!
//! - a counter: its total over the period, the increase of every series between the
//!   period's steps (a drop is a counter reset: the new value counts; so does the first
//!   value of a series that appears after the period's first step), summed by label;
//! - a histogram: its p50 and p95 over the whole period, as the KPIs read quantiles,
//!   and the count of observations, summed like a counter's total;
//! - a gauge: the mean and the largest value of its sum by label over the period's steps.
//!
//! Each figure is a typed [`Expr`] read through the report's [`Source`], so the embedded
//! store and Prometheus give the same figures for the same samples.

use std::collections::BTreeMap;

use serde::Serialize;
use voxscope_core::catalog::{AppMetric, MetricKind, Unit};

use super::Source;
use super::build::Reader;
use crate::eval::RangeSeries;
use crate::expr::{Expr, Selector, Window, quantile, sum_by};
use crate::model::ValueFormat;

/// One application metric's figures over the period.
///
/// ```
/// use voxscope_alert::eval::{Labels, Storage};
/// use voxscope_alert::report::ReportSpec;
///
/// let config = voxscope_alert::Config::from_toml(r#"
///     [[metrics]]
///     name = "orders_total"
///     kind = "counter"
///     help = "Orders placed."
///     labels = [{ name = "method", values = ["card", "invoice"] }]
/// "#).unwrap();
/// let catalog = voxscope_alert::RuleCatalog::new(config).unwrap();
/// let mut storage = Storage::new(Default::default());
/// let card = Labels::from([
///     ("__name__".to_owned(), "orders_total".to_owned()),
///     ("job".to_owned(), "voice_agent".to_owned()),
///     ("method".to_owned(), "card".to_owned()),
/// ]);
/// for minute in 0..=60 {
///     storage.append(&card, minute * 60_000, 2.0 * minute as f64).unwrap();
/// }
/// let report = ReportSpec::new(&catalog).run(&storage, 3_600_000, 3_600).unwrap();
/// let orders = &report.app_metrics[0];
/// assert_eq!((orders.metric.as_str(), orders.columns.as_slice()), ("orders_total", &["total"][..]));
/// assert_eq!(orders.rows[0].labels["method"], "card");
/// assert_eq!(orders.rows[0].figures["total"], Some(120.0));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppTable {
    /// The metric: `conversations_total`.
    pub metric: String,
    /// `counter`, `gauge` or `histogram`.
    pub kind: String,
    /// Its HELP text.
    pub help: String,
    /// Its label keys, in declaration order: the first columns.
    pub labels: Vec<String>,
    /// The figure columns: `total`; `p50`, `p95`, `count`; `mean`, `max`.
    pub columns: Vec<&'static str>,
    /// One row per combination of label values seen, in label-value order.
    pub rows: Vec<AppRow>,
    /// `(column, PromQL)` of what each column reads.
    pub queries: Vec<(&'static str, String)>,
    /// How the figures are shown.
    #[serde(skip)]
    pub format: ValueFormat,
}

/// One combination of label values and its figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppRow {
    /// Label key to value.
    pub labels: BTreeMap<String, String>,
    /// Column to figure; `None` when nothing was recorded for it.
    pub figures: BTreeMap<&'static str, Option<f64>>,
}

impl AppTable {
    /// A figure as the tables show it: totals and counts whole, quantiles and gauges in
    /// the metric's unit, `–` without data.
    pub fn figure_text(&self, column: &str, value: Option<f64>) -> String {
        match value {
            None => "–".to_owned(),
            Some(v) if matches!(column, "total" | "count") && v.fract() == 0.0 => {
                format!("{v:.0}")
            }
            Some(v) => crate::humanize::render(self.format, v),
        }
    }
}

/// How the figures of a metric of `unit` are shown.
fn format_of(unit: Unit) -> ValueFormat {
    match unit {
        Unit::Seconds => ValueFormat::Duration,
        Unit::Bytes => ValueFormat::Bytes,
        Unit::Ratio => ValueFormat::Percent,
        Unit::Count | Unit::Tokens | Unit::Characters => ValueFormat::Plain,
        Unit::Currency | Unit::Score => ValueFormat::Score,
    }
}

/// The table of `metric`, read through `reader`.
pub(super) fn table<S: Source + ?Sized>(
    reader: &Reader<'_, S>,
    metric: &AppMetric,
) -> Result<AppTable, S::Error> {
    let keys: Vec<&str> = metric.label_keys();
    let mut rows: BTreeMap<Vec<String>, BTreeMap<&'static str, Option<f64>>> = BTreeMap::new();
    let mut queries = Vec::new();
    let row_of = |labels: &crate::eval::Labels| -> Vec<String> {
        keys.iter().map(|k| labels.get(*k).cloned().unwrap_or_default()).collect()
    };
    let columns: Vec<&'static str> = match metric.kind {
        MetricKind::Counter => vec!["total"],
        MetricKind::Histogram => vec!["p50", "p95", "count"],
        MetricKind::Gauge => vec!["mean", "max"],
    };
    match metric.kind {
        MetricKind::Counter | MetricKind::Histogram => {
            let (column, name) = match metric.kind {
                MetricKind::Counter => ("total", metric.name.clone()),
                _ => ("count", format!("{}_count", metric.name)),
            };
            let expr = Expr::vector(Selector::new(&name));
            queries.push((column, expr.render(reader.scope)));
            for series in reader.series_at_steps(&expr)? {
                let figures = rows.entry(row_of(&series.labels)).or_default();
                let total = figures.entry(column).or_insert(Some(0.0));
                *total = Some(total.unwrap_or(0.0) + increase(&series, reader.start_ms()));
            }
        }
        MetricKind::Gauge => {
            let expr = sum_by(&keys, Expr::vector(Selector::new(&metric.name)));
            queries.push(("mean", expr.render(reader.scope)));
            queries.push(("max", expr.render(reader.scope)));
            for series in reader.series_at_steps(&expr)? {
                let values: Vec<f64> =
                    series.points.iter().map(|(_, v)| *v).filter(|v| v.is_finite()).collect();
                if let Some(max) = values.iter().copied().reduce(f64::max) {
                    let figures = rows.entry(row_of(&series.labels)).or_default();
                    figures.insert("mean", Some(values.iter().sum::<f64>() / values.len() as f64));
                    figures.insert("max", Some(max));
                }
            }
        }
    }
    if metric.kind == MetricKind::Histogram {
        for (column, q) in [("p50", 0.5), ("p95", 0.95)] {
            let expr = quantile(q, &keys, Selector::new(&metric.name), Window::Free);
            queries.push((column, expr.bind(reader.period.seconds).render(reader.scope)));
            for sample in reader.samples_over(&expr)? {
                let figures = rows.entry(row_of(&sample.labels)).or_default();
                figures.insert(column, sample.value.is_finite().then_some(sample.value));
            }
        }
    }
    let rows = rows
        .into_iter()
        .map(|(values, mut figures)| {
            for column in &columns {
                figures.entry(column).or_insert(None);
            }
            let labels = keys.iter().map(|k| (*k).to_owned()).zip(values).collect();
            AppRow { labels, figures }
        })
        .collect();
    Ok(AppTable {
        metric: metric.name.clone(),
        kind: metric.kind.to_string(),
        help: metric.help.clone(),
        labels: keys.iter().map(|k| (*k).to_owned()).collect(),
        columns,
        rows,
        queries,
        format: format_of(metric.unit),
    })
}

/// What a counter series counted across its points: every rise, and after a drop (a
/// reset) the value it restarted to, as Prometheus's `increase` treats resets. A series
/// first seen after `start_ms` was created since: it counted its first value from 0.
fn increase(series: &RangeSeries, start_ms: i64) -> f64 {
    let points = series.points.iter().filter(|(_, v)| v.is_finite());
    let born_late = points.clone().next().is_some_and(|(t, _)| *t > start_ms);
    let values = points.map(|(_, v)| *v);
    let mut previous: Option<f64> = born_late.then_some(0.0);
    let mut total = 0.0;
    for value in values {
        if let Some(before) = previous {
            total += if value >= before { value - before } else { value };
        }
        previous = Some(value);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counters_increase_counts_rises_and_restarts_after_a_reset() {
        let series = |values: &[f64]| RangeSeries {
            labels: Default::default(),
            points: values.iter().enumerate().map(|(i, v)| (i as i64, *v)).collect(),
        };
        assert_eq!(increase(&series(&[5.0, 7.0, 7.0, 10.0]), 0), 5.0);
        assert_eq!(increase(&series(&[5.0, 9.0, 2.0, 4.0]), 0), 4.0 + 2.0 + 2.0);
        assert_eq!(increase(&series(&[3.0]), 0), 0.0);
        assert_eq!(increase(&series(&[]), 0), 0.0);
        // First seen after the period's first step: created in the period, from 0.
        assert_eq!(increase(&series(&[3.0, 4.0]), -1), 4.0);
        assert_eq!(increase(&series(&[3.0, 4.0]), 0), 1.0);
    }
}
