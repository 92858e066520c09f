//! docs/metrics.md is generated from the catalog, and docs/app-metrics.md from the demo's
//! own metric declarations; this fails when a checked-in file differs.
//! `VOXSCOPE_BLESS=1` rewrites them.

use std::path::PathBuf;

/// The command that rewrites every file this test checks.
const BLESS: &str = "VOXSCOPE_BLESS=1 cargo test -p voxscope-tests --test generated_docs";

/// Compares `docs/<name>` with `generated`, or writes it under `VOXSCOPE_BLESS`.
fn check_generated(name: &str, generated: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs").join(name);
    if std::env::var_os("VOXSCOPE_BLESS").is_some() {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(checked_in == generated, "docs/{name} differs from what generates it: run `{BLESS}`");
}

#[test]
fn docs_metrics_md_matches_the_catalog() {
    check_generated("metrics.md", &voxscope::docs::metrics_markdown());
}

#[test]
fn docs_name_every_metric_and_label_of_the_catalog() {
    let markdown = voxscope::docs::metrics_markdown();
    for def in voxscope::catalog::ALL {
        assert!(markdown.contains(&format!("`{}`", def.name)), "{}", def.name);
        for label in def.labels {
            assert!(markdown.contains(&format!("`{label}`")), "{}: {label}", def.name);
        }
    }
}

#[test]
fn docs_app_metrics_md_matches_the_demos_declarations() {
    let page = voxscope::docs::app_metrics_page(&voice_agent::business::catalog(), BLESS);
    check_generated("app-metrics.md", &page);
}

/// The demo's page, read as a reader would: every declared metric, label value, bucket
/// and threshold is on it, with the figures the declarations give.
#[test]
fn docs_app_metrics_md_lists_every_demo_metric_with_its_labels_buckets_and_alerts() {
    let catalog = voice_agent::business::catalog();
    let page = voxscope::docs::app_metrics_page(&catalog, BLESS);
    assert!(page.contains("## Application metrics: business"), "{page}");
    for metric in catalog.metrics() {
        let row = page
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", metric.name)))
            .unwrap_or_else(|| panic!("no row for {}", metric.name));
        assert!(row.ends_with(&format!("| {} |", metric.help)), "{row}");
        for label in &metric.labels {
            let values = label.values.join(", ");
            assert!(row.contains(&format!("`{}` ({values})", label.name)), "{row}");
        }
    }
    assert!(
        page.contains(
            "| `conversations_total` | counter | count | `status` (completed, abandoned, \
             failed), `tier` (free, pro, enterprise, unknown) |"
        ),
        "{page}"
    );
    assert!(page.contains("| `satisfaction_score` | histogram | score |"), "{page}");
    assert!(page.contains("- `satisfaction_score`: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10\n"), "{page}");
    assert!(
        page.contains(
            "- `ManyAbandonedConversations` (warning): rate of `conversations_total` where \
             status=\"abandoned\" above 0.05/s over 5m, for 5m\n"
        ),
        "{page}"
    );
}
