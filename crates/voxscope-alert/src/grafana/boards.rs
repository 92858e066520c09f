//! What the five dashboards show.

use super::{Dashboard, Kind, Panel};
use crate::RuleCatalog;
use crate::expr::Scope;
use crate::model::duration;
use crate::rules::dash;

fn panel(title: &str, unit: &'static str, queries: &[(&str, &str)]) -> Panel {
    Panel {
        title: title.to_owned(),
        kind: Kind::Timeseries,
        unit,
        queries: queries.iter().map(|(q, l)| ((*q).to_owned(), (*l).to_owned())).collect(),
        thresholds: Vec::new(),
        width: 12,
    }
}

fn with_thresholds(mut panel: Panel, thresholds: &[f64]) -> Panel {
    panel.thresholds = thresholds.to_vec();
    panel
}

fn quantiles(metric: &str, filter: &str, by: &str, legend: &str) -> Vec<(String, String)> {
    [0.5, 0.95, 0.99]
        .iter()
        .map(|q| {
            (
                format!(
                    "histogram_quantile({q}, sum by (le{by}) (rate({metric}_bucket{filter}[$__rate_interval])))"
                ),
                format!("p{} {legend}", (q * 100.0_f64).round()),
            )
        })
        .collect()
}

fn quantile_panel(title: &str, queries: Vec<(String, String)>, thresholds: &[f64]) -> Panel {
    Panel {
        title: title.to_owned(),
        kind: Kind::Timeseries,
        unit: "s",
        queries,
        thresholds: thresholds.to_vec(),
        width: 12,
    }
}

fn heatmap(title: &str, metric: &str) -> Panel {
    Panel {
        title: title.to_owned(),
        kind: Kind::Heatmap,
        unit: "s",
        queries: vec![(
            format!("sum by (le) (rate({metric}_bucket[$__rate_interval]))"),
            "{{le}}".to_owned(),
        )],
        thresholds: Vec::new(),
        width: 12,
    }
}

/// The five dashboards: calls, providers, HTTP, SLOs, service.
pub fn dashboards(catalog: &RuleCatalog) -> Vec<Dashboard> {
    vec![calls(catalog), providers(catalog), http(catalog), slos(catalog), service(catalog)]
}

fn calls(catalog: &RuleCatalog) -> Dashboard {
    let t = &catalog.config.thresholds;
    let turn = catalog.config.slo.turn_latency.threshold_seconds;
    Dashboard {
        uid: dash::CALLS,
        title: "voxscope / Calls",
        panels: vec![
            panel(
                "Live calls vs capacity",
                "short",
                &[
                    ("sum by (transport) (voice_calls_active)", "live {{transport}}"),
                    ("sum by (transport) (voice_calls_capacity)", "capacity {{transport}}"),
                ],
            ),
            panel(
                "Call outcomes",
                "cpm",
                &[(
                    "sum by (outcome) (rate(voice_calls_total[$__rate_interval])) * 60",
                    "{{outcome}}",
                )],
            ),
            quantile_panel(
                "Call duration",
                quantiles("voice_call_duration_seconds", "", ", outcome", "{{outcome}}"),
                &[],
            ),
            quantile_panel(
                "Turn latency (voice to voice)",
                quantiles("voice_turn_latency_seconds", "", ", transport", "{{transport}}"),
                &[turn],
            ),
            with_thresholds(
                panel(
                    "Audio quality (mean share of on-time frames)",
                    "percentunit",
                    &[(
                        "sum by (transport) (rate(voice_call_audio_quality_sum[$__rate_interval])) \
                     / sum by (transport) (rate(voice_call_audio_quality_count[$__rate_interval]))",
                        "{{transport}}",
                    )],
                ),
                &[t.audio_quality_min],
            ),
            panel(
                "Media gaps and protocol errors",
                "short",
                &[
                    (
                        "sum by (transport) (rate(voice_call_media_gaps_total[$__rate_interval]))",
                        "gaps {{transport}}",
                    ),
                    (
                        "sum by (transport, kind) (rate(voice_call_protocol_errors_total[$__rate_interval]))",
                        "{{kind}} {{transport}}",
                    ),
                ],
            ),
            panel(
                "Audio carried",
                "s",
                &[(
                    "sum by (transport, direction) (rate(voice_call_audio_seconds_total[$__rate_interval]))",
                    "{{direction}} {{transport}}",
                )],
            ),
            with_thresholds(
                panel(
                    "Median sentiment",
                    "none",
                    &[(
                        "histogram_quantile(0.5, sum by (le, transport) (rate(voice_call_sentiment_bucket[$__rate_interval])))",
                        "{{transport}}",
                    )],
                ),
                &[t.sentiment_min],
            ),
        ],
    }
}

