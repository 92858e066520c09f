//! Forecast alerts from `[capacity]`: the trend of live calls reaching the call
//! capacity, and the trend of a provider's 24-hour usage reaching its daily budget,
//! within the horizon.

use crate::capacity::{Budget, Capacity, Quota};
use crate::config::Config;
use crate::expr::Expr;
use crate::fixture::{SAMPLES, labels, selector};
use crate::model::{Category, Fixture, Series, Severity, ValueFormat};
use crate::prometheus::fires_check;

use super::{Spec, TWILIO, dash, gauge};

/// Minutes a forecast must hold before it fires: a trend of a few samples is noise.
const FOR_MINUTES: u64 = 10;

pub(super) fn capacity_alerts(config: &Config) -> Vec<Spec> {
    let capacity = &config.capacity;
    let mut specs = Vec::new();
    if capacity.max_concurrent_calls > 0 {
        specs.push(calls_spec(capacity));
    }
    let budgets = capacity.budgets();
    for quota in [Quota::Tokens, Quota::Characters] {
        let of_quota: Vec<&Budget> = budgets.iter().filter(|b| b.quota == quota).collect();
        if !of_quota.is_empty() {
            specs.push(quota_spec(capacity, &of_quota));
        }
    }
    specs
}

/// What the line through the firing fixture's samples stands at `ahead` seconds after
/// its fires-check: `value(minute)` per minute since the start, one sample a minute
/// from `first` on, the trend window holding all of them.
fn forecast_at_check(first: u64, value: impl Fn(u64) -> f64, ahead: u64) -> f64 {
    let (_, at) = fires_check(FOR_MINUTES * 60);
    let samples: Vec<(i64, f64)> =
        (first..=at / 60).map(|m| (m as i64 * 60_000, value(m))).collect();
    crate::eval::predict_linear(&samples, at as i64 * 1000, ahead as f64).unwrap_or(f64::NAN)
}

fn calls_spec(capacity: &Capacity) -> Spec {
    let max = capacity.max_concurrent_calls as f64;
    let horizon = capacity.horizon_seconds();
    let start = (max / 2.0).floor();
    // Firing: from half the capacity, twice the capacity more per horizon.
    let step = 2.0 * max / (capacity.horizon_hours * 60) as f64;
    let rising = Series {
        series: selector("voice_calls_active", &[TWILIO]),
        values: format!("{start}+{step}x{SAMPLES}"),
    };
    let (onset, _) = fires_check(FOR_MINUTES * 60);
    let value = forecast_at_check(
        0,
        |m| if m < onset { start } else { start + (m - onset) as f64 * step },
        horizon,
    );
    let horizon_text = format!("{} h", capacity.horizon_hours);
    Spec {
        name: "CallCapacityForecast",
        labels: Vec::new(),
        severity: Severity::Warning,
        category: Category::Resources,
        for_minutes: FOR_MINUTES,
        dashboard: dash::CALLS,
        measure: capacity.calls_ahead(horizon),
        condition: capacity.calls_ahead(horizon).ge(max),
        summary: "Calls are on course to reach the call capacity",
        description: format!(
            "At the pace of the last {} minutes the service reaches {{value}} concurrent \
             calls within {horizon_text}, over its capacity of {}; calls beyond it will be \
             rejected.",
            capacity.trend_minutes, capacity.max_concurrent_calls
        ),
        value_format: ValueFormat::Plain,
        fixture: Fixture {
            firing: vec![rising],
            quiet: gauge("voice_calls_active", &[TWILIO], start),
            also_quiet: Vec::new(),
            labels: labels(&[]),
            value,
        },
    }
}

/// One rule per quota, each provider against its own budget: rules of one alertname
/// and the same static labels would be duplicates to promtool.
fn quota_spec(capacity: &Capacity, budgets: &[&Budget]) -> Spec {
    let budget = budgets[0];
    let quota = budget.quota;
    let forecast = |b: &Budget| capacity.usage_ahead(b, capacity.horizon_seconds());
    let measure =
        budgets.iter().map(|b| forecast(b)).reduce(Expr::or).unwrap_or_else(|| forecast(budget));
    let condition = budgets
        .iter()
        .map(|b| forecast(b).gt(b.per_day as f64))
        .reduce(Expr::or)
        .unwrap_or_else(|| forecast(budget));
    let per_day = budget.per_day as f64;
    let horizon = capacity.horizon_seconds();
    let minutes = (capacity.horizon_hours * 60) as f64;
    let usage = |per_minute: f64| {
        let mut series_labels = vec![("provider", budget.provider.as_str())];
        if quota == Quota::Tokens {
            series_labels.push(("token_type", "output"));
        }
        vec![Series::counter(selector(quota.counter(), &series_labels), per_minute, SAMPLES)]
    };
    // Firing: four budgets per horizon. Quiet: the day's usage stays under half the
    // budget to the end of the horizon.
    let fast = 4.0 * per_day / minutes;
    let slow = per_day / 2.0 / (minutes + f64::from(SAMPLES));
    let (onset, _) = fires_check(FOR_MINUTES * 60);
    // A counter from zero: its increase over a day is its value, recorded once a minute
    // from the first minute on.
    let value = forecast_at_check(1, |m| m.saturating_sub(onset) as f64 * fast, horizon);
    let unit = quota.unit();
    Spec {
        name: "ProviderQuotaForecast",
        labels: vec![("kind", quota.kind())],
        severity: Severity::Warning,
        category: Category::Resources,
        for_minutes: FOR_MINUTES,
        dashboard: dash::PROVIDERS,
        measure,
        condition,
        summary: match quota {
            Quota::Tokens => "{{ $labels.provider }} is on course to use up its daily tokens",
            Quota::Characters => {
                "{{ $labels.provider }} is on course to use up its daily characters"
            }
        },
        description: format!(
            "At the pace of the last {} minutes {{{{ $labels.provider }}}} uses {{value}} \
             {unit} in 24 hours within {} h, over its daily budget ({}).",
            capacity.trend_minutes,
            capacity.horizon_hours,
            budgets
                .iter()
                .map(|b| format!("{} {}", b.provider, b.per_day))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        value_format: ValueFormat::Plain,
        fixture: Fixture {
            firing: usage(fast),
            quiet: usage(slow),
            also_quiet: Vec::new(),
            labels: labels(&[("provider", &budget.provider)]),
            value,
        },
    }
}
