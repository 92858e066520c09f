//! [`TraceLayer`] and its builder.

use std::sync::Arc;

use http::HeaderName;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tower::Layer;
use voxscope_core::ConfigError;

use crate::counters::Counters;
use crate::policy::SamplingPolicy;
use crate::service::Trace;

/// One OpenTelemetry SERVER span per request, sampled by a [`SamplingPolicy`].
///
/// The span is named `{METHOD} {route}` and carries `http.request.method`, `http.route`
/// (the template), `url.scheme`, `url.path`, `http.response.status_code` and, opt-in,
/// `client.address`. A 5xx, a handler error or a panic sets status error (a 4xx does
/// not). The trace id goes back in a response header (`x-trace-id` by default). A
/// valid incoming `traceparent`/`tracestate` is extracted with OpenTelemetry's
/// propagator; a malformed one starts a new root.
///
/// Spans created inside the request (voxscope-call's call spans, voxscope-provider's
/// provider spans, your own) nest under it through tracing's current span.
///
/// Add it with `Router::layer`, so that axum has matched the route first. Usually taken
/// from [`TracePipeline::trace_layer`](crate::TracePipeline::trace_layer), which shares
/// the pipeline's policy and counters:
///
/// ```
/// use axum::{Router, routing::get};
/// use voxscope_trace::{SamplingPolicy, TraceLayer};
///
/// let layer = TraceLayer::builder()
///     .policy(SamplingPolicy::default().route_ratio("/health", 0.0))
///     .response_header("x-request-trace")
///     .build()?;
/// let app: Router = Router::new().route("/calls/{id}", get(|| async { "call" })).layer(layer);
/// # Ok::<(), voxscope_core::ConfigError>(())
/// ```
///
/// With other per-route layers, such as voxscope-http's `HttpMetricsLayer`, pass them
/// in one `Router::layer` call, this one first (outermost): axum boxes each route's
/// service, its future and its response body once per call, so one call per layer
/// boxes every request once per layer.
///
/// ```
/// use axum::{Router, routing::get};
/// use voxscope_http::HttpMetricsLayer;
/// use voxscope_trace::TraceLayer;
///
/// let app: Router = Router::new()
///     .route("/calls/{id}", get(|| async { "call" }))
///     .layer((TraceLayer::builder().build()?, HttpMetricsLayer::new()));
/// # Ok::<(), voxscope_core::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TraceLayer {
    pub(crate) state: Arc<LayerState>,
}

#[derive(Debug)]
pub(crate) struct LayerState {
    pub(crate) policy: SamplingPolicy,
    pub(crate) header: Option<HeaderName>,
    pub(crate) client_address: bool,
    pub(crate) propagator: TraceContextPropagator,
    pub(crate) counters: Arc<Counters>,
    /// Whether requests left to the tail get a deferred span (see `deferred`): only
    /// under a pipeline's subscriber, which builds those spans.
    pub(crate) defer: bool,
}

impl TraceLayer {
    /// A builder: default policy, `x-trace-id` header, no client address.
    pub fn builder() -> TraceLayerBuilder {
        TraceLayerBuilder {
            policy: SamplingPolicy::default(),
            header: Some("x-trace-id".to_owned()),
            client_address: false,
            counters: None,
            defer: false,
        }
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Trace::new(inner, Arc::clone(&self.state))
    }
}

/// Settings of a [`TraceLayer`], validated by [`build`](Self::build).
#[derive(Clone, Debug)]
pub struct TraceLayerBuilder {
    policy: SamplingPolicy,
    header: Option<String>,
    client_address: bool,
    counters: Option<Arc<Counters>>,
    defer: bool,
}

impl TraceLayerBuilder {
    /// The sampling policy (it must match the pipeline's sampler).
    pub fn policy(mut self, policy: SamplingPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The response header that carries the trace id.
    pub fn response_header(mut self, name: impl Into<String>) -> Self {
        self.header = Some(name.into());
        self
    }

    /// Sends no trace id header.
    pub fn no_response_header(mut self) -> Self {
        self.header = None;
        self
    }

    /// Records `client.address` from axum's `ConnectInfo<SocketAddr>` (serve with
    /// `into_make_service_with_connect_info`). Off by default: it is personal data.
    pub fn record_client_address(mut self, enabled: bool) -> Self {
        self.client_address = enabled;
        self
    }

    pub(crate) fn counters(mut self, counters: Arc<Counters>) -> Self {
        self.counters = Some(counters);
        self
    }

    /// Defers the OpenTelemetry span of requests left to the tail; for a pipeline's
    /// layer, whose subscriber builds them.
    pub(crate) fn defer(mut self, defer: bool) -> Self {
        self.defer = defer;
        self
    }

    /// Validates the settings and builds the layer.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for a ratio outside `0..=1` or a header name that is not
    /// a valid HTTP header name.
    pub fn build(self) -> Result<TraceLayer, ConfigError> {
        self.policy.validate()?;
        let header = match self.header {
            Some(name) => {
                Some(HeaderName::try_from(name.as_str()).map_err(|_| ConfigError::Invalid {
                    field: "response_header".to_owned(),
                    value: name.clone(),
                    reason: "a valid HTTP header name",
                })?)
            }
            None => None,
        };
        let defer = self.defer && !self.policy.is_head_only();
        Ok(TraceLayer {
            state: Arc::new(LayerState {
                policy: self.policy,
                header,
                client_address: self.client_address,
                propagator: TraceContextPropagator::new(),
                counters: self.counters.unwrap_or_default(),
                defer,
            }),
        })
    }
}
