//! docs/metrics.md is generated from the catalog; this fails when the checked-in file
//! differs. `VOXSCOPE_BLESS=1` rewrites it.

use std::path::PathBuf;

#[test]
fn docs_metrics_md_matches_the_catalog() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md");
    let generated = voxscope::docs::metrics_markdown();
    if std::env::var_os("VOXSCOPE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/metrics.md differs from the catalog: run \
         `VOXSCOPE_BLESS=1 cargo test -p voxscope-tests --test generated_docs`"
    );
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
