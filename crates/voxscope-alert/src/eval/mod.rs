//! The in-process rule evaluator: the same typed rules that render as Prometheus YAML,
//! evaluated over the process's own samples with Prometheus's semantics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A label set, sorted by name; alert labels include `alertname`.
pub type Labels = BTreeMap<String, String>;

/// Where an alert is in its life, as Prometheus's rule manager has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition holds, for less than the rule's `for`.
    Pending,
    /// The condition held for the rule's `for` (or still counts under `keep_firing_for`).
    Firing,
    /// The condition no longer holds; kept a while so receivers hear it resolved.
    Inactive,
}

/// One alert of one rule: a label set whose condition holds or recently held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActiveAlert {
    /// The labels: the series' labels, the rule's static labels and `alertname`.
    pub labels: Labels,
    /// The rule's annotations with `$labels` and `$value` rendered.
    pub annotations: Labels,
    /// Where it is in its life.
    pub state: AlertState,
    /// When the condition was first seen true, unix milliseconds.
    pub active_at_ms: i64,
    /// When it went firing, unix milliseconds.
    pub fired_at_ms: Option<i64>,
    /// When it resolved, unix milliseconds.
    pub resolved_at_ms: Option<i64>,
    /// Since when the condition is false while `keep_firing_for` keeps it firing.
    pub keep_firing_since_ms: Option<i64>,
    /// The value of the condition's left side at the last evaluation it held.
    pub value: f64,
}
