//! The metric catalog: every metric voxscope emits, declared once as data.
//!
//! Layers take their names from here, the Prometheus installer applies the buckets and
//! help texts, and rules, dashboards and `docs/metrics.md` are generated from it.
//!
//! ```
//! use voxscope_core::catalog::{self, MetricKind};
//!
//! let def = catalog::find("http_server_request_duration_seconds").unwrap();
//! assert_eq!(def.kind, MetricKind::Histogram);
//! assert_eq!(def.labels, &["method", "route", "status", "error_type"]);
//! assert!(def.buckets.contains(&2.0));
//! ```

use std::fmt;

mod app;

pub use app::{AppCatalog, AppLabel, AppMetric, DEFAULT_FAMILY, Threshold};

/// What kind of series a metric is (`counter`, `gauge` or `histogram` in TOML).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// Monotonic count; the Prometheus name ends in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations in buckets.
    Histogram,
}

impl MetricKind {
    /// The Prometheus `# TYPE` word.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The base unit of a metric's values (its lower-case name in TOML: `seconds`, `count`…).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
    /// A share between 0 and 1.
    Ratio,
    /// A plain count of things (requests, frames, calls).
    Count,
    /// LLM tokens.
    Tokens,
    /// Characters of text.
    Characters,
    /// Units of a currency, named by a `currency` label (an estimate of money spent).
    Currency,
    /// A score without unit (sentiment in -1..1, a 0/1 flag).
    Score,
}

impl Unit {
    /// The name used in docs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Seconds => "seconds",
            Unit::Bytes => "bytes",
            Unit::Ratio => "ratio",
            Unit::Count => "count",
            Unit::Tokens => "tokens",
            Unit::Characters => "characters",
            Unit::Currency => "currency units",
            Unit::Score => "score",
        }
    }

    /// The matching `metrics` unit, where there is one.
    pub const fn to_metrics_unit(self) -> Option<metrics::Unit> {
        match self {
            Unit::Seconds => Some(metrics::Unit::Seconds),
            Unit::Bytes => Some(metrics::Unit::Bytes),
            Unit::Count | Unit::Tokens | Unit::Characters => Some(metrics::Unit::Count),
            // `metrics::Unit::Percent` means 0..100; a 0..1 share or a score has no unit there.
            Unit::Ratio | Unit::Score | Unit::Currency => None,
        }
    }
}

/// Which part of voxscope emits a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subsystem {
    /// `voxscope-http`.
    Http,
    /// `voxscope-call`.
    Call,
    /// `voxscope-provider`.
    Provider,
    /// `voxscope-trace` and `voxscope-alert`, and the core's own guards.
    SelfObservation,
    /// The process collector (`metrics-process`).
    Process,
}

impl Subsystem {
    /// A heading for docs.
    pub const fn title(self) -> &'static str {
        match self {
            Subsystem::Http => "HTTP (voxscope-http)",
            Subsystem::Call => "Calls (voxscope-call)",
            Subsystem::Provider => "Providers (voxscope-provider)",
            Subsystem::SelfObservation => "Tracing and self-observation",
            Subsystem::Process => "Process (metrics-process)",
        }
    }
}

/// One metric of the catalog: the contract between the crates that record it and the
/// rules, dashboards and docs that read it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricDef {
    /// Prometheus name, in base units; counters end in `_total`.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Base unit of the values.
    pub unit: Unit,
    /// The HELP text.
    pub help: &'static str,
    /// Label keys, in the order the recording crate sets them.
    pub labels: &'static [&'static str],
    /// Default bucket upper bounds (histograms only; empty otherwise).
    pub buckets: &'static [f64],
    /// Who emits it.
    pub subsystem: Subsystem,
}

impl MetricDef {
    /// Whether `key` is one of this metric's label keys.
    pub fn has_label(&self, key: &str) -> bool {
        self.labels.contains(&key)
    }
}

