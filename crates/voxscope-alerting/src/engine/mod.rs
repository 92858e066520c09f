//! The engine as one piece: the evaluation loop over the service's own metrics, the
//! notifier, delivery, silences and the HTTP API, started together.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), voxscope_alerting::Error> {
//! # let render = || String::from("voice_calls_active{transport=\"twilio\"} 0\n");
//! let catalog = voxscope_alert::RuleCatalog::new(voxscope_alert::Config::default()).unwrap();
//! let engine = voxscope_alerting::AlertEngine::builder(catalog).scrape(render).start()?;
//! let app: axum::Router = engine.router(); // /api/v1/alerts, /alertmanager/api/v2/...
//! assert_eq!(engine.evaluate_now(), 1); // the Watchdog heartbeat always fires
//! # let _ = app; Ok(()) }
//! ```
//!
//! Every `[engine] interval_seconds` the loop renders the service's exposition, scrapes
//! it into the evaluator's storage as Prometheus would (with `job`, `instance` and
//! `up`), evaluates the catalog, hands the alerts to the notifier and sets
//! `voxscope_alerts_firing`. The notifier's notifications go through a bounded channel
//! to [`Delivery`], whose workers send them off the request path.

mod evaluation;
mod history;
mod report;
mod source;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use voxscope_alert::RuleCatalog;
use voxscope_alert::eval::{Labels, RuleEvaluator, Storage, StorageLimits};
use voxscope_alert::report::ReportSpec;

use crate::api::{self, ApiSettings, ApiToken};
use crate::delivery::Delivery;
use crate::persist::StateDir;
use crate::silence::{SilenceStore, Silences};
use crate::{Clock, Error, Notifier};

use evaluation::Evaluation;
use history::HistorySaver;

type Scrape = Arc<dyn Fn() -> String + Send + Sync>;

/// How an [`AlertEngine`] is put together; [`EngineBuilder::start`] starts it.
pub struct EngineBuilder {
    catalog: RuleCatalog,
    scrape: Option<Scrape>,
    instance: String,
    delivery: Option<Delivery>,
    clock: Option<Clock>,
    limits: Option<StorageLimits>,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder").field("instance", &self.instance).finish_non_exhaustive()
    }
}

impl EngineBuilder {
    /// What the engine evaluates: a function returning the Prometheus text exposition of
    /// the service (its `/metrics` body, e.g. `MetricsHandle::render`). Required.
    #[must_use]
    pub fn scrape(mut self, render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.scrape = Some(Arc::new(render));
        self
    }

