//! The demo's HTTP API.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::calls::CallRegistry;

/// `GET /health`, `GET|POST /calls`, `GET /calls/{id}`, `POST /calls/{id}/hangup`.
pub fn router(calls: CallRegistry) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/calls", get(list_calls).post(start_call))
        .route("/calls/{id}", get(get_call))
        .route("/calls/{id}/hangup", post(hang_up))
        .with_state(calls)
}

async fn health() -> &'static str {
    "ok"
}

async fn list_calls(State(calls): State<CallRegistry>) -> impl IntoResponse {
    Json(calls.list())
}

async fn start_call(State(calls): State<CallRegistry>) -> impl IntoResponse {
    (StatusCode::CREATED, Json(calls.start()))
}

async fn get_call(State(calls): State<CallRegistry>, Path(id): Path<String>) -> impl IntoResponse {
    calls.get(&id).map(Json).ok_or((StatusCode::NOT_FOUND, "no such call\n"))
}

async fn hang_up(State(calls): State<CallRegistry>, Path(id): Path<String>) -> impl IntoResponse {
    calls.hang_up(&id).map(Json).ok_or((StatusCode::NOT_FOUND, "no such call\n"))
}