macro_rules! metric {
    ($(#[$doc:meta])* $ident:ident, $name:literal, $kind:ident, $unit:ident, $sub:ident,
     [$($label:literal),*], $buckets:expr, $help:literal) => {
        $(#[$doc])*
        pub const $ident: MetricDef = MetricDef {
            name: $name,
            kind: MetricKind::$kind,
            unit: Unit::$unit,
            help: $help,
            labels: &[$($label),*],
            buckets: $buckets,
            subsystem: Subsystem::$sub,
        };
    };
}

/// Request durations, 5 ms to 30 s; includes 2 s, the HighResponseTime threshold.
pub const HTTP_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.25, 0.5, 0.75, 1.0, 2.0, 2.5, 5.0, 7.5, 10.0, 30.0,
];
/// Response body sizes, 64 B to 16 MiB.
pub const BODY_BYTES_BUCKETS: &[f64] =
    &[64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0];
/// Call durations, 1 s to 1 h; includes 10 s, the HighCallLatency threshold.
pub const CALL_DURATION_BUCKETS: &[f64] =
    &[1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0];
/// Shares of on-time frames; includes 0.7, the LowAudioQuality threshold.
pub const QUALITY_BUCKETS: &[f64] = &[0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0];
/// Voice latency thresholds worth resolving exactly (turn latency, TTFB).
pub const VOICE_LATENCY_BUCKETS: &[f64] =
    &[0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0];
/// WebSocket ping round trips, 1 ms to 10 s; includes 0.3 s, a 150 ms mouth-to-ear
/// delay (ITU-T G.114) each way.
pub const PING_RTT_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0];
/// Provider request durations: the voice latency bounds, extended to 60 s.
pub const PROVIDER_DURATION_BUCKETS: &[f64] =
    &[0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0];
/// Sentiment scores in -1..1; includes -0.3, the NegativeSentiment threshold.
pub const SENTIMENT_BUCKETS: &[f64] =
    &[-1.0, -0.75, -0.5, -0.3, -0.1, 0.0, 0.1, 0.3, 0.5, 0.75, 1.0];
/// OpenTelemetry GenAI token-usage buckets (powers of 4 up to 2^26).
pub const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// Rule evaluations of the embedded engine, 100 µs to 1 s: a catalog over a thousand
/// series takes a few milliseconds.
pub const EVALUATION_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

const NONE: &[f64] = &[];

// HTTP
metric!(
    /// Server request duration until the response body finished or was dropped;
    /// `error_type` (`aborted`, `body_error`) only on responses whose body did not end.
    HTTP_SERVER_REQUEST_DURATION, "http_server_request_duration_seconds", Histogram, Seconds, Http,
    ["method", "route", "status", "error_type"], HTTP_DURATION_BUCKETS,
    "Duration of HTTP server requests, until the response body has been sent or dropped; error_type=aborted|body_error when the body did not reach its end."
);
metric!(
    /// Requests in flight.
    HTTP_SERVER_ACTIVE_REQUESTS, "http_server_active_requests", Gauge, Count, Http,
    ["method"], NONE,
    "Number of HTTP server requests in flight."
);
metric!(
    /// Response body sizes (opt-in).
    HTTP_SERVER_RESPONSE_BODY_BYTES, "http_server_response_body_bytes", Histogram, Bytes, Http,
    ["method", "route", "status", "error_type"], BODY_BYTES_BUCKETS,
    "Size of HTTP server response bodies in bytes."
);

