//! [`Call`] as an axum extractor.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::call::Call;

/// Rejection of the [`Call`] extractor on a route without a
/// [`CallLayer`](crate::CallLayer): a server misconfiguration, answered with `500`.
///
/// ```
/// use axum::response::IntoResponse;
///
/// let response = voxscope_call::MissingCallLayer.into_response();
/// assert_eq!(response.status(), 500);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MissingCallLayer;

impl std::fmt::Display for MissingCallLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no CallLayer on this route: add voxscope_call::CallLayer to it")
    }
}

impl std::error::Error for MissingCallLayer {}

impl IntoResponse for MissingCallLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

/// Why the [`Call`] extractor refused a request.
///
/// ```
/// use axum::response::IntoResponse;
/// use voxscope_call::CallRejection;
///
/// assert_eq!(CallRejection::NotAnUpgrade.into_response().status(), 400);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallRejection {
    /// No [`CallLayer`](crate::CallLayer) on the route: `500`, logged as an error.
    MissingLayer(MissingCallLayer),
    /// A plain HTTP request on a call route (no `Upgrade: websocket`): the layer let it
    /// pass without opening a call. `400`, not logged: scanners send these all day.
    NotAnUpgrade,
}

impl std::fmt::Display for CallRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallRejection::MissingLayer(missing) => missing.fmt(f),
            CallRejection::NotAnUpgrade => f.write_str("expected a WebSocket upgrade request"),
        }
    }
}

impl std::error::Error for CallRejection {}

impl IntoResponse for CallRejection {
    fn into_response(self) -> Response {
        match self {
            CallRejection::MissingLayer(missing) => missing.into_response(),
            CallRejection::NotAnUpgrade => {
                (StatusCode::BAD_REQUEST, self.to_string()).into_response()
            }
        }
    }
}

/// Left by the layer on a request it passed through without opening a call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PassedThrough;

impl<S: Send + Sync> FromRequestParts<S> for Call {
    type Rejection = CallRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(call) = parts.extensions.get::<Call>() {
            return Ok(call.clone());
        }
        if parts.extensions.get::<PassedThrough>().is_some() {
            return Err(CallRejection::NotAnUpgrade);
        }
        Err(CallRejection::MissingLayer(MissingCallLayer))
    }
}
