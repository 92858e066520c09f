//! Recommendations: concrete actions the period's data calls for, each with the figures
//! behind it and where to read more. Three are derived:
//!
//! - a provider that fell back on at least `[thresholds] fallback_ratio_warning` of the
//!   requests it was sent (and at least `min_events` times) over the period, with the
//!   error class most of its fallbacks had and what to do about that class;
//! - live calls whose trend reaches `[capacity] max_concurrent_calls` within the
//!   horizon: the same `predict_linear` fit `CallCapacityForecast` alerts on, read
//!   `0` and `3600` seconds ahead for its level and slope;
//! - a provider whose last 24 hours used `[capacity] budget_warning_ratio` of its daily
//!   budget, or whose 24-hour usage trend reaches the budget within the horizon (the
//!   usage its recording rule records, fitted over the trend window).
//!
//! Data without any of these gives no recommendation.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Source, forecast, utc};
use crate::RuleCatalog;
use crate::capacity::{Budget, Capacity};
use crate::expr::{Expr, Scope, Selector, Window, increase, sum_by};
use crate::humanize::render;
use crate::model::ValueFormat;

/// One recommendation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// What it is about: `fallbacks`, `call_capacity` or `provider_quota`.
    pub key: &'static str,
    /// What to do and why, with the figures, in one paragraph.
    pub text: String,
    /// The figures behind it, by name.
    pub figures: BTreeMap<&'static str, f64>,
    /// The runbook of the alert that watches the same thing.
    pub runbook: String,
}

/// What the recommendations read: thresholds, capacity and runbook links of a catalog.
/// [`ReportSpec`](super::ReportSpec) runs it over the report's period; the live page
/// over the last day of the engine's history.
///
/// ```
/// use voxscope_alert::eval::Storage;
/// use voxscope_alert::report::Recommender;
///
/// let config = voxscope_alert::Config::from_toml("[capacity]\nmax_concurrent_calls = 200\n").unwrap();
/// let recommender = Recommender::new(&voxscope_alert::RuleCatalog::new(config).unwrap());
/// assert!(recommender.metrics().contains(&"voice_calls_active".to_owned()));
/// // Nothing recorded: nothing to recommend.
/// let storage = Storage::new(Default::default());
/// assert_eq!(recommender.recommend(&storage, 86_400_000, 86_400).unwrap(), []);
/// ```
#[derive(Clone, Debug)]
pub struct Recommender {
    fallback_share: f64,
    min_events: f64,
    capacity: Capacity,
    runbook_base: String,
    scope: Scope,
}

const FALLBACKS: &str = "voice_provider_fallbacks_total";
const REQUESTS: &str = "voice_provider_requests_total";

impl Recommender {
    /// The recommendations of `catalog`'s thresholds, `[capacity]` and runbooks, over
    /// its job.
    pub fn new(catalog: &RuleCatalog) -> Self {
        let config = &catalog.config;
        Self {
            fallback_share: config.thresholds.fallback_ratio_warning,
            min_events: config.thresholds.min_events as f64,
            capacity: config.capacity.clone(),
            runbook_base: config.service.runbook_base_url.trim_end_matches('/').to_owned(),
            scope: Scope::rules(config.job_matcher(), 300),
        }
    }

