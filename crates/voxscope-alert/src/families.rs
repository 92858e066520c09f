//! What `enabled_metrics` leaves out of the generated rules and dashboards: every rule,
//! recording rule and panel that reads a metric of a disabled family (a provider kind
//! through its `kind="…"` matcher), and every rule that reads a recorded series whose
//! recording rule was left out.
//!
//! ```
//! use voxscope_alert::{Config, RuleCatalog, grafana};
//!
//! let config = Config::from_toml(r#"enabled_metrics = ["http", "calls", "providers.llm"]"#).unwrap();
//! let catalog = RuleCatalog::new(config).unwrap();
//! let read = |e: &voxscope_alert::expr::Expr| e.metrics().join(" ");
//! assert!(catalog.alerts.iter().all(|a| !read(&a.condition).contains("process_")));
//! assert!(catalog.alerts.iter().any(|a| read(&a.condition).contains("voice_calls")));
//! let panels = grafana::dashboards(&catalog).into_iter().flat_map(|d| d.panels);
//! assert!(panels.flat_map(|p| p.queries).all(|(q, _)| !q.contains(r#"kind="tts""#)));
//! ```

use voxscope_core::catalog;
use voxscope_core::families::Families;

use crate::config::Config;
use crate::expr::{Expr, MatchOp, Selector};

/// The suffixes of a histogram's series.
const HISTOGRAM_SERIES: [&str; 3] = ["_bucket", "_count", "_sum"];

/// The families of `config`, and the recorded series left out with their rules.
pub(crate) struct Enabled<'a> {
    config: &'a Config,
    families: Families,
    dropped_records: Vec<String>,
}

impl<'a> Enabled<'a> {
    /// What `config` enables; no recorded series dropped yet.
    pub(crate) fn new(config: &'a Config) -> Self {
        Self { config, families: config.families(), dropped_records: Vec::new() }
    }

    /// Whether every family is on: nothing is left out.
    pub(crate) fn is_all(&self) -> bool {
        self.families.is_all()
    }

    /// Notes that the recording rule of `record` was left out.
    pub(crate) fn drop_record(&mut self, record: &str) {
        self.dropped_records.push(record.to_owned());
    }

    /// Whether every series `expr` reads is recorded.
    pub(crate) fn reads(&self, expr: &Expr) -> bool {
        self.is_all() || expr.selectors().into_iter().all(|s| self.selects(s))
    }

    fn selects(&self, selector: &Selector) -> bool {
        if self.dropped_records.contains(&selector.metric) {
            return false;
        }
        let app = &self.config.metrics;
        let known = |name: &str| catalog::find(name).is_some() || app.find(name).is_some();
        let name = HISTOGRAM_SERIES
            .iter()
            .find_map(|suffix| selector.metric.strip_suffix(suffix).filter(|base| known(base)))
            .unwrap_or(&selector.metric);
        let kind = selector
            .matchers
            .iter()
            .find(|m| m.label == "kind" && m.op == MatchOp::Eq)
            .map(|m| m.value.as_str());
        match kind {
            Some(kind) => self.families.series_enabled(name, Some(kind), app),
            None => self.families.metric_enabled(name, app),
        }
    }
}
