//! `GET /api/v1/alerts` and `GET /api/v1/rules` in Prometheus's HTTP API format, so
//! Grafana's Prometheus data source and other Prometheus clients read the engine.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use voxscope_alert::eval::{ActiveAlert, AlertState, Labels};

use super::ApiState;
use super::query::QueryPairs;
use super::source::{AlertingRuleView, RecordingRuleView, RuleEvaluation, RuleGroupView, RuleView};
use super::time::{GO_ZERO_TIME, format_ms};

#[derive(Serialize)]
struct Success<T> {
    status: &'static str,
    data: T,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Failure {
    status: &'static str,
    error_type: &'static str,
    error: String,
}

/// Prometheus's success envelope: `{"status":"success","data":...}`.
pub(crate) fn success<T: Serialize>(data: T) -> Response {
    Json(Success { status: "success", data }).into_response()
}

/// Prometheus's error envelope: `{"status":"error","errorType":...,"error":...}`.
pub(crate) fn failure(status: StatusCode, error_type: &'static str, error: String) -> Response {
    (status, Json(Failure { status: "error", error_type, error })).into_response()
}

fn bad_data(error: String) -> Response {
    failure(StatusCode::BAD_REQUEST, "bad_data", error)
}

/// One alert as Prometheus's `/api/v1/alerts` and `/api/v1/rules` show it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertJson<'a> {
    labels: &'a Labels,
    annotations: &'a Labels,
    state: &'static str,
    active_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep_firing_since: Option<String>,
    value: String,
}

/// Pending and firing alerts; resolved ones are not active, as in Prometheus.
fn active_json(alerts: &[ActiveAlert]) -> Vec<AlertJson<'_>> {
    alerts
        .iter()
        .filter_map(|a| {
            let state = match a.state {
                AlertState::Pending => "pending",
                AlertState::Firing => "firing",
                AlertState::Inactive => return None,
            };
            Some(AlertJson {
                labels: &a.labels,
                annotations: &a.annotations,
                state,
                active_at: format_ms(a.active_at_ms),
                keep_firing_since: a.keep_firing_since_ms.map(format_ms),
                value: go_float_e(a.value),
            })
        })
        .collect()
}

/// A float as Go's `strconv.FormatFloat(v, 'e', -1, 64)` writes it: `1e+00`, `5.23e-02`.
pub(crate) fn go_float_e(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let text = format!("{value:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

#[derive(Serialize)]
struct AlertsData<'a> {
    alerts: Vec<AlertJson<'a>>,
}

pub(crate) async fn alerts(State(state): State<Arc<ApiState>>) -> Response {
    let mut alerts: Vec<ActiveAlert> = state.source.alerts().into_iter().map(|v| v.alert).collect();
    alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
    success(AlertsData { alerts: active_json(&alerts) })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupJson<'a> {
    name: &'a str,
    file: &'a str,
    rules: Vec<RuleJson<'a>>,
    interval: f64,
    limit: u64,
    evaluation_time: f64,
    last_evaluation: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum RuleJson<'a> {
    Alerting(AlertingJson<'a>),
    Recording(RecordingJson<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EvaluationJson<'a> {
    health: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<&'a str>,
    evaluation_time: f64,
    last_evaluation: String,
}

impl<'a> From<&'a RuleEvaluation> for EvaluationJson<'a> {
    fn from(e: &'a RuleEvaluation) -> Self {
        Self {
            health: e.health.as_str(),
            last_error: e.last_error.as_deref().filter(|e| !e.is_empty()),
            evaluation_time: e.evaluation_seconds,
            last_evaluation: last_evaluation(e.last_evaluation_ms),
        }
    }
}

fn last_evaluation(ms: Option<i64>) -> String {
    ms.map_or_else(|| GO_ZERO_TIME.to_owned(), format_ms)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertingJson<'a> {
    state: &'static str,
    name: &'a str,
    query: &'a str,
    duration: f64,
    keep_firing_for: f64,
    labels: &'a Labels,
    annotations: &'a Labels,
    alerts: Vec<AlertJson<'a>>,
    #[serde(flatten)]
    evaluation: EvaluationJson<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordingJson<'a> {
    name: &'a str,
    query: &'a str,
    #[serde(skip_serializing_if = "Labels::is_empty")]
    labels: &'a Labels,
    #[serde(flatten)]
    evaluation: EvaluationJson<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A rule's state: its highest alert state, as Prometheus's `AlertingRule.State`.
fn rule_state(rule: &AlertingRuleView) -> &'static str {
    let has = |s: AlertState| rule.alerts.iter().any(|a| a.state == s);
    if has(AlertState::Firing) {
        "firing"
    } else if has(AlertState::Pending) {
        "pending"
    } else {
        "inactive"
    }
}

fn alerting_json(rule: &AlertingRuleView, exclude_alerts: bool) -> AlertingJson<'_> {
    AlertingJson {
        state: rule_state(rule),
        name: &rule.name,
        query: &rule.query,
        duration: rule.duration_seconds,
        keep_firing_for: rule.keep_firing_for_seconds,
        labels: &rule.labels,
        annotations: &rule.annotations,
        alerts: if exclude_alerts { Vec::new() } else { active_json(&rule.alerts) },
        evaluation: (&rule.evaluation).into(),
        kind: "alerting",
    }
}

fn recording_json(rule: &RecordingRuleView) -> RecordingJson<'_> {
    RecordingJson {
        name: &rule.name,
        query: &rule.query,
        labels: &rule.labels,
        evaluation: (&rule.evaluation).into(),
        kind: "recording",
    }
}

