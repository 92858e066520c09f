//! A notifier on tokio's paused clock, fed one evaluation every 5 s, with every
//! notification recorded at the second it left.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;
use voxscope_alert::Config;
use voxscope_alert::eval::{ActiveAlert, AlertState, Labels};
use voxscope_alerting::dispatch::{Muter, NoSilences};
use voxscope_alerting::notification::{Notification, Status};
use voxscope_alerting::{Clock, Notifier};

/// The wall time at the start of every test, unix milliseconds.
pub const T0: i64 = 1_700_000_000_000;

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A firing alert of the evaluator, firing since `fired_s` seconds after T0.
pub fn firing(name: &str, severity: &str, extra: &[(&str, &str)], fired_s: i64) -> ActiveAlert {
    let mut l = labels(&[("alertname", name), ("severity", severity), ("job", "voice_agent")]);
    l.extend(labels(extra));
    ActiveAlert {
        labels: l,
        annotations: labels(&[("summary", name)]),
        state: AlertState::Firing,
        active_at_ms: T0 + fired_s * 1_000 - 60_000,
        fired_at_ms: Some(T0 + fired_s * 1_000),
        resolved_at_ms: None,
        keep_firing_since_ms: None,
        value: 1.0,
    }
}

/// The same alert, resolved `resolved_s` seconds after T0.
pub fn resolved(alert: &ActiveAlert, resolved_s: i64) -> ActiveAlert {
    ActiveAlert {
        state: AlertState::Inactive,
        resolved_at_ms: Some(T0 + resolved_s * 1_000),
        ..alert.clone()
    }
}

/// `group_wait` 30 s (10 s for pages), `group_interval` 20 s, default cooldowns.
pub fn config() -> Config {
    let mut config = Config::default();
    config.alertmanager.group_wait_seconds = 30;
    config.alertmanager.group_interval_seconds = 20;
    config
}

pub type Log = Arc<Mutex<Vec<(i64, Notification)>>>;

pub struct Harness {
    pub notifier: Notifier,
    pub clock: Clock,
    pub log: Log,
    pub task: JoinHandle<()>,
    collector: JoinHandle<()>,
}

impl Harness {
    pub fn new(config: &Config) -> Self {
        Self::with_muter(config, Arc::new(NoSilences))
    }

    pub fn with_muter(config: &Config, muter: Arc<dyn Muter>) -> Self {
        Self::starting(config, muter, Clock::starting_at(T0), false)
    }

    /// A notifier on `clock`, restoring the saved state first when `restore`.
    pub fn starting(config: &Config, muter: Arc<dyn Muter>, clock: Clock, restore: bool) -> Self {
        let (sink, mut rx) = tokio::sync::mpsc::channel(64);
        let notifier = Notifier::new(config, muter, sink, clock).expect("notifier");
        if restore {
            notifier.restore().expect("restore").expect("a saved state");
        }
        let log: Log = Arc::default();
        let collected = Arc::clone(&log);
        let collector = tokio::spawn(async move {
            while let Some(n) = rx.recv().await {
                let at_s = (clock.now_ms() - T0) / 1_000;
                collected.lock().expect("log").push((at_s, n));
            }
        });
        let task = notifier.spawn();
        Self { notifier, clock, log, task, collector }
    }

    pub async fn at(&self, second: i64) {
        tokio::time::sleep_until(self.clock.instant_at(T0 + second * 1_000)).await;
    }

    /// Feeds `tick(t)` every 5 s from `from` to `to` seconds, inclusive, then lets the
    /// notifications due at `to` leave.
    pub async fn run(&self, from: i64, to: i64, tick: impl Fn(i64) -> Vec<ActiveAlert>) {
        let mut t = from;
        while t <= to {
            self.at(t).await;
            self.notifier.observe(&tick(t));
            t += 5;
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    /// `(second, receiver, status, alertnames)` of every notification so far.
    pub fn sent(&self) -> Vec<(i64, String, Status, Vec<String>)> {
        self.log
            .lock()
            .expect("log")
            .iter()
            .map(|(at, n)| {
                let names = n.alerts.iter().map(|a| a.labels["alertname"].clone()).collect();
                (*at, n.receiver.clone(), n.status, names)
            })
            .collect()
    }

    /// Seconds at which `alertname` was notified to `receiver`.
    pub fn times(&self, receiver: &str, alertname: &str) -> Vec<i64> {
        self.sent()
            .into_iter()
            .filter(|(_, r, _, names)| r == receiver && names.iter().any(|n| n == alertname))
            .map(|(at, ..)| at)
            .collect()
    }

    pub async fn stop(self) -> Log {
        self.task.abort();
        let _ = self.task.await;
        drop(self.notifier);
        let _ = self.collector.await;
        self.log
    }
}