fn providers(catalog: &RuleCatalog) -> Dashboard {
    let t = &catalog.config.thresholds;
    let mut panels = vec![heatmap("Time to first byte", "voice_provider_ttfb_seconds")];
    for (kind, limits) in t.ttfb.by_kind() {
        panels.push(quantile_panel(
            &format!("{} TTFB", kind.to_uppercase()),
            quantiles(
                "voice_provider_ttfb_seconds",
                &format!("{{kind=\"{kind}\"}}"),
                ", provider",
                "{{provider}}",
            ),
            &[limits.warning, limits.critical],
        ));
    }
    panels.extend([
        quantile_panel(
            "LLM request duration",
            quantiles("voice_provider_request_duration_seconds", "{kind=\"llm\"}", ", provider", "{{provider}}"),
            &[t.llm_duration_p95_seconds],
        ),
        panel("Requests by outcome", "reqps", &[(
            "sum by (kind, provider, outcome) (rate(voice_provider_requests_total[$__rate_interval]))",
            "{{kind}} {{provider}} {{outcome}}",
        )]),
        with_thresholds(
            panel("Errors by class", "short", &[(
                "sum by (kind, provider, error) (rate(voice_provider_errors_total[$__rate_interval])) * 60",
                "{{kind}} {{provider}} {{error}}",
            )]),
            &[t.provider_errors_per_minute],
        ),
        panel("Fallbacks", "short", &[(
            "sum by (kind, from, to, reason) (rate(voice_provider_fallbacks_total[$__rate_interval]))",
            "{{kind}} {{from}} → {{to}} ({{reason}})",
        )]),
        panel("Circuit open", "short", &[(
            "max by (kind, provider) (voice_provider_circuit_open)",
            "{{kind}} {{provider}}",
        )]),
        panel("In flight vs limit", "short", &[
            ("sum by (kind, provider) (voice_provider_in_flight)", "in flight {{kind}} {{provider}}"),
            ("sum by (kind, provider) (voice_provider_concurrency_limit)", "limit {{kind}} {{provider}}"),
        ]),
        panel("LLM tokens", "short", &[(
            "sum by (provider, token_type) (rate(gen_ai_client_token_usage_sum[$__rate_interval]))",
            "{{provider}} {{token_type}}",
        )]),
        panel("TTS characters and STT audio", "short", &[
            ("sum by (provider) (rate(voice_tts_characters_total[$__rate_interval]))", "TTS chars/s {{provider}}"),
            ("sum by (provider) (rate(voice_stt_audio_seconds_total[$__rate_interval]))", "STT audio s/s {{provider}}"),
        ]),
    ]);
    Dashboard { uid: dash::PROVIDERS, title: "voxscope / Providers", panels }
}