/// The filters of `/api/v1/rules`: `type`, `rule_name[]`, `rule_group[]`, `file[]`,
/// `exclude_alerts`.
struct RuleFilter {
    alerting: bool,
    recording: bool,
    names: Vec<String>,
    groups: Vec<String>,
    files: Vec<String>,
    exclude_alerts: bool,
}

impl RuleFilter {
    fn parse(query: &QueryPairs) -> Result<Self, String> {
        let (alerting, recording) = match query.last("type") {
            None | Some("") => (true, true),
            Some("alert") => (true, false),
            Some("record") => (false, true),
            Some(other) => return Err(format!("unsupported type {other:?}: use alert or record")),
        };
        let list = |key: &str| query.all(key).into_iter().map(str::to_owned).collect::<Vec<_>>();
        Ok(Self {
            alerting,
            recording,
            names: list("rule_name[]"),
            groups: list("rule_group[]"),
            files: list("file[]"),
            exclude_alerts: query.flag("exclude_alerts", false)?,
        })
    }

    fn filters(&self) -> bool {
        let everything = self.alerting
            && self.recording
            && self.names.is_empty()
            && self.groups.is_empty()
            && self.files.is_empty();
        !everything
    }

    fn keeps_group(&self, group: &RuleGroupView) -> bool {
        (self.groups.is_empty() || self.groups.contains(&group.name))
            && (self.files.is_empty() || self.files.contains(&group.file))
    }

    fn keeps_rule(&self, name: &str) -> bool {
        self.names.is_empty() || self.names.iter().any(|n| n == name)
    }
}

#[derive(Serialize)]
struct RulesData<'a> {
    groups: Vec<GroupJson<'a>>,
}

pub(crate) async fn rules(State(state): State<Arc<ApiState>>, RawQuery(raw): RawQuery) -> Response {
    let filter = match RuleFilter::parse(&QueryPairs::parse(raw.as_deref())) {
        Ok(filter) => filter,
        Err(error) => return bad_data(error),
    };
    let groups = state.source.rule_groups();
    let groups = groups
        .iter()
        .filter(|group| filter.keeps_group(group))
        .map(|group| GroupJson {
            name: &group.name,
            file: &group.file,
            rules: group
                .rules
                .iter()
                .filter_map(|rule| match rule {
                    RuleView::Alerting(r) if filter.alerting && filter.keeps_rule(&r.name) => {
                        Some(RuleJson::Alerting(alerting_json(r, filter.exclude_alerts)))
                    }
                    RuleView::Recording(r) if filter.recording && filter.keeps_rule(&r.name) => {
                        Some(RuleJson::Recording(recording_json(r)))
                    }
                    _ => None,
                })
                .collect(),
            interval: group.interval_seconds,
            limit: 0,
            evaluation_time: group.evaluation_seconds,
            last_evaluation: last_evaluation(group.last_evaluation_ms),
        })
        .filter(|group| !(filter.filters() && group.rules.is_empty()))
        .collect();
    success(RulesData { groups })
}

#[cfg(test)]
mod tests {
    use super::go_float_e;

    #[test]
    fn values_read_as_go_writes_them() {
        assert_eq!(go_float_e(1.0), "1e+00");
        assert_eq!(go_float_e(0.0523), "5.23e-02");
        assert_eq!(go_float_e(1234.5), "1.2345e+03");
        assert_eq!(go_float_e(-2.5e-300), "-2.5e-300");
        assert_eq!(go_float_e(0.0), "0e+00");
        assert_eq!(go_float_e(f64::NAN), "NaN");
        assert_eq!(go_float_e(f64::NEG_INFINITY), "-Inf");
    }
}
