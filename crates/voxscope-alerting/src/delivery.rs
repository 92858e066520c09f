//! Delivery off the request path: every notification becomes one send per integration of
//! its receiver, each a task of its own, bounded by a queue of `queue_capacity` sends
//! waiting or under way. Each attempt has a timeout; failures worth retrying are retried
//! with backoff (see `[delivery]`); a send that finds the queue full is dropped.
//!
//! ```no_run
//! # async fn run(notification: voxscope_alerting::notification::Notification) {
//! let config = voxscope_alert::Config::from_toml("[delivery]\nqueue_capacity = 256\n").unwrap();
//! let delivery = voxscope_alerting::delivery::Delivery::from_config(&config);
//! delivery.notify(notification);
//! delivery.shutdown(std::time::Duration::from_secs(5)).await;
//! # }
//! ```
//!
//! Every outcome is counted in `voxscope_notifications_total{channel,result}`, with
//! `channel` one of `webhook`, `slack`, `pagerduty`, `email`, `sms`, `alertmanager`, `log`
//! (or `none` for a receiver no integration is configured for) and `result` one of:
//! - `success`: the receiver took it;
//! - `retried`: an attempt failed in a way another may fix, and another follows;
//! - `failed`: given up, after `max_attempts` or at a refusal no retry fixes (a 4xx, a
//!   missing secret, a permanent SMTP reply); logged at `error`;
//! - `dropped`: never sent: the queue was full, the receiver is unknown, or shutdown
//!   came first; logged at `warn`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;
use tower::limit::ConcurrencyLimit;
use tower::retry::Retry;
use tower::util::BoxCloneSyncService;
use voxscope_alert::Config;
use voxscope_alert::delivery::Delivery as Settings;
use voxscope_core::catalog::VOXSCOPE_NOTIFICATIONS_TOTAL;

use crate::channel::{self, Channel, SendError};
use crate::notification::{Notification, NotifiedAlert, Status};
use crate::retry::RetryPolicy;
use crate::secret;

/// Attempts one integration runs at once; the others wait their turn in the queue.
pub const CONCURRENCY_PER_INTEGRATION: usize = 4;

type Send = ConcurrencyLimit<BoxCloneSyncService<Arc<Notification>, (), SendError>>;

/// One integration and the service that sends to it with a timeout per attempt.
struct Route {
    channel: Channel,
    service: Send,
}

/// The delivery queue and its workers. Cheap to clone: clones share the queue.
#[derive(Clone)]
pub struct Delivery {
    inner: Arc<Inner>,
}

struct Inner {
    receivers: BTreeMap<String, Vec<Route>>,
    push: Option<Route>,
    settings: Settings,
    capacity: usize,
    queue: Arc<Semaphore>,
    tasks: Mutex<JoinSet<()>>,
    closed: AtomicBool,
}

/// What [`Delivery::notify`] did with a notification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enqueued {
    /// Sends queued, one per integration that wants it.
    pub queued: usize,
    /// Sends dropped (and counted) because the queue was full or closed.
    pub dropped: usize,
}

impl Delivery {
    /// Every receiver of `config` with its integrations ([`channel::from_config`]),
    /// secrets from the process environment and files, and the Alertmanager push of
    /// `[delivery] alertmanager_url`. Sends run on the tokio runtime current at
    /// [`Delivery::notify`].
    ///
    /// Logs a warning for every secret a receiver needs and cannot read now
    /// ([`secret::problems`]).
    pub fn from_config(config: &Config) -> Self {
        let env = secret::process_env();
        for problem in secret::problems(config, &*env) {
            tracing::warn!(target: "voxscope::alert", "{problem}");
        }
        let receivers = channel::from_config(config, env);
        Self::new(&config.delivery, receivers, channel::alertmanager_from_config(config))
    }

