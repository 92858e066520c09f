//! Generates `docs/metrics.md` from the catalog.
//!
//! ```
//! let markdown = voxscope_core::docs::metrics_markdown();
//! assert!(markdown.contains("`http_server_request_duration_seconds`"));
//! ```

use std::fmt::Write;

use crate::catalog::{ALL, MetricDef, MetricKind, Subsystem};

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
