//! `GET /traces`.

use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Json;
use axum::routing::get;

use crate::store::TraceStore;

const DEFAULT_LIMIT: usize = 50;

pub(crate) fn traces_router(store: TraceStore) -> Router {
    Router::new().route("/traces", get(traces)).with_state(store)
}

async fn traces(State(store): State<TraceStore>, uri: Uri) -> Json<serde_json::Value> {
    let limit = uri
        .query()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("limit=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_LIMIT);
    Json(store.to_json(limit))
}
