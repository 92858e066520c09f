//! Alerts on HTTP and provider failures and slowness.

use crate::config::{Config, HTTP_DURATION};
use crate::fixture::{PER_MINUTE, labels, split};
use crate::model::{Category, Fixture, Severity, ValueFormat};

use super::{Spec, counter, dash, p95, p95_fixture, ratio_fixture};

pub(super) fn http_and_provider_alerts(config: &Config) -> Vec<Spec> {
    let t = &config.thresholds;
    let count = "http_server_request_duration_seconds_count";
    let route = [("method", "GET"), ("route", "/calls/{id}")];
    let http = |status: &'static str| {
        move |n: f64| counter(count, &[route[0], route[1], ("status", status)], n)
    };
    let fallbacks = |n: f64| {
        counter(
            "voice_provider_fallbacks_total",
            &[("kind", "llm"), ("from", "openai"), ("to", "groq"), ("reason", "timeout")],
            n,
        )
    };
    let requests = counter(
        "voice_provider_requests_total",
        &[("kind", "llm"), ("provider", "openai"), ("outcome", "ok")],
        PER_MINUTE,
    );
    let errors = |per_minute: f64| {
        counter(
            "voice_provider_errors_total",
            &[("kind", "tts"), ("provider", "acme"), ("error", "unavailable")],
            per_minute,
        )
    };
    let mut specs = vec![
        Spec {
            name: "HighHTTPErrorRate",
            labels: Vec::new(),
            severity: Severity::Critical,
            category: Category::Errors,
            for_minutes: 5,
            dashboard: dash::HTTP,
            expr: format!(
                "sum by (route) (rate({count}{{status=~\"5..\"}}[5m])) \
                 / sum by (route) (rate({count}[5m])) > {}",
                t.http_error_ratio
            ),
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
                t.http_error_ratio,
                t.http_error_ratio,
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
            expr: format!(
                "{} > {}",
                p95(HTTP_DURATION, "route", "", "5m"),
                t.http_latency_p95_seconds
            ),
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
            expr: format!(
                "sum by (kind, provider) (rate(voice_provider_errors_total[5m])) * 60 > {}",
                t.provider_errors_per_minute
            ),
            summary: "{{ $labels.kind }} provider {{ $labels.provider }} is returning errors",
            description: format!(
                "{{{{ $labels.kind }}}} provider {{{{ $labels.provider }}}} fails {{value}} \
                 times a minute (threshold {}).",
                t.provider_errors_per_minute
            ),
            value_format: ValueFormat::Plain,
            fixture: Fixture {
                firing: errors(t.provider_errors_per_minute * 2.0),
                quiet: errors(t.provider_errors_per_minute / 2.0),
                labels: labels(&[("kind", "tts"), ("provider", "acme")]),
                value: t.provider_errors_per_minute * 2.0,
            },
        },
    ];
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
        let (fb, _, value) = split(target);
        let quiet_fb = split(t.fallback_ratio_warning / 2.0).0;
        specs.push(Spec {
            name: "HighFallbackRate",
            labels: Vec::new(),
            severity,
            category: Category::Errors,
            for_minutes: 5,
            dashboard: dash::PROVIDERS,
            expr: format!(
                "sum by (kind) (rate(voice_provider_fallbacks_total[5m])) \
                 / sum by (kind) (rate(voice_provider_requests_total[5m])) > {ratio}"
            ),
            summary: "{{ $labels.kind }} requests are falling back",
            description: format!(
                "{{value}} of {{{{ $labels.kind }}}} provider requests switched to a fallback \
                 provider over 5 minutes (threshold {ratio})."
            ),
            value_format: ValueFormat::Percent,
            fixture: Fixture {
                firing: [fallbacks(fb), requests.clone()].concat(),
                quiet: [fallbacks(quiet_fb), requests.clone()].concat(),
                labels: labels(&[("kind", "llm")]),
                value,
            },
        });
    }
    specs
}
