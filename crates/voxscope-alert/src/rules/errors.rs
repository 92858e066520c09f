//! Alerts on HTTP and provider failures and slowness.

use std::ops::Mul;

use crate::config::{Config, HTTP_DURATION};
use crate::expr::{Matcher, Selector, Window, number, rate, sum_by};
use crate::fixture::{labels, split};
use crate::model::{Category, Fixture, Series, Severity, ValueFormat};

use super::{Ratio, Spec, WINDOW, counter, dash, low_volume, p95, p95_fixture, ratio_fixture};

/// Fallbacks per turn of a chain, by kind: switches to a fallback provider over chain
/// requests (one `voice_provider_chain_duration_seconds` observation each). Dividing by
/// provider requests instead would count the fallbacks' own requests, and retries, as
/// turns (10.9 % of turns falling back would read 9.8 %).
pub(crate) fn fallback_share(window: Window) -> Ratio {
    fallback_share_by(&["kind"], window)
}

/// [`fallback_share`] grouped by `by` (`&[]`: every kind together).
pub(crate) fn fallback_share_by(by: &[&str], window: Window) -> Ratio {
    let turns = Selector::new(CHAIN_DURATION).suffixed("_count");
    Ratio::of(Selector::new("voice_provider_fallbacks_total"), turns, by, window)
}

/// HTTP responses that are 5xx over every response, grouped by `by`.
pub(crate) fn http_error_share(by: &[&str], window: Window) -> Ratio {
    let count = Selector::new(HTTP_COUNT);
    Ratio::of(count.clone().with(Matcher::re("status", "5..")), count, by, window)
}

const HTTP_COUNT: &str = "http_server_request_duration_seconds_count";

/// The histogram a fallback chain observes once per request.
const CHAIN_DURATION: &str = "voice_provider_chain_duration_seconds";

