//! The KPI report: config warnings, fallback rate, TTS TTFB p95, error rate and uptime
//! against the `[report]` targets, every SLO's attainment, error budget remaining and
//! burn rate, over a period (a week by default), with trends, and a table per
//! application metric (`[[metrics]]`): counters' totals, histograms' p50 and p95,
//! gauges' mean and max, by label ([`AppTable`]).
//!
//! ```
//! use voxscope_alert::eval::Storage;
//! use voxscope_alert::report::{ReportSpec, markdown};
//!
//! let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
//! let storage = Storage::new(Default::default()); // or any other `Source`
//! let report = ReportSpec::new(&catalog).run(&storage, 7 * 86_400_000, 7 * 86_400).unwrap();
//! assert!(markdown(&report).contains("| Fallback rate | ≤ 5% | – | no data |"));
//! ```
//!
//! Every figure is a typed [`Expr`](crate::expr::Expr) read through a [`Source`]: the
//! embedded [`Storage`](crate::eval::Storage) answers with the in-process evaluator, a
//! Prometheus server with its HTTP API, and both give the same figures for the same
//! samples. Ratios and quantiles are read over the whole period at its end (`rate` over
//! `[7d]`); config warnings are the peak of `sum(voxscope_config_missing)` at every
//! step; uptime is the share of steps at which `min(up)` is 1, a step without a sample
//! counting as down. Trends read the same expressions per trend step. [`markdown`],
//! [`json`] and [`html`] render the report; the HTML page is self-contained (inline CSS
//! and SVG, no external asset).

mod app;
mod build;
pub mod forecast;
mod html;
mod kpi;
mod markdown;
mod recommend;
mod source;
mod svg;
mod targets;

pub use app::{AppRow, AppTable};
pub use build::{KpiRow, Report, ReportSpec, SloRow, Status};
pub use html::{escape as escape_html, html};
pub use kpi::{Comparison, Kpi, Measure, Target, kpis};
pub use markdown::markdown;
pub use recommend::{Recommendation, Recommender};
pub use source::Source;
pub use targets::Targets;

/// The report as pretty-printed JSON: every row with its query, target, actual,
/// status and trend; figures without data are `null`.
///
/// ```
/// let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
/// let storage = voxscope_alert::eval::Storage::new(Default::default());
/// let report = voxscope_alert::report::ReportSpec::new(&catalog).run(&storage, 0, 3_600).unwrap();
/// let value: serde_json::Value = serde_json::from_str(&voxscope_alert::report::json(&report)).unwrap();
/// assert_eq!(value["kpis"][4]["key"], "uptime");
/// assert_eq!(value["kpis"][4]["status"], "no_data");
/// ```
pub fn json(report: &Report) -> String {
    // Every field is a string, a number, an option or a list of them.
    serde_json::to_string_pretty(report).unwrap_or_default()
}

/// How a report is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Markdown tables (`md`).
    Markdown,
    /// JSON (`json`).
    Json,
    /// A self-contained HTML page (`html`).
    Html,
}

impl Format {
    /// `md` (or `markdown`), `json` or `html`; `None` for anything else.
    ///
    /// ```
    /// use voxscope_alert::report::Format;
    /// assert_eq!(Format::parse("html"), Some(Format::Html));
    /// assert_eq!(Format::parse("pdf"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "md" | "markdown" => Format::Markdown,
            "json" => Format::Json,
            "html" => Format::Html,
            _ => return None,
        })
    }

    /// `report` in this format.
    pub fn render(self, report: &Report) -> String {
        match self {
            Format::Markdown => markdown(report),
            Format::Json => json(report),
            Format::Html => html(report),
        }
    }

    /// The media type of the rendered text.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Json => "application/json",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

/// A unix-milliseconds time as RFC 3339 in UTC, `2026-11-29T21:00:00Z`.
pub(crate) fn utc(t_ms: i64) -> String {
    let since_epoch = std::time::Duration::from_millis(t_ms.max(0) as u64);
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + since_epoch).to_string()
}

#[cfg(test)]
mod tests;
