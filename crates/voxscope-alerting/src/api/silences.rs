//! Alertmanager API v2 silences: `GET/POST /silences`, `GET/DELETE /silence/{id}`, in
//! the shapes of Alertmanager's `api/v2/openapi.yaml`, so `amtool silence add`,
//! `query` and `expire` work against the engine.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use voxscope_alert::expr::Matcher;

use super::ApiState;
use super::alertmanager::am_error;
use super::matchers::parse_matcher;
use super::query::QueryPairs;
use super::time::{format_ms, parse_ms};
use crate::silence::{MatcherJson, Silence, SilenceError, SilenceState};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GettableSilence<'a> {
    id: &'a str,
    status: SilenceStatus,
    updated_at: String,
    matchers: Vec<MatcherJson>,
    starts_at: String,
    ends_at: String,
    created_by: &'a str,
    comment: &'a str,
}

#[derive(Serialize)]
struct SilenceStatus {
    state: SilenceState,
}

fn gettable(silence: &Silence, now_ms: i64) -> GettableSilence<'_> {
    GettableSilence {
        id: &silence.id,
        status: SilenceStatus { state: silence.state(now_ms) },
        updated_at: format_ms(silence.updated_at_ms),
        matchers: silence.matchers.iter().map(MatcherJson::from).collect(),
        starts_at: format_ms(silence.starts_at_ms),
        ends_at: format_ms(silence.ends_at_ms),
        created_by: &silence.created_by,
        comment: &silence.comment,
    }
}

/// Active first (soonest end first), then pending (soonest start first), then expired
/// (latest end first), as Alertmanager sorts them.
fn sort_key(silence: &Silence, now_ms: i64) -> (u8, i64) {
    match silence.state(now_ms) {
        SilenceState::Active => (0, silence.ends_at_ms),
        SilenceState::Pending => (1, silence.starts_at_ms),
        SilenceState::Expired => (2, -silence.ends_at_ms),
    }
}

pub(crate) async fn list(State(state): State<Arc<ApiState>>, RawQuery(raw): RawQuery) -> Response {
    let query = QueryPairs::parse(raw.as_deref());
    let filters: Vec<Matcher> = match query.all("filter").into_iter().map(parse_matcher).collect() {
        Ok(filters) => filters,
        Err(message) => return am_error(StatusCode::BAD_REQUEST, message),
    };
    let now = state.source.now_ms();
    let store = state.silences.lock();
    // A filter selects silences holding that very matcher, as Alertmanager's does.
    let mut silences: Vec<&Silence> =
        store.iter().filter(|s| filters.iter().all(|f| s.matchers.contains(f))).collect();
    silences.sort_by_key(|s| sort_key(s, now));
    let body: Vec<GettableSilence<'_>> = silences.into_iter().map(|s| gettable(s, now)).collect();
    Json(body).into_response()
}

pub(crate) async fn get(State(state): State<Arc<ApiState>>, Path(id): Path<String>) -> Response {
    let now = state.source.now_ms();
    let store = state.silences.lock();
    match store.get(&id) {
        Some(silence) => Json(gettable(silence, now)).into_response(),
        None => am_error(StatusCode::NOT_FOUND, SilenceError::NotFound(id).to_string()),
    }
}

/// A silence as clients post it; `id` names one to update.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableSilence {
    #[serde(default)]
    id: String,
    matchers: Vec<MatcherJson>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
}

impl PostableSilence {
    fn into_silence(self) -> Result<Silence, String> {
        Ok(Silence {
            id: self.id,
            matchers: self.matchers.into_iter().map(Matcher::from).collect(),
            starts_at_ms: parse_ms(&self.starts_at).map_err(|e| format!("startsAt: {e}"))?,
            ends_at_ms: parse_ms(&self.ends_at).map_err(|e| format!("endsAt: {e}"))?,
            updated_at_ms: 0,
            created_by: self.created_by,
            comment: self.comment,
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostSilenceOk {
    #[serde(rename = "silenceID")]
    silence_id: String,
}

pub(crate) async fn post(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    let silence = match serde_json::from_slice::<PostableSilence>(&body)
        .map_err(|e| format!("invalid silence: {e}"))
        .and_then(PostableSilence::into_silence)
    {
        Ok(silence) => silence,
        Err(message) => return am_error(StatusCode::BAD_REQUEST, message),
    };
    let now = state.source.now_ms();
    let result = state.silences.lock().set(silence.clone(), now);
    match result {
        Ok(id) => {
            tracing::info!(
                silence = %id,
                created_by = %silence.created_by,
                matchers = %silence.matchers.iter().map(Matcher::render).collect::<Vec<_>>().join(","),
                "silence set"
            );
            Json(PostSilenceOk { silence_id: id }).into_response()
        }
        Err(error @ SilenceError::NotFound(_)) => {
            am_error(StatusCode::NOT_FOUND, error.to_string())
        }
        Err(error) => {
            tracing::warn!(%error, "silence refused");
            am_error(StatusCode::BAD_REQUEST, format!("Failed to create silence: {error}"))
        }
    }
}

pub(crate) async fn expire(State(state): State<Arc<ApiState>>, Path(id): Path<String>) -> Response {
    let now = state.source.now_ms();
    let result = state.silences.lock().expire(&id, now);
    match result {
        Ok(()) => {
            tracing::info!(silence = %id, "silence expired");
            StatusCode::OK.into_response()
        }
        Err(error) => am_error(StatusCode::NOT_FOUND, error.to_string()),
    }
}
