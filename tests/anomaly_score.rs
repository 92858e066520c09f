//! Anomaly detection scored on a labelled synthetic month and on the same month without
//! anomalies (`scripts/synthetic_month.py`), by two implementations of the generated
//! anomaly rules in the same run: the embedded evaluator, minute by minute, and a real
//! Prometheus over the month backfilled with promtool (skipped with a reason when
//! Debian's `prometheus` is missing, a failure under CI); and a z-score baseline over
//! the same recorded signal. Targets, for both implementations: at least 90 % of the
//! injected anomalies detected within 10 minutes, at most one false alert a week on the
//! clean month.
//!
//! CI runs a nine-day month (a week of history, then two days scored). The full month:
//!
//! ```text
//! VOXSCOPE_ANOMALY_DAYS=30 cargo test --release -p voxscope-tests --test anomaly_score -- --nocapture
//! ```

#[path = "alert_support/mod.rs"]
mod support;

mod anomaly_support;

use anomaly_support::prometheus::{Tools, run_prometheus};
use anomaly_support::{DAY_MS, MINUTE_MS, Scores, generate, rules, run_embedded, score};
use support::{TempDir, tool};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Figures {
    embedded: Scores,
    prometheus: Option<Scores>,
    z: Scores,
}

fn score_month(dir: &TempDir, seed: u64, days: u32, clean: bool, tools: Option<&Tools>) -> Figures {
    let month = generate(dir.path(), seed, days, clean);
    // The weekly band reads an hour around this time last week.
    let score_from = month.start_ms + 7 * DAY_MS + 60 * MINUTE_MS;
    let bands_from = score_from - DAY_MS;
    let (catalog, rules) = rules();
    let (run, prometheus) = std::thread::scope(|s| {
        let prometheus = tools.map(|tools| {
            s.spawn(|| run_prometheus(tools, &month, (&catalog, &rules), bands_from, score_from))
        });
        let run = run_embedded(&month, bands_from, score_from);
        (run, prometheus.map(|p| p.join().expect("the Prometheus run")))
    });
    let min_volume =
        |name: &str| rules.signals.iter().find(|s| s.name == name).map_or(0.0, |s| s.min_volume);
    let settings = voxscope::alert::anomaly::AnomalySettings::default();
    let z = score::z_score(
        &run.signal,
        &run.volume,
        min_volume,
        (3.0, settings.for_seconds as i64 * 1000, settings.keep_firing_for_seconds as i64 * 1000),
        score_from,
    );
    let scores = |episodes: &[score::Episode]| {
        Scores::of(episodes, &month.anomalies, score_from, month.end_ms)
    };
    Figures {
        embedded: scores(&run.episodes),
        prometheus: prometheus.as_deref().map(scores),
        z: scores(&z),
    }
}

fn check(implementation: &str, labelled: &Scores, clean: &Scores) {
    assert!(labelled.anomalies >= 3, "the month injects anomalies to score");
    assert!(
        labelled.detection_rate() >= 0.9,
        "{implementation}: at least 90 % detected within 10 minutes: {labelled}"
    );
    assert!(
        clean.false_per_day() * 7.0 <= 1.0,
        "{implementation}: at most one false alert a week on clean data: {clean}"
    );
}

#[test]
fn robust_bands_detect_the_injected_anomalies_and_stay_quiet_on_the_clean_month() {
    let days = env_or("VOXSCOPE_ANOMALY_DAYS", 9) as u32;
    let seed = env_or("VOXSCOPE_ANOMALY_SEED", 1);
    let tools = tool("promtool", "prometheus")
        .zip(tool("prometheus", "prometheus"))
        .map(|(promtool, prometheus)| Tools { promtool, prometheus });
    let labelled_dir = TempDir::new("anomaly-labelled");
    let labelled = score_month(&labelled_dir, seed, days, false, tools.as_ref());
    drop(labelled_dir);
    let clean_dir = TempDir::new("anomaly-clean");
    let clean = score_month(&clean_dir, seed, days, true, tools.as_ref());
    println!("seed {seed}, {days} days, scored after the first week");
    println!("labelled, robust bands (embedded):   {}", labelled.embedded);
    if let Some(p) = &labelled.prometheus {
        println!("labelled, robust bands (Prometheus): {p}");
    }
    println!("labelled, z-score (3 sigma, 1 d):    {}", labelled.z);
    println!("clean, robust bands (embedded):      {}", clean.embedded);
    if let Some(p) = &clean.prometheus {
        println!("clean, robust bands (Prometheus):    {p}");
    }
    println!("clean, z-score (3 sigma, 1 d):       {}", clean.z);
    for (implementation, scores) in
        [("embedded", Some(&labelled.embedded)), ("Prometheus", labelled.prometheus.as_ref())]
    {
        for line in scores.map(|s| s.late.as_slice()).unwrap_or_default() {
            println!("  {implementation}, late: {line}");
        }
    }
    check("embedded", &labelled.embedded, &clean.embedded);
    if let (Some(labelled), Some(clean)) = (&labelled.prometheus, &clean.prometheus) {
        check("Prometheus", labelled, clean);
    }
}
