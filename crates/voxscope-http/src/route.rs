//! Where the `route` label comes from: axum's `MatchedPath`, or a function of the user's.

use std::borrow::Cow;

use http::Request;

/// The `route` value for requests that matched no route. Raw paths are never used:
/// scanners probing random URLs would create a series each.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Picks the route template of a request; `None` means [`UNMATCHED_ROUTE`].
///
/// Implemented by [`MatchedPathRoute`] (the default) and by [`RouteFn`], which wraps a
/// closure for tower services that are not axum routers.
pub trait RouteSource<B>: Clone + Send + Sync + 'static {
    /// The route template of `request`, such as `/calls/{id}`.
    fn route<'r>(&self, request: &'r Request<B>) -> Option<Cow<'r, str>>;
}

/// Reads the template from axum's `MatchedPath` extension (nested routers included).
///
/// Add [`HttpMetricsLayer`](crate::HttpMetricsLayer) with `Router::layer` so that the
/// router has matched the request before the layer sees it. Without the `axum` feature
/// every request is [`UNMATCHED_ROUTE`]; use [`RouteFn`] instead.
#[derive(Clone, Copy, Debug, Default)]
pub struct MatchedPathRoute;

impl<B> RouteSource<B> for MatchedPathRoute {
    #[cfg(feature = "axum")]
    fn route<'r>(&self, request: &'r Request<B>) -> Option<Cow<'r, str>> {
        request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|path| Cow::Borrowed(path.as_str()))
    }

    #[cfg(not(feature = "axum"))]
    fn route<'r>(&self, _request: &'r Request<B>) -> Option<Cow<'r, str>> {
        None
    }
}

/// A user-supplied route function, for tower services that are not axum routers.
///
/// The function returns a template from a fixed set (`&'static str`), which keeps the
/// label bounded by construction.
///
/// ```
/// use http::Request;
/// use voxscope_http::HttpMetricsLayer;
///
/// let layer = HttpMetricsLayer::builder()
///     .route_fn(|req: &Request<String>| {
///         let path = req.uri().path();
///         if path.starts_with("/calls/") { Some("/calls/{id}") }
///         else if path == "/health" { Some("/health") }
///         else { None }
///     })
///     .build()
///     .unwrap();
/// # let _ = layer;
/// ```
#[derive(Clone, Copy)]
pub struct RouteFn<F>(pub(crate) F);

impl<F> std::fmt::Debug for RouteFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteFn(..)")
    }
}

impl<B, F> RouteSource<B> for RouteFn<F>
where
    F: Fn(&Request<B>) -> Option<&'static str> + Clone + Send + Sync + 'static,
{
    fn route<'r>(&self, request: &'r Request<B>) -> Option<Cow<'r, str>> {
        (self.0)(request).map(Cow::Borrowed)
    }
}
