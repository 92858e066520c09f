//! Generates `docs/metrics.md` from the catalog, and an application's own metrics page
//! from its [`AppCatalog`].
//!
//! ```
//! let markdown = voxscope_core::docs::metrics_markdown();
//! assert!(markdown.contains("`http_server_request_duration_seconds`"));
//! ```

use std::fmt::Write;

use crate::catalog::{
    ALL, AppCatalog, AppLabel, AppMetric, MetricDef, MetricKind, Subsystem, Threshold,
};

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

/// A whole page of an application's own metrics: a title, how the page was generated and
/// is regenerated (`regenerate`, a command), then [`app_metrics_markdown`]. An empty
/// catalog says that nothing is declared.
///
/// ```
/// use voxscope_core::catalog::{AppCatalog, AppMetric};
///
/// let app = AppCatalog::new().metric(AppMetric::gauge("queue_depth", "Jobs waiting."));
/// let page = voxscope_core::docs::app_metrics_page(&app, "voxscope docs --config app.toml");
/// assert!(page.starts_with("# Application metrics\n"));
/// assert!(page.contains("Do not edit by hand: run `voxscope docs --config app.toml`."));
/// assert!(page.contains("| `queue_depth` | gauge | count | none | Jobs waiting. |"));
/// let empty = voxscope_core::docs::app_metrics_page(&AppCatalog::new(), "x");
/// assert!(empty.ends_with("No application metric is declared.\n"));
/// ```
pub fn app_metrics_page(app: &AppCatalog, regenerate: &str) -> String {
    let mut out = String::from("# Application metrics\n\n");
    let _ = writeln!(
        out,
        "Generated from the application's metric declarations (`AppCatalog`, or \
         `[[metrics]]` in the config) by `voxscope_core::docs::app_metrics_page`. \
         Do not edit by hand: run `{regenerate}`."
    );
    out.push_str(
        "\nEach label takes only the values listed, or at most as many distinct values as \
         its cap; any other value is recorded as `__overflow__` and counted in \
         `voxscope_label_overflow_total{metric}`. A counter threshold compares the \
         per-second rate; one `below` a rate fires once the counter has counted anything, \
         not while it is still at 0.\n",
    );
    if app.is_empty() {
        out.push_str("\nNo application metric is declared.\n");
    }
    out.push_str(&app_metrics_markdown(app));
    out
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
/// assert!(markdown.contains(
///     "- `FewOrders` (warning): rate of `orders_total` below 0.01/s over 5m, for 5m"
/// ));
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
                if let Some(line) = threshold_line(m, t) {
                    let _ = writeln!(out, "- {line}");
                }
            }
        }
    }
    out
}

/// `FewOrders` (warning): rate of `orders_total` where method="card" below 0.01/s over
/// 5m, for 5m, per `campaign`; `None` without a side.
fn threshold_line(m: &AppMetric, t: &Threshold) -> Option<String> {
    let (side, value) = match (t.above, t.below) {
        (Some(v), _) => ("above", v),
        (None, Some(v)) => ("below", v),
        (None, None) => return None,
    };
    let mut measure = match m.kind {
        MetricKind::Counter => format!("rate of `{}`", m.name),
        MetricKind::Gauge => format!("`{}` (largest series)", m.name),
        MetricKind::Histogram => {
            format!("p{} of `{}`", (t.quantile * 1000.0).round() / 10.0, m.name)
        }
    };
    if !t.matchers.is_empty() {
        let matchers: Vec<String> =
            t.matchers.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let _ = write!(measure, " where {}", matchers.join(", "));
    }
    let per_second = if m.kind == MetricKind::Counter { "/s" } else { "" };
    let over = if m.kind == MetricKind::Gauge {
        String::new()
    } else {
        format!(" over {}", span(t.window_seconds))
    };
    let mut line = format!(
        "`{}` ({}): {measure} {side} {value}{per_second}{over}, for {}",
        t.alert,
        t.severity,
        span(t.for_seconds)
    );
    if !t.by.is_empty() {
        let by: Vec<String> = t.by.iter().map(|b| format!("`{b}`")).collect();
        let _ = write!(line, ", per {}", by.join(" and "));
    }
    Some(line)
}

/// `5m`, `1h`, `90s`.
fn span(seconds: u64) -> String {
    match seconds {
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
