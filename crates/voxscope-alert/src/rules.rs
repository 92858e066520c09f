//! The threshold alerts of DESIGN.md's table, built from a validated [`Config`].

use crate::config::{Config, HTTP_DURATION, LLM_DURATION, SENTIMENT, TTFB, TURN_LATENCY};
use crate::fixture::{PER_MINUTE, SAMPLES, labels, neighbours, observations_in, selector, split};
use crate::model::{AlertRule, Category, Fixture, Series, Severity, ValueFormat};

/// Dashboard uids, shared with the dashboard generator.
pub(crate) mod dash {
    pub const CALLS: &str = "voxscope-calls";
    pub const PROVIDERS: &str = "voxscope-providers";
    pub const HTTP: &str = "voxscope-http";
    pub const SLO: &str = "voxscope-slo";
    pub const SERVICE: &str = "voxscope-service";
}

struct Spec {
    name: &'static str,
    /// Static labels that tell rules of one alertname apart (promtool flags duplicates).
    labels: Vec<(&'static str, &'static str)>,
    severity: Severity,
    category: Category,
    for_minutes: u64,
    dashboard: &'static str,
    expr: String,
    summary: &'static str,
    /// `{value}` marks where the value template goes.
    description: String,
    value_format: ValueFormat,
    fixture: Fixture,
}

impl Spec {
    fn build(self) -> AlertRule {
        AlertRule {
            name: self.name.to_owned(),
            expr: self.expr,
            for_seconds: self.for_minutes * 60,
            severity: self.severity,
            category: self.category,
            labels: self.labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            summary: self.summary.to_owned(),
            description: self.description.replace("{value}", self.value_format.template()),
            value_format: self.value_format,
            dashboard: self.dashboard,
            fixture: self.fixture,
        }
    }
}

fn p95(metric: &str, by: &str, filter: &str, window: &str) -> String {
    format!("histogram_quantile(0.95, sum by (le, {by}) (rate({metric}_bucket{filter}[{window}])))")
}

/// A p95 alert's fixture: firing puts every observation just above `threshold`, quiet
/// just under `lowest` (the family's lowest threshold).
fn p95_fixture(
    config: &Config,
    metric: &str,
    labels_: &[(&str, &str)],
    threshold: f64,
    lowest: f64,
) -> Fixture {
    let bounds = config.buckets_of(metric);
    let (_, above) = neighbours(bounds, threshold);
    // Validation guarantees a bound above every quantile threshold.
    let upper = above.unwrap_or(threshold * 2.0);
    let (firing, value) = observations_in(metric, labels_, Some(threshold), upper, 0.95);
    let (below, _) = neighbours(bounds, lowest);
    let (quiet, _) = observations_in(metric, labels_, below, lowest, 0.95);
    Fixture { firing, quiet, labels: labels(labels_), value }
}

/// Counter pairs for a `bad / all > ratio` alert: firing at twice the ratio, quiet at half.
fn ratio_fixture(
    bad: impl Fn(f64) -> Vec<Series>,
    good: impl Fn(f64) -> Vec<Series>,
    ratio: f64,
    lowest: f64,
    labels_: &[(&str, &str)],
) -> Fixture {
    let (b, g, value) = split(ratio * 2.0);
    let firing = [bad(b), good(g)].concat();
    let (b, g, _) = split(lowest / 2.0);
    let quiet = [bad(b), good(g)].concat();
    Fixture { firing, quiet, labels: labels(labels_), value }
}

fn counter(name: &str, labels_: &[(&str, &str)], per_minute: f64) -> Vec<Series> {
    vec![Series::counter(selector(name, labels_), per_minute, SAMPLES)]
}

fn gauge(name: &str, labels_: &[(&str, &str)], value: f64) -> Vec<Series> {
    vec![Series::gauge(selector(name, labels_), value, SAMPLES)]
}

const TWILIO: (&str, &str) = ("transport", "twilio");