// Calls
metric!(
    /// Live calls.
    VOICE_CALLS_ACTIVE, "voice_calls_active", Gauge, Count, Call,
    ["transport"], NONE,
    "Number of voice calls in progress."
);
metric!(
    /// Configured maximum of concurrent calls.
    VOICE_CALLS_CAPACITY, "voice_calls_capacity", Gauge, Count, Call,
    ["transport"], NONE,
    "Configured maximum of concurrent voice calls."
);
metric!(
    /// Ended calls by outcome.
    VOICE_CALLS_TOTAL, "voice_calls_total", Counter, Count, Call,
    ["transport", "outcome"], NONE,
    "Voice calls ended, by outcome: completed, dropped, rejected or failed."
);
metric!(
    /// Call durations.
    VOICE_CALL_DURATION, "voice_call_duration_seconds", Histogram, Seconds, Call,
    ["transport", "outcome"], CALL_DURATION_BUCKETS,
    "Duration of voice calls from upgrade to end."
);
metric!(
    /// Media frames by direction.
    VOICE_CALL_FRAMES_TOTAL, "voice_call_frames_total", Counter, Count, Call,
    ["transport", "direction"], NONE,
    "Media frames seen on voice calls, by direction."
);
metric!(
    /// Audio carried by direction.
    VOICE_CALL_AUDIO_SECONDS_TOTAL, "voice_call_audio_seconds_total", Counter, Seconds, Call,
    ["transport", "direction"], NONE,
    "Seconds of audio carried on voice calls, by direction."
);
metric!(
    /// Late inbound media frames.
    VOICE_CALL_MEDIA_GAPS_TOTAL, "voice_call_media_gaps_total", Counter, Count, Call,
    ["transport"], NONE,
    "Inbound media gaps: frames that followed the previous one by more than the allowed multiple of the frame length."
);
metric!(
    /// Per-call share of the inbound audio that arrived on time.
    VOICE_CALL_AUDIO_QUALITY, "voice_call_audio_quality", Histogram, Ratio, Call,
    ["transport"], QUALITY_BUCKETS,
    "Per call, the share of the expected inbound media frames that arrived on time, frames missing inside gaps included (0 to 1)."
);
metric!(
    /// Voice-to-voice turn latency.
    VOICE_TURN_LATENCY, "voice_turn_latency_seconds", Histogram, Seconds, Call,
    ["transport"], VOICE_LATENCY_BUCKETS,
    "Voice-to-voice latency: end of the caller's turn to the first outbound audio frame."
);
metric!(
    /// Sentiment scores reported by the app.
    VOICE_CALL_SENTIMENT, "voice_call_sentiment", Histogram, Score, Call,
    ["transport"], SENTIMENT_BUCKETS,
    "Sentiment scores in -1..1 reported by the application."
);
metric!(
    /// Malformed or unknown media-stream messages.
    VOICE_CALL_PROTOCOL_ERRORS_TOTAL, "voice_call_protocol_errors_total", Counter, Count, Call,
    ["transport", "kind", "direction"], NONE,
    "Malformed or unknown media-stream messages, by kind and direction (in, out); the call goes on."
);
metric!(
    /// Round trips of the keepalive pings (opt-in).
    VOICE_CALL_PING_RTT, "voice_call_ping_rtt_seconds", Histogram, Seconds, Call,
    ["transport"], PING_RTT_BUCKETS,
    "Round trip of the WebSocket keepalive pings, from the ping sent to its pong read by the service (only with ping keepalive on)."
);

