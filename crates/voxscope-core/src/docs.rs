//! Generates `docs/metrics.md` from the catalog.
//!
//! ```
//! let markdown = voxscope_core::docs::metrics_markdown();
//! assert!(markdown.contains("`http_server_request_duration_seconds`"));
//! ```

use std::fmt::Write;

use crate::catalog::{ALL, AppCatalog, AppLabel, AppMetric, MetricDef, MetricKind, Subsystem};

/// The metric reference as Markdown, one table per subsystem.
pub fn metrics_markdown() -> String {
    let mut out = String::new();
    out.push_str("# voxscope metrics\n\n");
    out.push_str(
        "Generated from `voxscope_core::catalog` by `voxscope_core::docs::metrics_markdown`; \
         a test fails when this file differs. Do not edit by hand: run \
         `VOXSCOPE_BLESS=1 cargo test -p voxscope-tests --test generated_docs`.\n\n",
    );
    out.push_str(
        "Names are Prometheus names in base units. Label values come from closed sets; \
         ids, paths and phone numbers go on spans and logs, never on labels.\n",
    );
    let mut subsystems: Vec<Subsystem> = ALL.iter().map(|d| d.subsystem).collect();
    subsystems.dedup();
    for subsystem in subsystems {
        let _ = write!(out, "\n## {}\n\n", subsystem.title());
        out.push_str("| metric | type | unit | labels | description |\n");
        out.push_str("|---|---|---|---|---|\n");
        for def in ALL.iter().filter(|d| d.subsystem == subsystem) {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                def.name,
                def.kind,
                def.unit.as_str(),
                labels_cell(def),
                def.help
            );
        }
        let histograms: Vec<&MetricDef> = ALL
            .iter()
            .filter(|d| d.subsystem == subsystem && d.kind == MetricKind::Histogram)
            .collect();
        if !histograms.is_empty() {
            out.push_str("\nDefault buckets:\n\n");
            for def in histograms {
                let bounds: Vec<String> = def.buckets.iter().map(|b| b.to_string()).collect();
                let _ = writeln!(out, "- `{}`: {}", def.name, bounds.join(", "));
            }
        }
    }
    out
}

fn labels_cell(def: &MetricDef) -> String {
    if def.labels.is_empty() {
        return "none".to_owned();
    }
    def.labels.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")
}

/// An application's own metrics as Markdown, in the layout of [`metrics_markdown`]: one
/// table per family, each label with its values or cap, the buckets of histograms and
/// the threshold alerts.
///
/// ```
/// use voxscope_core::catalog::{AppCatalog, AppMetric, Threshold};
///
/// let app = AppCatalog::new().metric(
///     AppMetric::counter("orders_total", "Orders placed.")
///         .family("shop")
///         .label_values("method", ["card", "invoice"])
///         .label_cap("campaign", 20)
///         .threshold(Threshold::below("FewOrders", 0.01)),
/// );
/// let markdown = voxscope_core::docs::app_metrics_markdown(&app);
/// assert!(markdown.contains("## Application metrics: shop"));
/// assert!(markdown.contains(
///     "| `orders_total` | counter | count | `method` (card, invoice), `campaign` (at most 20) | Orders placed. |"
/// ));
/// assert!(markdown.contains("- `FewOrders` (warning): `orders_total` below 0.01"));
/// ```
pub fn app_metrics_markdown(app: &AppCatalog) -> String {
    let mut out = String::new();
    for family in app.families() {
        let _ = write!(out, "\n## Application metrics: {family}\n\n");
        out.push_str("| metric | type | unit | labels | description |\n");
        out.push_str("|---|---|---|---|---|\n");
        let metrics: Vec<&AppMetric> =
            app.metrics().iter().filter(|m| m.family == family).collect();
        for m in &metrics {
            let labels = if m.labels.is_empty() {
                "none".to_owned()
            } else {
                let cell = |l: &AppLabel| match l.cap {
                    Some(cap) => format!("`{}` (at most {cap})", l.name),
                    None => format!("`{}` ({})", l.name, l.values.join(", ")),
                };
                m.labels.iter().map(cell).collect::<Vec<_>>().join(", ")
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {labels} | {} |",
                m.name,
                m.kind,
                m.unit.as_str(),
                m.help
            );
        }
        let histograms: Vec<_> =
            metrics.iter().filter(|m| m.kind == MetricKind::Histogram).collect();
        if !histograms.is_empty() {
            out.push_str("\nBuckets:\n\n");
            for m in histograms {
                let bounds: Vec<String> = m.buckets.iter().map(|b| b.to_string()).collect();
                let _ = writeln!(out, "- `{}`: {}", m.name, bounds.join(", "));
            }
        }
        let thresholds: Vec<_> =
            metrics.iter().flat_map(|m| m.thresholds.iter().map(move |t| (m, t))).collect();
        if !thresholds.is_empty() {
            out.push_str("\nThreshold alerts:\n\n");
            for (m, t) in thresholds {
                let (side, value) = match (t.above, t.below) {
                    (Some(v), _) => ("above", v),
                    (None, Some(v)) => ("below", v),
                    (None, None) => continue,
                };
                let _ =
                    writeln!(out, "- `{}` ({}): `{}` {side} {value}", t.alert, t.severity, m.name);
            }
        }
    }
    out
}
