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
//!    sampled `traceparent` keeps it (`kept_parent`), a route with ratio 1 keeps it
//!    (`kept_route`), a ratio draw may keep it (`kept_ratio`). A route with ratio 0, or
//!    any request the head does not keep in [`SamplingMode::HeadOnly`], is *skipped*: its
//!    span goes to a target that [`HeadDropFilter`] hides from tracing-opentelemetry, so
//!    neither it nor any span created inside it builds an OpenTelemetry span. It still
//!    gets a trace id, in its response header and its log lines.
//! 2. **Tail**, in the span processor (head-and-tail mode): a trace's spans wait until
//!    its local root ends; a trace with a span in error is kept (`kept_error`), one whose
//!    root lasted over the slow threshold too (`kept_slow`), otherwise the head decides.
//!    Bounds on open traces, spans per trace and waiting time decide early and count
//!    `voxscope_trace_buffer_overflow_total`.
//!
//! Every decision is counted in `voxscope_traces_total{decision}`; buffered spans in
//! `voxscope_trace_buffer_spans`. Kept traces go to the in-memory [`TraceStore`]
//! (`/traces`) and, with an exporter or the `otlp` feature's endpoint, through a bounded
//! non-blocking queue whose drops are counted in
//! `voxscope_trace_export_dropped_spans_total`.
//!
//! Child spans: voxscope-call's call spans, voxscope-provider's provider spans and any
//! span of yours created while the request is being handled nest under the request
//! span through tracing's current span; no crate depends on another for it. They are
//! kept or dropped with their trace, and a span that ends after its local root follows
//! the decision already made (a WebSocket call span outlives the upgrade request that
//! started it). Create such spans in the request's scope (or in a task instrumented
//! with `Span::current()`), not with an explicit `parent:`: [`HeadDropFilter`]
//! recognises the children of a skipped request through the current span only.
#![deny(missing_docs)]

mod body;
mod config;
mod counters;
mod error;
mod export;
mod filter;
mod fmt;
mod future;
mod ids;
mod layer;
#[cfg(feature = "otlp")]
mod otlp;
mod pipeline;
mod policy;
mod processor;
#[cfg(feature = "axum")]
mod routes;
mod sampler;
mod service;
mod store;
mod traceparent;

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
pub use sampler::VoxSampler;
pub use service::Trace;
pub use store::{StoredTrace, TraceStore};
pub use traceparent::TraceParent;