// Providers
metric!(
    /// Provider requests by outcome.
    VOICE_PROVIDER_REQUESTS_TOTAL, "voice_provider_requests_total", Counter, Count, Provider,
    ["kind", "provider", "outcome"], NONE,
    "Provider requests, by outcome: ok, error, timeout or cancelled."
);
metric!(
    /// Provider request durations.
    VOICE_PROVIDER_REQUEST_DURATION, "voice_provider_request_duration_seconds", Histogram, Seconds,
    Provider, ["kind", "provider"], PROVIDER_DURATION_BUCKETS,
    "Duration of provider requests until the response stream ended or was dropped."
);
metric!(
    /// Provider time to first byte.
    VOICE_PROVIDER_TTFB, "voice_provider_ttfb_seconds", Histogram, Seconds, Provider,
    ["kind", "provider"], VOICE_LATENCY_BUCKETS,
    "Provider time to first chunk, token or audio byte."
);
metric!(
    /// Provider errors by class.
    VOICE_PROVIDER_ERRORS_TOTAL, "voice_provider_errors_total", Counter, Count, Provider,
    ["kind", "provider", "error"], NONE,
    "Provider errors, by class: auth, rate_limited, timeout, unavailable, bad_request, empty \
     (nothing useful answered) or other."
);
metric!(
    /// Time to first useful byte of a fallback chain, failovers included.
    VOICE_PROVIDER_CHAIN_TTFB, "voice_provider_chain_ttfb_seconds", Histogram, Seconds,
    Provider, ["kind"], VOICE_LATENCY_BUCKETS,
    "What the caller of a fallback chain waited for its first useful chunk, token or \
     result, including time lost on providers that failed or were skipped."
);
metric!(
    /// Duration of a fallback chain request, failovers included.
    VOICE_PROVIDER_CHAIN_DURATION, "voice_provider_chain_duration_seconds", Histogram, Seconds,
    Provider, ["kind"], PROVIDER_DURATION_BUCKETS,
    "What the caller of a fallback chain waited for the whole answer (or the final \
     error), including time lost on providers that failed or were skipped."
);
metric!(
    /// Retries on the same provider.
    VOICE_PROVIDER_RETRIES_TOTAL, "voice_provider_retries_total", Counter, Count, Provider,
    ["kind", "provider", "reason"], NONE,
    "Retries of a request on the same provider before falling back, by the error class \
     that caused them: rate_limited, unavailable or timeout."
);
metric!(
    /// Switches to a fallback provider.
    VOICE_PROVIDER_FALLBACKS_TOTAL, "voice_provider_fallbacks_total", Counter, Count, Provider,
    ["kind", "from", "to", "reason"], NONE,
    "Switches from one provider to the next in a fallback chain."
);
metric!(
    /// Circuit breaker state.
    VOICE_PROVIDER_CIRCUIT_OPEN, "voice_provider_circuit_open", Gauge, Score, Provider,
    ["kind", "provider"], NONE,
    "1 while the provider's circuit breaker is open, else 0."
);
metric!(
    /// Provider requests in flight.
    VOICE_PROVIDER_IN_FLIGHT, "voice_provider_in_flight", Gauge, Count, Provider,
    ["kind", "provider"], NONE,
    "Provider requests in flight."
);
metric!(
    /// Configured provider concurrency limit.
    VOICE_PROVIDER_CONCURRENCY_LIMIT, "voice_provider_concurrency_limit", Gauge, Count, Provider,
    ["kind", "provider"], NONE,
    "Configured maximum of concurrent requests to the provider."
);
metric!(
    /// LLM token usage (OpenTelemetry GenAI name).
    GEN_AI_CLIENT_TOKEN_USAGE, "gen_ai_client_token_usage", Histogram, Tokens, Provider,
    ["provider", "token_type", "model"], TOKEN_BUCKETS,
    "LLM tokens used per request, by token type: input or output; model only where the \
     provider enables its model label."
);
metric!(
    /// Estimated provider cost.
    VOICE_PROVIDER_COST_TOTAL, "voice_provider_cost_total", Counter, Currency, Provider,
    ["kind", "provider", "currency"], NONE,
    "Estimated provider cost from usage and configured list prices, in whole units of \
     the currency; an estimate, to reconcile with the provider's invoice."
);
metric!(
    /// Characters sent to TTS.
    VOICE_TTS_CHARACTERS_TOTAL, "voice_tts_characters_total", Counter, Characters, Provider,
    ["provider"], NONE,
    "Characters of text sent to text-to-speech providers."
);
metric!(
    /// Audio sent to STT.
    VOICE_STT_AUDIO_SECONDS_TOTAL, "voice_stt_audio_seconds_total", Counter, Seconds, Provider,
    ["provider"], NONE,
    "Seconds of audio sent to speech-to-text providers."
);
metric!(
    /// Missing required settings.
    VOXSCOPE_CONFIG_MISSING, "voxscope_config_missing", Gauge, Score, Provider,
    ["field"], NONE,
    "1 while a required setting is absent or a placeholder, else 0."
);
metric!(
    /// Config warnings logged.
    VOXSCOPE_CONFIG_WARNINGS_TOTAL, "voxscope_config_warnings_total", Counter, Count, Provider,
    ["field"], NONE,
    "Configuration warnings logged, by field."
);

