//! Shared fixtures for voxscope's criterion benches.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;

/// A trivial router: one path-parameter route with a static body, so that what a bench
/// measures is the middleware, not the handler.
pub fn trivial_router() -> Router {
    Router::new().route("/calls/{id}", get(|| async { "ok" }))
}

/// A request that matches [`trivial_router`]'s route.
pub fn call_request() -> Request<Body> {
    Request::get("/calls/42").body(Body::empty()).unwrap_or_default()
}
