//! What the HTTP API reads from the engine and the one thing it asks of it (an ack),
//! as plain data, so the API runs the same over the engine and over a test fixture.

use voxscope_alert::eval::{ActiveAlert, Labels};

/// The engine as the HTTP API sees it. The engine implements it; tests implement it
/// over fixed data.
///
/// ```
/// use voxscope_alerting::api::{Ack, AckError, AlertSource, AlertView, RuleGroupView};
///
/// struct Quiet;
/// impl AlertSource for Quiet {
///     fn now_ms(&self) -> i64 { 1_700_000_000_000 }
///     fn alerts(&self) -> Vec<AlertView> { Vec::new() }
///     fn rule_groups(&self) -> Vec<RuleGroupView> { Vec::new() }
///     fn ack(&self, fingerprint: &str, _: Ack) -> Result<(), AckError> {
///         Err(AckError::NotFound(fingerprint.to_owned()))
///     }
/// }
/// # let _ = Quiet.now_ms();
/// ```
pub trait AlertSource: Send + Sync + 'static {
    /// The engine's clock, unix milliseconds: silences start, end and expire by it.
    fn now_ms(&self) -> i64;

    /// The current alerts: pending, firing, and resolved ones still kept. The API shows
    /// pending and firing ones in `/api/v1/alerts` and firing ones in the Alertmanager
    /// API.
    fn alerts(&self) -> Vec<AlertView>;

    /// The rule groups, with their rules' alerts, as `/api/v1/rules` shows them.
    fn rule_groups(&self) -> Vec<RuleGroupView>;

    /// Acknowledges the alert with this fingerprint: its escalation stops.
    ///
    /// # Errors
    /// [`AckError::NotFound`] for an unknown fingerprint, [`AckError::Rejected`] when
    /// the engine refuses (e.g. the alert is not firing).
    fn ack(&self, fingerprint: &str, ack: Ack) -> Result<(), AckError>;
}

/// One alert with what the dispatcher knows of it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertView {
    /// The evaluator's alert.
    pub alert: ActiveAlert,
    /// Alertmanager's fingerprint of the labels, 16 hex digits.
    pub fingerprint: String,
    /// The receivers the route tree sends it to.
    pub receivers: Vec<String>,
    /// Fingerprints of the alerts that inhibit it; empty when none does.
    pub inhibited_by: Vec<String>,
    /// A link back to the rule; may be empty.
    pub generator_url: String,
}

/// Who acknowledges an alert, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ack {
    /// Who acknowledged it.
    pub by: String,
    /// Why, or what is being done.
    pub comment: String,
    /// When, unix milliseconds (the engine's clock).
    pub at_ms: i64,
}

/// Why an ack failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// No current alert has this fingerprint.
    #[error("no alert with fingerprint {0}")]
    NotFound(String),
    /// The engine refused, saying why.
    #[error("{0}")]
    Rejected(String),
}

/// A rule group as Prometheus's rule manager reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleGroupView {
    /// The group name.
    pub name: String,
    /// The rule file it comes from (for the embedded engine, the config's name for it).
    pub file: String,
    /// The evaluation interval, seconds.
    pub interval_seconds: f64,
    /// When the group was last evaluated, unix milliseconds; `None` before the first.
    pub last_evaluation_ms: Option<i64>,
    /// How long the last evaluation of the whole group took, seconds.
    pub evaluation_seconds: f64,
    /// The rules, in evaluation order.
    pub rules: Vec<RuleView>,
}

/// One rule of a group.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleView {
    /// An alerting rule.
    Alerting(AlertingRuleView),
    /// A recording rule.
    Recording(RecordingRuleView),
}

/// Whether a rule's last evaluation worked, as Prometheus says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleHealth {
    /// Never evaluated.
    Unknown,
    /// The last evaluation worked.
    Ok,
    /// The last evaluation failed; see the rule's `last_error`.
    Err,
}

impl RuleHealth {
    /// `"unknown"`, `"ok"` or `"err"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleHealth::Unknown => "unknown",
            RuleHealth::Ok => "ok",
            RuleHealth::Err => "err",
        }
    }
}

/// What every rule reports about its last evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleEvaluation {
    /// Whether it worked.
    pub health: RuleHealth,
    /// The error of the last evaluation, if it failed.
    pub last_error: Option<String>,
    /// When it was last evaluated, unix milliseconds.
    pub last_evaluation_ms: Option<i64>,
    /// How long the last evaluation took, seconds.
    pub evaluation_seconds: f64,
}

/// An alerting rule.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertingRuleView {
    /// The alert name.
    pub name: String,
    /// The PromQL condition as rendered in the generated rules.
    pub query: String,
    /// `for`, seconds.
    pub duration_seconds: f64,
    /// `keep_firing_for`, seconds.
    pub keep_firing_for_seconds: f64,
    /// The rule's static labels.
    pub labels: Labels,
    /// The rule's annotation templates.
    pub annotations: Labels,
    /// Its current alerts (inactive ones are left out of the response).
    pub alerts: Vec<ActiveAlert>,
    /// The last evaluation.
    pub evaluation: RuleEvaluation,
}

/// A recording rule.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordingRuleView {
    /// The recorded series name.
    pub name: String,
    /// The PromQL expression.
    pub query: String,
    /// The rule's static labels.
    pub labels: Labels,
    /// The last evaluation.
    pub evaluation: RuleEvaluation,
}
