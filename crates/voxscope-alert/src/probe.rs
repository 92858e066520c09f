//! `[probe]`: the blackbox exporter probing the service's health endpoint from outside,
//! so that `EndpointDown` fires when the endpoint stops answering even while its
//! metrics are still scraped (or when the scrape itself is what cannot tell). deploy/
//! runs the exporter with [`blackbox_config`] and Prometheus scrapes it with
//! [`scrape_job`]; the rule reads `probe_success` of [`Probe::job`].
//!
//! ```
//! let config = voxscope_alert::Config::from_toml(r#"
//!     [probe]
//!     url = "https://voice.example.org/health"
//! "#).unwrap();
//! let job = voxscope_alert::probe::scrape_job(&config.probe);
//! assert_eq!(job["static_configs"][0]["targets"][0], "https://voice.example.org/health");
//! assert_eq!(job["params"]["module"][0], "http_2xx");
//! ```

use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::receiver::http_url;

/// `[probe]` settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Probe {
    /// The URL probed: the service's health endpoint, as the blackbox exporter reaches
    /// it (from the compose network by default; `run-local.sh` rewrites it to loopback).
    pub url: String,
    /// The scrape job of the probes, the `job` label of `probe_success`.
    pub job: String,
    /// `host:port` of the blackbox exporter, as Prometheus reaches it.
    pub exporter: String,
    /// Seconds a probe may take before it counts as failed.
    pub timeout_seconds: u64,
}

impl Default for Probe {
    fn default() -> Self {
        Self {
            url: "http://host.docker.internal:3000/health".to_owned(),
            job: "blackbox".to_owned(),
            exporter: "blackbox:9115".to_owned(),
            timeout_seconds: 5,
        }
    }
}

/// The blackbox exporter's metrics the rules and panels read, with their labels besides
/// `job` and `instance`, as the exporter documents them.
pub const METRICS: &[(&str, &[&str])] =
    &[("probe_success", &[]), ("probe_duration_seconds", &[]), ("probe_http_status_code", &[])];

/// The blackbox module every probe uses: an HTTP GET that succeeds on a 2xx.
pub const MODULE: &str = "http_2xx";

/// The blackbox exporter's configuration: the [`MODULE`] with the probe timeout.
///
/// ```
/// let doc = voxscope_alert::probe::blackbox_config(&Default::default());
/// assert_eq!(doc["modules"]["http_2xx"]["prober"], "http");
/// assert_eq!(doc["modules"]["http_2xx"]["timeout"], "5s");
/// ```
pub fn blackbox_config(probe: &Probe) -> Value {
    json!({
        "modules": {
            MODULE: {
                "prober": "http",
                "timeout": crate::model::duration(probe.timeout_seconds),
                "http": {
                    "method": "GET",
                    // Empty: any 2xx.
                    "valid_status_codes": [],
                    "preferred_ip_protocol": "ip4",
                    "ip_protocol_fallback": true,
                    "follow_redirects": true,
                },
            },
        },
    })
}

/// The Prometheus scrape job of the probes: the URL becomes the exporter's `target`
/// parameter and the `instance` label, and the exporter is what is scraped.
pub fn scrape_job(probe: &Probe) -> Value {
    json!({
        "job_name": probe.job,
        "metrics_path": "/probe",
        "params": {"module": [MODULE]},
        "static_configs": [{"targets": [probe.url]}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": probe.exporter},
        ],
    })
}

/// Checks `[probe]`: an http(s) URL, a job name, an exporter address, a timeout.
pub(crate) fn validate(probe: &Probe, service_job: &str) -> Result<(), Error> {
    http_url("probe.url", &probe.url)?;
    job_name("probe.job", &probe.job, &[service_job])?;
    host_port("probe.exporter", &probe.exporter)?;
    if !(1..=60).contains(&probe.timeout_seconds) {
        return Err(Error::invalid(
            "probe.timeout_seconds",
            probe.timeout_seconds,
            "between 1 and 60",
        ));
    }
    Ok(())
}

/// A scrape job name of its own: letters, digits, `_` and `-`, none of `taken`.
pub(crate) fn job_name(field: &str, job: &str, taken: &[&str]) -> Result<(), Error> {
    let plain = job.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && job.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !plain || taken.contains(&job) {
        return Err(Error::invalid(
            field,
            job,
            "a job name of its own, like blackbox or node (not the service's)",
        ));
    }
    Ok(())
}

/// `host:port`, as Prometheus targets are written.
pub(crate) fn host_port(field: &str, address: &str) -> Result<(), Error> {
    let port = address.rsplit_once(':').and_then(|(host, port)| {
        (!host.is_empty() && !host.contains(char::is_whitespace))
            .then(|| port.parse::<u16>().ok())?
    });
    match port {
        Some(_) => Ok(()),
        None => Err(Error::invalid(field, address, "host:port")),
    }
}