    /// The `instance` label the scrape adds (default `localhost`); `job` is the
    /// config's `[service] job`.
    #[must_use]
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = instance.into();
        self
    }

    /// Where notifications go; default [`Delivery::from_config`] (the channels of the
    /// config's receivers, secrets from files and the environment).
    #[must_use]
    pub fn delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = Some(delivery);
        self
    }

    /// The clock (default [`Clock::system`]); tests give one at a fixed wall time.
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The tiers and bounds of the engine's metric history (default: the config's
    /// `[history]` section); the span grows to the longest window a rule reads.
    #[must_use]
    pub fn storage_limits(mut self, limits: StorageLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Restores the saved state and metric history (if `[engine] state_dir` holds them;
    /// the history unless `[history] persist = false`) and starts the evaluation loop,
    /// the notifier and delivery on the current tokio runtime.
    ///
    /// # Errors
    /// [`Error::Setup`] without a scrape function, without a tokio runtime, or with an
    /// unreadable API token; [`Error::Matcher`] for a bad route or inhibit matcher;
    /// [`Error::Io`]/[`Error::Corrupt`] when the saved state cannot be read.
    pub fn start(self) -> Result<AlertEngine, Error> {
        let setup = |reason: String| Error::Setup(reason);
        let scrape = self.scrape.ok_or_else(|| setup("no scrape function was given".into()))?;
        tokio::runtime::Handle::try_current()
            .map_err(|_| setup("the engine starts inside a tokio runtime".into()))?;
        let config = self.catalog.config.clone();
        let token = ApiToken::from_config(&config.api).map_err(|e| setup(e.to_string()))?;
        let clock = self.clock.unwrap_or_else(Clock::system);
        let delivery = self.delivery.unwrap_or_else(|| Delivery::from_config(&config));
        let silences = Silences::new(SilenceStore::new());
        let (sink, notifications) = mpsc::channel(config.delivery.queue_capacity.max(1));
        let notifier = Notifier::new(&config, Arc::new(silences.clone()), sink, clock)?;

        let evaluator = RuleEvaluator::new(&self.catalog);
        let limits = self
            .limits
            .unwrap_or_else(|| config.history.storage_limits(config.engine.interval_seconds));
        let history_dir = StateDir::from_config(&config.engine).filter(|_| config.history.persist);
        let mut storage = match &history_dir {
            Some(state) => history::restore(state, limits),
            None => Storage::new(limits),
        };
        evaluator.reach_back(&mut storage);
        let saver = history_dir.map(|state| {
            Arc::new(HistorySaver::new(state, config.history.save_interval_seconds, clock.now_ms()))
        });
        let catalog = Arc::new(self.catalog);
        let target = Labels::from([
            ("job".to_owned(), config.service.job.clone()),
            ("instance".to_owned(), self.instance),
        ]);
        let mut evaluation = Evaluation::new(evaluator, storage, target, scrape);
        if let Some(saved) = notifier.restore()? {
            let restored = evaluation.evaluator.restore(saved.active_alerts);
            if !saved.silences.is_null() {
                let store: SilenceStore =
                    serde_json::from_value(saved.silences).map_err(|e| Error::Corrupt {
                        path: std::path::PathBuf::from(&config.engine.state_dir),
                        source: e,
                    })?;
                *silences.lock() = store;
            }
            tracing::info!(target: "voxscope::alerting", restored, "alerting state restored");
        }

        let interval = Duration::from_secs(config.engine.interval_seconds.max(1));
        let inner = Arc::new(Inner {
            evaluation: Mutex::new(evaluation),
            notifier: notifier.clone(),
            silences: silences.clone(),
            delivery: delivery.clone(),
            clock,
            interval,
            history: saver,
            tasks: Mutex::new(Vec::new()),
        });
        let settings = ApiSettings {
            token,
            alertmanager_config: voxscope_alert::alertmanager::config(&config),
            started_at_ms: clock.now_ms(),
            alert_validity_ms: 4 * (interval.as_millis() as i64).max(60_000),
            ..ApiSettings::new(None)
        };
        let tasks = vec![
            notifier.spawn(),
            tokio::spawn(forward(notifications, delivery)),
            tokio::spawn(evaluation::run(Arc::clone(&inner))),
        ];
        *inner.tasks() = tasks;
        let report = Arc::new(ReportSpec::new(&catalog));
        Ok(AlertEngine { inner, settings, catalog, report })
    }
}

/// What the tasks and the API share.
pub(crate) struct Inner {
    pub(crate) evaluation: Mutex<Evaluation>,
    pub(crate) notifier: Notifier,
    pub(crate) silences: Silences,
    pub(crate) delivery: Delivery,
    pub(crate) clock: Clock,
    pub(crate) interval: Duration,
    /// Saves the metric history, when it is persisted.
    pub(crate) history: Option<Arc<HistorySaver>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Inner {
    pub(crate) fn evaluation(&self) -> MutexGuard<'_, Evaluation> {
        self.evaluation.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tasks(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The embedded alerting engine, running: cheap to clone.
#[derive(Clone)]
pub struct AlertEngine {
    inner: Arc<Inner>,
    settings: ApiSettings,
    catalog: Arc<RuleCatalog>,
    report: Arc<ReportSpec>,
}

impl std::fmt::Debug for AlertEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertEngine")
            .field("interval", &self.inner.interval)
            .finish_non_exhaustive()
    }
}

impl AlertEngine {
    /// An engine evaluating `catalog` (its rules and its config's routes, receivers,
    /// cooldowns, escalation and state directory).
    pub fn builder(catalog: RuleCatalog) -> EngineBuilder {
        EngineBuilder {
            catalog,
            scrape: None,
            instance: "localhost".to_owned(),
            delivery: None,
            clock: None,
            limits: None,
        }
    }

    /// The HTTP API: Prometheus's `/api/v1/alerts` and `/api/v1/rules`, the ack
    /// endpoint, and the Alertmanager v2 alerts and silences under `/alertmanager`
    /// (`amtool --alertmanager.url=http://HOST:PORT/alertmanager`). Writes need the
    /// bearer token of `[api] token_file` or `VOXSCOPE_ALERT_API_TOKEN`. `GET
    /// /api/v1/report?since=7d&format=html` (or `md`, `json`) is the KPI report of the
    /// config's `[report]` targets over the engine's store: it covers what the store
    /// holds of the period.
    pub fn router(&self) -> Router {
        let source: Arc<dyn api::AlertSource> = Arc::new(source::EngineSource(self.inner.clone()));
        api::router(source, self.inner.silences.clone(), self.settings.clone())
            .merge(report::router(self.clone()))
    }

    /// The catalog it evaluates: its rules, thresholds and config.
    pub fn catalog(&self) -> &RuleCatalog {
        &self.catalog
    }

    /// The current alerts as `/api/v1/alerts` reads them: pending, firing, and resolved
    /// ones still kept, each with its fingerprint, receivers and inhibitors.
    pub fn alerts(&self) -> Vec<api::AlertView> {
        api::AlertSource::alerts(&source::EngineSource(self.inner.clone()))
    }

    /// The notifier: acks, alert status, history.
    pub fn notifier(&self) -> &Notifier {
        &self.inner.notifier
    }

    /// The shared silence store.
    pub fn silences(&self) -> &Silences {
        &self.inner.silences
    }

    /// Reads the engine's sample store (the series the rules evaluate over) under its
    /// lock: keep `read` short, evaluations wait for it.
    ///
    /// ```no_run
    /// # fn run(engine: &voxscope_alerting::AlertEngine) {
    /// let series = engine.with_storage(|storage| storage.series_count());
    /// # }
    /// ```
    pub fn with_storage<R>(&self, read: impl FnOnce(&Storage) -> R) -> R {
        read(self.inner.evaluation().storage())
    }

    /// The engine's clock: what "now" is for its evaluations, unix milliseconds.
    pub fn clock(&self) -> Clock {
        self.inner.clock
    }

    /// Runs one evaluation now (the loop runs them every interval): scrape, rules,
    /// dispatch. Returns how many alerts fire.
    pub fn evaluate_now(&self) -> usize {
        evaluation::tick(&self.inner)
    }

    /// Stops evaluating, saves the state and the metric history and gives delivery up
    /// to `grace` to send what is queued; returns how many sends were abandoned (each
    /// counted as dropped).
    pub async fn shutdown(self, grace: Duration) -> usize {
        for task in self.inner.tasks().drain(..) {
            task.abort();
        }
        self.inner.notifier.save_now();
        if let Some(write) = evaluation::encode_history(&self.inner) {
            let _ = tokio::task::spawn_blocking(write).await;
        }
        self.inner.delivery.shutdown(grace).await
    }
}

/// Hands each notification to delivery; `notify` never waits (a full queue drops and
/// counts).
async fn forward(
    mut notifications: mpsc::Receiver<crate::notification::Notification>,
    delivery: Delivery,
) {
    while let Some(notification) = notifications.recv().await {
        delivery.notify(notification);
    }
}
