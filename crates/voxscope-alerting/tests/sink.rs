//! The sink on tokio's paused clock: with `group_wait` 0 a firing alert leaves in the
//! same instant it was observed; a full sink never blocks the engine, and what it could
//! not take is counted and kept in the history.

mod paused;

use std::sync::Arc;

use paused::{T0, config, firing};
use voxscope_alerting::dispatch::NoSilences;
use voxscope_alerting::history::Event;
use voxscope_alerting::{Clock, Notifier};

#[tokio::test(start_paused = true)]
async fn with_no_group_wait_the_notification_leaves_when_the_alert_is_observed() {
    let mut config = config();
    config.alertmanager.group_wait_seconds = 0;
    let clock = Clock::starting_at(T0);
    let (sink, mut rx) = tokio::sync::mpsc::channel(8);
    let notifier = Notifier::new(&config, Arc::new(NoSilences), sink, clock).unwrap();
    let _task = notifier.spawn();
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    notifier.observe(&[firing("HighCPUUsage", "warning", &[], 7)]);
    let n = rx.recv().await.expect("notification");
    assert_eq!(clock.now_ms(), T0 + 7_000);
    assert_eq!(n.alerts[0].starts_at_ms, T0 + 7_000);
}

#[tokio::test(start_paused = true)]
async fn a_full_sink_drops_counts_and_records_without_blocking() {
    let clock = Clock::starting_at(T0);
    let (sink, mut rx) = tokio::sync::mpsc::channel(1);
    let notifier = Notifier::new(&config(), Arc::new(NoSilences), sink, clock).unwrap();
    let _task = notifier.spawn();
    // Three groups due at 30 s; the sink takes one.
    notifier.observe(&[
        firing("HighCPUUsage", "warning", &[], 0),
        firing("HighMemoryUsage", "warning", &[], 0),
        firing("CallsNearCapacity", "warning", &[], 0),
    ]);
    tokio::time::sleep(std::time::Duration::from_secs(31)).await;
    assert_eq!(notifier.dropped(), 2);
    let dropped = notifier
        .history()
        .iter()
        .filter(|e| matches!(e.event, Event::Dropped { .. }) && e.at_ms == T0 + 30_000)
        .count();
    assert_eq!(dropped, 2);
    assert!(rx.try_recv().is_ok());
    assert!(rx.try_recv().is_err());
}
