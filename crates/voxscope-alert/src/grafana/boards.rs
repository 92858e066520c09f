//! What the service's five dashboards show. Every query is an [`Expr`] rendered in the dashboard
//! scope (`$job`, `$instance`, `$__rate_interval`); where a panel shows what an alert
//! compares, it renders that alert's measure.

use std::ops::{Div, Mul, Sub};

use super::{Dashboard, Kind, Panel};
use crate::RuleCatalog;
use crate::expr::{
    Expr, Matcher, Scope, Selector, Window, aggregate, number, quantile, rate, sum_by,
};
use crate::model::duration;
use crate::rules::{dash, fallback_share};

/// Any rate window: the dashboard scope renders them all as `$__rate_interval`.
const W: Window = Window::Free;

/// Values at or above zero with no upper bound.
pub(super) const POSITIVE: (f64, f64) = (0.0, f64::INFINITY);
/// A share.
pub(super) const SHARE: (f64, f64) = (0.0, 1.0);

fn sel(metric: &str) -> Selector {
    Selector::new(metric)
}

pub(super) fn timeseries(title: &str, unit: &'static str, queries: Vec<(Expr, &str)>) -> Panel {
    let scope = Scope::dashboard();
    let (exprs, queries) = queries
        .into_iter()
        .map(|(q, l)| {
            let q = q.defined();
            let text = (q.render(&scope), l.to_owned());
            (q, text)
        })
        .unzip();
    Panel {
        title: title.to_owned(),
        kind: Kind::Timeseries,
        unit,
        queries,
        exprs,
        thresholds: Vec::new(),
        lower_is_worse: false,
        range: POSITIVE,
        width: 12,
    }
}

pub(super) fn stat(title: &str, unit: &'static str, queries: Vec<(Expr, &str)>) -> Panel {
    Panel { kind: Kind::Stat, width: 6, ..timeseries(title, unit, queries) }
}

impl Panel {
    pub(super) fn thresholds(mut self, thresholds: &[f64]) -> Self {
        self.thresholds = thresholds.to_vec();
        self
    }

    pub(super) fn lower_is_worse(mut self) -> Self {
        self.lower_is_worse = true;
        self
    }

    pub(super) fn range(mut self, range: (f64, f64)) -> Self {
        self.range = range;
        self
    }
}

fn quantiles(metric: Selector, by: &[&str], legend: &str) -> Vec<(Expr, String)> {
    [0.5, 0.95, 0.99]
        .iter()
        .map(|&q| {
            let legend = format!("p{} {legend}", (q * 100.0_f64).round());
            (quantile(q, by, metric.clone(), W), legend)
        })
        .collect()
}

fn quantile_panel(title: &str, queries: Vec<(Expr, String)>, thresholds: &[f64]) -> Panel {
    let queries = queries.iter().map(|(q, l)| (q.clone(), l.as_str())).collect();
    timeseries(title, "s", queries).thresholds(thresholds)
}

fn heatmap(title: &str, histogram: Selector) -> Panel {
    let buckets = sum_by(&["le"], rate(histogram.bucket(None), W));
    Panel { kind: Kind::Heatmap, ..timeseries(title, "s", vec![(buckets, "{{le}}")]) }
}

/// The measure of the built-in alert `name` (shown even where TOML disabled the alert).
fn measure_of(catalog: &RuleCatalog, name: &str) -> Expr {
    catalog
        .measures
        .iter()
        .find(|(alert, _)| alert == name)
        .map(|(_, measure)| measure.clone())
        .unwrap_or_else(|| number(f64::NAN))
}

/// The dashboards: calls, providers, HTTP, SLOs, service, the host under it, and the
/// application's metrics when it declares some. Panels that read a family
/// `enabled_metrics` leaves out are left out, and so is a dashboard left empty.
pub fn dashboards(catalog: &RuleCatalog) -> Vec<Dashboard> {
    let mut boards = vec![
        calls(catalog),
        providers(catalog),
        http(catalog),
        slos(catalog),
        service(catalog),
        super::host::host(catalog),
    ];
    boards.extend(super::business::business(catalog));
    let enabled = crate::families::Enabled::new(&catalog.config);
    if !enabled.is_all() {
        for board in &mut boards {
            board.panels.retain(|p| p.exprs.iter().all(|e| enabled.reads(e)));
        }
        boards.retain(|b| !b.panels.is_empty());
    }
    boards
}

fn board(
    catalog: &RuleCatalog,
    uid: &'static str,
    title: &'static str,
    panels: Vec<Panel>,
) -> Dashboard {
    Dashboard { job: catalog.config.service.job.clone(), uid, title, panels }
}

