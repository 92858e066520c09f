//! The business dashboard: one panel per application metric of `[[metrics]]` (or of an
//! [`AppCatalog`](voxscope_core::catalog::AppCatalog) added in code), by its labels.
//! Counters show their rate, gauges their value, histograms their p50, p95 and mean;
//! threshold alerts draw their lines.
//!
//! ```
//! let config = voxscope_alert::Config::from_toml(r#"
//!     [[metrics]]
//!     name = "orders_total"
//!     kind = "counter"
//!     help = "Orders placed."
//!     labels = [{ name = "method", values = ["card", "invoice"] }]
//!     thresholds = [{ alert = "FewOrders", below = 0.01 }]
//! "#).unwrap();
//! let catalog = voxscope_alert::RuleCatalog::new(config).unwrap();
//! let boards = voxscope_alert::grafana::dashboards(&catalog);
//! let business = boards.iter().find(|d| d.uid == voxscope_alert::grafana::BUSINESS).unwrap();
//! assert_eq!(business.panels[0].title, "Orders placed.");
//! assert_eq!(business.panels[0].thresholds, [0.01]);
//! assert!(business.panels[0].queries[0].0.starts_with("sum by (method) (rate(orders_total{"));
//! ```

use voxscope_core::catalog::{AppMetric, MetricKind, Unit};

use super::boards::{POSITIVE, timeseries};
use super::{Dashboard, Panel};
use crate::RuleCatalog;
use crate::expr::{Expr, Selector, Window, quantile, rate, sum_by};

/// The uid of the business dashboard, which the alerts on application metrics link to.
pub const BUSINESS: &str = "voxscope-business";

const W: Window = Window::Free;

/// The business dashboard, when the configuration declares application metrics.
pub(super) fn business(catalog: &RuleCatalog) -> Option<Dashboard> {
    let app = &catalog.config.metrics;
    if app.is_empty() {
        return None;
    }
    let panels = app.metrics().iter().map(panel).collect();
    Some(Dashboard {
        job: catalog.config.service.job.clone(),
        uid: BUSINESS,
        title: "voxscope / Business",
        panels,
    })
}

fn grafana_unit(unit: Unit) -> &'static str {
    match unit {
        Unit::Seconds => "s",
        Unit::Bytes => "bytes",
        Unit::Ratio => "percentunit",
        _ => "short",
    }
}

fn panel(metric: &AppMetric) -> Panel {
    let by = metric.label_keys();
    let legend = if by.is_empty() {
        metric.name.clone()
    } else {
        by.iter().map(|l| format!("{{{{{l}}}}}")).collect::<Vec<_>>().join(" ")
    };
    let selector = Selector::new(&metric.name);
    let queries: Vec<(Expr, String)> = match metric.kind {
        MetricKind::Counter => vec![(sum_by(&by, rate(selector, W)), format!("{legend} /s"))],
        MetricKind::Gauge => vec![(sum_by(&by, Expr::vector(selector)), legend)],
        MetricKind::Histogram => {
            let mean = sum_by(&by, rate(selector.suffixed("_sum"), W))
                / sum_by(&by, rate(selector.suffixed("_count"), W));
            vec![
                (quantile(0.5, &by, selector.clone(), W), format!("p50 {legend}")),
                (quantile(0.95, &by, selector, W), format!("p95 {legend}")),
                (mean, format!("mean {legend}")),
            ]
        }
    };
    let unit = match metric.kind {
        MetricKind::Counter => "short",
        _ => grafana_unit(metric.unit),
    };
    let queries = queries.iter().map(|(q, l)| (q.clone(), l.as_str())).collect();
    let mut thresholds: Vec<f64> =
        metric.thresholds.iter().filter_map(|t| t.above.or(t.below)).collect();
    thresholds.sort_by(f64::total_cmp);
    let panel = timeseries(&metric.help, unit, queries).thresholds(&thresholds).range(POSITIVE);
    if metric.thresholds.iter().any(|t| t.below.is_some()) { panel.lower_is_worse() } else { panel }
}
