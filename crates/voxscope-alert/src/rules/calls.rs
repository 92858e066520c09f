//! Alerts on calls: audio quality, sentiment, failed calls.

use crate::config::{Config, SENTIMENT};
use crate::fixture::{labels, neighbours, observations_in};
use crate::model::{Category, Fixture, Severity, ValueFormat};

use super::{Spec, TWILIO, counter, dash, ratio_fixture};

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
            expr: format!(
                "sum by (transport) (rate(voice_call_audio_quality_sum[10m])) \
                 / sum by (transport) (rate(voice_call_audio_quality_count[10m])) < {}",
                t.audio_quality_min
            ),
            summary: "Choppy inbound audio on {{ $labels.transport }} calls",
            description: format!(
                "On average only {{value}} of inbound media frames arrive on time on \
                 {{{{ $labels.transport }}}} calls (threshold {}).",
                t.audio_quality_min
            ),
            value_format: ValueFormat::Percent,
            fixture: Fixture {
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
            // The median from buckets: rate() of a _sum that goes down (negative scores)
            // would read as counter resets, so a mean is not computable.
            expr: format!(
                "histogram_quantile(0.5, sum by (le, transport) \
                 (rate(voice_call_sentiment_bucket[10m]))) < {}",
                t.sentiment_min
            ),
            summary: "Callers on {{ $labels.transport }} sound unhappy",
            description: format!(
                "Median call sentiment on {{{{ $labels.transport }}}} is {{value}}, under {}.",
                t.sentiment_min
            ),
            value_format: ValueFormat::Score,
            fixture: Fixture { firing, quiet, labels: labels(&[TWILIO]), value },
        },
        Spec {
            name: "HighCallErrorRate",
            labels: Vec::new(),
            severity: Severity::Critical,
            category: Category::Errors,
            for_minutes: 5,
            dashboard: dash::CALLS,
            expr: format!(
                "sum by (transport) (rate(voice_calls_total{{outcome=~\"failed|dropped\"}}[5m])) \
                 / sum by (transport) (rate(voice_calls_total[5m])) > {}",
                t.call_error_ratio
            ),
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
                t.call_error_ratio,
                t.call_error_ratio,
                &[TWILIO],
            ),
        },
    ]
}
