//! [`TraceConfig`]: everything [`init`](crate::init) needs, from code or from the
//! standard `OTEL_*` environment variables.

use std::time::Duration;

use tracing_subscriber::filter::LevelFilter;
use voxscope_core::{ConfigError, validate_nonzero};

use crate::policy::{SamplingPolicy, validate_ratio};

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `[TIMESTAMP] [LEVEL] [SERVICE] [TRACE_ID] message key=value…`
    #[default]
    Text,
    /// One JSON object per line, with `trace_id` and `span_id`.
    Json,
    /// No log output.
    Off,
}

/// Settings of a [`TracePipeline`](crate::TracePipeline) and of [`init`](crate::init).
///
/// ```
/// use std::time::Duration;
/// use voxscope_trace::{SamplingPolicy, TraceConfig};
///
/// let config = TraceConfig::new("voice-agent")
///     .policy(SamplingPolicy::default().route_ratio("/health", 0.0))
///     .max_traces(5_000)
///     .max_wait(Duration::from_secs(10));
/// assert!(config.validate().is_ok());
///
/// let bad = TraceConfig::new("voice-agent").policy(SamplingPolicy::default().default_ratio(1.5));
/// assert_eq!(bad.validate().unwrap_err().to_string(), "default_ratio: a ratio in 0..=1 (got \"1.5\")");
/// ```
#[derive(Clone, Debug)]
pub struct TraceConfig {
    pub(crate) service_name: String,
    pub(crate) policy: SamplingPolicy,
    pub(crate) max_traces: usize,
    pub(crate) max_spans_per_trace: usize,
    pub(crate) max_buffered_spans: usize,
    pub(crate) buffer_shards: usize,
    pub(crate) max_wait: Duration,
    pub(crate) memory_traces: usize,
    pub(crate) export_queue: usize,
    pub(crate) otlp_endpoint: Option<String>,
    pub(crate) otlp_headers: Vec<(String, String)>,
    pub(crate) otlp_gzip: bool,
    pub(crate) otlp_logs_endpoint: Option<String>,
    pub(crate) zipkin_endpoint: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) log_format: LogFormat,
    pub(crate) log_filter: String,
    pub(crate) span_level: LevelFilter,
}

