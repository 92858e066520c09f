//! Every file under `deploy/`, generated: rules and their tests, Alertmanager config
//! and templates, Grafana dashboards and provisioning, runbooks, prometheus.yml and a
//! docker-compose.yml that runs Prometheus, Alertmanager and Grafana with them.
//!
//! ```
//! let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
//! let files = voxscope_alert::deploy::files(&catalog);
//! assert!(files.iter().any(|f| f.path == "prometheus/rules/voxscope.rules.yml"));
//! ```

use serde_json::json;

use crate::prometheus::{GENERATED, rule_file, unit_tests};
use crate::{RuleCatalog, alertmanager, grafana, runbook, yaml};

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Path relative to `deploy/`, with `/` separators.
    pub path: String,
    /// The contents.
    pub contents: String,
}

fn file(path: impl Into<String>, contents: impl Into<String>) -> File {
    File { path: path.into(), contents: contents.into() }
}

/// The rule file's path, relative to `deploy/`.
pub const RULES: &str = "prometheus/rules/voxscope.rules.yml";
/// The promtool unit tests' path, relative to `deploy/`.
pub const RULE_TESTS: &str = "prometheus/rules/voxscope.rules.test.yml";
/// The Alertmanager config's path, relative to `deploy/`.
pub const ALERTMANAGER: &str = "alertmanager/alertmanager.yml";

/// Every file of `deploy/`, sorted by path.
pub fn files(catalog: &RuleCatalog) -> Vec<File> {
    let mut out = vec![
        file(RULES, rule_file(catalog)),
        file(RULE_TESTS, unit_tests(catalog, "voxscope.rules.yml")),
        file(ALERTMANAGER, alertmanager::config(&catalog.config)),
        file("alertmanager/templates/voxscope.tmpl", alertmanager::TEMPLATES),
        file("prometheus/prometheus.yml", prometheus_yml(catalog)),
        file("docker-compose.yml", docker_compose()),
        file("grafana/provisioning/datasources/prometheus.yml", datasource()),
        file("grafana/provisioning/dashboards/voxscope.yml", dashboard_provider()),
    ];
    for dashboard in grafana::dashboards(catalog) {
        out.push(file(format!("grafana/dashboards/{}.json", dashboard.uid), dashboard.json()));
    }
    for (name, markdown) in runbook::runbooks(catalog) {
        out.push(file(format!("runbooks/{name}.md"), markdown));
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn prometheus_yml(catalog: &RuleCatalog) -> String {
    let doc = json!({
        "global": {"scrape_interval": "15s", "evaluation_interval": "30s"},
        // Relative to this file: the same in the container and for `promtool check config`.
        "rule_files": ["rules/*.rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]},
        "scrape_configs": [
            {
                "job_name": catalog.config.service.job,
                "static_configs": [{"targets": ["host.docker.internal:3000"]}],
            },
            {"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]},
        ],
    });
    format!("{GENERATED}{}", yaml::to_string(&doc))
}

fn docker_compose() -> String {
    let doc = json!({
        "services": {
            "prometheus": {
                "image": "prom/prometheus:v2.53.0",
                "command": [
                    "--config.file=/etc/prometheus/prometheus.yml",
                    "--web.enable-lifecycle",
                ],
                "volumes": ["./prometheus:/etc/prometheus:ro"],
                "extra_hosts": ["host.docker.internal:host-gateway"],
                "ports": ["9090:9090"],
            },
            "alertmanager": {
                "image": "prom/alertmanager:v0.27.0",
                "command": ["--config.file=/etc/alertmanager/alertmanager.yml"],
                "volumes": [
                    "./alertmanager:/etc/alertmanager:ro",
                    "./secrets:/etc/alertmanager/secrets:ro",
                ],
                "ports": ["9093:9093"],
            },
            "grafana": {
                "image": "grafana/grafana:11.1.0",
                "environment": ["GF_AUTH_ANONYMOUS_ENABLED=true"],
                "volumes": [
                    "./grafana/provisioning:/etc/grafana/provisioning:ro",
                    "./grafana/dashboards:/var/lib/grafana/dashboards:ro",
                ],
                "ports": ["3001:3000"],
            },
        },
    });
    format!("{GENERATED}{}", yaml::to_string(&doc))
}

fn datasource() -> String {
    let doc = json!({
        "apiVersion": 1,
        "datasources": [{
            "name": "Prometheus",
            "type": "prometheus",
            "access": "proxy",
            "url": "http://prometheus:9090",
            "isDefault": true,
        }],
    });
    format!("{GENERATED}{}", yaml::to_string(&doc))
}

fn dashboard_provider() -> String {
    let doc = json!({
        "apiVersion": 1,
        "providers": [{
            "name": "voxscope",
            "folder": "voxscope",
            "type": "file",
            "options": {"path": "/var/lib/grafana/dashboards"},
        }],
    });
    format!("{GENERATED}{}", yaml::to_string(&doc))
}
