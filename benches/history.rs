//! The engine's metric history: what storing one scrape costs, and what a series holds
//! at full tiers, against keeping only an hour of raw samples and against keeping every
//! sample for 30 days, in the same run.
//!
//! `cargo bench -p voxscope-benches --bench history -- --warm-up-time 1 --measurement-time 5`
//!
//! `history/scrape/*`: one 5-second scrape of 1,000 counters appended and the store
//! compacted (what the engine does every evaluation), after two hours of history so the
//! raw tier evicts as it does in steady state. The memory figures are printed before the
//! benches: one series filled with 31 days of 5-second samples under each layout, and
//! what saving the tiered one in a state directory writes.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use voxscope::alert::eval::{Labels, StepTier, Storage, StorageLimits};
use voxscope::alerting::persist::StateDir;

const SCRAPE_MS: i64 = 5_000;
const SERIES: usize = 1_000;
const DAY_MS: i64 = 86_400_000;

fn layouts() -> [(&'static str, StorageLimits); 3] {
    let raw = |raw_ms: i64| StorageLimits {
        raw_ms,
        max_raw_samples: usize::try_from(raw_ms / SCRAPE_MS + 2).unwrap_or(usize::MAX),
        aggregates: StepTier::OFF,
        summaries: StepTier::OFF,
        ..StorageLimits::default()
    };
    [
        ("tiered", StorageLimits::default()),
        ("raw_hour", raw(3_600_000)),
        ("raw_30d", raw(30 * DAY_MS)),
    ]
}

fn series(n: usize) -> Vec<Labels> {
    (0..n)
        .map(|i| {
            Labels::from([
                ("__name__".to_owned(), "voice_calls_total".to_owned()),
                ("job".to_owned(), "voice_agent".to_owned()),
                ("transport".to_owned(), format!("t{i}")),
            ])
        })
        .collect()
}

fn scrape(storage: &mut Storage, series: &[Labels], tick: i64) {
    let t = tick * SCRAPE_MS;
    for (i, labels) in series.iter().enumerate() {
        let _ = storage.append(labels, t, (tick * (1 + i as i64 % 5)) as f64);
    }
    storage.compact(t);
}

fn memory() {
    let one = series(1);
    for (name, limits) in layouts() {
        let mut storage = Storage::new(limits.clone());
        let ticks = 31 * DAY_MS / SCRAPE_MS;
        for tick in 0..=ticks {
            let _ = storage.append(&one[0], tick * SCRAPE_MS, tick as f64);
            if tick % 12 == 0 {
                storage.compact(tick * SCRAPE_MS);
            }
        }
        let stats = storage.stats();
        if name == "tiered" {
            save(&storage);
        }
        eprintln!(
            "{name}: after 31 days of 5-second samples one series holds {} raw samples, {} \
             minute steps, {} hour steps: {} bytes of samples (bound {} bytes), reaching back \
             {} days",
            stats.raw_samples,
            stats.aggregate_steps,
            stats.summary_steps,
            stats.bytes,
            limits.max_bytes_per_series(),
            limits.span_ms() as f64 / DAY_MS as f64
        );
    }
}

/// What saving one full series in the state directory costs: bytes written, and the
/// time to encode and write them (the engine encodes under its lock, writes off it).
fn save(storage: &Storage) {
    let dir = std::env::temp_dir().join(format!("voxscope-history-bench-{}", std::process::id()));
    let state = StateDir::new(&dir);
    let started = Instant::now();
    let bytes = state.save_history(storage);
    let spent = started.elapsed();
    match bytes {
        Ok(bytes) => eprintln!("tiered: saving one full series writes {bytes} bytes in {spent:?}"),
        Err(e) => eprintln!("tiered: the history did not save: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn history(c: &mut Criterion) {
    memory();
    let series = series(SERIES);
    let mut group = c.benchmark_group("history/scrape");
    for (name, limits) in layouts() {
        let mut storage = Storage::new(limits);
        let mut tick = 0;
        // Two hours of history: the raw tier is full and evicts.
        for _ in 0..2 * 720 {
            tick += 1;
            scrape(&mut storage, &series, tick);
        }
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    tick += 1;
                    let started = Instant::now();
                    scrape(&mut storage, &series, tick);
                    spent += started.elapsed();
                }
                spent
            });
        });
    }
    group.finish();
}

criterion_group!(benches, history);
criterion_main!(benches);
