//! `--instrumentation on|metrics|off|alternative`: the demo with every voxscope layer,
//! with its metrics layers but no trace layer, or the same routes without any of them, so
//! that what the layers cost a whole service can be measured (`loadgen` serves them all
//! and compares them). `alternative` serves the HTTP routes under the layers an axum
//! service usually reaches for instead, tower-http's `TraceLayer` and axum-prometheus's
//! `PrometheusMetricLayer`, under the same subscriber and recorder with head sampling
//! only (as the usual tracing-opentelemetry set-up samples), and `/media` as off: the
//! same service instrumented the usual way, measured in the same run.
//!
//! Off leaves out the HTTP metrics layer, the trace layer and the call layer on `/media`
//! (its admission cap and idle watch with it: an uninstrumented `/media` takes every
//! call and ends one only when the caller does). The provider pipeline keeps its
//! fallback chains, which are its logic as much as its instrumentation, and `/metrics`,
//! `/traces`, the alert API and the live page stay served, showing what is left.
//!
//! ```
//! use voice_agent::config::Config;
//! use voice_agent::instrumentation::Instrumentation;
//!
//! let config = Config::parse(["voice_agent", "--instrumentation", "off"], |_| None).unwrap();
//! assert_eq!(config.instrumentation, Instrumentation::Off);
//! ```

use std::fmt;
use std::sync::Arc;

use anyhow::anyhow;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::any;
use axum_prometheus::PrometheusMetricLayer;
use serde::Deserialize;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};
use tracing::Level;
use voxscope::trace::TracePipeline;

use crate::media::{self, CallHooks, MEDIA_PATH, Responder};
use crate::telemetry;

/// Whether the demo serves under voxscope's layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Instrumentation {
    /// HTTP metrics, tracing and call tracking: the demo as it ships.
    #[default]
    On,
    /// HTTP metrics and call tracking, without the trace layer.
    Metrics,
    /// The same routes without those layers: the baseline of what they cost.
    Off,
    /// tower-http's `TraceLayer` (spans at `INFO`, so that the trace pipeline sees them)
    /// and axum-prometheus's `PrometheusMetricLayer` on the HTTP routes, `/media` as off:
    /// the usual axum stack, to compare with.
    Alternative,
}

impl Instrumentation {
    /// Reads `on`, `metrics`, `off` or `alternative`.
    ///
    /// ```
    /// use voice_agent::instrumentation::Instrumentation;
    ///
    /// assert_eq!(Instrumentation::parse("off").unwrap(), Instrumentation::Off);
    /// let err = Instrumentation::parse("partly").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "instrumentation: \"partly\" is not on, metrics, off or alternative"
    /// );
    /// ```
    ///
    /// # Errors
    /// Any other word.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        match text {
            "on" => Ok(Self::On),
            "metrics" => Ok(Self::Metrics),
            "off" => Ok(Self::Off),
            "alternative" => Ok(Self::Alternative),
            other => {
                Err(anyhow!("instrumentation: {other:?} is not on, metrics, off or alternative"))
            }
        }
    }

    /// `/media` answered by the agent over `responder`: under its call layer when on
    /// ([`media::router_with`], at most `max_calls` at once), on the bare WebSocket when
    /// off or alternative.
    ///
    /// # Errors
    /// The call layer's settings, when on.
    pub fn media_router(
        self,
        responder: Arc<dyn Responder>,
        max_calls: usize,
    ) -> anyhow::Result<Router> {
        match self {
            Self::On | Self::Metrics => media::router_with(responder, max_calls),
            Self::Off | Self::Alternative => {
                Ok(Router::new().route(MEDIA_PATH, any(untracked_media)).with_state(responder))
            }
        }
    }

    /// `app` under the HTTP metrics and trace layers when on, the HTTP metrics layer
    /// alone with metrics, as it is when off, under tower-http's and axum-prometheus's
    /// layers when alternative. They go on last, after every `merge`, so that they wrap
    /// the fallback too, and in one `Router::layer` call (a tuple, the first outermost):
    /// axum boxes each route's service, its future and its response body once per call,
    /// so two calls would box every request twice.
    ///
    /// # Errors
    /// The HTTP layer's settings, when on.
    pub fn layers(self, app: Router, tracing: &TracePipeline) -> anyhow::Result<Router> {
        Ok(match self {
            Self::On => app.layer((tracing.trace_layer(), telemetry::http_layer()?)),
            Self::Metrics => app.layer(telemetry::http_layer()?),
            Self::Off => app,
            Self::Alternative => app.layer((
                TraceLayer::new_for_http()
                    .make_span_with(DefaultMakeSpan::new().level(Level::INFO)),
                PrometheusMetricLayer::new(),
            )),
        })
    }
}

/// The query of a media-stream request: Twilio's call id, when the caller gives it.
#[derive(Deserialize)]
struct MediaQuery {
    #[serde(rename = "callSid")]
    call_sid: Option<String>,
}

async fn untracked_media(
    ws: WebSocketUpgrade,
    Query(query): Query<MediaQuery>,
    State(responder): State<Arc<dyn Responder>>,
) -> Response {
    let call = Untracked { id: query.call_sid.unwrap_or_default() };
    ws.on_upgrade(move |socket| async move {
        if let Err(error) = media::agent(socket, call, responder).await {
            tracing::warn!("media stream ended: {error:#}");
        }
    })
}

/// A call nothing observes: turns and bad payloads go unrecorded.
struct Untracked {
    id: String,
}

impl CallHooks for Untracked {
    fn id(&self) -> String {
        self.id.clone()
    }

    fn user_turn_ended(&self) {}

    fn invalid_payload(&self, _: &dyn fmt::Display) {}
}