fn calls(catalog: &RuleCatalog) -> Dashboard {
    let t = &catalog.config.thresholds;
    let turn = catalog.config.slo.turn_latency.threshold_seconds;
    let live = || sum_by(&["transport"], Expr::vector(sel("voice_calls_active")));
    let capacity = || sum_by(&["transport"], Expr::vector(sel("voice_calls_capacity")));
    let calls = sel("voice_calls_total");
    let panels = vec![
        stat(
            "Live calls of capacity",
            "percentunit",
            vec![(measure_of(catalog, "CallsNearCapacity"), "{{transport}}")],
        )
        .thresholds(&[t.calls_capacity_ratio])
        .range(SHARE),
        stat(
            "Failed and dropped calls per minute",
            "short",
            vec![(
                sum_by(&[], rate(calls.clone().with(Matcher::re("outcome", "failed|dropped")), W))
                    .mul(number(60.0)),
                "calls/min",
            )],
        ),
        stat(
            "Failed and dropped share",
            "percentunit",
            vec![(measure_of(catalog, "HighCallErrorRate"), "{{transport}}")],
        )
        .thresholds(&[t.call_error_ratio])
        .range(SHARE),
        stat(
            "Turn latency p95",
            "s",
            vec![(measure_of(catalog, "HighCallLatency"), "{{transport}}")],
        )
        .thresholds(&[turn]),
        timeseries(
            "Live calls vs capacity",
            "short",
            vec![(live(), "live {{transport}}"), (capacity(), "capacity {{transport}}")],
        ),
        timeseries(
            "Call outcomes",
            "cpm",
            vec![(sum_by(&["outcome"], rate(calls, W)).mul(number(60.0)), "{{outcome}}")],
        ),
        quantile_panel(
            "Call duration",
            quantiles(sel("voice_call_duration_seconds"), &["outcome"], "{{outcome}}"),
            &[],
        ),
        quantile_panel(
            "Turn latency (voice to voice)",
            quantiles(sel("voice_turn_latency_seconds"), &["transport"], "{{transport}}"),
            &[turn],
        ),
        timeseries(
            "Audio quality (mean share of on-time frames)",
            "percentunit",
            vec![(measure_of(catalog, "LowAudioQuality"), "{{transport}}")],
        )
        .thresholds(&[t.audio_quality_min])
        .lower_is_worse()
        .range(SHARE),
        timeseries(
            "Media gaps and protocol errors",
            "short",
            vec![
                (
                    sum_by(&["transport"], rate(sel("voice_call_media_gaps_total"), W)),
                    "gaps/s {{transport}}",
                ),
                (
                    sum_by(
                        &["transport", "kind"],
                        rate(sel("voice_call_protocol_errors_total"), W),
                    ),
                    "{{kind}}/s {{transport}}",
                ),
            ],
        ),
        // Seconds of audio per second of wall time: a count of concurrent streams.
        timeseries(
            "Audio carried (seconds of audio per second)",
            "short",
            vec![(
                sum_by(&["transport", "direction"], rate(sel("voice_call_audio_seconds_total"), W)),
                "{{direction}} {{transport}}",
            )],
        ),
        timeseries(
            "Median sentiment",
            "none",
            vec![(measure_of(catalog, "NegativeSentiment"), "{{transport}}")],
        )
        .thresholds(&[t.sentiment_min])
        .lower_is_worse()
        .range((-1.0, 1.0)),
    ];
    board(catalog, dash::CALLS, "voxscope / Calls", panels)
}

