//! The engine's HTTP API: Prometheus's `/api/v1/alerts` and `/api/v1/rules`, an
//! Alertmanager-v2-compatible surface under a prefix (alerts, silences) that `amtool`
//! talks to, and an ack endpoint.
//!
//! ```no_run
//! # async fn demo(engine: std::sync::Arc<dyn voxscope_alerting::api::AlertSource>) {
//! use voxscope_alerting::api::{ApiSettings, ApiToken, router};
//! use voxscope_alerting::silence::Silences;
//!
//! let token = ApiToken::from_config(&voxscope_alert::Config::default().api).unwrap();
//! let app = axum::Router::new().merge(router(engine, Silences::default(), ApiSettings::new(token)));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! // amtool --alertmanager.url=http://127.0.0.1:3000/alertmanager silence query
//! # }
//! ```
//!
//! | Method and path | What |
//! | --- | --- |
//! | `GET /api/v1/alerts` | pending and firing alerts, Prometheus's format |
//! | `GET /api/v1/rules` | rule groups (`type`, `rule_name[]`, `rule_group[]`, `file[]`, `exclude_alerts`) |
//! | `POST /api/v1/alerts/{fingerprint}/ack` | acknowledge (token); body `{"by": "...", "comment": "..."}`, optional |
//! | `GET {prefix}/api/v2/status` | Alertmanager status (the config text given in [`ApiSettings`]) |
//! | `GET {prefix}/api/v2/alerts` | firing alerts with silenced and inhibited status (`filter`, `active`, `silenced`, `inhibited`, `receiver`) |
//! | `GET {prefix}/api/v2/silences` | silences (`filter`) |
//! | `POST {prefix}/api/v2/silences` | create or update a silence (token) |
//! | `GET {prefix}/api/v2/silence/{id}` | one silence |
//! | `DELETE {prefix}/api/v2/silence/{id}` | expire a silence (token) |
//! | `GET /api/v1/report` | the KPI report over the engine's store (`since=7d`, `format=html\|md\|json`; [`AlertEngine::router`](crate::AlertEngine::router) only) |
//!
//! Write endpoints need `Authorization: Bearer <token>` (401 without it) and refuse
//! everything (403) when no token is configured. amtool sends the token from an HTTP
//! config file: `amtool --http.config.file=amtool-http.yml ...` with
//! `authorization: {credentials: <token>}` in it.

mod ack;
mod alertmanager;
mod auth;
mod matchers;
pub(crate) mod prometheus;
pub(crate) mod query;
mod silences;
mod source;
mod time;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

pub use auth::{ApiToken, TOKEN_ENV, TokenError};
pub use matchers::parse_matcher;
pub use source::{
    Ack, AckError, AlertSource, AlertView, AlertingRuleView, RecordingRuleView, RuleEvaluation,
    RuleGroupView, RuleHealth, RuleView,
};

use crate::silence::Silences;

/// The prefix of the Alertmanager-compatible routes unless [`ApiSettings`] says
/// otherwise: `amtool --alertmanager.url=http://HOST:PORT/alertmanager`.
pub const DEFAULT_ALERTMANAGER_PREFIX: &str = "/alertmanager";

/// How the API presents itself.
///
/// ```
/// use voxscope_alerting::api::{ApiSettings, ApiToken};
/// let settings = ApiSettings::new(ApiToken::new("s3cret"));
/// assert_eq!(settings.alertmanager_prefix, "/alertmanager");
/// assert_eq!(settings.alert_validity_ms, 240_000);
/// ```
#[derive(Clone, Debug)]
pub struct ApiSettings {
    /// Where the Alertmanager-compatible routes live (`/alertmanager`); `""` for the
    /// root, as a real Alertmanager has them.
    pub alertmanager_prefix: String,
    /// The bearer token of the write endpoints; `None` refuses every write.
    pub token: Option<ApiToken>,
    /// The Alertmanager configuration text `GET {prefix}/api/v2/status` reports (the
    /// generated `alertmanager.yml`, which `amtool config show` prints).
    pub alertmanager_config: String,
    /// When the engine started, unix milliseconds (`uptime` of the status).
    pub started_at_ms: i64,
    /// How far past now a firing alert's `endsAt` lies, as Prometheus sends it
    /// (4 × max(evaluation interval, 1 min)): 4 minutes by default.
    pub alert_validity_ms: i64,
}

impl ApiSettings {
    /// Defaults with this token.
    pub fn new(token: Option<ApiToken>) -> Self {
        Self {
            alertmanager_prefix: DEFAULT_ALERTMANAGER_PREFIX.to_owned(),
            token,
            alertmanager_config: String::new(),
            started_at_ms: 0,
            alert_validity_ms: 4 * 60_000,
        }
    }
}

/// What every handler reads.
pub(crate) struct ApiState {
    pub(crate) source: Arc<dyn AlertSource>,
    pub(crate) silences: Silences,
    pub(crate) settings: ApiSettings,
}

/// The API's routes over `source`, editing `silences` (share the same [`Silences`] with
/// the dispatcher so a silence mutes notifications at once). Merge it into the
/// service's router.
///
/// ```
/// use std::sync::Arc;
/// use voxscope_alerting::api::{Ack, AckError, AlertSource, AlertView, ApiSettings, RuleGroupView, router};
/// use voxscope_alerting::silence::Silences;
///
/// struct Quiet;
/// impl AlertSource for Quiet {
///     fn now_ms(&self) -> i64 { 0 }
///     fn alerts(&self) -> Vec<AlertView> { Vec::new() }
///     fn rule_groups(&self) -> Vec<RuleGroupView> { Vec::new() }
///     fn ack(&self, f: &str, _: Ack) -> Result<(), AckError> { Err(AckError::NotFound(f.into())) }
/// }
/// let app: axum::Router = router(Arc::new(Quiet), Silences::default(), ApiSettings::new(None));
/// ```
pub fn router(source: Arc<dyn AlertSource>, silences: Silences, settings: ApiSettings) -> Router {
    let prefix = settings.alertmanager_prefix.trim_end_matches('/');
    let prefix = if prefix.is_empty() || prefix.starts_with('/') {
        prefix.to_owned()
    } else {
        format!("/{prefix}")
    };
    let token = settings.token.clone();
    let state = Arc::new(ApiState { source, silences, settings });
    let am = |path: &str| format!("{prefix}/api/v2{path}");
    let writes = Router::new()
        .route("/api/v1/alerts/{fingerprint}/ack", post(ack::ack))
        .route(&am("/silences"), post(silences::post))
        .route(&am("/silence/{id}"), axum::routing::delete(silences::expire))
        .route_layer(axum::middleware::from_fn_with_state(token, auth::require_token));
    Router::new()
        .route("/api/v1/alerts", get(prometheus::alerts))
        .route("/api/v1/rules", get(prometheus::rules))
        .route(&am("/status"), get(alertmanager::status))
        .route(&am("/alerts"), get(alertmanager::alerts))
        .route(&am("/silences"), get(silences::list))
        .route(&am("/silence/{id}"), get(silences::get))
        .merge(writes)
        .with_state(state)
}