// Tracing and self-observation
metric!(
    /// Trace sampling decisions.
    VOXSCOPE_TRACES_TOTAL, "voxscope_traces_total", Counter, Count, SelfObservation,
    ["decision"], NONE,
    "Trace sampling decisions: kept_error, kept_slow, kept_route, kept_ratio, kept_parent or dropped."
);
metric!(
    /// Spans buffered by the tail sampler.
    VOXSCOPE_TRACE_BUFFER_SPANS, "voxscope_trace_buffer_spans", Gauge, Count, SelfObservation,
    [], NONE,
    "Spans held by the tail sampler while their trace is undecided."
);
metric!(
    /// Tail-sampler bound overflows.
    VOXSCOPE_TRACE_BUFFER_OVERFLOW_TOTAL, "voxscope_trace_buffer_overflow_total", Counter, Count,
    SelfObservation, [], NONE,
    "Traces decided early because a tail-sampler bound was reached."
);
metric!(
    /// Kept spans dropped because the export queue was full or the exporter failed.
    VOXSCOPE_TRACE_EXPORT_DROPPED_TOTAL, "voxscope_trace_export_dropped_spans_total", Counter,
    Count, SelfObservation, [], NONE,
    "Kept spans not exported: the bounded export queue was full or the exporter failed."
);
metric!(
    /// Alerts firing in the embedded evaluator.
    VOXSCOPE_ALERTS_FIRING, "voxscope_alerts_firing", Gauge, Count, SelfObservation,
    ["alertname", "severity"], NONE,
    "Alerts firing in the embedded evaluator."
);
metric!(
    /// One evaluation of the embedded engine: scrape, rules, dispatch.
    VOXSCOPE_ALERT_EVALUATION_DURATION_SECONDS, "voxscope_alert_evaluation_duration_seconds",
    Histogram, Seconds, SelfObservation, [], EVALUATION_BUCKETS,
    "Time the embedded alerting engine took to scrape the service's own metrics, evaluate every rule and hand the alerts to the dispatcher."
);
metric!(
    /// Series held in the embedded engine's metric history.
    VOXSCOPE_HISTORY_SERIES, "voxscope_history_series", Gauge, Count, SelfObservation,
    [], NONE,
    "Series held in the embedded engine's metric history (at most [history] max_series)."
);
metric!(
    /// Samples held in the embedded engine's metric history, by tier.
    VOXSCOPE_HISTORY_SAMPLES, "voxscope_history_samples", Gauge, Count, SelfObservation,
    ["tier"], NONE,
    "Samples held in the embedded engine's metric history, by tier: raw, aggregate (1-minute steps by default) or summary (1-hour steps)."
);
metric!(
    /// Bytes of samples held in the embedded engine's metric history.
    VOXSCOPE_HISTORY_BYTES, "voxscope_history_bytes", Gauge, Bytes, SelfObservation,
    [], NONE,
    "Bytes of sample buffers held in the embedded engine's metric history (label sets aside); at most the series times the per-series bound."
);
metric!(
    /// Notifications sent by the embedded evaluator.
    VOXSCOPE_NOTIFICATIONS_TOTAL, "voxscope_notifications_total", Counter, Count, SelfObservation,
    ["channel", "result"], NONE,
    "Alert notification sends of the embedded engine, by channel (webhook, slack, pagerduty, email, sms, alertmanager, log, none) and result: success, retried (an attempt failed, another follows), failed (given up) or dropped (queue full, unknown receiver or shutdown)."
);
metric!(
    /// Browsers following the live page's event stream.
    VOXSCOPE_LIVE_CLIENTS, "voxscope_live_clients", Gauge, Count, SelfObservation,
    [], NONE,
    "Clients connected to the live page's server-sent-events stream."
);
metric!(
    /// Live-page stream requests turned away.
    VOXSCOPE_LIVE_REJECTED_TOTAL, "voxscope_live_rejected_total", Counter, Count,
    SelfObservation, ["reason"], NONE,
    "Live-page stream requests refused, by reason: full (every client slot taken, answered 503) or unauthorized (no valid token, answered 401)."
);
metric!(
    /// Frames a slow live-page client never received.
    VOXSCOPE_LIVE_FRAMES_SKIPPED_TOTAL, "voxscope_live_frames_skipped_total", Counter, Count,
    SelfObservation, [], NONE,
    "Live-page frames skipped because a client read its stream slower than frames were published; it gets the newest instead."
);
metric!(
    /// Updates that lost their labels: one per counter increment, gauge change or
    /// histogram observation recorded into a series folded to `__overflow__`, by the
    /// cardinality guard past a metric's cap or by voxscope-http past `max_routes`.
    ///
    /// Not in the first draft of the design's catalog: what is folded must be counted,
    /// and a counter of its own keeps that visible to rules and dashboards. The one
    /// meaning is kept by `cardinality::FoldCounter`, through which every fold counts.
    VOXSCOPE_LABEL_OVERFLOW_TOTAL, "voxscope_label_overflow_total", Counter, Count,
    SelfObservation, ["metric"], NONE,
    "Updates recorded into series whose label values were folded to __overflow__ (cardinality cap or route cap), by metric."
);

