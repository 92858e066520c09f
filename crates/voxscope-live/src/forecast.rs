//! The forecast view: live calls against the call capacity and each daily budget's
//! 24-hour usage against the budget, each with the trend `CallCapacityForecast` and
//! `ProviderQuotaForecast` fit extended to the horizon and when it reaches the limit;
//! and the recommendations the weekly report derives, over the engine's history. Both
//! are `voxscope_alert::report`'s own readers (`forecast::calls`, `forecast::quota`,
//! [`Recommender`]) over the engine's store: the page draws what the rules compute.

use std::time::Duration;

use serde_json::{Value, json};
use voxscope_alert::RuleCatalog;
use voxscope_alert::capacity::{Budget, Capacity};
use voxscope_alert::eval::{EvalError, Storage};
use voxscope_alert::expr::Scope;
use voxscope_alert::report::forecast::{self, Forecast};
use voxscope_alert::report::{Recommendation, Recommender};

/// What the forecast view reads, from the catalog, once.
#[derive(Debug)]
pub(crate) struct Forecaster {
    capacity: Capacity,
    recommender: Recommender,
    scope: Scope,
    /// The period the recommendations cover.
    period: Duration,
}

impl Forecaster {
    pub(crate) fn new(catalog: &RuleCatalog, period: Duration) -> Self {
        let config = &catalog.config;
        Self {
            capacity: config.capacity.clone(),
            recommender: Recommender::new(catalog),
            scope: Scope::rules(config.job_matcher(), config.engine.interval_seconds.max(60)),
            period,
        }
    }

    /// The view's frame body at `now_ms`: `projections` (calls first, then each budget
    /// in `[capacity]` order), `recommendations` (each with `key`, `text`, `figures` and
    /// `runbook`), `period_ms` they cover, and `errors` of queries that failed.
    pub(crate) fn body(&self, storage: &Storage, now_ms: i64) -> Value {
        let mut errors = Vec::new();
        let mut projections = Vec::new();
        if self.capacity.max_concurrent_calls > 0 {
            let read = forecast::calls(&self.capacity, storage, &self.scope, now_ms);
            projections.push(self.projection(Target::Calls, now_ms, read, &mut errors));
        }
        for budget in self.capacity.budgets() {
            let read = forecast::quota(&self.capacity, &budget, storage, &self.scope, now_ms);
            projections.push(self.projection(Target::Budget(&budget), now_ms, read, &mut errors));
        }
        let period_s = self.period.as_secs().max(1);
        let recommendations: Vec<Recommendation> =
            match self.recommender.recommend(storage, now_ms, period_s) {
                Ok(found) => found,
                Err(error) => {
                    errors.push(format!("recommendations: {error}"));
                    Vec::new()
                }
            };
        json!({
            "projections": projections,
            "recommendations": recommendations,
            "period_ms": period_s * 1000,
            "errors": errors,
        })
    }

    /// One projection: what is drawn, the trend's line from the start of its window to
    /// the end of the horizon, and when it reaches the limit.
    fn projection(
        &self,
        target: Target<'_>,
        now_ms: i64,
        read: Result<Option<Forecast>, EvalError>,
        errors: &mut Vec<String>,
    ) -> Value {
        let horizon_s = self.capacity.horizon_seconds();
        let trend_s = self.capacity.trend_minutes * 60;
        let (id, title, unit, limit, rule) = match target {
            Target::Calls => (
                "calls".to_owned(),
                "Live calls vs capacity".to_owned(),
                "calls",
                self.capacity.max_concurrent_calls as f64,
                "CallCapacityForecast",
            ),
            Target::Budget(budget) => {
                let unit = budget.quota.unit();
                (
                    format!("{unit}-{}", budget.provider),
                    format!("{} {unit} in 24 h vs daily budget", budget.provider),
                    unit,
                    budget.per_day as f64,
                    "ProviderQuotaForecast",
                )
            }
        };
        let mut out = json!({
            "id": id,
            "title": title,
            "unit": unit,
            "limit": limit,
            "rule": rule,
            "at_ms": now_ms,
            "trend_ms": trend_s * 1000,
            "horizon_ms": horizon_s * 1000,
            "current": null,
            "line": null,
            "points": [],
            "projection": [],
            "seconds_to_limit": null,
            "limit_at_ms": null,
            "within_horizon": false,
        });
        let forecast = match read {
            Ok(Some(forecast)) => forecast,
            Ok(None) => return out,
            Err(error) => {
                errors.push(format!("{title}: {error}"));
                return out;
            }
        };
        let line = forecast.line;
        let start_ms = now_ms - (trend_s * 1000) as i64;
        let end_ms = now_ms + (horizon_s * 1000) as i64;
        let values = [
            ("current", finite(forecast.current)),
            ("line", json!({ "value": finite(line.value), "slope": finite(line.slope) })),
            ("points", json!(forecast.points)),
            (
                "projection",
                json!([
                    [start_ms, finite(line.ahead(-(trend_s as f64)))],
                    [end_ms, finite(line.ahead(horizon_s as f64))],
                ]),
            ),
            ("seconds_to_limit", json!(forecast.seconds_to_limit)),
            ("limit_at_ms", json!(forecast.limit_at_ms())),
            ("within_horizon", json!(forecast.within(horizon_s))),
        ];
        for (key, value) in values {
            out[key] = value;
        }
        out
    }
}

