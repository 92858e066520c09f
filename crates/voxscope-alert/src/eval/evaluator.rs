//! The rule evaluator: the catalog's recording rules, then its alerting rules, evaluated
//! at one instant over a [`Storage`], as one Prometheus rule-group iteration.
//!
//! ```
//! use voxscope_alert::RuleCatalog;
//! use voxscope_alert::eval::{AlertState, RuleEvaluator, StorageLimits};
//!
//! let catalog = RuleCatalog::new(Default::default()).unwrap();
//! let mut evaluator = RuleEvaluator::new(&catalog);
//! let mut storage = evaluator.storage(StorageLimits::default());
//! let alerts = evaluator.evaluate(&mut storage, 60_000);
//! // With no series at all the heartbeat fires and the service's job is absent.
//! let firing: Vec<&str> = alerts
//!     .iter()
//!     .filter(|a| a.state == AlertState::Firing)
//!     .map(|a| a.labels["alertname"].as_str())
//!     .collect();
//! assert_eq!(firing, ["Watchdog"]);
//! assert!(alerts.iter().any(|a| a.labels["alertname"] == "ServiceDown"));
//! ```

use std::collections::BTreeSet;
use std::time::Instant;

use super::error::EvalError;
use super::query::{Query, Sample};
use super::rule_state::{AlertStates, Hit};
use super::status::{RuleHealth, RuleKind, RuleStatus};
use super::storage::{METRIC_NAME, Storage, StorageLimits};
use super::template::expand;
use super::{ActiveAlert, AlertState, Labels};
use crate::RuleCatalog;
use crate::expr::Scope;

/// The group names of the generated rule file.
const RECORDING_GROUP: &str = "voxscope-slo-recordings";
const ALERTING_GROUP: &str = "voxscope-alerts";

/// What every rule keeps of its last evaluation.
#[derive(Clone, Debug)]
struct Health {
    query: Result<Query, EvalError>,
    last_error: Option<String>,
    last_evaluation_ms: Option<i64>,
    evaluation_time_seconds: f64,
}

impl Health {
    fn new(query: Result<Query, EvalError>) -> Self {
        Self { query, last_error: None, last_evaluation_ms: None, evaluation_time_seconds: 0.0 }
    }

    /// Runs the query at `t_ms`, keeping how it went.
    fn run(&mut self, storage: &Storage, t_ms: i64) -> Option<Vec<Sample>> {
        let started = Instant::now();
        let result = self.query.as_ref().map_err(Clone::clone).and_then(|q| q.at(storage, t_ms));
        self.last_evaluation_ms = Some(t_ms);
        self.evaluation_time_seconds = started.elapsed().as_secs_f64();
        self.last_error = result.as_ref().err().map(ToString::to_string);
        result.ok()
    }

    fn fail(&mut self, error: &EvalError) {
        self.last_error = Some(error.to_string());
    }

    fn health(&self) -> RuleHealth {
        match (&self.last_evaluation_ms, &self.last_error) {
            (_, Some(_)) => RuleHealth::Err,
            (None, None) => RuleHealth::Unknown,
            (Some(_), None) => RuleHealth::Ok,
        }
    }
}

#[derive(Clone, Debug)]
struct Recording {
    record: String,
    text: String,
    labels: Labels,
    health: Health,
    /// The series it wrote last time: those missing now are marked stale.
    previous: BTreeSet<Labels>,
}

#[derive(Clone, Debug)]
struct Alerting {
    name: String,
    text: String,
    for_seconds: u64,
    keep_firing_for_seconds: u64,
    /// `severity`, `category` and the rule's own labels.
    labels: Labels,
    annotations: Labels,
    health: Health,
    states: AlertStates,
}

impl Alerting {
    /// The alerts `samples` raise: the series' labels without the name, the rule's
    /// labels, `alertname`; annotations expanded per series.
    fn hits(&self, samples: Vec<Sample>) -> Result<Vec<Hit>, EvalError> {
        let mut seen = BTreeSet::new();
        let mut hits = Vec::with_capacity(samples.len());
        for sample in samples {
            let mut labels = sample.labels.clone();
            labels.remove(METRIC_NAME);
            for (k, v) in &self.labels {
                labels.insert(k.clone(), expand(v, &sample.labels, sample.value));
            }
            labels.insert("alertname".to_owned(), self.name.clone());
            labels.retain(|_, v| !v.is_empty());
            if !seen.insert(labels.clone()) {
                return Err(EvalError::DuplicateAfterRuleLabels("alert"));
            }
            let annotations = self
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), expand(v, &sample.labels, sample.value)))
                .collect();
            hits.push(Hit { labels, annotations, value: sample.value });
        }
        Ok(hits)
    }
}

