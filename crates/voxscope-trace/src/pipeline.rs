//! [`TracePipeline`]: sampler, tail processor, store and exporter wired together, and
//! [`init`], which installs them as the global subscriber.

use std::sync::Arc;

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanExporter};
use tracing::Subscriber;
use tracing_log::AsLog;
use tracing_subscriber::filter::{FilterExt, LevelFilter};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Registry};

use crate::config::{LogFormat, TraceConfig};
use crate::counters::Counters;
use crate::deferred::DeferredLayer;
use crate::error::TraceError;
use crate::export::ExportQueue;
use crate::filter::{HeadDropFilter, KeepUntraced, UntracedOnly};
use crate::fmt::VoxFormat;
use crate::ids::{RootIds, VoxIdGenerator};
use crate::layer::{TraceLayer, TraceLayerBuilder};
use crate::log_filter::LogFilter;
use crate::log_layer::log_layer;
use crate::processor::{Sink, TailBounds, TailProcessor};
use crate::sampler::VoxSampler;
use crate::span_fields::RecordSpanFields;
use crate::store::TraceStore;

/// The parts of a sampled tracing setup, built from one [`TraceConfig`] and installed
/// nowhere: compose them into your own subscriber, or let [`init`] do it.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use voxscope_trace::{TraceConfig, TracePipeline};
///
/// let pipeline = TracePipeline::new(&TraceConfig::new("voice-agent"))?;
/// let subscriber = tracing_subscriber::registry().with(pipeline.otel_layer());
/// tracing::subscriber::with_default(subscriber, || {
///     // Requests through `pipeline.trace_layer()` are traced here.
/// });
/// # Ok::<(), voxscope_trace::TraceError>(())
/// ```
#[derive(Debug)]
pub struct TracePipeline {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    store: TraceStore,
    layer: TraceLayer,
    config: TraceConfig,
    /// Log records over OTLP, when an OTLP logs endpoint is set.
    #[cfg(feature = "otlp")]
    logs: Option<opentelemetry_sdk::logs::SdkLoggerProvider>,
}

impl TracePipeline {
    /// Kept traces go to the in-memory store and, with an OTLP endpoint (feature
    /// `otlp`) or a Zipkin endpoint (feature `zipkin`), to that endpoint. With an OTLP
    /// logs endpoint, [`log_export_layer`](Self::log_export_layer) sends log records
    /// there.
    ///
    /// # Errors
    /// [`TraceError::Config`] for an invalid setting; [`TraceError::Exporter`] when the
    /// OTLP exporter cannot be built.
    pub fn new(config: &TraceConfig) -> Result<Self, TraceError> {
        config.validate()?;
        #[cfg(feature = "otlp")]
        if let Some(endpoint) = &config.otlp_endpoint {
            return Self::with_exporter(
                config,
                crate::otlp::exporter(otlp_target(config, endpoint))?,
            );
        }
        #[cfg(feature = "zipkin")]
        if let Some(endpoint) = &config.zipkin_endpoint {
            return Self::with_exporter(
                config,
                crate::zipkin::exporter(endpoint, &config.service_name)?,
            );
        }
        Self::build(config, |_| Ok(None))
    }