/// What a projection is about.
#[derive(Clone, Copy)]
enum Target<'a> {
    Calls,
    Budget(&'a Budget),
}

/// `value` as JSON, `null` unless finite.
fn finite(value: f64) -> Value {
    if value.is_finite() { json!(value) } else { Value::Null }
}

#[cfg(test)]
mod tests {
    use voxscope_alert::eval::{Labels, StorageLimits};

    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;

    fn series(name: &str, pairs: &[(&str, &str)]) -> Labels {
        let mut labels: Labels =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        labels.insert("__name__".to_owned(), name.to_owned());
        labels.insert("job".to_owned(), "voice_agent".to_owned());
        labels
    }

    fn catalog(toml: &str) -> RuleCatalog {
        RuleCatalog::new(voxscope_alert::Config::from_toml(toml).unwrap()).unwrap()
    }

    /// groq's tokens and elevenlabs' requests.
    fn tokens_and_requests() -> (Labels, Labels) {
        let tokens = [("provider", "groq"), ("token_type", "input")];
        let requests = [("kind", "tts"), ("provider", "elevenlabs"), ("outcome", "ok")];
        (
            series("gen_ai_client_token_usage_sum", &tokens),
            series("voice_provider_requests_total", &requests),
        )
    }

    const CAPACITY: &str = "[capacity]\nmax_concurrent_calls = 200\nhorizon_hours = 6\n\
                            [capacity.daily_tokens]\ngroq = 1000000\n";

    /// Calls rising 15 an hour to 140 at 26 h, every 15 s over the last two hours;
    /// groq's tokens at a rate rising so that its 24-hour usage grows 30,000 an hour,
    /// 850,000 at 26 h; elevenlabs falling back on a tenth of its requests, 80 % of
    /// them rate limited, over the whole 26 h.
    fn rising(storage: &mut Storage) -> i64 {
        let end = 26 * HOUR;
        let calls = series("voice_calls_active", &[("transport", "twilio")]);
        for t in (end - 2 * HOUR..=end).step_by(15_000) {
            let hours = (t - end) as f64 / HOUR as f64;
            storage.append(&calls, t, 140.0 + 15.0 * hours).unwrap();
        }
        let (tokens, requests) = tokens_and_requests();
        let fallback = |reason| {
            series(
                "voice_provider_fallbacks_total",
                &[("kind", "tts"), ("from", "elevenlabs"), ("to", "azure"), ("reason", reason)],
            )
        };
        let (limited, timeout) = (fallback("rate_limited"), fallback("timeout"));
        for t in (0..=end).step_by(MIN as usize) {
            let minutes = (t / MIN) as f64;
            storage.append(&tokens, t, token_counter(t, end)).unwrap();
            storage.append(&requests, t, 10.0 * minutes).unwrap();
            storage.append(&limited, t, 0.8 * minutes).unwrap();
            storage.append(&timeout, t, 0.2 * minutes).unwrap();
        }
        end
    }

    /// Tokens used from 0 to `t_ms` at a rate of `a + b (t - end)` a second, whose
    /// 24-hour usage at `end` is 850,000 and grows 30,000 an hour.
    fn token_counter(t_ms: i64, end_ms: i64) -> f64 {
        let b = 30_000.0 / 3600.0 / 86_400.0;
        let a = 850_000.0 / 86_400.0 + b * 43_200.0;
        let s = |t: i64| (t - end_ms) as f64 / 1000.0;
        let integral = |x: f64| a * x + b * x * x / 2.0;
        integral(s(t_ms)) - integral(s(0))
    }

