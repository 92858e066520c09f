//! The scale-out variant of `deploy/`, under `deploy/scale-out/`: the service's
//! instances (`[deploy] instances`) scraped by one Prometheus under one job, recording
//! rules that sum them by job and by instance, an instances dashboard for the
//! drill-down, and an OpenTelemetry Collector tier for traces across instances: a
//! load balancer that routes every span by its trace id to one of the tail samplers,
//! so that each sampler sees whole traces. The compose stack reuses the rules,
//! dashboards, Alertmanager config and secrets of `deploy/`.
//!
//! ```
//! let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
//! let files = voxscope_alert::scaleout::files(&catalog);
//! let prometheus = files.iter().find(|f| f.path == voxscope_alert::scaleout::PROMETHEUS);
//! assert!(prometheus.unwrap().contents.contains("host.docker.internal:3002"));
//! ```

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::collector::OTLP_HTTP_PORT;
use crate::deploy::{File, compose_doc, dashboard_providers, prometheus_doc};
use crate::expr::{Expr, Scope, Selector, Window, quantile, rate, sum_by};
use crate::model::RecordingRule;
use crate::prometheus::GENERATED;
use crate::{RuleCatalog, grafana, yaml};

/// The variant's directory, relative to `deploy/`.
pub const DIR: &str = "scale-out";
/// Its prometheus.yml, relative to `deploy/`.
pub const PROMETHEUS: &str = "scale-out/prometheus/prometheus.yml";
/// Its recording rules, relative to `deploy/`.
pub const RULES: &str = "scale-out/prometheus/rules/voxscope-instances.rules.yml";
/// The load-balancing collector's config, relative to `deploy/`.
pub const LOADBALANCER: &str = "scale-out/otel-collector/loadbalancer.yaml";
/// The tail-sampling collectors' config, relative to `deploy/`.
pub const TAIL_SAMPLING: &str = "scale-out/otel-collector/tail-sampling.yaml";
/// How many tail-sampling collectors the stack runs.
pub const SAMPLERS: usize = 2;
/// The OTLP/gRPC port of every collector.
pub const OTLP_GRPC_PORT: u16 = 4317;
/// Where the load balancer's OTLP/HTTP receiver is published on the host (the log
/// collector of `deploy/` keeps 4318).
pub const TRACES_HTTP_PORT: u16 = 4319;
/// The window of the recorded rates and quantiles, seconds.
const WINDOW: u64 = 300;

/// Every file of `deploy/scale-out/`.
pub fn files(catalog: &RuleCatalog) -> Vec<File> {
    let dashboard = grafana::instances::instances(catalog);
    vec![
        file(PROMETHEUS, format!("{GENERATED}{}", yaml::to_string(&prometheus(catalog)))),
        file(RULES, rule_file(catalog)),
        file(LOADBALANCER, format!("{GENERATED}{}", yaml::to_string(&loadbalancer()))),
        file(TAIL_SAMPLING, format!("{GENERATED}{}", yaml::to_string(&tail_sampling(catalog)))),
        file("scale-out/docker-compose.yml", docker_compose(catalog)),
        file(
            "scale-out/grafana/provisioning/dashboards/voxscope.yml",
            dashboard_providers(&[
                ("voxscope", "/var/lib/grafana/dashboards"),
                ("voxscope-scale-out", "/var/lib/grafana/dashboards-scale-out"),
            ]),
        ),
        file(format!("scale-out/grafana/dashboards/{}.json", dashboard.uid), dashboard.json()),
    ]
}

fn file(path: impl Into<String>, contents: impl Into<String>) -> File {
    File { path: path.into(), contents: contents.into() }
}

/// prometheus.yml of the variant: every instance a target of the service's job, the
/// rules of `deploy/prometheus/rules` and the variant's own (paths relative to the
/// file, so the same in the repository and in the container, which mounts `deploy/`).
pub fn prometheus(catalog: &RuleCatalog) -> Value {
    let rules = ["../../prometheus/rules/*.rules.yml", "rules/*.rules.yml"];
    prometheus_doc(catalog, &catalog.config.deploy.instances, &rules)
}

