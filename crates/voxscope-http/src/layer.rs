//! [`HttpMetricsLayer`] and its builder.

use std::sync::Arc;

use http::Request;
use tower::Layer;
use voxscope_core::{ConfigError, validate_nonzero};

use crate::handles::Instruments;
use crate::route::{MatchedPathRoute, RouteFn};
use crate::service::HttpMetrics;

/// Records `http_server_request_duration_seconds`, `http_server_active_requests` and,
/// opt-in, `http_server_response_body_bytes` for every request.
///
/// ```
/// use axum::{Router, routing::get};
/// use voxscope_http::HttpMetricsLayer;
///
/// let app: Router = Router::new()
///     .route("/calls/{id}", get(|| async { "call" }))
///     .layer(HttpMetricsLayer::new());
/// ```
///
/// Customised through the builder, which validates once:
///
/// ```
/// use voxscope_http::HttpMetricsLayer;
///
/// let layer = HttpMetricsLayer::builder()
///     .exclude_path("/metrics")
///     .exclude_prefix("/health")
///     .max_routes(200)
///     .record_response_body_size(true)
///     .build()?;
/// # Ok::<(), voxscope_core::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct HttpMetricsLayer<R = MatchedPathRoute> {
    state: Arc<LayerState<R>>,
}

impl<R> Clone for HttpMetricsLayer<R> {
    fn clone(&self) -> Self {
        Self { state: Arc::clone(&self.state) }
    }
}

impl HttpMetricsLayer {
    /// The layer with default settings: routes from axum's `MatchedPath`, at most 1,000
    /// distinct routes, no exclusions, no body sizes.
    pub fn new() -> Self {
        Self { state: Arc::new(LayerState::from_builder(HttpMetricsLayerBuilder::new())) }
    }

    /// A builder for a customised layer.
    pub fn builder() -> HttpMetricsLayerBuilder {
        HttpMetricsLayerBuilder::new()
    }
}

impl Default for HttpMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S, R> Layer<S> for HttpMetricsLayer<R> {
    type Service = HttpMetrics<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics::new(inner, Arc::clone(&self.state))
    }
}

/// Settings of an [`HttpMetricsLayer`], validated by [`build`](Self::build).
#[derive(Clone, Debug)]
pub struct HttpMetricsLayerBuilder<R = MatchedPathRoute> {
    route_source: R,
    max_routes: usize,
    record_body_size: bool,
    exclude_paths: Vec<String>,
    exclude_prefixes: Vec<String>,
}

impl HttpMetricsLayerBuilder {
    fn new() -> Self {
        Self {
            route_source: MatchedPathRoute,
            max_routes: 1_000,
            record_body_size: false,
            exclude_paths: Vec::new(),
            exclude_prefixes: Vec::new(),
        }
    }
}

impl<R> HttpMetricsLayerBuilder<R> {
    /// Takes the route template from `route` instead of axum's `MatchedPath`: for tower
    /// services that are not axum routers. `None` means `unmatched`.
    pub fn route_fn<F, B>(self, route: F) -> HttpMetricsLayerBuilder<RouteFn<F>>
    where
        F: Fn(&Request<B>) -> Option<&'static str> + Clone + Send + Sync + 'static,
    {
        self.route_source(RouteFn(route))
    }

    /// Takes the route template from any [`RouteSource`](crate::RouteSource).
    pub fn route_source<R2>(self, route_source: R2) -> HttpMetricsLayerBuilder<R2> {
        HttpMetricsLayerBuilder {
            route_source,
            max_routes: self.max_routes,
            record_body_size: self.record_body_size,
            exclude_paths: self.exclude_paths,
            exclude_prefixes: self.exclude_prefixes,
        }
    }

    /// Caps the distinct `route` values (`unmatched` included); requests on further
    /// routes share the `__overflow__` route, and each of them counts one in
    /// `voxscope_label_overflow_total{metric="http_server_request_duration_seconds"}`
    /// (and one for `http_server_response_body_bytes` when body sizes are recorded): the
    /// meaning that counter has everywhere, see
    /// [`FoldCounter`](voxscope_core::cardinality::FoldCounter).
    ///
    /// A route keeps the series it got first. Looking a route up takes no lock, however
    /// many routes one service sees.
    pub fn max_routes(mut self, max_routes: usize) -> Self {
        self.max_routes = max_routes;
        self
    }

    /// Also records `http_server_response_body_bytes`.
    pub fn record_response_body_size(mut self, enabled: bool) -> Self {
        self.record_body_size = enabled;
        self
    }

    /// Records nothing for requests to exactly `path`, such as `/metrics`.
    pub fn exclude_path(mut self, path: impl Into<String>) -> Self {
        self.exclude_paths.push(path.into());
        self
    }

    /// Records nothing for requests whose path starts with `prefix`, such as `/health`.
    pub fn exclude_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.exclude_prefixes.push(prefix.into());
        self
    }

    /// Validates the settings and builds the layer.
    ///
    /// # Errors
    /// [`ConfigError::Zero`] for `max_routes = 0`; [`ConfigError::Invalid`] for an
    /// exclusion that does not start with `/` (it could never match).
    pub fn build(self) -> Result<HttpMetricsLayer<R>, ConfigError> {
        validate_nonzero("max_routes", self.max_routes)?;
        for (field, path) in self
            .exclude_paths
            .iter()
            .map(|p| ("exclude_path", p))
            .chain(self.exclude_prefixes.iter().map(|p| ("exclude_prefix", p)))
        {
            if !path.starts_with('/') {
                return Err(ConfigError::Invalid {
                    field: field.to_owned(),
                    value: path.clone(),
                    reason: "a request path, starting with '/'",
                });
            }
        }
        Ok(HttpMetricsLayer { state: Arc::new(LayerState::from_builder(self)) })
    }
}

/// What every clone of the service shares.
#[derive(Debug)]
pub(crate) struct LayerState<R> {
    pub(crate) route_source: R,
    pub(crate) instruments: Arc<Instruments>,
    exclude_paths: Box<[Box<str>]>,
    exclude_prefixes: Box<[Box<str>]>,
}

impl<R> LayerState<R> {
    fn from_builder(builder: HttpMetricsLayerBuilder<R>) -> Self {
        Self {
            route_source: builder.route_source,
            instruments: Arc::new(Instruments::new(builder.max_routes, builder.record_body_size)),
            exclude_paths: builder.exclude_paths.into_iter().map(Into::into).collect(),
            exclude_prefixes: builder.exclude_prefixes.into_iter().map(Into::into).collect(),
        }
    }

    pub(crate) fn is_excluded(&self, path: &str) -> bool {
        self.exclude_paths.iter().any(|p| &**p == path)
            || self.exclude_prefixes.iter().any(|p| path.starts_with(&**p))
    }
}