fn providers(catalog: &RuleCatalog) -> Dashboard {
    let t = &catalog.config.thresholds;
    let ttfb = sel("voice_provider_ttfb_seconds");
    let errors = sel("voice_provider_errors_total");
    let mut panels = vec![
        stat(
            "Provider errors per minute",
            "short",
            vec![(sum_by(&["kind"], rate(errors.clone(), W)).mul(number(60.0)), "{{kind}}")],
        )
        .thresholds(&[t.provider_errors_per_minute]),
        stat(
            "Turns falling back",
            "percentunit",
            vec![(measure_of(catalog, "HighFallbackRate"), "{{kind}}")],
        )
        .thresholds(&[t.fallback_ratio_warning, t.fallback_ratio_critical]),
        stat(
            "Open circuits",
            "short",
            vec![(sum_by(&[], Expr::vector(sel("voice_provider_circuit_open"))), "open")],
        )
        .thresholds(&[1.0])
        .range(POSITIVE),
    ];
    for (kind, limits) in t.ttfb.by_kind() {
        let of_kind = ttfb.clone().with(Matcher::eq("kind", kind));
        let name = kind.to_uppercase();
        panels.push(quantile_panel(
            &format!("{name} time to first byte (goal {} s)", limits.warning),
            quantiles(of_kind.clone(), &["provider"], "{{provider}}"),
            &[limits.warning, limits.critical],
        ));
        panels.push(heatmap(&format!("{name} time to first byte"), of_kind));
    }
    panels.extend([
        quantile_panel(
            "LLM request duration",
            quantiles(
                sel("voice_provider_request_duration_seconds").with(Matcher::eq("kind", "llm")),
                &["provider"],
                "{{provider}}",
            ),
            &[t.llm_duration_p95_seconds],
        ),
        timeseries(
            "Fallback share of turns",
            "percentunit",
            vec![(fallback_share(W).measure(), "{{kind}}")],
        )
        .thresholds(&[t.fallback_ratio_warning, t.fallback_ratio_critical]),
        timeseries(
            "Requests by outcome",
            "reqps",
            vec![(
                sum_by(
                    &["kind", "provider", "outcome"],
                    rate(sel("voice_provider_requests_total"), W),
                ),
                "{{kind}} {{provider}} {{outcome}}",
            )],
        ),
        timeseries(
            "Errors per minute by class",
            "short",
            vec![(
                sum_by(&["kind", "provider", "error"], rate(errors, W)).mul(number(60.0)),
                "{{kind}} {{provider}} {{error}}",
            )],
        )
        .thresholds(&[t.provider_errors_per_minute]),
        timeseries(
            "Fallbacks",
            "reqps",
            vec![(
                sum_by(
                    &["kind", "from", "to", "reason"],
                    rate(sel("voice_provider_fallbacks_total"), W),
                ),
                "{{kind}} {{from}} → {{to}} ({{reason}})",
            )],
        ),
        timeseries(
            "Circuit open",
            "short",
            vec![(
                aggregate(
                    "max",
                    &["kind", "provider"],
                    Expr::vector(sel("voice_provider_circuit_open")),
                ),
                "{{kind}} {{provider}}",
            )],
        )
        .range(SHARE),
        timeseries(
            "In flight vs limit",
            "short",
            vec![
                (
                    sum_by(&["kind", "provider"], Expr::vector(sel("voice_provider_in_flight"))),
                    "in flight {{kind}} {{provider}}",
                ),
                (
                    sum_by(
                        &["kind", "provider"],
                        Expr::vector(sel("voice_provider_concurrency_limit")),
                    ),
                    "limit {{kind}} {{provider}}",
                ),
            ],
        ),
        timeseries(
            "LLM tokens per second",
            "short",
            vec![(
                sum_by(
                    &["provider", "token_type"],
                    rate(sel("gen_ai_client_token_usage").suffixed("_sum"), W),
                ),
                "{{provider}} {{token_type}}",
            )],
        ),
        timeseries(
            "TTS characters and STT audio per second",
            "short",
            vec![
                (
                    sum_by(&["provider"], rate(sel("voice_tts_characters_total"), W)),
                    "TTS chars/s {{provider}}",
                ),
                (
                    sum_by(&["provider"], rate(sel("voice_stt_audio_seconds_total"), W)),
                    "STT audio s/s {{provider}}",
                ),
            ],
        ),
    ]);
    board(catalog, dash::PROVIDERS, "voxscope / Providers", panels)
}

fn http(catalog: &RuleCatalog) -> Dashboard {
    let t = &catalog.config.thresholds;
    let duration_ = sel("http_server_request_duration_seconds");
    let count = duration_.suffixed("_count");
    let panels = vec![
        timeseries(
            "Request rate by route",
            "reqps",
            vec![(sum_by(&["route"], rate(count.clone(), W)), "{{route}}")],
        ),
        timeseries(
            "Responses by status",
            "reqps",
            vec![(sum_by(&["status"], rate(count, W)), "{{status}}")],
        ),
        timeseries(
            "5xx share by route",
            "percentunit",
            vec![(measure_of(catalog, "HighHTTPErrorRate"), "{{route}}")],
        )
        .thresholds(&[t.http_error_ratio])
        .range(SHARE),
        quantile_panel(
            "Latency by route",
            quantiles(duration_.clone(), &["route"], "{{route}}"),
            &[t.http_latency_p95_seconds],
        ),
        timeseries(
            "Requests in flight",
            "short",
            vec![(
                sum_by(&["method"], Expr::vector(sel("http_server_active_requests"))),
                "{{method}}",
            )],
        ),
        heatmap("Request duration", duration_),
    ];
    board(catalog, dash::HTTP, "voxscope / HTTP", panels)
}

/// The SLO period, seconds.
const PERIOD: u64 = 30 * 86_400;

