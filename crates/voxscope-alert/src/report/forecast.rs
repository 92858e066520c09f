//! The `[capacity]` forecasts read from a [`Source`]: where live calls and each daily
//! budget's 24-hour usage stand on their trend, when the trend reaches the limit, and
//! the samples it runs through. The report's recommendations and the live page's
//! projection lines both read these, so a recommendation, a drawn line and the
//! `CallCapacityForecast` / `ProviderQuotaForecast` alerts come from one fit.
//!
//! ```
//! use voxscope_alert::capacity::Capacity;
//! use voxscope_alert::eval::{Labels, Storage};
//! use voxscope_alert::expr::{Matcher, Scope};
//! use voxscope_alert::report::forecast;
//!
//! // 10 more calls an hour, 150 at the end: 200 five hours later.
//! let mut storage = Storage::new(Default::default());
//! let calls = Labels::from([
//!     ("__name__".to_owned(), "voice_calls_active".to_owned()),
//!     ("job".to_owned(), "voice_agent".to_owned()),
//! ]);
//! for second in (0..=3600).step_by(15) {
//!     storage.append(&calls, second * 1000, 140.0 + second as f64 / 360.0).unwrap();
//! }
//! let capacity = Capacity { max_concurrent_calls: 200, ..Capacity::default() };
//! let scope = Scope::rules(Matcher::eq("job", "voice_agent"), 60);
//! let calls = forecast::calls(&capacity, &storage, &scope, 3_600_000).unwrap().unwrap();
//! assert!((calls.seconds_to_limit.unwrap() - 5.0 * 3600.0).abs() < 1e-6);
//! assert_eq!(calls.limit_at_ms(), Some(3_600_000 + 5 * 3_600_000));
//! assert!(!calls.within(capacity.horizon_seconds()));
//! ```

use serde::Serialize;

use super::Source;
use crate::capacity::{Budget, Capacity};
use crate::eval::{Line, fit};
use crate::expr::{Expr, Scope};

/// The steps the trend's samples are read at, milliseconds.
pub const STEP_MS: i64 = 60_000;

/// One quantity's trend against its limit at `at_ms`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Forecast {
    /// When it was read, unix milliseconds.
    pub at_ms: i64,
    /// The limit: concurrent calls, or a daily budget.
    pub limit: f64,
    /// The quantity at `at_ms` (live calls now; the newest 24-hour usage the trend
    /// read), else the line's value there.
    pub current: f64,
    /// The trend: its value at `at_ms` and its change per second.
    pub line: Line,
    /// Seconds after `at_ms` at which the trend reaches the limit: 0 when the quantity
    /// stands at or over it, `None` when the trend never rises to it.
    pub seconds_to_limit: Option<f64>,
    /// The quantity over the trend window, `(unix ms, value)` a minute apart.
    pub points: Vec<(i64, f64)>,
}

impl Forecast {
    fn new(
        at_ms: i64,
        limit: f64,
        line: Line,
        current: Option<f64>,
        points: Vec<(i64, f64)>,
    ) -> Self {
        let current = current.unwrap_or(line.value);
        Self { at_ms, limit, current, line, seconds_to_limit: line.reaches(limit), points }
    }

    /// When the trend reaches the limit, unix milliseconds (to the millisecond).
    pub fn limit_at_ms(&self) -> Option<i64> {
        self.seconds_to_limit.map(|s| self.at_ms + (s * 1000.0).round() as i64)
    }

    /// Whether the trend reaches the limit within `horizon_seconds`.
    pub fn within(&self, horizon_seconds: u64) -> bool {
        self.seconds_to_limit.is_some_and(|s| s <= horizon_seconds as f64)
    }
}

/// The first finite value of `expr` at `t_ms`.
fn first<S: Source + ?Sized>(
    source: &S,
    expr: &Expr,
    scope: &Scope,
    t_ms: i64,
) -> Result<Option<f64>, S::Error> {
    let samples = source.instant(expr, scope, t_ms)?;
    Ok(samples.into_iter().map(|s| s.value).find(|v| v.is_finite()))
}

/// Live calls of the job against `[capacity] max_concurrent_calls` at `end_ms`: the
/// trend is `CallCapacityForecast`'s own expression (the sum of each series'
/// `predict_linear` over the trend window) read now and an hour ahead; the points are
/// the live calls over the trend window. `None` when nothing to fit was recorded.
///
/// # Errors
/// The first query `source` could not run.
pub fn calls<S: Source + ?Sized>(
    capacity: &Capacity,
    source: &S,
    scope: &Scope,
    end_ms: i64,
) -> Result<Option<Forecast>, S::Error> {
    let (Some(level), Some(hour_ahead)) = (
        first(source, &capacity.calls_ahead(0), scope, end_ms)?,
        first(source, &capacity.calls_ahead(3600), scope, end_ms)?,
    ) else {
        return Ok(None);
    };
    let line = Line { value: level, slope: (hour_ahead - level) / 3600.0 };
    let trend_ms = capacity.trend_minutes as i64 * 60_000;
    let now = Capacity::calls_now();
    let mut points: Vec<(i64, f64)> = source
        .range(&now, scope, end_ms - trend_ms, end_ms, STEP_MS)?
        .into_iter()
        .next()
        .map(|s| s.points)
        .unwrap_or_default();
    points.retain(|(_, v)| v.is_finite());
    let current = first(source, &now, scope, end_ms)?;
    let limit = capacity.max_concurrent_calls as f64;
    Ok(Some(Forecast::new(end_ms, limit, line, current, points)))
}

/// `budget`'s provider's 24-hour usage (as its recording rule records it) against the
/// budget at `end_ms`: the least-squares line through that usage read a minute apart
/// over the trend window, the fit `predict_linear` makes. `None` when the provider
/// recorded too little to fit.
///
/// # Errors
/// The first query `source` could not run.
pub fn quota<S: Source + ?Sized>(
    capacity: &Capacity,
    budget: &Budget,
    source: &S,
    scope: &Scope,
    end_ms: i64,
) -> Result<Option<Forecast>, S::Error> {
    let trend_ms = capacity.trend_minutes as i64 * 60_000;
    let usage = Capacity::usage_day(budget.quota);
    let series = source.range(&usage, scope, end_ms - trend_ms, end_ms, STEP_MS)?;
    let Some(points) = series
        .into_iter()
        .find(|s| s.labels.get("provider") == Some(&budget.provider))
        .map(|s| s.points)
    else {
        return Ok(None);
    };
    let Some(line) = fit(&points, end_ms) else { return Ok(None) };
    let current = points.last().map(|(_, v)| *v);
    Ok(Some(Forecast::new(end_ms, budget.per_day as f64, line, current, points)))
}
