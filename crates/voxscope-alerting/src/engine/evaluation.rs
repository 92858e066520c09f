//! One evaluation, and the loop that runs one every interval.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use voxscope_alert::eval::{ActiveAlert, AlertState, Labels, RuleEvaluator, Storage};
use voxscope_core::catalog::{
    VOXSCOPE_ALERT_EVALUATION_DURATION_SECONDS, VOXSCOPE_ALERTS_FIRING, VOXSCOPE_HISTORY_BYTES,
    VOXSCOPE_HISTORY_SAMPLES, VOXSCOPE_HISTORY_SERIES,
};

use super::{Inner, Scrape};
use crate::dispatch::Muter;
use crate::notification::{NotifiedAlert, Status};
use crate::silence::DEFAULT_RETENTION_MS;

/// The evaluator, its storage and what one evaluation needs.
pub(crate) struct Evaluation {
    pub(crate) evaluator: RuleEvaluator,
    storage: Storage,
    target: Labels,
    scrape: Scrape,
    /// `(alertname, severity)` of every `voxscope_alerts_firing` series set so far: one
    /// that stops firing goes back to 0 rather than keeping its last count.
    firing_series: BTreeMap<(String, String), usize>,
    /// The silences as last saved, to save again only when they change.
    silences_saved: serde_json::Value,
    /// When alerts were last pushed to an Alertmanager, and what was pushed.
    pushed: Option<(i64, Vec<(String, Status)>)>,
    /// When the rules were last evaluated and how long that took.
    pub(crate) last: Option<(i64, f64)>,
}

impl Evaluation {
    pub(crate) fn new(
        evaluator: RuleEvaluator,
        storage: Storage,
        target: Labels,
        scrape: Scrape,
    ) -> Self {
        Self {
            evaluator,
            storage,
            target,
            scrape,
            firing_series: BTreeMap::new(),
            silences_saved: serde_json::Value::Null,
            pushed: None,
            last: None,
        }
    }

    /// The samples the rules read, as the last scrape left them.
    pub(crate) fn storage(&self) -> &Storage {
        &self.storage
    }