/// Evaluates a [`RuleCatalog`]'s rules in process, with Prometheus's semantics.
///
/// Each [`RuleEvaluator::evaluate`] is one iteration of both rule groups at one instant:
/// recording rules first, their results written back into the storage, then alerting
/// rules, whose alerts move through [`AlertState`] as Prometheus's rule manager moves
/// them (`for`, `keep_firing_for`, resolved alerts kept 15 minutes).
#[derive(Clone, Debug)]
pub struct RuleEvaluator {
    recording: Vec<Recording>,
    alerting: Vec<Alerting>,
}

impl RuleEvaluator {
    /// The evaluator of `catalog`'s recording and alerting rules, in the catalog's job
    /// scope. A rule whose condition cannot be compiled stays in [`RuleEvaluator::rules`]
    /// with its error, and raises nothing.
    pub fn new(catalog: &RuleCatalog) -> Self {
        let scope = Scope::rules(catalog.config.job_matcher(), crate::rules::WINDOW);
        let recording = catalog
            .recording
            .iter()
            .map(|rule| Recording {
                record: rule.record.clone(),
                text: rule.expr.clone(),
                labels: rule.labels.clone(),
                health: Health::new(Query::new(&rule.query, &scope)),
                previous: BTreeSet::new(),
            })
            .collect();
        let alerting = catalog
            .alerts
            .iter()
            .map(|rule| {
                let mut labels = Labels::from([
                    ("severity".to_owned(), rule.severity.as_str().to_owned()),
                    ("category".to_owned(), rule.category.as_str().to_owned()),
                ]);
                labels.extend(rule.labels.clone());
                Alerting {
                    name: rule.name.clone(),
                    text: rule.expr.clone(),
                    for_seconds: rule.for_seconds,
                    keep_firing_for_seconds: rule.keep_firing_for_seconds,
                    labels,
                    annotations: catalog.annotations(rule),
                    health: Health::new(Query::new(&rule.condition, &scope)),
                    states: AlertStates::default(),
                }
            })
            .collect();
        Self { recording, alerting }
    }

    /// A storage of `limits` that reaches back at least as far as a rule reads (its
    /// longest range plus the lookback).
    ///
    /// ```
    /// use voxscope_alert::eval::{RuleEvaluator, StorageLimits};
    /// let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
    /// let storage = RuleEvaluator::new(&catalog).storage(StorageLimits::default());
    /// assert_eq!(storage.series_count(), 0);
    /// ```
    pub fn storage(&self, limits: StorageLimits) -> Storage {
        let mut storage = Storage::new(limits);
        self.reach_back(&mut storage);
        storage
    }

    /// Makes `storage` (a restored one, say) reach back at least as far as a rule reads:
    /// its longest range plus the lookback.
    ///
    /// ```
    /// use voxscope_alert::eval::{RuleEvaluator, StepTier, Storage, StorageLimits};
    /// let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
    /// let day = StepTier { step_ms: 60_000, retention_ms: 86_400_000 };
    /// let limits = StorageLimits { aggregates: day, summaries: StepTier::OFF, ..Default::default() };
    /// let mut storage = Storage::new(limits);
    /// RuleEvaluator::new(&catalog).reach_back(&mut storage);
    /// // The anomaly rules' week band (the hour around this time a week ago: 7 days and
    /// // 30 minutes back), and the lookback.
    /// assert_eq!(storage.limits().span_ms(), 7 * 86_400_000 + 1_800_000 + 300_000);
    /// ```
    pub fn reach_back(&self, storage: &mut Storage) {
        let queries = self
            .recording
            .iter()
            .map(|r| &r.health.query)
            .chain(self.alerting.iter().map(|a| &a.health.query));
        for query in queries.flatten() {
            for ms in query.ranges() {
                storage.keep_for(ms);
            }
        }
    }