/// The recording rules of the variant: live calls, capacity, request rate and p95
/// turn latency summed over the instances of the job (`job:`), and per instance
/// (`instance:`); instances up (`job:up:sum`). Quantiles sum the buckets of every
/// instance before the quantile, so that the job's p95 is the p95 of all its turns.
pub fn recording_rules(catalog: &RuleCatalog) -> Vec<RecordingRule> {
    let scope = Scope::rules(catalog.config.job_matcher(), WINDOW);
    let gauge = |metric: &str| Expr::vector(Selector::new(metric));
    let requests =
        || rate(Selector::new("http_server_request_duration_seconds_count"), Window::Free);
    let turns = Selector::new("voice_turn_latency_seconds");
    let by_level = |name: &str, job: Expr, instance: Expr| {
        [("job", job), ("instance", instance)]
            .map(|(level, query)| (format!("{level}:{name}"), query))
    };
    let mut rules: Vec<(String, Expr)> = Vec::new();
    for metric in ["voice_calls_active", "voice_calls_capacity"] {
        let (job, instance) = (sum_by(&[], gauge(metric)), sum_by(&["instance"], gauge(metric)));
        rules.extend(by_level(&format!("{metric}:sum"), job, instance));
    }
    rules.extend(by_level(
        "http_server_requests:rate5m",
        sum_by(&[], requests()),
        sum_by(&["instance"], requests()),
    ));
    rules.extend(by_level(
        "voice_turn_latency_seconds:p95_5m",
        quantile(0.95, &[], turns.clone(), Window::Free),
        quantile(0.95, &["instance"], turns, Window::Free),
    ));
    rules.push(("job:up:sum".to_owned(), sum_by(&[], gauge("up"))));
    rules
        .into_iter()
        .map(|(record, query)| RecordingRule {
            expr: query.render(&scope),
            query: query.bind(WINDOW),
            record,
            labels: BTreeMap::new(),
        })
        .collect()
}

fn rule_file(catalog: &RuleCatalog) -> String {
    let rules: Vec<Value> = recording_rules(catalog)
        .iter()
        .map(|r| json!({"record": r.record, "expr": r.expr}))
        .collect();
    let doc = json!({"groups": [{"name": "voxscope-instances", "rules": rules}]});
    format!("{GENERATED}{}", yaml::to_string(&doc))
}

/// The memory limiter every collector of the tier runs first.
fn memory_limiter() -> Value {
    json!({"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 20})
}

/// The tail samplers' host names in the stack.
pub fn samplers() -> Vec<String> {
    (1..=SAMPLERS).map(|n| format!("otel-tail-{n}")).collect()
}

/// The load-balancing collector: OTLP in (gRPC and HTTP), every span routed by its
/// trace id to one of the tail samplers, so that all spans of a trace, whichever
/// instance sent them, reach the same sampler.
pub fn loadbalancer() -> Value {
    let hostnames: Vec<String> =
        samplers().iter().map(|host| format!("{host}:{OTLP_GRPC_PORT}")).collect();
    json!({
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": format!("0.0.0.0:{OTLP_GRPC_PORT}")},
            "http": {"endpoint": format!("0.0.0.0:{OTLP_HTTP_PORT}")},
        }}},
        "processors": {"memory_limiter": memory_limiter()},
        "exporters": {"loadbalancing": {
            "routing_key": "traceID",
            "protocol": {"otlp": {"tls": {"insecure": true}, "timeout": "1s"}},
            "resolver": {"static": {"hostnames": hostnames}},
        }},
        "service": {"pipelines": {"traces": {
            "receivers": ["otlp"],
            "processors": ["memory_limiter"],
            "exporters": ["loadbalancing"],
        }}},
    })
}

