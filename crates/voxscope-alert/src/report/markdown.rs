//! The report as Markdown: a KPI table and an SLO table, target, actual and status per
//! row.

use std::fmt::Write;

use super::{AppTable, Report, Status, utc};
use crate::humanize::render;
use crate::model::ValueFormat;

/// The report as Markdown.
///
/// ```
/// let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
/// let storage = voxscope_alert::eval::Storage::new(Default::default());
/// let report = voxscope_alert::report::ReportSpec::new(&catalog).run(&storage, 0, 3_600).unwrap();
/// let text = voxscope_alert::report::markdown(&report);
/// assert!(text.contains("| KPI | Target | Actual | Status |"));
/// assert!(text.contains("| call-availability | 99% | – | – | – | no data |"));
/// ```
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# KPI report, {} to {}\n", utc(report.start_ms), utc(report.end_ms));
    let _ = writeln!(
        out,
        "Period {} of `{}`; {} of {} KPIs met, {} of {} SLOs met.\n",
        report.period,
        report.job,
        met(report.kpis.iter().map(|k| k.status)),
        report.kpis.len(),
        met(report.slos.iter().map(|s| s.status)),
        report.slos.len(),
    );
    out.push_str("| KPI | Target | Actual | Status |\n| --- | --- | --- | --- |\n");
    for kpi in &report.kpis {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            kpi.name,
            kpi.target.render(kpi.format),
            kpi.actual_text(),
            kpi.status.label()
        );
    }
    out.push_str(
        "\n| SLO | Objective | Attainment | Error budget remaining | Burn rate | Status |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    let percent = |v: Option<f64>| figure(ValueFormat::Percent, v);
    for slo in &report.slos {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            slo.name,
            render(ValueFormat::Percent, slo.objective),
            percent(slo.attainment),
            percent(slo.error_budget_remaining),
            slo.burn_rate_text(),
            slo.status.label()
        );
    }
    for table in &report.app_metrics {
        app_table(&mut out, table);
    }
    out.push_str("\n## Recommendations\n\n");
    if report.recommendations.is_empty() {
        out.push_str("None: no trend or share in this period calls for action.\n");
    }
    for recommendation in &report.recommendations {
        let _ = writeln!(out, "- {}", recommendation.text);
    }
    out.push_str("\nQueries:\n\n");
    for (name, query) in report.queries() {
        let _ = writeln!(out, "- {name}: `{query}`");
    }
    out
}

/// An application metric's table: its label keys, then its figure columns.
fn app_table(out: &mut String, table: &AppTable) {
    let _ = writeln!(out, "\n## `{}` ({})\n\n{}\n", table.metric, table.kind, table.help);
    let header: Vec<&str> =
        table.labels.iter().map(String::as_str).chain(table.columns.iter().copied()).collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", " --- |".repeat(header.len()));
    if table.rows.is_empty() {
        let _ = writeln!(out, "| no data |{}", " |".repeat(header.len() - 1));
    }
    for row in &table.rows {
        let labels = table.labels.iter().map(|k| row.labels[k].clone());
        let figures = table
            .columns
            .iter()
            .map(|c| table.figure_text(c, row.figures.get(c).copied().flatten()));
        let cells: Vec<String> = labels.chain(figures).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

fn met(statuses: impl Iterator<Item = Status>) -> usize {
    statuses.filter(|s| *s == Status::Met).count()
}

/// `value` in `format`, `–` without one.
pub(crate) fn figure(format: ValueFormat, value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| render(format, v))
}
