//! The host dashboard: the node exporter's view of the machine under the service (CPU
//! per core, memory, disk I/O and space, network throughput), with the values the host
//! alerts compare. Its `$job` is the node exporter's.

use std::ops::Sub;

use super::boards::{POSITIVE, SHARE, stat, timeseries};
use super::{Dashboard, Panel};
use crate::RuleCatalog;
use crate::expr::{Expr, Matcher, Scope, Selector, aggregate};
use crate::host::{cpu_busy, disk_free, disk_free_ahead, memory_available, throughput};
use crate::rules::dash;

pub(super) fn host(catalog: &RuleCatalog) -> Dashboard {
    let host = &catalog.config.host;
    let memory = |metric: &str| Expr::vector(Selector::new(metric));
    let used = memory("node_memory_MemTotal_bytes").sub(memory("node_memory_MemAvailable_bytes"));
    let cores = aggregate(
        "count",
        &["instance"],
        Expr::vector(Selector::new("node_cpu_seconds_total").with(Matcher::eq("mode", "idle"))),
    );
    // The forecast keeps its hour of trend: `$__rate_interval` would extrapolate a minute.
    let ahead = disk_free_ahead(None, host.disk_full_hours);
    let forecast = Panel {
        queries: vec![(
            ahead.render(&Scope::dashboard().keep_windows()),
            "{{instance}} {{mountpoint}}".to_owned(),
        )],
        exprs: vec![ahead],
        ..timeseries(
            &format!("Disk free in {} h at the last hour's pace", host.disk_full_hours),
            "bytes",
            Vec::new(),
        )
    }
    .thresholds(&[0.0])
    .lower_is_worse()
    .range((f64::NEG_INFINITY, f64::INFINITY));
    let panels = vec![
        stat("CPU busy", "percentunit", vec![(cpu_busy(None, &["instance"]), "{{instance}}")])
            .thresholds(&[host.cpu_ratio])
            .range(SHARE),
        stat("Cores", "short", vec![(cores, "{{instance}}")]),
        stat("Memory available", "percentunit", vec![(memory_available(None), "{{instance}}")])
            .thresholds(&[host.memory_available_ratio])
            .lower_is_worse()
            .range(SHARE),
        stat(
            "Disk free (lowest filesystem)",
            "percentunit",
            vec![(aggregate("min", &["instance"], disk_free(None)), "{{instance}}")],
        )
        .thresholds(&[host.disk_free_ratio])
        .lower_is_worse()
        .range(SHARE),
        timeseries(
            "CPU busy per core",
            "percentunit",
            vec![(cpu_busy(None, &["instance", "cpu"]), "{{instance}} cpu {{cpu}}")],
        )
        .thresholds(&[host.cpu_ratio])
        .range(SHARE),
        timeseries(
            "Memory",
            "bytes",
            vec![
                (used, "{{instance}} used"),
                (memory("node_memory_MemAvailable_bytes"), "{{instance}} available"),
            ],
        )
        .range(POSITIVE),
        timeseries(
            "Disk I/O",
            "Bps",
            vec![
                (throughput("node_disk_read_bytes_total", None), "{{device}} read"),
                (throughput("node_disk_written_bytes_total", None), "{{device}} written"),
            ],
        )
        .range(POSITIVE),
        timeseries(
            "Network throughput",
            "Bps",
            vec![
                (throughput("node_network_receive_bytes_total", None), "{{device}} in"),
                (throughput("node_network_transmit_bytes_total", None), "{{device}} out"),
            ],
        )
        .range(POSITIVE),
        timeseries(
            "Disk free",
            "percentunit",
            vec![(disk_free(None), "{{instance}} {{mountpoint}}")],
        )
        .thresholds(&[host.disk_free_ratio])
        .lower_is_worse()
        .range(SHARE),
        forecast,
    ];
    Dashboard { job: host.job.clone(), uid: dash::HOST, title: "voxscope / Host", panels }
}
