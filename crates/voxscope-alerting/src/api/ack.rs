//! `POST /api/v1/alerts/{fingerprint}/ack`: acknowledge a firing alert, which stops its
//! escalation. The body is optional JSON, `{"by": "alice", "comment": "on it"}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::prometheus::{failure, success};
use super::source::{Ack, AckError};
use super::time::format_ms;

#[derive(Default, Deserialize)]
#[serde(default)]
struct AckBody {
    by: String,
    comment: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Acked {
    fingerprint: String,
    acknowledged_by: String,
    acknowledged_at: String,
}

pub(crate) async fn ack(
    State(state): State<Arc<ApiState>>,
    Path(fingerprint): Path<String>,
    body: Bytes,
) -> Response {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        AckBody::default()
    } else {
        match serde_json::from_slice::<AckBody>(&body) {
            Ok(body) => body,
            Err(e) => {
                return failure(StatusCode::BAD_REQUEST, "bad_data", format!("invalid ack: {e}"));
            }
        }
    };
    let at_ms = state.source.now_ms();
    let ack = Ack { by: body.by, comment: body.comment, at_ms };
    let by = ack.by.clone();
    match state.source.ack(&fingerprint, ack) {
        Ok(()) => {
            tracing::info!(%fingerprint, %by, "alert acknowledged");
            success(Acked { fingerprint, acknowledged_by: by, acknowledged_at: format_ms(at_ms) })
        }
        Err(error @ AckError::NotFound(_)) => {
            failure(StatusCode::NOT_FOUND, "not_found", error.to_string())
        }
        Err(error @ AckError::Rejected(_)) => {
            failure(StatusCode::CONFLICT, "conflict", error.to_string())
        }
    }
}