/// Every threshold alert, in the order of DESIGN.md's table.
pub(crate) fn threshold_alerts(config: &Config) -> Vec<AlertRule> {
    let t = &config.thresholds;
    let turn = config.slo.turn_latency.threshold_seconds;
    let mut specs = vec![
        Spec {
            name: "HighCallLatency",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Performance,
            for_minutes: 5,
            dashboard: dash::CALLS,
            expr: format!("{} > {turn}", p95(TURN_LATENCY, "transport", "", "5m")),
            summary: "Slow turns on {{ $labels.transport }} calls",
            description: format!(
                "p95 voice-to-voice turn latency on {{{{ $labels.transport }}}} is {{value}}, \
                 over the {turn} s objective threshold."
            ),
            value_format: ValueFormat::Duration,
            fixture: p95_fixture(config, TURN_LATENCY, &[TWILIO], turn, turn),
        },
        Spec {
            name: "HighAIResponseTime",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Performance,
            for_minutes: 5,
            dashboard: dash::PROVIDERS,
            expr: format!(
                "{} > {}",
                p95(LLM_DURATION, "kind, provider", "{kind=\"llm\"}", "5m"),
                t.llm_duration_p95_seconds
            ),
            summary: "Slow LLM responses from {{ $labels.provider }}",
            description: format!(
                "p95 LLM request duration of {{{{ $labels.provider }}}} is {{value}}, over {} s.",
                t.llm_duration_p95_seconds
            ),
            value_format: ValueFormat::Duration,
            fixture: p95_fixture(
                config,
                LLM_DURATION,
                &[("kind", "llm"), ("provider", "openai")],
                t.llm_duration_p95_seconds,
                t.llm_duration_p95_seconds,
            ),
        },
    ];
    for (kind, limits) in t.ttfb.by_kind() {
        for (severity, threshold) in
            [(Severity::Warning, limits.warning), (Severity::Critical, limits.critical)]
        {
            let filter = format!("{{kind=\"{kind}\"}}");
            specs.push(Spec {
                name: "HighProviderTTFB",
                labels: vec![("kind", kind)],
                severity,
                category: Category::Performance,
                for_minutes: 5,
                dashboard: dash::PROVIDERS,
                expr: format!("{} > {threshold}", p95(TTFB, "kind, provider", &filter, "5m")),
                summary: "Slow first bytes from {{ $labels.kind }} provider {{ $labels.provider }}",
                description: format!(
                    "p95 time to first byte of {{{{ $labels.kind }}}} provider \
                     {{{{ $labels.provider }}}} is {{value}}, over {threshold} s."
                ),
                value_format: ValueFormat::Duration,
                fixture: p95_fixture(
                    config,
                    TTFB,
                    &[("kind", kind), ("provider", "acme")],
                    threshold,
                    limits.warning,
                ),
            });
        }
    }
    specs.extend(call_alerts(config));
    specs.extend(http_and_provider_alerts(config));
    specs.extend(resource_alerts(config));
    specs.into_iter().map(Spec::build).collect()
}

