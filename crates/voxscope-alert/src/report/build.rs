//! Reading every KPI and SLO of a [`ReportSpec`] from a [`Source`] into a [`Report`].

use std::collections::BTreeMap;

use serde::Serialize;

use voxscope_core::catalog::AppMetric;

use super::app::{self, AppTable};
use super::kpi::{Kpi, Measure, Target, kpis};
use super::recommend::{Recommendation, Recommender};
use super::{Source, Targets};
use crate::RuleCatalog;
use crate::eval::{RangeSeries, Sample};
use crate::expr::{Expr, Scope};
use crate::model::{ValueFormat, duration};
use crate::slo::Slo;

/// Prometheus answers at most 11,000 points per series; steps grow to stay under it.
const MAX_POINTS: u64 = 11_000;

/// Whether a figure meets its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It does.
    Met,
    /// It does not.
    Missed,
    /// Nothing was recorded to compute it from.
    NoData,
}

impl Status {
    fn of(target: Target, actual: Option<f64>) -> Self {
        match actual {
            Some(value) if target.met_by(value) => Status::Met,
            Some(_) => Status::Missed,
            None => Status::NoData,
        }
    }

    /// `met`, `missed`, `no data`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Missed => "missed",
            Status::NoData => "no data",
        }
    }
}

/// One KPI's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KpiRow {
    /// Stable key: `fallback_rate`.
    pub key: &'static str,
    /// Name: `Fallback rate`.
    pub name: &'static str,
    /// What it counts.
    pub description: &'static str,
    /// The PromQL the figure was read with.
    pub query: String,
    /// Its target.
    pub target: Target,
    /// The figure; `None` when nothing was recorded.
    pub actual: Option<f64>,
    /// Met, missed or no data.
    pub status: Status,
    /// `(unix ms, value)` per trend step, each point covering the step before it.
    pub trend: Vec<(i64, f64)>,
    /// How figures are shown.
    #[serde(skip)]
    pub format: ValueFormat,
}

impl KpiRow {
    /// The figure as the tables show it, `–` without data.
    pub fn actual_text(&self) -> String {
        self.actual.map_or_else(|| "–".to_owned(), |v| crate::humanize::render(self.format, v))
    }
}

/// One SLO's figures over the period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SloRow {
    /// The `slo` label value: `call-availability`.
    pub name: String,
    /// What a good event is.
    pub good: String,
    /// The objective, a share of good events.
    pub objective: f64,
    /// The PromQL of the error ratio.
    pub query: String,
    /// Share of events that were not good.
    pub error_ratio: Option<f64>,
    /// Share of events that were good: 1 − error ratio.
    pub attainment: Option<f64>,
    /// Share of the period's error budget left: 1 − error ratio / (1 − objective);
    /// negative once overspent.
    pub error_budget_remaining: Option<f64>,
    /// Error ratio over the budget's: 1 spends exactly the budget.
    pub burn_rate: Option<f64>,
    /// Met when the attainment reaches the objective.
    pub status: Status,
    /// Burn rate per trend step.
    pub trend: Vec<(i64, f64)>,
}

/// The report: KPIs and SLOs over one period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The job matcher every selector was scoped with.
    pub job: String,
    /// Start of the period, unix milliseconds.
    pub start_ms: i64,
    /// End of the period, unix milliseconds.
    pub end_ms: i64,
    /// The period, `7d`.
    pub period: String,
    /// Seconds between the samples peaks and shares are read at.
    pub step_seconds: u64,
    /// Seconds each trend point covers.
    pub trend_step_seconds: u64,
    /// The KPI table.
    pub kpis: Vec<KpiRow>,
    /// The SLO table.
    pub slos: Vec<SloRow>,
    /// What the period's data calls for, with the figures behind each.
    pub recommendations: Vec<Recommendation>,
    /// One table per application metric (`[[metrics]]`) of an enabled family.
    pub app_metrics: Vec<AppTable>,
}

