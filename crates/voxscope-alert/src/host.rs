//! `[host]`: the machine under the service, as the Prometheus node exporter reports it.
//! deploy/ scrapes the exporter with [`scrape_job`]; the host alerts (CPU, memory, a
//! disk filling up) and the host dashboard read the expressions below, the alerts scoped
//! to [`Host::job`], the dashboard to its `$job` and `$instance` variables.
//!
//! ```
//! let config = voxscope_alert::Config::from_toml("[host]\ncpu_ratio = 0.8\n").unwrap();
//! assert_eq!(config.host.cpu_ratio, 0.8);
//! assert_eq!(voxscope_alert::host::scrape_job(&config.host)["job_name"], "node");
//! ```

use std::ops::Div;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::expr::{Expr, Matcher, Selector, Window, predict_linear, rate, sum_by};

/// `[host]` settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Host {
    /// `host:port` of the node exporter, as Prometheus reaches it.
    pub target: String,
    /// The scrape job of the node exporter, the `job` label of its series.
    pub job: String,
    /// HostHighCPU: share of all cores busy (not idle) over 5 minutes.
    pub cpu_ratio: f64,
    /// HostLowMemory: share of memory available below this.
    pub memory_available_ratio: f64,
    /// HostDiskFilling: a filesystem whose trend of the last hour reaches zero within
    /// this many hours (and that has less than [`Host::disk_free_ratio`] free).
    pub disk_full_hours: u64,
    /// HostDiskFilling: share of a filesystem free below which its trend counts.
    pub disk_free_ratio: f64,
}

impl Default for Host {
    fn default() -> Self {
        Self {
            target: "node-exporter:9100".to_owned(),
            job: "node".to_owned(),
            cpu_ratio: 0.9,
            memory_available_ratio: 0.1,
            disk_full_hours: 4,
            disk_free_ratio: 0.2,
        }
    }
}

/// The node exporter's metrics the rules and panels read, with their labels besides
/// `job` and `instance`, as the exporter documents them.
pub const METRICS: &[(&str, &[&str])] = &[
    ("node_cpu_seconds_total", &["cpu", "mode"]),
    ("node_memory_MemAvailable_bytes", &[]),
    ("node_memory_MemTotal_bytes", &[]),
    ("node_filesystem_avail_bytes", &["device", "fstype", "mountpoint"]),
    ("node_filesystem_size_bytes", &["device", "fstype", "mountpoint"]),
    ("node_disk_read_bytes_total", &["device"]),
    ("node_disk_written_bytes_total", &["device"]),
    ("node_network_receive_bytes_total", &["device"]),
    ("node_network_transmit_bytes_total", &["device"]),
];

/// Filesystems that hold no data a host can run out of: memory, overlays, images.
const PSEUDO_FILESYSTEMS: &str = "tmpfs|devtmpfs|ramfs|overlay|squashfs|nsfs|fuse.lxcfs";

/// The trend window of the disk forecast, seconds.
const DISK_TREND: u64 = 3600;

/// The rate window of the CPU share, seconds (dashboards render `$__rate_interval`).
const CPU_WINDOW: u64 = 300;

/// `metric`, scoped to `job` when given (rules), else left to the dashboard's `$job`.
fn node(metric: &str, job: Option<&str>) -> Selector {
    let selector = Selector::new(metric);
    match job {
        Some(job) => selector.with(Matcher::eq("job", job)),
        None => selector,
    }
}

/// Share of CPU time not idle, by `by` (`instance`, or `instance` and `cpu` for cores).
pub fn cpu_busy(job: Option<&str>, by: &[&str]) -> Expr {
    let window = Window::Fixed(CPU_WINDOW);
    let cpu = node("node_cpu_seconds_total", job);
    let busy = sum_by(by, rate(cpu.clone().with(Matcher::ne("mode", "idle")), window));
    busy.div(sum_by(by, rate(cpu, window)))
}

/// Share of memory available.
pub fn memory_available(job: Option<&str>) -> Expr {
    let available = Expr::vector(node("node_memory_MemAvailable_bytes", job));
    available.div(Expr::vector(node("node_memory_MemTotal_bytes", job)))
}

/// A real filesystem's `metric` (`node_filesystem_avail_bytes`, `..._size_bytes`).
fn filesystem(metric: &str, job: Option<&str>) -> Selector {
    node(metric, job).with(Matcher::not_re("fstype", PSEUDO_FILESYSTEMS))
}

/// Share of each real filesystem free.
pub fn disk_free(job: Option<&str>) -> Expr {
    let free = Expr::vector(filesystem("node_filesystem_avail_bytes", job));
    free.div(Expr::vector(filesystem("node_filesystem_size_bytes", job)))
}

/// Bytes each real filesystem will have free `hours` from now on the last hour's trend.
pub fn disk_free_ahead(job: Option<&str>, hours: u64) -> Expr {
    let free = filesystem("node_filesystem_avail_bytes", job);
    predict_linear(free, Window::Fixed(DISK_TREND), hours * 3600)
}

/// Bytes per second by device of `metric` (a disk or network byte counter).
pub fn throughput(metric: &str, job: Option<&str>) -> Expr {
    let mut selector = node(metric, job);
    if metric.starts_with("node_network") {
        selector = selector.with(Matcher::ne("device", "lo"));
    }
    sum_by(&["instance", "device"], rate(selector, Window::Free))
}

/// The Prometheus scrape job of the node exporter.
pub fn scrape_job(host: &Host) -> Value {
    json!({"job_name": host.job, "static_configs": [{"targets": [host.target]}]})
}

/// Checks `[host]`: a job of its own, a target, shares in (0, 1), hours of at least one.
pub(crate) fn validate(host: &Host, service_job: &str, probe_job: &str) -> Result<(), Error> {
    crate::probe::job_name("host.job", &host.job, &[service_job, probe_job])?;
    crate::probe::host_port("host.target", &host.target)?;
    for (field, value) in [
        ("host.cpu_ratio", host.cpu_ratio),
        ("host.memory_available_ratio", host.memory_available_ratio),
        ("host.disk_free_ratio", host.disk_free_ratio),
    ] {
        if !(value.is_finite() && value > 0.0 && value < 1.0) {
            return Err(Error::invalid(field, value, "a share between 0 and 1"));
        }
    }
    if !(1..=24 * 30).contains(&host.disk_full_hours) {
        return Err(Error::invalid(
            "host.disk_full_hours",
            host.disk_full_hours,
            "between 1 and 720",
        ));
    }
    Ok(())
}
