//! The middleware service.

use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;

use crate::body::ResponseBody;
use crate::future::ResponseFuture;
use crate::guard::RequestGuard;
use crate::handles::RouteSeries;
use crate::labels::method_index;
use crate::layer::LayerState;
use crate::route::{MatchedPathRoute, RouteSource, UNMATCHED_ROUTE};

/// Middleware that records HTTP request metrics; built by
/// [`HttpMetricsLayer`](crate::HttpMetricsLayer).
#[derive(Debug)]
pub struct HttpMetrics<S, R = MatchedPathRoute> {
    inner: S,
    shared: Arc<ServiceState<R>>,
}

/// What the clones of one service share. axum's `Router::layer` builds one service per
/// route, so the route it saw first is nearly always the route it sees next: a string
/// comparison then replaces the layer-wide map lookup.
#[derive(Debug)]
struct ServiceState<R> {
    layer: Arc<LayerState<R>>,
    last_route: OnceLock<Arc<RouteSeries>>,
}

impl<S: Clone, R> Clone for HttpMetrics<S, R> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), shared: Arc::clone(&self.shared) }
    }
}

impl<S, R> HttpMetrics<S, R> {
    pub(crate) fn new(inner: S, layer: Arc<LayerState<R>>) -> Self {
        Self { inner, shared: Arc::new(ServiceState { layer, last_route: OnceLock::new() }) }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<R> ServiceState<R> {
    fn series(&self, route: &str) -> Arc<RouteSeries> {
        if let Some(last) = self.last_route.get().filter(|last| last.route() == route) {
            return Arc::clone(last);
        }
        let series = self.layer.instruments.route(route);
        // The overflow series is not remembered: its label never equals the route asked for.
        if series.route() == route {
            let _ = self.last_route.set(Arc::clone(&series));
        }
        series
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for HttpMetrics<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
    R: RouteSource<ReqBody>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let guard = if self.shared.layer.is_excluded(request.uri().path()) {
            None
        } else {
            let method = method_index(request.method());
            let route = self.shared.layer.route_source.route(&request);
            let series = self.shared.series(route.as_deref().unwrap_or(UNMATCHED_ROUTE));
            Some(RequestGuard::start(series, method))
        };
        ResponseFuture { inner: self.inner.call(request), guard }
    }
}
