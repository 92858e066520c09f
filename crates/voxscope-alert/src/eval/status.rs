//! What a rule shows of itself: the fields of Prometheus's `/api/v1/rules`.

use serde::Serialize;

use super::{ActiveAlert, AlertState, Labels};

/// Whether a rule's last evaluation worked, as Prometheus's `/api/v1/rules` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleHealth {
    /// Not evaluated yet.
    Unknown,
    /// The last evaluation succeeded.
    Ok,
    /// The last evaluation failed; see [`RuleStatus::last_error`].
    Err,
}

/// Recording or alerting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// Writes its result as a new series.
    Recording,
    /// Raises alerts.
    Alerting,
}

/// One rule as Prometheus's `/api/v1/rules` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleStatus {
    /// The rule group, as in the generated rule file.
    pub group: &'static str,
    /// Recording or alerting.
    pub kind: RuleKind,
    /// The alertname or recorded series name.
    pub name: String,
    /// The PromQL text, as the generated rule file has it.
    pub query: String,
    /// `for`, seconds (0 for recording rules).
    pub duration_seconds: u64,
    /// `keep_firing_for`, seconds.
    pub keep_firing_for_seconds: u64,
    /// Static labels (severity and category of alerts included).
    pub labels: Labels,
    /// Annotation templates, unexpanded.
    pub annotations: Labels,
    /// Whether the last evaluation worked.
    pub health: RuleHealth,
    /// The last evaluation's error.
    pub last_error: Option<String>,
    /// When it was last evaluated, unix milliseconds.
    pub last_evaluation_ms: Option<i64>,
    /// How long the last evaluation took, seconds.
    pub evaluation_time_seconds: f64,
    /// Firing: any alert fires; pending: any is pending; else inactive. `None` for
    /// recording rules.
    pub state: Option<AlertState>,
    /// Its pending and firing alerts.
    pub alerts: Vec<ActiveAlert>,
}
