//! The OpenTelemetry Collector of `deploy/`: it receives the service's log records over
//! OTLP/HTTP (voxscope-trace's `otlp_logs_endpoint`) and forwards them, trace and span
//! ids included, to Loki or to Elasticsearch (`[deploy] logs`), where they are searched
//! by trace id. The compose services it needs come from here too.
//!
//! ```
//! use voxscope_alert::config::{Deploy, LogBackend};
//!
//! let deploy = Deploy { logs: LogBackend::Elasticsearch, ..Deploy::default() };
//! let config = voxscope_alert::collector::config(&deploy);
//! assert!(config.contains("elasticsearch:"));
//! ```

use serde_json::{Map, Value, json};

use crate::config::{Deploy, LogBackend};
use crate::prometheus::GENERATED;
use crate::yaml;

/// The collector config's path, relative to `deploy/`.
pub const CONFIG: &str = "otel-collector/config.yaml";
/// The port of the collector's OTLP/HTTP receiver.
pub const OTLP_HTTP_PORT: u16 = 4318;
/// The collector's container image.
pub const IMAGE: &str = "otel/opentelemetry-collector-contrib:0.136.0";

/// The exporter of `backend`: its name in the collector config and its settings.
fn exporter(backend: LogBackend) -> (&'static str, Value) {
    match backend {
        // Loki 3 ingests OTLP natively: trace_id and span_id become structured metadata.
        LogBackend::Loki => ("otlphttp/loki", json!({"endpoint": "http://loki:3100/otlp"})),
        // One document per record, `trace_id` and `span_id` top-level keyword fields.
        LogBackend::Elasticsearch => (
            "elasticsearch",
            json!({
                "endpoints": ["http://elasticsearch:9200"],
                "logs_index": "voxscope-logs",
            }),
        ),
    }
}

/// The collector config as a value: one `logs` pipeline from the OTLP receiver through
/// a memory limiter and a batch processor to the configured backend.
pub fn document(deploy: &Deploy) -> Value {
    let (name, settings) = exporter(deploy.logs);
    json!({
        "receivers": {
            "otlp": {"protocols": {"http": {"endpoint": format!("0.0.0.0:{OTLP_HTTP_PORT}")}}},
        },
        "processors": {
            // Refuses data before the container's memory runs out, rather than dying.
            "memory_limiter": {
                "check_interval": "1s",
                "limit_percentage": 80,
                "spike_limit_percentage": 20,
            },
            "batch": {"send_batch_size": 1024, "timeout": "5s"},
        },
        "exporters": {name: settings},
        "service": {
            "pipelines": {
                "logs": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": [name],
                },
            },
        },
    })
}

/// `otel-collector/config.yaml`.
pub fn config(deploy: &Deploy) -> String {
    format!("{GENERATED}{}", yaml::to_string(&document(deploy)))
}

/// The compose services of the log pipeline: the collector and its backend (with
/// Kibana beside Elasticsearch), and the named volumes they keep data in.
pub fn compose_services(deploy: &Deploy) -> (Map<String, Value>, Vec<&'static str>) {
    let mut services = Map::new();
    services.insert(
        "otel-collector".to_owned(),
        json!({
            "image": IMAGE,
            "command": ["--config=/etc/otelcol-contrib/config.yaml"],
            "volumes": ["./otel-collector:/etc/otelcol-contrib:ro"],
            "ports": [format!("{OTLP_HTTP_PORT}:{OTLP_HTTP_PORT}")],
            "restart": "unless-stopped",
        }),
    );
    let volumes = match deploy.logs {
        LogBackend::Loki => {
            services.insert(
                "loki".to_owned(),
                json!({
                    "image": "grafana/loki:3.5.5",
                    "command": ["-config.file=/etc/loki/local-config.yaml"],
                    "volumes": ["loki-data:/loki"],
                    "ports": ["3100:3100"],
                    "restart": "unless-stopped",
                }),
            );
            vec!["loki-data"]
        }
        LogBackend::Elasticsearch => {
            services.insert(
                "elasticsearch".to_owned(),
                json!({
                    "image": "docker.elastic.co/elasticsearch/elasticsearch:8.19.4",
                    "environment": [
                        "discovery.type=single-node",
                        "xpack.security.enabled=false",
                        "ES_JAVA_OPTS=-Xms1g -Xmx1g",
                    ],
                    "volumes": ["elasticsearch-data:/usr/share/elasticsearch/data"],
                    "ports": ["9200:9200"],
                    "restart": "unless-stopped",
                }),
            );
            services.insert(
                "kibana".to_owned(),
                json!({
                    "image": "docker.elastic.co/kibana/kibana:8.19.4",
                    "environment": ["ELASTICSEARCH_HOSTS=http://elasticsearch:9200"],
                    "ports": ["5601:5601"],
                    "restart": "unless-stopped",
                }),
            );
            vec!["elasticsearch-data"]
        }
    };
    (services, volumes)
}

/// Grafana's Loki datasource, when the logs go to Loki.
pub fn grafana_datasource(deploy: &Deploy) -> Option<Value> {
    (deploy.logs == LogBackend::Loki).then(|| {
        json!({
            "name": "Loki",
            "type": "loki",
            "access": "proxy",
            "url": "http://loki:3100",
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(value: &Value) -> Vec<String> {
        value.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    /// Every component a pipeline names is defined, and every defined one is used: the
    /// collector refuses to start otherwise.
    #[test]
    fn pipelines_name_only_defined_components_and_use_all_of_them() {
        for logs in [LogBackend::Loki, LogBackend::Elasticsearch] {
            let doc = document(&Deploy { logs, ..Deploy::default() });
            let pipeline = &doc["service"]["pipelines"]["logs"];
            for kind in ["receivers", "processors", "exporters"] {
                let used: Vec<String> = pipeline[kind]
                    .as_array()
                    .expect(kind)
                    .iter()
                    .map(|v| v.as_str().expect("a name").to_owned())
                    .collect();
                let mut defined = names(&doc[kind]);
                defined.sort();
                let mut sorted = used.clone();
                sorted.sort();
                assert_eq!(sorted, defined, "{logs:?} {kind}");
            }
        }
    }

    /// The exporter's host is a service of the compose stack, and the collector's port
    /// is published for the service on the host.
    #[test]
    fn the_backend_the_collector_exports_to_runs_in_the_stack() {
        for logs in [LogBackend::Loki, LogBackend::Elasticsearch] {
            let deploy = Deploy { logs, ..Deploy::default() };
            let doc = document(&deploy);
            let exporter = doc["exporters"].as_object().expect("exporters").values().next();
            let settings = exporter.expect("one exporter").to_string();
            let host = settings.split("http://").nth(1).and_then(|r| r.split(':').next());
            let (services, volumes) = compose_services(&deploy);
            assert!(services.contains_key(host.expect("a URL")), "{logs:?}: {host:?}");
            assert_eq!(services["otel-collector"]["ports"][0], "4318:4318");
            for volume in volumes {
                assert!(services.values().any(|s| s.to_string().contains(volume)), "{volume}");
            }
            assert_eq!(grafana_datasource(&deploy).is_some(), logs == LogBackend::Loki);
        }
    }
}
