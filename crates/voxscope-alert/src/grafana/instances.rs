//! The instances dashboard of the scale-out variant: each instance of the job side by
//! side (one series per `instance`), for the drill-down from the job-wide dashboards.
//! Its `$instance` variable narrows it to some of them.

use std::ops::Div;

use super::boards::{POSITIVE, SHARE, stat, timeseries};
use super::{Dashboard, Panel};
use crate::RuleCatalog;
use crate::expr::{Expr, Matcher, Selector, Window, quantile, rate, sum_by};

/// The dashboard's uid.
pub const UID: &str = "voxscope-instances";

const BY: [&str; 1] = ["instance"];
const LEGEND: &str = "{{instance}}";

fn sel(metric: &str) -> Selector {
    Selector::new(metric)
}

/// The panels, each split by instance.
pub fn instances(catalog: &RuleCatalog) -> Dashboard {
    let t = &catalog.config.thresholds;
    let turn = catalog.config.slo.turn_latency.threshold_seconds;
    let requests = sel("http_server_request_duration_seconds_count");
    let errors = requests.clone().with(Matcher::re("status", "5.."));
    let panels: Vec<Panel> = vec![
        stat("Instances up", "short", vec![(sum_by(&[], Expr::vector(sel("up"))), "up")]),
        stat(
            "Live calls, all instances",
            "short",
            vec![(sum_by(&[], Expr::vector(sel("voice_calls_active"))), "live")],
        ),
        timeseries(
            "Live calls by instance",
            "short",
            vec![(sum_by(&BY, Expr::vector(sel("voice_calls_active"))), LEGEND)],
        ),
        timeseries(
            "Requests per second by instance",
            "reqps",
            vec![(sum_by(&BY, rate(requests.clone(), Window::Free)), LEGEND)],
        ),
        timeseries(
            "5xx share by instance",
            "percentunit",
            vec![(
                sum_by(&BY, rate(errors, Window::Free))
                    .div(sum_by(&BY, rate(requests, Window::Free)).gt(0.0)),
                LEGEND,
            )],
        )
        .thresholds(&[t.http_error_ratio])
        .range(SHARE),
        timeseries(
            "p95 turn latency by instance",
            "s",
            vec![(quantile(0.95, &BY, sel("voice_turn_latency_seconds"), Window::Free), LEGEND)],
        )
        .thresholds(&[turn]),
        timeseries(
            "Provider fallbacks per second by instance",
            "short",
            vec![(sum_by(&BY, rate(sel("voice_provider_fallbacks_total"), Window::Free)), LEGEND)],
        ),
        timeseries(
            "Resident memory by instance",
            "bytes",
            vec![(sum_by(&BY, Expr::vector(sel("process_resident_memory_bytes"))), LEGEND)],
        )
        .range(POSITIVE),
    ];
    Dashboard {
        job: catalog.config.service.job.clone(),
        uid: UID,
        title: "voxscope instances",
        panels,
    }
}
