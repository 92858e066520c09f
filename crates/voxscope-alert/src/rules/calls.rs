//! Alerts on calls: audio quality, sentiment, failed calls.

use std::ops::Div;

use crate::config::{Config, SENTIMENT};
use crate::fixture::{labels, neighbours, observations_in};
use crate::model::{Category, Fixture, Severity, ValueFormat};

use super::{Ratio, Spec, TWILIO, WINDOW, counter, dash, ratio_fixture};
use crate::expr::{Matcher, Selector, Window, quantile, rate, sum_by};

pub(super) fn call_alerts(config: &Config) -> Vec<Spec> {
    let t = &config.thresholds;
    let quality = |mean: f64| {
        [
            counter("voice_call_audio_quality_sum", &[TWILIO], mean * 10.0),
            counter("voice_call_audio_quality_count", &[TWILIO], 10.0),
        ]
        .concat()
    };
    let low = (t.audio_quality_min - 0.2).max(0.0);
    let (below, above) = neighbours(config.buckets_of(SENTIMENT), t.sentiment_min);
    // Validation guarantees a bound below the sentiment threshold.
    let lower = below.unwrap_or(t.sentiment_min - 1.0);
    let (firing, value) = observations_in(SENTIMENT, &[TWILIO], Some(lower), t.sentiment_min, 0.5);
    let (quiet, _) = observations_in(
        SENTIMENT,
        &[TWILIO],
        Some(t.sentiment_min),
        above.unwrap_or(t.sentiment_min + 1.0),
        0.5,
    );
    let ten_minutes = Window::Fixed(600);
    let quality_metric = Selector::new("voice_call_audio_quality");
    let quality_mean = sum_by(&["transport"], rate(quality_metric.suffixed("_sum"), ten_minutes))
        .div(sum_by(&["transport"], rate(quality_metric.suffixed("_count"), ten_minutes)));
    // The median from buckets: rate() of a _sum that goes down (negative scores) would
    // read as counter resets, so a mean is not computable.
    let sentiment = quantile(0.5, &["transport"], Selector::new(SENTIMENT), ten_minutes);
    let calls = Selector::new("voice_calls_total");
    let failed = Ratio::of(
        calls.clone().with(Matcher::re("outcome", "failed|dropped")),
        calls,
        &["transport"],
        Window::Fixed(WINDOW),
    );
    let bad_calls = |n: f64| counter("voice_calls_total", &[TWILIO, ("outcome", "failed")], n);
    let good_calls = |n: f64| counter("voice_calls_total", &[TWILIO, ("outcome", "completed")], n);
    vec![
        Spec {
            name: "LowAudioQuality",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Quality,
            for_minutes: 10,
            dashboard: dash::CALLS,
            measure: quality_mean.clone(),
            condition: quality_mean.lt(t.audio_quality_min),
            summary: "Choppy inbound audio on {{ $labels.transport }} calls",
            description: format!(
                "On average only {{value}} of inbound media frames arrive on time on \
                 {{{{ $labels.transport }}}} calls (threshold {}).",
                t.audio_quality_min
            ),
            value_format: ValueFormat::Percent,
            fixture: Fixture {
                also_quiet: Vec::new(),
                firing: quality(low),
                quiet: quality((t.audio_quality_min + 0.2).min(1.0)),
                labels: labels(&[TWILIO]),
                // What rate(sum) / rate(count) yields, rounding included.
                value: low * 10.0 / 10.0,
            },
        },
        Spec {
            name: "NegativeSentiment",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Quality,
            for_minutes: 10,
            dashboard: dash::CALLS,
            measure: sentiment.clone(),
            condition: sentiment.lt(t.sentiment_min),
            summary: "Callers on {{ $labels.transport }} sound unhappy",
            description: format!(
                "Median call sentiment on {{{{ $labels.transport }}}} is {{value}}, under {}.",
                t.sentiment_min
            ),
            value_format: ValueFormat::Score,
            fixture: Fixture {
                firing,
                quiet,
                also_quiet: Vec::new(),
                labels: labels(&[TWILIO]),
                value,
            },
        },
        Spec {
            name: "HighCallErrorRate",
            labels: Vec::new(),
            severity: Severity::Critical,
            category: Category::Errors,
            for_minutes: 5,
            dashboard: dash::CALLS,
            measure: failed.measure(),
            condition: failed.above(t.call_error_ratio, t.min_events),
            summary: "Calls on {{ $labels.transport }} are failing",
            description: format!(
                "{{value}} of {{{{ $labels.transport }}}} calls ended failed or dropped \
                 over 5 minutes (threshold {}).",
                t.call_error_ratio
            ),
            value_format: ValueFormat::Percent,
            fixture: ratio_fixture(
                bad_calls,
                good_calls,
                (t.call_error_ratio, t.call_error_ratio),
                (t.min_events, WINDOW / 60),
                &[TWILIO],
            ),
        },
    ]
}
