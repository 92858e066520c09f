//! The in-process rule evaluator: the same typed rules that render as Prometheus YAML,
//! evaluated over the process's own samples with Prometheus's semantics.
//!
//! ```
//! use voxscope_alert::{RuleCatalog, eval::{RuleEvaluator, Labels}};
//!
//! let catalog = RuleCatalog::new(Default::default()).unwrap();
//! let mut evaluator = RuleEvaluator::new(&catalog);
//! let mut storage = evaluator.storage(Default::default());
//! let target = Labels::from([("job".to_owned(), "voice_agent".to_owned())]);
//! storage.ingest_exposition("process_resident_memory_bytes 3e9\n", 0, &target).unwrap();
//! let alerts = evaluator.evaluate(&mut storage, 0);
//! assert!(alerts.iter().any(|a| a.labels["alertname"] == "HighMemoryUsage"));
//! ```
//!
//! [`Storage`] holds every series in bounded tiers (raw samples, then minute and hour
//! steps; [`StorageLimits`]), filled by [`Storage::append`] or by
//! [`Storage::ingest_exposition`] from the Prometheus text format; [`Query`] evaluates
//! one [`Expr`](crate::expr::Expr) over it; [`RuleEvaluator`] runs a catalog's rules
//! and moves their alerts through [`AlertState`]. The semantics are those of Prometheus
//! 2.x's engine and rule manager: an instant selector looks back 5 minutes, a range
//! covers `[t - range, t]`, `rate` and `increase` extrapolate as Prometheus's do.

mod aggregate;
mod binary;
mod error;
mod evaluator;
mod exposition;
mod functions;
mod predict;
mod quantile;
mod query;
mod rule_state;
mod saved;
mod select;
mod series;
mod status;
mod storage;
mod template;
mod tier;

use std::collections::BTreeMap;

pub use error::EvalError;
pub use evaluator::RuleEvaluator;
pub use exposition::{ExpositionError, Scrape};
pub use functions::{extrapolated_rate, quantile_over_time};
pub use predict::{Line, fit, predict_linear};
pub use quantile::bucket_quantile;
pub use query::{Query, RangeSeries, Sample};
pub use rule_state::RESOLVED_RETENTION_MS;
pub use saved::{RestoreError, SavedHistory};
pub use status::{RuleHealth, RuleKind, RuleStatus};
pub use storage::{
    AppendError, LOOKBACK_MS, METRIC_NAME, StepTier, Storage, StorageLimits, StorageStats,
};
pub use template::expand;

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
