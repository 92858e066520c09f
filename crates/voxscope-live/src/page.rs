//! The page's routes: the page itself, its embedded assets, the event stream and the
//! login form.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::assets::{ASSETS, secure};
use crate::publisher::Frames;
use crate::{auth, stream};

/// What every route of one page reads.
pub(crate) struct Shared {
    pub(crate) base: String,
    pub(crate) token: Option<Arc<str>>,
    pub(crate) clients: Arc<Semaphore>,
    pub(crate) frames: Arc<Frames>,
    pub(crate) index: String,
    pub(crate) login: String,
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let base = shared.base.clone();
    Router::new()
        .route(&base, get(index))
        .route(&format!("{base}/assets/{{name}}"), get(asset))
        .route(&format!("{base}/events"), get(stream::events))
        .route(&format!("{base}/login"), post(login))
        .layer(axum::middleware::map_response(secure))
        .with_state(shared)
}

async fn index(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !auth::authorized(shared.token.as_ref(), &headers) {
        return (StatusCode::UNAUTHORIZED, no_store(), Html(shared.login.clone())).into_response();
    }
    (no_store(), Html(shared.index.clone())).into_response()
}

fn no_store() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            asset.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Deserialize)]
struct Login {
    token: String,
}

/// Checks the form's token; a good one is kept in the page's cookie.
async fn login(State(shared): State<Arc<Shared>>, Form(form): Form<Login>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        match HeaderValue::from_str(&format!("Bearer {}", form.token)) {
            Ok(value) => value,
            Err(_) => return login_refused(&shared),
        },
    );
    if shared.token.is_none()
        || !auth::valid(&form.token)
        || !auth::authorized(shared.token.as_ref(), &headers)
    {
        return login_refused(&shared);
    }
    let cookie = auth::set_cookie(&form.token, &shared.base);
    match HeaderValue::from_str(&cookie) {
        Ok(cookie) => ([(header::SET_COOKIE, cookie)], Redirect::to(&shared.base)).into_response(),
        Err(_) => login_refused(&shared),
    }
}

fn login_refused(shared: &Shared) -> Response {
    stream::rejected("unauthorized");
    (StatusCode::UNAUTHORIZED, no_store(), Html(shared.login.clone())).into_response()
}