    /// Evaluates every rule at `t_ms` and returns every alert: pending, firing, and
    /// resolved ones (inactive, with `resolved_at_ms`) for 15 minutes after they resolved.
    pub fn evaluate(&mut self, storage: &mut Storage, t_ms: i64) -> Vec<ActiveAlert> {
        for rule in &mut self.recording {
            let Some(samples) = rule.health.run(storage, t_ms) else { continue };
            let mut written = BTreeSet::new();
            for sample in samples {
                let mut labels = sample.labels;
                labels.insert(METRIC_NAME.to_owned(), rule.record.clone());
                labels.extend(rule.labels.clone());
                labels.retain(|_, v| !v.is_empty());
                if !written.insert(labels.clone()) {
                    rule.health.fail(&EvalError::DuplicateAfterRuleLabels("rule"));
                    continue;
                }
                // A rejected sample is counted by the storage.
                let _ = storage.append(&labels, t_ms, sample.value);
            }
            for gone in rule.previous.difference(&written) {
                storage.mark_stale(gone, t_ms);
            }
            rule.previous = written;
        }
        for rule in &mut self.alerting {
            let hits = match rule.health.run(storage, t_ms).map(|s| rule.hits(s)) {
                Some(Ok(hits)) => hits,
                Some(Err(error)) => {
                    rule.health.fail(&error);
                    continue;
                }
                None => continue,
            };
            let for_ms = rule.for_seconds as i64 * 1000;
            let keep_ms = rule.keep_firing_for_seconds as i64 * 1000;
            rule.states.update(hits, t_ms, for_ms, keep_ms);
        }
        storage.compact(t_ms);
        self.alerts()
    }

    /// Every alert as of the last evaluation (see [`RuleEvaluator::evaluate`]).
    pub fn alerts(&self) -> Vec<ActiveAlert> {
        self.alerting.iter().flat_map(|r| r.states.alerts().cloned()).collect()
    }

    /// Puts alerts saved before a restart back under their rules, with their state and
    /// times: a firing alert comes back firing, not pending. An alert is restored under
    /// the first rule of its `alertname` whose static labels it carries; returns how
    /// many found their rule.
    ///
    /// ```
    /// use voxscope_alert::eval::{AlertState, RuleEvaluator};
    /// let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
    /// let mut before = RuleEvaluator::new(&catalog);
    /// let mut storage = before.storage(Default::default());
    /// let saved = before.evaluate(&mut storage, 0);
    /// let mut after = RuleEvaluator::new(&catalog);
    /// assert_eq!(after.restore(saved.clone()), saved.len());
    /// assert_eq!(after.alerts(), saved);
    /// ```
    pub fn restore(&mut self, alerts: Vec<ActiveAlert>) -> usize {
        let mut restored = 0;
        for alert in alerts {
            let rule = self.alerting.iter_mut().find(|rule| {
                alert.labels.get("alertname") == Some(&rule.name)
                    && rule
                        .labels
                        .iter()
                        .all(|(k, v)| v.contains("{{") || alert.labels.get(k) == Some(v))
            });
            if let Some(rule) = rule {
                rule.states.restore(alert);
                restored += 1;
            }
        }
        restored
    }

    /// Every rule with its health and alerts, recording rules first, in catalog order.
    pub fn rules(&self) -> Vec<RuleStatus> {
        let recording = self.recording.iter().map(|r| RuleStatus {
            group: RECORDING_GROUP,
            kind: RuleKind::Recording,
            name: r.record.clone(),
            query: r.text.clone(),
            duration_seconds: 0,
            keep_firing_for_seconds: 0,
            labels: r.labels.clone(),
            annotations: Labels::new(),
            health: r.health.health(),
            last_error: r.health.last_error.clone(),
            last_evaluation_ms: r.health.last_evaluation_ms,
            evaluation_time_seconds: r.health.evaluation_time_seconds,
            state: None,
            alerts: Vec::new(),
        });
        let alerting = self.alerting.iter().map(|r| {
            let alerts: Vec<ActiveAlert> =
                r.states.alerts().filter(|a| a.state != AlertState::Inactive).cloned().collect();
            let state = [AlertState::Firing, AlertState::Pending]
                .into_iter()
                .find(|s| alerts.iter().any(|a| a.state == *s))
                .unwrap_or(AlertState::Inactive);
            RuleStatus {
                group: ALERTING_GROUP,
                kind: RuleKind::Alerting,
                name: r.name.clone(),
                query: r.text.clone(),
                duration_seconds: r.for_seconds,
                keep_firing_for_seconds: r.keep_firing_for_seconds,
                labels: r.labels.clone(),
                annotations: r.annotations.clone(),
                health: r.health.health(),
                last_error: r.health.last_error.clone(),
                last_evaluation_ms: r.health.last_evaluation_ms,
                evaluation_time_seconds: r.health.evaluation_time_seconds,
                state: Some(state),
                alerts,
            }
        });
        recording.chain(alerting).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_evaluator_and_its_storage_can_live_in_a_task_on_another_thread() {
        fn movable<T: Send + Sync + 'static>() {}
        movable::<RuleEvaluator>();
        movable::<Storage>();
    }
}
