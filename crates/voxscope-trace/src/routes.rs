//! `GET /traces`, safe to expose: an optional bearer token, rendering on the blocking
//! pool, a size limit, and call ids and phone numbers only where the app allows them.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::store::TraceStore;

const DEFAULT_LIMIT: usize = 50;
/// Span and event attributes that identify a caller: left out unless allowed.
const CALLER_ATTRIBUTES: [&str; 4] = ["call.id", "call.from", "call.to", "stream.id"];

/// Settings of the `GET /traces` route, from
/// [`TracePipeline::traces_route`](crate::TracePipeline::traces_route).
///
/// ```
/// # let pipeline = voxscope_trace::TracePipeline::new(&voxscope_trace::TraceConfig::new("x"))?;
/// let traces: axum::Router = pipeline
///     .traces_route()
///     .bearer_token("change-me")
///     .max_bytes(1 << 20)
///     .router();
/// # Ok::<(), voxscope_trace::TraceError>(())
/// ```
///
/// The router can be merged into the app's, or served on a listener of its own (an
/// admin port) like any axum router.
#[derive(Clone, Debug)]
pub struct TracesRoute {
    store: TraceStore,
    token: Option<Arc<str>>,
    max_bytes: usize,
    caller_ids: bool,
}

impl TracesRoute {
    pub(crate) fn new(store: TraceStore) -> Self {
        Self { store, token: None, max_bytes: 4 << 20, caller_ids: false }
    }

    /// Requires `Authorization: Bearer <token>`; other requests get 401.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into().into());
        self
    }

    /// The largest response body, default 4 MiB: older traces are left out past it
    /// and the body says `"truncated": true`.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Shows `call.id`, `call.from`, `call.to` and `stream.id` attributes (default: left
    /// out, they identify callers).
    pub fn show_caller_ids(mut self, show: bool) -> Self {
        self.caller_ids = show;
        self
    }

    /// The route, `GET /traces?limit=N` (default 50): the kept traces as JSON, newest
    /// first, rendered on tokio's blocking pool.
    pub fn router(self) -> Router {
        Router::new().route("/traces", get(traces)).with_state(Arc::new(self))
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else { return true };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            // The scheme is case-insensitive (RFC 9110).
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, token)| token.trim());
        constant_time_eq(given.as_bytes(), token.as_bytes())
    }

    /// `{"traces": [...], "truncated": bool}` in at most `max_bytes`.
    fn render(&self, limit: usize) -> Vec<u8> {
        let hidden: &[&str] = if self.caller_ids { &[] } else { &CALLER_ATTRIBUTES };
        let mut body = b"{\"traces\":[".to_vec();
        let end = b"],\"truncated\":false}".len() + 1;
        let mut truncated = false;
        for (n, trace) in self.store.traces(limit).iter().enumerate() {
            let json = serde_json::to_vec(&crate::store::trace_json(trace, hidden))
                .unwrap_or_else(|_| b"null".to_vec());
            if body.len() + json.len() + 1 + end > self.max_bytes {
                truncated = true;
                break;
            }
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&json);
        }
        body.extend_from_slice(if truncated {
            b"],\"truncated\":true}"
        } else {
            b"],\"truncated\":false}"
        });
        body
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn traces(State(route): State<Arc<TracesRoute>>, headers: HeaderMap, uri: Uri) -> Response {
    if !route.authorised(&headers) {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")]).into_response();
    }
    let limit = uri
        .query()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("limit=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_LIMIT);
    // Rendering hundreds of spans takes long enough to stall calls on an async worker.
    match tokio::task::spawn_blocking(move || route.render(limit)).await {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