impl Report {
    /// `(row name, PromQL)` of every KPI and SLO row, then of every application metric
    /// column (`conversations_total total`).
    pub fn queries(&self) -> impl Iterator<Item = (String, &str)> {
        let kpis = self.kpis.iter().map(|k| (k.name.to_owned(), k.query.as_str()));
        let slos = self.slos.iter().map(|s| (s.name.clone(), s.query.as_str()));
        let app = self.app_metrics.iter().flat_map(|t| {
            t.queries
                .iter()
                .map(move |(column, query)| (format!("{} {column}", t.metric), query.as_str()))
        });
        kpis.chain(slos).chain(app)
    }
}

impl SloRow {
    /// The burn rate as the tables show it, `2.50x`, `–` without data.
    pub fn burn_rate_text(&self) -> String {
        self.burn_rate.map_or_else(|| "–".to_owned(), |b| format!("{b:.2}x"))
    }
}

/// What a report reads: the KPIs of the config's `[report]` targets and the catalog's
/// SLOs, scoped to the service's job.
///
/// ```
/// use voxscope_alert::eval::{Labels, Storage, StorageLimits};
/// use voxscope_alert::report::{ReportSpec, Status};
///
/// let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
/// let limits = StorageLimits::default();
/// let mut storage = Storage::new(limits);
/// let up = Labels::from([
///     ("__name__".to_owned(), "up".to_owned()),
///     ("job".to_owned(), "voice_agent".to_owned()),
/// ]);
/// for minute in 0..=60 {
///     storage.append(&up, minute * 60_000, 1.0).unwrap();
/// }
/// let report = ReportSpec::new(&catalog).run(&storage, 3_600_000, 3_600).unwrap();
/// let uptime = report.kpis.iter().find(|k| k.key == "uptime").unwrap();
/// assert_eq!((uptime.actual, uptime.status), (Some(1.0), Status::Met));
/// ```
#[derive(Clone, Debug)]
pub struct ReportSpec {
    kpis: Vec<Kpi>,
    slos: Vec<Slo>,
    scope: Scope,
    targets: Targets,
    recommender: Recommender,
    app: Vec<AppMetric>,
}

impl ReportSpec {
    /// The report of `catalog`'s config and SLOs.
    pub fn new(catalog: &RuleCatalog) -> Self {
        let targets = catalog.config.report.clone();
        let scope = Scope {
            job: vec![catalog.config.job_matcher()],
            window: duration(targets.trend_step_seconds),
            override_windows: false,
            keep: Vec::new(),
        };
        let recommender = Recommender::new(catalog);
        let families = catalog.config.families();
        let app = catalog.config.metrics.metrics().iter();
        let app = app.filter(|m| families.is_enabled(&m.family)).cloned().collect();
        Self { kpis: kpis(&targets), slos: catalog.slos.clone(), scope, targets, recommender, app }
    }

    /// The KPIs it reads.
    pub fn kpis(&self) -> &[Kpi] {
        &self.kpis
    }

    /// Every metric name its queries read, each once: a store holding only these gives
    /// the same report (see [`Storage::with_metrics`](crate::eval::Storage::with_metrics)).
    pub fn metrics(&self) -> Vec<String> {
        let exprs = self.kpis.iter().map(|k| k.measure.expr().clone());
        let slos = self.slos.iter().map(|s| s.error_ratio_over(self.targets.step_seconds));
        let mut out: Vec<String> = Vec::new();
        let recommended = self.recommender.metrics();
        for name in exprs.chain(slos).flat_map(|e| e.metrics()).chain(recommended) {
            if !out.contains(&name) {
                out.push(name);
            }
        }
        for metric in &self.app {
            let names = match metric.kind {
                voxscope_core::catalog::MetricKind::Histogram => {
                    vec![format!("{}_bucket", metric.name), format!("{}_count", metric.name)]
                }
                _ => vec![metric.name.clone()],
            };
            out.extend(names.into_iter().filter(|n| !out.contains(n)).collect::<Vec<_>>());
        }
        out
    }

