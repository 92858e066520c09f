//! Where the report's figures come from: anything that answers an instant query and a
//! range query over a typed [`Expr`]. The embedded [`Storage`] is one; a Prometheus
//! server, through its HTTP API, is another (voxscope-cli has it).

use crate::eval::{EvalError, Query, RangeSeries, Sample, Storage};
use crate::expr::{Expr, Scope};

/// Instant and range queries, with Prometheus's semantics, over one store.
///
/// ```
/// use voxscope_alert::eval::{Labels, Storage};
/// use voxscope_alert::expr::{Expr, Matcher, Scope, Selector};
/// use voxscope_alert::report::Source;
///
/// let mut storage = Storage::new(Default::default());
/// let up = Labels::from([("__name__".into(), "up".into()), ("job".into(), "api".into())]);
/// storage.append(&up, 0, 1.0).unwrap();
/// let scope = Scope::rules(Matcher::eq("job", "api"), 300);
/// let samples = storage.instant(&Expr::vector(Selector::new("up")), &scope, 60_000).unwrap();
/// assert_eq!(samples[0].value, 1.0);
/// ```
pub trait Source {
    /// Why a query failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// `expr` under `scope` at `t_ms` (unix milliseconds), as `/api/v1/query` answers.
    ///
    /// # Errors
    /// The query could not be run.
    fn instant(&self, expr: &Expr, scope: &Scope, t_ms: i64) -> Result<Vec<Sample>, Self::Error>;

    /// `expr` under `scope` at `start_ms`, `start_ms + step_ms`, ... up to `end_ms`, as
    /// `/api/v1/query_range` answers.
    ///
    /// # Errors
    /// The query could not be run.
    fn range(
        &self,
        expr: &Expr,
        scope: &Scope,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<RangeSeries>, Self::Error>;
}

impl Source for Storage {
    type Error = EvalError;

    fn instant(&self, expr: &Expr, scope: &Scope, t_ms: i64) -> Result<Vec<Sample>, EvalError> {
        Query::new(expr, scope)?.at(self, t_ms)
    }

    fn range(
        &self,
        expr: &Expr,
        scope: &Scope,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<RangeSeries>, EvalError> {
        Query::new(expr, scope)?.range(self, start_ms, end_ms, step_ms)
    }
}
