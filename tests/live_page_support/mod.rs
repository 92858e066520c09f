//! Known histories for the live page's forecast view: the embedded engine's saved metric
//! history, as `[engine] state_dir` holds it after a run, written before the demo starts
//! so that the demo restores it. The trends run 20 minutes past the time they are
//! written, so they go on while the test runs.
//!
//! The rising history, with `t0` its time "now":
//! - live calls 140 at `t0 - 30 s`, one more every 4 minutes (15 an hour): 200 at
//!   `t0 + 3 h 59 min 30 s`;
//! - groq's tokens at a rate rising so that its 24-hour usage is 850,250 at `t0` and
//!   grows 30,000 an hour: its daily budget of 1,000,000 at `t0 + 4 h 59 min 30 s`;
//!   with the usage its recording rule recorded over the last hour;
//! - elevenlabs (TTS) sent 50 requests a minute and fell back on 4 a minute rate
//!   limited and 1 a minute timing out: 10 % of its requests, 80 % of them rate limited.
//!
//! The clean one: 60 live calls, 300,000 tokens a day, 50 requests a minute without a
//! fallback.

use std::path::Path;

use voxscope::alert::eval::{Labels, Storage};
use voxscope::alert::{Config, RuleCatalog};
use voxscope::alerting::persist::StateDir;

pub const MIN: i64 = 60_000;
pub const HOUR: i64 = 3_600_000;
/// How long the trends go on after `t0`.
const AHEAD: i64 = 20 * MIN;
/// The history starts this long before `t0`: a day's usage plus the trend's hour.
const BACK: i64 = 26 * HOUR;

pub const CAPACITY: f64 = 200.0;
pub const BUDGET: f64 = 1_000_000.0;
pub const HORIZON_S: i64 = 6 * 3600;
/// Calls a second, and the 24-hour usage's growth a second, of the rising history.
pub const CALLS_SLOPE: f64 = 15.0 / 3600.0;
pub const USAGE_SLOPE: f64 = 30_000.0 / 3600.0;

/// When the rising history's calls reach the capacity, and its usage the budget.
pub fn calls_at_capacity(t0: i64) -> i64 {
    t0 - 30_000 + 4 * HOUR
}

pub fn usage_at_budget(t0: i64) -> i64 {
    t0 + 5 * HOUR - 30_000
}

/// The rising history's live calls at `t_ms`, as an instant query reads them.
pub fn calls_now(t0: i64, t_ms: i64) -> f64 {
    140.0 + (t_ms - (t0 - 30_000)).div_euclid(4 * MIN) as f64
}

/// The rising history's 24-hour token usage at `t_ms`.
pub fn usage(t0: i64, t_ms: i64) -> f64 {
    850_250.0 + USAGE_SLOPE * (t_ms - t0) as f64 / 1000.0
}

/// The alert config the demo runs with: evaluations every second, the history in
/// `state_dir`, the capacity and budget above, the forecasts firing without `for`.
pub fn alert_config(state_dir: &Path) -> String {
    format!(
        r#"
[engine]
interval_seconds = 1
state_dir = "{}"
[capacity]
max_concurrent_calls = {CAPACITY}
horizon_hours = 6
trend_minutes = 60
[capacity.daily_tokens]
groq = {BUDGET}
[rules.CallCapacityForecast]
for_seconds = 0
[rules.ProviderQuotaForecast]
for_seconds = 0
"#,
        state_dir.display()
    )
}

fn series(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut labels: Labels =
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    labels.insert("__name__".to_owned(), name.to_owned());
    labels.insert("job".to_owned(), "voice_agent".to_owned());
    labels
}

/// A series of another instance of the job than the demo (which scrapes itself).
fn other(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut labels = series(name, pairs);
    labels.insert("instance".to_owned(), "voice-agent-2:3000".to_owned());
    labels
}

/// Writes the rising (or clean) history ending at `t0` into `state_dir`, in the tiers the
/// engine of `config` keeps.
pub fn write_history(state_dir: &Path, config: &str, t0: i64, rising: bool) {
    let config = Config::from_toml(config).expect("alert config");
    let catalog = RuleCatalog::new(config.clone()).expect("catalog");
    let mut storage = Storage::new(config.history.storage_limits(config.engine.interval_seconds));
    voxscope::alert::eval::RuleEvaluator::new(&catalog).reach_back(&mut storage);
    let mut add = |labels: &Labels, t: i64, v: f64| storage.append(labels, t, v).expect("append");

    let calls = other("voice_calls_active", &[("transport", "twilio")]);
    for k in -30..=(AHEAD / (4 * MIN)) {
        let t = t0 - 30_000 + k * 4 * MIN;
        add(&calls, t, if rising { 140.0 + k as f64 } else { 60.0 });
    }

    // Rate a + b (t - t0) tokens a second: its integral over the day before t is the
    // usage, 86,400 (a + b (t - t0 - 12 h)).
    let b = if rising { USAGE_SLOPE / 86_400.0 } else { 0.0 };
    let day_usage = if rising { 850_250.0 } else { 300_000.0 };
    let a = day_usage / 86_400.0 + b * 43_200.0;
    let used = |t: i64| {
        let x = |t: i64| (t - t0) as f64 / 1000.0;
        let integral = |x: f64| a * x + b * x * x / 2.0;
        integral(x(t)) - integral(x(t0 - BACK))
    };
    let tokens = other(
        "gen_ai_client_token_usage_sum",
        &[("provider", "groq"), ("token_type", "output"), ("gen_ai_operation_name", "chat")],
    );
    let requests = other(
        "voice_provider_requests_total",
        &[("kind", "tts"), ("provider", "elevenlabs"), ("outcome", "ok")],
    );
    let fallback = |reason| {
        other(
            "voice_provider_fallbacks_total",
            &[("kind", "tts"), ("from", "elevenlabs"), ("to", "azure"), ("reason", reason)],
        )
    };
    let (limited, timeout) = (fallback("rate_limited"), fallback("timeout"));
    for m in 0..=(BACK + AHEAD) / MIN {
        let t = t0 - BACK + m * MIN;
        let minutes = m as f64;
        add(&tokens, t, used(t));
        add(&requests, t, 50.0 * minutes);
        if rising {
            add(&limited, t, 4.0 * minutes);
            add(&timeout, t, minutes);
        }
    }
    // What the usage's recording rule recorded over the last hour.
    let recorded = series("provider:gen_ai_client_token_usage:increase1d", &[("provider", "groq")]);
    for m in -60..=0 {
        let t = t0 + m * MIN;
        add(&recorded, t, used(t) - used(t - 24 * HOUR));
    }
    StateDir::new(state_dir).save_history(&storage).expect("history saved");
}
