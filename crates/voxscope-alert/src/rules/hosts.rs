//! Alerts on the host under the service, from the node exporter: CPU, memory, and a
//! disk that its trend fills within hours.

use crate::config::Config;
use crate::fixture::{SAMPLES, labels, selector};
use crate::host::{cpu_busy, disk_free, disk_free_ahead, memory_available};
use crate::model::{Category, Fixture, Series, Severity, ValueFormat};

use super::{Spec, counter, dash, gauge};

const INSTANCE: (&str, &str) = ("instance", "host-1:9100");

pub(super) fn host_alerts(config: &Config) -> Vec<Spec> {
    let host = &config.host;
    let job = Some(host.job.as_str());
    // CPU seconds per minute of one core: `busy` of them not idle.
    let cpu = |busy: f64| {
        [
            counter(
                "node_cpu_seconds_total",
                &[INSTANCE, ("cpu", "0"), ("mode", "user")],
                busy * 60.0,
            ),
            counter(
                "node_cpu_seconds_total",
                &[INSTANCE, ("cpu", "0"), ("mode", "idle")],
                (1.0 - busy) * 60.0,
            ),
        ]
        .concat()
    };
    let cpu_busy_share = (host.cpu_ratio + 1.0) / 2.0;
    const TOTAL: f64 = 16e9;
    let memory = |available: f64| {
        [
            gauge("node_memory_MemAvailable_bytes", &[INSTANCE], available * TOTAL),
            gauge("node_memory_MemTotal_bytes", &[INSTANCE], TOTAL),
        ]
        .concat()
    };
    let low_memory = host.memory_available_ratio / 2.0;
    // A 100 GB root filesystem.
    const SIZE: f64 = 100e9;
    let root = [INSTANCE, ("device", "/dev/vda1"), ("fstype", "ext4"), ("mountpoint", "/")];
    let size = gauge("node_filesystem_size_bytes", &root, SIZE);
    // Firing: a tenth of the free share left and falling by 1/400 of the disk a minute,
    // so it is empty well within the forecast.
    let start = SIZE * host.disk_free_ratio / 2.0;
    let falling = Series {
        series: selector("node_filesystem_avail_bytes", &root),
        values: format!("{start}-{}x{SAMPLES}", SIZE / 400.0),
    };
    let steady = gauge("node_filesystem_avail_bytes", &root, start);
    // The forecast Prometheus computes at the fires-check: the steady value until the
    // onset, then the fall, all inside the trend window.
    let disk_for_minutes = 5;
    let (onset, at) = crate::prometheus::fires_check(disk_for_minutes * 60);
    let samples: Vec<(i64, f64)> = (0..=at / 60)
        .map(|m| {
            let fallen = m.saturating_sub(onset) as f64 * SIZE / 400.0;
            (m as i64 * 60_000, start - fallen)
        })
        .collect();
    let forecast = crate::eval::predict_linear(
        &samples,
        at as i64 * 1000,
        (host.disk_full_hours * 3600) as f64,
    )
    .unwrap_or(f64::NAN);
    let full_in = format!("{} h", host.disk_full_hours);
    vec![
        Spec {
            name: "HostHighCPU",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Resources,
            for_minutes: 10,
            dashboard: dash::HOST,
            measure: cpu_busy(job, &["instance"]),
            condition: cpu_busy(job, &["instance"]).gt(host.cpu_ratio),
            summary: "Host {{ $labels.instance }} is out of CPU",
            description: format!(
                "{{value}} of the CPU time of {{{{ $labels.instance }}}} is busy (threshold \
                 {}); every process on it, the service included, waits for a core.",
                host.cpu_ratio
            ),
            value_format: ValueFormat::Percent,
            fixture: Fixture {
                firing: cpu(cpu_busy_share),
                quiet: cpu(host.cpu_ratio / 2.0),
                also_quiet: Vec::new(),
                labels: labels(&[INSTANCE]),
                value: cpu_busy_share,
            },
        },
        Spec {
            name: "HostLowMemory",
            labels: Vec::new(),
            severity: Severity::Warning,
            category: Category::Resources,
            for_minutes: 5,
            dashboard: dash::HOST,
            measure: memory_available(job),
            condition: memory_available(job).lt(host.memory_available_ratio),
            summary: "Host {{ $labels.instance }} is low on memory",
            description: format!(
                "Only {{value}} of the memory of {{{{ $labels.instance }}}} is available \
                 (threshold {}); the kernel will soon kill processes.",
                host.memory_available_ratio
            ),
            value_format: ValueFormat::Percent,
            fixture: Fixture {
                firing: memory(low_memory),
                quiet: memory(0.5),
                also_quiet: Vec::new(),
                labels: labels(&[INSTANCE]),
                value: low_memory,
            },
        },
        Spec {
            name: "HostDiskFilling",
            labels: Vec::new(),
            severity: Severity::Critical,
            category: Category::Resources,
            for_minutes: disk_for_minutes,
            dashboard: dash::HOST,
            measure: disk_free_ahead(job, host.disk_full_hours),
            condition: disk_free_ahead(job, host.disk_full_hours)
                .lt(0.0)
                .and(disk_free(job).lt(host.disk_free_ratio)),
            summary: "{{ $labels.mountpoint }} on {{ $labels.instance }} fills up",
            description: format!(
                "At the last hour's pace {{{{ $labels.mountpoint }}}} on \
                 {{{{ $labels.instance }}}} is full within {full_in} (forecast {{value}}B \
                 free), and less than {} of it is free now.",
                host.disk_free_ratio
            ),
            value_format: ValueFormat::Bytes,
            fixture: Fixture {
                firing: [vec![falling], size.clone()].concat(),
                quiet: [steady, size].concat(),
                also_quiet: Vec::new(),
                labels: labels(&root),
                value: forecast,
            },
        },
    ]
}
