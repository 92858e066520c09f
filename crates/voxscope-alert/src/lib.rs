//! Alert and SLO rules for voxscope services as typed Rust data, and the generators
//! that turn them into Prometheus rules and unit tests, an Alertmanager configuration,
//! Grafana dashboards and runbooks.
//!
//! ```
//! use voxscope_alert::{Config, RuleCatalog, prometheus};
//!
//! let config = Config::from_toml("[thresholds]\nhttp_error_ratio = 0.02\n").unwrap();
//! let catalog = RuleCatalog::new(config).unwrap();
//! let rules = prometheus::rule_file(&catalog);
//! assert!(rules.contains("> 0.02"));
//! ```
//!
//! Every rule names only metrics and labels of [`voxscope_core::catalog`]
//! ([`promql::check`] proves it), and every latency threshold is a bucket bound.
//! [`eval`] evaluates the same typed rules in process, with Prometheus's semantics, for
//! services that run without a Prometheus.
#![deny(missing_docs)]

pub mod alertmanager;
pub mod capacity;
pub mod collector;
pub mod config;
pub mod custom;
pub mod delivery;
pub mod deploy;
pub mod engine;
mod error;
pub mod eval;
pub mod expr;
mod families;
mod fixture;
pub mod grafana;
pub mod history;
pub mod host;
pub mod humanize;
pub mod model;
pub mod probe;
pub mod prometheus;
pub mod promql;
pub mod receiver;
pub mod report;
pub mod routing;
mod rules;
pub mod runbook;
pub mod scaleout;
pub mod slo;
pub mod yaml;

use std::collections::BTreeMap;

pub use config::Config;
pub use error::Error;
pub use model::{AlertRule, Category, Fixture, RecordingRule, Series, Severity, ValueFormat};
pub use rules::anomaly;

/// Every alert, recording rule and SLO of one configuration.
#[derive(Clone, Debug)]
pub struct RuleCatalog {
    /// The validated configuration.
    pub config: Config,
    /// The objectives.
    pub slos: Vec<slo::Slo>,
    /// Recording rules (SLO error ratios, capacity usage, the anomaly signals and their
    /// bands).
    pub recording: Vec<RecordingRule>,
    /// Threshold alerts, SLO burn-rate alerts, anomaly alerts, then custom rules,
    /// overrides applied.
    pub alerts: Vec<AlertRule>,
    /// `(alertname, measure)` of every built-in alert, disabled ones included: the
    /// dashboards show them either way.
    pub measures: Vec<(String, expr::Expr)>,
}

/// The built-in threshold, burn-rate and anomaly alerts of `config`, before overrides.
pub(crate) fn builtin_alerts(config: &Config) -> Vec<AlertRule> {
    let mut alerts = rules::threshold_alerts(config);
    alerts.extend(slo::burn_alerts(&slo::slos(config), config.thresholds.min_events));
    alerts.extend(anomaly_rules(config).alerts);
    alerts
}

/// The anomaly detectors' recording and alerting rules under `config`'s job.
fn anomaly_rules(config: &Config) -> anomaly::AnomalyRules {
    let scope = expr::Scope::rules(config.job_matcher(), rules::WINDOW);
    anomaly::anomaly_rules(&anomaly::AnomalySettings::default(), &scope)
}

impl RuleCatalog {
    /// Builds the catalog of `config`.
    ///
    /// ```
    /// let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
    /// assert!(catalog.alerts.iter().any(|a| a.name == "ServiceDown"));
    /// ```
    ///
    /// # Errors
    /// The first invalid setting, as [`Config::validate`] reports it.
    pub fn new(config: Config) -> Result<Self, Error> {
        config.validate()?;
        let mut slos = slo::slos(&config);
        let scope = expr::Scope::rules(config.job_matcher(), rules::WINDOW);
        let mut recording = slo::recording_rules(&slos);
        recording.extend(config.capacity.recording_rules(&scope));
        recording.extend(anomaly_rules(&config).recording);
        let builtin = builtin_alerts(&config);
        let measures = builtin.iter().map(|a| (a.name.clone(), a.measure.clone())).collect();
        let mut alerts = custom::apply(&config, &scope, builtin);
        let mut enabled = families::Enabled::new(&config);
        if !enabled.is_all() {
            // What a disabled family would feed is left out: its recording rules, the
            // rules reading them or its metrics, its objectives.
            let (kept, dropped) = recording.into_iter().partition(|r| enabled.reads(&r.query));
            recording = kept;
            dropped.iter().for_each(|r: &RecordingRule| enabled.drop_record(&r.record));
            alerts.retain(|a| enabled.reads(&a.condition));
            slos.retain(|s| enabled.reads(&s.error_ratio_over(rules::WINDOW)));
        }
        Ok(Self { config, slos, recording, alerts, measures })
    }

    /// Whether every series `expr` reads belongs to a family that `enabled_metrics`
    /// keeps on (always, without `enabled_metrics`).
    ///
    /// ```
    /// use voxscope_alert::expr::{Expr, Selector};
    /// let config = voxscope_alert::Config::from_toml("enabled_metrics = [\"calls\"]").unwrap();
    /// let catalog = voxscope_alert::RuleCatalog::new(config).unwrap();
    /// assert!(catalog.records(&Expr::vector(Selector::new("voice_calls_active"))));
    /// assert!(!catalog.records(&Expr::vector(Selector::new("http_server_active_requests"))));
    /// ```
    pub fn records(&self, expr: &expr::Expr) -> bool {
        families::Enabled::new(&self.config).reads(expr)
    }

    /// The alertnames, each once, in catalog order.
    pub fn alertnames(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for alert in &self.alerts {
            if !names.contains(&alert.name.as_str()) {
                names.push(&alert.name);
            }
        }
        names
    }

    /// The annotations of `rule`: summary, description, runbook and dashboard links.
    pub fn annotations(&self, rule: &AlertRule) -> BTreeMap<String, String> {
        let service = &self.config.service;
        BTreeMap::from([
            ("summary".to_owned(), rule.summary.clone()),
            ("description".to_owned(), rule.description.clone()),
            (
                "runbook_url".to_owned(),
                format!("{}/{}.md", service.runbook_base_url.trim_end_matches('/'), rule.name),
            ),
            (
                "dashboard".to_owned(),
                format!("{}/d/{}", service.grafana_url.trim_end_matches('/'), rule.dashboard),
            ),
        ])
    }
}
