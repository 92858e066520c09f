//! The engine as the HTTP API reads it.

use std::sync::Arc;

use voxscope_alert::eval::{RuleHealth as EvalHealth, RuleKind, RuleStatus};

use super::Inner;
use crate::api::{
    Ack, AckError, AlertSource, AlertView, AlertingRuleView, RecordingRuleView, RuleEvaluation,
    RuleGroupView, RuleHealth, RuleView,
};
use crate::{Error, fingerprint};

/// The name the engine's rules carry as their file in `/api/v1/rules`.
const RULE_FILE: &str = "voxscope (embedded)";

pub(crate) struct EngineSource(pub(crate) Arc<Inner>);

impl AlertSource for EngineSource {
    fn now_ms(&self) -> i64 {
        self.0.clock.now_ms()
    }

    fn alerts(&self) -> Vec<AlertView> {
        // The evaluator's lock is released before the notifier's is taken.
        let alerts = self.0.evaluation().evaluator.alerts();
        alerts
            .into_iter()
            .map(|alert| {
                let notifier = &self.0.notifier;
                AlertView {
                    fingerprint: fingerprint(&alert.labels),
                    receivers: notifier.receivers(&alert.labels),
                    inhibited_by: notifier.muting(&alert.labels).inhibited_by.into_iter().collect(),
                    generator_url: String::new(),
                    alert,
                }
            })
            .collect()
    }

    fn rule_groups(&self) -> Vec<RuleGroupView> {
        let (rules, last) = {
            let evaluation = self.0.evaluation();
            (evaluation.evaluator.rules(), evaluation.last)
        };
        let mut groups: Vec<RuleGroupView> = Vec::new();
        for rule in rules {
            let index = match groups.iter().position(|g| g.name == rule.group) {
                Some(index) => index,
                None => {
                    groups.push(RuleGroupView {
                        name: rule.group.to_owned(),
                        file: RULE_FILE.to_owned(),
                        interval_seconds: self.0.interval.as_secs_f64(),
                        last_evaluation_ms: last.map(|(at, _)| at),
                        evaluation_seconds: 0.0,
                        rules: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            let group = &mut groups[index];
            group.evaluation_seconds += rule.evaluation_time_seconds;
            group.rules.push(view(rule));
        }
        groups
    }

    fn ack(&self, fingerprint: &str, ack: Ack) -> Result<(), AckError> {
        match self.0.notifier.ack(fingerprint, &ack.by, &ack.comment) {
            Ok(_) => Ok(()),
            Err(Error::UnknownAlert(fp)) => Err(AckError::NotFound(fp)),
            Err(e) => Err(AckError::Rejected(e.to_string())),
        }
    }
}

fn view(rule: RuleStatus) -> RuleView {
    let evaluation = RuleEvaluation {
        health: match rule.health {
            EvalHealth::Unknown => RuleHealth::Unknown,
            EvalHealth::Ok => RuleHealth::Ok,
            EvalHealth::Err => RuleHealth::Err,
        },
        last_error: rule.last_error,
        last_evaluation_ms: rule.last_evaluation_ms,
        evaluation_seconds: rule.evaluation_time_seconds,
    };
    match rule.kind {
        RuleKind::Recording => RuleView::Recording(RecordingRuleView {
            name: rule.name,
            query: rule.query,
            labels: rule.labels,
            evaluation,
        }),
        RuleKind::Alerting => RuleView::Alerting(AlertingRuleView {
            name: rule.name,
            query: rule.query,
            duration_seconds: rule.duration_seconds as f64,
            keep_firing_for_seconds: rule.keep_firing_for_seconds as f64,
            labels: rule.labels,
            annotations: rule.annotations,
            alerts: rule.alerts,
            evaluation,
        }),
    }
}
