//! Alerts on configuration, capacity, process resources and scrape health.

use std::ops::Div;

use crate::config::{Config, EMERGENCY_MEMORY_SHARE};
use crate::fixture::labels;
use crate::model::{Category, Fixture, Severity, ValueFormat};

use super::{Spec, TWILIO, WINDOW, counter, dash, gauge};
use crate::expr::{Expr, MatchOp, Selector, Window, absent, aggregate, rate, sum_by, vector};

pub(super) fn resource_alerts(config: &Config) -> Vec<Spec> {
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
    let missing = |v: f64| {
        gauge("voxscope_config_missing", &[instance[0], instance[1], ("field", "llm.api_key")], v)
    };
    let missing_settings = aggregate(
        "max",
        &["job", "instance", "field"],
        Expr::vector(Selector::new("voxscope_config_missing")),
    );
    let live = sum_by(&["transport"], Expr::vector(Selector::new("voice_calls_active")));
    let capacity_of = sum_by(&["transport"], Expr::vector(Selector::new("voice_calls_capacity")));
    let cpu_share = rate(Selector::new("process_cpu_seconds_total"), Window::Fixed(WINDOW));
    let resident = Expr::vector(Selector::new("process_resident_memory_bytes"));
    let near_limit = t.memory_limit_bytes * EMERGENCY_MEMORY_SHARE;
    let circuit = aggregate(
        "max",
        &["kind", "provider"],
        Expr::vector(Selector::new("voice_provider_circuit_open")),
    );
    let open =
        |v: f64| gauge("voice_provider_circuit_open", &[("kind", "llm"), ("provider", "groq")], v);
    // Lost from discovery: no `up` at all for the job. Equality matchers become the
    // alert's labels; a regex selector leaves none.
    let job_matcher = config.job_matcher();
    let absent_labels: Vec<(&str, &str)> = match job_matcher.op {
        MatchOp::Eq => vec![("job", job_matcher.value.as_str())],
        _ => Vec::new(),
    };
    vec![
        Spec {
            name: "ConfigMissing",
            labels: Vec::new(),
            severity: Severity::Critical,
            category: Category::Config,
            for_minutes: 1,
            dashboard: dash::SERVICE,
            measure: missing_settings.clone(),
            condition: missing_settings.gt(0.0),
            summary: "Required setting {{ $labels.field }} is missing",
            description: "The service runs without {{ $labels.field }}; the features that \
                          need it fail on every call."
                .to_owned(),
            value_format: ValueFormat::Hidden,
            fixture: Fixture {
                also_quiet: Vec::new(),
                firing: missing(1.0),
                quiet: missing(0.0),
                labels: labels(&[instance[0], instance[1], ("field", "llm.api_key")]),
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
            measure: live.clone().div(capacity_of.clone()),
            condition: live
                .div(capacity_of.clone())
                .gt(t.calls_capacity_ratio)
                .and(capacity_of.gt(0.0)),
            summary: "{{ $labels.transport }} calls near capacity",
            description: format!(
                "{{value}} of the {{{{ $labels.transport }}}} call capacity is in use \
                 (threshold {}); new calls will be rejected at 100 %.",
                t.calls_capacity_ratio
            ),
            value_format: ValueFormat::Percent,
            fixture: Fixture {
                also_quiet: Vec::new(),
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
            measure: cpu_share.clone(),
            condition: cpu_share.gt(t.cpu_ratio),
            summary: "{{ $labels.instance }} is busy",
            description: format!(
                "{{{{ $labels.instance }}}} uses {{value}} of a CPU core (threshold {}).",
                t.cpu_ratio
            ),
            value_format: ValueFormat::Percent,
            fixture: Fixture {
                also_quiet: Vec::new(),
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
            measure: resident.clone(),
            condition: resident.clone().gt(t.memory_bytes),
            summary: "{{ $labels.instance }} uses a lot of memory",
            description: format!(
                "{{{{ $labels.instance }}}} has {{value}}B resident (threshold {} bytes).",
                t.memory_bytes
            ),
            value_format: ValueFormat::Bytes,
            fixture: Fixture {
                also_quiet: Vec::new(),
                firing: memory(t.memory_bytes * 1.5),
                quiet: memory(t.memory_bytes / 2.0),
                labels: labels(&instance),
                value: t.memory_bytes * 1.5,
            },
        },
        Spec {
            name: "HighMemoryUsage",
            labels: Vec::new(),
            severity: Severity::Emergency,
            category: Category::Resources,
            for_minutes: 2,
            dashboard: dash::SERVICE,
            measure: resident.clone(),
            condition: resident.gt(near_limit),
            summary: "{{ $labels.instance }} is about to run out of memory",
            description: format!(
                "{{{{ $labels.instance }}}} has {{value}}B resident, over 95 % of its {} byte \
                 limit: the kernel will kill it.",
                t.memory_limit_bytes
            ),
            value_format: ValueFormat::Bytes,
            fixture: Fixture {
                firing: memory(t.memory_limit_bytes * 0.97),
                quiet: memory(t.memory_bytes / 2.0),
                also_quiet: Vec::new(),
                labels: labels(&instance),
                value: t.memory_limit_bytes * 0.97,
            },
        },
        Spec {
            name: "ServiceDown",
            labels: Vec::new(),
            severity: Severity::Critical,
            category: Category::Availability,
            for_minutes: 1,
            dashboard: dash::SERVICE,
            measure: Expr::vector(Selector::new("up")),
            condition: Expr::vector(Selector::new("up")).equal_to(0.0),
            summary: "{{ $labels.instance }} is down",
            description: "Prometheus cannot scrape {{ $labels.instance }} of job \
                          {{ $labels.job }}: the process is down or unreachable."
                .to_owned(),
            value_format: ValueFormat::Hidden,
            fixture: Fixture {
                also_quiet: Vec::new(),
                firing: up(0.0),
                quiet: up(1.0),
                labels: labels(&instance),
                value: 0.0,
            },
        },
        Spec {
            name: "ServiceDown",
            labels: vec![("cause", "absent")],
            severity: Severity::Critical,
            category: Category::Availability,
            for_minutes: 1,
            dashboard: dash::SERVICE,
            measure: absent(Selector::new("up")),
            condition: absent(Selector::new("up")),
            summary: "No target of job {{ $labels.job }} is scraped",
            description: "Prometheus has no target of the service's job: it was lost from \
                          service discovery or the scrape config."
                .to_owned(),
            value_format: ValueFormat::Hidden,
            fixture: Fixture {
                firing: Vec::new(),
                quiet: up(1.0),
                also_quiet: Vec::new(),
                labels: labels(&absent_labels),
                value: 1.0,
            },
        },
        Spec {
            name: "ProviderCircuitOpen",
            labels: Vec::new(),
            severity: Severity::Critical,
            category: Category::Errors,
            for_minutes: 1,
            dashboard: dash::PROVIDERS,
            measure: circuit.clone(),
            condition: circuit.gt(0.0),
            summary: "{{ $labels.kind }} provider {{ $labels.provider }} is cut off",
            description: "The circuit breaker of {{ $labels.kind }} provider \
                          {{ $labels.provider }} is open: it failed repeatedly and the chain \
                          skips it for its fallback. Its errors, slowness and the fallbacks \
                          it causes are muted while this fires."
                .to_owned(),
            value_format: ValueFormat::Hidden,
            fixture: Fixture {
                firing: open(1.0),
                quiet: open(0.0),
                also_quiet: Vec::new(),
                labels: labels(&[("kind", "llm"), ("provider", "groq")]),
                value: 1.0,
            },
        },
        Spec {
            name: "Watchdog",
            labels: Vec::new(),
            severity: Severity::None,
            category: Category::Availability,
            for_minutes: 0,
            dashboard: dash::SERVICE,
            measure: vector(1.0),
            condition: vector(1.0),
            summary: "Alerting pipeline heartbeat",
            description: "Always firing while Prometheus evaluates rules and Alertmanager \
                          delivers them; a dead-man's-switch receiver alerts when it stops."
                .to_owned(),
            value_format: ValueFormat::Hidden,
            fixture: Fixture {
                firing: Vec::new(),
                quiet: Vec::new(),
                also_quiet: Vec::new(),
                labels: labels(&[]),
                value: 1.0,
            },
        },
    ]
}
