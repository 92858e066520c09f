//! Alerts on HTTP and provider failures and slowness.

use std::ops::{Mul, Sub};

use crate::config::{Config, HTTP_DURATION};
use crate::expr::{Matcher, Selector, Window, number, rate, sum_by};
use crate::fixture::{labels, split};
use crate::model::{Category, Fixture, Series, Severity, ValueFormat};

use super::{Ratio, Spec, WINDOW, counter, dash, low_volume, p95, p95_fixture, ratio_fixture};

/// Fallbacks per turn of a chain, by kind. Every switch counts one fallback and one more
/// provider request, so the chain's turns are its provider requests minus the switches
/// that led to a request after a failure; a switch past an open circuit made no request
/// to the provider it skipped. Dividing by all provider requests instead would count the
/// fallbacks' own requests as turns (10.9 % of turns falling back would read 9.8 %).
pub(crate) fn fallback_share(window: Window) -> Ratio {
    let fallbacks = Selector::new("voice_provider_fallbacks_total");
    let requests = sum_by(&["kind"], rate(Selector::new("voice_provider_requests_total"), window));
    let after_failure = sum_by(
        &["kind"],
        rate(fallbacks.clone().with(Matcher::ne("reason", "circuit_open")), window),
    );
    // No failure-driven switch of a kind yet: its turns are all its requests.
    let turns = requests.clone().sub(after_failure.or(requests.mul(number(0.0))));
    Ratio { bad: sum_by(&["kind"], rate(fallbacks, window)), all: turns }
}

pub(super) fn http_and_provider_alerts(config: &Config) -> Vec<Spec> {
    let t = &config.thresholds;
    let five_minutes = Window::Fixed(WINDOW);
    let count = "http_server_request_duration_seconds_count";
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
    let errors = |per_minute: f64| {
        counter(
            "voice_provider_errors_total",
            &[("kind", "tts"), ("provider", "acme"), ("error", "unavailable")],
            per_minute,
        )
    };
    let http_errors = Ratio::of(
        Selector::new(count).with(Matcher::re("status", "5..")),
        Selector::new(count),
        &["route"],
        five_minutes,
    );
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
                firing: [fell_back(fb), answered(turns_ok)].concat(),
                quiet: [fell_back(quiet_fb), answered(quiet_ok)].concat(),
                also_quiet: low_volume(
                    &|b, g| [fell_back(b), answered(g)].concat(),
                    t.min_events,
                    WINDOW / 60,
                ),
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
