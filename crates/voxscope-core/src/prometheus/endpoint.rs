//! The `GET /metrics` endpoint.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

use super::MetricsHandle;
use crate::error::ConfigError;

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves the Prometheus exposition at a path, optionally behind a bearer token.
///
/// Mount it on the application's router, or serve it on a listener of its own:
///
/// ```no_run
/// # async fn run(metrics: voxscope_core::prometheus::MetricsHandle) -> Result<(), Box<dyn std::error::Error>> {
/// // On the app:
/// let app: axum::Router = axum::Router::new().merge(metrics.endpoint().into_router());
///
/// // Or on a separate, token-protected port:
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
/// metrics.endpoint().require_bearer_token("s3cret")?.serve(listener).await?;
/// # Ok(()) }
/// ```
///
/// Each render runs on tokio's blocking pool, so a large exposition never stalls the
/// async workers that carry calls.
#[derive(Clone, Debug)]
pub struct MetricsEndpoint {
    handle: MetricsHandle,
    path: String,
    token: Option<Arc<str>>,
}

impl MetricsEndpoint {
    /// An endpoint at `/metrics` with no authentication.
    pub fn new(handle: MetricsHandle) -> Self {
        Self { handle, path: "/metrics".to_owned(), token: None }
    }

    /// Serves at `path` instead of `/metrics`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for a path that does not start with `/`, or that holds
    /// a capture (`{name}`) or a wildcard: the endpoint is one fixed path.
    ///
    /// ```
    /// # let (_, metrics) = voxscope_core::prometheus::PrometheusInstaller::new().build().unwrap();
    /// assert!(metrics.endpoint().at_path("/internal/metrics").is_ok());
    /// let err = metrics.endpoint().at_path("metrics").unwrap_err();
    /// assert_eq!(err.to_string(), "metrics.path: must start with / (got \"metrics\")");
    /// ```
    pub fn at_path(mut self, path: impl Into<String>) -> Result<Self, ConfigError> {
        let path = path.into();
        let reason = if !path.starts_with('/') {
            Some("must start with /")
        } else if path.contains(['{', '}', '*', '?', '#']) {
            Some("must be a fixed path, without captures, wildcards, query or fragment")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(ConfigError::Invalid { field: "metrics.path".into(), value: path, reason });
        }
        self.path = path;
        Ok(self)
    }

    /// Answers 401 unless the request carries `Authorization: Bearer <token>` (the
    /// scheme in any case, as RFC 9110 says).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for an empty token or one with whitespace or control
    /// characters, which no client could send.
    pub fn require_bearer_token(mut self, token: impl AsRef<str>) -> Result<Self, ConfigError> {
        let token = token.as_ref();
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::Invalid {
                field: "metrics.bearer_token".into(),
                value: if token.is_empty() { String::new() } else { "<redacted>".into() },
                reason: "must be non-empty, without whitespace or control characters",
            });
        }
        self.token = Some(Arc::from(token));
        Ok(self)
    }

    /// A router holding the one route; merge it into the app or serve it alone.
    pub fn into_router<S>(self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let path = self.path.clone();
        Router::new().route(&path, get(serve_metrics).with_state(Arc::new(self)))
    }

    /// Serves the endpoint on `listener` until the server fails.
    ///
    /// # Errors
    /// The listener's IO error.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.into_router::<()>()).await
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim_start_matches(' '))
        else {
            return false;
        };
        bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
    }
}

async fn serve_metrics(
    State(endpoint): State<Arc<MetricsEndpoint>>,
    headers: HeaderMap,
) -> Response {
    if !endpoint.authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
            "a bearer token is required\n",
        )
            .into_response();
    }
    match endpoint.handle.render_off_thread().await {
        Some(body) => {
            ([(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], body).into_response()
        }
        None => {
            tracing::error!("rendering the metrics exposition failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "rendering the metrics failed\n").into_response()
        }
    }
}