fn call_alerts(config: &Config) -> Vec<Spec> {
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

fn http_and_provider_alerts(config: &Config) -> Vec<Spec> {
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

fn resource_alerts(config: &Config) -> Vec<Spec> {
    let t = &config.thresholds;
    let job = config.service.job.as_str();
    let instance = [("job", job), ("instance", "voice-agent:3000")];
    let capacity = |active: f64| {
        [
            gauge("voice_calls_active", &[TWILIO], active),
            gauge("voice_calls_capacity", &[TWILIO], 100.0),
        ]
        .concat()
    };
    let busy = (t.calls_capacity_ratio * 100.0 + 10.0).min(100.0).floor();
    let cpu = |share: f64| counter("process_cpu_seconds_total", &instance, share * 60.0);
    let memory = |bytes: f64| gauge("process_resident_memory_bytes", &instance, bytes);
    let cpu_busy = t.cpu_ratio * 1.25;
    let up = |v: f64| gauge("up", &instance, v);
    let missing = |v: f64| gauge("voxscope_config_missing", &[("field", "llm.api_key")], v);
    vec![
        Spec {
            name: "ConfigMissing",
            labels: Vec::new(),
            severity: Severity::Critical,
            category: Category::Config,
            for_minutes: 1,
            dashboard: dash::SERVICE,
            expr: "max by (field) (voxscope_config_missing) > 0".to_owned(),
            summary: "Required setting {{ $labels.field }} is missing",
            description: "The service runs without {{ $labels.field }}; the features that \
                          need it fail on every call."
                .to_owned(),
            value_format: ValueFormat::Hidden,
            fixture: Fixture {
                firing: missing(1.0),
                quiet: missing(0.0),
                labels: labels(&[("field", "llm.api_key")]),
                value: 1.0,
            },
        },
        Spec {
            name: "CallsNearCapacity",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Resources,
            for_minutes: 5,
            dashboard: dash::CALLS,
            expr: format!(
                "sum by (transport) (voice_calls_active) / sum by (transport) \
                 (voice_calls_capacity) > {} and sum by (transport) (voice_calls_capacity) > 0",
                t.calls_capacity_ratio
            ),
            summary: "{{ $labels.transport }} calls near capacity",
            description: format!(
                "{{value}} of the {{{{ $labels.transport }}}} call capacity is in use \
                 (threshold {}); new calls will be rejected at 100 %.",
                t.calls_capacity_ratio
            ),
            value_format: ValueFormat::Percent,
            fixture: Fixture {
                firing: capacity(busy),
                quiet: capacity((t.calls_capacity_ratio * 50.0).floor()),
                labels: labels(&[TWILIO]),
                value: busy / 100.0,
            },
        },
        Spec {
            name: "HighCPUUsage",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Resources,
            for_minutes: 5,
            dashboard: dash::SERVICE,
            expr: format!("rate(process_cpu_seconds_total[5m]) > {}", t.cpu_ratio),
            summary: "{{ $labels.instance }} is busy",
            description: format!(
                "{{{{ $labels.instance }}}} uses {{value}} of a CPU core (threshold {}).",
                t.cpu_ratio
            ),
            value_format: ValueFormat::Percent,
            fixture: Fixture {
                firing: cpu(cpu_busy),
                quiet: cpu(t.cpu_ratio / 2.0),
                labels: labels(&instance),
                value: cpu_busy,
            },
        },
        Spec {
            name: "HighMemoryUsage",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Resources,
            for_minutes: 10,
            dashboard: dash::SERVICE,
            expr: format!("process_resident_memory_bytes > {}", t.memory_bytes),
            summary: "{{ $labels.instance }} uses a lot of memory",
            description: format!(
                "{{{{ $labels.instance }}}} has {{value}}B resident (threshold {} bytes).",
                t.memory_bytes
            ),
            value_format: ValueFormat::Bytes,
            fixture: Fixture {
                firing: memory(t.memory_bytes * 1.5),
                quiet: memory(t.memory_bytes / 2.0),
                labels: labels(&instance),
                value: t.memory_bytes * 1.5,
            },
        },
        Spec {
            name: "ServiceDown",
            labels: Vec::new(),
            severity: Severity::Critical,
            category: Category::Availability,
            for_minutes: 1,
            dashboard: dash::SERVICE,
            expr: format!("up{{job=\"{job}\"}} == 0"),
            summary: "{{ $labels.instance }} is down",
            description: "Prometheus cannot scrape {{ $labels.instance }} of job \
                          {{ $labels.job }}: the process is down or unreachable."
                .to_owned(),
            value_format: ValueFormat::Hidden,
            fixture: Fixture {
                firing: up(0.0),
                quiet: up(1.0),
                labels: labels(&instance),
                value: 0.0,
            },
        },
    ]
}
