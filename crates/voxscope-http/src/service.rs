//! The middleware service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;

use crate::body::ResponseBody;
use crate::future::ResponseFuture;
use crate::guard::RequestGuard;
use crate::labels::method_index;
use crate::layer::LayerState;
use crate::route::{MatchedPathRoute, RouteSource, UNMATCHED_ROUTE};

/// Middleware that records HTTP request metrics; built by
/// [`HttpMetricsLayer`](crate::HttpMetricsLayer).
#[derive(Debug)]
pub struct HttpMetrics<S, R = MatchedPathRoute> {
    inner: S,
    state: Arc<LayerState<R>>,
}

impl<S: Clone, R> Clone for HttpMetrics<S, R> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), state: Arc::clone(&self.state) }
    }
}

impl<S, R> HttpMetrics<S, R> {
    pub(crate) fn new(inner: S, state: Arc<LayerState<R>>) -> Self {
        Self { inner, state }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for HttpMetrics<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: RouteSource<ReqBody>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let guard = if self.state.is_excluded(request.uri().path()) {
            None
        } else {
            let method = method_index(request.method());
            let route = self.state.route_source.route(&request);
            let series = self.state.instruments.route(route.as_deref().unwrap_or(UNMATCHED_ROUTE));
            Some(RequestGuard::start(Arc::clone(&self.state.instruments), series, method))
        };
        ResponseFuture { inner: self.inner.call(request), guard }
    }
}