    /// Reads every figure of the `period_seconds` before `end_ms` from `source`.
    ///
    /// # Errors
    /// The first query `source` could not run.
    pub fn run<S: Source + ?Sized>(
        &self,
        source: &S,
        end_ms: i64,
        period_seconds: u64,
    ) -> Result<Report, S::Error> {
        let period = Period::new(&self.targets, end_ms, period_seconds);
        let reader = Reader { source, scope: &self.scope, period: &period };
        let mut kpis = Vec::with_capacity(self.kpis.len());
        for kpi in &self.kpis {
            kpis.push(reader.kpi(kpi)?);
        }
        let mut slos = Vec::with_capacity(self.slos.len());
        for slo in &self.slos {
            slos.push(reader.slo(slo)?);
        }
        let mut app_metrics = Vec::with_capacity(self.app.len());
        for metric in &self.app {
            app_metrics.push(app::table(&reader, metric)?);
        }
        Ok(Report {
            job: self.scope.job.iter().map(crate::expr::Matcher::render).collect(),
            start_ms: period.start_ms,
            end_ms,
            period: duration(period_seconds),
            step_seconds: (period.step_ms / 1000) as u64,
            trend_step_seconds: (period.trend_ms / 1000) as u64,
            kpis,
            slos,
            recommendations: self.recommender.run(source, &self.scope, end_ms, period_seconds)?,
            app_metrics,
        })
    }
}

/// The period's bounds and steps, milliseconds.
pub(super) struct Period {
    start_ms: i64,
    end_ms: i64,
    pub(super) seconds: u64,
    step_ms: i64,
    trend_ms: i64,
}

impl Period {
    fn new(targets: &Targets, end_ms: i64, seconds: u64) -> Self {
        let seconds = seconds.max(1);
        let floor = seconds.div_ceil(MAX_POINTS);
        let step = targets.step_seconds.max(floor);
        let trend = targets.trend_step_seconds.max(floor).min(seconds);
        Self {
            start_ms: end_ms - seconds as i64 * 1000,
            end_ms,
            seconds,
            step_ms: step as i64 * 1000,
            trend_ms: trend as i64 * 1000,
        }
    }

    /// Every step of the period, its start and end included.
    fn steps(&self) -> impl Iterator<Item = i64> + '_ {
        (0..).map(|k| self.start_ms + k * self.step_ms).take_while(|t| *t <= self.end_ms)
    }

    /// The end of every trend step after the start.
    fn trend_ends(&self) -> impl Iterator<Item = i64> + '_ {
        (1..).map(|k| self.start_ms + k * self.trend_ms).take_while(|t| *t <= self.end_ms)
    }

    /// The trend step a step at `t_ms` belongs to: the one ending at or after it (the
    /// period's start joins the first; a last, shorter one ends with the period).
    fn trend_of(&self, t_ms: i64) -> i64 {
        let k = (t_ms - self.start_ms - 1).max(0) / self.trend_ms + 1;
        (self.start_ms + k * self.trend_ms).min(self.end_ms)
    }
}

/// One period's queries against one source.
pub(super) struct Reader<'a, S: ?Sized> {
    source: &'a S,
    pub(super) scope: &'a Scope,
    pub(super) period: &'a Period,
}