pub(super) fn http_and_provider_alerts(config: &Config) -> Vec<Spec> {
    let t = &config.thresholds;
    let five_minutes = Window::Fixed(WINDOW);
    let count = HTTP_COUNT;
    let route = [("method", "GET"), ("route", "/calls/{id}")];
    let http = |status: &'static str| {
        move |n: f64| counter(count, &[route[0], route[1], ("status", status)], n)
    };
    // A turn that falls back: the primary times out, the fallback answers.
    let fell_back = |n: f64| {
        [
            counter(
                "voice_provider_fallbacks_total",
                &[("kind", "llm"), ("from", "openai"), ("to", "groq"), ("reason", "timeout")],
                n,
            ),
            requests("openai", "timeout", n),
            requests("groq", "ok", n),
        ]
        .concat()
    };
    let answered = |n: f64| requests("openai", "ok", n);
    // Every turn is one chain request, whichever provider answered it.
    let turns = |fell: f64, ok: f64| {
        let chain = counter(&format!("{CHAIN_DURATION}_count"), &[("kind", "llm")], fell + ok);
        [fell_back(fell), answered(ok), chain].concat()
    };
    let errors = |per_minute: f64| {
        counter(
            "voice_provider_errors_total",
            &[("kind", "tts"), ("provider", "acme"), ("error", "unavailable")],
            per_minute,
        )
    };
    let http_errors = http_error_share(&["route"], five_minutes);
    let response_time = p95(HTTP_DURATION, &["route"], Vec::new());
    let provider_errors = sum_by(
        &["kind", "provider", "error"],
        rate(Selector::new("voice_provider_errors_total"), five_minutes),
    )
    .mul(number(60.0));
    let mut specs = vec![
        Spec {
            name: "HighHTTPErrorRate",
            labels: Vec::new(),
            severity: Severity::Critical,
            category: Category::Errors,
            for_minutes: 5,
            dashboard: dash::HTTP,
            measure: http_errors.measure(),
            condition: http_errors.above(t.http_error_ratio, t.min_events),
            summary: "5xx responses on {{ $labels.route }}",
            description: format!(
                "{{value}} of requests to {{{{ $labels.route }}}} failed with a 5xx status \
                 over 5 minutes (threshold {}).",
                t.http_error_ratio
            ),
            value_format: ValueFormat::Percent,
            fixture: ratio_fixture(
                http("503"),
                http("200"),
                (t.http_error_ratio, t.http_error_ratio),
                (t.min_events, WINDOW / 60),
                &[route[1]],
            ),
        },
        Spec {
            name: "HighResponseTime",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Performance,
            for_minutes: 5,
            dashboard: dash::HTTP,
            measure: response_time.clone(),
            condition: response_time.gt(t.http_latency_p95_seconds),
            summary: "Slow responses on {{ $labels.route }}",
            description: format!(
                "p95 duration of requests to {{{{ $labels.route }}}} is {{value}}, over {} s.",
                t.http_latency_p95_seconds
            ),
            value_format: ValueFormat::Duration,
            fixture: p95_fixture(
                config,
                HTTP_DURATION,
                &[route[1]],
                t.http_latency_p95_seconds,
                t.http_latency_p95_seconds,
            ),
        },
        Spec {
            name: "ProviderErrors",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Errors,
            for_minutes: 5,
            dashboard: dash::PROVIDERS,
            measure: provider_errors.clone(),
            condition: provider_errors.gt(t.provider_errors_per_minute),
            summary: "{{ $labels.kind }} provider {{ $labels.provider }} is returning errors",
            description: format!(
                "{{{{ $labels.kind }}}} provider {{{{ $labels.provider }}}} fails {{value}} \
                 times a minute with {{{{ $labels.error }}}} errors (threshold {}).",
                t.provider_errors_per_minute
            ),
            value_format: ValueFormat::Plain,
            fixture: Fixture {
                firing: errors(t.provider_errors_per_minute * 2.0),
                quiet: errors(t.provider_errors_per_minute / 2.0),
                also_quiet: Vec::new(),
                labels: labels(&[("kind", "tts"), ("provider", "acme"), ("error", "unavailable")]),
                value: t.provider_errors_per_minute * 2.0,
            },
        },
    ];
    let fallback = fallback_share(five_minutes);
    for (severity, ratio) in [
        (Severity::Warning, t.fallback_ratio_warning),
        (Severity::Critical, t.fallback_ratio_critical),
    ] {
        // Firing sits between warning and critical for the warning, so that the pair
        // proves the critical one stays quiet there.
        let target = match severity {
            Severity::Warning => (t.fallback_ratio_warning + t.fallback_ratio_critical) / 2.0,
            _ => (t.fallback_ratio_critical * 2.0).min(0.99),
        };
        let (fb, turns_ok, value) = split(target);
        let (quiet_fb, quiet_ok, _) = split(t.fallback_ratio_warning / 2.0);
        specs.push(Spec {
            name: "HighFallbackRate",
            labels: Vec::new(),
            severity,
            category: Category::Errors,
            for_minutes: 5,
            dashboard: dash::PROVIDERS,
            measure: fallback.measure(),
            condition: fallback.above(ratio, t.min_events),
            summary: "{{ $labels.kind }} requests are falling back",
            description: format!(
                "{{value}} of {{{{ $labels.kind }}}} turns switched to a fallback provider \
                 over 5 minutes (threshold {ratio})."
            ),
            value_format: ValueFormat::Percent,
            fixture: Fixture {
                firing: turns(fb, turns_ok),
                quiet: turns(quiet_fb, quiet_ok),
                also_quiet: low_volume(&turns, t.min_events, WINDOW / 60),
                labels: labels(&[("kind", "llm")]),
                value,
            },
        });
    }
    specs
}

fn requests(provider: &str, outcome: &str, per_minute: f64) -> Vec<Series> {
    counter(
        "voice_provider_requests_total",
        &[("kind", "llm"), ("provider", provider), ("outcome", outcome)],
        per_minute,
    )
}
