//! A tower layer that records HTTP server request metrics: exact, bounded and cheap.
//!
//! ```
//! use axum::{Router, routing::get};
//! use voxscope_http::HttpMetricsLayer;
//!
//! let app: Router = Router::new()
//!     .route("/calls/{id}", get(|| async { "call" }))
//!     .route("/health", get(|| async { "ok" }))
//!     .layer(HttpMetricsLayer::builder().exclude_path("/health").build().unwrap());
//! ```
//!
//! # Where the layer goes
//!
//! Apply it last, after every `merge` and `nest`, and with `Router::layer` (not
//! `route_layer`): `Router::layer` wraps the routes *and the fallback* that exist when it
//! is called. A router merged afterwards brings its own unwrapped fallback, and every
//! request that matches no route (scanners, broken clients) would go unmeasured.
//!
//! ```
//! # use axum::{Router, routing::get};
//! # use voxscope_http::HttpMetricsLayer;
//! # let api = Router::new().route("/calls", get(|| async { "calls" }));
//! # let metrics_routes = Router::new().route("/metrics", get(|| async { "" }));
//! let app: Router = api
//!     .merge(metrics_routes) // first every merge...
//!     .layer(HttpMetricsLayer::new()); // ...then the layer: unmatched requests counted
//! ```
//!
//! # What it records
//!
//! By the names of `voxscope_core::catalog`:
//!
//! - `http_server_request_duration_seconds{method, route, status}`: from the request
//!   entering the layer until the response body has been handed over in full, failed or
//!   was dropped. A streamed 10 s body records about 10 s. A response whose body did not
//!   reach its end keeps its `status` and gains `error_type`: `aborted` when the body was
//!   dropped mid-stream (the client hung up on a streamed TTS answer), `body_error` when
//!   the stream behind it failed. The status stays what the client received; the label,
//!   as OpenTelemetry's `error.type`, says the exchange did not complete, so
//!   `sum by (error_type)` shows cut-off streams without a second metric to join.
//!   Responses that carry no body on the wire (HEAD, 1xx, 204, 304) never get it.
//! - `http_server_active_requests{method}`: back to 0 however a request ends, a
//!   panicking handler included.
//! - `http_server_response_body_bytes{method, route, status}`, opt-in.
//!
//! Labels are bounded: `method` is one of the nine standard verbs or `_OTHER`; `route` is
//! axum's `MatchedPath` template (or a [`RouteFn`]), `unmatched` when no route matched,
//! never the raw path, and at most [`max_routes`](HttpMetricsLayerBuilder::max_routes)
//! values; `status` is the numeric code, or `cancelled` when the request future was
//! dropped before a response existed. A panic in the inner service records `500`.
//!
//! Once a (route, method, status) combination is warm, a request costs no allocation,
//! no lock and no registry lookup: handles are cached per layer, in a lock-free map of
//! routes (one service built by `Router::layer` also remembers the route it saw last).
//! This holds for a [`RouteFn`] service that sees every route, and past the
//! `max_routes` cap. Handles are registered on first use with the recorder current at
//! that moment.
#![deny(missing_docs)]

mod body;
mod future;
mod guard;
mod handles;
mod labels;
mod layer;
mod route;
mod service;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use layer::{HttpMetricsLayer, HttpMetricsLayerBuilder};
pub use route::{MatchedPathRoute, RouteFn, RouteSource, UNMATCHED_ROUTE};
pub use service::HttpMetrics;