fn http(catalog: &RuleCatalog) -> Dashboard {
    let t = &catalog.config.thresholds;
    let count = "http_server_request_duration_seconds_count";
    Dashboard {
        uid: dash::HTTP,
        title: "voxscope / HTTP",
        panels: vec![
            panel(
                "Request rate by route",
                "reqps",
                &[(&format!("sum by (route) (rate({count}[$__rate_interval]))"), "{{route}}")],
            ),
            panel(
                "Responses by status",
                "reqps",
                &[(&format!("sum by (status) (rate({count}[$__rate_interval]))"), "{{status}}")],
            ),
            with_thresholds(
                panel(
                    "5xx share by route",
                    "percentunit",
                    &[(
                        &format!(
                            "sum by (route) (rate({count}{{status=~\"5..\"}}[$__rate_interval])) \
                         / sum by (route) (rate({count}[$__rate_interval]))"
                        ),
                        "{{route}}",
                    )],
                ),
                &[t.http_error_ratio],
            ),
            quantile_panel(
                "Latency by route",
                quantiles("http_server_request_duration_seconds", "", ", route", "{{route}}"),
                &[t.http_latency_p95_seconds],
            ),
            panel(
                "Requests in flight",
                "short",
                &[("sum by (method) (http_server_active_requests)", "{{method}}")],
            ),
            heatmap("Request duration", "http_server_request_duration_seconds"),
        ],
    }
}

fn slos(catalog: &RuleCatalog) -> Dashboard {
    let panels = catalog
        .slos
        .iter()
        .map(|slo| {
            let queries = [300, 3_600, 21_600, 259_200]
                .iter()
                .map(|&w| {
                    (slo.burn_rate(w).render(&Scope::dashboard()), format!("burn {}", duration(w)))
                })
                .collect();
            Panel {
                title: format!("{} burn rate (objective {})", slo.name, slo.objective),
                kind: Kind::Timeseries,
                unit: "none",
                queries,
                thresholds: vec![6.0, 14.4],
                width: 12,
            }
        })
        .collect();
    Dashboard { uid: dash::SLO, title: "voxscope / SLOs", panels }
}

fn service(catalog: &RuleCatalog) -> Dashboard {
    let t = &catalog.config.thresholds;
    let job = &catalog.config.service.job;
    Dashboard {
        uid: dash::SERVICE,
        title: "voxscope / Service",
        panels: vec![
            panel("Targets up", "short", &[(&format!("up{{job=\"{job}\"}}"), "{{instance}}")]),
            with_thresholds(
                panel(
                    "Missing settings",
                    "short",
                    &[("max by (field) (voxscope_config_missing)", "{{field}}")],
                ),
                &[1.0],
            ),
            panel(
                "Config warnings",
                "short",
                &[(
                    "sum by (field) (rate(voxscope_config_warnings_total[$__rate_interval]))",
                    "{{field}}",
                )],
            ),
            with_thresholds(
                panel(
                    "CPU",
                    "percentunit",
                    &[("rate(process_cpu_seconds_total[$__rate_interval])", "{{instance}}")],
                ),
                &[t.cpu_ratio],
            ),
            with_thresholds(
                panel(
                    "Resident memory",
                    "bytes",
                    &[("process_resident_memory_bytes", "{{instance}}")],
                ),
                &[t.memory_bytes],
            ),
            panel("Open file descriptors", "short", &[("process_open_fds", "{{instance}}")]),
            panel(
                "Trace decisions",
                "short",
                &[(
                    "sum by (decision) (rate(voxscope_traces_total[$__rate_interval]))",
                    "{{decision}}",
                )],
            ),
            panel(
                "Trace buffer and overflows",
                "short",
                &[
                    ("sum(voxscope_trace_buffer_spans)", "buffered spans"),
                    (
                        "sum(rate(voxscope_trace_buffer_overflow_total[$__rate_interval]))",
                        "overflows/s",
                    ),
                ],
            ),
            panel(
                "Folded label values",
                "short",
                &[(
                    "sum by (metric) (rate(voxscope_label_overflow_total[$__rate_interval]))",
                    "{{metric}}",
                )],
            ),
        ],
    }
}