/// A tail-sampling collector: whole traces kept when one of their spans failed, when
/// the trace took longer than the HTTP p95 threshold, and one in ten of the rest, then
/// exported to Jaeger.
pub fn tail_sampling(catalog: &RuleCatalog) -> Value {
    let slow_ms = (catalog.config.thresholds.http_latency_p95_seconds * 1000.0).round() as u64;
    json!({
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": format!("0.0.0.0:{OTLP_GRPC_PORT}")},
        }}},
        "processors": {
            "memory_limiter": memory_limiter(),
            "tail_sampling": {
                "decision_wait": "10s",
                "num_traces": 50000,
                "expected_new_traces_per_sec": 100,
                "decision_cache": {"sampled_cache_size": 100000},
                "policies": [
                    {"name": "errors", "type": "status_code",
                     "status_code": {"status_codes": ["ERROR"]}},
                    {"name": "slow", "type": "latency", "latency": {"threshold_ms": slow_ms}},
                    {"name": "baseline", "type": "probabilistic",
                     "probabilistic": {"sampling_percentage": 10}},
                ],
            },
            "batch": {"send_batch_size": 1024, "timeout": "5s"},
        },
        "exporters": {"otlp/jaeger": {
            "endpoint": format!("jaeger:{OTLP_GRPC_PORT}"),
            "tls": {"insecure": true},
        }},
        "service": {"pipelines": {"traces": {
            "receivers": ["otlp"],
            "processors": ["memory_limiter", "tail_sampling", "batch"],
            "exporters": ["otlp/jaeger"],
        }}},
    })
}

/// The compose stack of the variant: the stack of `deploy/` (paths one level up),
/// its Prometheus on the variant's config, Grafana with the instances dashboard too,
/// and the trace tier: the load balancer, the tail samplers and Jaeger.
fn docker_compose(catalog: &RuleCatalog) -> String {
    format!("{GENERATED}{}", yaml::to_string(&compose(catalog)))
}

fn compose(catalog: &RuleCatalog) -> Value {
    let mut doc = compose_doc(catalog);
    relocate(&mut doc["services"]);
    // `published`: host ports; without, the OTLP/gRPC port inside the stack only.
    let collector = |config: &str, published: Option<Value>| {
        let mut service = json!({
            "image": crate::collector::IMAGE,
            "command": [format!("--config=/etc/otelcol-contrib/{config}")],
            "volumes": ["./otel-collector:/etc/otelcol-contrib:ro"],
            "restart": "unless-stopped",
        });
        match published {
            Some(ports) => service["ports"] = ports,
            None => service["expose"] = json!([OTLP_GRPC_PORT.to_string()]),
        }
        service
    };
    if let Some(services) = doc["services"].as_object_mut() {
        if let Some(prometheus) = services.get_mut("prometheus") {
            prometheus["command"][0] = json!(format!("--config.file=/etc/voxscope/{PROMETHEUS}"));
            prometheus["volumes"] = json!(["..:/etc/voxscope:ro", "prometheus-data:/prometheus"]);
        }
        if let Some(grafana) = services.get_mut("grafana") {
            grafana["volumes"] = json!([
                "../grafana/provisioning/datasources:/etc/grafana/provisioning/datasources:ro",
                "./grafana/provisioning/dashboards:/etc/grafana/provisioning/dashboards:ro",
                "../grafana/dashboards:/var/lib/grafana/dashboards:ro",
                "./grafana/dashboards:/var/lib/grafana/dashboards-scale-out:ro",
                "../secrets/grafana_admin_password:/run/secrets/grafana_admin_password:ro",
                "grafana-data:/var/lib/grafana",
            ]);
        }
        let published = json!([
            format!("{OTLP_GRPC_PORT}:{OTLP_GRPC_PORT}"),
            format!("{TRACES_HTTP_PORT}:{OTLP_HTTP_PORT}"),
        ]);
        services.insert(
            "otel-loadbalancer".to_owned(),
            collector("loadbalancer.yaml", Some(published)),
        );
        for host in samplers() {
            services.insert(host, collector("tail-sampling.yaml", None));
        }
        services.insert(
            "jaeger".to_owned(),
            json!({
                "image": "jaegertracing/jaeger:2.5.0",
                "expose": [OTLP_GRPC_PORT.to_string()],
                "ports": ["16686:16686"],
                "restart": "unless-stopped",
            }),
        );
    }
    doc
}