impl TraceConfig {
    /// Defaults: [`SamplingPolicy::default`]; in the tail buffer at most 10,000 open
    /// traces, 1,000 spans per trace, 32,768 spans in all and an hour of waiting; the
    /// last 100 kept traces in memory, an export queue of 2,048 spans, no OTLP or Zipkin
    /// endpoint, no log export, text logs at `info`, spans traced up to `INFO`.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            policy: SamplingPolicy::default(),
            max_traces: 10_000,
            max_spans_per_trace: 1_000,
            max_buffered_spans: 32_768,
            buffer_shards: 16,
            max_wait: Duration::from_secs(3_600),
            memory_traces: 100,
            export_queue: 2_048,
            otlp_endpoint: None,
            otlp_headers: Vec::new(),
            otlp_gzip: false,
            otlp_logs_endpoint: None,
            zipkin_endpoint: None,
            resource_attributes: Vec::new(),
            log_format: LogFormat::Text,
            log_filter: "info".to_owned(),
            span_level: LevelFilter::INFO,
        }
    }

    /// The sampling policy.
    pub fn policy(mut self, policy: SamplingPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Tail bound: open traces held at once; past it, a new trace is decided at the head.
    pub fn max_traces(mut self, max: usize) -> Self {
        self.max_traces = max;
        self
    }

    /// Tail bound: spans buffered for one trace; past it, the trace is decided early.
    pub fn max_spans_per_trace(mut self, max: usize) -> Self {
        self.max_spans_per_trace = max;
        self
    }

    /// Tail bound: spans buffered across all open traces. Past it, the oldest open
    /// trace is decided early (kept if it has an error or the head kept it) and counted
    /// in `voxscope_trace_buffer_overflow_total`. A buffered span costs under 1.5 KiB
    /// (its `SpanData` with a dozen attributes), so the default bounds the buffer near
    /// 48 MiB.
    pub fn max_buffered_spans(mut self, max: usize) -> Self {
        self.max_buffered_spans = max;
        self
    }

    /// Independent locks the tail buffer is split into by trace id (default 16), so that
    /// threads ending spans of different traces rarely wait for each other; 1 is a
    /// single lock. `max_buffered_spans` stays one bound on all of them (past it, the
    /// oldest open trace of any shard goes first); `max_traces` is shared evenly.
    pub fn buffer_shards(mut self, shards: usize) -> Self {
        self.buffer_shards = shards;
        self
    }

    /// Tail bound: how long a trace may wait for its local root to end, default an
    /// hour. A call is its own trace, whose root ends when the call ends: set this
    /// above the longest call. Expired traces are decided early by a timer, span
    /// activity or not.
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// Kept traces held in memory for `/traces`; 0 holds none.
    pub fn memory_traces(mut self, traces: usize) -> Self {
        self.memory_traces = traces;
        self
    }

    /// Spans that may wait for the exporter; past it, spans are dropped and counted.
    pub fn export_queue(mut self, spans: usize) -> Self {
        self.export_queue = spans;
        self
    }

    /// Exports kept traces over OTLP http/protobuf to `endpoint`, such as
    /// `http://localhost:4318/v1/traces` (feature `otlp`).
    pub fn otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.otlp_endpoint = Some(endpoint.into());
        self
    }

    /// Exports log records over OTLP http/protobuf to `endpoint`, such as
    /// `http://localhost:4318/v1/logs` (feature `otlp`), each with the trace and span
    /// ids of the span it happens in (those of a skipped request too), so that a
    /// Collector can forward them to Elasticsearch or Loki to be searched by trace id.
    /// [`init`](crate::init) adds the exporting layer behind the same log filter as the
    /// log lines (`RUST_LOG`); the OTLP headers and gzip setting apply to it too.
    ///
    /// ```
    /// # #[cfg(feature = "otlp")] {
    /// let config = voxscope_trace::TraceConfig::new("voice-agent")
    ///     .otlp_logs_endpoint("http://localhost:4318/v1/logs");
    /// assert!(config.validate().is_ok());
    /// # }
    /// ```
    pub fn otlp_logs_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.otlp_logs_endpoint = Some(endpoint.into());
        self
    }

    /// Exports kept traces to a Zipkin endpoint as Zipkin v2 JSON, such as
    /// `http://localhost:9411/api/v2/spans` (feature `zipkin`), instead of OTLP.
    ///
    /// ```
    /// # #[cfg(feature = "zipkin")] {
    /// let config = voxscope_trace::TraceConfig::new("voice-agent")
    ///     .zipkin_endpoint("http://localhost:9411/api/v2/spans");
    /// assert!(config.validate().is_ok());
    /// # }
    /// ```
    pub fn zipkin_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.zipkin_endpoint = Some(endpoint.into());
        self
    }

    /// A header sent with every OTLP export request, such as an API key.
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.otlp_headers.push((name.into(), value.into()));
        self
    }

    /// Gzips OTLP export requests (`Content-Encoding: gzip`).
    pub fn otlp_gzip(mut self, gzip: bool) -> Self {
        self.otlp_gzip = gzip;
        self
    }

    /// A resource attribute of every exported span, such as `deployment.environment`;
    /// `service.name` is the service name's.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.resource_attributes.push((key.into(), value.into()));
        self
    }

    /// How [`init`](crate::init) writes logs.
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.log_format = format;
        self
    }

    /// The log filter when `RUST_LOG` is unset (an `EnvFilter` directive). It filters
    /// log lines only: which spans are traced is [`span_level`](Self::span_level)'s.
    pub fn log_filter(mut self, filter: impl Into<String>) -> Self {
        self.log_filter = filter.into();
        self
    }

    /// The most verbose spans that are traced (default `INFO`), independent of the log
    /// filter: `RUST_LOG=warn` quiets the logs, not the tracing.
    pub fn span_level(mut self, level: tracing::Level) -> Self {
        self.span_level = LevelFilter::from_level(level);
        self
    }

    /// The service name.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// Overrides settings from the process environment, as every OpenTelemetry SDK reads
    /// them: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (or `OTEL_EXPORTER_OTLP_ENDPOINT` plus
    /// `/v1/traces`), `OTEL_EXPORTER_OTLP_TRACES_HEADERS` (or
    /// `OTEL_EXPORTER_OTLP_HEADERS`), `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` (or
    /// `OTEL_EXPORTER_OTLP_COMPRESSION`: `gzip` or `none`), `OTEL_TRACES_SAMPLER_ARG`
    /// (the default ratio), `OTEL_EXPORTER_ZIPKIN_ENDPOINT`, and for log records
    /// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` or `OTEL_LOGS_EXPORTER`: `otlp` sends them to
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` plus `/v1/logs` (`http://localhost:4318` without
    /// it), `none` sends none. Lists are `key=value` pairs separated by commas, values
    /// percent-encoded.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the variable for a ratio that is not a number, a
    /// list entry without `=`, a compression other than `gzip` and `none`, or a logs
    /// exporter other than `otlp` and `none`.
    pub fn with_env(self) -> Result<Self, ConfigError> {
        self.with_env_from(|key| std::env::var(key).ok())
    }

    /// [`with_env`](Self::with_env) with the variables read from `var`.
    ///
    /// ```
    /// use voxscope_trace::TraceConfig;
    ///
    /// let config = TraceConfig::new("x").with_env_from(|key| match key {
    ///     "OTEL_SERVICE_NAME" => Some("from-env".to_owned()),
    ///     "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318".to_owned()),
    ///     "OTEL_EXPORTER_OTLP_HEADERS" => Some("api-key=s3cr%3Dt,tenant=acme".to_owned()),
    ///     _ => None,
    /// })?;
    /// assert_eq!(config.service_name(), "from-env");
    ///
    /// let bad = TraceConfig::new("x").with_env_from(|key| {
    ///     (key == "OTEL_EXPORTER_OTLP_COMPRESSION").then(|| "brotli".to_owned())
    /// });
    /// assert_eq!(
    ///     bad.unwrap_err().to_string(),
    ///     "OTEL_EXPORTER_OTLP_COMPRESSION: gzip or none (got \"brotli\")"
    /// );
    /// # Ok::<(), voxscope_core::ConfigError>(())
    /// ```
    pub fn with_env_from(
        mut self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let var = |key: &str| var(key).filter(|v| !v.trim().is_empty());
        let either = |specific: &'static str, general: &'static str| {
            var(specific).map(|v| (specific, v)).or_else(|| var(general).map(|v| (general, v)))
        };
        if let Some(name) = var("OTEL_SERVICE_NAME") {
            self.service_name = name;
        }
        if let Some(list) = var("OTEL_RESOURCE_ATTRIBUTES") {
            self.resource_attributes.extend(pairs("OTEL_RESOURCE_ATTRIBUTES", &list)?);
        }
        let base = var("OTEL_EXPORTER_OTLP_ENDPOINT").map(|b| b.trim_end_matches('/').to_owned());
        if let Some(endpoint) = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            self.otlp_endpoint = Some(endpoint);
        } else if let Some(base) = &base {
            self.otlp_endpoint = Some(format!("{base}/v1/traces"));
        }
        if let Some(endpoint) = var("OTEL_EXPORTER_ZIPKIN_ENDPOINT") {
            self.zipkin_endpoint = Some(endpoint);
        }
        match var("OTEL_LOGS_EXPORTER").as_deref().map(str::trim) {
            Some("none") => self.otlp_logs_endpoint = None,
            Some("otlp") | None => {
                if let Some(endpoint) = var("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT") {
                    self.otlp_logs_endpoint = Some(endpoint);
                } else if var("OTEL_LOGS_EXPORTER").is_some() {
                    let base = base.as_deref().unwrap_or("http://localhost:4318");
                    self.otlp_logs_endpoint = Some(format!("{base}/v1/logs"));
                }
            }
            Some(other) => {
                return Err(ConfigError::Invalid {
                    field: "OTEL_LOGS_EXPORTER".to_owned(),
                    value: other.to_owned(),
                    reason: "otlp or none",
                });
            }
        }
        if let Some((name, list)) =
            either("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
        {
            self.otlp_headers.extend(pairs(name, &list)?);
        }
        if let Some((name, value)) =
            either("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION")
        {
            self.otlp_gzip = match value.trim() {
                "gzip" => true,
                "none" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        field: name.to_owned(),
                        value,
                        reason: "gzip or none",
                    });
                }
            };
        }
        if let Some(arg) = var("OTEL_TRACES_SAMPLER_ARG") {
            let ratio = arg.trim().parse::<f64>().map_err(|_| ConfigError::Invalid {
                field: "OTEL_TRACES_SAMPLER_ARG".to_owned(),
                value: arg.clone(),
                reason: "a ratio in 0..=1",
            })?;
            validate_ratio("OTEL_TRACES_SAMPLER_ARG", ratio)?;
            self.policy = self.policy.default_ratio(ratio);
        }
        Ok(self)
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field: a ratio outside `0..=1`, a zero bound or queue,
    /// an OTLP, OTLP logs or Zipkin endpoint that is not an `http://` or `https://` URL
    /// (or set without its feature), both an OTLP and a Zipkin endpoint, an empty
    /// service name.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.policy.validate()?;
        validate_nonzero("max_traces", self.max_traces)?;
        validate_nonzero("max_spans_per_trace", self.max_spans_per_trace)?;
        validate_nonzero("max_buffered_spans", self.max_buffered_spans)?;
        validate_nonzero("buffer_shards", self.buffer_shards)?;
        validate_nonzero("export_queue", self.export_queue)?;
        if self.max_wait.is_zero() {
            return Err(ConfigError::Zero { field: "max_wait".to_owned() });
        }
        if self.service_name.trim().is_empty() {
            return Err(ConfigError::Invalid {
                field: "service_name".to_owned(),
                value: self.service_name.clone(),
                reason: "a non-empty name",
            });
        }
        const NO_OTLP: Option<&str> = match cfg!(feature = "otlp") {
            true => None,
            false => Some("OTLP export needs the `otlp` feature of voxscope-trace"),
        };
        const NO_ZIPKIN: Option<&str> = match cfg!(feature = "zipkin") {
            true => None,
            false => Some("Zipkin export needs the `zipkin` feature of voxscope-trace"),
        };
        if let Some(endpoint) = &self.otlp_endpoint {
            validate_endpoint("otlp_endpoint", endpoint, NO_OTLP)?;
        }
        if let Some(endpoint) = &self.otlp_logs_endpoint {
            validate_endpoint("otlp_logs_endpoint", endpoint, NO_OTLP)?;
        }
        if let Some(endpoint) = &self.zipkin_endpoint {
            validate_endpoint("zipkin_endpoint", endpoint, NO_ZIPKIN)?;
            if self.otlp_endpoint.is_some() {
                return Err(ConfigError::Invalid {
                    field: "zipkin_endpoint".to_owned(),
                    value: endpoint.clone(),
                    reason: "one trace exporter: unset otlp_endpoint to export to Zipkin",
                });
            }
        }
        for (name, value) in &self.otlp_headers {
            let invalid = |reason| ConfigError::Invalid {
                field: format!("otlp_header[{name}]"),
                value: value.clone(),
                reason,
            };
            http::HeaderName::try_from(name.as_str())
                .map_err(|_| invalid("a valid HTTP header name"))?;
            http::HeaderValue::try_from(value.as_str())
                .map_err(|_| invalid("a valid HTTP header value"))?;
        }
        Ok(())
    }
}

