//! Anomaly detection scored on a labelled synthetic month and on the same month without
//! anomalies (`scripts/synthetic_month.py`): the embedded evaluator running the
//! generated anomaly rules minute by minute, against a z-score baseline over the same
//! recorded signal. Targets: at least 90 % of the injected anomalies detected within
//! 10 minutes, at most one false alert a week on the clean month.
//!
//! CI runs a nine-day month (a week of history, then two days scored). The full month:
//!
//! ```text
//! VOXSCOPE_ANOMALY_DAYS=30 cargo test --release -p voxscope-tests --test anomaly_score -- --nocapture
//! ```

#[path = "alert_support/mod.rs"]
mod support;

mod anomaly_support;

use anomaly_support::{DAY_MS, MINUTE_MS, Scores, generate, rules, run_embedded, score};
use support::TempDir;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Figures {
    robust: Scores,
    z: Scores,
}

fn score_month(dir: &TempDir, seed: u64, days: u32, clean: bool) -> Figures {
    let month = generate(dir.path(), seed, days, clean);
    // The weekly band reads an hour around this time last week.
    let score_from = month.start_ms + 7 * DAY_MS + 60 * MINUTE_MS;
    let bands_from = score_from - DAY_MS;
    let run = run_embedded(&month, bands_from, score_from);
    let (_, rules) = rules();
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
    Figures {
        robust: Scores::of(&run.episodes, &month.anomalies, score_from, month.end_ms),
        z: Scores::of(&z, &month.anomalies, score_from, month.end_ms),
    }
}

#[test]
fn robust_bands_detect_the_injected_anomalies_and_stay_quiet_on_the_clean_month() {
    let days = env_or("VOXSCOPE_ANOMALY_DAYS", 9) as u32;
    let seed = env_or("VOXSCOPE_ANOMALY_SEED", 1);
    let labelled_dir = TempDir::new("anomaly-labelled");
    let labelled = score_month(&labelled_dir, seed, days, false);
    drop(labelled_dir);
    let clean_dir = TempDir::new("anomaly-clean");
    let clean = score_month(&clean_dir, seed, days, true);
    println!("seed {seed}, {days} days, scored after the first week");
    println!("labelled, robust bands (embedded): {}", labelled.robust);
    println!("labelled, z-score (3 sigma, 1 d):  {}", labelled.z);
    println!("clean, robust bands (embedded):    {}", clean.robust);
    println!("clean, z-score (3 sigma, 1 d):     {}", clean.z);
    assert!(labelled.robust.anomalies >= 3, "the month injects anomalies to score");
    assert!(
        labelled.robust.detection_rate() >= 0.9,
        "at least 90 % detected within 10 minutes: {}",
        labelled.robust
    );
    assert!(
        clean.robust.false_per_day() * 7.0 <= 1.0,
        "at most one false alert a week on clean data: {}",
        clean.robust
    );
}