// Process (recorded by metrics-process; listed so rules and dashboards can name them)
metric!(
    /// CPU time used by the process.
    PROCESS_CPU_SECONDS_TOTAL, "process_cpu_seconds_total", Counter, Seconds, Process,
    [], NONE,
    "Total user and system CPU time spent in seconds."
);
metric!(
    /// Resident memory.
    PROCESS_RESIDENT_MEMORY_BYTES, "process_resident_memory_bytes", Gauge, Bytes, Process,
    [], NONE,
    "Resident memory size in bytes."
);
metric!(
    /// Open file descriptors.
    PROCESS_OPEN_FDS, "process_open_fds", Gauge, Count, Process,
    [], NONE,
    "Number of open file descriptors."
);

/// Every metric of the catalog, grouped by subsystem.
pub const ALL: &[MetricDef] = &[
    HTTP_SERVER_REQUEST_DURATION,
    HTTP_SERVER_ACTIVE_REQUESTS,
    HTTP_SERVER_RESPONSE_BODY_BYTES,
    VOICE_CALLS_ACTIVE,
    VOICE_CALLS_CAPACITY,
    VOICE_CALLS_TOTAL,
    VOICE_CALL_DURATION,
    VOICE_CALL_FRAMES_TOTAL,
    VOICE_CALL_AUDIO_SECONDS_TOTAL,
    VOICE_CALL_MEDIA_GAPS_TOTAL,
    VOICE_CALL_AUDIO_QUALITY,
    VOICE_TURN_LATENCY,
    VOICE_CALL_SENTIMENT,
    VOICE_CALL_PROTOCOL_ERRORS_TOTAL,
    VOICE_CALL_PING_RTT,
    VOICE_PROVIDER_REQUESTS_TOTAL,
    VOICE_PROVIDER_REQUEST_DURATION,
    VOICE_PROVIDER_TTFB,
    VOICE_PROVIDER_ERRORS_TOTAL,
    VOICE_PROVIDER_CHAIN_TTFB,
    VOICE_PROVIDER_CHAIN_DURATION,
    VOICE_PROVIDER_RETRIES_TOTAL,
    VOICE_PROVIDER_FALLBACKS_TOTAL,
    VOICE_PROVIDER_CIRCUIT_OPEN,
    VOICE_PROVIDER_IN_FLIGHT,
    VOICE_PROVIDER_CONCURRENCY_LIMIT,
    GEN_AI_CLIENT_TOKEN_USAGE,
    VOICE_PROVIDER_COST_TOTAL,
    VOICE_TTS_CHARACTERS_TOTAL,
    VOICE_STT_AUDIO_SECONDS_TOTAL,
    VOXSCOPE_CONFIG_MISSING,
    VOXSCOPE_CONFIG_WARNINGS_TOTAL,
    VOXSCOPE_TRACES_TOTAL,
    VOXSCOPE_TRACE_BUFFER_SPANS,
    VOXSCOPE_TRACE_BUFFER_OVERFLOW_TOTAL,
    VOXSCOPE_TRACE_EXPORT_DROPPED_TOTAL,
    VOXSCOPE_ALERTS_FIRING,
    VOXSCOPE_ALERT_EVALUATION_DURATION_SECONDS,
    VOXSCOPE_HISTORY_SERIES,
    VOXSCOPE_HISTORY_SAMPLES,
    VOXSCOPE_HISTORY_BYTES,
    VOXSCOPE_NOTIFICATIONS_TOTAL,
    VOXSCOPE_LIVE_CLIENTS,
    VOXSCOPE_LIVE_REJECTED_TOTAL,
    VOXSCOPE_LIVE_FRAMES_SKIPPED_TOTAL,
    VOXSCOPE_LABEL_OVERFLOW_TOTAL,
    PROCESS_CPU_SECONDS_TOTAL,
    PROCESS_RESIDENT_MEMORY_BYTES,
    PROCESS_OPEN_FDS,
];

