//! The bearer token of the write endpoints: from `VOXSCOPE_ALERT_API_TOKEN`, else from
//! `[api] token_file`; compared in constant time; without one, writes are refused.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// The environment variable that holds the token; it wins over `[api] token_file`.
pub const TOKEN_ENV: &str = "VOXSCOPE_ALERT_API_TOKEN";

/// The secret write requests must present as `Authorization: Bearer <token>`.
///
/// ```
/// use voxscope_alerting::api::ApiToken;
/// let token = ApiToken::new("s3cret").unwrap();
/// assert!(token.accepts("Bearer s3cret"));
/// assert!(!token.accepts("Bearer s3cre"));
/// assert!(!token.accepts("Basic s3cret"));
/// assert_eq!(format!("{token:?}"), "ApiToken(..)"); // never printed
/// assert!(ApiToken::new("  ").is_none());
/// ```
#[derive(Clone)]
pub struct ApiToken(Arc<str>);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(..)")
    }
}

/// Why the token could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token file could not be read.
    #[error("api.token_file {path:?}: {source}")]
    Read {
        /// The configured path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The token file holds only whitespace.
    #[error("api.token_file {0:?} is empty")]
    Empty(String),
}

impl ApiToken {
    /// A token from its text, surrounding whitespace trimmed; `None` when empty.
    pub fn new(secret: &str) -> Option<Self> {
        let secret = secret.trim();
        (!secret.is_empty()).then(|| Self(secret.into()))
    }

    /// The configured token: `env_value` (the value of [`TOKEN_ENV`], if set and not
    /// empty), else the contents of `token_file` (if not empty), else `None`.
    ///
    /// ```
    /// use voxscope_alerting::api::ApiToken;
    /// assert!(ApiToken::load(None, "").unwrap().is_none());
    /// let from_env = ApiToken::load(Some("abc".into()), "/nonexistent").unwrap().unwrap();
    /// assert!(from_env.accepts("Bearer abc"));
    /// assert!(ApiToken::load(None, "/nonexistent").is_err());
    /// ```
    ///
    /// # Errors
    /// An unreadable or empty token file.
    pub fn load(env_value: Option<String>, token_file: &str) -> Result<Option<Self>, TokenError> {
        if let Some(token) = env_value.as_deref().and_then(Self::new) {
            return Ok(Some(token));
        }
        if token_file.is_empty() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(token_file)
            .map_err(|source| TokenError::Read { path: token_file.to_owned(), source })?;
        Self::new(&text).map(Some).ok_or_else(|| TokenError::Empty(token_file.to_owned()))
    }

    /// [`ApiToken::load`] with the process environment and the config's `[api]`.
    ///
    /// # Errors
    /// An unreadable or empty token file.
    pub fn from_config(api: &voxscope_alert::config::Api) -> Result<Option<Self>, TokenError> {
        Self::load(std::env::var(TOKEN_ENV).ok(), &api.token_file)
    }

    /// Whether an `Authorization` header value carries this token.
    pub fn accepts(&self, authorization: &str) -> bool {
        let Some((scheme, presented)) = authorization.trim().split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer")
            && bool::from(presented.trim().as_bytes().ct_eq(self.0.as_bytes()))
    }
}

/// Middleware of the write routes: 403 when no token is configured, 401 (with
/// `WWW-Authenticate: Bearer`) when the request lacks it.
pub(crate) async fn require_token(
    State(token): State<Option<ApiToken>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = token else {
        tracing::warn!(path = %request.uri().path(), "alert API write refused: no token configured");
        return (
            StatusCode::FORBIDDEN,
            axum::Json(format!(
                "write endpoints are disabled: set {TOKEN_ENV} or [api] token_file"
            )),
        )
            .into_response();
    };
    let presented = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if presented.is_some_and(|value| token.accepts(value)) {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "alert API write refused: missing or wrong bearer token");
    let mut response =
        (StatusCode::UNAUTHORIZED, axum::Json("missing or wrong bearer token")).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}
