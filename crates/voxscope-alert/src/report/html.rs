//! The report as one self-contained HTML page: inline CSS (light and dark themes from
//! the system), inline SVG trends, no script and no external asset.

use std::fmt::Write;

use super::markdown::figure;
use super::{AppTable, Report, Status, svg, utc};
use crate::humanize::render;
use crate::model::ValueFormat;

const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1d2430;--bg:#fff;--muted:#5f6b7a;--line:#d9dee5;\
--met:#137a3a;--missed:#b3261e;--none:#6b7280;--plot:#2563eb}\
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ee;--bg:#12161c;--muted:#9aa5b4;\
--line:#2c333d;--met:#4ade80;--missed:#f87171;--none:#9ca3af;--plot:#60a5fa}}\
body{font:15px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg);\
margin:0 auto;padding:1.5rem;max-width:72rem}\
h1{font-size:1.4rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}\
p.meta{color:var(--muted);margin:0 0 1rem}\
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);\
vertical-align:middle}th{color:var(--muted);font-weight:600}td.num{font-variant-numeric:tabular-nums}\
.status{font-weight:600}.met{color:var(--met)}.missed{color:var(--missed)}\
.no_data{color:var(--none)}small{color:var(--muted)}\
svg.trend{display:block}svg.trend .line{fill:none;stroke:var(--plot);stroke-width:1.5}\
svg.trend .target{stroke:var(--muted);stroke-dasharray:3 3}svg.trend text{fill:var(--muted);font-size:11px}\
code{font-size:.8rem;word-break:break-all}details{margin-top:2rem}";

/// The report as a self-contained HTML page.
///
/// ```
/// let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
/// let storage = voxscope_alert::eval::Storage::new(Default::default());
/// let report = voxscope_alert::report::ReportSpec::new(&catalog).run(&storage, 0, 3_600).unwrap();
/// let page = voxscope_alert::report::html(&report);
/// assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<style>"));
/// assert!(!page.contains("src=") && !page.contains("href=\"http"));
/// ```
pub fn html(report: &Report) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    let title = format!("KPI report, {} to {}", utc(report.start_ms), utc(report.end_ms));
    let _ = write!(out, "<title>{}</title><style>{STYLE}</style></head><body>", escape(&title));
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"meta\">Period {} of <code>{}</code>; trends by {} s</p>",
        escape(&title),
        escape(&report.period),
        escape(&report.job),
        report.trend_step_seconds
    );
    out.push_str(
        "<h2>KPIs</h2><div class=\"scroll\"><table><thead><tr><th>KPI</th><th>Target</th>\
         <th>Actual</th><th>Status</th><th>Trend</th></tr></thead><tbody>",
    );
    for kpi in &report.kpis {
        let chart = svg::trend(
            &kpi.trend,
            report.start_ms,
            report.end_ms,
            Some(kpi.target.value),
            &format!("{} per trend step", kpi.name),
        );
        let _ = write!(
            out,
            "<tr><td>{}<br><small>{}</small></td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td>{}<td>{chart}</td></tr>",
            escape(kpi.name),
            escape(kpi.description),
            escape(&kpi.target.render(kpi.format)),
            escape(&kpi.actual_text()),
            status(kpi.status)
        );
    }
    out.push_str(
        "</tbody></table></div><h2>SLOs</h2><div class=\"scroll\"><table><thead><tr>\
         <th>SLO</th><th>Objective</th><th>Attainment</th><th>Error budget remaining</th>\
         <th>Burn rate</th><th>Status</th><th>Burn rate trend</th></tr></thead><tbody>",
    );
    for slo in &report.slos {
        let chart = svg::trend(
            &slo.trend,
            report.start_ms,
            report.end_ms,
            Some(1.0),
            &format!("{} burn rate per trend step", slo.name),
        );
        let _ = write!(
            out,
            "<tr><td>{}<br><small>{}</small></td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td>{}<td>{chart}</td></tr>",
            escape(&slo.name),
            escape(&slo.good),
            render(ValueFormat::Percent, slo.objective),
            figure(ValueFormat::Percent, slo.attainment),
            figure(ValueFormat::Percent, slo.error_budget_remaining),
            slo.burn_rate_text(),
            status(slo.status)
        );
    }
    out.push_str("</tbody></table></div>");
    for table in &report.app_metrics {
        app_table(&mut out, table);
    }
    out.push_str("<h2>Recommendations</h2>");
    if report.recommendations.is_empty() {
        out.push_str("<p>None: no trend or share in this period calls for action.</p>");
    } else {
        out.push_str("<ul class=\"recommendations\">");
        for recommendation in &report.recommendations {
            let _ = write!(out, "<li>{}</li>", escape(&recommendation.text));
        }
        out.push_str("</ul>");
    }
    out.push_str("<details><summary>Queries</summary><ul>");
    for (name, query) in report.queries() {
        let _ = write!(out, "<li>{}: <code>{}</code></li>", escape(&name), escape(query));
    }
    out.push_str("</ul></details></body></html>\n");
    out
}

/// An application metric's table: its label keys, then its figure columns.
fn app_table(out: &mut String, table: &AppTable) {
    let _ = write!(
        out,
        "<h2><code>{}</code> ({})</h2><p class=\"meta\">{}</p><div class=\"scroll\"><table>\
         <thead><tr>",
        escape(&table.metric),
        escape(&table.kind),
        escape(&table.help)
    );
    for key in &table.labels {
        let _ = write!(out, "<th>{}</th>", escape(key));
    }
    for column in &table.columns {
        let _ = write!(out, "<th>{}</th>", escape(column));
    }
    out.push_str("</tr></thead><tbody>");
    if table.rows.is_empty() {
        let span = table.labels.len() + table.columns.len();
        let _ = write!(out, "<tr><td colspan=\"{span}\" class=\"no_data\">no data</td></tr>");
    }
    for row in &table.rows {
        out.push_str("<tr>");
        for key in &table.labels {
            let _ = write!(out, "<td>{}</td>", escape(&row.labels[key]));
        }
        for column in &table.columns {
            let text = table.figure_text(column, row.figures.get(column).copied().flatten());
            let _ = write!(out, "<td class=\"num\">{}</td>", escape(&text));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
}

fn status(status: Status) -> String {
    let class = match status {
        Status::Met => "met",
        Status::Missed => "missed",
        Status::NoData => "no_data",
    };
    format!("<td class=\"status {class}\">{}</td>", status.label())
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped for HTML text and attributes: the
/// report page and the email channel both escape through it.
///
/// ```
/// assert_eq!(voxscope_alert::report::escape_html("a<b & 'c'"), "a&lt;b &amp; &#39;c&#39;");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