/// Looks a metric up by its Prometheus name.
pub fn find(name: &str) -> Option<&'static MetricDef> {
    ALL.iter().find(|def| def.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_follow_prometheus_conventions() {
        let mut seen = HashSet::new();
        for def in ALL {
            assert!(seen.insert(def.name), "{} listed twice", def.name);
            assert!(
                def.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{} is not snake_case",
                def.name
            );
            assert_eq!(
                def.kind == MetricKind::Counter,
                def.name.ends_with("_total"),
                "{}",
                def.name
            );
            if def.unit == Unit::Seconds {
                assert!(def.name.contains("_seconds"), "{} lacks its unit suffix", def.name);
            }
            assert!(!def.help.is_empty());
        }
    }

    #[test]
    fn histograms_have_strictly_increasing_buckets_and_others_none() {
        for def in ALL {
            if def.kind == MetricKind::Histogram {
                assert!(!def.buckets.is_empty(), "{}", def.name);
                assert!(def.buckets.windows(2).all(|w| w[0] < w[1]), "{}", def.name);
            } else {
                assert!(def.buckets.is_empty(), "{}", def.name);
            }
        }
    }

    #[test]
    fn thresholds_are_bucket_bounds() {
        for t in [0.2, 0.5, 1.0, 2.0] {
            assert!(VOICE_PROVIDER_TTFB.buckets.contains(&t));
        }
        assert_eq!(HTTP_SERVER_REQUEST_DURATION.buckets.first(), Some(&0.005));
        assert_eq!(HTTP_SERVER_REQUEST_DURATION.buckets.last(), Some(&30.0));
        assert_eq!(VOICE_CALL_DURATION.buckets.first(), Some(&1.0));
        assert_eq!(VOICE_CALL_DURATION.buckets.last(), Some(&3600.0));
        assert!(VOICE_TURN_LATENCY.buckets.contains(&0.8));
        assert!(VOICE_CALL_PING_RTT.buckets.contains(&0.3));
    }
}