/// Rewrites the bind-mount sources of `services` (relative to `deploy/`) for a
/// compose file one directory down.
fn relocate(services: &mut Value) {
    let Some(services) = services.as_object_mut() else { return };
    for service in services.values_mut() {
        let Some(volumes) = service.get_mut("volumes").and_then(Value::as_array_mut) else {
            continue;
        };
        for volume in volumes {
            if let Some(rest) = volume.as_str().and_then(|v| v.strip_prefix("./")) {
                *volume = json!(format!("../{rest}"));
            }
        }
    }
}

/// The README section of the variant.
pub fn readme(catalog: &RuleCatalog) -> String {
    let instances = catalog.config.deploy.instances.join("`, `");
    let job = &catalog.config.service.job;
    format!(
        "## Scale-out\n\n\
`scale-out/` runs the same stack for a service with several instances behind a load \
balancer: `docker compose up -d` in `scale-out/` (instead of this directory; it reuses \
the rules, dashboards, Alertmanager config and secrets here). One Prometheus scrapes \
every instance of `[deploy] instances` (`{instances}`) under the one job `{job}`; \
each series keeps its `instance` label.\n\n\
- Aggregation. The rules on traffic (error ratios, latency quantiles, SLO burn \
rates, capacity) sum over the job before they divide or take a quantile \
(`sum by (job)`, `histogram_quantile` over the summed buckets), so a ratio or a p95 is \
that of all the job's traffic, not an average of per-instance figures, and such an \
alert fires once per job. The rules on one process (`ServiceDown`, `HighCPUUsage`, \
`HighMemoryUsage`, `ConfigMissing`) keep the `instance` label and fire per instance. \
`scale-out/prometheus/rules` adds `job:` and `instance:` recording rules (live calls, \
capacity, request rate, p95 turn latency) and `job:up:sum`, the instances up.\n\
- Drill-down. Every dashboard has an `instance` variable (All by default); the \
`voxscope instances` dashboard (`scale-out/grafana/dashboards`) draws one series per \
instance: live calls, requests, 5xx share, p95 turn latency, fallbacks, memory.\n\
- Traces across instances. A trace can span instances (a request forwarded with its \
`traceparent`, a call's media socket on one instance and its API calls on another), \
and a tail sampler can only judge a trace whose spans all reach it. So the services \
send traces to `otel-loadbalancer` \
(`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://localhost:{traces_http}/v1/traces`, or \
gRPC on {grpc}), whose `loadbalancing` exporter routes every span by its trace id \
(`routing_key: traceID`) to one of {samplers} `tail_sampling` collectors; each keeps \
whole traces with an error, traces slower than {slow} s, and one in ten of the \
rest, and exports them to Jaeger (http://localhost:16686). Adding a sampler \
means adding it to the static resolver's list (or a DNS resolver); traces in flight \
then move once. `decision_wait` (10 s) bounds how long a sampler waits for a trace's \
spans; later spans of a decided trace follow the cached decision.\n\
- Exemplars. The exposition carries no OpenMetrics exemplars: \
metrics-exporter-prometheus 0.18 renders only the Prometheus text format 0.0.4, with \
no exemplar support, and the `metrics` facade that voxscope records through passes a \
bare number per observation, with no trace context to attach. From a slow bucket to \
its traces, use the trace ids in the logs (Loki) and in `/traces`, or the Jaeger \
search by service and duration.\n",
        traces_http = TRACES_HTTP_PORT,
        grpc = OTLP_GRPC_PORT,
        samplers = SAMPLERS,
        slow = catalog.config.thresholds.http_latency_p95_seconds,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    /// Every component a pipeline names is defined, and every defined one is used: the
    /// collector refuses to start otherwise.
    #[test]
    fn pipelines_name_only_defined_components_and_use_all_of_them() {
        let catalog = RuleCatalog::new(Config::default()).unwrap();
        for doc in [loadbalancer(), tail_sampling(&catalog)] {
            let pipeline = &doc["service"]["pipelines"]["traces"];
            for kind in ["receivers", "processors", "exporters"] {
                let mut used: Vec<&str> =
                    pipeline[kind].as_array().unwrap().iter().filter_map(Value::as_str).collect();
                used.sort_unstable();
                let defined: Vec<&str> =
                    doc[kind].as_object().unwrap().keys().map(String::as_str).collect();
                assert_eq!(used, defined, "{kind}");
            }
        }
    }

    /// The load balancer sends to the samplers the stack runs, on the port they
    /// listen on, routing by trace id.
    #[test]
    fn the_load_balancer_routes_by_trace_id_to_every_sampler_of_the_stack() {
        let catalog = RuleCatalog::new(Config::default()).unwrap();
        let lb = loadbalancer();
        let exporter = &lb["exporters"]["loadbalancing"];
        assert_eq!(exporter["routing_key"], "traceID");
        let hostnames = exporter["resolver"]["static"]["hostnames"].as_array().unwrap();
        assert_eq!(hostnames, &[json!("otel-tail-1:4317"), json!("otel-tail-2:4317")]);
        let sampler = tail_sampling(&catalog);
        assert_eq!(sampler["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"], "0.0.0.0:4317");
        let compose = compose(&catalog);
        let services = compose["services"].as_object().unwrap();
        let others = ["jaeger".to_owned(), "otel-loadbalancer".to_owned()];
        for host in samplers().iter().chain(&others) {
            assert!(services.contains_key(host), "{host} in the stack");
        }
        // The stack one level down mounts deploy/ and the files of deploy/.
        let prometheus = services["prometheus"]["volumes"].to_string();
        assert!(prometheus.contains("\"..:/etc/voxscope:ro\""), "{prometheus}");
        assert!(!compose.to_string().contains("\"./prometheus"), "relocated");
        assert!(compose.to_string().contains("\"../alertmanager:"), "relocated");
        assert!(!compose.to_string().contains("null"), "no service gains empty keys");
        let slow = &sampler["processors"]["tail_sampling"]["policies"][1]["latency"];
        assert_eq!(slow["threshold_ms"], 2000);
    }

    /// The recorded series sum over the job, or keep the instance; nothing else.
    #[test]
    fn recording_rules_aggregate_by_job_or_by_instance() {
        let catalog = RuleCatalog::new(Config::default()).unwrap();
        let rules = recording_rules(&catalog);
        assert_eq!(rules.len(), 9);
        for rule in &rules {
            let by = if rule.record.starts_with("instance:") { "job instance" } else { "job" };
            let clause = rule.expr.split("by (").nth(1).and_then(|rest| rest.split(')').next());
            let labels: Vec<&str> =
                clause.unwrap_or_default().split(", ").filter(|l| *l != "le").collect();
            assert_eq!(labels.join(" "), by, "{}: {}", rule.record, rule.expr);
            assert!(rule.expr.contains("{job=\"voice_agent\""), "{}", rule.expr);
        }
        let live = rules.iter().find(|r| r.record == "job:voice_calls_active:sum").unwrap();
        assert_eq!(live.expr, "sum by (job) (voice_calls_active{job=\"voice_agent\"})");
    }

    /// The instances come from the config and must be `host:port`s.
    #[test]
    fn instances_come_from_the_config_and_bad_ones_are_refused() {
        let toml =
            "[deploy]\ninstances = [\"10.0.0.1:3000\", \"10.0.0.2:3000\", \"10.0.0.3:3000\"]\n";
        let catalog = RuleCatalog::new(Config::from_toml(toml).unwrap()).unwrap();
        let targets = &prometheus(&catalog)["scrape_configs"][0]["static_configs"][0]["targets"];
        assert_eq!(targets.as_array().unwrap().len(), 3);
        for bad in ["[]", "[\"10.0.0.1\"]", "[\"a b:1\"]"] {
            let err = Config::from_toml(&format!("[deploy]\ninstances = {bad}\n")).unwrap_err();
            assert!(err.to_string().contains("deploy.instances"), "{bad}: {err}");
        }
    }
}