    /// Kept traces go to the in-memory store and to `exporter`, through a bounded,
    /// non-blocking queue (`export_queue` spans; drops are counted in
    /// `voxscope_trace_export_dropped_spans_total`).
    ///
    /// # Errors
    /// [`TraceError::Config`] for an invalid setting; [`TraceError::Thread`] when the
    /// export thread cannot start.
    pub fn with_exporter<E: SpanExporter + 'static>(
        config: &TraceConfig,
        exporter: E,
    ) -> Result<Self, TraceError> {
        config.validate()?;
        Self::build(config, |counters| {
            Ok(Some(ExportQueue::start(exporter, config.export_queue, counters)?))
        })
    }

    fn build(
        config: &TraceConfig,
        queue: impl FnOnce(Arc<Counters>) -> Result<Option<ExportQueue>, TraceError>,
    ) -> Result<Self, TraceError> {
        let counters = Arc::new(Counters::default());
        let store = TraceStore::new(config.memory_traces);
        let sink = Sink {
            store: (config.memory_traces > 0).then(|| store.clone()),
            queue: queue(Arc::clone(&counters))?,
        };
        let bounds = TailBounds {
            max_traces: config.max_traces,
            max_spans_per_trace: config.max_spans_per_trace,
            max_buffered_spans: config.max_buffered_spans,
            shards: config.buffer_shards,
            max_wait: config.max_wait,
        };
        let processor =
            TailProcessor::new(&config.policy, bounds, Arc::new(sink), Arc::clone(&counters))?;
        let resource = Resource::builder()
            .with_attributes(
                config.resource_attributes.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
            )
            .with_service_name(config.service_name.clone())
            .build();
        #[cfg(feature = "otlp")]
        let logs = match &config.otlp_logs_endpoint {
            Some(endpoint) => {
                Some(crate::logs::provider(otlp_target(config, endpoint), resource.clone())?)
            }
            None => None,
        };
        let provider = SdkTracerProvider::builder()
            .with_sampler(VoxSampler::new(&config.policy))
            .with_id_generator(VoxIdGenerator::default())
            .with_span_processor(processor)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("voxscope-trace");
        let layer = TraceLayer::builder()
            .policy(config.policy.clone())
            .counters(counters)
            .defer(true)
            .build()?;
        Ok(Self {
            provider,
            tracer,
            store,
            layer,
            config: config.clone(),
            #[cfg(feature = "otlp")]
            logs,
        })
    }

    /// The tower layer for the router, sharing this pipeline's policy and counters.
    pub fn trace_layer(&self) -> TraceLayer {
        self.layer.clone()
    }

    /// A builder for a customised layer (response header, client address) that shares
    /// this pipeline's policy and counters.
    ///
    /// ```
    /// # let pipeline = voxscope_trace::TracePipeline::new(&voxscope_trace::TraceConfig::new("x"))?;
    /// let layer = pipeline.trace_layer_builder().record_client_address(true).build()?;
    /// # Ok::<(), voxscope_trace::TraceError>(())
    /// ```
    pub fn trace_layer_builder(&self) -> TraceLayerBuilder {
        TraceLayer::builder()
            .policy(self.config.policy.clone())
            .counters(Arc::clone(&self.layer.state.counters))
            .defer(true)
    }

    /// tracing-opentelemetry's layer on this pipeline's tracer, behind the
    /// [`HeadDropFilter`] that spares skipped requests an OpenTelemetry span, for spans
    /// up to the configured span level (`info` by default) whatever the log filter.
    /// Other local roots (a call span) get their ids attached for the log lines inside,
    /// and the fields of spans other than request spans are kept for
    /// [`VoxFormat`]'s lines.
    ///
    /// A request the head left to the tail gets no OpenTelemetry span unless something
    /// could make the tail keep it (a traced span or an event inside it, an error, a
    /// slow response): this layer builds it then, with the request's ids and start
    /// time, and the tail decides as it would have.
    ///
    /// Source locations, thread names, targets and busy/idle times are not recorded:
    /// they cost time on every kept span and say little about a request. OpenTelemetry
    /// context activation stays on, so `opentelemetry::Context::current()` (used to
    /// propagate `traceparent` to providers) is the current span's.
    pub fn otel_layer<S>(&self) -> impl Layer<S> + 'static
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.tracer.clone())
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_filter(HeadDropFilter.and(self.config.span_level))
            .and_then(KeepUntraced.with_filter(UntracedOnly))
            .and_then(RootIds::default())
            .and_then(RecordSpanFields)
            .and_then(DeferredLayer {
                tracer: self.tracer.clone(),
                counters: Arc::clone(&self.layer.state.counters),
                slow: self.config.policy.slow_threshold,
                keep_errors: self.config.policy.keep_errors,
                span_level: self.config.span_level,
                dispatch: std::sync::OnceLock::new(),
            })
    }

    /// OpenTelemetry's tracing bridge to the OTLP logs endpoint (feature `otlp`), or
    /// `None` without one: every event it sees becomes a log record with the service's
    /// resource and the trace and span ids of the span it happens in (for a request the
    /// head sampler skipped, the ids of its response header). Put it behind the same
    /// filter as the log lines; [`init`] does.
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// use voxscope_trace::{TraceConfig, TracePipeline};
    ///
    /// let config = TraceConfig::new("voice-agent").otlp_logs_endpoint("http://localhost:4318/v1/logs");
    /// let pipeline = TracePipeline::new(&config)?;
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(pipeline.otel_layer())
    ///     .with(pipeline.log_export_layer());
    /// # drop(subscriber);
    /// # pipeline.shutdown_with_timeout(std::time::Duration::from_millis(100));
    /// # Ok::<(), voxscope_trace::TraceError>(())
    /// ```
    #[cfg(feature = "otlp")]
    pub fn log_export_layer<S>(&self) -> Option<impl Layer<S> + 'static>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        self.logs.as_ref().map(crate::logs::OtlpLogLayer::new)
    }

    /// The log formatter of this pipeline's service, for `tracing_subscriber::fmt`.
    pub fn log_format(&self, format: LogFormat) -> VoxFormat {
        VoxFormat::new(&self.config.service_name, format == LogFormat::Json)
    }

    /// The last kept traces.
    pub fn store(&self) -> TraceStore {
        self.store.clone()
    }

    /// `GET /traces`: the kept traces as JSON, newest first (`?limit=N`, default 50),
    /// with [`TracesRoute`](crate::TracesRoute)'s defaults: no token, caller ids left
    /// out, at most 4 MiB.
    #[cfg(feature = "axum")]
    pub fn traces_router(&self) -> axum::Router {
        self.traces_route().router()
    }

    /// The `/traces` route to configure: a bearer token, a size limit, caller ids.
    #[cfg(feature = "axum")]
    pub fn traces_route(&self) -> crate::TracesRoute {
        crate::TracesRoute::new(self.store.clone())
    }

    /// Hands every kept span (and log record) so far to the exporter and waits (at
    /// most 5 s).
    pub fn force_flush(&self) {
        let _ = self.provider.force_flush();
        #[cfg(feature = "otlp")]
        if let Some(logs) = &self.logs {
            let _ = logs.force_flush();
        }
    }

    /// Decides every open trace, flushes and stops the exporter, within 5 s.
    /// Idempotent.
    pub fn shutdown(&self) {
        self.shutdown_with_timeout(Duration::from_secs(5));
    }

    /// [`shutdown`](Self::shutdown) within `timeout`, whatever the collector does: an
    /// export still waiting for a silent collector is abandoned. Returns whether
    /// everything was handed over in time.
    ///
    /// ```
    /// # let pipeline = voxscope_trace::TracePipeline::new(&voxscope_trace::TraceConfig::new("x"))?;
    /// assert!(pipeline.shutdown_with_timeout(std::time::Duration::from_secs(1)));
    /// # Ok::<(), voxscope_trace::TraceError>(())
    /// ```
    pub fn shutdown_with_timeout(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let traces = self.provider.shutdown_with_timeout(timeout).is_ok();
        #[cfg(feature = "otlp")]
        if let Some(logs) = &self.logs {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            return logs.shutdown_with_timeout(left).is_ok() && traces;
        }
        let _ = deadline;
        traces
    }
}

