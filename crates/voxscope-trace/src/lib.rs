//! Sampled request tracing for tower/axum voice services: every failed and every slow
//! request traced whole, a share of the rest, trace ids in every log line, and no
//! collector needed.
//!
//! ```
//! use axum::{Router, routing::get};
//! use tracing_subscriber::prelude::*;
//! use voxscope_trace::{SamplingPolicy, TraceConfig, TracePipeline};
//!
//! let config = TraceConfig::new("voice-agent").policy(
//!     SamplingPolicy::default()
//!         .default_ratio(0.1)
//!         .route_ratio("/calls/{id}/hangup", 1.0)
//!         .route_ratio("/health", 0.0),
//! );
//! let pipeline = TracePipeline::new(&config)?;
//! let app: Router = Router::new()
//!     .route("/calls/{id}", get(|| async { "call" }))
//!     .layer(pipeline.trace_layer())
//!     .merge(pipeline.traces_router()); // GET /traces: the last kept traces as JSON
//!
//! // In a binary, `voxscope_trace::init(config)` installs all of this globally.
//! let subscriber = tracing_subscriber::registry().with(pipeline.otel_layer());
//! # drop((app, subscriber));
//! # Ok::<(), voxscope_trace::TraceError>(())
//! ```
//!
//! How a request is sampled:
//!
//! 1. **Head**, in [`TraceLayer`], before the span exists (the route is known): a valid
//!    `traceparent` decides when parents are honoured (sampled keeps it, `kept_parent`;
//!    unsampled leaves it to the tail rules), a route with ratio 1 keeps it
//!    (`kept_route`), and otherwise OpenTelemetry's `TraceIdRatioBased` rule on the
//!    trace id may keep it (`kept_ratio`): a function of the trace id alone, so every
//!    service with the same ratio makes the same decision. A route with ratio 0, or
//!    any request the head does not keep in [`SamplingMode::HeadOnly`], is *skipped*:
//!    its span goes to a target that [`HeadDropFilter`] hides from
//!    tracing-opentelemetry, so neither it nor any span created inside it builds an
//!    OpenTelemetry span. It still has a trace id, in its response header, its log
//!    lines and the `traceparent` that outgoing requests carry (unsampled).
//! 2. **Tail**, in the span processor (head-and-tail mode): a trace's spans wait until
//!    its local root ends; a trace with a span in error is kept (`kept_error`), one whose
//!    root lasted over the slow threshold too (`kept_slow`), otherwise the head decides.
//!    Bounds on open traces, spans per trace, spans in all (under 1.5 KiB each; the
//!    oldest trace goes first) and waiting time (swept by a timer) decide early and
//!    count `voxscope_trace_buffer_overflow_total`. The buffer is sharded by trace id,
//!    so threads ending spans of different traces do not share one lock. A request
//!    that the head did not keep (and that came without a `traceparent`) builds its
//!    OpenTelemetry span only once the tail may keep it: when a traced span or an
//!    event happens inside it, or when it ends in error or slow. The rest are counted
//!    `dropped` with nothing built; the decision is the same either way.
//!
//! Every decision is counted in `voxscope_traces_total{decision}`; buffered spans in
//! `voxscope_trace_buffer_spans`. Kept traces go to the in-memory [`TraceStore`]
//! (`/traces`, which [`TracePipeline::traces_route`] can put behind a bearer token and a
//! size limit; it renders on the blocking pool and leaves caller ids out) and, with an exporter, the `otlp` feature's endpoint or the `zipkin` feature's, through a bounded
//! non-blocking queue whose drops are counted in
//! `voxscope_trace_export_dropped_spans_total`.
//!
//! With the `otlp` feature and an OTLP logs endpoint
//! ([`TraceConfig::otlp_logs_endpoint`]), log events also leave as OpenTelemetry log
//! records (OpenTelemetry's tracing bridge), each with the trace and span ids of the span
//! it happens in, for a Collector to forward to Elasticsearch or Loki.
//!
//! The log filter (`RUST_LOG`) applies to log lines only: spans up to
//! [`TraceConfig::span_level`] exist at any log level, so `RUST_LOG=warn` keeps sampling
//! and trace ids.
//!
//! Child spans: voxscope-provider's provider spans and any span of yours created while
//! the request is being handled nest under the request span through tracing's current
//! span; no crate depends on another for it. Create such spans in the request's scope
//! (or in a task instrumented with `Span::current()`), not with an explicit `parent:`:
//! [`HeadDropFilter`] recognises the children of a skipped request through the current
//! span only.
//!
//! **Calls are traces of their own.** voxscope-call's `voice_call` span is a root
//! (`parent: None`, the `trace.root` marker field) that follows from the upgrade
//! request's span, which OpenTelemetry exports as a link. A call lasts minutes: as a
//! child it would hold the upgrade request's trace, and its tail decision, open for the
//! whole call. As a root it is sampled by its own trace id, its turns and provider
//! spans nest under it, and an error at minute three keeps the whole call; `max_wait`
//! (an hour by default) must exceed the longest call. One trace per call rather than
//! per turn keeps a call's turns, gaps and failure in one view.
#![deny(missing_docs)]

mod body;
mod config;
mod counters;
mod deferred;
mod error;
mod export;
mod filter;
mod fmt;
mod future;
#[cfg(any(feature = "otlp", feature = "zipkin"))]
mod http_client;
mod ids;
mod layer;
mod log_filter;
mod log_layer;
#[cfg(feature = "otlp")]
mod logs;
#[cfg(feature = "otlp")]
mod otlp;
mod pipeline;
mod policy;
mod processor;
#[cfg(feature = "axum")]
mod routes;
mod sampler;
mod service;
mod span_fields;
mod store;
mod traceparent;
#[cfg(feature = "zipkin")]
mod zipkin;

pub use body::ResponseBody;
pub use config::{LogFormat, TraceConfig};
pub use error::TraceError;
pub use filter::HeadDropFilter;
pub use fmt::VoxFormat;
pub use future::ResponseFuture;
pub use ids::current_trace_id;
pub use layer::{TraceLayer, TraceLayerBuilder};
pub use pipeline::{TraceGuard, TracePipeline, init};
pub use policy::{Decision, SamplingMode, SamplingPolicy};
pub use processor::DECISION_ATTRIBUTE;
#[cfg(feature = "axum")]
pub use routes::TracesRoute;
pub use sampler::VoxSampler;
pub use service::Trace;
pub use store::{StoredTrace, TraceStore};
pub use traceparent::TraceParent;
