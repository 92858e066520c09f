//! Histogram samples recorded while the exporter renders and runs its upkeep, from
//! several threads at once, are all counted: none is lost to a drain that raced with its
//! record (metrics-exporter-prometheus alone loses some: its drain can read a buffer
//! block before a record that already found the block writes into it).

#![cfg(feature = "prometheus")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use metrics::{Key, Label, Level, Metadata, Recorder};
use voxscope_core::prometheus::PrometheusInstaller;

const NAME: &str = "http_server_request_duration_seconds";
const THREADS: usize = 3;
/// Each thread's bursts of records (at least; more until the drains have run
/// `MIN_DRAINS` times), and the records in a burst.
const BURSTS: usize = 100;
const BURST: usize = 2_000;
const MIN_DRAINS: u64 = 50;
const VALUE: f64 = 0.25;

static META: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// The value of the series `name{...}` whose line carries `labels`.
fn value_of(exposition: &str, name: &str, labels: &str) -> f64 {
    exposition
        .lines()
        .find(|line| {
            line.strip_prefix(name).is_some_and(|rest| rest.starts_with('{'))
                && line.contains(labels)
        })
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} with {labels} in:\n{exposition}"))
}

#[test]
fn no_histogram_sample_is_lost_to_concurrent_renders_and_upkeep() {
    let (recorder, handle) = PrometheusInstaller::new().build().expect("recorder");
    let key = Key::from_parts(
        NAME,
        vec![
            Label::new("method", "GET"),
            Label::new("route", "/calls/{id}"),
            Label::new("status", "200"),
        ],
    );
    let histogram = recorder.register_histogram(&key, &META);
    let stop = Arc::new(AtomicBool::new(false));
    let drains = Arc::new(AtomicU64::new(0));
    let drainer = {
        let (stop, drains, handle) = (Arc::clone(&stop), Arc::clone(&drains), handle.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if drains.load(Ordering::Relaxed) % 8 == 0 {
                    let _ = handle.render();
                } else {
                    handle.run_upkeep();
                }
                drains.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // Each thread records in bursts with pauses between them, so that the drains keep up
    // in a debug build and run during the bursts, many times.
    let recorders: Vec<_> = (0..THREADS)
        .map(|i| {
            let (histogram, drains) = (histogram.clone(), Arc::clone(&drains));
            std::thread::spawn(move || {
                while drains.load(Ordering::Relaxed) < 2 {
                    std::thread::yield_now();
                }
                let mut recorded = 0_u64;
                let mut bursts = 0;
                while bursts < BURSTS || drains.load(Ordering::Relaxed) < MIN_DRAINS {
                    bursts += 1;
                    for n in 0..BURST {
                        // Some through `record_many`, as the exporter's callers may.
                        if i == 0 && n % 100 == 0 {
                            histogram.record_many(VALUE, 2);
                            recorded += 2;
                        } else {
                            histogram.record(VALUE);
                            recorded += 1;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                recorded
            })
        })
        .collect();
    let recorded: u64 = recorders.into_iter().map(|t| t.join().expect("recording thread")).sum();
    stop.store(true, Ordering::Relaxed);
    drainer.join().expect("draining thread");

    let expected = recorded as f64;
    let exposition = handle.render();
    let labels = "route=\"/calls/{id}\"";
    assert_eq!(value_of(&exposition, &format!("{NAME}_count"), labels), expected);
    assert_eq!(value_of(&exposition, &format!("{NAME}_sum"), labels), expected * VALUE);
    assert_eq!(value_of(&exposition, &format!("{NAME}_bucket"), "le=\"+Inf\""), expected);
}