    fn run(&mut self, now_ms: i64) -> Vec<ActiveAlert> {
        let text = (self.scrape)();
        match self.storage.ingest_exposition(&text, now_ms, &self.target) {
            Ok(scrape) if scrape.rejected > 0 => tracing::warn!(
                target: "voxscope::alerting",
                rejected = scrape.rejected,
                series = self.storage.series_count(),
                "samples not stored: the evaluator's series limit is reached"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(
                target: "voxscope::alerting",
                error = %e,
                "the service's exposition did not scrape; rules see its series go stale"
            ),
        }
        let alerts = self.evaluator.evaluate(&mut self.storage, now_ms);
        let stats = self.storage.stats();
        metrics::gauge!(VOXSCOPE_HISTORY_SERIES.name).set(stats.series as f64);
        metrics::gauge!(VOXSCOPE_HISTORY_BYTES.name).set(stats.bytes as f64);
        for (tier, samples) in [
            ("raw", stats.raw_samples),
            ("aggregate", stats.aggregate_steps),
            ("summary", stats.summary_steps),
        ] {
            metrics::gauge!(VOXSCOPE_HISTORY_SAMPLES.name, "tier" => tier).set(samples as f64);
        }
        alerts
    }

    /// Sets `voxscope_alerts_firing` to the count of firing alerts per alertname and
    /// severity, and back to 0 for those that stopped.
    fn publish(&mut self, alerts: &[ActiveAlert]) -> usize {
        let mut firing: BTreeMap<(String, String), usize> =
            self.firing_series.keys().map(|k| (k.clone(), 0)).collect();
        for alert in alerts.iter().filter(|a| a.state == AlertState::Firing) {
            let label = |name: &str| alert.labels.get(name).cloned().unwrap_or_default();
            *firing.entry((label("alertname"), label("severity"))).or_default() += 1;
        }
        let mut total = 0;
        for ((alertname, severity), count) in &firing {
            total += count;
            metrics::gauge!(
                VOXSCOPE_ALERTS_FIRING.name,
                "alertname" => alertname.clone(),
                "severity" => severity.clone()
            )
            .set(*count as f64);
        }
        self.firing_series = firing;
        total
    }
}

/// One evaluation: scrape, rules, dispatch, metrics; the count of firing alerts.
pub(crate) fn tick(inner: &Inner) -> usize {
    let started = Instant::now();
    let now_ms = inner.clock.now_ms();
    // The gauge is set under the same lock as the alerts it counts: whoever reads an
    // alert firing through the API finds `voxscope_alerts_firing` counting it.
    let (alerts, firing) = {
        let mut evaluation = inner.evaluation();
        let alerts = evaluation.run(now_ms);
        let firing = evaluation.publish(&alerts);
        (alerts, firing)
    };
    inner.notifier.observe(&alerts);
    if let Some(pushed) = pushed_alerts(&alerts) {
        // As Prometheus: resend what is unchanged once a minute, a change at once.
        let key: Vec<(String, Status)> =
            pushed.iter().map(|a| (a.fingerprint.clone(), a.status)).collect();
        let mut evaluation = inner.evaluation();
        let due = match &evaluation.pushed {
            Some((at, last)) => *last != key || now_ms - at >= RESEND_DELAY_MS,
            None => true,
        };
        if due {
            evaluation.pushed = Some((now_ms, key));
            drop(evaluation);
            inner.delivery.push_alerts(pushed);
        }
    }
    let silences = {
        let mut store = inner.silences.lock();
        store.gc(now_ms, DEFAULT_RETENTION_MS);
        drop(store);
        inner.silences.persisted()
    };
    let mut evaluation = inner.evaluation();
    if silences != evaluation.silences_saved {
        evaluation.silences_saved = silences;
        inner.notifier.persist_soon();
    }
    let seconds = started.elapsed().as_secs_f64();
    evaluation.last = Some((now_ms, seconds));
    drop(evaluation);
    metrics::histogram!(VOXSCOPE_ALERT_EVALUATION_DURATION_SECONDS.name).record(seconds);
    firing
}

/// How often unchanged alerts are pushed again to an Alertmanager (Prometheus's
/// `--rules.alert.resend-delay`).
const RESEND_DELAY_MS: i64 = 60_000;

/// What Prometheus pushes to an Alertmanager: firing alerts, and resolved ones with
/// their end, never pending ones. `None` when there is nothing to push.
fn pushed_alerts(alerts: &[ActiveAlert]) -> Option<Vec<NotifiedAlert>> {
    let pushed: Vec<NotifiedAlert> = alerts
        .iter()
        .filter_map(|alert| {
            let (status, ends_at_ms) = match (alert.state, alert.resolved_at_ms) {
                (AlertState::Firing, _) => (Status::Firing, None),
                (AlertState::Inactive, Some(at)) if alert.fired_at_ms.is_some() => {
                    (Status::Resolved, Some(at))
                }
                _ => return None,
            };
            let starts_at_ms = alert.fired_at_ms.unwrap_or(alert.active_at_ms);
            Some(NotifiedAlert::of(alert, status, starts_at_ms, ends_at_ms, String::new()))
        })
        .collect();
    (!pushed.is_empty()).then_some(pushed)
}

/// Evaluates every interval (of the engine's clock) until the engine stops; the first
/// evaluation runs one interval after the start, when the service has metrics to show.
pub(crate) async fn run(inner: Arc<Inner>) {
    let period = inner.clock.wall(inner.interval);
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        tick(&inner);
        if inner.history.as_ref().is_some_and(|h| h.due(inner.clock.now_ms()))
            && let Some(write) = encode_history(&inner)
        {
            // Written off the runtime's threads; the next tick does not wait for it.
            drop(tokio::task::spawn_blocking(write));
        }
    }
}

/// The metric history encoded now, under the evaluation lock, and the write of it to
/// run off that lock; `None` when the history is not persisted or did not encode.
pub(crate) fn encode_history(inner: &Inner) -> Option<impl FnOnce() + Send + 'static> {
    let saver = Arc::clone(inner.history.as_ref()?);
    let now_ms = inner.clock.now_ms();
    let bytes = saver.encode(inner.evaluation().storage(), now_ms)?;
    Some(move || saver.write(now_ms, &bytes))
}