/// Returned by [`init`]: flushes and shuts the exporter down when dropped.
#[derive(Debug)]
#[must_use = "dropping the guard shuts tracing down"]
pub struct TraceGuard {
    pipeline: TracePipeline,
}

impl TraceGuard {
    /// The pipeline behind the global subscriber (its layer, store, `/traces` route).
    pub fn pipeline(&self) -> &TracePipeline {
        &self.pipeline
    }
}

impl Drop for TraceGuard {
    fn drop(&mut self) {
        self.pipeline.shutdown();
    }
}

/// Installs the global tracing subscriber: the log formatter behind an `EnvFilter`
/// (`RUST_LOG`, else the config's filter) that applies to log lines only, and the
/// OpenTelemetry layer with voxscope's sampler, tail processor, store and exporter,
/// which sees every span up to the span level whatever `RUST_LOG` says: at
/// `RUST_LOG=warn` requests and calls are still sampled and warnings carry trace ids.
/// Records of the `log` crate are bridged into the same lines. With an OTLP logs
/// endpoint, the same events (by the same filter) are also exported as log records. Also sets OpenTelemetry's global W3C
/// propagator and tracer provider, for crates that inject `traceparent` into outgoing
/// requests or trace through the OpenTelemetry API.
///
/// ```no_run
/// use axum::{Router, routing::get};
///
/// let config = voxscope_trace::TraceConfig::new("voice-agent").with_env()?;
/// let tracing = voxscope_trace::init(config)?;
/// let app: Router = Router::new()
///     .route("/calls/{id}", get(|| async { "call" }))
///     .layer(tracing.pipeline().trace_layer())
///     .merge(tracing.pipeline().traces_router());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`TraceError::Config`] naming the bad field; [`TraceError::AlreadyInitialised`] when
/// a global subscriber exists; [`TraceError::Exporter`] for an unusable endpoint.
pub fn init(config: TraceConfig) -> Result<TraceGuard, TraceError> {
    let pipeline = TracePipeline::new(&config)?;
    // One per log layer: an EnvFilter is not Clone.
    let env_filter = || {
        EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(&config.log_filter))
            .map_err(|_| voxscope_core::ConfigError::Invalid {
                field: "log_filter".to_owned(),
                value: config.log_filter.clone(),
                reason: "an EnvFilter directive such as `info`",
            })
    };
    let filter = env_filter()?;
    // The most verbose level any layer wants an event at: the log lines' filter, or the
    // span level for events recorded on spans.
    let wanted = config
        .span_level
        .max(Layer::<Registry>::max_level_hint(&filter).unwrap_or(LevelFilter::TRACE));
    let logs = (config.log_format != LogFormat::Off).then(|| {
        log_layer(
            pipeline.log_format(config.log_format),
            LogFilter::new(filter, config.span_level),
            std::io::stderr,
        )
    });
    #[cfg(feature = "otlp")]
    let exported = match pipeline.log_export_layer() {
        Some(layer) => Some(layer.with_filter(LogFilter::new(env_filter()?, config.span_level))),
        None => None,
    };
    #[cfg(not(feature = "otlp"))]
    let exported: Option<tracing_subscriber::layer::Identity> = None;
    let subscriber = Registry::default().with(pipeline.otel_layer()).with(logs).with(exported);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| TraceError::AlreadyInitialised)?;
    // `log` records become events (with the trace id of the request they happen in),
    // unless the process already has a `log` logger, which is left alone.
    // Records above that level stop at the `log` crate's own level check: dependencies
    // that `trace!` every frame they read (tungstenite) cost nothing then, where each
    // record would otherwise be built and offered to every layer.
    let _ = tracing_log::LogTracer::builder().with_max_level(wanted.as_log()).init();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    opentelemetry::global::set_tracer_provider(pipeline.provider.clone());
    Ok(TraceGuard { pipeline })
}

/// The OTLP endpoint `endpoint` with the config's headers and compression.
#[cfg(feature = "otlp")]
fn otlp_target<'a>(config: &'a TraceConfig, endpoint: &'a str) -> crate::otlp::Target<'a> {
    crate::otlp::Target { endpoint, headers: &config.otlp_headers, gzip: config.otlp_gzip }
}