impl<S: Source + ?Sized> Reader<'_, S> {
    /// `expr` with its free windows bound to the whole period, at its end.
    pub(super) fn samples_over(&self, expr: &Expr) -> Result<Vec<Sample>, S::Error> {
        self.source.instant(&expr.bind(self.period.seconds), self.scope, self.period.end_ms)
    }

    /// The period's first step, unix milliseconds.
    pub(super) fn start_ms(&self) -> i64 {
        self.period.start_ms
    }

    /// Every series of `expr` at every step of the period, start and end included.
    pub(super) fn series_at_steps(&self, expr: &Expr) -> Result<Vec<RangeSeries>, S::Error> {
        let p = self.period;
        self.source.range(expr, self.scope, p.start_ms, p.end_ms, p.step_ms)
    }

    /// The first finite value of `expr` over the whole period, at its end.
    fn over(&self, expr: &Expr) -> Result<Option<f64>, S::Error> {
        let samples = self.samples_over(expr)?;
        Ok(samples.into_iter().map(|s| s.value).find(|v| v.is_finite()))
    }

    /// `expr` over each trend step, finite points only.
    fn trend(&self, expr: &Expr) -> Result<Vec<(i64, f64)>, S::Error> {
        let p = self.period;
        let step_seconds = (p.trend_ms / 1000) as u64;
        let series = self.source.range(
            &expr.bind(step_seconds),
            self.scope,
            p.start_ms + p.trend_ms,
            p.end_ms,
            p.trend_ms,
        )?;
        Ok(merge(series, f64::max).into_iter().filter(|(_, v)| v.is_finite()).collect())
    }

    /// `expr` at every step of the period, series merged with `combine`.
    fn steps(&self, expr: &Expr, combine: fn(f64, f64) -> f64) -> Result<Points, S::Error> {
        Ok(merge(self.series_at_steps(expr)?, combine))
    }

    fn kpi(&self, kpi: &Kpi) -> Result<KpiRow, S::Error> {
        let (actual, trend) = match &kpi.measure {
            Measure::Over(expr) => (self.over(expr)?, self.trend(expr)?),
            Measure::Peak(expr) => {
                let points = self.steps(expr, f64::max)?;
                let peak = points.values().copied().filter(|v| v.is_finite()).reduce(f64::max);
                let mut trend: BTreeMap<i64, f64> = BTreeMap::new();
                for (t, v) in points.into_iter().filter(|(_, v)| v.is_finite()) {
                    let slot = trend.entry(self.period.trend_of(t)).or_insert(v);
                    *slot = slot.max(v);
                }
                (peak, trend.into_iter().collect())
            }
            Measure::Share { expr, at_least } => {
                let points = self.steps(expr, f64::min)?;
                let reached = |t: &i64| points.get(t).is_some_and(|v| v >= at_least);
                let mut buckets: BTreeMap<i64, (u64, u64)> =
                    self.period.trend_ends().map(|t| (t, (0, 0))).collect();
                let (mut hit, mut all) = (0_u64, 0_u64);
                for t in self.period.steps() {
                    let bucket = buckets.entry(self.period.trend_of(t)).or_default();
                    bucket.1 += 1;
                    all += 1;
                    if reached(&t) {
                        bucket.0 += 1;
                        hit += 1;
                    }
                }
                let share = (!points.is_empty()).then(|| hit as f64 / all as f64);
                let trend = if points.is_empty() {
                    Vec::new()
                } else {
                    buckets
                        .into_iter()
                        .filter(|(_, (_, n))| *n > 0)
                        .map(|(t, (h, n))| (t, h as f64 / n as f64))
                        .collect()
                };
                (share, trend)
            }
        };
        Ok(KpiRow {
            key: kpi.key,
            name: kpi.name,
            description: kpi.description,
            query: kpi.measure.expr().bind(self.period.seconds).render(self.scope),
            target: kpi.target,
            actual,
            status: Status::of(kpi.target, actual),
            trend,
            format: kpi.format,
        })
    }

    fn slo(&self, slo: &Slo) -> Result<SloRow, S::Error> {
        let budget = 1.0 - slo.objective;
        let whole = slo.error_ratio_over(self.period.seconds);
        let error_ratio = self.over(&whole)?;
        let per_step = slo.error_ratio_over((self.period.trend_ms / 1000) as u64);
        let trend = self.trend(&per_step)?.into_iter().map(|(t, v)| (t, v / budget)).collect();
        let attainment = error_ratio.map(|e| 1.0 - e);
        let target = Target { comparison: super::Comparison::AtLeast, value: slo.objective };
        Ok(SloRow {
            name: slo.name.clone(),
            good: slo.good.clone(),
            objective: slo.objective,
            query: whole.render(self.scope),
            error_ratio,
            attainment,
            error_budget_remaining: error_ratio.map(|e| 1.0 - e / budget),
            burn_rate: error_ratio.map(|e| e / budget),
            status: Status::of(target, attainment),
            trend,
        })
    }
}

type Points = BTreeMap<i64, f64>;

/// The points of every series by time, values at one time combined.
fn merge(series: Vec<RangeSeries>, combine: fn(f64, f64) -> f64) -> Points {
    let mut out = Points::new();
    for (t, v) in series.into_iter().flat_map(|s| s.points) {
        out.entry(t).and_modify(|old| *old = combine(*old, v)).or_insert(v);
    }
    out
}