    #[test]
    fn projections_reach_their_limits_when_the_trends_say_and_the_recommendations_list_them() {
        let mut storage = Storage::new(StorageLimits::default());
        let end = rising(&mut storage);
        let forecaster = Forecaster::new(&catalog(CAPACITY), Duration::from_secs(86_400));
        let body = forecaster.body(&storage, end);
        assert_eq!(body["errors"], json!([]));
        let calls = &body["projections"][0];
        assert_eq!(calls["id"], "calls");
        // 140 now, 15 more an hour: 200 in four hours, within the six-hour horizon.
        assert!((calls["line"]["value"].as_f64().unwrap() - 140.0).abs() < 1e-9, "{calls}");
        assert!((calls["seconds_to_limit"].as_f64().unwrap() - 4.0 * 3600.0).abs() < 1e-6);
        assert_eq!(calls["limit_at_ms"], end + 4 * HOUR);
        assert_eq!(calls["within_horizon"], true);
        assert_eq!(calls["current"], 140.0);
        // The points a minute apart over the trend's hour, the line from its start to
        // the horizon's end: 125 an hour before, 230 six hours after.
        assert_eq!(calls["points"].as_array().unwrap().len(), 61);
        let line = &calls["projection"];
        assert_eq!(line[0][0], end - HOUR);
        assert!((line[0][1].as_f64().unwrap() - 125.0).abs() < 1e-9, "{line}");
        assert_eq!(line[1][0], end + 6 * HOUR);
        assert!((line[1][1].as_f64().unwrap() - 230.0).abs() < 1e-9, "{line}");

        // 850,000 of 1,000,000, 30,000 more an hour: five hours.
        let tokens = &body["projections"][1];
        assert_eq!(tokens["id"], "tokens-groq");
        let used = tokens["current"].as_f64().unwrap();
        assert!((used - 850_000.0).abs() < 1.0, "{used}");
        let seconds = tokens["seconds_to_limit"].as_f64().unwrap();
        assert!((seconds - 5.0 * 3600.0).abs() < 60.0, "{seconds}");

        let keys: Vec<&str> = body["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["fallbacks", "call_capacity", "provider_quota"]);
        let fallbacks = &body["recommendations"][0];
        assert!((fallbacks["figures"]["fallback_share"].as_f64().unwrap() - 0.1).abs() < 1e-12);
        assert!((fallbacks["figures"]["top_reason_share"].as_f64().unwrap() - 0.8).abs() < 1e-12);
        assert!(fallbacks["text"].as_str().unwrap().contains("over the last 1d"), "{fallbacks}");
        assert_eq!(
            body["recommendations"][1]["figures"]["capacity_at_ms"].as_f64(),
            Some((end + 4 * HOUR) as f64)
        );
    }

    #[test]
    fn flat_trends_under_their_limits_project_no_time_and_recommend_nothing() {
        let mut storage = Storage::new(StorageLimits::default());
        let end = 26 * HOUR;
        let calls = series("voice_calls_active", &[("transport", "twilio")]);
        let (tokens, requests) = tokens_and_requests();
        for t in (0..=end).step_by(MIN as usize) {
            let minutes = (t / MIN) as f64;
            storage.append(&calls, t, 60.0).unwrap();
            storage.append(&tokens, t, 200.0 * minutes).unwrap();
            storage.append(&requests, t, 10.0 * minutes).unwrap();
        }
        let forecaster = Forecaster::new(&catalog(CAPACITY), Duration::from_secs(86_400));
        let body = forecaster.body(&storage, end);
        assert_eq!(body["recommendations"], json!([]));
        for projection in body["projections"].as_array().unwrap() {
            assert_eq!(projection["within_horizon"], false, "{projection}");
            let slope = projection["line"]["slope"].as_f64().unwrap();
            assert!(slope.abs() < 1e-6, "{projection}");
        }
        assert_eq!(body["projections"][0]["current"], 60.0);
        // 200 tokens a minute: 288,000 a day.
        let used = body["projections"][1]["current"].as_f64().unwrap();
        assert!((used - 288_000.0).abs() < 1e-6, "{used}");
    }

    #[test]
    fn without_capacity_settings_nothing_is_projected() {
        let forecaster = Forecaster::new(&catalog(""), Duration::from_secs(86_400));
        let body = forecaster.body(&Storage::new(StorageLimits::default()), 26 * HOUR);
        assert_eq!(body["projections"], json!([]));
        assert_eq!(body["recommendations"], json!([]));
    }
}