    /// Delivery to `receivers` (by name) and, if given, alerts pushed to `push` (an
    /// [`Channel::Alertmanager`]), with the queue, timeout and retries of `settings`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use voxscope_alerting::channel;
    /// use voxscope_alerting::delivery::Delivery;
    /// let config = voxscope_alert::Config::default();
    /// // The demo's delivery: every receiver logs.
    /// let delivery = Delivery::new(&config.delivery, channel::log_only(&config), None);
    /// assert_eq!(delivery.in_queue(), 0);
    /// # }
    /// ```
    pub fn new(
        settings: &Settings,
        receivers: BTreeMap<String, Vec<Channel>>,
        push: Option<Channel>,
    ) -> Self {
        let timeout = Duration::from_secs(settings.timeout_seconds);
        let route = |channel: Channel| Route { service: service(&channel, timeout), channel };
        let receivers = receivers
            .into_iter()
            .map(|(name, channels)| (name, channels.into_iter().map(route).collect()))
            .collect();
        let capacity = settings.queue_capacity.min(Semaphore::MAX_PERMITS);
        Self {
            inner: Arc::new(Inner {
                receivers,
                push: push.map(route),
                settings: settings.clone(),
                capacity,
                queue: Arc::new(Semaphore::new(capacity)),
                tasks: Mutex::new(JoinSet::new()),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Queues one send per integration of `notification.receiver` that wants it
    /// (resolved notices only where `send_resolved`); never waits. A send that finds
    /// the queue full is dropped, counted and logged.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use voxscope_alerting::channel;
    /// use voxscope_alerting::delivery::{Delivery, Enqueued};
    /// use voxscope_alerting::notification::{Notification, Status};
    ///
    /// let mut config = voxscope_alert::Config::default();
    /// config.delivery.queue_capacity = 1;
    /// let delivery = Delivery::new(&config.delivery, channel::log_only(&config), None);
    /// let page = Notification {
    ///     receiver: "team-lead".into(),
    ///     group_key: "k".into(),
    ///     group_labels: Default::default(),
    ///     status: Status::Firing,
    ///     alerts: vec![],
    ///     escalation_step: Some(0),
    /// };
    /// assert_eq!(delivery.notify(page.clone()), Enqueued { queued: 1, dropped: 0 });
    /// // One place in the queue, taken: the next is dropped and counted.
    /// assert_eq!(delivery.notify(page), Enqueued { queued: 0, dropped: 1 });
    /// assert_eq!(delivery.shutdown(Duration::from_secs(5)).await, 0);
    /// # }
    /// ```
    pub fn notify(&self, notification: Notification) -> Enqueued {
        let Some(routes) = self.inner.receivers.get(&notification.receiver) else {
            count("none", "dropped");
            tracing::error!(
                target: "voxscope::alert",
                receiver = %notification.receiver,
                "notification dropped: no receiver of that name is configured"
            );
            return Enqueued { queued: 0, dropped: 1 };
        };
        let notification = Arc::new(notification);
        let mut enqueued = Enqueued::default();
        for route in routes.iter().filter(|r| r.channel.wants(&notification)) {
            if self.spawn(route, notification.clone()) {
                enqueued.queued += 1;
            } else {
                enqueued.dropped += 1;
            }
        }
        enqueued
    }

    /// Pushes `alerts` to the Alertmanager of `[delivery] alertmanager_url`; false when
    /// none is configured or the queue dropped it. Call it with every active alert at
    /// each evaluation, as Prometheus does: Alertmanager resolves a firing alert that
    /// stops being pushed after its `resolve_timeout`.
    pub fn push_alerts(&self, alerts: Vec<NotifiedAlert>) -> bool {
        let Some(route) = &self.inner.push else { return false };
        if alerts.is_empty() {
            return true;
        }
        let status = if alerts.iter().any(|a| a.status == Status::Firing) {
            Status::Firing
        } else {
            Status::Resolved
        };
        let notification = Notification {
            receiver: "alertmanager".to_owned(),
            group_key: String::new(),
            group_labels: Default::default(),
            status,
            alerts,
            escalation_step: None,
        };
        self.spawn(route, Arc::new(notification))
    }

    /// Sends waiting or under way.
    pub fn in_queue(&self) -> usize {
        self.inner.capacity - self.inner.queue.available_permits()
    }

    /// Stops taking notifications, waits up to `grace` for the sends under way, then
    /// abandons the rest, each counted `dropped`. Returns how many were abandoned.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        let mut tasks = {
            let mut guard = self.tasks();
            self.inner.closed.store(true, Ordering::SeqCst);
            std::mem::take(&mut *guard)
        };
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_ok() {
            return 0;
        }
        let abandoned = tasks.len();
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        abandoned
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, JoinSet<()>> {
        self.inner.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one send of `notification` through `route`; false when dropped.
    fn spawn(&self, route: &Route, notification: Arc<Notification>) -> bool {
        let label = route.channel.label();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            count(label, "dropped");
            tracing::error!(
                target: "voxscope::alert",
                receiver = %notification.receiver,
                channel = label,
                "notification dropped: delivery runs on a tokio runtime, and none is current"
            );
            return false;
        };
        // Under the lock of the task set, so that a shutdown either sees this send
        // among its tasks or has closed the queue before it.
        let mut tasks = self.tasks();
        let permit = if self.inner.closed.load(Ordering::SeqCst) {
            None
        } else {
            self.inner.queue.clone().try_acquire_owned().ok()
        };
        let Some(permit) = permit else {
            count(label, "dropped");
            tracing::warn!(
                target: "voxscope::alert",
                receiver = %notification.receiver,
                channel = label,
                capacity = self.inner.capacity,
                "notification dropped: the delivery queue is full or shut down"
            );
            return false;
        };
        let settings = &self.inner.settings;
        let policy = RetryPolicy::new(
            settings.max_attempts,
            Duration::from_millis(settings.backoff_initial_ms),
            Duration::from_secs(settings.backoff_max_seconds),
            label,
        );
        let send = Retry::new(policy, route.service.clone());
        let pending = Pending {
            label,
            receiver: notification.receiver.clone(),
            sent: false,
            _permit: permit,
        };
        while tasks.try_join_next().is_some() {}
        tasks.spawn_on(
            async move {
                let receiver = notification.receiver.clone();
                match send.oneshot(notification).await {
                    Ok(()) => count(label, "success"),
                    Err(error) => {
                        count(label, "failed");
                        tracing::error!(
                            target: "voxscope::alert",
                            receiver = %receiver,
                            channel = label,
                            "notification not delivered, giving up: {error}"
                        );
                    }
                }
                pending.sent();
            },
            &runtime,
        );
        true
    }
}

/// A queued send: holds its place in the queue, and counts itself dropped if abandoned.
struct Pending {
    label: &'static str,
    receiver: String,
    sent: bool,
    _permit: OwnedSemaphorePermit,
}

impl Pending {
    /// Settled: delivered or given up, counted either way.
    fn sent(mut self) {
        self.sent = true;
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.sent {
            count(self.label, "dropped");
            tracing::warn!(
                target: "voxscope::alert",
                receiver = %self.receiver,
                channel = self.label,
                "notification dropped: delivery shut down before it was sent"
            );
        }
    }
}

/// Sends through `channel`, each attempt limited to `timeout`.
fn service(channel: &Channel, timeout: Duration) -> Send {
    let channel = channel.clone();
    let inner = tower::service_fn(move |notification: Arc<Notification>| {
        let channel = channel.clone();
        async move {
            tokio::time::timeout(timeout, channel.send(&notification))
                .await
                .unwrap_or(Err(SendError::TimedOut(timeout)))
        }
    });
    ConcurrencyLimit::new(BoxCloneSyncService::new(inner), CONCURRENCY_PER_INTEGRATION)
}

/// Counts one outcome in `voxscope_notifications_total`.
pub(crate) fn count(channel: &'static str, result: &'static str) {
    metrics::counter!(VOXSCOPE_NOTIFICATIONS_TOTAL.name, "channel" => channel, "result" => result)
        .increment(1);
}
