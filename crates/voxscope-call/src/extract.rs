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

impl<S: Send + Sync> FromRequestParts<S> for Call {
    type Rejection = MissingCallLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Call>().cloned().ok_or(MissingCallLayer)
    }
}