fn slos(catalog: &RuleCatalog) -> Dashboard {
    let mut panels = Vec::new();
    for slo in &catalog.slos {
        // The whole period's ratio: fixed windows are kept, only the job scope changes.
        let remaining = number(1.0)
            .sub(slo.error_ratio_over(PERIOD).div(number(1.0).sub(number(slo.objective))));
        let mut budget =
            stat(&format!("{} error budget remaining (30 d)", slo.name), "percentunit", Vec::new())
                .thresholds(&[0.0, 0.25])
                .lower_is_worse()
                .range((f64::NEG_INFINITY, 1.0));
        budget.queries =
            vec![(remaining.render(&Scope::dashboard().keep_windows()), "remaining".to_owned())];
        budget.exprs = vec![remaining];
        panels.push(budget);
        let queries = [300, 3_600, 21_600, 259_200]
            .iter()
            .map(|&w| (slo.burn_rate(w), format!("burn {}", duration(w))))
            .collect::<Vec<_>>();
        let queries = queries.iter().map(|(q, l)| (q.clone(), l.as_str())).collect();
        panels.push(
            timeseries(
                &format!("{} burn rate (objective {})", slo.name, slo.objective),
                "none",
                queries,
            )
            .thresholds(&[6.0, 14.4])
            .width(18),
        );
    }
    board(catalog, dash::SLO, "voxscope / SLOs", panels)
}

impl Panel {
    fn width(mut self, width: u32) -> Self {
        self.width = width;
        self
    }
}

fn service(catalog: &RuleCatalog) -> Dashboard {
    let t = &catalog.config.thresholds;
    let missing = sel("voxscope_config_missing");
    let panels = vec![
        stat("Targets up", "short", vec![(sum_by(&[], Expr::vector(sel("up"))), "up")])
            .lower_is_worse()
            .thresholds(&[1.0]),
        stat(
            "Missing settings (0: every key configured)",
            "short",
            vec![(sum_by(&[], Expr::vector(missing.clone())), "missing")],
        )
        .thresholds(&[1.0]),
        stat(
            "Errors per minute",
            "short",
            vec![
                (
                    sum_by(
                        &[],
                        rate(
                            sel("http_server_request_duration_seconds_count")
                                .with(Matcher::re("status", "5..")),
                            W,
                        ),
                    )
                    .mul(number(60.0)),
                    "HTTP 5xx",
                ),
                (
                    sum_by(
                        &[],
                        rate(
                            sel("voice_calls_total").with(Matcher::re("outcome", "failed|dropped")),
                            W,
                        ),
                    )
                    .mul(number(60.0)),
                    "calls",
                ),
                (
                    sum_by(&[], rate(sel("voice_provider_errors_total"), W)).mul(number(60.0)),
                    "providers",
                ),
            ],
        ),
        stat(
            "Live calls of capacity",
            "percentunit",
            vec![(
                sum_by(&[], Expr::vector(sel("voice_calls_active")))
                    .div(sum_by(&[], Expr::vector(sel("voice_calls_capacity")))),
                "in use",
            )],
        )
        .thresholds(&[t.calls_capacity_ratio])
        .range(SHARE),
        timeseries("Targets up", "short", vec![(Expr::vector(sel("up")), "{{instance}}")])
            .range(SHARE),
        timeseries(
            "Missing settings",
            "short",
            vec![(
                aggregate("max", &["instance", "field"], Expr::vector(missing)),
                "{{instance}} {{field}}",
            )],
        )
        .thresholds(&[1.0])
        .range(SHARE),
        timeseries(
            "Config warnings per minute",
            "short",
            vec![(
                sum_by(&["field"], rate(sel("voxscope_config_warnings_total"), W))
                    .mul(number(60.0)),
                "{{field}}",
            )],
        ),
        timeseries(
            "CPU",
            "percentunit",
            vec![(measure_of(catalog, "HighCPUUsage"), "{{instance}}")],
        )
        .thresholds(&[t.cpu_ratio]),
        timeseries(
            "Resident memory",
            "bytes",
            vec![(measure_of(catalog, "HighMemoryUsage"), "{{instance}}")],
        )
        .thresholds(&[t.memory_bytes]),
        timeseries(
            "Open file descriptors",
            "short",
            vec![(Expr::vector(sel("process_open_fds")), "{{instance}}")],
        ),
        timeseries(
            "Trace decisions",
            "short",
            vec![(sum_by(&["decision"], rate(sel("voxscope_traces_total"), W)), "{{decision}}")],
        ),
        timeseries(
            "Trace buffer and overflows",
            "short",
            vec![
                (sum_by(&[], Expr::vector(sel("voxscope_trace_buffer_spans"))), "buffered spans"),
                (sum_by(&[], rate(sel("voxscope_trace_buffer_overflow_total"), W)), "overflows/s"),
            ],
        ),
        timeseries(
            "Folded label values",
            "short",
            vec![(
                sum_by(&["metric"], rate(sel("voxscope_label_overflow_total"), W)),
                "{{metric}}",
            )],
        ),
    ];
    board(catalog, dash::SERVICE, "voxscope / Service", panels)
}
