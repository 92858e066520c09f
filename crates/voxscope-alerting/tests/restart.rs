//! A restart on tokio's paused clock: the state file brings back the firing alert with
//! its `active_at`, the acknowledgement, the escalation progress, the dedup log and the
//! history, so nothing is told twice and nothing is forgotten.

mod paused;

use std::sync::Arc;

use paused::{Harness, T0, config, firing};
use voxscope_alert::eval::AlertState;
use voxscope_alerting::dispatch::NoSilences;
use voxscope_alerting::persist::StateDir;
use voxscope_alerting::{Clock, fingerprint};

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_restart_restores_firing_alerts_acks_escalation_and_the_dedup_log() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("voxscope-restart-{}", std::process::id())));
    let mut config = config();
    config.engine.state_dir = dir.0.display().to_string();
    let paging = firing("HighCallErrorRate", "critical", &[("transport", "twilio")], 0);
    let acked = firing("HighCallErrorRate", "critical", &[("transport", "plivo")], 0);
    let tick = |_| vec![paging.clone(), acked.clone()];

    let clock = Clock::starting_at(T0);
    let first = Harness::starting(&config, Arc::new(NoSilences), clock, false);
    first.run(0, 950, tick).await;
    first.notifier.ack(&fingerprint(&acked.labels), "ana", "rolling back").expect("ack");
    first.run(955, 1_000, tick).await;
    let before = first.stop().await;
    let before = before.lock().unwrap().clone();
    // Both share one group, told every 60 s from 10 s; the 15-minute step paged each.
    let group: Vec<i64> =
        before.iter().filter(|(_, n)| n.escalation_step.is_none()).map(|(at, _)| *at).collect();
    assert_eq!(group, (10..=970).step_by(60).collect::<Vec<_>>());
    let pages = before.iter().filter(|(at, n)| *at == 900 && n.escalation_step == Some(0));
    assert_eq!(pages.count(), 2);

    // The service is down for 20 s and comes back.
    tokio::time::sleep(std::time::Duration::from_secs(20)).await;
    let saved = StateDir::new(&dir.0).load().expect("load").expect("saved");
    assert_eq!(saved.active_alerts.len(), 2);
    assert!(saved.active_alerts.iter().all(|a| a.state == AlertState::Firing));
    assert_eq!(saved.active_alerts[0].active_at_ms, T0 - 60_000);
    assert_eq!(saved.acks.len(), 1);

    let second = Harness::starting(&config, Arc::new(NoSilences), clock, true);
    let statuses = second.notifier.alerts();
    assert_eq!(statuses.len(), 2, "both alerts firing again at once");
    let ack = statuses.iter().find_map(|s| s.acknowledged.clone()).expect("ack restored");
    assert_eq!((ack.by.as_str(), ack.at_ms), ("ana", T0 + 950_000));
    second.run(1_020, 4_000, tick).await;
    let after = second.sent();
    // The group flushes at once on restart (its alerts are old) but its last page was
    // at 970 s: the next repeat is the first flush 60 s after it, at 1040 s.
    let repeats: Vec<i64> =
        after.iter().filter(|(_, r, ..)| r == "critical").map(|(at, ..)| *at).collect();
    assert_eq!(repeats.first(), Some(&1_040));
    assert!(repeats.windows(2).all(|w| w[1] - w[0] == 60), "{repeats:?}");
    // The team lead is not paged again; the manager and director are, for the
    // unacknowledged alert only.
    let pages: Vec<(i64, String)> = second
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, n)| n.escalation_step.is_some())
        .map(|(at, n)| (*at, n.alerts[0].labels["transport"].clone()))
        .collect();
    assert_eq!(pages, [(1_800, "twilio".to_owned()), (3_600, "twilio".to_owned())]);
    // The history of before the restart is still there.
    let history = second.notifier.history();
    assert!(history.first().is_some_and(|e| e.at_ms == T0), "{:?}", history.first());
}

#[tokio::test]
async fn a_corrupt_state_file_is_an_error_naming_it_not_a_panic() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("voxscope-corrupt-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let state = StateDir::new(&dir.0);
    std::fs::write(state.path(), b"{\"version\": 1, \"acks\": 7}").unwrap();
    let err = state.load().unwrap_err();
    assert!(err.to_string().contains("alerting-state.json"), "{err}");
}
