//! The in-process rule evaluator over the default catalog and about 1,000 live series
//! of the metric catalog, with an hour of 5-second history behind them.
//!
//! `cargo bench -p voxscope-benches --bench alert_eval -- --warm-up-time 1 --measurement-time 5`
//!
//! `evaluate` is one evaluation of every recording and alerting rule (what the engine
//! does every 5 s); its time over 5 s is the share of one core the evaluator takes.
//! `scrape` is the other half of each interval: parsing the same ~1,000 series from the
//! text exposition into the storage. No other in-process PromQL evaluator exists for
//! Rust to compare with; the reference point in the same run is the scrape, the work the
//! process does anyway to expose its metrics.

use std::fmt::Write;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use voxscope::alert::eval::{Labels, RuleEvaluator, Storage, StorageLimits};
use voxscope::alert::{Config, RuleCatalog};
use voxscope::catalog::{ALL, MetricDef, MetricKind};

const INTERVAL_MS: i64 = 5_000;
const TARGET_SERIES: usize = 1_000;

/// Values a label takes; the rules select on some of them.
fn values(label: &str) -> &'static [&'static str] {
    match label {
        "kind" => &["llm", "stt", "tts"],
        "status" => &["200", "503", "201"],
        "outcome" => &["completed", "failed", "ok", "timeout"],
        "transport" => &["twilio", "plivo"],
        "method" => &["GET", "POST"],
        "route" => &["/calls", "/calls/{id}", "/health"],
        "provider" => &["openai", "groq", "acme"],
        _ => &["a", "b", "c"],
    }
}

/// The `n`-th label set of `def` (labels cycle through their values).
fn label_set(def: &MetricDef, n: usize) -> Vec<(String, String)> {
    let mut rest = n;
    def.labels
        .iter()
        .map(|label| {
            let options = values(label);
            let value = options[rest % options.len()];
            rest /= options.len();
            ((*label).to_owned(), value.to_owned())
        })
        .collect()
}

/// One exposed series: name, labels, and how much it grows per interval (0: a gauge).
struct Exposed {
    name: String,
    labels: Vec<(String, String)>,
    step: f64,
}

fn series_of(def: &MetricDef, n: usize) -> Vec<Exposed> {
    let labels = label_set(def, n);
    let step = 1.0 + (n % 5) as f64;
    match def.kind {
        MetricKind::Counter => vec![Exposed { name: def.name.to_owned(), labels, step }],
        MetricKind::Gauge => vec![Exposed { name: def.name.to_owned(), labels, step: 0.0 }],
        MetricKind::Histogram => {
            let bucket = format!("{}_bucket", def.name);
            let count = def.buckets.len() as f64 + 1.0;
            let mut out: Vec<Exposed> = def
                .buckets
                .iter()
                .map(|b| b.to_string())
                .chain(["+Inf".to_owned()])
                .enumerate()
                .map(|(i, le)| {
                    let mut l = labels.clone();
                    l.push(("le".to_owned(), le));
                    Exposed {
                        name: bucket.clone(),
                        labels: l,
                        step: step * (i as f64 + 1.0) / count,
                    }
                })
                .collect();
            out.push(Exposed { name: format!("{}_sum", def.name), labels: labels.clone(), step });
            out.push(Exposed { name: format!("{}_count", def.name), labels, step });
            out
        }
    }
}

/// How many distinct label sets `def` has.
fn label_sets(def: &MetricDef) -> usize {
    def.labels.iter().map(|l| values(l).len()).product()
}

/// About [`TARGET_SERIES`] series: distinct label sets added round-robin over the
/// catalog.
fn live_series() -> Vec<Exposed> {
    let mut out = Vec::new();
    let mut n = 0;
    while out.len() < TARGET_SERIES {
        for def in ALL.iter().filter(|def| n < label_sets(def)) {
            if out.len() < TARGET_SERIES {
                out.extend(series_of(def, n));
            }
        }
        n += 1;
    }
    out
}

fn exposition(series: &[Exposed], tick: i64) -> String {
    let mut text = String::new();
    for s in series {
        let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let value = if s.step == 0.0 { 3.0 } else { s.step * tick as f64 };
        let _ = writeln!(text, "{}{{{}}} {value}", s.name, labels.join(","));
    }
    text
}

fn target() -> Labels {
    Labels::from([
        ("job".to_owned(), "voice_agent".to_owned()),
        ("instance".to_owned(), "voice-agent:3000".to_owned()),
    ])
}

fn alert_eval(c: &mut Criterion) {
    let catalog = RuleCatalog::new(Config::default()).expect("default config");
    let mut evaluator = RuleEvaluator::new(&catalog);
    let mut storage: Storage = evaluator.storage(StorageLimits::default());
    let series = live_series();
    // An hour of history, evaluated as the engine would.
    let mut tick = 0;
    for _ in 0..720 {
        tick += 1;
        storage.ingest_exposition(&exposition(&series, tick), tick * INTERVAL_MS, &target()).ok();
        evaluator.evaluate(&mut storage, tick * INTERVAL_MS);
    }
    // What the store holds once every series has filled its tiers: the documented
    // bound per series.
    let bound = StorageLimits::default().max_bytes_per_series();
    let stats = storage.stats();
    eprintln!(
        "{} exposed series, {} stored (recorded and up included), {} samples and {} bytes \
         after an hour, at most {} bytes at full tiers (30 days)",
        series.len(),
        storage.series_count(),
        storage.sample_count(),
        stats.bytes,
        bound * storage.series_count()
    );
    let mut group = c.benchmark_group("alert_eval");
    group.bench_function("evaluate", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                tick += 1;
                let text = exposition(&series, tick);
                storage.ingest_exposition(&text, tick * INTERVAL_MS, &target()).ok();
                let started = Instant::now();
                std::hint::black_box(evaluator.evaluate(&mut storage, tick * INTERVAL_MS));
                spent += started.elapsed();
            }
            spent
        });
    });
    let mut scratch = storage.clone();
    group.bench_function("scrape", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                tick += 1;
                let text = exposition(&series, tick);
                let started = Instant::now();
                let scrape = scratch.ingest_exposition(&text, tick * INTERVAL_MS, &target());
                spent += started.elapsed();
                std::hint::black_box(scrape).ok();
            }
            spent
        });
    });
    group.finish();
}

criterion_group!(benches, alert_eval);
criterion_main!(benches);
