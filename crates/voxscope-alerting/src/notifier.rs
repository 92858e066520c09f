//! The engine's runtime handle: it takes each evaluation's alerts, and a task of its own
//! sends the notifications when their group timers and escalation steps come due, into a
//! bounded channel that delivery reads; it saves the state when it changed.
//!
//! ```
//! use std::sync::Arc;
//! use voxscope_alerting::{Clock, Notifier, dispatch::NoSilences};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let (sink, mut notifications) = tokio::sync::mpsc::channel(1024);
//! let config = voxscope_alert::Config::default();
//! let notifier = Notifier::new(&config, Arc::new(NoSilences), sink, Clock::system()).unwrap();
//! let _task = notifier.spawn();
//! // Each evaluation: notifier.observe(&evaluator.evaluate(&mut storage, now_ms));
//! notifier.observe(&[]);
//! assert!(notifications.try_recv().is_err());
//! # }
//! ```

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use voxscope_alert::Config;
use voxscope_alert::eval::{ActiveAlert, Labels};

use crate::ack::Ack;
use crate::dispatch::{Dispatcher, Muter, Muting};
use crate::escalation::Escalator;
use crate::history::{Entry, History};
use crate::notification::Notification;
use crate::persist::{Snapshot, StateDir};
use crate::state::{AlertStatus, State};
use crate::{Clock, Error};

/// A cheap-to-clone handle on the engine's dispatcher, escalation, acknowledgements and
/// history.
#[derive(Clone)]
pub struct Notifier {
    state: Arc<Mutex<State>>,
    wake: Arc<Notify>,
    clock: Clock,
    muter: Arc<dyn Muter>,
    sink: mpsc::Sender<Notification>,
    state_dir: Option<StateDir>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("state_dir", &self.state_dir).finish_non_exhaustive()
    }
}

impl Notifier {
    /// The engine of `config` (routes, inhibitions, cooldowns, escalation, history bounds
    /// and state directory); `muter` says what silences mute, `sink` takes the
    /// notifications (a full or closed sink drops them, counted and logged).
    ///
    /// # Errors
    /// [`Error::Matcher`] when a matcher's label or regex is invalid.
    pub fn new(
        config: &Config,
        muter: Arc<dyn Muter>,
        sink: mpsc::Sender<Notification>,
        clock: Clock,
    ) -> Result<Self, Error> {
        let dispatcher = Dispatcher::new(config, Arc::clone(&muter))?;
        Ok(Self::with_dispatcher(dispatcher, config, muter, sink, clock))
    }

    /// The same with a dispatcher built elsewhere (another route tree, a generator URL).
    pub fn with_dispatcher(
        dispatcher: Dispatcher,
        config: &Config,
        muter: Arc<dyn Muter>,
        sink: mpsc::Sender<Notification>,
        clock: Clock,
    ) -> Self {
        let engine = &config.engine;
        let history = History::new(engine.history_retention_days, engine.history_max_entries);
        let escalator = Escalator::new(config.escalation.clone());
        Self {
            state: Arc::new(Mutex::new(State::new(dispatcher, escalator, history))),
            wake: Arc::new(Notify::new()),
            clock,
            muter,
            sink,
            state_dir: StateDir::from_config(engine),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Brings back the state saved in `[engine] state_dir`, if any, and returns it: hand
    /// its `active_alerts` to the evaluator's `restore` and its `silences` to the silence
    /// store. Call before [`Notifier::spawn`].
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Corrupt`] when a saved state exists but cannot be read.
    pub fn restore(&self) -> Result<Option<Snapshot>, Error> {
        let Some(dir) = &self.state_dir else { return Ok(None) };
        let Some(snapshot) = dir.load()? else { return Ok(None) };
        self.lock().restore(snapshot.clone(), self.clock.now_ms());
        self.wake.notify_one();
        Ok(Some(snapshot))
    }

    /// Takes one evaluation's alerts (every state: pending, firing, inactive).
    pub fn observe(&self, tick: &[ActiveAlert]) {
        self.lock().observe(tick, self.clock.now_ms());
        self.wake.notify_one();
    }

    /// Acknowledges the firing alert with `fingerprint`: its escalation stops.
    ///
    /// # Errors
    /// [`Error::UnknownAlert`] when no firing alert has that fingerprint.
    pub fn ack(&self, fingerprint: &str, by: &str, comment: &str) -> Result<Ack, Error> {
        let ack = self.lock().ack(fingerprint, by, comment, self.clock.now_ms())?;
        self.wake.notify_one();
        Ok(ack)
    }

    /// The firing alerts, and resolved ones not yet notified, with what mutes them.
    pub fn alerts(&self) -> Vec<AlertStatus> {
        self.lock().alerts(self.clock.now_ms())
    }

    /// The receivers an alert with `labels` is routed to (for any alert, pending too).
    pub fn receivers(&self, labels: &Labels) -> Vec<String> {
        self.lock().dispatcher.receivers(labels)
    }

    /// What mutes an alert with `labels` now: silences and the firing alert inhibiting it.
    pub fn muting(&self, labels: &Labels) -> Muting {
        self.lock().dispatcher.muting(labels, self.clock.now_ms())
    }

    /// The history, oldest first.
    pub fn history(&self) -> Vec<Entry> {
        self.lock().history.entries().cloned().collect()
    }

    /// Notifications dropped because the sink was full or closed.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Saves the state soon even if no alert changed (after a silence changed).
    pub fn persist_soon(&self) {
        self.lock().mark_dirty();
        self.wake.notify_one();
    }

    /// Saves the state now (at shutdown), if a state directory is configured.
    pub fn save_now(&self) {
        self.lock().mark_dirty();
        self.save(self.clock.now_ms());
    }

    /// The clock the engine reads.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Starts the task that sends notifications when due and saves the state; it ends
    /// when the sink's receiver is dropped.
    pub fn spawn(&self) -> JoinHandle<()> {
        tokio::spawn(self.clone().run())
    }

    async fn run(self) {
        loop {
            if self.sink.is_closed() {
                return;
            }
            let now = self.clock.now_ms();
            let due = self.lock().due(now);
            for notification in due {
                if let Err(e) = self.sink.try_send(notification) {
                    let notification = match e {
                        mpsc::error::TrySendError::Full(n)
                        | mpsc::error::TrySendError::Closed(n) => n,
                    };
                    tracing::warn!(
                        receiver = %notification.receiver,
                        group_key = %notification.group_key,
                        "notification dropped: the delivery queue is full or closed"
                    );
                    self.lock().dropped(&notification, now);
                }
            }
            self.save(now);
            let next = self.lock().next_wakeup_ms();
            match next {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(self.clock.instant_at(at)) => {}
                        () = self.wake.notified() => {}
                    }
                }
                None => self.wake.notified().await,
            }
        }
    }

    fn save(&self, now: i64) {
        let Some(dir) = &self.state_dir else { return };
        let snapshot = self.lock().take_snapshot(self.muter.persisted(), now);
        if let Some(snapshot) = snapshot
            && let Err(e) = dir.save(&snapshot)
        {
            tracing::error!(error = %e, "alerting state not saved");
            self.lock().mark_dirty();
        }
    }
}