/// `key1=value1,key2=value2` with percent-encoded values (W3C Baggage's form, which the
/// OpenTelemetry environment variables use).
fn pairs(field: &str, list: &str) -> Result<Vec<(String, String)>, ConfigError> {
    list.split(',')
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| {
            let (key, value) = entry.split_once('=').ok_or_else(|| ConfigError::Invalid {
                field: field.to_owned(),
                value: entry.to_owned(),
                reason: "key=value pairs separated by commas",
            })?;
            let value = percent_encoding::percent_decode_str(value.trim()).decode_utf8_lossy();
            Ok((key.trim().to_owned(), value.into_owned()))
        })
        .collect()
}

/// `endpoint` is an `http://` or `https://` URL, and `missing_feature` says which cargo
/// feature exporting to it needs, when that feature is off.
fn validate_endpoint(
    field: &str,
    endpoint: &str,
    missing_feature: Option<&'static str>,
) -> Result<(), ConfigError> {
    let invalid = |reason| ConfigError::Invalid {
        field: field.to_owned(),
        value: endpoint.to_owned(),
        reason,
    };
    let uri: http::Uri = endpoint.parse().map_err(|_| invalid("an http:// or https:// URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        return Err(invalid("an http:// or https:// URL"));
    }
    if let Some(reason) = missing_feature {
        return Err(invalid(reason));
    }
    Ok(())
}