    /// Every metric name it reads, each once: a store holding only these gives the same
    /// recommendations (see [`Storage::with_metrics`](crate::eval::Storage::with_metrics)).
    pub fn metrics(&self) -> Vec<String> {
        let mut exprs = Vec::new();
        if self.capacity.max_concurrent_calls > 0 {
            exprs.push(Capacity::calls_now());
        }
        exprs.extend(self.capacity.budgets().iter().map(|b| Capacity::usage_day(b.quota)));
        let mut out = vec![REQUESTS.to_owned(), FALLBACKS.to_owned()];
        for name in exprs.iter().flat_map(Expr::metrics) {
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    fn runbook(&self, alertname: &str) -> String {
        format!("{}/{alertname}.md", self.runbook_base)
    }

    /// Every recommendation for the `period_seconds` before `end_ms` (fallbacks over the
    /// period; the forecasts at `end_ms`, over `[capacity] trend_minutes`).
    ///
    /// # Errors
    /// The first query `source` could not run.
    pub fn recommend<S: Source + ?Sized>(
        &self,
        source: &S,
        end_ms: i64,
        period_seconds: u64,
    ) -> Result<Vec<Recommendation>, S::Error> {
        self.run(source, &self.scope, end_ms, period_seconds)
    }

    /// [`Recommender::recommend`] with the selectors scoped by `scope`.
    pub(crate) fn run<S: Source + ?Sized>(
        &self,
        source: &S,
        scope: &Scope,
        end_ms: i64,
        period_seconds: u64,
    ) -> Result<Vec<Recommendation>, S::Error> {
        let mut out = self.fallbacks(source, scope, end_ms, period_seconds)?;
        if self.capacity.max_concurrent_calls > 0 {
            out.extend(self.calls(source, scope, end_ms)?);
        }
        for budget in self.capacity.budgets() {
            out.extend(self.quota(source, scope, end_ms, &budget)?);
        }
        Ok(out)
    }

    fn fallbacks<S: Source + ?Sized>(
        &self,
        source: &S,
        scope: &Scope,
        end_ms: i64,
        period_seconds: u64,
    ) -> Result<Vec<Recommendation>, S::Error> {
        let window = Window::Fixed(period_seconds);
        let requests_expr =
            sum_by(&["kind", "provider"], increase(Selector::new(REQUESTS), window));
        let fallbacks_expr =
            sum_by(&["kind", "from", "reason"], increase(Selector::new(FALLBACKS), window));
        let requests: BTreeMap<(String, String), f64> = source
            .instant(&requests_expr, scope, end_ms)?
            .into_iter()
            .filter_map(|s| {
                Some(((s.labels.get("kind")?.clone(), s.labels.get("provider")?.clone()), s.value))
            })
            .collect();
        // (kind, from) -> reason -> fallbacks.
        let mut by_provider: BTreeMap<(String, String), BTreeMap<String, f64>> = BTreeMap::new();
        for sample in source.instant(&fallbacks_expr, scope, end_ms)? {
            let label = |k: &str| sample.labels.get(k).cloned().unwrap_or_default();
            if sample.value.is_finite() && sample.value > 0.0 {
                *by_provider
                    .entry((label("kind"), label("from")))
                    .or_default()
                    .entry(label("reason"))
                    .or_default() += sample.value;
            }
        }
        let period = crate::model::duration(period_seconds);
        let mut out = Vec::new();
        for (provider, reasons) in by_provider {
            let total: f64 = reasons.values().sum();
            let Some(&all) = requests.get(&provider).filter(|t| **t > 0.0) else { continue };
            let (kind, from) = provider;
            let share = total / all;
            if share < self.fallback_share || total < self.min_events {
                continue;
            }
            let (reason, count) = reasons
                .iter()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(r, c)| (r.clone(), *c))
                .unwrap_or_default();
            let runbook = self.runbook("HighFallbackRate");
            let text = format!(
                "The {kind} provider {from} fell back on {} of its requests over the last \
                 {period} ({} of {}), most of them {reason} ({} of the fallbacks): {} See \
                 {runbook}.",
                render(ValueFormat::Percent, share),
                count_text(total),
                count_text(all),
                render(ValueFormat::Percent, count / total),
                advice(&reason),
            );
            out.push(Recommendation {
                key: "fallbacks",
                text,
                figures: BTreeMap::from([
                    ("fallback_share", share),
                    ("fallbacks", total),
                    ("requests", all),
                    ("top_reason_share", count / total),
                ]),
                runbook,
            });
        }
        Ok(out)
    }

    fn calls<S: Source + ?Sized>(
        &self,
        source: &S,
        scope: &Scope,
        end_ms: i64,
    ) -> Result<Option<Recommendation>, S::Error> {
        let capacity = &self.capacity;
        let Some(forecast) = forecast::calls(capacity, source, scope, end_ms)?
            .filter(|f| f.within(capacity.horizon_seconds()))
        else {
            return Ok(None);
        };
        let (Some(seconds), Some(at_ms)) = (forecast.seconds_to_limit, forecast.limit_at_ms())
        else {
            return Ok(None);
        };
        let per_hour = forecast.line.slope * 3600.0;
        let runbook = self.runbook("CallCapacityForecast");
        let text = format!(
            "Calls will reach the capacity of {} concurrent calls around {} at the trend of \
             the last {} minutes ({} now, {} more an hour): add instances before then. See \
             {runbook}.",
            capacity.max_concurrent_calls,
            clock(at_ms),
            capacity.trend_minutes,
            count_text(forecast.current),
            count_text(per_hour),
        );
        Ok(Some(Recommendation {
            key: "call_capacity",
            text,
            figures: BTreeMap::from([
                ("calls_now", forecast.current),
                ("calls_per_hour", per_hour),
                ("capacity", forecast.limit),
                ("seconds_to_capacity", seconds),
                ("capacity_at_ms", at_ms as f64),
            ]),
            runbook,
        }))
    }

    fn quota<S: Source + ?Sized>(
        &self,
        source: &S,
        scope: &Scope,
        end_ms: i64,
        budget: &Budget,
    ) -> Result<Option<Recommendation>, S::Error> {
        let capacity = &self.capacity;
        let Some(forecast) = forecast::quota(capacity, budget, source, scope, end_ms)? else {
            return Ok(None);
        };
        let (line, per_day, used) = (forecast.line, forecast.limit, forecast.current);
        let within = forecast.within(capacity.horizon_seconds());
        let seconds = forecast.seconds_to_limit.filter(|_| within);
        if seconds.is_none() && used < capacity.budget_warning_ratio * per_day {
            return Ok(None);
        }
        let unit = budget.quota.unit();
        let runbook = self.runbook("ProviderQuotaForecast");
        let mut figures = BTreeMap::from([
            ("used_24h", used),
            ("daily_budget", per_day),
            ("used_share", used / per_day),
            ("per_hour_growth", line.slope * 3600.0),
        ]);
        let trend = match seconds {
            Some(seconds) => {
                let at_ms = forecast.limit_at_ms().unwrap_or(end_ms);
                figures.insert("seconds_to_budget", seconds);
                figures.insert("budget_at_ms", at_ms as f64);
                format!(
                    "at the trend of the last {} minutes it passes the budget around {}",
                    capacity.trend_minutes,
                    clock(at_ms)
                )
            }
            None => format!(
                "{} {unit} more an hour over the last {} minutes",
                count_text(line.slope * 3600.0),
                capacity.trend_minutes
            ),
        };
        let text = format!(
            "{} used {} {unit} in the last 24 hours, {} of its daily budget of {} ({trend}): \
             raise the quota or route part of its traffic to the fallback. See {runbook}.",
            budget.provider,
            count_text(used),
            render(ValueFormat::Percent, used / per_day),
            count_text(per_day),
        );
        Ok(Some(Recommendation { key: "provider_quota", text, figures, runbook }))
    }
}

/// What to do about fallbacks of one error class.
fn advice(reason: &str) -> &'static str {
    match reason {
        "rate_limited" => {
            "raise its rate limit with the provider or lower the chain's concurrency towards it."
        }
        "timeout" => "check its time to first byte; raise the timeout only if callers can wait.",
        "unavailable" => "check the provider's status page; keep the fallback first meanwhile.",
        "auth" => "rotate its API key.",
        _ => "read its errors by class on the Providers dashboard.",
    }
}

/// A count rounded to a whole number, digits grouped by thousands.
fn count_text(value: f64) -> String {
    let rounded = value.round();
    let digits = format!("{}", rounded.abs() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0.0 { format!("-{out}") } else { out }
}

/// `14:20 UTC on 2026-11-30`, to the minute.
fn clock(t_ms: i64) -> String {
    let text = utc(t_ms.div_euclid(60_000) * 60_000);
    format!("{} UTC on {}", &text[11..16], &text[..10])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_clock_times_read_as_people_write_them() {
        assert_eq!(count_text(1_234_567.4), "1,234,567");
        assert_eq!(count_text(-1200.0), "-1,200");
        assert_eq!(count_text(12.0), "12");
        assert_eq!(clock(1_764_512_459_000), "14:20 UTC on 2025-11-30");
    }
}
