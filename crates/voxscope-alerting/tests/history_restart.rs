//! The engine's metric history across a restart, on tokio's paused clock: three hours
//! of scrapes, a shutdown, a new engine on the same state directory; range queries over
//! the earlier hours read the same points from raw samples and from minute and hour
//! steps, and the history goes on from there.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use voxscope_alert::eval::{Query, RangeSeries, Storage};
use voxscope_alert::expr::{Expr, Matcher, Scope, Selector, Window, increase};
use voxscope_alert::{Config, RuleCatalog};
use voxscope_alerting::persist::{HISTORY_FILE, StateDir};
use voxscope_alerting::{AlertEngine, Clock};

/// Sunday 2026-11-29 00:00 UTC: hours and minutes fall on step ends.
const T0: i64 = 1_795_910_400_000;
const HOUR: i64 = 3_600_000;

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Minute evaluations; the Watchdog heartbeat off, so no notification is sent.
fn config(dir: &std::path::Path) -> Config {
    let text = format!(
        "[engine]\ninterval_seconds = 60\nstate_dir = \"{}\"\n[history]\nsave_interval_seconds = 600\n[rules.Watchdog]\ndisabled = true\n",
        dir.display()
    );
    Config::from_toml(&text).expect("config")
}

/// A counter that grows by 1 to 5 a scrape and restarts (a reset) at the 100th.
fn start(config: &Config, clock: Clock, scrapes: Arc<AtomicU64>) -> AlertEngine {
    let catalog = RuleCatalog::new(config.clone()).expect("catalog");
    AlertEngine::builder(catalog)
        .clock(clock)
        .scrape(move || {
            let n = scrapes.fetch_add(1, Ordering::Relaxed);
            let value: u64 = if n < 100 {
                (0..=n).map(|i| i % 5 + 1).sum()
            } else {
                (100..=n).map(|i| i % 5 + 1).sum()
            };
            format!("voice_calls_total{{transport=\"twilio\"}} {value}\nvoice_calls_active 3\n")
        })
        .start()
        .expect("engine")
}

fn queries() -> Vec<Query> {
    let scope = Scope::rules(Matcher::eq("job", "voice_agent"), 300);
    let calls = || Selector::new("voice_calls_total");
    [Expr::vector(calls()), increase(calls(), Window::Fixed(3_600))]
        .iter()
        .map(|expr| Query::new(expr, &scope).expect("query"))
        .collect()
}

/// Every query over `[from, to]` at a minute and at an hour step.
fn ranges(storage: &Storage, from: i64, to: i64) -> Vec<Vec<RangeSeries>> {
    let mut out = Vec::new();
    for query in queries() {
        for step in [60_000, HOUR] {
            out.push(query.range(storage, from, to, step).expect("range"));
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn a_restart_keeps_the_metric_history_and_range_queries_read_the_same_points() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("voxscope-history-{}", std::process::id())));
    let config = config(&dir.0);
    let clock = Clock::starting_at(T0);
    let scrapes = Arc::new(AtomicU64::new(0));
    let first = start(&config, clock, Arc::clone(&scrapes));
    tokio::time::sleep(Duration::from_millis(3 * HOUR as u64 + 30_000)).await;
    let now = clock.now_ms();
    // Scrapes at every minute from T0 + 1 min to T0 + 3 h.
    assert_eq!(scrapes.load(Ordering::Relaxed), 180);
    let (before, stats) = first.with_storage(|s| (ranges(s, T0, now), s.stats()));
    // Saved every 10 minutes while running, before any shutdown.
    let limits = config.history.storage_limits(config.engine.interval_seconds);
    let periodic = StateDir::new(&dir.0).load_history(&limits).expect("readable");
    assert!(periodic.expect("saved while running").sample_count() > 0);
    first.shutdown(Duration::from_secs(1)).await;

    // The minute steps hold every scrape (the first hour is read from them), the raw
    // samples the last hour; an hour step ends at T0 + 1 h, 2 h and 3 h.
    let series = before[0].iter().find(|s| s.labels.contains_key("transport")).expect("counter");
    assert_eq!(series.points.len(), 180, "one point a minute from the first scrape");
    assert_eq!(series.points[0], (T0 + 60_000, 1.0));
    let increases = &before[3][0].points;
    assert_eq!(
        increases.iter().map(|p| p.0).collect::<Vec<_>>(),
        [T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]
    );
    assert!(increases.iter().all(|p| p.1.is_finite() && p.1 > 100.0), "{increases:?}");
    assert!(stats.aggregate_steps > stats.series * 60, "{stats:?}");

    let saved = StateDir::new(&dir.0);
    assert!(saved.history_path().ends_with(HISTORY_FILE));
    let read = saved.load_history(&limits).expect("readable").expect("saved");
    assert_eq!(read.sample_count(), first_samples(&stats));

    // A new engine on the same directory, before its first evaluation.
    let second = start(&config, clock, Arc::clone(&scrapes));
    let after = second.with_storage(|s| ranges(s, T0, now));
    assert_eq!(after, before);
    // The history goes on: ten more minutes are appended after the restored ones.
    tokio::time::sleep(Duration::from_secs(600)).await;
    let later = second.with_storage(|s| ranges(s, T0, clock.now_ms()));
    let series = later[0].iter().find(|s| s.labels.contains_key("transport")).expect("counter");
    assert_eq!(series.points.len(), 190);
    assert_eq!(
        series.points[..180],
        before[0].iter().find(|s| s.labels.contains_key("transport")).unwrap().points[..]
    );
    second.shutdown(Duration::from_secs(1)).await;
}

fn first_samples(stats: &voxscope_alert::eval::StorageStats) -> usize {
    stats.raw_samples + stats.aggregate_steps + stats.summary_steps
}

/// `[history] persist = false` keeps nothing, with a state directory set.
#[tokio::test(start_paused = true)]
async fn a_history_that_is_not_persisted_is_not_written() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("voxscope-no-history-{}", std::process::id())));
    let mut config = config(&dir.0);
    config.history.persist = false;
    let engine = start(&config, Clock::starting_at(T0), Arc::new(AtomicU64::new(0)));
    tokio::time::sleep(Duration::from_secs(1_200)).await;
    engine.shutdown(Duration::from_secs(1)).await;
    assert!(!StateDir::new(&dir.0).history_path().exists());
}

/// An unreadable history does not stop the engine: it is moved aside, the engine starts
/// with none and saves a readable one at shutdown.
#[tokio::test(start_paused = true)]
async fn an_unreadable_history_is_moved_aside_and_the_engine_starts_without_it() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("voxscope-bad-history-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("dir");
    let state = StateDir::new(&dir.0);
    std::fs::write(state.history_path(), b"not a history").expect("write");
    let config = config(&dir.0);
    let engine = start(&config, Clock::starting_at(T0), Arc::new(AtomicU64::new(0)));
    assert_eq!(engine.with_storage(Storage::series_count), 0);
    let aside = dir.0.join(format!("{HISTORY_FILE}.unreadable"));
    assert_eq!(std::fs::read(&aside).expect("moved aside"), b"not a history");
    tokio::time::sleep(Duration::from_secs(120)).await;
    let held = engine.with_storage(Storage::sample_count);
    assert!(held > 0);
    engine.shutdown(Duration::from_secs(1)).await;
    let limits = config.history.storage_limits(config.engine.interval_seconds);
    let back = state.load_history(&limits).expect("readable").expect("saved");
    assert_eq!(back.sample_count(), held);
}
